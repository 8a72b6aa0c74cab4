//! Routes for the platform that runs the gateway rather than for callers' systems, each
//! for a caller with the `operator` role:
//! - `GET /v1/queue`: how much work waits in the pending store (messages, batches,
//!   fan-outs, callbacks), for an autoscaler (KEDA's metrics-api scaler scales the
//!   dispatch deployment from zero on it; see infra/);
//! - `POST /v1/tick`: one tick of every component named in `tick_components`, for
//!   platforms without the project host's timer (on SpinKube, Spin's cron trigger does not
//!   run; a scheduler calls this instead).
//!
//! Neither shows a message, an address or a caller: counts and component names only.

use crate::govstack::messaging::types::Caller;
use crate::respond::{HttpResponse, error, json};
use messaging_domain::{ApiError, ErrorCode};

const OPERATOR: &str = "operator";
/// The count stops here: an autoscaler needs "a lot", not the exact size of a big queue,
/// and counting walks the keys.
const COUNT_UP_TO: usize = 10_000;

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
    match message_store::count_keys("pending", COUNT_UP_TO) {
        Ok(pending) => json(
            200,
            &serde_json::json!({"pending": pending, "complete": pending < COUNT_UP_TO}),
        ),
        Err(e) => error(&crate::accept::unavailable("counting the pending store", e)),
    }
}

pub async fn tick(caller: Caller) -> HttpResponse {
    if let Err(refused) = require_operator(&caller) {
        return refused;
    }
    let names = spin_sdk::variables::get("tick_components")
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
