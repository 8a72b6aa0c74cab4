//! The reminders waiting for an answer from one address on one channel: at most one per
//! caller, so a second caller's reminder to the same citizen never takes the first one's
//! answers. A reply goes to a reminder only when it answers it (one of its options, or
//! any text where the reminder accepts free text), the most recent such reminder first;
//! anything else follows the keyword routes, as if no reminder were waiting.
//!
//! Stored as one value under [`crate::keys::conversation`] (the key names no caller: the
//! inbound webhook knows only the sender), a JSON list, newest last.

use crate::conversation::Conversation;
use crate::inbound::{Intent, classify};

/// The reminders of one address, newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminders(Vec<Conversation>);

/// What a citizen's message is to the reminders waiting for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// One of the reminder's options, as the reminder spelt it.
    Answer {
        reminder: &'a Conversation,
        option: String,
    },
    /// Text for a reminder that accepts free text; its owner receives it whole.
    FreeText { reminder: &'a Conversation },
}

impl Reminders {
    /// The stored value; a single reminder (the form before reminders were kept per
    /// caller) reads as a list of one. Unreadable: none.
    pub fn decode(bytes: &[u8]) -> Reminders {
        if let Ok(list) = serde_json::from_slice::<Vec<Conversation>>(bytes) {
            return Reminders(list);
        }
        Reminders(
            serde_json::from_slice::<Conversation>(bytes)
                .into_iter()
                .collect(),
        )
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("reminders serialise")
    }

    /// With `new` as its caller's reminder: the caller's older one (people answer the last
    /// question a service asked them) and every expired one are dropped.
    pub fn started(self, new: Conversation, now_ms: u64) -> Reminders {
        let mut kept: Vec<Conversation> = self
            .0
            .into_iter()
            .filter(|r| r.expires_ms > now_ms && r.owner != new.owner)
            .collect();
        kept.push(new);
        Reminders(kept)
    }

    /// Without the reminder of `message_id` (answered), and without expired ones.
    pub fn without(self, message_id: &crate::MessageId, now_ms: u64) -> Reminders {
        Reminders(
            self.0
                .into_iter()
                .filter(|r| r.expires_ms > now_ms && &r.message_id != message_id)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The reminder that `text` replies to, if any: the most recent live reminder one of
    /// whose options it names, else the most recent that accepts free text. An option is
    /// an explicit answer, free text only a catch-all: a newer free-text reminder does
    /// not swallow "NO" meant for an older yes/no question. `text` is a message the
    /// keyword words (STOP, JOIN ...) did not claim.
    pub fn reply_to(&self, text: &str, now_ms: u64) -> Option<Reply<'_>> {
        let live = || self.0.iter().rev().filter(move |r| r.expires_ms > now_ms);
        live()
            .find_map(|reminder| match classify(text, Some(&reminder.options)) {
                Intent::Answer(option) => Some(Reply::Answer { reminder, option }),
                _ => None,
            })
            .or_else(|| {
                live()
                    .find(|r| r.free_text)
                    .map(|reminder| Reply::FreeText { reminder })
            })
    }

    /// What a citizen's `text` is, and the reminder it replies to: the keyword words
    /// (STOP, START, JOIN, LEAVE) first; then an answer to a reminder
    /// ([`Intent::Answer`]) or free text for one ([`Intent::Message`] with the reminder);
    /// else a message for the keyword routes (no reminder).
    pub fn understand(&self, text: &str, now_ms: u64) -> (Intent, Option<&Conversation>) {
        let intent = classify(text, None);
        if !matches!(intent, Intent::Message { .. }) {
            return (intent, None);
        }
        match self.reply_to(text, now_ms) {
            Some(Reply::Answer { reminder, option }) => (Intent::Answer(option), Some(reminder)),
            Some(Reply::FreeText { reminder }) => (intent, Some(reminder)),
            None => (intent, None),
        }
    }

    /// Whether a stored value holds no live reminder (the sweep erases it then).
    pub fn past_use(bytes: &[u8], now_ms: u64) -> bool {
        Reminders::decode(bytes)
            .0
            .iter()
            .all(|r| r.expires_ms <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageId;

    fn reminder(owner: &str, id: u8, options: &[&str], expires_ms: u64) -> Conversation {
        Conversation {
            message_id: MessageId::from_random([id; 16]),
            owner: owner.into(),
            callback_url: None,
            options: options.iter().map(|o| o.to_string()).collect(),
            expires_ms,
            unconfirmed: None,
            free_text: false,
        }
    }

    #[test]
    fn a_second_callers_reminder_does_not_replace_the_first() {
        let reminders = Reminders::default()
            .started(reminder("registry", 1, &["YES", "NO"], 100), 0)
            .started(reminder("clinic", 2, &["MONDAY", "TUESDAY"], 100), 1);
        assert_eq!(reminders.0.len(), 2);
        let Some(Reply::Answer { reminder, option }) = reminders.reply_to("yes", 2) else {
            panic!("YES answers the registry's reminder");
        };
        assert_eq!(
            (reminder.owner.as_str(), option.as_str()),
            ("registry", "YES")
        );
        let Some(Reply::Answer { reminder, .. }) = reminders.reply_to("tuesday", 2) else {
            panic!("TUESDAY answers the clinic's");
        };
        assert_eq!(reminder.owner, "clinic");
    }

    #[test]
    fn a_callers_newer_reminder_replaces_its_older_one() {
        let reminders = Reminders::default()
            .started(reminder("registry", 1, &["YES"], 100), 0)
            .started(reminder("registry", 2, &["NO"], 100), 1);
        assert_eq!(reminders.0.len(), 1);
        assert_eq!(reminders.0[0].options, ["NO"]);
    }

    #[test]
    fn the_most_recent_matching_reminder_takes_the_answer() {
        let reminders = Reminders::default()
            .started(reminder("registry", 1, &["YES", "NO"], 100), 0)
            .started(reminder("clinic", 2, &["YES", "NO"], 100), 1);
        let Some(Reply::Answer { reminder, .. }) = reminders.reply_to("1", 2) else {
            panic!("an answer");
        };
        assert_eq!(reminder.owner, "clinic");
    }

    #[test]
    fn text_that_answers_no_reminder_follows_the_keyword_routes() {
        let reminders =
            Reminders::default().started(reminder("registry", 1, &["YES", "NO"], 100), 0);
        assert_eq!(reminders.reply_to("register 1990-01-01", 1), None);
        assert_eq!(reminders.reply_to("my child is sick", 1), None);
    }

    #[test]
    fn free_text_goes_to_a_reminder_that_accepts_it_and_options_still_come_first() {
        let mut open = reminder("clinic", 2, &["DONE"], 100);
        open.free_text = true;
        let reminders = Reminders::default()
            .started(reminder("registry", 1, &["YES", "NO"], 100), 0)
            .started(open, 1);
        let Some(Reply::FreeText { reminder }) = reminders.reply_to("my child is sick", 2) else {
            panic!("free text for the clinic");
        };
        assert_eq!(reminder.owner, "clinic");
        let Some(Reply::Answer { reminder, .. }) = reminders.reply_to("no", 2) else {
            panic!("NO still answers the registry's reminder, which the clinic's cannot take");
        };
        assert_eq!(reminder.owner, "registry");
    }

    #[test]
    fn expired_reminders_take_nothing_and_are_dropped() {
        let reminders = Reminders::default()
            .started(reminder("registry", 1, &["YES"], 10), 0)
            .started(reminder("clinic", 2, &["NO"], 100), 20);
        assert_eq!(reminders.0.len(), 1, "the expired one was dropped");
        assert_eq!(reminders.reply_to("yes", 20), None);
        assert!(!Reminders::past_use(&reminders.encode(), 99));
        assert!(Reminders::past_use(&reminders.encode(), 100));
        let answered = reminders.without(&MessageId::from_random([2; 16]), 20);
        assert!(answered.is_empty());
    }

    #[test]
    fn keyword_words_come_before_any_reminder() {
        let reminders =
            Reminders::default().started(reminder("registry", 1, &["YES", "STOP"], 100), 0);
        assert_eq!(reminders.understand("stop", 1), (Intent::OptOut, None));
        let (intent, to) = reminders.understand("yes", 1);
        assert_eq!(intent, Intent::Answer("YES".into()));
        assert_eq!(to.map(|r| r.owner.as_str()), Some("registry"));
        let (intent, to) = reminders.understand("register 1990", 1);
        assert_eq!(
            intent,
            Intent::Message {
                keyword: "REGISTER".into()
            }
        );
        assert_eq!(to, None);
    }

    #[test]
    fn a_single_stored_reminder_reads_as_a_list_of_one() {
        let one = reminder("registry", 1, &["YES"], 100);
        let reminders = Reminders::decode(&serde_json::to_vec(&one).unwrap());
        assert_eq!(reminders.0, vec![one]);
        assert!(Reminders::decode(b"garbage").is_empty());
    }
}
