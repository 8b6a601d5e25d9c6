//! Splitting a channel and group union that does not fit one subscribe URL
//! into several long-polls ("shards"), each under a byte budget
//! ([`ConfigBuilder::max_subscribe_list_bytes`](crate::ConfigBuilder::max_subscribe_list_bytes)).
//!
//! Assignment is sticky: a channel stays in the shard it joined until it
//! leaves, so it is never received from two cursors (which could lose or
//! repeat messages); new names go to the first shard with room, or a new
//! one; a shard left empty is dropped. Heartbeats and leaves split the same
//! way with [`chunks`].

use std::collections::BTreeSet;

use super::engine::StatusKind;
use crate::transport::encoding::encode;

/// How a session-level status comes out of the shards' statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    /// `Connected`, naming the whole union (the first time every shard is
    /// connected in this session).
    Connected,
    /// `SubscriptionChanged`, naming the whole union (the union changed, or a
    /// new shard joined, while connected).
    SubscriptionChanged,
    /// `Disconnected` (every shard stopped).
    Disconnected,
    /// The shard's own status, naming its channels (reconnected, lost,
    /// failed, gaps).
    ShardStatus,
    /// Nothing yet: other shards are still connecting, or still running.
    Nothing,
}

/// The session state of a sharded subscribe loop: whether `Connected` was
/// reported. A pure state machine: the actor feeds it each shard's status
/// with whether every shard is connected (receiving) or idle (stopped or
/// unsubscribed) now, and reports what it says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    announced_connected: bool,
}

impl Session {
    /// What the client reports for `kind` from one shard.
    pub(crate) fn on_status(
        &mut self,
        kind: &StatusKind,
        all_connected: bool,
        all_idle: bool,
    ) -> Reported {
        match kind {
            StatusKind::Connected | StatusKind::SubscriptionChanged => {
                if !all_connected {
                    return Reported::Nothing;
                }
                let first = !self.announced_connected;
                self.announced_connected = true;
                if first && *kind == StatusKind::Connected {
                    Reported::Connected
                } else {
                    Reported::SubscriptionChanged
                }
            }
            StatusKind::Reconnected => {
                self.announced_connected = true;
                Reported::ShardStatus
            }
            StatusKind::Disconnected => {
                if !all_idle {
                    return Reported::Nothing;
                }
                self.announced_connected = false;
                Reported::Disconnected
            }
            _ => Reported::ShardStatus,
        }
    }
}

/// What one name costs in a list: its encoded length and a separator.
fn cost(name: &str) -> usize {
    encode(name).len() + 1
}

/// The names of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShardNames {
    pub(crate) channels: BTreeSet<String>,
    pub(crate) groups: BTreeSet<String>,
    /// Encoded bytes of both lists.
    bytes: usize,
}

impl ShardNames {
    pub(crate) fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty()
    }

    fn fits(&self, name: &str, budget: usize) -> bool {
        self.is_empty() || self.bytes + cost(name) <= budget
    }
}

/// Updates a sticky assignment to the union `channels` / `groups`; returns,
/// per shard, whether its names changed (new shards are appended). A shard
/// may be left empty: the caller drops it.
pub(crate) fn assign(
    shards: &mut Vec<ShardNames>,
    channels: &BTreeSet<&str>,
    groups: &BTreeSet<&str>,
    budget: usize,
) -> Vec<bool> {
    let mut changed = vec![false; shards.len()];
    // Names that left.
    for (index, shard) in shards.iter_mut().enumerate() {
        let before = (shard.channels.len(), shard.groups.len());
        shard.channels.retain(|c| channels.contains(c.as_str()));
        shard.groups.retain(|g| groups.contains(g.as_str()));
        if before != (shard.channels.len(), shard.groups.len()) {
            changed[index] = true;
            shard.bytes = shard
                .channels
                .iter()
                .chain(&shard.groups)
                .map(|n| cost(n))
                .sum();
        }
    }
    // Names that joined: first shard with room, else a new one.
    let held_channels: BTreeSet<String> = shards
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let held_groups: BTreeSet<String> = shards
        .iter()
        .flat_map(|s| s.groups.iter().cloned())
        .collect();
    let joined = channels
        .iter()
        .filter(|c| !held_channels.contains(**c))
        .map(|c| (*c, false))
        .chain(
            groups
                .iter()
                .filter(|g| !held_groups.contains(**g))
                .map(|g| (*g, true)),
        );
    for (name, is_group) in joined {
        let index = match shards
            .iter()
            .position(|s| !s.is_empty() && s.fits(name, budget))
        {
            Some(index) => index,
            None => match shards.iter().position(ShardNames::is_empty) {
                Some(index) => index,
                None => {
                    shards.push(ShardNames::default());
                    changed.push(false);
                    shards.len() - 1
                }
            },
        };
        let shard = &mut shards[index];
        if is_group {
            shard.groups.insert(name.to_owned());
        } else {
            shard.channels.insert(name.to_owned());
        }
        shard.bytes += cost(name);
        changed[index] = true;
    }
    changed
}

/// Splits names into consecutive lists of at most `budget` encoded bytes
/// (a name longer than the budget gets a list of its own), for requests
/// that carry a whole union at once (heartbeat, leave).
pub(crate) fn chunks(
    channels: &[String],
    groups: &[String],
    budget: usize,
) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut bytes = 0;
    for (name, is_group) in channels
        .iter()
        .map(|c| (c, false))
        .chain(groups.iter().map(|g| (g, true)))
    {
        let fits = out
            .last()
            .is_some_and(|(c, g)| (c.is_empty() && g.is_empty()) || bytes + cost(name) <= budget);
        if !fits {
            out.push((Vec::new(), Vec::new()));
            bytes = 0;
        }
        if let Some((c, g)) = out.last_mut() {
            if is_group {
                g.push(name.clone());
            } else {
                c.push(name.clone());
            }
        }
        bytes += cost(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn one_shard_while_it_fits() {
        let mut shards = vec![ShardNames::default()];
        let changed = assign(&mut shards, &set(&["a", "b"]), &set(&["g"]), 100);
        assert_eq!(changed, [true]);
        assert_eq!(shards.len(), 1);
        assert_eq!(shards[0].channels.len(), 2);
        assert_eq!(shards[0].groups.len(), 1);
        // Nothing new: nothing changed.
        assert_eq!(
            assign(&mut shards, &set(&["a", "b"]), &set(&["g"]), 100),
            [false]
        );
    }

    #[test]
    fn names_past_the_budget_open_new_shards_and_stay_put() {
        let mut shards = vec![ShardNames::default()];
        // Each name costs 4 bytes ("abc" + separator): two per 8-byte shard.
        assign(&mut shards, &set(&["aaa", "bbb", "ccc"]), &set(&[]), 8);
        assert_eq!(shards.len(), 2);
        let first = shards[0].channels.clone();
        // A name leaves the first shard, a new one joins: it fills the gap,
        // and no other name moves.
        let changed = assign(&mut shards, &set(&["bbb", "ccc", "ddd"]), &set(&[]), 8);
        assert_eq!(changed, [true, false]);
        assert!(shards[0].channels.contains("ddd"));
        assert!(first.contains("bbb") && shards[0].channels.contains("bbb"));
        assert_eq!(shards[1].channels, ["ccc".to_owned()].into());
        // A shard can be left empty (the caller drops it).
        let changed = assign(&mut shards, &set(&["ccc"]), &set(&[]), 8);
        assert_eq!(changed, [true, false]);
        assert!(shards[0].is_empty());
    }

    #[test]
    fn one_shard_reports_as_before() {
        let mut session = Session::default();
        assert_eq!(
            session.on_status(&StatusKind::Connected, true, false),
            Reported::Connected
        );
        assert_eq!(
            session.on_status(&StatusKind::SubscriptionChanged, true, false),
            Reported::SubscriptionChanged
        );
        assert_eq!(
            session.on_status(&StatusKind::Disconnected, false, true),
            Reported::Disconnected
        );
        assert_eq!(
            session.on_status(&StatusKind::Reconnected, true, false),
            Reported::ShardStatus
        );
        // A new session after everything stopped connects again.
        session.on_status(&StatusKind::Disconnected, false, true);
        assert_eq!(
            session.on_status(&StatusKind::Connected, true, false),
            Reported::Connected
        );
    }

    #[test]
    fn several_shards_connect_and_stop_as_one() {
        let mut session = Session::default();
        // Two of three shards connected: nothing yet; the third: Connected.
        assert_eq!(
            session.on_status(&StatusKind::Connected, false, false),
            Reported::Nothing
        );
        assert_eq!(
            session.on_status(&StatusKind::Connected, false, false),
            Reported::Nothing
        );
        assert_eq!(
            session.on_status(&StatusKind::Connected, true, false),
            Reported::Connected
        );
        // A shard added later connects: the union changed.
        assert_eq!(
            session.on_status(&StatusKind::Connected, true, false),
            Reported::SubscriptionChanged
        );
        // Per-shard trouble is reported per shard.
        let lost = StatusKind::UnexpectedDisconnect(crate::Error::Timeout {
            after: std::time::Duration::from_secs(1),
        });
        assert_eq!(
            session.on_status(&lost, false, false),
            Reported::ShardStatus
        );
        // Disconnected once the last shard stopped.
        assert_eq!(
            session.on_status(&StatusKind::Disconnected, false, false),
            Reported::Nothing
        );
        assert_eq!(
            session.on_status(&StatusKind::Disconnected, false, true),
            Reported::Disconnected
        );
    }

    #[test]
    fn chunks_cover_every_name_in_order() {
        let channels: Vec<String> = (0..10).map(|i| format!("ch{i}")).collect();
        let groups = vec!["g1".to_owned()];
        let parts = chunks(&channels, &groups, 9);
        let all: Vec<String> = parts.iter().flat_map(|(c, _)| c.clone()).collect();
        assert_eq!(all, channels);
        assert_eq!(parts.last().unwrap().1, groups);
        assert!(parts.iter().all(|(c, g)| c.len() + g.len() <= 2));
        assert!(chunks(&[], &[], 9).is_empty());
    }
}
