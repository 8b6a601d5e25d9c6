//! Objects v1 users: `/v1/objects/{sub}/users[/{user_id}]`. Deprecated by
//! PubNub in favour of App Context v2 uuid metadata (see the
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

/// A v1 user as the server stores it. `custom` is `None` unless the call
/// asked for it (`include_custom`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
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

/// The user fields a create or update sends; unset ones are left out.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
}

impl ObjectFields for UserFields {
    fn custom(&self) -> Option<&Value> {
        self.custom.as_ref()
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.external_id.is_none()
            && self.profile_url.is_none()
            && self.email.is_none()
            && self.custom.is_none()
    }
}

/// Setters of the user fields, for create and update builders.
macro_rules! user_field_setters {
    () => {
        /// Display name.
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.fields.name = Some(name.into());
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

        /// Email address.
        pub fn email(mut self, email: impl Into<String>) -> Self {
            self.fields.email = Some(email.into());
            self
        }

        /// Custom fields: a flat JSON object of strings, numbers and booleans.
        pub fn custom(mut self, custom: Value) -> Self {
            self.fields.custom = Some(custom);
            self
        }
    };
}

/// Builder of a v1 create-user call (`POST`); await it for the stored user.
/// Created by [`LegacyObjects::create_user`]. The id and the name are
/// required.
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let user = client
///     .legacy_objects()
///     .create_user()
///     .id("mg")
///     .name("Magnum")
///     .custom(serde_json::json!({"team": "red"}))
///     .include_custom(true)
///     .await?;
/// println!("created {}", user.id);
/// # Ok(()) }
/// ```
#[must_use = "a create call does nothing until it is awaited"]
#[derive(Debug)]
pub struct CreateUserBuilder {
    client: PubNub,
    id: String,
    fields: UserFields,
    include: Include,
}

impl CreateUserBuilder {
    setters! {
        /// The new user's id (required).
        id(id: String);
    }

    user_field_setters!();
    include_custom_setter!("user");
}

impl Endpoint for CreateUserBuilder {
    type Output = User;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = create_request(
            &self.client,
            Kind::User,
            &self.id,
            &self.fields,
            &self.include,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<User, Error> {
        parse_data("the v1 create-user response", answer.body())
    }
}

/// Builder of a v1 get-user query; await it. Created by
/// [`LegacyObjects::get_user`]. An unknown user is an HTTP 404 error.
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetUserBuilder {
    client: PubNub,
    user_id: String,
    include: Include,
}

impl GetUserBuilder {
    setters! {
        /// The user (required).
        user_id(user_id: String);
    }

    include_custom_setter!("user");
}

impl Endpoint for GetUserBuilder {
    type Output = User;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = get_request(&self.client, Kind::User, &self.user_id, &self.include)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<User, Error> {
        parse_data("the v1 get-user response", answer.body())
    }
}

/// Builder of a v1 update-user call (`PATCH` of the fields set); await it
/// for the stored user. Created by [`LegacyObjects::update_user`].
#[must_use = "an update call does nothing until it is awaited"]
#[derive(Debug)]
pub struct UpdateUserBuilder {
    client: PubNub,
    user_id: String,
    fields: UserFields,
    include: Include,
}

impl UpdateUserBuilder {
    setters! {
        /// The user (required).
        user_id(user_id: String);
    }

    user_field_setters!();
    include_custom_setter!("user");
}

impl Endpoint for UpdateUserBuilder {
    type Output = User;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = update_request(
            &self.client,
            Kind::User,
            &self.user_id,
            &self.fields,
            &self.include,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<User, Error> {
        parse_data("the v1 update-user response", answer.body())
    }
}

/// Builder of a v1 delete-user call; await it. Created by
/// [`LegacyObjects::delete_user`].
#[must_use = "a delete call does nothing until it is awaited"]
#[derive(Debug)]
pub struct DeleteUserBuilder {
    client: PubNub,
    user_id: String,
}

impl DeleteUserBuilder {
    setters! {
        /// The user (required).
        user_id(user_id: String);
    }
}

impl Endpoint for DeleteUserBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = delete_request(&self.client, Kind::User, &self.user_id)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the v1 delete-user response", answer.body())
    }
}

/// Builder of a v1 list-users query (one page); await it. Created by
/// [`LegacyObjects::get_users`].
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client.legacy_objects().get_users().limit(20).await?;
/// for user in &page.data {
///     println!("{} {:?}", user.id, user.name);
/// }
/// // Then `.next_page(cursor)` with `page.next` for the following page.
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetUsersBuilder {
    client: PubNub,
    include: Include,
    list: ListOptions,
}

impl GetUsersBuilder {
    include_custom_setter!("users");
    page_setters!();
}

impl Endpoint for GetUsersBuilder {
    type Output = ObjectsPage<User>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = list_request(&self.client, Kind::User, &self.include, &self.list)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<User>, Error> {
        parse_page("the v1 get-users response", answer.body())
    }
}

awaitable!(
    CreateUserBuilder => User,
    GetUserBuilder => User,
    UpdateUserBuilder => User,
    DeleteUserBuilder => (),
    GetUsersBuilder => ObjectsPage<User>,
);

impl LegacyObjects {
    /// Creates a user. See [`CreateUserBuilder`]; App Context v2:
    /// [`PubNub::set_uuid_metadata`].
    pub fn create_user(&self) -> CreateUserBuilder {
        CreateUserBuilder {
            client: self.client.clone(),
            id: String::new(),
            fields: UserFields::default(),
            include: Include::default(),
        }
    }

    /// Reads a user. See [`GetUserBuilder`]; App Context v2:
    /// [`PubNub::get_uuid_metadata`].
    pub fn get_user(&self) -> GetUserBuilder {
        GetUserBuilder {
            client: self.client.clone(),
            user_id: String::new(),
            include: Include::default(),
        }
    }

    /// Changes fields of a user. See [`UpdateUserBuilder`]; App Context v2:
    /// [`PubNub::set_uuid_metadata`].
    pub fn update_user(&self) -> UpdateUserBuilder {
        UpdateUserBuilder {
            client: self.client.clone(),
            user_id: String::new(),
            fields: UserFields::default(),
            include: Include::default(),
        }
    }

    /// Deletes a user. See [`DeleteUserBuilder`]; App Context v2:
    /// [`PubNub::remove_uuid_metadata`].
    pub fn delete_user(&self) -> DeleteUserBuilder {
        DeleteUserBuilder {
            client: self.client.clone(),
            user_id: String::new(),
        }
    }

    /// Lists users, one page at a time. See [`GetUsersBuilder`]; App Context
    /// v2: [`PubNub::get_all_uuid_metadata`].
    pub fn get_users(&self) -> GetUsersBuilder {
        GetUsersBuilder {
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

    fn body(request: &crate::client::Request) -> Value {
        serde_json::from_slice(request.body.as_deref().unwrap_or(b"null")).unwrap()
    }

    #[test]
    fn create_posts_id_and_fields() {
        let Call { request, .. } = client()
            .legacy_objects()
            .create_user()
            .id("mg")
            .name("MAGNUM")
            .custom(json!({"XXX": "YYYY"}))
            .include_custom(true)
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.path, "/v1/objects/sub%20c/users");
        assert_eq!(request.query, [("include", "custom".to_owned())]);
        assert_eq!(
            body(&request),
            json!({"id": "mg", "name": "MAGNUM", "custom": {"XXX": "YYYY"}})
        );
        assert_eq!(request.content_type, Some("application/json"));
    }

    #[test]
    fn create_needs_id_name_and_object_custom() {
        let objects = client().legacy_objects();
        let cases = [
            (objects.create_user().name("n").build(), "id"),
            (objects.create_user().id("mg").build(), "name"),
            (
                objects
                    .create_user()
                    .id("mg")
                    .name("n")
                    .custom(json!([1]))
                    .build(),
                "custom",
            ),
        ];
        for (result, arg) in cases {
            match result {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, arg),
                other => panic!("expected a bad `{arg}`, got {other:?}"),
            }
        }
    }

    #[test]
    fn update_patches_only_what_is_set() {
        let Call { request, .. } = client()
            .legacy_objects()
            .update_user()
            .user_id("mg")
            .email("mg@example.com")
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Patch);
        assert_eq!(request.path, "/v1/objects/sub%20c/users/mg");
        assert!(request.query.is_empty());
        assert_eq!(body(&request), json!({"email": "mg@example.com"}));

        let nothing = client()
            .legacy_objects()
            .update_user()
            .user_id("mg")
            .build();
        assert!(
            matches!(nothing, Err(Error::InvalidArgument { name: "fields", .. })),
            "{nothing:?}"
        );
        let no_id = client().legacy_objects().update_user().name("x").build();
        assert!(
            matches!(
                no_id,
                Err(Error::InvalidArgument {
                    name: "user_id",
                    ..
                })
            ),
            "{no_id:?}"
        );
    }

    #[test]
    fn list_pages() {
        let Call { request, .. } = client()
            .legacy_objects()
            .get_users()
            .limit(10)
            .next_page("MTAw")
            .include_total_count(true)
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Get);
        assert_eq!(
            request.query,
            [
                ("limit", "10".to_owned()),
                ("start", "MTAw".to_owned()),
                ("count", "true".to_owned())
            ]
        );
        let too_many = client().legacy_objects().get_users().limit(101).build();
        assert!(
            matches!(too_many, Err(Error::InvalidArgument { name: "limit", .. })),
            "{too_many:?}"
        );
    }

    #[test]
    fn users_parse() {
        let page: ObjectsPage<User> = parse_page(
            "x",
            br#"{"status":200,"data":[{"id":"3108","name":"azur","externalId":null,"profileUrl":null,"email":"a@pn.com","custom":null,"created":"2019-08-16T07:46:33.23638Z","updated":"2019-08-16T07:54:25.842767Z","eTag":"AY3N6Ni2ubyrOA"}],"next":"MTAw"}"#,
        )
        .unwrap();
        let user = &page.data[0];
        assert_eq!(user.email.as_deref(), Some("a@pn.com"));
        assert_eq!(user.created.as_deref(), Some("2019-08-16T07:46:33.23638Z"));
        assert_eq!(page.next.as_deref(), Some("MTAw"));
        assert_eq!(page.total_count, None);
    }
}
