//! User (uuid) metadata: `/v2/objects/{sub}/uuids[/{uuid}]`.

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
use crate::entity::UserMetadata;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

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

fn uuid_path(client: &PubNub, uuid: &str) -> String {
    format!(
        "/v2/objects/{}/uuids/{}",
        encode(&client.inner.config.subscribe_key),
        encode(uuid)
    )
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
    /// Whose metadata (default: this client's user id).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    /// Display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.fields.name = Some(name.into());
        self
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
        let uuid = self
            .uuid
            .unwrap_or_else(|| self.client.inner.config.user_id.clone());
        validate_id("uuid", &uuid)?;
        if let Some(custom) = &self.fields.custom {
            validate_custom(custom)?;
        }
        let body = to_json("uuid metadata", &self.fields)?;
        let request = self
            .client
            .request(HttpMethod::Patch, uuid_path(&self.client, &uuid))
            .json_body(body);
        let mut request = self.include.apply(request, "uuid");
        if let Some(etag) = self.if_match {
            request = request.header("If-Match", etag);
        }
        Ok((self.client, request))
    }
}

impl IntoFuture for SetUuidMetadataBuilder {
    type Output = Result<UuidMetadataObject, Error>;
    type IntoFuture = Boxed<UuidMetadataObject>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.build();
        Box::pin(async move {
            let (client, request) = prepared?;
            let response = client.execute(request).await?;
            parse_data("the set-uuid-metadata response", &response.body)
        })
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
    /// Whose metadata (default: this client's user id).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    include_setters!();
}

impl IntoFuture for GetUuidMetadataBuilder {
    type Output = Result<UuidMetadataObject, Error>;
    type IntoFuture = Boxed<UuidMetadataObject>;

    fn into_future(self) -> Self::IntoFuture {
        let uuid = self
            .uuid
            .unwrap_or_else(|| self.client.inner.config.user_id.clone());
        let prepared = validate_id("uuid", &uuid).map(|()| {
            let request = self
                .client
                .request(HttpMethod::Get, uuid_path(&self.client, &uuid));
            self.include.apply(request, "uuid")
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_data("the get-uuid-metadata response", &response.body)
        })
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

impl IntoFuture for GetAllUuidMetadataBuilder {
    type Output = Result<ObjectsPage<UuidMetadataObject>, Error>;
    type IntoFuture = Boxed<ObjectsPage<UuidMetadataObject>>;

    fn into_future(self) -> Self::IntoFuture {
        let prepared = self.list.validate().map(|()| {
            let path = format!(
                "/v2/objects/{}/uuids",
                encode(&self.client.inner.config.subscribe_key)
            );
            let request = self.client.request(HttpMethod::Get, path);
            self.list.apply(self.include.apply(request, "uuid"))
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_page("the get-all-uuid-metadata response", &response.body)
        })
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
    /// Whose metadata (default: this client's user id).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }
}

impl IntoFuture for RemoveUuidMetadataBuilder {
    type Output = Result<(), Error>;
    type IntoFuture = Boxed<()>;

    fn into_future(self) -> Self::IntoFuture {
        let uuid = self
            .uuid
            .unwrap_or_else(|| self.client.inner.config.user_id.clone());
        let prepared = validate_id("uuid", &uuid).map(|()| {
            self.client
                .request(HttpMethod::Delete, uuid_path(&self.client, &uuid))
        });
        let client = self.client;
        Box::pin(async move {
            let response = client.execute(prepared?).await?;
            parse_removed("the remove-uuid-metadata response", &response.body)
        })
    }
}

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
