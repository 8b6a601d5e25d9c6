//! Client-against-dev-server helpers for the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use futures::{Stream, StreamExt};
use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle, LoggedRequest, RouteKind};
use pubnub_rx::subscribe::StatusStream;
use pubnub_rx::{Config, ConfigBuilder, PubNub, Status, StatusCategory};

/// Longest one step of a test may take before it counts as a failure.
pub const GUARD: Duration = Duration::from_secs(10);

/// A dev server with a short hold, so idle long-polls end quickly.
pub async fn dev_server() -> DevServerHandle {
    dev_server_with(DevServerConfig::default().with_hold(Duration::from_secs(3))).await
}

pub async fn dev_server_with(config: DevServerConfig) -> DevServerHandle {
    DevServer::start(config).await.expect("dev server starts")
}

/// A client of `server` with user id `user`, adjusted by `tweak`.
pub fn client_with(
    server: &DevServerHandle,
    user: &str,
    tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> PubNub {
    let builder = Config::builder()
        .subscribe_key("sub-c-test")
        .publish_key("pub-c-test")
        .user_id(user)
        .origin(server.origin())
        .ssl(false);
    PubNub::new(tweak(builder).build().expect("valid config")).expect("client")
}

pub fn client(server: &DevServerHandle, user: &str) -> PubNub {
    client_with(server, user, |b| b)
}

/// The next item of a stream, failing the test after [`GUARD`].
pub async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(GUARD, stream.next())
        .await
        .expect("an item within the guard time")
        .expect("the stream is still open")
}

/// Waits for a status of `category`, skipping others, and returns it.
pub async fn expect_status(status: &mut StatusStream, category: StatusCategory) -> Status {
    loop {
        let item = next(status).await;
        if item.category() == category {
            return item;
        }
    }
}

/// Waits for the next logged request of `kind` after `mark`.
pub async fn next_request(
    server: &DevServerHandle,
    mark: u64,
    kind: RouteKind,
) -> std::sync::Arc<LoggedRequest> {
    tokio::time::timeout(
        GUARD,
        server
            .request_log()
            .wait_for_after(mark, |r| r.kind == kind),
    )
    .await
    .expect("the request within the guard time")
}

/// Asserts that no request of `kind` arrives after `mark` within `window`
/// (a bounded negative check: use windows far longer than any retry delay
/// the client under test is configured with).
pub async fn assert_no_request(
    server: &DevServerHandle,
    mark: u64,
    kind: RouteKind,
    window: Duration,
) {
    let arrived = tokio::time::timeout(
        window,
        server
            .request_log()
            .wait_for_after(mark, |r| r.kind == kind),
    )
    .await;
    if let Ok(request) = arrived {
        panic!(
            "unexpected {kind:?} request: {} {:?}",
            request.path, request.raw_query
        );
    }
}
