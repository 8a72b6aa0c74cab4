//! An SMTP client session (RFC 5321) as a pure state machine: it is fed the server's
//! replies and answers with the next thing to write, so the protocol is tested without a
//! network and the component only moves bytes.
//!
//! EHLO, optional AUTH PLAIN, MAIL FROM, one RCPT TO per envelope recipient (To, Cc and
//! Bcc), DATA with dot-stuffing, QUIT. Reply classes decide the outcome: 2xx/3xx go on, 4xx
//! is a temporary failure (deferred, retried), 5xx a permanent one (bounced). STARTTLS is
//! not implemented yet: when TLS is required the session stops, deferred, with that reason.

use base64::Engine;

/// One server reply: the code and the text of every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ").chars().take(200).collect()
    }
}

/// Reads one complete reply from the start of `buf` (lines `250-...` continue, `250 ...`
/// ends). Returns the reply and the bytes consumed, or `None` if more bytes are needed.
pub fn parse_reply(buf: &[u8]) -> Option<Result<(Reply, usize), String>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    loop {
        let end = buf[offset..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .or_else(|| buf[offset..].iter().position(|&b| b == b'\n'))?;
        let line = String::from_utf8_lossy(&buf[offset..offset + end]).into_owned();
        offset += end + if buf[offset + end] == b'\r' { 2 } else { 1 };
        if line.len() < 3 || !line.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            return Some(Err(format!(
                "not an SMTP reply: {}",
                line.chars().take(80).collect::<String>()
            )));
        }
        let code: u16 = line[..3].parse().expect("three digits");
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_string());
        if last {
            return Some(Ok((Reply { code, lines }, offset)));
        }
    }
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the message (250 after DATA).
    Sent,
    /// A temporary failure; the text says which step and what the server said.
    Deferred(String),
    /// A permanent failure.
    Bounced(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to the server, then read the next reply.
    Write(Vec<u8>),
    /// Write these bytes (possibly none) and close: the session is over.
    Finish(Vec<u8>, Outcome),
}

pub struct Settings {
    /// The name given in EHLO.
    pub helo: String,
    /// AUTH PLAIN credentials, if the server needs them.
    pub auth: Option<(String, String)>,
    /// Refuse to send without TLS.
    pub require_tls: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    Auth,
    MailFrom,
    RcptTo(usize),
    Data,
    Body,
    Quit,
}

pub struct Session {
    settings: Settings,
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
    state: State,
}

/// Prepares message text for DATA: CRLF line endings, leading dots doubled, and the
/// terminating `.` line.
pub fn dot_stuff(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for line in text.split("\r\n") {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields a last empty piece after the final CRLF: drop its extra CRLF.
    if text.ends_with("\r\n") {
        out.truncate(out.len() - 2);
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn line(s: String) -> Vec<u8> {
    (s + "\r\n").into_bytes()
}

impl Session {
    pub fn new(settings: Settings, from: &str, recipients: Vec<String>, text: &str) -> Session {
        Session {
            settings,
            from: from.to_string(),
            recipients,
            data: dot_stuff(text),
            state: State::Greeting,
        }
    }

    fn fail(&self, reply: &Reply, step: &str) -> Step {
        let reason = format!("smtp {step}: {} {}", reply.code, reply.text());
        let outcome = if reply.code >= 500 {
            Outcome::Bounced(reason)
        } else {
            Outcome::Deferred(reason)
        };
        Step::Finish(line("QUIT".into()), outcome)
    }

    fn mail_from(&mut self) -> Step {
        self.state = State::MailFrom;
        Step::Write(line(format!("MAIL FROM:<{}>", self.from)))
    }

    /// Feeds the next server reply; returns what to write next.
    pub fn on_reply(&mut self, reply: &Reply) -> Step {
        let ok = (200..400).contains(&reply.code);
        match self.state {
            State::Greeting if reply.code == 220 => {
                self.state = State::Ehlo;
                Step::Write(line(format!("EHLO {}", self.settings.helo)))
            }
            // A server that refuses us at the door or to EHLO is a server problem for this
            // attempt, not a property of the message: defer even on 5xx.
            State::Greeting | State::Ehlo if !ok => Step::Finish(
                line("QUIT".into()),
                Outcome::Deferred(format!("smtp greeting: {} {}", reply.code, reply.text())),
            ),
            State::Greeting => self.fail(reply, "greeting"),
            State::Ehlo => {
                let offers = |word: &str| {
                    reply
                        .lines
                        .iter()
                        .any(|l| l.to_ascii_uppercase().split_whitespace().next() == Some(word))
                };
                if self.settings.require_tls {
                    let why = if offers("STARTTLS") {
                        "STARTTLS is not supported by this sender yet"
                    } else {
                        "the server offers no STARTTLS"
                    };
                    return Step::Finish(
                        line("QUIT".into()),
                        Outcome::Deferred(format!("smtp: TLS required, but {why}")),
                    );
                }
                match &self.settings.auth {
                    Some((user, password)) => {
                        let token = base64::engine::general_purpose::STANDARD
                            .encode(format!("\0{user}\0{password}"));
                        self.state = State::Auth;
                        Step::Write(line(format!("AUTH PLAIN {token}")))
                    }
                    None => self.mail_from(),
                }
            }
            // Wrong credentials are a configuration problem: defer, so messages survive a fix.
            State::Auth if !ok => Step::Finish(
                line("QUIT".into()),
                Outcome::Deferred(format!("smtp auth: {} {}", reply.code, reply.text())),
            ),
            State::Auth => self.mail_from(),
            State::MailFrom | State::RcptTo(_) if !ok => {
                self.fail(reply, "recipient or sender refused")
            }
            State::MailFrom | State::RcptTo(_) => {
                let next = match self.state {
                    State::MailFrom => 0,
                    State::RcptTo(i) => i + 1,
                    _ => unreachable!(),
                };
                if let Some(rcpt) = self.recipients.get(next) {
                    self.state = State::RcptTo(next);
                    Step::Write(line(format!("RCPT TO:<{rcpt}>")))
                } else {
                    self.state = State::Data;
                    Step::Write(line("DATA".into()))
                }
            }
            State::Data if reply.code == 354 => {
                self.state = State::Body;
                Step::Write(std::mem::take(&mut self.data))
            }
            State::Data => self.fail(reply, "DATA"),
            State::Body if !ok => self.fail(reply, "message refused"),
            State::Body => {
                self.state = State::Quit;
                Step::Finish(line("QUIT".into()), Outcome::Sent)
            }
            State::Quit => Step::Finish(Vec::new(), Outcome::Sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.to_string()],
        }
    }

    fn settings(auth: bool, tls: bool) -> Settings {
        Settings {
            helo: "gateway.example.org".into(),
            auth: auth.then(|| ("user".into(), "secret".into())),
            require_tls: tls,
        }
    }

    fn written(step: Step) -> String {
        match step {
            Step::Write(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn a_full_session_with_auth_and_three_recipients() {
        let rcpts = vec![
            "to@example.org".to_string(),
            "cc@example.org".into(),
            "bcc@example.org".into(),
        ];
        let mut s = Session::new(
            settings(true, false),
            "gw@example.org",
            rcpts,
            "Subject: x\r\n\r\n.hidden\r\nbody\r\n",
        );
        assert_eq!(
            written(s.on_reply(&reply(220, "mx ESMTP"))),
            "EHLO gateway.example.org\r\n"
        );
        let ehlo = Reply {
            code: 250,
            lines: vec!["mx".into(), "AUTH PLAIN LOGIN".into(), "8BITMIME".into()],
        };
        assert_eq!(
            written(s.on_reply(&ehlo)),
            "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"
        );
        assert_eq!(
            written(s.on_reply(&reply(235, "ok"))),
            "MAIL FROM:<gw@example.org>\r\n"
        );
        assert_eq!(
            written(s.on_reply(&reply(250, "ok"))),
            "RCPT TO:<to@example.org>\r\n"
        );
        assert_eq!(
            written(s.on_reply(&reply(250, "ok"))),
            "RCPT TO:<cc@example.org>\r\n"
        );
        assert_eq!(
            written(s.on_reply(&reply(250, "ok"))),
            "RCPT TO:<bcc@example.org>\r\n"
        );
        assert_eq!(written(s.on_reply(&reply(250, "ok"))), "DATA\r\n");
        assert_eq!(
            written(s.on_reply(&reply(354, "go"))),
            "Subject: x\r\n\r\n..hidden\r\nbody\r\n.\r\n"
        );
        assert_eq!(
            s.on_reply(&reply(250, "queued")),
            Step::Finish(b"QUIT\r\n".to_vec(), Outcome::Sent)
        );
    }

    #[test]
    fn reply_classes_decide_the_outcome() {
        let run = |code: u16| {
            let mut s = Session::new(
                settings(false, false),
                "gw@example.org",
                vec!["to@example.org".into()],
                "x\r\n",
            );
            s.on_reply(&reply(220, "hi"));
            s.on_reply(&reply(250, "hi"));
            s.on_reply(&reply(250, "sender ok"));
            match s.on_reply(&reply(code, "rcpt")) {
                Step::Finish(_, outcome) => outcome,
                Step::Write(_) => Outcome::Sent,
            }
        };
        assert!(matches!(run(450), Outcome::Deferred(_)));
        assert!(matches!(run(550), Outcome::Bounced(r) if r.contains("550")));
        assert_eq!(run(250), Outcome::Sent, "a 250 goes on to DATA");
    }

    #[test]
    fn required_tls_and_bad_credentials_defer() {
        let mut s = Session::new(
            settings(false, true),
            "gw@example.org",
            vec!["to@example.org".into()],
            "x\r\n",
        );
        s.on_reply(&reply(220, "hi"));
        let step = s.on_reply(&Reply {
            code: 250,
            lines: vec!["mx".into(), "STARTTLS".into()],
        });
        assert!(matches!(step, Step::Finish(_, Outcome::Deferred(r)) if r.contains("TLS")));
        let mut s = Session::new(
            settings(true, false),
            "gw@example.org",
            vec!["to@example.org".into()],
            "x\r\n",
        );
        s.on_reply(&reply(220, "hi"));
        s.on_reply(&reply(250, "AUTH PLAIN"));
        assert!(matches!(
            s.on_reply(&reply(535, "bad credentials")),
            Step::Finish(_, Outcome::Deferred(_))
        ));
    }

    #[test]
    fn replies_parse_across_lines_and_partial_reads() {
        let buf = b"250-mx.example.org\r\n250-SIZE 1000\r\n250 AUTH PLAIN\r\n220 next";
        let (reply, used) = parse_reply(buf).unwrap().unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["mx.example.org", "SIZE 1000", "AUTH PLAIN"]);
        assert_eq!(&buf[used..], b"220 next");
        assert!(parse_reply(b"250-partial\r\n250 still").is_none());
        assert!(parse_reply(b"hello\r\n").unwrap().is_err());
    }
}
