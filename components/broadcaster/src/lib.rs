//! broadcaster: walks a broadcast's members and hands them to the delivery cells in
//! batches. Private routes only (`http://broadcaster.spin.internal`):
//!
//! - `POST /fanout` `{"id"}`: ingress hands over a freshly accepted broadcast (and wakes it
//!   after a cancel). One call batches a bounded number of pages, then hands the rest to a
//!   fresh instance of itself, so each instance stays short-lived.
//! - `POST /tick`: the host timer (or Spin's cron trigger) resumes fan-outs whose
//!   hand-over was lost, emergency broadcasts first.

mod fanout;

use messaging_domain::BroadcastId;
use messaging_domain::broadcast::FanoutRef;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Method, Request};
use spin_sdk::http_service;

type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

/// Fan-outs resumed per tick.
const TICK_FANOUTS: usize = 10;

fn json(status: u16, body: serde_json::Value) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(body.to_string().into()))
        .expect("static response parts are valid")
}

#[derive(serde::Deserialize)]
struct FanoutRequest {
    id: BroadcastId,
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    match (req.method().clone(), req.uri().path()) {
        (Method::POST, "/fanout") => {
            let Ok(body) = req.into_body().bytes().await else {
                return json(400, serde_json::json!({"error": "unreadable body"}));
            };
            let Ok(request) = serde_json::from_slice::<FanoutRequest>(&body) else {
                return json(
                    400,
                    serde_json::json!({"error": "expected {\"id\": \"brd_...\"}"}),
                );
            };
            let report = fanout::run(&request.id).await;
            json(200, serde_json::to_value(report).expect("json"))
        }
        (Method::POST, "/tick") => {
            let (examined, due) = message_store::work::due_for_tick(
                "fanout",
                TICK_FANOUTS,
                FanoutRef::as_str,
                FanoutRef::parse,
            )
            .await;
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
        _ => json(404, serde_json::json!({"error": "no such route"})),
    }
}
