//! Routes for the platform that runs the gateway rather than for callers' systems, each
//! for a caller with the `operator` role:
//! - `GET /v1/queue`: how much work is due in the pending store (messages, batches,
//!   fan-outs, callbacks; scheduled work once it is due), for an autoscaler (KEDA's metrics-api scaler scales the
//!   dispatch deployment from zero on it; see infra/);
//! - `POST /v1/tick`: one tick of every component named in `tick_components`, for
//!   platforms without the project host's timer (on SpinKube, Spin's cron trigger does not
//!   run; a scheduler calls this instead).
//!
//! - `GET /v1/audit?from=&to=&after=&limit=`: the audit trail (`messaging_domain::audit`),
//!   in time order, a page at a time (spec 5.1.10: readable by the central service
//!   provider only).
//!
//! None shows a message's content or an address: counts, component names, and the trail's
//! ids, parties and outcomes.

use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json};
use messaging_domain::{ApiError, ErrorCode};

const OPERATOR: &str = "operator";
/// The count stops here: an autoscaler needs "a lot", not the exact size of a big queue,
/// and counting reads every due bucket.
const COUNT_UP_TO: u64 = 10_000;

fn require_operator(caller: &Caller) -> Result<(), HttpResponse> {
    if caller.roles.iter().any(|r| r == OPERATOR) {
        Ok(())
    } else {
        Err(error(&ApiError::new(
            ErrorCode::Forbidden,
            "this route needs the operator role",
        )))
    }
}

pub async fn queue(caller: Caller) -> HttpResponse {
    if let Err(refused) = require_operator(&caller) {
        return refused;
    }
    let names = message_store::config::get("tick_components")
        .await
        .unwrap_or_default();
    match due_work(&names) {
        Ok(pending) => json(
            200,
            &serde_json::json!({"pending": pending, "complete": pending < COUNT_UP_TO}),
        ),
        Err(e) => error(&crate::accept::unavailable("counting the pending store", e)),
    }
}

/// The work due now in every queue of the components a tick reaches (`tick_components`):
/// each delivery cell's messages and batches, the notifier's callbacks, the broadcaster's
/// fan-outs. Work scheduled for later counts once it is due, so an autoscaler may keep
/// the delivery cells at zero until then.
fn due_work(tick_components: &str) -> message_store::StoreResult<u64> {
    use message_store::{broadcasts, queue};
    let now = message_store::now_ms();
    let mut queues = vec![broadcasts::FANOUT_QUEUE.to_string()];
    for component in tick_components
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        queues.push(component.to_string());
        queues.push(broadcasts::batch_queue(component));
    }
    let mut total = 0;
    for name in queues {
        total += queue::due_slots(&name, now, COUNT_UP_TO - total)?;
        if total >= COUNT_UP_TO {
            break;
        }
    }
    Ok(total.min(COUNT_UP_TO))
}

pub async fn tick(caller: Caller) -> HttpResponse {
    if let Err(refused) = require_operator(&caller) {
        return refused;
    }
    let names = message_store::config::get("tick_components")
        .await
        .unwrap_or_default();
    let mut ticked = Vec::new();
    let mut failed = Vec::new();
    for component in names.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let uri = format!("http://{component}.spin.internal/tick");
        match message_store::work::post_json_status(&uri, &serde_json::json!({})).await {
            Ok(status) if (200..300).contains(&status) => ticked.push(component),
            Ok(status) => {
                failed.push(serde_json::json!({"component": component, "status": status}))
            }
            Err(e) => {
                eprintln!("tick of {component}: {e}");
                failed.push(serde_json::json!({"component": component, "status": null}));
            }
        }
    }
    let status = if failed.is_empty() { 200 } else { 502 };
    json(
        status,
        &serde_json::json!({"ticked": ticked, "failed": failed}),
    )
}

/// Entries per page unless `limit` asks for fewer (or more, up to `MAX_AUDIT_PAGE`).
const AUDIT_PAGE: usize = 100;
const MAX_AUDIT_PAGE: usize = 1000;

pub async fn audit(caller: Caller, query: &str) -> HttpResponse {
    if let Err(refused) = require_operator(&caller) {
        return refused;
    }
    let form = messaging_domain::providers::form::parse_form(query);
    let param = |name: &str| messaging_domain::providers::form::field(&form, name);
    let invalid = |m: &str| error(&ApiError::new(ErrorCode::InvalidRequest, m));
    let time = |name: &str, default: u64| match param(name) {
        None => Ok(default),
        Some(text) => messaging_domain::schedule::parse_rfc3339(text)
            .ok_or_else(|| invalid(&format!("{name} must be an RFC 3339 date and time"))),
    };
    let from = match time("from", 0) {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let to = match time("to", u64::MAX) {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let after = match param("after").map(messaging_domain::audit::Cursor::parse) {
        None => None,
        Some(Some(cursor)) => Some(cursor),
        Some(None) => return invalid("after must be a next_after value of an earlier page"),
    };
    let limit = match param("limit").map(str::parse::<usize>) {
        None => AUDIT_PAGE,
        Some(Ok(n)) if (1..=MAX_AUDIT_PAGE).contains(&n) => n,
        Some(_) => return invalid("limit must be a number from 1 to 1000"),
    };
    match message_store::audit::read(from, after, to, limit) {
        Ok((items, next)) => json(
            200,
            &serde_json::json!({"items": items, "next_after": next.map(|c| c.to_string())}),
        ),
        Err(e) => error(&crate::accept::unavailable("reading the audit trail", e)),
    }
}
