//! Who gets what: the reference-counted union of channels and groups of all
//! subscriptions, and the lookup from an envelope's `c`/`b` to the
//! subscribers that asked for it.
//!
//! The lookup is one hash probe per message: `b` (the group, wildcard or
//! presence channel it matched through) when present, else `c`. Every
//! subscriber appears at most once per name, so a subscription set whose
//! members share a channel still gets each message once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::event::{Event, EventMask};
use super::hash::FastMap;
use super::queue::{Offer, OverflowPolicy, Queue};

/// Identifies a subscriber (a subscription, a subscription set, or a
/// client-wide listener).
pub(crate) type SubscriberId = u64;

/// The queues of one subscriber: one per stream, shared between the handle
/// (which adds streams) and the multiplexer (which fills them).
pub(crate) struct Outlet {
    queues: Mutex<Vec<Arc<Queue<Event>>>>,
    capacity: usize,
    policy: OverflowPolicy,
    /// Which event kinds this subscriber takes at all (metadata entities only
    /// take App Context events).
    accepts: EventMask,
    /// Signalled when a backpressure queue makes room.
    space: Arc<Notify>,
    /// A human-readable name for loss reports.
    pub(crate) label: String,
}

/// Events a backpressure queue could not take yet.
pub(crate) struct Blocked {
    pub(crate) queue: Arc<Queue<Event>>,
    pub(crate) events: std::collections::VecDeque<Event>,
}

impl Outlet {
    pub(crate) fn new(
        capacity: usize,
        policy: OverflowPolicy,
        accepts: EventMask,
        space: Arc<Notify>,
        label: String,
    ) -> Arc<Self> {
        Arc::new(Self {
            queues: Mutex::new(Vec::new()),
            capacity,
            policy,
            accepts,
            space,
            label,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn policy(&self) -> OverflowPolicy {
        self.policy
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Queue<Event>>>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A queue for a new stream taking `mask` events. The first stream of a
    /// subscriber that has been receiving without any stream claims the
    /// backlog (keeping the events it wants).
    pub(crate) fn new_queue(&self, mask: EventMask) -> Arc<Queue<Event>> {
        let mut queues = self.lock();
        queues.retain(|q| !q.is_abandoned());
        if let [only] = queues.as_slice() {
            if only.mask() == BACKLOG_MASK {
                only.retain_mask(mask.0, |mask, event| EventMask(mask).wants(event));
                return Arc::clone(only);
            }
        }
        let queue = Queue::new(
            self.capacity,
            self.policy,
            mask.0,
            self.backpressure_signal(),
        );
        queues.push(Arc::clone(&queue));
        queue
    }

    fn backpressure_signal(&self) -> Option<Arc<Notify>> {
        (self.policy == OverflowPolicy::Backpressure).then(|| Arc::clone(&self.space))
    }

    /// Offers a batch to every stream of this subscriber. Returns what
    /// backpressure queues could not take, and the loss to report.
    /// The batch is moved into the last queue and cloned (an `Arc` count)
    /// only for the others; `events` is left empty.
    pub(crate) fn deliver(&self, events: &mut Vec<Event>, blocked: &mut Vec<Blocked>) -> u64 {
        let mut queues = self.lock();
        queues.retain(|q| !q.is_abandoned());
        if queues.is_empty() {
            // Nobody reads yet: keep a backlog the first stream will claim.
            queues.push(Queue::new(
                self.capacity,
                self.policy,
                BACKLOG_MASK,
                self.backpressure_signal(),
            ));
        }
        let mut lost = 0;
        let last = queues.len() - 1;
        for (index, queue) in queues.iter().enumerate() {
            let mask = EventMask(queue.mask());
            let wanted = |e: &Event| mask.wants(e) && self.accepts.wants(e);
            let (offer, unreported) = if index == last {
                queue.offer_counting(events.drain(..).filter(wanted))
            } else {
                queue.offer_counting(events.iter().filter(|e| wanted(e)).cloned())
            };
            if let Offer::Full(rest) = offer {
                blocked.push(Blocked {
                    queue: Arc::clone(queue),
                    events: rest,
                });
            }
            lost += unreported;
        }
        lost
    }

    /// Ends every stream of this subscriber (once drained).
    pub(crate) fn close(&self) {
        let mut queues = self.lock();
        for queue in queues.drain(..) {
            queue.close();
        }
    }
}

/// The mask marking a backlog queue (kept while no stream exists).
const BACKLOG_MASK: u8 = 0x80 | EventMask::ALL.0;

struct Subscriber {
    outlet: Arc<Outlet>,
    channels: Vec<String>,
    groups: Vec<String>,
}

/// The routing table.
#[derive(Default)]
pub(crate) struct Router {
    subscribers: FastMap<SubscriberId, Subscriber>,
    channels: FastMap<Arc<str>, Vec<SubscriberId>>,
    groups: FastMap<Arc<str>, Vec<SubscriberId>>,
}

impl Router {
    /// Adds (or replaces) a subscriber under the given wire names (including
    /// `-pnpres` names for presence). Returns whether the union changed.
    pub(crate) fn insert(
        &mut self,
        id: SubscriberId,
        outlet: Arc<Outlet>,
        channels: Vec<String>,
        groups: Vec<String>,
    ) -> bool {
        let mut removed = self.remove_names(id);
        let mut added = Vec::new();
        for name in &channels {
            if add_id(&mut self.channels, name, id) {
                added.push((1u8, name.clone()));
            }
        }
        for name in &groups {
            if add_id(&mut self.groups, name, id) {
                added.push((2u8, name.clone()));
            }
        }
        self.subscribers.insert(
            id,
            Subscriber {
                outlet,
                channels,
                groups,
            },
        );
        removed.sort_unstable();
        added.sort_unstable();
        removed != added
    }

    /// Removes a subscriber. Returns its outlet and whether the union changed.
    pub(crate) fn remove(&mut self, id: SubscriberId) -> Option<(Arc<Outlet>, bool)> {
        let removed = self.remove_names(id);
        let subscriber = self.subscribers.remove(&id)?;
        Some((subscriber.outlet, !removed.is_empty()))
    }

    /// Unregisters a subscriber's names; returns the names that left the union.
    fn remove_names(&mut self, id: SubscriberId) -> Vec<(u8, String)> {
        let mut gone = Vec::new();
        if let Some(old) = self.subscribers.get(&id) {
            for name in &old.channels {
                if remove_id(&mut self.channels, name, id) {
                    gone.push((1u8, name.clone()));
                }
            }
            for name in &old.groups {
                if remove_id(&mut self.groups, name, id) {
                    gone.push((2u8, name.clone()));
                }
            }
        }
        gone
    }

    /// Channel names of the long-poll, sorted.
    pub(crate) fn channels(&self) -> BTreeSet<&str> {
        self.channels.keys().map(|k| k.as_ref()).collect()
    }

    /// Channel group names of the long-poll, sorted.
    pub(crate) fn groups(&self) -> BTreeSet<&str> {
        self.groups.keys().map(|k| k.as_ref()).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    /// The subscribers an envelope goes to: by `b` when present (group,
    /// wildcard, presence channel), else by `c`.
    pub(crate) fn route<'a>(
        &'a self,
        channel: &str,
        subscription: Option<&str>,
    ) -> impl Iterator<Item = SubscriberId> + 'a {
        let (by_channel, by_group) = match subscription {
            Some(name) => (self.channels.get(name), self.groups.get(name)),
            None => (self.channels.get(channel), None),
        };
        let first = by_channel.map(Vec::as_slice).unwrap_or(&[]);
        let second = by_group.map(Vec::as_slice).unwrap_or(&[]);
        first
            .iter()
            .copied()
            .chain(second.iter().copied().filter(move |id| !first.contains(id)))
    }

    /// Every subscriber's id.
    pub(crate) fn ids(&self) -> Vec<SubscriberId> {
        self.subscribers.keys().copied().collect()
    }

    pub(crate) fn outlet(&self, id: SubscriberId) -> Option<&Arc<Outlet>> {
        self.subscribers.get(&id).map(|s| &s.outlet)
    }

    /// Every outlet (to close them on shutdown).
    pub(crate) fn drain_outlets(&mut self) -> Vec<Arc<Outlet>> {
        self.channels.clear();
        self.groups.clear();
        self.subscribers.drain().map(|(_, s)| s.outlet).collect()
    }
}

/// Registers `id` under `name`; returns whether `name` is new to the union.
fn add_id(map: &mut FastMap<Arc<str>, Vec<SubscriberId>>, name: &str, id: SubscriberId) -> bool {
    match map.get_mut(name) {
        Some(ids) => {
            if !ids.contains(&id) {
                ids.push(id);
            }
            false
        }
        None => {
            map.insert(Arc::from(name), vec![id]);
            true
        }
    }
}

/// Unregisters `id` from `name`; returns whether `name` left the union.
fn remove_id(map: &mut FastMap<Arc<str>, Vec<SubscriberId>>, name: &str, id: SubscriberId) -> bool {
    let Some(ids) = map.get_mut(name) else {
        return false;
    };
    ids.retain(|other| *other != id);
    if ids.is_empty() {
        map.remove(name);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlet() -> Arc<Outlet> {
        Outlet::new(
            8,
            OverflowPolicy::DropOldest,
            EventMask::ALL,
            Arc::new(Notify::new()),
            "t".into(),
        )
    }

    #[test]
    fn union_is_reference_counted() {
        let mut r = Router::default();
        assert!(r.insert(1, outlet(), vec!["a".into(), "b".into()], vec![]));
        assert!(r.insert(2, outlet(), vec!["a".into()], vec!["g".into()]));
        assert_eq!(r.channels().into_iter().collect::<Vec<_>>(), ["a", "b"]);
        // Removing 2 drops g but keeps a (still used by 1).
        let (_, changed) = r.remove(2).unwrap();
        assert!(changed);
        assert_eq!(r.channels().into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(r.groups().is_empty());
        // Re-inserting the same names is not a change.
        assert!(!r.insert(1, outlet(), vec!["b".into(), "a".into()], vec![]));
    }

    #[test]
    fn routes_by_subscription_match_then_channel() {
        let mut r = Router::default();
        r.insert(1, outlet(), vec!["a".into()], vec![]);
        r.insert(2, outlet(), vec!["news.*".into()], vec!["g".into()]);
        r.insert(3, outlet(), vec!["a".into(), "a-pnpres".into()], vec![]);
        assert_eq!(r.route("a", None).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(r.route("news.eu", Some("news.*")).collect::<Vec<_>>(), [2]);
        assert_eq!(r.route("x", Some("g")).collect::<Vec<_>>(), [2]);
        assert_eq!(r.route("a-pnpres", None).collect::<Vec<_>>(), [3]);
        assert_eq!(r.route("zzz", None).count(), 0);
    }
}
