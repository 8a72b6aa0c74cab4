//! Reminders waiting for an answer ([`messaging_domain::conversation`],
//! [`messaging_domain::reminders`]) in the store: one value per recipient and channel
//! holding each caller's reminder, changed by compare-and-swap so that two callers'
//! reminders to one citizen never overwrite each other.

use crate::notifications::{self, enqueue_at};
use crate::{StoreResult, Swap, claims, now_ms, short_lived};
use messaging_domain::conversation::{self, Conversation, ExpectsReply, ReplyRecord};
use messaging_domain::notification::Notification;
use messaging_domain::reminders::Reminders;
use messaging_domain::{Channel, MessageRecord, keys};
use spin_sdk::key_value::Store;

/// Attempts at a compare-and-swap of one recipient's reminders before giving up (the
/// request then fails with 503 and can be repeated).
const SWAP_ATTEMPTS: usize = 64;

/// The window of a first creation's claim (`claims`).
const CREATE_WINDOW_MS: u64 = 10_000;

/// Changes the reminders under `key` with `change`, atomically against other writers.
async fn update(key: &str, change: impl Fn(Reminders) -> Reminders) -> StoreResult<()> {
    for _ in 0..SWAP_ATTEMPTS {
        let swap = Swap::read("default", key)?;
        match &swap.current {
            Some(bytes) => {
                let next = change(Reminders::decode(bytes)).encode();
                if swap.put(&next)? {
                    return Ok(());
                }
            }
            // From absent a swap is not atomic on every backend: a claim decides who
            // creates the value; a loser reads again and swaps from what the winner wrote.
            None => {
                if let Some(claim) = claims::take(key, CREATE_WINDOW_MS)? {
                    let next = change(Reminders::default()).encode();
                    crate::many::set_many("default", &[(key.to_string(), next)])?;
                    claim.release()?;
                    return Ok(());
                }
            }
        }
    }
    Err(crate::StoreError::from_text(
        "reminders: too many concurrent changes",
    ))
}

/// Adds `record` as its caller's reminder to the recipient (replacing that caller's
/// older one: people answer the last question a service asked them; other callers'
/// reminders stay), and, when the caller gave a `callback_url`, schedules the
/// `message.unconfirmed` callback for its expiry.
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
                owner: Some(record.owner.clone()),
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
        free_text: expects.free_text,
    };
    let now = now_ms();
    update(&key, |reminders| {
        reminders.started(conversation.clone(), now)
    })
    .await?;
    // Indexed at its expiry: the sweep erases the value once every reminder in it is
    // past, and each reminder's own entry comes due when that reminder ends.
    short_lived::track_until(&key, expires_ms)?;
    Ok(())
}

/// The reminders waiting for an answer from this recipient (expired ones take nothing).
pub async fn load(store: &Store, channel: Channel, recipient_hash: &str) -> StoreResult<Reminders> {
    Ok(store
        .get(keys::conversation(channel, recipient_hash))
        .await?
        .map(|bytes| Reminders::decode(&bytes))
        .unwrap_or_default())
}

/// Records the answer on the reminder, cancels its `unconfirmed` callback, ends that
/// reminder (the recipient's others stay), and queues the `message.reply` callback. Returns false if the reminder
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
    let answered = conversation.message_id.clone();
    update(&keys::conversation(channel, recipient_hash), |reminders| {
        reminders.without(&answered, now)
    })
    .await?;
    if let Some(url) = &conversation.callback_url {
        let notification = Notification {
            id: notifications::new_id(),
            event: "message.reply".into(),
            url: url.clone(),
            body: conversation::reply_body(&conversation.message_id, reference, answer, now),
            headers: Vec::new(),
            owner: Some(conversation.owner.clone()),
            created_ms: now,
            expires_ms: now + notifications::validity_ms().await,
        };
        notifications::enqueue(store, &notification).await?;
        notifications::poke();
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
