//! Attacks on what only the project host does (its access log, its transport). The attacks
//! on the app itself, which run on real Spin too, are in `security.rs`.

use integration_tests::gateway::Gateway;
use integration_tests::http;
use serde_json::Value;

const KANNEL_TOKEN: &str = "kannel-secret-inbound-7f3a";
const AT_TOKEN: &str = "africastalking-secret-9c1e";
const RECEIPT_TOKEN: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";

/// The words a logged webhook path may hold: the routes' own, and the placeholder.
const ROUTE_WORDS: &[&str] = &[
    "",
    "webhooks",
    "receipts",
    "b",
    "kannel",
    "inbound",
    "twilio",
    "africastalking",
    "delivery",
    "telegram",
    "{}",
];

/// Whoever reads the logs must not learn a webhook's secret: every form that carries one
/// (Kannel's inbound token, Africa's Talking's token, receipt tokens of messages and of
/// broadcast recipients, right or wrong) is logged as a template.
#[test]
fn webhook_secrets_never_reach_the_log() {
    let gw = Gateway::start_with_policies(
        &[
            ("kannel_inbound_token", KANNEL_TOKEN),
            ("africastalking_webhook_token", AT_TOKEN),
        ],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    );
    let get = |path: &str| http::request("GET", &format!("{}{path}", gw.base), &[], None);
    let form = |path: &str, body: &str| {
        http::request(
            "POST",
            &format!("{}{path}", gw.base),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
        )
    };
    // The right tokens: the requests are taken, the secrets stay out of the log.
    let taken = get(&format!(
        "/webhooks/kannel/inbound/{KANNEL_TOKEN}?from=254712345678&to=12345&text=hello&id=k-1"
    ));
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = form(
        &format!("/webhooks/africastalking/{AT_TOKEN}/inbound"),
        "from=%2B254712345678&to=12345&text=hello&id=at-1&date=2026-01-01",
    );
    assert!(taken.status < 300, "{}: {}", taken.status, taken.body);
    // Receipts and guesses: refused, and not logged either.
    for path in [
        format!("/webhooks/receipts/msg_01abc/{RECEIPT_TOKEN}?kannel_type=1"),
        format!("/webhooks/receipts/b/brd_01abc/m-1/{RECEIPT_TOKEN}"),
        format!("/webhooks/kannel/inbound/{RECEIPT_TOKEN}x?from=1&text=STOP"),
    ] {
        assert!(get(&path).status >= 400, "{path} must be refused");
    }
    assert!(
        form(
            &format!("/webhooks/africastalking/{AT_TOKEN}/delivery"),
            "id=x"
        )
        .status
            >= 200
    );

    let logs = gw.wait_log("/webhooks/receipts/b/{}/{}/{}");
    for secret in [
        KANNEL_TOKEN,
        AT_TOKEN,
        RECEIPT_TOKEN,
        "msg_01abc",
        "brd_01abc",
    ] {
        assert!(!logs.contains(secret), "{secret} is in the log:\n{logs}");
    }
    let webhook_paths: Vec<String> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "access")
        .filter_map(|line| line["fields"]["path"].as_str().map(str::to_string))
        .filter(|path| path.starts_with("/webhooks"))
        .collect();
    assert_eq!(
        webhook_paths.len(),
        6,
        "every webhook request has its line: {webhook_paths:?}"
    );
    for path in &webhook_paths {
        assert!(
            path.split('/')
                .all(|segment| ROUTE_WORDS.contains(&segment)),
            "{path} holds more than the route's words"
        );
    }
    // The gateway keeps serving what the log did not keep.
    assert_eq!(get("/health").status, 200);
}
