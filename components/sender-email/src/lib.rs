//! sender-email: sends email through the provider chosen by the `email_provider` variable:
//! `smtp` (any SMTP server or relay), `sendgrid` (SendGrid's v3 HTTP API) or `outbox`
//! (development).

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "sender-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack_messaging::sender::sender::{Guest, ReceiptProvider};
use govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::outbox;
use messaging_domain::record::EmailDetails;

mod sendgrid;
mod smtp;
mod tls;

struct SenderEmail;

impl Guest for SenderEmail {
    /// This channel's providers report no delivery to a receipt URL.
    async fn receipts() -> Option<ReceiptProvider> {
        None
    }

    /// One by one: this channel's providers have no bulk API that keeps one outcome per
    /// recipient.
    async fn send_batch(messages: Vec<OutboundMessage>) -> Vec<SendOutcome> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            outcomes.push(<SenderEmail as Guest>::send(message).await);
        }
        outcomes
    }

    async fn send(message: OutboundMessage) -> SendOutcome {
        let provider = message_store::config::get("email_provider")
            .await
            .unwrap_or_else(|_| "outbox".into());
        match provider.as_str() {
            "outbox" => {}
            "smtp" => {
                return match smtp::config().await {
                    Ok(config) => smtp::send(&message, &config),
                    Err(e) => SendOutcome::Deferred(e),
                };
            }
            "sendgrid" => return sendgrid::send(&message).await,
            other => return SendOutcome::Deferred(format!("unknown email_provider {other:?}")),
        }
        let details = message.email.as_ref().map(|e| EmailDetails {
            cc: e.cc.clone(),
            bcc: e.bcc.clone(),
            reply_to: e.reply_to.clone(),
            sender_address: e.sender_address.clone(),
            sender_name: e.sender_name.clone(),
            recipient_name: e.recipient_name.clone(),
        });
        let entry = outbox::Entry {
            email: details,
            ..outbox::Entry::new(
                message.id,
                "email",
                message.to,
                message.subject,
                message.body,
            )
        };
        message_store::outbox::keep(&entry)
            .await
            .map_or_else(SendOutcome::Deferred, |()| SendOutcome::Delivered)
    }
}

export!(SenderEmail);
