//! The GovStack Messaging email API, served at the root paths the GovStack test suite
//! calls: `POST /send/email/single`, `POST /send/email/batch`, `GET /status/email`.
//!
//! The spec's error convention applies here, not the `/v1` one: invalid input (no api key,
//! no request id, no body, no status selected, unknown request) answers 405 with a JSON
//! error body; a wrong method answers 405 with an `Allow` header.
//!
//! A request may name as its sender (`senderInfo.email`, the envelope sender and `From`)
//! only what `email_senders` allows its caller, and each of its emails goes to at most
//! `email_max_recipients` (To, Cc and Bcc together): both are invalid input, refused
//! before anything is charged or stored. Each recipient counts one against the quota.
//!
//! `POST /callback/email` takes a reply to an earlier request: it is stored, answered with
//! 200, then forwarded to the callback URI that request named, and erased once forwarded.
//! (Retries of failed forwards and `GET /v1/inbound` come with two-way messaging.)

use crate::accept::{self, NewMessage, Persisted, unavailable};
use crate::credentials;
use crate::govstack_messaging::auth::auth::{self, Refusal};
use crate::govstack_messaging::policy::policy::Priority;
use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json};
use message_store as store;
use message_store::notifications;
use messaging_domain::email_senders;
use messaging_domain::govstack::{
    CallbackReply, DEFAULT_MAX_EMAIL_RECIPIENTS, EmailRequest, EmailStatus, RequestRecord,
    is_request_uid, max_email_recipients, new_request_uid, status_selection,
};
use messaging_domain::notification::Notification;
use messaging_domain::record::EmailDetails;
use messaging_domain::{ApiError, Channel, ErrorCode, Recipient, Status, keys};
use spin_sdk::http::Request;
use spin_sdk::http::body::IncomingBodyExt;

const ACCEPTED: &str = "Request successfully accepted. Use \"requestUid\" to track its status.";

/// The spec's "invalid input": 405 with a JSON body.
fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

/// The caller, from `apiKey` / `api_key` (or a Bearer token). A missing key is the spec's
/// invalid input (405); a wrong one is refused as unauthenticated (401).
async fn caller(req: &Request) -> Result<Caller, ApiError> {
    let Some(key) = credentials::api_key_header(req).or_else(|| credentials::bearer(req)) else {
        return Err(invalid_input("the apiKey header is required"));
    };
    let gate = crate::auth_failures::Gate::check(req).await?;
    auth::authenticate(credentials::credentials(req, Some(key)))
        .await
        .map_err(|r| match r {
            Refusal::MissingCredentials => invalid_input("the apiKey header is required"),
            Refusal::InvalidCredentials => {
                gate.failed();
                ApiError::new(ErrorCode::Unauthorized, "the apiKey is not valid")
            }
            Refusal::Unavailable(reason) => credentials::auth_unavailable(&reason),
        })
}

fn request_uid_header(req: &Request) -> Result<String, ApiError> {
    let uid = credentials::header(req, &["requestuid"])
        .ok_or_else(|| invalid_input("the requestUid header is required"))?;
    if !is_request_uid(uid) {
        return Err(invalid_input("unknown requestUid"));
    }
    Ok(uid.to_string())
}

/// `POST /send/email/single` and `/send/email/batch`: one message per recipient, all under
/// one new `requestUid`.
pub async fn send(req: Request) -> HttpResponse {
    match try_send(req).await {
        Ok(response) => response,
        Err(e) => error(&e),
    }
}

async fn try_send(req: Request) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req).await?;
    if let Err(limited) = crate::rate_limit::check(&caller.id).await {
        return Ok(limited);
    }
    let client = credentials::im_client(&req);
    let body = req.into_body().bytes().await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body could not be read in full; it may exceed the size limit",
        )
    })?;
    let request = EmailRequest::parse(&body).map_err(|e| invalid_input(e.0))?;
    // Before anything is charged or stored: who it is from and how many it goes to.
    check_sender_and_recipients(&caller, &request).await?;
    crate::callback_guard::check(request.callback_uri.as_deref())
        .await
        .map_err(|m| invalid_input(format!("callback URI: {m}")))?;
    let plan = accept::plan(&caller, Channel::Email, None).await?;
    // Every recipient, Cc and Bcc too, all or nothing.
    crate::quota::charge(
        &caller.id,
        request.recipient_count() as u64,
        matches!(plan.priority, Priority::Emergency),
    )
    .await?;
    let hashing_key = accept::hashing_key().await?;
    let kv = store::open()
        .await
        .map_err(|e| unavailable("open store", e))?;

    let random: [u8; 15] = spin_sdk::wasip3::random::random::get_random_bytes(15)
        .try_into()
        .map_err(|_| ApiError::new(ErrorCode::Internal, "no randomness"))?;
    let uid = new_request_uid(random);
    let mut ids = Vec::with_capacity(request.recipients.len());
    let mut to_send = Vec::with_capacity(request.recipients.len());
    // Every recipient's message is written in one commit, before the request's record.
    let mut inserts = store::Inserts::new();
    for recipient in request.recipients {
        let email = EmailDetails {
            cc: recipient
                .cc
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            bcc: recipient
                .bcc
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            reply_to: request
                .sender
                .reply_to
                .as_ref()
                .map(|a| a.as_str().to_string()),
            sender_address: request
                .sender
                .email
                .as_ref()
                .map(|a| a.as_str().to_string()),
            sender_name: request.sender.name.clone(),
            recipient_name: recipient.name.clone(),
        };
        let message = NewMessage {
            to: Recipient::Email(recipient.to),
            subject: Some(request.subject.clone()),
            body: request.content.clone(),
            email: Some(email),
            reference: Some(uid.clone()),
            // The request's callback URI receives replies (the specification's use of
            // it); GovStack callers read statuses from GET /status/email, so no status
            // callbacks go there.
            callback_url: None,
            callback_events: Default::default(),
            expects_reply: None,
            segments: None,
            fallback: None,
            client: client.clone(),
            send_at_ms: None,
            utc_offset_min: None,
        };
        match accept::persist(
            &kv,
            &caller,
            &plan,
            &hashing_key,
            message,
            None,
            &mut inserts,
        )
        .await?
        {
            Persisted::New(id) | Persisted::Existing(id) => {
                to_send.push(id.clone());
                ids.push(id);
            }
            // Counted in the request ("not sent"), never handed over.
            Persisted::Suppressed(id) => ids.push(id),
        }
    }
    inserts
        .commit()
        .await
        .map_err(|e| unavailable("insert", e))?;
    let record = RequestRecord {
        ids: ids.clone(),
        callback_uri: request.callback_uri,
        created_ms: store::now_ms(),
    };
    let request_key = keys::govstack_request(&caller.id, &uid);
    kv.set(&request_key, serde_json::to_vec(&record).expect("json"))
        .await
        .map_err(|e| unavailable("request record", e))?;
    store::short_lived::track(&request_key).map_err(|e| unavailable("request record", e))?;
    accept::hand_over(plan.cell, to_send);
    Ok(json(
        200,
        &serde_json::json!({ "response": ACCEPTED, "requestUid": uid, "requestUID": uid }),
    ))
}

/// Refuses, as the spec's invalid input, a sender the caller may not send as
/// (`email_senders`; `messaging_domain::email_senders`) and an email to more recipients than
/// `email_max_recipients`.
async fn check_sender_and_recipients(
    caller: &Caller,
    request: &EmailRequest,
) -> Result<(), ApiError> {
    async fn variable(name: &str) -> String {
        message_store::config::get(name).await.unwrap_or_default()
    }
    if let Some(sender) = &request.sender.email {
        let config = variable("email_senders").await;
        let gateway_from = variable("smtp_from").await;
        if !email_senders::may_send_as(&config, &caller.id, &gateway_from, sender) {
            return Err(invalid_input(
                "senderInfo.email: this caller may not send as this address (email_senders)",
            ));
        }
    }
    // A value GET /health reports as unreadable falls back to the default, never to none.
    let max = max_email_recipients(&variable("email_max_recipients").await)
        .unwrap_or(DEFAULT_MAX_EMAIL_RECIPIENTS);
    request
        .check_recipients(max)
        .map_err(|e| invalid_input(e.0))
}

/// `GET /status/email`: counts of the request's messages in each selected status, keyed by
/// the status names exactly as the caller wrote them.
pub async fn status(req: Request) -> HttpResponse {
    match try_status(req).await {
        Ok(response) => response,
        Err(e) => error(&e),
    }
}

async fn try_status(req: Request) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req).await?;
    if let Err(limited) = crate::rate_limit::check(&caller.id).await {
        return Ok(limited);
    }
    let uid = request_uid_header(&req)?;
    let selected =
        status_selection(req.uri().query().unwrap_or("")).map_err(|e| invalid_input(e.0))?;
    let kv = store::open()
        .await
        .map_err(|e| unavailable("open store", e))?;
    let record: RequestRecord = match kv.get(keys::govstack_request(&caller.id, &uid)).await {
        Ok(Some(bytes)) => {
            serde_json::from_slice(&bytes).map_err(|e| unavailable("request record", e))?
        }
        Ok(None) => return Err(invalid_input("unknown requestUid")),
        Err(e) => return Err(unavailable("request record", e)),
    };
    let mut counts = std::collections::HashMap::<EmailStatus, u32>::new();
    for id in &record.ids {
        let reached = store::history(id).map_err(|e| unavailable("history", e))?;
        let Some(current) = Status::current(&reached) else {
            continue;
        };
        let deferred = if !current.awaits_sending() {
            false
        } else {
            let cell = store::record(&kv, id)
                .await
                .map_err(|e| unavailable("record", e))?
                .map(|r| r.cell);
            match cell {
                Some(cell) => store::pending(&cell, id)
                    .await
                    .map_err(|e| unavailable("pending", e))?
                    .is_some_and(|p| p.attempts > 0),
                None => false,
            }
        };
        *counts
            .entry(EmailStatus::of(current, deferred))
            .or_default() += 1;
    }
    let body: serde_json::Map<String, serde_json::Value> = selected
        .into_iter()
        .map(|(name, status)| {
            (
                name,
                serde_json::Value::from(counts.get(&status).copied().unwrap_or(0)),
            )
        })
        .collect();
    Ok(json(200, &body))
}

async fn request_record(
    kv: &spin_sdk::key_value::Store,
    caller: &Caller,
    uid: &str,
) -> Result<RequestRecord, ApiError> {
    match kv.get(keys::govstack_request(&caller.id, uid)).await {
        Ok(Some(bytes)) => {
            serde_json::from_slice(&bytes).map_err(|e| unavailable("request record", e))
        }
        Ok(None) => Err(invalid_input("unknown requestUid")),
        Err(e) => Err(unavailable("request record", e)),
    }
}

/// `POST /callback/email`: a reply to the request named by the `requestUid` header.
pub async fn callback(req: Request) -> HttpResponse {
    match try_callback(req).await {
        Ok(response) => response,
        Err(e) => error(&e),
    }
}

async fn try_callback(req: Request) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req).await?;
    if let Err(limited) = crate::rate_limit::check(&caller.id).await {
        return Ok(limited);
    }
    let uid = request_uid_header(&req)?;
    let body = req.into_body().bytes().await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body could not be read in full; it may exceed the size limit",
        )
    })?;
    let reply = CallbackReply::parse(&body).map_err(|e| invalid_input(e.0))?;
    let kv = store::open()
        .await
        .map_err(|e| unavailable("open store", e))?;
    let record = request_record(&kv, &caller, &uid).await?;
    let reply_id = accept::new_id()?.to_string().replacen("msg_", "rpl_", 1);
    let received_ms = store::now_ms();
    let content = base64_encode(&reply.content);
    // The content lives in one place: in the notification while it travels to the
    // request's callback (erased once delivered), or, with no callback, in the reply record.
    let notification = match &record.callback_uri {
        Some(uri) => Some(
            reply_notification(&caller.id, uri, &uid, &reply.meta, &content, received_ms).await,
        ),
        None => None,
    };
    let stored = serde_json::json!({
        "meta": reply.meta,
        "content": if notification.is_none() { Some(&content) } else { None },
        "notification": notification.as_ref().map(|n| n.id.as_str()),
        "received_ms": received_ms,
    });
    if let Some(notification) = &notification {
        notifications::enqueue(&kv, notification)
            .await
            .map_err(|e| unavailable("notification", e))?;
    }
    // Sealed: the reply's metadata and content are the citizen's.
    store::put_sealed(
        &kv,
        &keys::govstack_reply(&caller.id, &uid, &reply_id),
        &stored,
    )
    .await
    .map_err(|e| unavailable("reply", e))?;
    store::audit::emit(
        messaging_domain::audit::AuditStatus::Success,
        &store::audit::caller(&caller.id),
        None,
        serde_json::json!({"event": "govstack.reply_received", "request": uid, "reply": reply_id}),
    );
    if notification.is_some() {
        notifications::poke();
    }
    Ok(json(
        200,
        &serde_json::json!({ "response": "Reply accepted", "requestUid": uid, "requestUID": uid }),
    ))
}

/// The notification that carries a reply to the request's callback: the body GovStack
/// callers read (`requestUid`, `meta`, `content` in base64) and the `requestUid` header.
async fn reply_notification(
    owner: &str,
    uri: &str,
    uid: &str,
    meta: &Option<String>,
    content: &str,
    now_ms: u64,
) -> Notification {
    let body = serde_json::json!({ "requestUid": uid, "meta": meta, "content": content });
    Notification {
        id: notifications::new_id(),
        event: "govstack.reply".into(),
        url: uri.to_string(),
        body: body.to_string(),
        headers: vec![("requestUid".into(), uid.to_string())],
        owner: Some(owner.to_string()),
        created_ms: now_ms,
        expires_ms: now_ms + notifications::validity_ms().await,
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
