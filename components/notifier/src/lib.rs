//! notifier: delivers notifications to callers' systems by HTTP callback, at least once,
//! signed, retried with backoff until accepted or expired. Private routes only
//! (`http://notifier.spin.internal`):
//!
//! - `POST /drain`: answered at once; then every due notification is delivered, a page at
//!   a time, by the one drain that holds the notifier's lease (`deliver.rs`). Producers
//!   store a notification (`message_store::notifications::enqueue`) and ask for a drain
//!   unless one is running.
//! - `POST /tick`: the host timer (or an outside scheduler) drains for a second, for
//!   retries and for asks that were lost, and leaves the rest to a drain call.
//!
//! The notification format and the signature are in `messaging_domain::notification`.

mod deliver;

use message_store::private_route::{Response, json, no_such_route};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// How long a tick drains before it hands the rest to a drain call.
const TICK_DRAIN_MS: u64 = 1_000;

#[http_service]
async fn handle(req: Request) -> Response {
    message_store::backend::configure().await;
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/drain") => {
            spin_sdk::wasip3::spawn(deliver::drain());
            json(202, serde_json::json!({ "draining": true }))
        }
        (Method::POST, "/tick") => {
            // A short drain inline (its answer says what finding due work cost), the rest
            // in a drain of its own.
            deliver::drain_for(TICK_DRAIN_MS).await;
            json(200, serde_json::json!({ "drained": true }))
        }
        _ => no_such_route(),
    }
}
