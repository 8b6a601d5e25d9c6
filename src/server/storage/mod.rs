//! The storage layer: what the dev server keeps across restarts
//! (`--data-dir`), for every family at once.
//!
//! The families keep serving from their in-memory state; this layer mirrors
//! it into an embedded database (redb, [`db`]). Each mutation of kept state
//! writes the new value of one key (or its removal) into the [`Journal`]
//! while the lock that guards that state is held, so the journal's order is
//! the order in which the state changed. A writer thread commits the journal
//! in transactions and reports how far it got; a request that changed kept
//! state answers only once its changes are committed ([`Storage::scope`]), so
//! an acknowledged publish survives `kill -9`.
//!
//! Keys are JSON arrays `["<subscribe key>", <family key>]` and values JSON
//! (file contents: raw bytes), so one loader, one exporter and one importer
//! serve every table. At start the tables are read back ([`Snapshot`]) and
//! each family restores its part.
//!
//! Without a data dir the journal does not exist: every call here is a
//! no-op and nothing is serialized.

mod db;

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use super::errors::ApiError;

pub use db::StorageError;
pub(crate) use db::{export_json, open};

/// The on-disk format this server writes and reads. Bump it (and add a
/// migration in `db.rs`) when a record's shape changes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Changes waiting for the writer past which a publish is refused (503)
/// until the disk catches up: the journal's bound. Requests that changed
/// state wait for their commit, so only many concurrent ones fill it.
const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// How commits are grouped (`--commit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CommitMode {
    /// Every change the writer finds waiting goes into one transaction, with
    /// one fsync: requests that arrive while a commit runs share the next
    /// one. No added delay; the batch is whatever queued meanwhile.
    #[default]
    Group,
    /// One transaction (and fsync) per change, in order: what "commit before
    /// answering" costs when nothing is shared.
    EachChange,
}

/// The tables; every one is keyed by subscribe key first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    /// Keysets created or configured, and their Access Manager mode.
    Keysets,
    /// Stored messages (history), by sequence number.
    Messages,
    /// Message actions, by channel and action timetoken.
    Actions,
    /// Channel groups and their channels.
    Groups,
    /// App Context user and channel metadata.
    Objects,
    /// App Context memberships (user ↔ channel).
    Memberships,
    /// File metadata, by channel and file id.
    Files,
    /// File contents (raw bytes), keyed as [`Table::Files`].
    FileBytes,
    /// Mobile Push devices and their channels.
    Push,
    /// Access Manager v2 grants.
    Grants,
    /// Access Manager v3 tokens issued (the console's list).
    Tokens,
    /// Revoked Access Manager v3 tokens.
    Revocations,
}

impl Table {
    /// Every table, in load order (keysets first).
    pub(crate) const ALL: [Self; 12] = [
        Self::Keysets,
        Self::Messages,
        Self::Actions,
        Self::Groups,
        Self::Objects,
        Self::Memberships,
        Self::Files,
        Self::FileBytes,
        Self::Push,
        Self::Grants,
        Self::Tokens,
        Self::Revocations,
    ];

    /// The table's name in the database and in exports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Keysets => "keysets",
            Self::Messages => "messages",
            Self::Actions => "message_actions",
            Self::Groups => "channel_groups",
            Self::Objects => "app_context_objects",
            Self::Memberships => "app_context_memberships",
            Self::Files => "files",
            Self::FileBytes => "file_bytes",
            Self::Push => "push_devices",
            Self::Grants => "pam_grants",
            Self::Tokens => "pam_tokens",
            Self::Revocations => "pam_revocations",
        }
    }

    /// Whether values are raw bytes rather than JSON.
    pub(crate) fn is_raw(self) -> bool {
        self == Self::FileBytes
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One change: the new value of a key, or its removal.
#[derive(Debug)]
struct Change {
    table: Table,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
}

/// How far the writer got.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every change up to this ticket is committed.
    committed: u64,
    /// Set when a commit failed; nothing after it is committed.
    failed: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct Queue {
    changes: VecDeque<Change>,
    bytes: usize,
    /// The ticket of the newest change queued.
    last: u64,
    closed: bool,
}

/// The changes on their way to the database, and the writer's progress.
#[derive(Debug)]
pub(crate) struct Journal {
    queue: Mutex<Queue>,
    ready: Condvar,
    progress: watch::Sender<Progress>,
    mode: CommitMode,
    dir: PathBuf,
    /// Fired by the writer thread once it has committed everything and
    /// closed the database (the file lock is released then).
    done: Mutex<Option<oneshot::Receiver<()>>>,
    /// The server clock's last timetoken, written at close so that a
    /// restarted clock continues after every cursor handed out (also those
    /// of events nothing stores: signals, presence).
    last_timetoken: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data that stays consistent per call.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

tokio::task_local! {
    /// The ticket of the last change the current request journaled (see
    /// [`Storage::scope`]).
    static REQUEST_TICKET: Cell<u64>;
}

impl Journal {
    fn push(&self, change: Change) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            // Not kept: make the request that made it say so (`scope`).
            let _ = REQUEST_TICKET.try_with(|last| last.set(u64::MAX));
            return;
        }
        queue.bytes += change.key.len() + change.value.as_ref().map_or(0, Vec::len);
        queue.last += 1;
        let ticket = queue.last;
        queue.changes.push_back(change);
        drop(queue);
        self.ready.notify_one();
        // Outside a request (start-up, eviction after the answer) there is
        // nobody to answer later.
        let _ = REQUEST_TICKET.try_with(|last| last.set(ticket));
    }

    /// The writer's side: waits for changes and takes a batch, with the
    /// ticket of its last change; `None` once closed and drained.
    fn take(&self) -> Option<(Vec<Change>, u64)> {
        let mut queue = lock(&self.queue);
        while queue.changes.is_empty() && !queue.closed {
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queue.changes.is_empty() {
            return None;
        }
        let batch = match self.mode {
            CommitMode::Group => Vec::from(std::mem::take(&mut queue.changes)),
            CommitMode::EachChange => queue.changes.pop_front().into_iter().collect(),
        };
        let taken: usize = batch
            .iter()
            .map(|c| c.key.len() + c.value.as_ref().map_or(0, Vec::len))
            .sum();
        queue.bytes = queue.bytes.saturating_sub(taken);
        let ticket = queue.last - queue.changes.len() as u64;
        Some((batch, ticket))
    }

    fn committed(&self, ticket: u64) {
        self.progress.send_modify(|p| p.committed = ticket);
    }

    fn failed(&self, reason: String) {
        tracing::error!(
            data_dir = %self.dir.display(),
            %reason,
            "the data dir could not be written: changes from now on are not kept; \
             requests that change state answer 500"
        );
        self.progress
            .send_modify(|p| p.failed = Some(reason.into()));
    }
}

/// The server's storage: a journal into the data dir, or nothing (memory).
#[derive(Debug, Clone, Default)]
pub(crate) struct Storage {
    journal: Option<Arc<Journal>>,
}

impl Storage {
    /// No data dir: nothing is kept.
    pub(crate) fn memory() -> Self {
        Self::default()
    }

    /// The data dir, if any.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.journal.as_deref().map(|j| j.dir.as_path())
    }

    /// The journal handle of one keyset.
    pub(crate) fn keyset(&self, subscribe_key: &Arc<str>) -> Persist {
        Persist {
            journal: self.journal.clone(),
            subscribe_key: subscribe_key.clone(),
        }
    }

    /// Refuses a new write while the writer is far behind (the journal's
    /// bound) or has failed.
    pub(crate) fn admit(&self) -> Result<(), ApiError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        if let Some(reason) = journal.progress.borrow().failed.clone() {
            return Err(storage_failed(&reason));
        }
        if lock(&journal.queue).bytes > MAX_PENDING_BYTES {
            return Err(ApiError::Service {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                service: "storage",
                message: "the data dir's disk is behind; retry shortly".to_owned(),
            });
        }
        Ok(())
    }

    /// Runs one request's handler and then waits until every change queued
    /// by the time it ended is committed, before its answer goes out: an
    /// acknowledged change is on disk, and no answer shows state that is
    /// not (a message delivered to a subscriber, an "unchanged" answer to a
    /// write another request is still committing). With nothing pending
    /// that is no wait at all. Without a data dir, just runs the handler.
    pub(crate) async fn scope<F>(&self, handler: F) -> Result<F::Output, ApiError>
    where
        F: Future,
    {
        let Some(journal) = &self.journal else {
            return Ok(handler.await);
        };
        let (output, own) = REQUEST_TICKET
            .scope(Cell::new(0), async {
                let output = handler.await;
                (output, REQUEST_TICKET.with(Cell::get))
            })
            .await;
        let queued = lock(&journal.queue).last;
        // A change journaled after close (the handle was dropped while this
        // request ran) was not taken: it is not acknowledged either.
        if own > queued {
            return Err(storage_failed("the server is stopping"));
        }
        self.committed(own.max(queued)).await?;
        Ok(output)
    }

    /// Waits until the change of `ticket` (and all before it) is committed.
    async fn committed(&self, target: u64) -> Result<(), ApiError> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let mut progress = journal.progress.subscribe();
        let outcome = progress
            .wait_for(|p| p.committed >= target || p.failed.is_some())
            .await
            .map(|p| p.clone());
        match outcome {
            Ok(p) if p.committed >= target => Ok(()),
            Ok(p) => Err(storage_failed(p.failed.as_deref().unwrap_or("stopped"))),
            Err(_) => Err(storage_failed("the writer stopped")),
        }
    }

    /// Commits what is queued and `last_timetoken` (the server clock's),
    /// closes the database and waits until its file lock is released
    /// (graceful shutdown).
    pub(crate) async fn close(&self, last_timetoken: u64) {
        let Some(journal) = &self.journal else {
            return;
        };
        journal
            .last_timetoken
            .fetch_max(last_timetoken, std::sync::atomic::Ordering::AcqRel);
        lock(&journal.queue).closed = true;
        journal.ready.notify_all();
        let done = lock(&journal.done).take();
        if let Some(done) = done {
            let _ = done.await;
        }
    }

    /// Drops what is queued unwritten, closes the database and waits for its
    /// file lock to be released: a start that failed after the data dir
    /// was opened leaves it as it was. Blocking.
    pub(crate) fn abort_blocking(&self) {
        let Some(journal) = &self.journal else {
            return;
        };
        {
            let mut queue = lock(&journal.queue);
            queue.changes.clear();
            queue.bytes = 0;
            queue.closed = true;
        }
        journal.ready.notify_all();
        let done = lock(&journal.done).take();
        if let Some(done) = done {
            let _ = done.blocking_recv();
        }
    }

    /// Stops taking changes (the handle was dropped without a shutdown);
    /// the writer commits what is queued and exits on its own.
    pub(crate) fn close_now(&self, last_timetoken: u64) {
        if let Some(journal) = &self.journal {
            journal
                .last_timetoken
                .fetch_max(last_timetoken, std::sync::atomic::Ordering::AcqRel);
            lock(&journal.queue).closed = true;
            journal.ready.notify_all();
        }
    }
}

fn storage_failed(reason: &str) -> ApiError {
    ApiError::Service {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        service: "storage",
        message: format!("the change could not be kept in the data dir: {reason}"),
    }
}

/// One keyset's way into the journal; a no-op without a data dir.
#[derive(Debug, Clone, Default)]
pub(crate) struct Persist {
    journal: Option<Arc<Journal>>,
    subscribe_key: Arc<str>,
}

impl Persist {
    fn key<K: Serialize>(&self, key: &K) -> Option<Vec<u8>> {
        serde_json::to_vec(&(&*self.subscribe_key, key)).ok()
    }

    fn push(&self, table: Table, key: Option<Vec<u8>>, value: Option<Vec<u8>>) {
        let (Some(journal), Some(key)) = (&self.journal, key) else {
            return;
        };
        journal.push(Change { table, key, value });
    }

    /// Keeps `value` under `key`.
    pub(crate) fn put<K: Serialize, V: Serialize + ?Sized>(
        &self,
        table: Table,
        key: &K,
        value: &V,
    ) {
        if self.journal.is_none() {
            return;
        }
        match serde_json::to_vec(value) {
            Ok(bytes) => self.push(table, self.key(key), Some(bytes)),
            Err(error) => tracing::error!(table = table.name(), %error, "not kept: unserializable"),
        }
    }

    /// Keeps raw bytes under `key` (file contents).
    pub(crate) fn put_raw<K: Serialize>(&self, table: Table, key: &K, bytes: &[u8]) {
        if self.journal.is_some() {
            self.push(table, self.key(key), Some(bytes.to_vec()));
        }
    }

    /// Forgets `key`.
    pub(crate) fn delete<K: Serialize>(&self, table: Table, key: &K) {
        if self.journal.is_some() {
            self.push(table, self.key(key), None);
        }
    }
}

/// A record as stored: its key and value bytes.
type RawRecord = (Vec<u8>, Vec<u8>);

/// Everything read back at start, by table and subscribe key.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    tables: BTreeMap<Table, Vec<RawRecord>>,
    /// The random salt of the file path tokens, kept so that file URLs
    /// handed out before a restart keep working.
    pub(crate) file_salt: Option<[u8; 32]>,
    /// The clock's last timetoken at the previous graceful stop.
    pub(crate) last_timetoken: Option<u64>,
}

/// One record read back: its keyset, family key and value.
#[derive(Debug)]
pub(crate) struct Record<K, V> {
    pub(crate) subscribe_key: String,
    pub(crate) key: K,
    pub(crate) value: V,
}

impl Snapshot {
    fn insert(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.tables.entry(table).or_default().push((key, value));
    }

    /// Whether nothing was read back.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.values().all(Vec::is_empty)
    }

    /// Takes the records of `table` out, decoding their values as JSON; a
    /// record that does not decode is an error (a store this server cannot
    /// read is never loaded as empty).
    pub(crate) fn records<K: DeserializeOwned, V: DeserializeOwned>(
        &mut self,
        table: Table,
    ) -> Result<Vec<Record<K, V>>, StorageError> {
        self.raw_records(table)?
            .into_iter()
            .map(|record| {
                let value = serde_json::from_slice(&record.value)
                    .map_err(|e| StorageError::record(table, &e))?;
                Ok(Record {
                    subscribe_key: record.subscribe_key,
                    key: record.key,
                    value,
                })
            })
            .collect()
    }

    /// Takes the records of `table` out with their values as stored (moved,
    /// not copied: file contents can be large).
    pub(crate) fn raw_records<K: DeserializeOwned>(
        &mut self,
        table: Table,
    ) -> Result<Vec<Record<K, Vec<u8>>>, StorageError> {
        self.tables
            .remove(&table)
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| {
                let (subscribe_key, key) = serde_json::from_slice::<(String, K)>(&key)
                    .map_err(|e| StorageError::record(table, &e))?;
                Ok(Record {
                    subscribe_key,
                    key,
                    value,
                })
            })
            .collect()
    }
}
