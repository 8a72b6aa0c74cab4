//! What the deployment's key-value store does not do as `wasi:keyvalue` says, and how the
//! store layer works around it. Deployment configuration (`key_value_workarounds`), read
//! once per instance, never request data.
//!
//! `"spin-redis"`: the stores are Spin 4.1's own Redis backend (`crates/key-value-redis`),
//! which has two defects:
//! - `get-many` sends Redis's KEYS command instead of MGET, and the instance traps: keys
//!   are read one `get` at a time instead ([`crate::many::get_many`]);
//! - `swap` ends with `UNWATCH <key>`, which Redis refuses, so every swap reports
//!   `cas-failed` after its transaction ran, written or not: a failed swap is confirmed by
//!   reading the key again ([`crate::Swap::put`]). Its transaction is still guarded by
//!   WATCH, so a writer that lost finds the winner's value there; two writers of the same
//!   bytes both count as winners, which is why a swapped value that confers a right (a
//!   lease) names its holder.

use std::sync::OnceLock;

static SPIN_REDIS: OnceLock<bool> = OnceLock::new();

/// Reads `key_value_workarounds`. Every component that uses the store calls it when a
/// request comes in, before its first store call: variables are read asynchronously, the
/// store calls that depend on it are synchronous.
pub async fn configure() {
    if SPIN_REDIS.get().is_some() {
        return;
    }
    let spin_redis = crate::config::get("key_value_workarounds")
        .await
        .is_ok_and(|value| value.split(',').any(|w| w.trim() == "spin-redis"));
    let _ = SPIN_REDIS.set(spin_redis);
}

/// Whether `wasi:keyvalue/batch.get-many` may be called.
pub fn takes_get_many() -> bool {
    SPIN_REDIS.get() != Some(&true)
}

/// Whether a `cas-failed` from `swap` may hide a write that happened.
pub fn swap_failure_needs_confirming() -> bool {
    SPIN_REDIS.get() == Some(&true)
}
