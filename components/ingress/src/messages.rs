//! `POST /v1/messages` and `GET /v1/messages/{id}`.

use crate::accept::{self, NewMessage, Persisted, unavailable};
use crate::govstack::messaging::types::Caller;
use crate::idempotency::Dedup;
use crate::respond::{HttpResponse, error, json};
use message_store as store;
use messaging_domain::api::{
    Accepted, AttemptView, MessageView, ReplyView, SendCommand, parse_idempotency_key,
    rfc3339_millis,
};
use messaging_domain::hashing::secret_digest;
use messaging_domain::{ApiError, Channel, ErrorCode, MessageId, Status};
use spin_sdk::http::Request;

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    match try_create(caller, req).await {
        Ok(response) => response,
        Err(e) => error(&e),
    }
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
    let client = crate::credentials::im_client(&req);
    let idempotency_key = match req.headers().get("idempotency-key") {
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Idempotency-Key must be visible ASCII",
                )
            })?;
            Some(secret_digest(parse_idempotency_key(value)?))
        }
        None => None,
    };
    let body = crate::body::json(req).await?;
    let mut command = SendCommand::parse(&body)?;
    if let Some(template) = command.template.take() {
        let rendered = accept::render(&template).await?;
        let text = rendered.for_language(command.language.as_ref()).clone();
        // A variant's subject is for the channels that show one.
        let subject = text
            .subject
            .filter(|_| matches!(command.channel, Channel::Email | Channel::Push));
        command = command.fill(subject, text.body)?;
    }
    crate::callback_guard::check(command.callback_url.as_deref())
        .await
        .map_err(|m| ApiError::new(ErrorCode::InvalidRequest, format!("callback_url: {m}")))?;
    let command_segments = command.segments;

    let kv = store::open()
        .await
        .map_err(|e| unavailable("open store", e))?;
    let dedup = match &idempotency_key {
        Some(hash) => Some(Dedup::idempotency_key(&caller.id, hash)),
        None => Dedup::request(&caller.id, "/v1/messages", &body).await,
    };
    let plan = accept::plan(&caller, command.channel, command.policy.clone()).await?;
    let hashing_key = accept::hashing_key().await?;
    let message = NewMessage {
        to: command.to,
        subject: command.subject,
        body: command.body,
        email: None,
        reference: command.reference,
        callback_url: command.callback_url,
        expects_reply: command.expects_reply,
        segments: command.segments,
        fallback: command.fallback,
        client,
    };
    let (id, status) =
        match accept::persist(&kv, &caller, &plan, &hashing_key, message, dedup.as_ref()).await? {
            Persisted::New(id) => {
                accept::hand_over(plan.cell, vec![id.clone()]);
                (id, Status::Accepted)
            }
            Persisted::Existing(id) => (id, Status::Accepted),
            Persisted::Suppressed(id) => (id, Status::Suppressed),
        };
    Ok(json(
        202,
        &Accepted {
            id,
            status,
            sms: command_segments,
        },
    ))
}

pub async fn read(caller: Caller, id: &str) -> HttpResponse {
    let not_found = || error(&ApiError::new(ErrorCode::NotFound, "no such message"));
    let Some(id) = MessageId::parse(id) else {
        return not_found();
    };
    let kv = match store::open().await {
        Ok(kv) => kv,
        Err(e) => return error(&unavailable("open store", e)),
    };
    let record = match store::record(&kv, &id).await {
        Ok(Some(record)) if record.owner == caller.id => record,
        // Another caller's message is indistinguishable from a missing one.
        Ok(_) => return not_found(),
        Err(e) => return error(&unavailable("read", e)),
    };
    let reached = match store::history(&kv, &id).await {
        Ok(reached) => reached,
        Err(e) => return error(&unavailable("history", e)),
    };
    let Some(status) = Status::current(&reached) else {
        return not_found();
    };
    let reply = match store::conversations::reply(&kv, &id).await {
        Ok(reply) => reply.map(|r| ReplyView {
            answer: r.answer,
            at: rfc3339_millis(r.at_ms),
        }),
        Err(e) => return error(&unavailable("reply", e)),
    };
    let attempts = match store::attempts(&kv, &id).await {
        Ok(attempts) => attempts
            .into_iter()
            .map(|a| AttemptView {
                cell: a.cell,
                outcome: a.outcome,
                reason: a.reason,
                at: rfc3339_millis(a.at_ms),
            })
            .collect(),
        Err(e) => return error(&unavailable("attempts", e)),
    };
    json(
        200,
        &MessageView {
            id,
            channel: record.channel,
            status,
            reference: record.reference,
            history: store::history_entries(&reached),
            reply,
            sms: record.segments,
            attempts,
        },
    )
}
