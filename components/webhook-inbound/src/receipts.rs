//! Delivery receipts: `/webhooks/receipts/{message-id}/{token}` plus the provider's part:
//! `?kannel_type=N` (Kannel's DLR, GET) or `?provider=twilio` (Twilio's status callback,
//! a form POST that must also carry a valid `X-Twilio-Signature`).
//!
//! The token is the HMAC the dispatcher put into the receipt URL, bound to the provider
//! the message went through (`messaging_domain::receipt_url`): a receipt is checked as the
//! provider its query names, so the URL given to Twilio, replayed with `kannel_type`, has
//! the wrong token. A receipt without the right token or signature, for an unknown
//! message, or with an unknown report type is refused and changes nothing.

use crate::{HttpResponse, query_param, reply};
use message_store::delivery_watch;
use message_store::notifications::reach_and_notify_after;
use message_store::writes::Writes;
use messaging_domain::audit::AuditStatus;
use messaging_domain::broadcast::Outcome as BroadcastOutcome;
use messaging_domain::providers::{kannel, twilio};
use messaging_domain::receipt_url::{self, ReceiptProvider};
use messaging_domain::{MessageId, Status, keys};

/// What the request carried besides its path.
pub struct Request<'a> {
    pub query: &'a str,
    pub path: &'a str,
    pub twilio_signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// A receipt for a broadcast recipient: `/webhooks/receipts/b/{broadcast}/{member}/{token}`.
/// Moves the recipient's outcome from `sent` to `delivered` or `failed`, once.
pub async fn broadcast_receipt(
    broadcast: &str,
    member: &str,
    token: &str,
    request: Request<'_>,
) -> HttpResponse {
    let Some(broadcast) = messaging_domain::BroadcastId::parse(broadcast) else {
        return reply(404, "not_found", "no such broadcast");
    };
    if member.len() != 32 || !member.bytes().all(|b| b.is_ascii_hexdigit()) {
        return reply(404, "not_found", "no such recipient");
    }
    let Ok(secret) = message_store::config::get("receipt_secret").await else {
        return reply(503, "unavailable", "receipts cannot be verified now");
    };
    let expected =
        receipt_url::recipient_token(secret.as_bytes(), claimed(&request), &broadcast, member);
    if !messaging_domain::hashing::constant_time_eq(&expected, token) {
        println!(
            "{}",
            serde_json::json!({"event":"receipt.refused","broadcast":broadcast.as_str(),"reason":"bad token"})
        );
        return reply(401, "invalid_signature", "the receipt token is not valid");
    }
    let reported = match provider_status(&request).await {
        Ok(reported) => reported,
        Err(response) => return response,
    };
    let outcome = match reported {
        Some(Status::Delivered) => BroadcastOutcome::Delivered,
        Some(Status::Failed | Status::Expired) => BroadcastOutcome::Failed,
        // Intermediate and unknown reports are acknowledged so they are not resent.
        _ => return reply(200, "ignored", ""),
    };
    match message_store::broadcasts::receive(&broadcast, member, outcome) {
        Ok(moved) => {
            let progress = match outcome {
                BroadcastOutcome::Delivered => AuditStatus::Success,
                _ => AuditStatus::Failed,
            };
            message_store::audit::emit(
                progress,
                "webhook-inbound",
                None,
                serde_json::json!({"event":"receipt.broadcast","broadcast":broadcast.as_str(),"status":outcome.as_str(),"recorded":moved}),
            );
            reply(200, outcome.as_str(), "")
        }
        Err(_) => reply(503, "unavailable", "store unavailable"),
    }
}

/// Whose report the request claims to be: the token is checked as that provider's.
fn claimed(request: &Request<'_>) -> ReceiptProvider {
    ReceiptProvider::of_query(query_param(request.query, "provider"))
}

/// What the provider reported: Twilio's signed status callback, or Kannel's DLR type.
async fn provider_status(request: &Request<'_>) -> Result<Option<Status>, HttpResponse> {
    match claimed(request) {
        ReceiptProvider::Twilio => twilio_status(request).await,
        ReceiptProvider::Kannel => {
            match query_param(request.query, "kannel_type").and_then(|t| t.parse::<u32>().ok()) {
                Some(dlr_type) => Ok(kannel::dlr_status(dlr_type)),
                None => Err(reply(400, "invalid_request", "kannel_type is missing")),
            }
        }
    }
}

pub async fn receipt(id: &str, token: &str, request: Request<'_>) -> HttpResponse {
    let Some(id) = MessageId::parse(id) else {
        return reply(404, "not_found", "no such message");
    };
    let Ok(secret) = message_store::config::get("receipt_secret").await else {
        return reply(503, "unavailable", "receipts cannot be verified now");
    };
    let expected = receipt_url::message_token(secret.as_bytes(), claimed(&request), &id);
    if !messaging_domain::hashing::constant_time_eq(&expected, token) {
        println!(
            "{}",
            serde_json::json!({"event":"receipt.refused","id":id.as_str(),"reason":"bad token"})
        );
        return reply(401, "invalid_signature", "the receipt token is not valid");
    }
    let reported = match provider_status(&request).await {
        Ok(reported) => reported,
        Err(response) => return response,
    };
    let Ok(kv) = message_store::open().await else {
        return reply(503, "unavailable", "store unavailable");
    };
    let (record, history) = match message_store::record_and_history(&id) {
        Ok(Some(found)) => found,
        Ok(None) => return reply(404, "not_found", "no such message"),
        Err(_) => return reply(503, "unavailable", "store unavailable"),
    };
    let Some(status) = reported else {
        // Intermediate and unknown reports are acknowledged so they are not resent.
        return reply(200, "ignored", "");
    };
    record_status(&kv, &record, &history, status).await
}

/// Records what a provider reported for a message: `sent` first (a report can overtake
/// the dispatcher), then the reported status, each with its callback; erases the address
/// and content, which the provider has. A failure of a message whose policy falls back on
/// non-delivery is not final: its fallback starts now instead (`delivery_watch`).
/// `history` is the message's, read with its record.
pub async fn record_status(
    kv: &spin_sdk::key_value::Store,
    record: &messaging_domain::MessageRecord,
    history: &[(Status, u64)],
    status: Status,
) -> HttpResponse {
    let unavailable = || reply(503, "unavailable", "store unavailable");
    // One batch of writes: the statuses, their callbacks and the trail's entry together,
    // then what is erased (`message_store::writes`).
    let mut writes = Writes::new();
    if reach_and_notify_after(&mut writes, record, Status::Sent, history)
        .await
        .is_err()
    {
        return unavailable();
    }
    if status.is_final() && status != Status::Delivered {
        // The fallback cell looks at the history: `sent` is written before it starts.
        if std::mem::take(&mut writes).commit().await.is_err() {
            return unavailable();
        }
        match delivery_watch::fall_back_now(kv, record, "the provider reported it undelivered")
            .await
        {
            Ok(true) => {
                log(record, "receipt.fallback", status);
                return reply(200, status.as_str(), "");
            }
            Ok(false) => {}
            Err(_) => return unavailable(),
        }
    }
    if status != Status::Sent
        && reach_and_notify_after(&mut writes, record, status, history)
            .await
            .is_err()
    {
        return unavailable();
    }
    writes.delete(keys::payload(&record.id));
    writes.delete(keys::delivery_watch(&record.id));
    writes.trail(
        progress(status),
        "webhook-inbound",
        None,
        event_line(record, "receipt.recorded", status),
    );
    if writes.commit().await.is_err() {
        return unavailable();
    }
    reply(200, status.as_str(), "")
}

fn log(record: &messaging_domain::MessageRecord, event: &str, status: Status) {
    message_store::audit::emit(
        progress(status),
        "webhook-inbound",
        None,
        event_line(record, event, status),
    );
}

/// Where the message stands in the trail once a receipt reported `status`.
fn progress(status: Status) -> AuditStatus {
    match status {
        Status::Delivered => AuditStatus::Success,
        Status::Failed | Status::Expired => AuditStatus::Failed,
        _ => AuditStatus::InProgress,
    }
}

fn event_line(
    record: &messaging_domain::MessageRecord,
    event: &str,
    status: Status,
) -> serde_json::Value {
    serde_json::json!({"event": event, "id": record.id.as_str(), "status": status.as_str()})
}

/// Twilio's `MessageStatus`, once its signature over the URL it called and the form is
/// checked with the Auth Token.
async fn twilio_status(request: &Request<'_>) -> Result<Option<Status>, HttpResponse> {
    let (Ok(token), Ok(public_url)) = (
        message_store::config::get("twilio_auth_token").await,
        message_store::config::get("public_url").await,
    ) else {
        return Err(reply(503, "unavailable", "receipts cannot be verified now"));
    };
    let params = twilio::parse_form(&String::from_utf8_lossy(request.body));
    let url = format!(
        "{}{}?{}",
        public_url.trim_end_matches('/'),
        request.path,
        request.query
    );
    let signed = request
        .twilio_signature
        .is_some_and(|sig| !token.is_empty() && twilio::verify(&token, &url, &params, sig));
    if !signed {
        println!(
            "{}",
            serde_json::json!({"event":"receipt.refused","provider":"twilio","reason":"bad signature"})
        );
        return Err(reply(
            401,
            "invalid_signature",
            "the Twilio signature is not valid",
        ));
    }
    Ok(twilio::field(&params, "MessageStatus").and_then(twilio::status_of))
}
