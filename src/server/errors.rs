//! Error answers in the shapes PubNub's services use (PROTOCOL.md §1.7) and
//! the response headers of §1.5.
//!
//! Shapes:
//! * publish service (publish, signal): `[0,"<description>","<timetoken>"]`;
//! * Access Manager: `{"message":…,"error":true,"service":"Access Manager","status":…}`
//!   with `Content-Type: text/javascript; charset=UTF-8` (no quotes);
//! * history services: `{"status":400,"error":true,"error_message":…,"channels":{}}`;
//! * everything else (presence, channel registry, subscribe, and the front
//!   end for unknown routes or malformed requests): `{"status":…,"error":true,
//!   "service":…,"message":…}` — the shape CLIENT-CAPTURES.md shows both MIT
//!   clients handle. Where PubNub's exact wording is unrecorded the message
//!   says plainly what was wrong.

use axum::body::Body;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::json;

/// `Content-Type` of the publish, subscribe, presence, history and
/// channel-registry services (with the quotes, as PubNub sends it).
pub(crate) const PN_CONTENT_TYPE: &str = "text/javascript; charset=\"UTF-8\"";
/// `Content-Type` of Access Manager answers (no quotes).
pub(crate) const PAM_CONTENT_TYPE: &str = "text/javascript; charset=UTF-8";

/// Service names used in error bodies.
pub(crate) mod service {
    pub(crate) const BALANCER: &str = "Balancer";
    pub(crate) const PRESENCE: &str = "Presence";
    pub(crate) const CHANNEL_REGISTRY: &str = "channel-registry";
    pub(crate) const SUBSCRIBE: &str = "Subscribe";
}

/// Builds a response with PubNub's usual headers.
pub(crate) fn pn_response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response<Body> {
    // Most answers (every subscribe) carry `PN_CONTENT_TYPE`: their headers
    // are built once and copied, instead of hashed into a new map each time.
    static PN_HEADERS: OnceLock<HeaderMap> = OnceLock::new();
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    *response.headers_mut() = if content_type == PN_CONTENT_TYPE {
        PN_HEADERS
            .get_or_init(|| pn_headers(PN_CONTENT_TYPE))
            .clone()
    } else {
        pn_headers(content_type)
    };
    response
}

fn pn_headers(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, PATCH, OPTIONS"),
    );
    headers
}

/// An Access Manager answer: its own `Content-Type` and the stricter
/// `Cache-Control` the service sends.
pub(crate) fn pam_response(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut response = pn_response(status, PAM_CONTENT_TYPE, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    response
}

/// One entry of an Access Manager error's `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PamDetail {
    pub(crate) message: String,
    /// Which input was wrong (`signature`, `timestamp`, `ttl`, `token`, …).
    pub(crate) location: &'static str,
    /// Where that input was (`query`, `body`, `path`).
    pub(crate) location_type: &'static str,
}

impl PamDetail {
    pub(crate) fn new(
        message: impl Into<String>,
        location: &'static str,
        location_type: &'static str,
    ) -> Self {
        Self {
            message: message.into(),
            location,
            location_type,
        }
    }
}

/// A `200` JSON answer with the PubNub `Content-Type`.
pub(crate) fn ok_json(body: impl Into<Body>) -> Response<Body> {
    pn_response(StatusCode::OK, PN_CONTENT_TYPE, body)
}

/// An error answer. Every handler returns `Result<Response, ApiError>`.
#[derive(Debug, Clone)]
pub(crate) enum ApiError {
    /// 400 `{"message":"Invalid Subscribe Key",…,"service":"Access Manager"}`.
    InvalidSubscribeKey,
    /// A publish-service rejection `[0,"<message>","<tt>"]`.
    Publish {
        status: StatusCode,
        message: String,
        timetoken: u64,
    },
    /// `{"status":…,"error":true,"service":…,"message":…}`.
    Service {
        status: StatusCode,
        service: &'static str,
        message: String,
    },
    /// `{"status":…,"error":true,"error_message":…,"channels":{}}`.
    History { status: StatusCode, message: String },
    /// 403 Access Manager denial listing the refused resources.
    Forbidden {
        channels: Vec<String>,
        groups: Vec<String>,
        uuids: Vec<String>,
    },
    /// An Access Manager error object (v3 endpoints, signatures):
    /// `{"error":{"message":…,"source":…,"details":[…]},"service":"Access Manager","status":…}`.
    AccessManager {
        status: StatusCode,
        message: String,
        source: &'static str,
        details: Vec<PamDetail>,
    },
    /// The flat Access Manager answer of the v2 endpoints:
    /// `{"message":…,"error":true,"service":"Access Manager","status":…}`.
    AccessManagerFlat { status: StatusCode, message: String },
    /// 403 for a token that cannot be used (revoked, expired, not issued
    /// here): `{"error":true,"status":403,"service":"Access Manager","message":…}`
    /// with `X-Pn-Cause: 4001`, as recorded for a revoked token.
    TokenRefused { message: String },
    /// The error object of the newer services (message actions, App
    /// Context): `{"status":…,"error":{"message":…,"source":…}}`.
    Sourced {
        status: StatusCode,
        source: &'static str,
        message: String,
    },
    /// A literal answer (fault injection).
    Raw { status: StatusCode, body: String },
}

impl ApiError {
    /// 400 from the service named `service`.
    pub(crate) fn bad_request(service: &'static str, message: impl Into<String>) -> Self {
        Self::Service {
            status: StatusCode::BAD_REQUEST,
            service,
            message: message.into(),
        }
    }

    /// A publish-service 400 `[0,"<message>","<tt>"]`.
    pub(crate) fn publish(message: impl Into<String>, timetoken: u64) -> Self {
        Self::Publish {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            timetoken,
        }
    }

    /// History-service 400 "Invalid Arguments"-style answer.
    pub(crate) fn history(message: impl Into<String>) -> Self {
        Self::History {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The HTTP status of this answer.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidSubscribeKey => StatusCode::BAD_REQUEST,
            Self::Publish { status, .. }
            | Self::Service { status, .. }
            | Self::History { status, .. }
            | Self::Sourced { status, .. }
            | Self::Raw { status, .. } => *status,
            Self::AccessManager { status, .. } | Self::AccessManagerFlat { status, .. } => *status,
            Self::Forbidden { .. } | Self::TokenRefused { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// Renders the PubNub body and headers. Bodies are written field by
    /// field so their key order matches the real service's.
    pub(crate) fn into_response(self) -> Response<Body> {
        let status = self.status();
        let code = status.as_u16();
        match self {
            Self::InvalidSubscribeKey => pn_response(
                status,
                PAM_CONTENT_TYPE,
                r#"{"message":"Invalid Subscribe Key","error":true,"service":"Access Manager","status":400}"#,
            ),
            Self::Publish {
                message, timetoken, ..
            } => pn_response(
                status,
                PN_CONTENT_TYPE,
                format!(r#"[0,{},"{timetoken}"]"#, json_string(&message)),
            ),
            Self::Service {
                service, message, ..
            } => pn_response(
                status,
                PN_CONTENT_TYPE,
                format!(
                    r#"{{"status":{code},"error":true,"service":{},"message":{}}}"#,
                    json_string(service),
                    json_string(&message)
                ),
            ),
            Self::History { message, .. } => pn_response(
                status,
                PN_CONTENT_TYPE,
                format!(
                    r#"{{"status":{code},"error":true,"error_message":{},"channels":{{}}}}"#,
                    json_string(&message)
                ),
            ),
            Self::Forbidden {
                channels,
                groups,
                uuids,
            } => {
                let mut payload = serde_json::Map::new();
                if !channels.is_empty() {
                    payload.insert("channels".into(), json!(channels));
                }
                if !groups.is_empty() {
                    payload.insert("channel-groups".into(), json!(groups));
                }
                if !uuids.is_empty() {
                    payload.insert("uuids".into(), json!(uuids));
                }
                let mut response = pam_response(
                    status,
                    format!(
                        r#"{{"message":"Forbidden","payload":{},"error":true,"service":"Access Manager","status":403}}"#,
                        serde_json::Value::Object(payload)
                    ),
                );
                response
                    .headers_mut()
                    .insert("x-pn-cause", HeaderValue::from_static("9999"));
                response
            }
            Self::AccessManager {
                message,
                source,
                details,
                ..
            } => {
                let details: Vec<serde_json::Value> = details
                    .into_iter()
                    .map(|d| {
                        json!({
                            "message": d.message,
                            "location": d.location,
                            "locationType": d.location_type,
                        })
                    })
                    .collect();
                pam_response(
                    status,
                    format!(
                        r#"{{"error":{{"message":{},"source":{},"details":{}}},"service":"Access Manager","status":{code}}}"#,
                        json_string(&message),
                        json_string(source),
                        serde_json::Value::Array(details)
                    ),
                )
            }
            Self::AccessManagerFlat { message, .. } => pam_response(
                status,
                format!(
                    r#"{{"message":{},"error":true,"service":"Access Manager","status":{code}}}"#,
                    json_string(&message)
                ),
            ),
            Self::TokenRefused { message } => {
                let mut response = pam_response(
                    status,
                    format!(
                        r#"{{"error":true,"status":{code},"service":"Access Manager","message":{}}}"#,
                        json_string(&message)
                    ),
                );
                response
                    .headers_mut()
                    .insert("x-pn-cause", HeaderValue::from_static("4001"));
                response
            }
            Self::Sourced {
                source, message, ..
            } => pn_response(
                status,
                PN_CONTENT_TYPE,
                format!(
                    r#"{{"status":{code},"error":{{"message":{},"source":{}}}}}"#,
                    json_string(&message),
                    json_string(source)
                ),
            ),
            Self::Raw { body, .. } => pn_response(status, PN_CONTENT_TYPE, body),
        }
    }
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response<Body>) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn invalid_subscribe_key_is_the_real_body() {
        let response = ApiError::InvalidSubscribeKey.into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=UTF-8"
        );
        assert_eq!(
            body_of(response).await,
            r#"{"message":"Invalid Subscribe Key","error":true,"service":"Access Manager","status":400}"#
        );
    }

    #[tokio::test]
    async fn publish_errors_are_three_element_arrays() {
        let response = ApiError::publish("Invalid Key", 14820999375199241).into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(
            body_of(response).await,
            r#"[0,"Invalid Key","14820999375199241"]"#
        );
    }
}
