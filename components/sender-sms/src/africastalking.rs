//! The Africa's Talking adapter: one `POST /version1/messaging` per message. Its delivery
//! reports name only its own message id, which the dispatcher maps back to ours. The wire
//! format is `messaging_domain::providers::africastalking`.

use crate::govstack::messaging::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::africastalking::{SendAnswer, interpret_send, send_form};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

pub async fn send(message: &OutboundMessage) -> SendOutcome {
    let var = |name: &'static str| async move { spin_sdk::variables::get(name).await.ok() };
    let (Some(base), Some(username), Some(api_key)) = (
        var("africastalking_url").await,
        var("africastalking_username").await,
        var("africastalking_api_key").await,
    ) else {
        return SendOutcome::Deferred("africastalking: variables are not all set".into());
    };
    let from = var("africastalking_from").await.filter(|f| !f.is_empty());
    let body = send_form(&username, &message.to, &message.body, from.as_deref());
    let request = http::Request::post(format!("{}/version1/messaging", base.trim_end_matches('/')))
        .header("apikey", api_key)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(FullBody::new(bytes::Bytes::from(body)));
    let Ok(request) = request else {
        return SendOutcome::Rejected("africastalking: request could not be built".into());
    };
    let response = match spin_sdk::http::send(request).await {
        Ok(response) => response,
        Err(e) => return SendOutcome::Deferred(format!("africastalking unreachable: {e:?}")),
    };
    let status = response.status().as_u16();
    let body = response.into_body().bytes().await.unwrap_or_default();
    match interpret_send(status, &body) {
        SendAnswer::Accepted(id) => SendOutcome::Accepted(Some(format!("africastalking:{id}"))),
        SendAnswer::Deferred(reason) => SendOutcome::Deferred(reason),
        SendAnswer::Rejected(reason) => SendOutcome::Rejected(reason),
    }
}
