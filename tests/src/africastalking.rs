//! A double of Africa's Talking's SMS API that answers a (bulk) send as the real one
//! does: one `Recipients[]` entry per number of `to`. Numbers ending in `00` are refused
//! as `InvalidPhoneNumber`, so tests see a mixed answer.

use crate::recorder::{Recorded, Recorder};
use messaging_domain::providers::form::{field, parse_form};
use serde_json::json;

pub fn bulk_double() -> Recorder {
    let double = Recorder::start();
    double.answer_by(answer);
    double
}

/// The id the double gives the message to `number` (its delivery reports name it).
pub fn message_id(number: &str) -> String {
    format!("ATXid_{}", number.trim_start_matches('+'))
}

/// The `i`th of a run of numbers the double accepts: they end in 1, and it refuses
/// only `...00`.
pub fn accepted_number(i: usize) -> String {
    format!("+2547{:08}", i * 10 + 1)
}

/// How many times the double was given each number, over every send it recorded.
pub fn times_sent(double: &Recorder) -> std::collections::HashMap<String, usize> {
    let mut times = std::collections::HashMap::new();
    for number in double.received().iter().flat_map(numbers) {
        *times.entry(number).or_default() += 1;
    }
    times
}

/// How many numbers the double has been given so far, repeats included.
pub fn numbers_given(double: &Recorder) -> usize {
    double.received().iter().map(|r| numbers(r).len()).sum()
}

/// The numbers a recorded send went to.
pub fn numbers(request: &Recorded) -> Vec<String> {
    let form = parse_form(std::str::from_utf8(&request.body).unwrap_or_default());
    field(&form, "to")
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// The answer Africa's Talking gives a (bulk) send: one entry per number.
pub fn answer(request: &Recorded) -> (u16, String) {
    let recipients: Vec<_> = numbers(request)
        .iter()
        .map(|number| {
            if number.ends_with("00") {
                json!({"statusCode": 403, "number": number, "status": "InvalidPhoneNumber",
                       "cost": "0", "messageId": "None"})
            } else {
                json!({"statusCode": 101, "number": number, "status": "Success",
                       "cost": "KES 0.8000", "messageId": message_id(number)})
            }
        })
        .collect();
    let body = json!({"SMSMessageData": {
        "Message": format!("Sent to {}/{}", recipients.len(), recipients.len()),
        "Recipients": recipients}});
    (201, body.to_string())
}

/// The token in the path of the doubles' webhooks (`/webhooks/africastalking/<token>/...`).
pub const WEBHOOK_TOKEN: &str = "at-token";

/// The variables that make the SMS cell send through an Africa's Talking double at `url`
/// and take its webhooks with [`WEBHOOK_TOKEN`].
pub fn sms_vars(url: &str) -> [(&'static str, &str); 5] {
    [
        ("sms_provider", "africastalking"),
        ("africastalking_url", url),
        ("africastalking_username", "sandbox"),
        ("africastalking_api_key", "at-test-api-key"),
        ("africastalking_webhook_token", WEBHOOK_TOKEN),
    ]
}

/// Plays Africa's Talking's delivery report for the message the double sent to `number`;
/// returns the gateway's answer.
pub fn report_delivery(base: &str, number: &str, status: &str) -> crate::http::Response {
    let form = format!(
        "id={}&status={status}&phoneNumber=%2B{}&networkCode=63902",
        message_id(number),
        number.trim_start_matches('+')
    );
    crate::http::request(
        "POST",
        &format!("{base}/webhooks/africastalking/{WEBHOOK_TOKEN}/delivery"),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )
}

/// Plays an inbound SMS `text` from `from` through Africa's Talking's inbound webhook,
/// with the provider's id `id`; returns the gateway's answer.
pub fn text_in(base: &str, from: &str, text: &str, id: &str) -> crate::http::Response {
    let form = format!(
        "linkId=x&text={}&to=22384&id={id}&date=2026-11-25+10%3A00%3A00&from={}&networkCode=63902",
        text.replace(' ', "+"),
        from.replace('+', "%2B")
    );
    crate::http::request(
        "POST",
        &format!("{base}/webhooks/africastalking/{WEBHOOK_TOKEN}/inbound"),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )
}
