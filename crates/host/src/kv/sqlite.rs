//! The embedded key-value backend: one SQLite file, one table, rows keyed by (store label,
//! key). WAL journaling, so a write that returned is in the log before the component
//! answers (it survives a crash of the host process). `synchronous = NORMAL` does not
//! fsync each commit; `sync_log_every` fsyncs the log each second instead, so a power loss
//! loses at most about a second of work (see ARCHITECTURE.md).
//!
//! One connection writes; plain reads go to a few connections of their own. In WAL mode a
//! reader sees every transaction committed before its read began and never waits for the
//! writer, so a read-only request is not queued behind a batch being written. Reads whose
//! answer decides a write (compare-and-swap, increment) stay on the writer, so nothing can
//! commit between the read and the write.
//!
//! Checkpoints (copying the log back into the database) run every 65,536 pages (256 MiB of
//! log) rather than SQLite's 1,000: a broadcast writes one row per recipient at random
//! places in the table (provider-id mappings), and frequent checkpoints rewrote the same
//! pages over and over. Measured with bench/broadcast.py: 83 s → 58 s per million.

use super::Backend;
use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Connections for plain reads. More than the threads that call the store at once on two
/// cores, so a reader is nearly always free; each has its own page cache.
const READERS: usize = 4;

pub struct SqliteKv {
    /// Every write, and the reads that decide a write.
    writer: Mutex<Connection>,
    /// Plain reads (`query_only`), taken in turn.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// SQLite's write-ahead log beside the database.
    log: PathBuf,
}

impl SqliteKv {
    pub fn open(path: &Path) -> Result<SqliteKv> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let open = || Connection::open(path).with_context(|| format!("opening {}", path.display()));
        let writer = open()?;
        writer.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;
             PRAGMA wal_autocheckpoint = 65536;
             CREATE TABLE IF NOT EXISTS kv (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             ) WITHOUT ROWID;",
        )?;
        // Opened once the writer made the file a WAL database with its table.
        let readers = (0..READERS)
            .map(|_| {
                let reader = open()?;
                reader.execute_batch(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA cache_size = -16384;
                     PRAGMA query_only = 1;",
                )?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut log = path.as_os_str().to_owned();
        log.push("-wal");
        Ok(SqliteKv {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            log: PathBuf::from(log),
        })
    }

    /// Fsyncs the write-ahead log every `interval` for as long as the store is in use, in a
    /// thread of its own (an fsync blocks).
    pub fn sync_log_every(store: &Arc<SqliteKv>, interval: Duration) {
        let store = Arc::downgrade(store);
        std::thread::spawn(move || {
            while let Some(store) = store.upgrade() {
                if let Ok(log) = std::fs::File::open(&store.log)
                    && let Err(e) = log.sync_data()
                {
                    tracing::warn!(error = %e, "syncing the key-value log failed");
                }
                drop(store);
                std::thread::sleep(interval);
            }
        });
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free reader if there is one (starting from the next in turn), else the next in
    /// turn once it is free.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            match self.readers[(first + i) % self.readers.len()].try_lock() {
                Ok(reader) => return reader,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        self.readers[first % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for SqliteKv {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        read(&self.reader(), store, key)
    }

    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        write(&self.writer(), store, key, value)
    }

    fn delete(&self, store: &str, key: &str) -> Result<()> {
        let conn = self.writer();
        conn.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
            .execute(params![store, key])?;
        Ok(())
    }

    fn exists(&self, store: &str, key: &str) -> Result<bool> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT 1 FROM kv WHERE store = ?1 AND key = ?2")?;
        Ok(stmt.exists(params![store, key])?)
    }

    /// Up to `limit` keys after `cursor`, in key order (for paged listing).
    fn keys_after(&self, store: &str, cursor: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT key FROM kv WHERE store = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
        )?;
        let keys = stmt
            .query_map(params![store, cursor.unwrap_or(""), limit as i64], |row| {
                row.get(0)
            })?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Writes `new` only if the key still holds `expected` (`None`: absent). Atomic: the
    /// writer is held for the read and the write.
    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        let conn = self.writer();
        if read(&conn, store, key)?.as_deref() != expected {
            return Ok(false);
        }
        write(&conn, store, key, new)?;
        Ok(true)
    }

    /// Adds `delta` to the decimal integer stored at `key` (absent: 0) and returns the sum.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        let conn = self.writer();
        let current = match read(&conn, store, key)? {
            None => 0,
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| anyhow::anyhow!("value at {key} is not an integer"))?,
        };
        let sum = current
            .checked_add(delta)
            .ok_or_else(|| anyhow::anyhow!("increment overflows"))?;
        write(&conn, store, key, sum.to_string().as_bytes())?;
        Ok(sum)
    }

    /// Values of `keys` (absent: `None`), in order, all as of one moment: read in one
    /// transaction, so a `set-many` is seen whole or not at all (a history never shows
    /// `delivered` without the `sent` written with it).
    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut conn = self.reader();
        let tx = conn.transaction()?;
        let values = keys
            .iter()
            .map(|key| read(&tx, store, key))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(values)
    }

    /// Writes all pairs in one transaction: a broadcast batch's outcomes cost one commit,
    /// and a crash leaves all of them or none.
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        for (key, value) in pairs {
            write(&tx, store, key, value)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes all `keys` in one transaction.
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        for key in keys {
            tx.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
                .execute(params![store, key])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn keys(&self, store: &str) -> Result<Vec<String>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT key FROM kv WHERE store = ?1 ORDER BY key")?;
        let keys = stmt
            .query_map(params![store], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }
}

/// One value, on a connection the caller holds (so read-then-write stays atomic).
fn read(conn: &Connection, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE store = ?1 AND key = ?2")?;
    Ok(stmt
        .query_row(params![store, key], |row| row.get(0))
        .optional()?)
}

/// Inserts or replaces one value, on a connection the caller holds.
fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_it_syncs_is_sqlites_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let kv = SqliteKv::open(&dir.path().join("kv.db")).unwrap();
        kv.set("default", "k", b"v").unwrap();
        assert!(kv.log.is_file(), "{} is not the log", kv.log.display());
        assert!(std::fs::metadata(&kv.log).unwrap().len() > 0);
    }

    #[test]
    fn values_survive_reopening_and_stores_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        {
            let kv = SqliteKv::open(&path).unwrap();
            kv.set("default", "a", b"1").unwrap();
            kv.set("default", "a", b"2").unwrap();
            kv.set("pending", "a", b"p").unwrap();
            kv.set("default", "b", b"3").unwrap();
            kv.delete("default", "b").unwrap();
        }
        let kv = SqliteKv::open(&path).unwrap();
        assert_eq!(kv.get("default", "a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(kv.get("pending", "a").unwrap(), Some(b"p".to_vec()));
        assert!(!kv.exists("default", "b").unwrap());
        assert_eq!(kv.keys("default").unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn reads_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Arc::new(SqliteKv::open(&dir.path().join("kv.db")).unwrap());
        kv.set("default", "a", b"1").unwrap();
        // The writer is busy (held here) with a transaction that has written but not
        // committed: reads go on, and see only what was committed.
        let mut writer = kv.writer();
        let tx = writer.transaction().unwrap();
        write(&tx, "default", "a", b"2").unwrap();
        let (done, answer) = std::sync::mpsc::channel();
        let reading = kv.clone();
        std::thread::spawn(move || {
            let values = reading.get_many("default", &["a".into(), "b".into()]);
            let _ = done.send((reading.get("default", "a").unwrap(), values.unwrap()));
        });
        let (one, many) = answer
            .recv_timeout(Duration::from_secs(20))
            .expect("a read waited for the writer");
        assert_eq!(one, Some(b"1".to_vec()));
        assert_eq!(many, vec![Some(b"1".to_vec()), None]);
        tx.commit().unwrap();
        drop(writer);
        assert_eq!(kv.get("default", "a").unwrap(), Some(b"2".to_vec()));
    }

    #[test]
    fn keeps_the_backend_contract() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Arc::new(SqliteKv::open(&dir.path().join("kv.db")).unwrap());
        crate::kv::contract::check(kv);
    }
}
