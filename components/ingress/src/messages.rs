//! `POST /v1/messages` and `GET /v1/messages/{id}`.

use crate::accept::{self, NewMessage, Persisted, unavailable};
use crate::govstack_messaging::policy::policy::{DeliveryPlan, Priority};
use crate::govstack_messaging::types::types::Caller;
use crate::idempotency::Dedup;
use crate::respond::{HttpResponse, error, json, or_error};
use message_store as store;
use messaging_domain::api::{
    Accepted, AttemptView, MessageView, ReplyView, SendCommand, parse_idempotency_key,
    rfc3339_millis,
};
use messaging_domain::hashing::secret_digest;
use messaging_domain::{ApiError, Channel, ErrorCode, MessageId, MessageRecord, Status, keys};
use spin_sdk::http::Request;
use spin_sdk::key_value::Store;

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    or_error(try_create(caller, req).await)
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
    let client = crate::credentials::im_client(&req);
    let idempotency_key = idempotency_key(&req)?;
    let body = crate::body::json(req).await?;
    let command = SendCommand::parse(&body)?;
    let dedup = Dedup::for_request(
        &caller.id,
        idempotency_key.as_deref(),
        "/v1/messages",
        &body,
    )
    .await;
    let mut request = Shared::open(&caller, client).await?;
    let mut inserts = store::Inserts::new();
    let created = create_one(&mut request, command, dedup.as_ref(), &mut inserts).await?;
    inserts
        .commit()
        .await
        .map_err(|e| unavailable("insert", e))?;
    accept::hand_over(created.cell, created.to_hand_over);
    Ok(json(202, &created.accepted))
}

/// The `Idempotency-Key` header, hashed; `None` without one.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Idempotency-Key must be visible ASCII",
                )
            })?;
            Ok(Some(secret_digest(parse_idempotency_key(value)?)))
        }
        None => Ok(None),
    }
}

/// What every message of one request shares: its caller, the store, and the plans
/// policy-router made for it so far (a batch asks once per channel and policy).
pub struct Shared<'a> {
    caller: &'a Caller,
    client: Option<String>,
    kv: Store,
    hashing_key: String,
    plans: Plans,
}

impl<'a> Shared<'a> {
    /// Opens the store and reads the hashing key for the messages of `caller`'s request
    /// (`client`: the calling system, for the audit line).
    pub async fn open(caller: &'a Caller, client: Option<String>) -> Result<Shared<'a>, ApiError> {
        Ok(Shared {
            caller,
            client,
            kv: accept::open_store().await?,
            hashing_key: accept::hashing_key().await?,
            plans: Plans::default(),
        })
    }
}

/// Delivery plans by channel and policy name, asked of policy-router once each.
#[derive(Default)]
struct Plans(Vec<((Channel, Option<String>), DeliveryPlan)>);

impl Plans {
    async fn get(
        &mut self,
        caller: &Caller,
        channel: Channel,
        policy: Option<String>,
    ) -> Result<DeliveryPlan, ApiError> {
        let key = (channel, policy);
        if let Some((_, plan)) = self.0.iter().find(|(k, _)| *k == key) {
            return Ok(plan.clone());
        }
        let plan = accept::plan(caller, channel, key.1.clone()).await?;
        self.0.push((key, plan.clone()));
        Ok(plan)
    }
}

/// One accepted message (or series), and what to hand to its delivery cell afterwards.
pub struct Created {
    pub accepted: Accepted,
    pub cell: String,
    pub to_hand_over: Vec<MessageId>,
}

/// Accepts one message as `POST /v1/messages` does: render its template, check its
/// callback URL, plan it, charge the quota per occurrence, and add each occurrence to
/// `inserts` (`accept::persist`), which the caller commits before it answers.
/// `dedup` makes a repeated request answer with the first one's id and create nothing.
pub async fn create_one(
    request: &mut Shared<'_>,
    mut command: SendCommand,
    dedup: Option<&Dedup>,
    inserts: &mut store::Inserts,
) -> Result<Created, ApiError> {
    let caller = request.caller;
    if let Some(template) = command.template.take() {
        let rendered = accept::render(command.policy.clone(), &template).await?;
        let text = rendered.for_language(command.language.as_ref()).clone();
        // A variant's subject is for the channels that show one.
        let subject = text
            .subject
            .filter(|_| matches!(command.channel, Channel::Email | Channel::Push));
        command = command.fill(subject, text.body)?;
    }
    crate::callback_guard::check(command.callback_url.as_deref())
        .await
        .map_err(|m| ApiError::new(ErrorCode::InvalidRequest, format!("callback_url: {m}")))?;
    let command_segments = command.segments;
    let plan = request
        .plans
        .get(caller, command.channel, command.policy.clone())
        .await?;
    let now = store::now_ms();
    // One message per occurrence; a time already past means now.
    let occurrences = match &command.schedule {
        Some(schedule) => schedule.occurrences(now)?,
        None => vec![now],
    };
    let message = NewMessage {
        to: command.to,
        subject: command.subject,
        body: command.body,
        email: None,
        reference: command.reference,
        callback_url: command.callback_url,
        callback_events: command.callback_events,
        expects_reply: command.expects_reply,
        segments: command.segments,
        fallback: command.fallback,
        client: request.client.clone(),
        send_at_ms: None,
        utc_offset_min: command.utc_offset_min,
    };
    // Charged before anything is stored; a repeated request gives it back below.
    let mut charge = Some(
        crate::quota::charge(
            &caller.id,
            occurrences.len() as u64,
            matches!(plan.priority, Priority::Emergency),
        )
        .await?,
    );
    let mut series = Vec::new();
    let mut first = None;
    let mut to_hand_over = Vec::new();
    for (i, at) in occurrences.into_iter().enumerate() {
        let occurrence = NewMessage {
            send_at_ms: (at > now).then_some(at),
            ..message.clone()
        };
        // The request's first answer covers the whole series.
        let dedup = if i == 0 { dedup } else { None };
        let persisted = accept::persist(
            &request.kv,
            caller,
            &plan,
            &request.hashing_key,
            occurrence,
            dedup,
            inserts,
        )
        .await?;
        let (id, status) = match persisted {
            Persisted::New(id) => {
                if at <= now {
                    to_hand_over.push(id.clone());
                }
                (id, Status::Accepted)
            }
            Persisted::Existing(id) => {
                // Repeated request: answer as the first time, create nothing more.
                if let Some(charge) = charge.take() {
                    charge.give_back();
                }
                first = Some((id, Status::Accepted));
                series.clear();
                break;
            }
            Persisted::Suppressed(id) => (id, Status::Suppressed),
        };
        series.push(id.clone());
        first.get_or_insert((id, status));
    }
    let (id, status) = first.expect("at least one occurrence");
    Ok(Created {
        accepted: Accepted {
            id,
            status,
            sms: command_segments,
            series: (series.len() > 1).then_some(series),
        },
        cell: plan.cell,
        to_hand_over,
    })
}

/// `POST /v1/messages/{id}/cancel`: a message that has not left yet (scheduled, or
/// waiting for a provider) becomes `cancelled` and its address and content are erased.
pub async fn cancel(caller: Caller, id: &str) -> HttpResponse {
    or_error(try_cancel(caller, id).await)
}

async fn try_cancel(caller: Caller, id: &str) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such message");
    let id = MessageId::parse(id).ok_or_else(not_found)?;
    let kv = accept::open_store().await?;
    let record = store::record(&kv, &id)
        .await
        .map_err(|e| unavailable("read", e))?
        .filter(|r| r.owner == caller.id)
        .ok_or_else(not_found)?;
    let too_late = || {
        ApiError::new(
            ErrorCode::Conflict,
            "the message has left the gateway or is settled; it cannot be cancelled",
        )
    };
    let awaits =
        |reached: &[(Status, u64)]| Status::current(reached).is_some_and(Status::awaits_sending);
    if !awaits(&store::history(&id).map_err(|e| unavailable("read", e))?) {
        return Err(too_late());
    }
    let being_sent = || {
        ApiError::new(
            ErrorCode::Conflict,
            "the message is being handed to its provider right now",
        )
    };
    // The claim first, then the cell's mark: a drain marks a message before it reads the
    // claim, so either this sees the mark or the drain sees the claim and skips it.
    let Some(claim) =
        store::work::Lease::take(&keys::claim(&id), 60_000).map_err(|e| unavailable("claim", e))?
    else {
        return Err(being_sent());
    };
    if store::is_being_sent(&id).map_err(|e| unavailable("read", e))? {
        claim.release().map_err(|e| unavailable("claim", e))?;
        return Err(being_sent());
    }
    if !awaits(&store::history(&id).map_err(|e| unavailable("read", e))?) {
        return Err(too_late());
    }
    let fail = |e| unavailable("cancel", e);
    store::notifications::reach_and_notify(&record, Status::Cancelled)
        .await
        .map_err(fail)?;
    store::erase_payload(&kv, &id).await.map_err(fail)?;
    store::clear_pending(&record.cell, &id)
        .await
        .map_err(fail)?;
    store::audit::emit(
        messaging_domain::audit::AuditStatus::Success,
        &store::audit::caller(&caller.id),
        None,
        serde_json::json!({"event": "message.cancelled", "id": id.as_str(), "caller": caller.id}),
    );
    read_view(&kv, &record).await
}

pub async fn read(caller: Caller, id: &str) -> HttpResponse {
    let not_found = || error(&ApiError::new(ErrorCode::NotFound, "no such message"));
    let Some(id) = MessageId::parse(id) else {
        return not_found();
    };
    let kv = match store::open().await {
        Ok(kv) => kv,
        Err(e) => return error(&unavailable("open store", e)),
    };
    match store::record(&kv, &id).await {
        Ok(Some(record)) if record.owner == caller.id => {
            read_view(&kv, &record).await.unwrap_or_else(|e| error(&e))
        }
        // Another caller's message is indistinguishable from a missing one.
        Ok(_) => not_found(),
        Err(e) => error(&unavailable("read", e)),
    }
}

/// The message as `GET /v1/messages/{id}` shows it: status, history, attempts, answer.
async fn read_view(kv: &Store, record: &MessageRecord) -> Result<HttpResponse, ApiError> {
    let id = &record.id;
    let reached = store::history(id).map_err(|e| unavailable("history", e))?;
    let status = Status::current(&reached)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such message"))?;
    let reply = store::conversations::reply(kv, id)
        .await
        .map_err(|e| unavailable("reply", e))?
        .map(|r| ReplyView {
            answer: r.answer,
            at: rfc3339_millis(r.at_ms),
        });
    let attempts = store::attempts(kv, id)
        .await
        .map_err(|e| unavailable("attempts", e))?
        .into_iter()
        .map(|a| AttemptView {
            cell: a.cell,
            outcome: a.outcome,
            reason: a.reason,
            at: rfc3339_millis(a.at_ms),
        })
        .collect();
    Ok(json(
        200,
        &MessageView {
            id: id.clone(),
            channel: record.channel,
            status,
            reference: record.reference.clone(),
            history: store::history_entries(&reached),
            reply,
            sms: record.segments,
            send_at: record.send_at_ms.map(rfc3339_millis),
            attempts,
        },
    ))
}
