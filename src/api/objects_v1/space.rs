//! Objects v1 spaces: `/v1/objects/{sub}/spaces[/{space_id}]`. Deprecated
//! by PubNub in favour of App Context v2 channel metadata (see the
//! [module docs](super)).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    create_request, delete_request, get_request, include_custom_setter, list_request, page_setters,
    update_request, Kind, LegacyObjects, ObjectFields,
};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::objects::{parse_data, parse_page, Custom, Include, ListOptions, ObjectsPage};
use crate::api::util::{check_ok, setters};
use crate::{Error, PubNub};

/// A v1 space as the server stores it. `custom` is `None` unless the call
/// asked for it (`include_custom`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    /// The space id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Custom fields.
    #[serde(default)]
    pub custom: Option<Custom>,
    /// Creation, ISO 8601.
    #[serde(default)]
    pub created: Option<String>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// The space fields a create or update sends; unset ones are left out.
#[derive(Debug, Default, Serialize)]
struct SpaceFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
}

impl ObjectFields for SpaceFields {
    fn custom(&self) -> Option<&Value> {
        self.custom.as_ref()
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.custom.is_none()
    }
}

/// Setters of the space fields, for create and update builders.
macro_rules! space_field_setters {
    () => {
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

        /// Custom fields: a flat JSON object of strings, numbers and booleans.
        pub fn custom(mut self, custom: Value) -> Self {
            self.fields.custom = Some(custom);
            self
        }
    };
}

/// Builder of a v1 create-space call (`POST`); await it for the stored
/// space. Created by [`LegacyObjects::create_space`]. The id and the name
/// are required.
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let space = client
///     .legacy_objects()
///     .create_space()
///     .id("lobby")
///     .name("Lobby")
///     .description("Say hi")
///     .await?;
/// println!("created {}", space.id);
/// # Ok(()) }
/// ```
#[must_use = "a create call does nothing until it is awaited"]
#[derive(Debug)]
pub struct CreateSpaceBuilder {
    client: PubNub,
    id: String,
    fields: SpaceFields,
    include: Include,
}

impl CreateSpaceBuilder {
    setters! {
        /// The new space's id (required).
        id(id: String);
    }

    space_field_setters!();
    include_custom_setter!("space");
}

impl Endpoint for CreateSpaceBuilder {
    type Output = Space;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = create_request(
            &self.client,
            Kind::Space,
            &self.id,
            &self.fields,
            &self.include,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<Space, Error> {
        parse_data("the v1 create-space response", answer.body())
    }
}

/// Builder of a v1 get-space query; await it. Created by
/// [`LegacyObjects::get_space`]. An unknown space is an HTTP 404 error.
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetSpaceBuilder {
    client: PubNub,
    space_id: String,
    include: Include,
}

impl GetSpaceBuilder {
    setters! {
        /// The space (required).
        space_id(space_id: String);
    }

    include_custom_setter!("space");
}

impl Endpoint for GetSpaceBuilder {
    type Output = Space;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = get_request(&self.client, Kind::Space, &self.space_id, &self.include)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<Space, Error> {
        parse_data("the v1 get-space response", answer.body())
    }
}

/// Builder of a v1 update-space call (`PATCH` of the fields set); await it
/// for the stored space. Created by [`LegacyObjects::update_space`].
#[must_use = "an update call does nothing until it is awaited"]
#[derive(Debug)]
pub struct UpdateSpaceBuilder {
    client: PubNub,
    space_id: String,
    fields: SpaceFields,
    include: Include,
}

impl UpdateSpaceBuilder {
    setters! {
        /// The space (required).
        space_id(space_id: String);
    }

    space_field_setters!();
    include_custom_setter!("space");
}

impl Endpoint for UpdateSpaceBuilder {
    type Output = Space;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = update_request(
            &self.client,
            Kind::Space,
            &self.space_id,
            &self.fields,
            &self.include,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<Space, Error> {
        parse_data("the v1 update-space response", answer.body())
    }
}

/// Builder of a v1 delete-space call; await it. Created by
/// [`LegacyObjects::delete_space`].
#[must_use = "a delete call does nothing until it is awaited"]
#[derive(Debug)]
pub struct DeleteSpaceBuilder {
    client: PubNub,
    space_id: String,
}

impl DeleteSpaceBuilder {
    setters! {
        /// The space (required).
        space_id(space_id: String);
    }
}

impl Endpoint for DeleteSpaceBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = delete_request(&self.client, Kind::Space, &self.space_id)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the v1 delete-space response", answer.body())
    }
}

/// Builder of a v1 list-spaces query (one page); await it. Created by
/// [`LegacyObjects::get_spaces`].
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetSpacesBuilder {
    client: PubNub,
    include: Include,
    list: ListOptions,
}

impl GetSpacesBuilder {
    include_custom_setter!("spaces");
    page_setters!();
}

impl Endpoint for GetSpacesBuilder {
    type Output = ObjectsPage<Space>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = list_request(&self.client, Kind::Space, &self.include, &self.list)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<Space>, Error> {
        parse_page("the v1 get-spaces response", answer.body())
    }
}

awaitable!(
    CreateSpaceBuilder => Space,
    GetSpaceBuilder => Space,
    UpdateSpaceBuilder => Space,
    DeleteSpaceBuilder => (),
    GetSpacesBuilder => ObjectsPage<Space>,
);

impl LegacyObjects {
    /// Creates a space. See [`CreateSpaceBuilder`]; App Context v2:
    /// [`PubNub::set_channel_metadata`].
    pub fn create_space(&self) -> CreateSpaceBuilder {
        CreateSpaceBuilder {
            client: self.client.clone(),
            id: String::new(),
            fields: SpaceFields::default(),
            include: Include::default(),
        }
    }

    /// Reads a space. See [`GetSpaceBuilder`]; App Context v2:
    /// [`PubNub::get_channel_metadata`].
    pub fn get_space(&self) -> GetSpaceBuilder {
        GetSpaceBuilder {
            client: self.client.clone(),
            space_id: String::new(),
            include: Include::default(),
        }
    }

    /// Changes fields of a space. See [`UpdateSpaceBuilder`]; App Context
    /// v2: [`PubNub::set_channel_metadata`].
    pub fn update_space(&self) -> UpdateSpaceBuilder {
        UpdateSpaceBuilder {
            client: self.client.clone(),
            space_id: String::new(),
            fields: SpaceFields::default(),
            include: Include::default(),
        }
    }

    /// Deletes a space. See [`DeleteSpaceBuilder`]; App Context v2:
    /// [`PubNub::remove_channel_metadata`].
    pub fn delete_space(&self) -> DeleteSpaceBuilder {
        DeleteSpaceBuilder {
            client: self.client.clone(),
            space_id: String::new(),
        }
    }

    /// Lists spaces, one page at a time. See [`GetSpacesBuilder`]; App
    /// Context v2: [`PubNub::get_all_channel_metadata`].
    pub fn get_spaces(&self) -> GetSpacesBuilder {
        GetSpacesBuilder {
            client: self.client.clone(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }
}

#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::super::tests::client;
    use super::*;
    use crate::transport::HttpMethod;
    use serde_json::json;

    #[test]
    fn create_update_delete_requests() {
        let objects = client().legacy_objects();
        let Call { request, .. } = objects
            .create_space()
            .id("in_space")
            .name("some_name")
            .custom(json!({"a": 3}))
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.path, "/v1/objects/sub%20c/spaces");
        let body: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"id": "in_space", "name": "some_name", "custom": {"a": 3}})
        );

        let Call { request, .. } = objects
            .update_space()
            .space_id("in_space")
            .description("desc")
            .include_custom(true)
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Patch);
        assert_eq!(request.path, "/v1/objects/sub%20c/spaces/in_space");
        assert_eq!(request.query, [("include", "custom".to_owned())]);
        assert_eq!(
            request.body.as_deref(),
            Some(&br#"{"description":"desc"}"#[..])
        );

        let Call { request, .. } = objects.delete_space().space_id("in_space").build().unwrap();
        assert_eq!(request.method, HttpMethod::Delete);
        assert_eq!(request.path, "/v1/objects/sub%20c/spaces/in_space");
        assert!(request.body.is_none());

        let missing = objects.get_space().build();
        assert!(
            matches!(
                missing,
                Err(Error::InvalidArgument {
                    name: "space_id",
                    ..
                })
            ),
            "{missing:?}"
        );
    }

    #[test]
    fn spaces_parse() {
        let space: Space = parse_data(
            "x",
            br#"{"status":200,"data":{"id":"in_space","name":"some_name","description":null,"custom":{"a":3},"created":"2019-08-19T21:24:47.720337Z","updated":"2019-08-19T21:24:47.720337Z","eTag":"AYfFv4PUk4yMOg"}}"#,
        )
        .unwrap();
        assert_eq!(space.name.as_deref(), Some("some_name"));
        assert_eq!(space.description, None);
        assert_eq!(space.custom.unwrap()["a"], 3);
        assert_eq!(space.e_tag.as_deref(), Some("AYfFv4PUk4yMOg"));
    }
}
