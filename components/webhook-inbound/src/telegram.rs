//! Messages from citizens through Telegram: the bot's webhook (`setWebhook` with
//! `url = public_url + /webhooks/telegram` and `secret_token = telegram_webhook_secret`)
//! receives each `Update`; the header `X-Telegram-Bot-Api-Secret-Token` must carry the
//! secret. Updates that are not text messages are acknowledged and ignored, so Telegram
//! does not resend them.

use crate::inbound::{self, Inbound};
use crate::{HttpResponse, reply};
use messaging_domain::Channel;
use messaging_domain::hashing::constant_time_eq;
use messaging_domain::providers::telegram::parse_update;

pub async fn handle(secret: Option<&str>, body: &[u8]) -> HttpResponse {
    let expected = spin_sdk::variables::get("telegram_webhook_secret")
        .await
        .unwrap_or_default();
    if expected.is_empty() {
        return reply(404, "not_found", "the Telegram webhook is not configured");
    }
    if !secret.is_some_and(|s| constant_time_eq(&expected, s)) {
        println!(
            "{}",
            serde_json::json!({"event": "inbound.refused", "provider": "telegram", "reason": "bad secret token"})
        );
        return reply(401, "invalid_signature", "the secret token is not valid");
    }
    let text = match parse_update(body) {
        Ok(Some(text)) => text,
        Ok(None) => return reply(200, "ignored", ""),
        Err(reason) => return reply(400, "invalid_request", &reason),
    };
    inbound::handle(Inbound {
        channel: Channel::Telegram,
        provider: "telegram",
        provider_id: Some(text.update_id.to_string()),
        from: text.chat_id.as_str().to_string(),
        text: text.text,
    })
    .await
}
