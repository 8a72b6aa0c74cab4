//! Messages from citizens through Telegram: the bot's webhook (`setWebhook` with
//! `url = public_url + /webhooks/telegram` and `secret_token = telegram_webhook_secret`)
//! receives each `Update`; the header `X-Telegram-Bot-Api-Secret-Token` must carry the
//! secret. Updates that are not text messages are acknowledged and ignored, so Telegram
//! does not resend them.

use crate::inbound::{self, Inbound};
use crate::{HttpResponse, reply};
use messaging_domain::Channel;
use messaging_domain::providers::telegram::parse_update;

pub async fn handle(secret: Option<&str>, body: &[u8]) -> HttpResponse {
    if let Err(refusal) = crate::check_secret("telegram_webhook_secret", secret, "telegram").await {
        return refusal;
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
