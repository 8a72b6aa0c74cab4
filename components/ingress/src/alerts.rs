//! `POST /v1/alerts`: an OASIS CAP 1.2 alert (XML) becomes a broadcast to each of the
//! caller's groups named after its areas, in every language it carries; Update and Cancel
//! act on the earlier alert their `<references>` name. Parsing and mapping are
//! `messaging_domain::cap`.

use crate::accept::{open_store, unavailable};
use crate::broadcasts::{NewBroadcast, start, stop};
use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, error, json, or_error};
use message_store::{self as store, Swap, groups};
use messaging_domain::broadcast::{Audience, Content, check_rendered};
use messaging_domain::cap::record::AlertRecord as Recorded;
use messaging_domain::cap::{Alert, MsgType};
use messaging_domain::{ApiError, ErrorCode, keys};
use spin_sdk::http::Request;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::key_value::Store;

/// A reservation older than this whose alert never finished may be taken over.
const STALE_MS: u64 = 10_000;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    or_error(try_create(caller, req).await)
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !["application/xml", "text/xml", "application/cap+xml"]
        .iter()
        .any(|t| content_type.starts_with(t))
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the CAP 1.2 alert as application/xml",
        ));
    }
    let body = req.into_body().bytes().await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body could not be read in full",
        )
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| invalid("the alert is not UTF-8"))?;
    let alert = Alert::parse(text).map_err(|m| invalid(format!("not a CAP 1.2 alert: {m}")))?;
    if !matches!(alert.status.as_str(), "Actual" | "Exercise") {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "an alert of status {} is not delivered to the public",
                alert.status
            ),
        ));
    }
    if matches!(alert.msg_type, MsgType::Ack | MsgType::Error) {
        return Err(invalid(
            "Ack and Error messages are answers to alerts, not alerts",
        ));
    }
    let kv = open_store().await?;
    let identity = keys::alert(&caller.id, &alert.sender, &alert.identifier);
    // The same alert (sender and identifier) twice gets the first answer.
    let swap = Swap::read("default", &identity).map_err(|e| unavailable("alert", e))?;
    let now = store::now_ms();
    match swap
        .current
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Recorded>(b).ok())
    {
        Some(Recorded::Pending { at }) if now.saturating_sub(at) < STALE_MS => {
            return Err(in_flight());
        }
        Some(done @ (Recorded::Sent { .. } | Recorded::Cancel { .. })) => {
            return Ok(answer(&alert, &done));
        }
        _ => {}
    }
    let pending = serde_json::to_vec(&Recorded::Pending { at: now }).expect("json");
    let ours = match swap.current {
        // Taking over a stale attempt: atomic from its value.
        Some(_) => swap.put(&pending),
        // The alert's first sight: a claim decides, its winner writes.
        None => store::claims::take(&identity, STALE_MS).and_then(|claim| {
            let Some(claim) = claim else {
                return Ok(false);
            };
            store::many::set_many("default", &[(identity.clone(), pending.clone())])?;
            claim.release()?;
            Ok(true)
        }),
    };
    if !ours.map_err(|e| unavailable("alert", e))? {
        return Err(in_flight());
    }
    let result = act(&kv, &caller, &alert).await;
    match result {
        Ok(recorded) => {
            kv.set(&identity, serde_json::to_vec(&recorded).expect("json"))
                .await
                .map_err(|e| unavailable("alert", e))?;
            // Where the sweep finds it once its broadcasts are erased.
            store::short_lived::track(&identity).map_err(|e| unavailable("alert", e))?;
            store::audit::emit(
                messaging_domain::audit::AuditStatus::InProgress,
                &store::audit::caller(&caller.id),
                None,
                serde_json::json!({"event": "alert.accepted", "caller": caller.id, "msg_type": format!("{:?}", alert.msg_type)}),
            );
            Ok(answer(&alert, &recorded))
        }
        Err(e) => {
            // Nothing was sent: the same alert may be sent again at once.
            let _ = kv.delete(&identity).await;
            Err(e)
        }
    }
}

/// Cancels what the references name, then (Alert, Update) starts the broadcasts.
async fn act(kv: &Store, caller: &Caller, alert: &Alert) -> Result<Recorded, ApiError> {
    let mut cancelled = Vec::new();
    for reference in &alert.references {
        let earlier = kv
            .get(keys::alert(
                &caller.id,
                &reference.sender,
                &reference.identifier,
            ))
            .await
            .map_err(|e| unavailable("alert", e))?
            .and_then(|b| serde_json::from_slice::<Recorded>(&b).ok());
        match earlier {
            Some(Recorded::Sent { broadcasts, .. }) => {
                for id in broadcasts {
                    stop(kv, caller, &id).await?;
                    cancelled.push(id);
                }
            }
            _ if alert.msg_type == MsgType::Cancel => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!(
                        "no alert {} from {} was sent by this caller",
                        reference.identifier, reference.sender
                    ),
                ));
            }
            // An Update of an alert sent elsewhere is sent as new.
            _ => {}
        }
    }
    if alert.msg_type == MsgType::Cancel {
        return Ok(Recorded::Cancel {
            cancelled,
            until_ms: store::now_ms(),
        });
    }
    if alert
        .expires_ms()
        .is_some_and(|expires| expires <= store::now_ms())
    {
        return Err(invalid("the alert has expired"));
    }
    let names = alert.area_names();
    let targets = groups::named(kv, &caller.id, names.iter().map(String::as_str))
        .await
        .map_err(|e| unavailable("groups", e))?;
    if targets.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "none of the caller's groups is named after the alert's areas (areaDesc or geocode value)",
        ));
    }
    let rendered = alert.rendered();
    check_rendered(&rendered)?;
    let emergency = alert.is_emergency();
    let policy = policy_for(emergency).await;
    let mut broadcasts = Vec::new();
    for group in targets {
        let id = start(
            kv,
            caller,
            NewBroadcast {
                audience: Audience::Group(group),
                content: Content {
                    subject: None,
                    body: String::new(),
                    rendered: Some(rendered.clone()),
                },
                policy: Some(policy.clone()),
                reference: Some(alert.identifier.clone()),
                send_at_ms: None,
                expires_ms: alert.expires_ms(),
                dedup: None,
            },
        )
        .await?;
        broadcasts.push(id);
    }
    // The identity is kept as long as its broadcasts (see `AlertRecord::past_use`).
    let mut until_ms = store::now_ms();
    for id in &broadcasts {
        if let Some(record) = store::broadcasts::record(kv, id)
            .await
            .map_err(|e| unavailable("broadcast", e))?
        {
            until_ms = until_ms.max(record.expires_ms);
        }
    }
    Ok(Recorded::Sent {
        broadcasts,
        emergency,
        until_ms,
    })
}

/// The policy for an alert: `alert_emergency_policy` (default `emergency`) for
/// immediate or expected, extreme or severe alerts; `alert_policy` (default `default`)
/// for the rest.
async fn policy_for(emergency: bool) -> String {
    let (variable, default) = if emergency {
        ("alert_emergency_policy", "emergency")
    } else {
        ("alert_policy", "default")
    };
    message_store::config::get(variable)
        .await
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn answer(alert: &Alert, recorded: &Recorded) -> HttpResponse {
    match recorded {
        Recorded::Sent {
            broadcasts,
            emergency,
            ..
        } => json(
            202,
            &serde_json::json!({"identifier": alert.identifier, "broadcasts": broadcasts, "emergency": emergency}),
        ),
        Recorded::Cancel { cancelled, .. } => json(
            200,
            &serde_json::json!({"identifier": alert.identifier, "cancelled": cancelled}),
        ),
        Recorded::Pending { .. } => error(&in_flight()),
    }
}

/// The same alert is being accepted by another request right now.
fn in_flight() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyConflict,
        "this alert is being accepted by a concurrent request; retry",
    )
}
