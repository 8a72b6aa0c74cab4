//! The byte stream under an SMTP session: plain TCP, or TCP wrapped in TLS (rustls with the
//! ring provider, pure Rust apart from ring's C, which builds for wasm32 with clang).
//!
//! The server's certificate is checked against Mozilla's roots (webpki-roots, built in, as
//! a component has no system store) plus, where the `smtp_tls_ca` variable holds PEM
//! certificates, those: a government relay is often signed by a private CA.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// Builds the TLS client configuration once per message.
pub fn client_config(extra_ca_pem: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !extra_ca_pem.trim().is_empty() {
        for cert in CertificateDer::pem_slice_iter(extra_ca_pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("smtp_tls_ca is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("smtp_tls_ca holds an unusable certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Transport {
    /// Runs the TLS handshake over this connection, checking the certificate for `host`
    /// (a name or an IP address). The handshake is driven to the end here, so a bad
    /// certificate is reported as such, before a byte of the message leaves.
    pub fn into_tls(self, host: &str, config: Arc<ClientConfig>) -> Result<Transport, String> {
        let Transport::Plain(mut tcp) = self else {
            return Err("smtp: TLS is already on".into());
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("smtp: {host:?} is not a valid TLS server name"))?;
        let mut connection =
            ClientConnection::new(config, name).map_err(|e| format!("tls: {e}"))?;
        while connection.is_handshaking() {
            connection
                .complete_io(&mut tcp)
                .map_err(|e| format!("smtp tls handshake with {host}: {e}"))?;
        }
        Ok(Transport::Tls(Box::new(StreamOwned::new(connection, tcp))))
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.flush(),
            Transport::Tls(tls) => tls.flush(),
        }
    }
}
