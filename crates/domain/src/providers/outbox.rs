//! The development outbox: instead of a provider, each message is kept as a readable JSON
//! entry in the `outbox` key-value store, under its id, and counts as delivered. Only for
//! development (`GET /v1/outbox`, for callers with the `dev` role, lists it); the
//! deployment guide tells how to configure real providers.
//!
//! A store, not files: Spin mounts `files` read-only, and a store is shared by every host
//! of a deployment. Entries are sealed at rest like every address and content, and erased
//! with the message records after `retention`.

use serde::{Deserialize, Serialize};

/// The key-value store label of the outbox (declared in spin.toml and runtime-config.toml).
pub const STORE: &str = "outbox";

/// One message as the outbox records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub channel: String,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<crate::record::EmailDetails>,
}

impl Entry {
    /// A message without email parts, as the outbox keeps it.
    pub fn new(
        id: String,
        channel: &str,
        to: String,
        subject: Option<String>,
        body: String,
    ) -> Entry {
        Entry {
            id,
            channel: channel.to_string(),
            to,
            subject,
            body,
            email: None,
        }
    }

    /// The entry's key in [`STORE`]: the message id, which sorts by the time it was made.
    pub fn key(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_is_readable_json_keyed_by_id() {
        let entry = super::Entry {
            id: "msg_1".into(),
            channel: "email".into(),
            to: "a@b.org".into(),
            subject: Some("Hi".into()),
            body: "Body".into(),
            email: Some(crate::record::EmailDetails {
                cc: vec!["c@d.org".into()],
                ..Default::default()
            }),
        };
        assert_eq!(entry.key(), "msg_1");
        let v = serde_json::to_value(&entry).unwrap();
        assert_eq!(v["to"], "a@b.org");
        assert_eq!(v["subject"], "Hi");
        assert_eq!(v["email"]["cc"][0], "c@d.org");
        let back: super::Entry = serde_json::from_value(v).unwrap();
        assert_eq!(back, entry);
    }
}
