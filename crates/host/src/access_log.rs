//! The access log: one line per request, with the path as a template where paths carry
//! secrets. Provider webhooks put their shared secrets in the path (Kannel's and Africa's
//! Talking's inbound tokens, receipt tokens), and whoever reads a secret from the log can
//! forge STOP, inbound messages and receipts. So under `/webhooks` only the route's own
//! words are logged, every other segment as `{}`. Queries (which may carry addresses) are
//! never logged.

use std::time::Instant;

/// The words of the webhook routes (`components/webhook-inbound`): the only segments of a
/// `/webhooks` path that reach the log.
const WEBHOOK_WORDS: &[&str] = &[
    "webhooks",
    "receipts",
    "b",
    "kannel",
    "inbound",
    "twilio",
    "africastalking",
    "delivery",
    "telegram",
];

/// Longest path written: a path is the client's to choose, the log's size is not.
const MAX_LOGGED_PATH: usize = 200;

/// `path` as the access log writes it.
pub fn logged_path(path: &str) -> String {
    let logged = if path == "/webhooks" || path.starts_with("/webhooks/") {
        path.split('/')
            .map(|segment| {
                if segment.is_empty() || WEBHOOK_WORDS.contains(&segment) {
                    segment
                } else {
                    "{}"
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        path.to_string()
    };
    match logged.char_indices().nth(MAX_LOGGED_PATH) {
        Some((cut, _)) => format!("{}...", &logged[..cut]),
        None => logged,
    }
}

/// Writes the request's line.
pub fn log_request(
    method: &http::Method,
    path: &str,
    component: Option<&str>,
    status: u16,
    started: Instant,
) {
    tracing::info!(
        target: "access",
        method = %method,
        path = %logged_path(path),
        component = component.unwrap_or("-"),
        status,
        micros = started.elapsed().as_micros() as u64,
    );
}

#[cfg(test)]
mod tests {
    use super::logged_path;

    #[test]
    fn webhook_secrets_become_placeholders() {
        for (path, logged) in [
            (
                "/webhooks/kannel/inbound/s3cret-token",
                "/webhooks/kannel/inbound/{}",
            ),
            (
                "/webhooks/receipts/msg_01abc/receipt-token",
                "/webhooks/receipts/{}/{}",
            ),
            (
                "/webhooks/receipts/b/brd_01/ab12cd/receipt-token",
                "/webhooks/receipts/b/{}/{}/{}",
            ),
            (
                "/webhooks/africastalking/at-token/delivery",
                "/webhooks/africastalking/{}/delivery",
            ),
            ("/webhooks/twilio/inbound", "/webhooks/twilio/inbound"),
            ("/webhooks/telegram", "/webhooks/telegram"),
            // Spellings a client may choose: nothing but the route's words gets through.
            (
                "/webhooks//kannel/inbound/tok",
                "/webhooks//kannel/inbound/{}",
            ),
            ("/webhooks/Kannel/inbound/tok", "/webhooks/{}/inbound/{}"),
            (
                "/webhooks/kannel/inbound/tok/",
                "/webhooks/kannel/inbound/{}/",
            ),
        ] {
            assert_eq!(logged_path(path), logged, "{path}");
        }
    }

    #[test]
    fn api_paths_carry_ids_only_and_are_kept() {
        assert_eq!(
            logged_path("/v1/messages/msg_01abc"),
            "/v1/messages/msg_01abc"
        );
        assert_eq!(logged_path("/webhooksx/tok"), "/webhooksx/tok");
    }

    #[test]
    fn long_paths_are_cut() {
        let long = format!("/v1/{}", "é".repeat(500));
        let logged = logged_path(&long);
        assert!(logged.ends_with("..."), "{logged}");
        assert_eq!(logged.chars().count(), 203);
    }
}
