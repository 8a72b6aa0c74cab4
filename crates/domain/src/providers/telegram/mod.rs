//! Telegram's Bot API, in its published wire format: the messaging-app channel.
//!
//! - Send: `POST {base}/bot<token>/sendMessage` with JSON `{"chat_id", "text"}`. Answers
//!   `{"ok": true, "result": <Message>}` (`send_message_ok.json`) or `{"ok": false,
//!   "error_code", "description"}` (`send_message_blocked.json`; 429 carries
//!   `parameters.retry_after`, `send_message_too_many.json`). Telegram gives no delivery
//!   receipts: a message the Bot API took is `sent`.
//! - Inbound: Telegram POSTs each `Update` (`update_text_message.json`) to the webhook
//!   set with `setWebhook`, with the `secret_token` given there in the
//!   `X-Telegram-Bot-Api-Secret-Token` header.

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAnswer {
    /// Taken; Telegram's message id in the chat.
    Accepted(String),
    Rejected(String),
    Deferred(String),
}

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The JSON body of `sendMessage`.
pub fn send_body(chat_id: &str, text: &str) -> String {
    // The chat id goes as a number, as Telegram documents it.
    let chat: serde_json::Value = chat_id
        .parse::<i64>()
        .map(serde_json::Value::from)
        .unwrap_or_else(|_| chat_id.into());
    serde_json::json!({ "chat_id": chat, "text": text }).to_string()
}

/// Reads the answer to `sendMessage`.
pub fn interpret_send(status: u16, body: &[u8]) -> SendAnswer {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if json["ok"] == true {
        return match json["result"]["message_id"].as_i64() {
            Some(id) => SendAnswer::Accepted(id.to_string()),
            None => SendAnswer::Deferred("telegram: an answer without message_id".into()),
        };
    }
    let code = json["error_code"].as_u64().unwrap_or(u64::from(status));
    let description = json["description"].as_str().unwrap_or("no description");
    let reason = format!("telegram {code} {description}");
    match code {
        429 | 500..=599 => SendAnswer::Deferred(reason),
        // A wrong bot token (401, or 404 for an unknown bot path) is the deployment's to
        // fix; keep the message until then.
        401 | 404 => SendAnswer::Deferred(reason),
        _ => SendAnswer::Rejected(reason),
    }
}

/// A citizen's text message, from an `Update`.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundText {
    pub update_id: i64,
    pub chat_id: crate::ChatId,
    pub text: String,
}

impl std::fmt::Debug for InboundText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InboundText(update {}, <redacted>)", self.update_id)
    }
}

/// Reads an `Update`. `Ok(None)`: a valid update that is not a text message (an edit, a
/// photo, a member change), which the gateway acknowledges and ignores.
pub fn parse_update(body: &[u8]) -> Result<Option<InboundText>, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the update is not JSON".to_string())?;
    let update_id = json["update_id"]
        .as_i64()
        .ok_or("the update has no update_id")?;
    let message = &json["message"];
    let Some(text) = message["text"].as_str() else {
        return Ok(None);
    };
    let chat = message["chat"]["id"]
        .as_i64()
        .ok_or("the message has no chat id")?;
    let chat_id = crate::ChatId::parse(&chat.to_string())?;
    Ok(Some(InboundText {
        update_id,
        chat_id,
        text: text.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_body_is_telegrams() {
        assert_eq!(
            send_body("123456789", "Karibu"),
            r#"{"chat_id":123456789,"text":"Karibu"}"#
        );
    }

    #[test]
    fn recorded_answers_map_to_outcomes() {
        assert_eq!(
            interpret_send(200, include_bytes!("send_message_ok.json")),
            SendAnswer::Accepted("4217".into())
        );
        assert_eq!(
            interpret_send(403, include_bytes!("send_message_blocked.json")),
            SendAnswer::Rejected("telegram 403 Forbidden: bot was blocked by the user".into())
        );
        assert!(matches!(
            interpret_send(429, include_bytes!("send_message_too_many.json")),
            SendAnswer::Deferred(_)
        ));
        assert!(matches!(
            interpret_send(502, b"Bad Gateway"),
            SendAnswer::Deferred(_)
        ));
    }

    #[test]
    fn a_recorded_update_parses_and_other_updates_are_ignored() {
        let text = parse_update(include_bytes!("update_text_message.json"))
            .unwrap()
            .unwrap();
        assert_eq!(text.update_id, 870123456);
        assert_eq!(text.chat_id.as_str(), "123456789");
        assert_eq!(text.text, "Ndio nitakuja");
        assert_eq!(
            parse_update(br#"{"update_id":1,"edited_message":{"text":"x"}}"#).unwrap(),
            None
        );
        assert!(parse_update(b"{}").is_err());
        assert!(parse_update(b"not json").is_err());
    }
}
