//! dispatcher: the driver of a delivery cell.
//!
//! A delivery cell is this component plugged with exactly one sender (spin.toml
//! `dependencies`). It is reachable only on private routes (`http://<cell>.spin.internal`):
//!
//! - `POST /dispatch` `{"id"}`: ingress hands over one freshly accepted message.
//! - `POST /batch` `{"broadcast", "seq"}`: the broadcaster hands over one broadcast batch.
//! - `POST /tick`: the host timer (or Spin's cron trigger) asks it to retry what is due.
//!
//! It owns the message's life after acceptance: claim, expiry, the call to the sender,
//! the outcome, retries with backoff, and erasing the address and content once they are no
//! longer needed.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "dispatcher",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

mod batch;
mod deliver;

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Method, Request};
use spin_sdk::http_service;

type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

fn text(status: u16, body: String) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(body.into()))
        .expect("static response parts are valid")
}

#[derive(serde::Deserialize)]
struct DispatchRequest {
    id: messaging_domain::MessageId,
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/dispatch") => {
            let Ok(body) = req.into_body().bytes().await else {
                return text(400, r#"{"error":"unreadable body"}"#.into());
            };
            let Ok(request) = serde_json::from_slice::<DispatchRequest>(&body) else {
                return text(400, r#"{"error":"expected {\"id\": \"msg_...\"}"}"#.into());
            };
            let Some(cell) = deliver::own_cell().await else {
                return text(500, r#"{"error":"the cell variable is not set"}"#.into());
            };
            let outcome = deliver::attempt(&cell, &request.id).await;
            text(
                200,
                serde_json::json!({ "outcome": outcome.as_str() }).to_string(),
            )
        }
        (Method::POST, "/batch") => {
            let Ok(body) = req.into_body().bytes().await else {
                return text(400, r#"{"error":"unreadable body"}"#.into());
            };
            let Ok(request) = serde_json::from_slice::<batch::BatchRequest>(&body) else {
                return text(
                    400,
                    r#"{"error":"expected {\"broadcast\": \"brd_...\", \"seq\": n}"}"#.into(),
                );
            };
            let Some(cell) = deliver::own_cell().await else {
                return text(500, r#"{"error":"the cell variable is not set"}"#.into());
            };
            let report = batch::send(&cell, &request.broadcast, request.seq).await;
            text(200, serde_json::to_string(&report).expect("json"))
        }
        (Method::POST, "/tick") => {
            let Some(cell) = deliver::own_cell().await else {
                return text(500, r#"{"error":"the cell variable is not set"}"#.into());
            };
            let report = deliver::tick(&cell).await;
            text(200, serde_json::to_string(&report).expect("json"))
        }
        _ => text(404, r#"{"error":"no such route"}"#.into()),
    }
}
