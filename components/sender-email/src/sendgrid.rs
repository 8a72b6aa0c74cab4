//! The SendGrid adapter: one `POST /v3/mail/send` per message. Wire format and answer
//! mapping are in `messaging_domain::providers::sendgrid`, tested against a fixture.

use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::sendgrid::{self, Answer, MailSend};
use spin_sdk::http::body::IncomingBodyExt;

/// Base URL, API key, and the From address for requests that name none.
async fn settings() -> Result<(String, String, String), String> {
    let var = |name: &'static str| async move {
        message_store::config::get(name)
            .await
            .map_err(|e| format!("variable {name}: {e}"))
    };
    let key = var("sendgrid_api_key").await?;
    if key.is_empty() {
        return Err("sendgrid_api_key is not set".into());
    }
    Ok((var("sendgrid_url").await?, key, var("smtp_from").await?))
}

pub async fn send(message: &OutboundMessage) -> SendOutcome {
    let (base, key, default_from) = match settings().await {
        Ok(settings) => settings,
        Err(reason) => return SendOutcome::Deferred(reason),
    };
    let details = message.email.as_ref();
    let cc = details.map(|e| e.cc.clone()).unwrap_or_default();
    let bcc = details.map(|e| e.bcc.clone()).unwrap_or_default();
    let from = details
        .and_then(|e| e.sender_address.clone())
        .unwrap_or(default_from);
    let body = sendgrid::body(&MailSend {
        message_id: &message.id,
        from: &from,
        from_name: details.and_then(|e| e.sender_name.as_deref()),
        to: &message.to,
        to_name: details.and_then(|e| e.recipient_name.as_deref()),
        cc: &cc,
        bcc: &bcc,
        reply_to: details.and_then(|e| e.reply_to.as_deref()),
        subject: message.subject.as_deref().unwrap_or(""),
        body: &message.body,
    });
    let request = http::Request::post(format!("{}/v3/mail/send", base.trim_end_matches('/')))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
            serde_json::to_vec(&body).expect("json"),
        )));
    let Ok(request) = request else {
        return SendOutcome::Rejected("sendgrid: request could not be built".into());
    };
    let response = match spin_sdk::http::send(request).await {
        Ok(response) => response,
        Err(e) => return SendOutcome::Deferred(format!("sendgrid unreachable: {e:?}")),
    };
    let status = response.status().as_u16();
    let provider_id = response
        .headers()
        .get("x-message-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = response.into_body().bytes().await.unwrap_or_default();
    match sendgrid::interpret(
        status,
        provider_id.as_deref(),
        &String::from_utf8_lossy(&text),
    ) {
        Answer::Accepted(id) => SendOutcome::Accepted(id),
        Answer::Retry(reason) => SendOutcome::Deferred(reason),
        Answer::Refused(reason) => SendOutcome::Rejected(reason),
    }
}
