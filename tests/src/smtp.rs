//! A real SMTP server on loopback (aiosmtpd, from PyPI; `cargo xtask test` installs it)
//! that records each accepted message with its envelope, byte for byte.

use crate::{free_port, wait_for, workspace_root};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The TLS version the message came over (`TLSv1.3`), or `None` for plain text.
    pub tls: Option<String>,
    /// The message text exactly as sent after DATA (dot-stuffing removed).
    pub data: String,
}

impl Received {
    /// The value of a header (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

impl SmtpServer {
    /// Starts the server; `extra` are smtp_sink.py options (`--reject`, `--tempfail`,
    /// `--auth`, `--tls CERT KEY`, `--require-tls`, `--implicit`).
    pub fn start(extra: &[&str]) -> SmtpServer {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(crate::python())
            .arg(workspace_root().join("tests/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test tools' Python starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        wait_for(10, "the SMTP server", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        SmtpServer { port, dir, child }
    }

    /// How many times a client tried AUTH (with `--auth`), whatever the outcome.
    pub fn auth_attempts(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("auth-attempts"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(v["data"].as_str().unwrap())
                    .unwrap();
                Received {
                    mail_from: v["mail_from"].as_str().unwrap().to_string(),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .collect(),
                    tls: v["tls"].as_str().map(String::from),
                    data: String::from_utf8(data).unwrap(),
                }
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A private certificate authority and a server certificate it signed for 127.0.0.1, as a
/// government relay behind a private CA would have; files in PEM for the SMTP server.
pub struct TestCertificates {
    pub ca_pem: String,
    pub cert_path: std::path::PathBuf,
    pub key_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCertificates {
    pub fn new() -> TestCertificates {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test Relay CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("server.pem");
        let key_path = dir.path().join("server.key");
        std::fs::write(&cert_path, server.pem()).unwrap();
        std::fs::write(&key_path, server_key.serialize_pem()).unwrap();
        TestCertificates {
            ca_pem: ca.pem(),
            cert_path,
            key_path,
            _dir: dir,
        }
    }

    /// The smtp_sink.py options that serve this certificate.
    pub fn sink_options(&self) -> Vec<String> {
        vec![
            "--tls".into(),
            self.cert_path.display().to_string(),
            self.key_path.display().to_string(),
        ]
    }
}

impl Default for TestCertificates {
    fn default() -> Self {
        Self::new()
    }
}
