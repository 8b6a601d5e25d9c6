//! App Context (objects v2, PROTOCOL.md §9): uuid and channel metadata,
//! memberships and members, their events on subscribe (`e: 2`, §4.5) and
//! their Access Manager checks.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /v2/objects/{sub}/uuids` | every uuid's metadata, one page |
//! | `GET` / `PATCH` / `DELETE /v2/objects/{sub}/uuids/{uuid}` | get / set / remove uuid metadata |
//! | `GET /v2/objects/{sub}/channels` | every channel's metadata, one page |
//! | `GET` / `PATCH` / `DELETE /v2/objects/{sub}/channels/{channel}` | get / set / remove channel metadata |
//! | `GET` / `PATCH /v2/objects/{sub}/uuids/{uuid}/channels` | a uuid's memberships; PATCH `{"set":[…],"delete":[…]}` |
//! | `GET` / `PATCH /v2/objects/{sub}/channels/{channel}/uuids` | a channel's members; PATCH likewise |
//!
//! Every list takes `include` (`custom`, `status`, `type`, `totalCount`
//! and, for memberships / members, `channel` / `uuid` with `.custom`,
//! `.status`, `.type`), `filter` (the filter language of `filter-expr`
//! over the record: `name LIKE 'a*' && custom.team == 'red'`,
//! `channel.name == 'x'`, `updated > '2024-01-01'`), `sort`
//! (`name:desc,id`), `limit` (0 to 100, default 100), the `start` / `end`
//! cursors of a previous page's `next` / `prev`, and `count=true`. A set
//! takes `If-Match: <eTag>` (412 when the stored version differs). Stored
//! fields come back exactly as sent (custom key order, number text).
//!
//! **Events.** Every change that alters stored data publishes an App
//! Context event (`{"source":"objects","version":"2.0","event":"set"|
//! "delete","type":"uuid"|"channel"|"membership","data":{…}}`): uuid
//! metadata on the channel named after the uuid, channel metadata on the
//! channel, memberships on the channel and on the uuid's channel. Setting
//! the same data again publishes nothing, as PubNub documents.
//!
//! **Access Manager** (PubNub's permission model): get → `get`, set →
//! `update`, remove → `delete` on the uuid or channel; get-all lists need a
//! keyset-level grant; memberships: `get` / `update` on the uuid and `join`
//! on every channel set or removed; members: `get` / `manage` on the
//! channel. A token's authorized uuid must be the path's uuid.
//!
//! **Bounds** (`store.rs`): 50,000 objects of each kind, 100,000
//! memberships, 5,000 members per channel, 50,000 memberships per uuid,
//! 32 KiB per custom object and 64 MiB of stored text per keyset; past one,
//! a 400 with the objects error body.
//!
//! **Differences from PubNub**: no referential integrity (memberships may
//! name objects that do not exist, and removing an object keeps its
//! memberships: PubNub's default when that keyset option is off); eTags are
//! hashes of the content and version, not PubNub's; the `filter` language
//! is the subscribe filter's (a superset of the common App Context forms).

mod query;
mod store;

pub(crate) use store::iso8601;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

pub(crate) use store::{Kind, Object, Objects, Relation};

use self::query::{Includes, ListOptions};

/// How many uuid and channel metadata objects a keyset holds (the console).
pub(crate) fn console_counts(objects: &Objects) -> (usize, usize) {
    (
        objects.page(Kind::Uuid, None).0,
        objects.page(Kind::Channel, None).0,
    )
}

/// One page of a keyset's App Context objects for the console: uuid
/// metadata (`uuids`) or channel metadata, after id `after`, each as PubNub
/// renders it with every field plus `memberships` (uuids) or `members`
/// (channels): their count and the first `related` ids. Answers the page,
/// the total and the id to continue after.
pub(crate) fn console_page(
    objects: &Objects,
    uuids: bool,
    after: Option<&str>,
    limit: usize,
    related: usize,
) -> (Vec<Value>, usize, Option<String>) {
    let kind = if uuids { Kind::Uuid } else { Kind::Channel };
    let (total, iter) = objects.page(kind, after);
    let mut page = Vec::new();
    let mut next = None;
    for (id, object) in iter {
        if page.len() == limit {
            next = page
                .last()
                .and_then(|v: &Value| v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            break;
        }
        let mut value: Value =
            serde_json::from_str(&object.render(kind, id, Shown::ALL)).unwrap_or(Value::Null);
        let relations = objects.relations(kind, id);
        if let Value::Object(map) = &mut value {
            let ids: Vec<&str> = relations
                .iter()
                .take(related)
                .map(|(other, _)| *other)
                .collect();
            let key = if uuids { "memberships" } else { "members" };
            map.insert(
                key.to_owned(),
                serde_json::json!({ "count": relations.len(), "ids": ids }),
            );
        }
        page.push(value);
    }
    (page, total, next)
}
use self::store::{relation_event_data, render_relation, Outcome, Patch, Shown};
use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, ApiError};
use super::keyset::{KeysetHandle, KeysetState};
use super::message::{MessageKind, NewMessage};
use super::wire::RequestCtx;

/// An App Context error: `{"status":…,"error":{"message":…,"source":"objects"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectsError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

/// An [`ObjectsError`] with `status`.
pub(crate) fn objects_error(status: u16, message: impl Into<String>) -> ObjectsError {
    ObjectsError {
        status,
        message: message.into(),
    }
}

impl From<ObjectsError> for ApiError {
    fn from(e: ObjectsError) -> Self {
        let body = format!(
            r#"{{"status":{},"error":{{"message":{},"source":"objects"}}}}"#,
            e.status,
            super::errors::json_string(&e.message)
        );
        ApiError::Raw {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            body,
        }
    }
}

/// The App Context path after `/v2/objects/{sub}/`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ObjectsPath<'a> {
    /// `uuids` or `channels`.
    Collection(Kind),
    /// `uuids/{uuid}` or `channels/{channel}`.
    One(Kind, &'a str),
    /// `uuids/{uuid}/channels` (memberships) or `channels/{channel}/uuids` (members).
    Relations(Kind, &'a str),
}

impl<'a> ObjectsPath<'a> {
    /// Resolves the decoded segments after the subscribe key.
    pub(crate) fn resolve(rest: &[&'a str]) -> Option<Self> {
        let kind = |s: &str| match s {
            "uuids" => Some(Kind::Uuid),
            "channels" => Some(Kind::Channel),
            _ => None,
        };
        match rest {
            [collection] => kind(collection).map(Self::Collection),
            [collection, id] => kind(collection).map(|k| Self::One(k, id)),
            [collection, id, other] => {
                let owner = kind(collection)?;
                (kind(other)? == owner.other()).then_some(Self::Relations(owner, id))
            }
            _ => None,
        }
    }

    /// The methods this path accepts.
    pub(crate) fn methods(self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const GET_PATCH: &[Method] = &[Method::GET, Method::PATCH];
        const ALL: &[Method] = &[Method::GET, Method::PATCH, Method::DELETE];
        match self {
            Self::Collection(_) => GET,
            Self::One(..) => ALL,
            Self::Relations(..) => GET_PATCH,
        }
    }
}

fn not_found() -> ApiError {
    objects_error(404, "Requested object was not found.").into()
}

/// The resources of one object: a uuid (also the subject a bound token
/// must match) or a channel.
fn object_resources(kind: Kind, id: &str) -> Resources {
    match kind {
        Kind::Uuid => Resources::uuid_object(id),
        Kind::Channel => Resources::channel(id),
    }
}

/// Answers one App Context request.
pub(crate) fn handle(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    path: ObjectsPath<'_>,
) -> Result<Response<Body>, ApiError> {
    let method = &ctx.method;
    match path {
        ObjectsPath::Collection(kind) => {
            app.authorize(keyset, ctx, Permission::Get, &Resources::keyset())?;
            get_all(keyset, ctx, kind)
        }
        ObjectsPath::One(kind, id) if *method == Method::GET => {
            app.authorize(keyset, ctx, Permission::Get, &object_resources(kind, id))?;
            let includes = Includes::parse(&ctx.query, None);
            let state = keyset.lock();
            let object = state.objects.get(kind, id).ok_or_else(not_found)?;
            Ok(data_answer(&object.render(kind, id, includes.shown)))
        }
        ObjectsPath::One(kind, id) if *method == Method::PATCH => {
            app.authorize(keyset, ctx, Permission::Update, &object_resources(kind, id))?;
            set_object(app, keyset, ctx, kind, id)
        }
        ObjectsPath::One(kind, id) => {
            app.authorize(keyset, ctx, Permission::Delete, &object_resources(kind, id))?;
            let mut state = keyset.lock();
            if state.objects.remove(kind, id) {
                let data = format!("{{\"id\":{}}}", super::errors::json_string(id));
                publish_event(&mut state, id, "delete", kind.event_type(), &data);
            }
            Ok(ok_json(r#"{"status":200,"data":null}"#))
        }
        ObjectsPath::Relations(owner, id) if *method == Method::PATCH => {
            change_relations(app, keyset, ctx, owner, id)
        }
        ObjectsPath::Relations(owner, id) => {
            app.authorize(keyset, ctx, Permission::Get, &object_resources(owner, id))?;
            let state = keyset.lock();
            list_relations(&state, ctx, owner, id)
        }
    }
}

fn data_answer(rendered: &str) -> Response<Body> {
    ok_json(format!(r#"{{"status":200,"data":{rendered}}}"#))
}

/// The fields `sort` accepts on objects.
const OBJECT_SORT: &[&str] = &["id", "name", "updated", "status", "type"];

fn get_all(
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    kind: Kind,
) -> Result<Response<Body>, ApiError> {
    let includes = Includes::parse(&ctx.query, None);
    let list = ListOptions::parse(&ctx.query, OBJECT_SORT)?;
    let state = keyset.lock();
    Ok(ok_json(list.answer(
        state.objects.all(kind),
        |(id, object)| object.render(kind, id, Shown::ALL),
        |(id, object)| object.render(kind, id, includes.shown),
        includes.total_count,
    )))
}

/// A JSON object body, read both as values (for checks) and as raw text
/// (to store verbatim).
type ParsedBody = (
    serde_json::Map<String, Value>,
    BTreeMap<String, Box<RawValue>>,
);

fn parse_object(text: &str) -> Result<ParsedBody, ObjectsError> {
    let invalid = || objects_error(400, "Request payload must be a valid JSON object.");
    let values = serde_json::from_str(text).map_err(|_| invalid())?;
    let raw = serde_json::from_str(text).map_err(|_| invalid())?;
    Ok((values, raw))
}

fn body_text(ctx: &RequestCtx) -> Result<&str, ObjectsError> {
    std::str::from_utf8(&ctx.body)
        .map_err(|_| objects_error(400, "Request payload must be UTF-8 JSON."))
}

fn set_object(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    kind: Kind,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let (values, raw) = parse_object(body_text(ctx)?)?;
    let patch = Patch::parse(Some(kind), &values, &raw)?;
    let includes = Includes::parse(&ctx.query, None);
    let if_match = ctx
        .headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut state = keyset.lock();
    let outcome = state
        .objects
        .set(kind, id, &patch, if_match, app.clock.tick())?;
    let object = state.objects.get(kind, id).ok_or_else(not_found)?;
    let answer = object.render(kind, id, includes.shown);
    if outcome == Outcome::Changed {
        let data = object.render(kind, id, Shown::ALL);
        publish_event(&mut state, id, "set", kind.event_type(), &data);
    }
    Ok(data_answer(&answer))
}

/// The fields `sort` accepts on memberships (`channel.…`) or members (`uuid.…`).
fn relation_sort(owner: Kind) -> &'static [&'static str] {
    match owner {
        Kind::Uuid => &[
            "updated",
            "status",
            "type",
            "channel.id",
            "channel.name",
            "channel.updated",
            "channel.status",
            "channel.type",
        ],
        Kind::Channel => &[
            "updated",
            "status",
            "type",
            "uuid.id",
            "uuid.name",
            "uuid.updated",
            "uuid.status",
            "uuid.type",
        ],
    }
}

fn list_relations(
    state: &KeysetState,
    ctx: &RequestCtx,
    owner: Kind,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let includes = Includes::parse(&ctx.query, Some(owner.other()));
    let list = ListOptions::parse(&ctx.query, relation_sort(owner))?;
    let objects = &state.objects;
    Ok(ok_json(list.answer(
        objects.relations(owner, id),
        |(other, relation)| {
            render_relation(
                objects,
                owner,
                other,
                relation,
                Shown::ALL,
                Some(Shown::ALL),
            )
        },
        |(other, relation)| {
            render_relation(
                objects,
                owner,
                other,
                relation,
                includes.shown,
                includes.nested,
            )
        },
        includes.total_count,
    )))
}

/// `{"set":[…],"delete":[…]}` of a membership / member change.
#[derive(Deserialize)]
struct ChangeBody {
    #[serde(default)]
    set: Vec<Box<RawValue>>,
    #[serde(default)]
    delete: Vec<Box<RawValue>>,
}

/// One parsed change: the other side's id and, for a set, the fields.
struct Change {
    other: String,
    patch: Option<Patch>,
}

fn parse_changes(text: &str, owner: Kind) -> Result<Vec<Change>, ObjectsError> {
    let body: ChangeBody = serde_json::from_str(text).map_err(|_| {
        objects_error(
            400,
            "Request payload must be a JSON object with `set` and `delete` arrays.",
        )
    })?;
    let key = owner.other().key();
    let item = |raw: &RawValue, set: bool| -> Result<Change, ObjectsError> {
        let (values, raws) = parse_object(raw.get())?;
        let other = values
            .get(key)
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                objects_error(
                    400,
                    format!("Every `set` and `delete` item needs `{key}`: {{\"id\": \"…\"}}."),
                )
            })?
            .to_owned();
        let patch = set
            .then(|| Patch::parse(None, &values, &raws))
            .transpose()?;
        Ok(Change { other, patch })
    };
    let mut changes = Vec::with_capacity(body.set.len() + body.delete.len());
    for raw in &body.set {
        changes.push(item(raw, true)?);
    }
    for raw in &body.delete {
        changes.push(item(raw, false)?);
    }
    Ok(changes)
}

fn change_relations(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    owner: Kind,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let changes = parse_changes(body_text(ctx)?, owner)?;
    match owner {
        Kind::Uuid => {
            app.authorize(keyset, ctx, Permission::Update, &Resources::uuid_object(id))?;
            let channels = changes.iter().map(|c| c.other.as_str());
            app.authorize(
                keyset,
                ctx,
                Permission::Join,
                &Resources::channels(channels),
            )?;
        }
        Kind::Channel => {
            app.authorize(keyset, ctx, Permission::Manage, &Resources::channel(id))?;
        }
    }
    // Checked before anything changes, so a refused call changes nothing.
    let mut state = keyset.lock();
    let mut new: Vec<&str> = Vec::new();
    for change in changes.iter().filter(|c| c.patch.is_some()) {
        let (uuid, channel) = pair(owner, id, &change.other);
        if state.objects.relation(uuid, channel).is_none() && !new.contains(&change.other.as_str())
        {
            new.push(&change.other);
        }
    }
    state.objects.check_room(owner, id, &new)?;
    state
        .objects
        .check_bytes(changes.iter().filter_map(|change| {
            let (uuid, channel) = pair(owner, id, &change.other);
            change.patch.as_ref().map(|patch| (uuid, channel, patch))
        }))?;
    for change in &changes {
        let (uuid, channel) = pair(owner, id, &change.other);
        match &change.patch {
            Some(patch) => {
                let tt = app.clock.tick();
                if state.objects.set_relation(uuid, channel, patch, tt)? == Outcome::Changed {
                    let data =
                        relation_event_data(uuid, channel, state.objects.relation(uuid, channel));
                    publish_membership(&mut state, uuid, channel, "set", &data);
                }
            }
            None => {
                if let Some(removed) = state.objects.remove_relation(uuid, channel) {
                    let data = relation_event_data(uuid, channel, Some(&removed));
                    publish_membership(&mut state, uuid, channel, "delete", &data);
                }
            }
        }
    }
    list_relations(&state, ctx, owner, id)
}

/// `(uuid, channel)` of a membership seen from `owner` `id`.
fn pair<'a>(owner: Kind, id: &'a str, other: &'a str) -> (&'a str, &'a str) {
    match owner {
        Kind::Uuid => (id, other),
        Kind::Channel => (other, id),
    }
}

fn publish_membership(state: &mut KeysetState, uuid: &str, channel: &str, event: &str, data: &str) {
    publish_event(state, channel, event, "membership", data);
    if uuid != channel {
        publish_event(state, uuid, event, "membership", data);
    }
}

/// Publishes an App Context event (`e: 2`) on `channel`.
fn publish_event(state: &mut KeysetState, channel: &str, event: &str, kind: &str, data: &str) {
    let payload = format!(
        r#"{{"source":"objects","version":"2.0","event":"{event}","type":"{kind}","data":{data}}}"#
    );
    let Ok(payload) = RawValue::from_string(payload) else {
        // `data` is rendered by this module from stored JSON: always valid.
        tracing::warn!(channel, "App Context event not published: invalid JSON");
        return;
    };
    let message = NewMessage::server_event(Arc::from(channel), MessageKind::AppContext, payload)
        .prepare(&state.subscribe_key);
    state.insert(message);
}
