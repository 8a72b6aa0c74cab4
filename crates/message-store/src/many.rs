//! Many keys at once (`wasi:keyvalue/batch`): a broadcast batch reads its members and
//! writes its outcomes in one call each, which the project host turns into one SQLite
//! transaction, instead of one round trip per recipient.

use crate::{StoreError, StoreResult, keyring, random_16};
use spin_sdk::experimental::wasi::keyvalue::{batch, store as wkv};

/// Values of `keys` in store `label`, in order (absent: `None`).
pub fn get_many(label: &str, keys: Vec<String>) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let bucket = wkv::open(label)?;
    Ok(batch::get_many(&bucket, &keys)?)
}

/// Writes every pair to store `label` at once.
pub fn set_many(label: &str, pairs: &[(String, Vec<u8>)]) -> StoreResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let bucket = wkv::open(label)?;
    Ok(batch::set_many(&bucket, pairs)?)
}

/// Deletes every key of store `label` at once.
pub fn delete_many(label: &str, keys: &[String]) -> StoreResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = wkv::open(label)?;
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
/// it does not parse as a `T`; an error: no key of `storage_keys` opens it.
pub async fn open_one<T: serde::de::DeserializeOwned>(
    key: &str,
    stored: &[u8],
) -> StoreResult<Option<T>> {
    let plain = match keyring().await?.open(key, stored) {
        Ok(Some(plain)) => plain,
        Ok(None) => stored.to_vec(),
        Err(e) => return Err(StoreError(format!("{key}: {e}"))),
    };
    Ok(serde_json::from_slice(&plain).ok())
}
