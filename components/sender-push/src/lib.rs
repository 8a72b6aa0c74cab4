//! sender-push: sends Web Push messages (RFC 8030), encrypted for the subscription (RFC
//! 8291) and signed with the deployment's VAPID key (RFC 8292), or writes them to the
//! outbox when `push_provider` is `outbox` (development). The wire format is
//! `messaging_domain::providers::webpush`.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "sender-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack_messaging::sender::sender::{Guest, ReceiptProvider};
use govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use messaging_domain::PushSubscription;
use messaging_domain::providers::outbox;
use messaging_domain::providers::webpush::{self, SendAnswer, VAPID_LIFETIME_SECS, VapidKey};
use spin_sdk::http::FullBody;

struct SenderPush;

impl Guest for SenderPush {
    /// This channel's providers report no delivery to a receipt URL.
    async fn receipts() -> Option<ReceiptProvider> {
        None
    }

    /// One by one: this channel's providers have no bulk API that keeps one outcome per
    /// recipient.
    async fn send_batch(messages: Vec<OutboundMessage>) -> Vec<SendOutcome> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            outcomes.push(<SenderPush as Guest>::send(message).await);
        }
        outcomes
    }

    async fn send(message: OutboundMessage) -> SendOutcome {
        let provider = message_store::config::get("push_provider")
            .await
            .unwrap_or_else(|_| "outbox".into());
        match provider.as_str() {
            "webpush" => web_push(&message).await,
            "outbox" => {
                let entry = outbox::Entry::new(
                    message.id,
                    "push",
                    message.to,
                    message.subject,
                    message.body,
                );
                message_store::outbox::keep(&entry)
                    .await
                    .map_or_else(SendOutcome::Deferred, |()| SendOutcome::Delivered)
            }
            other => SendOutcome::Deferred(format!("unknown push_provider {other:?}")),
        }
    }
}

async fn web_push(message: &OutboundMessage) -> SendOutcome {
    let var = |name: &'static str| async move { message_store::config::get(name).await.ok() };
    let Ok(subscription) = PushSubscription::parse(&message.to) else {
        return SendOutcome::Rejected("push: the address is not a push subscription".into());
    };
    // Parsing refused the app's components and private networks; a loopback endpoint
    // goes only to a double that push_hosts names.
    if let Err(reason) = subscription.usable_with(&var("push_hosts").await.unwrap_or_default()) {
        return SendOutcome::Rejected(format!("push: {reason}"));
    }
    let Some(key) = var("vapid_private_key")
        .await
        .and_then(|k| VapidKey::from_base64url(&k).ok())
    else {
        return SendOutcome::Deferred("push: vapid_private_key unset or not a P-256 key".into());
    };
    let subject = var("vapid_subject").await.unwrap_or_default();
    let ttl = var("push_ttl_seconds")
        .await
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(86_400);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let Ok(authorization) =
        key.authorization(subscription.endpoint(), &subject, now + VAPID_LIFETIME_SECS)
    else {
        return SendOutcome::Rejected("push: the endpoint has no origin".into());
    };
    let plaintext = webpush::notification(&message.id, message.subject.as_deref(), &message.body);
    let Some(body) = seal(&subscription, &plaintext) else {
        return SendOutcome::Rejected("push: the payload could not be encrypted".into());
    };
    let request = http::Request::post(subscription.endpoint())
        .header("content-type", "application/octet-stream")
        .header("content-encoding", "aes128gcm")
        .header("ttl", ttl.to_string())
        .header("authorization", authorization)
        .body(FullBody::new(bytes::Bytes::from(body)));
    let Ok(request) = request else {
        return SendOutcome::Rejected("push: request could not be built".into());
    };
    match spin_sdk::http::send(request).await {
        // The error text would carry the endpoint, which identifies the subscriber.
        Err(_) => SendOutcome::Deferred("push service unreachable".into()),
        Ok(response) => match webpush::interpret(response.status().as_u16()) {
            SendAnswer::Accepted => SendOutcome::Accepted(None),
            SendAnswer::Deferred(reason) => SendOutcome::Deferred(reason),
            SendAnswer::Rejected(reason) => SendOutcome::Rejected(reason),
        },
    }
}

/// Encrypts with a fresh one-message key and salt. A random 32-byte string is a valid P-256
/// private key except with probability about 2^-32; another draw covers that case.
fn seal(subscription: &PushSubscription, plaintext: &[u8]) -> Option<Vec<u8>> {
    let random = spin_sdk::wasip3::random::random::get_random_bytes;
    (0..4).find_map(|_| {
        let secret: [u8; 32] = random(32).try_into().ok()?;
        let salt: [u8; 16] = random(16).try_into().ok()?;
        webpush::encrypt(
            subscription.p256dh(),
            subscription.auth(),
            plaintext,
            &secret,
            &salt,
        )
        .ok()
    })
}

export!(SenderPush);
