//! Reading and writing messages in the key-value store, in the layout of
//! `messaging_domain::keys`. Used by every component that touches messages, so the layout has
//! one implementation.

use messaging_domain::api::{HistoryEntry, rfc3339_millis};
use messaging_domain::record::Payload;
use messaging_domain::sealing::Keyring;
use messaging_domain::{MessageId, MessageRecord, Status, keys};
use spin_sdk::key_value::Store;

pub mod audit;
pub mod backend;
pub mod broadcast_retention;
pub mod broadcasts;
pub mod buckets;
pub mod claims;
pub mod config;
pub mod conversations;
pub mod counters;
pub mod delivery_watch;
pub mod drain;
pub mod groups;
pub mod inbound;
pub mod inserts;
pub mod log;
pub mod many;
pub mod notifications;
pub mod outbox;
pub mod private_route;
pub mod queue;
pub mod quota;
pub mod retention;
pub mod short_lived;
pub mod time_index;
pub mod work;
pub mod writes;

/// A storage failure, from either key-value interface. Its text is for operators' logs.
#[derive(Debug, Clone)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StoreError {
    /// A failure found by the caller (a key that must exist does not).
    pub fn from_text(text: &str) -> StoreError {
        StoreError(text.to_string())
    }
}

impl From<spin_sdk::key_value::Error> for StoreError {
    fn from(e: spin_sdk::key_value::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<wkv::Error> for StoreError {
    fn from(e: wkv::Error) -> Self {
        StoreError(format!("{e:?}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wkv};

/// A value read for a compare-and-swap: write with [`Swap::put`], which succeeds only if
/// nobody changed the key since it was read (`wasi:keyvalue/atomics`).
pub struct Swap {
    cas: atomics::Cas,
    /// The key, to read again where a failed swap needs confirming.
    key: String,
    /// Open for as long as the swap: on `cas-failed`, Spin reads the key again through the
    /// bucket the swap was made from, and a closed bucket turns that into `no-such-store`.
    bucket: std::rc::Rc<wkv::Bucket>,
    pub current: Option<Vec<u8>>,
}

impl Swap {
    /// Reads `key` of store `label` for a later conditional write.
    pub fn read(label: &str, key: &str) -> StoreResult<Swap> {
        let bucket = crate::buckets::open(label)?;
        let cas = atomics::Cas::new(&bucket, key)?;
        let current = cas.current()?;
        Ok(Swap {
            cas,
            key: key.to_string(),
            bucket,
            current,
        })
    }

    /// Writes `value` if the key still holds what was read. `Ok(false)`: someone else won.
    pub fn put(self, value: &[u8]) -> StoreResult<bool> {
        match atomics::swap(self.cas, value) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) if backend::swap_failure_needs_confirming() => {
                Ok(self.bucket.get(&self.key)?.as_deref() == Some(value))
            }
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(e)) => Err(e.into()),
        }
    }
}

pub async fn open() -> StoreResult<Store> {
    Ok(Store::open_default().await?)
}

/// The pending-work store: one key per message whose delivery is not settled, read by the
/// dispatcher's tick. Kept apart so that listing it stays cheap. Keys are
/// `<cell>/<message id>`, so each delivery cell lists only its own work.
pub async fn open_pending() -> StoreResult<Store> {
    Ok(Store::open("pending").await?)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub use inserts::{Inserts, insert};

pub async fn record(store: &Store, id: &MessageId) -> StoreResult<Option<MessageRecord>> {
    Ok(store
        .get(keys::message(id))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Every status the message reached, oldest first. One batch read asks for every possible
/// status at once: one round trip to Redis, one lock of the SQLite file, instead of one
/// per status (three histories per message were 24 of its 50 store calls).
pub fn history(id: &MessageId) -> StoreResult<Vec<(Status, u64)>> {
    let values = many::get_many("default", status_keys(id))?;
    Ok(reached(values.into_iter().map(|(_, v)| v)))
}

fn status_keys(id: &MessageId) -> Vec<String> {
    Status::ALL.iter().map(|&s| keys::status(id, s)).collect()
}

/// The statuses whose time is present among `values` (one per `Status::ALL`, in order),
/// as [`Status::timeline`] shows them.
fn reached(values: impl Iterator<Item = Option<Vec<u8>>>) -> Vec<(Status, u64)> {
    let mut reached = Vec::new();
    for (status, at) in Status::ALL.iter().zip(values) {
        if let Some(at) = at {
            let at = std::str::from_utf8(&at)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            reached.push((*status, at));
        }
    }
    Status::timeline(&reached)
}

/// What a delivery attempt looks at first: the record, the route's hop, the delivery
/// watch, the history, and the payload as stored (sealed).
pub struct DispatchView {
    pub record: Option<MessageRecord>,
    /// The position in its route of the cell that carries the message now (0: none
    /// stored, the first).
    pub hop: usize,
    pub watch: Option<messaging_domain::record::DeliveryWatch>,
    pub history: Vec<(Status, u64)>,
    /// The sealed payload ([`open_payload`]); absent once a provider has the message.
    pub sealed_payload: Option<Vec<u8>>,
}

/// Reads a [`DispatchView`] in one batch read.
pub fn dispatch_view(id: &MessageId) -> StoreResult<DispatchView> {
    Ok(dispatch_views(std::slice::from_ref(id))?
        .pop()
        .expect("one view per id"))
}

/// The [`DispatchView`]s of many messages in one batch read (a drain's page).
pub fn dispatch_views(ids: &[MessageId]) -> StoreResult<Vec<DispatchView>> {
    let per_id = 4 + Status::ALL.len();
    let mut keys = Vec::with_capacity(ids.len() * per_id);
    for id in ids {
        keys.extend([
            keys::message(id),
            keys::hop(id),
            keys::delivery_watch(id),
            keys::payload(id),
        ]);
        keys.extend(status_keys(id));
    }
    let mut values = many::get_many("default", keys)?.into_iter().map(|(_, v)| v);
    let mut views = Vec::with_capacity(ids.len());
    for _ in ids {
        let mut next = || values.next().flatten();
        let record = next().and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let hop = next()
            .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok())
            .unwrap_or(0);
        let watch = next().and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let sealed_payload = next();
        let history = reached(values.by_ref().take(Status::ALL.len()));
        views.push(DispatchView {
            record,
            hop,
            watch,
            history,
            sealed_payload,
        });
    }
    Ok(views)
}

/// Every status a message reached, with when (`Status::timeline` order).
pub type History = Vec<(Status, u64)>;

/// A message's record and [`history`] in one batch read (what a receipt needs).
pub fn record_and_history(id: &MessageId) -> StoreResult<Option<(MessageRecord, History)>> {
    let mut keys = vec![keys::message(id)];
    keys.extend(status_keys(id));
    let mut values = many::get_many("default", keys)?.into_iter().map(|(_, v)| v);
    let record = values
        .next()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    Ok(record.map(|record| (record, reached(values))))
}

/// The [`history`] of many messages in one batch read.
pub fn histories(ids: &[MessageId]) -> StoreResult<Vec<History>> {
    let keys = ids.iter().flat_map(status_keys).collect();
    let mut values = many::get_many("default", keys)?.into_iter().map(|(_, v)| v);
    Ok(ids
        .iter()
        .map(|_| reached(values.by_ref().take(Status::ALL.len())))
        .collect())
}

/// Marks messages as being sent by the drain that holds their cell's lease, until
/// `until_ms` (`keys::sending`), in one `set-many`. Written before [`held_views`] reads
/// their cancel claims: a cancel that took a claim before sees the mark, or the view
/// sees the claim.
pub fn mark_sending(ids: &[MessageId], until_ms: u64) -> StoreResult<()> {
    let mark = messaging_domain::lease::value(until_ms, &hex::encode(&random_16()[..6]));
    let rows: Vec<(String, Vec<u8>)> = ids
        .iter()
        .map(|id| (keys::sending(id), mark.clone().into_bytes()))
        .collect();
    many::set_many("default", &rows)
}

/// Runs `work` (the sender's call for a page) while renewing the page's marks
/// ([`mark_sending`]) every third of `mark_ms`, as a lease is held
/// ([`work::Lease::hold_during`]): a page sent one message at a time can outlast one mark,
/// and a cancel must not be answered for a message still to be sent. A drain that dies
/// stops renewing, and its marks run out.
pub async fn keep_marked_during<T>(
    ids: &[MessageId],
    mark_ms: u64,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = || {
        if let Err(e) = mark_sending(ids, now_ms() + mark_ms) {
            eprintln!("renewing the marks of a page being sent: {e}");
        }
    };
    work::renewing_during(mark_ms, renew, work).await
}

/// Whether a cell marked the message as being sent, and the mark is live
/// ([`mark_sending`]): a cancel reads it once it holds the message's claim.
pub fn is_being_sent(id: &MessageId) -> StoreResult<bool> {
    let now = now_ms();
    Ok(many::get_one("default", &keys::sending(id))?
        .is_some_and(|v| messaging_domain::lease::is_held(&v, now)))
}

/// What an attempt reads again once its messages are marked as being sent: the history
/// (another attempt may have sent it meanwhile), whether a cancel holds its claim, and
/// how many attempts are numbered (the drain numbers the next: [`attempt_rows`]).
pub struct HeldView {
    pub history: History,
    pub cancelling: bool,
    pub attempts: u64,
}

/// The [`HeldView`]s of many marked messages in one batch read.
pub fn held_views(ids: &[MessageId]) -> StoreResult<Vec<HeldView>> {
    let mut keys = Vec::with_capacity(ids.len() * (2 + Status::ALL.len()));
    for id in ids {
        keys.push(keys::claim(id));
        keys.push(keys::attempt_count(id));
        keys.extend(status_keys(id));
    }
    let now = now_ms();
    let mut values = many::get_many("default", keys)?.into_iter().map(|(_, v)| v);
    Ok(ids
        .iter()
        .map(|_| {
            let cancelling = values
                .next()
                .flatten()
                .is_some_and(|v| messaging_domain::lease::is_held(&v, now));
            let attempts = values
                .next()
                .flatten()
                .and_then(|v| messaging_domain::counter::decode(&v))
                .unwrap_or(0)
                .max(0) as u64;
            HeldView {
                history: reached(values.by_ref().take(Status::ALL.len())),
                cancelling,
                attempts,
            }
        })
        .collect())
}

pub fn history_entries(reached: &[(Status, u64)]) -> Vec<HistoryEntry> {
    reached
        .iter()
        .map(|&(status, at)| HistoryEntry {
            status,
            at: rfc3339_millis(at),
        })
        .collect()
}

/// What the pending store holds for a message: when to try next and how often it was tried.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct PendingEntry {
    pub due_ms: u64,
    pub attempts: u32,
    /// Due at a time the caller chose (`send_at`): nobody hands it over, so the tick takes
    /// it when due, without the grace it gives work a producer is still handing over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scheduled: bool,
}

fn pending_key(cell: &str, id: &impl std::fmt::Display) -> String {
    queue::entry_key(cell, &id.to_string())
}

/// Records when `id` (a message, or a notification in the notifier's cell) is next due,
/// and indexes it under that time (`queue`), where the cell's tick finds it.
pub async fn set_pending(
    cell: &str,
    id: &impl std::fmt::Display,
    entry: PendingEntry,
) -> StoreResult<()> {
    let value = serde_json::to_vec(&entry).expect("json");
    queue::put(cell, &[(id.to_string(), value)], entry.due_ms).await
}

pub async fn pending(cell: &str, id: &impl std::fmt::Display) -> StoreResult<Option<PendingEntry>> {
    Ok(open_pending()
        .await?
        .get(pending_key(cell, id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// Settles `id`'s pending work: its slots in the due index are passed over from now on.
pub async fn clear_pending(cell: &str, id: &impl std::fmt::Display) -> StoreResult<()> {
    Ok(open_pending().await?.delete(pending_key(cell, id)).await?)
}

/// Persists a message that will not be sent because its recipient opted out: the record
/// and its `accepted` and `suppressed` statuses, no address, no content, no pending work.
pub async fn insert_suppressed(store: &Store, record: &MessageRecord) -> StoreResult<()> {
    let id = &record.id;
    store
        .set(
            keys::message(id),
            serde_json::to_vec(record).expect("record serialises"),
        )
        .await?;
    let at = record.created_ms.to_string();
    store.set(keys::status(id, Status::Accepted), &at).await?;
    store.set(keys::status(id, Status::Suppressed), &at).await?;
    retention::ACCEPTED.add(record.created_ms, id.as_str())
}

/// Whether the recipient with this keyed hash opted out of non-emergency messages on
/// `channel`.
pub async fn opted_out(
    store: &Store,
    channel: messaging_domain::Channel,
    recipient_hash: &str,
) -> StoreResult<bool> {
    Ok(store.exists(keys::opt_out(channel, recipient_hash)).await?)
}

/// 16 bytes for an id that sorts by creation time: the first 6 are the time in Unix
/// milliseconds, the other 10 random. Keys made from such ids list in the order the work
/// arrived, so a tick scanning the pending store serves it first in, first out.
pub fn time_ordered_16() -> [u8; 16] {
    let mut bytes = random_16();
    bytes[..6].copy_from_slice(&now_ms().to_be_bytes()[2..]);
    bytes
}

/// 16 bytes from `wasi:random`, for the ids of the domain (`MessageId::from_random`, ...).
pub fn random_16() -> [u8; 16] {
    let bytes = spin_sdk::wasip3::random::random::get_random_bytes(16);
    let mut random = [0u8; 16];
    random.copy_from_slice(&bytes[..16]);
    random
}

/// The keys that seal values at rest (`storage_keys`, see `messaging_domain::sealing`),
/// read and stretched once per instance: a request that seals a payload and its
/// notifications pays for it once.
pub(crate) async fn keyring() -> StoreResult<&'static Keyring> {
    static KEYRING: std::sync::OnceLock<Keyring> = std::sync::OnceLock::new();
    if let Some(ring) = KEYRING.get() {
        return Ok(ring);
    }
    let spec = crate::config::get("storage_keys")
        .await
        .map_err(|_| StoreError("storage_keys is not set".into()))?;
    let ring = Keyring::parse(&spec).map_err(StoreError)?;
    Ok(KEYRING.get_or_init(|| ring))
}

/// Writes `value` under `key`, sealed: the store never holds addresses, content or
/// callback bodies in clear. The key is the sealed value's context, so a value copied to
/// another key does not open.
pub async fn put_sealed<T: serde::Serialize>(
    store: &Store,
    key: &str,
    value: &T,
) -> StoreResult<()> {
    let plain = serde_json::to_vec(value).expect("stored values serialise");
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&random_16()[..12]);
    let sealed = keyring().await?.seal(key, &plain, nonce);
    Ok(store.set(key, sealed).await?)
}

/// Reads and opens what [`put_sealed`] wrote. A value sealed with a key `storage_keys` no
/// longer has is an error, not an absence: its work waits for the key rather than being
/// dropped. So is a value in clear: only the gateway, which has the keys, writes here.
pub async fn get_sealed<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
) -> StoreResult<Option<T>> {
    let Some(stored) = store.get(key).await? else {
        return Ok(None);
    };
    open_sealed(key, &stored).await
}

/// Opens what [`put_sealed`] wrote under `key`, read as `stored`.
pub(crate) async fn open_sealed<T: serde::de::DeserializeOwned>(
    key: &str,
    stored: &[u8],
) -> StoreResult<Option<T>> {
    let plain = keyring()
        .await?
        .open(key, stored)
        .map_err(|e| StoreError(format!("{key}: {e}")))?;
    Ok(serde_json::from_slice(&plain).ok())
}

/// Writes a message's address and content, sealed.
pub async fn put_payload(store: &Store, id: &MessageId, payload: &Payload) -> StoreResult<()> {
    put_sealed(store, &keys::payload(id), payload).await
}

pub async fn payload(store: &Store, id: &MessageId) -> StoreResult<Option<Payload>> {
    get_sealed(store, &keys::payload(id)).await
}

/// Opens a payload read sealed (a [`DispatchView`]'s), as [`payload`] would.
pub async fn open_payload(id: &MessageId, sealed: &[u8]) -> StoreResult<Option<Payload>> {
    open_sealed(&keys::payload(id), sealed).await
}

/// Erases the address and content: called as soon as a provider has the message or it is
/// settled otherwise.
pub async fn erase_payload(store: &Store, id: &MessageId) -> StoreResult<()> {
    Ok(store.delete(keys::payload(id)).await?)
}

/// Records that `status` was reached now, unless it was reached before (receipts can be
/// repeated). Returns whether it was new.
pub async fn reach(store: &Store, id: &MessageId, status: Status) -> StoreResult<bool> {
    if store.exists(keys::status(id, status)).await? {
        return Ok(false);
    }
    mark_reached(store, id, status).await?;
    Ok(true)
}

/// Records that `status` was reached now, for a caller that knows it was not reached yet.
pub async fn mark_reached(store: &Store, id: &MessageId, status: Status) -> StoreResult<()> {
    Ok(store
        .set(keys::status(id, status), now_ms().to_string())
        .await?)
}

/// The rows that record attempt number `n` of a message: the attempt, and the count of
/// numbered attempts. Only the drain that marked the message as being sent writes them,
/// having read the count after the mark ([`held_views`]): one drain holds a cell's lease,
/// and a message is in one cell's queue at a time, so numbers never collide.
pub fn attempt_rows(
    id: &MessageId,
    n: u64,
    attempt: &messaging_domain::record::AttemptRecord,
) -> [(String, Vec<u8>); 2] {
    [
        (
            keys::attempt(id, n),
            serde_json::to_vec(attempt).expect("json"),
        ),
        (keys::attempt_count(id), n.to_string().into_bytes()),
    ]
}

/// The most attempts a message view shows.
const ATTEMPTS_SHOWN: u64 = 100;

/// How many attempts the message's history numbered.
pub fn attempt_count(id: &MessageId) -> StoreResult<u64> {
    Ok(counters::read(&keys::attempt_count(id))?.max(0) as u64)
}

/// The message's attempt history, oldest first (at most [`ATTEMPTS_SHOWN`] entries). A
/// number whose attempt is not written yet (its writer is between the two writes) is
/// left out.
pub async fn attempts(
    _store: &Store,
    id: &MessageId,
) -> StoreResult<Vec<messaging_domain::record::AttemptRecord>> {
    let count = attempt_count(id)?.min(ATTEMPTS_SHOWN);
    let wanted = (1..=count).map(|n| keys::attempt(id, n)).collect();
    Ok(many::get_many("default", wanted)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v?).ok())
        .collect())
}
