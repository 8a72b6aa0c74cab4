//! One fan-out step: batch up to [`PAGES_PER_CALL`] pages of members behind the durable
//! cursor, hand each batch to its cell, and pass the rest on to a fresh instance.
//!
//! Per page: read the next member hashes after the cursor, open the members, split them
//! by channel into batches numbered from the cursor, store the batches (and their pending
//! entries), and only then move the cursor by compare-and-swap. A fan-out that dies before
//! the swap leaves batches that the next one re-creates under the same numbers and keys,
//! so no member is skipped or batched twice.

use futures::future::join_all;
use message_store::{self as store, broadcasts, groups};
use messaging_domain::broadcast::{BATCH_SIZE, Batch, BatchRecipient, BroadcastRecord, Cursor};
use messaging_domain::{BroadcastId, keys};
use std::collections::BTreeMap;

/// Pages batched per call before handing over to a fresh instance (20,000 members).
const PAGES_PER_CALL: usize = 40;
/// Pages batched before their batches are handed to the cells together: several cell
/// instances work at once while this one waits.
const PAGES_IN_FLIGHT: usize = 4;
/// How long the fan-out lease protects a walk in progress; renewed at each page and while
/// the cells send (`Lease::hold_during`). A walk whose instance died is taken over within
/// this time. (Two walkers at once would still be safe: the cursor moves by
/// compare-and-swap, and the loser stops.)
const LEASE_MS: u64 = 20_000;

#[derive(Debug, Default, serde::Serialize)]
pub struct FanoutReport {
    pub batches: usize,
    pub members: u64,
    pub done: bool,
    /// Another instance holds the lease, or the broadcast is unknown.
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn run(id: &BroadcastId) -> FanoutReport {
    match try_run(id).await {
        Ok(report) => report,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"event": "fanout.store_error", "broadcast": id.as_str(), "detail": e.to_string()})
            );
            FanoutReport {
                error: Some("store".into()),
                ..FanoutReport::default()
            }
        }
    }
}

async fn try_run(id: &BroadcastId) -> store::StoreResult<FanoutReport> {
    let mut report = FanoutReport::default();
    let kv = store::open().await?;
    let Some(record) = broadcasts::record(&kv, id).await? else {
        report.skipped = true;
        return Ok(report);
    };
    if record.send_at_ms.is_some_and(|at| store::now_ms() < at) {
        // Scheduled: the tick brings it back when due.
        report.skipped = true;
        return Ok(report);
    }
    let Some(mut lease) = store::work::Lease::take(&keys::broadcast_lease(id), LEASE_MS)? else {
        report.skipped = true;
        return Ok(report);
    };
    let prefix = match &record.group {
        Some(group) => keys::group_members(group),
        None => keys::broadcast_members(id),
    };
    let mut pages = 0;
    'walk: while pages < PAGES_PER_CALL {
        let mut handed: Vec<(String, u64)> = Vec::new();
        for _ in 0..PAGES_IN_FLIGHT {
            lease.renew()?;
            let (cursor, swap) = broadcasts::read_cursor(id)?;
            if broadcasts::is_cancelled(&kv, id).await? {
                // Nothing more is batched; batches waiting for a retry are handed to
                // their cells now, which settle them as cancelled without sending.
                let done = Cursor {
                    done: true,
                    cut_short: true,
                    ..cursor
                };
                if !cursor.done {
                    broadcasts::advance(swap, &done)?;
                }
                for cell in record.cells.values() {
                    for seq in broadcasts::waiting_batches(&record, cell)? {
                        handed.push((cell.clone(), seq));
                    }
                }
                report.done = true;
                break;
            }
            if cursor.done {
                report.done = true;
                break;
            }
            let page = groups::roster_page(&prefix, cursor.after_slot, BATCH_SIZE as u64)?;
            let hashes: Vec<String> = page.entries.into_iter().map(|(_, h)| h).collect();
            let members = broadcasts::open_members(&prefix, &hashes).await?;
            let (batches, unroutable) = split(&record, cursor.next_seq, members);
            let found = unroutable
                + batches
                    .iter()
                    .map(|(_, b)| b.recipients.len() as u64)
                    .sum::<u64>();
            if !charge_page(&record, &cursor, cursor.total + found).await? {
                // The owner's quota has no room for this page: the walk ends before it.
                let stopped = Cursor {
                    done: true,
                    over_quota: true,
                    ..cursor
                };
                if !broadcasts::advance(swap, &stopped)? {
                    break 'walk;
                }
                store::audit::emit(
                    messaging_domain::audit::AuditStatus::Failed,
                    "broadcaster",
                    None,
                    serde_json::json!({"event": "fanout.quota_exceeded", "broadcast": id.as_str(), "owner": record.owner, "fanned_out": cursor.total}),
                );
                // The pages batched before this one still go to their cells.
                report.done = true;
                break;
            }
            broadcasts::put_batches(&record, &batches).await?;
            let next = Cursor {
                next_seq: cursor.next_seq + batches.len() as u64,
                after_slot: page.last_slot,
                done: page.exhausted,
                total: cursor.total + found,
                unroutable: cursor.unroutable + unroutable,
                cut_short: false,
                over_quota: false,
            };
            if !broadcasts::advance(swap, &next)? {
                // Another fan-out moved the cursor: it owns the walk now.
                break 'walk;
            }
            report.members += next.total - cursor.total;
            report.batches += batches.len();
            handed.extend(batches.iter().map(|(seq, b)| (b.cell.clone(), *seq)));
            pages += 1;
            if next.done {
                report.done = true;
                break;
            }
        }
        lease.hold_during(hand_over(id, handed)).await;
        if report.done {
            break;
        }
    }
    if report.done {
        broadcasts::finish_fanout(&record).await?;
        store::audit::emit(
            messaging_domain::audit::AuditStatus::Success,
            "broadcaster",
            None,
            serde_json::json!({"event": "fanout.done", "broadcast": id.as_str()}),
        );
    }
    // Let the next instance take over at once.
    kv.delete(lease.key()).await?;
    if !report.done && !report.skipped {
        store::work::post_after_response(
            "http://broadcaster.spin.internal/fanout".into(),
            serde_json::json!({ "id": id }),
        );
    }
    Ok(report)
}

/// Charges the owner's daily quota for the members of a page that acceptance did not pay
/// for (a group that grew after it: `quota::fanout_owed`). False: the quota has no room,
/// and nothing was charged. A page charged and then not batched (the instance died) is
/// charged again by the next walk: the counter errs high, which refuses early and never
/// sends more.
async fn charge_page(
    record: &BroadcastRecord,
    cursor: &Cursor,
    total_after: u64,
) -> store::StoreResult<bool> {
    let Some(charged) = record.charged else {
        return Ok(true);
    };
    let owed = messaging_domain::quota::fanout_owed(charged, cursor.total, total_after);
    Ok(store::quota::charge(&record.owner, owed, record.emergency)
        .await?
        .is_ok())
}

/// Splits a page of members into one batch per channel the policy offers, numbered from
/// `first_seq` in channel order; members on other channels are counted as unroutable.
fn split(
    record: &BroadcastRecord,
    first_seq: u64,
    members: Vec<(String, messaging_domain::group::StoredMember)>,
) -> (Vec<(u64, Batch)>, u64) {
    let mut by_channel: BTreeMap<_, Vec<BatchRecipient>> = BTreeMap::new();
    let mut unroutable = 0;
    for (hash, member) in members {
        if record.cells.contains_key(&member.channel) {
            by_channel
                .entry(member.channel)
                .or_default()
                .push(BatchRecipient { hash, member });
        } else {
            unroutable += 1;
        }
    }
    let batches = by_channel
        .into_iter()
        .map(|(channel, mut recipients)| {
            // Same language, same text: a bulk provider API takes each run in one request.
            recipients.sort_by(|a, b| a.member.language.cmp(&b.member.language));
            (channel, recipients)
        })
        .enumerate()
        .map(|(i, (channel, recipients))| {
            (
                first_seq + i as u64,
                Batch {
                    channel,
                    cell: record.cells[&channel].clone(),
                    recipients,
                },
            )
        })
        .collect();
    (batches, unroutable)
}

/// Hands batches to their cells, all at once, and waits for them: the walk goes no faster
/// than the cells send. A lost hand-over is found by the cell's tick.
async fn hand_over(id: &BroadcastId, batches: Vec<(String, u64)>) {
    join_all(batches.into_iter().map(|(cell, seq)| async move {
        store::work::post_json(
            &format!("http://{cell}.spin.internal/batch"),
            &serde_json::json!({ "broadcast": id, "seq": seq }),
        )
        .await
    }))
    .await;
}
