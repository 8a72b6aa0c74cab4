//! sender-email: for now only the development outbox (`email_provider = "outbox"`); the
//! SMTP and HTTP mail providers come with the email issue.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "sender-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack::messaging::sender::Guest;
use govstack::messaging::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::outbox;

struct SenderEmail;

impl Guest for SenderEmail {
    async fn send(message: OutboundMessage) -> SendOutcome {
        let provider = spin_sdk::variables::get("email_provider")
            .await
            .unwrap_or_else(|_| "outbox".into());
        if provider != "outbox" {
            return SendOutcome::Deferred(format!(
                "email_provider {provider:?} is not available yet"
            ));
        }
        match outbox::write(
            &message.id,
            "email",
            &message.to,
            message.subject.as_deref(),
            &message.body,
        ) {
            Ok(()) => SendOutcome::Delivered,
            Err(e) => SendOutcome::Deferred(format!("outbox not writable: {}", e.kind())),
        }
    }
}

export!(SenderEmail);
