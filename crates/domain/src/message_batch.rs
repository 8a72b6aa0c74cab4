//! `POST /v1/messages/batch`: up to [`MAX_ITEMS`] messages in one request, each the body
//! a `POST /v1/messages` takes, with their own recipients and content.
//!
//! The request as a whole is refused only when it is not a batch (not JSON, no `messages`
//! list, too many or too few, too large). Items are independent: each is parsed on its own
//! and a bad one is answered with its own error, in its place, while the others go ahead.

use crate::api::SendCommand;
use crate::{ApiError, ErrorCode};
use serde::Deserialize;

/// Messages one batch may carry.
pub const MAX_ITEMS: usize = 1000;
/// The largest batch body, a little under the project host's default request body limit
/// (1 MiB), so the caller gets this API's 413 rather than the host's.
pub const MAX_BODY_BYTES: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    messages: Vec<serde_json::Value>,
}

/// A parsed batch: every item, in order, as a command or as the error that refuses it.
#[derive(Debug)]
pub struct MessageBatch {
    pub items: Vec<Result<SendCommand, ApiError>>,
}

impl MessageBatch {
    pub fn parse(bytes: &[u8]) -> Result<MessageBatch, ApiError> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("a batch body may be at most {MAX_BODY_BYTES} bytes"),
            ));
        }
        let body: Body = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                ApiError::new(ErrorCode::InvalidJson, "the body is not valid JSON")
            } else {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "the body must be {\"messages\": [...]}, each item a message as POST /v1/messages takes it",
                )
            }
        })?;
        if body.messages.is_empty() || body.messages.len() > MAX_ITEMS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("messages must hold 1 to {MAX_ITEMS} messages"),
            ));
        }
        let items = body
            .messages
            .into_iter()
            .map(|item| {
                let bytes = serde_json::to_vec(&item).expect("a JSON value serialises");
                SendCommand::parse(&bytes)
            })
            .collect();
        Ok(MessageBatch { items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: serde_json::Value) -> Result<MessageBatch, ApiError> {
        MessageBatch::parse(body.to_string().as_bytes())
    }

    #[test]
    fn each_item_is_parsed_on_its_own_and_keeps_its_place() {
        let batch = parse(json!({"messages": [
            {"channel": "sms", "to": "+254712345678", "body": "one"},
            {"channel": "sms", "to": "0712345678", "body": "bad number"},
            {"channel": "email", "to": "a@example.org", "subject": "s", "body": "three"},
            "not an object",
        ]}))
        .unwrap();
        assert_eq!(batch.items.len(), 4);
        assert_eq!(batch.items[0].as_ref().unwrap().body, "one");
        assert_eq!(
            batch.items[1].as_ref().unwrap_err().code,
            ErrorCode::InvalidPhoneNumber
        );
        assert_eq!(batch.items[2].as_ref().unwrap().body, "three");
        assert_eq!(
            batch.items[3].as_ref().unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn a_body_that_is_no_batch_is_refused_whole() {
        let item = json!({"channel": "sms", "to": "+254712345678", "body": "x"});
        for (body, code) in [
            (json!({"messages": []}), ErrorCode::InvalidRequest),
            (
                json!({"messages": vec![item.clone(); MAX_ITEMS + 1]}),
                ErrorCode::InvalidRequest,
            ),
            (json!({"messages": item.clone()}), ErrorCode::InvalidRequest),
            (json!([item.clone()]), ErrorCode::InvalidRequest),
            (
                json!({"messages": [item.clone()], "extra": 1}),
                ErrorCode::InvalidRequest,
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().code, code, "{body}");
        }
        assert_eq!(
            MessageBatch::parse(b"{\"messages\": [").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            MessageBatch::parse(&vec![b' '; MAX_BODY_BYTES + 1])
                .unwrap_err()
                .code,
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            parse(json!({"messages": vec![item; MAX_ITEMS]}))
                .unwrap()
                .items
                .len(),
            MAX_ITEMS
        );
    }
}
