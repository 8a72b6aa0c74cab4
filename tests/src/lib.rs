//! Test harness: starts the real host with the real components (built by `cargo xtask
//! build`), and real protocol peers (Kannel), each in a temporary folder, on loopback.

pub mod africastalking;
pub mod gateway;
pub mod http;
pub mod kannel;
pub mod raw_client;
pub mod recorder;
pub mod redis;
pub mod registry;
pub mod runtime;
pub mod service_token;
pub mod smtp;
pub mod twilio;

use std::path::PathBuf;

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The Python of the project-local virtual environment that `cargo xtask test` makes from
/// `tests/requirements.txt`. The tests run Python tools with this interpreter only, never
/// the machine's, so a tool missing from the requirements fails on every machine.
pub fn python() -> PathBuf {
    let path = workspace_root().join("target/test-venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test` (it creates the test tools' virtual \
         environment from tests/requirements.txt)",
        path.display()
    );
    path
}

/// A free TCP port on loopback. The port is released before use, so a rare clash with
/// another process is possible; the harness retries start-up once in that case.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A provider's recorded payload, kept beside its wire format in
/// `crates/domain/src/providers/<provider>/`.
pub fn provider_fixture(provider: &str, name: &str) -> String {
    std::fs::read_to_string(
        workspace_root()
            .join("crates/domain/src/providers")
            .join(provider)
            .join(name),
    )
    .unwrap_or_else(|e| panic!("fixture {provider}/{name}: {e}"))
}

/// Checks a callback's `X-Messaging-Signature` as a receiver would, from the documented
/// scheme (`t=<seconds>` then one or more `v1=<hex>`, each HMAC-SHA256 of `"<t>.<body>"`;
/// one made with the receiver's `secret` suffices), independently of the gateway's code.
/// Returns the signed time `t` if the signature is valid.
pub fn verify_callback_signature(secret: &str, header: &str, body: &[u8]) -> Option<u64> {
    use hmac::Mac;
    let mut parts = header.split(',');
    let t = parts.next()?.strip_prefix("t=")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    parts
        .filter_map(|part| part.strip_prefix("v1="))
        .any(|v1| v1 == expected)
        .then(|| t.parse().ok())
        .flatten()
}
