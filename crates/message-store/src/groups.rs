//! Groups and their members. A member is one key (`grp/<id>/m/<member hash>`) holding the
//! sealed member, so adding is idempotent and removing needs no scan; each member also
//! takes a numbered slot, so a group of a million members is walked a page of slots at a
//! time, never listed (`list-keys` gives no order on Spin's stores).

use crate::log::{Log, Page};
use crate::many::{delete_many, get_many, seal_all, set_many};
use crate::{StoreResult, counters};
use messaging_domain::group::{GroupRecord, Member};
use messaging_domain::{GroupId, keys};
use spin_sdk::key_value::Store;
use std::collections::BTreeMap;

/// How long a keyword's creation claim lasts: a creation that died between its claim and
/// its write leaves the keyword unclaimable this long.
const KEYWORD_CLAIM_WINDOW_MS: u64 = 60_000;

/// Stores a new group. `Ok(false)`: its keyword belongs to another group, and nothing
/// was stored.
pub async fn create(kv: &Store, record: &GroupRecord) -> StoreResult<bool> {
    if let Some(keyword) = &record.keyword {
        // A keyword is created once: a claim decides between racing creations (a
        // compare-and-swap from absent would not, on every backend).
        let key = keys::group_keyword(keyword);
        let Some(claim) = crate::claims::take(&key, KEYWORD_CLAIM_WINDOW_MS)? else {
            return Ok(false);
        };
        set_many("default", &[(key, record.id.as_str().as_bytes().to_vec())])?;
        claim.release()?;
    }
    kv.set(
        keys::group(&record.id),
        serde_json::to_vec(record).expect("json"),
    )
    .await?;
    kv.set(
        keys::group_by_name(&record.owner, &record.name),
        record.id.as_str(),
    )
    .await?;
    Ok(true)
}

/// The group whose keyword this is.
pub async fn by_keyword(kv: &Store, keyword: &str) -> StoreResult<Option<GroupId>> {
    Ok(kv
        .get(keys::group_keyword(keyword))
        .await?
        .and_then(|b| GroupId::parse(std::str::from_utf8(&b).ok()?)))
}

/// The owner's groups named (case-insensitively) by any of `names`.
pub async fn named(
    kv: &Store,
    owner: &str,
    names: impl IntoIterator<Item = &str>,
) -> StoreResult<Vec<GroupId>> {
    let mut found = Vec::new();
    for name in names {
        if let Some(id) = kv
            .get(keys::group_by_name(owner, name))
            .await?
            .and_then(|b| GroupId::parse(std::str::from_utf8(&b).ok()?))
            && !found.contains(&id)
        {
            found.push(id);
        }
    }
    Ok(found)
}

pub async fn get(kv: &Store, id: &GroupId) -> StoreResult<Option<GroupRecord>> {
    Ok(kv
        .get(keys::group(id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

pub async fn member_count(_kv: &Store, id: &GroupId) -> StoreResult<u64> {
    Ok(counters::read(&keys::group_count(id))?.max(0) as u64)
}

fn add_to_count(id: &GroupId, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        counters::add(&keys::group_count(id), delta)?;
    }
    Ok(())
}

/// Stores `members` under `prefix` (a group's or a broadcast's roster), sealed,
/// replacing the language of members already there. Returns how many were new.
///
/// Every member is written in one batch. A member that was absent is counted by the
/// request whose claim on it ([`keys::roster_claim`]) returns 1, so when several requests
/// add one member at once exactly one counts it, on every backend (compare-and-swap from
/// an absent value is an upsert on Spin's SQLite store, so it cannot decide this). That
/// request also gives the member its slot, by which walks find it ([`roster_page`]).
pub async fn put_members(prefix: &str, hashing_key: &[u8], members: &[Member]) -> StoreResult<u64> {
    // The same member twice in one request is one member.
    let by_key: BTreeMap<String, &Member> = members
        .iter()
        .map(|m| (format!("{prefix}{}", m.hash(hashing_key)), m))
        .collect();
    let absent: Vec<String> = get_many("default", by_key.keys().cloned().collect())?
        .into_iter()
        .filter_map(|(k, v)| v.is_none().then_some(k))
        .collect();
    let sealed = seal_all(by_key.into_iter().map(|(k, m)| (k, m.stored()))).await?;
    set_many("default", &sealed)?;
    let mut claimed = Vec::new();
    for key in absent {
        if counters::add(&keys::roster_claim(&key), 1)? == 1 {
            claimed.push(key);
        }
    }
    give_slots(prefix, &claimed)?;
    Ok(claimed.len() as u64)
}

/// Gives each newly added member (its key) the next slot of the roster's list, and
/// records which slot it took, so that removing it empties the slot.
fn give_slots(prefix: &str, added: &[String]) -> StoreResult<()> {
    let hashes: Vec<String> = added
        .iter()
        .map(|k| k[prefix.len()..].to_string())
        .collect();
    let slots = Log::new(keys::roster_log(prefix)).append(&hashes)?;
    let rows: Vec<(String, Vec<u8>)> = added
        .iter()
        .zip(slots)
        .map(|(key, n)| (keys::roster_slot_of(key), n.to_string().into_bytes()))
        .collect();
    set_many("default", &rows)
}

/// Adds members to a group (idempotent). Returns how many were new.
pub async fn add(id: &GroupId, hashing_key: &[u8], members: &[Member]) -> StoreResult<u64> {
    let new = put_members(&keys::group_members(id), hashing_key, members).await?;
    add_to_count(id, new as i64)?;
    Ok(new)
}

/// Removes members from a group (absent ones are ignored). Returns how many were removed.
pub async fn remove(id: &GroupId, hashing_key: &[u8], members: &[Member]) -> StoreResult<u64> {
    let prefix = keys::group_members(id);
    let wanted: Vec<String> = members
        .iter()
        .map(|m| format!("{prefix}{}", m.hash(hashing_key)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let present: Vec<String> = get_many("default", wanted)?
        .into_iter()
        .filter_map(|(k, v)| v.map(|_| k))
        .collect();
    let slot_of: Vec<String> = present.iter().map(|k| keys::roster_slot_of(k)).collect();
    let slots: Vec<u64> = get_many("default", slot_of.clone())?
        .into_iter()
        .filter_map(|(_, v)| std::str::from_utf8(&v?).ok()?.parse().ok())
        .collect();
    Log::new(keys::roster_log(&prefix)).remove(&slots)?;
    let claims = present.iter().map(|k| keys::roster_claim(k));
    let gone: Vec<String> = present
        .iter()
        .cloned()
        .chain(claims)
        .chain(slot_of)
        .collect();
    delete_many("default", &gone)?;
    add_to_count(id, -(present.len() as i64))?;
    Ok(present.len() as u64)
}

/// Up to `limit` slots of the roster under `prefix` after slot `after` (0: from the
/// first): its members in the order they were added, by number, in one batch read.
pub fn roster_page(prefix: &str, after: u64, limit: u64) -> StoreResult<Page> {
    Log::new(keys::roster_log(prefix)).page(after, limit)
}
