//! Receipt URLs for this cell's messages and broadcast recipients: made only when the
//! cell's sender says its provider reports to one (`sender.receipts`), and bound to that
//! provider (`messaging_domain::receipt_url`).

use crate::govstack_messaging::sender::sender::{self, ReceiptProvider as WitProvider};
use messaging_domain::receipt_url::{self, ReceiptProvider};
use messaging_domain::{BroadcastId, MessageId};

/// What makes this cell's receipt URLs: the gateway's public address, `receipt_secret`
/// and the provider that reports.
pub struct ReceiptUrls {
    base: String,
    secret: String,
    provider: ReceiptProvider,
}

impl ReceiptUrls {
    /// None when the sender's provider takes no receipt URL, or the settings are missing.
    pub async fn for_this_cell() -> Option<ReceiptUrls> {
        let provider = match sender::receipts().await? {
            WitProvider::Kannel => ReceiptProvider::Kannel,
            WitProvider::Twilio => ReceiptProvider::Twilio,
        };
        let base = message_store::config::get("public_url").await.ok()?;
        let secret = message_store::config::get("receipt_secret").await.ok()?;
        Some(ReceiptUrls {
            base,
            secret,
            provider,
        })
    }

    pub fn message(&self, id: &MessageId) -> String {
        receipt_url::message_url(&self.base, self.secret.as_bytes(), self.provider, id)
    }

    pub fn recipient(&self, broadcast: &BroadcastId, member_hash: &str) -> String {
        receipt_url::recipient_url(
            &self.base,
            self.secret.as_bytes(),
            self.provider,
            broadcast,
            member_hash,
        )
    }
}
