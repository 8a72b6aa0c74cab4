//! Answering a repeated request with its first answer: an `Idempotency-Key` (forever) or
//! the request's hash, MHASH, within the duplicate window (`duplicate_window`, 24 h by
//! default, GovStack spec 6.1.1/6.1.2). Two racing requests resolve by a claim when the
//! reservation does not exist yet (`message_store::claims`) and by compare-and-swap when
//! it does: one creates, the other gets its id.

use message_store::{self as store, StoreResult, Swap};
use messaging_domain::idempotency::{Reservation, request_hash};
use messaging_domain::keys;
use messaging_domain::policy::parse_duration;

/// Where a request's first answer is remembered, and for how long.
#[derive(Debug, Clone)]
pub struct Dedup {
    pub key: String,
    /// `None`: for as long as the key exists.
    pub window_ms: Option<u64>,
    /// The claim that decides who creates the key (`None`: its own). The items of a batch
    /// share their request's, so that [`reserve_items`] and [`reserve`] never both create.
    claim: Option<String>,
    /// Decided already, with the other items of its batch ([`reserve_items`]).
    pub decided: Option<Decided>,
}

/// What [`reserve_items`] decided for an item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Reserved for this id: create it with this id.
    Reserved(String),
    /// An earlier request created this id.
    Existing(String),
}

impl Dedup {
    /// The reservation of an `Idempotency-Key` (already hashed).
    pub fn idempotency_key(caller: &str, key_hash: &str) -> Dedup {
        Dedup {
            key: keys::idempotency(caller, key_hash),
            window_ms: None,
            claim: None,
            decided: None,
        }
    }

    /// The reservation a request to `route` makes: its `Idempotency-Key` (already hashed)
    /// if it has one, else its body's hash within the duplicate window.
    pub async fn for_request(
        caller: &str,
        key_hash: Option<&str>,
        route: &str,
        body: &[u8],
    ) -> Option<Dedup> {
        match key_hash {
            Some(hash) => Some(Dedup::idempotency_key(caller, hash)),
            None => Dedup::request(caller, route, body).await,
        }
    }

    /// The reservation of a request's hash, unless the deployment turned it off
    /// (`duplicate_window = "0"`).
    pub async fn request(caller: &str, route: &str, body: &[u8]) -> Option<Dedup> {
        let window = message_store::config::get("duplicate_window")
            .await
            .unwrap_or_else(|_| "24h".into());
        let window_s = parse_duration(&window)?;
        Some(Dedup {
            key: keys::duplicate(caller, &request_hash(caller, route, body)),
            window_ms: Some(window_s * 1000),
            claim: None,
            decided: None,
        })
    }
}

impl Dedup {
    /// The reservation of the `i`-th message of a batch whose request has this one, so a
    /// repeated batch answers each message with its first id, also after a crash halfway.
    pub fn item(&self, i: usize) -> Dedup {
        Dedup {
            key: format!("{}/{i}", self.key),
            window_ms: self.window_ms,
            claim: Some(self.items_claim()),
            decided: None,
        }
    }

    /// The claim every item of this request is created under.
    fn items_claim(&self) -> String {
        format!("{}/items", self.key)
    }

    /// Takes the claim that decides who creates this key; `None`: the key exists, or another
    /// writer is creating it.
    fn claim(&self) -> StoreResult<Option<store::claims::Claim>> {
        let name = self.claim.as_deref().unwrap_or(&self.key);
        store::claims::take_for(name, &self.key, CLAIM_WINDOW_MS)
    }
}

pub enum Outcome {
    /// The request is the first: create, writing these rows (the reservation and its
    /// slots in the sweep's index) in the same write as what it creates. Empty: the
    /// reservation is written already.
    Reserved(Vec<(String, Vec<u8>)>),
    /// An earlier request created this id: answer with it, send nothing.
    Existing(String),
}

/// Attempts before giving up on a key that keeps changing under us, or whose first
/// request is still writing (10 ms apart: about a second).
const ATTEMPTS: usize = 100;
/// The window of a first reservation's claim: a request that claimed and died before
/// writing blocks the key for one or two windows at most (as a stale reservation does).
const CLAIM_WINDOW_MS: u64 = 10_000;

/// Reserves `dedup` for `id`. `persisted` says whether an id's record exists, so that a
/// reservation whose request died before persisting can be taken over. `Ok(None)`: the key
/// kept changing under us, or its first request kept writing (concurrent requests): the
/// caller should retry.
///
/// A first reservation of a request's own key is written by the caller with the message
/// ([`Outcome::Reserved`]'s rows): so it exists exactly when the message does, and costs
/// no write of its own ([`first_creation`] says why that is safe).
pub async fn reserve(
    dedup: &Dedup,
    id: &str,
    persisted: impl AsyncFn(&str) -> StoreResult<bool>,
) -> StoreResult<Option<Outcome>> {
    // The window in which this request lost the first creation's claim: it waits for the
    // winner's write, and claims again only in a later window.
    let mut lost_in = None;
    for _ in 0..ATTEMPTS {
        let swap = Swap::read("default", &dedup.key)?;
        let now = store::now_ms();
        if let Some(existing) = swap.current.as_deref().and_then(Reservation::decode)
            && !existing.outlived(now, dedup.window_ms)
            && (!existing.is_stale(now) || persisted(&existing.id).await?)
        {
            return Ok(Some(Outcome::Existing(existing.id)));
        }
        let ours = Reservation {
            id: id.to_string(),
            reserved_ms: now,
        };
        let created = match swap.current {
            // Taking over an outlived or stale reservation: atomic from its value.
            Some(_) => {
                let taken = swap.put(ours.encode().as_bytes())?;
                if taken {
                    store::short_lived::track(&dedup.key)?;
                }
                taken.then(Vec::new)
            }
            // A first reservation of the request's own key: written with the message.
            None if dedup.claim.is_none() => {
                let window = now / CLAIM_WINDOW_MS;
                match lost_in {
                    Some(lost) if lost == window => None,
                    _ => match first_creation(dedup)? {
                        Some(claim) => {
                            let mut rows = vec![(dedup.key.clone(), ours.encode().into_bytes())];
                            rows.extend(store::short_lived::tracking_rows(&[
                                dedup.key.clone(),
                                claim,
                            ])?);
                            Some(rows)
                        }
                        None => {
                            lost_in = Some(window);
                            None
                        }
                    },
                }
            }
            // A batch item's, under its request's claim: written now.
            None => match dedup.claim()? {
                Some(claim) => {
                    let mut rows = vec![(dedup.key.clone(), ours.encode().into_bytes())];
                    rows.extend(store::short_lived::tracking_rows(std::slice::from_ref(
                        &dedup.key,
                    ))?);
                    store::many::set_many("default", &rows)?;
                    claim.release()?;
                    Some(Vec::new())
                }
                None => None,
            },
        };
        if let Some(rows) = created {
            return Ok(Some(Outcome::Reserved(rows)));
        }
        // Another request is writing its reservation: read it in a moment.
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(10_000_000).await;
    }
    Ok(None)
}

/// Takes the right to create the reservation's key, absent when last read, in the current
/// claim window; returns the claim's key, which the creator tracks with the key it writes (the sweep
/// erases both: `messaging_domain::short_lived::reservation_past_use`). The claim is not
/// given back, so its winner may take as long as its request does to write the key:
/// - within a window, only the claim's first taker gets 1, and nobody else creates;
/// - a winner that finds the claim of the window before or after taken (and the key
///   still absent) backs off and gives its own claim back, since the other may still be
///   writing. Each increments, then reads the other's counter, so of two winners either
///   side of a boundary at least one sees the other, even if the earlier one's increment
///   landed late;
/// - two windows on, a winner creates: a winner that died before writing blocks its key
///   for 10-20 s. Two creations would need a winner that took more than a whole window
///   (10 s) to write, beyond any request's time.
fn first_creation(dedup: &Dedup) -> StoreResult<Option<String>> {
    let key = &dedup.key;
    let Some(claim) = store::claims::take_named(key, CLAIM_WINDOW_MS)? else {
        return Ok(None);
    };
    let (found, neighbour) = read_under_claim(
        std::slice::from_ref(key),
        dedup.window_ms,
        key,
        claim.window(),
    )?;
    if found[0] != Found::Absent || neighbour {
        claim.release()?;
        return Ok(None);
    }
    Ok(Some(claim.keep()))
}

/// Reserves the items of one batch request together, each `(item, id)` for the fresh id it
/// would be created with: one read of them all, and for those not reserved yet the
/// request's items claim, a second read and one write, instead of that many calls per
/// item. Returns each item's decision; `None` where this leaves it to [`reserve`]: a
/// reservation outlived or stale (taking it over is a compare-and-swap of its own), or
/// another request creating the same items now (then [`reserve`] finds the claim taken too
/// and answers as it does for one).
pub async fn reserve_items(
    request: &Dedup,
    items: &[(Dedup, String)],
) -> StoreResult<Vec<Option<Decided>>> {
    let keys: Vec<String> = items.iter().map(|(d, _)| d.key.clone()).collect();
    let mut decided = vec![None; items.len()];
    for _ in 0..ATTEMPTS {
        let found = read_all(&keys, request.window_ms)?;
        if !found.contains(&Found::Absent) {
            return Ok(decide_found(found, items, &mut decided));
        }
        let name = request.items_claim();
        if let Some(claim) = store::claims::take_named(&name, CLAIM_WINDOW_MS)? {
            // Read again under the claim: a creator before us may have written and released;
            // one holding the claim of the window before or after (a boundary between us)
            // may be writing now.
            let (found, neighbour) =
                read_under_claim(&keys, request.window_ms, &name, claim.window())?;
            if neighbour {
                if let Err(e) = claim.release() {
                    eprintln!("giving back an items claim: {e}");
                }
                spin_sdk::wasip3::clocks::monotonic_clock::wait_for(10_000_000).await;
                continue;
            }
            let now = store::now_ms();
            let mut rows = Vec::new();
            let mut created = Vec::new();
            for (i, f) in found.iter().enumerate() {
                if *f == Found::Absent {
                    let ours = Reservation {
                        id: items[i].1.clone(),
                        reserved_ms: now,
                    };
                    rows.push((keys[i].clone(), ours.encode().into_bytes()));
                    created.push(keys[i].clone());
                    decided[i] = Some(Decided::Reserved(items[i].1.clone()));
                }
            }
            rows.extend(store::short_lived::tracking_rows(&created)?);
            let written = store::many::set_many("default", &rows);
            // Once written, the reservations stand: a claim not given back only ends with
            // its window.
            if let Err(e) = claim.release() {
                eprintln!("giving back an items claim: {e}");
            }
            written?;
            return Ok(decide_found(found, items, &mut decided));
        }
        // Another request is creating them: read them in a moment.
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(10_000_000).await;
    }
    Ok(decided)
}

/// What a read found at an item's key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Absent,
    /// A live reservation that is fresh: an earlier request's, whether it has persisted
    /// its message yet or not ([`reserve`] answers such a one the same way).
    Live(String),
    /// Outlived, stale or unreadable: [`reserve`] looks at it on its own.
    Other,
}

fn read_all(keys: &[String], window_ms: Option<u64>) -> StoreResult<Vec<Found>> {
    let values = store::many::get_many("default", keys.to_vec())?;
    Ok(found_in(values.into_iter().map(|(_, v)| v), window_ms))
}

/// [`read_all`] and, in the same read, whether the claim `name` is held in the window
/// before or after `window`.
fn read_under_claim(
    keys: &[String],
    window_ms: Option<u64>,
    name: &str,
    window: u64,
) -> StoreResult<(Vec<Found>, bool)> {
    let mut asked = keys.to_vec();
    asked.extend(neighbour_claims(name, window));
    let mut values: Vec<Option<Vec<u8>>> = store::many::get_many("default", asked)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let neighbours = values.split_off(keys.len());
    Ok((
        found_in(values.into_iter(), window_ms),
        any_claimed(&neighbours),
    ))
}

fn found_in(values: impl Iterator<Item = Option<Vec<u8>>>, window_ms: Option<u64>) -> Vec<Found> {
    let now = store::now_ms();
    values
        .map(|value| match value {
            None => Found::Absent,
            Some(value) => match Reservation::decode(&value) {
                Some(r) if !r.outlived(now, window_ms) && !r.is_stale(now) => Found::Live(r.id),
                _ => Found::Other,
            },
        })
        .collect()
}

/// The keys of claim `name` in the windows either side of `window`.
fn neighbour_claims(name: &str, window: u64) -> [String; 2] {
    [
        store::claims::window_key(name, window.saturating_sub(1)),
        store::claims::window_key(name, window + 1),
    ]
}

/// Whether any of these claim counters is held.
fn any_claimed(counters: &[Option<Vec<u8>>]) -> bool {
    counters.iter().any(|c| {
        c.as_deref()
            .and_then(messaging_domain::counter::decode)
            .is_some_and(|n| n > 0)
    })
}

/// Fills in `decided` for what was found (the items this call reserved are decided already).
fn decide_found(
    found: Vec<Found>,
    items: &[(Dedup, String)],
    decided: &mut [Option<Decided>],
) -> Vec<Option<Decided>> {
    debug_assert_eq!(found.len(), items.len());
    for (slot, f) in decided.iter_mut().zip(found) {
        if slot.is_none()
            && let Found::Live(id) = f
        {
            *slot = Some(Decided::Existing(id));
        }
    }
    decided.to_vec()
}
