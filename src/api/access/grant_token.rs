//! Access Manager v3: `POST /v3/pam/{sub}/grant` and
//! `DELETE /v3/pam/{sub}/grant/{token}` (PROTOCOL.md §8.2).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::require_admin_keys;
use crate::access::{parse_token, Permissions, Token};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::setters;
use crate::api::{parse_json, to_json, to_value};
use crate::client::Request;
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// The longest token lifetime PubNub accepts: 30 days, in minutes.
pub const MAX_TOKEN_TTL: u32 = 43_200;

/// One section of a grant (`resources` or `patterns`).
#[derive(Debug, Clone, Default)]
struct Section {
    channels: BTreeMap<String, Permissions>,
    groups: BTreeMap<String, Permissions>,
    uuids: BTreeMap<String, Permissions>,
}

impl Section {
    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty() && self.uuids.is_empty()
    }

    fn validate(&self, section: &str) -> Result<(), Error> {
        for (category, map) in [
            ("channel", &self.channels),
            ("channel group", &self.groups),
            ("uuid", &self.uuids),
        ] {
            for (name, permissions) in map {
                if name.is_empty() {
                    return Err(Error::invalid_argument(
                        "resources",
                        format!("a {category} {section} is empty: name it"),
                    ));
                }
                if permissions.is_empty() {
                    return Err(Error::invalid_argument(
                        "permissions",
                        format!("{category} {section} `{name}` is granted no permission: pass e.g. Permissions::new().read()"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The JSON body, in the key order the JS SDK writes.
#[derive(Serialize)]
struct Body<'a> {
    ttl: u32,
    permissions: BodyPermissions<'a>,
}

#[derive(Serialize)]
struct BodyPermissions<'a> {
    resources: BodySection<'a>,
    patterns: BodySection<'a>,
    meta: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uuid: Option<&'a str>,
}

/// `users` and `spaces` are the legacy names of `uuids` and `channels`; they
/// are sent empty, as the JS SDK does (the Python SDK copies the entries
/// into them; PubNub accepts both).
#[derive(Serialize)]
struct BodySection<'a> {
    channels: &'a BTreeMap<String, Permissions>,
    groups: &'a BTreeMap<String, Permissions>,
    uuids: &'a BTreeMap<String, Permissions>,
    users: Map<String, Value>,
    spaces: Map<String, Value>,
}

impl<'a> From<&'a Section> for BodySection<'a> {
    fn from(section: &'a Section) -> Self {
        Self {
            channels: &section.channels,
            groups: &section.groups,
            uuids: &section.uuids,
            users: Map::new(),
            spaces: Map::new(),
        }
    }
}

/// Writes setters that put permissions on one name into a map of a
/// [`Section`].
macro_rules! permission_setters {
    ($($(#[$doc:meta])* $setter:ident($arg:ident) => $section:ident.$map:ident;)+) => {$(
        $(#[$doc])*
        pub fn $setter(mut self, $arg: impl Into<String>, permissions: Permissions) -> Self {
            self.$section.$map.insert($arg.into(), permissions);
            self
        }
    )+};
}

/// Builder of an Access Manager v3 token grant; await it for the token
/// string. Created by [`PubNub::grant_token`].
///
/// ```no_run
/// # async fn run(admin: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// use pubnub_rx::access::Permissions;
///
/// let token = admin
///     .grant_token()
///     .ttl(60)
///     .authorized_uuid("alice")
///     .channel("room-1", Permissions::new().read().write())
///     .channel_pattern("^public-.*$", Permissions::new().read())
///     .uuid("alice", Permissions::new().get().update())
///     .meta(&serde_json::json!({"role": "member"}))
///     .await?;
/// // Hand `token` to Alice's client, which calls `client.set_token(token)`.
/// # Ok(()) }
/// ```
#[must_use = "a token grant does nothing until it is awaited"]
#[derive(Debug)]
pub struct GrantTokenBuilder {
    client: PubNub,
    ttl: Option<u32>,
    authorized_uuid: Option<String>,
    resources: Section,
    patterns: Section,
    meta: Option<Result<Map<String, Value>, Error>>,
}

impl PubNub {
    /// Grants an Access Manager v3 token (needs the secret key).
    pub fn grant_token(&self) -> GrantTokenBuilder {
        GrantTokenBuilder {
            client: self.clone(),
            ttl: None,
            authorized_uuid: None,
            resources: Section::default(),
            patterns: Section::default(),
            meta: None,
        }
    }

    /// Revokes an Access Manager v3 token before it expires (needs the secret
    /// key, and token revocation enabled on the keyset).
    ///
    /// ```no_run
    /// # async fn run(admin: pubnub_rx::PubNub, token: String) -> Result<(), pubnub_rx::Error> {
    /// admin.revoke_token(&token).await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke_token(&self, token: &str) -> Result<(), Error> {
        let request = self.revoke_token_request(token)?;
        let response = self.execute(request).await?;
        // `{"data":{"message":"Success"},"service":"Access Manager","status":200}`;
        // only the status matters, but an unreadable body is reported.
        parse_json("the revoke token response", &response.body).map(drop)
    }

    fn revoke_token_request(&self, token: &str) -> Result<Request, Error> {
        require_admin_keys(self, "revoking an Access Manager token")?;
        if token.trim().is_empty() {
            return Err(Error::invalid_argument(
                "token",
                "is empty: pass the token string to revoke",
            ));
        }
        let path = format!(
            "/v3/pam/{}/grant/{}",
            encode(&self.inner.config.subscribe_key),
            encode(token)
        );
        Ok(self.request(HttpMethod::Delete, path).without_auth())
    }

    /// Decodes an Access Manager v3 token (its permissions, ttl, authorized
    /// user id and meta) without any request; see
    /// [`access::parse_token`](crate::access::parse_token).
    pub fn parse_token(&self, token: &str) -> Result<Token, Error> {
        parse_token(token)
    }
}

impl GrantTokenBuilder {
    setters! {
        /// Token lifetime in minutes, 1 to [`MAX_TOKEN_TTL`] (required).
        ttl(minutes: Option<u32>);
        /// The only user id allowed to use the token.
        authorized_uuid(user_id: Option<String>);
    }

    permission_setters! {
        /// Permissions on a channel.
        channel(name) => resources.channels;
        /// Permissions on a channel group.
        channel_group(name) => resources.groups;
        /// Permissions on a user id's App Context metadata.
        uuid(user_id) => resources.uuids;
        /// Permissions on every channel matching a regular expression.
        channel_pattern(regex) => patterns.channels;
        /// Permissions on every channel group matching a regular expression.
        channel_group_pattern(regex) => patterns.groups;
        /// Permissions on every user id matching a regular expression.
        uuid_pattern(regex) => patterns.uuids;
    }

    /// Metadata stored in the token (a JSON object; `parse_token` returns it).
    pub fn meta<T: Serialize + ?Sized>(mut self, meta: &T) -> Self {
        let value = to_value("meta", meta).and_then(|value| match value {
            Value::Object(map) => Ok(map),
            _ => Err(Error::invalid_argument(
                "meta",
                "must be a JSON object (PubNub stores its fields in the token)",
            )),
        });
        self.meta = Some(value);
        self
    }
}

impl Endpoint for GrantTokenBuilder {
    type Output = String;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let Self {
            client,
            ttl,
            authorized_uuid,
            resources,
            patterns,
            meta,
        } = self;
        require_admin_keys(&client, "granting an Access Manager token")?;
        let ttl = ttl.ok_or_else(|| {
            Error::invalid_argument(
                "ttl",
                format!("is required: call .ttl(minutes) with 1 to {MAX_TOKEN_TTL}"),
            )
        })?;
        if !(1..=MAX_TOKEN_TTL).contains(&ttl) {
            return Err(Error::invalid_argument(
                "ttl",
                format!("{ttl} minutes is outside 1 to {MAX_TOKEN_TTL} (30 days)"),
            ));
        }
        if resources.is_empty() && patterns.is_empty() {
            return Err(Error::invalid_argument(
                "resources",
                "the token grants nothing: add a channel, channel group or uuid (or a pattern)",
            ));
        }
        resources.validate("")?;
        patterns.validate("pattern")?;
        if authorized_uuid.as_deref().is_some_and(str::is_empty) {
            return Err(Error::invalid_argument(
                "authorized_uuid",
                "is empty: name the user id, or leave it unset for any user",
            ));
        }
        let meta = meta.transpose()?.unwrap_or_default();
        let body = Body {
            ttl,
            permissions: BodyPermissions {
                resources: (&resources).into(),
                patterns: (&patterns).into(),
                meta: &meta,
                uuid: authorized_uuid.as_deref(),
            },
        };
        let body = to_json("the grant token body", &body)?;
        let path = format!(
            "/v3/pam/{}/grant",
            encode(&client.inner.config.subscribe_key)
        );
        let request = client
            .request(HttpMethod::Post, path)
            .without_auth()
            .json_body(body);
        Ok(Call::new(client, request))
    }

    fn parse(answer: Answer) -> Result<String, Error> {
        parse_grant_token_response(answer.body())
    }
}

awaitable!(GrantTokenBuilder => String);

/// Reads `{"data":{"message":"Success","token":"..."},...}`.
fn parse_grant_token_response(body: &[u8]) -> Result<String, Error> {
    const WHAT: &str = "the grant token response";
    let value = parse_json(WHAT, body)?;
    if value.get("error").and_then(Value::as_bool) == Some(true) {
        return Err(Error::from_response(400, body));
    }
    value
        .get("data")
        .and_then(|data| data.get("token"))
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::deserialization(WHAT, "expected {\"data\":{\"token\":\"...\"}}", body)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::access::tests::admin;

    #[test]
    fn body_matches_the_js_sdk_layout() {
        let Call { request, .. } = admin()
            .grant_token()
            .ttl(15)
            .authorized_uuid("js-capture")
            .channel("cap-js", Permissions::new().read().write())
            .channel_group("cg-cap", Permissions::READ)
            .uuid("js-capture", Permissions::new().get().update())
            .channel_pattern("^interop-.*$", Permissions::READ)
            .meta(&serde_json::json!({"run": "cap"}))
            .build()
            .unwrap();
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.path, "/v3/pam/sub/grant");
        assert!(!request.auth);
        assert_eq!(request.content_type, Some("application/json"));
        // CLIENT-CAPTURES.md, "js: grant_token": byte for byte.
        assert_eq!(
            std::str::from_utf8(request.body.as_deref().unwrap()).unwrap(),
            r#"{"ttl":15,"permissions":{"resources":{"channels":{"cap-js":3},"groups":{"cg-cap":1},"uuids":{"js-capture":96},"users":{},"spaces":{}},"patterns":{"channels":{"^interop-.*$":1},"groups":{},"uuids":{},"users":{},"spaces":{}},"meta":{"run":"cap"},"uuid":"js-capture"}}"#
        );
    }

    #[test]
    fn validation() {
        let read = Permissions::READ;
        let cases: Vec<(GrantTokenBuilder, &str)> = vec![
            (admin().grant_token().channel("c", read), "ttl"),
            (admin().grant_token().ttl(0).channel("c", read), "ttl"),
            (admin().grant_token().ttl(43_201).channel("c", read), "ttl"),
            (admin().grant_token().ttl(5), "resources"),
            (admin().grant_token().ttl(5).channel("", read), "resources"),
            (
                admin()
                    .grant_token()
                    .ttl(5)
                    .channel("c", Permissions::new()),
                "permissions",
            ),
            (
                admin().grant_token().ttl(5).uuid("u", read).meta(&[1, 2]),
                "meta",
            ),
            (
                admin()
                    .grant_token()
                    .ttl(5)
                    .uuid("u", read)
                    .authorized_uuid(""),
                "authorized_uuid",
            ),
        ];
        for (builder, argument) in cases {
            match builder.build() {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, argument),
                other => panic!("expected an invalid `{argument}`, got {other:?}"),
            }
        }
        assert!(admin()
            .grant_token()
            .ttl(43_200)
            .uuid_pattern(".*", read)
            .build()
            .is_ok());
        assert!(admin()
            .grant_token()
            .ttl(1)
            .channel_group_pattern("^g", read)
            .build()
            .is_ok());
    }

    #[test]
    fn revoke_token_path_escapes_padding() {
        let request = admin().revoke_token_request("qEF2-_AQ==").unwrap();
        assert_eq!(request.method, HttpMethod::Delete);
        assert_eq!(request.path, "/v3/pam/sub/grant/qEF2-_AQ%3D%3D");
        assert!(!request.auth);
        assert!(matches!(
            admin().revoke_token_request(" "),
            Err(Error::InvalidArgument { name: "token", .. })
        ));
    }

    #[test]
    fn grant_token_response() {
        assert_eq!(
            parse_grant_token_response(
                br#"{"data":{"message":"Success","token":"p0F2"},"service":"Access Manager","status":200}"#
            )
            .unwrap(),
            "p0F2"
        );
        assert!(matches!(
            parse_grant_token_response(br#"{"data":{"message":"Success"}}"#),
            Err(Error::Deserialization { .. })
        ));
    }
}
