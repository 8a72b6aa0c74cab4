//! The key-value stores components open by label (`key_value_stores` in spin.toml), each
//! kept by one backend: the embedded SQLite file (the default) or a Redis server, chosen
//! per label by the runtime-config file (`runtime_config.rs`), as on Spin.
//!
//! Both backends give the same guarantees, which the components rely on:
//! - `compare_and_swap`, `increment`, `set_many` and `delete_many` are atomic, also
//!   between several host processes sharing one Redis;
//! - `keys_after` lists keys in byte order from the cursor (queues, time-ordered indexes
//!   and the sweeper walk prefixes that way).

pub mod census;
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

/// What a store backend does; `store` is the label a component opened. Every call is
/// async: a backend never blocks a runtime worker on I/O or on another caller's write
/// (the SQLite backend groups concurrent writes into one commit, the Redis backend
/// multiplexes callers on its connection).
pub trait Backend: Send + Sync {
    fn get(&self, store: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    fn set(&self, store: &str, key: &str, value: &[u8]) -> impl Future<Output = Result<()>> + Send;
    fn delete(&self, store: &str, key: &str) -> impl Future<Output = Result<()>> + Send;
    fn exists(&self, store: &str, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Up to `limit` keys after `cursor` (absent: from the first), in byte order.
    fn keys_after(
        &self,
        store: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Writes `new` only if the key still holds `expected` (`None`: absent).
    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Adds `delta` to the decimal integer at `key` (absent: 0) and returns the sum.
    fn increment(
        &self,
        store: &str,
        key: &str,
        delta: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// Values of `keys` (absent: `None`), in order, as of one moment.
    fn get_many(
        &self,
        store: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>>> + Send;
    /// Writes all pairs, all or none.
    fn set_many(
        &self,
        store: &str,
        pairs: &[(String, Vec<u8>)],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes all keys, all or none.
    fn delete_many(&self, store: &str, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Every key, in byte order.
    fn keys(&self, store: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// Every store of the app: labels the runtime config puts on Redis go there, every other
/// label to the SQLite file.
pub struct KvStore {
    sqlite: Arc<sqlite::SqliteKv>,
    redis: BTreeMap<String, Arc<redis::RedisKv>>,
    /// Kept only when `messaging_host::kv` logs at debug level (`census.rs`).
    census: Option<census::Census>,
}

impl KvStore {
    /// Opens the SQLite file at `sqlite_path` and connects to every Redis the config names
    /// (failing now, at start, if one does not answer).
    pub async fn open(sqlite_path: &Path, config: &RuntimeConfig) -> Result<KvStore> {
        let sqlite = Arc::new(sqlite::SqliteKv::open(sqlite_path)?);
        sqlite::SqliteKv::sync_log_every(&sqlite, Duration::from_secs(1));
        let mut by_url: BTreeMap<String, Arc<redis::RedisKv>> = BTreeMap::new();
        let mut routed = BTreeMap::new();
        for (label, backend) in &config.stores {
            if let StoreBackend::Redis { url } = backend {
                let kv = match by_url.get(url) {
                    Some(kv) => kv.clone(),
                    None => {
                        let kv = Arc::new(redis::RedisKv::connect(url).await?);
                        by_url.insert(url.clone(), kv.clone());
                        kv
                    }
                };
                routed.insert(label.clone(), kv);
            }
        }
        let census = tracing::enabled!(target: "messaging_host::kv", tracing::Level::DEBUG)
            .then(census::Census::default);
        Ok(KvStore {
            sqlite,
            redis: routed,
            census,
        })
    }

    /// The SQLite file's commits so far (`sqlite::CommitStats`).
    pub fn sqlite_stats(&self) -> sqlite::CommitStats {
        self.sqlite.stats()
    }

    /// The store calls counted so far, if the census is on.
    pub fn census(&self) -> Option<&census::Census> {
        self.census.as_ref()
    }

    fn count(&self, op: &'static str, first_key: Option<&str>, keys: usize) {
        if let (Some(census), Some(key)) = (&self.census, first_key) {
            census.count(op, key, keys);
        }
    }

    fn redis(&self, store: &str) -> Option<&redis::RedisKv> {
        self.redis.get(store).map(|r| r.as_ref())
    }

    pub async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.count("get", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.get(store, key).await,
            None => self.sqlite.get(store, key).await,
        }
    }

    pub async fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.count("set", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.set(store, key, value).await,
            None => self.sqlite.set(store, key, value).await,
        }
    }

    pub async fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.count("delete", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.delete(store, key).await,
            None => self.sqlite.delete(store, key).await,
        }
    }

    pub async fn exists(&self, store: &str, key: &str) -> Result<bool> {
        self.count("exists", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.exists(store, key).await,
            None => self.sqlite.exists(store, key).await,
        }
    }

    pub async fn keys_after(
        &self,
        store: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.count("keys_after", Some(cursor.unwrap_or("")), 1);
        match self.redis(store) {
            Some(r) => r.keys_after(store, cursor, limit).await,
            None => self.sqlite.keys_after(store, cursor, limit).await,
        }
    }

    pub async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        self.count("compare_and_swap", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.compare_and_swap(store, key, expected, new).await,
            None => {
                self.sqlite
                    .compare_and_swap(store, key, expected, new)
                    .await
            }
        }
    }

    pub async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        self.count("increment", Some(key), 1);
        match self.redis(store) {
            Some(r) => r.increment(store, key, delta).await,
            None => self.sqlite.increment(store, key, delta).await,
        }
    }

    pub async fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.count("get_many", keys.first().map(String::as_str), keys.len());
        match self.redis(store) {
            Some(r) => r.get_many(store, keys).await,
            None => self.sqlite.get_many(store, keys).await,
        }
    }

    pub async fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        self.count(
            "set_many",
            pairs.first().map(|(k, _)| k.as_str()),
            pairs.len(),
        );
        match self.redis(store) {
            Some(r) => r.set_many(store, pairs).await,
            None => self.sqlite.set_many(store, pairs).await,
        }
    }

    pub async fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        self.count("delete_many", keys.first().map(String::as_str), keys.len());
        match self.redis(store) {
            Some(r) => r.delete_many(store, keys).await,
            None => self.sqlite.delete_many(store, keys).await,
        }
    }

    pub async fn keys(&self, store: &str) -> Result<Vec<String>> {
        self.count("keys", Some(store), 1);
        match self.redis(store) {
            Some(r) => r.keys(store).await,
            None => self.sqlite.keys(store).await,
        }
    }
}
