//! webhook-inbound: everything providers send to the gateway.
//!
//! - `GET|POST /webhooks/receipts/{message-id}/{token}?kannel_type=N`: delivery receipts
//!   (`receipts.rs`).
//! - `GET|POST /webhooks/kannel/inbound/{token}?from=%p&to=%P&text=%a&id=%I`: SMS from
//!   citizens through Kannel (`kannel_inbound.rs`);
//! - `POST /webhooks/twilio/inbound`: SMS from citizens through Twilio, signed
//!   (`twilio_inbound.rs`);
//! - `POST /webhooks/africastalking/{token}/delivery|inbound`: Africa's Talking's delivery
//!   reports and SMS from citizens (`africastalking.rs`);
//! - `POST /webhooks/telegram`: the Telegram bot's updates (`telegram.rs`).
//!
//! Inbound messages from every provider are handled alike (`inbound.rs`: opt-out, answers
//! to reminders, routing to the owning system).
//!
//! Every request is authenticated by a token only the gateway and the provider know;
//! anything refused changes nothing.

mod africastalking;
mod inbound;
mod kannel_inbound;
mod receipts;
mod telegram;
mod twilio_inbound;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Method, Request};
use spin_sdk::http_service;

pub(crate) type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

pub(crate) fn reply(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = if status < 300 {
        serde_json::json!({ "status": code })
    } else {
        serde_json::json!({ "error": { "code": code, "message": message } })
    };
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(
            serde_json::to_vec(&body).expect("json").into(),
        ))
        .expect("static response parts are valid")
}

/// Checks a provider's shared secret (a path token or a header) against the variable
/// that holds it, in constant time. An empty variable means the webhook is off (404).
pub(crate) async fn check_secret(
    variable: &str,
    given: Option<&str>,
    provider: &str,
) -> Result<(), HttpResponse> {
    let expected = message_store::config::get(variable)
        .await
        .unwrap_or_default();
    if expected.is_empty() {
        return Err(reply(404, "not_found", "this webhook is not configured"));
    }
    if !given.is_some_and(|g| messaging_domain::hashing::constant_time_eq(&expected, g)) {
        println!(
            "{}",
            serde_json::json!({"event": "inbound.refused", "provider": provider, "reason": "bad secret"})
        );
        return Err(reply(401, "invalid_signature", "the token is not valid"));
    }
    Ok(())
}

pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Largest provider callback read; providers' callbacks are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    message_store::backend::configure().await;
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return reply(405, "method_not_allowed", "use GET or POST");
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let twilio_signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let telegram_secret = req
        .headers()
        .get(messaging_domain::providers::telegram::SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let Ok(body) = req.into_body().bytes().await else {
        return reply(400, "invalid_request", "the body could not be read");
    };
    if body.len() > MAX_BODY {
        return reply(413, "payload_too_large", "callbacks are small");
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["webhooks", "receipts", "b", broadcast, member, token] => {
            let request = receipts::Request {
                query: &query,
                path: &path,
                twilio_signature: twilio_signature.as_deref(),
                body: &body,
            };
            receipts::broadcast_receipt(broadcast, member, token, request).await
        }
        ["webhooks", "receipts", id, token] => {
            let request = receipts::Request {
                query: &query,
                path: &path,
                twilio_signature: twilio_signature.as_deref(),
                body: &body,
            };
            receipts::receipt(id, token, request).await
        }
        ["webhooks", "africastalking", token, kind] => {
            africastalking::handle(token, kind, &body).await
        }
        ["webhooks", "telegram"] => telegram::handle(telegram_secret.as_deref(), &body).await,
        ["webhooks", "twilio", "inbound"] => {
            twilio_inbound::handle(&path, &query, twilio_signature.as_deref(), &body).await
        }
        ["webhooks", "kannel", "inbound", token] => kannel_inbound::handle(token, &query).await,
        _ => reply(404, "not_found", "no such webhook"),
    }
}
