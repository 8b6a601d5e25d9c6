//! Helpers the REST families share: argument checks, reading the
//! `{"status": …, "error": …}` envelopes of the JSON services, and the
//! macros that write builder setters.

use serde_json::Value;

use crate::api::parse_json;
use crate::{Error, PubNub};

/// Collects names given to a builder setter.
pub(crate) fn names<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    names.into_iter().map(Into::into).collect()
}

/// Checks one channel or channel-group name: not empty, no comma (a comma
/// separates names in PubNub's lists, so no name can contain one).
pub(crate) fn validate_name(arg: &'static str, kind: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid_argument(
            arg,
            format!("holds an empty {kind} name"),
        ));
    }
    if name.contains(',') {
        return Err(Error::invalid_argument(
            arg,
            format!("{kind} name `{name}` contains a comma, which PubNub names cannot hold"),
        ));
    }
    Ok(())
}

/// Checks every name of a list (the list may be empty).
pub(crate) fn validate_names(arg: &'static str, kind: &str, list: &[String]) -> Result<(), Error> {
    list.iter()
        .try_for_each(|name| validate_name(arg, kind, name))
}

/// Checks that a call names at least one channel.
pub(crate) fn require_channels(channels: &[String]) -> Result<(), Error> {
    if channels.is_empty() {
        return Err(Error::invalid_argument(
            "channels",
            "is empty: name at least one channel",
        ));
    }
    Ok(())
}

/// Checks a list of channels: at least one, every name valid.
pub(crate) fn validate_channel_list(channels: &[String]) -> Result<(), Error> {
    require_channels(channels)?;
    validate_names("channels", "channel", channels)
}

/// Checks an id that goes into a path segment (uuid, App Context id).
pub(crate) fn validate_id(arg: &'static str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid_argument(arg, "is empty"));
    }
    Ok(())
}

/// The user id a call is about: the one given, else the client's own
/// (checked as the `uuid` argument).
pub(crate) fn uuid_or_own(client: &PubNub, uuid: Option<String>) -> Result<String, Error> {
    let uuid = uuid.unwrap_or_else(|| client.inner.config.user_id.clone());
    validate_id("uuid", &uuid)?;
    Ok(uuid)
}

/// `"true"`/`"false"` query flag.
pub(crate) fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// A 200 answer whose JSON says `"error": true` is reported like the error
/// status it stands for (the body's `status`, else 400).
pub(crate) fn check_error_flag(value: &Value, body: &[u8]) -> Result<(), Error> {
    if value.get("error").and_then(Value::as_bool) == Some(true) {
        let status = value
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| *s >= 400)
            .unwrap_or(400);
        return Err(Error::from_response(status, body));
    }
    Ok(())
}

/// Parses the JSON answer of a REST service and fails on its error flag
/// (see [`check_error_flag`]).
pub(crate) fn parse_reply(what: &'static str, body: &[u8]) -> Result<Value, Error> {
    let value = parse_json(what, body)?;
    check_error_flag(&value, body)?;
    Ok(value)
}

/// Checks an answer that carries nothing but its status, such as
/// `{"status": 200, "message": "OK", "error": false}`.
pub(crate) fn check_ok(what: &'static str, body: &[u8]) -> Result<(), Error> {
    parse_reply(what, body).map(drop)
}

/// The strings of a JSON array (other items skipped); `None` when it is
/// not an array.
pub(crate) fn string_list(value: &Value) -> Option<Vec<String>> {
    let items = value.as_array()?;
    Some(
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// A count sent as a JSON number or a numeric string.
pub(crate) fn u32_from(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A string field of a JSON object.
pub(crate) fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Writes a setter that replaces a builder's list of names (a
/// `Vec<String>` field at the given path).
macro_rules! names_setter {
    ($(#[$doc:meta])* $setter:ident($arg:ident) => $($field:ident).+) => {
        $(#[$doc])*
        pub fn $setter<I, S>(mut self, $arg: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.$($field).+ = $crate::api::util::names($arg);
            self
        }
    };
}

/// Writes the `channels` (replaces the list) and `channel` (adds one)
/// setters of a builder, on its `Vec<String>` field at the given path.
macro_rules! channels_setters {
    ($(#[$doc:meta])* $($field:ident).+) => {
        $crate::api::util::names_setter!($(#[$doc])* channels(channels) => $($field).+);

        /// Adds one channel.
        pub fn channel(mut self, channel: impl Into<String>) -> Self {
            self.$($field).+.push(channel.into());
            self
        }
    };
}

/// Writes the `channel_groups` setter (replaces the list) of a builder, on
/// its `Vec<String>` field at the given path.
macro_rules! channel_groups_setter {
    ($(#[$doc:meta])* $($field:ident).+) => {
        $crate::api::util::names_setter!($(#[$doc])* channel_groups(groups) => $($field).+);
    };
}

pub(crate) use {channel_groups_setter, channels_setters, names_setter};

/// Writes builder setters that store their argument in the field of the
/// same name, one per entry `setter(argument: FieldType);` with its rustdoc:
///
/// - a `String` or `Option<String>` field takes `impl Into<String>`;
/// - an `Option<T>` field takes a `T` (stored as `Some`);
/// - any other field takes its own type.
macro_rules! setters {
    () => {};
    ($(#[$doc:meta])* $setter:ident($arg:ident: String); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $setter(mut self, $arg: impl Into<String>) -> Self {
            self.$setter = $arg.into();
            self
        }

        $crate::api::util::setters!($($rest)*);
    };
    ($(#[$doc:meta])* $setter:ident($arg:ident: Option<String>); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $setter(mut self, $arg: impl Into<String>) -> Self {
            self.$setter = Some($arg.into());
            self
        }

        $crate::api::util::setters!($($rest)*);
    };
    ($(#[$doc:meta])* $setter:ident($arg:ident: Option<$type:ty>); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $setter(mut self, $arg: $type) -> Self {
            self.$setter = Some($arg);
            self
        }

        $crate::api::util::setters!($($rest)*);
    };
    ($(#[$doc:meta])* $setter:ident($arg:ident: $type:ty); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $setter(mut self, $arg: $type) -> Self {
            self.$setter = $arg;
            self
        }

        $crate::api::util::setters!($($rest)*);
    };
}

pub(crate) use setters;
