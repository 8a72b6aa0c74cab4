//! One running gateway: the host serving the repository's spin.toml from a temporary
//! application folder (so each test has its own store and outbox).

use crate::http::{self, Response};
use crate::redis::{RedisServer, suite_uses_redis};
use crate::registry::Registry;
use crate::runtime::{Runtime, TICKER_KEY, Ticker, spin_binary, spin_stored_rows};
use crate::{free_port, wait_for, workspace_root};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// The API key of the test caller `registry`.
pub const KEY: &str = "test-key-registry-0123456789abcdef";
/// The API key of a second caller, `clinic`.
pub const OTHER_KEY: &str = "test-key-clinic-0123456789abcdef";
pub const RECEIPT_SECRET: &str = "test-receipt-secret";
/// The key that seals payloads at rest (`storage_keys`).
pub const STORAGE_KEY: &str = "test-storage-key-0123456789abcdef";
/// The key that signs callbacks (`callback_secret`).
pub const CALLBACK_SECRET: &str = "test-callback-secret";

pub struct Gateway {
    pub base: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub log: PathBuf,
    env: Vec<(String, String)>,
    /// The Redis holding this gateway's stores, if not its SQLite file.
    redis: Option<Arc<RedisServer>>,
    runtime: Runtime,
    /// Ticks the app when its runtime has no timer (Spin).
    ticker: Option<Ticker>,
    /// The pushed image Spin runs instead of the folder's spin.toml, if any.
    image: Option<Arc<Image>>,
}

/// An image that `spin registry push` made of the app, and the registry holding it.
pub struct Image {
    pub registry: Registry,
    pub name: String,
    pub reference: String,
}

/// An `api_keys` value for these (caller, roles joined by `+`, key) entries.
pub fn api_keys(entries: &[(&str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(caller, roles, key)| format!("{caller}:{roles}:{}", digest(key)))
        .collect::<Vec<_>>()
        .join(",")
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn host_binary() -> PathBuf {
    let path = workspace_root().join("target/debug/messaging-host");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test` (it builds the host and components)",
        path.display()
    );
    path
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Sets up an application folder: the manifest and policies copied, `target` linked.
fn app_dir() -> tempfile::TempDir {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(root.join("spin.toml"), dir.path().join("spin.toml")).expect("copy spin.toml");
    copy_dir(&root.join("policies"), &dir.path().join("policies"));
    std::os::unix::fs::symlink(root.join("target"), dir.path().join("target"))
        .expect("link target");
    dir
}

/// An application folder with these files written into its `policies/`.
fn app_dir_with(policies: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = app_dir();
    for (name, text) in policies {
        let path = dir.path().join("policies").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).expect("policy folder");
        std::fs::write(path, text).expect("write policy");
    }
    dir
}

/// The project host serving `app`'s spin.toml on `listen`.
fn host_command(app: &Path, listen: &str, env: &[(String, String)], redis: bool) -> Command {
    let mut command = Command::new(host_binary());
    command
        .arg("--manifest")
        .arg(app.join("spin.toml"))
        .arg("--listen")
        .arg(listen)
        .arg("--cache-dir")
        .arg(workspace_root().join("target/component-cache"))
        .arg("--json-logs");
    // Fast ticks for the tests, unless the test sets its own.
    if !env.iter().any(|(k, _)| k == "MESSAGING_TICK_MS") {
        command.args(["--tick-ms", "500"]);
    }
    if redis {
        command
            .arg("--runtime-config-file")
            .arg(app.join("runtime-config.toml"));
    }
    command
}

/// Real Spin serving `app`'s spin.toml (or the pushed `image`) on `listen`, with the
/// runtime config in `app`, its state in `app/.spin`.
fn spin_command(app: &Path, listen: &str, image: Option<&str>) -> Command {
    let mut command = Command::new(spin_binary());
    // A group of its own: `spin up` runs the app in a child process (`spin trigger http`),
    // which a signal to `spin up` alone would leave running.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.current_dir(app).arg("up");
    match image {
        // Plain HTTP: the test registry is on loopback.
        Some(reference) => command
            .args(["--from", reference, "--insecure", "--cache-dir"])
            .arg(app.join(".spin-registry-cache")),
        None => command.arg("--from").arg(app.join("spin.toml")),
    };
    command
        .arg("--state-dir")
        .arg(app.join(".spin"))
        .arg("--listen")
        .arg(listen)
        .arg("--runtime-config-file")
        .arg(app.join("runtime-config.toml"));
    command
}

/// Adds the ticker's operator caller to the deployment's `api_keys` (the last value set,
/// as the runtime reads it).
fn with_ticker_caller(env: &mut Vec<(String, String)>) {
    let keys = env
        .iter()
        .rev()
        .find(|(k, _)| k == "SPIN_VARIABLE_API_KEYS")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let ticker = format!("ticker:operator:{}", digest(TICKER_KEY));
    let keys = if keys.split(',').any(|entry| entry == ticker) {
        // A restart keeps the environment, ticker caller included.
        keys
    } else if keys.is_empty() {
        ticker
    } else {
        format!("{keys},{ticker}")
    };
    env.retain(|(k, _)| k != "SPIN_VARIABLE_API_KEYS");
    env.push(("SPIN_VARIABLE_API_KEYS".into(), keys));
}

/// The test deployment's secrets and callers, with `vars` added as Spin variables.
fn environment(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        (
            "SPIN_VARIABLE_API_KEYS".into(),
            format!(
                "registry:notify:{},clinic:notify:{}",
                digest(KEY),
                digest(OTHER_KEY)
            ),
        ),
        (
            "SPIN_VARIABLE_HASHING_KEY".into(),
            "test-hashing-key".into(),
        ),
        ("SPIN_VARIABLE_RECEIPT_SECRET".into(), RECEIPT_SECRET.into()),
        (
            "SPIN_VARIABLE_CALLBACK_SECRET".into(),
            CALLBACK_SECRET.into(),
        ),
        ("SPIN_VARIABLE_STORAGE_KEYS".into(), STORAGE_KEY.into()),
    ];
    for (k, v) in vars {
        env.push((
            format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()),
            v.to_string(),
        ));
    }
    env
}

impl Gateway {
    /// Starts a gateway with the development outbox for every channel.
    pub fn start() -> Gateway {
        Gateway::start_with(&[])
    }

    /// Starts a gateway with extra `SPIN_VARIABLE_*` settings.
    pub fn start_with(vars: &[(&str, &str)]) -> Gateway {
        Gateway::start_with_policies(vars, &[])
    }

    /// Starts a gateway listening on `port` (for peers that must know its URL before it
    /// starts, like Kannel's sms-service).
    pub fn start_on(port: u16, vars: &[(&str, &str)], policies: &[(&str, &str)]) -> Gateway {
        Gateway::start_full(Some(port), vars, policies)
    }

    /// Starts a gateway with extra variables and extra policy files `(file name, TOML)`;
    /// a name may have a folder (`inbound/routes.toml`).
    pub fn start_with_policies(vars: &[(&str, &str)], policies: &[(&str, &str)]) -> Gateway {
        Gateway::start_full(None, vars, policies)
    }

    fn start_full(port: Option<u16>, vars: &[(&str, &str)], policies: &[(&str, &str)]) -> Gateway {
        let dir = app_dir_with(policies);
        Gateway::spawn(dir, environment(vars), port, suite_store(), None)
    }

    /// Pushes the app to `registry` with `spin registry push`, then runs that image on Spin
    /// (`spin up --from <reference>`), as SpinKube runs it. Only in the suite's Spin runs.
    pub fn start_from_image(registry: Registry) -> Gateway {
        assert_eq!(
            Runtime::of_suite(),
            Runtime::Spin,
            "images run on Spin (MESSAGING_TEST_RUNTIME=spin)"
        );
        let dir = app_dir();
        let name = "govstack-messaging".to_string();
        let reference = registry.push(dir.path(), &name);
        let image = Image {
            registry,
            name,
            reference,
        };
        Gateway::spawn(
            dir,
            environment(&[]),
            None,
            suite_store(),
            Some(Arc::new(image)),
        )
    }

    /// The image this gateway runs, if it runs one.
    pub fn image(&self) -> Option<&Image> {
        self.image.as_deref()
    }

    /// Starts another host of the same deployment (same secrets and `vars`), in a folder
    /// of its own, on the same Redis: several hosts sharing one state.
    pub fn start_sharing(redis: &Arc<RedisServer>, vars: &[(&str, &str)]) -> Gateway {
        Gateway::spawn(
            app_dir(),
            environment(vars),
            None,
            Some(redis.clone()),
            None,
        )
    }

    /// Starts with variables, policy files and settings of the host process itself (such
    /// as `MESSAGING_OUTBOUND_TIMEOUT_MS`), kept across restarts.
    pub fn start_with_host_env(
        vars: &[(&str, &str)],
        policies: &[(&str, &str)],
        host_env: &[(&str, &str)],
    ) -> Gateway {
        let mut env = environment(vars);
        env.extend(host_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Gateway::spawn(app_dir_with(policies), env, None, suite_store(), None)
    }

    /// Runs a host whose `policies/` has these files written in, expecting it to refuse
    /// to start; returns its log. Panics if it starts listening or runs past two minutes.
    pub fn refused_start(policies: &[(&str, &str)]) -> String {
        let dir = app_dir_with(policies);
        let log = dir.path().join("host.log");
        let mut child = Command::new(host_binary())
            .arg("--manifest")
            .arg(dir.path().join("spin.toml"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--cache-dir")
            .arg(workspace_root().join("target/component-cache"))
            .envs(environment(&[]))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start host");
        let status = wait_for(120, "the host to exit", || child.try_wait().expect("wait"));
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).ok();
        assert!(!status.success(), "the host started:\n{stdout}");
        assert!(
            !stdout.contains("listening on"),
            "the host listened:\n{stdout}"
        );
        std::fs::read_to_string(log).unwrap_or_default()
    }

    /// Starts the host on `dir`, on `port` or else on a free one. A free port can be taken
    /// by another test's process between the probe and the host's bind: the host then
    /// exits, and it is started again on another port. Ready means the host itself said
    /// it listens (another process answering on the port does not count).
    fn spawn(
        dir: tempfile::TempDir,
        mut env: Vec<(String, String)>,
        port: Option<u16>,
        redis: Option<Arc<RedisServer>>,
        image: Option<Arc<Image>>,
    ) -> Gateway {
        let runtime = Runtime::of_suite();
        let log = dir.path().join("host.log");
        let runtime_config = dir.path().join("runtime-config.toml");
        match (&redis, runtime) {
            (Some(redis), Runtime::Host) => {
                std::fs::write(&runtime_config, redis.runtime_config()).expect("runtime config");
            }
            (Some(redis), Runtime::Spin) => {
                std::fs::write(&runtime_config, redis.spin_runtime_config())
                    .expect("runtime config");
                // As infra/ deploys on Spin's own Redis store.
                env.push((
                    "SPIN_VARIABLE_KEY_VALUE_WORKAROUNDS".into(),
                    "spin-redis".into(),
                ));
            }
            (None, Runtime::Spin) => {
                std::fs::copy(
                    workspace_root().join("runtime-config.toml"),
                    &runtime_config,
                )
                .expect("copy runtime-config.toml");
                crate::runtime::spin_stores_in_wal_mode(dir.path());
            }
            (None, Runtime::Host) => {}
        }
        if runtime == Runtime::Spin {
            with_ticker_caller(&mut env);
        }
        for _attempt in 0..5 {
            let port_now = port.unwrap_or_else(free_port);
            let base = format!("http://127.0.0.1:{port_now}");
            env.retain(|(k, _)| k != "SPIN_VARIABLE_PUBLIC_URL");
            env.push(("SPIN_VARIABLE_PUBLIC_URL".into(), base.clone()));
            let listen = format!("127.0.0.1:{port_now}");
            let mut command = match runtime {
                Runtime::Host => host_command(dir.path(), &listen, &env, redis.is_some()),
                Runtime::Spin => spin_command(
                    dir.path(),
                    &listen,
                    image.as_ref().map(|i| i.reference.as_str()),
                ),
            };
            // Appending, as the copy of stdout below does: two writers at their own offsets
            // would overwrite each other's lines.
            std::fs::File::create(&log).expect("log file");
            let stderr = std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("log file");
            let mut child = command
                .envs(env.iter().cloned())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .expect("start the runtime");
            let stdout = child.stdout.take().expect("stdout");
            // Spin prints the components' stdout on its own: it goes to the log with their
            // stderr. The host writes every log line to stderr.
            let mut copy_to = (runtime == Runtime::Spin).then(|| {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&log)
                    .expect("log file")
            });
            let (listening, ready) = std::sync::mpsc::channel();
            let ready_line = runtime.ready_line();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    // Keep draining the components' stdout so they never block on a full
                    // pipe.
                    if line.starts_with(ready_line) {
                        let _ = listening.send(());
                    }
                    if let Some(file) = copy_to.as_mut() {
                        let _ = writeln!(file, "{line}");
                    }
                }
            });
            match ready.recv_timeout(std::time::Duration::from_secs(120)) {
                Ok(()) => {
                    let ticker = (runtime == Runtime::Spin).then(|| Ticker::start(&base));
                    return Gateway {
                        base,
                        dir,
                        child,
                        log,
                        env,
                        redis,
                        runtime,
                        ticker,
                        image,
                    };
                }
                Err(_) => {
                    if runtime == Runtime::Spin {
                        let group = format!("-{}", child.id());
                        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = std::fs::read_to_string(&log).unwrap_or_default();
                    if port.is_none() && logs.contains("Address already in use") {
                        continue;
                    }
                    panic!("{runtime:?} exited before listening:\n{logs}");
                }
            }
        }
        panic!("no free port for the runtime after five tries");
    }

    /// Stops this host (SIGTERM) and starts another on the same folder and store.
    pub fn restart(self) -> Gateway {
        self.restart_with(&[])
    }

    /// Restarts with some variables changed (a rotated key, a recovered provider).
    pub fn restart_with(mut self, vars: &[(&str, &str)]) -> Gateway {
        self.terminate();
        for (name, value) in vars {
            let name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            self.env.retain(|(k, _)| *k != name);
            self.env.push((name, value.to_string()));
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let env = std::mem::take(&mut self.env);
        let redis = self.redis.take();
        let image = self.image.take();
        drop(self);
        Gateway::spawn(dir, env, None, redis, image)
    }

    /// Kills this host with SIGKILL (a crash: nothing is drained, nothing flushed beyond
    /// what SQLite committed) and starts another on the same folder and store.
    pub fn crash_and_restart(mut self) -> Gateway {
        self.kill();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let env = std::mem::take(&mut self.env);
        let redis = self.redis.take();
        let image = self.image.take();
        drop(self);
        Gateway::spawn(dir, env, None, redis, image)
    }

    /// Kills this host with SIGKILL and leaves it dead (for hosts sharing one state, where
    /// the others carry on).
    pub fn crash(mut self) {
        self.kill();
    }

    /// SIGKILL to the runtime and everything it started (Spin runs its trigger in a child
    /// process, which outlives a killed `spin up`), then reaps it.
    fn kill(&mut self) {
        self.signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` to the runtime: on Spin to its whole process group.
    fn signal(&self, signal: &str) {
        let target = match self.runtime {
            Runtime::Host => self.child.id().to_string(),
            Runtime::Spin => format!("-{}", self.child.id()),
        };
        let _ = Command::new("kill")
            .args([signal, "--", &target])
            .stderr(Stdio::null())
            .status();
    }

    /// Sends SIGTERM and waits for the process to end; returns its exit status success.
    pub fn terminate(&mut self) -> bool {
        self.signal("-TERM");
        wait_for(30, "the host to exit", || {
            self.child.try_wait().ok().flatten()
        })
        .success()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The logs once they contain `needle`. A status is visible before the component that
    /// reached it has written its log line and finished, so tests about what a finished
    /// attempt left behind wait for its line (`dispatch.failed` is written last).
    pub fn wait_log(&self, needle: &str) -> String {
        crate::wait_for(20, needle, || {
            let logs = self.logs();
            logs.contains(needle).then_some(logs)
        })
    }

    /// The entries the development outbox holds, parsed (its store's rows, opened).
    pub fn outbox_entries(&self) -> Vec<Value> {
        self.opened_rows()
            .into_iter()
            .filter(|(store, _, _)| store == messaging_domain::providers::outbox::STORE)
            .map(|(_, _, value)| serde_json::from_slice(&value).expect("an outbox entry"))
            .collect()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join(".messaging/kv.db")
    }

    /// Every (store, key, value) in the key-value stores, ordered by store and key.
    pub fn stored_rows(&self) -> Vec<(String, String, Vec<u8>)> {
        match (&self.redis, self.runtime) {
            (Some(redis), Runtime::Host) => redis.rows(),
            (Some(redis), Runtime::Spin) => redis.spin_rows(),
            (None, Runtime::Host) => stored_rows(&self.db_path()),
            (None, Runtime::Spin) => spin_stored_rows(self.dir.path()),
        }
    }

    /// Every row in the runtime's own SQLite files in this gateway's folder, wherever its
    /// stores are configured to be.
    pub fn local_file_rows(&self) -> Vec<(String, String, Vec<u8>)> {
        match self.runtime {
            Runtime::Host => stored_rows(&self.db_path()),
            Runtime::Spin => spin_stored_rows(self.dir.path()),
        }
    }

    /// Overwrites the value of an existing key in the project host's store, as someone
    /// with write access to the store (and not to the gateway's keys) could.
    pub fn plant(&self, store: &str, key: &str, value: &[u8]) {
        assert_eq!(
            self.runtime,
            Runtime::Host,
            "planting is for the project host's stores"
        );
        match &self.redis {
            Some(redis) => redis.overwrite(store, key, value),
            None => {
                let conn = rusqlite::Connection::open(self.db_path()).expect("open db");
                let changed = conn
                    .execute(
                        "UPDATE kv SET value = ?3 WHERE store = ?1 AND key = ?2",
                        rusqlite::params![store, key, value],
                    )
                    .expect("update");
                assert_eq!(changed, 1, "{store}/{key} exists");
            }
        }
    }

    /// The runtime serving this gateway.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The stored rows but the audit trail's. A test that checks a refusal changed nothing
    /// compares these: the trail of earlier, accepted work may still be written after the
    /// state the test waited for (a status is visible before its audit entry).
    pub fn data_rows(&self) -> Vec<(String, String, Vec<u8>)> {
        self.stored_rows()
            .into_iter()
            .filter(|(_, key, _)| !key.starts_with(messaging_domain::audit::PREFIX))
            .collect()
    }

    /// `rows_but_auth_failures` once the store has stopped changing: the same keys read twice,
    /// half a second apart. Work accepted earlier may still write after the state a test
    /// waited for (a status is visible before its audit entry); a test that then counts
    /// what a refusal changed starts from here.
    pub fn settled_rows_but_auth_failures(&self) -> Vec<(String, String, Vec<u8>)> {
        let keys = |rows: &[(String, String, Vec<u8>)]| -> Vec<(String, String)> {
            rows.iter()
                .map(|(s, k, _)| (s.clone(), k.clone()))
                .collect()
        };
        let mut last = self.rows_but_auth_failures();
        crate::wait_for(20, "the store to settle", || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let now = self.rows_but_auth_failures();
            let settled = keys(&now) == keys(&last);
            last = now;
            settled.then_some(())
        });
        last
    }

    /// The stored rows but the counters of failed authentications per client address
    /// (`authfail/`, and their sweep index): a refused credential is counted on purpose,
    /// and a test that checks a refusal stored nothing else compares these.
    pub fn rows_but_auth_failures(&self) -> Vec<(String, String, Vec<u8>)> {
        self.stored_rows()
            .into_iter()
            .filter(|(_, key, _)| {
                !key.starts_with("authfail/") && !key.starts_with("sweep/short/authfail")
            })
            .collect()
    }

    /// The Redis this gateway's stores are on, if any.
    pub fn redis(&self) -> Option<&Arc<RedisServer>> {
        self.redis.as_ref()
    }

    pub fn send(&self, key: &str, body: &Value, extra: &[(&str, &str)]) -> Response {
        self.post_json(key, "/v1/messages", body.to_string().as_bytes(), extra)
    }

    /// A POST of `body` (sent as it is, valid JSON or not) as JSON to `path`, as the caller
    /// with `key`, with `extra` headers.
    pub fn post_json(
        &self,
        key: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Response {
        let auth = format!("Bearer {key}");
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        http::request(
            "POST",
            &format!("{}{path}", self.base),
            &headers,
            Some(body),
        )
    }

    /// A request with a raw body and content type to any route, as the caller with `key`.
    pub fn post_raw(&self, key: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {key}");
        http::request(
            "POST",
            &format!("{}{path}", self.base),
            &[
                ("authorization", auth.as_str()),
                ("content-type", content_type),
            ],
            Some(body),
        )
    }

    /// A JSON request to any route as the caller with `key`; `body` None is a GET.
    pub fn call(&self, key: &str, path: &str, body: Option<&Value>) -> Response {
        let auth = format!("Bearer {key}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        let url = format!("{}{path}", self.base);
        match body {
            Some(body) => http::request("POST", &url, &headers, Some(body.to_string().as_bytes())),
            None => http::request("GET", &url, &headers, None),
        }
    }

    /// Creates a group named `name` as the caller with `key`; returns its id.
    pub fn create_group(&self, key: &str, name: &str) -> String {
        let created = self.call(
            key,
            "/v1/groups",
            Some(&serde_json::json!({ "name": name })),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        created.json()["id"].as_str().unwrap().to_string()
    }

    /// Adds `members` to `group`, a thousand per request (the API's most), asserting each
    /// request is taken.
    pub fn add_members(&self, key: &str, group: &str, members: &[Value]) {
        for chunk in members.chunks(1000) {
            let added = self.call(
                key,
                &format!("/v1/groups/{group}/members"),
                Some(&Value::from(chunk)),
            );
            assert_eq!(added.status, 200, "{}", added.body);
        }
    }

    /// Creates a group of these SMS `numbers` as the caller with `key` and broadcasts
    /// `body` to it; asserts the 202 and returns the broadcast id.
    pub fn broadcast_to_new_group(&self, key: &str, numbers: &[String], body: &str) -> String {
        let group = self.create_group(key, "Everyone in the district");
        let members: Vec<Value> = numbers
            .iter()
            .map(|n| serde_json::json!({"channel": "sms", "address": n}))
            .collect();
        self.add_members(key, &group, &members);
        let accepted = self.call(
            key,
            "/v1/broadcasts",
            Some(&serde_json::json!({"group": group, "body": body})),
        );
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        accepted.json()["id"].as_str().unwrap().to_string()
    }

    /// Waits up to `secs` for broadcast `id` to be done, read as the caller with `key`;
    /// returns its view.
    pub fn wait_broadcast_done(&self, key: &str, id: &str, secs: u64) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let view = self.call(key, &format!("/v1/broadcasts/{id}"), None).json();
            if view["state"] == "done" {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {secs}s waiting for broadcast {id} to be done; last seen: {view}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Sends as the test caller, asserts 202, returns the message id.
    pub fn accept(&self, body: Value) -> String {
        let response = self.send(KEY, &body, &[]);
        assert_eq!(response.status, 202, "{}", response.body);
        response.json()["id"].as_str().expect("an id").to_string()
    }

    /// Every stored row as the gateway reads it: sealed values opened with the test's
    /// `storage_keys` (the key name is the context), the rest as stored.
    pub fn opened_rows(&self) -> Vec<(String, String, Vec<u8>)> {
        let ring = messaging_domain::sealing::Keyring::parse(STORAGE_KEY).expect("test key");
        self.stored_rows()
            .into_iter()
            .map(|(store, key, value)| {
                let opened = ring.open(&key, &value).unwrap_or(value);
                (store, key, opened)
            })
            .collect()
    }

    /// Whether any message's address and content are still stored.
    pub fn holds_payload(&self) -> bool {
        self.stored_rows()
            .iter()
            .any(|(_, k, _)| k.ends_with("/payload"))
    }

    /// The secret that signs the callbacks of `key`'s caller, as the caller reads it
    /// (`GET /v1/callbacks/secret`; the newest, if the deployment is rotating).
    pub fn callback_secret(&self, key: &str) -> String {
        let answer = self.call(key, "/v1/callbacks/secret", None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        body["secrets"][0]
            .as_str()
            .expect("a caller has a callback secret")
            .to_string()
    }

    pub fn status(&self, key: &str, id: &str) -> Response {
        http::request(
            "GET",
            &format!("{}/v1/messages/{id}", self.base),
            &[("apiKey", key)],
            None,
        )
    }

    /// Waits until the message reaches `status`, returning its view.
    pub fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let view = self.status(KEY, id).json();
            if view["status"] == status {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {id} to be {status}; last view {view}\nhost log:\n{}",
                self.logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// A Redis of the gateway's own when the suite runs on Redis (see `suite_uses_redis`).
fn suite_store() -> Option<Arc<RedisServer>> {
    suite_uses_redis().then(RedisServer::start)
}

/// The statuses of a message view's history, in order.
pub fn steps(view: &Value) -> Vec<String> {
    view["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["status"].as_str().expect("status").to_string())
        .collect()
}

pub fn stored_rows(db: &Path) -> Vec<(String, String, Vec<u8>)> {
    if !db.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT store, key, value FROM kv ORDER BY store, key")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.ticker.take();
        self.kill();
    }
}
