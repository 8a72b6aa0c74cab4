//! SMS from citizens through Twilio: a form POST to `/webhooks/twilio/inbound` (the
//! number's "A message comes in" webhook), signed with `X-Twilio-Signature`. Answered with
//! empty TwiML, so Twilio sends nothing back by itself.

use crate::inbound::{self, Inbound};
use crate::{HttpResponse, reply};
use messaging_domain::providers::twilio;
use messaging_domain::{Channel, PhoneNumber};
use spin_sdk::http::FullBody;

pub async fn handle(path: &str, query: &str, signature: Option<&str>, body: &[u8]) -> HttpResponse {
    let (Ok(token), Ok(public_url)) = (
        message_store::config::get("twilio_auth_token").await,
        message_store::config::get("public_url").await,
    ) else {
        return reply(503, "unavailable", "try again later");
    };
    if token.is_empty() {
        return reply(
            404,
            "not_found",
            "inbound SMS through Twilio is not configured",
        );
    }
    let params = twilio::parse_form(&String::from_utf8_lossy(body));
    let mut url = format!("{}{path}", public_url.trim_end_matches('/'));
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    if !signature.is_some_and(|sig| twilio::verify(&token, &url, &params, sig)) {
        println!(
            "{}",
            serde_json::json!({"event": "inbound.refused", "provider": "twilio", "reason": "bad signature"})
        );
        return reply(
            401,
            "invalid_signature",
            "the Twilio signature is not valid",
        );
    }
    let Some(from) = twilio::field(&params, "From").and_then(|f| PhoneNumber::parse(f).ok()) else {
        return reply(
            400,
            "invalid_request",
            "From is missing or not a phone number",
        );
    };
    let Some(text) = twilio::field(&params, "Body") else {
        return reply(400, "invalid_request", "Body is missing");
    };
    let response = inbound::handle(Inbound {
        channel: Channel::Sms,
        provider: "twilio",
        provider_id: twilio::field(&params, "MessageSid").map(String::from),
        from: from.as_str().to_string(),
        text: text.to_string(),
    })
    .await;
    if response.status() != 200 {
        return response;
    }
    http::Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .body(FullBody::new(bytes::Bytes::from_static(
            twilio::EMPTY_TWIML.as_bytes(),
        )))
        .expect("static response parts are valid")
}
