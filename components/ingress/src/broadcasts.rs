//! `/v1/broadcasts`: accept a broadcast to a group or a list (202 at once), read its
//! progress, cancel it. The fan-out itself happens in the broadcaster component.

use crate::accept::{self, hashing_key, new_random, open_store, plan, unavailable};
use crate::govstack_messaging::policy::policy::Priority;
use crate::govstack_messaging::types::types::Caller;
use crate::idempotency::{self, Dedup, Outcome};
use crate::respond::{HttpResponse, json, or_error};
use message_store::{self as store, broadcasts, groups};
use messaging_domain::broadcast::{
    Audience, BroadcastCommand, BroadcastRecord, BroadcastView, Content, check_rendered, not_found,
};
use messaging_domain::quiet_hours::QuietHours;
use messaging_domain::{ApiError, BroadcastId, Channel, ErrorCode, keys};
use spin_sdk::http::Request;
use spin_sdk::key_value::Store;
use std::collections::BTreeMap;

const CHANNELS: [Channel; 4] = [
    Channel::Sms,
    Channel::Email,
    Channel::Telegram,
    Channel::Push,
];

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    or_error(try_create(caller, req).await)
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
    let body = crate::body::json(req).await?;
    let command = BroadcastCommand::parse(&body)?;
    let rendered = match &command.template {
        Some(template) => {
            let rendered = accept::render(command.policy.clone(), template).await?;
            check_rendered(&rendered)?;
            Some(rendered)
        }
        None => None,
    };
    let kv = open_store().await?;
    if let Audience::Group(group) = &command.audience {
        crate::groups::usable(&kv, &caller, group.as_str()).await?;
    }
    let started = start(
        &kv,
        &caller,
        NewBroadcast {
            audience: command.audience,
            content: Content {
                subject: command.subject,
                body: command.body,
                rendered,
            },
            policy: command.policy,
            reference: command.reference,
            send_at_ms: command.send_at_ms,
            expires_ms: None,
            dedup: Dedup::request(&caller.id, "/v1/broadcasts", &body).await,
        },
    )
    .await?;
    Ok(json(202, &serde_json::json!({ "id": started })))
}

/// A broadcast to start, as `/v1/broadcasts` or `/v1/alerts` asked for it, validated.
pub struct NewBroadcast {
    pub audience: Audience,
    pub content: Content,
    pub policy: Option<String>,
    pub reference: Option<String>,
    /// Not to start before this instant (its validity counts from then).
    pub send_at_ms: Option<u64>,
    /// Ends the validity earlier than the policy's (a CAP alert's `expires`).
    pub expires_ms: Option<u64>,
    pub dedup: Option<Dedup>,
}

/// Plans a broadcast with its policy, persists it and hands it to the broadcaster after
/// the response. Returns its id, or the id of the earlier identical request.
pub async fn start(
    kv: &Store,
    caller: &Caller,
    new: NewBroadcast,
) -> Result<BroadcastId, ApiError> {
    // The policy decides per channel; a member on a channel it does not offer fails
    // alone, the broadcast goes on.
    let mut cells = BTreeMap::new();
    let mut validity_seconds = 0;
    let mut emergency = false;
    let mut policy_name = None;
    let mut quiet_hours = None;
    let mut refusal = None;
    for channel in CHANNELS {
        match plan(caller, channel, new.policy.clone()).await {
            Ok(plan) => {
                cells.insert(channel, plan.cell);
                validity_seconds = validity_seconds.max(plan.validity_seconds);
                emergency |= matches!(plan.priority, Priority::Emergency);
                policy_name = Some(plan.policy);
                quiet_hours = plan.quiet_hours.map(|q| QuietHours {
                    start_min: q.start_minute,
                    end_min: q.end_minute,
                });
            }
            // A channel the policy lacks, or keeps from the caller's roles: its members
            // fail alone. With no channel left, the last refusal answers.
            Err(e) if matches!(e.code, ErrorCode::UnknownChannel | ErrorCode::Forbidden) => {
                refusal = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    let Some(policy_name) = policy_name else {
        return Err(refusal.unwrap_or_else(|| {
            ApiError::new(ErrorCode::UnknownChannel, "the policy offers no channel")
        }));
    };
    let audience_size = match &new.audience {
        Audience::Recipients(members) => members.len() as u64,
        Audience::Group(group) => groups::member_count(kv, group)
            .await
            .map_err(|e| unavailable("group", e))?,
    };
    let charge = crate::quota::charge(&caller.id, audience_size, emergency).await?;
    let id = BroadcastId::from_random(new_random());
    // The same request within the duplicate window gets the first answer.
    if let Some(dedup) = &new.dedup
        && let Some(existing) = reserve_broadcast(kv, dedup, &id).await?
    {
        charge.give_back();
        return Ok(existing);
    }
    let now = store::now_ms();
    if let Some(at) = new.send_at_ms
        && at > now + messaging_domain::schedule::HORIZON_MS
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "a broadcast can be scheduled at most a year ahead",
        ));
    }
    let send_at_ms = new.send_at_ms.filter(|&at| at > now);
    let policy_expiry = send_at_ms
        .unwrap_or(now)
        .saturating_add(validity_seconds.saturating_mul(1000));
    let record = BroadcastRecord {
        id,
        owner: caller.id.clone(),
        policy: policy_name,
        emergency,
        group: match &new.audience {
            Audience::Group(g) => Some(g.clone()),
            Audience::Recipients(_) => None,
        },
        cells,
        created_ms: now,
        expires_ms: new
            .expires_ms
            .map_or(policy_expiry, |e| e.min(policy_expiry)),
        reference: new.reference,
        send_at_ms,
        quiet_hours,
        // A group may grow before its fan-out: the broadcaster charges the members it
        // finds beyond these.
        charged: match &new.audience {
            Audience::Group(_) if !emergency => Some(audience_size),
            _ => None,
        },
    };
    if let Audience::Recipients(members) = &new.audience {
        let key = hashing_key().await?;
        groups::put_members(
            &keys::broadcast_members(&record.id),
            key.as_bytes(),
            members,
        )
        .await
        .map_err(|e| unavailable("broadcast recipients", e))?;
    }
    broadcasts::insert(kv, &record, &new.content)
        .await
        .map_err(|e| unavailable("broadcast", e))?;
    store::audit::emit(
        messaging_domain::audit::AuditStatus::InProgress,
        &store::audit::caller(&caller.id),
        None,
        serde_json::json!({"event": "broadcast.accepted", "id": record.id.as_str(), "caller": caller.id, "policy": record.policy, "emergency": emergency}),
    );
    // A scheduled broadcast is the broadcaster's tick's to start when due.
    if send_at_ms.is_none() {
        wake_fanout(&record.id);
    }
    Ok(record.id)
}

/// Asks the broadcaster to walk (or, after a cancel, settle) the broadcast, after the
/// response; its tick finds the broadcast if this is lost.
fn wake_fanout(id: &BroadcastId) {
    store::work::post_after_response(
        "http://broadcaster.spin.internal/fanout".into(),
        serde_json::json!({ "id": id }),
    );
}

/// Reserves the request's hash for `id`; `Some(existing)`: an earlier request created it.
pub async fn reserve_broadcast(
    kv: &Store,
    dedup: &Dedup,
    id: &BroadcastId,
) -> Result<Option<BroadcastId>, ApiError> {
    let outcome = idempotency::reserve(
        dedup,
        id.as_str(),
        async |existing| match BroadcastId::parse(existing) {
            Some(existing) => Ok(broadcasts::record(kv, &existing).await?.is_some()),
            None => Ok(false),
        },
    )
    .await
    .map_err(|e| unavailable("duplicate check", e))?;
    match outcome {
        // Written now: a broadcast is made in several writes after this one.
        Some(Outcome::Reserved(rows)) => {
            store::many::set_many("default", &rows)
                .map_err(|e| unavailable("duplicate check", e))?;
            Ok(None)
        }
        Some(Outcome::Existing(existing)) => Ok(BroadcastId::parse(&existing)),
        None => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "the same request is in flight concurrently; retry",
        )),
    }
}

pub async fn read(caller: Caller, id: &str) -> HttpResponse {
    or_error(
        async {
            let kv = open_store().await?;
            let record = owned(&kv, &caller, id).await?;
            Ok(json(200, &progress(&kv, &record).await?))
        }
        .await,
    )
}

/// Stops what has not left yet: the fan-out stops at its next page and cells count the
/// recipients of batches not yet sent as `cancelled`.
pub async fn cancel(caller: Caller, id: &str) -> HttpResponse {
    or_error(
        async {
            let kv = open_store().await?;
            let record = owned(&kv, &caller, id).await?;
            stop(&kv, &caller, &record.id).await?;
            Ok(json(200, &progress(&kv, &record).await?))
        }
        .await,
    )
}

/// Cancels a broadcast: nothing more leaves; the cells settle what waits as cancelled.
pub async fn stop(kv: &Store, caller: &Caller, id: &BroadcastId) -> Result<(), ApiError> {
    broadcasts::cancel(kv, id)
        .await
        .map_err(|e| unavailable("broadcast", e))?;
    store::audit::emit(
        messaging_domain::audit::AuditStatus::Success,
        &store::audit::caller(&caller.id),
        None,
        serde_json::json!({"event": "broadcast.cancelled", "id": id.as_str(), "caller": caller.id}),
    );
    wake_fanout(id);
    Ok(())
}

async fn progress(kv: &Store, record: &BroadcastRecord) -> Result<BroadcastView, ApiError> {
    let fail = |e| unavailable("broadcast progress", e);
    let (cursor, _) = broadcasts::read_cursor(&record.id).map_err(fail)?;
    let tally = broadcasts::tally(&record.id).map_err(fail)?;
    let cancelled = broadcasts::is_cancelled(kv, &record.id)
        .await
        .map_err(fail)?;
    Ok(BroadcastView::new(record, &cursor, &tally, cancelled))
}

pub async fn owned(kv: &Store, caller: &Caller, id: &str) -> Result<BroadcastRecord, ApiError> {
    let id = BroadcastId::parse(id).ok_or_else(not_found)?;
    broadcasts::record(kv, &id)
        .await
        .map_err(|e| unavailable("broadcast", e))?
        .filter(|b| b.owner == caller.id)
        .ok_or_else(not_found)
}
