//! The App Context store of one keyset: uuid and channel metadata and the
//! memberships between them, with every field kept as the JSON text it was
//! received as (custom objects keep their key order and number text).
//!
//! Bounds: [`MAX_OBJECTS`] objects of each kind per keyset,
//! [`MAX_MEMBERSHIPS`] memberships per keyset, [`MAX_MEMBERS_PER_CHANNEL`]
//! per channel and [`MAX_MEMBERSHIPS_PER_UUID`] per uuid, custom objects of
//! at most [`MAX_CUSTOM_BYTES`], and [`MAX_STORE_BYTES`] of stored text
//! per keyset in all. A change past a bound is refused with a 400.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{objects_error, ObjectsError};
use crate::server::clock::TT_PER_SEC;
use crate::server::errors::json_string;
use crate::server::message::minify_json;
use crate::server::storage::{Persist, Table};

/// Most objects of one kind (uuids, channels) a keyset keeps.
pub(crate) const MAX_OBJECTS: usize = 50_000;
/// Most memberships a keyset keeps in all.
pub(crate) const MAX_MEMBERSHIPS: usize = 100_000;
/// Most members one channel has (PubNub: 5,000 members per channel).
pub(crate) const MAX_MEMBERS_PER_CHANNEL: usize = 5_000;
/// Most memberships one uuid has (PubNub: 50,000 per user; bounded further
/// by [`MAX_MEMBERSHIPS`] here).
pub(crate) const MAX_MEMBERSHIPS_PER_UUID: usize = 50_000;
/// Largest `custom` object, as compact JSON text.
pub(crate) const MAX_CUSTOM_BYTES: usize = 32 * 1024;
/// Most bytes of stored App Context text (ids, fields, custom objects,
/// versions) one keyset keeps.
pub(crate) const MAX_STORE_BYTES: usize = 64 * 1024 * 1024;
/// What one record costs beyond its text (map entries, indexes).
const RECORD_OVERHEAD: usize = 128;

/// The two kinds of App Context object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Uuid,
    Channel,
}

impl Kind {
    /// The built-in string fields after `id`, in the order PubNub answers
    /// them (PROTOCOL.md §9 responses).
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Uuid => &["name", "externalId", "profileUrl", "email"],
            Self::Channel => &["name", "description"],
        }
    }

    /// The `type` of its App Context events.
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Channel => "channel",
        }
    }

    /// The other side of a membership.
    pub(crate) fn other(self) -> Self {
        match self {
            Self::Uuid => Self::Channel,
            Self::Channel => Self::Uuid,
        }
    }

    /// The nested object's key in a membership (`channel`) or member (`uuid`).
    pub(crate) fn key(self) -> &'static str {
        self.event_type()
    }

    /// The 412 message of a failed `If-Match`.
    pub(crate) fn modified_message(self) -> &'static str {
        match self {
            Self::Uuid => "User to update has been modified after it was read.",
            Self::Channel => "Channel to update has been modified after it was read.",
        }
    }
}

/// What an answer shows of an object or a membership (`include=…`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shown {
    pub(crate) custom: bool,
    pub(crate) status: bool,
    pub(crate) r#type: bool,
}

impl Shown {
    /// Everything (events, filters, sorting).
    pub(crate) const ALL: Self = Self {
        custom: true,
        status: true,
        r#type: true,
    };
}

/// Compact JSON text (`null` when absent).
type Raw = Option<Box<RawValue>>;

fn raw_text(raw: &Raw) -> &str {
    raw.as_deref().map_or("null", RawValue::get)
}

/// The parts every stored record has: status, type, custom, version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Common {
    pub(crate) status: Raw,
    pub(crate) r#type: Raw,
    pub(crate) custom: Raw,
    pub(crate) updated: String,
    pub(crate) etag: String,
}

impl Common {
    fn bytes(&self) -> usize {
        [&self.status, &self.r#type, &self.custom]
            .iter()
            .map(|raw| raw_text(raw).len())
            .sum::<usize>()
            + self.updated.len()
            + self.etag.len()
    }

    fn same_content(&self, other: &Self) -> bool {
        raw_text(&self.status) == raw_text(&other.status)
            && raw_text(&self.r#type) == raw_text(&other.r#type)
            && raw_text(&self.custom) == raw_text(&other.custom)
    }

    /// `,"type":…,"status":…,"custom":…` as shown, then `updated`, `eTag`.
    fn write_tail(&self, out: &mut String, shown: Shown) {
        if shown.r#type {
            push_field(out, "type", raw_text(&self.r#type));
        }
        if shown.status {
            push_field(out, "status", raw_text(&self.status));
        }
        if shown.custom {
            push_field(out, "custom", raw_text(&self.custom));
        }
        push_field(out, "updated", &json_string(&self.updated));
        push_field(out, "eTag", &json_string(&self.etag));
    }

    /// Gives the record a new version at `timetoken`.
    fn stamp(&mut self, timetoken: u64, content: &str, short_etag: bool) {
        self.updated = iso8601(timetoken);
        let digest = Sha256::new()
            .chain_update(content.as_bytes())
            .chain_update(self.updated.as_bytes())
            .finalize();
        self.etag = if short_etag {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(digest.get(..10).unwrap_or_default())
        } else {
            digest.iter().take(16).fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
        };
    }
}

fn push_field(out: &mut String, key: &str, raw: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    out.push_str(raw);
}

/// Uuid or channel metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Object {
    /// The [`Kind::fields`] values, in that order.
    pub(crate) fields: Vec<Raw>,
    pub(crate) common: Common,
}

impl Object {
    /// The object as PubNub answers it.
    pub(crate) fn render(&self, kind: Kind, id: &str, shown: Shown) -> String {
        let mut out = String::from("{");
        push_field(&mut out, "id", &json_string(id));
        for (name, value) in kind.fields().iter().zip(&self.fields) {
            push_field(&mut out, name, raw_text(value));
        }
        self.common.write_tail(&mut out, shown);
        out.push('}');
        out
    }

    /// What the object costs the store.
    fn bytes(&self, id: &str) -> usize {
        self.fields.iter().map(|f| raw_text(f).len()).sum::<usize>()
            + self.common.bytes()
            + id.len()
            + RECORD_OVERHEAD
    }

    fn content(&self) -> String {
        let mut out = String::new();
        for field in &self.fields {
            out.push_str(raw_text(field));
            out.push('\u{0}');
        }
        for part in [
            &self.common.status,
            &self.common.r#type,
            &self.common.custom,
        ] {
            out.push_str(raw_text(part));
            out.push('\u{0}');
        }
        out
    }
}

/// The fields of a membership itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Relation {
    pub(crate) common: Common,
}

/// A PATCH of an object or a membership: the fields it names (a field it
/// leaves out keeps its value; `null` clears it).
#[derive(Debug, Default)]
pub(crate) struct Patch {
    pub(crate) fields: Vec<Option<Raw>>,
    pub(crate) status: Option<Raw>,
    pub(crate) r#type: Option<Raw>,
    pub(crate) custom: Option<Raw>,
}

impl Patch {
    /// Reads a JSON object of fields: the built-in ones of `kind` (`None`
    /// for a membership, which has only status/type/custom). Unknown
    /// properties are ignored, as PubNub does.
    pub(crate) fn parse(
        kind: Option<Kind>,
        body: &serde_json::Map<String, serde_json::Value>,
        raw: &BTreeMap<String, Box<RawValue>>,
    ) -> Result<Self, ObjectsError> {
        let text = |name: &str| -> Result<Option<Raw>, ObjectsError> {
            match body.get(name) {
                None => Ok(None),
                Some(serde_json::Value::Null) => Ok(Some(None)),
                // The string exactly as received (escapes included).
                Some(serde_json::Value::String(s)) => Ok(Some(
                    raw.get(name)
                        .cloned()
                        .or_else(|| RawValue::from_string(json_string(s)).ok()),
                )),
                Some(_) => Err(objects_error(
                    400,
                    format!("Invalid property `{name}`: expected a string or null."),
                )),
            }
        };
        let fields = match kind {
            Some(kind) => kind
                .fields()
                .iter()
                .map(|name| text(name))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let custom = match body.get("custom") {
            None => None,
            Some(serde_json::Value::Null) => Some(None),
            Some(serde_json::Value::Object(map)) => {
                if map.values().any(|v| {
                    matches!(
                        v,
                        serde_json::Value::Array(_) | serde_json::Value::Object(_)
                    )
                }) {
                    return Err(objects_error(
                        400,
                        "Invalid property `custom`: values must be strings, numbers, booleans or null (no nested objects or arrays).",
                    ));
                }
                let compact = raw
                    .get("custom")
                    .map(|r| minify_json(r.get()))
                    .unwrap_or_default();
                if compact.len() > MAX_CUSTOM_BYTES {
                    return Err(objects_error(
                        400,
                        format!(
                            "Invalid property `custom`: {} bytes; at most {MAX_CUSTOM_BYTES} bytes are stored.",
                            compact.len()
                        ),
                    ));
                }
                Some(RawValue::from_string(compact).ok())
            }
            Some(_) => {
                return Err(objects_error(
                    400,
                    "Invalid property `custom`: expected a JSON object or null.",
                ))
            }
        };
        Ok(Self {
            fields,
            status: text("status")?,
            r#type: text("type")?,
            custom,
        })
    }

    fn apply_common(&self, common: &mut Common) {
        if let Some(status) = &self.status {
            common.status.clone_from(status);
        }
        if let Some(kind) = &self.r#type {
            common.r#type.clone_from(kind);
        }
        if let Some(custom) = &self.custom {
            common.custom.clone_from(custom);
        }
    }
}

/// The outcome of a write: whether anything changed (an event is due).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Changed,
    Unchanged,
}

/// The App Context state of one keyset.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    uuids: BTreeMap<String, Object>,
    channels: BTreeMap<String, Object>,
    /// uuid → channel → membership.
    by_uuid: BTreeMap<String, BTreeMap<String, Relation>>,
    /// channel → its member uuids.
    by_channel: BTreeMap<String, BTreeSet<String>>,
    memberships: usize,
    /// Stored bytes, as [`Object::bytes`] and [`relation_bytes`] count them.
    bytes: usize,
    /// Every change is kept here too (`storage`).
    pub(crate) persist: Persist,
}

fn store_full() -> ObjectsError {
    objects_error(
        400,
        format!(
            "App Context store full: this dev server keeps at most {MAX_STORE_BYTES} bytes per keyset; remove some objects first."
        ),
    )
}

fn relation_bytes(uuid: &str, channel: &str, relation: &Relation) -> usize {
    // Both ids are kept twice: in the uuid index and the channel index.
    2 * (uuid.len() + channel.len()) + relation.common.bytes() + RECORD_OVERHEAD
}

impl Objects {
    /// Empty App Context store, with changes journalled to `persist`.
    pub(crate) fn kept_in(persist: &Persist) -> Self {
        Self {
            persist: persist.clone(),
            ..Self::default()
        }
    }

    /// Takes `new` bytes in place of `old`, or refuses when the store would
    /// outgrow [`MAX_STORE_BYTES`].
    fn account(&mut self, old: usize, new: usize) -> Result<(), ObjectsError> {
        let after = self.bytes.saturating_sub(old).saturating_add(new);
        if new > old && after > MAX_STORE_BYTES {
            return Err(store_full());
        }
        self.bytes = after;
        Ok(())
    }

    fn map(&self, kind: Kind) -> &BTreeMap<String, Object> {
        match kind {
            Kind::Uuid => &self.uuids,
            Kind::Channel => &self.channels,
        }
    }

    fn map_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, Object> {
        match kind {
            Kind::Uuid => &mut self.uuids,
            Kind::Channel => &mut self.channels,
        }
    }

    pub(crate) fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.map(kind).get(id)
    }

    /// Every object of `kind`, in id order.
    pub(crate) fn all(&self, kind: Kind) -> impl Iterator<Item = (&String, &Object)> {
        self.map(kind).iter()
    }

    /// The objects of `kind` after id `after` (all with `None`), in id
    /// order, and how many there are in all (the console).
    pub(crate) fn page(
        &self,
        kind: Kind,
        after: Option<&str>,
    ) -> (usize, impl Iterator<Item = (&String, &Object)>) {
        use std::ops::Bound;
        let map = self.map(kind);
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        (map.len(), map.range::<str, _>((lower, Bound::Unbounded)))
    }

    /// Creates or updates an object. `if_match` must equal the stored
    /// `eTag` when given (412 otherwise, also for an object not stored).
    pub(crate) fn set(
        &mut self,
        kind: Kind,
        id: &str,
        patch: &Patch,
        if_match: Option<&str>,
        timetoken: u64,
    ) -> Result<Outcome, ObjectsError> {
        let existing = self.map(kind).get(id);
        if let Some(expected) = if_match {
            if existing.map(|o| o.common.etag.as_str()) != Some(expected) {
                return Err(objects_error(412, kind.modified_message()));
            }
        }
        if existing.is_none() && self.map(kind).len() >= MAX_OBJECTS {
            return Err(objects_error(
                400,
                format!(
                    "Too many {} objects: this dev server keeps at most {MAX_OBJECTS} per keyset; remove some first.",
                    kind.event_type()
                ),
            ));
        }
        let mut object = existing.cloned().unwrap_or_else(|| Object {
            fields: vec![None; kind.fields().len()],
            common: Common::default(),
        });
        for (slot, value) in object.fields.iter_mut().zip(&patch.fields) {
            if let Some(value) = value {
                slot.clone_from(value);
            }
        }
        patch.apply_common(&mut object.common);
        if let Some(old) = existing {
            if old.content() == object.content() {
                return Ok(Outcome::Unchanged);
            }
        }
        let content = object.content();
        object.common.stamp(timetoken, &content, false);
        let old = existing.map_or(0, |o| o.bytes(id));
        self.account(old, object.bytes(id))?;
        self.persist.put(Table::Objects, &(kind, id), &object);
        self.map_mut(kind).insert(id.to_owned(), object);
        Ok(Outcome::Changed)
    }

    /// Removes an object (its memberships stay, as on a keyset without
    /// referential integrity). Whether it existed.
    pub(crate) fn remove(&mut self, kind: Kind, id: &str) -> bool {
        match self.map_mut(kind).remove(id) {
            Some(object) => {
                self.bytes = self.bytes.saturating_sub(object.bytes(id));
                self.persist.delete(Table::Objects, &(kind, id));
                true
            }
            None => false,
        }
    }

    /// The memberships of a uuid (`Kind::Uuid`) or the members of a
    /// channel, in the other side's id order: `(other id, relation)`.
    pub(crate) fn relations(&self, kind: Kind, id: &str) -> Vec<(&str, &Relation)> {
        match kind {
            Kind::Uuid => self
                .by_uuid
                .get(id)
                .map(|m| m.iter().map(|(ch, r)| (ch.as_str(), r)).collect())
                .unwrap_or_default(),
            Kind::Channel => self
                .by_channel
                .get(id)
                .map(|uuids| {
                    uuids
                        .iter()
                        .filter_map(|uuid| {
                            self.by_uuid
                                .get(uuid)
                                .and_then(|m| m.get(id))
                                .map(|r| (uuid.as_str(), r))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn count_of(&self, kind: Kind, id: &str) -> usize {
        match kind {
            Kind::Uuid => self.by_uuid.get(id).map_or(0, BTreeMap::len),
            Kind::Channel => self.by_channel.get(id).map_or(0, BTreeSet::len),
        }
    }

    /// Whether `owner` `id` can gain memberships with every one of `new`
    /// (ids of the other side, none a membership yet) within the bounds.
    pub(crate) fn check_room(
        &self,
        owner: Kind,
        id: &str,
        new: &[&str],
    ) -> Result<(), ObjectsError> {
        let per = |kind: Kind| match kind {
            Kind::Uuid => (MAX_MEMBERSHIPS_PER_UUID, "memberships per uuid"),
            Kind::Channel => (MAX_MEMBERS_PER_CHANNEL, "members per channel"),
        };
        let (owner_max, owner_what) = per(owner);
        let (other_max, other_what) = per(owner.other());
        let full = if self.memberships.saturating_add(new.len()) > MAX_MEMBERSHIPS {
            Some(format!("{MAX_MEMBERSHIPS} memberships per keyset"))
        } else if self.count_of(owner, id).saturating_add(new.len()) > owner_max {
            Some(format!("{owner_max} {owner_what}"))
        } else if new
            .iter()
            .any(|other| self.count_of(owner.other(), other) >= other_max)
        {
            Some(format!("{other_max} {other_what}"))
        } else {
            None
        };
        match full {
            Some(limit) => Err(objects_error(
                400,
                format!("Membership limit reached: at most {limit}; remove some first."),
            )),
            None => Ok(()),
        }
    }

    /// Refuses a batch of membership sets, `(uuid, channel, patch)`, that
    /// would outgrow [`MAX_STORE_BYTES`], before any of them is applied.
    pub(crate) fn check_bytes<'a>(
        &self,
        sets: impl IntoIterator<Item = (&'a str, &'a str, &'a Patch)>,
    ) -> Result<(), ObjectsError> {
        let mut after = self.bytes;
        for (uuid, channel, patch) in sets {
            let existing = self.relation(uuid, channel);
            let mut relation = existing.cloned().unwrap_or_default();
            patch.apply_common(&mut relation.common);
            // The version a set gives it has this length.
            relation.common.stamp(0, "", true);
            after = after
                .saturating_sub(existing.map_or(0, |r| relation_bytes(uuid, channel, r)))
                .saturating_add(relation_bytes(uuid, channel, &relation));
        }
        if after > MAX_STORE_BYTES.max(self.bytes) {
            return Err(store_full());
        }
        Ok(())
    }

    /// Sets a membership of `uuid` in `channel`.
    pub(crate) fn set_relation(
        &mut self,
        uuid: &str,
        channel: &str,
        patch: &Patch,
        timetoken: u64,
    ) -> Result<Outcome, ObjectsError> {
        let existing = self.by_uuid.get(uuid).and_then(|m| m.get(channel));
        if existing.is_none() {
            self.check_room(Kind::Uuid, uuid, &[channel])?;
        }
        let mut relation = existing.cloned().unwrap_or_default();
        patch.apply_common(&mut relation.common);
        if existing.is_some_and(|old| old.common.same_content(&relation.common)) {
            return Ok(Outcome::Unchanged);
        }
        let content = format!(
            "{uuid}\u{0}{channel}\u{0}{}\u{0}{}\u{0}{}",
            raw_text(&relation.common.status),
            raw_text(&relation.common.r#type),
            raw_text(&relation.common.custom)
        );
        relation.common.stamp(timetoken, &content, true);
        let (old, is_new) = (
            existing.map_or(0, |r| relation_bytes(uuid, channel, r)),
            existing.is_none(),
        );
        self.account(old, relation_bytes(uuid, channel, &relation))?;
        self.persist
            .put(Table::Memberships, &(uuid, channel), &relation);
        self.insert_relation(uuid, channel, relation, is_new);
        Ok(Outcome::Changed)
    }

    fn insert_relation(&mut self, uuid: &str, channel: &str, relation: Relation, is_new: bool) {
        if is_new {
            self.memberships += 1;
            self.by_channel
                .entry(channel.to_owned())
                .or_default()
                .insert(uuid.to_owned());
        }
        self.by_uuid
            .entry(uuid.to_owned())
            .or_default()
            .insert(channel.to_owned(), relation);
    }

    /// Puts an object read back from the data dir.
    pub(crate) fn restore_object(&mut self, kind: Kind, id: &str, object: Object) {
        self.bytes = self.bytes.saturating_add(object.bytes(id));
        if let Some(old) = self.map_mut(kind).insert(id.to_owned(), object) {
            self.bytes = self.bytes.saturating_sub(old.bytes(id));
        }
    }

    /// Puts a membership read back from the data dir.
    pub(crate) fn restore_relation(&mut self, uuid: &str, channel: &str, relation: Relation) {
        let is_new = self.relation(uuid, channel).is_none();
        if is_new {
            self.bytes = self
                .bytes
                .saturating_add(relation_bytes(uuid, channel, &relation));
            self.insert_relation(uuid, channel, relation, true);
        }
    }

    /// Removes a membership; the removed one, if it existed.
    pub(crate) fn remove_relation(&mut self, uuid: &str, channel: &str) -> Option<Relation> {
        let of_uuid = self.by_uuid.get_mut(uuid)?;
        let removed = of_uuid.remove(channel)?;
        if of_uuid.is_empty() {
            self.by_uuid.remove(uuid);
        }
        if let Some(members) = self.by_channel.get_mut(channel) {
            members.remove(uuid);
            if members.is_empty() {
                self.by_channel.remove(channel);
            }
        }
        self.memberships = self.memberships.saturating_sub(1);
        self.bytes = self
            .bytes
            .saturating_sub(relation_bytes(uuid, channel, &removed));
        self.persist.delete(Table::Memberships, &(uuid, channel));
        Some(removed)
    }

    /// The membership of `uuid` in `channel`.
    pub(crate) fn relation(&self, uuid: &str, channel: &str) -> Option<&Relation> {
        self.by_uuid.get(uuid).and_then(|m| m.get(channel))
    }
}

/// Renders a membership (`owner` = `Kind::Uuid`: a uuid's membership, with
/// the nested `channel`) or a member (`Kind::Channel`: nested `uuid`).
/// `nested` is how the nested object shows: `None` for just its id.
pub(crate) fn render_relation(
    objects: &Objects,
    owner: Kind,
    other_id: &str,
    relation: &Relation,
    shown: Shown,
    nested: Option<Shown>,
) -> String {
    let other = owner.other();
    let nested_json = match (nested, objects.get(other, other_id)) {
        (Some(nested), Some(object)) => object.render(other, other_id, nested),
        _ => format!("{{\"id\":{}}}", json_string(other_id)),
    };
    let mut out = String::from("{");
    push_field(&mut out, other.key(), &nested_json);
    relation.common.write_tail(&mut out, shown);
    out.push('}');
    out
}

/// The data of a membership event: both ids and the membership's fields.
pub(crate) fn relation_event_data(
    uuid: &str,
    channel: &str,
    relation: Option<&Relation>,
) -> String {
    let mut out = String::from("{");
    push_field(
        &mut out,
        "uuid",
        &format!("{{\"id\":{}}}", json_string(uuid)),
    );
    push_field(
        &mut out,
        "channel",
        &format!("{{\"id\":{}}}", json_string(channel)),
    );
    if let Some(relation) = relation {
        relation.common.write_tail(&mut out, Shown::ALL);
    }
    out.push('}');
    out
}

/// `2024-03-07T08:49:07.011608Z` for a timetoken (100 ns units since 1970).
pub(crate) fn iso8601(timetoken: u64) -> String {
    let secs = timetoken / TT_PER_SEC;
    let micros = (timetoken % TT_PER_SEC) / 10;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> Patch {
        let body: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_str(json).unwrap();
        Patch::parse(Some(Kind::Uuid), &body, &raw).unwrap()
    }

    #[test]
    fn dates_are_iso8601_with_microseconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            iso8601(17_098_013_470_116_080),
            "2024-03-07T08:49:07.011608Z"
        );
    }

    #[test]
    fn custom_keeps_order_and_number_text() {
        let mut objects = Objects::default();
        let p = patch(r#"{"name": "A", "custom": {"z": 1.50, "a": 12345678901234567890}}"#);
        assert_eq!(
            objects.set(Kind::Uuid, "a", &p, None, 1).unwrap(),
            Outcome::Changed
        );
        let shown = objects
            .get(Kind::Uuid, "a")
            .unwrap()
            .render(Kind::Uuid, "a", Shown::ALL);
        assert!(
            shown.starts_with(r#"{"id":"a","name":"A","externalId":null,"profileUrl":null,"email":null,"type":null,"status":null,"custom":{"z":1.50,"a":12345678901234567890},"updated":""#),
            "{shown}"
        );
        // Same content again: no new version.
        assert_eq!(
            objects.set(Kind::Uuid, "a", &p, None, 2).unwrap(),
            Outcome::Unchanged
        );
    }

    #[test]
    fn if_match_and_bounds() {
        let mut objects = Objects::default();
        objects
            .set(Kind::Channel, "c", &Patch::default(), None, 1)
            .unwrap();
        let etag = objects.get(Kind::Channel, "c").unwrap().common.etag.clone();
        let p = Patch {
            fields: vec![Some(RawValue::from_string("\"n\"".into()).ok()), None],
            ..Patch::default()
        };
        let e = objects
            .set(Kind::Channel, "c", &p, Some("other"), 2)
            .unwrap_err();
        assert_eq!(e.status, 412);
        objects.set(Kind::Channel, "c", &p, Some(&etag), 3).unwrap();
        let big = format!(
            r#"{{"custom": {{"k": "{}"}}}}"#,
            "x".repeat(MAX_CUSTOM_BYTES)
        );
        let body: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&big).unwrap();
        let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&big).unwrap();
        assert_eq!(Patch::parse(None, &body, &raw).unwrap_err().status, 400);
    }

    #[test]
    fn memberships_index_both_ways() {
        let mut objects = Objects::default();
        objects
            .set_relation("u1", "c1", &Patch::default(), 1)
            .unwrap();
        objects
            .set_relation("u2", "c1", &Patch::default(), 2)
            .unwrap();
        objects
            .set_relation("u1", "c2", &Patch::default(), 3)
            .unwrap();
        let members: Vec<&str> = objects
            .relations(Kind::Channel, "c1")
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(members, ["u1", "u2"]);
        let channels: Vec<&str> = objects
            .relations(Kind::Uuid, "u1")
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(channels, ["c1", "c2"]);
        assert!(objects.remove_relation("u1", "c1").is_some());
        assert_eq!(objects.relations(Kind::Channel, "c1").len(), 1);
        assert_eq!(objects.memberships, 2);
        assert!(objects.remove_relation("u2", "c1").is_some());
        assert!(objects.remove_relation("u1", "c2").is_some());
        assert_eq!(objects.bytes, 0, "every byte accounted for is given back");
    }

    #[test]
    fn the_store_has_a_byte_bound() {
        let mut objects = Objects::default();
        let custom = format!(
            r#"{{"custom": {{"k": "{}"}}}}"#,
            "x".repeat(MAX_CUSTOM_BYTES - 16)
        );
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&custom).unwrap();
        let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&custom).unwrap();
        let p = Patch::parse(Some(Kind::Channel), &body, &raw).unwrap();
        let fits = MAX_STORE_BYTES / (MAX_CUSTOM_BYTES + RECORD_OVERHEAD + 256);
        for n in 0..fits {
            objects
                .set(Kind::Channel, &format!("c{n}"), &p, None, 1)
                .unwrap();
        }
        let refused = (fits..2 * fits)
            .map(|n| objects.set(Kind::Channel, &format!("c{n}"), &p, None, 1))
            .find_map(Result::err)
            .expect("the byte bound refuses a write");
        assert_eq!(refused.status, 400);
        assert!(objects.bytes <= MAX_STORE_BYTES);
        // A batch of memberships that would not fit is refused up front.
        let membership = Patch {
            custom: p.custom.clone(),
            ..Patch::default()
        };
        assert_eq!(
            objects
                .check_bytes([("u", "a", &membership), ("u", "b", &membership)])
                .unwrap_err()
                .status,
            400
        );
        // Removing makes room again.
        assert!(objects.remove(Kind::Channel, "c0"));
        assert!(objects.remove(Kind::Channel, "c1"));
        objects.set(Kind::Channel, "again", &p, None, 2).unwrap();
    }
}
