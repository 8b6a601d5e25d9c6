//! The accept loop and the connection tasks.
//!
//! The server runs its own loop over hyper's HTTP/1 connections (instead of
//! `axum::serve`) for two reasons: a handler must be able to close its
//! connection without answering (fault injection, [`ConnControl`]), and
//! shutdown must end every connection task — graceful first, then aborted
//! after the grace period. All connection tasks live in one `JoinSet` owned
//! by the server task, so aborting that task (dropping the handle) ends
//! them all. The same task runs the periodic presence sweep.
//!
//! **Two timeouts on a connection between requests.** hyper's
//! `header_read_timeout` starts as soon as the connection waits for its
//! next request, so it limits *idle keep-alive* time as well as slow heads.
//! Idle keep-alive connections must live longer than the clients' pools
//! keep them (reqwest 90 s, aiohttp 15 s; PubNub answers `Connection:
//! keep-alive` and documents no idle limit): a server that closes first
//! races the client's next request on that connection. So hyper's timer is
//! set to [`KEEP_ALIVE_IDLE`] (300 s), and a separate watch
//! ([`HeadWatch`]) closes a connection whose request head has *started*
//! arriving but is not complete after `header_read_timeout` (default 30 s,
//! `--header-read-timeout`). It sees the socket: the first byte read while
//! the connection is between requests starts the clock; hyper handing the
//! parsed head to the service stops it; the first byte written (the answer)
//! returns the connection to "between requests".

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::app::{stopped, App};
use super::router::{self, ConnControl};

/// How long an idle keep-alive connection is kept (hyper's
/// `header_read_timeout`, which counts idle time between requests). Longer
/// than the idle pool timeouts of the SDKs' HTTP clients (reqwest 90 s,
/// aiohttp 15 s): they close idle connections first and never race a
/// server-side close. Half-sent heads are closed much sooner by [`HeadWatch`].
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(300);
/// Largest request head hyper buffers (paths above it get hyper's own 431).
const MAX_HEAD_BYTES: usize = 1 << 20;

/// Runs until `shutdown` turns true (or its sender is dropped).
pub(crate) async fn run(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    let mut sweep = tokio::time::interval(app.config.effective_sweep_interval());
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let head_timeout = app.config.header_read_timeout;
                    let (app, serve) = (app.clone(), serve_connection(stream, app.clone(), head_timeout, for_connections.clone()));
                    connections.spawn(async move { let _open = app.metrics.connection(); serve.await });
                }
                Err(error) => {
                    // Typically out of file descriptors: back off, keep serving.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sweep.tick() => app.sweep(),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    app.stop_parked_polls();
    let grace = tokio::time::sleep(app.config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() { break },
            () = &mut grace => {
                connections.abort_all();
                while connections.join_next().await.is_some() {}
                break;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    app: Arc<App>,
    head_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    // Latency matters more than packet count for long-poll answers.
    let _ = stream.set_nodelay(true);
    let close = Arc::new(Notify::new());
    let control = ConnControl(close.clone());
    let head = Arc::new(HeadWatch::new());
    let in_request = head.clone();
    // The one handler, called directly: every route is resolved there (no
    // axum `Router` in between, whose routing and boxing per request would
    // only forward to it).
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        in_request.head_complete();
        // Most requests (every subscribe) have no body: no boxed stream then.
        let request = request.map(|body| {
            if body.is_end_stream() {
                Body::empty()
            } else {
                Body::new(body)
            }
        });
        let handled = router::handle(app.clone(), control.clone(), request);
        async move { Ok::<_, Infallible>(handled.await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(KEEP_ALIVE_IDLE)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let io = Watched {
        inner: stream,
        head: head.clone(),
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        // Dropping the connection closes the socket without an answer.
        () = close.notified() => return,
        () = head.stalled(head_timeout) => {
            tracing::debug!(timeout = ?head_timeout, "closed a connection whose request head did not complete in time");
            return;
        }
        () = stopped(&mut shutdown) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        () = close.notified() => {}
    }
}

/// Between requests: no head bytes pending.
const IDLE: u8 = 0;
/// A request head has started arriving and is not complete.
const HEAD: u8 = 1;
/// hyper has the whole head; the request is being served.
const SERVING: u8 = 2;

/// Watches one connection for a request head that starts but does not
/// complete in time (see the module docs).
#[derive(Debug)]
struct HeadWatch {
    phase: AtomicU8,
    /// When the pending head started, in microseconds since `origin`.
    started_micros: AtomicU64,
    origin: Instant,
    started: Notify,
}

impl HeadWatch {
    fn new() -> Self {
        Self {
            phase: AtomicU8::new(IDLE),
            started_micros: AtomicU64::new(0),
            origin: Instant::now(),
            started: Notify::new(),
        }
    }

    /// Bytes arrived: between requests, they start a head.
    fn bytes_read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            let micros = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.started_micros.store(micros, Ordering::Release);
            self.phase.store(HEAD, Ordering::Release);
            self.started.notify_one();
        }
    }

    /// hyper parsed a head and calls the service.
    fn head_complete(&self) {
        self.phase.store(SERVING, Ordering::Release);
    }

    /// The server writes (an answer, or `100 Continue`): whatever is read
    /// after it starts a new head.
    fn bytes_written(&self) {
        if self.phase.load(Ordering::Acquire) != IDLE {
            self.phase.store(IDLE, Ordering::Release);
        }
    }

    /// Resolves when a head has been pending for `timeout`.
    async fn stalled(&self, timeout: Duration) {
        loop {
            if self.phase.load(Ordering::Acquire) != HEAD {
                self.started.notified().await;
                continue;
            }
            let started =
                self.origin + Duration::from_micros(self.started_micros.load(Ordering::Acquire));
            let deadline = started + timeout;
            if Instant::now() >= deadline {
                if self.phase.load(Ordering::Acquire) == HEAD {
                    return;
                }
                continue;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// The connection's socket, reporting reads and writes to its [`HeadWatch`].
#[derive(Debug)]
struct Watched {
    inner: TcpStream,
    head: Arc<HeadWatch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.head.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.head.bytes_written();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.head.bytes_written();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
