//! Objects v1 memberships: the users of a space
//! (`/v1/objects/{sub}/spaces/{space_id}/users`) and the spaces of a user
//! (`/v1/objects/{sub}/users/{user_id}/spaces`). Deprecated by PubNub in
//! favour of App Context v2 members and memberships (see the
//! [module docs](super)).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{id_arg, page_setters, require_id, Kind, LegacyObjects, Space, User};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::objects::{parse_page, validate_custom, Custom, Include, ListOptions, ObjectsPage};
use crate::api::to_json;
use crate::api::util::setters;
use crate::client::Request;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// A member of a space: the user's id, the membership's own fields, and
/// the user itself when asked for (`include_user`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceMember {
    /// The user id.
    pub id: String,
    /// Custom fields of the membership (`include_custom`).
    #[serde(default)]
    pub custom: Option<Custom>,
    /// The user (`include_user`, with its custom fields on `include_user_custom`).
    #[serde(default)]
    pub user: Option<User>,
    /// When the user joined, ISO 8601.
    #[serde(default)]
    pub created: Option<String>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// A user's membership of a space: the space's id, the membership's own
/// fields, and the space itself when asked for (`include_space`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceMembership {
    /// The space id.
    pub id: String,
    /// Custom fields of the membership (`include_custom`).
    #[serde(default)]
    pub custom: Option<Custom>,
    /// The space (`include_space`, with its custom fields on `include_space_custom`).
    #[serde(default)]
    pub space: Option<Space>,
    /// When the user joined, ISO 8601.
    #[serde(default)]
    pub created: Option<String>,
    /// Last update, ISO 8601.
    #[serde(default)]
    pub updated: Option<String>,
    /// Version tag.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// One entry of the `add` or `update` list of a membership change: the
/// other side's id (a user for [`UpdateMembersBuilder`], a space for
/// [`UpdateSpaceMembershipsBuilder`]) and optional custom fields of the
/// membership.
///
/// ```
/// use pubnub_rx::api::objects_v1::MembershipChange;
/// let plain: MembershipChange = "mg".into();
/// let with_role = MembershipChange::new("mg3").custom(serde_json::json!({"role": "admin"}));
/// # let _ = (plain, with_role);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipChange {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<Value>,
}

impl MembershipChange {
    /// A membership of the user or space `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            custom: None,
        }
    }

    /// Custom fields of the membership (a flat JSON object).
    pub fn custom(mut self, custom: Value) -> Self {
        self.custom = Some(custom);
        self
    }
}

impl From<&str> for MembershipChange {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for MembershipChange {
    fn from(id: String) -> Self {
        Self::new(id)
    }
}

/// The body of a change: `{"add": […], "update": […], "remove": […]}`,
/// empty lists left out (as the Python SDK recordings send them).
#[derive(Debug, Default, Serialize)]
struct Changes {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    add: Vec<MembershipChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    update: Vec<MembershipChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remove: Vec<MembershipChange>,
}

impl Changes {
    /// At least one change, every id given, every custom an object.
    /// `arg` names the other side (`users` / `spaces`).
    fn validate(&self, arg: &'static str) -> Result<(), Error> {
        if self.add.is_empty() && self.update.is_empty() && self.remove.is_empty() {
            return Err(Error::invalid_argument(
                arg,
                "nothing to change: add, update or remove at least one membership",
            ));
        }
        for change in self.add.iter().chain(&self.update).chain(&self.remove) {
            if change.id.is_empty() {
                return Err(Error::invalid_argument(arg, "holds an empty id"));
            }
            if let Some(custom) = &change.custom {
                validate_custom(custom)?;
            }
        }
        Ok(())
    }
}

/// `GET` of one page of a space's users or a user's spaces.
fn get_relations_request(
    client: &PubNub,
    owner: Kind,
    id: &str,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    require_id(id_arg(owner), id)?;
    list.validate()?;
    let request = client.request(HttpMethod::Get, owner.relations_path(client, id));
    Ok(list.apply(include.apply(request, owner.other().include_name())))
}

/// `PATCH` of a space's users or a user's spaces with the change lists.
fn update_relations_request(
    client: &PubNub,
    owner: Kind,
    id: &str,
    changes: &Changes,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    require_id(id_arg(owner), id)?;
    changes.validate(owner.other().collection())?;
    list.validate()?;
    let body = to_json("the v1 membership changes", changes)?;
    let request = client
        .request(HttpMethod::Patch, owner.relations_path(client, id))
        .json_body(body);
    Ok(list.apply(include.apply(request, owner.other().include_name())))
}

/// The `include` setters of a members (`user`) or memberships (`space`) call.
macro_rules! relation_include_setters {
    ($object:ident, $object_custom:ident, $what:literal) => {
        /// Include the custom fields of each membership (`include=custom`).
        pub fn include_custom(mut self, include: bool) -> Self {
            self.include.custom = include;
            self
        }

        #[doc = concat!("Include each ", $what, " (`include=", $what, "`).")]
        pub fn $object(mut self, include: bool) -> Self {
            self.include.object = include;
            self
        }

        #[doc = concat!("Include each ", $what, "'s custom fields (`include=", $what, ".custom`).")]
        pub fn $object_custom(mut self, include: bool) -> Self {
            self.include.object_custom = include;
            self
        }
    };
}

/// The `add`, `update` and `remove` setters of a change builder.
macro_rules! change_setters {
    ($what:literal) => {
        #[doc = concat!("Adds memberships of these ", $what, " (ids or [`MembershipChange`]s).")]
        // A builder setter named after the wire's `add` list, not arithmetic.
        #[allow(clippy::should_implement_trait)]
        pub fn add<I, M>(mut self, entries: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<MembershipChange>,
        {
            self.changes.add.extend(entries.into_iter().map(Into::into));
            self
        }

        #[doc = concat!("Updates the custom fields of memberships of these ", $what, ".")]
        pub fn update<I, M>(mut self, entries: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<MembershipChange>,
        {
            self.changes
                .update
                .extend(entries.into_iter().map(Into::into));
            self
        }

        #[doc = concat!("Removes the memberships of these ", $what, " (by id).")]
        pub fn remove<I, S>(mut self, ids: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.changes
                .remove
                .extend(ids.into_iter().map(MembershipChange::new));
            self
        }
    };
}

/// Builder of a v1 get-members query (one page of a space's users); await
/// it. Created by [`LegacyObjects::get_members`].
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client
///     .legacy_objects()
///     .get_members()
///     .space_id("lobby")
///     .include_user(true)
///     .include_total_count(true)
///     .await?;
/// for member in &page.data {
///     println!("{} {:?}", member.id, member.user.as_ref().and_then(|u| u.name.as_ref()));
/// }
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetMembersBuilder {
    client: PubNub,
    space_id: String,
    include: Include,
    list: ListOptions,
}

impl GetMembersBuilder {
    setters! {
        /// The space (required).
        space_id(space_id: String);
    }

    relation_include_setters!(include_user, include_user_custom, "user");
    page_setters!();
}

impl Endpoint for GetMembersBuilder {
    type Output = ObjectsPage<SpaceMember>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = get_relations_request(
            &self.client,
            Kind::Space,
            &self.space_id,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<SpaceMember>, Error> {
        parse_page("the v1 get-members response", answer.body())
    }
}

/// Builder of a v1 get-space-memberships query (one page of a user's
/// spaces); await it. Created by [`LegacyObjects::get_space_memberships`].
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug)]
pub struct GetSpaceMembershipsBuilder {
    client: PubNub,
    user_id: String,
    include: Include,
    list: ListOptions,
}

impl GetSpaceMembershipsBuilder {
    setters! {
        /// The user (required).
        user_id(user_id: String);
    }

    relation_include_setters!(include_space, include_space_custom, "space");
    page_setters!();
}

impl Endpoint for GetSpaceMembershipsBuilder {
    type Output = ObjectsPage<SpaceMembership>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = get_relations_request(
            &self.client,
            Kind::User,
            &self.user_id,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<SpaceMembership>, Error> {
        parse_page("the v1 get-space-memberships response", answer.body())
    }
}

/// Builder of a v1 update-members call (`PATCH` with `add` / `update` /
/// `remove` lists of users); await it for the space's members afterwards
/// (one page). Created by [`LegacyObjects::update_members`].
///
/// ```no_run
/// # #![allow(deprecated)]
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// use pubnub_rx::api::objects_v1::MembershipChange;
/// client
///     .legacy_objects()
///     .update_members()
///     .space_id("lobby")
///     .add(["mg3"])
///     .update([MembershipChange::new("mg").custom(serde_json::json!({"role": "host"}))])
///     .remove(["old"])
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a membership change does nothing until it is awaited"]
#[derive(Debug)]
pub struct UpdateMembersBuilder {
    client: PubNub,
    space_id: String,
    changes: Changes,
    include: Include,
    list: ListOptions,
}

impl UpdateMembersBuilder {
    setters! {
        /// The space (required).
        space_id(space_id: String);
    }

    change_setters!("users");
    relation_include_setters!(include_user, include_user_custom, "user");
    page_setters!();
}

impl Endpoint for UpdateMembersBuilder {
    type Output = ObjectsPage<SpaceMember>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = update_relations_request(
            &self.client,
            Kind::Space,
            &self.space_id,
            &self.changes,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<SpaceMember>, Error> {
        parse_page("the v1 update-members response", answer.body())
    }
}

/// Builder of a v1 update-space-memberships call (`PATCH` with `add` /
/// `update` / `remove` lists of spaces); await it for the user's
/// memberships afterwards (one page). Created by
/// [`LegacyObjects::update_space_memberships`].
#[must_use = "a membership change does nothing until it is awaited"]
#[derive(Debug)]
pub struct UpdateSpaceMembershipsBuilder {
    client: PubNub,
    user_id: String,
    changes: Changes,
    include: Include,
    list: ListOptions,
}

impl UpdateSpaceMembershipsBuilder {
    setters! {
        /// The user (required).
        user_id(user_id: String);
    }

    change_setters!("spaces");
    relation_include_setters!(include_space, include_space_custom, "space");
    page_setters!();
}

impl Endpoint for UpdateSpaceMembershipsBuilder {
    type Output = ObjectsPage<SpaceMembership>;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = update_relations_request(
            &self.client,
            Kind::User,
            &self.user_id,
            &self.changes,
            &self.include,
            &self.list,
        )?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ObjectsPage<SpaceMembership>, Error> {
        parse_page("the v1 update-space-memberships response", answer.body())
    }
}

awaitable!(
    GetMembersBuilder => ObjectsPage<SpaceMember>,
    GetSpaceMembershipsBuilder => ObjectsPage<SpaceMembership>,
    UpdateMembersBuilder => ObjectsPage<SpaceMember>,
    UpdateSpaceMembershipsBuilder => ObjectsPage<SpaceMembership>,
);

impl LegacyObjects {
    /// A space's users, one page at a time. See [`GetMembersBuilder`]; App
    /// Context v2: [`PubNub::get_channel_members`].
    pub fn get_members(&self) -> GetMembersBuilder {
        GetMembersBuilder {
            client: self.client.clone(),
            space_id: String::new(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// A user's spaces, one page at a time. See
    /// [`GetSpaceMembershipsBuilder`]; App Context v2:
    /// [`PubNub::get_memberships`].
    pub fn get_space_memberships(&self) -> GetSpaceMembershipsBuilder {
        GetSpaceMembershipsBuilder {
            client: self.client.clone(),
            user_id: String::new(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Adds, updates and removes users of a space. See
    /// [`UpdateMembersBuilder`]; App Context v2:
    /// [`PubNub::set_channel_members`] and [`PubNub::remove_channel_members`].
    pub fn update_members(&self) -> UpdateMembersBuilder {
        UpdateMembersBuilder {
            client: self.client.clone(),
            space_id: String::new(),
            changes: Changes::default(),
            include: Include::default(),
            list: ListOptions::default(),
        }
    }

    /// Adds, updates and removes a user's space memberships. See
    /// [`UpdateSpaceMembershipsBuilder`]; App Context v2:
    /// [`PubNub::set_memberships`] and [`PubNub::remove_memberships`].
    pub fn update_space_memberships(&self) -> UpdateSpaceMembershipsBuilder {
        UpdateSpaceMembershipsBuilder {
            client: self.client.clone(),
            user_id: String::new(),
            changes: Changes::default(),
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
    use serde_json::json;

    #[test]
    fn member_queries_name_the_user_side() {
        let Call { request, .. } = client()
            .legacy_objects()
            .get_members()
            .space_id("value1")
            .include_custom(true)
            .include_user(true)
            .include_user_custom(true)
            .include_total_count(true)
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Get);
        assert_eq!(request.path, "/v1/objects/sub%20c/spaces/value1/users");
        assert_eq!(
            request.query,
            [
                ("include", "custom,user,user.custom".to_owned()),
                ("count", "true".to_owned())
            ]
        );

        let Call { request, .. } = client()
            .legacy_objects()
            .get_space_memberships()
            .user_id("mg3")
            .include_space(true)
            .build()
            .unwrap();
        assert_eq!(request.path, "/v1/objects/sub%20c/users/mg3/spaces");
        assert_eq!(request.query, [("include", "space".to_owned())]);
    }

    #[test]
    fn change_bodies_list_add_update_remove() {
        let Call { request, .. } = client()
            .legacy_objects()
            .update_space_memberships()
            .user_id("mg")
            .add(["value1"])
            .update([MembershipChange::new("value2").custom(json!({"k": 1}))])
            .remove(["value3"])
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Patch);
        assert_eq!(request.path, "/v1/objects/sub%20c/users/mg/spaces");
        let body: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"add": [{"id": "value1"}],
                   "update": [{"id": "value2", "custom": {"k": 1}}],
                   "remove": [{"id": "value3"}]})
        );

        let Call { request, .. } = client()
            .legacy_objects()
            .update_members()
            .space_id("value1")
            .add(["mg3"])
            .build()
            .unwrap();
        assert_eq!(
            request.body.as_deref(),
            Some(&br#"{"add":[{"id":"mg3"}]}"#[..])
        );
    }

    #[test]
    fn changes_are_checked_before_sending() {
        let objects = client().legacy_objects();
        let cases = [
            (objects.update_members().space_id("s").build(), "users"),
            (
                objects.update_members().space_id("s").remove([""]).build(),
                "users",
            ),
            (
                objects
                    .update_space_memberships()
                    .user_id("u")
                    .add([MembershipChange::new("s").custom(json!("x"))])
                    .build(),
                "custom",
            ),
            (
                objects.update_space_memberships().add(["s"]).build(),
                "user_id",
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
    fn members_parse_with_the_nested_user() {
        let page: ObjectsPage<SpaceMember> = parse_page(
            "x",
            br#"{"status":200,"data":[{"id":"mg3","custom":null,"user":{"id":"mg3","name":"MAGNUM3","externalId":null,"profileUrl":null,"email":null,"custom":{"ZZZ":"IIII"},"created":"2019-08-18T12:56:23.449026Z","updated":"2019-08-18T12:56:23.449026Z","eTag":"AfjKyYTB8vSyVA"},"created":"2019-08-20T19:03:19.191814Z","updated":"2019-08-20T19:03:19.191814Z","eTag":"AY39mJKK//C0VA"}],"totalCount":1,"next":"MQ"}"#,
        )
        .unwrap();
        let member = &page.data[0];
        let user = member.user.as_ref().unwrap();
        assert_eq!(user.name.as_deref(), Some("MAGNUM3"));
        assert_eq!(user.custom.as_ref().unwrap()["ZZZ"], "IIII");
        assert_eq!(
            member.created.as_deref(),
            Some("2019-08-20T19:03:19.191814Z")
        );
        assert_eq!(page.total_count, Some(1));

        let bare: ObjectsPage<SpaceMembership> =
            parse_page("x", br#"{"status":200,"data":[{"id":"value1"}]}"#).unwrap();
        assert_eq!(bare.data[0].id, "value1");
        assert!(bare.data[0].space.is_none());
    }
}
