//! Bounded per-stream queues between the multiplexer and the streams users poll.
//!
//! Every stream owns one queue with a fixed capacity and an overflow policy:
//!
//! * **drop oldest** — a full queue drops its oldest event to take the new
//!   one and counts the loss; the count is readable on the stream
//!   ([`SubscriptionStream::lost`]) and reported on the status stream;
//! * **backpressure** — a full queue refuses the rest of the batch; the
//!   multiplexer keeps it and pauses the long-poll until the consumer makes
//!   room (the server's own queue then holds newer messages).
//!
//! Either way memory is bounded: a consumer that never polls costs at most
//! `capacity` events. Locks are held only to move items, never across an await.
//!
//! A stream takes everything queued at once when it runs dry (one lock per
//! batch instead of one per event) and hands the events out from its own
//! buffer, so a consumer holds at most one taken batch besides its queue:
//! `2 × capacity` events in all. Events a stream has taken count as
//! delivered; the overflow policy applies to the queue.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use tokio::sync::Notify;

/// What a subscription does when a consumer falls behind and its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Drop the oldest queued event, count it as lost and report the loss on
    /// the stream and on the status stream (default).
    #[default]
    DropOldest,
    /// Stop taking events and pause the subscribe long-poll until the
    /// consumer catches up. Nothing is dropped by the client (the server's
    /// queue is bounded, though: PubNub keeps 100 messages per connection).
    Backpressure,
}

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Which event kinds this queue takes (only meaningful for event
    /// queues); read without the lock on every delivery.
    mask: AtomicU8,
    /// The consumer side is gone: the producer should forget this queue.
    abandoned: AtomicBool,
    capacity: usize,
    policy: OverflowPolicy,
    /// Signalled when a backpressure queue makes room.
    space: Option<Arc<Notify>>,
}

struct State<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    lost_total: u64,
    lost_unreported: u64,
    /// The producer side is gone: the stream ends once drained.
    closed: bool,
}

/// Result of offering a batch to a queue.
pub(crate) enum Offer<T> {
    /// Everything was queued (possibly dropping old events).
    Taken,
    /// The queue is full under backpressure: these were not taken.
    Full(VecDeque<T>),
    /// Nobody reads this queue any more.
    Abandoned,
}

impl<T> Queue<T> {
    pub(crate) fn new(
        capacity: usize,
        policy: OverflowPolicy,
        mask: u8,
        space: Option<Arc<Notify>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                waker: None,
                lost_total: 0,
                lost_unreported: 0,
                closed: false,
            }),
            mask: AtomicU8::new(mask),
            abandoned: AtomicBool::new(false),
            capacity: capacity.max(1),
            policy,
            space,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (every critical section is a few VecDeque operations), so a
        // poisoned lock is simply taken over.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn mask(&self) -> u8 {
        self.mask.load(Ordering::Acquire)
    }

    /// Offers items in order; wakes the consumer once if any was queued.
    pub(crate) fn offer(&self, items: impl IntoIterator<Item = T>) -> Offer<T> {
        self.offer_counting(items).0
    }

    /// [`offer`](Self::offer), also taking the loss count not yet reported
    /// on the status stream (one lock for both).
    pub(crate) fn offer_counting(&self, items: impl IntoIterator<Item = T>) -> (Offer<T>, u64) {
        let mut state = self.lock();
        // Set before `abandon` takes the lock to clear the items, so an
        // offer that gets the lock after that sees it.
        if self.abandoned.load(Ordering::Acquire) {
            return (Offer::Abandoned, 0);
        }
        let mut rest = None::<VecDeque<T>>;
        let mut pushed = false;
        for item in items {
            if let Some(rest) = rest.as_mut() {
                rest.push_back(item);
                continue;
            }
            if state.items.len() >= self.capacity {
                match self.policy {
                    OverflowPolicy::DropOldest => {
                        state.items.pop_front();
                        state.lost_total += 1;
                        state.lost_unreported += 1;
                    }
                    OverflowPolicy::Backpressure => {
                        rest = Some(VecDeque::from([item]));
                        continue;
                    }
                }
            }
            state.items.push_back(item);
            pushed = true;
        }
        let lost = std::mem::take(&mut state.lost_unreported);
        // Wake the consumer only for something new (a stream of one event
        // kind is offered every batch of its subscriber).
        let waker = if pushed { state.waker.take() } else { None };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        let offer = match rest {
            Some(rest) => Offer::Full(rest),
            None => Offer::Taken,
        };
        (offer, lost)
    }

    /// Ends the stream once drained (the producer is gone).
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
        let mut state = self.lock();
        state.items.clear();
        drop(state);
        if let Some(space) = &self.space {
            space.notify_one();
        }
    }

    /// Keeps only the items a new mask wants (a backlog being claimed).
    pub(crate) fn retain_mask(&self, mask: u8, wants: impl Fn(u8, &T) -> bool) {
        let mut state = self.lock();
        self.mask.store(mask, Ordering::Release);
        state.items.retain(|item| wants(mask, item));
    }

    fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.lock();
        if let Some(item) = state.items.pop_front() {
            let made_room = state.items.len() + 1 == self.capacity;
            drop(state);
            if made_room {
                if let Some(space) = &self.space {
                    space.notify_one();
                }
            }
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Moves every queued item into the empty `local` buffer (swapping the
    /// two buffers, so both keep their allocations). `Ready(false)` once
    /// closed and drained.
    fn poll_take(&self, cx: &mut Context<'_>, local: &mut VecDeque<T>) -> Poll<bool> {
        let mut state = self.lock();
        if !state.items.is_empty() {
            local.clear();
            std::mem::swap(&mut state.items, local);
            let was_full = local.len() >= self.capacity;
            drop(state);
            if was_full {
                if let Some(space) = &self.space {
                    space.notify_one();
                }
            }
            return Poll::Ready(true);
        }
        if state.closed {
            return Poll::Ready(false);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn lost(&self) -> u64 {
        self.lock().lost_total
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }
}

/// A stream of one subscription's (or the client's) events of one kind.
///
/// Ends when the subscription is unsubscribed or the client shuts down.
/// Composes with every `futures`/`tokio-stream` combinator.
pub struct SubscriptionStream<T> {
    queue: Arc<Queue<super::Event>>,
    /// Events taken from the queue in one go, handed out in order.
    taken: VecDeque<super::Event>,
    map: fn(super::Event) -> Option<T>,
    /// Keeps the subscription subscribed while the stream is alive.
    _keep_alive: Option<Arc<dyn Send + Sync>>,
}

impl<T> SubscriptionStream<T> {
    pub(crate) fn new(
        queue: Arc<Queue<super::Event>>,
        map: fn(super::Event) -> Option<T>,
        keep_alive: Option<Arc<dyn Send + Sync>>,
    ) -> Self {
        Self {
            queue,
            taken: VecDeque::new(),
            map,
            _keep_alive: keep_alive,
        }
    }

    /// How many events this stream has lost so far because its queue was
    /// full (drop-oldest policy). Each loss is also reported once on the
    /// client's status stream.
    pub fn lost(&self) -> u64 {
        self.queue.lost()
    }
}

impl<T> fmt::Debug for SubscriptionStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionStream")
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

impl<T> Stream for SubscriptionStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            while let Some(event) = this.taken.pop_front() {
                if let Some(item) = (this.map)(event) {
                    return Poll::Ready(Some(item));
                }
            }
            match this.queue.poll_take(cx, &mut this.taken) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> Unpin for SubscriptionStream<T> {}

impl<T> Drop for SubscriptionStream<T> {
    fn drop(&mut self) {
        self.queue.abandon();
    }
}

/// The client's status stream.
pub struct StatusStream {
    queue: Arc<Queue<super::Status>>,
}

impl StatusStream {
    pub(crate) fn new(queue: Arc<Queue<super::Status>>) -> Self {
        Self { queue }
    }

    /// Status events dropped because this stream was not read (its queue
    /// holds the newest 256).
    pub fn lost(&self) -> u64 {
        self.queue.lost()
    }
}

impl fmt::Debug for StatusStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusStream").finish_non_exhaustive()
    }
}

impl Stream for StatusStream {
    type Item = super::Status;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<super::Status>> {
        self.queue.poll_pop(cx)
    }
}

impl Drop for StatusStream {
    fn drop(&mut self) {
        self.queue.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;
    use std::future::Future;

    #[test]
    fn drop_oldest_counts_losses() {
        let q = Queue::new(3, OverflowPolicy::DropOldest, 0, None);
        let (offer, lost) = q.offer_counting(0..5);
        assert!(matches!(offer, Offer::Taken));
        assert_eq!(q.len(), 3);
        assert_eq!(lost, 2, "reported once");
        assert_eq!(q.offer_counting([]).1, 0);
        let mut cx = Context::from_waker(noop_waker_ref());
        assert_eq!(q.poll_pop(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(q.lost(), 2);
    }

    #[test]
    fn backpressure_returns_what_did_not_fit_and_signals_room() {
        let space = Arc::new(Notify::new());
        let q = Queue::new(2, OverflowPolicy::Backpressure, 0, Some(space.clone()));
        let Offer::Full(rest) = q.offer(0..5) else {
            panic!("expected Full")
        };
        assert_eq!(rest, VecDeque::from([2, 3, 4]));
        let mut cx = Context::from_waker(noop_waker_ref());
        assert_eq!(q.poll_pop(&mut cx), Poll::Ready(Some(0)));
        // Room was made: a waiter would be notified (the permit is stored).
        let notified = space.notified();
        futures::pin_mut!(notified);
        assert!(notified.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn take_moves_the_whole_batch_in_order_and_signals_room() {
        let space = Arc::new(Notify::new());
        let q = Queue::new(3, OverflowPolicy::Backpressure, 0, Some(space.clone()));
        assert!(matches!(q.offer(0..3), Offer::Taken));
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut local = VecDeque::new();
        assert_eq!(q.poll_take(&mut cx, &mut local), Poll::Ready(true));
        assert_eq!(local, VecDeque::from([0, 1, 2]));
        assert_eq!(q.len(), 0, "the queue has room for a new batch");
        let notified = space.notified();
        futures::pin_mut!(notified);
        assert!(
            notified.as_mut().poll(&mut cx).is_ready(),
            "a full queue was emptied"
        );
        local.clear();
        assert_eq!(q.poll_take(&mut cx, &mut local), Poll::Pending);
        q.close();
        assert_eq!(q.poll_take(&mut cx, &mut local), Poll::Ready(false));
    }

    #[test]
    fn closed_queue_ends_after_draining_and_abandoned_refuses() {
        let q = Queue::new(4, OverflowPolicy::DropOldest, 0, None);
        let _ = q.offer([1]);
        q.close();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert_eq!(q.poll_pop(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(q.poll_pop(&mut cx), Poll::Ready(None));
        q.abandon();
        assert!(matches!(q.offer([2]), Offer::Abandoned));
    }
}
