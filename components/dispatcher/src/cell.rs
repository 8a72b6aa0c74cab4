//! What every way of sending (one message, a broadcast batch) asks of its delivery cell:
//! which cell this is, the deployment's default time zone, the provider's send rate, the
//! WIT names of channels and what the sender's answers mean.

use crate::govstack_messaging::types::types::{Channel as WitChannel, SendOutcome};
use message_store as store;
use messaging_domain::delivery::Answer;
use messaging_domain::{Channel, keys};

/// The delivery cell this instance serves (the `cell` variable, its Spin component id).
pub async fn own_cell() -> Option<String> {
    message_store::config::get("cell")
        .await
        .ok()
        .filter(|c| !c.is_empty())
}

/// The deployment's time zone for recipients who gave none (`default_timezone`, a UTC
/// offset such as `+03:00`; UTC when unset).
pub async fn default_utc_offset() -> i16 {
    message_store::config::get("default_timezone")
        .await
        .ok()
        .and_then(|t| messaging_domain::quiet_hours::parse_offset(t.trim()))
        .unwrap_or(0)
}

/// Takes `wanted` tokens (or as many as there are) from this cell's send-rate bucket.
/// `None`: go ahead (all were granted, or the cell has no `send_rate`); `Some(ms)`: none now.
pub async fn throttled(cell: &str, wanted: u64) -> store::StoreResult<Option<u64>> {
    Ok(granted(cell, wanted).await?.err())
}

/// How many of `wanted` sends the cell's provider takes now (`Ok(wanted)` without a
/// `send_rate`), or how long until the next.
pub async fn granted(cell: &str, wanted: u64) -> store::StoreResult<Result<u64, u64>> {
    match store::work::send_rate().await {
        None => Ok(Ok(wanted)),
        Some(limit) => store::work::take_tokens(&keys::send_rate_bucket(cell), limit, wanted),
    }
}

/// The WIT name of a channel.
pub fn wit_channel(channel: Channel) -> WitChannel {
    match channel {
        Channel::Sms => WitChannel::Sms,
        Channel::Email => WitChannel::Email,
        Channel::Telegram => WitChannel::Telegram,
        Channel::Push => WitChannel::Push,
    }
}

/// The provider's answer for the decision, with what only the adapter records: the
/// provider's own id of the message and its reason for not taking it.
pub fn answer_of(outcome: SendOutcome) -> (Answer, Option<String>, Option<String>) {
    match outcome {
        SendOutcome::Accepted(provider_id) => (Answer::Accepted, provider_id, None),
        SendOutcome::Delivered => (Answer::Delivered, None, None),
        SendOutcome::Deferred(reason) => (Answer::Deferred, None, Some(reason)),
        SendOutcome::Rejected(reason) => (Answer::Rejected, None, Some(reason)),
    }
}
