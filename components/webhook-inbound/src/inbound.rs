//! What happens to a citizen's message, whichever provider brought it: opt-out and opt-in
//! (acknowledged to the citizen), the answer to a waiting reminder (recorded on it and
//! sent to its caller), or a message routed to the system that owns it (the reminder's
//! caller, else a keyword route, else the default route), by callback or for polling.
//!
//! Logs name ids, intents and owners; never the sender or the text.

use crate::{HttpResponse, reply};
use message_store as store;
use message_store::notifications::{self, enqueue, poke};
use messaging_domain::audit::AuditStatus;
use messaging_domain::conversation::InboundRecord;
use messaging_domain::hashing::keyed_hash;
use messaging_domain::inbound::{Intent, acknowledgement};
use messaging_domain::inbound_routes::{Destination, InboundRoutes};
use messaging_domain::notification::Notification;
use messaging_domain::record::Payload;
use messaging_domain::{Channel, InboundId, MessageId, MessageRecord, keys};
use spin_sdk::key_value::Store;

const ROUTES_FILE: &str = "/policies/inbound/routes.toml";
/// How long a provider's message id is remembered to drop repeats.
const SEEN_MS: u64 = 24 * 3_600_000;

/// One inbound message, normalised by its provider adapter.
pub struct Inbound {
    pub channel: Channel,
    pub provider: &'static str,
    /// The provider's id for the message, if it gives one (for dropping repeats).
    pub provider_id: Option<String>,
    /// The sender's address on the channel.
    pub from: String,
    pub text: String,
}

/// Every inbound event is a transaction of the audit trail: a message from a citizen and
/// what became of it (never its sender or text).
fn log(event: &str, detail: serde_json::Value) {
    let mut line = serde_json::json!({ "event": event });
    if let (Some(line), Some(detail)) = (line.as_object_mut(), detail.as_object()) {
        line.extend(detail.clone());
    }
    let status = match event {
        "inbound.unrouted" | "inbound.unknown_group" => AuditStatus::Failed,
        _ => AuditStatus::Success,
    };
    let provider = line["provider"]
        .as_str()
        .map(message_store::audit::provider);
    let source = provider.as_deref().unwrap_or("webhook-inbound");
    message_store::audit::emit(status, source, None, line);
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> HttpResponse {
    eprintln!("{what}: {e}");
    // 503 makes the provider try again later, so nothing is lost.
    reply(503, "unavailable", "try again later")
}

pub async fn handle(message: Inbound) -> HttpResponse {
    let kv = match store::open().await {
        Ok(kv) => kv,
        Err(e) => return unavailable("open store", e),
    };
    if let Some(provider_id) = &message.provider_id {
        match first_sight(message.provider, provider_id) {
            Ok(true) => {}
            Ok(false) => return reply(200, "duplicate", ""),
            Err(e) => return unavailable("dedupe", e),
        }
    }
    let Ok(hashing_key) = message_store::config::get("hashing_key").await else {
        return reply(503, "unavailable", "try again later");
    };
    let sender_hash = keyed_hash(hashing_key.as_bytes(), message.from.as_bytes());
    let reminders = match store::conversations::load(&kv, message.channel, &sender_hash).await {
        Ok(r) => r,
        Err(e) => return unavailable("conversation", e),
    };
    let (intent, replied_to) = reminders.understand(&message.text, store::now_ms());
    let replied_to = replied_to.cloned();
    let outcome = match &intent {
        Intent::OptOut | Intent::OptIn => {
            opt(&kv, &message, &sender_hash, &intent, &hashing_key).await
        }
        Intent::Join { keyword } | Intent::Leave { keyword } => {
            membership(&kv, &message, &intent, keyword, &hashing_key).await
        }
        Intent::Answer(answer) => {
            let conversation = replied_to.expect("an answer has its reminder");
            let reference = store::record(&kv, &conversation.message_id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.reference);
            store::conversations::answer(
                &kv,
                message.channel,
                &sender_hash,
                &conversation,
                reference.as_deref(),
                answer,
            )
            .await
            .map(|_| {
                log(
                    "inbound.answer",
                    serde_json::json!({"message": conversation.message_id, "owner": conversation.owner}),
                );
                "answer"
            })
        }
        Intent::Message { keyword } => {
            let in_reply_to = replied_to.as_ref().map(|c| c.message_id.clone());
            let destination = match replied_to {
                Some(c) => Some(Destination {
                    owner: c.owner,
                    callback_url: c.callback_url,
                }),
                None => routes().await.route(keyword).cloned(),
            };
            match destination {
                Some(destination) => route(&kv, &message, keyword, in_reply_to, &destination).await,
                None => {
                    log(
                        "inbound.unrouted",
                        serde_json::json!({"provider": message.provider, "channel": message.channel}),
                    );
                    Ok("unrouted")
                }
            }
        }
    };
    match outcome {
        Ok(code) => reply(200, code, ""),
        Err(e) => unavailable("inbound", e),
    }
}

/// `JOIN <keyword>` / `LEAVE <keyword>`: the sender joins or leaves the group with that
/// keyword, and is told so. An unknown keyword is only logged (the text is not routed:
/// it was addressed to the gateway, not to a system).
async fn membership(
    kv: &Store,
    message: &Inbound,
    intent: &Intent,
    keyword: &str,
    hashing_key: &str,
) -> store::StoreResult<&'static str> {
    let Some(group) = store::groups::by_keyword(kv, keyword).await? else {
        log(
            "inbound.unknown_group",
            serde_json::json!({"provider": message.provider, "channel": message.channel}),
        );
        return Ok("unknown_group");
    };
    let Some(member) = messaging_domain::group::member_from_inbound(message.channel, &message.from)
    else {
        return Ok("unknown_group");
    };
    let joined = matches!(intent, Intent::Join { .. });
    if joined {
        store::groups::add(&group, hashing_key.as_bytes(), &[member]).await?;
    } else {
        store::groups::remove(&group, hashing_key.as_bytes(), &[member]).await?;
    }
    log(
        if joined {
            "inbound.joined"
        } else {
            "inbound.left"
        },
        serde_json::json!({"group": group, "channel": message.channel}),
    );
    if let Some(text) = acknowledgement(intent) {
        acknowledge(message, text, hashing_key).await?;
    }
    Ok(if joined { "joined" } else { "left" })
}

/// Records the provider's id for a day; false if it was seen within that day (a repeated
/// report).
fn first_sight(provider: &str, provider_id: &str) -> store::StoreResult<bool> {
    let key = format!(
        "seen/{provider}/{}",
        keyed_hash(b"seen", provider_id.as_bytes())
    );
    store::short_lived::first_sight(&key, SEEN_MS)
}

async fn routes() -> InboundRoutes {
    match std::fs::read_to_string(ROUTES_FILE) {
        Ok(text) => InboundRoutes::parse("inbound/routes.toml", &text).unwrap_or_else(|e| {
            // A broken file routes nothing rather than routing wrongly; say so loudly.
            eprintln!("invalid inbound routes: {e}");
            InboundRoutes::default()
        }),
        Err(_) => InboundRoutes::default(),
    }
}

async fn opt(
    kv: &Store,
    message: &Inbound,
    sender_hash: &str,
    intent: &Intent,
    hashing_key: &str,
) -> store::StoreResult<&'static str> {
    let key = keys::opt_out(message.channel, sender_hash);
    let code = if *intent == Intent::OptOut {
        kv.set(&key, store::now_ms().to_string()).await?;
        "opted_out"
    } else {
        kv.delete(&key).await?;
        "opted_in"
    };
    log(
        &format!("inbound.{code}"),
        serde_json::json!({"provider": message.provider, "channel": message.channel}),
    );
    if let Some(text) = acknowledgement(intent) {
        acknowledge(message, text, hashing_key).await?;
    }
    Ok(code)
}

/// Sends the citizen the acknowledgement of STOP or START, through the channel's
/// delivery cell, as a message of the gateway itself (caller `gateway`).
async fn acknowledge(message: &Inbound, text: &str, hashing_key: &str) -> store::StoreResult<()> {
    let variable = format!("{}_cell", message.channel.as_str());
    let Ok(cell) = message_store::config::get(&variable).await else {
        return Ok(());
    };
    let id = MessageId::from_random(store::time_ordered_16());
    let now = store::now_ms();
    let record = MessageRecord {
        id: id.clone(),
        owner: "gateway".into(),
        channel: message.channel,
        reference: Some("opt-out-acknowledgement".into()),
        callback_url: None,
        callback_events: Default::default(),
        policy: "gateway".into(),
        cell: cell.clone(),
        fallback_cells: Vec::new(),
        failover_after: messaging_domain::policy::DEFAULT_FAILOVER_AFTER,
        fallback: None,
        recipient_hash: keyed_hash(hashing_key.as_bytes(), message.from.as_bytes()),
        created_ms: now,
        expires_ms: now + 3_600_000,
        segments: (message.channel == Channel::Sms)
            .then(|| messaging_domain::providers::gsm7::segments(text)),
        send_at_ms: None,
        retry: None,
        quiet_hours: None,
        utc_offset_min: None,
    };
    let payload = Payload {
        to: message.from.clone(),
        subject: None,
        body: text.to_string(),
        email: None,
        fallback: None,
    };
    // The gateway's own message is in the trail as a caller's would be.
    let accepted = store::audit::Pending::new(
        messaging_domain::audit::AuditStatus::InProgress,
        &store::audit::caller("gateway"),
        Some(&cell),
        serde_json::json!({"event": "message.accepted", "id": id.as_str(), "caller": "gateway", "reference": "opt-out-acknowledgement", "cell": cell}),
    );
    store::insert(record, payload, accepted).await?;
    store::drain::poke_cell(&cell);
    Ok(())
}

/// Hands a message to the system that owns it: by callback (the text travels in the
/// notification only), or kept for it to poll.
async fn route(
    kv: &Store,
    message: &Inbound,
    keyword: &str,
    in_reply_to: Option<MessageId>,
    destination: &Destination,
) -> store::StoreResult<&'static str> {
    let now = store::now_ms();
    let record = InboundRecord {
        id: time_ordered_id(),
        channel: message.channel,
        from: message.from.clone(),
        text: message.text.clone(),
        keyword: keyword.to_string(),
        in_reply_to,
        received_ms: now,
    };
    let how = match &destination.callback_url {
        Some(url) => {
            let mut body = record.view();
            body["event"] = "inbound.message".into();
            let notification = Notification {
                id: notifications::new_id(),
                event: "inbound.message".into(),
                url: url.clone(),
                body: body.to_string(),
                headers: Vec::new(),
                owner: Some(destination.owner.clone()),
                created_ms: now,
                expires_ms: now + notifications::validity_ms().await,
            };
            enqueue(kv, &notification).await?;
            poke();
            "callback"
        }
        None => {
            store::inbound::keep(kv, &destination.owner, &record).await?;
            "kept"
        }
    };
    message_store::notifications::publish_to_im(
        kv,
        messaging_domain::notification::IM_INBOUND_MESSAGE,
        messaging_domain::notification::im_inbound_event(
            &record.id,
            &destination.owner,
            record.channel,
            keyword,
            now,
        ),
    )
    .await?;
    log(
        "inbound.routed",
        serde_json::json!({"id": record.id, "owner": destination.owner, "keyword": keyword, "delivery": how}),
    );
    Ok("routed")
}

/// An inbound id whose first 48 bits are the arrival time, so listing is oldest first.
fn time_ordered_id() -> InboundId {
    InboundId::from_random(store::time_ordered_16())
}
