//! The runtime-config file, in Spin's format, so one file configures `spin up
//! --runtime-config-file` and this host alike. The host reads the key-value stores:
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"
//! url = "redis://127.0.0.1:6379"
//!
//! [key_value_store.pending]
//! type = "spin"          # SQLite; the host keeps it in <data-dir>/kv.db
//! path = ".spin/pending.db"
//! ```
//!
//! Labels the file does not name stay in the host's SQLite file. Other sections (Spin's
//! `[sqlite_database]`, `[llm_compute]`, ...) are not used by the gateway and are ignored.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Where a key-value store label lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// The host's embedded SQLite file (Spin's `type = "spin"`).
    Sqlite,
    /// A Redis server (`type = "redis"`, `url`).
    Redis { url: String },
}

#[derive(Debug, Default, Clone)]
pub struct RuntimeConfig {
    pub stores: BTreeMap<String, StoreBackend>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    key_value_store: BTreeMap<String, StoreSection>,
}

#[derive(Deserialize)]
struct StoreSection {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> Result<RuntimeConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        RuntimeConfig::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<RuntimeConfig> {
        let file: File = toml::from_str(text)?;
        let mut stores = BTreeMap::new();
        for (label, section) in file.key_value_store {
            let backend = match (section.kind.as_str(), section.url) {
                ("spin", _) => StoreBackend::Sqlite,
                ("redis", Some(url)) => StoreBackend::Redis { url },
                ("redis", None) => bail!("key_value_store.{label}: type \"redis\" needs a url"),
                (other, _) => bail!(
                    "key_value_store.{label}: type {other:?} is not one this host keeps (spin, redis)"
                ),
            };
            stores.insert(label, backend);
        }
        Ok(RuntimeConfig { stores })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spin_and_redis_stores() {
        let config = RuntimeConfig::parse(
            r#"
            [key_value_store.default]
            type = "redis"
            url = "redis://127.0.0.1:6379/0"

            [key_value_store.pending]
            type = "spin"
            path = ".spin/pending.db"

            [sqlite_database.default]
            type = "spin"
            "#,
        )
        .unwrap();
        assert_eq!(
            config.stores["default"],
            StoreBackend::Redis {
                url: "redis://127.0.0.1:6379/0".into()
            }
        );
        assert_eq!(config.stores["pending"], StoreBackend::Sqlite);
    }

    #[test]
    fn refuses_what_it_cannot_keep() {
        let no_url = RuntimeConfig::parse("[key_value_store.default]\ntype = \"redis\"\n");
        assert!(format!("{:#}", no_url.unwrap_err()).contains("needs a url"));
        let other = RuntimeConfig::parse(
            "[key_value_store.default]\ntype = \"azure_cosmos\"\naccount = \"x\"\n",
        );
        assert!(format!("{:#}", other.unwrap_err()).contains("azure_cosmos"));
    }

    #[test]
    fn the_repository_files_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        RuntimeConfig::load(&root.join("runtime-config.toml")).unwrap();
        let redis =
            RuntimeConfig::load(&root.join("infra/spin/runtime-config.redis.toml")).unwrap();
        for label in ["default", "pending"] {
            assert!(
                matches!(redis.stores[label], StoreBackend::Redis { .. }),
                "{label}"
            );
        }
    }
}
