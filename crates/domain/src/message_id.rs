//! Message ids: `msg_` and 26 characters of lowercase Crockford base32 (128 random bits).

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// Builds an id from 16 random bytes supplied by the caller (the components take them
    /// from `wasi:random`), so this crate stays free of I/O.
    pub fn from_random(bytes: [u8; 16]) -> MessageId {
        let mut n = u128::from_be_bytes(bytes);
        let mut out = [0u8; 26];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(n & 31) as usize];
            n >>= 5;
        }
        MessageId(format!("msg_{}", std::str::from_utf8(&out).expect("ascii")))
    }

    /// Parses an id from a URL or a provider receipt. Anything else is refused, so an id
    /// can be used in a storage key without escaping.
    pub fn parse(s: &str) -> Option<MessageId> {
        let rest = s.strip_prefix("msg_")?;
        let ok = rest.len() == 26
            && rest.bytes().all(|b| ALPHABET.contains(&b))
            // 26 base32 characters carry 130 bits; the first may only use the top 3.
            && rest.as_bytes()[0] <= b'7';
        ok.then(|| MessageId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MessageId::parse(&s).ok_or_else(|| serde::de::Error::custom("not a message id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
