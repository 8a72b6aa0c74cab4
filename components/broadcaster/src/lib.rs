//! broadcaster: walks a broadcast's members and hands them to the delivery cells in
//! batches. Private routes only (`http://broadcaster.spin.internal`):
//!
//! - `POST /fanout` `{"id"}`: ingress hands over a freshly accepted broadcast (and wakes it
//!   after a cancel). One call batches a bounded number of pages, then hands the rest to a
//!   fresh instance of itself, so each instance stays short-lived.
//! - `POST /tick`: the host timer (or Spin's cron trigger) resumes fan-outs whose
//!   hand-over was lost, emergency broadcasts first.

mod fanout;

use message_store::private_route::{Response, json, no_such_route, read};
use messaging_domain::BroadcastId;
use messaging_domain::broadcast::FanoutRef;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// Fan-outs resumed per tick.
const TICK_FANOUTS: usize = 10;

#[derive(serde::Deserialize)]
struct FanoutRequest {
    id: BroadcastId,
}

#[http_service]
async fn handle(req: Request) -> Response {
    message_store::backend::configure().await;
    match (req.method().clone(), req.uri().path()) {
        (Method::POST, "/fanout") => {
            let request: FanoutRequest = match read(req, r#"{"id": "brd_..."}"#).await {
                Ok(request) => request,
                Err(response) => return response,
            };
            let report = fanout::run(&request.id).await;
            json(200, serde_json::to_value(report).expect("json"))
        }
        (Method::POST, "/tick") => {
            let (examined, due) =
                message_store::work::due_for_tick("fanout", TICK_FANOUTS, FanoutRef::parse).await;
            let mut resumed = 0;
            for entry in due {
                fanout::run(&entry.broadcast).await;
                resumed += 1;
            }
            json(
                200,
                serde_json::json!({"examined": examined, "resumed": resumed}),
            )
        }
        _ => no_such_route(),
    }
}
