//! `GET /v1/outbox`: what the development outbox holds (`messaging_domain::providers::
//! outbox`), for callers with the `dev` role (the caller `cargo xtask up` and `spin-up`
//! make). It shows addresses and content: no other caller may read it, and a deployment
//! with real providers has nothing in it.

use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json};
use messaging_domain::{ApiError, ErrorCode};

const DEV: &str = "dev";

pub async fn list(caller: Caller) -> HttpResponse {
    if !caller.roles.iter().any(|r| r == DEV) {
        return error(&ApiError::new(
            ErrorCode::Forbidden,
            "this route needs the dev role",
        ));
    }
    match message_store::outbox::entries().await {
        Ok(entries) => json(200, &serde_json::json!({ "items": entries })),
        Err(e) => error(&crate::accept::unavailable("reading the outbox", e)),
    }
}
