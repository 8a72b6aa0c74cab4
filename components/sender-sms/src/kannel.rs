//! The Kannel adapter: one `GET /cgi-bin/sendsms` per message.

use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::providers::kannel::{
    KannelConfig, SendsmsAnswer, interpret_sendsms, sendsms_url,
};
use spin_sdk::http::EmptyBody;
use spin_sdk::http::body::IncomingBodyExt;

async fn config() -> Result<KannelConfig, String> {
    let var = |name: &'static str| async move {
        message_store::config::get(name)
            .await
            .map_err(|e| format!("variable {name}: {e}"))
    };
    let from = var("kannel_from").await.ok().filter(|s| !s.is_empty());
    Ok(KannelConfig {
        base_url: var("kannel_url").await?,
        username: var("kannel_username").await?,
        password: var("kannel_password").await?,
        from,
    })
}

pub async fn send(message: &OutboundMessage) -> SendOutcome {
    let config = match config().await {
        Ok(config) => config,
        Err(e) => return SendOutcome::Deferred(e),
    };
    let url = sendsms_url(
        &config,
        &message.to,
        &message.body,
        message.receipt_url.as_deref(),
    );
    let request = match http::Request::get(url).body(EmptyBody::new()) {
        Ok(request) => request,
        Err(_) => return SendOutcome::Rejected("kannel: request could not be built".into()),
    };
    let response = match spin_sdk::http::send(request).await {
        Ok(response) => response,
        // Network errors are temporary: Kannel may be restarting.
        Err(e) => return SendOutcome::Deferred(format!("kannel unreachable: {e:?}")),
    };
    let status = response.status().as_u16();
    let body = response.into_body().bytes().await.unwrap_or_default();
    match interpret_sendsms(status, &String::from_utf8_lossy(&body)) {
        SendsmsAnswer::Accepted => SendOutcome::Accepted(None),
        SendsmsAnswer::Retry(reason) => SendOutcome::Deferred(reason),
        SendsmsAnswer::Refused(reason) => SendOutcome::Rejected(reason),
    }
}
