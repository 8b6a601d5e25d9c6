//! From an HTTP request to a handler.
//!
//! Routing is done here on percent-decoded path segments (`wire.rs`) rather
//! than with axum's path router, because PubNub paths carry encoded `/`
//! inside segments and comma lists that must be decoded before splitting.
//! Every request goes through [`handle`]: bounded body read, decoding,
//! request log, fault injection, then the handler. Anything that goes wrong
//! is answered with a PubNub-shaped error body; nothing here panics or drops
//! a connection (except on an injected fault).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::Notify;

use super::access;
use super::actions;
use super::app::App;
use super::compression::{decode_body, BodyError};
use super::errors::{pn_response, service, ApiError, PN_CONTENT_TYPE};
use super::files;
use super::groups::{channel_registration, GroupOp};
use super::history;
use super::hooks::{Fault, RouteKind};
use super::objects::{self, ObjectsPath};
use super::presence;
use super::publish::{publish, time, PublishKind};
use super::push::{self, PushPath};
use super::subscribe::subscribe;
use super::wire::{decode_path, Query, RequestCtx};

/// How long a client may take to send its request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Lets a handler close its connection without answering (fault injection).
/// The accept loop hands one to [`handle`] with every request.
#[derive(Debug, Clone)]
pub(crate) struct ConnControl(pub(crate) Arc<Notify>);

impl ConnControl {
    fn close(&self) {
        self.0.notify_one();
    }
}

/// A resolved route, borrowing from the decoded segments.
enum Route<'a> {
    Time,
    Options,
    Publish {
        kind: PublishKind,
        publish_key: &'a str,
        subscribe_key: &'a str,
        channel: &'a str,
        message: Option<String>,
    },
    Subscribe {
        subscribe_key: &'a str,
        channels: &'a str,
    },
    Heartbeat {
        subscribe_key: &'a str,
        channels: &'a str,
    },
    Leave {
        subscribe_key: &'a str,
        channels: &'a str,
    },
    HereNow {
        subscribe_key: &'a str,
        channels: Option<&'a str>,
    },
    WhereNow {
        subscribe_key: &'a str,
        uuid: &'a str,
    },
    SetState {
        subscribe_key: &'a str,
        channels: &'a str,
        uuid: &'a str,
    },
    GetState {
        subscribe_key: &'a str,
        channels: &'a str,
        uuid: &'a str,
    },
    History {
        subscribe_key: &'a str,
        channel: &'a str,
    },
    Fetch {
        subscribe_key: &'a str,
        channels: &'a str,
        with_actions: bool,
    },
    MessageCounts {
        subscribe_key: &'a str,
        channels: &'a str,
    },
    DeleteMessages {
        subscribe_key: &'a str,
        channels: &'a str,
    },
    Groups {
        subscribe_key: &'a str,
        op: GroupOp<'a>,
    },
    Grant {
        subscribe_key: &'a str,
        audit: bool,
    },
    GrantToken {
        subscribe_key: &'a str,
    },
    RevokeToken {
        subscribe_key: &'a str,
        token: &'a str,
    },
    AppContext {
        subscribe_key: &'a str,
        path: ObjectsPath<'a>,
    },
    // Message actions (`actions.rs`).
    AddAction {
        subscribe_key: &'a str,
        channel: &'a str,
        message_tt: &'a str,
    },
    RemoveAction {
        subscribe_key: &'a str,
        channel: &'a str,
        message_tt: &'a str,
        action_tt: &'a str,
    },
    GetActions {
        subscribe_key: &'a str,
        channel: &'a str,
    },
    // Files (`files.rs`).
    GenerateUploadUrl {
        subscribe_key: &'a str,
        channel: &'a str,
    },
    ListFiles {
        subscribe_key: &'a str,
        channel: &'a str,
    },
    FileUrl {
        subscribe_key: &'a str,
        channel: &'a str,
        id: &'a str,
        name: &'a str,
    },
    DeleteFile {
        subscribe_key: &'a str,
        channel: &'a str,
        id: &'a str,
        name: &'a str,
    },
    FileUpload,
    FileDownload {
        subscribe_key: &'a str,
        token: &'a str,
        id: &'a str,
        name: &'a str,
    },
    // Mobile Push (`push.rs`).
    Push {
        subscribe_key: &'a str,
        path: PushPath<'a>,
    },
}

impl Route<'_> {
    fn kind(&self) -> RouteKind {
        match self {
            Self::Time => RouteKind::Time,
            Self::Options => RouteKind::Options,
            Self::Publish {
                kind: PublishKind::Publish,
                ..
            } => RouteKind::Publish,
            Self::Publish {
                kind: PublishKind::Signal,
                ..
            } => RouteKind::Signal,
            Self::Publish {
                kind: PublishKind::File,
                ..
            } => RouteKind::PublishFile,
            Self::GenerateUploadUrl { .. }
            | Self::ListFiles { .. }
            | Self::FileUrl { .. }
            | Self::DeleteFile { .. } => RouteKind::Files,
            Self::FileUpload | Self::FileDownload { .. } => RouteKind::FileStore,
            Self::Subscribe { .. } => RouteKind::Subscribe,
            Self::Heartbeat { .. } => RouteKind::Heartbeat,
            Self::Leave { .. } => RouteKind::Leave,
            Self::HereNow { .. } => RouteKind::HereNow,
            Self::WhereNow { .. } => RouteKind::WhereNow,
            Self::SetState { .. } => RouteKind::SetState,
            Self::GetState { .. } => RouteKind::GetState,
            Self::History { .. } => RouteKind::History,
            Self::Fetch { .. } => RouteKind::FetchMessages,
            Self::MessageCounts { .. } => RouteKind::MessageCounts,
            Self::DeleteMessages { .. } => RouteKind::DeleteMessages,
            Self::Groups { .. } => RouteKind::ChannelGroups,
            Self::Grant { audit: false, .. } => RouteKind::Grant,
            Self::Grant { audit: true, .. } => RouteKind::Audit,
            Self::GrantToken { .. } => RouteKind::GrantToken,
            Self::RevokeToken { .. } => RouteKind::RevokeToken,
            Self::AppContext { .. } => RouteKind::AppContext,
            Self::AddAction { .. } | Self::RemoveAction { .. } | Self::GetActions { .. } => {
                RouteKind::MessageActions
            }
            // Mobile Push (`push.rs`).
            Self::Push { .. } => RouteKind::Push,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::Service {
        status: StatusCode::NOT_FOUND,
        service: service::BALANCER,
        message: "Not Found: no PubNub API at this path".to_owned(),
    }
}

fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::Service {
        status: StatusCode::METHOD_NOT_ALLOWED,
        service: service::BALANCER,
        message: format!("Method Not Allowed: {method} is not accepted on this path"),
    }
}

/// Checks the method of a matched path.
fn only<'a>(method: &Method, allowed: &[Method], route: Route<'a>) -> Result<Route<'a>, ApiError> {
    if allowed.contains(method) {
        Ok(route)
    } else {
        Err(method_not_allowed(method))
    }
}

fn resolve<'a>(method: &Method, segments: &'a [Cow<'_, str>]) -> Result<Route<'a>, ApiError> {
    use Method as M;
    if *method == M::OPTIONS {
        return Ok(Route::Options);
    }
    let segs: Vec<&'a str> = segments.iter().map(AsRef::as_ref).collect();
    let get = &[M::GET][..];
    match segs.as_slice() {
        ["time", "0"] => only(method, get, Route::Time),
        [api @ ("publish" | "signal"), publish_key, subscribe_key, _, channel, _, rest @ ..] => {
            let kind = if *api == "publish" {
                PublishKind::Publish
            } else {
                PublishKind::Signal
            };
            // A GET without a message falls through to "Invalid JSON".
            let message = (!rest.is_empty()).then(|| rest.join("/"));
            only(
                method,
                &[M::GET, M::POST],
                Route::Publish {
                    kind,
                    publish_key,
                    subscribe_key,
                    channel,
                    message,
                },
            )
        }
        ["v2", "subscribe", subscribe_key, channels]
        | ["v2", "subscribe", subscribe_key, channels, _] => only(
            method,
            get,
            Route::Subscribe {
                subscribe_key,
                channels,
            },
        ),
        ["v2", "presence", "sub-key" | "sub_key", subscribe_key] => only(
            method,
            get,
            Route::HereNow {
                subscribe_key,
                channels: None,
            },
        ),
        ["v2", "presence", "sub-key" | "sub_key", subscribe_key, rest @ ..] => match rest {
            ["channel", channels] => only(
                method,
                get,
                Route::HereNow {
                    subscribe_key,
                    channels: Some(channels),
                },
            ),
            ["channel", channels, "heartbeat"] => only(
                method,
                get,
                Route::Heartbeat {
                    subscribe_key,
                    channels,
                },
            ),
            ["channel", channels, "leave"] => only(
                method,
                get,
                Route::Leave {
                    subscribe_key,
                    channels,
                },
            ),
            ["channel", channels, "uuid", uuid] => only(
                method,
                get,
                Route::GetState {
                    subscribe_key,
                    channels,
                    uuid,
                },
            ),
            ["channel", channels, "uuid", uuid, "data"] => only(
                method,
                get,
                Route::SetState {
                    subscribe_key,
                    channels,
                    uuid,
                },
            ),
            ["uuid", uuid] => only(
                method,
                get,
                Route::WhereNow {
                    subscribe_key,
                    uuid,
                },
            ),
            _ => Err(not_found()),
        },
        ["v2", "history", "sub-key", subscribe_key, "channel", channel] => only(
            method,
            get,
            Route::History {
                subscribe_key,
                channel,
            },
        ),
        ["v3", "history", "sub-key", subscribe_key, "channel", channels] => {
            if *method == M::DELETE {
                Ok(Route::DeleteMessages {
                    subscribe_key,
                    channels,
                })
            } else {
                only(
                    method,
                    get,
                    Route::Fetch {
                        subscribe_key,
                        channels,
                        with_actions: false,
                    },
                )
            }
        }
        ["v3", "history-with-actions", "sub-key", subscribe_key, "channel", channels] => only(
            method,
            get,
            Route::Fetch {
                subscribe_key,
                channels,
                with_actions: true,
            },
        ),
        ["v3", "history", "sub-key", subscribe_key, "message-counts", channels] => only(
            method,
            get,
            Route::MessageCounts {
                subscribe_key,
                channels,
            },
        ),
        ["v1", "channel-registration", "sub-key", subscribe_key, "channel-group", rest @ ..] => {
            let op = match rest {
                [] => GroupOp::ListGroups,
                [group] => GroupOp::Group(group),
                [group, "remove"] => GroupOp::Delete(group),
                _ => return Err(not_found()),
            };
            only(method, get, Route::Groups { subscribe_key, op })
        }
        ["v2", "auth", op @ ("grant" | "audit"), "sub-key", subscribe_key] => only(
            method,
            get,
            Route::Grant {
                subscribe_key,
                audit: *op == "audit",
            },
        ),
        ["v3", "pam", subscribe_key, "grant"] => {
            only(method, &[M::POST], Route::GrantToken { subscribe_key })
        }
        ["v3", "pam", subscribe_key, "grant", token] => only(
            method,
            &[M::DELETE],
            Route::RevokeToken {
                subscribe_key,
                token,
            },
        ),
        ["v2", "objects", subscribe_key, rest @ ..] => match ObjectsPath::resolve(rest) {
            Some(path) => only(
                method,
                path.methods(),
                Route::AppContext {
                    subscribe_key,
                    path,
                },
            ),
            None => Err(not_found()),
        },
        // Message actions (`actions.rs`).
        ["v1", "message-actions", subscribe_key, "channel", channel, rest @ ..] => match rest {
            [] => only(
                method,
                get,
                Route::GetActions {
                    subscribe_key,
                    channel,
                },
            ),
            ["message", message_tt] => only(
                method,
                &[M::POST],
                Route::AddAction {
                    subscribe_key,
                    channel,
                    message_tt,
                },
            ),
            ["message", message_tt, "action", action_tt] => only(
                method,
                &[M::DELETE],
                Route::RemoveAction {
                    subscribe_key,
                    channel,
                    message_tt,
                    action_tt,
                },
            ),
            _ => Err(not_found()),
        },
        // Files (`files.rs`).
        ["v1", "files", "publish-file", publish_key, subscribe_key, _, channel, _, rest @ ..] => {
            let message = (!rest.is_empty()).then(|| rest.join("/"));
            only(
                method,
                get,
                Route::Publish {
                    kind: PublishKind::File,
                    publish_key,
                    subscribe_key,
                    channel,
                    message,
                },
            )
        }
        ["v1", "files", subscribe_key, "channels", channel, rest @ ..] => match rest {
            ["generate-upload-url"] => only(
                method,
                &[M::POST],
                Route::GenerateUploadUrl {
                    subscribe_key,
                    channel,
                },
            ),
            ["files"] => only(
                method,
                get,
                Route::ListFiles {
                    subscribe_key,
                    channel,
                },
            ),
            ["files", id, name] if *method == M::DELETE => Ok(Route::DeleteFile {
                subscribe_key,
                channel,
                id,
                name,
            }),
            ["files", id, name] => only(
                method,
                get,
                Route::FileUrl {
                    subscribe_key,
                    channel,
                    id,
                    name,
                },
            ),
            _ => Err(not_found()),
        },
        [files::STORE_SEGMENT] | [files::STORE_SEGMENT, ""] => {
            only(method, &[M::POST], Route::FileUpload)
        }
        [files::STORE_SEGMENT, subscribe_key, token, id, name] => only(
            method,
            get,
            Route::FileDownload {
                subscribe_key,
                token,
                id,
                name,
            },
        ),
        // Mobile Push (`push.rs`).
        [version @ ("v1" | "v2"), "push", "sub-key", subscribe_key, rest @ ..] => {
            match PushPath::resolve(version, rest) {
                Some(path) => only(
                    method,
                    get,
                    Route::Push {
                        subscribe_key,
                        path,
                    },
                ),
                None => Err(not_found()),
            }
        }
        _ => Err(not_found()),
    }
}

async fn dispatch(
    app: &App,
    route: Route<'_>,
    ctx: &RequestCtx,
) -> Result<Response<Body>, ApiError> {
    let keysets = &app.keysets;
    match route {
        Route::Time => Ok(time(app)),
        Route::Options => {
            let mut response = pn_response(StatusCode::OK, PN_CONTENT_TYPE, "");
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("*"),
            );
            Ok(response)
        }
        Route::Publish {
            kind,
            publish_key,
            subscribe_key,
            channel,
            message,
        } => {
            let keyset = keysets.resolve(subscribe_key)?;
            publish(
                app,
                &keyset,
                ctx,
                kind,
                publish_key,
                channel,
                message.as_deref(),
            )
        }
        Route::Subscribe {
            subscribe_key,
            channels,
        } => subscribe(app, keysets.resolve(subscribe_key)?, ctx, channels).await,
        Route::Heartbeat {
            subscribe_key,
            channels,
        } => presence::heartbeat(app, &keysets.resolve(subscribe_key)?, ctx, channels),
        Route::Leave {
            subscribe_key,
            channels,
        } => presence::leave(app, &keysets.resolve(subscribe_key)?, ctx, channels),
        Route::HereNow {
            subscribe_key,
            channels,
        } => presence::here_now(app, &keysets.resolve(subscribe_key)?, ctx, channels),
        Route::WhereNow {
            subscribe_key,
            uuid,
        } => presence::where_now(app, &keysets.resolve(subscribe_key)?, ctx, uuid),
        Route::SetState {
            subscribe_key,
            channels,
            uuid,
        } => presence::set_state(app, &keysets.resolve(subscribe_key)?, ctx, channels, uuid),
        Route::GetState {
            subscribe_key,
            channels,
            uuid,
        } => presence::get_state(app, &keysets.resolve(subscribe_key)?, ctx, channels, uuid),
        Route::History {
            subscribe_key,
            channel,
        } => history::history_v2(app, &keysets.resolve(subscribe_key)?, ctx, channel),
        Route::Fetch {
            subscribe_key,
            channels,
            with_actions,
        } => history::fetch_messages(
            app,
            &keysets.resolve(subscribe_key)?,
            ctx,
            channels,
            with_actions,
        ),
        Route::MessageCounts {
            subscribe_key,
            channels,
        } => history::message_counts(app, &keysets.resolve(subscribe_key)?, ctx, channels),
        Route::DeleteMessages {
            subscribe_key,
            channels,
        } => history::delete_messages(app, &keysets.resolve(subscribe_key)?, ctx, channels),
        Route::Groups { subscribe_key, op } => {
            channel_registration(app, &keysets.resolve(subscribe_key)?, ctx, op)
        }
        Route::Grant {
            subscribe_key,
            audit,
        } => {
            let keyset = keysets.resolve(subscribe_key)?;
            if audit {
                access::audit(app, &keyset, ctx)
            } else {
                access::grant(app, &keyset, ctx)
            }
        }
        Route::GrantToken { subscribe_key } => {
            access::grant_token(app, &*keysets.resolve(subscribe_key)?, ctx)
        }
        Route::RevokeToken {
            subscribe_key,
            token,
        } => access::revoke_token(app, &*keysets.resolve(subscribe_key)?, ctx, token),
        Route::AppContext {
            subscribe_key,
            path,
        } => objects::handle(app, &*keysets.resolve(subscribe_key)?, ctx, path),
        // Message actions (`actions.rs`).
        Route::AddAction {
            subscribe_key,
            channel,
            message_tt,
        } => actions::add(
            app,
            &keysets.resolve(subscribe_key)?,
            ctx,
            channel,
            message_tt,
        ),
        Route::RemoveAction {
            subscribe_key,
            channel,
            message_tt,
            action_tt,
        } => actions::remove(
            app,
            &keysets.resolve(subscribe_key)?,
            ctx,
            channel,
            message_tt,
            action_tt,
        ),
        Route::GetActions {
            subscribe_key,
            channel,
        } => actions::get(app, &keysets.resolve(subscribe_key)?, ctx, channel),
        // Files (`files.rs`).
        Route::GenerateUploadUrl {
            subscribe_key,
            channel,
        } => files::generate_upload_url(app, &*keysets.resolve(subscribe_key)?, ctx, channel),
        Route::ListFiles {
            subscribe_key,
            channel,
        } => files::list(app, &*keysets.resolve(subscribe_key)?, ctx, channel),
        Route::FileUrl {
            subscribe_key,
            channel,
            id,
            name,
        } => files::get_url(
            app,
            &*keysets.resolve(subscribe_key)?,
            ctx,
            channel,
            id,
            name,
        ),
        Route::DeleteFile {
            subscribe_key,
            channel,
            id,
            name,
        } => files::delete(
            app,
            &*keysets.resolve(subscribe_key)?,
            ctx,
            channel,
            id,
            name,
        ),
        Route::FileUpload => files::upload(app, ctx).await,
        Route::FileDownload {
            subscribe_key,
            token,
            id,
            name,
        } => Ok(files::download(app, subscribe_key, token, id, name)),
        // Mobile Push (`push.rs`).
        Route::Push {
            subscribe_key,
            path,
        } => push::handle(app, &keysets.resolve(subscribe_key)?, ctx, path),
    }
}

fn too_large() -> ApiError {
    ApiError::Service {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        service: service::BALANCER,
        message: "Request Entity Too Large.".to_owned(),
    }
}

/// Reads the body within the size limit and the read timeout. A body past
/// the limit gets PubNub's 413 whether it declared its length or came
/// chunked; a chunked one is read on (and dropped) for up to another
/// `limit` bytes so that, when it ends there, the client reads the 413
/// instead of a reset and the connection stays usable.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let read = async {
        let mut frames = body.into_data_stream();
        let mut collected = BytesMut::new();
        let mut excess = 0usize;
        while let Some(frame) = frames.next().await {
            let Ok(chunk) = frame else {
                return Err(ApiError::bad_request(
                    service::BALANCER,
                    "the request body could not be read completely (truncated or malformed)",
                ));
            };
            if excess == 0 && collected.len() + chunk.len() <= limit {
                collected.extend_from_slice(&chunk);
            } else {
                excess += chunk.len();
                if excess > limit {
                    break;
                }
            }
        }
        if excess > 0 {
            return Err(too_large());
        }
        Ok(collected.freeze())
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::Service {
            status: StatusCode::REQUEST_TIMEOUT,
            service: service::BALANCER,
            message: "the request body did not arrive in time".to_owned(),
        }),
    }
}

/// The one handler: every request of the server goes through here.
pub(crate) async fn handle(app: Arc<App>, conn: ConnControl, request: Request) -> Response<Body> {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    if let Some(response) =
        super::metrics::dev_route(&app, &parts.method, parts.uri.path(), parts.uri.query())
    {
        return response;
    }
    let axum::http::request::Parts {
        method,
        uri,
        headers,
        ..
    } = parts;
    let raw_path = uri.path().to_owned();
    let raw_query = uri.query().map(str::to_owned);
    // The head's parts point into the connection's read buffer (8 KiB):
    // dropping them as soon as they are copied frees it now instead of at
    // the end of a parked long-poll's hold.
    drop(uri);
    let target_len = raw_path.len() + raw_query.as_ref().map_or(0, |q| q.len() + 1);

    // A file upload may carry a whole file (5 MiB) and its form.
    let limit = if raw_path.trim_matches('/') == files::STORE_SEGMENT {
        app.config
            .max_body_bytes
            .max(files::MAX_FILE_SIZE + files::UPLOAD_FORM_OVERHEAD)
    } else {
        app.config.max_body_bytes
    };
    let body = read_body(&headers, body, limit).await;
    let body_len = body.as_ref().map(Bytes::len).ok();
    let segments = decode_path(&raw_path);
    let query = raw_query.as_deref().map(Query::decode).transpose();
    let route = match &segments {
        Ok(segments) => resolve(&method, segments),
        Err(_) => Err(not_found()),
    };
    let kind = route.as_ref().map_or(RouteKind::Unknown, Route::kind);

    let logged = app.log.record(
        kind,
        &method,
        &raw_path,
        raw_query.as_deref(),
        &headers,
        body.as_ref().cloned().unwrap_or_default(),
    );
    // Subscribe, the route that parks, reads no header: it keeps none, or a
    // parked long-poll would keep the connection's read buffer alive (see
    // above). Every other route keeps them.
    let headers = match route {
        Ok(Route::Subscribe { .. }) => {
            drop(headers);
            HeaderMap::new()
        }
        _ => headers,
    };

    match app.faults.take(kind) {
        Some(Fault::Respond { status, body }) => {
            let response = ApiError::Raw {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            }
            .into_response();
            logged.answered(response.status().as_u16(), started.elapsed());
            return response;
        }
        Some(Fault::DropConnection { after }) => {
            tokio::time::sleep(after).await;
            conn.close();
            // The connection task drops this future with the socket.
            return std::future::pending().await;
        }
        Some(Fault::Delay(by)) => tokio::time::sleep(by).await,
        None => {}
    }

    let result = async {
        if target_len > app.config.max_uri_bytes {
            return Err(ApiError::Service {
                status: StatusCode::URI_TOO_LONG,
                service: service::BALANCER,
                message: "Request-URI Too Long.".to_owned(),
            });
        }
        let raw_body = body?;
        if let Err(e) = &segments {
            return Err(ApiError::bad_request(service::BALANCER, e.what.clone()));
        }
        let query = query.map_err(|e| ApiError::bad_request(service::BALANCER, e.what))?;
        let route = route?;
        // The bucket stores upload bodies as sent (S3 does not sniff them).
        let body = if raw_body.is_empty() || matches!(route, Route::FileUpload) {
            raw_body
        } else {
            match decode_body(&raw_body, limit) {
                Ok(decoded) => Bytes::copy_from_slice(&decoded),
                Err(BodyError::TooLarge) => return Err(too_large()),
                Err(BodyError::Corrupt(what)) => {
                    return Err(ApiError::bad_request(service::BALANCER, what))
                }
            }
        };
        let ctx = RequestCtx {
            method: method.clone(),
            raw_path: raw_path.clone(),
            headers,
            query: query.unwrap_or_default(),
            body,
            caller: OnceLock::new(),
        };
        // Publishes are the writes that can outrun the data dir's disk.
        if matches!(route, Route::Publish { .. } | Route::FileUpload) {
            app.storage.admit()?;
        }
        app.storage.scope(dispatch(&app, route, &ctx)).await?
    }
    .await;
    let response = result.unwrap_or_else(ApiError::into_response);
    logged.answered(response.status().as_u16(), started.elapsed());
    let body_in = body_len.unwrap_or(0);
    let body_out = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    app.metrics.request(
        kind,
        response.status(),
        started.elapsed(),
        target_len + body_in,
        usize::try_from(body_out).unwrap_or(usize::MAX),
    );
    // One line per answered request (`--log pubnub_rx=debug`): what a client
    // asked and what it got, for diagnosing a client that misbehaves.
    tracing::debug!(
        method = %method,
        path = %raw_path,
        query = raw_query.as_deref().unwrap_or(""),
        status = response.status().as_u16(),
        "request"
    );
    response
}
