//! Many keys at once (`wasi:keyvalue/batch`): a broadcast batch reads its members and
//! writes its outcomes in one call each, which the project host turns into one SQLite
//! transaction, instead of one round trip per recipient.

use crate::{StoreError, StoreResult, keyring, random_16};
use spin_sdk::experimental::wasi::keyvalue::batch;

/// Values of `keys` in store `label`, one per key in the order asked (absent: `None`).
///
/// `wasi:keyvalue/batch.get-many` promises neither order nor the absent keys: Spin's
/// SQLite store returns only the keys that exist. Answers are matched to the keys by name,
/// so callers may zip the result with what they asked for.
///
/// On Spin's own Redis store ([`crate::backend`]) the keys are read one `get` at a time.
pub fn get_many(label: &str, keys: Vec<String>) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let bucket = crate::buckets::open(label)?;
    if !crate::backend::takes_get_many() {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let value = bucket.get(&key)?;
            values.push((key, value));
        }
        return Ok(values);
    }
    let found = batch::get_many(&bucket, &keys)?;
    Ok(in_asked_order(keys, found))
}

/// The value of one key of store `label` (absent: `None`).
pub fn get_one(label: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
    Ok(crate::buckets::open(label)?.get(key)?)
}

/// Pairs each asked key with its value among `found` (any order, absent keys left out or
/// `None`).
fn in_asked_order(
    keys: Vec<String>,
    found: Vec<(String, Option<Vec<u8>>)>,
) -> Vec<(String, Option<Vec<u8>>)> {
    let values: std::collections::HashMap<String, Vec<u8>> = found
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    keys.into_iter()
        .map(|key| {
            let value = values.get(&key).cloned();
            (key, value)
        })
        .collect()
}

/// Writes every pair to store `label` at once.
pub fn set_many(label: &str, pairs: &[(String, Vec<u8>)]) -> StoreResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let bucket = crate::buckets::open(label)?;
    Ok(batch::set_many(&bucket, pairs)?)
}

/// Deletes every key of store `label` at once.
pub fn delete_many(label: &str, keys: &[String]) -> StoreResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = crate::buckets::open(label)?;
    Ok(batch::delete_many(&bucket, keys)?)
}

/// Seals each value under its key (as [`crate::put_sealed`] does), ready for [`set_many`].
pub async fn seal_all<T: serde::Serialize>(
    values: impl IntoIterator<Item = (String, T)>,
) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let ring = keyring().await?;
    Ok(values
        .into_iter()
        .map(|(key, value)| {
            let plain = serde_json::to_vec(&value).expect("stored values serialise");
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&random_16()[..12]);
            let sealed = ring.seal(&key, &plain, nonce);
            (key, sealed)
        })
        .collect())
}

/// Opens a value that [`seal_all`] or [`crate::put_sealed`] wrote under `key`. `Ok(None)`:
/// it does not parse as a `T`; an error: no key of `storage_keys` opens it, or it is not
/// sealed at all.
pub async fn open_one<T: serde::de::DeserializeOwned>(
    key: &str,
    stored: &[u8],
) -> StoreResult<Option<T>> {
    let plain = keyring()
        .await?
        .open(key, stored)
        .map_err(|e| StoreError(format!("{key}: {e}")))?;
    Ok(serde_json::from_slice(&plain).ok())
}
