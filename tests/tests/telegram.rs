//! The messaging-app channel: Telegram through a bot, against a double of the Bot API that
//! answers with Telegram's recorded payloads; the test plays Telegram's webhook updates.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::{http, provider_fixture, wait_for};
use serde_json::{Value, json};

const BOT_TOKEN: &str = "7012345678:AAtest-bot-token";
const SECRET: &str = "telegram-webhook-test-secret";
const CHAT: &str = "123456789";

fn fixture(name: &str) -> String {
    provider_fixture("telegram", name)
}

fn gateway_on(bot_api: &Recorder) -> Gateway {
    Gateway::start_with_policies(
        &[
            ("telegram_provider", "telegram"),
            ("telegram_url", &bot_api.url),
            ("telegram_bot_token", BOT_TOKEN),
            ("telegram_webhook_secret", SECRET),
            ("retry_base_ms", "300"),
        ],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    )
}

fn update(gw: &Gateway, secret: &str, update_id: i64, text: &str) -> http::Response {
    let mut body: Value = serde_json::from_str(&fixture("update_text_message.json")).unwrap();
    body["update_id"] = update_id.into();
    body["message"]["text"] = text.into();
    http::request(
        "POST",
        &format!("{}/webhooks/telegram", gw.base),
        &[
            ("content-type", "application/json"),
            ("x-telegram-bot-api-secret-token", secret),
        ],
        Some(body.to_string().as_bytes()),
    )
}

#[test]
fn a_message_reaches_the_chat_through_the_bot_api() {
    let bot_api = Recorder::start();
    bot_api.answer_json(200, &fixture("send_message_ok.json"));
    let gw = gateway_on(&bot_api);
    let id =
        gw.accept(json!({"channel":"telegram","to":CHAT,"body":"Your clinic visit is tomorrow"}));
    let view = gw.wait_status(&id, "sent");
    assert_eq!(view["channel"], "telegram");
    let sent = &bot_api.received()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/bot{BOT_TOKEN}/sendMessage"));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body,
        json!({"chat_id": 123456789, "text": "Your clinic visit is tomorrow"})
    );
    assert!(
        !gw.logs().contains(BOT_TOKEN),
        "the bot token never reaches the logs"
    );

    let r = gw.send(
        KEY,
        &json!({"channel":"telegram","to":"@amina","body":"x"}),
        &[],
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.error_code(), "invalid_chat_id");
}

#[test]
fn a_blocked_bot_fails_the_message_and_rate_limits_defer_it() {
    let bot_api = Recorder::start();
    bot_api.answer_json(403, &fixture("send_message_blocked.json"));
    let gw = gateway_on(&bot_api);
    let id = gw.accept(json!({"channel":"telegram","to":CHAT,"body":"x"}));
    gw.wait_status(&id, "failed");
    assert!(
        gw.wait_log("dispatch.failed")
            .contains("bot was blocked by the user")
    );

    let busy = Recorder::start();
    busy.answer_json(429, &fixture("send_message_too_many.json"));
    let gw = gateway_on(&busy);
    let id = gw.accept(json!({"channel":"telegram","to":CHAT,"body":"x"}));
    wait_for(20, "two attempts", || {
        (busy.received().len() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
}

#[test]
fn updates_with_the_secret_are_routed_and_stop_is_acknowledged_in_the_chat() {
    let bot_api = Recorder::start();
    bot_api.answer_json(200, &fixture("send_message_ok.json"));
    let gw = gateway_on(&bot_api);
    assert_eq!(update(&gw, "wrong", 1, "hello").status, 401);

    assert_eq!(
        update(&gw, SECRET, 2, "Habari, nahitaji msaada").status,
        200
    );
    let items = http::request(
        "GET",
        &format!("{}/v1/inbound", gw.base),
        &[("authorization", &format!("Bearer {KEY}"))],
        None,
    )
    .json()["items"]
        .as_array()
        .cloned()
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["channel"], "telegram");
    assert_eq!(items[0]["from"], CHAT);
    assert_eq!(
        update(&gw, SECRET, 2, "Habari, nahitaji msaada").json()["status"],
        "duplicate"
    );

    assert_eq!(update(&gw, SECRET, 3, "STOP").status, 200);
    let ack = wait_for(20, "the acknowledgement in the chat", || {
        bot_api.received().into_iter().find_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            body["text"]
                .as_str()?
                .contains("Reply START")
                .then_some(body)
        })
    });
    assert_eq!(ack["chat_id"], 123456789);
    let r = gw.send(
        KEY,
        &json!({"channel":"telegram","to":CHAT,"body":"x"}),
        &[],
    );
    assert_eq!(r.json()["status"], "suppressed");
}
