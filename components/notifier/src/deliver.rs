//! One delivery attempt of a notification, and the tick that retries what is due.

use message_store::notifications::{self, CELL};
use message_store::{self as store, PendingEntry, now_ms};
use messaging_domain::audit::AuditStatus;
use messaging_domain::callback_target;
use messaging_domain::notification::{self, EVENT_HEADER, ID_HEADER, SIGNATURE_HEADER};
use messaging_domain::redact::provider_reason;
use messaging_domain::retry::backoff_ms;
use messaging_domain::{NotificationId, keys};

/// How long one attempt holds a notification against a concurrent tick.
const CLAIM_MS: u64 = 60_000;
/// Most notifications one tick attempts; the next tick takes the rest.
const TICK_BATCH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retrying,
    Expired,
    Refused,
    Skipped,
    StoreError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retrying => "retrying",
            Outcome::Expired => "expired",
            Outcome::Refused => "refused",
            Outcome::Skipped => "skipped",
            Outcome::StoreError => "store_error",
        }
    }
}

fn log(event: &str, id: &NotificationId, detail: &str) {
    // Never the body (it may hold a citizen's reply) nor the URL's query.
    let line = serde_json::json!({ "event": event, "id": id.as_str(), "detail": detail });
    let status = match event {
        "notify.delivered" => AuditStatus::Success,
        "notify.refused" | "notify.expired" => AuditStatus::Failed,
        "notify.retry" => AuditStatus::InProgress,
        _ => return println!("{line}"),
    };
    message_store::audit::emit(status, "notifier", Some("callback"), line);
}

pub async fn attempt(id: &NotificationId) -> Outcome {
    match try_attempt(id).await {
        Ok(outcome) => outcome,
        Err(e) => {
            log("notify.store_error", id, &e.to_string());
            Outcome::StoreError
        }
    }
}

async fn try_attempt(id: &NotificationId) -> store::StoreResult<Outcome> {
    let kv = store::open().await?;
    let now = now_ms();
    if !store::work::take_lease(&keys::notification_claim(id), CLAIM_MS)? {
        return Ok(Outcome::Skipped);
    }
    let Some(notification) = notifications::load(&kv, id).await? else {
        // Delivered by an attempt that finished between our look and our claim.
        store::clear_pending(CELL, id).await?;
        kv.delete(keys::notification_claim(id)).await?;
        return Ok(Outcome::Skipped);
    };
    if now >= notification.expires_ms {
        notifications::remove(&kv, id).await?;
        log("notify.expired", id, &notification.event);
        return Ok(Outcome::Expired);
    }
    // Checked again at send time, whatever was checked at accept: a notification stored
    // before the check existed, or under another `callback_private_networks`, must not
    // become a call into the app or its network.
    if let Err(refusal) = permitted(&notification).await {
        notifications::remove(&kv, id).await?;
        log("notify.refused", id, refusal.message());
        return Ok(Outcome::Refused);
    }
    match post(&notification).await {
        Ok(()) => {
            notifications::remove(&kv, id).await?;
            log("notify.delivered", id, &notification.event);
            Ok(Outcome::Delivered)
        }
        Err(Failure::Refused(reason)) => {
            // Not a callback host this deployment allows: retrying cannot help.
            notifications::remove(&kv, id).await?;
            log("notify.refused", id, &reason);
            Ok(Outcome::Refused)
        }
        Err(Failure::Temporary(reason)) => {
            let attempts = store::pending(CELL, id).await?.map_or(0, |p| p.attempts) + 1;
            let due_ms = now_ms() + backoff_ms(store::work::retry_base_ms().await, attempts);
            store::set_pending(
                CELL,
                id,
                PendingEntry {
                    due_ms,
                    attempts,
                    scheduled: false,
                },
            )
            .await?;
            kv.delete(keys::notification_claim(id)).await?;
            log("notify.retry", id, &provider_reason(&reason));
            Ok(Outcome::Retrying)
        }
    }
}

/// Whether the notification's URL may be called (`callback_target::check_notification`).
async fn permitted(
    notification: &notification::Notification,
) -> Result<(), callback_target::Refusal> {
    let var = |name: &'static str| async move {
        spin_sdk::variables::get(name).await.unwrap_or_default()
    };
    let private_networks = var("callback_private_networks").await == "true";
    let im_room = var("im_pubsub_url").await;
    callback_target::check_notification(
        &notification.url,
        &notification.event,
        private_networks,
        &im_room,
    )
}

enum Failure {
    /// The platform refused the URL (not in `callback_hosts`).
    Refused(String),
    /// Anything else: the callback may answer later.
    Temporary(String),
}

/// POSTs the notification, signed; `Ok` only for a 2xx answer. A redirect is an answer
/// like any other that is not 2xx (retried, never followed): Spin's outbound HTTP and the
/// project host's follow none, so a receiver cannot bounce the call inward.
async fn post(notification: &notification::Notification) -> Result<(), Failure> {
    let secret = spin_sdk::variables::get("callback_secret")
        .await
        .map_err(|e| Failure::Temporary(format!("callback_secret: {e}")))?;
    let secrets = notification::caller_secrets(&secret, notification.owner.as_deref());
    let signature = notification::sign(&secrets, now_ms() / 1000, notification.body.as_bytes());
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&notification.url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(ID_HEADER, notification.id.as_str())
        .header(EVENT_HEADER, &notification.event);
    for (name, value) in &notification.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
            notification.body.clone(),
        )))
        .map_err(|e| Failure::Refused(format!("invalid callback request: {e}")))?;
    match spin_sdk::http::send(request).await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(Failure::Temporary(format!(
            "callback answered {}",
            response.status().as_u16()
        ))),
        Err(e) => {
            let reason = format!("{e:?}");
            if reason.contains("HttpRequestDenied") {
                // Not in callback_hosts, or (on the project host) allowed only by a
                // wildcard pattern and resolving to a non-public address.
                Err(Failure::Refused(
                    "the platform refused the callback host (callback_hosts)".into(),
                ))
            } else {
                Err(Failure::Temporary(format!(
                    "callback unreachable: {reason}"
                )))
            }
        }
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub struct TickReport {
    pub examined: usize,
    pub attempted: usize,
}

/// Retries every notification that is due, up to [`TICK_BATCH`]. A fresh one (no attempt
/// yet) is its producer's to hand over; the tick steps in once that is overdue.
pub async fn tick() -> TickReport {
    let (examined, due) = store::work::due_for_tick(CELL, TICK_BATCH, NotificationId::parse).await;
    let mut report = TickReport {
        examined,
        attempted: 0,
    };
    for id in due {
        attempt(&id).await;
        report.attempted += 1;
    }
    report
}
