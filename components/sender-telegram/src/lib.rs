//! sender-telegram: sends messages to Telegram chats through the deployment's bot
//! (`POST /bot<token>/sendMessage`), or to the outbox when `telegram_provider` is
//! `outbox` (development). The wire format is `messaging_domain::providers::telegram`.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "sender-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack_messaging::sender::sender::{Guest, ReceiptProvider};
use govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::outbox;
use messaging_domain::providers::telegram::{SendAnswer, interpret_send, send_body};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

struct SenderTelegram;

impl Guest for SenderTelegram {
    /// This channel's providers report no delivery to a receipt URL.
    async fn receipts() -> Option<ReceiptProvider> {
        None
    }

    /// One by one: this channel's providers have no bulk API that keeps one outcome per
    /// recipient.
    async fn send_batch(messages: Vec<OutboundMessage>) -> Vec<SendOutcome> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            outcomes.push(<SenderTelegram as Guest>::send(message).await);
        }
        outcomes
    }

    async fn send(message: OutboundMessage) -> SendOutcome {
        let provider = message_store::config::get("telegram_provider")
            .await
            .unwrap_or_else(|_| "outbox".into());
        match provider.as_str() {
            "telegram" => bot_send(&message).await,
            "outbox" => {
                let entry =
                    outbox::Entry::new(message.id, "telegram", message.to, None, message.body);
                message_store::outbox::keep(&entry)
                    .await
                    .map_or_else(SendOutcome::Deferred, |()| SendOutcome::Delivered)
            }
            other => SendOutcome::Deferred(format!("unknown telegram_provider {other:?}")),
        }
    }
}

async fn bot_send(message: &OutboundMessage) -> SendOutcome {
    let var = |name: &'static str| async move { message_store::config::get(name).await.ok() };
    let (Some(base), Some(token)) = (var("telegram_url").await, var("telegram_bot_token").await)
    else {
        return SendOutcome::Deferred("telegram: telegram_url or telegram_bot_token unset".into());
    };
    let request = http::Request::post(format!(
        "{}/bot{token}/sendMessage",
        base.trim_end_matches('/')
    ))
    .header("content-type", "application/json")
    .body(FullBody::new(bytes::Bytes::from(send_body(
        &message.to,
        &message.body,
    ))));
    let Ok(request) = request else {
        return SendOutcome::Rejected("telegram: request could not be built".into());
    };
    let response = match spin_sdk::http::send(request).await {
        Ok(response) => response,
        // The error text would carry the URL, and the URL carries the bot token.
        Err(_) => return SendOutcome::Deferred("telegram unreachable".into()),
    };
    let status = response.status().as_u16();
    let body = response.into_body().bytes().await.unwrap_or_default();
    match interpret_send(status, &body) {
        SendAnswer::Accepted(id) => SendOutcome::Accepted(Some(format!("telegram:{id}"))),
        SendAnswer::Deferred(reason) => SendOutcome::Deferred(reason),
        SendAnswer::Rejected(reason) => SendOutcome::Rejected(reason),
    }
}

export!(SenderTelegram);
