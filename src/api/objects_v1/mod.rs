//! Objects v1: users, spaces and the memberships linking them
//! (`/v1/objects/{sub}/users|spaces[…]`).
//!
//! **Deprecated by PubNub in favour of App Context v2**
//! ([`set_uuid_metadata`](crate::PubNub::set_uuid_metadata),
//! [`set_channel_metadata`](crate::PubNub::set_channel_metadata),
//! [`set_memberships`](crate::PubNub::set_memberships) … in
//! [`api::objects`](crate::api::objects)); kept so apps still on the old API
//! can migrate. Every call starts from
//! [`PubNub::legacy_objects`](crate::PubNub::legacy_objects), which is marked
//! `#[deprecated]` so the compiler points at each use left to migrate.
//!
//! | Objects v1 (this module) | App Context v2 |
//! | --- | --- |
//! | `create_user`, `update_user` | `set_uuid_metadata` |
//! | `get_user`, `get_users` | `get_uuid_metadata`, `get_all_uuid_metadata` |
//! | `delete_user` | `remove_uuid_metadata` |
//! | `create_space`, `update_space` | `set_channel_metadata` |
//! | `get_space`, `get_spaces` | `get_channel_metadata`, `get_all_channel_metadata` |
//! | `delete_space` | `remove_channel_metadata` |
//! | `get_members`, `update_members` | `get_channel_members`, `set_channel_members` / `remove_channel_members` |
//! | `get_space_memberships`, `update_space_memberships` | `get_memberships`, `set_memberships` / `remove_memberships` |
//!
//! The v1 service differs from v2 in ways these calls keep: a user or space
//! is created with `POST` (its id in the body) and updated with `PATCH`;
//! objects carry a `created` date; a member or membership names the other
//! side as `{"id": …}` with the full object under `user` / `space` when
//! included; membership changes are `add` / `update` / `remove` lists.
//! Lists page with `limit`, the `next` / `prev` cursors and `count`; v1 has
//! no server-side filter or sort here.
//!
//! ```no_run
//! # #![allow(deprecated)]
//! # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
//! let objects = client.legacy_objects();
//! objects.create_user().id("mg").name("Magnum").include_custom(true).await?;
//! objects
//!     .update_members()
//!     .space_id("lobby")
//!     .add(["mg"])
//!     .include_user(true)
//!     .await?;
//! # Ok(()) }
//! ```

pub mod membership;
pub mod space;
pub mod user;

use serde::Serialize;
use serde_json::Value;

use crate::api::objects::{validate_custom, Include, ListOptions};
use crate::api::to_json;
use crate::client::Request;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

pub use membership::{MembershipChange, SpaceMember, SpaceMembership};
pub use space::Space;
pub use user::User;

/// The Objects v1 calls of a client: create, read, update, delete and list
/// users and spaces, and read or change who is a member of which space.
/// Get one with [`PubNub::legacy_objects`].
#[derive(Debug, Clone)]
pub struct LegacyObjects {
    client: PubNub,
}

impl PubNub {
    /// The deprecated Objects v1 (users / spaces) API; see
    /// [`api::objects_v1`](crate::api::objects_v1) for what replaces each call.
    #[deprecated(
        note = "PubNub deprecated Objects v1 (users/spaces) in favour of App Context v2: \
                use set_uuid_metadata, set_channel_metadata, get_channel_members, \
                set_memberships and the rest of `pubnub_rx::api::objects`"
    )]
    pub fn legacy_objects(&self) -> LegacyObjects {
        LegacyObjects {
            client: self.clone(),
        }
    }
}

/// The two kinds of v1 object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Space,
}

impl Kind {
    /// The collection's path segment.
    fn collection(self) -> &'static str {
        match self {
            Self::User => "users",
            Self::Space => "spaces",
        }
    }

    /// One object's name in `include` lists (`user`, `user.custom`).
    fn include_name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Space => "space",
        }
    }

    /// The other side of a membership: a user's spaces, a space's users.
    fn other(self) -> Self {
        match self {
            Self::User => Self::Space,
            Self::Space => Self::User,
        }
    }

    /// `/v1/objects/{sub}/users` or `/v1/objects/{sub}/spaces`.
    fn list_path(self, client: &PubNub) -> String {
        format!(
            "/v1/objects/{}/{}",
            encode(&client.inner.config.subscribe_key),
            self.collection()
        )
    }

    /// One object's path.
    fn path(self, client: &PubNub, id: &str) -> String {
        format!("{}/{}", self.list_path(client), encode(id))
    }

    /// A user's spaces (`…/users/{id}/spaces`) or a space's users
    /// (`…/spaces/{id}/users`).
    fn relations_path(self, client: &PubNub, id: &str) -> String {
        format!("{}/{}", self.path(client, id), self.other().collection())
    }
}

/// Checks the id of the object a call is about.
fn require_id(arg: &'static str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid_argument(
            arg,
            "is empty: name the object the call is about",
        ));
    }
    Ok(())
}

/// The fields a create or update sends, checked before sending.
trait ObjectFields: Serialize {
    /// The custom fields, if set.
    fn custom(&self) -> Option<&Value>;
    /// The display name, if set.
    fn name(&self) -> Option<&str>;
    /// Whether no field is set.
    fn is_empty(&self) -> bool;
}

/// The body of a create: the object's id followed by its fields.
#[derive(Serialize)]
struct CreateBody<'a, F> {
    id: &'a str,
    #[serde(flatten)]
    fields: &'a F,
}

/// `POST /v1/objects/{sub}/{users|spaces}` with `{"id": …, "name": …, …}`.
/// v1 requires the id and the display name of a new object.
fn create_request(
    client: &PubNub,
    kind: Kind,
    id: &str,
    fields: &impl ObjectFields,
    include: &Include,
) -> Result<Request, Error> {
    require_id("id", id)?;
    if fields.name().is_none_or(str::is_empty) {
        return Err(Error::invalid_argument(
            "name",
            "is required: Objects v1 creates a user or space only with a display name",
        ));
    }
    if let Some(custom) = fields.custom() {
        validate_custom(custom)?;
    }
    let body = to_json(body_name(kind), &CreateBody { id, fields })?;
    let request = client
        .request(HttpMethod::Post, kind.list_path(client))
        .json_body(body);
    Ok(include.apply(request, kind.include_name()))
}

/// `PATCH /v1/objects/{sub}/{users|spaces}/{id}` with the fields to change.
fn update_request(
    client: &PubNub,
    kind: Kind,
    id: &str,
    fields: &impl ObjectFields,
    include: &Include,
) -> Result<Request, Error> {
    require_id(id_arg(kind), id)?;
    if fields.is_empty() {
        return Err(Error::invalid_argument(
            "fields",
            "nothing to update: set at least one field (name, custom, …)",
        ));
    }
    if let Some(custom) = fields.custom() {
        validate_custom(custom)?;
    }
    let body = to_json(body_name(kind), fields)?;
    let request = client
        .request(HttpMethod::Patch, kind.path(client, id))
        .json_body(body);
    Ok(include.apply(request, kind.include_name()))
}

/// `GET /v1/objects/{sub}/{users|spaces}/{id}`.
fn get_request(client: &PubNub, kind: Kind, id: &str, include: &Include) -> Result<Request, Error> {
    require_id(id_arg(kind), id)?;
    let request = client.request(HttpMethod::Get, kind.path(client, id));
    Ok(include.apply(request, kind.include_name()))
}

/// `DELETE /v1/objects/{sub}/{users|spaces}/{id}`.
fn delete_request(client: &PubNub, kind: Kind, id: &str) -> Result<Request, Error> {
    require_id(id_arg(kind), id)?;
    Ok(client.request(HttpMethod::Delete, kind.path(client, id)))
}

/// `GET /v1/objects/{sub}/{users|spaces}`: one page.
fn list_request(
    client: &PubNub,
    kind: Kind,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    list.validate()?;
    let request = client.request(HttpMethod::Get, kind.list_path(client));
    Ok(list.apply(include.apply(request, kind.include_name())))
}

/// The argument naming one object of a kind.
fn id_arg(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "user_id",
        Kind::Space => "space_id",
    }
}

/// What a body of this kind is called in errors.
fn body_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "the v1 user",
        Kind::Space => "the v1 space",
    }
}

/// The `include_custom` setter (`include=custom`).
macro_rules! include_custom_setter {
    ($what:literal) => {
        #[doc = concat!("Include the ", $what, "'s custom fields (`include=custom`).")]
        pub fn include_custom(mut self, include: bool) -> Self {
            self.include.custom = include;
            self
        }
    };
}

/// The paging setters of list calls.
macro_rules! page_setters {
    () => {
        /// At most this many objects per page (1 ..= 100; server default 100).
        pub fn limit(mut self, limit: u32) -> Self {
            self.list.limit = Some(limit);
            self
        }

        /// Fetch the page after the one whose `next` cursor this is (`start`).
        pub fn next_page(mut self, cursor: impl Into<String>) -> Self {
            self.list.next = Some(cursor.into());
            self
        }

        /// Fetch the page before the one whose `prev` cursor this is (`end`).
        pub fn prev_page(mut self, cursor: impl Into<String>) -> Self {
            self.list.prev = Some(cursor.into());
            self
        }

        /// Ask for the total number of objects (`count=true`), returned as
        /// [`ObjectsPage::total_count`](crate::ObjectsPage::total_count).
        pub fn include_total_count(mut self, include: bool) -> Self {
            self.list.total_count = include;
            self
        }
    };
}

use {include_custom_setter, page_setters};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Config;

    pub(crate) fn client() -> PubNub {
        PubNub::new(
            Config::builder()
                .subscribe_key("sub c")
                .user_id("me")
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn paths_encode_ids() {
        let client = client();
        assert_eq!(Kind::User.list_path(&client), "/v1/objects/sub%20c/users");
        assert_eq!(
            Kind::Space.path(&client, "a/b"),
            "/v1/objects/sub%20c/spaces/a%2Fb"
        );
        assert_eq!(
            Kind::User.relations_path(&client, "mg"),
            "/v1/objects/sub%20c/users/mg/spaces"
        );
        assert_eq!(
            Kind::Space.relations_path(&client, "lobby"),
            "/v1/objects/sub%20c/spaces/lobby/users"
        );
    }
}
