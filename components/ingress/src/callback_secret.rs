//! `GET /v1/callbacks/secret`: the secrets that sign the caller's own callbacks
//! (`messaging_domain::notification::caller_secrets`), newest first; two while the operator
//! rotates `callback_secret`. Each caller sees only its own: one caller's secret verifies no
//! callback sent to another.

use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json};
use messaging_domain::notification::{SIGNATURE_HEADER, caller_secrets};
use messaging_domain::{ApiError, ErrorCode};

pub async fn read(caller: Caller) -> HttpResponse {
    let Ok(secret) = message_store::config::get("callback_secret").await else {
        return error(&ApiError::new(
            ErrorCode::Unavailable,
            "the callback secret is not configured",
        ));
    };
    json(
        200,
        &serde_json::json!({
            "caller": caller.id,
            "secrets": caller_secrets(&secret, Some(&caller.id)),
            "header": SIGNATURE_HEADER,
        }),
    )
}
