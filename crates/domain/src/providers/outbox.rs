//! The development outbox: instead of a provider, each message is written as a readable
//! JSON file named after its id, and counts as delivered. Only for development; the
//! deployment guide tells how to configure real providers.

use serde::Serialize;

/// Where the senders find the outbox (spin.toml mounts the project's `outbox/` here).
pub const OUTBOX_DIR: &str = "/outbox";

/// One message as the outbox records it.
#[derive(Serialize)]
pub struct Entry<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub to: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a crate::record::EmailDetails>,
}

impl Entry<'_> {
    /// File name and content of the entry.
    pub fn file(&self) -> (String, Vec<u8>) {
        let json = serde_json::to_vec_pretty(self).expect("json");
        (format!("{OUTBOX_DIR}/{}.json", self.id), json)
    }

    /// Writes the entry so that a reader never sees it half-written (temporary file, then
    /// rename). The only file I/O in this crate: both senders share it.
    pub fn write(&self) -> std::io::Result<()> {
        let (path, bytes) = self.file();
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_is_readable_json_named_by_id() {
        let details = crate::record::EmailDetails {
            cc: vec!["c@d.org".into()],
            ..Default::default()
        };
        let entry = super::Entry {
            id: "msg_1",
            channel: "email",
            to: "a@b.org",
            subject: Some("Hi"),
            body: "Body",
            email: Some(&details),
        };
        let (path, bytes) = entry.file();
        assert_eq!(path, "/outbox/msg_1.json");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["to"], "a@b.org");
        assert_eq!(v["subject"], "Hi");
        assert_eq!(v["email"]["cc"][0], "c@d.org");
    }
}
