//! Providers' wire formats that are pure functions (no I/O), tested natively. The
//! components in `components/sender-*` and `components/webhook-inbound` call these.

pub mod africastalking;
pub mod form;
pub mod gsm7;
pub mod kannel;
pub mod outbox;
pub mod sendgrid;
pub mod smtp;
pub mod telegram;
pub mod twilio;
pub mod webpush;
