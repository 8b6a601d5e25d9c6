//! The default transport: one pooled reqwest client (rustls, keep-alive, gzip).

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt as _;

use super::{HttpMethod, Transport, TransportRequest, TransportResponse};
use crate::Error;

/// The default [`Transport`]: a single reqwest client, so every request of a
/// [`PubNub`](crate::PubNub) client shares keep-alive connections.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds the transport with the given connect timeout and the default
    /// TCP keepalive ([`DEFAULT_TCP_KEEPALIVE`](crate::config::DEFAULT_TCP_KEEPALIVE)).
    pub fn new(connect_timeout: Duration) -> Result<Self, Error> {
        Self::with_keepalive(connect_timeout, Some(crate::config::DEFAULT_TCP_KEEPALIVE))
    }

    /// Builds the transport with the given connect timeout and TCP keepalive
    /// idle time (also the probe interval; 3 probes; `None`: off), so a
    /// half-open connection is noticed in about `4 × idle`.
    pub fn with_keepalive(
        connect_timeout: Duration,
        keepalive: Option<Duration>,
    ) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder();
        if let Some(idle) = keepalive {
            builder = builder
                .tcp_keepalive(idle)
                .tcp_keepalive_interval(idle)
                .tcp_keepalive_retries(3);
        }
        let client = builder
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .gzip(true)
            .build()
            .map_err(|e| Error::Network {
                message: format!("could not build the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(Self { client })
    }

    /// Wraps an existing reqwest client (its settings are used as they are).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportResponse, Error>> {
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let timeout = request.timeout;
        let mut builder = self.client.request(method, request.url()).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        async move {
            let response = builder.send().await.map_err(|e| map_error(&e, timeout))?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(|e| map_error(&e, timeout))?;
            Ok(TransportResponse { status, body })
        }
        .boxed()
    }
}

fn map_error(error: &reqwest::Error, timeout: Duration) -> Error {
    if error.is_timeout() {
        Error::Timeout { after: timeout }
    } else if error.is_builder() {
        // Nothing was sent: an invalid URL or header; the same request can
        // never succeed.
        Error::InvalidRequest {
            reason: error_chain(error),
        }
    } else {
        Error::Network {
            message: error_chain(error),
        }
    }
}

/// The error and its sources, joined: reqwest's top-level message alone
/// ("error sending request") does not say what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
