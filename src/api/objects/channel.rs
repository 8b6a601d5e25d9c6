//! Channel metadata: `/v2/objects/{sub}/channels[/{channel}]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    get_all_metadata_request, get_metadata_request, include_setters, list_setters,
    metadata_setters, parse_data, parse_page, remove_metadata_request, set_metadata_request,
    Custom, Include, ListOptions, MetadataFields, Object, ObjectsPage,
};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{check_ok, setters, validate_id};
use crate::entity::ChannelMetadata;
use crate::{Error, PubNub};

/// A channel's App Context metadata as the server stores it. Fields the
/// call did not `include` (custom, status, type) are `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMetadataObject {
    /// The channel.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Free-form type.
    #[serde(default, rename = "type")]
    pub r#type: Option<String>,
    /// Free-form status.
    #[serde(default)]
    pub status: Option<String>,
    /// Custom fields.
    #[serde(default)]
    pub custom: Option<Custom>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag for conditional updates ([`SetChannelMetadataBuilder::if_match_etag`]).
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// The fields sent by a set; unset ones are left out (the server keeps them).
#[derive(Debug, Default, Serialize)]
struct ChannelFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    r#type: Option<String>,
}

impl MetadataFields for ChannelFields {
    fn custom(&self) -> Option<&Value> {
        self.custom.as_ref()
    }
}

/// Builder of a set-channel-metadata call (create or update); await it.
/// Created by [`PubNub::set_channel_metadata`] and [`ChannelMetadata::set`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client
///     .set_channel_metadata()
///     .channel("lobby")
///     .name("The lobby")
///     .description("Say hi")
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a set call does nothing until it is awaited"]
#[derive(Debug)]
pub struct SetChannelMetadataBuilder {
    client: PubNub,
    channel: String,
    fields: ChannelFields,
    include: Include,
    if_match: Option<String>,
}

impl SetChannelMetadataBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
    }

    /// Description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.fields.description = Some(description.into());
        self
    }

    metadata_setters!();
    include_setters!();
}

impl Endpoint for SetChannelMetadataBuilder {
    type Output = ChannelMetadataObject;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_id("channel", &self.channel)?;
        let request = set_metadata_request(
            &self.client,
            Object::Channel,
            &self.channel,
            &self.fields,
            &self.include,
            self.if_match,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ChannelMetadataObject, Error> {
        parse_data("the set-channel-metadata response", answer.body())
    }
}

/// Builder of a get-channel-metadata query; await it. Created by
/// [`PubNub::get_channel_metadata`] and [`ChannelMetadata::get`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let lobby = client.get_channel_metadata().channel("lobby").await?;
/// println!("{:?}", lobby.description);
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetChannelMetadataBuilder {
    client: PubNub,
    channel: String,
    include: Include,
}

impl GetChannelMetadataBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
    }

    include_setters!();
}

impl Endpoint for GetChannelMetadataBuilder {
    type Output = ChannelMetadataObject;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_id("channel", &self.channel)?;
        let request =
            get_metadata_request(&self.client, Object::Channel, &self.channel, &self.include);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ChannelMetadataObject, Error> {
        parse_data("the get-channel-metadata response", answer.body())
    }
}

/// Builder of a get-all-channel-metadata query (one page); await it.
/// Created by [`PubNub::get_all_channel_metadata`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client
///     .get_all_channel_metadata()
///     .filter("name LIKE 'room*'")
///     .include_total_count(true)
///     .await?;
/// println!("{:?} rooms", page.total_count);
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetAllChannelMetadataBuilder {
    client: PubNub,
    include: Include,
    list: ListOptions,
}

impl GetAllChannelMetadataBuilder {
    include_setters!();
    list_setters!();
}

impl Endpoint for GetAllChannelMetadataBuilder {
    type Output = ObjectsPage<ChannelMetadataObject>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request =
            get_all_metadata_request(&self.client, Object::Channel, &self.include, &self.list)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<ChannelMetadataObject>, Error> {
        parse_page("the get-all-channel-metadata response", answer.body())
    }
}

/// Builder of a remove-channel-metadata call; await it. Created by
/// [`PubNub::remove_channel_metadata`] and [`ChannelMetadata::remove`].
#[must_use = "a remove call does nothing until it is awaited"]
#[derive(Debug)]
pub struct RemoveChannelMetadataBuilder {
    client: PubNub,
    channel: String,
}

impl RemoveChannelMetadataBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
    }
}

impl Endpoint for RemoveChannelMetadataBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_id("channel", &self.channel)?;
        let request = remove_metadata_request(&self.client, Object::Channel, &self.channel);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the remove-channel-metadata response", answer.body())
    }
}

awaitable!(
    SetChannelMetadataBuilder => ChannelMetadataObject,
    GetChannelMetadataBuilder => ChannelMetadataObject,
    GetAllChannelMetadataBuilder => ObjectsPage<ChannelMetadataObject>,
    RemoveChannelMetadataBuilder => (),
);

impl PubNub {
    /// Creates or updates a channel's metadata. See [`SetChannelMetadataBuilder`].
    pub fn set_channel_metadata(&self) -> SetChannelMetadataBuilder {
        SetChannelMetadataBuilder {
            client: self.clone(),
            channel: String::new(),
            fields: ChannelFields::default(),
            include: Include::default(),
            if_match: None,
        }
    }

    /// Reads a channel's metadata. See [`GetChannelMetadataBuilder`].
    pub fn get_channel_metadata(&self) -> GetChannelMetadataBuilder {
        GetChannelMetadataBuilder {
            client: self.clone(),
            channel: String::new(),
            include: Include::default(),
        }
    }

    /// Lists channels' metadata, one page at a time. See [`GetAllChannelMetadataBuilder`].
    pub fn get_all_channel_metadata(&self) -> GetAllChannelMetadataBuilder {
        GetAllChannelMetadataBuilder {
            client: self.clone(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Deletes a channel's metadata. See [`RemoveChannelMetadataBuilder`].
    pub fn remove_channel_metadata(&self) -> RemoveChannelMetadataBuilder {
        RemoveChannelMetadataBuilder {
            client: self.clone(),
            channel: String::new(),
        }
    }
}

impl ChannelMetadata {
    /// Sets this channel's metadata: `client.channel_metadata("lobby").set().name("Lobby").await`.
    pub fn set(&self) -> SetChannelMetadataBuilder {
        self.client.set_channel_metadata().channel(&*self.name)
    }

    /// Reads this channel's metadata.
    pub fn get(&self) -> GetChannelMetadataBuilder {
        self.client.get_channel_metadata().channel(&*self.name)
    }

    /// Deletes this channel's metadata.
    pub fn remove(&self) -> RemoveChannelMetadataBuilder {
        self.client.remove_channel_metadata().channel(&*self.name)
    }
}
