//! Deciding who creates a key that does not exist yet, on every backend.
//!
//! Compare-and-swap is atomic only from an existing value: from an absent one it is an
//! upsert on Spin's SQLite store, so two writers could both "create". A creation is decided
//! instead by a claim: an atomic increment of `<key>/claim/<window>` that returns 1 for one
//! writer. The winner reads the key once more (a winner before it may have written it and
//! released its claim already), writes it, then releases the claim, so claims leave nothing
//! behind. A winner that died before writing blocks the key until its window ends.
//!
//! Why this is sound: a later claimant can only get 1 after the earlier winner released,
//! which it does after writing; so the later one's second read sees the value.
//!
//! Keys whose first value a single writer knows at creation (a message's delivery claim)
//! are written with that value instead, so their compare-and-swap never starts from absent.

use crate::many::{delete_many, get_one};
use crate::{StoreResult, counters, now_ms};

/// The right to create one key, held until [`Claim::release`].
#[must_use = "release the claim once the key is written (or given up)"]
pub struct Claim {
    key: String,
    /// The claim window it was taken in.
    window: u64,
}

/// Takes the right to create `key` (claims last `window_ms` at most). `None`: the key
/// exists, or another writer is creating it.
pub fn take(key: &str, window_ms: u64) -> StoreResult<Option<Claim>> {
    take_for(key, key, window_ms)
}

/// [`take`] under the claim named `name`, which several keys share (the items of a batch
/// request): `None` if `key` exists, or another writer holds the claim.
pub fn take_for(name: &str, key: &str, window_ms: u64) -> StoreResult<Option<Claim>> {
    let Some(claim) = take_named(name, window_ms)? else {
        return Ok(None);
    };
    if get_one("default", key)?.is_some() {
        claim.release()?;
        return Ok(None);
    }
    Ok(Some(claim))
}

/// The claim named `name` alone, for a writer that creates several keys under one claim
/// (the items of a batch request): it reads those keys again itself once it holds it, as
/// [`take`] does for one. Every creator of those keys must use the same name.
pub fn take_named(name: &str, window_ms: u64) -> StoreResult<Option<Claim>> {
    let window = now_ms() / window_ms.max(1);
    let claim = Claim {
        key: window_key(name, window),
        window,
    };
    if counters::add(&claim.key, 1)? != 1 {
        return Ok(None);
    }
    Ok(Some(claim))
}

/// The key of the claim named `name` in window `window`.
pub fn window_key(name: &str, window: u64) -> String {
    format!("{name}/claim/{window}")
}

impl Claim {
    /// The claim window it was taken in.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Keeps the claim for good and returns its key, for a creator that writes the key
    /// later and tracks the claim with it (a single request's idempotency reservation).
    pub fn keep(self) -> String {
        self.key
    }

    /// Gives the claim back: the key is written, or its creation given up.
    pub fn release(self) -> StoreResult<()> {
        delete_many("default", &[self.key])
    }
}

/// The value of a lease or claim key that nobody holds: written at creation, so that
/// taking it is a compare-and-swap from an existing value.
pub fn unheld() -> Vec<u8> {
    messaging_domain::lease::value(0, "unheld").into_bytes()
}
