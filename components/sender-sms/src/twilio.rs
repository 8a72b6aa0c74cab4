//! The Twilio adapter: one `POST .../Messages.json` per message, with the gateway's
//! receipt URL as `StatusCallback` (made for Twilio by the dispatcher, see `receipts` in
//! lib.rs, so webhook-inbound checks Twilio's signature on it). The wire format is `messaging_domain::providers::twilio`.

use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use base64::Engine;
use messaging_domain::providers::twilio::{SendAnswer, interpret_send, send_form};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

pub async fn send(message: &OutboundMessage) -> SendOutcome {
    let var = |name: &'static str| async move { message_store::config::get(name).await.ok() };
    let (Some(base), Some(sid), Some(token), Some(from)) = (
        var("twilio_url").await,
        var("twilio_account_sid").await,
        var("twilio_auth_token").await,
        var("twilio_from").await,
    ) else {
        return SendOutcome::Deferred("twilio: twilio_* variables are not all set".into());
    };
    // The receipt URL already says whose report to expect (`?provider=twilio`).
    let body = send_form(
        &message.to,
        &from,
        &message.body,
        message.receipt_url.as_deref(),
    );
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
    let request = http::Request::post(format!(
        "{}/2010-04-01/Accounts/{sid}/Messages.json",
        base.trim_end_matches('/')
    ))
    .header("authorization", format!("Basic {credentials}"))
    .header("content-type", "application/x-www-form-urlencoded")
    .header("accept", "application/json")
    .body(FullBody::new(bytes::Bytes::from(body)));
    let Ok(request) = request else {
        return SendOutcome::Rejected("twilio: request could not be built".into());
    };
    let response = match spin_sdk::http::send(request).await {
        Ok(response) => response,
        Err(e) => return SendOutcome::Deferred(format!("twilio unreachable: {e:?}")),
    };
    let status = response.status().as_u16();
    let body = response.into_body().bytes().await.unwrap_or_default();
    match interpret_send(status, &body) {
        SendAnswer::Accepted(sid) => SendOutcome::Accepted(Some(format!("twilio:{sid}"))),
        SendAnswer::Deferred(reason) => SendOutcome::Deferred(reason),
        SendAnswer::Rejected(reason) => SendOutcome::Rejected(reason),
    }
}
