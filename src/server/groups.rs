//! Channel groups (PROTOCOL.md §7): a named set of channels per keyset, with
//! a reverse index so a publish finds the groups of its channel in O(1).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde_json::json;

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, service, ApiError};
use super::keyset::KeysetHandle;
use super::storage::{Persist, Table};
use super::wire::RequestCtx;

/// PubNub's limit of channels in one group.
pub(crate) const MAX_CHANNELS_PER_GROUP: usize = 2000;

/// The groups of one keyset.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    groups: BTreeMap<String, BTreeSet<String>>,
    by_channel: HashMap<String, BTreeSet<String>>,
}

impl Groups {
    /// The groups `channel` belongs to.
    pub(crate) fn groups_of(&self, channel: &str) -> impl Iterator<Item = &String> {
        self.by_channel.get(channel).into_iter().flatten()
    }

    /// Every group with its channels, by name (the console).
    pub(crate) fn all(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.groups
    }

    /// The channels of `group` (empty for an unknown group).
    pub(crate) fn channels_of(&self, group: &str) -> impl Iterator<Item = &String> {
        self.groups.get(group).into_iter().flatten()
    }

    fn add(&mut self, group: &str, channels: &[String]) -> Result<(), String> {
        let current = self.groups.get(group);
        let new = channels
            .iter()
            .filter(|c| current.is_none_or(|members| !members.contains(*c)))
            .count();
        if current.map_or(0, BTreeSet::len) + new > MAX_CHANNELS_PER_GROUP {
            return Err(format!(
                "a channel group holds at most {MAX_CHANNELS_PER_GROUP} channels"
            ));
        }
        let members = self.groups.entry(group.to_owned()).or_default();
        for channel in channels {
            members.insert(channel.clone());
            self.by_channel
                .entry(channel.clone())
                .or_default()
                .insert(group.to_owned());
        }
        Ok(())
    }

    fn remove(&mut self, group: &str, channels: &[String]) {
        let Some(members) = self.groups.get_mut(group) else {
            return;
        };
        for channel in channels {
            if members.remove(channel) {
                unindex(&mut self.by_channel, channel, group);
            }
        }
    }

    fn delete(&mut self, group: &str) {
        if let Some(members) = self.groups.remove(group) {
            for channel in &members {
                unindex(&mut self.by_channel, channel, group);
            }
        }
    }

    fn names(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// Keeps the current channels of `group` (or its removal) in the data dir.
    fn keep(&self, persist: &Persist, group: &str) {
        match self.groups.get(group) {
            Some(channels) => persist.put(Table::Groups, &group, channels),
            None => persist.delete(Table::Groups, &group),
        }
    }

    /// Puts a group read back from the data dir.
    pub(crate) fn restore(&mut self, group: &str, channels: &[String]) {
        self.groups.entry(group.to_owned()).or_default();
        let _ = self.add(group, channels);
    }
}

fn unindex(by_channel: &mut HashMap<String, BTreeSet<String>>, channel: &str, group: &str) {
    if let Some(groups) = by_channel.get_mut(channel) {
        groups.remove(group);
        if groups.is_empty() {
            by_channel.remove(channel);
        }
    }
}

fn ok_message() -> Response<Body> {
    ok_json(r#"{"status":200,"message":"OK","service":"channel-registry","error":false}"#)
}

/// What a channel-registration request asks for.
pub(crate) enum GroupOp<'a> {
    /// `GET …/channel-group` (list the keyset's groups).
    ListGroups,
    /// `GET …/channel-group/{group}` with optional `add` / `remove`.
    Group(&'a str),
    /// `GET …/channel-group/{group}/remove`.
    Delete(&'a str),
}

/// `GET /v1/channel-registration/sub-key/{sub}/channel-group[/{group}[/remove]]`.
pub(crate) fn channel_registration(
    app: &App,
    keyset: &Arc<KeysetHandle>,
    ctx: &RequestCtx,
    op: GroupOp<'_>,
) -> Result<Response<Body>, ApiError> {
    match op {
        GroupOp::ListGroups => {
            app.authorize(keyset, ctx, Permission::Manage, &Resources::keyset())?;
            let names = keyset.lock().groups.names();
            Ok(ok_json(
                json!({
                    "status": 200,
                    "payload": {"sub_key": &*keyset.subscribe_key, "groups": names},
                    "service": "channel-registry",
                    "error": false
                })
                .to_string(),
            ))
        }
        GroupOp::Delete(group) => {
            check_group_name(group)?;
            app.authorize(keyset, ctx, Permission::Manage, &Resources::group(group))?;
            let mut state = keyset.lock();
            state.groups.delete(group);
            state.groups.keep(&state.persist, group);
            Ok(ok_message())
        }
        GroupOp::Group(group) => {
            check_group_name(group)?;
            let add = ctx.query.get("add").map(|_| ctx.query.list("add"));
            let remove = ctx.query.get("remove").map(|_| ctx.query.list("remove"));
            if add.is_none() && remove.is_none() {
                app.authorize(keyset, ctx, Permission::Read, &Resources::group(group))?;
                let channels: Vec<String> =
                    keyset.lock().groups.channels_of(group).cloned().collect();
                return Ok(ok_json(
                    json!({
                        "status": 200,
                        "payload": {"channels": channels, "group": group},
                        "service": "channel-registry",
                        "error": false
                    })
                    .to_string(),
                ));
            }
            app.authorize(keyset, ctx, Permission::Manage, &Resources::group(group))?;
            if add.as_ref().is_some_and(Vec::is_empty) || remove.as_ref().is_some_and(Vec::is_empty)
            {
                return Err(ApiError::bad_request(
                    service::CHANNEL_REGISTRY,
                    "`add` / `remove` need a comma-separated list of channels",
                ));
            }
            let mut state = keyset.lock();
            if let Some(add) = add {
                state
                    .groups
                    .add(group, &add)
                    .map_err(|message| ApiError::bad_request(service::CHANNEL_REGISTRY, message))?;
            }
            if let Some(remove) = remove {
                state.groups.remove(group, &remove);
            }
            state.groups.keep(&state.persist, group);
            Ok(ok_message())
        }
    }
}

fn check_group_name(group: &str) -> Result<(), ApiError> {
    if group.is_empty() || group.contains(',') {
        return Err(ApiError::bad_request(
            service::CHANNEL_REGISTRY,
            "the channel group name must be non-empty and contain no comma",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_delete_keep_the_index() {
        let mut groups = Groups::default();
        groups.add("g", &["a".into(), "b".into()]).unwrap();
        groups.add("h", &["a".into()]).unwrap();
        assert_eq!(groups.groups_of("a").collect::<Vec<_>>(), ["g", "h"]);
        groups.remove("g", &["a".into()]);
        assert_eq!(groups.groups_of("a").collect::<Vec<_>>(), ["h"]);
        groups.delete("h");
        assert_eq!(groups.groups_of("a").count(), 0);
        assert_eq!(groups.channels_of("g").collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn group_size_is_bounded() {
        let mut groups = Groups::default();
        let many: Vec<String> = (0..MAX_CHANNELS_PER_GROUP + 1)
            .map(|i| format!("c{i}"))
            .collect();
        assert!(groups.add("g", &many).is_err());
    }
}
