//! Delivering notifications, a page at a time, by the notifier's drain
//! (`message_store::drain`): the page's notifications are read in one batch read, those
//! still valid are posted concurrently, [`callback_attempt::next`] says what each answer
//! means, and every outcome of the page is written together.

use futures::StreamExt;
use message_store::notifications::{self, CELL};
use message_store::writes::Writes;
use message_store::{self as store, PendingEntry, drain, now_ms};
use messaging_domain::NotificationId;
use messaging_domain::audit::AuditStatus;
use messaging_domain::callback_attempt::{self, Answer, Next};
use messaging_domain::callback_target;
use messaging_domain::notification::{
    self, EVENT_HEADER, ID_HEADER, Notification, SIGNATURE_HEADER,
};
use messaging_domain::redact::provider_reason;

/// Notifications read and posted together.
const PAGE: usize = 100;
/// Posts in flight at once (each on a kept-alive connection of the runtime's).
const CONCURRENT_POSTS: usize = 32;
/// How long one drain call goes on before it hands over to a fresh call.
const BUDGET_MS: u64 = 20_000;

fn log_line(event: &str, id: &NotificationId, detail: &str) -> serde_json::Value {
    // Never the body (it may hold a citizen's reply) nor the URL's query.
    serde_json::json!({ "event": event, "id": id.as_str(), "detail": detail })
}

/// Delivers every due notification (after the current response: call it from a spawned
/// task), then asks for another drain if its budget ran out with work left.
pub async fn drain() {
    drain_for(BUDGET_MS).await;
}

/// [`drain`] for at most `budget_ms` (the tick's short drain).
pub async fn drain_for(budget_ms: u64) {
    match drain::run(CELL, PAGE, budget_ms, deliver_page).await {
        Ok(report) if report.more => notifications::poke(),
        Ok(_) => {}
        Err(e) => println!(
            "{}",
            serde_json::json!({"event": "notify.store_error", "detail": e.to_string()})
        ),
    }
}

/// What the deployment says about where callbacks may go and how they are signed: read
/// once per page.
struct Settings {
    private_networks: bool,
    im_room: String,
    secret: Option<String>,
}

impl Settings {
    async fn read() -> Settings {
        let var = |name: &'static str| async move { message_store::config::get(name).await.ok() };
        Settings {
            private_networks: var("callback_private_networks").await.as_deref() == Some("true"),
            im_room: var("im_pubsub_url").await.unwrap_or_default(),
            secret: var("callback_secret").await,
        }
    }
}

/// Attempts one page of due notifications and writes what became of them.
async fn deliver_page(ids: Vec<String>) {
    let ids: Vec<NotificationId> = ids
        .iter()
        .filter_map(|id| NotificationId::parse(id))
        .collect();
    let loaded = match notifications::load_many(&ids).await {
        Ok(loaded) => loaded,
        Err(e) => return store_error(&e),
    };
    let settings = Settings::read().await;
    let settings = &settings;
    let mut readable = Vec::with_capacity(ids.len());
    for (id, loaded) in ids.into_iter().zip(loaded) {
        match loaded {
            Ok(notification) => readable.push((id, notification)),
            // Unreadable (a sealing key missing): it waits for the key.
            Err(e) => println!("{}", log_line("notify.store_error", &id, &e.to_string())),
        }
    }
    let answers: Vec<(NotificationId, Option<Notification>, Answer)> =
        futures::stream::iter(readable)
            .map(|(id, notification)| async move {
                let answer = match &notification {
                    Some(n) => attempt(n, settings).await,
                    None => Answer::TooLate,
                };
                (id, notification, answer)
            })
            .buffer_unordered(CONCURRENT_POSTS)
            .collect()
            .await;
    let mut writes = Writes::new();
    let retry_base_ms = store::work::retry_base_ms().await;
    for (id, notification, answer) in answers {
        let Some(notification) = notification else {
            // Delivered and erased already: only its entry was left.
            writes.clear_pending(CELL, &id);
            continue;
        };
        if let Err(e) = decide(&mut writes, &id, &notification, answer, retry_base_ms).await {
            store_error(&e);
        }
    }
    if let Err(e) = writes.commit().await {
        store_error(&e);
    }
}

/// Posts the notification if it is still valid and may go where it points.
async fn attempt(n: &Notification, settings: &Settings) -> Answer {
    if !callback_attempt::still_valid(n.expires_ms, now_ms()) {
        return Answer::TooLate;
    }
    // Checked again at send time, whatever was checked at accept: a notification stored
    // before the check existed, or under another `callback_private_networks`, must not
    // become a call into the app or its network.
    if let Err(refusal) = callback_target::check_notification(
        &n.url,
        &n.event,
        settings.private_networks,
        &settings.im_room,
    ) {
        return Answer::Refused(refusal.message().to_string());
    }
    match &settings.secret {
        Some(secret) => post(n, secret).await,
        None => Answer::Failed("callback_secret is not set".into()),
    }
}

/// Gathers in `writes` what `answer` means for the notification.
async fn decide(
    writes: &mut Writes,
    id: &NotificationId,
    n: &Notification,
    answer: Answer,
    retry_base_ms: u64,
) -> store::StoreResult<()> {
    let attempts_before = match answer {
        Answer::Failed(_) => store::pending(CELL, id).await?.map_or(0, |p| p.attempts),
        _ => 0,
    };
    let (status, event, detail) =
        match callback_attempt::next(answer, attempts_before, now_ms(), retry_base_ms) {
            Next::Delivered => (AuditStatus::Success, "notify.delivered", n.event.clone()),
            Next::Refused(reason) => (AuditStatus::Failed, "notify.refused", reason),
            Next::Expired => (AuditStatus::Failed, "notify.expired", n.event.clone()),
            Next::Retry {
                due_ms,
                attempts,
                reason,
            } => {
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
                let line = log_line("notify.retry", id, &provider_reason(&reason));
                writes.trail(AuditStatus::InProgress, "notifier", Some("callback"), line);
                return Ok(());
            }
        };
    notifications::remove_in(writes, id);
    writes.trail(
        status,
        "notifier",
        Some("callback"),
        log_line(event, id, &detail),
    );
    Ok(())
}

fn store_error(e: &store::StoreError) {
    println!(
        "{}",
        serde_json::json!({"event": "notify.store_error", "detail": e.to_string()})
    );
}

/// POSTs the notification, signed; `Accepted` only for a 2xx answer. A redirect is an
/// answer like any other that is not 2xx (retried, never followed): Spin's outbound HTTP
/// and the project host's follow none, so a receiver cannot bounce the call inward.
async fn post(n: &Notification, secret: &str) -> Answer {
    let secrets = notification::caller_secrets(secret, n.owner.as_deref());
    let signature = notification::sign(&secrets, now_ms() / 1000, n.body.as_bytes());
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&n.url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(ID_HEADER, n.id.as_str())
        .header(EVENT_HEADER, &n.event);
    for (name, value) in &n.headers {
        request = request.header(name, value);
    }
    let request = match request.body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
        n.body.clone(),
    ))) {
        Ok(request) => request,
        Err(e) => return Answer::Refused(format!("invalid callback request: {e}")),
    };
    match spin_sdk::http::send(request).await {
        Ok(response) if response.status().is_success() => Answer::Accepted,
        Ok(response) => Answer::Failed(format!("callback answered {}", response.status().as_u16())),
        Err(e) => {
            let reason = format!("{e:?}");
            if reason.contains("HttpRequestDenied") {
                // Not in callback_hosts, or (on the project host) allowed only by a
                // wildcard pattern and resolving to a non-public address.
                Answer::Refused("the platform refused the callback host (callback_hosts)".into())
            } else {
                Answer::Failed(format!("callback unreachable: {reason}"))
            }
        }
    }
}
