//! The SMTP adapter: one connection per message, driven by the pure session in
//! `messaging_domain::providers::smtp`. The component only moves bytes (wasi:sockets through
//! std's TcpStream, TLS through `crate::tls`); the protocol and the message text are tested
//! natively.

use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use crate::tls::{self, Transport};
use messaging_domain::providers::smtp::mime::{self, Mail};
use messaging_domain::providers::smtp::session::{
    Outcome, Session, Settings, Step, TlsPolicy, parse_reply,
};
use std::io::{Read, Write};
use std::net::TcpStream;

pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub helo: String,
    pub from: String,
    pub auth: Option<(String, String)>,
    pub tls: TlsPolicy,
    /// Extra trusted certificates (PEM), for relays signed by a private CA.
    pub tls_ca_pem: String,
}

pub async fn config() -> Result<SmtpConfig, String> {
    let var = |name: &'static str| async move {
        message_store::config::get(name)
            .await
            .map_err(|e| format!("variable {name}: {e}"))
    };
    let host = var("smtp_host").await?;
    let port = var("smtp_port")
        .await?
        .parse()
        .map_err(|_| "smtp_port must be a port number".to_string())?;
    let username = var("smtp_username").await.unwrap_or_default();
    let password = var("smtp_password").await.unwrap_or_default();
    Ok(SmtpConfig {
        host,
        port,
        helo: var("smtp_helo")
            .await
            .unwrap_or_else(|_| "localhost".into()),
        from: var("smtp_from").await?,
        auth: (!username.is_empty()).then_some((username, password)),
        tls: TlsPolicy::parse(&var("smtp_tls").await.unwrap_or_default())?,
        tls_ca_pem: var("smtp_tls_ca").await.unwrap_or_default(),
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn send(message: &OutboundMessage, config: &SmtpConfig) -> SendOutcome {
    let details = message.email.as_ref();
    let from = details
        .and_then(|e| e.sender_address.clone())
        .unwrap_or_else(|| config.from.clone());
    let cc: Vec<String> = details.map(|e| e.cc.clone()).unwrap_or_default();
    let bcc: Vec<String> = details.map(|e| e.bcc.clone()).unwrap_or_default();
    let message_id = format!("{}@{}", message.id, config.helo);
    let date = mime::rfc5322_date(now_secs());
    let text = mime::render(&Mail {
        from: &from,
        from_name: details.and_then(|e| e.sender_name.as_deref()),
        to: &message.to,
        to_name: details.and_then(|e| e.recipient_name.as_deref()),
        cc: &cc,
        reply_to: details.and_then(|e| e.reply_to.as_deref()),
        subject: message.subject.as_deref().unwrap_or(""),
        body: &message.body,
        message_id: &message_id,
        date: &date,
    });
    let mut recipients = vec![message.to.clone()];
    recipients.extend(cc);
    recipients.extend(bcc);
    let settings = Settings {
        helo: config.helo.clone(),
        auth: config.auth.clone(),
        tls: config.tls,
    };
    let session = Session::new(settings, &from, recipients, &text);
    match converse(session, config) {
        Ok(Outcome::Sent) => SendOutcome::Accepted(None),
        Ok(Outcome::Deferred(reason)) => SendOutcome::Deferred(reason),
        Ok(Outcome::Bounced(reason)) => SendOutcome::Rejected(reason),
        // Connection trouble is temporary: the server may be restarting.
        Err(reason) => SendOutcome::Deferred(reason),
    }
}

fn converse(mut session: Session, config: &SmtpConfig) -> Result<Outcome, String> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .map_err(|e| format!("smtp connect {}:{}: {}", config.host, config.port, e.kind()))?;
    // A server that stops answering must not hold the delivery cell: give up and retry
    // later. (Where the platform cannot set the timeout, the host's request deadline still
    // ends the attempt.)
    let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let tls_config = match config.tls {
        TlsPolicy::Off => None,
        _ => Some(tls::client_config(&config.tls_ca_pem)?),
    };
    let mut stream = Transport::Plain(tcp);
    if config.tls == TlsPolicy::Implicit {
        let tls_config = tls_config.clone().expect("built for every policy but off");
        stream = stream.into_tls(&config.host, tls_config)?;
    }
    let mut buf = Vec::new();
    loop {
        let reply = loop {
            if let Some(parsed) = parse_reply(&buf) {
                let (reply, used) = parsed?;
                buf.drain(..used);
                break reply;
            }
            let mut chunk = [0u8; 4096];
            let n = stream
                .read(&mut chunk)
                .map_err(|e| format!("smtp read: {}", e.kind()))?;
            if n == 0 {
                return Err("smtp: the server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        match session.on_reply(&reply) {
            Step::Write(bytes) => stream
                .write_all(&bytes)
                .and_then(|()| stream.flush())
                .map_err(|e| format!("smtp write: {}", e.kind()))?,
            Step::StartTls(ehlo) => {
                // Bytes that arrived after the 220 were sent before TLS by someone who
                // could be anyone on the path (RFC 3207 and CVE-2011-0411): refuse them.
                if !buf.is_empty() {
                    return Err("smtp: the server sent data before the TLS handshake".into());
                }
                let tls_config = tls_config
                    .clone()
                    .expect("STARTTLS only when TLS is wanted");
                stream = stream.into_tls(&config.host, tls_config)?;
                stream
                    .write_all(&ehlo)
                    .and_then(|()| stream.flush())
                    .map_err(|e| format!("smtp write: {}", e.kind()))?;
            }
            Step::Finish(bytes, outcome) => {
                // QUIT is a courtesy; its failure changes nothing.
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
                return Ok(outcome);
            }
        }
    }
}
