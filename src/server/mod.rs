//! The embedded PubNub-compatible dev server (feature `server`).
//!
//! An offline server that speaks PubNub's REST protocol closely enough for
//! the official SDKs to accept it: time, publish / fire / signal, subscribe
//! v2 long-polls (channels, channel groups, wildcards, filter expressions),
//! presence (heartbeat, leave, timeouts, here_now, where_now, state),
//! history (v2, fetch v3, message counts, delete), channel groups, App
//! Context (uuid and channel metadata, memberships and members, with their
//! `e: 2` events; routes and differences from PubNub in `objects/mod.rs`:
//! `/v2/objects/{sub}/uuids[/{uuid}[/channels]]` and
//! `/v2/objects/{sub}/channels[/{channel}[/uuids]]`), message actions,
//! files, Mobile Push and, for
//! keysets with a secret key (or, by trust on first use, any keyset that
//! receives a signed administration request), Access Manager (signed requests, v2 grants,
//! v3 tokens, enforcement on every data route). It is the default backend
//! of this crate's tests, examples and benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pubnub_rx::server::ServerError> {
//! use std::time::Duration;
//! use pubnub_rx::server::{DevServer, DevServerConfig};
//!
//! let server = DevServer::start(DevServerConfig::default().with_hold(Duration::from_secs(5))).await?;
//! println!("use origin {} with ssl=false", server.origin());
//! // … point a PubNub client at it …
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! | module | responsibility |
//! | --- | --- |
//! | `mod.rs` | [`DevServer::start`], [`DevServerHandle`] (address, shutdown, test hooks) |
//! | `config.rs` | [`DevServerConfig`], [`Keyset`] |
//! | `listener.rs` | accept loop on hyper HTTP/1, one task per connection in one `JoinSet`, graceful shutdown, the periodic presence sweep |
//! | `router.rs` | the single handler (axum's request and response types, called by the accept loop directly): bounded body read, decoding, request log, fault injection, route resolution on decoded segments, dispatch |
//! | `wire.rs` | path / query decoding per PROTOCOL.md §1.3 (split then decode; decode then split for lists; `+` in queries) |
//! | `errors.rs` | the error bodies, statuses and `Content-Type`s of §1.5 / §1.7 |
//! | `compression.rs` | request bodies sniffed for gzip / zlib / raw deflate (§1.6) |
//! | `clock.rs` | 17-digit timetokens, strictly increasing across the server; the test clock offset |
//! | `message.rs` | a stored message and its pre-rendered envelope |
//! | `budget.rs` | the global cap on held message bytes and its oldest-first eviction |
//! | `keyset.rs` | keyset registry; per-keyset state (store, groups, presence, parked polls) behind one short-held lock |
//! | `publish.rs`, `subscribe.rs`, `presence.rs`, `history.rs`, `groups.rs` | the endpoints |
//! | `access/` | Access Manager: the one authorization seam (signatures, v2 grants, v3 tokens), the grant / audit / grant-token / revoke-token endpoints; keysets without a secret key stay open until trust on first use |
//! | `hooks.rs` | request log (with each answer's status and latency) and fault injection |
//! | `console/` | the web console: `GET /console` (one embedded page, `console.html`) and the `/dev/…` JSON it polls; queue-overflow losses per subscriber |
//! | `metrics.rs` | atomic counters behind `/metrics`; the dev-server-only routes `/metrics` and `/healthz` |
//! | `filter.rs` | the `filter-expr` language (also App Context's `filter`) |
//! | `objects/` | App Context v2: routes and events (`mod.rs`), list options (`query.rs`), the bounded store with verbatim JSON (`store.rs`) |
//! | `push.rs` | Mobile Push: device registrations, the notifications a publish would send, `/dev/push/{sub}/notifications` |
//! | `files.rs` | Files: upload forms, the in-memory bucket (`/file-store/`), list, redirect, delete |
//! | `actions.rs` | message actions, stored beside their channel's history |
//! | `storage/` | the data dir (`--data-dir`): the journal every family writes its changes to, the writer thread committing them into redb before the answer, read-back, export / import (`db.rs`) |
//! | `restore.rs` | at start, puts what the data dir holds back into each family |
//!
//! **Keys.** Without explicit keysets any subscribe key is accepted and gets
//! its own state, created on first use (like PubNub's `demo` keys). With
//! [`DevServerConfig::with_keyset`], unknown subscribe keys are answered 400
//! `Invalid Subscribe Key` and a wrong publish key 400 `[0,"Invalid Key",tt]`.
//! A keyset given a secret key ([`Keyset::with_secret_key`]) enforces
//! Access Manager, verifying every signature. The others are open until
//! their first signed administration request (grant, audit, grant_token,
//! revoke_token), which turns Access Manager on for that keyset by trust on
//! first use, logged at WARN: from then on grants and tokens are enforced,
//! but signatures cannot be verified without the secret, so any
//! well-formed, fresh signature is accepted as the administrator's (see
//! `access/mod.rs` for why; `--secret-key` pins it instead). PubNub itself
//! has no such mode: a keyset there has its secret from the start.
//!
//! **Persistence.** Without a data dir everything is in memory. With
//! [`DevServerConfig::with_data_dir`] (`--data-dir`) each family mirrors
//! what PubNub keeps (history and message actions, App Context, channel
//! groups, files, push registrations, Access Manager grants, tokens and
//! revocations, keysets) into one redb database: a mutation journals its
//! key's new value under the lock that guards it, and the request is
//! answered only once the writer thread committed it, so an acknowledged
//! change survives `kill -9`. The families keep serving from memory; the
//! database is read only at start. Presence, the request log and the recorded
//! push notifications are not kept. [`CommitMode`] picks grouped commits or
//! one per change; [`export_data_dir`] and [`DevServerConfig::with_import`]
//! move a data dir through one JSON file.
//!
//! **Hot path.** A publish renders its envelope once (without `p` and `b`),
//! stores an `Arc` of it and wakes only the long-polls registered on its
//! channel, on a group holding the channel, or on a matching wildcard. Each
//! woken poll copies the pre-rendered bytes into its answer. Locks are held
//! for short synchronous sections, never across an `.await`. Per long-poll
//! the server takes its keyset's lock a few times and no global lock: the
//! request log records two strings (decoded only when read), the parked-poll
//! count is an atomic, and a parked poll holds neither its request head nor a
//! shutdown future (`benches/server_fanout.rs` measures it against a bare
//! hyper server, BENCHMARKS.md §5).
//!
//! **Bounds.** Per channel: `channel_retention` recent messages for
//! subscribers and `history_retention` stored ones. Server-wide:
//! `max_store_bytes` (`--max-store-bytes`, default 256 MiB) over every
//! message held, all channels and keysets together; past it the oldest are
//! evicted first (from history and from subscriber catch-up alike), counted
//! in `pubnub_store_evicted_messages_total` and logged at WARN at most every
//! 10 s (`budget.rs`). PubNub itself keeps history by retention time, not by
//! a byte budget; this cap is what keeps one local process from growing
//! without end under a flood. Per answer: `queue_size` messages.
//! Per connection: a request head that has started must be complete within
//! `header_read_timeout` (`--header-read-timeout`, default 30 s) or the
//! connection is closed; an idle keep-alive connection (no byte of a next
//! request yet) is kept 300 s, longer than clients' pools keep theirs, so
//! the server never races a client reusing it (`listener.rs`). A request
//! body past `max_body_bytes` gets PubNub's 413 `Request Entity Too Large.`
//! whether it declared its length or came chunked. Request bodies, decompressed bodies and request
//! targets are capped. Parked polls hold no buffers. The request log keeps
//! `request_log_capacity` entries.
//!
//! **Dev-server-only routes** (not PubNub APIs): `GET /metrics` answers the
//! Prometheus text exposition format (families prefixed `pubnub_`: parked
//! polls, open connections, publishes by kind, deliveries, bytes in / out,
//! queue-overflow losses, store size, requests by route and status, a
//! request latency histogram by [`RouteKind`]); `GET /healthz` answers 200
//! `ok`; `GET /dev/push/{sub}/notifications` answers the Mobile Push
//! notifications recorded for a keyset (JSON, `push.rs`); `GET /console`
//! answers the web console, an HTML page that polls the JSON of
//! `GET /dev/keysets`, `/dev/keysets/{sub}/channels`, `…/groups`,
//! `…/objects/uuids`, `…/objects/channels`, `…/access`, `…/token`,
//! `/dev/requests` and `/dev/losses` (bounded and paged; `console/mod.rs`)
//! and uses the PubNub routes for subscribe, publish, here_now and fetch. They are
//! answered before the request log, fault injection and the counters, so
//! watching the server never changes what it records.
//! Counters are relaxed atomics: no lock per request.
//!
//! **Message actions** (`actions.rs`, PROTOCOL.md §10):
//! `POST /v1/message-actions/{sub}/channel/{ch}/message/{tt}` (add; 409 on
//! a duplicate), `DELETE …/message/{tt}/action/{action_tt}` (remove) and
//! `GET /v1/message-actions/{sub}/channel/{ch}` (`start`/`end`/`limit` ≤ 100,
//! `more` link). Stored per channel beside its history (at most 10,000 per
//! channel, oldest dropped), returned by fetch v3 with actions, announced as
//! `e:3` events; Access Manager: write (add), read (get), delete (remove).
//! Differences from PubNub: removing an action that does not exist answers
//! 200 (idempotent), and an action may name a message that is not stored.
//!
//! **Mobile Push** (`push.rs`, PROTOCOL.md §12): device registrations
//! under `/v1/push/sub-key/{sub}/devices/{token}[/remove]` (`type=fcm|gcm|
//! apns|mpns`) and `/v2/push/sub-key/{sub}/devices-apns2/{token}[/remove]`
//! (`topic`, `environment`), answered byte for byte as recorded and bounded
//! per keyset; Access Manager: read on the channels touched. A publish with
//! `pn_apns` / `pn_fcm` / `pn_gcm` on a channel with devices records the
//! notifications that would be sent (INFO log, the last 1,000 per keyset at
//! the dev-server-only `GET /dev/push/{sub}/notifications` and
//! [`DevServerHandle::push_notifications`]); nothing leaves the machine.
//!
//! **Files** (`files.rs`, PROTOCOL.md §12): `POST /v1/files/{sub}/channels/{ch}/generate-upload-url`
//! hands out an S3-style form whose URL is this server's own `/file-store/`
//! (valid 60 s); the multipart upload is stored in memory (5 MiB per file as
//! PubNub's, at most 10,000 files per keyset and `max_file_bytes` —
//! `--max-file-bytes`, default 128 MiB — server-wide, oldest evicted first)
//! and answered as S3 answers (204, or its XML errors `EntityTooLarge`,
//! `AccessDenied`, `InvalidArgument`). The file message
//! (`/v1/files/publish-file/…`) is a publish stored and delivered as type 4
//! (`e: 4`); list orders by file id with a `next` cursor; the get-URL route
//! answers 307 to `/file-store/{sub}/{token}/{id}/{name}`; delete is
//! idempotent. Access Manager: write to send, read to list and download,
//! delete to delete. Differences from PubNub: files do not expire (PubNub's
//! retention is a keyset setting) and the `X-Amz-*` form fields are
//! placeholders; the upload is authorized by the pending form only this
//! server issued.
//!
//! # Routes
//!
//! Every route the server answers (anything else is PubNub's 404 body):
//!
//! | method | path | family |
//! | --- | --- | --- |
//! | GET | `/time/0` | time |
//! | GET, POST | `/publish/{pub}/{sub}/0/{ch}/0[/{msg}]` | publish, fire (`store=0&norep=true`) |
//! | GET | `/signal/{pub}/{sub}/0/{ch}/0/{msg}` | signal |
//! | GET | `/v2/subscribe/{sub}/{chs}/0` | subscribe (handshake, receive) |
//! | GET | `/v2/presence/sub-key/{sub}/channel/{chs}/heartbeat`, `…/leave` | presence |
//! | GET | `/v2/presence/sub-key/{sub}[/channel/{chs}]` | here_now |
//! | GET | `/v2/presence/sub-key/{sub}/uuid/{uuid}` | where_now |
//! | GET | `/v2/presence/sub-key/{sub}/channel/{chs}/uuid/{uuid}[/data]` | get / set state |
//! | GET | `/v2/history/sub-key/{sub}/channel/{ch}` | history v2 |
//! | GET, DELETE | `/v3/history/sub-key/{sub}/channel/{chs}` | fetch v3, delete |
//! | GET | `/v3/history-with-actions/sub-key/{sub}/channel/{ch}` | fetch v3 with actions |
//! | GET | `/v3/history/sub-key/{sub}/message-counts/{chs}` | message counts |
//! | GET | `/v1/channel-registration/sub-key/{sub}/channel-group[/{g}[/remove]]` | channel groups |
//! | GET | `/v2/auth/grant/sub-key/{sub}`, `/v2/auth/audit/sub-key/{sub}` | Access Manager v2 |
//! | POST, DELETE | `/v3/pam/{sub}/grant[/{token}]` | Access Manager v3 |
//! | GET, PATCH, DELETE | `/v2/objects/{sub}/uuids[/{uuid}[/channels]]`, `/v2/objects/{sub}/channels[/{ch}[/uuids]]` | App Context |
//! | GET, POST, DELETE | `/v1/message-actions/{sub}/channel/{ch}[/message/{tt}[/action/{tt}]]` | message actions |
//! | POST | `/v1/files/{sub}/channels/{ch}/generate-upload-url` | files |
//! | GET | `/v1/files/publish-file/{pub}/{sub}/0/{ch}/0/{msg}` | file message |
//! | GET, DELETE | `/v1/files/{sub}/channels/{ch}/files[/{id}/{name}]` | list, get URL (307), delete |
//! | POST, GET | `/file-store/`, `/file-store/{sub}/{token}/{id}/{name}` | the bucket (upload, download) |
//! | GET | `/v1/push/sub-key/{sub}/devices/{token}[/remove]`, `/v2/push/sub-key/{sub}/devices-apns2/{token}[/remove]` | Mobile Push |
//! | OPTIONS | any | CORS preflight |
//! | GET | `/console`, `/dev/keysets[/{sub}/channels\|groups\|objects/uuids\|objects/channels\|access\|token]`, `/dev/requests`, `/dev/losses` | dev server only: the web console |
//! | GET | `/metrics`, `/healthz`, `/dev/push/{sub}/notifications` | dev server only |
//!
//! **Test hooks** (on [`DevServerHandle`]): the [request log](RequestLog)
//! with `wait_for` (no sleeping), [fault injection](Faults) per
//! [`RouteKind`], [`DevServerHandle::advance_clock`] (presence timeouts,
//! grant and token expiry, signature skew — without waiting), and `hold`
//! down to milliseconds.

mod access;
mod actions;
mod app;
mod budget;
mod clock;
mod compression;
mod config;
mod console;
mod errors;
mod files;
pub mod filter;
mod groups;
mod history;
mod hooks;
mod keyset;
mod listener;
mod message;
mod metrics;
mod objects;
mod presence;
mod publish;
mod push;
mod restore;
mod router;
mod storage;
mod subscribe;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{CommitMode, DevServerConfig, Keyset};
pub use hooks::{Fault, Faults, LoggedRequest, RequestLog, RouteKind};
pub use push::{
    PushNotification, PushService, MAX_CHANNELS_PER_DEVICE, MAX_DEVICES, MAX_NOTIFICATIONS,
    MAX_REGISTRATIONS,
};
pub use storage::StorageError;

use app::App;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound.
    #[error(
        "could not listen on {addr}: {source}; pick another port (0 picks a free one) or host"
    )]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The data dir (`--data-dir`) or the import file could not be used.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Writes everything the data dir `dir` keeps to one JSON file `out` (the
/// format [`DevServerConfig::with_import`] reads) and answers how many
/// records it wrote. Values are written as stored (messages byte for byte;
/// file contents in base64). The dir must not be in use by a running
/// server ([`StorageError::Locked`] otherwise).
///
/// Blocking file I/O: call it from `spawn_blocking` inside a runtime.
///
/// ```no_run
/// use std::path::Path;
///
/// let records = pubnub_rx::server::export_data_dir(Path::new("pubnub-data"), Path::new("dump.json"))?;
/// println!("{records} records exported");
/// # Ok::<(), pubnub_rx::server::StorageError>(())
/// ```
pub fn export_data_dir(
    dir: &std::path::Path,
    out: &std::path::Path,
) -> Result<usize, StorageError> {
    storage::export_json(dir, out)
}

/// Starts dev servers; see [`DevServer::start`].
#[derive(Debug)]
pub struct DevServer;

impl DevServer {
    /// Binds `config.host:config.port` and serves in tasks on the current
    /// tokio runtime until the returned handle is shut down or dropped.
    ///
    /// Must be called from within a tokio runtime.
    pub async fn start(config: DevServerConfig) -> Result<DevServerHandle, ServerError> {
        let requested = config.bind_addr();
        let bind_error = |source| ServerError::Bind {
            addr: requested,
            source,
        };
        let listener = TcpListener::bind(requested).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let (shutdown, stopping) = watch::channel(false);
        let dir = config.data_dir.clone().unwrap_or_default();
        // Opening the data dir and restoring what it holds is file I/O and
        // decoding: off the runtime's workers.
        let app = tokio::task::spawn_blocking(move || {
            let (storage, mut snapshot) = storage::open(
                config.data_dir.as_deref(),
                config.commit_mode,
                config.import.as_deref(),
            )?;
            App::new(config, storage.clone(), &mut snapshot).inspect_err(|_| {
                // What restore queued (deletes of expired records) is not
                // written: a start that fails leaves the data dir as it was.
                storage.abort_blocking();
            })
        })
        .await
        .map_err(|e| {
            ServerError::Storage(StorageError::Unreadable {
                dir,
                reason: e.to_string(),
            })
        })??;
        let app = Arc::new(app);
        let task = tokio::spawn(listener::run(listener, app.clone(), stopping));
        tracing::info!(%addr, "pubnub dev server listening");
        Ok(DevServerHandle {
            addr,
            app,
            shutdown,
            task: Some(task),
        })
    }
}

/// A running dev server. Dropping it stops the server at once (every task
/// ends); [`DevServerHandle::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct DevServerHandle {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl DevServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `origin` to give a PubNub SDK (`host:port`, with `ssl = false`).
    pub fn origin(&self) -> String {
        self.addr.to_string()
    }

    /// `http://host:port`, for raw HTTP requests.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, answers parked long-polls (empty `m`),
    /// lets in-flight requests finish (up to the shutdown grace period, then
    /// closes them) and waits until every task has ended.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            // A panicking or aborted server task has nothing left to stop.
            let _ = task.await;
        }
        // Everything answered is committed already; this commits the rest
        // and releases the data dir, so a new server can open it at once.
        self.app.storage.close(self.app.clock.last()).await;
    }

    /// The data dir the server keeps its state in, `None` in memory. To
    /// open the same data dir again in this process, `shutdown().await`
    /// first: a dropped handle releases the database's lock only once its
    /// writer thread has finished.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.app.storage.dir()
    }

    /// The log of received requests.
    pub fn request_log(&self) -> &RequestLog {
        &self.app.log
    }

    /// Fault injection.
    pub fn faults(&self) -> &Faults {
        &self.app.faults
    }

    /// Shifts the server's clock forward by `by` (timetokens, presence
    /// timeouts and intervals, Access Manager grant and token expiry and
    /// the signature skew window follow it) and runs the presence sweep at
    /// once: when this returns, every timeout that became due has been
    /// reported.
    pub fn advance_clock(&self, by: Duration) {
        self.app.advance_clock(by);
    }

    /// A fresh timetoken from the server clock.
    pub fn timetoken(&self) -> u64 {
        self.app.clock.tick()
    }

    /// How many subscribe receive long-polls are registered (parked or
    /// about to answer) right now, over all keysets.
    pub fn parked_polls(&self) -> usize {
        self.app.parked.count()
    }

    /// Waits until at least `count` receive long-polls are parked, e.g. to
    /// publish only once every subscriber is waiting. Wrap it in a timeout.
    pub async fn wait_for_parked(&self, count: usize) {
        self.app.parked.wait_for(count).await;
    }

    /// The Mobile Push notifications recorded for `subscribe_key` (the
    /// last [`MAX_NOTIFICATIONS`], oldest first): what a publish with
    /// `pn_apns` / `pn_fcm` / `pn_gcm` would have sent to the devices
    /// registered on its channel. Recorded before the publish is answered,
    /// so there is nothing to wait for. Empty for an unknown keyset.
    pub fn push_notifications(&self, subscribe_key: &str) -> Vec<PushNotification> {
        self.app
            .keysets
            .find(subscribe_key)
            .map(|keyset| keyset.lock().push.notifications())
            .unwrap_or_default()
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &DevServerConfig {
        &self.app.config
    }
}

impl Drop for DevServerHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            // Aborting the server task drops its JoinSet, which aborts every
            // connection task: nothing outlives the handle.
            task.abort();
        }
        self.app.storage.close_now(self.app.clock.last());
    }
}
