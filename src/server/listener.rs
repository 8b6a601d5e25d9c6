//! The accept loop and the connection tasks.
//!
//! The server runs its own loop over hyper's HTTP/1 connections (instead of
//! `axum::serve`) for two reasons: a handler must be able to close its
//! connection without answering (fault injection, [`ConnControl`]), and
//! shutdown must end every connection task — graceful first, then aborted
//! after the grace period. All connection tasks live in one `JoinSet` owned
//! by the server task, so aborting that task (dropping the handle) ends
//! them all. The same task runs the periodic presence sweep.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::app::{stopped, App};
use super::router::{self, ConnControl};

/// How long a connection may sit without a complete request head. hyper
/// counts idle keep-alive time too, so this is longer than the idle pool
/// timeouts of the SDKs' HTTP clients (reqwest 90 s, aiohttp 15 s): they
/// close idle connections first and never race a server-side close.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest request head hyper buffers (paths above it get hyper's own 431).
const MAX_HEAD_BYTES: usize = 1 << 20;

/// Runs until `shutdown` turns true (or its sender is dropped).
pub(crate) async fn run(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let router: Router = Router::new()
        .fallback(router::handle)
        .with_state(app.clone());
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    let mut sweep = tokio::time::interval(app.config.effective_sweep_interval());
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let (app, serve) = (app.clone(), serve_connection(stream, router.clone(), for_connections.clone()));
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

async fn serve_connection(stream: TcpStream, router: Router, mut shutdown: watch::Receiver<bool>) {
    // Latency matters more than packet count for long-poll answers.
    let _ = stream.set_nodelay(true);
    let close = Arc::new(Notify::new());
    let control = ConnControl(close.clone());
    let service = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(control.clone());
        service.call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        // Dropping the connection closes the socket without an answer.
        () = close.notified() => return,
        () = stopped(&mut shutdown) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        () = close.notified() => {}
    }
}
