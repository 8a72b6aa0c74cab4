//! Keys that serve for a while and then only take space: idempotency and duplicate-request
//! reservations (`idem/`, `mhash/`: an id and when it was reserved), the provider ids of
//! inbound reports already seen (`seen/`: a lease until), and GovStack email requests
//! (`govstack/request/`: the ids of their messages and when), and CAP alerts' identities
//! (`cap/`: their broadcasts and how long those are valid). None holds personal data, but
//! each grows with every request. The sweeper walks each family a page per tick, with a
//! cursor of its own, and erases the keys whose value says they are past use: reservations
//! and requests `retention` after they were made (their messages are erased by then),
//! seen ids once their lease ended, alert identities `retention` after their broadcasts'
//! validity (when the broadcasts are erased).

use crate::many::{delete_many, get_many};
use crate::retention::{cursor, move_cursor};
use crate::{StoreResult, now_ms, page};
use messaging_domain::cap::record::AlertRecord;
use messaging_domain::short_lived::{lease_past_use, request_past_use, reservation_past_use};
use spin_sdk::key_value::Store;

/// Whether a value, read at `now` with a retention cut-off, is past use.
type PastUse = fn(&[u8], u64, u64) -> bool;

const FAMILIES: [(&str, PastUse); 5] = [
    ("idem/", reservation_past_use),
    ("mhash/", reservation_past_use),
    ("seen/", lease_past_use),
    ("govstack/request/", request_past_use),
    ("cap/", AlertRecord::past_use),
];

/// Examines up to `limit` keys of each family and erases those past use. Returns how many
/// it erased.
pub async fn sweep(kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<usize> {
    let now = now_ms();
    let cutoff = now.saturating_sub(retention_ms);
    let mut erased = 0;
    for (prefix, past_use) in FAMILIES {
        let cursor_key = format!("sweep/cursor/{prefix}");
        let cursor = cursor(kv, &cursor_key).await?;
        let rests = page("default", prefix, cursor.as_deref(), limit, |rest| {
            Some(rest.to_string())
        })?;
        let keys: Vec<String> = rests.iter().map(|r| format!("{prefix}{r}")).collect();
        let stale: Vec<String> = get_many("default", keys)?
            .into_iter()
            .filter(|(_, value)| value.as_deref().is_some_and(|v| past_use(v, now, cutoff)))
            .map(|(key, _)| key)
            .collect();
        erased += stale.len();
        delete_many("default", &stale)?;
        let last = rests.last().map(String::as_str);
        move_cursor(kv, &cursor_key, last, rests.len() == limit).await?;
    }
    Ok(erased)
}
