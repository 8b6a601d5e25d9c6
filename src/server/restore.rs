//! Start-up on a data dir: every family takes back what the storage layer
//! read ([`Snapshot`]), keyset by keyset, as its own inserts had left it.
//! Retention applies again on the way in (per-channel limits, publish
//! `ttl`, expired grants and revocations), and what it drops is dropped from
//! the data dir as well.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::access::{AccessControl, GrantEntry, Scope};
use super::actions::StoredAction;
use super::files::{enforce_byte_cap, FileBudget, KeptFile};
use super::keyset::{KeptKeyset, KeysetHandle, Keysets};
use super::message::KeptMessage;
use super::objects::{Kind, Object, Relation};
use super::push::KeptDevice;
use super::storage::{Record, Snapshot, StorageError, Table};

/// Restores everything `snapshot` holds into `keysets`.
pub(crate) fn restore(
    keysets: &Keysets,
    snapshot: &mut Snapshot,
    files: &FileBudget,
) -> Result<(), StorageError> {
    let mut restorer = Restorer {
        keysets,
        handles: BTreeMap::new(),
        skipped: BTreeMap::new(),
    };
    let config = keysets.config();
    for record in snapshot.records::<(), KeptKeyset>(Table::Keysets)? {
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            keyset.restore(record.value, config);
        }
    }

    // Messages in the order they were published: history and the recent
    // messages subscribers catch up from are rebuilt as inserts built them.
    let mut messages = snapshot.records::<u64, KeptMessage>(Table::Messages)?;
    messages.sort_by_key(|r| r.key);
    let mut restored = 0usize;
    for Record {
        subscribe_key,
        key: seq,
        value,
    } in messages
    {
        if let Some(keyset) = restorer.keyset(&subscribe_key) {
            keyset.lock().restore_message(seq, value);
            restored += 1;
        }
    }

    let mut actions = snapshot.records::<(String, u64), StoredAction>(Table::Actions)?;
    actions.sort_by_key(|r| r.key.1);
    for record in actions {
        let (channel, action_timetoken) = record.key;
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            let mut state = keyset.lock();
            state.clock.observe(action_timetoken);
            let state = &mut *state;
            state
                .store
                .channels
                .entry(Arc::from(channel.as_str()))
                .or_default()
                .actions
                .insert(&channel, action_timetoken, record.value, &state.persist);
        }
    }

    for record in snapshot.records::<String, Vec<String>>(Table::Groups)? {
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            keyset.lock().groups.restore(&record.key, &record.value);
        }
    }

    for record in snapshot.records::<(Kind, String), Object>(Table::Objects)? {
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            let (kind, id) = record.key;
            keyset
                .lock()
                .objects
                .restore_object(kind, &id, record.value);
        }
    }
    for record in snapshot.records::<(String, String), Relation>(Table::Memberships)? {
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            let (uuid, channel) = record.key;
            keyset
                .lock()
                .objects
                .restore_relation(&uuid, &channel, record.value);
        }
    }

    let mut contents: BTreeMap<(String, (String, String)), Vec<u8>> = snapshot
        .raw_records::<(String, String)>(Table::FileBytes)?
        .into_iter()
        .map(|r| ((r.subscribe_key, r.key), r.value))
        .collect();
    let mut kept_files = snapshot.records::<(String, String), KeptFile>(Table::Files)?;
    kept_files.sort_by_key(|r| r.value.seq());
    for record in kept_files {
        let Some(keyset) = restorer.keyset(&record.subscribe_key) else {
            continue;
        };
        let (channel, id) = &record.key;
        match contents.remove(&(record.subscribe_key.clone(), record.key.clone())) {
            Some(data) => keyset
                .lock()
                .files
                .restore(files, channel, id, record.value, data),
            None => {
                tracing::warn!(
                    subscribe_key = %record.subscribe_key,
                    channel,
                    id,
                    "the data dir held a file without its contents; it is dropped"
                );
                keyset.lock().persist.delete(Table::Files, &record.key);
            }
        }
    }
    // Contents whose file record is gone (a keyset loaded now) are junk.
    for ((subscribe_key, key), _) in contents {
        if let Some(keyset) = restorer.keyset(&subscribe_key) {
            keyset.lock().persist.delete(Table::FileBytes, &key);
        }
    }
    // A lower --max-file-bytes than when they were kept: the oldest go.
    enforce_byte_cap(files, keysets);

    for record in snapshot.records::<KeptDevice, Vec<String>>(Table::Push)? {
        if let Some(keyset) = restorer.keyset(&record.subscribe_key) {
            keyset.lock().push.restore(&record.key, &record.value);
        }
    }

    let now = keysets.clock().unix_secs();
    for record in snapshot.records::<(String, String), GrantEntry>(Table::Grants)? {
        let (kind, name) = &record.key;
        if let Some(scope) = Scope::from_kept(kind, name) {
            restorer.with_access(&record.subscribe_key, |access| {
                access.restore_grants(&scope, record.value, now);
            });
        }
    }
    let mut tokens = snapshot.records::<u64, String>(Table::Tokens)?;
    tokens.sort_by_key(|r| r.key);
    for record in tokens {
        restorer.with_access(&record.subscribe_key, |access| {
            access.restore_issued(record.key, record.value);
        });
    }
    for record in snapshot.records::<String, u64>(Table::Revocations)? {
        restorer.with_access(&record.subscribe_key, |access| {
            access.restore_revocation(&record.key, record.value);
        });
    }

    for (subscribe_key, why) in &restorer.skipped {
        tracing::warn!(
            %subscribe_key,
            "the data dir holds data of this keyset that is not loaded: {why}; \
             it stays in the data dir"
        );
    }
    tracing::info!(
        keysets = restorer.handles.len(),
        messages = restored,
        "state read back from the data dir"
    );
    Ok(())
}

struct Restorer<'a> {
    keysets: &'a Keysets,
    handles: BTreeMap<String, Arc<KeysetHandle>>,
    skipped: BTreeMap<String, &'static str>,
}

impl Restorer<'_> {
    fn keyset(&mut self, subscribe_key: &str) -> Option<Arc<KeysetHandle>> {
        if let Some(found) = self.handles.get(subscribe_key) {
            return Some(found.clone());
        }
        if self.skipped.contains_key(subscribe_key) {
            return None;
        }
        match self.keysets.for_restore(subscribe_key) {
            Some(handle) => {
                self.handles
                    .insert(subscribe_key.to_owned(), handle.clone());
                Some(handle)
            }
            None => {
                self.skipped.insert(
                    subscribe_key.to_owned(),
                    "the server now runs with explicit keysets that do not include it",
                );
                None
            }
        }
    }

    /// Runs `restore` on the keyset's Access Manager; a keyset without one
    /// now (no `--secret-key`) is reported as skipped.
    fn with_access(&mut self, subscribe_key: &str, restore: impl FnOnce(&AccessControl)) {
        let Some(keyset) = self.keyset(subscribe_key) else {
            return;
        };
        match keyset.access() {
            Some(access) => restore(access),
            None => {
                self.skipped.entry(subscribe_key.to_owned()).or_insert(
                    "its Access Manager grants and tokens need the keyset's secret key \
                     (--secret-key), which the server does not have now",
                );
            }
        }
    }
}
