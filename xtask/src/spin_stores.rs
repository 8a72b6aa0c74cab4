//! Spin's SQLite key-value files, made in WAL mode before Spin first opens them.
//!
//! Spin commits every `wasi:keyvalue` call on its own and opens its SQLite files with
//! SQLite's default rollback journal: each write creates a journal file, syncs the disk
//! twice and deletes the journal. In WAL mode a commit appends to the log and syncs it
//! once, and Spin's connections still sync every commit (SQLite's default `synchronous`),
//! so an answered write survives a crash as before. The journal mode is kept in the file:
//! setting it once, while no Spin has the file open, is enough. README.md, "Run on Spin",
//! tells operators the same; the test harness (`tests/src/runtime.rs`) and the
//! benchmarks (`bench/common.py`) do it too.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// The SQLite files of the stores in runtime-config.toml, under Spin's state directory:
/// the default store, `pending` and `outbox`.
pub const FILES: [&str; 3] = ["sqlite_key_value.db", "pending.db", "outbox.db"];

/// Makes each of [`FILES`] under `state_dir` a WAL database (creating it if need be).
pub fn in_wal_mode(state_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    for file in FILES {
        let path = state_dir.join(file);
        let conn = rusqlite::Connection::open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .with_context(|| {
                format!("setting WAL mode on {} (is Spin running?)", path.display())
            })?;
        if mode != "wal" {
            bail!("{} stays in {mode} mode (is Spin running?)", path.display());
        }
    }
    Ok(())
}
