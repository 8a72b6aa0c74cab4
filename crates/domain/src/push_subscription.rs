//! A Web Push subscription: the address of the push channel.
//!
//! A browser or app that subscribes with `PushManager.subscribe()` gets an object
//! `{"endpoint": "https://...", "keys": {"p256dh": "...", "auth": "..."}}` (W3C Push API,
//! `PushSubscription.toJSON()`), which the calling system stores and hands to the gateway as
//! `to`. The endpoint is the push service's URL for this one subscription (RFC 8030); the
//! keys let the gateway encrypt for the subscriber alone (RFC 8291).

use crate::callback_target::{self, Reach};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Longest endpoint accepted. Real push services use about 200 to 600 characters.
pub const MAX_ENDPOINT_CHARS: usize = 2048;

/// A validated subscription. Its canonical form (compact JSON with only the three fields)
/// is what the gateway stores, hashes and passes to the push sender.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PushSubscription {
    canonical: String,
    endpoint: String,
    p256dh: [u8; 65],
    auth: [u8; 16],
}

impl PushSubscription {
    /// Parses the subscription object as JSON text.
    pub fn parse(input: &str) -> Result<PushSubscription, String> {
        let json: Value = serde_json::from_str(input)
            .map_err(|_| "a push subscription is a JSON object".to_string())?;
        PushSubscription::from_json(&json)
    }

    /// Parses the subscription object (`expirationTime` and other fields are ignored).
    pub fn from_json(json: &Value) -> Result<PushSubscription, String> {
        let endpoint = json["endpoint"]
            .as_str()
            .ok_or("a push subscription needs an endpoint")?;
        check_endpoint(endpoint)?;
        let p256dh: [u8; 65] = decode(&json["keys"]["p256dh"])
            .and_then(|k| k.try_into().ok())
            .ok_or("keys.p256dh must be a base64url P-256 public key (65 bytes)")?;
        if p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
            return Err("keys.p256dh is not a point on P-256".into());
        }
        let auth: [u8; 16] = decode(&json["keys"]["auth"])
            .and_then(|k| k.try_into().ok())
            .ok_or("keys.auth must be a base64url secret of 16 bytes")?;
        let canonical = serde_json::json!({
            "endpoint": endpoint,
            "keys": {"p256dh": URL_SAFE_NO_PAD.encode(p256dh), "auth": URL_SAFE_NO_PAD.encode(auth)},
        })
        .to_string();
        Ok(PushSubscription {
            canonical,
            endpoint: endpoint.to_string(),
            p256dh,
            auth,
        })
    }

    /// The canonical JSON form.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The subscriber's public key (uncompressed P-256 point).
    pub fn p256dh(&self) -> &[u8; 65] {
        &self.p256dh
    }

    /// The subscriber's authentication secret.
    pub fn auth(&self) -> &[u8; 16] {
        &self.auth
    }
}

fn decode(value: &Value) -> Option<Vec<u8>> {
    // Browsers give unpadded base64url; some libraries pad. Both are accepted.
    URL_SAFE_NO_PAD
        .decode(value.as_str()?.trim_end_matches('='))
        .ok()
}

/// Push services are reached over HTTPS (RFC 8030 section 8), on the public Internet.
/// The endpoint is the subscriber's to choose, so it may name neither one of the gateway's
/// own components (`*.spin.internal`: the push sender shares its cell's grant to call
/// them) nor a private network (`callback_target::reach`, every spelling). Loopback stays
/// allowed, plain HTTP included, for a developer's local double; it is used only where
/// `push_hosts` names its host ([`PushSubscription::usable_with`]).
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    if endpoint.len() > MAX_ENDPOINT_CHARS {
        return Err(format!(
            "endpoint has more than {MAX_ENDPOINT_CHARS} characters"
        ));
    }
    let url = url::Url::parse(endpoint).map_err(|_| "endpoint is not a URL".to_string())?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("endpoint must not carry credentials or a fragment".into());
    }
    if url.host().is_none() {
        return Err("endpoint has no host".into());
    }
    match (url.scheme(), callback_target::reach(endpoint)) {
        (_, Some(Reach::OwnComponent)) => Err(format!(
            "endpoint: {}",
            callback_target::Refusal::OwnComponent.message()
        )),
        (_, Some(Reach::Private)) => Err(
            "endpoint names a private network address or an internal name; push services are public"
                .into(),
        ),
        ("https", Some(_)) | ("http", Some(Reach::Loopback)) => Ok(()),
        _ => Err("endpoint must be an https URL".into()),
    }
}

impl PushSubscription {
    /// Whether the sender may post to this endpoint where the deployment's `push_hosts` is
    /// `push_hosts`: a loopback endpoint only when that pattern names its host (a double
    /// the operator set up), never through a pattern that matches any host.
    pub fn usable_with(&self, push_hosts: &str) -> Result<(), String> {
        match callback_target::reach(&self.endpoint) {
            Some(Reach::Public) => Ok(()),
            Some(Reach::Loopback) if callback_target::pattern_names_host(push_hosts) => Ok(()),
            Some(Reach::Loopback) => {
                Err("the endpoint is on loopback, and push_hosts names no host".into())
            }
            // Refused when parsed; checked again for a subscription parsed elsewhere.
            _ => Err("the endpoint is not a public push service".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The subscriber's keys from RFC 8291 section 5.
    pub(crate) const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    pub(crate) const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn subscription(endpoint: &str, p256dh: &str, auth: &str) -> Value {
        serde_json::json!({"endpoint": endpoint, "expirationTime": null,
            "keys": {"p256dh": p256dh, "auth": auth}})
    }

    #[test]
    fn a_browser_subscription_is_accepted_in_canonical_form() {
        let s = PushSubscription::from_json(&subscription(
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
            P256DH,
            &format!("{AUTH}=="),
        ))
        .unwrap();
        assert_eq!(
            s.endpoint(),
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk"
        );
        assert_eq!(s.auth().len(), 16);
        let again = PushSubscription::parse(s.as_str()).unwrap();
        assert_eq!(again, s, "the canonical form parses to itself");
        assert!(!s.as_str().contains("expirationTime"));
        assert!(!format!("{s:?}").contains("mozilla"));
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        let ok = "https://fcm.googleapis.com/fcm/send/abc";
        for (endpoint, p256dh, auth) in [
            ("http://push.example.org/x", P256DH, AUTH),
            ("ftp://push.example.org/x", P256DH, AUTH),
            ("https://user:pw@push.example.org/x", P256DH, AUTH),
            ("not a url", P256DH, AUTH),
            (ok, "AAAA", AUTH),
            // 65 bytes, but not a point on the curve.
            (ok, &URL_SAFE_NO_PAD.encode([4u8; 65]), AUTH),
            (ok, P256DH, "AQI"),
        ] {
            assert!(
                PushSubscription::from_json(&subscription(endpoint, p256dh, auth)).is_err(),
                "{endpoint} {p256dh} {auth}"
            );
        }
        assert!(PushSubscription::parse("\"https://x\"").is_err());
        // Endpoints are the subscriber's to choose: never the app's own components or a
        // private network, in any spelling.
        for endpoint in [
            "https://deliver-sms.spin.internal/dispatch",
            "http://deliver-sms.spin.internal/dispatch",
            "https://NOTIFIER.SPIN.INTERNAL./deliver",
            "https://10.0.0.7/push",
            "https://[::ffff:192.168.0.1]/push",
            "https://169.254.169.254/latest/meta-data/",
            "https://0.0.0.0/push",
            "https://[::]/push",
            "https://push-proxy/push",
            "https://push.local/push",
        ] {
            let refused = PushSubscription::from_json(&subscription(endpoint, P256DH, AUTH));
            assert!(refused.is_err(), "{endpoint}");
        }
        let own = PushSubscription::from_json(&subscription(
            "https://deliver-sms.spin.internal/x",
            P256DH,
            AUTH,
        ));
        assert!(own.err().unwrap().contains("own components"));
        assert!(
            PushSubscription::from_json(&subscription("http://127.0.0.1:9/p", P256DH, AUTH))
                .is_ok(),
            "a loopback double may speak plain HTTP"
        );
    }

    #[test]
    fn a_loopback_endpoint_is_used_only_where_push_hosts_names_it() {
        let double =
            PushSubscription::from_json(&subscription("http://127.0.0.1:9/p", P256DH, AUTH))
                .unwrap();
        assert!(double.usable_with("http://127.0.0.1:9").is_ok());
        assert!(double.usable_with("https://*:443").is_err());
        assert!(double.usable_with("*://*:*").is_err());
        let decimal =
            PushSubscription::from_json(&subscription("https://2130706433/p", P256DH, AUTH))
                .unwrap();
        assert!(decimal.usable_with("https://*:443").is_err());
        let vendor = PushSubscription::from_json(&subscription(
            "https://fcm.googleapis.com/fcm/send/abc",
            P256DH,
            AUTH,
        ))
        .unwrap();
        assert!(vendor.usable_with("https://*:443").is_ok());
    }
}
