//! Client configuration: every option of the PubNub SDKs, validated once at
//! [`ConfigBuilder::build`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::crypto::CryptoModule;
use crate::transport::Transport;
use crate::Error;

/// The longest user id PubNub accepts, in characters (PROTOCOL.md §1.8).
pub const MAX_USER_ID_CHARS: usize = 92;

/// Default TCP keepalive idle time (and probe interval) of the default transport.
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(20);

/// Which heartbeat outcomes are reported on the status stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeartbeatNotifications {
    /// Never report heartbeats.
    None,
    /// Report failed heartbeats only (default, as in the PubNub SDKs).
    #[default]
    Failures,
    /// Report every heartbeat.
    All,
}

/// Default [`ConfigBuilder::max_subscribe_list_bytes`].
const DEFAULT_MAX_SUBSCRIBE_LIST_BYTES: usize = 8 * 1024;

/// What the subscribe loop does when a receive comes back full — as many
/// messages as the server's queue holds
/// ([`request_message_count_threshold`](ConfigBuilder::request_message_count_threshold),
/// 100 on PubNub): older messages may have been dropped by the server (after
/// a backpressure pause, an outage, a `disconnect()`/`reconnect()`, or a
/// burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GapRecovery {
    /// Fetch the range between the previous cursor and the batch from
    /// Message Persistence (history) and deliver what was missed first, in
    /// timetoken order, marked [`Message::recovered`](crate::subscribe::Message::recovered),
    /// then the batch; [`Status::GapRecovered`](crate::Status::GapRecovered)
    /// says what came back, [`Status::PotentialLoss`](crate::Status::PotentialLoss)
    /// what could not be checked. The default. With a
    /// [`filter_expression`](ConfigBuilder::filter_expression) gaps are
    /// reported instead (as with `Report`): history would return messages
    /// the server's filter kept from this client.
    #[default]
    FromHistory,
    /// Do not fetch; report the possible gap as
    /// [`Status::PotentialLoss`](crate::Status::PotentialLoss).
    Report,
    /// Neither fetch nor report (the behaviour of the official SDKs).
    Off,
}

/// How the subscribe loop recovers from network errors, timeouts, HTTP 5xx
/// and 429. HTTP 400 and 403 are never retried.
///
/// Every pause gets random jitter of up to a quarter of its length (at most
/// 1 s), so clients cut off together do not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectPolicy {
    /// Do not retry: report the failure and stop.
    None,
    /// Wait `delay` between attempts.
    Linear {
        /// Pause between attempts.
        delay: Duration,
        /// Give up after this many failed attempts (`None`: never give up).
        max_retries: Option<u32>,
    },
    /// Wait `min_delay · 2ⁿ`, capped at `max_delay`.
    Exponential {
        /// The first pause.
        min_delay: Duration,
        /// The longest pause.
        max_delay: Duration,
        /// Give up after this many failed attempts (`None`: never give up).
        max_retries: Option<u32>,
    },
}

impl Default for ReconnectPolicy {
    /// Exponential from 1 s to 32 s, never giving up: a client that says it
    /// recovers by itself should still be there after a long outage.
    fn default() -> Self {
        Self::Exponential {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(32),
            max_retries: None,
        }
    }
}

impl ReconnectPolicy {
    /// The PubNub SDKs' linear policy: 2 s, 10 retries.
    pub fn linear() -> Self {
        Self::Linear {
            delay: Duration::from_secs(2),
            max_retries: Some(10),
        }
    }

    /// The PubNub SDKs' exponential policy: 2 s doubling up to 150 s, 6 retries.
    pub fn exponential() -> Self {
        Self::Exponential {
            min_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(150),
            max_retries: Some(6),
        }
    }

    /// The pause before retry number `attempt` (0-based), without jitter, or
    /// `None` when the policy gives up.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        match *self {
            Self::None => None,
            Self::Linear { delay, max_retries } => {
                (max_retries.is_none_or(|max| attempt < max)).then_some(delay)
            }
            Self::Exponential {
                min_delay,
                max_delay,
                max_retries,
            } => {
                if max_retries.is_some_and(|max| attempt >= max) {
                    return None;
                }
                let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
                Some(min_delay.saturating_mul(factor).min(max_delay))
            }
        }
    }
}

/// Validated client configuration. Build it with [`Config::builder`].
///
/// ```
/// use pubnub_rx::Config;
/// let config = Config::builder()
///     .subscribe_key("demo")
///     .publish_key("demo")
///     .user_id("my-user")
///     .build()?;
/// assert_eq!(config.origin(), "ps.pndsn.com");
/// # Ok::<(), pubnub_rx::Error>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) subscribe_key: String,
    pub(crate) publish_key: Option<String>,
    pub(crate) secret_key: Option<String>,
    pub(crate) user_id: String,
    pub(crate) auth_key: Option<String>,
    pub(crate) crypto: Option<CryptoModule>,
    pub(crate) ssl: bool,
    pub(crate) origin: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) subscribe_timeout: Duration,
    pub(crate) non_subscribe_request_timeout: Duration,
    pub(crate) filter_expression: Option<String>,
    pub(crate) heartbeat_notifications: HeartbeatNotifications,
    pub(crate) reconnect_policy: ReconnectPolicy,
    pub(crate) presence_timeout: u32,
    pub(crate) heartbeat_interval: Option<Duration>,
    pub(crate) suppress_leave_events: bool,
    pub(crate) enable_subscribe: bool,
    pub(crate) disable_token_manager: bool,
    pub(crate) maximum_message_cache: usize,
    pub(crate) use_request_id: bool,
    pub(crate) subscription_queue_capacity: usize,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) token_refresh: Option<TokenRefresh>,
    pub(crate) gap_recovery: GapRecovery,
    pub(crate) request_message_count_threshold: usize,
    pub(crate) max_subscribe_list_bytes: usize,
}

/// The future a [`ConfigBuilder::token_refresh`] hook returns.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

/// A token refresh hook (see [`ConfigBuilder::token_refresh`]).
#[derive(Clone)]
pub(crate) struct TokenRefresh(pub(crate) Arc<dyn Fn() -> TokenFuture + Send + Sync>);

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys beyond the subscribe key are secrets: never print them.
        f.debug_struct("Config")
            .field("subscribe_key", &self.subscribe_key)
            .field("publish_key", &self.publish_key.as_ref().map(|_| "<set>"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<set>"))
            .field("user_id", &self.user_id)
            .field("auth_key", &self.auth_key.as_ref().map(|_| "<set>"))
            .field("crypto", &self.crypto.as_ref().map(|_| "<set>"))
            .field("ssl", &self.ssl)
            .field("origin", &self.origin)
            .field("connect_timeout", &self.connect_timeout)
            .field("subscribe_timeout", &self.subscribe_timeout)
            .field(
                "non_subscribe_request_timeout",
                &self.non_subscribe_request_timeout,
            )
            .field("filter_expression", &self.filter_expression)
            .field("heartbeat_notifications", &self.heartbeat_notifications)
            .field("reconnect_policy", &self.reconnect_policy)
            .field("presence_timeout", &self.presence_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("suppress_leave_events", &self.suppress_leave_events)
            .field("enable_subscribe", &self.enable_subscribe)
            .field("disable_token_manager", &self.disable_token_manager)
            .field("maximum_message_cache", &self.maximum_message_cache)
            .field("use_request_id", &self.use_request_id)
            .field(
                "subscription_queue_capacity",
                &self.subscription_queue_capacity,
            )
            .field("transport", &self.transport)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field(
                "token_refresh",
                &self.token_refresh.as_ref().map(|_| "<set>"),
            )
            .field("gap_recovery", &self.gap_recovery)
            .field(
                "request_message_count_threshold",
                &self.request_message_count_threshold,
            )
            .field("max_subscribe_list_bytes", &self.max_subscribe_list_bytes)
            .finish()
    }
}

impl Config {
    /// The subscribe key.
    pub fn subscribe_key(&self) -> &str {
        self.subscribe_key.as_str()
    }

    /// The publish key, if set.
    pub fn publish_key(&self) -> Option<&str> {
        self.publish_key.as_deref()
    }

    /// Whether a secret key is set (the key itself is not readable back).
    pub fn has_secret_key(&self) -> bool {
        self.secret_key.is_some()
    }

    /// The user id (a.k.a. uuid) sent on every request.
    pub fn user_id(&self) -> &str {
        self.user_id.as_str()
    }

    /// The Access Manager v2 auth key, if set.
    pub fn auth_key(&self) -> Option<&str> {
        self.auth_key.as_deref()
    }

    /// The crypto module, if encryption is configured.
    pub fn crypto(&self) -> Option<&CryptoModule> {
        self.crypto.as_ref()
    }

    /// Whether requests use HTTPS.
    pub fn ssl(&self) -> bool {
        self.ssl
    }

    /// The origin host (and port).
    pub fn origin(&self) -> &str {
        self.origin.as_str()
    }

    /// The TCP keepalive idle time of the default transport (`None`: off).
    pub fn tcp_keepalive(&self) -> Option<Duration> {
        self.tcp_keepalive
    }

    /// Timeout for establishing a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Timeout of a subscribe long-poll.
    pub fn subscribe_timeout(&self) -> Duration {
        self.subscribe_timeout
    }

    /// Timeout of every other request.
    pub fn non_subscribe_request_timeout(&self) -> Duration {
        self.non_subscribe_request_timeout
    }

    /// The subscribe filter expression, if set.
    pub fn filter_expression(&self) -> Option<&str> {
        self.filter_expression.as_deref()
    }

    /// Which heartbeat outcomes reach the status stream.
    pub fn heartbeat_notifications(&self) -> HeartbeatNotifications {
        self.heartbeat_notifications
    }

    /// The subscribe reconnection policy.
    pub fn reconnect_policy(&self) -> ReconnectPolicy {
        self.reconnect_policy
    }

    /// Presence timeout in seconds, sent as `heartbeat` on subscribe and heartbeat requests.
    pub fn presence_timeout(&self) -> u32 {
        self.presence_timeout
    }

    /// Interval of explicit heartbeat requests, or `None` when off.
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat_interval
    }

    /// Whether unsubscribing skips the `leave` request.
    pub fn suppress_leave_events(&self) -> bool {
        self.suppress_leave_events
    }

    /// Whether subscribing is enabled.
    pub fn enable_subscribe(&self) -> bool {
        self.enable_subscribe
    }

    /// Whether the token manager is disabled (tokens set with `set_token` are then ignored).
    pub fn disable_token_manager(&self) -> bool {
        self.disable_token_manager
    }

    /// How many recent message ids the subscribe loop remembers to drop duplicates.
    pub fn maximum_message_cache(&self) -> usize {
        self.maximum_message_cache
    }

    /// Whether each request carries a `requestid`.
    pub fn use_request_id(&self) -> bool {
        self.use_request_id
    }

    /// Default capacity of each subscription's queue.
    pub fn subscription_queue_capacity(&self) -> usize {
        self.subscription_queue_capacity
    }

    /// What the subscribe loop does about a full receive (see [`GapRecovery`]).
    pub fn gap_recovery(&self) -> GapRecovery {
        self.gap_recovery
    }

    /// How many messages in one receive mean the server's queue was full.
    pub fn request_message_count_threshold(&self) -> usize {
        self.request_message_count_threshold
    }

    /// The most bytes of encoded channel and group names one long-poll (or
    /// heartbeat, or leave) carries before the union is split.
    pub fn max_subscribe_list_bytes(&self) -> usize {
        self.max_subscribe_list_bytes
    }
}

impl Config {
    /// Starts a builder with the PubNub defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// `https://origin` or `http://origin`.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.ssl { "https" } else { "http" },
            self.origin
        )
    }
}

/// Builder of [`Config`]; every setter can be chained, `build()` validates.
#[derive(Clone)]
pub struct ConfigBuilder {
    inner: Config,
    cipher_key: Option<(String, bool)>,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self {
            inner: Config {
                subscribe_key: String::new(),
                publish_key: None,
                secret_key: None,
                user_id: String::new(),
                auth_key: None,
                crypto: None,
                ssl: true,
                origin: "ps.pndsn.com".to_owned(),
                connect_timeout: Duration::from_secs(5),
                subscribe_timeout: Duration::from_secs(310),
                non_subscribe_request_timeout: Duration::from_secs(10),
                filter_expression: None,
                heartbeat_notifications: HeartbeatNotifications::default(),
                reconnect_policy: ReconnectPolicy::default(),
                presence_timeout: 300,
                heartbeat_interval: None,
                suppress_leave_events: false,
                enable_subscribe: true,
                disable_token_manager: false,
                maximum_message_cache: 100,
                use_request_id: true,
                subscription_queue_capacity: 1024,
                transport: None,
                tcp_keepalive: Some(DEFAULT_TCP_KEEPALIVE),
                token_refresh: None,
                gap_recovery: GapRecovery::default(),
                request_message_count_threshold: 100,
                max_subscribe_list_bytes: DEFAULT_MAX_SUBSCRIBE_LIST_BYTES,
            },
            cipher_key: None,
        }
    }
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("config", &self.inner)
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// The subscribe key (required).
    pub fn subscribe_key(mut self, key: impl Into<String>) -> Self {
        self.inner.subscribe_key = key.into();
        self
    }

    /// The publish key (needed to publish, fire and signal).
    pub fn publish_key(mut self, key: impl Into<String>) -> Self {
        self.inner.publish_key = Some(key.into());
        self
    }

    /// The secret key: every request is then signed, and Access Manager admin
    /// calls become available. Keep it on servers only.
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.inner.secret_key = Some(key.into());
        self
    }

    /// The user id (required; 1 to 92 characters). The PubNub SDKs call it uuid.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.inner.user_id = user_id.into();
        self
    }

    /// Alias of [`user_id`](Self::user_id).
    pub fn uuid(self, uuid: impl Into<String>) -> Self {
        self.user_id(uuid)
    }

    /// The Access Manager v2 auth key sent as `auth` (a token set with
    /// `set_token` takes precedence).
    pub fn auth_key(mut self, key: impl Into<String>) -> Self {
        self.inner.auth_key = Some(key.into());
        self
    }

    /// Encrypts messages with the legacy cryptor (random IV), as the PubNub
    /// SDKs do for a plain cipher key, so every PubNub client can read them;
    /// AES-CBC (`PNED` header) messages are decrypted too. New applications
    /// whose clients all support it should prefer
    /// `crypto_module(CryptoModule::aes_cbc(key, true)?)`.
    pub fn cipher_key(mut self, key: impl Into<String>) -> Self {
        self.cipher_key = Some((key.into(), true));
        self
    }

    /// A ready-made crypto module (legacy, AES-CBC, or your own cryptor).
    pub fn crypto_module(mut self, module: CryptoModule) -> Self {
        self.inner.crypto = Some(module);
        self.cipher_key = None;
        self
    }

    /// Use HTTPS (default `true`). Set `false` for a local dev server.
    pub fn ssl(mut self, ssl: bool) -> Self {
        self.inner.ssl = ssl;
        self
    }

    /// The host (and optional port) to talk to, without scheme; default
    /// `ps.pndsn.com`. E.g. `127.0.0.1:8090` for a local dev server.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.inner.origin = origin.into();
        self
    }

    /// TCP keepalive of the default transport's connections (default 20 s):
    /// after this much silence the OS probes the peer every 20 s and drops
    /// the connection after 3 unanswered probes, so a half-open connection
    /// (peer gone without a FIN/RST, e.g. a NAT dropped it) fails the
    /// long-poll after about 80 s instead of after the subscribe timeout
    /// (310 s). `None` turns it off. Ignored with a custom
    /// [`transport`](Self::transport).
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.inner.tcp_keepalive = idle;
        self
    }

    /// Connect timeout (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.inner.connect_timeout = timeout;
        self
    }

    /// Subscribe long-poll timeout (default 310 s; must exceed the server's hold time).
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.inner.subscribe_timeout = timeout;
        self
    }

    /// Timeout of every non-subscribe request (default 10 s).
    pub fn non_subscribe_request_timeout(mut self, timeout: Duration) -> Self {
        self.inner.non_subscribe_request_timeout = timeout;
        self
    }

    /// A server-side filter expression, sent on every subscribe request.
    pub fn filter_expression(mut self, expression: impl Into<String>) -> Self {
        self.inner.filter_expression = Some(expression.into());
        self
    }

    /// Which heartbeat outcomes reach the status stream (default failures).
    pub fn heartbeat_notifications(mut self, options: HeartbeatNotifications) -> Self {
        self.inner.heartbeat_notifications = options;
        self
    }

    /// The subscribe reconnection policy.
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.inner.reconnect_policy = policy;
        self
    }

    /// Presence timeout in seconds (default 300; PubNub's minimum is 20). As
    /// in the Python SDK this also turns on explicit heartbeats every
    /// `timeout / 2 − 1` seconds; call [`heartbeat_interval`](Self::heartbeat_interval)
    /// afterwards to choose another interval (or `None` to turn them off).
    pub fn presence_timeout(mut self, seconds: u32) -> Self {
        self.inner.presence_timeout = seconds;
        let interval = (seconds / 2).saturating_sub(1).max(1);
        self.inner.heartbeat_interval = Some(Duration::from_secs(u64::from(interval)));
        self
    }

    /// Interval of explicit heartbeat requests (`None`: off, the default —
    /// the subscribe long-poll itself keeps the user present).
    pub fn heartbeat_interval(mut self, interval: Option<Duration>) -> Self {
        self.inner.heartbeat_interval = interval;
        self
    }

    /// Skip the `leave` request when unsubscribing (default `false`).
    pub fn suppress_leave_events(mut self, suppress: bool) -> Self {
        self.inner.suppress_leave_events = suppress;
        self
    }

    /// Allow subscribing (default `true`); `false` makes a publish-only client.
    pub fn enable_subscribe(mut self, enable: bool) -> Self {
        self.inner.enable_subscribe = enable;
        self
    }

    /// Ignore tokens set with `set_token` (default `false`).
    pub fn disable_token_manager(mut self, disable: bool) -> Self {
        self.inner.disable_token_manager = disable;
        self
    }

    /// How many recent message ids the subscribe loop remembers to drop
    /// duplicates delivered around a reconnect (default 100; 0 disables).
    pub fn maximum_message_cache(mut self, size: usize) -> Self {
        self.inner.maximum_message_cache = size;
        self
    }

    /// Send a `requestid` (UUID v4) with every request (default `true`).
    pub fn use_request_id(mut self, enable: bool) -> Self {
        self.inner.use_request_id = enable;
        self
    }

    /// Default capacity of each subscription's queue (default 1024 events).
    pub fn subscription_queue_capacity(mut self, capacity: usize) -> Self {
        self.inner.subscription_queue_capacity = capacity;
        self
    }

    /// What to do when a receive comes back full and older messages may have
    /// been dropped by the server (default [`GapRecovery::FromHistory`]).
    pub fn gap_recovery(mut self, recovery: GapRecovery) -> Self {
        self.inner.gap_recovery = recovery;
        self
    }

    /// The most bytes of percent-encoded channel and group names (separators
    /// included) one subscribe long-poll carries; a larger union is split
    /// into several long-polls, each with its own cursor, sharing one
    /// duplicate filter and one status stream (`Connected` once all are).
    /// Heartbeats and leaves split the same way. Default 8 KiB, well under
    /// PubNub's 32 KiB limit on a request target (the rest of the URL —
    /// token, state, filter — needs room too). At least 256.
    pub fn max_subscribe_list_bytes(mut self, bytes: usize) -> Self {
        self.inner.max_subscribe_list_bytes = bytes;
        self
    }

    /// How many messages in one receive mean the server's subscribe queue was
    /// full (default 100, PubNub's queue; the JS SDK's name). 0 is refused by
    /// [`build`](Self::build).
    pub fn request_message_count_threshold(mut self, count: usize) -> Self {
        self.inner.request_message_count_threshold = count;
        self
    }

    /// A hook that fetches a new Access Manager token when the server
    /// refuses the current one (403, e.g. expired or revoked).
    ///
    /// Every request that carried a token set with
    /// [`PubNub::set_token`](crate::PubNub::set_token) (REST calls, the
    /// subscribe long-poll, heartbeats and leaves) and got `AccessDenied`
    /// calls it, sets the token it returns and is retried once with it;
    /// `AccessDenied` is reported only when that retry is refused too (or
    /// the hook fails: its error is logged). Requests refused together
    /// share one call of the hook.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), pubnub_rx::Error> {
    /// use pubnub_rx::Config;
    /// let config = Config::builder()
    ///     .subscribe_key("sub-c-...")
    ///     .user_id("alice")
    ///     .token_refresh(|| async {
    ///         // ask your server for a fresh token
    ///         Ok::<_, pubnub_rx::Error>("qEF2AkF0...".to_owned())
    ///     })
    ///     .build()?;
    /// # drop(config); Ok(()) }
    /// ```
    pub fn token_refresh<F, Fut>(mut self, refresh: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, Error>> + Send + 'static,
    {
        self.inner.token_refresh = Some(TokenRefresh(Arc::new(move || Box::pin(refresh()))));
        self
    }

    /// A custom [`Transport`] (default: [`ReqwestTransport`](crate::transport::ReqwestTransport)).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.inner.transport = Some(transport);
        self
    }

    /// Validates every option and returns the configuration.
    pub fn build(self) -> Result<Config, Error> {
        let mut config = self.inner;
        let invalid = |field, reason: &str| Error::InvalidConfig {
            field,
            reason: reason.to_owned(),
        };
        if config.subscribe_key.trim().is_empty() {
            return Err(invalid(
                "subscribe_key",
                "is required; find it in your PubNub keyset (or use any value with a dev server)",
            ));
        }
        if config
            .publish_key
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(invalid(
                "publish_key",
                "is empty; leave it unset for a subscribe-only client",
            ));
        }
        if config
            .secret_key
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(invalid(
                "secret_key",
                "is empty; leave it unset unless you use Access Manager",
            ));
        }
        validate_user_id(&config.user_id)?;
        if config.origin.is_empty() || config.origin.contains("://") || config.origin.contains('/')
        {
            return Err(invalid("origin", "must be a host with an optional port, e.g. `ps.pndsn.com` or `127.0.0.1:8090` (no scheme, no path; use `ssl` for the scheme)"));
        }
        for (field, value) in [
            ("connect_timeout", config.connect_timeout),
            ("subscribe_timeout", config.subscribe_timeout),
            (
                "non_subscribe_request_timeout",
                config.non_subscribe_request_timeout,
            ),
        ] {
            if value.is_zero() {
                return Err(invalid(field, "must be greater than zero"));
            }
        }
        if config.max_subscribe_list_bytes < 256 {
            return Err(invalid(
                "max_subscribe_list_bytes",
                "must be at least 256: one long-poll must carry at least a few channel names",
            ));
        }
        if config.request_message_count_threshold == 0 {
            return Err(invalid(
                "request_message_count_threshold",
                "must be at least 1: it is the size of the server's subscribe queue (100 on PubNub)",
            ));
        }
        if config.presence_timeout == 0 {
            return Err(invalid(
                "presence_timeout",
                "must be at least 1 second (PubNub raises values below 20 to 20)",
            ));
        }
        if config.heartbeat_interval.is_some_and(|i| i.is_zero()) {
            return Err(invalid(
                "heartbeat_interval",
                "must be greater than zero; use None to turn heartbeats off",
            ));
        }
        if config
            .filter_expression
            .as_deref()
            .is_some_and(|f| f.trim().is_empty())
        {
            return Err(invalid(
                "filter_expression",
                "is empty; leave it unset to receive every message",
            ));
        }
        if config.subscription_queue_capacity == 0 {
            return Err(invalid("subscription_queue_capacity", "must be at least 1"));
        }
        if let Some((key, random_iv)) = self.cipher_key {
            if key.is_empty() {
                return Err(invalid(
                    "cipher_key",
                    "is empty; leave it unset to publish unencrypted",
                ));
            }
            config.crypto = Some(CryptoModule::legacy(&key, random_iv)?);
        }
        Ok(config)
    }
}

/// Checks a user id: non-empty, at most 92 characters.
pub(crate) fn validate_user_id(user_id: &str) -> Result<(), Error> {
    if user_id.trim().is_empty() {
        return Err(Error::InvalidConfig {
            field: "user_id",
            reason: "is required: choose a stable id for this user or device (1 to 92 characters)"
                .to_owned(),
        });
    }
    let chars = user_id.chars().count();
    if chars > MAX_USER_ID_CHARS {
        return Err(Error::InvalidConfig {
            field: "user_id",
            reason: format!(
                "is {chars} characters long; PubNub accepts at most {MAX_USER_ID_CHARS}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ConfigBuilder {
        Config::builder().subscribe_key("sub").user_id("me")
    }

    #[test]
    fn defaults_match_the_pubnub_sdks() {
        let c = base().build().unwrap();
        assert!(c.ssl());
        assert_eq!(c.origin(), "ps.pndsn.com");
        assert_eq!(c.connect_timeout(), Duration::from_secs(5));
        assert_eq!(c.subscribe_timeout(), Duration::from_secs(310));
        assert_eq!(c.non_subscribe_request_timeout(), Duration::from_secs(10));
        assert_eq!(c.presence_timeout(), 300);
        assert_eq!(c.tcp_keepalive(), Some(DEFAULT_TCP_KEEPALIVE));
        assert_eq!(
            base().tcp_keepalive(None).build().unwrap().tcp_keepalive(),
            None
        );
        assert_eq!(c.heartbeat_interval(), None);
        assert_eq!(
            c.heartbeat_notifications(),
            HeartbeatNotifications::Failures
        );
        assert!(!c.suppress_leave_events());
        assert!(c.enable_subscribe());
        assert_eq!(c.base_url(), "https://ps.pndsn.com");
    }

    #[test]
    fn required_fields_are_checked() {
        let missing_sub = Config::builder().user_id("me").build().unwrap_err();
        assert!(matches!(
            missing_sub,
            Error::InvalidConfig {
                field: "subscribe_key",
                ..
            }
        ));
        let missing_user = Config::builder().subscribe_key("s").build().unwrap_err();
        assert!(matches!(
            missing_user,
            Error::InvalidConfig {
                field: "user_id",
                ..
            }
        ));
        let long = "é".repeat(93);
        let too_long = base().user_id(long).build().unwrap_err();
        assert!(too_long.to_string().contains("93 characters"), "{too_long}");
        assert!(base().user_id("é".repeat(92)).build().is_ok());
        let origin = base().origin("http://x").build().unwrap_err();
        assert!(matches!(
            origin,
            Error::InvalidConfig {
                field: "origin",
                ..
            }
        ));
    }

    #[test]
    fn presence_timeout_implies_heartbeat_interval() {
        let c = base().presence_timeout(120).build().unwrap();
        assert_eq!(c.heartbeat_interval(), Some(Duration::from_secs(59)));
        let off = base()
            .presence_timeout(120)
            .heartbeat_interval(None)
            .build()
            .unwrap();
        assert_eq!(off.heartbeat_interval(), None);
    }

    #[test]
    fn reconnect_delays() {
        let exp = ReconnectPolicy::exponential();
        assert_eq!(exp.delay(0), Some(Duration::from_secs(2)));
        assert_eq!(exp.delay(3), Some(Duration::from_secs(16)));
        assert_eq!(exp.delay(6), None);
        let capped = ReconnectPolicy::Exponential {
            min_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(150),
            max_retries: None,
        };
        assert_eq!(capped.delay(40), Some(Duration::from_secs(150)));
        assert_eq!(
            ReconnectPolicy::linear().delay(9),
            Some(Duration::from_secs(2))
        );
        assert_eq!(ReconnectPolicy::linear().delay(10), None);
        assert_eq!(ReconnectPolicy::None.delay(0), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = base()
            .publish_key("pub-secretish")
            .secret_key("sec-xyz")
            .auth_key("auth-xyz")
            .build()
            .unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("sec-xyz")
                && !text.contains("auth-xyz")
                && !text.contains("pub-secretish")
        );
    }
}
