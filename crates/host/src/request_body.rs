//! Reads a request's body whole, under its size limit and within a deadline, before the
//! request takes a turn or an instance. A client that declares a large body and then
//! sends it a byte at a time (or not at all) holds only its own connection, never one of
//! the turns everyone else waits for.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::time::Duration;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// Longer than the limit (a chunked body, or one that lied about its length).
    TooLarge,
    /// Not all there before the deadline.
    TooSlow,
    /// The connection failed or the framing was broken.
    Broken,
}

/// The whole of `body`, at most `max_bytes` long, if it arrives within `deadline`.
pub async fn read_whole<B>(body: B, max_bytes: usize, deadline: Duration) -> Result<Bytes, Unread>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let read = Limited::new(body, max_bytes).collect();
    match tokio::time::timeout(deadline, read).await {
        Err(_) => Err(Unread::TooSlow),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Unread::TooLarge),
        Ok(Err(_)) => Err(Unread::Broken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = Full::new(Bytes::from_static(b"hello"));
        assert_eq!(
            read_whole(body, 5, Duration::from_secs(1)).await,
            Ok(Bytes::from_static(b"hello"))
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let body = Full::new(Bytes::from_static(b"hello!"));
        assert_eq!(
            read_whole(body, 5, Duration::from_secs(1)).await,
            Err(Unread::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_body_that_never_ends_is_refused_at_the_deadline() {
        let first = futures::stream::iter([Ok::<_, std::io::Error>(http_body::Frame::data(
            Bytes::from_static(b"he"),
        ))]);
        let body = StreamBody::new(futures::StreamExt::chain(first, futures::stream::pending()));
        assert_eq!(
            read_whole(body, 100, Duration::from_millis(50)).await,
            Err(Unread::TooSlow)
        );
    }
}
