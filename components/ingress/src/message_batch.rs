//! `POST /v1/messages/batch`: many messages of different content and recipients in one
//! request (`messaging_domain::message_batch`), each accepted as `POST /v1/messages`
//! accepts one (`messages::create_one`), answered in order with its id or its error.
//!
//! - Items are independent: a bad item, or one the quota or rate limit leaves out, gets
//!   its error in its place and the others go ahead.
//! - The request is idempotent as a whole: under an `Idempotency-Key`, or within the
//!   duplicate window for the same body, item `i` is reserved under the request's
//!   reservation and `i`, so a repeat (also after a crash halfway) answers each item with
//!   its first id and sends nothing twice.
//! - Accepted items are written together, up to [`COMMIT_EVERY`] in one commit
//!   (`message_store::inserts`); the items of a commit that fails are answered 503 and
//!   never handed over.
//! - The caller's rate limit counts items: the request pays for the first, the bucket is
//!   asked for the rest. The daily quota counts each item's occurrences.

use crate::accept;
use crate::govstack_messaging::types::types::Caller;
use crate::idempotency::{Decided, Dedup};
use crate::messages::{Created, Shared, create_one};
use crate::respond::{HttpResponse, json, or_error};
use message_store as store;
use messaging_domain::message_batch::MessageBatch;
use messaging_domain::{ApiError, MessageId};
use spin_sdk::http::Request;

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    or_error(try_create(caller, req).await)
}

async fn try_create(caller: Caller, req: Request) -> Result<HttpResponse, ApiError> {
    let client = crate::credentials::im_client(&req);
    let idempotency_key = crate::messages::idempotency_key(&req)?;
    let body = crate::body::json(req).await?;
    let batch = MessageBatch::parse(&body)?;
    let dedup = Dedup::for_request(
        &caller.id,
        idempotency_key.as_deref(),
        "/v1/messages/batch",
        &body,
    )
    .await;
    let mut request = Shared::open(&caller, client).await?;
    let valid = batch.items.iter().filter(|item| item.is_ok()).count() as u64;
    let admitted = crate::rate_limit::take_more(&caller.id, valid.saturating_sub(1)).await?;
    let admissions = (admitted.count + 1).min(valid);
    // The items to create: the valid ones, in order, as far as the rate limit admits.
    let to_create: Vec<usize> = (0..batch.items.len())
        .filter(|&i| batch.items[i].is_ok())
        .take(admissions as usize)
        .collect();
    let mut reservations = ItemReservations::new(dedup.as_ref(), &to_create);
    let mut answers = Answers::default();
    let mut inserts = store::Inserts::new();
    for (i, item) in batch.items.into_iter().enumerate() {
        let answer = match item {
            Err(refused) => Err(refused),
            Ok(_) if to_create.binary_search(&i).is_err() => {
                Err(crate::rate_limit::left_out(admitted.retry_after_ms))
            }
            Ok(command) => {
                let dedup = match reservations.for_item(i).await {
                    Ok(dedup) => dedup,
                    Err(e) => {
                        answers.now(Err(e));
                        continue;
                    }
                };
                let before = inserts.len();
                let created = create_one(&mut request, command, dedup.as_ref(), &mut inserts).await;
                if let Err(e) = &created
                    && inserts.len() == before
                {
                    reservations.abandon(dedup.as_ref(), e);
                }
                match created {
                    Ok(created) if inserts.len() > before => {
                        answers.after_commit(created);
                        if inserts.len() >= COMMIT_EVERY {
                            answers.committed(inserts.commit().await);
                        }
                        continue;
                    }
                    answer => answer,
                }
            }
        };
        answers.now(answer);
    }
    answers.committed(inserts.commit().await);
    reservations.give_back_abandoned();
    let (answers, hand_overs) = answers.finish();
    hand_overs.start();
    Ok(json(202, &serde_json::json!({ "items": answers })))
}

/// Items accepted before their messages are committed, at most: a commit comes well
/// within an item's idempotency reservation's claim window, so a repeat never takes over
/// the reservation of an item still on its way to the store.
const COMMIT_EVERY: usize = 100;

/// The items' reservations under the request's (`idempotency::reserve_items`), made for
/// [`COMMIT_EVERY`] items at a time just before they are created, so that each is written
/// about as soon before its message as when items were reserved one by one.
struct ItemReservations<'a> {
    request: Option<&'a Dedup>,
    /// The items to create, in order.
    to_create: &'a [usize],
    /// Decided and not yet asked for, by item.
    ready: std::collections::BTreeMap<usize, Dedup>,
    /// Reservations made for items that were then refused (key, id): given back at the
    /// end, so a repeat of the request answers those items afresh.
    abandoned: Vec<(String, String)>,
}

impl<'a> ItemReservations<'a> {
    fn new(request: Option<&'a Dedup>, to_create: &'a [usize]) -> ItemReservations<'a> {
        ItemReservations {
            request,
            to_create,
            ready: Default::default(),
            abandoned: Vec::new(),
        }
    }

    /// Item `i`'s reservation, decided with the next items if it is not yet.
    async fn for_item(&mut self, i: usize) -> Result<Option<Dedup>, ApiError> {
        let Some(request) = self.request else {
            return Ok(None);
        };
        if !self.ready.contains_key(&i) {
            let start = self.to_create.partition_point(|&j| j < i);
            let chunk = &self.to_create[start..(start + COMMIT_EVERY).min(self.to_create.len())];
            let mut items = Vec::with_capacity(chunk.len());
            for &j in chunk {
                items.push((request.item(j), accept::new_id()?.as_str().to_string()));
            }
            let decided = crate::idempotency::reserve_items(request, &items)
                .await
                .map_err(|e| accept::unavailable("idempotency", e))?;
            for ((&j, (mut dedup, _)), decided) in chunk.iter().zip(items).zip(decided) {
                dedup.decided = decided;
                self.ready.insert(j, dedup);
            }
        }
        Ok(self.ready.remove(&i))
    }

    /// Notes that the item of `dedup` was refused (`refusal`) after it was reserved for it
    /// and before any of it joined the commit. A store failure is not a refusal: something
    /// of the item may be written, and its reservation must keep a repeat from making it
    /// again.
    fn abandon(&mut self, dedup: Option<&Dedup>, refusal: &ApiError) {
        if let Some(dedup) = dedup
            && refusal.code != messaging_domain::ErrorCode::Unavailable
            && let Some(Decided::Reserved(id)) = &dedup.decided
        {
            self.abandoned.push((dedup.key.clone(), id.clone()));
        }
    }

    /// Erases the reservations of refused items that still name this request's ids (a
    /// repeat may have taken one over meanwhile). Best effort: one left behind goes stale
    /// (`messaging_domain::idempotency::STALE_AFTER_MS`) and is then taken over.
    fn give_back_abandoned(self) {
        if self.abandoned.is_empty() {
            return;
        }
        let keys = self.abandoned.iter().map(|(k, _)| k.clone()).collect();
        let given_back = store::many::get_many("default", keys).and_then(|found| {
            let still_ours: Vec<String> = found
                .into_iter()
                .zip(&self.abandoned)
                .filter(|((_, value), (_, id))| {
                    value
                        .as_deref()
                        .and_then(messaging_domain::idempotency::Reservation::decode)
                        .is_some_and(|r| &r.id == id)
                })
                .map(|((key, _), _)| key)
                .collect();
            store::many::delete_many("default", &still_ours)
        });
        if let Err(e) = given_back {
            eprintln!("giving back item reservations: {e}");
        }
    }
}

/// The items' answers in order, as they are decided: an accepted item's answer waits for
/// its messages' commit, and becomes an error if that commit fails.
#[derive(Default)]
struct Answers {
    items: Vec<serde_json::Value>,
    /// Accepted items whose messages are in the next commit, by their place in `items`.
    uncommitted: Vec<(usize, Created)>,
    hand_overs: HandOvers,
}

impl Answers {
    /// An item answered now: refused, a repeat of an earlier request, or written already.
    fn now(&mut self, answer: Result<Created, ApiError>) {
        let answer = answer.map(|created| {
            self.hand_overs.add(created.cell, created.to_hand_over);
            created.accepted
        });
        self.items.push(item_answer(answer));
    }

    /// An item accepted once the next commit succeeds.
    fn after_commit(&mut self, created: Created) {
        self.uncommitted.push((self.items.len(), created));
        self.items.push(serde_json::Value::Null);
    }

    /// Answers the items of a commit: accepted if it succeeded, unavailable if not (and
    /// then never handed over: nothing of them was accepted).
    fn committed(&mut self, commit: message_store::StoreResult<()>) {
        let failed = commit.err().map(|e| accept::unavailable("insert", e));
        for (i, created) in self.uncommitted.drain(..) {
            self.items[i] = match &failed {
                None => {
                    self.hand_overs.add(created.cell, created.to_hand_over);
                    item_answer(Ok(created.accepted))
                }
                Some(e) => item_answer(Err(e.clone())),
            };
        }
    }

    fn finish(self) -> (Vec<serde_json::Value>, HandOvers) {
        debug_assert!(self.uncommitted.is_empty(), "every commit is answered");
        (self.items, self.hand_overs)
    }
}

/// An item's place in the answer: what `POST /v1/messages` answers for it, its 202 body or
/// its error body (with `retry_after`, in seconds, where waiting helps).
fn item_answer(answer: Result<messaging_domain::api::Accepted, ApiError>) -> serde_json::Value {
    match answer {
        Ok(accepted) => serde_json::to_value(accepted).expect("an answer serialises"),
        Err(e) => {
            let mut body: serde_json::Value =
                serde_json::from_slice(&e.body()).expect("the error body is JSON");
            if let Some(seconds) = e.retry_after_s {
                body["error"]["retry_after"] = seconds.into();
            }
            body
        }
    }
}

/// The accepted messages by delivery cell, handed over once the answer is sent.
#[derive(Default)]
struct HandOvers(Vec<(String, Vec<MessageId>)>);

impl HandOvers {
    fn add(&mut self, cell: String, ids: Vec<MessageId>) {
        match self.0.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, all)) => all.extend(ids),
            None => self.0.push((cell, ids)),
        }
    }

    fn start(self) {
        for (cell, ids) in self.0 {
            accept::hand_over(cell, ids);
        }
    }
}
