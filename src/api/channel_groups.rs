//! Channel groups: server-side named sets of channels that can be
//! subscribed to as one (PROTOCOL.md §7).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde_json::Value;

use crate::api::parse_json;
use crate::api::util::{check_error_flag, names, str_field, validate_name, validate_names};
use crate::client::Request;
use crate::entity::ChannelGroup;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// Most channels one add or remove call takes (PubNub's documented limit
/// of 200 channels per channel-group call).
pub const MAX_CHANNELS_PER_CALL: usize = 200;

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// Builder of an add-channels or remove-channels call on a channel group;
/// await it. Created by [`PubNub::add_channels_to_group`],
/// [`PubNub::remove_channels_from_group`], [`ChannelGroup::add`] and
/// [`ChannelGroup::remove`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client.add_channels_to_group().group("rooms").channels(["a", "b"]).await?;
/// // the same through the entity:
/// client.channel_group("rooms").remove(["b"]).await?;
/// # Ok(()) }
/// ```
#[must_use = "a channel-group change does nothing until it is awaited"]
#[derive(Debug)]
pub struct ChangeChannelGroupBuilder {
    client: PubNub,
    change: Change,
    group: String,
    channels: Vec<String>,
}

impl ChangeChannelGroupBuilder {
    /// The channel group (required).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// The channels to add or remove (replaces any given before; 1 ..= 200).
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channels = names(channels);
        self
    }

    /// Adds one channel to the list.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channels.push(channel.into());
        self
    }

    fn build(self) -> Result<(PubNub, Request), Error> {
        validate_name("group", "channel group", &self.group)?;
        if self.channels.is_empty() {
            return Err(Error::invalid_argument(
                "channels",
                "is empty: name at least one channel",
            ));
        }
        if self.channels.len() > MAX_CHANNELS_PER_CALL {
            return Err(Error::invalid_argument(
                "channels",
                format!(
                    "has {} channels; PubNub takes at most {MAX_CHANNELS_PER_CALL} per call: split the list",
                    self.channels.len()
                ),
            ));
        }
        validate_names("channels", "channel", &self.channels)?;
        let key = match self.change {
            Change::Add => "add",
            Change::Remove => "remove",
        };
        let request = self
            .client
            .request(HttpMethod::Get, group_path(&self.client, &self.group))
            .param(key, self.channels.join(","));
        Ok((self.client, request))
    }
}

impl IntoFuture for ChangeChannelGroupBuilder {
    type Output = Result<(), Error>;
    type IntoFuture = Boxed<()>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.build();
        Box::pin(async move {
            let (client, request) = prepared?;
            let response = client.execute(request).await?;
            check_ok("the channel-group response", &response.body)
        })
    }
}

/// The channels of a group, as [`PubNub::list_channels_in_group`] returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelGroupChannels {
    /// The group.
    pub group: String,
    /// Its channels (empty for an empty or unknown group).
    pub channels: Vec<String>,
}

/// Builder of a list-channels query; await it. Created by
/// [`PubNub::list_channels_in_group`] and [`ChannelGroup::list`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let listed = client.list_channels_in_group().group("rooms").await?;
/// println!("{:?}", listed.channels);
/// # Ok(()) }
/// ```
#[must_use = "a list query does nothing until it is awaited"]
#[derive(Debug)]
pub struct ListChannelsInGroupBuilder {
    client: PubNub,
    group: String,
}

impl ListChannelsInGroupBuilder {
    /// The channel group (required).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }
}

impl IntoFuture for ListChannelsInGroupBuilder {
    type Output = Result<ChannelGroupChannels, Error>;
    type IntoFuture = Boxed<ChannelGroupChannels>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = validate_name("group", "channel group", &self.group).map(|()| {
            self.client
                .request(HttpMethod::Get, group_path(&self.client, &self.group))
        });
        let (client, group) = (self.client, self.group);
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_list_channels(&response.body, &group)
        })
    }
}

pub(crate) fn parse_list_channels(body: &[u8], group: &str) -> Result<ChannelGroupChannels, Error> {
    const WHAT: &str = "the channel-group listing";
    let value = parse_json(WHAT, body)?;
    check_error_flag(&value, body)?;
    let payload = value
        .get("payload")
        .ok_or_else(|| Error::deserialization(WHAT, "expected `payload`", body))?;
    Ok(ChannelGroupChannels {
        group: str_field(payload, "group").unwrap_or_else(|| group.to_owned()),
        channels: string_list(payload.get("channels")),
    })
}

/// Builder of a delete-group call; await it. Created by
/// [`PubNub::delete_group`] and [`ChannelGroup::delete`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client.delete_group().group("rooms").await?;
/// # Ok(()) }
/// ```
#[must_use = "a delete does nothing until it is awaited"]
#[derive(Debug)]
pub struct DeleteGroupBuilder {
    client: PubNub,
    group: String,
}

impl DeleteGroupBuilder {
    /// The channel group (required).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }
}

impl IntoFuture for DeleteGroupBuilder {
    type Output = Result<(), Error>;
    type IntoFuture = Boxed<()>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = validate_name("group", "channel group", &self.group).map(|()| {
            let path = format!("{}/remove", group_path(&self.client, &self.group));
            self.client.request(HttpMethod::Get, path)
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            check_ok("the delete-group response", &response.body)
        })
    }
}

/// Every channel group of the keyset, as [`PubNub::list_groups`] returns them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelGroupList {
    /// The groups.
    pub groups: Vec<String>,
}

/// Builder of a list-groups query; await it. Created by [`PubNub::list_groups`].
#[must_use = "a list query does nothing until it is awaited"]
#[derive(Debug)]
pub struct ListGroupsBuilder {
    client: PubNub,
}

impl IntoFuture for ListGroupsBuilder {
    type Output = Result<ChannelGroupList, Error>;
    type IntoFuture = Boxed<ChannelGroupList>;

    fn into_future(self) -> Self::IntoFuture {
        let path = format!(
            "/v1/channel-registration/sub-key/{}/channel-group",
            encode(&self.client.inner.config.subscribe_key)
        );
        let request = self.client.request(HttpMethod::Get, path);
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(request).await?;
            const WHAT: &str = "the channel-group list";
            let value = parse_json(WHAT, &response.body)?;
            check_error_flag(&value, &response.body)?;
            Ok(ChannelGroupList {
                groups: string_list(value.pointer("/payload/groups")),
            })
        })
    }
}

fn group_path(client: &PubNub, group: &str) -> String {
    format!(
        "/v1/channel-registration/sub-key/{}/channel-group/{}",
        encode(&client.inner.config.subscribe_key),
        encode(group)
    )
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `{"status": 200, "message": "OK", "service": "channel-registry", "error": false}`.
fn check_ok(what: &'static str, body: &[u8]) -> Result<(), Error> {
    let value = parse_json(what, body)?;
    check_error_flag(&value, body)
}

impl PubNub {
    /// Adds channels to a channel group (creating it). See [`ChangeChannelGroupBuilder`].
    pub fn add_channels_to_group(&self) -> ChangeChannelGroupBuilder {
        change(self, Change::Add, String::new(), Vec::new())
    }

    /// Removes channels from a channel group. See [`ChangeChannelGroupBuilder`].
    pub fn remove_channels_from_group(&self) -> ChangeChannelGroupBuilder {
        change(self, Change::Remove, String::new(), Vec::new())
    }

    /// Lists the channels of a channel group. See [`ListChannelsInGroupBuilder`].
    pub fn list_channels_in_group(&self) -> ListChannelsInGroupBuilder {
        ListChannelsInGroupBuilder {
            client: self.clone(),
            group: String::new(),
        }
    }

    /// Deletes a channel group. See [`DeleteGroupBuilder`].
    pub fn delete_group(&self) -> DeleteGroupBuilder {
        DeleteGroupBuilder {
            client: self.clone(),
            group: String::new(),
        }
    }

    /// Lists every channel group of the keyset. See [`ListGroupsBuilder`].
    pub fn list_groups(&self) -> ListGroupsBuilder {
        ListGroupsBuilder {
            client: self.clone(),
        }
    }
}

fn change(
    client: &PubNub,
    change: Change,
    group: String,
    channels: Vec<String>,
) -> ChangeChannelGroupBuilder {
    ChangeChannelGroupBuilder {
        client: client.clone(),
        change,
        group,
        channels,
    }
}

impl ChannelGroup {
    /// Adds channels to this group.
    ///
    /// ```no_run
    /// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
    /// let rooms = client.channel_group("rooms");
    /// rooms.add(["a", "b"]).await?;
    /// assert_eq!(rooms.list().await?.channels.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn add<I, S>(&self, channels: I) -> ChangeChannelGroupBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        change(
            &self.client,
            Change::Add,
            self.name.to_string(),
            names(channels),
        )
    }

    /// Removes channels from this group.
    pub fn remove<I, S>(&self, channels: I) -> ChangeChannelGroupBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        change(
            &self.client,
            Change::Remove,
            self.name.to_string(),
            names(channels),
        )
    }

    /// Lists this group's channels.
    pub fn list(&self) -> ListChannelsInGroupBuilder {
        self.client.list_channels_in_group().group(&*self.name)
    }

    /// Deletes this group.
    pub fn delete(&self) -> DeleteGroupBuilder {
        self.client.delete_group().group(&*self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_parses_and_errors_surface() {
        let r = parse_list_channels(
            br#"{"status": 200, "payload": {"channels": ["a", "b"], "group": "g"}, "service": "channel-registry", "error": false}"#,
            "g",
        )
        .unwrap();
        assert_eq!(r.channels, ["a", "b"]);
        let e = parse_list_channels(
            br#"{"status": 400, "message": "Invalid group", "error": true, "service": "channel-registry"}"#,
            "g",
        )
        .unwrap_err();
        assert!(e.to_string().contains("Invalid group"), "{e}");
    }
}
