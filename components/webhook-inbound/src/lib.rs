//! webhook-inbound: provider callbacks. For now, delivery receipts:
//!
//! `GET|POST /webhooks/receipts/{message-id}/{token}?kannel_type=N`
//!
//! The token is the HMAC the dispatcher put into the receipt URL; a receipt without the
//! right token, for an unknown message, or with an unknown report type is refused and
//! changes nothing.

use message_store::notifications::reach_and_notify;
use messaging_domain::hashing::keyed_hash;
use messaging_domain::providers::kannel;
use messaging_domain::{MessageId, Status};
use spin_sdk::http::{FullBody, Method, Request};
use spin_sdk::http_service;

type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

fn reply(status: u16, code: &str, message: &str) -> HttpResponse {
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

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return reply(405, "method_not_allowed", "use GET or POST");
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["webhooks", "receipts", id, token] => receipt(id, token, &query).await,
        _ => reply(404, "not_found", "no such webhook"),
    }
}

async fn receipt(id: &str, token: &str, query: &str) -> HttpResponse {
    let Some(id) = MessageId::parse(id) else {
        return reply(404, "not_found", "no such message");
    };
    let Ok(secret) = spin_sdk::variables::get("receipt_secret").await else {
        return reply(503, "unavailable", "receipts cannot be verified now");
    };
    let expected = &keyed_hash(secret.as_bytes(), id.as_str().as_bytes())[..32];
    if !messaging_domain::hashing::constant_time_eq(expected, token) {
        println!(
            "{}",
            serde_json::json!({"event":"receipt.refused","id":id.as_str(),"reason":"bad token"})
        );
        return reply(401, "invalid_signature", "the receipt token is not valid");
    }
    let Some(dlr_type) = query_param(query, "kannel_type").and_then(|t| t.parse::<u32>().ok())
    else {
        return reply(400, "invalid_request", "kannel_type is missing");
    };
    let Ok(kv) = message_store::open().await else {
        return reply(503, "unavailable", "store unavailable");
    };
    let record = match message_store::record(&kv, &id).await {
        Ok(Some(record)) => record,
        Ok(None) => return reply(404, "not_found", "no such message"),
        Err(_) => return reply(503, "unavailable", "store unavailable"),
    };
    let Some(status) = kannel::dlr_status(dlr_type) else {
        // Buffered and unknown reports are acknowledged so Kannel does not resend them.
        return reply(200, "ignored", "");
    };
    let mut steps = vec![Status::Sent];
    if status != Status::Sent {
        steps.push(status);
    }
    for step in steps {
        if reach_and_notify(&kv, &record, step).await.is_err() {
            return reply(503, "unavailable", "store unavailable");
        }
    }
    // The address and content go as soon as the provider has the message; a receipt can
    // overtake the dispatcher, so erase here too.
    let _ = message_store::erase_payload(&kv, &id).await;
    println!(
        "{}",
        serde_json::json!({"event":"receipt.recorded","id":id.as_str(),"status":status.as_str()})
    );
    reply(200, status.as_str(), "")
}
