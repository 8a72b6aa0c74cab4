//! Which runtime serves the application under test.
//!
//! The suite runs on the project host by default. `MESSAGING_TEST_RUNTIME=spin` runs it on
//! the real Spin CLI (`../shared/spin/spin`, or the binary named by `MESSAGING_SPIN`), the
//! runtime the app is built for: same spin.toml, same components, Spin's own composer,
//! key-value stores and file mounts. Spin has no timer, so the harness ticks the app the way
//! the SpinKube deployment does (`infra/kubernetes/ticker.yaml`): `POST /v1/tick` as a caller
//! with the operator role.

use crate::workspace_root;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The project's wasmtime host (`crates/host`).
    Host,
    /// The real Spin CLI.
    Spin,
}

impl Runtime {
    /// The runtime this run of the suite uses.
    pub fn of_suite() -> Runtime {
        match std::env::var("MESSAGING_TEST_RUNTIME").as_deref() {
            Ok("spin") => Runtime::Spin,
            Ok("host") | Err(_) => Runtime::Host,
            Ok(other) => panic!("MESSAGING_TEST_RUNTIME={other:?}: expected host or spin"),
        }
    }

    /// The line the runtime prints once it accepts connections.
    pub fn ready_line(self) -> &'static str {
        match self {
            Runtime::Host => "listening on ",
            Runtime::Spin => "Serving http://",
        }
    }
}

/// The Spin CLI the suite runs on.
pub fn spin_binary() -> PathBuf {
    let path = std::env::var_os("MESSAGING_SPIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/spin/spin"));
    assert!(
        path.exists(),
        "{} is missing: set MESSAGING_SPIN to a Spin 4.1 CLI",
        path.display()
    );
    path
}

/// The API key of the ticker's operator caller, `ticker`, which the harness adds to
/// `api_keys` when it runs the app on Spin.
pub const TICKER_KEY: &str = "test-key-ticker-0123456789abcdef";

/// How often the harness ticks an app on Spin: as often as the host's timer does in tests.
const TICK_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Calls `POST {base}/v1/tick` every [`TICK_EVERY`] until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub fn start(base: &str) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{base}/v1/tick");
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let auth = format!("Bearer {TICKER_KEY}");
                while !stop.load(Ordering::Relaxed) {
                    // A tick that fails (the app is restarting) is the next tick's work.
                    let _ = crate::http::try_request(
                        "POST",
                        &url,
                        &[("authorization", auth.as_str())],
                        Some(b""),
                    );
                    std::thread::sleep(TICK_EVERY);
                }
            }
        });
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Spin's SQLite key-value files under the app's `.spin/`: the default store, and the
/// `pending` and `outbox` stores of runtime-config.toml.
const SPIN_STORE_FILES: [&str; 3] = ["sqlite_key_value.db", "pending.db", "outbox.db"];

/// Makes Spin's SQLite key-value files under `app/.spin` WAL databases before Spin first
/// opens them, as README.md ("Run on Spin") tells operators (xtask/src/spin_stores.rs
/// says why).
pub fn spin_stores_in_wal_mode(app: &Path) {
    let dir = app.join(".spin");
    std::fs::create_dir_all(&dir).expect("create Spin's state directory");
    for file in SPIN_STORE_FILES {
        let conn = rusqlite::Connection::open(dir.join(file)).expect("open Spin's key-value file");
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .expect("set WAL mode");
        assert_eq!(mode, "wal", "{file} stays in {mode} mode");
    }
}

/// Every (store, key, value) of Spin's SQLite key-value files under the app's `.spin/`.
pub fn spin_stored_rows(app: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut rows = Vec::new();
    for file in SPIN_STORE_FILES {
        let db = app.join(".spin").join(file);
        if !db.exists() {
            continue;
        }
        let conn = rusqlite::Connection::open(&db).expect("open Spin's key-value file");
        // Spin creates the file when the store is first opened and the table when it is
        // first used: a file without the table holds nothing yet.
        let has_table: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'spin_key_value'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .expect("read Spin's key-value schema")
            > 0;
        if !has_table {
            continue;
        }
        let mut stmt = conn
            .prepare("SELECT store, key, value FROM spin_key_value")
            .expect("Spin's key-value table");
        rows.extend(
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("read Spin's key-value table")
                .map(|r| r.expect("row")),
        );
    }
    rows.sort();
    rows
}
