//! Memberships (the channels a user belongs to,
//! `/v2/objects/{sub}/uuids/{uuid}/channels`) and members (the users of a
//! channel, `/v2/objects/{sub}/channels/{channel}/uuids`).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::{
    include_setters, list_setters, parse_page, validate_custom, ChannelMetadataObject, Custom,
    Include, ListOptions, ObjectsPage, UuidMetadataObject,
};
use crate::api::to_json;
use crate::api::util::validate_id;
use crate::client::Request;
use crate::entity::{ChannelMetadata, UserMetadata};
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// A user's membership in a channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// The channel: just its `id` unless the channel fields were included.
    pub channel: ChannelMetadataObject,
    /// Custom fields of the membership.
    #[serde(default)]
    pub custom: Option<Custom>,
    /// Free-form status of the membership.
    #[serde(default)]
    pub status: Option<String>,
    /// Free-form type of the membership.
    #[serde(default, rename = "type")]
    pub r#type: Option<String>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// A member (user) of a channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The user: just its `id` unless the user fields were included.
    pub uuid: UuidMetadataObject,
    /// Custom fields of the membership.
    #[serde(default)]
    pub custom: Option<Custom>,
    /// Free-form status of the membership.
    #[serde(default)]
    pub status: Option<String>,
    /// Free-form type of the membership.
    #[serde(default, rename = "type")]
    pub r#type: Option<String>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// `{"id": "…"}` as the wire nests ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdRef(String);

impl Serialize for IdRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("id", &self.0)?;
        map.end()
    }
}

/// A membership to set or remove: the channel and optional fields of the
/// membership itself.
///
/// ```
/// use pubnub_rx::api::objects::MembershipInput;
/// let simple: MembershipInput = "lobby".into();
/// let detailed = MembershipInput::new("game")
///     .custom(serde_json::json!({"role": "admin"}))
///     .status("active");
/// # let _ = (simple, detailed);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipInput {
    channel: IdRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    r#type: Option<String>,
}

impl MembershipInput {
    /// A membership in `channel`.
    pub fn new(channel: impl Into<String>) -> Self {
        Self {
            channel: IdRef(channel.into()),
            custom: None,
            status: None,
            r#type: None,
        }
    }

    /// Custom fields of the membership (a flat JSON object).
    pub fn custom(mut self, custom: Value) -> Self {
        self.custom = Some(custom);
        self
    }

    /// Free-form status of the membership.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Free-form type of the membership.
    pub fn r#type(mut self, kind: impl Into<String>) -> Self {
        self.r#type = Some(kind.into());
        self
    }

    fn validate(&self) -> Result<(), Error> {
        validate_id("channel", &self.channel.0)?;
        self.custom.as_ref().map_or(Ok(()), validate_custom)
    }
}

impl From<&str> for MembershipInput {
    fn from(channel: &str) -> Self {
        Self::new(channel)
    }
}

impl From<String> for MembershipInput {
    fn from(channel: String) -> Self {
        Self::new(channel)
    }
}

/// A channel member to set or remove: the user and optional fields of the
/// membership itself.
///
/// ```
/// use pubnub_rx::api::objects::MemberInput;
/// let simple: MemberInput = "alice".into();
/// let detailed = MemberInput::new("bob").r#type("moderator");
/// # let _ = (simple, detailed);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberInput {
    uuid: IdRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    r#type: Option<String>,
}

impl MemberInput {
    /// The user `uuid` as a member.
    pub fn new(uuid: impl Into<String>) -> Self {
        Self {
            uuid: IdRef(uuid.into()),
            custom: None,
            status: None,
            r#type: None,
        }
    }

    /// Custom fields of the membership (a flat JSON object).
    pub fn custom(mut self, custom: Value) -> Self {
        self.custom = Some(custom);
        self
    }

    /// Free-form status of the membership.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Free-form type of the membership.
    pub fn r#type(mut self, kind: impl Into<String>) -> Self {
        self.r#type = Some(kind.into());
        self
    }

    fn validate(&self) -> Result<(), Error> {
        validate_id("uuid", &self.uuid.0)?;
        self.custom.as_ref().map_or(Ok(()), validate_custom)
    }
}

impl From<&str> for MemberInput {
    fn from(uuid: &str) -> Self {
        Self::new(uuid)
    }
}

impl From<String> for MemberInput {
    fn from(uuid: String) -> Self {
        Self::new(uuid)
    }
}

#[derive(Serialize)]
struct ChangeBody<'a, T> {
    set: &'a [T],
    delete: &'a [T],
}

fn memberships_path(client: &PubNub, uuid: &str) -> String {
    format!(
        "/v2/objects/{}/uuids/{}/channels",
        encode(&client.inner.config.subscribe_key),
        encode(uuid)
    )
}

fn members_path(client: &PubNub, channel: &str) -> String {
    format!(
        "/v2/objects/{}/channels/{}/uuids",
        encode(&client.inner.config.subscribe_key),
        encode(channel)
    )
}

/// Setters of the nested-object includes (`channel…` or `uuid…`).
macro_rules! nested_include_setters {
    ($object:ident, $custom:ident, $status:ident, $type:ident, $what:literal) => {
        #[doc = concat!("Include the ", $what, "'s metadata (`include=", $what, "`).")]
        pub fn $object(mut self, include: bool) -> Self {
            self.include.object = include;
            self
        }

        #[doc = concat!("Include the ", $what, "'s custom fields (`", $what, ".custom`).")]
        pub fn $custom(mut self, include: bool) -> Self {
            self.include.object_custom = include;
            self
        }

        #[doc = concat!("Include the ", $what, "'s status (`", $what, ".status`).")]
        pub fn $status(mut self, include: bool) -> Self {
            self.include.object_status = include;
            self
        }

        #[doc = concat!("Include the ", $what, "'s type (`", $what, ".type`).")]
        pub fn $type(mut self, include: bool) -> Self {
            self.include.object_type = include;
            self
        }
    };
}

/// Builder of a get-memberships query (one page of a user's channels);
/// await it. Created by [`PubNub::get_memberships`] and
/// [`UserMetadata::memberships`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client
///     .get_memberships()
///     .uuid("alice")
///     .include_channel(true)
///     .include_custom(true)
///     .await?;
/// for membership in &page.data {
///     println!("{} {:?}", membership.channel.id, membership.channel.name);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetMembershipsBuilder {
    client: PubNub,
    uuid: Option<String>,
    include: Include,
    list: ListOptions,
}

impl GetMembershipsBuilder {
    /// Whose memberships (default: this client's user id).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    include_setters!();
    nested_include_setters!(
        include_channel,
        include_channel_custom,
        include_channel_status,
        include_channel_type,
        "channel"
    );
    list_setters!();
}

impl IntoFuture for GetMembershipsBuilder {
    type Output = Result<ObjectsPage<Membership>, Error>;
    type IntoFuture = Boxed<ObjectsPage<Membership>>;

    fn into_future(self) -> Self::IntoFuture {
        let uuid = self
            .uuid
            .unwrap_or_else(|| self.client.inner.config.user_id.clone());
        let prepared = validate_id("uuid", &uuid)
            .and_then(|()| self.list.validate())
            .map(|()| {
                let request = self
                    .client
                    .request(HttpMethod::Get, memberships_path(&self.client, &uuid));
                self.list.apply(self.include.apply(request, "channel"))
            });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_page("the get-memberships response", &response.body)
        })
    }
}

/// Builder of a set/remove-memberships call; await it for the user's
/// memberships afterwards (one page). Created by [`PubNub::set_memberships`]
/// (where [`channels`](Self::channels) are added) and
/// [`PubNub::remove_memberships`] (where they are removed); [`set`](Self::set)
/// and [`remove`](Self::remove) do both in one call.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// use pubnub_rx::api::objects::MembershipInput;
/// client
///     .set_memberships()
///     .uuid("alice")
///     .channels(["lobby", "game"])
///     .await?;
/// client
///     .set_memberships()
///     .uuid("alice")
///     .set([MembershipInput::new("vip").status("active")])
///     .remove(["lobby"])
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a membership change does nothing until it is awaited"]
#[derive(Debug)]
pub struct ManageMembershipsBuilder {
    client: PubNub,
    uuid: Option<String>,
    removing: bool,
    set: Vec<MembershipInput>,
    remove: Vec<MembershipInput>,
    include: Include,
    list: ListOptions,
}

impl ManageMembershipsBuilder {
    /// Whose memberships (default: this client's user id).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    /// The channels to set (from `set_memberships`) or remove (from
    /// `remove_memberships`).
    pub fn channels<I, M>(self, channels: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MembershipInput>,
    {
        if self.removing {
            self.remove(channels)
        } else {
            self.set(channels)
        }
    }

    /// Memberships to create or update.
    pub fn set<I, M>(mut self, memberships: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MembershipInput>,
    {
        self.set.extend(memberships.into_iter().map(Into::into));
        self
    }

    /// Memberships to delete.
    pub fn remove<I, M>(mut self, memberships: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MembershipInput>,
    {
        self.remove.extend(memberships.into_iter().map(Into::into));
        self
    }

    include_setters!();
    nested_include_setters!(
        include_channel,
        include_channel_custom,
        include_channel_status,
        include_channel_type,
        "channel"
    );
    list_setters!();

    fn build(self) -> Result<(PubNub, Request), Error> {
        let uuid = self
            .uuid
            .unwrap_or_else(|| self.client.inner.config.user_id.clone());
        validate_id("uuid", &uuid)?;
        if self.set.is_empty() && self.remove.is_empty() {
            return Err(Error::invalid_argument(
                "channels",
                "is empty: name at least one membership to set or remove",
            ));
        }
        self.set
            .iter()
            .chain(&self.remove)
            .try_for_each(MembershipInput::validate)?;
        self.list.validate()?;
        let body = to_json(
            "memberships",
            &ChangeBody {
                set: &self.set,
                delete: &self.remove,
            },
        )?;
        let request = self
            .client
            .request(HttpMethod::Patch, memberships_path(&self.client, &uuid))
            .json_body(body);
        let request = self.list.apply(self.include.apply(request, "channel"));
        Ok((self.client, request))
    }
}

impl IntoFuture for ManageMembershipsBuilder {
    type Output = Result<ObjectsPage<Membership>, Error>;
    type IntoFuture = Boxed<ObjectsPage<Membership>>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.build();
        Box::pin(async move {
            let (client, request) = prepared?;
            let response = client.execute(request).await?;
            parse_page("the set-memberships response", &response.body)
        })
    }
}

/// Builder of a get-channel-members query (one page); await it. Created by
/// [`PubNub::get_channel_members`] and [`ChannelMetadata::members`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client
///     .get_channel_members()
///     .channel("lobby")
///     .include_uuid(true)
///     .limit(10)
///     .await?;
/// for member in &page.data {
///     println!("{} {:?}", member.uuid.id, member.uuid.name);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetChannelMembersBuilder {
    client: PubNub,
    channel: String,
    include: Include,
    list: ListOptions,
}

impl GetChannelMembersBuilder {
    /// The channel (required).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    include_setters!();
    nested_include_setters!(
        include_uuid,
        include_uuid_custom,
        include_uuid_status,
        include_uuid_type,
        "uuid"
    );
    list_setters!();
}

impl IntoFuture for GetChannelMembersBuilder {
    type Output = Result<ObjectsPage<Member>, Error>;
    type IntoFuture = Boxed<ObjectsPage<Member>>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = validate_id("channel", &self.channel)
            .and_then(|()| self.list.validate())
            .map(|()| {
                let request = self
                    .client
                    .request(HttpMethod::Get, members_path(&self.client, &self.channel));
                self.list.apply(self.include.apply(request, "uuid"))
            });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_page("the get-channel-members response", &response.body)
        })
    }
}

/// Builder of a set/remove-channel-members call; await it for the
/// channel's members afterwards (one page). Created by
/// [`PubNub::set_channel_members`] (where [`uuids`](Self::uuids) are added)
/// and [`PubNub::remove_channel_members`] (where they are removed);
/// [`set`](Self::set) and [`remove`](Self::remove) do both in one call.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// client.set_channel_members().channel("lobby").uuids(["alice", "bob"]).await?;
/// client.remove_channel_members().channel("lobby").uuids(["bob"]).await?;
/// # Ok(()) }
/// ```
#[must_use = "a member change does nothing until it is awaited"]
#[derive(Debug)]
pub struct ManageChannelMembersBuilder {
    client: PubNub,
    channel: String,
    removing: bool,
    set: Vec<MemberInput>,
    remove: Vec<MemberInput>,
    include: Include,
    list: ListOptions,
}

impl ManageChannelMembersBuilder {
    /// The channel (required).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// The users to set (from `set_channel_members`) or remove (from
    /// `remove_channel_members`).
    pub fn uuids<I, M>(self, uuids: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MemberInput>,
    {
        if self.removing {
            self.remove(uuids)
        } else {
            self.set(uuids)
        }
    }

    /// Members to add or update.
    pub fn set<I, M>(mut self, members: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MemberInput>,
    {
        self.set.extend(members.into_iter().map(Into::into));
        self
    }

    /// Members to remove.
    pub fn remove<I, M>(mut self, members: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<MemberInput>,
    {
        self.remove.extend(members.into_iter().map(Into::into));
        self
    }

    include_setters!();
    nested_include_setters!(
        include_uuid,
        include_uuid_custom,
        include_uuid_status,
        include_uuid_type,
        "uuid"
    );
    list_setters!();

    fn build(self) -> Result<(PubNub, Request), Error> {
        validate_id("channel", &self.channel)?;
        if self.set.is_empty() && self.remove.is_empty() {
            return Err(Error::invalid_argument(
                "uuids",
                "is empty: name at least one member to set or remove",
            ));
        }
        self.set
            .iter()
            .chain(&self.remove)
            .try_for_each(MemberInput::validate)?;
        self.list.validate()?;
        let body = to_json(
            "channel members",
            &ChangeBody {
                set: &self.set,
                delete: &self.remove,
            },
        )?;
        let request = self
            .client
            .request(HttpMethod::Patch, members_path(&self.client, &self.channel))
            .json_body(body);
        let request = self.list.apply(self.include.apply(request, "uuid"));
        Ok((self.client, request))
    }
}

impl IntoFuture for ManageChannelMembersBuilder {
    type Output = Result<ObjectsPage<Member>, Error>;
    type IntoFuture = Boxed<ObjectsPage<Member>>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.build();
        Box::pin(async move {
            let (client, request) = prepared?;
            let response = client.execute(request).await?;
            parse_page("the set-channel-members response", &response.body)
        })
    }
}

impl PubNub {
    /// A user's channel memberships, one page at a time. See [`GetMembershipsBuilder`].
    pub fn get_memberships(&self) -> GetMembershipsBuilder {
        GetMembershipsBuilder {
            client: self.clone(),
            uuid: None,
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Adds or updates a user's memberships. See [`ManageMembershipsBuilder`].
    pub fn set_memberships(&self) -> ManageMembershipsBuilder {
        manage_memberships(self, false)
    }

    /// Removes a user's memberships. See [`ManageMembershipsBuilder`].
    pub fn remove_memberships(&self) -> ManageMembershipsBuilder {
        manage_memberships(self, true)
    }

    /// A channel's members, one page at a time. See [`GetChannelMembersBuilder`].
    pub fn get_channel_members(&self) -> GetChannelMembersBuilder {
        GetChannelMembersBuilder {
            client: self.clone(),
            channel: String::new(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Adds or updates a channel's members. See [`ManageChannelMembersBuilder`].
    pub fn set_channel_members(&self) -> ManageChannelMembersBuilder {
        manage_members(self, false)
    }

    /// Removes members of a channel. See [`ManageChannelMembersBuilder`].
    pub fn remove_channel_members(&self) -> ManageChannelMembersBuilder {
        manage_members(self, true)
    }
}

fn manage_memberships(client: &PubNub, removing: bool) -> ManageMembershipsBuilder {
    ManageMembershipsBuilder {
        client: client.clone(),
        uuid: None,
        removing,
        set: Vec::new(),
        remove: Vec::new(),
        include: Include::default(),
        list: ListOptions::default(),
    }
}

fn manage_members(client: &PubNub, removing: bool) -> ManageChannelMembersBuilder {
    ManageChannelMembersBuilder {
        client: client.clone(),
        channel: String::new(),
        removing,
        set: Vec::new(),
        remove: Vec::new(),
        include: Include::default(),
        list: ListOptions::default(),
    }
}

impl UserMetadata {
    /// This user's channel memberships (one page).
    pub fn memberships(&self) -> GetMembershipsBuilder {
        self.client.get_memberships().uuid(&*self.name)
    }
}

impl ChannelMetadata {
    /// This channel's members (one page).
    pub fn members(&self) -> GetChannelMembersBuilder {
        self.client.get_channel_members().channel(&*self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn change_bodies_nest_ids() {
        let set = [MembershipInput::new("a")
            .custom(json!({"k": 1}))
            .status("on")
            .r#type("t")];
        let delete = [MembershipInput::from("b")];
        let body = serde_json::to_value(ChangeBody {
            set: &set,
            delete: &delete,
        })
        .unwrap();
        assert_eq!(
            body,
            json!({"set": [{"channel": {"id": "a"}, "custom": {"k": 1}, "status": "on", "type": "t"}],
                   "delete": [{"channel": {"id": "b"}}]})
        );
        let members = [MemberInput::from("u")];
        let body = serde_json::to_value(ChangeBody {
            set: &members,
            delete: &[],
        })
        .unwrap();
        assert_eq!(body, json!({"set": [{"uuid": {"id": "u"}}], "delete": []}));
    }

    #[test]
    fn membership_pages_parse() {
        let page: ObjectsPage<Member> = super::super::parse_page(
            "x",
            br#"{"status":200,"data":[{"uuid":{"id":"someuuid","name":"Caroline","custom":{"removed":false}},"type":"QA","status":"active","custom":{"isCustom":true},"updated":"2025-01-18T20:35:07.876414Z","eTag":"AcX3za6twcigZA"}],"next":"MQ"}"#,
        )
        .unwrap();
        let member = &page.data[0];
        assert_eq!(member.uuid.name.as_deref(), Some("Caroline"));
        assert_eq!(member.r#type.as_deref(), Some("QA"));
        assert_eq!(member.e_tag.as_deref(), Some("AcX3za6twcigZA"));
    }
}
