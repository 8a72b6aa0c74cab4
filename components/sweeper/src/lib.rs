//! sweeper: erases message records, unfetched inbound messages and broadcasts past the
//! retention period, keeping only counts (`message_store::retention`,
//! `message_store::broadcast_retention`), keys that have served their time
//! (`message_store::short_lived`), and the development outbox's entries
//! (`message_store::outbox`). Private route only (`http://sweeper.spin.internal`):
//!
//! - `POST /tick`: the host timer (or Spin's cron trigger) asks it to sweep one page.

use message_store::private_route::{Response, json, no_such_route};
use message_store::retention::SweepReport;
use messaging_domain::policy::parse_duration;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// Messages examined per tick, so a tick stays one short-lived instance.
const PAGE: usize = 200;
/// Keys of expired broadcasts erased per tick (a million-recipient broadcast has two
/// million: outcome rows and provider-id mappings).
const BROADCAST_KEYS: usize = 10_000;
/// Audit entries erased per tick, oldest first.
const AUDIT_ENTRIES: usize = 10_000;

#[http_service]
async fn handle(req: Request) -> Response {
    message_store::backend::configure().await;
    if (req.method(), req.uri().path()) != (&Method::POST, "/tick") {
        return no_such_route();
    }
    let retention_ms = match duration_ms("retention", "7d").await {
        Ok(ms) => ms,
        Err(refused) => return refused,
    };
    let audit_retention_ms = match duration_ms("audit_retention", "90d").await {
        Ok(ms) => ms,
        Err(refused) => return refused,
    };
    let report = match message_store::open().await {
        Ok(kv) => sweep_all(&kv, retention_ms, audit_retention_ms).await,
        Err(e) => Err(e),
    };
    match report {
        Ok(report) => {
            if report.erased
                + report.broadcasts_erased
                + report.inbound_erased
                + report.leftovers_erased
                + report.audit_erased
                + report.outbox_erased
                > 0
            {
                message_store::audit::emit(
                    messaging_domain::audit::AuditStatus::Success,
                    "sweeper",
                    None,
                    serde_json::json!({"event": "sweep.erased", "count": report.erased, "broadcasts": report.broadcasts_erased, "inbound": report.inbound_erased, "leftovers": report.leftovers_erased, "audit": report.audit_erased, "outbox": report.outbox_erased}),
                );
            }
            json(200, serde_json::to_value(report).expect("json"))
        }
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"event": "sweep.store_error", "detail": e.to_string()})
            );
            json(503, serde_json::json!({"error": "store unavailable"}))
        }
    }
}

/// The duration variable `name` (`default` when unset) in milliseconds; a 500 naming it
/// when it does not read.
async fn duration_ms(name: &str, default: &str) -> Result<u64, Response> {
    let text = message_store::config::get(name)
        .await
        .unwrap_or_else(|_| default.into());
    parse_duration(&text).map(|s| s * 1000).ok_or_else(|| {
        json(
            500,
            serde_json::json!({"error": format!("{name} must look like 12h or {default}")}),
        )
    })
}

/// One tick's sweep: finished messages, unfetched inbound messages, keys past use, a
/// slice of the expired broadcasts, and the oldest audit entries.
async fn sweep_all(
    kv: &spin_sdk::key_value::Store,
    retention_ms: u64,
    audit_retention_ms: u64,
) -> message_store::StoreResult<SweepReport> {
    use message_store::{audit, broadcast_retention, retention, short_lived};
    let mut report = retention::sweep(kv, retention_ms, PAGE).await?;
    report.inbound_erased = retention::sweep_inbound(kv, retention_ms, PAGE).await?;
    report.leftovers_erased = short_lived::sweep(kv, retention_ms, PAGE).await?;
    report.broadcasts_erased = broadcast_retention::sweep(kv, retention_ms, BROADCAST_KEYS)
        .await?
        .erased;
    let audit_cutoff = message_store::now_ms().saturating_sub(audit_retention_ms);
    report.audit_erased = audit::sweep(audit_cutoff, AUDIT_ENTRIES)?;
    let cutoff = message_store::now_ms().saturating_sub(retention_ms);
    report.outbox_erased = message_store::outbox::erase_kept_before(cutoff, PAGE).await?;
    Ok(report)
}
