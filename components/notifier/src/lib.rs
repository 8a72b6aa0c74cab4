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

use message_store::private_route::{Response, json, no_such_route, read};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

#[derive(serde::Deserialize)]
struct DeliverRequest {
    id: messaging_domain::NotificationId,
}

#[http_service]
async fn handle(req: Request) -> Response {
    message_store::backend::configure().await;
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/deliver") => {
            let request: DeliverRequest = match read(req, r#"{"id": "ntf_..."}"#).await {
                Ok(request) => request,
                Err(response) => return response,
            };
            let outcome = deliver::attempt(&request.id).await;
            json(200, serde_json::json!({ "outcome": outcome.as_str() }))
        }
        (Method::POST, "/tick") => {
            let report = deliver::tick().await;
            json(200, serde_json::to_value(report).expect("json"))
        }
        _ => no_such_route(),
    }
}
