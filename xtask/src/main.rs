//! Project automation, in the cargo-xtask manner: `cargo xtask <command>`.
//!
//! - `build`: the components (wasm32-wasip2, release) and the host.
//! - `up [--listen ADDR]`: build, then serve on the project host with development defaults.
//! - `test`: install what the tests need, build, run every test (the integration suite
//!   on SQLite, then on Redis).
//! - `bench [SECONDS [CONNECTIONS]]`: release build; the fresh-instance benchmark, then the
//!   accept-path benchmark (bench/accept.sh, wrk).
//! - `bench-broadcast [MEMBERS]`: release build; a broadcast to a group of MEMBERS
//!   (1,000,000 by default) through a provider double (bench/broadcast.py).
//! - `bench-cold-start [SAMPLES]`: release build; the first request after idle, and a
//!   fresh process's first answer (bench/cold_start.py).
//! - `bench-side-by-side [MESSAGES]`: release build; the same SMS through Kannel and
//!   through this gateway, accepts, sends and receipts (bench/side_by_side.py).
//! - `bench-floors [TOTAL]`: release build; the same load against ever more of the accept
//!   path, from the host's router to a delivered message (bench/floors.py).

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

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
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

fn build(release_host: bool) -> Result<PathBuf> {
    ensure_wasm_target()?;
    if !has_clang() {
        bail!(
            "clang is missing: it compiles ring (TLS in sender-email) for wasm32; install the Debian package clang"
        );
    }
    let mut components = cargo();
    components.args(["build", "--target", WASM_TARGET, "--release"]);
    for c in COMPONENTS {
        components.args(["-p", c]);
    }
    run(&mut components)?;
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
    if std::env::var_os("SPIN_VARIABLE_API_KEYS").is_none() {
        let key = match std::env::var("MESSAGING_DEV_KEY") {
            Ok(key) if !key.is_empty() => key,
            _ => dev_secret("api-key")?,
        };
        cmd.env(
            "SPIN_VARIABLE_API_KEYS",
            format!("dev:dev:{}", sha256_hex(&key)?),
        );
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
    run(&mut cmd)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs what the tests use, where missing and possible: Kannel from the system's
/// packages, the OpenAPI validator, Kubernetes' schemas and the SMTP server (aiosmtpd)
/// from PyPI.
fn ensure_test_tools() -> Result<()> {
    for (module, package) in [
        ("openapi_spec_validator", "openapi-spec-validator==0.9.0"),
        // Kubernetes' schemas, offline, for infra/check.py.
        ("kubernetes_validate", "kubernetes-validate==1.37.0"),
    ] {
        let installed = Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            run(Command::new("python3").args(["-m", "pip", "install", "-q", package]))?;
        }
    }
    let missing = missing_system_packages();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing system packages: install {} (Debian)",
            missing.join(" ")
        );
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The Debian packages the build and the tests need that are not installed: Kannel for the
/// real SMS path, redis-server for the Redis backend, and clang with llvm, which compile ring's C for wasm32 (TLS in
/// sender-email).
fn missing_system_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !Path::new("/usr/sbin/bearerbox").exists() {
        missing.push("kannel");
    }
    if !Path::new("/usr/lib/kannel/test/fakesmsc").exists() {
        missing.push("kannel-extras");
    }
    if !has_tool("redis-server") {
        missing.push("redis-server");
    }
    if !has_clang() {
        missing.push("clang");
    }
    // clang alone (without its recommended packages) has no llvm-ar to archive wasm objects.
    if !has_tool("llvm-ar") {
        missing.push("llvm");
    }
    missing
}

fn has_clang() -> bool {
    has_tool("clang")
}

fn has_tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    run(cargo().arg("test").args(default_members_args()).args(args))?;
    // The integration suite once more with every gateway's stores on a redis-server of
    // its own (tests/src/redis.rs): both backends must behave the same.
    run(cargo()
        .args(["test", "-p", "integration-tests"])
        .args(args)
        .env("MESSAGING_TEST_STORE", "redis"))
}

fn default_members_args() -> Vec<&'static str> {
    // The native crates; components only build for wasm32 and are exercised through the host.
    vec![
        "-p",
        "messaging-domain",
        "-p",
        "messaging-host",
        "-p",
        "integration-tests",
        "-p",
        "xtask",
        "-p",
        "loadgen",
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

/// `bench-floors [TOTAL [--connections N]]`: the same load against ever more of the
/// accept path, from the host's router to a delivered message (bench/floors.py).
fn bench_floors(args: &[String]) -> Result<()> {
    loadgen_bench("bench/floors.py", "--total", args)
}

/// A Python benchmark `script` driven by bench/loadgen, which it builds too. The first of
/// `args` is its request count, passed as `count_flag`; the rest go as given.
fn loadgen_bench(script: &str, count_flag: &str, args: &[String]) -> Result<()> {
    let mut command = python_bench(script)?;
    run(cargo().args(["build", "--release", "-p", "loadgen"]))?;
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
        "test" => test(rest),
        "bench" => bench(rest),
        "bench-broadcast" => bench_broadcast(rest),
        "bench-cold-start" => bench_cold_start(rest),
        "bench-side-by-side" => bench_side_by_side(rest),
        "bench-floors" => bench_floors(rest),
        "vapid-keys" => vapid_keys(),
        _ => {
            eprintln!(
                "usage: cargo xtask <build | up [--listen ADDR] | test [cargo test args] | bench [args] | bench-broadcast [members [--store redis] [--hosts n]] | bench-cold-start [samples] | bench-side-by-side [messages [--connections n]] | bench-floors [total [--connections n]] | vapid-keys>"
            );
            Ok(())
        }
    }
}
