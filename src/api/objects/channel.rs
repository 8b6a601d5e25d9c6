//! Channel metadata: `/v2/objects/{sub}/channels[/{channel}]`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    include_setters, list_setters, parse_data, parse_page, parse_removed, validate_custom, Custom,
    Include, ListOptions, ObjectsPage,
};
use crate::api::to_json;
use crate::api::util::validate_id;
use crate::client::Request;
use crate::entity::ChannelMetadata;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

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

fn channel_path(client: &PubNub, channel: &str) -> String {
    format!(
        "/v2/objects/{}/channels/{}",
        encode(&client.inner.config.subscribe_key),
        encode(channel)
    )
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
    /// The channel (required).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// Display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.fields.name = Some(name.into());
        self
    }

    /// Description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.fields.description = Some(description.into());
        self
    }

    /// Custom fields: a flat JSON object (`null` clears them).
    pub fn custom(mut self, custom: Value) -> Self {
        self.fields.custom = Some(custom);
        self
    }

    /// Free-form status.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.fields.status = Some(status.into());
        self
    }

    /// Free-form type.
    pub fn r#type(mut self, kind: impl Into<String>) -> Self {
        self.fields.r#type = Some(kind.into());
        self
    }

    /// Update only if the stored version still has this `eTag`
    /// (`If-Match`); otherwise the call fails with HTTP 412.
    pub fn if_match_etag(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    include_setters!();

    fn build(self) -> Result<(PubNub, Request), Error> {
        validate_id("channel", &self.channel)?;
        if let Some(custom) = &self.fields.custom {
            validate_custom(custom)?;
        }
        let body = to_json("channel metadata", &self.fields)?;
        let request = self
            .client
            .request(HttpMethod::Patch, channel_path(&self.client, &self.channel))
            .json_body(body);
        let mut request = self.include.apply(request, "channel");
        if let Some(etag) = self.if_match {
            request = request.header("If-Match", etag);
        }
        Ok((self.client, request))
    }
}

impl IntoFuture for SetChannelMetadataBuilder {
    type Output = Result<ChannelMetadataObject, Error>;
    type IntoFuture = Boxed<ChannelMetadataObject>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.build();
        Box::pin(async move {
            let (client, request) = prepared?;
            let response = client.execute(request).await?;
            parse_data("the set-channel-metadata response", &response.body)
        })
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
    /// The channel (required).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    include_setters!();
}

impl IntoFuture for GetChannelMetadataBuilder {
    type Output = Result<ChannelMetadataObject, Error>;
    type IntoFuture = Boxed<ChannelMetadataObject>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = validate_id("channel", &self.channel).map(|()| {
            let request = self
                .client
                .request(HttpMethod::Get, channel_path(&self.client, &self.channel));
            self.include.apply(request, "channel")
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_data("the get-channel-metadata response", &response.body)
        })
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

impl IntoFuture for GetAllChannelMetadataBuilder {
    type Output = Result<ObjectsPage<ChannelMetadataObject>, Error>;
    type IntoFuture = Boxed<ObjectsPage<ChannelMetadataObject>>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.list.validate().map(|()| {
            let path = format!(
                "/v2/objects/{}/channels",
                encode(&self.client.inner.config.subscribe_key)
            );
            let request = self.client.request(HttpMethod::Get, path);
            self.list.apply(self.include.apply(request, "channel"))
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_page("the get-all-channel-metadata response", &response.body)
        })
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
    /// The channel (required).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }
}

impl IntoFuture for RemoveChannelMetadataBuilder {
    type Output = Result<(), Error>;
    type IntoFuture = Boxed<()>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = validate_id("channel", &self.channel).map(|()| {
            self.client.request(
                HttpMethod::Delete,
                channel_path(&self.client, &self.channel),
            )
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_removed("the remove-channel-metadata response", &response.body)
        })
    }
}

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
