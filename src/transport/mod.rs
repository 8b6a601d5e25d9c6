//! How requests reach PubNub: the request model, the pluggable [`Transport`]
//! trait, percent-encoding, signatures and the default reqwest transport.
//!
//! Every API call builds a [`TransportRequest`] (method, encoded path, decoded
//! query pairs, body, timeout); the client adds the common parameters (`uuid`,
//! `pnsdk`, `requestid`, `auth`, `timestamp` + `signature`) and hands it to
//! the configured transport. Tests plug an in-memory transport; so can users
//! (to add tracing, a proxy, or a different HTTP stack).

pub mod encoding;
mod reqwest_transport;
pub mod signature;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use reqwest_transport::ReqwestTransport;

use crate::Error;

/// HTTP method of a PubNub request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// The uppercase method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which timeout class a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A subscribe long-poll (subscribe timeout applies).
    Subscribe,
    /// Every other request (non-subscribe timeout applies).
    NonSubscribe,
}

/// One request, ready to be sent.
#[derive(Debug, Clone)]
pub struct TransportRequest {
    /// HTTP method.
    pub method: HttpMethod,
    /// `http://host:port` or `https://host` — no trailing slash.
    pub base_url: Arc<str>,
    /// The path exactly as it goes on the wire (already percent-encoded).
    pub path: String,
    /// Query pairs with *decoded* values, in sending order.
    pub query: Vec<(&'static str, String)>,
    /// Extra headers (`Content-Type` for bodies).
    pub headers: Vec<(&'static str, String)>,
    /// Request body, for POST and PATCH.
    pub body: Option<Bytes>,
    /// Time allowed for the whole request.
    pub timeout: Duration,
    /// Timeout class.
    pub kind: RequestKind,
}

impl TransportRequest {
    /// The query string as sent: every value percent-encoded.
    pub fn query_string(&self) -> String {
        encoding::encode_query(self.query.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// The full URL.
    pub fn url(&self) -> String {
        let query = self.query_string();
        if query.is_empty() {
            format!("{}{}", self.base_url, self.path)
        } else {
            format!("{}{}?{}", self.base_url, self.path, query)
        }
    }

    /// The length of [`url`](Self::url) in bytes.
    pub fn url_length(&self) -> usize {
        let query = self.query_string();
        self.base_url.len() + self.path.len() + if query.is_empty() { 0 } else { query.len() + 1 }
    }

    /// The decoded value of a query parameter, if present.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What came back: status and body. The transport does not judge the status;
/// the client maps error statuses to [`Error`].
#[derive(Debug, Clone)]
pub struct TransportResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response body (already decompressed).
    pub body: Bytes,
}

/// Sends requests. Implement it to plug in another HTTP stack or an in-memory
/// fake; the default is [`ReqwestTransport`].
///
/// A transport returns `Err` only when no HTTP answer arrived (network error,
/// timeout); any HTTP status is an `Ok` response. Dropping the returned future
/// must cancel the request.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends one request.
    fn send(
        &self,
        request: TransportRequest,
    ) -> BoxFuture<'static, Result<TransportResponse, Error>>;
}
