//! `GET /v1/inbound` and `DELETE /v1/inbound/{id}`: inbound messages routed to the caller,
//! for systems that poll rather than receive callbacks. Poll, process, then delete what
//! you processed: the gateway keeps an inbound message only until its owner has it.

use crate::accept::unavailable;
use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json};
use message_store as store;
use messaging_domain::{ApiError, ErrorCode, InboundId};

const PAGE: usize = 100;

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

pub async fn list(caller: Caller, query: &str) -> HttpResponse {
    let after = match query_param(query, "after") {
        None => None,
        Some(raw) => match InboundId::parse(raw) {
            Some(id) => Some(id),
            None => {
                return error(&ApiError::new(
                    ErrorCode::InvalidRequest,
                    "after must be an inbound message id (inb_...)",
                ));
            }
        },
    };
    let kv = match store::open().await {
        Ok(kv) => kv,
        Err(e) => return error(&unavailable("open store", e)),
    };
    match store::inbound::list(&kv, &caller.id, after.as_ref(), PAGE).await {
        Ok(records) => {
            let next = (records.len() == PAGE).then(|| records.last().map(|r| r.id.clone()));
            let items: Vec<_> = records.iter().map(|r| r.view()).collect();
            json(
                200,
                &serde_json::json!({ "items": items, "next_after": next.flatten() }),
            )
        }
        Err(e) => error(&unavailable("inbound", e)),
    }
}

pub async fn forget(caller: Caller, id: &str) -> HttpResponse {
    let not_found = || {
        error(&ApiError::new(
            ErrorCode::NotFound,
            "no such inbound message",
        ))
    };
    let Some(id) = InboundId::parse(id) else {
        return not_found();
    };
    let kv = match store::open().await {
        Ok(kv) => kv,
        Err(e) => return error(&unavailable("open store", e)),
    };
    match store::inbound::forget(&kv, &caller.id, &id).await {
        Ok(true) => http::Response::builder()
            .status(204)
            .body(spin_sdk::http::FullBody::new(bytes::Bytes::new()))
            .expect("static response parts are valid"),
        Ok(false) => not_found(),
        Err(e) => error(&unavailable("inbound", e)),
    }
}
