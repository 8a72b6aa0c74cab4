//! ingress: the public API: `/v1` and the GovStack email API (`/send/email/*`,
//! `/status/email`).
//!
//! It is the only component that speaks the public HTTP API. It parses requests into domain
//! types, asks `auth` who is calling and `policy` how to deliver, persists the message, answers
//! 202, and only then hands the message to its delivery cell.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "ingress",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

mod accept;
mod alerts;
mod auth_failures;
mod body;
mod broadcasts;
mod callback_guard;
mod callback_secret;
mod credentials;
mod govstack_email;
mod groups;
mod health;
mod idempotency;
mod inbound;
mod message_batch;
mod messages;
mod operations;
mod outbox;
mod quota;
mod rate_limit;
mod respond;

use govstack_messaging::auth::auth::{self, Refusal};
use govstack_messaging::types::types::Caller;
use messaging_domain::{ApiError, ErrorCode};
use respond::{HttpResponse, error};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// The OpenAPI 3.1 description of everything this component serves, for the Information
/// Mediator to publish. Kept beside the code; a test validates it and checks its routes.
const OPENAPI: &str = include_str!("../openapi.json");

#[http_service]
async fn handle(req: Request) -> HttpResponse {
    message_store::backend::configure().await;
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "messages"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => messages::create(caller, req).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "messages", "batch"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => message_batch::create(caller, req).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "messages", id] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => messages::read(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "groups"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => groups::create(caller, req).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "groups", id] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => groups::read(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "groups", id, "members"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => groups::change_members(caller, id, req, false).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "groups", id, "members", "remove"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => groups::change_members(caller, id, req, true).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "alerts"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => alerts::create(caller, req).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "broadcasts"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => broadcasts::create(caller, req).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "broadcasts", id] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => broadcasts::read(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "broadcasts", id, "cancel"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => broadcasts::cancel(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "messages", id, "cancel"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => messages::cancel(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["v1", "inbound"] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => inbound::list(caller, req.uri().query().unwrap_or("")).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "inbound", id] => match method {
            Method::DELETE => match authenticate(&req).await {
                Ok(caller) => inbound::forget(caller, id).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("DELETE"),
        },
        ["v1", "queue"] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => operations::queue(caller).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "audit"] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => operations::audit(caller, req.uri().query().unwrap_or("")).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "callbacks", "secret"] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => callback_secret::read(caller).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "outbox"] => match method {
            Method::GET => match authenticate(&req).await {
                Ok(caller) => outbox::list(caller).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("GET"),
        },
        ["v1", "tick"] => match method {
            Method::POST => match authenticate(&req).await {
                Ok(caller) => operations::tick(caller).await,
                Err(response) => response,
            },
            _ => respond::method_not_allowed("POST"),
        },
        ["send", "email", "single" | "batch"] => match method {
            Method::POST => govstack_email::send(req).await,
            _ => respond::method_not_allowed("POST"),
        },
        ["health"] => match method {
            Method::GET => health::check().await,
            _ => respond::method_not_allowed("GET"),
        },
        ["openapi.json"] => match method {
            Method::GET => respond::raw_json(200, OPENAPI),
            _ => respond::method_not_allowed("GET"),
        },
        ["callback", "email"] => match method {
            Method::POST => govstack_email::callback(req).await,
            _ => respond::method_not_allowed("POST"),
        },
        ["status", "email"] => match method {
            Method::GET => govstack_email::status(req).await,
            _ => respond::method_not_allowed("GET"),
        },
        _ => error(&ApiError::new(ErrorCode::NotFound, "no such route")),
    }
}

/// Reads the credentials from the headers the API documents, asks auth-check, and takes
/// a token from the caller's rate-limit bucket.
async fn authenticate(req: &Request) -> Result<Caller, HttpResponse> {
    let api_key = credentials::bearer(req).or_else(|| credentials::api_key_header(req));
    let credentials = credentials::credentials(req, api_key);
    let gate = auth_failures::Gate::check(req)
        .await
        .map_err(|e| error(&e))?;
    let caller = auth::authenticate(credentials).await.map_err(|refusal| {
        error(&match refusal {
            Refusal::MissingCredentials => ApiError::new(
                ErrorCode::Unauthorized,
                "credentials are required: Authorization: Bearer <key> or apiKey header",
            ),
            Refusal::InvalidCredentials => {
                gate.failed();
                ApiError::new(ErrorCode::Unauthorized, "the credentials are not valid")
            }
            Refusal::Unavailable(reason) => credentials::auth_unavailable(&reason),
        })
    })?;
    rate_limit::check(&caller.id).await?;
    Ok(caller)
}
