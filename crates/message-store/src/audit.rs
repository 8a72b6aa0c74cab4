//! The audit trail in the store (`messaging_domain::audit`): each event a component logs
//! as a transaction is also kept, in the numbered list of its minute (`audit/m/<minute>`,
//! the entry in its slot), so the operator can read a time range (`GET /v1/audit`) and the
//! sweeper can erase what is older than `audit_retention` from the oldest minute on,
//! without listing keys. The writer that takes a minute's first slot also counts the minute
//! in its hour (`audit/h/<hour>`), so a read over months skips empty hours at one counter
//! each.

use crate::time_index::TimeIndex;
use crate::{StoreResult, now_ms};
use messaging_domain::audit::{self, AuditEntry, AuditStatus, Cursor};

/// Logs `event` (one JSON line on stdout, as every component's events) and keeps it in the
/// trail. A trail that cannot be written is reported on stderr and does not fail the
/// transaction: the message it describes matters more than its record.
pub fn emit(
    status: AuditStatus,
    source: &str,
    destination: Option<&str>,
    event: serde_json::Value,
) {
    let written = Event::new(status, source, destination, event).and_then(|event| {
        let (key, stored) = event.row();
        let written = crate::buckets::open("default")
            .and_then(|b| b.set(&key, &stored).map_err(crate::StoreError::from));
        event.log();
        written
    });
    if let Err(e) = written {
        eprintln!(
            "{}",
            serde_json::json!({"event": "audit.store_error", "detail": e.to_string()})
        );
    }
}

/// An event made ready for the trail without writing it, for a transaction that folds its
/// row into its own `set-many` and logs it once that write succeeded: the trail and the log
/// then never tell of a write that failed. Making it numbers its slot (one increment).
pub struct Event {
    line: serde_json::Value,
    key: String,
    stored: Vec<u8>,
}

impl Event {
    pub fn new(
        status: AuditStatus,
        source: &str,
        destination: Option<&str>,
        event: serde_json::Value,
    ) -> StoreResult<Event> {
        let at = now_ms();
        let entry = AuditEntry::from_event(at, status, source, destination, &event);
        let key = TRAIL.reserve(at)?;
        Ok(Event {
            key,
            stored: serde_json::to_vec(&entry).expect("entries serialise"),
            line: event,
        })
    }

    /// The trail's row: key and stored entry.
    pub fn row(&self) -> (String, Vec<u8>) {
        (self.key.clone(), self.stored.clone())
    }

    /// Prints the event's log line.
    pub fn log(self) {
        println!("{}", self.line);
    }
}

/// An event for the trail that a batch of writes ([`crate::writes::Writes`]) keeps with
/// the rest of its rows: the slots of a batch's events are numbered together, with one
/// increment, when the batch is written.
pub struct Pending {
    pub status: AuditStatus,
    pub source: String,
    pub destination: Option<String>,
    pub line: serde_json::Value,
}

impl Pending {
    pub fn new(
        status: AuditStatus,
        source: &str,
        destination: Option<&str>,
        line: serde_json::Value,
    ) -> Pending {
        Pending {
            status,
            source: source.to_string(),
            destination: destination.map(str::to_string),
            line,
        }
    }

    /// Prints the event's log line.
    pub fn log(&self) {
        println!("{}", self.line);
    }
}

/// The trail's rows for `events`, all recorded at `at_ms`, in their order.
pub fn rows(events: &[Pending], at_ms: u64) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let keys = TRAIL.reserve_many(at_ms, events.len() as u64)?;
    Ok(keys
        .into_iter()
        .zip(events)
        .map(|(key, event)| {
            let entry = AuditEntry::from_event(
                at_ms,
                event.status,
                &event.source,
                event.destination.as_deref(),
                &event.line,
            );
            (key, serde_json::to_vec(&entry).expect("entries serialise"))
        })
        .collect())
}

/// `caller:<id>`, the source of what a caller asked for.
pub fn caller(id: &str) -> String {
    format!("caller:{id}")
}

/// `provider:<name>`, the source of what a provider told us.
pub fn provider(name: &str) -> String {
    format!("provider:{name}")
}

/// The trail: entries by the minute they were recorded, each in its slot.
const TRAIL: TimeIndex = TimeIndex::new("audit");
/// Slots read per batch read.
const SLOTS_PER_READ: u64 = 500;

/// Up to `limit` entries from `from_ms` on (or after `after`, a cursor returned earlier),
/// none later than `until_ms`, minute by minute, each minute's in the order they were
/// recorded: time order, but for two components recording in the same instant. Also
/// returns the cursor to continue from when there may be more.
pub fn read(
    from_ms: u64,
    after: Option<Cursor>,
    until_ms: u64,
    limit: usize,
) -> StoreResult<(Vec<AuditEntry>, Option<Cursor>)> {
    let now = now_ms();
    let until_ms = until_ms.min(now);
    let from_ms = from_ms.max(now.saturating_sub(crate::time_index::OLDEST_KEPT_MS));
    let start = match after {
        Some(cursor) => cursor.minute,
        None => audit::minute_of(from_ms),
    };
    let mut entries: Vec<(u64, u64, AuditEntry)> = Vec::new();
    for minute in TRAIL.minutes_with_values(start, audit::minute_of(until_ms))? {
        let list = TRAIL.minute(minute);
        let mut position = match after {
            Some(cursor) if cursor.minute == minute => cursor.slot,
            _ => 0,
        };
        let mut found = Vec::new();
        loop {
            let page = list.page(position, SLOTS_PER_READ)?;
            for (slot, stored) in page.entries {
                if let Ok(entry) = serde_json::from_str::<AuditEntry>(&stored)
                    && let Some(at) = audit::time_of(&entry)
                    && (after.is_some() || at >= from_ms)
                    && at <= until_ms
                {
                    found.push((minute, slot, entry));
                }
            }
            position = page.last_slot;
            if page.exhausted {
                break;
            }
        }
        entries.extend(found);
        if entries.len() > limit {
            break;
        }
    }
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = more
        .then(|| {
            entries.last().map(|(minute, slot, _)| Cursor {
                minute: *minute,
                slot: *slot,
            })
        })
        .flatten();
    Ok((entries.into_iter().map(|(.., e)| e).collect(), next))
}

/// Erases up to `limit` entries older than `cutoff_ms`, oldest first. Returns how many.
pub fn sweep(cutoff_ms: u64, limit: usize) -> StoreResult<usize> {
    let cutoff_minute = audit::minute_of(cutoff_ms);
    let Some(start) = TRAIL.sweep_start()? else {
        return Ok(0);
    };
    let mut erased = 0;
    let mut whole_until = start;
    for minute in TRAIL.minutes_with_values(start, cutoff_minute)? {
        if erased >= limit {
            break;
        }
        let list = TRAIL.minute(minute);
        let numbered = list.numbered()?;
        if minute < cutoff_minute {
            // Ended before the cut-off: every entry of it goes, with the list.
            erased += numbered as usize;
            list.erase(numbered)?;
            whole_until = minute + 1;
            continue;
        }
        // The cut-off's own minute: its older entries only.
        let page = list.page(0, numbered)?;
        let old: Vec<u64> = page
            .entries
            .into_iter()
            .filter(|(_, stored)| {
                serde_json::from_str::<AuditEntry>(stored)
                    .ok()
                    .and_then(|e| audit::time_of(&e))
                    .is_some_and(|at| at < cutoff_ms)
            })
            .map(|(slot, _)| slot)
            .collect();
        erased += old.len();
        list.remove(&old)?;
    }
    if erased < limit {
        whole_until = whole_until.max(cutoff_minute);
    }
    if whole_until > start {
        TRAIL.forget_hours(start, whole_until)?;
        TRAIL.sweep_done_before(whole_until)?;
    }
    Ok(erased)
}
