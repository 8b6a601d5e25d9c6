//! The one error type of the crate.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::crypto::CryptoError;

/// Result alias with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant saying what happened and what
/// to do about it. Cheap to clone, so one failure can be reported on several
/// streams.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or invalid (reported by
    /// [`ConfigBuilder::build`](crate::ConfigBuilder::build)).
    #[error("invalid configuration `{field}`: {reason}")]
    InvalidConfig {
        /// The option at fault.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// An argument of an API call is invalid; nothing was sent.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument at fault.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// The operation needs a key the configuration does not have.
    #[error("{operation} needs a {key}: set it with `ConfigBuilder::{key}`")]
    MissingKey {
        /// `publish_key` or `secret_key`.
        key: &'static str,
        /// What was attempted.
        operation: &'static str,
    },

    /// No HTTP answer: connection refused or reset, DNS, TLS, ...
    #[error(
        "network error: {message} (check the origin, the network, or whether the server runs)"
    )]
    Network {
        /// What the HTTP stack reported.
        message: String,
    },

    /// No answer within the configured timeout.
    #[error("request timed out after {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },

    /// PubNub refused the publish or subscribe key.
    #[error(
        "PubNub refused the key (HTTP {status}): {message}; check the publish and subscribe keys"
    )]
    InvalidKey {
        /// HTTP status (400).
        status: u16,
        /// The server's message, e.g. `Invalid Subscribe Key`.
        message: String,
    },

    /// The message is over PubNub's size limit. `size` is known when the
    /// client caught it before sending, `None` when the server refused it.
    #[error("{what} too large: {} (limit {limit} bytes){}", size_text(*.size), too_large_hint(what))]
    MessageTooLarge {
        /// `publish` or `signal`.
        what: &'static str,
        /// The counted size, when measured client-side.
        size: Option<usize>,
        /// The limit it was counted against.
        limit: usize,
    },

    /// Access Manager denied the request (HTTP 403), or the token/signature
    /// was refused.
    #[error(
        "access denied (HTTP {status}): {message}{}",
        denied_suffix(channels, channel_groups, uuids)
    )]
    AccessDenied {
        /// HTTP status (403, or 400 for token validation failures).
        status: u16,
        /// The server's message (`Forbidden`, `Token is revoked`, ...).
        message: String,
        /// Channels the server named as denied.
        channels: Vec<String>,
        /// Channel groups the server named as denied.
        channel_groups: Vec<String>,
        /// UUIDs the server named as denied.
        uuids: Vec<String>,
    },

    /// Any other HTTP error status with the server's message.
    #[error("PubNub answered HTTP {status}{}: {message}", service.as_deref().map(|s| format!(" from {s}")).unwrap_or_default())]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's message (or the start of the body).
        message: String,
        /// The `service` field of the body, when present.
        service: Option<String>,
        /// The raw body (truncated to 1 KiB).
        body: String,
    },

    /// Encryption or decryption failed (wrong cipher key, corrupt data, ...).
    #[error(transparent)]
    Crypto(#[from] CryptoError),

    /// A value could not be turned into JSON.
    #[error("could not serialize the {what} to JSON: {reason}")]
    Serialization {
        /// What was being serialized (message, meta, state, ...).
        what: &'static str,
        /// serde_json's explanation.
        reason: String,
    },

    /// The request is too long to send or was refused as too long (HTTP 413
    /// or 414): retrying cannot help. `length` is the URL length when the
    /// client caught it before sending.
    #[error(
        "request too long ({}): PubNub answers 414 to request targets over 32 KiB and the client never sends URLs over {MAX_URL_LENGTH} bytes; subscribe to fewer channels or groups per client, use shorter names, or send large payloads by POST",
        too_long_text(*.status, *.length)
    )]
    RequestTooLong {
        /// HTTP status (413 or 414) when the server refused it.
        status: Option<u16>,
        /// The URL length when the client refused to send it.
        length: Option<usize>,
    },

    /// The HTTP stack could not build the request (an invalid URL or header
    /// value); nothing was sent and retrying cannot help.
    #[error("could not build the request: {reason}; check the origin and the names in it")]
    InvalidRequest {
        /// What the HTTP stack reported.
        reason: String,
    },

    /// A response (or a payload) did not have the expected shape.
    #[error("could not parse {what}: {reason}; body: {body}")]
    Deserialization {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong.
        reason: String,
        /// The offending text (truncated to 1 KiB).
        body: String,
    },

    /// An awaited `subscribe()` ended without connecting: the subscription
    /// was unsubscribed, or the client closed or disconnected, first.
    #[error("the subscription ended before it connected: {reason}")]
    Unsubscribed {
        /// What ended it.
        reason: &'static str,
    },

    /// `send_file` uploaded the file but could not publish its file message
    /// (after retrying what could be retried): subscribers were not told.
    /// The file is stored; publish its message with
    /// [`PubNub::publish_file_message`](crate::PubNub::publish_file_message)
    /// and this id and name.
    #[error(
        "the file `{name}` (id {id}) was uploaded, but its file message was not published: \
         {source}; publish it with `client.publish_file_message()` and this id and name"
    )]
    FileMessageNotPublished {
        /// The stored file's id.
        id: String,
        /// The stored file's name.
        name: String,
        /// Why the last publish attempt failed.
        source: Box<Error>,
    },
}

/// The longest URL the client sends. PubNub answers 414 to request targets
/// over 32 KiB (PROTOCOL.md §1.8), which the client reports as
/// [`Error::RequestTooLong`] without retrying; a publish just under the
/// 32 KiB message limit still needs a URL somewhat longer than that, so the
/// client itself only refuses what no server takes and the HTTP stack may
/// fail to build (64 KiB).
pub(crate) const MAX_URL_LENGTH: usize = 64 * 1024;

fn too_long_text(status: Option<u16>, length: Option<usize>) -> String {
    match (status, length) {
        (_, Some(length)) => format!("a {length}-byte URL, not sent"),
        (Some(status), None) => format!("HTTP {status}"),
        (None, None) => "refused".to_owned(),
    }
}

fn size_text(size: Option<usize>) -> String {
    match size {
        Some(size) => format!("{size} bytes"),
        None => "refused by the server".to_owned(),
    }
}

fn too_large_hint(what: &str) -> &'static str {
    if what == "signal" {
        "; signals carry small payloads: publish larger data instead"
    } else {
        "; split the message or store the data elsewhere (e.g. a file) and publish a reference"
    }
}

fn denied_suffix(channels: &[String], groups: &[String], uuids: &[String]) -> String {
    let mut out = String::new();
    for (label, list) in [
        ("channels", channels),
        ("channel groups", groups),
        ("uuids", uuids),
    ] {
        if !list.is_empty() {
            let _ = write!(out, "; denied {label}: {}", list.join(", "));
        }
    }
    if out.is_empty() {
        out.push_str("; check the auth key or token and its grants");
    }
    out
}

impl Error {
    /// Whether retrying the same request later can succeed: network errors,
    /// timeouts, HTTP 5xx and 429. Never 400/403.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network { .. } | Self::Timeout { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            Self::FileMessageNotPublished { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// The HTTP status PubNub answered with, if the error came from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InvalidKey { status, .. }
            | Self::AccessDenied { status, .. }
            | Self::Http { status, .. } => Some(*status),
            Self::RequestTooLong { status, .. } => *status,
            Self::MessageTooLarge { size: None, .. } => Some(400),
            Self::FileMessageNotPublished { source, .. } => source.status(),
            _ => None,
        }
    }

    pub(crate) fn invalid_argument(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn deserialization(what: &'static str, reason: impl ToString, body: &[u8]) -> Self {
        Self::Deserialization {
            what,
            reason: reason.to_string(),
            body: truncated_text(body),
        }
    }

    /// Maps an HTTP error answer (status ≥ 400) to an error, reading the
    /// PubNub error bodies of every service (PROTOCOL.md §1.7).
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let parsed = json.as_ref().map(ErrorBody::read).unwrap_or_default();
        let message = parsed.message.unwrap_or_else(|| {
            let text = truncated_text(body);
            if text.trim().is_empty() {
                default_reason(status).to_owned()
            } else {
                text
            }
        });
        match message.as_str() {
            "Invalid Key" | "Invalid Subscribe Key" | "Invalid Publish Key" => {
                return Self::InvalidKey { status, message };
            }
            "Message Too Large" => {
                return Self::MessageTooLarge {
                    what: "publish",
                    size: None,
                    limit: crate::api::publish::MAX_PUBLISH_SIZE,
                };
            }
            "Signal size too large" => {
                return Self::MessageTooLarge {
                    what: "signal",
                    size: None,
                    limit: crate::api::publish::MAX_SIGNAL_SIZE,
                };
            }
            _ => {}
        }
        if status == 413 || status == 414 {
            return Self::RequestTooLong {
                status: Some(status),
                length: None,
            };
        }
        if status == 403 || (status == 400 && parsed.about_token) {
            return Self::AccessDenied {
                status,
                message,
                channels: parsed.channels,
                channel_groups: parsed.channel_groups,
                uuids: parsed.uuids,
            };
        }
        Self::Http {
            status,
            message,
            service: parsed.service,
            body: truncated_text(body),
        }
    }
}

/// The parts of a PubNub error body the client reports.
#[derive(Default)]
struct ErrorBody {
    message: Option<String>,
    service: Option<String>,
    channels: Vec<String>,
    channel_groups: Vec<String>,
    uuids: Vec<String>,
    /// A v3 validation detail points at the token (`"location": "token"`),
    /// e.g. revoking an expired token.
    about_token: bool,
}

impl ErrorBody {
    fn read(value: &Value) -> Self {
        let mut out = Self::default();
        match value {
            // Publish-service errors: [0, "Invalid Key", "<tt>"]
            Value::Array(items) => {
                out.message = items.get(1).and_then(Value::as_str).map(str::to_owned);
            }
            Value::Object(map) => {
                out.service = map
                    .get("service")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                out.message = map
                    .get("message")
                    .and_then(Value::as_str)
                    .or_else(|| {
                        map.get("error_message")
                            .and_then(Value::as_str)
                            .filter(|s| !s.is_empty())
                    })
                    .map(str::to_owned);
                // Mobile Push: {"error": "Invalid device token"}
                if let Some(text) = map.get("error").and_then(Value::as_str) {
                    out.message.get_or_insert_with(|| text.to_owned());
                }
                // v3 / objects / actions: {"error": {"message": .., "details": [{"message": ..}]}}
                if let Some(error) = map.get("error").and_then(Value::as_object) {
                    let mut message = error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let details = error.get("details").and_then(Value::as_array);
                    for detail in details.into_iter().flatten() {
                        out.about_token |=
                            detail.get("location").and_then(Value::as_str) == Some("token");
                        if let Some(text) = detail.get("message").and_then(Value::as_str) {
                            if !message.is_empty() {
                                message.push_str(": ");
                            }
                            message.push_str(text);
                        }
                    }
                    if !message.is_empty() {
                        out.message = Some(message);
                    }
                }
                if let Some(payload) = map.get("payload").and_then(Value::as_object) {
                    out.channels = string_list(payload.get("channels"));
                    out.channel_groups = string_list(payload.get("channel-groups"));
                    out.uuids = string_list(payload.get("uuids"));
                }
            }
            _ => {}
        }
        out
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn default_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP error",
    }
}

/// The body as text, cut to 1 KiB on a character boundary.
pub(crate) fn truncated_text(body: &[u8]) -> String {
    const LIMIT: usize = 1024;
    let text = String::from_utf8_lossy(body);
    if text.len() <= LIMIT {
        return text.into_owned();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_invalid_key_array() {
        let e = Error::from_response(400, br#"[0,"Invalid Key","14820999375199241"]"#);
        assert!(
            matches!(e, Error::InvalidKey { status: 400, ref message } if message == "Invalid Key")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn invalid_subscribe_key_object() {
        let e = Error::from_response(
            400,
            br#"{"message":"Invalid Subscribe Key","error":true,"service":"Access Manager","status":400}"#,
        );
        assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
    }

    #[test]
    fn access_manager_403_lists_denied_resources() {
        let e = Error::from_response(
            403,
            br#"{"message":"Forbidden","payload":{"channels":["a","b"],"channel-groups":["g"]},"error":true,"service":"Access Manager","status":403}"#,
        );
        match &e {
            Error::AccessDenied {
                channels,
                channel_groups,
                ..
            } => {
                assert_eq!(channels, &["a", "b"]);
                assert_eq!(channel_groups, &["g"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("denied channels: a, b"));
    }

    #[test]
    fn v3_error_details_are_joined() {
        let e = Error::from_response(
            400,
            br#"{"error":{"message":"Invalid ttl","source":"grant","details":[{"message":"Range should be 1 to 43200 minute(s).","location":"ttl","locationType":"body"}]},"service":"Access Manager","status":400}"#,
        );
        assert!(
            e.to_string()
                .contains("Invalid ttl: Range should be 1 to 43200"),
            "{e}"
        );
    }

    #[test]
    fn too_large_and_retryable_statuses() {
        let e = Error::from_response(400, br#"[0,"Message Too Large","1"]"#);
        assert!(matches!(
            e,
            Error::MessageTooLarge {
                what: "publish",
                size: None,
                ..
            }
        ));
        assert!(Error::from_response(503, b"").is_retryable());
        assert!(Error::from_response(
            429,
            br#"{"status":429,"error":true,"message":"Too many requests."}"#
        )
        .is_retryable());
        assert!(!Error::from_response(400, b"nope").is_retryable());
    }

    #[test]
    fn too_long_is_its_own_error_and_not_retryable() {
        for status in [413, 414] {
            let e = Error::from_response(status, b"");
            assert_eq!(
                e,
                Error::RequestTooLong {
                    status: Some(status),
                    length: None
                }
            );
            assert!(!e.is_retryable());
            assert_eq!(e.status(), Some(status));
            assert!(e.to_string().contains("fewer channels"), "{e}");
        }
    }
}
