//! The one error shape of the public API: `{"error":{"code","message"}}`.
//!
//! Messages are written for the caller and never carry internals (store errors, stack
//! traces) nor the caller's own personal data back.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    InvalidPhoneNumber,
    InvalidEmailAddress,
    InvalidChatId,
    InvalidPushSubscription,
    UnknownChannel,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The GovStack API's answer to invalid input: 405, as its specification prescribes.
    InvalidInput,
    IdempotencyConflict,
    /// The request conflicts with the resource's state (cancelling a sent message).
    Conflict,
    /// The caller's rate limit is spent (429, with Retry-After).
    RateLimited,
    /// The caller's daily quota is spent (429, with Retry-After until midnight UTC).
    QuotaExceeded,
    UnknownPolicy,
    /// No template of that name (`policies/templates/`).
    UnknownTemplate,
    /// A template placeholder without a value, or a value without a placeholder.
    InvalidTemplateValues,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidJson | ErrorCode::InvalidRequest => 400,
            ErrorCode::InvalidPhoneNumber
            | ErrorCode::InvalidEmailAddress
            | ErrorCode::InvalidChatId
            | ErrorCode::InvalidPushSubscription
            | ErrorCode::UnknownChannel
            | ErrorCode::UnknownPolicy
            | ErrorCode::UnknownTemplate
            | ErrorCode::InvalidTemplateValues => 422,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed | ErrorCode::InvalidInput => 405,
            ErrorCode::IdempotencyConflict | ErrorCode::Conflict => 409,
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds until trying again makes sense (the `Retry-After` header of a 429).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The same error, telling the caller to try again in `ms` (rounded up to a second).
    pub fn retry_after_ms(mut self, ms: u64) -> ApiError {
        self.retry_after_s = Some(ms.div_ceil(1000).max(1));
        self
    }

    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    /// The JSON body, exactly `{"error":{"code":"...","message":"..."}}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        }))
        .expect("serialising a fixed shape cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_shape() {
        let e = ApiError::new(ErrorCode::InvalidPhoneNumber, "bad number");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"code":"invalid_phone_number","message":"bad number"}})
        );
        assert_eq!(e.status(), 422);
    }
}
