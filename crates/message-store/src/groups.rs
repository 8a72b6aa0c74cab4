//! Groups and their members. A member is one key (`grp/<id>/m/<member hash>`) holding the
//! sealed member, so adding is idempotent, removing needs no scan, and a group of a
//! million members is read a page at a time, never whole.

use crate::many::{delete_many, get_many, seal_all, set_many};
use crate::{StoreResult, Swap, page};
use messaging_domain::group::{GroupRecord, Member};
use messaging_domain::{GroupId, keys};
use spin_sdk::key_value::Store;
use std::collections::BTreeMap;

/// Stores a new group. `Ok(false)`: its keyword belongs to another group, and nothing
/// was stored.
pub async fn create(kv: &Store, record: &GroupRecord) -> StoreResult<bool> {
    if let Some(keyword) = &record.keyword {
        let swap = Swap::read("default", &keys::group_keyword(keyword))?;
        if swap.current.is_some() || !swap.put(record.id.as_str().as_bytes())? {
            return Ok(false);
        }
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
    Ok(crate::counters::read(&keys::group_count(id))?.max(0) as u64)
}

fn add_to_count(id: &GroupId, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        crate::counters::add(&keys::group_count(id), delta)?;
    }
    Ok(())
}

/// Stores `members` under `prefix` (a group's or a broadcast's), sealed, replacing the
/// language of members already there. Returns how many were new.
///
/// Every member is written in one batch. A member that was absent is counted by the
/// request whose claim on it returns 1: the claim is an atomic increment of
/// [`added_key`], so when several requests add one member at once exactly one counts it,
/// on every backend (compare-and-swap from an absent value is an upsert on Spin's SQLite
/// store, so it cannot decide this). The count is a counter beside the members, not a scan.
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
    let mut new = 0;
    for key in absent {
        if crate::counters::add(&added_key(&key), 1)? == 1 {
            new += 1;
        }
    }
    Ok(new)
}

/// The claim beside a member's key: the first request to add the member increments it to
/// 1. Member pages skip it (its name has a `/` after the member's hash).
fn added_key(member_key: &str) -> String {
    format!("{member_key}/added")
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
    let claims = present.iter().map(|k| added_key(k));
    let gone: Vec<String> = present.iter().cloned().chain(claims).collect();
    delete_many("default", &gone)?;
    add_to_count(id, -(present.len() as i64))?;
    Ok(present.len() as u64)
}

/// Up to `limit` member hashes under `prefix`, in order after `after`.
pub fn member_page(prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>> {
    page("default", prefix, after, limit, |rest| {
        (!rest.contains('/')).then(|| rest.to_string())
    })
}
