//! Africa's Talking's callbacks, registered in its dashboard:
//!
//! - `POST /webhooks/africastalking/{token}/delivery`: delivery reports (`id`, `status`).
//!   They name Africa's Talking's message id, which the dispatcher mapped to ours.
//! - `POST /webhooks/africastalking/{token}/inbound`: SMS from citizens (`from`, `text`,
//!   `id`), handled like every inbound message.
//!
//! Africa's Talking does not sign callbacks: the secret `{token}` (the
//! `africastalking_webhook_token` variable, compared in constant time) authenticates them.

use crate::inbound::{self, Inbound};
use crate::{HttpResponse, reply};
use messaging_domain::broadcast::{Outcome as BroadcastOutcome, parse_recipient_ref};
use messaging_domain::providers::africastalking::status_of;
use messaging_domain::providers::form::{field, parse_form};
use messaging_domain::{Channel, MessageId, PhoneNumber, Status, keys};

pub async fn handle(token: &str, kind: &str, body: &[u8]) -> HttpResponse {
    if let Err(refusal) = crate::check_secret(
        "africastalking_webhook_token",
        Some(token),
        "africastalking",
    )
    .await
    {
        return refusal;
    }
    let params = parse_form(&String::from_utf8_lossy(body));
    match kind {
        "delivery" => delivery(&params).await,
        "inbound" => {
            let Some(from) = field(&params, "from").and_then(|f| PhoneNumber::parse(f).ok()) else {
                return reply(
                    400,
                    "invalid_request",
                    "from is missing or not a phone number",
                );
            };
            let Some(text) = field(&params, "text") else {
                return reply(400, "invalid_request", "text is missing");
            };
            inbound::handle(Inbound {
                channel: Channel::Sms,
                provider: "africastalking",
                provider_id: field(&params, "id").map(String::from),
                from: from.as_str().to_string(),
                text: text.to_string(),
            })
            .await
        }
        _ => reply(404, "not_found", "no such webhook"),
    }
}

async fn delivery(params: &[(String, String)]) -> HttpResponse {
    let (Some(provider_id), Some(report)) = (field(params, "id"), field(params, "status")) else {
        return reply(400, "invalid_request", "id and status are required");
    };
    let Ok(kv) = message_store::open().await else {
        return reply(503, "unavailable", "store unavailable");
    };
    let key = keys::provider_message(&format!("africastalking:{provider_id}"));
    let mapped = match kv.get(&key).await {
        Ok(Some(bytes)) => String::from_utf8(bytes).ok(),
        Ok(None) => None,
        Err(_) => return reply(503, "unavailable", "store unavailable"),
    };
    // A broadcast recipient: the same receipt path as its receipt URL would take.
    if let Some((broadcast, member)) = mapped.as_deref().and_then(parse_recipient_ref) {
        let outcome = match status_of(report) {
            Some(Status::Delivered) => BroadcastOutcome::Delivered,
            Some(Status::Failed | Status::Expired) => BroadcastOutcome::Failed,
            _ => return reply(200, "ignored", ""),
        };
        return match message_store::broadcasts::receive(&broadcast, &member, outcome) {
            Ok(_) => reply(200, outcome.as_str(), ""),
            Err(_) => reply(503, "unavailable", "store unavailable"),
        };
    }
    let id = mapped.as_deref().and_then(MessageId::parse);
    let Some(id) = id else {
        return reply(404, "not_found", "no message with this id");
    };
    let (record, history) = match message_store::record_and_history(&id) {
        Ok(Some(found)) => found,
        Ok(None) => return reply(404, "not_found", "no such message"),
        Err(_) => return reply(503, "unavailable", "store unavailable"),
    };
    let Some(status) = status_of(report) else {
        return reply(200, "ignored", "");
    };
    crate::receipts::record_status(&kv, &record, &history, status).await
}
