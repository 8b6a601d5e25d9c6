//! Access Manager v2 grants (PROTOCOL.md §8.1), held per keyset.
//!
//! A grant gives permissions on a target — the whole keyset, a channel, a
//! channel group or a uuid — either to every client ("public", a grant made
//! without auth keys) or to one auth key. Granting again on the same target
//! and auth key replaces the flags (a grant with every flag 0 is PubNub's
//! revoke and removes the entry). `ttl` is in minutes from the grant, `0`
//! never expires. A request is allowed when any live grant that applies to
//! it has the flag: the keyset-level ones, or the ones of the target —
//! public, or for the request's auth key.
//!
//! Expired grants are ignored at once and dropped when the store fills up.
//! The store holds at most [`MAX_GRANTS`] entries per keyset.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::access::Permissions;

use super::super::errors::ApiError;
use super::super::storage::{Persist, Table};
use super::Permission;

/// Most grants one keyset keeps.
pub(crate) const MAX_GRANTS: usize = 100_000;

/// What a grant or a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// The whole keyset (PubNub's "subkey" level).
    Keyset,
    Channel(&'a str),
    Group(&'a str),
    Uuid(&'a str),
}

/// One grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grant {
    #[serde(with = "permission_bits")]
    pub(crate) permissions: Permissions,
    /// As granted, in minutes (0 = forever).
    pub(crate) ttl: u32,
    /// Unix seconds; `None` never expires.
    expires_at: Option<u64>,
}

impl Grant {
    pub(crate) fn new(permissions: Permissions, ttl: u32, now: u64) -> Self {
        Self {
            permissions,
            ttl,
            expires_at: (ttl > 0).then(|| now.saturating_add(u64::from(ttl) * 60)),
        }
    }

    pub(crate) fn is_live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }

    fn allows(&self, permission: Permission, now: u64) -> bool {
        self.is_live(now) && self.permissions.contains(permission.bits())
    }

    /// Minutes left (rounded up), 0 for a grant that never expires.
    pub(crate) fn minutes_left(&self, now: u64) -> u32 {
        self.expires_at.map_or(0, |at| {
            let secs = at.saturating_sub(now);
            u32::try_from(secs.div_ceil(60)).unwrap_or(u32::MAX)
        })
    }
}

/// `Permissions` as their bits in the data dir.
mod permission_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::access::Permissions;

    pub(super) fn serialize<S: Serializer>(p: &Permissions, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(p.bits())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Permissions, D::Error> {
        u32::deserialize(d).map(Permissions::from_bits)
    }
}

/// The grants of one target (also as the data dir keeps them, keyed by
/// [`Scope::kept_key`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// For every client.
    pub(crate) public: Option<Grant>,
    /// Per auth key.
    pub(crate) by_auth: BTreeMap<String, Grant>,
}

impl Entry {
    fn allows(&self, auth: Option<&str>, permission: Permission, now: u64) -> bool {
        self.public.is_some_and(|g| g.allows(permission, now))
            || auth
                .and_then(|key| self.by_auth.get(key))
                .is_some_and(|g| g.allows(permission, now))
    }

    fn len(&self) -> usize {
        usize::from(self.public.is_some()) + self.by_auth.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn prune(&mut self, now: u64) {
        if self.public.is_some_and(|g| !g.is_live(now)) {
            self.public = None;
        }
        self.by_auth.retain(|_, g| g.is_live(now));
    }

    /// The live grants only.
    pub(crate) fn live(&self, now: u64) -> Self {
        let mut copy = self.clone();
        copy.prune(now);
        copy
    }
}

impl Scope<'_> {
    /// The key of this target's grants in the data dir.
    pub(crate) fn kept_key(&self) -> (&'static str, &str) {
        match self {
            Self::Keyset => ("keyset", ""),
            Self::Channel(name) => ("channel", name),
            Self::Group(name) => ("group", name),
            Self::Uuid(name) => ("uuid", name),
        }
    }

    /// The target of a data dir key.
    pub(crate) fn from_kept<'a>(kind: &str, name: &'a str) -> Option<Scope<'a>> {
        match kind {
            "keyset" => Some(Scope::Keyset),
            "channel" => Some(Scope::Channel(name)),
            "group" => Some(Scope::Group(name)),
            "uuid" => Some(Scope::Uuid(name)),
            _ => None,
        }
    }
}

/// Every v2 grant of a keyset.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub(crate) keyset: Entry,
    pub(crate) channels: BTreeMap<String, Entry>,
    pub(crate) groups: BTreeMap<String, Entry>,
    pub(crate) uuids: BTreeMap<String, Entry>,
    count: usize,
    /// Every change is kept here too (`storage`).
    pub(crate) persist: Persist,
}

impl Grants {
    /// Empty grants, with changes journalled to `persist`.
    pub(crate) fn kept_in(persist: &Persist) -> Self {
        Self {
            persist: persist.clone(),
            ..Self::default()
        }
    }

    /// Whether a live grant gives `permission` on `scope` to a request with
    /// `auth` (keyset-level grants apply to every scope).
    pub(crate) fn allows(
        &self,
        scope: &Scope<'_>,
        auth: Option<&str>,
        permission: Permission,
        now: u64,
    ) -> bool {
        if self.keyset.allows(auth, permission, now) {
            return true;
        }
        let entry = match scope {
            Scope::Keyset => None,
            Scope::Channel(name) => self.channels.get(*name),
            Scope::Group(name) => self.groups.get(*name),
            Scope::Uuid(name) => self.uuids.get(*name),
        };
        entry.is_some_and(|e| e.allows(auth, permission, now))
    }

    /// The grants of one target, if any.
    pub(crate) fn entry(&self, scope: &Scope<'_>) -> Option<&Entry> {
        match scope {
            Scope::Keyset => Some(&self.keyset),
            Scope::Channel(name) => self.channels.get(*name),
            Scope::Group(name) => self.groups.get(*name),
            Scope::Uuid(name) => self.uuids.get(*name),
        }
    }

    /// Sets (or, with no permission, removes) the grant of `scope` for
    /// `auth` (`None` = every client).
    pub(crate) fn set(
        &mut self,
        scope: &Scope<'_>,
        auth: Option<&str>,
        grant: Grant,
        now: u64,
    ) -> Result<(), ApiError> {
        let adding = !grant.permissions.is_empty();
        if adding && self.count >= MAX_GRANTS {
            self.prune(now);
            if self.count >= MAX_GRANTS {
                return Err(ApiError::AccessManagerFlat {
                    status: StatusCode::BAD_REQUEST,
                    message: format!(
                        "Too many grants: this keyset holds {MAX_GRANTS}; revoke some, or grant with a ttl so they expire"
                    ),
                });
            }
        }
        let (map, name) = match scope {
            Scope::Keyset => {
                let before = self.keyset.len();
                apply(&mut self.keyset, auth, adding.then_some(grant));
                self.count = self.count.saturating_sub(before) + self.keyset.len();
                self.persist
                    .put(Table::Grants, &scope.kept_key(), &self.keyset);
                return Ok(());
            }
            Scope::Channel(name) => (&mut self.channels, *name),
            Scope::Group(name) => (&mut self.groups, *name),
            Scope::Uuid(name) => (&mut self.uuids, *name),
        };
        let entry = map.entry(name.to_owned()).or_default();
        let before = entry.len();
        apply(entry, auth, adding.then_some(grant));
        let after = entry.len();
        if entry.is_empty() {
            map.remove(name);
            self.persist.delete(Table::Grants, &scope.kept_key());
        } else {
            self.persist.put(Table::Grants, &scope.kept_key(), &*entry);
        }
        self.count = self.count.saturating_sub(before) + after;
        Ok(())
    }

    /// Puts the grants of a target read back from the data dir (the expired
    /// ones are dropped, there too).
    pub(crate) fn restore(&mut self, scope: &Scope<'_>, mut entry: Entry, now: u64) {
        entry.prune(now);
        if entry.is_empty() {
            self.persist.delete(Table::Grants, &scope.kept_key());
            return;
        }
        self.count += entry.len();
        match scope {
            Scope::Keyset => self.keyset = entry,
            Scope::Channel(name) => {
                self.channels.insert((*name).to_owned(), entry);
            }
            Scope::Group(name) => {
                self.groups.insert((*name).to_owned(), entry);
            }
            Scope::Uuid(name) => {
                self.uuids.insert((*name).to_owned(), entry);
            }
        }
    }

    /// Drops every expired grant.
    fn prune(&mut self, now: u64) {
        let persist = &self.persist;
        let keyset_before = self.keyset.len();
        self.keyset.prune(now);
        if self.keyset.len() != keyset_before {
            persist.put(Table::Grants, &Scope::Keyset.kept_key(), &self.keyset);
        }
        let mut count = self.keyset.len();
        let maps = [
            ("channel", &mut self.channels),
            ("group", &mut self.groups),
            ("uuid", &mut self.uuids),
        ];
        for (kind, map) in maps {
            map.retain(|name, entry| {
                let before = entry.len();
                entry.prune(now);
                count += entry.len();
                if entry.is_empty() {
                    persist.delete(Table::Grants, &(kind, name));
                } else if entry.len() != before {
                    persist.put(Table::Grants, &(kind, name), &*entry);
                }
                !entry.is_empty()
            });
        }
        self.count = count;
    }
}

fn apply(entry: &mut Entry, auth: Option<&str>, grant: Option<Grant>) {
    match (auth, grant) {
        (None, grant) => entry.public = grant,
        (Some(key), Some(grant)) => {
            entry.by_auth.insert(key.to_owned(), grant);
        }
        (Some(key), None) => {
            entry.by_auth.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Permissions = Permissions::READ.with(Permissions::WRITE);

    #[test]
    fn grants_apply_by_level_and_auth_key() {
        let mut g = Grants::default();
        let now = 1000;
        g.set(&Scope::Channel("a"), Some("k"), Grant::new(RW, 0, now), now)
            .unwrap();
        g.set(
            &Scope::Channel("b"),
            None,
            Grant::new(Permissions::READ, 0, now),
            now,
        )
        .unwrap();
        let read = Permission::Read;
        assert!(g.allows(&Scope::Channel("a"), Some("k"), read, now));
        assert!(!g.allows(&Scope::Channel("a"), Some("other"), read, now));
        assert!(!g.allows(&Scope::Channel("a"), None, read, now));
        assert!(g.allows(&Scope::Channel("b"), None, read, now));
        assert!(g.allows(&Scope::Channel("b"), Some("k"), read, now));
        assert!(!g.allows(&Scope::Channel("b"), Some("k"), Permission::Write, now));
        assert!(!g.allows(&Scope::Group("a"), Some("k"), read, now));
        // Keyset level covers everything.
        g.set(
            &Scope::Keyset,
            Some("boss"),
            Grant::new(Permissions::MANAGE, 0, now),
            now,
        )
        .unwrap();
        assert!(g.allows(&Scope::Group("any"), Some("boss"), Permission::Manage, now));
        assert!(g.allows(&Scope::Keyset, Some("boss"), Permission::Manage, now));
        assert!(!g.allows(&Scope::Keyset, Some("k"), Permission::Manage, now));
        assert_eq!(g.count, 3);
    }

    #[test]
    fn a_grant_replaces_the_last_and_all_zero_removes_it() {
        let mut g = Grants::default();
        let now = 5;
        let scope = Scope::Uuid("u");
        g.set(&scope, Some("k"), Grant::new(RW, 0, now), now)
            .unwrap();
        g.set(
            &scope,
            Some("k"),
            Grant::new(Permissions::WRITE, 0, now),
            now,
        )
        .unwrap();
        assert!(!g.allows(&scope, Some("k"), Permission::Read, now));
        g.set(
            &scope,
            Some("k"),
            Grant::new(Permissions::new(), 0, now),
            now,
        )
        .unwrap();
        assert!(g.uuids.is_empty());
        assert_eq!(g.count, 0);
    }

    #[test]
    fn ttl_expires_on_the_minute() {
        let mut g = Grants::default();
        let now = 10_000;
        let grant = Grant::new(Permissions::READ, 2, now);
        g.set(&Scope::Channel("c"), None, grant, now).unwrap();
        assert_eq!(grant.minutes_left(now), 2);
        assert_eq!(grant.minutes_left(now + 61), 1);
        assert!(g.allows(&Scope::Channel("c"), None, Permission::Read, now + 119));
        assert!(!g.allows(&Scope::Channel("c"), None, Permission::Read, now + 120));
        g.prune(now + 120);
        assert!(g.channels.is_empty());
        assert_eq!(Grant::new(Permissions::READ, 0, now).minutes_left(now), 0);
    }
}
