//! The development outbox: instead of a provider, each message is written as a readable
//! JSON file named after its id, and counts as delivered. Only for development; the
//! deployment guide tells how to configure real providers.

use serde::Serialize;

/// Where the senders find the outbox (spin.toml mounts the project's `outbox/` here).
pub const OUTBOX_DIR: &str = "/outbox";

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    channel: &'a str,
    to: &'a str,
    subject: Option<&'a str>,
    body: &'a str,
}

/// File name and content of one outbox entry.
pub fn entry(
    id: &str,
    channel: &str,
    to: &str,
    subject: Option<&str>,
    body: &str,
) -> (String, Vec<u8>) {
    let json = serde_json::to_vec_pretty(&Entry {
        id,
        channel,
        to,
        subject,
        body,
    })
    .expect("json");
    (format!("{OUTBOX_DIR}/{id}.json"), json)
}

/// Writes one entry so that a reader never sees it half-written (temporary file, then
/// rename). The only file I/O in this crate: both senders share it.
pub fn write(
    id: &str,
    channel: &str,
    to: &str,
    subject: Option<&str>,
    body: &str,
) -> std::io::Result<()> {
    let (path, bytes) = entry(id, channel, to, subject, body);
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_is_readable_json_named_by_id() {
        let (path, bytes) = super::entry("msg_1", "email", "a@b.org", Some("Hi"), "Body");
        assert_eq!(path, "/outbox/msg_1.json");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["to"], "a@b.org");
        assert_eq!(v["subject"], "Hi");
    }
}
