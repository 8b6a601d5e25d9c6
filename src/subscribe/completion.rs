//! The futures `subscribe()` and `unsubscribe()` return: the work starts
//! when they are called, so awaiting is optional; awaiting tells when it is
//! done and how it went.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::Error;

/// What [`Subscription::subscribe`](super::Subscription::subscribe) (and
/// the set's) returns: the subscription is already on its way into the
/// long-poll; await this to know when it is part of a connected long-poll.
///
/// Resolves to `Ok(())` once the subscription's channels and groups are in
/// a long-poll the server accepted, or to the error that stopped it
/// (`AccessDenied` naming the denied channels, a bad request, a long
/// request, [`Error::Unsubscribed`] when it was unsubscribed or the client
/// closed first). Network trouble does not end it: the client recovers by
/// itself and the future resolves once connected (bound it with
/// `tokio::time::timeout` if you must). Dropping it changes nothing.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let chat = client.channel("chat").subscription(Default::default());
/// let mut messages = chat.messages();
/// chat.subscribe().await?; // connected: what is published now arrives
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscribing(Inner<Result<(), Error>>);

/// What [`Subscription::unsubscribe`](super::Subscription::unsubscribe)
/// (and the set's) returns: the subscription has already left; await this
/// to know that its `leave` was sent (or that none was due: its channels
/// are still used by another subscription, or leaves are suppressed).
/// Dropping it changes nothing.
#[derive(Debug)]
pub struct Unsubscribing(Inner<()>);

#[derive(Debug)]
enum Inner<T> {
    Ready(Option<T>),
    Waiting(oneshot::Receiver<T>),
}

impl Subscribing {
    pub(crate) fn ready(result: Result<(), Error>) -> Self {
        Self(Inner::Ready(Some(result)))
    }

    pub(crate) fn waiting(receiver: oneshot::Receiver<Result<(), Error>>) -> Self {
        Self(Inner::Waiting(receiver))
    }
}

impl Unsubscribing {
    pub(crate) fn ready() -> Self {
        Self(Inner::Ready(Some(())))
    }

    pub(crate) fn waiting(receiver: oneshot::Receiver<()>) -> Self {
        Self(Inner::Waiting(receiver))
    }
}

impl<T: Unpin> Inner<T> {
    /// `gone` is the answer when the actor ended without answering.
    fn poll(&mut self, cx: &mut Context<'_>, gone: impl FnOnce() -> T) -> Poll<T> {
        match self {
            Self::Ready(value) => Poll::Ready(value.take().unwrap_or_else(gone)),
            Self::Waiting(receiver) => Pin::new(receiver)
                .poll(cx)
                .map(|answer| answer.unwrap_or_else(|_| gone())),
        }
    }
}

impl Future for Subscribing {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll(cx, || {
            Err(Error::Unsubscribed {
                reason: "the client closed",
            })
        })
    }
}

impl Future for Unsubscribing {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(cx, || ())
    }
}
