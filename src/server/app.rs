//! The state shared by every request of one server.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::access::{Permission, Resources};
use super::clock::Clock;
use super::config::DevServerConfig;
use super::console::Losses;
use super::errors::ApiError;
use super::files::FileBudget;
use super::hooks::{Faults, RequestLog};
use super::keyset::{KeysetHandle, Keysets};
use super::metrics::Metrics;
use super::storage::{Snapshot, Storage, StorageError};
use super::wire::RequestCtx;

/// Resolves once `shutdown` turns true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // Either outcome means "stop"; the guard it returns is dropped here.
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// How many subscribe receive long-polls are registered. Every poll adds
/// and removes itself, so this is on the fan-out hot path: an atomic
/// counter, no lock, and a waiter ([`ParkedPolls::wait_for`]) is woken only
/// once the count reaches what it waits for, not on every change.
#[derive(Debug)]
pub(crate) struct ParkedPolls {
    count: AtomicUsize,
    /// The smallest count a waiter waits for; `usize::MAX` when none does.
    wanted: AtomicUsize,
    reached: Notify,
}

impl Default for ParkedPolls {
    fn default() -> Self {
        Self {
            count: AtomicUsize::new(0),
            wanted: AtomicUsize::new(usize::MAX),
            reached: Notify::new(),
        }
    }
}

impl ParkedPolls {
    /// The polls registered right now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// A poll registered.
    pub(crate) fn add(&self) {
        let now = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        // SeqCst pairs with `wait_for`: either this sees the waiter's
        // `wanted`, or the waiter sees this count.
        if now >= self.wanted.load(Ordering::SeqCst) {
            // Every waiter wakes and states its wish again.
            self.wanted.store(usize::MAX, Ordering::SeqCst);
            self.reached.notify_waiters();
        }
    }

    /// A poll ended (after its [`ParkedPolls::add`]).
    pub(crate) fn remove(&self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }

    /// Resolves once at least `count` polls are registered.
    pub(crate) async fn wait_for(&self, count: usize) {
        loop {
            let reached = self.reached.notified();
            tokio::pin!(reached);
            // Enabled before `wanted` is published, so that an `add` that
            // sees it wakes this waiter.
            reached.as_mut().enable();
            self.wanted.fetch_min(count, Ordering::SeqCst);
            if self.count() >= count {
                return;
            }
            reached.await;
        }
    }
}

#[derive(Debug)]
pub(crate) struct App {
    pub(crate) config: Arc<DevServerConfig>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) keysets: Keysets,
    pub(crate) log: RequestLog,
    pub(crate) faults: Faults,
    /// Set when the server shuts down ([`App::stop_parked_polls`]); parked
    /// polls answer then.
    stopping: AtomicBool,
    /// Number of parked subscribe long-polls (test hook, `/metrics`).
    pub(crate) parked: ParkedPolls,
    /// Counters behind `/metrics`.
    pub(crate) metrics: Metrics,
    /// The bytes stored files hold, against `max_file_bytes` (`files.rs`).
    pub(crate) files: FileBudget,
    /// Queue-overflow losses per subscriber, for the console (`console/`).
    pub(crate) losses: Losses,
    /// The data dir's journal (a no-op in memory, `storage/`).
    pub(crate) storage: Storage,
}

impl App {
    /// The server's state: the configured keysets and whatever `snapshot`
    /// read back from the data dir, kept from now on through `storage`.
    pub(crate) fn new(
        config: DevServerConfig,
        storage: Storage,
        snapshot: &mut Snapshot,
    ) -> Result<Self, StorageError> {
        let config = Arc::new(config);
        let clock = Arc::new(Clock::new());
        if let Some(last) = snapshot.last_timetoken {
            clock.observe(last);
        }
        let files = FileBudget::new(config.max_file_bytes).with_salt(snapshot.file_salt);
        Ok(Self {
            keysets: Keysets::new(
                config.clone(),
                clock.clone(),
                storage.clone(),
                snapshot,
                &files,
            )?,
            log: RequestLog::new(config.request_log_capacity),
            faults: Faults::default(),
            files,
            storage,
            clock,
            config,
            stopping: AtomicBool::new(false),
            parked: ParkedPolls::default(),
            metrics: Metrics::default(),
            losses: Losses::default(),
        })
    }

    /// The authorization seam: every data request passes here with the
    /// permission it needs and the resources it touches. Keysets without a
    /// secret key allow everything; the others enforce Access Manager
    /// (see `access/mod.rs`).
    pub(crate) fn authorize(
        &self,
        keyset: &KeysetHandle,
        ctx: &RequestCtx,
        permission: Permission,
        resources: &Resources,
    ) -> Result<(), ApiError> {
        match keyset.access() {
            None => Ok(()),
            Some(access) => access.check(ctx, permission, resources, self.clock.unix_secs()),
        }
    }

    /// Whether the server is shutting down: a poll that sees it answers
    /// at once.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Shutdown: every parked poll answers now, and every later one at once.
    /// Parked polls wait on their own wake-up only (no shutdown future per
    /// poll): the flag is set first, then every registered poll of every
    /// keyset is woken under its keyset's lock, so a poll registering
    /// concurrently either is woken or sees the flag.
    pub(crate) fn stop_parked_polls(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for keyset in self.keysets.all() {
            keyset.lock().wake_all_polls();
        }
    }

    /// [`App::authorize`], building the resources only when the keyset
    /// enforces Access Manager (subscribe: no copies of the channel names
    /// per long-poll on an open keyset).
    pub(crate) fn authorize_with(
        &self,
        keyset: &KeysetHandle,
        ctx: &RequestCtx,
        permission: Permission,
        resources: impl FnOnce() -> Resources,
    ) -> Result<(), ApiError> {
        match keyset.access() {
            None => Ok(()),
            Some(access) => access.check(ctx, permission, &resources(), self.clock.unix_secs()),
        }
    }

    /// Presence timeouts and interval events of every keyset, against the
    /// server clock.
    pub(crate) fn sweep(&self) {
        for keyset in self.keysets.all() {
            keyset.lock().presence_sweep();
        }
    }

    /// Shifts the server clock and sweeps at once.
    pub(crate) fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
        self.sweep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parked_waiters_wake_at_their_count() {
        let parked = Arc::new(ParkedPolls::default());
        let wait = |count| {
            let parked = parked.clone();
            tokio::spawn(async move { parked.wait_for(count).await })
        };
        let (two, three) = (wait(2), wait(3));
        tokio::task::yield_now().await;
        parked.add();
        parked.add();
        two.await.unwrap();
        assert!(!three.is_finished());
        // Removals never satisfy a waiter; the next add does.
        parked.remove();
        parked.add();
        parked.add();
        three.await.unwrap();
        assert_eq!(parked.count(), 3);
        // Already reached: at once.
        parked.wait_for(1).await;
    }
}
