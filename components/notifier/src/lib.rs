//! notifier: delivers notifications to callers' systems by HTTP callback, at least once,
//! signed, retried with backoff until accepted or expired. Private routes only
//! (`http://notifier.spin.internal`):
//!
//! - `POST /deliver` `{"id": "ntf_..."}`: a producer stored a notification (see
//!   `message_store::notifications::enqueue`) and asks for it to go now.
//! - `POST /tick`: the host timer (or Spin's cron trigger) asks it to retry what is due.
//!
//! The notification format and the signature are in `messaging_domain::notification`.

mod deliver;

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Method, Request};
use spin_sdk::http_service;

type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

fn json(status: u16, body: serde_json::Value) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(body.to_string().into()))
        .expect("static response parts are valid")
}

#[derive(serde::Deserialize)]
struct DeliverRequest {
    id: messaging_domain::NotificationId,
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/deliver") => {
            let Ok(body) = req.into_body().bytes().await else {
                return json(400, serde_json::json!({"error": "unreadable body"}));
            };
            let Ok(request) = serde_json::from_slice::<DeliverRequest>(&body) else {
                return json(
                    400,
                    serde_json::json!({"error": "expected {\"id\": \"ntf_...\"}"}),
                );
            };
            let outcome = deliver::attempt(&request.id).await;
            json(200, serde_json::json!({ "outcome": outcome.as_str() }))
        }
        (Method::POST, "/tick") => {
            let report = deliver::tick().await;
            json(200, serde_json::to_value(report).expect("json"))
        }
        _ => json(404, serde_json::json!({"error": "no such route"})),
    }
}
