//! Callback listeners: a panicking callback is isolated and reported, a
//! dropped `ListenerHandle` removes its listener, `detach` keeps it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::harness::{client, dev_server, expect_status, next, GUARD};
use pubnub_rx::subscribe::{Listener, Message, StatusCategory};
use pubnub_rx::{Status, SubscriptionOptions};
use tokio::sync::mpsc;

/// Forwards every message payload; panics on the first call when `panic_on_first`.
struct Forward {
    tx: mpsc::UnboundedSender<String>,
    calls: Arc<AtomicUsize>,
    panic_on_first: bool,
    /// Told when the listener is dropped (its task ended).
    gone: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Forward {
    fn new(tx: mpsc::UnboundedSender<String>) -> Self {
        Self {
            tx,
            calls: Arc::new(AtomicUsize::new(0)),
            panic_on_first: false,
            gone: None,
        }
    }
}

impl Listener for Forward {
    fn message(&self, message: &Message) {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.tx.send(message.payload_json().to_owned());
        if self.panic_on_first && call == 0 {
            panic!("boom on {}", message.payload_json());
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        if let Some(gone) = self.gone.take() {
            let _ = gone.send(());
        }
    }
}

/// The next forwarded payload (bounded by the harness guard).
async fn recv(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("no listener call in time")
        .expect("the listener is gone")
}

#[tokio::test]
async fn a_panicking_listener_is_reported_and_gets_every_later_message() {
    let server = dev_server().await;
    let c = client(&server, "panics");
    let mut status = c.status();
    let subscription = c.channel("iso").subscription(SubscriptionOptions::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut listener = Forward::new(tx);
    listener.panic_on_first = true;
    let _handle = subscription.add_listener(listener);
    // Another subscription of the same channel is not affected.
    let witness = c.channel("iso").subscription(SubscriptionOptions::new());
    let mut witnessed = witness.messages();
    subscription.subscribe();
    witness.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    for i in 0..5 {
        c.publish().channel("iso").message(&i).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(recv(&mut rx).await);
    }
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    match expect_status(&mut status, StatusCategory::ListenerFailed).await {
        Status::ListenerFailed {
            listener,
            channel,
            message,
            ..
        } => {
            assert_eq!(listener, "iso");
            assert_eq!(channel, "iso");
            assert_eq!(message, "boom on 0");
        }
        other => panic!("{other:?}"),
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next(&mut witnessed).await.payload_json().to_owned());
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"]);
}

#[tokio::test]
async fn dropping_the_handle_removes_the_listener_and_detach_keeps_it() {
    let server = dev_server().await;
    let c = client(&server, "handles");
    let mut status = c.status();
    let subscription = c.channel("drops").subscription(SubscriptionOptions::new());

    let (dropped_tx, mut dropped_rx) = mpsc::unbounded_channel();
    let (gone_tx, gone_rx) = tokio::sync::oneshot::channel();
    let mut dropped = Forward::new(dropped_tx);
    dropped.gone = Some(gone_tx);
    let handle = subscription.add_listener(dropped);

    let (kept_tx, mut kept_rx) = mpsc::unbounded_channel();
    subscription.add_listener(Forward::new(kept_tx)).detach();

    subscription.subscribe();
    expect_status(&mut status, StatusCategory::Connected).await;
    c.publish()
        .channel("drops")
        .message(&"first")
        .await
        .unwrap();
    assert_eq!(recv(&mut dropped_rx).await, "\"first\"");
    assert_eq!(recv(&mut kept_rx).await, "\"first\"");

    drop(handle);
    // The listener itself is dropped: it can never be called again.
    tokio::time::timeout(GUARD, gone_rx)
        .await
        .expect("the listener was not dropped with its handle")
        .unwrap();
    c.publish()
        .channel("drops")
        .message(&"second")
        .await
        .unwrap();
    assert_eq!(recv(&mut kept_rx).await, "\"second\"");
    // Its sender went with it: nothing after `first` was forwarded.
    assert_eq!(
        dropped_rx.recv().await,
        None,
        "the removed listener was called"
    );
}
