//! The embedded key-value backend: one SQLite file, one table, rows keyed by (store label,
//! key). WAL journaling, so a write that returned is in the log before the component
//! answers (it survives a crash of the host process). `synchronous = NORMAL` does not
//! fsync each commit; `sync_log_every` fsyncs the log each second instead, so a power loss
//! loses at most about a second of work (see ARCHITECTURE.md).
//!
//! Group commit. A commit is the expensive part of a small write (the log's frames, the
//! file locks), and a message makes a few dozen small writes. So every write becomes a job
//! in one queue, and whoever finds the writer's connection free runs the queue (flat
//! combining: no thread of its own, and no hand-over when there is no contention): the
//! queued writes, in queue order, in one transaction; compare-and-swap and increment read
//! what the writes before them in that transaction left. Each caller is answered only
//! after the commit, so "202 only after persisted" holds for every write. Jobs that came
//! while a group ran form the next group.
//!
//! Reads do not wait for the writer: each runs at once in one read transaction (one
//! snapshot: a `get-many` never sees half a `set-many`), and sees every commit answered
//! before it began. A point read (a key, or a few) runs on the writer's connection when
//! no group holds it, else on one of [`READERS`] connections of its own. Why the writer's
//! first: SQLite empties a connection's page cache whenever another connection has
//! written to the log since its last transaction, so under a steady stream of commits
//! every reader starts cold (clearing its cache, reading each page of the B-tree again
//! from the log, allocating and freeing page buffers: about a tenth of the host's CPU on
//! single messages). The writer's own commits do not empty its cache. A long read (key
//! listings, large `get-many`) always goes to a reader, so it never holds a write up.
//! Other processes may still open the file (the tests read it from outside).
//!
//! Checkpoints (copying the log back into the database) run every 65,536 pages (256 MiB of
//! log) rather than SQLite's 1,000: a broadcast writes one row per recipient at random
//! places in the table (provider-id mappings), and frequent checkpoints rewrote the same
//! pages over and over. Measured with bench/broadcast.py: 83 s → 58 s per million.

use super::Backend;
use anyhow::{Context, Result, anyhow};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// Connections for reads. More than the threads that call the store at once on two
/// cores, so a reader is nearly always free; each has its own page cache.
const READERS: usize = 4;
/// The most keys a read may ask for and still run on the writer's connection: reading
/// them holds every write back meanwhile.
const WARM_READ_KEYS: usize = 32;

pub struct SqliteKv {
    /// The writer: every write, in groups.
    conn: Mutex<Connection>,
    queue: Mutex<VecDeque<Job>>,
    /// Reads (`query_only`), taken in turn.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// SQLite's write-ahead log beside the database.
    log: PathBuf,
    commits: AtomicU64,
    writes: AtomicU64,
    reads: AtomicU64,
    warm_reads: AtomicU64,
}

/// One call, waiting in the queue.
struct Job {
    op: Op,
    answer: oneshot::Sender<Result<Answer>>,
}

enum Op {
    Get {
        store: String,
        key: String,
    },
    Exists {
        store: String,
        key: String,
    },
    KeysAfter {
        store: String,
        cursor: Option<String>,
        limit: usize,
    },
    Keys {
        store: String,
    },
    GetMany {
        store: String,
        keys: Vec<String>,
    },
    Set {
        store: String,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        store: String,
        key: String,
    },
    CompareAndSwap {
        store: String,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    },
    Increment {
        store: String,
        key: String,
        delta: i64,
    },
    SetMany {
        store: String,
        pairs: Vec<(String, Vec<u8>)>,
    },
    DeleteMany {
        store: String,
        keys: Vec<String>,
    },
}

impl Op {
    fn writes(&self) -> bool {
        !matches!(
            self,
            Op::Get { .. }
                | Op::Exists { .. }
                | Op::KeysAfter { .. }
                | Op::Keys { .. }
                | Op::GetMany { .. }
        )
    }
}

enum Answer {
    Value(Option<Vec<u8>>),
    Values(Vec<Option<Vec<u8>>>),
    Keys(Vec<String>),
    Bool(bool),
    Sum(i64),
    Done,
}

/// What the store has committed so far, for operators and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    pub commits: u64,
    pub writes: u64,
    /// Read calls, and how many of them ran on the writer's warm connection.
    pub reads: u64,
    pub warm_reads: u64,
}

impl SqliteKv {
    pub fn open(path: &Path) -> Result<SqliteKv> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let open = || Connection::open(path).with_context(|| format!("opening {}", path.display()));
        let conn = open()?;
        conn.execute_batch(
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
            conn: Mutex::new(conn),
            queue: Mutex::new(VecDeque::new()),
            readers,
            next_reader: AtomicUsize::new(0),
            log: PathBuf::from(log),
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            warm_reads: AtomicU64::new(0),
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

    /// Commits and the writes they carried, since the store was opened.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            warm_reads: self.warm_reads.load(Ordering::Relaxed),
        }
    }

    /// Reads at once (on the writer's connection if free and the read is short, else on
    /// a reader); queues a write and waits for its answer, running the queue if the
    /// writer's connection is free.
    async fn call(self: &Arc<Self>, op: Op) -> Result<Answer> {
        if !op.writes() {
            self.reads.fetch_add(1, Ordering::Relaxed);
            if let Some(answer) = self.read_warm(&op) {
                return answer;
            }
            return read_in_snapshot(&mut self.reader(), &op);
        }
        let (answer, answered) = oneshot::channel();
        self.lock_queue().push_back(Job { op, answer });
        self.combine();
        answered
            .await
            .map_err(|_| anyhow!("the key-value store dropped a call"))?
    }

    /// A free reader if there is one (starting from the next in turn), else the next in
    /// turn once it is free.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Some(reader) = if_free(&self.readers[(first + i) % self.readers.len()]) {
                return reader;
            }
        }
        self.readers[first % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a short read on the writer's connection if no group holds it (`None`
    /// otherwise). Writes queued meanwhile found the connection taken and left their group
    /// to its holder: they are handed to a blocking thread, so this read does not wait for
    /// them (the same look after unlocking as [`Self::combine`]).
    fn read_warm(self: &Arc<Self>, op: &Op) -> Option<Result<Answer>> {
        let short = match op {
            Op::Get { .. } | Op::Exists { .. } => true,
            Op::GetMany { keys, .. } => keys.len() <= WARM_READ_KEYS,
            _ => false,
        };
        if !short {
            return None;
        }
        let answer = {
            let mut conn = if_free(&self.conn)?;
            read_in_snapshot(&mut conn, op)
        };
        self.warm_reads.fetch_add(1, Ordering::Relaxed);
        if !self.lock_queue().is_empty() {
            self.combine_elsewhere();
        }
        Some(answer)
    }

    /// Runs the queue on a blocking thread (inline outside a runtime, as in unit tests
    /// without one).
    fn combine_elsewhere(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let store = self.clone();
            tokio::task::spawn_blocking(move || store.combine());
        } else {
            self.combine();
        }
    }

    fn lock_queue(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the queue as one group if the connection is free. A caller that runs a group
    /// runs only one: the jobs queued meanwhile go to a blocking thread, so a runtime
    /// worker never serves group after group while the instances it runs wait. A job
    /// queued after the last look and before the unlock found the connection taken and
    /// left it to this caller: so after unlocking, look once more.
    fn combine(self: &Arc<Self>) {
        loop {
            // Whoever holds it runs this job too.
            let Some(mut conn) = if_free(&self.conn) else {
                return;
            };
            let jobs: Vec<Job> = self.lock_queue().drain(..).collect();
            if !jobs.is_empty() {
                self.run_group(&mut conn, jobs);
            }
            drop(conn);
            if self.lock_queue().is_empty() {
                return;
            }
            if tokio::runtime::Handle::try_current().is_ok() {
                self.combine_elsewhere();
                return;
            }
        }
    }

    /// Makes the group's writes in one commit. If any of them fails (an I/O error, a
    /// value that is not an integer), the group is undone and each of its writes made again
    /// in a commit of its own, so a failure stays its own and the others still commit.
    fn run_group(&self, conn: &mut Connection, writes: Vec<Job>) {
        match commit_together(conn, &writes) {
            Ok(answers) => {
                self.counted(1, writes.len());
                for (job, answer) in writes.into_iter().zip(answers) {
                    let _ = job.answer.send(Ok(answer));
                }
            }
            Err(_) if writes.len() > 1 => {
                for job in writes {
                    let answer = commit_together(conn, std::slice::from_ref(&job))
                        .map(|mut answers| answers.remove(0));
                    self.counted(1, 1);
                    let _ = job.answer.send(answer);
                }
            }
            Err(e) => {
                self.counted(1, 1);
                answer_all(writes, &e);
            }
        }
    }

    fn counted(&self, commits: u64, writes: usize) {
        self.commits.fetch_add(commits, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
    }
}

/// The jobs' writes in queue order in one transaction, committed only if every one of them
/// succeeded. No savepoints: inside one, SQLite copies each page a write first touches into
/// a sub-journal (a temporary file once past 64 KiB), so a broadcast's large `set-many`
/// wrote its pages twice. Undoing the whole group on the rare failure and making its
/// writes one by one gives the same answers.
fn commit_together(conn: &mut Connection, jobs: &[Job]) -> Result<Vec<Answer>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let answers = jobs
        .iter()
        .map(|job| write_op(&tx, &job.op))
        .collect::<Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(answers)
}

/// Answers every job with the same failure (a transaction that did not begin or commit).
fn answer_all(jobs: Vec<Job>, e: &anyhow::Error) {
    for job in jobs {
        let _ = job.answer.send(Err(anyhow!("{e:#}")));
    }
}

/// The connection if no one holds it now. A holder that panicked left no transaction
/// open (a dropped transaction rolls back), so its connection is used as it is.
fn if_free(conn: &Mutex<Connection>) -> Option<MutexGuard<'_, Connection>> {
    match conn.try_lock() {
        Ok(conn) => Some(conn),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// `op` in one read transaction of `conn`: one snapshot for all its keys.
fn read_in_snapshot(conn: &mut Connection, op: &Op) -> Result<Answer> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let answer = read_op(&tx, op)?;
    tx.commit()?;
    Ok(answer)
}

fn read_op(conn: &Connection, op: &Op) -> Result<Answer> {
    Ok(match op {
        Op::Get { store, key } => Answer::Value(read(conn, store, key)?),
        Op::Exists { store, key } => Answer::Bool(
            conn.prepare_cached("SELECT 1 FROM kv WHERE store = ?1 AND key = ?2")?
                .exists(params![store, key])?,
        ),
        Op::KeysAfter {
            store,
            cursor,
            limit,
        } => Answer::Keys(
            conn.prepare_cached(
                "SELECT key FROM kv WHERE store = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
            )?
            .query_map(
                params![store, cursor.as_deref().unwrap_or(""), *limit as i64],
                |row| row.get(0),
            )?
            .collect::<Result<Vec<String>, _>>()?,
        ),
        Op::Keys { store } => Answer::Keys(
            conn.prepare_cached("SELECT key FROM kv WHERE store = ?1 ORDER BY key")?
                .query_map(params![store], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?,
        ),
        Op::GetMany { store, keys } => Answer::Values(
            keys.iter()
                .map(|key| read(conn, store, key))
                .collect::<Result<Vec<_>>>()?,
        ),
        _ => unreachable!("writes are not reads"),
    })
}

/// Makes one write inside the group's transaction. An error leaves the transaction half
/// done: the caller undoes it (see [`commit_together`]).
fn write_op(conn: &Connection, op: &Op) -> Result<Answer> {
    Ok(match op {
        Op::Set { store, key, value } => {
            write(conn, store, key, value)?;
            Answer::Done
        }
        Op::Delete { store, key } => {
            delete(conn, store, key)?;
            Answer::Done
        }
        Op::CompareAndSwap {
            store,
            key,
            expected,
            new,
        } => {
            if read(conn, store, key)? != *expected {
                return Ok(Answer::Bool(false));
            }
            write(conn, store, key, new)?;
            Answer::Bool(true)
        }
        Op::Increment { store, key, delta } => {
            let current = match read(conn, store, key)? {
                None => 0,
                Some(bytes) => std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| anyhow!("value at {key} is not an integer"))?,
            };
            let sum = current
                .checked_add(*delta)
                .ok_or_else(|| anyhow!("increment overflows"))?;
            write(conn, store, key, sum.to_string().as_bytes())?;
            Answer::Sum(sum)
        }
        Op::SetMany { store, pairs } => {
            for (k, v) in pairs {
                write(conn, store, k, v)?;
            }
            Answer::Done
        }
        Op::DeleteMany { store, keys } => {
            for k in keys {
                delete(conn, store, k)?;
            }
            Answer::Done
        }
        _ => unreachable!("reads are not writes"),
    })
}

/// One value, on the connection of the running group.
fn read(conn: &Connection, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE store = ?1 AND key = ?2")?;
    Ok(stmt
        .query_row(params![store, key], |row| row.get(0))
        .optional()?)
}

/// Inserts or replaces one value.
fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])?;
    Ok(())
}

fn delete(conn: &Connection, store: &str, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
        .execute(params![store, key])?;
    Ok(())
}

fn unexpected(answer: Answer) -> anyhow::Error {
    let kind = match answer {
        Answer::Value(_) => "value",
        Answer::Values(_) => "values",
        Answer::Keys(_) => "keys",
        Answer::Bool(_) => "bool",
        Answer::Sum(_) => "sum",
        Answer::Done => "done",
    };
    anyhow!("the key-value store answered a call with the wrong kind of answer ({kind})")
}

impl Backend for Arc<SqliteKv> {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let op = Op::Get {
            store: store.into(),
            key: key.into(),
        };
        match self.call(op).await? {
            Answer::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    async fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        let op = Op::Set {
            store: store.into(),
            key: key.into(),
            value: value.to_vec(),
        };
        self.call(op).await.map(|_| ())
    }

    async fn delete(&self, store: &str, key: &str) -> Result<()> {
        let op = Op::Delete {
            store: store.into(),
            key: key.into(),
        };
        self.call(op).await.map(|_| ())
    }

    async fn exists(&self, store: &str, key: &str) -> Result<bool> {
        match self
            .call(Op::Exists {
                store: store.into(),
                key: key.into(),
            })
            .await?
        {
            Answer::Bool(exists) => Ok(exists),
            other => Err(unexpected(other)),
        }
    }

    async fn keys_after(
        &self,
        store: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let op = Op::KeysAfter {
            store: store.into(),
            cursor: cursor.map(String::from),
            limit,
        };
        match self.call(op).await? {
            Answer::Keys(keys) => Ok(keys),
            other => Err(unexpected(other)),
        }
    }

    async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        let op = Op::CompareAndSwap {
            store: store.into(),
            key: key.into(),
            expected: expected.map(<[u8]>::to_vec),
            new: new.to_vec(),
        };
        match self.call(op).await? {
            Answer::Bool(swapped) => Ok(swapped),
            other => Err(unexpected(other)),
        }
    }

    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        let op = Op::Increment {
            store: store.into(),
            key: key.into(),
            delta,
        };
        match self.call(op).await? {
            Answer::Sum(sum) => Ok(sum),
            other => Err(unexpected(other)),
        }
    }

    async fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let op = Op::GetMany {
            store: store.into(),
            keys: keys.to_vec(),
        };
        match self.call(op).await? {
            Answer::Values(values) => Ok(values),
            other => Err(unexpected(other)),
        }
    }

    async fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let op = Op::SetMany {
            store: store.into(),
            pairs: pairs.to_vec(),
        };
        self.call(op).await.map(|_| ())
    }

    async fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let op = Op::DeleteMany {
            store: store.into(),
            keys: keys.to_vec(),
        };
        self.call(op).await.map(|_| ())
    }

    async fn keys(&self, store: &str) -> Result<Vec<String>> {
        match self
            .call(Op::Keys {
                store: store.into(),
            })
            .await?
        {
            Answer::Keys(keys) => Ok(keys),
            other => Err(unexpected(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &tempfile::TempDir) -> Arc<SqliteKv> {
        Arc::new(SqliteKv::open(&dir.path().join("kv.db")).unwrap())
    }

    #[tokio::test]
    async fn the_log_it_syncs_is_sqlites_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(&dir);
        kv.set("default", "k", b"v").await.unwrap();
        assert!(kv.log.is_file(), "{} is not the log", kv.log.display());
        assert!(std::fs::metadata(&kv.log).unwrap().len() > 0);
    }

    #[tokio::test]
    async fn values_survive_reopening_and_stores_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = open(&dir);
            kv.set("default", "a", b"1").await.unwrap();
            kv.set("default", "a", b"2").await.unwrap();
            kv.set("pending", "a", b"p").await.unwrap();
            kv.set("default", "b", b"3").await.unwrap();
            kv.delete("default", "b").await.unwrap();
        }
        let kv = open(&dir);
        assert_eq!(kv.get("default", "a").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(kv.get("pending", "a").await.unwrap(), Some(b"p".to_vec()));
        assert!(!kv.exists("default", "b").await.unwrap());
        assert_eq!(kv.keys("default").await.unwrap(), vec!["a".to_string()]);
    }

    /// Writes that wait together share one commit, each answered only once it is
    /// committed; a failing write in the group fails alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_share_commits_and_a_failure_stays_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(&dir);
        kv.set("default", "text", b"not a number").await.unwrap();
        let before = kv.stats();
        let writers: Vec<_> = (0..64)
            .map(|i| {
                let kv = kv.clone();
                tokio::spawn(async move {
                    for j in 0..50 {
                        kv.set_many("default", &[(format!("w/{i}/{j}"), vec![1])])
                            .await
                            .unwrap();
                        assert!(kv.increment("default", "text", 1).await.is_err());
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let after = kv.stats();
        let writes = after.writes - before.writes;
        let commits = after.commits - before.commits;
        assert_eq!(
            writes,
            64 * 50 * 2,
            "every write was made or failed in a commit"
        );
        assert!(commits < writes, "{commits} commits for {writes} writes");
        assert_eq!(
            kv.keys_after("default", Some("w/"), usize::MAX)
                .await
                .unwrap()
                .len(),
            3200
        );
        assert_eq!(
            kv.get("default", "text").await.unwrap(),
            Some(b"not a number".to_vec())
        );
    }

    /// A group with a failing write in the middle: the group is undone and made again one
    /// write at a time, so the writes around the failure are committed and each caller gets
    /// its own answer.
    #[tokio::test]
    async fn a_failing_write_in_a_group_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(&dir);
        kv.set("default", "text", b"not a number").await.unwrap();
        let (jobs, answers): (Vec<Job>, Vec<_>) = [
            Op::Set {
                store: "default".into(),
                key: "a".into(),
                value: b"1".to_vec(),
            },
            Op::Increment {
                store: "default".into(),
                key: "text".into(),
                delta: 1,
            },
            Op::SetMany {
                store: "default".into(),
                pairs: vec![("b".into(), b"2".to_vec()), ("c".into(), b"3".to_vec())],
            },
        ]
        .into_iter()
        .map(|op| {
            let (answer, answered) = oneshot::channel();
            (Job { op, answer }, answered)
        })
        .unzip();
        kv.run_group(&mut kv.conn.lock().unwrap(), jobs);
        let answers: Vec<_> = futures::future::join_all(answers).await;
        assert!(matches!(answers[0], Ok(Ok(Answer::Done))));
        assert!(matches!(answers[1], Ok(Err(_))), "the increment fails");
        assert!(matches!(answers[2], Ok(Ok(Answer::Done))));
        let values = kv
            .get_many(
                "default",
                &["a".into(), "b".into(), "c".into(), "text".into()],
            )
            .await
            .unwrap();
        assert_eq!(
            values,
            vec![
                Some(b"1".to_vec()),
                Some(b"2".to_vec()),
                Some(b"3".to_vec()),
                Some(b"not a number".to_vec())
            ]
        );
    }

    /// A short read runs on the writer's connection when no group holds it and sees every
    /// answered write; a write that queued while such a read held the connection is
    /// still committed, by a thread the read hands the queue to.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_on_the_writers_connection_leaves_no_write_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(&dir);
        kv.set("default", "a", b"1").await.unwrap();
        assert_eq!(kv.get("default", "a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(kv.stats().warm_reads, 1, "{:?}", kv.stats());

        // A read holds the writer's connection while a write queues behind it.
        let held = kv.conn.lock().unwrap();
        let write = tokio::spawn({
            let kv = kv.clone();
            async move { kv.set("default", "a", b"2").await }
        });
        let queued = std::time::Instant::now();
        while kv.lock_queue().is_empty() {
            assert!(
                queued.elapsed() < Duration::from_secs(5),
                "the write never queued"
            );
            // Blocking on purpose: the guard may not cross an await, and the write runs
            // on the runtime's other worker.
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(held);
        let read = Op::Get {
            store: "default".into(),
            key: "a".into(),
        };
        assert!(kv.read_warm(&read).is_some(), "the connection was free");
        tokio::time::timeout(Duration::from_secs(5), write)
            .await
            .expect("the queued write was committed")
            .unwrap()
            .unwrap();
        assert_eq!(kv.get("default", "a").await.unwrap(), Some(b"2".to_vec()));

        // Long reads go to a reader even when the writer is free.
        let before = kv.stats().warm_reads;
        let many: Vec<String> = (0..=WARM_READ_KEYS).map(|i| format!("k{i}")).collect();
        assert_eq!(
            kv.get_many("default", &many).await.unwrap().len(),
            many.len()
        );
        kv.keys("default").await.unwrap();
        assert_eq!(kv.stats().warm_reads, before);
    }

    /// Another process's connection (an operator's, the tests') sees every answered write.
    #[tokio::test]
    async fn an_answered_write_is_in_the_file_for_other_readers() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(&dir);
        kv.set_many(
            "default",
            &[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
        )
        .await
        .unwrap();
        let other = Connection::open(dir.path().join("kv.db")).unwrap();
        let rows: i64 = other
            .query_row("SELECT count(*) FROM kv WHERE store = 'default'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn keeps_the_backend_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::kv::contract::check(Arc::new(open(&dir))).await;
    }
}
