//! The request headers that identify the caller, read in one place for both APIs:
//! `Authorization: Bearer <key>`, the GovStack `apiKey` / `api_key`, and the Information
//! Mediator's `X-Road-Client` / `X-GovStack-Client`.

use crate::govstack_messaging::auth::auth::Credentials;
use messaging_domain::{ApiError, ErrorCode};
use spin_sdk::http::Request;

/// The first of `names` present, trimmed; empty values count as absent.
pub fn header<'a>(req: &'a Request, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| req.headers().get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The key of `Authorization: Bearer <key>`.
pub fn bearer(req: &Request) -> Option<&str> {
    header(req, &["authorization"])
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The GovStack header key (`apiKey`, or `api_key`).
pub fn api_key_header(req: &Request) -> Option<&str> {
    header(req, &["apikey", "api_key"])
}

/// The calling system as the Information Mediator names it, at most 256 characters.
pub fn im_client(req: &Request) -> Option<String> {
    header(req, &["x-road-client", "x-govstack-client"]).map(|v| v.chars().take(256).collect())
}

/// What auth-check is asked, given the key the route chose.
pub fn credentials(req: &Request, api_key: Option<&str>) -> Credentials {
    Credentials {
        api_key: api_key.map(String::from),
        im_client: im_client(req),
    }
}

/// auth-check could not read its configuration: 503, reason for the logs only.
pub fn auth_unavailable(reason: &str) -> ApiError {
    eprintln!("auth-check unavailable: {reason}");
    ApiError::new(
        ErrorCode::Unavailable,
        "authentication is unavailable, try again later",
    )
}
