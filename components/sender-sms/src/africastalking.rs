//! The Africa's Talking adapter: one `POST /version1/messaging` per message, or per
//! broadcast batch (the same text to up to 500 numbers, `send_batch`). Its delivery
//! reports name only its own message id, which the dispatcher maps back to ours. The wire
//! format is `messaging_domain::providers::africastalking`.

use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::africastalking::{
    SendAnswer, bulk_send_form, interpret_bulk_send, interpret_send, send_form,
};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

/// The account and the endpoint, from the component's variables.
struct Account {
    url: String,
    username: String,
    api_key: String,
    from: Option<String>,
}

async fn account() -> Option<Account> {
    let var = |name: &'static str| async move { message_store::config::get(name).await.ok() };
    Some(Account {
        url: format!(
            "{}/version1/messaging",
            var("africastalking_url").await?.trim_end_matches('/')
        ),
        username: var("africastalking_username").await?,
        api_key: var("africastalking_api_key").await?,
        from: var("africastalking_from").await.filter(|f| !f.is_empty()),
    })
}

/// POSTs a send form; the answer's status and body, or why there is none.
async fn post(account: &Account, form: String) -> Result<(u16, bytes::Bytes), SendOutcome> {
    let request = http::Request::post(&account.url)
        .header("apikey", &account.api_key)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(FullBody::new(bytes::Bytes::from(form)))
        .map_err(|_| SendOutcome::Rejected("africastalking: request could not be built".into()))?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| SendOutcome::Deferred(format!("africastalking unreachable: {e:?}")))?;
    let status = response.status().as_u16();
    Ok((
        status,
        response.into_body().bytes().await.unwrap_or_default(),
    ))
}

fn outcome(answer: SendAnswer) -> SendOutcome {
    match answer {
        SendAnswer::Accepted(id) => SendOutcome::Accepted(Some(format!("africastalking:{id}"))),
        SendAnswer::Deferred(reason) => SendOutcome::Deferred(reason),
        SendAnswer::Rejected(reason) => SendOutcome::Rejected(reason),
    }
}

pub async fn send(message: &OutboundMessage) -> SendOutcome {
    let Some(account) = account().await else {
        return SendOutcome::Deferred("africastalking: variables are not all set".into());
    };
    let form = send_form(
        &account.username,
        &message.to,
        &message.body,
        account.from.as_deref(),
    );
    match post(&account, form).await {
        Ok((status, body)) => outcome(interpret_send(status, &body)),
        Err(outcome) => outcome,
    }
}

/// One request per run of consecutive messages with the same text (a broadcast batch is
/// one run), each number answered from the bulk answer.
pub async fn send_batch(messages: &[OutboundMessage]) -> Vec<SendOutcome> {
    let Some(account) = account().await else {
        return messages
            .iter()
            .map(|_| SendOutcome::Deferred("africastalking: variables are not all set".into()))
            .collect();
    };
    let mut outcomes = Vec::with_capacity(messages.len());
    for run in messages.chunk_by(|a, b| a.body == b.body) {
        let to: Vec<&str> = run.iter().map(|m| m.to.as_str()).collect();
        let form = bulk_send_form(
            &account.username,
            &to,
            &run[0].body,
            account.from.as_deref(),
        );
        match post(&account, form).await {
            Ok((status, body)) => outcomes.extend(
                interpret_bulk_send(status, &body, &to)
                    .into_iter()
                    .map(outcome),
            ),
            Err(failed) => outcomes.extend(run.iter().map(|_| failed.clone())),
        }
    }
    outcomes
}
