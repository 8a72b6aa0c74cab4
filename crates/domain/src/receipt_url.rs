//! Receipt URLs: where a provider reports delivery of one message, or of one broadcast
//! recipient. The URL carries a token only the gateway can make (an HMAC under
//! `receipt_secret`), so receipts cannot be forged by guessing ids; and the token is bound
//! to the provider the message went through, so a URL given to Twilio (whose reports must
//! also carry Twilio's signature) cannot be replayed as a Kannel report, which has only the
//! token to show.
//!
//! Shapes (webhook-inbound serves both):
//! - `/webhooks/receipts/{message-id}/{token}`, then `?kannel_type=N` (Kannel adds it) or
//!   `?provider=twilio`;
//! - `/webhooks/receipts/b/{broadcast}/{member hash}/{token}`, with the same queries.

use crate::hashing::keyed_hash;
use crate::{BroadcastId, MessageId};

/// A provider that reports delivery by calling a receipt URL. Mirrors
/// `govstack-messaging:sender/sender.receipt-provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptProvider {
    /// Kannel's delivery reports (`dlr-url`, `kannel_type=N`): the token is the only proof.
    Kannel,
    /// Twilio's status callbacks (`StatusCallback`): the token and `X-Twilio-Signature`.
    Twilio,
}

impl ReceiptProvider {
    fn as_str(self) -> &'static str {
        match self {
            ReceiptProvider::Kannel => "kannel",
            ReceiptProvider::Twilio => "twilio",
        }
    }

    /// Whose report a receipt request claims to be, from its query: `provider=twilio`
    /// marks Twilio's; anything else is checked as Kannel's.
    pub fn of_query(provider_param: Option<&str>) -> ReceiptProvider {
        match provider_param {
            Some("twilio") => ReceiptProvider::Twilio,
            _ => ReceiptProvider::Kannel,
        }
    }

    /// The query the URL ends with, which tells webhook-inbound whose report to expect.
    fn marker(self) -> &'static str {
        match self {
            // Kannel appends `?kannel_type=%d` itself.
            ReceiptProvider::Kannel => "",
            ReceiptProvider::Twilio => "?provider=twilio",
        }
    }
}

/// The token of a message's receipt URL.
pub fn message_token(secret: &[u8], provider: ReceiptProvider, id: &MessageId) -> String {
    token(secret, provider, id.as_str())
}

/// The token of a broadcast recipient's receipt URL.
pub fn recipient_token(
    secret: &[u8],
    provider: ReceiptProvider,
    broadcast: &BroadcastId,
    member_hash: &str,
) -> String {
    token(secret, provider, &format!("{broadcast}/{member_hash}"))
}

fn token(secret: &[u8], provider: ReceiptProvider, subject: &str) -> String {
    keyed_hash(
        secret,
        format!("{}:{subject}", provider.as_str()).as_bytes(),
    )[..32]
        .to_string()
}

/// A message's receipt URL under the gateway's public address `base`.
pub fn message_url(base: &str, secret: &[u8], provider: ReceiptProvider, id: &MessageId) -> String {
    format!(
        "{}/webhooks/receipts/{id}/{}{}",
        base.trim_end_matches('/'),
        message_token(secret, provider, id),
        provider.marker()
    )
}

/// A broadcast recipient's receipt URL under the gateway's public address `base`.
pub fn recipient_url(
    base: &str,
    secret: &[u8],
    provider: ReceiptProvider,
    broadcast: &BroadcastId,
    member_hash: &str,
) -> String {
    format!(
        "{}/webhooks/receipts/b/{broadcast}/{member_hash}/{}{}",
        base.trim_end_matches('/'),
        recipient_token(secret, provider, broadcast, member_hash),
        provider.marker()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> MessageId {
        MessageId::parse("msg_01hzy5n3v8k2m4p6q8r0s2t4v6").unwrap()
    }

    #[test]
    fn one_providers_token_is_not_anothers() {
        let kannel = message_token(b"s", ReceiptProvider::Kannel, &id());
        let twilio = message_token(b"s", ReceiptProvider::Twilio, &id());
        assert_ne!(kannel, twilio);
        assert_eq!(kannel.len(), 32);
        assert_ne!(
            kannel,
            message_token(b"other", ReceiptProvider::Kannel, &id())
        );
        let broadcast = BroadcastId::parse("brd_01hzy5n3v8k2m4p6q8r0s2t4v6").unwrap();
        let member = "0123456789abcdef0123456789abcdef";
        assert_ne!(
            recipient_token(b"s", ReceiptProvider::Kannel, &broadcast, member),
            recipient_token(b"s", ReceiptProvider::Twilio, &broadcast, member)
        );
    }

    #[test]
    fn urls_say_whose_report_to_expect() {
        let kannel = message_url("https://gw.example/", b"s", ReceiptProvider::Kannel, &id());
        assert_eq!(
            kannel,
            format!(
                "https://gw.example/webhooks/receipts/{}/{}",
                id(),
                message_token(b"s", ReceiptProvider::Kannel, &id())
            )
        );
        let twilio = message_url("https://gw.example", b"s", ReceiptProvider::Twilio, &id());
        assert!(twilio.ends_with("?provider=twilio"), "{twilio}");
        assert_eq!(
            ReceiptProvider::of_query(Some("twilio")),
            ReceiptProvider::Twilio
        );
        assert_eq!(ReceiptProvider::of_query(None), ReceiptProvider::Kannel);
        assert_eq!(
            ReceiptProvider::of_query(Some("TWILIO")),
            ReceiptProvider::Kannel
        );
    }
}
