//! Configuration of the dev server: where it binds, how long it holds a
//! long-poll, presence timing, limits and the keysets it accepts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use super::storage::CommitMode;

/// One keyset the server accepts when it runs with explicit keysets
/// ([`DevServerConfig::with_keyset`]).
///
/// Without explicit keysets the server accepts any subscribe and publish key
/// and creates a keyset lazily per subscribe key, like PubNub's `demo` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// The subscribe key (`sub-c-…`).
    pub subscribe_key: String,
    /// The publish key (`pub-c-…`) that must accompany this subscribe key on
    /// publish and signal requests.
    pub publish_key: String,
    /// The secret key. With one, the keyset enforces Access Manager:
    /// requests need a valid signature (administration, and full rights on
    /// data routes), a v3 token or a v2 grant; without one it is open, like
    /// a PubNub keyset without the Access Manager add-on.
    pub secret_key: Option<String>,
}

impl Keyset {
    /// A keyset with a subscribe key and a publish key and no secret key.
    pub fn new(subscribe_key: impl Into<String>, publish_key: impl Into<String>) -> Self {
        Self {
            subscribe_key: subscribe_key.into(),
            publish_key: publish_key.into(),
            secret_key: None,
        }
    }

    /// Sets the secret key, which turns Access Manager on for this keyset.
    pub fn with_secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }
}

/// Everything [`DevServer::start`](super::DevServer::start) needs.
///
/// Build it from [`Default`] and the `with_*` methods:
///
/// ```
/// use std::time::Duration;
/// use pubnub_rx::server::DevServerConfig;
///
/// let config = DevServerConfig::default()
///     .with_hold(Duration::from_millis(200))
///     .with_queue_size(100);
/// assert_eq!(config.port, 0);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevServerConfig {
    /// Address to bind. Default `127.0.0.1`.
    pub host: IpAddr,
    /// Port to bind; `0` picks a free ephemeral port. Default `0`.
    pub port: u16,
    /// How long a subscribe long-poll is held when nothing arrives before it
    /// is answered with an empty `m`. Default 280 s (clients time out at 310 s).
    pub hold: Duration,
    /// Presence timeout used when a client sends no `heartbeat` parameter.
    /// Default 300 s.
    pub presence_timeout: Duration,
    /// The per-connection subscribe queue: a receive returns at most this many
    /// messages, the newest ones. Default 100 (PROTOCOL.md §1.8).
    pub queue_size: usize,
    /// Recent messages kept per channel for subscribers (presence events and
    /// signals included). Raised to `queue_size` when smaller. Default 1000.
    pub channel_retention: usize,
    /// Stored messages kept per channel for history. Default 10 000.
    pub history_retention: usize,
    /// Presence "Announce Max": above this occupancy a channel switches to
    /// interval mode. Default 20.
    pub announce_max: usize,
    /// Presence "Interval": how often a channel in interval mode gets an
    /// `interval` event. Default 10 s.
    pub presence_interval: Duration,
    /// Presence "Deltas": whether `interval` events carry `join`, `leave` and
    /// `timeout` arrays. Default `true`.
    pub presence_deltas: bool,
    /// Largest publish, counted as PubNub does: URI-component-encoded channel
    /// plus message plus 97 bytes of envelope. Default 32 768.
    pub publish_size_limit: usize,
    /// Largest signal payload in bytes (compact JSON). Default 64.
    pub signal_size_limit: usize,
    /// Largest accepted request target (path and query) in bytes; longer ones
    /// get 414. Default 32 768.
    pub max_uri_bytes: usize,
    /// Largest accepted request body (after decompression as well); larger
    /// ones get 413. Default 1 MiB.
    pub max_body_bytes: usize,
    /// The memory all held messages may take together, over every channel
    /// and keyset (recent messages for subscribers and history; payload,
    /// pre-rendered envelope and bookkeeping). Past it the oldest messages
    /// are evicted first, server-wide. Default 256 MiB.
    pub max_store_bytes: usize,
    /// The bytes all uploaded files may take together, over every keyset;
    /// past it the oldest files are evicted first. Never below one file's
    /// limit (5 MiB). Default 128 MiB.
    pub max_file_bytes: usize,
    /// How long a request head may take to arrive once its first byte has:
    /// a connection with a half-sent head is closed after it. Idle
    /// keep-alive connections (no byte of a next request yet) are not
    /// affected; they are kept 300 s. Default 30 s.
    pub header_read_timeout: Duration,
    /// How many requests the request log keeps. Default 10 000; at most
    /// 1,048,576 (its slots are allocated up front), and never more than
    /// 64 MiB of paths, headers and bodies.
    pub request_log_capacity: usize,
    /// How often presence timeouts and interval events are checked against
    /// the server clock. Default 1 s. [`DevServerHandle::advance_clock`](super::DevServerHandle::advance_clock)
    /// also runs the check at once.
    pub sweep_interval: Duration,
    /// How long shutdown waits for open connections to finish before it
    /// closes them. Default 5 s.
    pub shutdown_grace: Duration,
    /// Explicit keysets; empty means any key is accepted.
    pub keysets: Vec<Keyset>,
    /// Access Manager: how far a signed request's `timestamp` may be from
    /// the server clock, either way. Default 60 s.
    pub signature_window: Duration,
    /// Access Manager: how many recently accepted signatures each keyset
    /// remembers to refuse an exact replay inside the window; 0 turns the
    /// replay check off. Default 100 000.
    pub replay_memory: usize,
    /// Where the server keeps what PubNub keeps (history with message
    /// actions, App Context, channel groups, files, push registrations,
    /// Access Manager grants, tokens and revocations, keysets), in an
    /// embedded database, so that it survives a restart or a crash. `None`
    /// (the default) keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// How changes are committed to the data dir. Default
    /// [`CommitMode::Group`].
    pub commit_mode: CommitMode,
    /// An export file (`pubnub-dev-server --export`) to load at start: into
    /// the data dir, which must be empty, or into memory without one.
    pub import: Option<PathBuf>,
}

impl Default for DevServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            hold: Duration::from_secs(280),
            presence_timeout: Duration::from_secs(300),
            queue_size: 100,
            channel_retention: 1000,
            history_retention: 10_000,
            announce_max: 20,
            presence_interval: Duration::from_secs(10),
            presence_deltas: true,
            publish_size_limit: 32 * 1024,
            signal_size_limit: 64,
            max_uri_bytes: 32 * 1024,
            max_body_bytes: 1024 * 1024,
            max_store_bytes: 256 * 1024 * 1024,
            max_file_bytes: 128 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(30),
            request_log_capacity: 10_000,
            sweep_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(5),
            keysets: Vec::new(),
            signature_window: Duration::from_secs(60),
            replay_memory: 100_000,
            data_dir: None,
            commit_mode: CommitMode::Group,
            import: None,
        }
    }
}

impl DevServerConfig {
    /// Sets the address to bind.
    pub fn with_host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Sets the port to bind (`0` = ephemeral).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the long-poll hold time; milliseconds are fine for tests.
    pub fn with_hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Sets the default presence timeout.
    pub fn with_presence_timeout(mut self, timeout: Duration) -> Self {
        self.presence_timeout = timeout;
        self
    }

    /// Sets the per-connection subscribe queue size (at least 1).
    pub fn with_queue_size(mut self, queue_size: usize) -> Self {
        self.queue_size = queue_size.max(1);
        self
    }

    /// Sets how many recent messages each channel keeps for subscribers.
    pub fn with_channel_retention(mut self, retention: usize) -> Self {
        self.channel_retention = retention;
        self
    }

    /// Sets how many stored messages each channel keeps for history.
    pub fn with_history_retention(mut self, retention: usize) -> Self {
        self.history_retention = retention;
        self
    }

    /// Sets the presence announce max (interval mode above it).
    pub fn with_announce_max(mut self, announce_max: usize) -> Self {
        self.announce_max = announce_max;
        self
    }

    /// Sets the presence interval of channels in interval mode.
    pub fn with_presence_interval(mut self, interval: Duration) -> Self {
        self.presence_interval = interval;
        self
    }

    /// Turns presence deltas in `interval` events on or off.
    pub fn with_presence_deltas(mut self, deltas: bool) -> Self {
        self.presence_deltas = deltas;
        self
    }

    /// Sets the signal size limit in bytes.
    pub fn with_signal_size_limit(mut self, limit: usize) -> Self {
        self.signal_size_limit = limit;
        self
    }

    /// Sets the publish size limit in bytes.
    pub fn with_publish_size_limit(mut self, limit: usize) -> Self {
        self.publish_size_limit = limit;
        self
    }

    /// Sets the cap on the memory held by stored messages over all channels
    /// and keysets; past it the oldest are evicted first (0 keeps none).
    pub fn with_max_store_bytes(mut self, bytes: usize) -> Self {
        self.max_store_bytes = bytes;
        self
    }

    /// Sets the cap on the bytes uploaded files hold over all keysets; past
    /// it the oldest files are evicted first (at least 5 MiB, one file's
    /// limit).
    pub fn with_max_file_bytes(mut self, bytes: usize) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets how long a started request head may take to complete before the
    /// connection is closed (idle keep-alive connections are not affected).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the largest accepted request body (after decompression as
    /// well); larger ones get 413.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets how many requests the request log keeps.
    pub fn with_request_log_capacity(mut self, capacity: usize) -> Self {
        self.request_log_capacity = capacity;
        self
    }

    /// Sets how often presence timeouts are swept.
    pub fn with_sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Adds an explicit keyset; once one is added, unknown keys are refused.
    pub fn with_keyset(mut self, keyset: Keyset) -> Self {
        self.keysets.push(keyset);
        self
    }

    /// Sets the Access Manager skew window for signed requests.
    pub fn with_signature_window(mut self, window: Duration) -> Self {
        self.signature_window = window;
        self
    }

    /// Sets how many recent signatures each Access Manager keyset remembers
    /// against replays (0 turns the replay check off).
    pub fn with_replay_memory(mut self, signatures: usize) -> Self {
        self.replay_memory = signatures;
        self
    }

    /// Keeps state in the data dir `dir` (created if missing), across
    /// restarts and crashes: an acknowledged change is on disk.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pubnub_rx::server::ServerError> {
    /// use pubnub_rx::server::{DevServer, DevServerConfig};
    ///
    /// let server = DevServer::start(DevServerConfig::default().with_data_dir("pubnub-data")).await?;
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sets how changes are committed to the data dir.
    pub fn with_commit_mode(mut self, mode: CommitMode) -> Self {
        self.commit_mode = mode;
        self
    }

    /// Loads an export file at start (into the data dir, which must be
    /// empty, or into memory).
    pub fn with_import(mut self, file: impl Into<PathBuf>) -> Self {
        self.import = Some(file.into());
        self
    }

    /// The socket address to bind.
    pub fn bind_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Per-channel subscriber retention, never below the queue size.
    pub(crate) fn effective_channel_retention(&self) -> usize {
        self.channel_retention.max(self.queue_size).max(1)
    }

    /// The sweep interval, never zero (a zero interval would spin).
    pub(crate) fn effective_sweep_interval(&self) -> Duration {
        self.sweep_interval.max(Duration::from_millis(10))
    }
}
