//! The [`PubNub`] client handle and the request pipeline every API shares.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::subscribe::SubscriberSlot;
use crate::transport::signature::{canonical_query, sign_v2, v2_string_to_sign};
use crate::transport::{
    HttpMethod, RequestKind, ReqwestTransport, Transport, TransportRequest, TransportResponse,
};
use crate::{Config, Error};

/// The `pnsdk` value this client reports.
pub(crate) const PNSDK: &str = concat!("PubNub-Rust-Rx/", env!("CARGO_PKG_VERSION"));

/// A PubNub client: a cheap-to-clone handle (two `Arc`s inside) shared by
/// every API call, entity and subscription made from it.
///
/// When the last handle (client clones and subscriptions) is dropped, the
/// client's background tasks end: nothing keeps running or keeps the runtime busy.
///
/// ```no_run
/// # async fn run() -> Result<(), pubnub_rx::Error> {
/// use pubnub_rx::{Config, PubNub};
/// let client = PubNub::new(
///     Config::builder().subscribe_key("demo").publish_key("demo").user_id("me").build()?,
/// )?;
/// let sent = client.publish().channel("chat").message(&"hello").await?;
/// println!("published at {}", sent.timetoken);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PubNub {
    pub(crate) inner: Arc<ClientInner>,
    /// The subscribe side. The multiplexer actor holds only `inner`, never
    /// this, so dropping the last handle ends the actor.
    pub(crate) subscriber: Arc<SubscriberSlot>,
}

/// Configuration and request pipeline, shared by the handles and the actors.
pub(crate) struct ClientInner {
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) base_url: Arc<str>,
    /// Access Manager v3 token set with `set_token`.
    pub(crate) token: RwLock<Option<String>>,
    /// Publish sequence number (`seqn`), echoed by the server as envelope `s`.
    pub(crate) seqn: AtomicU32,
    /// This user's presence state per channel (and channel group), as set by
    /// `set_state`; subscribe and heartbeat requests carry it so the server
    /// keeps it while the user is present.
    pub(crate) presence_state: Mutex<BTreeMap<String, serde_json::Value>>,
    /// Taken by the request that calls the token refresh hook, so requests
    /// refused together share one call (an async gate: waiting on it does
    /// not block a thread).
    refreshing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for PubNub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubNub")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl PubNub {
    /// Creates a client from a validated configuration.
    ///
    /// Needs no runtime to be created; API calls and subscriptions run on tokio.
    pub fn new(config: Config) -> Result<Self, Error> {
        let transport: Arc<dyn Transport> = match &config.transport {
            Some(transport) => Arc::clone(transport),
            None => Arc::new(ReqwestTransport::with_keepalive(
                config.connect_timeout,
                config.tcp_keepalive,
            )?),
        };
        let base_url: Arc<str> = config.base_url().into();
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                transport,
                base_url,
                token: RwLock::new(None),
                seqn: AtomicU32::new(1),
                presence_state: Mutex::new(BTreeMap::new()),
                refreshing: tokio::sync::Mutex::new(()),
            }),
            subscriber: Arc::new(SubscriberSlot::default()),
        })
    }

    /// Closes the client gracefully and returns when that is done: every
    /// subscription is unsubscribed, the leaves are sent (each bounded by
    /// the non-subscribe request timeout), every subscription and status
    /// stream ends (after a final [`Status::Disconnected`](crate::Status)
    /// when something was subscribed), and the background actors stop.
    ///
    /// Await it before returning from `main`: a process that ends while
    /// subscribed sends no leave, and other users see this one present until
    /// its presence timeout expires. Dropping every handle of a client
    /// without `close` also ends its actors and streams, and tries the
    /// leaves from a background task; nothing waits for them, so they are
    /// lost when the runtime or the process ends first.
    ///
    /// REST calls keep working after `close`; subscribing again is not
    /// supported (the subscriptions are not served).
    ///
    /// ```no_run
    /// # async fn run(client: pubnub_rx::PubNub) {
    /// let subscription = client
    ///     .channel("chat")
    ///     .subscription(pubnub_rx::SubscriptionOptions::new());
    /// subscription.subscribe();
    /// // ...
    /// client.close().await; // the leave has been sent
    /// # }
    /// ```
    pub async fn close(&self) {
        match self.subscriber.running_mux() {
            Some(mux) => {
                let (done, closed) = tokio::sync::oneshot::channel();
                mux.send(crate::subscribe::multiplexer::Command::Close { done });
                // An error means the actor already ended: nothing to wait for.
                let _ = closed.await;
            }
            None => self.subscriber.status.close(),
        }
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sets the Access Manager v3 token sent as `auth` on every request; it
    /// takes precedence over the configured auth key. Ignored when the token
    /// manager is disabled in the configuration.
    pub fn set_token(&self, token: impl Into<String>) {
        let token = token.into();
        let mut slot = self
            .inner
            .token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = (!token.is_empty()).then_some(token);
    }

    /// The token set with [`set_token`](Self::set_token), if any.
    pub fn token(&self) -> Option<String> {
        self.inner.token()
    }

    pub(crate) fn next_seqn(&self) -> u32 {
        self.inner.seqn.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts a request on `path` (already percent-encoded).
    pub(crate) fn request(&self, method: HttpMethod, path: String) -> Request {
        Request::new(method, path)
    }

    /// Sends a request; HTTP error statuses become [`Error`]s.
    pub(crate) async fn execute(&self, request: Request) -> Result<TransportResponse, Error> {
        self.inner.execute(request).await
    }
}

impl ClientInner {
    pub(crate) fn token(&self) -> Option<String> {
        self.token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// What goes into `auth`: the token unless the token manager is off, else
    /// the auth key.
    fn auth_value(&self) -> Option<String> {
        if !self.config.disable_token_manager {
            if let Some(token) = self.token() {
                return Some(token);
            }
        }
        self.config.auth_key.clone()
    }

    /// Adds the common parameters, signs, and turns a [`Request`] into what
    /// the transport sends.
    pub(crate) fn prepare(&self, request: Request) -> TransportRequest {
        let config = &self.config;
        let Request {
            method,
            path,
            mut query,
            body,
            content_type,
            headers: extra_headers,
            kind,
            auth,
            sign_as_get,
        } = request;
        query.push(("pnsdk", PNSDK.to_owned()));
        query.push(("uuid", config.user_id.clone()));
        if config.use_request_id {
            query.push(("requestid", uuid::Uuid::new_v4().to_string()));
        }
        if auth {
            if let Some(value) = self.auth_value() {
                query.push(("auth", value));
            }
        }
        if let Some(secret) = &config.secret_key {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            query.push(("timestamp", now.to_string()));
            let canonical = canonical_query(query.iter().map(|(k, v)| (*k, v.as_str())));
            let publish_key = config.publish_key.as_deref().unwrap_or("");
            // POST publish is signed as a GET without body, as the official
            // JS SDK does (PROTOCOL.md §8.3); PubNub accepts that form.
            let (method_text, signed_body): (&str, &[u8]) = if sign_as_get {
                ("GET", b"")
            } else {
                (method.as_str(), body.as_deref().unwrap_or(b""))
            };
            let to_sign =
                v2_string_to_sign(method_text, publish_key, &path, &canonical, signed_body);
            query.push(("signature", sign_v2(secret, &to_sign)));
        }
        let mut headers = Vec::new();
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type.to_owned()));
        }
        headers.extend(extra_headers);
        let timeout = match kind {
            RequestKind::Subscribe => config.subscribe_timeout,
            RequestKind::NonSubscribe => config.non_subscribe_request_timeout,
        };
        TransportRequest {
            method,
            base_url: Arc::clone(&self.base_url),
            path,
            query,
            headers,
            body,
            timeout,
            kind,
        }
    }

    /// Sends a request; HTTP error statuses become [`Error`]s. A request
    /// refused for its token is retried once with a refreshed token when
    /// the configuration has a refresh hook.
    pub(crate) async fn execute(&self, request: Request) -> Result<TransportResponse, Error> {
        let token = self.sent_token(&request);
        let (Some(refresh), Some(used)) = (&self.config.token_refresh, token) else {
            return self.send(request).await;
        };
        let retry = request.clone();
        match self.send(request).await {
            Err(denied @ Error::AccessDenied { .. }) => {
                if !self.refresh_token(refresh, &used).await {
                    return Err(denied);
                }
                self.send(retry).await
            }
            other => other,
        }
    }

    /// The token a request carries as `auth`, if it carries one.
    fn sent_token(&self, request: &Request) -> Option<String> {
        if request.auth && !self.config.disable_token_manager {
            self.token()
        } else {
            None
        }
    }

    /// Replaces the refused token `used` with the hook's; `false` when the
    /// hook failed. When another request refreshed it meanwhile, uses that.
    async fn refresh_token(&self, refresh: &crate::config::TokenRefresh, used: &str) -> bool {
        let _gate = self.refreshing.lock().await;
        if self.token().as_deref() != Some(used) {
            return true;
        }
        match (refresh.0)().await {
            Ok(token) if !token.is_empty() => {
                tracing::debug!("access token refreshed after a refusal");
                *self
                    .token
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(token);
                true
            }
            Ok(_) => {
                tracing::warn!("the token refresh hook returned an empty token");
                false
            }
            Err(error) => {
                tracing::warn!(%error, "the token refresh hook failed");
                false
            }
        }
    }

    async fn send(&self, request: Request) -> Result<TransportResponse, Error> {
        let prepared = self.prepare(request);
        let length = prepared.url_length();
        if length > crate::error::MAX_URL_LENGTH {
            return Err(Error::RequestTooLong {
                status: None,
                length: Some(length),
            });
        }
        tracing::trace!(method = %prepared.method, path = %prepared.path, "sending request");
        let response = self.transport.send(prepared).await?;
        if response.status >= 400 {
            return Err(Error::from_response(response.status, &response.body));
        }
        Ok(response)
    }
}

/// A request under construction by an API builder.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: HttpMethod,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) content_type: Option<&'static str>,
    /// Extra request headers (e.g. `If-Match` on App Context updates).
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) kind: RequestKind,
    /// Whether `auth` is added (not on `/time` and Access Manager admin calls).
    pub(crate) auth: bool,
    /// Sign as a body-less GET (POST publish).
    pub(crate) sign_as_get: bool,
}

impl Request {
    pub(crate) fn new(method: HttpMethod, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            content_type: None,
            headers: Vec::new(),
            kind: RequestKind::NonSubscribe,
            auth: true,
            sign_as_get: false,
        }
    }

    pub(crate) fn param(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub(crate) fn param_opt(self, key: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(value) => self.param(key, value),
            None => self,
        }
    }

    pub(crate) fn json_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self.content_type = Some("application/json");
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn without_auth(mut self) -> Self {
        self.auth = false;
        self
    }
}
