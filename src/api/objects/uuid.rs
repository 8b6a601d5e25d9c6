//! User (uuid) metadata: `/v2/objects/{sub}/uuids[/{uuid}]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    get_all_metadata_request, get_metadata_request, include_setters, list_setters,
    metadata_setters, parse_data, parse_page, remove_metadata_request, set_metadata_request,
    Custom, Include, ListOptions, MetadataFields, Object, ObjectsPage,
};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{check_ok, setters, uuid_or_own};
use crate::entity::UserMetadata;
use crate::{Error, PubNub};

/// A user's App Context metadata as the server stores it. Fields the call
/// did not `include` (custom, status, type) are `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UuidMetadataObject {
    /// The user id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Id in an external system.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Profile picture URL.
    #[serde(default)]
    pub profile_url: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
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
    /// Version tag for conditional updates ([`SetUuidMetadataBuilder::if_match_etag`]).
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// The fields sent by a set; unset ones are left out (the server keeps them).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct UuidFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    r#type: Option<String>,
}

impl MetadataFields for UuidFields {
    fn custom(&self) -> Option<&Value> {
        self.custom.as_ref()
    }
}

/// Builder of a set-uuid-metadata call (create or update); await it.
/// Created by [`PubNub::set_uuid_metadata`] and [`UserMetadata::set`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let stored = client
///     .set_uuid_metadata()
///     .uuid("alice")
///     .name("Alice")
///     .email("alice@example.com")
///     .custom(serde_json::json!({"team": "red"}))
///     .include_custom(true)
///     .await?;
/// println!("version {:?}", stored.e_tag);
/// # Ok(()) }
/// ```
#[must_use = "a set call does nothing until it is awaited"]
#[derive(Debug)]
pub struct SetUuidMetadataBuilder {
    client: PubNub,
    uuid: Option<String>,
    fields: UuidFields,
    include: Include,
    if_match: Option<String>,
}

impl SetUuidMetadataBuilder {
    setters! {
        /// Whose metadata (default: this client's user id).
        uuid(uuid: Option<String>);
    }

    /// Email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.fields.email = Some(email.into());
        self
    }

    /// Id in an external system.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.fields.external_id = Some(id.into());
        self
    }

    /// Profile picture URL.
    pub fn profile_url(mut self, url: impl Into<String>) -> Self {
        self.fields.profile_url = Some(url.into());
        self
    }

    metadata_setters!();
    include_setters!();
}

impl Endpoint for SetUuidMetadataBuilder {
    type Output = UuidMetadataObject;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let request = set_metadata_request(
            &self.client,
            Object::Uuid,
            &uuid,
            &self.fields,
            &self.include,
            self.if_match,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<UuidMetadataObject, Error> {
        parse_data("the set-uuid-metadata response", answer.body())
    }
}

/// Builder of a get-uuid-metadata query; await it. Created by
/// [`PubNub::get_uuid_metadata`] and [`UserMetadata::get`]. An unknown
/// user is an HTTP 404 error.
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let alice = client.get_uuid_metadata().uuid("alice").include_custom(true).await?;
/// println!("{:?} {:?}", alice.name, alice.custom);
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetUuidMetadataBuilder {
    client: PubNub,
    uuid: Option<String>,
    include: Include,
}

impl GetUuidMetadataBuilder {
    setters! {
        /// Whose metadata (default: this client's user id).
        uuid(uuid: Option<String>);
    }

    include_setters!();
}

impl Endpoint for GetUuidMetadataBuilder {
    type Output = UuidMetadataObject;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let request = get_metadata_request(&self.client, Object::Uuid, &uuid, &self.include);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<UuidMetadataObject, Error> {
        parse_data("the get-uuid-metadata response", answer.body())
    }
}

/// Builder of a get-all-uuid-metadata query (one page); await it. Created
/// by [`PubNub::get_all_uuid_metadata`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let mut cursor = None;
/// loop {
///     let mut query = client.get_all_uuid_metadata().limit(50).sort("name:asc");
///     if let Some(next) = cursor.take() {
///         query = query.next_page(next);
///     }
///     let page = query.await?;
///     for user in &page.data {
///         println!("{} {:?}", user.id, user.name);
///     }
///     match page.next {
///         Some(next) if !page.data.is_empty() => cursor = Some(next),
///         _ => break,
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetAllUuidMetadataBuilder {
    client: PubNub,
    include: Include,
    list: ListOptions,
}

impl GetAllUuidMetadataBuilder {
    include_setters!();
    list_setters!();
}

impl Endpoint for GetAllUuidMetadataBuilder {
    type Output = ObjectsPage<UuidMetadataObject>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request =
            get_all_metadata_request(&self.client, Object::Uuid, &self.include, &self.list)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<UuidMetadataObject>, Error> {
        parse_page("the get-all-uuid-metadata response", answer.body())
    }
}

/// Builder of a remove-uuid-metadata call; await it. Created by
/// [`PubNub::remove_uuid_metadata`] and [`UserMetadata::remove`].
#[must_use = "a remove call does nothing until it is awaited"]
#[derive(Debug)]
pub struct RemoveUuidMetadataBuilder {
    client: PubNub,
    uuid: Option<String>,
}

impl RemoveUuidMetadataBuilder {
    setters! {
        /// Whose metadata (default: this client's user id).
        uuid(uuid: Option<String>);
    }
}

impl Endpoint for RemoveUuidMetadataBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let uuid = uuid_or_own(&self.client, self.uuid)?;
        let request = remove_metadata_request(&self.client, Object::Uuid, &uuid);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the remove-uuid-metadata response", answer.body())
    }
}

awaitable!(
    SetUuidMetadataBuilder => UuidMetadataObject,
    GetUuidMetadataBuilder => UuidMetadataObject,
    GetAllUuidMetadataBuilder => ObjectsPage<UuidMetadataObject>,
    RemoveUuidMetadataBuilder => (),
);

impl PubNub {
    /// Creates or updates a user's metadata. See [`SetUuidMetadataBuilder`].
    pub fn set_uuid_metadata(&self) -> SetUuidMetadataBuilder {
        SetUuidMetadataBuilder {
            client: self.clone(),
            uuid: None,
            fields: UuidFields::default(),
            include: Include::default(),
            if_match: None,
        }
    }

    /// Reads a user's metadata. See [`GetUuidMetadataBuilder`].
    pub fn get_uuid_metadata(&self) -> GetUuidMetadataBuilder {
        GetUuidMetadataBuilder {
            client: self.clone(),
            uuid: None,
            include: Include::default(),
        }
    }

    /// Lists users' metadata, one page at a time. See [`GetAllUuidMetadataBuilder`].
    pub fn get_all_uuid_metadata(&self) -> GetAllUuidMetadataBuilder {
        GetAllUuidMetadataBuilder {
            client: self.clone(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Deletes a user's metadata. See [`RemoveUuidMetadataBuilder`].
    pub fn remove_uuid_metadata(&self) -> RemoveUuidMetadataBuilder {
        RemoveUuidMetadataBuilder {
            client: self.clone(),
            uuid: None,
        }
    }
}

impl UserMetadata {
    /// Sets this user's metadata: `client.user_metadata("alice").set().name("Alice").await`.
    pub fn set(&self) -> SetUuidMetadataBuilder {
        self.client.set_uuid_metadata().uuid(&*self.name)
    }

    /// Reads this user's metadata.
    pub fn get(&self) -> GetUuidMetadataBuilder {
        self.client.get_uuid_metadata().uuid(&*self.name)
    }

    /// Deletes this user's metadata.
    pub fn remove(&self) -> RemoveUuidMetadataBuilder {
        self.client.remove_uuid_metadata().uuid(&*self.name)
    }
}
