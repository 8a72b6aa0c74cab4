//! Hostile input against every parser of the domain: arbitrary bytes, near-miss JSON and
//! strings built from the characters that break parsers. A parser may refuse, never panic,
//! and what it accepts must be what the types promise. Runs in CI with a fixed number of
//! cases per property (`PROPTEST_CASES` raises it for a longer run).

use messaging_domain::api::SendCommand;
use messaging_domain::broadcast::BroadcastCommand;
use messaging_domain::cap::{self, Alert};
use messaging_domain::govstack::{CallbackReply, EmailRequest, status_selection};
use messaging_domain::group;
use messaging_domain::inbound::classify;
use messaging_domain::providers::{form, kannel, smtp, telegram, webpush};
use messaging_domain::rate_limit;
use messaging_domain::sealing::Keyring;
use messaging_domain::template::Template;
use messaging_domain::tokens::{self, OidcSettings};
use messaging_domain::{ChatId, EmailAddress, PhoneNumber, PushSubscription};
use messaging_domain::{inbound_routes::InboundRoutes, policy::Policy};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(512),
        ..ProptestConfig::default()
    }
}

/// Strings made of what breaks parsers: quotes, braces, separators, controls, multi-byte
/// and combining characters, digits and plus signs.
fn nasty() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just(":".to_string()),
            Just(",".to_string()),
            Just("\\".to_string()),
            Just("\u{0}".to_string()),
            Just("\r\n".to_string()),
            Just("%".to_string()),
            Just("&".to_string()),
            Just("=".to_string()),
            Just("+".to_string()),
            Just("@".to_string()),
            Just(".".to_string()),
            Just("é".to_string()),
            Just("\u{301}".to_string()),
            Just("😀".to_string()),
            Just("€".to_string()),
            "[0-9]{1,20}",
            "[a-zA-Z_-]{1,12}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// JSON bodies of the `/v1/messages` shape with hostile values in every field.
fn message_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just("sms"),
            Just("email"),
            Just("telegram"),
            Just("push"),
            Just("fax")
        ],
        nasty(),
        nasty(),
        proptest::option::of(nasty()),
        proptest::option::of(nasty()),
    )
        .prop_map(|(channel, to, body, subject, reference)| {
            let mut v = serde_json::json!({"channel": channel, "to": to, "body": body});
            if let Some(s) = subject {
                v["subject"] = s.into();
            }
            if let Some(r) = reference {
                v["reference"] = r.into();
            }
            v.to_string().into_bytes()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn message_requests_are_parsed_or_refused_with_an_api_error(
        body in prop_oneof![message_body(), proptest::collection::vec(any::<u8>(), 0..512)]
    ) {
        match SendCommand::parse(&body) {
            Ok(command) => {
                prop_assert!(command.template.is_some() || !command.body.trim().is_empty());
                prop_assert!(!command.to.as_str().is_empty());
            }
            Err(e) => prop_assert!((400..500).contains(&e.status())),
        }
    }

    #[test]
    fn addresses_accept_only_what_their_types_promise(s in nasty()) {
        if let Ok(p) = PhoneNumber::parse(&s) {
            prop_assert!(p.as_str().starts_with('+'));
            prop_assert!(p.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
        }
        if let Ok(e) = EmailAddress::parse(&s) {
            prop_assert!(e.as_str().contains('@'));
            prop_assert!(!e.as_str().contains(['\r', '\n', '\0', '"']));
        }
        if let Ok(c) = ChatId::parse(&s) {
            prop_assert!(c.as_str().trim_start_matches('-').parse::<u64>().is_ok());
        }
        let _ = PushSubscription::parse(&s);
    }

    #[test]
    fn govstack_bodies_and_queries_never_panic(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            nasty().prop_map(|s| format!(r#"{{"to":[{{"email":"{s}"}}],"subject":"{s}","body":"{s}","meta":"{s}","content":"{s}"}}"#).into_bytes()),
        ],
        query in nasty(),
    ) {
        let _ = EmailRequest::parse(&body);
        let _ = CallbackReply::parse(&body);
        let _ = status_selection(&query);
    }

    #[test]
    fn provider_webhooks_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), text in nasty()) {
        let _ = telegram::parse_update(&body);
        let _ = telegram::parse_update(format!(r#"{{"update_id":1,"message":{{"text":"{text}","chat":{{"id":"{text}"}}}}}}"#).as_bytes());
        let _ = kannel::inbound_sms(&text);
        let _ = form::parse_form(&text);
        let _ = smtp::session::parse_reply(&body);
        let _ = webpush::decrypt(&[7; 32], &[1; 16], &body);
        let _ = classify(&text, Some(&["YES".to_string(), "NO".to_string()]));
    }

    #[test]
    fn configuration_files_are_refused_not_crashed_on(text in nasty()) {
        let _ = Policy::parse("fuzz.toml", &text);
        let _ = Policy::parse("fuzz.toml", &format!("roles = [\"*\"]\nvalidity = \"{text}\"\n[channels.sms]\ncell = \"{text}\"\n"));
        let _ = InboundRoutes::parse("routes.toml", &text);
        let _ = rate_limit::limit_for(&text, "registry");
        let _ = tokens::parse_service_keys(&text);
    }

    #[test]
    fn groups_broadcasts_templates_and_alerts_are_refused_not_crashed_on(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        text in nasty(),
    ) {
        for result in [
            group::parse_members(&body).map(|_| ()),
            group::parse_create(&body).map(|_| ()),
            BroadcastCommand::parse(&body).map(|_| ()),
            BroadcastCommand::parse(format!(r#"{{"recipients":[{{"channel":"sms","address":"{text}","language":"{text}"}}],"body":"{text}"}}"#).as_bytes()).map(|_| ()),
        ] {
            if let Err(e) = result {
                prop_assert!((400..500).contains(&e.status()));
            }
        }
        let _ = Template::parse("fuzz.toml", &text);
        if let Ok(t) = Template::parse("fuzz.toml", &format!("default_language = \"en\"\n[languages.en]\nbody = \"{}\"\n", text.replace(['"', '\\'], ""))) {
            let _ = t.render(&[("a".to_string(), text.clone())].into_iter().collect());
        }
        let _ = Alert::parse(&text);
        let _ = Alert::parse(&format!(
            r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>{text}</identifier><sender>s</sender><sent>{text}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info><category>Met</category><event>{text}</event><urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty><area><areaDesc>{text}</areaDesc></area></info></alert>"#
        ));
        let _ = cap::parse_datetime(&text);
    }

    #[test]
    fn tokens_and_sealed_values_from_strangers_are_refused(token in nasty(), raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        let settings = OidcSettings {
            issuer: "https://id.example".into(),
            audience: "messaging".into(),
            caller_claim: "azp".into(),
            roles_claim: "roles".into(),
        };
        let jwks = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
        prop_assert!(tokens::verify_oidc(&token, &jwks, &settings).is_err());
        prop_assert!(tokens::verify_service_token(&token, &tokens::parse_service_keys("a:b:0123456789abcdef0123456789abcdef"), 0).is_err());
        let ring = Keyring::parse("fuzz-storage-key-0123456789abcdef").unwrap();
        prop_assert!(ring.open("ctx", &raw).is_err(), "random bytes never open");
    }
}
