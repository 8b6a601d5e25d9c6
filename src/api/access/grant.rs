//! Access Manager v2: `GET /v2/auth/grant|audit/sub-key/{sub}`
//! (PROTOCOL.md §8.1). Revoke is a grant with every flag 0.

use super::result::parse_access_response;
use super::{comma_list, require_admin_keys, AccessResult};
use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{setters, validate_names};
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// The longest v2 grant PubNub accepts: one year, in minutes.
pub const MAX_GRANT_TTL: u32 = 525_600;

/// The seven v2 flags, each sent only when set (as the Python SDK does;
/// PubNub treats a missing flag as 0).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    read: Option<bool>,
    write: Option<bool>,
    manage: Option<bool>,
    delete: Option<bool>,
    get: Option<bool>,
    update: Option<bool>,
    join: Option<bool>,
}

impl Flags {
    const ALL_OFF: Self = Self {
        read: Some(false),
        write: Some(false),
        manage: Some(false),
        delete: Some(false),
        get: Some(false),
        update: Some(false),
        join: Some(false),
    };

    fn params(&self) -> [(&'static str, Option<bool>); 7] {
        [
            ("r", self.read),
            ("w", self.write),
            ("m", self.manage),
            ("d", self.delete),
            ("g", self.get),
            ("u", self.update),
            ("j", self.join),
        ]
    }
}

/// The resources a v2 call names.
#[derive(Debug, Clone, Default)]
struct Targets {
    channels: Vec<String>,
    channel_groups: Vec<String>,
    uuids: Vec<String>,
    auth_keys: Vec<String>,
}

impl Targets {
    fn validate(&self) -> Result<(), Error> {
        validate_names("channels", "channel", &self.channels)?;
        validate_names("channel_groups", "channel group", &self.channel_groups)?;
        validate_names("uuids", "uuid", &self.uuids)?;
        validate_names("auth_keys", "auth key", &self.auth_keys)
    }
}

/// Writes setters that add names to the list of the same name in the
/// builder's [`Targets`] (at the given path).
macro_rules! target_setters {
    ($($targets:ident).+;) => {};
    ($($targets:ident).+; $(#[$doc:meta])* $list:ident($arg:ident); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $list<I, S>(mut self, $arg: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.$($targets).+.$list.extend($arg.into_iter().map(Into::into));
            self
        }

        target_setters!($($targets).+; $($rest)*);
    };
}

/// Writes the setters of the [`Flags`] of the same name.
macro_rules! flag_setters {
    ($($(#[$doc:meta])* $flag:ident;)+) => {$(
        $(#[$doc])*
        pub fn $flag(mut self, allow: bool) -> Self {
            self.flags.$flag = Some(allow);
            self
        }
    )+};
}

/// Builder of an Access Manager v2 grant; await it to send. Created by
/// [`PubNub::grant`].
///
/// Without channels, groups or uuids the grant applies to the whole
/// subscribe key; without auth keys it applies to every client. Only the
/// flags you set are sent, and PubNub reads a missing flag as "not granted".
/// An auth key is any string, sent as is: the literal `null` is an auth key
/// like any other, not "no auth key".
///
/// ```no_run
/// # async fn run(admin: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let result = admin
///     .grant()
///     .channels(["room-1", "room-1-pnpres"])
///     .auth_keys(["user-42-key"])
///     .read(true)
///     .write(true)
///     .ttl(60)
///     .await?;
/// let room = &result.channels["room-1"];
/// println!("{:?}", room.auth_keys["user-42-key"].permissions);
/// # Ok(()) }
/// ```
#[must_use = "a grant does nothing until it is awaited"]
#[derive(Debug)]
pub struct GrantBuilder {
    client: PubNub,
    targets: Targets,
    flags: Flags,
    ttl: Option<u32>,
    operation: &'static str,
}

impl PubNub {
    /// Grants Access Manager v2 permissions to auth keys (needs the secret key).
    pub fn grant(&self) -> GrantBuilder {
        GrantBuilder {
            client: self.clone(),
            targets: Targets::default(),
            flags: Flags::default(),
            ttl: None,
            operation: "an Access Manager grant",
        }
    }

    /// Revokes Access Manager v2 permissions: a grant with every flag 0
    /// (needs the secret key).
    pub fn revoke(&self) -> RevokeBuilder {
        RevokeBuilder {
            inner: GrantBuilder {
                flags: Flags::ALL_OFF,
                operation: "an Access Manager revoke",
                ..self.grant()
            },
        }
    }

    /// Reads the Access Manager v2 permissions in force, changing nothing
    /// (needs the secret key).
    pub fn audit(&self) -> AuditBuilder {
        AuditBuilder {
            client: self.clone(),
            targets: Targets::default(),
        }
    }
}

impl GrantBuilder {
    target_setters! {
        targets;
        /// Channels to grant on (added to any given before).
        channels(channels);
        /// Channel groups to grant on.
        channel_groups(groups);
        /// User ids whose App Context metadata the grant covers (`target-uuid`;
        /// needs auth keys, and cannot be mixed with channels or groups).
        uuids(uuids);
        /// Auth keys that receive the permissions.
        auth_keys(keys);
    }

    flag_setters! {
        /// Read: subscribe, history, presence (`r`).
        read;
        /// Write: publish, signal (`w`).
        write;
        /// Manage: channel-group management (`m`).
        manage;
        /// Delete: delete history (`d`).
        delete;
        /// Get App Context metadata (`g`).
        get;
        /// Update App Context metadata (`u`).
        update;
        /// Join channels as a member (`j`).
        join;
    }

    setters! {
        /// How long the grant lasts, in minutes: 0 = forever, at most
        /// [`MAX_GRANT_TTL`] (one year). Unset uses PubNub's default (1440).
        ttl(minutes: Option<u32>);
    }
}

impl Endpoint for GrantBuilder {
    type Output = AccessResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let Self {
            client,
            targets,
            flags,
            ttl,
            operation,
        } = self;
        require_admin_keys(&client, operation)?;
        targets.validate()?;
        if flags.params().iter().all(|(_, flag)| flag.is_none()) {
            return Err(Error::invalid_argument(
                "permissions",
                "no permission flag is set: call .read(true), .write(true), ... (or use revoke())",
            ));
        }
        if !targets.uuids.is_empty() {
            if targets.auth_keys.is_empty() {
                return Err(Error::invalid_argument(
                    "uuids",
                    "a grant on uuids needs the auth keys that receive it: add .auth_keys([..])",
                ));
            }
            if !targets.channels.is_empty() || !targets.channel_groups.is_empty() {
                return Err(Error::invalid_argument(
                    "uuids",
                    "cannot be granted in the same call as channels or channel groups: make two calls",
                ));
            }
        }
        if let Some(minutes) = ttl {
            if minutes > MAX_GRANT_TTL {
                return Err(Error::invalid_argument(
                    "ttl",
                    format!("{minutes} minutes is over the limit of {MAX_GRANT_TTL} (one year); use 0 for a grant that never expires"),
                ));
            }
        }
        let path = format!(
            "/v2/auth/grant/sub-key/{}",
            encode(&client.inner.config.subscribe_key)
        );
        let mut request = client
            .request(HttpMethod::Get, path)
            .without_auth()
            .param_opt("auth", comma_list(&targets.auth_keys))
            .param_opt("channel", comma_list(&targets.channels))
            .param_opt("channel-group", comma_list(&targets.channel_groups))
            .param_opt("target-uuid", comma_list(&targets.uuids));
        for (name, flag) in flags.params() {
            request = request.param_opt(name, flag.map(|on| if on { "1" } else { "0" }));
        }
        let request = request.param_opt("ttl", ttl.map(|t| t.to_string()));
        Ok(Call::new(client, request))
    }

    fn parse(answer: Answer) -> Result<AccessResult, Error> {
        parse_access_response("the grant response", answer.body())
    }
}

/// Builder of an Access Manager v2 revoke (every flag 0); await it to send.
/// Created by [`PubNub::revoke`].
///
/// ```no_run
/// # async fn run(admin: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// admin.revoke().channels(["room-1"]).auth_keys(["user-42-key"]).await?;
/// # Ok(()) }
/// ```
#[must_use = "a revoke does nothing until it is awaited"]
#[derive(Debug)]
pub struct RevokeBuilder {
    inner: GrantBuilder,
}

impl RevokeBuilder {
    target_setters! {
        inner.targets;
        /// Channels to revoke on.
        channels(channels);
        /// Channel groups to revoke on.
        channel_groups(groups);
        /// User ids to revoke App Context access on (needs auth keys).
        uuids(uuids);
        /// Auth keys that lose their permissions.
        auth_keys(keys);
    }
}

/// A grant with every flag 0.
impl Endpoint for RevokeBuilder {
    type Output = AccessResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        self.inner.build()
    }

    fn parse(answer: Answer) -> Result<AccessResult, Error> {
        GrantBuilder::parse(answer)
    }
}

/// Builder of an Access Manager v2 audit; await it to send. Created by
/// [`PubNub::audit`]. With no channel or group it reports the subscribe-key
/// level.
///
/// ```no_run
/// # async fn run(admin: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let audit = admin.audit().channels(["room-1"]).await?;
/// for (name, access) in &audit.channels {
///     println!("{name}: {} auth keys", access.auth_keys.len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "an audit does nothing until it is awaited"]
#[derive(Debug)]
pub struct AuditBuilder {
    client: PubNub,
    targets: Targets,
}

impl AuditBuilder {
    target_setters! {
        targets;
        /// Channels to audit.
        channels(channels);
        /// Channel groups to audit.
        channel_groups(groups);
        /// Restricts the report to these auth keys.
        auth_keys(keys);
    }
}

impl Endpoint for AuditBuilder {
    type Output = AccessResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let Self { client, targets } = self;
        require_admin_keys(&client, "an Access Manager audit")?;
        targets.validate()?;
        let path = format!(
            "/v2/auth/audit/sub-key/{}",
            encode(&client.inner.config.subscribe_key)
        );
        let request = client
            .request(HttpMethod::Get, path)
            .without_auth()
            .param_opt("auth", comma_list(&targets.auth_keys))
            .param_opt("channel", comma_list(&targets.channels))
            .param_opt("channel-group", comma_list(&targets.channel_groups));
        Ok(Call::new(client, request))
    }

    fn parse(answer: Answer) -> Result<AccessResult, Error> {
        parse_access_response("the audit response", answer.body())
    }
}

awaitable!(
    GrantBuilder => AccessResult,
    RevokeBuilder => AccessResult,
    AuditBuilder => AccessResult,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Request;
    use crate::Config;

    use crate::api::access::tests::admin;

    fn query(request: &Request) -> Vec<(&'static str, &str)> {
        request
            .query
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect()
    }

    #[test]
    fn grant_sends_only_the_flags_set_and_comma_lists() {
        let Call { request, .. } = admin()
            .grant()
            .channels(["a", "b c"])
            .auth_keys(["k1", "null"])
            .read(true)
            .write(false)
            .ttl(0)
            .build()
            .unwrap();
        assert_eq!(request.path, "/v2/auth/grant/sub-key/sub");
        assert!(!request.auth, "admin calls never send the caller's auth");
        assert_eq!(
            query(&request),
            [
                ("auth", "k1,null"),
                ("channel", "a,b c"),
                ("r", "1"),
                ("w", "0"),
                ("ttl", "0")
            ]
        );
    }

    #[test]
    fn revoke_sends_every_flag_zero() {
        let Call { request, .. } = admin().revoke().channel_groups(["g"]).build().unwrap();
        let q = query(&request);
        for flag in ["r", "w", "m", "d", "g", "u", "j"] {
            assert!(q.contains(&(flag, "0")), "{flag} missing in {q:?}");
        }
        assert!(q.contains(&("channel-group", "g")));
    }

    #[test]
    fn grant_validation() {
        let no_flags = admin().grant().channels(["a"]).build().unwrap_err();
        assert!(matches!(
            no_flags,
            Error::InvalidArgument {
                name: "permissions",
                ..
            }
        ));
        let ttl = admin().grant().read(true).ttl(525_601).build().unwrap_err();
        assert!(
            matches!(ttl, Error::InvalidArgument { name: "ttl", .. }),
            "{ttl}"
        );
        assert!(admin().grant().read(true).ttl(525_600).build().is_ok());
        let uuids_alone = admin().grant().uuids(["u"]).get(true).build().unwrap_err();
        assert!(matches!(
            uuids_alone,
            Error::InvalidArgument { name: "uuids", .. }
        ));
        let mixed = admin()
            .grant()
            .uuids(["u"])
            .channels(["c"])
            .auth_keys(["k"])
            .get(true)
            .build()
            .unwrap_err();
        assert!(mixed.to_string().contains("two calls"), "{mixed}");
        let comma = admin()
            .grant()
            .channels(["a,b"])
            .read(true)
            .build()
            .unwrap_err();
        assert!(matches!(
            comma,
            Error::InvalidArgument {
                name: "channels",
                ..
            }
        ));
        let empty = admin()
            .grant()
            .auth_keys([""])
            .read(true)
            .build()
            .unwrap_err();
        assert!(matches!(
            empty,
            Error::InvalidArgument {
                name: "auth_keys",
                ..
            }
        ));
    }

    #[test]
    fn admin_calls_need_the_secret_and_publish_keys() {
        let no_secret = PubNub::new(
            Config::builder()
                .subscribe_key("sub")
                .publish_key("pub")
                .user_id("u")
                .build()
                .unwrap(),
        )
        .unwrap();
        let no_publish = PubNub::new(
            Config::builder()
                .subscribe_key("sub")
                .secret_key("sec")
                .user_id("u")
                .build()
                .unwrap(),
        )
        .unwrap();
        let cases = [
            (no_secret.grant().read(true).build(), "secret_key"),
            (no_secret.audit().build(), "secret_key"),
            (no_publish.grant().read(true).build(), "publish_key"),
        ];
        for (result, missing) in cases {
            match result {
                Err(Error::MissingKey { key, .. }) => assert_eq!(key, missing),
                other => panic!("expected the missing {missing}, got {other:?}"),
            }
        }
    }

    #[test]
    fn audit_parameters() {
        let Call { request, .. } = admin()
            .audit()
            .channel_groups(["g1", "g2"])
            .auth_keys(["k"])
            .build()
            .unwrap();
        assert_eq!(request.path, "/v2/auth/audit/sub-key/sub");
        assert!(!request.auth);
        assert_eq!(query(&request), [("auth", "k"), ("channel-group", "g1,g2")]);
    }
}
