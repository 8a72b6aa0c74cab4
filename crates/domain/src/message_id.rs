//! Ids: a prefix (`msg_` for messages, `ntf_` for notifications) and 26 characters of
//! lowercase Crockford base32 (128 random bits).

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 16 random bytes as 26 base32 characters.
fn encode(bytes: [u8; 16]) -> String {
    let mut n = u128::from_be_bytes(bytes);
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

/// The 16 bytes [`encode`] made `rest` from (`rest` already checked by [`is_encoded`]).
fn decode(rest: &str) -> [u8; 16] {
    let n = rest.bytes().fold(0u128, |n, b| {
        let digit = ALPHABET.iter().position(|&a| a == b).expect("checked") as u128;
        (n << 5) | digit
    });
    n.to_be_bytes()
}

/// Whether `rest` is what [`encode`] makes.
fn is_encoded(rest: &str) -> bool {
    rest.len() == 26
        && rest.bytes().all(|b| ALPHABET.contains(&b))
        // 26 base32 characters carry 130 bits; the first may only use the top 3.
        && rest.as_bytes()[0] <= b'7'
}

/// Defines an id type: a prefix and 128 random bits, parsed strictly so that it can be
/// used in a storage key or a URL without escaping.
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Builds an id from 16 random bytes supplied by the caller (the components
            /// take them from `wasi:random`), so this crate stays free of I/O.
            pub fn from_random(bytes: [u8; 16]) -> $name {
                $name(format!(concat!($prefix, "{}"), encode(bytes)))
            }

            /// Parses an id from a URL, a body or a provider receipt. Anything else is
            /// refused.
            pub fn parse(s: &str) -> Option<$name> {
                let rest = s.strip_prefix($prefix)?;
                is_encoded(rest).then(|| $name(s.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// When the id was made, in Unix milliseconds, for ids made from time-ordered
            /// bytes (the first six the time: `message_store::time_ordered_16`, as message
            /// and inbound ids are). Meaningless for ids from random bytes only.
            pub fn time_ms(&self) -> u64 {
                let bytes = decode(&self.0[$prefix.len()..]);
                let mut time = [0u8; 8];
                time[2..].copy_from_slice(&bytes[..6]);
                u64::from_be_bytes(time)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s)
                    .ok_or_else(|| serde::de::Error::custom(concat!("not an id starting ", $prefix)))
            }
        }
    };
}

random_id!(
    /// A message: `msg_` and 26 base32 characters.
    MessageId,
    "msg_"
);

random_id!(
    /// A notification to a caller's system (a status change, an inbound message, a reply):
    /// `ntf_` and 26 base32 characters.
    NotificationId,
    "ntf_"
);

random_id!(
    /// An inbound message from a citizen: `inb_` and 26 base32 characters.
    InboundId,
    "inb_"
);

random_id!(
    /// A group of recipients (a pub/sub room): `grp_` and 26 base32 characters.
    GroupId,
    "grp_"
);

random_id!(
    /// A broadcast to a group or a list of recipients: `brd_` and 26 base32 characters.
    BroadcastId,
    "brd_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_ordered_id_tells_when_it_was_made() {
        let at: u64 = 1_795_000_000_123;
        let mut bytes = [0xab; 16];
        bytes[..6].copy_from_slice(&at.to_be_bytes()[2..]);
        assert_eq!(InboundId::from_random(bytes).time_ms(), at);
        assert_eq!(MessageId::from_random(bytes).time_ms(), at);
    }

    #[test]
    fn ids_round_trip_and_differ() {
        let a = MessageId::from_random([7; 16]);
        let b = MessageId::from_random([8; 16]);
        assert_ne!(a, b);
        assert_eq!(MessageId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 30);
        assert_eq!(
            MessageId::from_random([255; 16]).as_str(),
            "msg_7zzzzzzzzzzzzzzzzzzzzzzzzz"
        );
    }

    #[test]
    fn foreign_strings_are_not_ids() {
        for bad in [
            "",
            "msg_",
            "msg_../../etc/passwd",
            "MSG_0000000000000000000000000",
            "msg_8zzzzzzzzzzzzzzzzzzzzzzzzz",
            "msg_0000000000000000000000000u",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad}");
        }
        let notification = NotificationId::from_random([7; 16]);
        assert_eq!(MessageId::parse(notification.as_str()), None);
        assert_eq!(
            NotificationId::parse(notification.as_str()),
            Some(notification)
        );
    }
}
