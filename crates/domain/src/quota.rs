//! Per-caller daily quotas: how many messages a calling system may have accepted per UTC
//! day, across every instance (the count lives in the key-value store).
//!
//! `daily_quotas` holds `caller:count` entries, comma-separated; `*` is every caller
//! without its own entry; empty means no quotas. Each message counts one, each occurrence
//! of a repeated message one, each recipient of a broadcast one, each recipient of a
//! GovStack email (To, Cc and Bcc: each is a delivery) one. Emergency policies are not
//! counted: an alert must never wait for tomorrow.
//! A request that would go over is refused whole (429 with `Retry-After` until midnight
//! UTC) and counts nothing; a repeated request (same `Idempotency-Key` or MHASH) counts
//! nothing either.

const DAY_MS: u64 = 86_400_000;

/// The quota of `caller`: its own entry, else `*`, else none. Malformed entries are
/// skipped (and reported by [`invalid_entries`]).
pub fn quota_for(config: &str, caller: &str) -> Option<u64> {
    crate::caller_entries::setting_for(config, caller, parse_entry)
}

/// Entries that do not parse, for `GET /health` to name.
pub fn invalid_entries(config: &str) -> Vec<&str> {
    crate::caller_entries::unreadable_entries(config, parse_entry)
}

fn parse_entry(entry: &str) -> Option<(&str, u64)> {
    let (caller, count) = entry.trim().split_once(':')?;
    let caller = caller.trim();
    let count: u64 = count.trim().parse().ok()?;
    (!caller.is_empty() && !caller.contains('/')).then_some((caller, count))
}

/// What a page of a group broadcast's fan-out still owes the quota: members are charged
/// at acceptance by the group's size then (`charged`), and the fan-out charges whatever
/// it finds beyond that, so a group filled after acceptance is charged for what is sent.
/// `before` and `after` are the members fanned out before and after the page.
pub fn fanout_owed(charged: u64, before: u64, after: u64) -> u64 {
    after.max(charged) - before.max(charged)
}

/// The UTC day of `now_ms`, as days since 1970-01-01: it names the day's counter.
pub fn day_of(now_ms: u64) -> u64 {
    now_ms / DAY_MS
}

/// Milliseconds from `now_ms` until the next UTC day, when the quota is whole again.
pub fn ms_until_next_day(now_ms: u64) -> u64 {
    DAY_MS - now_ms % DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_own_entry_wins_over_the_default() {
        let config = "registry:100000, *:500 ,clinic:0";
        assert_eq!(quota_for(config, "registry"), Some(100_000));
        assert_eq!(quota_for(config, "clinic"), Some(0));
        assert_eq!(quota_for(config, "school"), Some(500));
        assert_eq!(quota_for("registry:10", "school"), None);
        assert_eq!(quota_for("", "school"), None);
    }

    #[test]
    fn malformed_entries_are_named_and_skipped() {
        let config = "registry:ten,clinic:5,:3,a/b:1,school";
        assert_eq!(
            invalid_entries(config),
            vec!["registry:ten", ":3", "a/b:1", "school"]
        );
        assert_eq!(quota_for(config, "registry"), None);
        assert_eq!(quota_for(config, "clinic"), Some(5));
    }

    #[test]
    fn a_fan_out_owes_only_the_members_beyond_what_was_charged() {
        // An empty group at acceptance: every member found is owed.
        assert_eq!(fanout_owed(0, 0, 500), 500);
        assert_eq!(fanout_owed(0, 500, 700), 200);
        // Charged 600: the first page is covered, the second owes what passes 600.
        assert_eq!(fanout_owed(600, 0, 500), 0);
        assert_eq!(fanout_owed(600, 500, 1000), 400);
        assert_eq!(fanout_owed(600, 1000, 1500), 500);
        // A group that shrank owes nothing.
        assert_eq!(fanout_owed(600, 0, 300), 0);
    }

    #[test]
    fn days_turn_at_midnight_utc() {
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        assert_eq!(day_of(noon), 20_000);
        assert_eq!(day_of(noon + DAY_MS / 2), 20_001);
        assert_eq!(ms_until_next_day(noon), DAY_MS / 2);
        assert_eq!(ms_until_next_day(20_001 * DAY_MS), DAY_MS);
    }
}
