//! Project automation, in the cargo-xtask manner: `cargo xtask <command>`.
//!
//! - `build`: the components (wasm32-wasip2, release) and the host.
//! - `up [--listen ADDR]`: build, then serve on the project host with development defaults.
//! - `spin-up [--listen ADDR]`: build the components, make Spin's SQLite stores WAL
//!   databases (xtask/src/spin_stores.rs), then serve on real Spin with the same defaults
//!   and the ticker of the SpinKube deployment.
//! - `test`: install what the tests need, build, run every test (the integration suite
//!   on SQLite, then on Redis, then the suites that run on real Spin).
//! - `bench [SECONDS [CONNECTIONS]]`: release build; the instance benchmark (fresh, then reused), then the
//!   accept-path benchmark (bench/accept.sh, wrk).
//! - `bench-broadcast [MEMBERS]`: release build; a broadcast to a group of MEMBERS
//!   (1,000,000 by default) through a provider double (bench/broadcast.py).
//! - `bench-cold-start [SAMPLES]`: release build; the first request after idle, and a
//!   fresh process's first answer (bench/cold_start.py).
//! - `bench-side-by-side [MESSAGES]`: release build; the same SMS through Kannel and
//!   through this gateway, accepts, sends and receipts (bench/side_by_side.py).
//! - `bench-crash [MESSAGES]`: release build; single SMS under load, the runtime killed
//!   midway and restarted: messages lost (none may be) and doubles (bench/crash.py).
//! - `check-globals`: every global in the components is in `xtask/globals-allowed.txt`
//!   with the reason it holds configuration only (xtask/src/globals.rs).
//! - `bench-floors [TOTAL]`: release build; the same load against ever more of the accept
//!   path, from the host's router to a delivered message (bench/floors.py).
//! - `bench-tick [WAITING]`: release build; the time of a tick with WAITING messages
//!   scheduled for later (1,000,000 by default), which must not grow with them
//!   (bench/tick.py).

mod globals;
mod spin_stores;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const COMPONENTS: &[&str] = &[
    "ingress",
    "auth-check",
    "policy-router",
    "dispatcher",
    "sender-sms",
    "sender-email",
    "sender-telegram",
    "sender-push",
    "webhook-inbound",
    "notifier",
    "sweeper",
    "broadcaster",
];
const WASM_TARGET: &str = "wasm32-wasip2";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs `cmd`, then says how long it took (CI's budget is read from these lines).
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let started = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    let took = started.elapsed().as_secs();
    if !status.success() {
        bail!("{cmd:?} failed after {took} s: {status}");
    }
    let what: Vec<_> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args().take(3))
        .map(|a| a.to_string_lossy())
        .collect();
    let store = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .filter(|e| e.starts_with("MESSAGING_TEST_"))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("xtask: done in {took} s: {store} {}", what.join(" "));
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(_) => {
            eprintln!("rustup not found; assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}

/// Builds every component (wasm32-wasip2, release), as `spin build` does.
fn build_components() -> Result<()> {
    ensure_wasm_target()?;
    ensure_debian_packages(Need::Build)?;
    let mut components = cargo();
    components.args(["build", "--target", WASM_TARGET, "--release"]);
    for c in COMPONENTS {
        components.args(["-p", c]);
    }
    run(&mut components)
}

fn build(release_host: bool) -> Result<PathBuf> {
    build_components()?;
    let mut host = cargo();
    host.args(["build", "-p", "messaging-host"]);
    if release_host {
        host.arg("--release");
    }
    run(&mut host)?;
    Ok(root()
        .join("target")
        .join(if release_host { "release" } else { "debug" })
        .join("messaging-host"))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Development secrets, kept in `.messaging/dev-secrets` so receipt URLs stay valid across
/// restarts. Never used when the environment sets the variables.
fn dev_secret(name: &str) -> Result<String> {
    let dir = root().join(".messaging");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("dev-{name}"));
    if let Ok(value) = std::fs::read_to_string(&file) {
        return Ok(value.trim().to_string());
    }
    let value = random_hex(32)?;
    std::fs::write(&file, &value)?;
    Ok(value)
}

fn sha256_hex(input: &str) -> Result<String> {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), input.as_bytes())?;
            child.wait_with_output()
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

fn up(args: &[String]) -> Result<()> {
    let host = build(false)?;
    let mut cmd = Command::new(host);
    cmd.current_dir(root()).args(args);
    with_dev_settings(&mut cmd, &[])?;
    run(&mut cmd)
}

/// Gives `cmd` the development deployment's callers and secrets, unless the environment
/// sets them: the `dev` caller (its key printed), the `extra_callers` entries, and keys
/// kept in `.messaging/`.
fn with_dev_settings(cmd: &mut Command, extra_callers: &[String]) -> Result<()> {
    if std::env::var_os("SPIN_VARIABLE_API_KEYS").is_none() {
        let key = match std::env::var("MESSAGING_DEV_KEY") {
            Ok(key) if !key.is_empty() => key,
            _ => dev_secret("api-key")?,
        };
        let mut callers = vec![format!("dev:dev:{}", sha256_hex(&key)?)];
        callers.extend_from_slice(extra_callers);
        cmd.env("SPIN_VARIABLE_API_KEYS", callers.join(","));
        eprintln!(
            "\nDevelopment API key (caller \"dev\"): {key}\n  curl -H 'Authorization: Bearer {key}' ...\n"
        );
    }
    for (var, name) in [
        ("SPIN_VARIABLE_HASHING_KEY", "hashing-key"),
        ("SPIN_VARIABLE_RECEIPT_SECRET", "receipt-secret"),
        ("SPIN_VARIABLE_CALLBACK_SECRET", "callback-secret"),
        ("SPIN_VARIABLE_STORAGE_KEYS", "storage-keys"),
    ] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, dev_secret(name)?);
        }
    }
    Ok(())
}

/// The Spin CLI: `MESSAGING_SPIN`, else the project's neighbour `../shared/spin/spin`,
/// else `spin` on the PATH.
fn spin_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("MESSAGING_SPIN") {
        return PathBuf::from(path);
    }
    let beside = root().join("../shared/spin/spin");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("spin")
}

/// `spin-up [--listen ADDR]`: builds the components, then runs the app on real Spin with
/// the development settings and the ticker the SpinKube deployment runs
/// (infra/kubernetes/ticker.yaml): `POST /v1/tick` every 5 s as an operator caller, so
/// retries, schedules and sweeps happen. A plain `spin up` has no timer.
fn spin_up(args: &[String]) -> Result<()> {
    build_components()?;
    let listen = args
        .windows(2)
        .find(|w| w[0] == "--listen")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let ticker_key = dev_secret("ticker-key")?;
    spin_stores::in_wal_mode(&root().join(".spin"))?;
    let mut cmd = Command::new(spin_cli());
    cmd.current_dir(root())
        .args([
            "up",
            "--runtime-config-file",
            "runtime-config.toml",
            "--listen",
        ])
        .arg(&listen)
        .env("SPIN_VARIABLE_PUBLIC_URL", format!("http://{listen}"));
    with_dev_settings(
        &mut cmd,
        &[format!("ticker:operator:{}", sha256_hex(&ticker_key)?)],
    )?;
    eprintln!("$ {cmd:?}");
    let mut spin = cmd
        .spawn()
        .context("starting spin (set MESSAGING_SPIN to its path)")?;
    loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        if let Some(status) = spin.try_wait()? {
            bail!("spin exited: {status}");
        }
        // A tick that fails (Spin still starting) is the next tick's work.
        let _ = tick(&listen, &ticker_key);
    }
}

/// One `POST /v1/tick`, over a plain connection (loopback, no TLS).
fn tick(listen: &str, key: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(listen)?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        conn,
        "POST /v1/tick HTTP/1.1\r\nhost: {listen}\r\nauthorization: Bearer {key}\r\n\
         content-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).map(drop)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// What a Debian package of `debian-packages.txt` is needed for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Building the components (`cargo xtask build`, `up`).
    Build,
    /// Running the tests, on top of building.
    Test,
}

/// The Debian packages needed for `need`, from the list that .ci/run reads too.
fn debian_packages(need: Need) -> Vec<&'static str> {
    include_str!("../debian-packages.txt")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let package = fields.next()?;
            let needed_by = match fields.next()? {
                "build" => Need::Build,
                _ => Need::Test,
            };
            (needed_by == Need::Build || need == Need::Test).then_some(package)
        })
        .collect()
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).ends_with("install ok installed"))
}

/// Installs the Debian packages `need` asks for that are missing: with apt-get as root,
/// otherwise it stops with the one command to run.
fn ensure_debian_packages(need: Need) -> Result<()> {
    let missing: Vec<&str> = debian_packages(need)
        .into_iter()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        eprintln!(
            "missing Debian packages; install them, then run this command again:\n  \
             sudo apt-get install -y --no-install-recommends {}",
            missing.join(" ")
        );
        std::process::exit(1);
    }
    run(Command::new("apt-get")
        .args(["update", "-q"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The project-local virtual environment of the Python test tools.
const TEST_VENV: &str = "target/test-venv";

/// Creates [`TEST_VENV`] from `tests/requirements.txt`, again whenever the file changes
/// (its copy inside the environment says what it was made from).
fn ensure_test_venv() -> Result<()> {
    let venv = root().join(TEST_VENV);
    let wanted = std::fs::read(root().join("tests/requirements.txt"))
        .context("reading tests/requirements.txt")?;
    let made_from = venv.join("made-from-requirements.txt");
    if std::fs::read(&made_from).is_ok_and(|had| had == wanted) {
        return Ok(());
    }
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    run(Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root().join("tests/requirements.txt")))?;
    std::fs::write(made_from, wanted)?;
    Ok(())
}

/// Installs what the tests use: the Debian packages, then the Python tools.
fn ensure_test_tools() -> Result<()> {
    ensure_debian_packages(Need::Test)?;
    ensure_test_venv()
}

fn test(args: &[String]) -> Result<()> {
    ensure_test_tools()?;
    let host = build(false)?;
    // Compile every component once into the shared cache the tests use.
    run(Command::new(&host)
        .current_dir(root())
        .args(["--compile-only", "--cache-dir", "target/component-cache"])
        .env(
            "SPIN_VARIABLE_API_KEYS",
            "x:x:0000000000000000000000000000000000000000000000000000000000000000",
        )
        .env("SPIN_VARIABLE_HASHING_KEY", "x")
        .env("SPIN_VARIABLE_RECEIPT_SECRET", "x")
        .env("SPIN_VARIABLE_CALLBACK_SECRET", "x")
        .env("SPIN_VARIABLE_STORAGE_KEYS", "x"))?;
    run(cargo().arg("test").args(unit_test_members()).args(args))?;
    // Every integration test binary, built once before the passes below share them.
    run(cargo().args(["test", "-p", "integration-tests", "--no-run"]))?;
    // The integration suite on the project host, with every gateway's stores on SQLite
    // and on a redis-server of its own (tests/src/redis.rs): both backends must behave the
    // same. Each test starts its own host, stores and doubles, so the two passes run side
    // by side: much of a test is waiting (timers, leases, retries).
    let integration = |store: &str| {
        let mut command = cargo();
        command
            .args(["test", "-p", "integration-tests"])
            .args(args)
            .env("MESSAGING_TEST_STORE", store);
        command
    };
    run_together(vec![
        ("host-sqlite", integration("sqlite")),
        ("host-redis", integration("redis")),
    ])?;
    test_on_spin(args)
}

/// Runs `commands` at once, each with its output in `target/test-logs/<name>.log`, and
/// prints each log whole once all have ended (so a failure reads as in a run of its own);
/// fails naming the ones that failed.
fn run_together(commands: Vec<(&str, Command)>) -> Result<()> {
    let logs = root().join("target/test-logs");
    std::fs::create_dir_all(&logs)?;
    let started = std::time::Instant::now();
    let mut running = Vec::new();
    for (name, mut command) in commands {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        command.stdout(file.try_clone()?).stderr(file);
        eprintln!("$ {command:?} > {}", log.display());
        let child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        running.push((name, log, child));
    }
    let mut failed = Vec::new();
    for (name, log, mut child) in running {
        let status = child.wait()?;
        eprintln!("\n===== {name}: {} =====", log.display());
        std::io::copy(&mut std::fs::File::open(&log)?, &mut std::io::stderr())?;
        let took = started.elapsed().as_secs();
        if status.success() {
            eprintln!("xtask: done in {took} s: {name} (run alongside the others)");
        } else {
            eprintln!("xtask: {name} failed after {took} s: {status}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The integration suites that run on real Spin too: all but these, which check what only
/// the project host has:
/// - `messages_api`: the host's transport (a 413 from Content-Length before the body is
///   read, JSON 404s from its router, a 600-request burst queued for turns);
/// - `operations`, `provider_outage`: host settings (`MESSAGING_TICK_MS`,
///   `MESSAGING_OUTBOUND_TIMEOUT_MS`);
/// - `policy_files`: the host's start-up check of the policy folder (Spin has none);
/// - `security_host`: attacks on the host's own access log and transport;
/// - `deployment_manifests`: no runtime at all.
///
/// `shared_state` (several processes on one Redis) runs in the Spin run on Redis only.
const SPIN_SUITES: &[&str] = &[
    "runtime_fidelity",
    "spinkube_image",
    "africastalking_sms",
    "alerts",
    "audit_trail",
    "broadcasts",
    "caller_roles",
    "crash_recovery",
    "email_delivery",
    "encryption_at_rest",
    "failover",
    "govstack_email",
    "hostile_requests",
    "kannel_sms",
    "message_batch",
    "openapi_and_discovery",
    "otp_privacy",
    "person_to_government",
    "policies_and_outcomes",
    "push",
    "rate_limits",
    "retention",
    "scheduling",
    "security",
    "security_callbacks",
    "security_govstack_email",
    "signed_tokens",
    "status_callbacks",
    "telegram",
    "templates",
    "twilio_sms",
];

/// [`SPIN_SUITES`] on real Spin, the runtime the app is built for: once on Spin's SQLite
/// store, once on Spin's own Redis store (with `shared_state`). Spin is on no package
/// registry: without a Spin CLI the runs are skipped with a line saying so, except in CI
/// (`CI=true`), where a missing Spin fails.
fn test_on_spin(args: &[String]) -> Result<()> {
    let spin = spin_cli();
    if !has_command(&spin) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("no Spin CLI at {} (set MESSAGING_SPIN)", spin.display());
        }
        eprintln!(
            "no Spin CLI ({}; set MESSAGING_SPIN): the runs on Spin are skipped",
            spin.display()
        );
        return Ok(());
    }
    // One after the other: side by side, as the host's passes run, a test on Spin's
    // SQLite store was once answered 503 (openapi_and_discovery's first message), which
    // runs of their own have not shown; not understood yet.
    for store in ["sqlite", "redis"] {
        let mut command = cargo();
        command.args(["test", "-p", "integration-tests"]);
        for suite in SPIN_SUITES {
            command.args(["--test", suite]);
        }
        if store == "redis" {
            command.args(["--test", "shared_state"]);
        }
        run(command
            .args(args)
            .env("MESSAGING_TEST_RUNTIME", "spin")
            .env("MESSAGING_TEST_STORE", store)
            .env("MESSAGING_SPIN", &spin))?;
    }
    Ok(())
}

fn has_command(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The native crates but the integration suite (which `test` runs in passes of its own);
/// components only build for wasm32 and are exercised through the host.
fn unit_test_members() -> Vec<&'static str> {
    vec![
        "-p",
        "messaging-domain",
        "-p",
        "messaging-host",
        "-p",
        "xtask",
        "-p",
        "loadgen",
        "-p",
        "bench-double",
    ]
}

fn bench(args: &[String]) -> Result<()> {
    let host = build(true)?;
    run(Command::new("bash")
        .current_dir(root())
        .arg("bench/accept.sh")
        .arg(host)
        .args(args))
}

/// A Python benchmark `script` against the release host, which it builds first (with the
/// components).
fn python_bench(script: &str) -> Result<Command> {
    let host = build(true)?;
    let mut command = Command::new("python3");
    command
        .current_dir(root())
        .arg(script)
        .arg("--host")
        .arg(host);
    Ok(command)
}

/// `bench-broadcast [MEMBERS [--store redis] [--hosts N]]`: the broadcast benchmark
/// (bench/broadcast.py).
fn bench_broadcast(args: &[String]) -> Result<()> {
    let mut command = python_bench("bench/broadcast.py")?;
    if let Some((members, rest)) = args.split_first() {
        // The rest (`--store redis`, `--hosts 2`) goes to the script as given.
        command.arg("--members").arg(members).args(rest);
    }
    run(&mut command)
}

/// `bench-cold-start [SAMPLES]`: the first request after idle, and a process's first
/// answer after starting (bench/cold_start.py).
fn bench_cold_start(args: &[String]) -> Result<()> {
    let mut command = python_bench("bench/cold_start.py")?;
    if let Some(samples) = args.first() {
        command.arg("--samples").arg(samples);
    }
    run(&mut command)
}

/// `bench-side-by-side [MESSAGES [--connections N]]`: Kannel and this gateway in one run
/// (bench/side_by_side.py).
fn bench_side_by_side(args: &[String]) -> Result<()> {
    loadgen_bench("bench/side_by_side.py", "--messages", args)
}

/// `bench-crash [MESSAGES [--kill-at SHARE]]`: the runtime killed under load and
/// restarted; every accepted message must reach a final status (bench/crash.py).
fn bench_crash(args: &[String]) -> Result<()> {
    loadgen_bench("bench/crash.py", "--messages", args)
}

/// `bench-floors [TOTAL [--connections N]]`: the same load against ever more of the
/// accept path, from the host's router to a delivered message (bench/floors.py).
fn bench_floors(args: &[String]) -> Result<()> {
    loadgen_bench("bench/floors.py", "--total", args)
}

/// `bench-tick [WAITING [--ticks N]]`: a tick's time with WAITING messages scheduled for
/// later (bench/tick.py).
fn bench_tick(args: &[String]) -> Result<()> {
    loadgen_bench("bench/tick.py", "--waiting", args)
}

/// A Python benchmark `script` driven by bench/loadgen, which it builds too. The first of
/// `args` is its request count, passed as `count_flag`; the rest go as given.
fn loadgen_bench(script: &str, count_flag: &str, args: &[String]) -> Result<()> {
    let mut command = python_bench(script)?;
    run(cargo().args(["build", "--release", "-p", "loadgen", "-p", "bench-double"]))?;
    if let Some((count, rest)) = args.split_first() {
        command.arg(count_flag).arg(count).args(rest);
    }
    run(&mut command)
}

/// Prints a new VAPID key pair for the push channel: the private half for the
/// `vapid_private_key` variable, the public half for web apps' `applicationServerKey`.
fn vapid_keys() -> Result<()> {
    use base64::Engine;
    use std::io::Read;
    let mut random = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    loop {
        urandom.read_exact(&mut random)?;
        let private = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
        // A random 32-byte string is a valid P-256 key except with probability ~2^-32.
        if let Ok(key) = messaging_domain::providers::webpush::VapidKey::from_base64url(&private) {
            println!("vapid_private_key = {private}");
            println!("public key (applicationServerKey) = {}", key.public_key());
            return Ok(());
        }
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("help", &[]));
    match command {
        "build" => build(false).map(drop),
        "up" => up(rest),
        "spin-up" => spin_up(rest),
        "test" => test(rest),
        "bench" => bench(rest),
        "bench-broadcast" => bench_broadcast(rest),
        "bench-cold-start" => bench_cold_start(rest),
        "bench-side-by-side" => bench_side_by_side(rest),
        "bench-floors" => bench_floors(rest),
        "bench-crash" => bench_crash(rest),
        "bench-tick" => bench_tick(rest),
        "vapid-keys" => vapid_keys(),
        "check-globals" => globals::check(&root()),
        _ => {
            eprintln!(
                "usage: cargo xtask <build | up [--listen ADDR] | spin-up [--listen ADDR] | test [cargo test args] | bench [args] | bench-broadcast [members [--store redis] [--hosts n]] | bench-cold-start [samples] | bench-side-by-side [messages [--connections n]] | bench-floors [total [--connections n]] | bench-crash [messages [--kill-at share]] | bench-tick [waiting [--ticks n]] | vapid-keys | check-globals>"
            );
            Ok(())
        }
    }
}
