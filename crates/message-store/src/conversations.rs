//! Reminders waiting for an answer ([`messaging_domain::conversation`]) in the store.

use crate::notifications::{self, enqueue_at};
use crate::{StoreResult, now_ms};
use messaging_domain::conversation::{self, Conversation, ExpectsReply, ReplyRecord};
use messaging_domain::notification::Notification;
use messaging_domain::{Channel, MessageRecord, keys};
use spin_sdk::key_value::Store;

/// Makes `record` the reminder that the recipient's next message answers, and, when the
/// caller gave a `callback_url`, schedules the `message.unconfirmed` callback for its
/// expiry. A newer reminder to the same recipient takes over: people answer the last
/// question they were asked.
pub async fn start(
    store: &Store,
    record: &MessageRecord,
    expects: &ExpectsReply,
) -> StoreResult<()> {
    let expires_ms = now_ms() + expects.expires_in_seconds * 1000;
    let key = keys::conversation(record.channel, &record.recipient_hash);
    // An older reminder to the same recipient keeps its scheduled `unconfirmed`
    // callback: it will not be answered any more, and its caller hears so at its expiry.
    let unconfirmed = match &record.callback_url {
        Some(url) => {
            let notification = Notification {
                id: notifications::new_id(),
                event: "message.unconfirmed".into(),
                url: url.clone(),
                body: conversation::unconfirmed_body(
                    &record.id,
                    record.reference.as_deref(),
                    expires_ms,
                ),
                headers: Vec::new(),
                created_ms: now_ms(),
                expires_ms: expires_ms + notifications::validity_ms().await,
            };
            enqueue_at(store, &notification, expires_ms).await?;
            Some(notification.id)
        }
        None => None,
    };
    let conversation = Conversation {
        message_id: record.id.clone(),
        owner: record.owner.clone(),
        callback_url: record.callback_url.clone(),
        options: expects.options.clone(),
        expires_ms,
        unconfirmed,
    };
    store
        .set(key, serde_json::to_vec(&conversation).expect("json"))
        .await?;
    Ok(())
}

/// The reminder waiting for an answer from this recipient, if it has not expired.
pub async fn load(
    store: &Store,
    channel: Channel,
    recipient_hash: &str,
) -> StoreResult<Option<Conversation>> {
    let found: Option<Conversation> = store
        .get(keys::conversation(channel, recipient_hash))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    Ok(found.filter(|c| c.expires_ms > now_ms()))
}

/// Records the answer on the reminder, cancels its `unconfirmed` callback, ends the
/// conversation, and queues the `message.reply` callback. Returns false if the reminder
/// had an answer already (a repeated inbound message).
pub async fn answer(
    store: &Store,
    channel: Channel,
    recipient_hash: &str,
    conversation: &Conversation,
    reference: Option<&str>,
    answer: &str,
) -> StoreResult<bool> {
    let reply_key = keys::reply(&conversation.message_id);
    if store.exists(&reply_key).await? {
        return Ok(false);
    }
    let now = now_ms();
    let reply = ReplyRecord {
        answer: answer.to_string(),
        at_ms: now,
    };
    // The citizen's own words: sealed, like every other text at rest.
    crate::put_sealed(store, &reply_key, &reply).await?;
    if let Some(unconfirmed) = &conversation.unconfirmed {
        notifications::remove(store, unconfirmed).await?;
    }
    store
        .delete(keys::conversation(channel, recipient_hash))
        .await?;
    if let Some(url) = &conversation.callback_url {
        let notification = Notification {
            id: notifications::new_id(),
            event: "message.reply".into(),
            url: url.clone(),
            body: conversation::reply_body(&conversation.message_id, reference, answer, now),
            headers: Vec::new(),
            created_ms: now,
            expires_ms: now + notifications::validity_ms().await,
        };
        notifications::enqueue(store, &notification).await?;
        notifications::poke(notification.id);
    }
    Ok(true)
}

/// The answer recorded on a reminder, if any.
pub async fn reply(
    store: &Store,
    id: &messaging_domain::MessageId,
) -> StoreResult<Option<ReplyRecord>> {
    crate::get_sealed(store, &keys::reply(id)).await
}
