//! Channel groups: server-side named sets of channels that can be
//! subscribed to as one (PROTOCOL.md §7).

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{
    channels_setters, check_ok, parse_reply, require_channels, setters, str_field, string_list,
    validate_name, validate_names,
};
use crate::entity::ChannelGroup;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// Most channels one add or remove call takes (PubNub's documented limit
/// of 200 channels per channel-group call).
pub const MAX_CHANNELS_PER_CALL: usize = 200;

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
    setters! {
        /// The channel group (required).
        group(group: String);
    }

    channels_setters!(
        /// The channels to add or remove (replaces any given before; 1 ..= 200).
        channels
    );
}

impl Endpoint for ChangeChannelGroupBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("group", "channel group", &self.group)?;
        require_channels(&self.channels)?;
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
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the channel-group response", answer.body())
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
    setters! {
        /// The channel group (required).
        group(group: String);
    }
}

impl Endpoint for ListChannelsInGroupBuilder {
    type Output = ChannelGroupChannels;
    /// The group asked about.
    type Context = String;

    fn build(self) -> Result<Call<String>, Error> {
        validate_name("group", "channel group", &self.group)?;
        let request = self
            .client
            .request(HttpMethod::Get, group_path(&self.client, &self.group));
        Ok(Call {
            client: self.client,
            request,
            context: self.group,
        })
    }

    fn parse(answer: Answer<String>) -> Result<ChannelGroupChannels, Error> {
        parse_list_channels(answer.body(), &answer.context)
    }
}

pub(crate) fn parse_list_channels(body: &[u8], group: &str) -> Result<ChannelGroupChannels, Error> {
    const WHAT: &str = "the channel-group listing";
    let value = parse_reply(WHAT, body)?;
    let payload = value
        .get("payload")
        .ok_or_else(|| Error::deserialization(WHAT, "expected `payload`", body))?;
    Ok(ChannelGroupChannels {
        group: str_field(payload, "group").unwrap_or_else(|| group.to_owned()),
        channels: payload
            .get("channels")
            .and_then(string_list)
            .unwrap_or_default(),
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
    setters! {
        /// The channel group (required).
        group(group: String);
    }
}

impl Endpoint for DeleteGroupBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("group", "channel group", &self.group)?;
        let path = format!("{}/remove", group_path(&self.client, &self.group));
        let request = self.client.request(HttpMethod::Get, path);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the delete-group response", answer.body())
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

impl Endpoint for ListGroupsBuilder {
    type Output = ChannelGroupList;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let path = format!(
            "/v1/channel-registration/sub-key/{}/channel-group",
            encode(&self.client.inner.config.subscribe_key)
        );
        let request = self.client.request(HttpMethod::Get, path);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ChannelGroupList, Error> {
        let value = parse_reply("the channel-group list", answer.body())?;
        Ok(ChannelGroupList {
            groups: value
                .pointer("/payload/groups")
                .and_then(string_list)
                .unwrap_or_default(),
        })
    }
}

awaitable!(
    ChangeChannelGroupBuilder => (),
    ListChannelsInGroupBuilder => ChannelGroupChannels,
    DeleteGroupBuilder => (),
    ListGroupsBuilder => ChannelGroupList,
);

fn group_path(client: &PubNub, group: &str) -> String {
    format!(
        "/v1/channel-registration/sub-key/{}/channel-group/{}",
        encode(&client.inner.config.subscribe_key),
        encode(group)
    )
}

impl PubNub {
    /// Adds channels to a channel group (creating it). See [`ChangeChannelGroupBuilder`].
    pub fn add_channels_to_group(&self) -> ChangeChannelGroupBuilder {
        change(self, Change::Add)
    }

    /// Removes channels from a channel group. See [`ChangeChannelGroupBuilder`].
    pub fn remove_channels_from_group(&self) -> ChangeChannelGroupBuilder {
        change(self, Change::Remove)
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

fn change(client: &PubNub, change: Change) -> ChangeChannelGroupBuilder {
    ChangeChannelGroupBuilder {
        client: client.clone(),
        change,
        group: String::new(),
        channels: Vec::new(),
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
        self.client
            .add_channels_to_group()
            .group(&*self.name)
            .channels(channels)
    }

    /// Removes channels from this group.
    pub fn remove<I, S>(&self, channels: I) -> ChangeChannelGroupBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client
            .remove_channels_from_group()
            .group(&*self.name)
            .channels(channels)
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
