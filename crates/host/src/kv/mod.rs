//! The key-value stores components open by label (`key_value_stores` in spin.toml), each
//! kept by one backend: the embedded SQLite file (the default) or a Redis server, chosen
//! per label by the runtime-config file (`runtime_config.rs`), as on Spin.
//!
//! Both backends give the same guarantees, which the components rely on:
//! - `compare_and_swap`, `increment`, `set_many` and `delete_many` are atomic, also
//!   between several host processes sharing one Redis;
//! - `keys_after` lists keys in byte order from the cursor (queues, time-ordered indexes
//!   and the sweeper walk prefixes that way).

pub mod redis;
pub mod sqlite;

#[cfg(test)]
mod contract;

use crate::runtime_config::{RuntimeConfig, StoreBackend};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What a store backend does; `store` is the label a component opened.
pub trait Backend: Send + Sync {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, store: &str, key: &str) -> Result<()>;
    fn exists(&self, store: &str, key: &str) -> Result<bool>;
    /// Up to `limit` keys after `cursor` (absent: from the first), in byte order.
    fn keys_after(&self, store: &str, cursor: Option<&str>, limit: usize) -> Result<Vec<String>>;
    /// Writes `new` only if the key still holds `expected` (`None`: absent).
    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool>;
    /// Adds `delta` to the decimal integer at `key` (absent: 0) and returns the sum.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64>;
    /// Values of `keys` (absent: `None`), in order.
    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>>;
    /// Writes all pairs, all or none.
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()>;
    /// Deletes all keys, all or none.
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<()>;
    /// Every key, in byte order.
    fn keys(&self, store: &str) -> Result<Vec<String>>;
}

/// Every store of the app: labels the runtime config puts on Redis go there, every other
/// label to the SQLite file.
pub struct KvStore {
    sqlite: Arc<sqlite::SqliteKv>,
    redis: BTreeMap<String, Arc<redis::RedisKv>>,
}

impl KvStore {
    /// Opens the SQLite file at `sqlite_path` and connects to every Redis the config names
    /// (failing now, at start, if one does not answer).
    pub fn open(sqlite_path: &Path, config: &RuntimeConfig) -> Result<KvStore> {
        let sqlite = Arc::new(sqlite::SqliteKv::open(sqlite_path)?);
        sqlite::SqliteKv::sync_log_every(&sqlite, Duration::from_secs(1));
        let mut by_url: BTreeMap<String, Arc<redis::RedisKv>> = BTreeMap::new();
        let mut routed = BTreeMap::new();
        for (label, backend) in &config.stores {
            if let StoreBackend::Redis { url } = backend {
                let kv = match by_url.get(url) {
                    Some(kv) => kv.clone(),
                    None => {
                        let kv = Arc::new(redis::RedisKv::connect(url)?);
                        by_url.insert(url.clone(), kv.clone());
                        kv
                    }
                };
                routed.insert(label.clone(), kv);
            }
        }
        Ok(KvStore {
            sqlite,
            redis: routed,
        })
    }

    fn backend(&self, store: &str) -> &dyn Backend {
        match self.redis.get(store) {
            Some(redis) => redis.as_ref(),
            None => self.sqlite.as_ref(),
        }
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.backend(store).get(store, key)
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.backend(store).set(store, key, value)
    }

    pub fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.backend(store).delete(store, key)
    }

    pub fn exists(&self, store: &str, key: &str) -> Result<bool> {
        self.backend(store).exists(store, key)
    }

    pub fn keys_after(
        &self,
        store: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.backend(store).keys_after(store, cursor, limit)
    }

    pub fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        self.backend(store)
            .compare_and_swap(store, key, expected, new)
    }

    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        self.backend(store).increment(store, key, delta)
    }

    pub fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.backend(store).get_many(store, keys)
    }

    pub fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        self.backend(store).set_many(store, pairs)
    }

    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        self.backend(store).delete_many(store, keys)
    }

    pub fn keys(&self, store: &str) -> Result<Vec<String>> {
        self.backend(store).keys(store)
    }
}
