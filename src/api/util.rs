//! Helpers the REST families share: argument checks and reading the
//! `{"status": …, "error": …}` envelopes of the JSON services.

use serde_json::Value;

use crate::Error;

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

/// Checks an id that goes into a path segment (uuid, App Context id).
pub(crate) fn validate_id(arg: &'static str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid_argument(arg, "is empty"));
    }
    Ok(())
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

/// A string field of a JSON object.
pub(crate) fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}
