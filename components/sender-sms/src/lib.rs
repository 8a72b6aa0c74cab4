//! sender-sms: sends SMS through the provider chosen by the `sms_provider` variable:
//! `kannel` (Kannel's sendsms HTTP interface), `twilio` (Twilio's Messages API),
//! `africastalking` (Africa's Talking's SMS API) or `outbox` (development).

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "sender-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

mod africastalking;
mod kannel;
mod twilio;

use exports::govstack_messaging::sender::sender::{Guest, ReceiptProvider};
use govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::outbox;

struct SenderSms;

/// Requests one batch keeps open at once with a provider that takes one SMS per request.
const CONCURRENT_SENDS: usize = 16;

impl Guest for SenderSms {
    /// Kannel and Twilio report to the receipt URL; Africa's Talking reports to its own
    /// webhook (`/webhooks/africastalking/{token}/delivery`), the outbox not at all.
    async fn receipts() -> Option<ReceiptProvider> {
        match message_store::config::get("sms_provider")
            .await
            .ok()?
            .as_str()
        {
            "kannel" => Some(ReceiptProvider::Kannel),
            "twilio" => Some(ReceiptProvider::Twilio),
            _ => None,
        }
    }

    /// Africa's Talking takes a batch in one request (one outcome per number); the other
    /// providers get the messages one by one, [`CONCURRENT_SENDS`] at a time on the host's
    /// pooled connections (the dispatcher has taken the send-rate tokens for all of them).
    async fn send_batch(messages: Vec<OutboundMessage>) -> Vec<SendOutcome> {
        if message_store::config::get("sms_provider")
            .await
            .ok()
            .as_deref()
            == Some("africastalking")
        {
            return africastalking::send_batch(&messages).await;
        }
        use futures::StreamExt;
        futures::stream::iter(messages)
            .map(<SenderSms as Guest>::send)
            .buffered(CONCURRENT_SENDS)
            .collect()
            .await
    }

    async fn send(message: OutboundMessage) -> SendOutcome {
        let provider = message_store::config::get("sms_provider")
            .await
            .unwrap_or_else(|_| "outbox".into());
        match provider.as_str() {
            "kannel" => kannel::send(&message).await,
            "twilio" => twilio::send(&message).await,
            "africastalking" => africastalking::send(&message).await,
            "outbox" => {
                let entry = outbox::Entry::new(message.id, "sms", message.to, None, message.body);
                message_store::outbox::keep(&entry)
                    .await
                    .map_or_else(SendOutcome::Deferred, |()| SendOutcome::Delivered)
            }
            other => SendOutcome::Deferred(format!("unknown sms_provider {other:?}")),
        }
    }
}

export!(SenderSms);
