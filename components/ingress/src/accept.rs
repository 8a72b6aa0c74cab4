//! Accepting messages, shared by the `/v1` API and the GovStack email API: plan with the
//! policy, persist, and hand the accepted messages to their delivery cell after the answer.

use crate::govstack_messaging::policy::policy::{
    self, DeliveryPlan, PlanRequest, PolicyError, TemplateError,
};
use crate::govstack_messaging::types::types::{Caller, Channel as WitChannel};
use crate::idempotency::{self, Decided};
use message_store as store;
use messaging_domain::api::Fallback;
use messaging_domain::api::TemplateRef;
use messaging_domain::callback_events::CallbackEvents;
use messaging_domain::conversation::ExpectsReply;
use messaging_domain::group::Language;
use messaging_domain::hashing::keyed_hash;
use messaging_domain::providers::gsm7::Segments;
use messaging_domain::quiet_hours::QuietHours;
use messaging_domain::record::{EmailDetails, FallbackPayload, FallbackRoute, Payload};
use messaging_domain::template::{Rendered, Text};
use messaging_domain::{ApiError, Channel, ErrorCode, MessageId, MessageRecord, Recipient};
use spin_sdk::key_value::Store;

/// Logs a storage failure for operators; callers only learn that the store is unavailable.
pub fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    eprintln!("{what}: {e}");
    ApiError::new(
        ErrorCode::Unavailable,
        "the message store is unavailable, try again later",
    )
}

/// The key-value store, or 503 for the caller.
pub async fn open_store() -> Result<Store, ApiError> {
    store::open()
        .await
        .map_err(|e| unavailable("open store", e))
}

/// A message as a caller asked for it, validated.
#[derive(Clone)]
pub struct NewMessage {
    pub to: Recipient,
    pub subject: Option<String>,
    pub body: String,
    pub email: Option<EmailDetails>,
    pub reference: Option<String>,
    pub callback_url: Option<String>,
    /// Which statuses reach `callback_url`.
    pub callback_events: CallbackEvents,
    /// A reminder that waits for the citizen's answer.
    pub expects_reply: Option<ExpectsReply>,
    /// For SMS: encoding and number of SMS.
    pub segments: Option<Segments>,
    /// The address on the policy's fallback channel.
    pub fallback: Option<Fallback>,
    /// The calling system as the Information Mediator names it (`X-Road-Client` or
    /// `X-GovStack-Client`), recorded in the audit log line of the acceptance.
    pub client: Option<String>,
    /// Not to be sent before this instant; its validity counts from then.
    pub send_at_ms: Option<u64>,
    /// The recipient's UTC offset, for the policy's quiet hours.
    pub utc_offset_min: Option<i16>,
}

/// Asks policy-router how `channel` messages of this caller travel.
pub async fn plan(
    caller: &Caller,
    channel: Channel,
    policy_name: Option<String>,
) -> Result<DeliveryPlan, ApiError> {
    let channel = match channel {
        Channel::Sms => WitChannel::Sms,
        Channel::Email => WitChannel::Email,
        Channel::Telegram => WitChannel::Telegram,
        Channel::Push => WitChannel::Push,
    };
    policy::plan(PlanRequest {
        caller: caller.clone(),
        channel,
        policy: policy_name,
    })
    .await
    .map_err(|e| match e {
        PolicyError::UnknownPolicy(name) => {
            ApiError::new(ErrorCode::UnknownPolicy, format!("no policy named {name}"))
        }
        PolicyError::NotAllowed(m) => ApiError::new(ErrorCode::Forbidden, m),
        PolicyError::ChannelUnavailable(m) => ApiError::new(ErrorCode::UnknownChannel, m),
        PolicyError::InvalidPolicy(m) => {
            eprintln!("invalid policy: {m}");
            ApiError::new(ErrorCode::Internal, "the delivery policy is misconfigured")
        }
    })
}

fn channel_of(plan: &DeliveryPlan) -> Channel {
    domain_channel(plan.channel)
}

fn domain_channel(channel: WitChannel) -> Channel {
    match channel {
        WitChannel::Sms => Channel::Sms,
        WitChannel::Email => Channel::Email,
        WitChannel::Telegram => Channel::Telegram,
        WitChannel::Push => Channel::Push,
    }
}

/// Asks policy-router to render a template with the request's values, for a message under
/// `policy` (none: the default).
pub async fn render(policy: Option<String>, template: &TemplateRef) -> Result<Rendered, ApiError> {
    let values = template
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rendered = policy::render(policy, template.name.clone(), values)
        .await
        .map_err(|e| match e {
            TemplateError::UnknownTemplate(name) => ApiError::new(
                ErrorCode::UnknownTemplate,
                format!("no template named {name}"),
            ),
            TemplateError::NotOffered(m) => ApiError::new(ErrorCode::UnknownTemplate, m),
            TemplateError::UnknownPolicy(name) => {
                ApiError::new(ErrorCode::UnknownPolicy, format!("no policy named {name}"))
            }
            TemplateError::InvalidValues(m) => ApiError::new(ErrorCode::InvalidTemplateValues, m),
            TemplateError::InvalidTemplate(m) => {
                eprintln!("invalid template: {m}");
                ApiError::new(ErrorCode::Internal, "the template is misconfigured")
            }
        })?;
    let language = |tag: &str| {
        Language::parse(tag)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the template is misconfigured"))
    };
    Ok(Rendered {
        default_language: language(&rendered.default_language)?,
        variants: rendered
            .variants
            .into_iter()
            .map(|v| {
                Ok((
                    language(&v.language)?,
                    Text {
                        subject: v.subject,
                        body: v.body,
                    },
                ))
            })
            .collect::<Result<_, ApiError>>()?,
    })
}

/// A new message id, ordered by time: the pending store lists work first in, first out
/// (GovStack spec 6.1.1), emergency or not, since each message is handed over at once.
pub fn new_id() -> Result<MessageId, ApiError> {
    Ok(MessageId::from_random(store::time_ordered_16()))
}

/// 16 random bytes for a new id of any kind.
pub fn new_random() -> [u8; 16] {
    store::random_16()
}

/// What became of a message handed to [`persist`].
pub enum Persisted {
    /// Accepted: written already, or among the [`store::Inserts`] the caller commits before
    /// it answers.
    New(MessageId),
    /// The idempotency key named an earlier message: nothing new was stored.
    Existing(MessageId),
    /// Stored as `suppressed`, not to be sent: the recipient opted out of non-emergency
    /// messages on this channel.
    Suppressed(MessageId),
}

/// Accepts one message planned by `plan`: it joins `inserts`, which the caller commits
/// before answering, except a reminder that waits for an answer, written at once since its
/// conversation must follow it. With `dedup` (an idempotency key or the request's hash),
/// it is reserved first (atomically), so a repeated request yields the earlier message
/// instead.
pub async fn persist(
    kv: &Store,
    caller: &Caller,
    plan: &DeliveryPlan,
    hashing_key: &str,
    message: NewMessage,
    dedup: Option<&idempotency::Dedup>,
    inserts: &mut store::Inserts,
) -> Result<Persisted, ApiError> {
    // Checked before anything is reserved or stored: bad input changes nothing.
    if let Some(expects) = &message.expects_reply {
        expects.within(plan.reply_wait_max_seconds)?;
    }
    let fallback_route = fallback_route(&message, plan)?;
    // `reservation`: the rows written with the message (`idempotency::reserve`).
    let (id, reservation) = match dedup {
        None => (new_id()?, Vec::new()),
        Some(dedup) => match reserve(kv, dedup).await? {
            Reserve::Existing(earlier) => return Ok(Persisted::Existing(earlier)),
            Reserve::New(id, rows) => (id, rows),
        },
    };
    let mut message = message;
    let mut record = new_record(
        id.clone(),
        caller,
        plan,
        hashing_key,
        &message,
        fallback_route,
    );
    let client = message.client.clone();
    let emergency = matches!(plan.priority, policy::Priority::Emergency);
    // A fallback address whose owner said STOP on its channel is never used.
    if let Some(f) = &message.fallback
        && !emergency
        && opted_out(
            kv,
            f.channel,
            &keyed_hash(hashing_key.as_bytes(), f.to.as_str().as_bytes()),
        )
        .await?
    {
        record.fallback = None;
        message.fallback = None;
    }
    if !emergency && opted_out(kv, record.channel, &record.recipient_hash).await? {
        store::insert_suppressed(kv, &record)
            .await
            .map_err(|e| unavailable("insert", e))?;
        store::many::set_many("default", &reservation)
            .map_err(|e| unavailable("idempotency", e))?;
        store::audit::emit(
            messaging_domain::audit::AuditStatus::Failed,
            &store::audit::caller(&caller.id),
            Some(&plan.cell),
            serde_json::json!({"event": "message.suppressed", "id": id.as_str(), "caller": caller.id, "client": client, "reason": "recipient opted out"}),
        );
        return Ok(Persisted::Suppressed(id));
    }
    let accepted = store::audit::Pending::new(
        messaging_domain::audit::AuditStatus::InProgress,
        &store::audit::caller(&caller.id),
        Some(&plan.cell),
        serde_json::json!({"event": "message.accepted", "id": id.as_str(), "caller": caller.id, "client": client, "cell": plan.cell}),
    );
    let expects_reply = message.expects_reply.take();
    let payload = payload(message);
    match expects_reply {
        None => inserts.push(record, payload, accepted, reservation),
        Some(expects) => {
            let mut one = store::Inserts::new();
            one.push(record.clone(), payload, accepted, reservation);
            one.commit().await.map_err(|e| unavailable("insert", e))?;
            store::conversations::start(kv, &record, &expects)
                .await
                .map_err(|e| unavailable("conversation", e))?;
        }
    }
    Ok(Persisted::New(id))
}

/// The policy's fallback route for the fallback the message asks for, if it offers one.
fn fallback_route(
    message: &NewMessage,
    plan: &DeliveryPlan,
) -> Result<Option<FallbackRoute>, ApiError> {
    match (&message.fallback, &plan.fallback) {
        (None, _) => Ok(None),
        (Some(wanted), Some(offered)) if wanted.channel == domain_channel(offered.channel) => {
            Ok(Some(FallbackRoute {
                channel: wanted.channel,
                cells: offered.cells.clone(),
                unless_delivered_within_ms: offered.unless_delivered_within.map(|s| s * 1000),
            }))
        }
        (Some(wanted), _) => Err(ApiError::new(
            ErrorCode::UnknownChannel,
            format!(
                "policy {} offers no fallback to {} for this channel",
                plan.policy,
                wanted.channel.as_str()
            ),
        )),
    }
}

/// What [`reserve`] found.
enum Reserve {
    /// An earlier request made this message already.
    Existing(MessageId),
    /// Reserved for a new message with this id: these rows go with it (none: written
    /// already).
    New(MessageId, Vec<(String, Vec<u8>)>),
}

/// Reserves `dedup` for a new message, unless it was decided already with the other items
/// of its batch (`idempotency::reserve_items`).
async fn reserve(kv: &Store, dedup: &idempotency::Dedup) -> Result<Reserve, ApiError> {
    match &dedup.decided {
        Some(Decided::Reserved(id)) => return Ok(Reserve::New(stored_id(id)?, Vec::new())),
        Some(Decided::Existing(earlier)) => return Ok(Reserve::Existing(stored_id(earlier)?)),
        None => {}
    }
    let id = new_id()?;
    let outcome = idempotency::reserve(
        dedup,
        id.as_str(),
        async |existing| match MessageId::parse(existing) {
            Some(existing) => Ok(store::record(kv, &existing).await?.is_some()),
            None => Ok(false),
        },
    )
    .await
    .map_err(|e| unavailable("idempotency", e))?;
    match outcome {
        Some(idempotency::Outcome::Reserved(rows)) => Ok(Reserve::New(id, rows)),
        Some(idempotency::Outcome::Existing(existing)) => {
            Ok(Reserve::Existing(stored_id(&existing)?))
        }
        None => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "the same request is in flight concurrently; retry",
        )),
    }
}

/// A message id read back from a reservation.
fn stored_id(id: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Internal,
            "a stored reservation names no valid message",
        )
    })
}

/// The record of a new message `id`, accepted now.
fn new_record(
    id: MessageId,
    caller: &Caller,
    plan: &DeliveryPlan,
    hashing_key: &str,
    message: &NewMessage,
    fallback: Option<FallbackRoute>,
) -> MessageRecord {
    let now = store::now_ms();
    MessageRecord {
        id,
        owner: caller.id.clone(),
        channel: channel_of(plan),
        reference: message.reference.clone(),
        callback_url: message.callback_url.clone(),
        callback_events: message.callback_events,
        policy: plan.policy.clone(),
        cell: plan.cell.clone(),
        fallback_cells: plan.fallback_cells.clone(),
        failover_after: plan.failover_after,
        fallback,
        recipient_hash: keyed_hash(hashing_key.as_bytes(), message.to.as_str().as_bytes()),
        created_ms: now,
        expires_ms: message
            .send_at_ms
            .unwrap_or(now)
            .max(now)
            .saturating_add(plan.validity_seconds.saturating_mul(1000)),
        segments: message.segments,
        send_at_ms: message.send_at_ms,
        retry: plan.retry.map(|r| messaging_domain::retry::Schedule {
            first_ms: r.first_ms,
            max_interval_ms: r.max_interval_ms,
            give_up_after_ms: r.give_up_after_ms,
        }),
        quiet_hours: plan.quiet_hours.map(|q| QuietHours {
            start_min: q.start_minute,
            end_min: q.end_minute,
        }),
        utc_offset_min: message.utc_offset_min,
    }
}

/// What is sealed of the message: its addresses and content.
fn payload(message: NewMessage) -> Payload {
    Payload {
        to: message.to.as_str().to_string(),
        subject: message.subject,
        body: message.body,
        email: message.email,
        fallback: message.fallback.map(|f| FallbackPayload {
            to: f.to.as_str().to_string(),
            subject: f.subject,
        }),
    }
}

async fn opted_out(kv: &Store, channel: Channel, hash: &str) -> Result<bool, ApiError> {
    store::opted_out(kv, channel, hash)
        .await
        .map_err(|e| unavailable("opt-out", e))
}

pub async fn hashing_key() -> Result<String, ApiError> {
    message_store::config::get("hashing_key")
        .await
        .map_err(|e| unavailable("hashing_key variable", e))
}

/// Hands accepted messages to their delivery cell once the caller has its answer: their
/// pending entries are written, so the cell's drain finds them; this asks for a drain
/// unless one is running (`message_store::drain::poke`). Under load one drain takes many
/// requests' messages a page at a time. If the ask is lost (crash, cell down), the cell's
/// tick starts a drain.
pub fn hand_over(cell: String, ids: Vec<MessageId>) {
    if ids.is_empty() {
        return;
    }
    store::drain::poke_cell(&cell);
}
