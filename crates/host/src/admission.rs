//! Request turns, in lanes. A public request waits for a turn of its lane before it is
//! given to an instance, and holds it until its whole answer has been sent. The lanes split the host's
//! turns (`--max-concurrent-requests`) so that one kind of traffic cannot take them all:
//! provider webhooks are unauthenticated (anyone on the internet can send them, and a
//! provider retrying a backlog sends many), and emergency alerts must never wait behind
//! bulk sending. Each lane has its own turns; none borrows another's, so the sum stays
//! within what the instance pool was sized for.

use http_body_util::BodyExt;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::WasiBody;

/// Which turns a request waits for, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// CAP alerts (`/v1/alerts`), whose emergency policy overtakes everything queued.
    Alerts,
    /// Provider webhooks (`/webhooks/...`): unauthenticated, so fenced off from the API.
    Webhooks,
    /// Every other public route: the authenticated API, health, the OpenAPI document.
    Api,
}

impl Lane {
    /// The lane of a request for `path`.
    pub fn of(path: &str) -> Lane {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/v1/alerts") {
            Lane::Alerts
        } else if under("/webhooks") {
            Lane::Webhooks
        } else {
            Lane::Api
        }
    }
}

/// How many of the host's turns each lane gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub alerts: usize,
    pub webhooks: usize,
    pub api: usize,
}

impl Split {
    /// `total` turns: an eighth for alerts, a quarter for webhooks, the rest for the API,
    /// each at least one. Below three turns the lanes cannot all have one of their own,
    /// so each gets one (a test setting, not a deployment's).
    pub fn of(total: usize) -> Split {
        if total < 3 {
            return Split {
                alerts: 1,
                webhooks: 1,
                api: 1,
            };
        }
        let alerts = (total / 8).max(1);
        let webhooks = (total / 4).max(1);
        Split {
            alerts,
            webhooks,
            api: total - alerts - webhooks,
        }
    }
}

/// The turns of every lane.
pub struct Lanes {
    alerts: Arc<Semaphore>,
    webhooks: Arc<Semaphore>,
    api: Arc<Semaphore>,
}

impl Lanes {
    pub fn new(split: Split) -> Lanes {
        Lanes {
            alerts: Arc::new(Semaphore::new(split.alerts)),
            webhooks: Arc::new(Semaphore::new(split.webhooks)),
            api: Arc::new(Semaphore::new(split.api)),
        }
    }

    /// Waits for a turn of `lane`; the turn is given back when the permit is dropped.
    pub async fn turn(&self, lane: Lane) -> OwnedSemaphorePermit {
        let turns = match lane {
            Lane::Alerts => &self.alerts,
            Lane::Webhooks => &self.webhooks,
            Lane::Api => &self.api,
        };
        // Never closed, so never an error.
        turns
            .clone()
            .acquire_owned()
            .await
            .expect("a lane's turns stay open")
    }
}

/// `response`, holding `turn` until its body has been sent or dropped: the turn lives in
/// the body's frame mapper, which goes when the body goes.
pub fn hold_until_sent(
    response: http::Response<WasiBody>,
    turn: OwnedSemaphorePermit,
) -> http::Response<WasiBody> {
    response.map(|body| {
        body.map_frame(move |frame| {
            let _held = &turn;
            frame
        })
        .boxed_unsync()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_lane() {
        for (path, lane) in [
            ("/v1/alerts", Lane::Alerts),
            ("/v1/alerts/KE-1", Lane::Alerts),
            ("/v1/alertsx", Lane::Api),
            ("/webhooks/kannel/inbound/t", Lane::Webhooks),
            ("/webhooks", Lane::Webhooks),
            ("/webhooksx", Lane::Api),
            ("/v1/messages", Lane::Api),
            ("/health", Lane::Api),
            ("/", Lane::Api),
        ] {
            assert_eq!(Lane::of(path), lane, "{path}");
        }
    }

    #[test]
    fn the_split_gives_every_lane_turns_and_no_more_than_the_total() {
        assert_eq!(
            Split::of(128),
            Split {
                alerts: 16,
                webhooks: 32,
                api: 80
            }
        );
        for total in 3..300 {
            let s = Split::of(total);
            assert_eq!(s.alerts + s.webhooks + s.api, total, "{total}");
            assert!(s.alerts >= 1 && s.webhooks >= 1 && s.api >= 1, "{total}");
        }
        assert_eq!(Split::of(1).api, 1);
    }

    #[tokio::test]
    async fn a_full_lane_does_not_hold_up_another() {
        let lanes = Lanes::new(Split::of(8));
        let held: Vec<_> =
            futures::future::join_all((0..2).map(|_| lanes.turn(Lane::Webhooks))).await;
        assert_eq!(held.len(), 2);
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            lanes.turn(Lane::Webhooks),
        )
        .await;
        assert!(waiting.is_err(), "the webhook lane has only two turns");
        let _api =
            tokio::time::timeout(std::time::Duration::from_millis(50), lanes.turn(Lane::Api))
                .await
                .expect("the API lane is free");
        let _alert = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            lanes.turn(Lane::Alerts),
        )
        .await
        .expect("the alerts lane is free");
    }

    #[tokio::test]
    async fn a_turn_comes_back_when_its_answer_has_been_sent_not_before() {
        let lanes = Lanes::new(Split::of(1));
        let turn = lanes.turn(Lane::Api).await;
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"answer"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let response = hold_until_sent(http::Response::new(body), turn);
        let no_turn =
            tokio::time::timeout(std::time::Duration::from_millis(20), lanes.turn(Lane::Api));
        assert!(no_turn.await.is_err(), "the answer is not sent yet");
        let sent = response.into_body().collect().await.expect("the body");
        assert_eq!(sent.to_bytes(), "answer");
        let _again =
            tokio::time::timeout(std::time::Duration::from_millis(20), lanes.turn(Lane::Api))
                .await
                .expect("the turn is back once the answer is sent");
    }
}
