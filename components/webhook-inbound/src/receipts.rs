//! Delivery receipts: `GET|POST /webhooks/receipts/{message-id}/{token}?kannel_type=N`.
//!
//! The token is the HMAC the dispatcher put into the receipt URL; a receipt without the
//! right token, for an unknown message, or with an unknown report type is refused and
//! changes nothing.

use crate::{HttpResponse, query_param, reply};
use message_store::notifications::reach_and_notify;
use messaging_domain::hashing::keyed_hash;
use messaging_domain::providers::kannel;
use messaging_domain::{MessageId, Status};

pub async fn receipt(id: &str, token: &str, query: &str) -> HttpResponse {
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
