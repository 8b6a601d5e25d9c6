//! App Context (objects v2): metadata of users (uuids) and channels, and
//! the memberships linking them (PROTOCOL.md §9).
//!
//! - [`uuid`]: set / get / get-all / remove user metadata;
//! - [`channel`]: set / get / get-all / remove channel metadata;
//! - [`membership`]: a user's channel memberships and a channel's members.
//!
//! Every list call pages with `limit` and the opaque `next`/`prev`
//! cursors of the previous page, and can filter and sort on the server.
//! The deprecated `/v1/objects` (users/spaces) API lives in
//! `api::objects_v1` behind the non-default `objects-v1` feature, for apps
//! migrating from it.

pub mod channel;
pub mod membership;
pub mod uuid;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::to_json;
use crate::api::util::parse_reply;
use crate::client::Request;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

pub use channel::ChannelMetadataObject;
pub use membership::{Member, MemberInput, Membership, MembershipInput};
pub use uuid::UuidMetadataObject;

/// Custom fields of an App Context object: a flat JSON object of strings,
/// numbers and booleans.
pub type Custom = serde_json::Map<String, Value>;

/// Most objects one App Context list page holds.
pub const MAX_OBJECTS_LIMIT: u32 = 100;

/// One page of an App Context list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectsPage<T> {
    /// The objects of this page.
    pub data: Vec<T>,
    /// How many objects match in all, when asked for with `include_total_count`.
    pub total_count: Option<u64>,
    /// Cursor of the next page (pass to `next_page`); `None` on the last page.
    pub next: Option<String>,
    /// Cursor of the previous page (pass to `prev_page`).
    pub prev: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageBody<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    total_count: Option<u64>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    prev: Option<String>,
}

/// Reads `{"status":200,"data":{…}}`.
pub(crate) fn parse_data<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, Error> {
    let value = parse_reply(what, body)?;
    let data = value
        .get("data")
        .cloned()
        .ok_or_else(|| Error::deserialization(what, "expected `data`", body))?;
    serde_json::from_value(data).map_err(|e| Error::deserialization(what, e, body))
}

/// Reads `{"status":200,"data":[…],"totalCount":n,"next":"…","prev":"…"}`.
pub(crate) fn parse_page<T: DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<ObjectsPage<T>, Error> {
    let value = parse_reply(what, body)?;
    let page: PageBody<T> =
        serde_json::from_value(value).map_err(|e| Error::deserialization(what, e, body))?;
    Ok(ObjectsPage {
        data: page.data,
        total_count: page.total_count,
        next: page.next,
        prev: page.prev,
    })
}

/// Checks a `custom` value: a JSON object (or `null` to clear).
pub(crate) fn validate_custom(custom: &Value) -> Result<(), Error> {
    match custom {
        Value::Object(_) | Value::Null => Ok(()),
        _ => Err(Error::invalid_argument(
            "custom",
            "must be a JSON object of strings, numbers and booleans",
        )),
    }
}

/// The two kinds of App Context object: users (by uuid) and channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    Uuid,
    Channel,
}

impl Object {
    /// The argument naming one object, which is also its name in
    /// `include` lists (`uuid.custom`).
    fn name(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Channel => "channel",
        }
    }

    /// The path segment of the collection.
    fn collection(self) -> &'static str {
        match self {
            Self::Uuid => "uuids",
            Self::Channel => "channels",
        }
    }

    /// The other side of a membership: a user's channels, a channel's users.
    fn other(self) -> Self {
        match self {
            Self::Uuid => Self::Channel,
            Self::Channel => Self::Uuid,
        }
    }

    /// `/v2/objects/{sub}/uuids` or `/v2/objects/{sub}/channels`.
    fn list_path(self, client: &PubNub) -> String {
        format!(
            "/v2/objects/{}/{}",
            encode(&client.inner.config.subscribe_key),
            self.collection()
        )
    }

    /// One object's path.
    fn path(self, client: &PubNub, id: &str) -> String {
        format!("{}/{}", self.list_path(client), encode(id))
    }

    /// The memberships of a user (`…/uuids/{id}/channels`) or the members of
    /// a channel (`…/channels/{id}/uuids`).
    fn relations_path(self, client: &PubNub, id: &str) -> String {
        format!("{}/{}", self.path(client, id), self.other().collection())
    }
}

/// The fields a set-metadata call sends.
pub(crate) trait MetadataFields: Serialize {
    /// The custom fields, checked before sending.
    fn custom(&self) -> Option<&Value>;
}

/// The PATCH of a set-metadata call: the fields as the JSON body (their
/// `custom` checked first), what to include in the answer, and the
/// `If-Match` precondition.
pub(crate) fn set_metadata_request(
    client: &PubNub,
    object: Object,
    id: &str,
    fields: &impl MetadataFields,
    include: &Include,
    if_match: Option<String>,
) -> Result<Request, Error> {
    if let Some(custom) = fields.custom() {
        validate_custom(custom)?;
    }
    let what = match object {
        Object::Uuid => "uuid metadata",
        Object::Channel => "channel metadata",
    };
    let body = to_json(what, fields)?;
    let request = client
        .request(HttpMethod::Patch, object.path(client, id))
        .json_body(body);
    let request = include.apply(request, object.name());
    Ok(match if_match {
        Some(etag) => request.header("If-Match", etag),
        None => request,
    })
}

/// The GET of one object's metadata.
pub(crate) fn get_metadata_request(
    client: &PubNub,
    object: Object,
    id: &str,
    include: &Include,
) -> Request {
    let request = client.request(HttpMethod::Get, object.path(client, id));
    include.apply(request, object.name())
}

/// The GET of a page of every object's metadata.
pub(crate) fn get_all_metadata_request(
    client: &PubNub,
    object: Object,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    list.validate()?;
    let request = client.request(HttpMethod::Get, object.list_path(client));
    Ok(list.apply(include.apply(request, object.name())))
}

/// The DELETE of one object's metadata.
pub(crate) fn remove_metadata_request(client: &PubNub, object: Object, id: &str) -> Request {
    client.request(HttpMethod::Delete, object.path(client, id))
}

/// The GET of a page of a user's memberships or a channel's members.
pub(crate) fn get_relations_request(
    client: &PubNub,
    object: Object,
    id: &str,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    list.validate()?;
    let request = client.request(HttpMethod::Get, object.relations_path(client, id));
    Ok(list.apply(include.apply(request, object.other().name())))
}

/// The PATCH of a set/remove-memberships or set/remove-members call.
pub(crate) fn change_relations_request<T: RelationInput + Serialize>(
    client: &PubNub,
    object: Object,
    id: &str,
    changes: &Changes<T>,
    include: &Include,
    list: &ListOptions,
) -> Result<Request, Error> {
    changes.validate(object)?;
    list.validate()?;
    let what = match object {
        Object::Uuid => "memberships",
        Object::Channel => "channel members",
    };
    let body = to_json(
        what,
        &ChangeBody {
            set: &changes.set,
            delete: &changes.remove,
        },
    )?;
    let request = client
        .request(HttpMethod::Patch, object.relations_path(client, id))
        .json_body(body);
    Ok(list.apply(include.apply(request, object.other().name())))
}

/// A membership or member to set or remove, checked before sending.
pub(crate) trait RelationInput {
    fn validate(&self) -> Result<(), Error>;
}

/// The memberships or members a change call sets and removes.
#[derive(Debug)]
pub(crate) struct Changes<T> {
    /// Whether the list given without saying (`channels`, `uuids`) is removed.
    pub(crate) removing: bool,
    pub(crate) set: Vec<T>,
    pub(crate) remove: Vec<T>,
}

impl<T> Changes<T> {
    pub(crate) fn new(removing: bool) -> Self {
        Self {
            removing,
            set: Vec::new(),
            remove: Vec::new(),
        }
    }

    /// Sets or removes, as the call was created for.
    pub(crate) fn listed(&mut self, items: impl IntoIterator<Item = impl Into<T>>) {
        if self.removing {
            self.remove(items);
        } else {
            self.set(items);
        }
    }

    pub(crate) fn set(&mut self, items: impl IntoIterator<Item = impl Into<T>>) {
        self.set.extend(items.into_iter().map(Into::into));
    }

    pub(crate) fn remove(&mut self, items: impl IntoIterator<Item = impl Into<T>>) {
        self.remove.extend(items.into_iter().map(Into::into));
    }
}

impl<T: RelationInput> Changes<T> {
    /// At least one change, each valid. `object` owns the relations.
    fn validate(&self, object: Object) -> Result<(), Error> {
        if self.set.is_empty() && self.remove.is_empty() {
            let (arg, reason) = match object {
                Object::Uuid => (
                    "channels",
                    "is empty: name at least one membership to set or remove",
                ),
                Object::Channel => (
                    "uuids",
                    "is empty: name at least one member to set or remove",
                ),
            };
            return Err(Error::invalid_argument(arg, reason));
        }
        self.set
            .iter()
            .chain(&self.remove)
            .try_for_each(T::validate)
    }
}

/// The body of a change call.
#[derive(Serialize)]
pub(crate) struct ChangeBody<'a, T> {
    pub(crate) set: &'a [T],
    pub(crate) delete: &'a [T],
}

/// What an App Context call asks the server to include (`include=…`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Include {
    pub(crate) custom: bool,
    pub(crate) status: bool,
    pub(crate) r#type: bool,
    /// The nested object (`channel` or `uuid`) and its fields, for memberships/members.
    pub(crate) object: bool,
    pub(crate) object_custom: bool,
    pub(crate) object_status: bool,
    pub(crate) object_type: bool,
}

impl Include {
    /// The comma list, `nested` naming the nested object (`channel`/`uuid`).
    fn list(&self, nested: &str) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        for (on, name) in [
            (self.custom, "custom"),
            (self.status, "status"),
            (self.r#type, "type"),
        ] {
            if on {
                parts.push(name.to_owned());
            }
        }
        for (on, field) in [
            (self.object, ""),
            (self.object_custom, ".custom"),
            (self.object_type, ".type"),
            (self.object_status, ".status"),
        ] {
            if on {
                parts.push(format!("{nested}{field}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }

    pub(crate) fn apply(&self, request: Request, nested: &str) -> Request {
        request.param_opt("include", self.list(nested))
    }
}

/// Paging, filtering and sorting of an App Context list call.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListOptions {
    pub(crate) limit: Option<u32>,
    pub(crate) filter: Option<String>,
    pub(crate) sort: Vec<String>,
    pub(crate) next: Option<String>,
    pub(crate) prev: Option<String>,
    pub(crate) total_count: bool,
}

impl ListOptions {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(limit) = self.limit {
            if !(1..=MAX_OBJECTS_LIMIT).contains(&limit) {
                return Err(Error::invalid_argument(
                    "limit",
                    format!("{limit} is out of range: 1 to {MAX_OBJECTS_LIMIT} objects per page"),
                ));
            }
        }
        if self.filter.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid_argument(
                "filter",
                "is empty: give an expression such as `name LIKE 'a*'` or leave it unset",
            ));
        }
        if self.sort.iter().any(String::is_empty) {
            return Err(Error::invalid_argument("sort", "holds an empty sort key"));
        }
        Ok(())
    }

    pub(crate) fn apply(&self, request: Request) -> Request {
        let request = request
            .param_opt("limit", self.limit.map(|l| l.to_string()))
            .param_opt("filter", self.filter.clone())
            .param_opt("start", self.next.clone())
            .param_opt("end", self.prev.clone());
        let request = if self.sort.is_empty() {
            request
        } else {
            request.param("sort", self.sort.join(","))
        };
        if self.total_count {
            request.param("count", "true")
        } else {
            request
        }
    }
}

/// Setters of the `include` fields every App Context call has.
macro_rules! include_setters {
    () => {
        /// Include the custom fields (`include=custom`).
        pub fn include_custom(mut self, include: bool) -> Self {
            self.include.custom = include;
            self
        }

        /// Include the status field (`include=status`).
        pub fn include_status(mut self, include: bool) -> Self {
            self.include.status = include;
            self
        }

        /// Include the type field (`include=type`).
        pub fn include_type(mut self, include: bool) -> Self {
            self.include.r#type = include;
            self
        }
    };
}

/// Setters of the paging, filtering and sorting options of list calls.
macro_rules! list_setters {
    () => {
        /// At most this many objects per page (1 ..= 100; server default 100).
        pub fn limit(mut self, limit: u32) -> Self {
            self.list.limit = Some(limit);
            self
        }

        /// A server-side filter expression, e.g. `name LIKE 'Jo*'`.
        pub fn filter(mut self, expression: impl Into<String>) -> Self {
            self.list.filter = Some(expression.into());
            self
        }

        /// Adds a sort key: `field`, `field:asc` or `field:desc` (fields such
        /// as `id`, `name`, `updated`). Keys apply in the order added.
        pub fn sort(mut self, key: impl Into<String>) -> Self {
            self.list.sort.push(key.into());
            self
        }

        /// Fetch the page after the one whose `next` cursor this is.
        pub fn next_page(mut self, cursor: impl Into<String>) -> Self {
            self.list.next = Some(cursor.into());
            self
        }

        /// Fetch the page before the one whose `prev` cursor this is.
        pub fn prev_page(mut self, cursor: impl Into<String>) -> Self {
            self.list.prev = Some(cursor.into());
            self
        }

        /// Ask for the total number of matching objects (`count=true`).
        pub fn include_total_count(mut self, include: bool) -> Self {
            self.list.total_count = include;
            self
        }
    };
}

/// Setters of the fields users and channels both have, and of the
/// `If-Match` precondition, for set-metadata builders.
macro_rules! metadata_setters {
    () => {
        /// Display name.
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.fields.name = Some(name.into());
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
    };
}

pub(crate) use {include_setters, list_setters, metadata_setters};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lists_in_order() {
        let include = Include {
            custom: true,
            r#type: true,
            object: true,
            object_custom: true,
            ..Include::default()
        };
        assert_eq!(
            include.list("uuid").as_deref(),
            Some("custom,type,uuid,uuid.custom")
        );
        assert_eq!(Include::default().list("uuid"), None);
    }

    #[test]
    fn pages_and_errors() {
        let page: ObjectsPage<UuidMetadataObject> = parse_page(
            "x",
            br#"{"status":200,"data":[{"id":"a","name":"A","custom":null}],"totalCount":1,"next":"MQ"}"#,
        )
        .unwrap();
        assert_eq!(page.data[0].id, "a");
        assert_eq!(page.total_count, Some(1));
        assert_eq!(page.next.as_deref(), Some("MQ"));
        let e = crate::Error::from_response(
            412,
            br#"{"status":412,"error":{"message":"User to update has been modified after it was read.","source":"objects"}}"#,
        );
        assert_eq!(e.status(), Some(412));
        assert!(e.to_string().contains("modified after it was read"));
    }
}
