//! `POST /v1/messages` and `GET /v1/messages/{id}`.

use crate::govstack::messaging::policy::{self, PlanRequest, PolicyError};
use crate::govstack::messaging::types::{Caller, Channel as WitChannel};
use crate::idempotency;
use crate::respond::{HttpResponse, error, json};
use message_store as store;
use messaging_domain::api::{Accepted, MessageView, SendCommand, parse_idempotency_key};
use messaging_domain::hashing::{keyed_hash, secret_digest};
use messaging_domain::record::Payload;
use messaging_domain::{ApiError, Channel, ErrorCode, MessageId, MessageRecord, Status, keys};
use spin_sdk::http::Request;
use spin_sdk::http::body::IncomingBodyExt;

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    // Store errors are logged for operators and never shown to callers.
    eprintln!("{what}: {e}");
    ApiError::new(
        ErrorCode::Unavailable,
        "the message store is unavailable, try again later",
    )
}

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    match try_create(caller, req).await {
        Ok(response) => response,
        Err(e) => error(&e),
    }
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
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
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the message as application/json",
        ));
    }
    // The body is read in full (the host caps it) before its size is judged, so that a
    // client still writing gets its 413 instead of a reset connection.
    let body = req.into_body().bytes().await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body could not be read in full; it may exceed the size limit",
        )
    })?;
    let command = SendCommand::parse(&body)?;

    let kv = store::open()
        .await
        .map_err(|e| unavailable("open store", e))?;
    let idem_key = idempotency_key.map(|hash| keys::idempotency(&caller.id, &hash));

    let wit_channel = match command.channel {
        Channel::Sms => WitChannel::Sms,
        Channel::Email => WitChannel::Email,
    };
    let plan = policy::plan(PlanRequest {
        caller: caller.clone(),
        channel: wit_channel,
        policy: command.policy.clone(),
    })
    .await
    .map_err(|e| match e {
        PolicyError::UnknownPolicy(name) => {
            ApiError::new(ErrorCode::UnknownPolicy, format!("no policy named {name}"))
        }
        PolicyError::NotAllowed(m) => ApiError::new(ErrorCode::Forbidden, m),
        PolicyError::ChannelUnavailable(m) => ApiError::new(ErrorCode::UnknownChannel, m),
        PolicyError::InvalidPolicy(m) => {
            eprintln!("invalid policy: {m}");
            ApiError::new(ErrorCode::Internal, "the delivery policy is misconfigured")
        }
    })?;

    let hashing_key = spin_sdk::variables::get("hashing_key")
        .await
        .map_err(|e| unavailable("hashing_key variable", e))?;
    let random: [u8; 16] = spin_sdk::wasip3::random::random::get_random_bytes(16)
        .try_into()
        .map_err(|_| ApiError::new(ErrorCode::Internal, "no randomness"))?;
    let id = MessageId::from_random(random);
    if let Some(key) = &idem_key {
        match idempotency::reserve(&kv, key, &id)
            .await
            .map_err(|e| unavailable("idempotency", e))?
        {
            Some(idempotency::Outcome::Reserved) => {}
            Some(idempotency::Outcome::Existing(existing)) => {
                return Ok(json(
                    202,
                    &Accepted {
                        id: existing,
                        status: Status::Accepted,
                    },
                ));
            }
            None => {
                return Err(ApiError::new(
                    ErrorCode::IdempotencyConflict,
                    "the Idempotency-Key is in use by concurrent requests; retry",
                ));
            }
        }
    }
    let now = store::now_ms();
    let record = MessageRecord {
        id: id.clone(),
        owner: caller.id.clone(),
        channel: command.channel,
        reference: command.reference,
        callback_url: command.callback_url,
        policy: plan.policy,
        cell: plan.cell.clone(),
        recipient_hash: keyed_hash(hashing_key.as_bytes(), command.to.as_str().as_bytes()),
        created_ms: now,
        expires_ms: now.saturating_add(plan.validity_seconds.saturating_mul(1000)),
    };
    let payload = Payload {
        to: command.to.as_str().to_string(),
        subject: command.subject,
        body: command.body,
    };
    store::insert(&kv, &record, &payload)
        .await
        .map_err(|e| unavailable("insert", e))?;
    println!(
        "{{\"event\":\"message.accepted\",\"id\":\"{id}\",\"caller\":{},\"cell\":{}}}",
        serde_json::json!(caller.id),
        serde_json::json!(plan.cell)
    );

    // The caller has its answer once this function returns; the hand-over to the delivery
    // cell runs after that. If it is lost (crash, cell down), the cell's tick finds the
    // message in the pending store and sends it then.
    let cell = plan.cell;
    let dispatch_id = id.clone();
    spin_sdk::wasip3::spawn(async move {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{cell}.spin.internal/dispatch"))
            .header("content-type", "application/json")
            .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
                serde_json::to_vec(&serde_json::json!({"id": dispatch_id})).expect("json"),
            )))
            .expect("valid request");
        if let Err(e) = spin_sdk::http::send(request).await {
            eprintln!(
                "{{\"event\":\"dispatch.handover_failed\",\"id\":\"{dispatch_id}\",\"error\":{}}}",
                serde_json::json!(format!("{e:?}"))
            );
        }
    });
    Ok(json(
        202,
        &Accepted {
            id,
            status: Status::Accepted,
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
    json(
        200,
        &MessageView {
            id,
            channel: record.channel,
            status,
            reference: record.reference,
            history: store::history_entries(&reached),
        },
    )
}
