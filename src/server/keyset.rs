//! Keysets: the registry of subscribe keys and the state each one owns.
//!
//! All state of one keyset (channels, groups, presence, parked long-polls)
//! sits behind one `std::sync::Mutex`, held only for short synchronous
//! sections and never across an `.await`. Every message is inserted (and
//! gets its timetoken) while that lock is held, so within a keyset the
//! visible messages are always exactly those with a timetoken up to some
//! point — which is what lets a long-poll scan by cursor without missing
//! anything. Waking parked polls happens after the lock is released
//! ([`KeysetGuard`]'s `Drop`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, Weak};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::access::AccessControl;
use super::budget::StoreBudget;
use super::clock::Clock;
use super::config::{DevServerConfig, Keyset};
use super::errors::ApiError;
use super::files::FileBudget;
use super::files::Files;
use super::groups::Groups;
use super::message::{KeptMessage, PreparedMessage, StoredMessage};
use super::objects::Objects;
use super::presence::Presence;
use super::push::PushRegistry;
use super::storage::{Persist, Snapshot, Storage, StorageError, Table};

/// The `-pnpres` suffix of presence channels and groups.
pub(crate) const PRESENCE_SUFFIX: &str = "-pnpres";

/// `("ch", true)` for `"ch-pnpres"`, `("ch", false)` for `"ch"`.
pub(crate) fn split_presence(name: &str) -> (&str, bool) {
    match name.strip_suffix(PRESENCE_SUFFIX) {
        Some(base) if !base.is_empty() => (base, true),
        _ => (name, false),
    }
}

/// A wildcard subscription `a.*` / `a.b.*` (or its presence form
/// `a.*-pnpres`). Per PubNub's rules the pattern ends in `.*`, does not start
/// with `.`, has no other `*` and at most two dots; anything else is an
/// ordinary channel name. `a.*` matches every channel that starts with `a.`
/// (so `a.b` and `a.b.c`), never the presence channels unless the pattern is
/// the presence form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// The pattern as subscribed (the envelope's `b`).
    pub(crate) pattern: String,
    /// `"a."` for `a.*`.
    prefix: String,
    presence: bool,
}

impl Wildcard {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let (base, presence) = split_presence(name);
        let prefix = base.strip_suffix('*')?;
        let valid = prefix.len() > 1
            && prefix.ends_with('.')
            && !prefix.starts_with('.')
            && !prefix.contains('*')
            && prefix.matches('.').count() <= 2;
        valid.then(|| Self {
            pattern: name.to_owned(),
            prefix: prefix.to_owned(),
            presence,
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn matches(&self, channel: &str) -> bool {
        let (base, presence) = split_presence(channel);
        presence == self.presence
            && base.len() > self.prefix.len()
            && base.starts_with(&self.prefix)
    }
}

/// Recent messages of one channel (for subscribers) and its history.
#[derive(Debug, Default)]
pub(crate) struct ChannelData {
    /// Everything deliverable, oldest first, in `seq` order.
    pub(crate) recent: VecDeque<Arc<StoredMessage>>,
    /// Stored messages, oldest first, in timetoken order.
    pub(crate) history: VecDeque<Arc<StoredMessage>>,
    /// Message actions of this channel's messages (`actions.rs`), bounded.
    pub(crate) actions: super::actions::ChannelActions,
}

impl ChannelData {
    /// Whether the channel holds nothing any more (then eviction drops its
    /// entry). A field added to `ChannelData` must be counted here.
    fn is_empty(&self) -> bool {
        self.recent.is_empty() && self.history.is_empty() && self.actions.is_empty()
    }
}

/// Per-keyset message store.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) channels: BTreeMap<Arc<str>, ChannelData>,
}

impl Store {
    fn push(
        &mut self,
        msg: &Arc<StoredMessage>,
        retention: usize,
        history_retention: usize,
        persist: &Persist,
    ) {
        let data = self.channels.entry(msg.channel.clone()).or_default();
        data.recent.push_back(msg.clone());
        while data.recent.len() > retention {
            data.recent.pop_front();
        }
        if msg.stored && history_retention > 0 {
            // Usually the newest; a `ptto` override may place it earlier.
            let at = data
                .history
                .iter()
                .rposition(|m| m.timetoken <= msg.timetoken)
                .map_or(0, |i| i + 1);
            data.history.insert(at, msg.clone());
            while data.history.len() > history_retention {
                if let Some(dropped) = data.history.pop_front() {
                    persist.delete(Table::Messages, &dropped.seq);
                }
            }
        }
    }

    /// Removes `msg` from its channel (recent messages and history), for the
    /// global byte cap; `false` if the store no longer holds it. The oldest
    /// message is normally at the front, so this is O(1) in practice.
    pub(crate) fn evict(&mut self, msg: &Arc<StoredMessage>, persist: &Persist) -> bool {
        let Some(data) = self.channels.get_mut(&msg.channel) else {
            return false;
        };
        let mut found = false;
        if let Some(at) = data.recent.iter().position(|m| Arc::ptr_eq(m, msg)) {
            data.recent.remove(at);
            found = true;
        }
        if let Some(at) = data.history.iter().position(|m| Arc::ptr_eq(m, msg)) {
            data.history.remove(at);
            persist.delete(Table::Messages, &msg.seq);
            found = true;
        }
        if data.is_empty() {
            self.channels.remove(&msg.channel);
        }
        found
    }
}

/// Parked polls by id. The ids are the server's own counter, never chosen
/// by a client, so they need no DoS-resistant hash: a multiplicative one
/// ([`PollIdHasher`]) spreads them at a fraction of SipHash's cost, and a
/// poll adds and removes itself on every long-poll.
type WaiterSet = HashMap<u64, Arc<Notify>, BuildHasherDefault<PollIdHasher>>;

/// Fibonacci hashing of a poll id (see [`WaiterSet`]).
#[derive(Debug, Default, Clone, Copy)]
struct PollIdHasher(u64);

impl Hasher for PollIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed (`write_u64`); fold anything else in.
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Parked long-polls, indexed by what they wait on, so that a publish wakes
/// only the polls that care about its channel.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    channels: HashMap<String, WaiterSet>,
    groups: HashMap<String, WaiterSet>,
    wildcards: HashMap<String, (Wildcard, WaiterSet)>,
}

/// What one long-poll waits on.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitKeys {
    pub(crate) channels: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) wildcards: Vec<Wildcard>,
}

impl Waiters {
    pub(crate) fn register(&mut self, id: u64, keys: &WaitKeys, notify: &Arc<Notify>) {
        /// Adds the poll to the set of `key`; the key is copied only for a
        /// new set (a channel with parked polls already has one).
        fn add(map: &mut HashMap<String, WaiterSet>, key: &str, id: u64, notify: &Arc<Notify>) {
            match map.get_mut(key) {
                Some(set) => {
                    set.insert(id, notify.clone());
                }
                None => {
                    let mut set = WaiterSet::default();
                    set.insert(id, notify.clone());
                    map.insert(key.to_owned(), set);
                }
            }
        }
        for channel in &keys.channels {
            add(&mut self.channels, channel, id, notify);
        }
        for group in &keys.groups {
            add(&mut self.groups, group, id, notify);
        }
        for wildcard in &keys.wildcards {
            self.wildcards
                .entry(wildcard.pattern.clone())
                .or_insert_with(|| (wildcard.clone(), WaiterSet::default()))
                .1
                .insert(id, notify.clone());
        }
    }

    pub(crate) fn unregister(&mut self, id: u64, keys: &WaitKeys) {
        fn remove(map: &mut HashMap<String, WaiterSet>, key: &str, id: u64) {
            if let Some(set) = map.get_mut(key) {
                set.remove(&id);
                if set.is_empty() {
                    map.remove(key);
                }
            }
        }
        for channel in &keys.channels {
            remove(&mut self.channels, channel, id);
        }
        for group in &keys.groups {
            remove(&mut self.groups, group, id);
        }
        for wildcard in &keys.wildcards {
            if let Some((_, set)) = self.wildcards.get_mut(&wildcard.pattern) {
                set.remove(&id);
                if set.is_empty() {
                    self.wildcards.remove(&wildcard.pattern);
                }
            }
        }
    }

    /// Every registered poll (shutdown).
    fn all(&self, out: &mut Vec<Arc<Notify>>) {
        let sets = self
            .channels
            .values()
            .chain(self.groups.values())
            .chain(self.wildcards.values().map(|(_, set)| set));
        for set in sets {
            out.extend(set.values().cloned());
        }
    }

    /// Every poll interested in a message on `channel`.
    fn collect(&self, channel: &str, groups: &Groups, out: &mut Vec<Arc<Notify>>) {
        if let Some(set) = self.channels.get(channel) {
            out.extend(set.values().cloned());
        }
        if !self.groups.is_empty() {
            let (base, presence) = split_presence(channel);
            for group in groups.groups_of(base) {
                let set = if presence {
                    self.groups.get(&format!("{group}{PRESENCE_SUFFIX}"))
                } else {
                    self.groups.get(group)
                };
                if let Some(set) = set {
                    out.extend(set.values().cloned());
                }
            }
        }
        for (wildcard, set) in self.wildcards.values() {
            if wildcard.matches(channel) {
                out.extend(set.values().cloned());
            }
        }
    }
}

/// Everything one keyset owns.
#[derive(Debug)]
pub(crate) struct KeysetState {
    pub(crate) subscribe_key: Arc<str>,
    pub(crate) config: Arc<DevServerConfig>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) store: Store,
    pub(crate) groups: Groups,
    pub(crate) presence: Presence,
    pub(crate) waiters: Waiters,
    /// App Context metadata and memberships.
    pub(crate) objects: Objects,
    /// This keyset's way into the data dir (a no-op in memory).
    pub(crate) persist: Persist,
    /// Uploaded files and upload forms (`files.rs`).
    pub(crate) files: Files,
    /// Mobile Push registrations and recorded notifications (`push.rs`).
    pub(crate) push: PushRegistry,
    /// Polls to wake once the lock is released.
    wakes: Vec<Arc<Notify>>,
    /// The server-wide byte cap every stored message is charged to.
    budget: Arc<StoreBudget>,
    /// This state itself, for the budget's eviction order.
    me: Weak<Mutex<KeysetState>>,
    /// An insert went over the cap: evict once the lock is released.
    evict_due: bool,
}

impl KeysetState {
    /// Gives a prepared message its timetoken, stores it and schedules the
    /// wake-up of every interested poll.
    pub(crate) fn insert(&mut self, prepared: PreparedMessage) -> Arc<StoredMessage> {
        let sequence = prepared.sequence();
        let msg = Arc::new(prepared.finish(self.clock.tick()).charged_to(&self.budget));
        if msg.stored && self.config.history_retention > 0 {
            self.persist
                .put(Table::Messages, &msg.seq, &msg.kept(sequence));
        }
        self.hold(&msg);
        self.waiters
            .collect(&msg.channel, &self.groups, &mut self.wakes);
        msg
    }
}

impl KeysetState {
    /// Removes `msg` for the global byte cap (see [`Store::evict`]).
    pub(crate) fn evict(&mut self, msg: &Arc<StoredMessage>) -> bool {
        self.store.evict(msg, &self.persist)
    }

    /// Puts a message read back from the data dir into history and the
    /// recent messages, as its insert did; expired ones are forgotten.
    /// Call in `seq` order.
    pub(crate) fn restore_message(&mut self, seq: u64, kept: KeptMessage) {
        let msg = kept.restore(&self.subscribe_key, seq);
        // Expired, or history is off now: dropped here as on disk.
        if !msg.is_live(self.clock.now()) || self.config.history_retention == 0 {
            self.persist.delete(Table::Messages, &seq);
            return;
        }
        // `seq` is the server's own timetoken (a `ptto` may be anything).
        self.clock.observe(msg.seq);
        let msg = Arc::new(msg.charged_to(&self.budget));
        self.hold(&msg);
    }

    /// Puts `msg` into its channel's store under the retention limits and
    /// charges it to the global byte cap.
    fn hold(&mut self, msg: &Arc<StoredMessage>) {
        self.store.push(
            msg,
            self.config.effective_channel_retention(),
            self.config.history_retention,
            &self.persist,
        );
        self.budget.track(msg, &self.me);
        self.evict_due |= self.budget.over();
    }

    /// Schedules the wake-up of every registered poll (shutdown).
    pub(crate) fn wake_all_polls(&mut self) {
        self.waiters.all(&mut self.wakes);
    }
}

/// One keyset: its keys and its state.
#[derive(Debug)]
pub(crate) struct KeysetHandle {
    pub(crate) subscribe_key: Arc<str>,
    /// The publish key that must match, for explicit keysets.
    pub(crate) publish_key: Option<String>,
    /// Access Manager: set from the start when the keyset has a secret key,
    /// or later by trust on first use ([`KeysetHandle::enable_first_use`]);
    /// never unset. Read it with [`KeysetHandle::access`].
    access: OnceLock<AccessControl>,
    state: Arc<Mutex<KeysetState>>,
    next_poll_id: AtomicU64,
    /// The keyset record's way into the data dir.
    persist: Persist,
}

/// Exclusive access to a keyset's state; wakes scheduled polls on drop,
/// after the lock is released, and then enforces the global byte cap if an
/// insert went over it.
pub(crate) struct KeysetGuard<'a> {
    guard: Option<MutexGuard<'a, KeysetState>>,
}

impl Deref for KeysetGuard<'_> {
    type Target = KeysetState;

    fn deref(&self) -> &KeysetState {
        // `guard` is only `None` inside `drop`.
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for KeysetGuard<'_> {
    fn deref_mut(&mut self) -> &mut KeysetState {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for KeysetGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            let wakes = std::mem::take(&mut guard.wakes);
            let evict = std::mem::take(&mut guard.evict_due).then(|| guard.budget.clone());
            drop(guard);
            for notify in wakes {
                notify.notify_one();
            }
            if let Some(budget) = evict {
                budget.evict();
            }
        }
    }
}

/// A keyset as the data dir keeps it (table `keysets`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct KeptKeyset {
    /// The signing key the server made up when Access Manager came on by
    /// trust on first use (tokens it signed stay valid after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_use_secret: Option<String>,
}

impl KeysetHandle {
    fn new(
        keyset: Keyset,
        config: Arc<DevServerConfig>,
        clock: Arc<Clock>,
        budget: Arc<StoreBudget>,
        explicit: bool,
        storage: &Storage,
    ) -> Self {
        let subscribe_key: Arc<str> = Arc::from(keyset.subscribe_key.as_str());
        let persist = storage.keyset(&subscribe_key);
        Self {
            subscribe_key: subscribe_key.clone(),
            access: AccessControl::new(&keyset, &config, &persist)
                .map_or_else(OnceLock::new, OnceLock::from),
            publish_key: explicit.then_some(keyset.publish_key),
            persist: persist.clone(),
            state: Arc::new_cyclic(|me| {
                Mutex::new(KeysetState {
                    subscribe_key,
                    config,
                    clock,
                    store: Store::default(),
                    groups: Groups::default(),
                    presence: Presence::default(),
                    waiters: Waiters::default(),
                    objects: Objects::kept_in(&persist),
                    files: Files::kept_in(&persist),
                    persist,
                    push: PushRegistry::default(),
                    wakes: Vec::new(),
                    budget,
                    me: me.clone(),
                    evict_due: false,
                })
            }),
            next_poll_id: AtomicU64::new(1),
        }
    }

    /// Locks the keyset state. A poisoned lock (a panic elsewhere) is
    /// recovered: the state is plain data that stays consistent per call.
    pub(crate) fn lock(&self) -> KeysetGuard<'_> {
        KeysetGuard {
            guard: Some(self.state.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// The keyset's Access Manager, `None` while the keyset is open.
    pub(crate) fn access(&self) -> Option<&AccessControl> {
        self.access.get()
    }

    /// Turns Access Manager on for a keyset that has none, by trust on first
    /// use (see `access/mod.rs`), and logs it at WARN; returns the keyset's
    /// Access Manager (the existing one if it already had one).
    pub(crate) fn enable_first_use(&self, config: &DevServerConfig) -> &AccessControl {
        self.access.get_or_init(|| {
            tracing::warn!(
                subscribe_key = %self.subscribe_key,
                "Access Manager is on for this keyset by trust on first use: a signed \
                 administration request arrived and the server has no secret key, so signed \
                 requests are accepted without verifying their signature and every other \
                 request now needs a grant or a token; start pubnub-dev-server with \
                 --subscribe-key, --publish-key and --secret-key to verify signatures"
            );
            let access = self.first_use_access(config, None);
            self.keep(Some(access.signing_secret()));
            access
        })
    }

    /// Access Manager by trust on first use, signing with `secret` (kept
    /// from an earlier run) or a new random key.
    fn first_use_access(&self, config: &DevServerConfig, secret: Option<String>) -> AccessControl {
        let keyset = Keyset::new(
            self.subscribe_key.as_ref(),
            self.publish_key.as_deref().unwrap_or_default(),
        );
        AccessControl::first_use(&keyset, config, secret, &self.persist)
    }

    /// Keeps the keyset record in the data dir.
    fn keep(&self, first_use_secret: Option<&str>) {
        self.persist.put(
            Table::Keysets,
            &(),
            &KeptKeyset {
                first_use_secret: first_use_secret.map(str::to_owned),
            },
        );
    }

    /// Puts the keyset record read back from the data dir.
    pub(crate) fn restore(&self, kept: KeptKeyset, config: &DevServerConfig) {
        if let Some(secret) = kept.first_use_secret {
            // Creating the keyset wrote a record without the secret.
            self.keep(Some(&secret));
            let _ = self
                .access
                .get_or_init(|| self.first_use_access(config, Some(secret)));
        }
    }

    pub(crate) fn next_poll_id(&self) -> u64 {
        self.next_poll_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The registry of keysets.
#[derive(Debug)]
pub(crate) struct Keysets {
    config: Arc<DevServerConfig>,
    clock: Arc<Clock>,
    budget: Arc<StoreBudget>,
    storage: Storage,
    map: RwLock<HashMap<String, Arc<KeysetHandle>>>,
}

impl Keysets {
    /// The configured keysets, and every keyset the snapshot read back from
    /// the data dir holds, with all it kept.
    pub(crate) fn new(
        config: Arc<DevServerConfig>,
        clock: Arc<Clock>,
        storage: Storage,
        snapshot: &mut Snapshot,
        files: &FileBudget,
    ) -> Result<Self, StorageError> {
        let budget = Arc::new(StoreBudget::new(config.max_store_bytes));
        let map = config
            .keysets
            .iter()
            .map(|keyset| {
                (
                    keyset.subscribe_key.clone(),
                    Arc::new(KeysetHandle::new(
                        keyset.clone(),
                        config.clone(),
                        clock.clone(),
                        budget.clone(),
                        true,
                        &storage,
                    )),
                )
            })
            .collect();
        let keysets = Self {
            config,
            clock,
            budget,
            storage,
            map: RwLock::new(map),
        };
        if !snapshot.is_empty() {
            super::restore::restore(&keysets, snapshot, files)?;
        }
        Ok(keysets)
    }

    /// The keyset of `subscribe_key` for data read back from the data dir;
    /// `None` when the configured keysets no longer include it.
    pub(crate) fn for_restore(&self, subscribe_key: &str) -> Option<Arc<KeysetHandle>> {
        self.resolve(subscribe_key).ok()
    }

    /// The server configuration.
    pub(crate) fn config(&self) -> &DevServerConfig {
        &self.config
    }

    /// The server clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The keyset of `subscribe_key`: created on first use in open mode,
    /// 400 "Invalid Subscribe Key" when explicit keysets are configured and
    /// this is not one of them.
    pub(crate) fn resolve(&self, subscribe_key: &str) -> Result<Arc<KeysetHandle>, ApiError> {
        if subscribe_key.is_empty() {
            return Err(ApiError::InvalidSubscribeKey);
        }
        if let Some(found) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subscribe_key)
        {
            return Ok(found.clone());
        }
        if !self.config.keysets.is_empty() {
            return Err(ApiError::InvalidSubscribeKey);
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let handle = map.entry(subscribe_key.to_owned()).or_insert_with(|| {
            let handle = KeysetHandle::new(
                Keyset::new(subscribe_key, ""),
                self.config.clone(),
                self.clock.clone(),
                self.budget.clone(),
                false,
                &self.storage,
            );
            handle.keep(None);
            Arc::new(handle)
        });
        Ok(handle.clone())
    }

    /// The keyset of `subscribe_key` if it exists, without creating one.
    pub(crate) fn find(&self, subscribe_key: &str) -> Option<Arc<KeysetHandle>> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subscribe_key)
            .cloned()
    }

    /// The global byte cap of stored messages.
    pub(crate) fn budget(&self) -> &StoreBudget {
        &self.budget
    }

    /// A snapshot of every keyset (for the presence sweep).
    pub(crate) fn all(&self) -> Vec<Arc<KeysetHandle>> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_rules() {
        let w = Wildcard::parse("a.*").unwrap();
        assert!(w.matches("a.b"));
        assert!(w.matches("a.b.c"));
        assert!(!w.matches("a."));
        assert!(!w.matches("ab.c"));
        assert!(!w.matches("a.b-pnpres"));
        let wp = Wildcard::parse("a.*-pnpres").unwrap();
        assert!(wp.matches("a.b-pnpres"));
        assert!(!wp.matches("a.b"));
        assert!(Wildcard::parse("a.b.*").is_some());
        for literal in ["*", ".*", "a.*.b", "a*", "a.", "a.b.c.*", "a*b"] {
            assert!(Wildcard::parse(literal).is_none(), "{literal}");
        }
    }

    #[test]
    fn presence_names_split() {
        assert_eq!(split_presence("ch-pnpres"), ("ch", true));
        assert_eq!(split_presence("ch"), ("ch", false));
        assert_eq!(split_presence("-pnpres"), ("-pnpres", false));
    }
}
