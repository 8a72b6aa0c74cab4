//! The stored form of counters: values that only `wasi:keyvalue/atomics.increment` writes.
//!
//! Backends store an increment's result differently: Spin's SQLite store writes the eight
//! bytes of a little-endian `i64`, Redis (`INCRBY`) and the project host write decimal
//! text. A counter is therefore never written with `set` (Spin's SQLite `increment` fails
//! on a value that is not eight bytes) and is read with [`decode`], which takes both.

/// The count a counter's stored value holds, whichever backend wrote it; `None` if it is
/// neither form.
///
/// Decimal text is tried first: eight ASCII digits also make eight bytes, but as a
/// little-endian `i64` they would be a count above 3.4 × 10^18, which no counter reaches.
pub fn decode(stored: &[u8]) -> Option<i64> {
    if let Some(n) = std::str::from_utf8(stored)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .and_then(|s| s.parse().ok())
    {
        return Some(n);
    }
    <[u8; 8]>::try_from(stored).ok().map(i64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn reads_decimal_text_as_redis_and_the_host_write_it() {
        assert_eq!(decode(b"42"), Some(42));
        assert_eq!(decode(b"-3"), Some(-3));
        assert_eq!(decode(b"12345678"), Some(12_345_678));
    }

    #[test]
    fn reads_little_endian_bytes_as_spin_sqlite_writes_them() {
        assert_eq!(decode(&42i64.to_le_bytes()), Some(42));
        assert_eq!(decode(&(-1i64).to_le_bytes()), Some(-1));
        assert_eq!(decode(&0i64.to_le_bytes()), Some(0));
    }

    #[test]
    fn refuses_anything_else() {
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"4x"), None);
        assert_eq!(decode(&[1, 2, 3]), None);
    }
}
