//! SMTP: the message text (`mime`) and the client protocol (`session`), both pure.

pub mod mime;
pub mod session;
