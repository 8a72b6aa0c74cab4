//! Outbound HTTP from components: `allowed_outbound_hosts` is enforced here, and requests
//! to `http://<component>.spin.internal` are served in-process by that component (Spin's
//! local service chaining), never touching the network. Calls to providers that set no
//! timeouts get the host's (`--outbound-timeout-ms`): a provider that hangs must give the
//! call back well inside a delivery claim (60 s), or another instance could retry the
//! message while the first call still waits for an answer.

use crate::app::App;
use crate::outbound::HostPattern;
use crate::outbound_pool::ConnectionPool;
use std::sync::{Arc, Weak};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

pub struct OutboundHooks {
    pub component: Arc<str>,
    pub allowed: Arc<Vec<HostPattern>>,
    pub app: Weak<App>,
    /// Where calls to providers and callers' systems go (`outbound_pool.rs`). Its timeout
    /// is the longest wait for a connection, the first byte and each later byte of an
    /// answer, where the component set none.
    pub pool: Arc<ConnectionPool>,
}

const INTERNAL_SUFFIX: &str = ".spin.internal";

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Sent {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        if !self.allowed.iter().any(|p| p.allows(&scheme, &host, port)) {
            tracing::warn!(component = %self.component, %scheme, %host, "outbound request refused by allowed_outbound_hosts");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        if let Some(target) = host.strip_suffix(INTERNAL_SUFFIX) {
            let target = target.to_string();
            let app = self.app.clone();
            return Box::new(async move {
                let app = app.upgrade().ok_or(Error::DestinationUnavailable)?;
                let response = app
                    .call_component(&target, request, None)
                    .await
                    .map_err(|e| {
                        tracing::error!(component = %target, error = %e, "internal request failed");
                        Error::DestinationUnavailable
                    })?;
                Ok((response, Box::new(async { Ok(()) }) as Io))
            });
        }
        _ = fut;
        let timeout = self.pool.timeout();
        let options = options.unwrap_or_default();
        let connect = options.connect_timeout.unwrap_or(timeout);
        let first_byte = options.first_byte_timeout.unwrap_or(timeout);
        let between_bytes = options.between_bytes_timeout.unwrap_or(timeout);
        let pool = self.pool.clone();
        Box::new(async move {
            use http_body_util::BodyExt;
            if connect == pool.timeout() {
                let response = pool.send(request, first_byte, between_bytes).await?;
                return Ok((response, Box::new(async { Ok(()) }) as Io));
            }
            // A component asking for its own connection timeout gets a connection of its own.
            let options = Some(RequestOptions {
                connect_timeout: Some(connect),
                first_byte_timeout: Some(first_byte),
                between_bytes_timeout: Some(between_bytes),
            });
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Io))
        })
    }
}
