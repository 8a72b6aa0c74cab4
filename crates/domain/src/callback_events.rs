//! Which status changes of a message reach its `callback_url` (`callback_events`).
//!
//! By default only the final status does (delivered, failed, expired, suppressed,
//! cancelled), as GOV.UK Notify's callbacks do: one callback per message is what most
//! callers act on, and each callback is a signed request the gateway must queue, send and
//! retry. A caller that follows every step asks for `"callback_events": "all"` and also
//! hears the steps between (`sent`: the provider has it). `accepted` and `queued` are the
//! answer to the request itself and are never posted.

use crate::Status;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackEvents {
    /// Only the message's final status.
    #[default]
    Final,
    /// Every status the message reaches after the request's answer.
    All,
}

impl CallbackEvents {
    /// `final` or `all`, as a request spells it.
    pub fn parse(s: &str) -> Option<CallbackEvents> {
        match s {
            "final" => Some(CallbackEvents::Final),
            "all" => Some(CallbackEvents::All),
            _ => None,
        }
    }

    /// Whether reaching `status` is posted to the callback URL.
    pub fn includes(self, status: Status) -> bool {
        match self {
            CallbackEvents::Final => status.is_final(),
            CallbackEvents::All => true,
        }
    }

    /// For serde's `skip_serializing_if`: records keep the default implicit.
    pub fn is_final(&self) -> bool {
        *self == CallbackEvents::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_takes_only_final_statuses_and_all_takes_every_one() {
        for status in Status::ALL {
            assert_eq!(
                CallbackEvents::Final.includes(status),
                status.is_final(),
                "{status:?}"
            );
            assert!(CallbackEvents::All.includes(status), "{status:?}");
        }
        assert!(!CallbackEvents::Final.includes(Status::Sent));
        assert!(CallbackEvents::Final.includes(Status::Delivered));
    }

    #[test]
    fn only_the_two_documented_spellings_parse() {
        assert_eq!(CallbackEvents::parse("final"), Some(CallbackEvents::Final));
        assert_eq!(CallbackEvents::parse("all"), Some(CallbackEvents::All));
        for bad in ["", "ALL", "every", "final "] {
            assert_eq!(CallbackEvents::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_record_without_the_field_reads_as_final() {
        let json = serde_json::json!({"events": "all"});
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default)]
            events: CallbackEvents,
            #[serde(default)]
            missing: CallbackEvents,
        }
        let holder: Holder = serde_json::from_value(json).unwrap();
        assert_eq!(holder.events, CallbackEvents::All);
        assert_eq!(holder.missing, CallbackEvents::Final);
    }
}
