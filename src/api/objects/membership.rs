//! Memberships (the channels a user belongs to,
//! `/v2/objects/{sub}/uuids/{uuid}/channels`) and members (the users of a
//! channel, `/v2/objects/{sub}/channels/{channel}/uuids`).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::{
    change_relations_request, get_relations_request, include_setters, list_setters, parse_page,
    validate_custom, Changes, ChannelMetadataObject, Custom, Include, ListOptions, Object,
    ObjectsPage, RelationInput, UuidMetadataObject,
};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{setters, uuid_or_own, validate_id};
use crate::entity::{ChannelMetadata, UserMetadata};
use crate::{Error, PubNub};

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

/// The setters of the membership's own fields, the check before sending
/// and the conversions from an id, for [`MembershipInput`] (`$id` =
/// `channel`) and [`MemberInput`] (`uuid`).
macro_rules! relation_input {
    ($input:ident, $id:ident) => {
        impl $input {
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
        }

        impl RelationInput for $input {
            fn validate(&self) -> Result<(), Error> {
                validate_id(stringify!($id), &self.$id.0)?;
                self.custom.as_ref().map_or(Ok(()), validate_custom)
            }
        }

        impl From<&str> for $input {
            fn from($id: &str) -> Self {
                Self::new($id)
            }
        }

        impl From<String> for $input {
            fn from($id: String) -> Self {
                Self::new($id)
            }
        }
    };
}

/// Writes the `set`, `remove` and `$listed` (`channels` / `uuids`: set or
/// remove, as the builder was created for) setters of a change builder.
macro_rules! change_setters {
    (
        $input:ty,
        $(#[$listed_doc:meta])* $listed:ident,
        $(#[$set_doc:meta])* set($set:ident),
        $(#[$remove_doc:meta])* remove($remove:ident) $(,)?
    ) => {
        $(#[$listed_doc])*
        pub fn $listed<I, M>(mut self, $listed: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<$input>,
        {
            self.changes.listed($listed);
            self
        }

        $(#[$set_doc])*
        pub fn set<I, M>(mut self, $set: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<$input>,
        {
            self.changes.set($set);
            self
        }

        $(#[$remove_doc])*
        pub fn remove<I, M>(mut self, $remove: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<$input>,
        {
            self.changes.remove($remove);
            self
        }
    };
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
}

relation_input!(MembershipInput, channel);

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
}

relation_input!(MemberInput, uuid);

/// The setters of a list of memberships (`channel`) or members (`uuid`):
/// what to include, of the membership and of the nested object, and the
/// paging options.
macro_rules! relation_list_setters {
    (channel) => {
        relation_list_setters!(
            include_channel,
            include_channel_custom,
            include_channel_status,
            include_channel_type,
            "channel"
        );
    };
    (uuid) => {
        relation_list_setters!(
            include_uuid,
            include_uuid_custom,
            include_uuid_status,
            include_uuid_type,
            "uuid"
        );
    };
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

        include_setters!();
        list_setters!();
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
    setters! {
        /// Whose memberships (default: this client's user id).
        uuid(uuid: Option<String>);
    }

    relation_list_setters!(channel);
}

impl Endpoint for GetMembershipsBuilder {
    type Output = ObjectsPage<Membership>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let request =
            get_relations_request(&self.client, Object::Uuid, &uuid, &self.include, &self.list)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<Membership>, Error> {
        parse_page("the get-memberships response", answer.body())
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
    changes: Changes<MembershipInput>,
    include: Include,
    list: ListOptions,
}

impl ManageMembershipsBuilder {
    setters! {
        /// Whose memberships (default: this client's user id).
        uuid(uuid: Option<String>);
    }

    change_setters!(
        MembershipInput,
        /// The channels to set (from `set_memberships`) or remove (from
        /// `remove_memberships`).
        channels,
        /// Memberships to create or update.
        set(memberships),
        /// Memberships to delete.
        remove(memberships),
    );

    relation_list_setters!(channel);
}

impl Endpoint for ManageMembershipsBuilder {
    type Output = ObjectsPage<Membership>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let request = change_relations_request(
            &self.client,
            Object::Uuid,
            &uuid,
            &self.changes,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<Membership>, Error> {
        parse_page("the set-memberships response", answer.body())
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
    setters! {
        /// The channel (required).
        channel(channel: String);
    }

    relation_list_setters!(uuid);
}

impl Endpoint for GetChannelMembersBuilder {
    type Output = ObjectsPage<Member>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_id("channel", &self.channel)?;
        let request = get_relations_request(
            &self.client,
            Object::Channel,
            &self.channel,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<Member>, Error> {
        parse_page("the get-channel-members response", answer.body())
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
    changes: Changes<MemberInput>,
    include: Include,
    list: ListOptions,
}

impl ManageChannelMembersBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
    }

    change_setters!(
        MemberInput,
        /// The users to set (from `set_channel_members`) or remove (from
        /// `remove_channel_members`).
        uuids,
        /// Members to add or update.
        set(members),
        /// Members to remove.
        remove(members),
    );

    relation_list_setters!(uuid);
}

impl Endpoint for ManageChannelMembersBuilder {
    type Output = ObjectsPage<Member>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_id("channel", &self.channel)?;
        let request = change_relations_request(
            &self.client,
            Object::Channel,
            &self.channel,
            &self.changes,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<Member>, Error> {
        parse_page("the set-channel-members response", answer.body())
    }
}

awaitable!(
    GetMembershipsBuilder => ObjectsPage<Membership>,
    ManageMembershipsBuilder => ObjectsPage<Membership>,
    GetChannelMembersBuilder => ObjectsPage<Member>,
    ManageChannelMembersBuilder => ObjectsPage<Member>,
);

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
        changes: Changes::new(removing),
        include: Include::default(),
        list: ListOptions::default(),
    }
}

fn manage_members(client: &PubNub, removing: bool) -> ManageChannelMembersBuilder {
    ManageChannelMembersBuilder {
        client: client.clone(),
        channel: String::new(),
        changes: Changes::new(removing),
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
    use super::super::ChangeBody;
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
