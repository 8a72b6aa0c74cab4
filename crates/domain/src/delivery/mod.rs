//! What a delivery cell does with one message, decided without I/O.
//!
//! The dispatcher reads what it needs, asks [`plan`] whether and how to send, sends, asks
//! [`next`] what the provider's answer means, and writes that. Every rule of a message's
//! life after acceptance (schedule, quiet hours, expiry, the fallback on a missing receipt,
//! retries with backoff, failover to the next provider, the final status) lives in these
//! two functions and is unit-tested here, case by case. A broadcast batch's rules are in
//! [`batch`].

pub mod batch;
mod next;
mod plan;

pub use next::{Answer, Next, next};
pub use plan::{Look, Plan, needs_sending, plan};
