//! SMS from citizens through Kannel: smsbox's `sms-service` calls
//! `/webhooks/kannel/inbound/<token>?from=%p&to=%P&text=%a&id=%I`.
//!
//! Kannel cannot sign its requests, so the URL carries a secret token (the
//! `kannel_inbound_token` variable, compared in constant time); keep the URL as secret as
//! a password. A repeated report (same Kannel id) is acknowledged and ignored.

use crate::inbound::{self, Inbound};
use crate::{HttpResponse, reply};
use messaging_domain::Channel;
use messaging_domain::providers::kannel;

pub async fn handle(token: &str, query: &str) -> HttpResponse {
    if let Err(refusal) = crate::check_secret("kannel_inbound_token", Some(token), "kannel").await {
        return refusal;
    }
    let sms = match kannel::inbound_sms(query) {
        Ok(sms) => sms,
        Err(reason) => return reply(400, "invalid_request", &reason),
    };
    inbound::handle(Inbound {
        channel: Channel::Sms,
        provider: "kannel",
        provider_id: sms.kannel_id,
        from: sms.from.as_str().to_string(),
        text: sms.text,
    })
    .await
}
