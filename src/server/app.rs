//! The state shared by every request of one server.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::access::{Permission, Resources};
use super::clock::Clock;
use super::config::DevServerConfig;
use super::console::Losses;
use super::errors::ApiError;
use super::files::FileBudget;
use super::hooks::{Faults, RequestLog};
use super::keyset::{KeysetHandle, Keysets};
use super::metrics::Metrics;
use super::wire::RequestCtx;

/// Resolves once `shutdown` turns true or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // Either outcome means "stop"; the guard it returns is dropped here.
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

#[derive(Debug)]
pub(crate) struct App {
    pub(crate) config: Arc<DevServerConfig>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) keysets: Keysets,
    pub(crate) log: RequestLog,
    pub(crate) faults: Faults,
    /// Becomes `true` when the server shuts down; parked polls answer then.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Number of parked subscribe long-polls (test hook).
    pub(crate) parked: watch::Sender<usize>,
    /// Counters behind `/metrics`.
    pub(crate) metrics: Metrics,
    /// The bytes stored files hold, against `max_file_bytes` (`files.rs`).
    pub(crate) files: FileBudget,
    /// Queue-overflow losses per subscriber, for the console (`console/`).
    pub(crate) losses: Losses,
}

impl App {
    pub(crate) fn new(config: DevServerConfig, shutdown: watch::Receiver<bool>) -> Self {
        let config = Arc::new(config);
        let clock = Arc::new(Clock::new());
        Self {
            keysets: Keysets::new(config.clone(), clock.clone()),
            log: RequestLog::new(config.request_log_capacity),
            faults: Faults::default(),
            files: FileBudget::new(config.max_file_bytes),
            clock,
            config,
            shutdown,
            parked: watch::Sender::new(0),
            metrics: Metrics::default(),
            losses: Losses::default(),
        }
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
