//! The request/response APIs, one module per PubNub REST family. Each call
//! is a builder on [`PubNub`](crate::PubNub) that is awaited directly
//! (`IntoFuture`).

pub mod access;
pub mod channel_groups;
pub mod encryption;
// How every builder is awaited: build the request, send, read the answer.
mod endpoint;
pub mod files;
pub mod history;
pub mod message_actions;
pub mod objects;
// Deprecated Objects v1 (users/spaces), for apps migrating to App Context;
// behind the non-default `objects-v1` feature.
#[cfg(feature = "objects-v1")]
#[cfg_attr(docsrs, doc(cfg(feature = "objects-v1")))]
pub mod objects_v1;
pub mod presence;
pub mod publish;
pub mod push;
pub mod time;
mod util;

use serde_json::Value;

use crate::Error;

/// Reads a timetoken sent as a JSON number or a JSON string (PubNub uses
/// both); never through `f64`, so all 17 digits survive.
pub(crate) fn timetoken_from(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Parses a JSON body, naming what was expected when it is not JSON.
pub(crate) fn parse_json(what: &'static str, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| Error::deserialization(what, e, body))
}

/// Serializes a user value, naming it in the error.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| serialization(what, e))
}

/// Turns a user value into JSON, naming it in the error.
pub(crate) fn to_value<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| serialization(what, e))
}

fn serialization(what: &'static str, error: serde_json::Error) -> Error {
    Error::Serialization {
        what,
        reason: error.to_string(),
    }
}

/// Checks a channel name for calls that name exactly one channel.
pub(crate) fn validate_channel(name: &'static str, channel: &str) -> Result<(), Error> {
    if channel.is_empty() {
        return Err(Error::invalid_argument(name, "is empty: name the channel"));
    }
    if channel.contains(',') {
        return Err(Error::invalid_argument(
            name,
            format!("`{channel}` contains a comma, which PubNub channel names cannot hold"),
        ));
    }
    Ok(())
}
