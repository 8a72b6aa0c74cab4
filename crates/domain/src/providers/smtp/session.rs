//! An SMTP client session (RFC 5321) as a pure state machine: it is fed the server's
//! replies and answers with the next thing to write, so the protocol is tested without a
//! network and the component only moves bytes.
//!
//! EHLO, STARTTLS (RFC 3207) and a second EHLO when the policy asks for it, optional AUTH
//! PLAIN, MAIL FROM, one RCPT TO per envelope recipient (To, Cc and Bcc), DATA with
//! dot-stuffing, QUIT. Reply classes decide the outcome: 2xx/3xx go on, 4xx is a temporary
//! failure (deferred, retried), 5xx a permanent one (bounced). The TLS handshake itself is
//! the caller's: the session only says when ([`Step::StartTls`]).

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
    /// The server agreed to STARTTLS: discard anything already read, run the TLS handshake
    /// on the connection, then write these bytes (the second EHLO) over TLS.
    StartTls(Vec<u8>),
    /// Write these bytes (possibly none) and close: the session is over.
    Finish(Vec<u8>, Outcome),
}

/// When the connection to the SMTP server is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Plain text throughout (a relay on the same machine).
    Off,
    /// STARTTLS where the server offers it, plain text where it does not. A server that
    /// offers STARTTLS but fails the handshake or the certificate check is not fallen back
    /// from: the attempt is deferred, so a downgrade cannot be forced by breaking TLS.
    Opportunistic,
    /// STARTTLS or nothing: a server that does not offer it, or refuses it, gets no message.
    Required,
    /// TLS from the first byte (SMTPS, port 465): the caller connects with TLS.
    Implicit,
}

impl TlsPolicy {
    /// Parses the `smtp_tls` setting: `off`, `starttls`, `required` or `implicit`.
    pub fn parse(value: &str) -> Result<TlsPolicy, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(TlsPolicy::Off),
            "" | "starttls" => Ok(TlsPolicy::Opportunistic),
            "required" => Ok(TlsPolicy::Required),
            "implicit" => Ok(TlsPolicy::Implicit),
            other => Err(format!(
                "smtp_tls is {other:?}; expected off, starttls, required or implicit"
            )),
        }
    }
}

pub struct Settings {
    /// The name given in EHLO.
    pub helo: String,
    /// AUTH PLAIN credentials, if the server needs them.
    pub auth: Option<(String, String)>,
    /// When to encrypt.
    pub tls: TlsPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    StartTls,
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
    /// The connection is encrypted (after STARTTLS, or from the start with implicit TLS).
    secured: bool,
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
        let secured = settings.tls == TlsPolicy::Implicit;
        Session {
            settings,
            from: from.to_string(),
            recipients,
            data: dot_stuff(text),
            state: State::Greeting,
            secured,
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

    /// After the (last) EHLO: AUTH if configured, else straight to MAIL FROM. Credentials
    /// travel only inside TLS, whatever `smtp_tls` says: a server (or whoever sits between)
    /// that offers no STARTTLS would otherwise read them, so the attempt is deferred instead.
    fn authenticate(&mut self) -> Step {
        match &self.settings.auth {
            Some(_) if !self.secured => Step::Finish(
                line("QUIT".into()),
                Outcome::Deferred(
                    "smtp: credentials are set but the connection is not encrypted; \
                     AUTH is never sent in clear text"
                        .into(),
                ),
            ),
            Some((user, password)) => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("\0{user}\0{password}"));
                self.state = State::Auth;
                Step::Write(line(format!("AUTH PLAIN {token}")))
            }
            None => self.mail_from(),
        }
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
                let offers_starttls = reply
                    .lines
                    .iter()
                    .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"));
                let wants_tls = matches!(
                    self.settings.tls,
                    TlsPolicy::Opportunistic | TlsPolicy::Required
                );
                if !self.secured && wants_tls && offers_starttls {
                    self.state = State::StartTls;
                    return Step::Write(line("STARTTLS".into()));
                }
                if !self.secured && self.settings.tls == TlsPolicy::Required {
                    return Step::Finish(
                        line("QUIT".into()),
                        Outcome::Deferred(
                            "smtp: TLS required, but the server offers no STARTTLS".into(),
                        ),
                    );
                }
                self.authenticate()
            }
            State::StartTls if reply.code == 220 => {
                self.secured = true;
                // RFC 3207 4.2: forget everything learnt before TLS and greet again.
                self.state = State::Ehlo;
                Step::StartTls(line(format!("EHLO {}", self.settings.helo)))
            }
            State::StartTls if self.settings.tls == TlsPolicy::Required => Step::Finish(
                line("QUIT".into()),
                Outcome::Deferred(format!("smtp STARTTLS: {} {}", reply.code, reply.text())),
            ),
            // Offered but refused (454): the opportunistic policy goes on in plain text.
            State::StartTls => self.authenticate(),
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

    fn settings(auth: bool, tls: TlsPolicy) -> Settings {
        Settings {
            helo: "gateway.example.org".into(),
            auth: auth.then(|| ("user".into(), "secret".into())),
            tls,
        }
    }

    fn ehlo(keywords: &[&str]) -> Reply {
        Reply {
            code: 250,
            lines: std::iter::once("mx.example.org")
                .chain(keywords.iter().copied())
                .map(String::from)
                .collect(),
        }
    }

    fn session(auth: bool, tls: TlsPolicy) -> Session {
        Session::new(
            settings(auth, tls),
            "gw@example.org",
            vec!["to@example.org".into()],
            "x\r\n",
        )
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
            settings(true, TlsPolicy::Implicit),
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
                settings(false, TlsPolicy::Opportunistic),
                "gw@example.org",
                vec!["to@example.org".into()],
                "x\r\n",
            );
            s.on_reply(&reply(220, "hi"));
            s.on_reply(&reply(250, "hi"));
            s.on_reply(&reply(250, "sender ok"));
            match s.on_reply(&reply(code, "rcpt")) {
                Step::Finish(_, outcome) => outcome,
                Step::Write(_) | Step::StartTls(_) => Outcome::Sent,
            }
        };
        assert!(matches!(run(450), Outcome::Deferred(_)));
        assert!(matches!(run(550), Outcome::Bounced(r) if r.contains("550")));
        assert_eq!(run(250), Outcome::Sent, "a 250 goes on to DATA");
    }

    #[test]
    fn starttls_where_offered_then_a_second_ehlo_and_auth_over_tls() {
        let mut s = session(true, TlsPolicy::Opportunistic);
        s.on_reply(&reply(220, "hi"));
        assert_eq!(
            written(s.on_reply(&ehlo(&["AUTH PLAIN", "STARTTLS"]))),
            "STARTTLS\r\n"
        );
        assert_eq!(
            s.on_reply(&reply(220, "go ahead")),
            Step::StartTls(b"EHLO gateway.example.org\r\n".to_vec())
        );
        // The server still lists STARTTLS after the upgrade (some do): no second upgrade.
        assert!(written(s.on_reply(&ehlo(&["AUTH PLAIN", "STARTTLS"]))).starts_with("AUTH PLAIN "));
        assert_eq!(
            written(s.on_reply(&reply(235, "ok"))),
            "MAIL FROM:<gw@example.org>\r\n"
        );
    }

    #[test]
    fn opportunistic_tls_goes_on_in_plain_text_where_not_offered_or_refused() {
        let mut s = session(false, TlsPolicy::Opportunistic);
        s.on_reply(&reply(220, "hi"));
        assert_eq!(
            written(s.on_reply(&ehlo(&["8BITMIME"]))),
            "MAIL FROM:<gw@example.org>\r\n"
        );
        let mut s = session(false, TlsPolicy::Opportunistic);
        s.on_reply(&reply(220, "hi"));
        s.on_reply(&ehlo(&["STARTTLS"]));
        assert_eq!(
            written(s.on_reply(&reply(454, "TLS not available"))),
            "MAIL FROM:<gw@example.org>\r\n"
        );
    }

    #[test]
    fn required_tls_defers_when_not_offered_or_refused() {
        let mut s = session(false, TlsPolicy::Required);
        s.on_reply(&reply(220, "hi"));
        let step = s.on_reply(&ehlo(&["8BITMIME"]));
        assert!(matches!(step, Step::Finish(_, Outcome::Deferred(r)) if r.contains("no STARTTLS")));
        let mut s = session(false, TlsPolicy::Required);
        s.on_reply(&reply(220, "hi"));
        s.on_reply(&ehlo(&["STARTTLS"]));
        let step = s.on_reply(&reply(454, "TLS not available"));
        assert!(matches!(step, Step::Finish(_, Outcome::Deferred(r)) if r.contains("454")));
    }

    #[test]
    fn off_and_implicit_never_send_starttls() {
        for policy in [TlsPolicy::Off, TlsPolicy::Implicit] {
            let mut s = session(false, policy);
            s.on_reply(&reply(220, "hi"));
            assert_eq!(
                written(s.on_reply(&ehlo(&["STARTTLS"]))),
                "MAIL FROM:<gw@example.org>\r\n",
                "{policy:?}"
            );
        }
    }

    #[test]
    fn credentials_never_travel_in_clear_text() {
        // STARTTLS stripped from the EHLO answer, refused, or turned off by the setting:
        // the session defers before AUTH, whatever else the server offers.
        for (policy, ehlo_keywords, starttls_reply) in [
            (TlsPolicy::Opportunistic, &["AUTH PLAIN"][..], None),
            (
                TlsPolicy::Opportunistic,
                &["AUTH PLAIN", "STARTTLS"][..],
                Some(454),
            ),
            (TlsPolicy::Off, &["AUTH PLAIN", "STARTTLS"][..], None),
        ] {
            let mut s = session(true, policy);
            s.on_reply(&reply(220, "hi"));
            let mut step = s.on_reply(&ehlo(ehlo_keywords));
            if let Some(code) = starttls_reply {
                assert_eq!(written(step), "STARTTLS\r\n");
                step = s.on_reply(&reply(code, "TLS not available"));
            }
            match step {
                Step::Finish(bytes, Outcome::Deferred(reason)) => {
                    assert_eq!(bytes, b"QUIT\r\n", "{policy:?}");
                    assert!(reason.contains("not encrypted"), "{reason}");
                }
                other => panic!("{policy:?}: expected a deferral, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_tls_setting_parses_its_four_words_and_nothing_else() {
        assert_eq!(TlsPolicy::parse("").unwrap(), TlsPolicy::Opportunistic);
        assert_eq!(TlsPolicy::parse("Required").unwrap(), TlsPolicy::Required);
        assert_eq!(TlsPolicy::parse("implicit").unwrap(), TlsPolicy::Implicit);
        assert_eq!(TlsPolicy::parse("off").unwrap(), TlsPolicy::Off);
        assert!(TlsPolicy::parse("true").is_err());
    }

    #[test]
    fn bad_credentials_defer() {
        let mut s = session(true, TlsPolicy::Implicit);
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
