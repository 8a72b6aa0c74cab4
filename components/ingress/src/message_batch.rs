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
//! - The caller's rate limit counts items: the request pays for the first, the bucket is
//!   asked for the rest. The daily quota counts each item's occurrences.

use crate::accept;
use crate::govstack_messaging::types::types::Caller;
use crate::idempotency::Dedup;
use crate::messages::{Shared, create_one};
use crate::respond::{HttpResponse, json, or_error};
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
    let mut admissions = (admitted.count + 1).min(valid);
    let mut answers = Vec::with_capacity(batch.items.len());
    let mut hand_overs = HandOvers::default();
    for (i, item) in batch.items.into_iter().enumerate() {
        let answer = match item {
            Err(refused) => Err(refused),
            Ok(_) if admissions == 0 => Err(crate::rate_limit::left_out(admitted.retry_after_ms)),
            Ok(command) => {
                admissions -= 1;
                let dedup = dedup.as_ref().map(|d| d.item(i));
                create_one(&mut request, command, dedup.as_ref())
                    .await
                    .map(|created| {
                        hand_overs.add(created.cell, created.to_hand_over);
                        created.accepted
                    })
            }
        };
        answers.push(item_answer(answer));
    }
    hand_overs.start();
    Ok(json(202, &serde_json::json!({ "items": answers })))
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
