//! Access Manager: the one authorization seam and everything behind it.
//!
//! Every data request calls [`App::authorize`](super::app::App::authorize)
//! with the permission it needs and the resources it touches, before it
//! reads or changes anything. A keyset without a secret key stays open, as
//! a PubNub keyset without the Access Manager add-on does. A keyset with a
//! secret key enforces (PROTOCOL.md §8):
//!
//! 1. **Who is asking** ([`Caller`], decided once per request and cached in
//!    the [`RequestCtx`]):
//!    * a request carrying `signature` must be signed with the secret key
//!      (`signature.rs`: v2, v2-as-GET and v1 for `/publish`, Python's
//!      double-encoded values) with a `timestamp` inside the skew window,
//!      and must not repeat a signature already seen; it is then an
//!      **admin** request and skips every permission check;
//!    * otherwise an `auth` value that decodes as a v3 token is a **token**
//!      (`tokens.rs`): it must carry this keyset's signature, must not be
//!      expired or revoked, and when it names an authorized uuid the
//!      request's `uuid` **and** the uuid it acts on (the path's `{uuid}`,
//!      [`Resources::with_subject`]) must be that one;
//!    * anything else is a v2 **auth key** (or no key at all).
//! 2. **What it may do**: each channel, group and uuid of the request needs
//!    the permission, from the token (exact names, then regex patterns) or
//!    from a live v2 grant (`grants.rs`: keyset level, resource level, per
//!    auth key). v2 grants made without auth keys apply to every client,
//!    token holders included. Refusals list exactly the denied resources:
//!    403 `{"message":"Forbidden","payload":{"channels":[…],"channel-groups":[…]},…}`.
//!
//! The administration endpoints (v2 grant/audit, v3 grant/revoke token) are
//! in `admin.rs`; they accept signed requests only.
//!
//! # Zero configuration: trust on first use
//!
//! A server-side app signs its administration requests with its secret key
//! and expects Access Manager to be on; a dev server started with no flags
//! has no secret key. Taking the secret "from the first signed request" is
//! not possible: a v2 signature is an HMAC-SHA256 *with* the secret over
//! the request (PROTOCOL.md §8.3), so nothing about the secret can be
//! learnt from it, and no later signature can be checked without it. What
//! can be done soundly, and what this server does:
//!
//! * a keyset without a secret key is **open** (every request allowed), as
//!   before, until it receives a **signed administration request** (grant,
//!   audit, grant_token, revoke_token) whose signature has the shape of one
//!   (`v2.` + base64url of 32 bytes, or v1's base64) and whose `timestamp`
//!   is inside the skew window — a malformed or stale one changes nothing;
//!   an unsigned one is 403 "Access Manager is not enabled";
//! * that request turns Access Manager **on for good** for the keyset
//!   ([`Trust::FirstUse`]), logged once at WARN with the flags that pin a
//!   secret instead (`--subscribe-key`, `--publish-key`, `--secret-key`);
//! * from then on the keyset **enforces** exactly as a keyset with a secret
//!   key does: every unsigned request needs a v2 grant or a token; tokens
//!   are signed with a random key the server made for the keyset, verified
//!   over the bytes received, so they cannot be forged or altered (a client
//!   checking a token's signature with its own secret key will find that it
//!   does not match: the server never had that key);
//! * **signed requests are accepted without verifying the signature** — the
//!   one thing trust on first use cannot give. They still need the shape,
//!   a fresh `timestamp` and no replay (the canonical request is
//!   remembered as for a pinned keyset). So on such a keyset anyone who
//!   adds a signature is an administrator: the mode is for running an
//!   existing server-side app and its clients unchanged against a local
//!   server, where the app's own clients (which do not sign) see the grants
//!   enforced. To refuse forged signatures, pin the secret key with
//!   `--secret-key` ([`Keyset::with_secret_key`]); then a wrong secret is
//!   403 "Invalid signature", as on PubNub.
//!
//! **Which permission each route needs** follows PubNub's "Operations to
//! permissions mapping" page
//! (<https://www.pubnub.com/docs/security/access-control/operations-permissions-mapping>):
//! publish / signal / fire → write on the channel; subscribe → read on each
//! channel (presence channels `-pnpres` by their own name) and group;
//! heartbeat → read, like subscribe; here_now, get state **and set state**
//! → read on the channels (the page lists set state under read); history,
//! fetch, message counts → read; delete messages → delete; adding to,
//! removing from or deleting a group → manage on the group; listing a
//! group's channels → read on it; listing every group and the global
//! here_now → the permission at keyset level (v2 subkey grants only);
//! message actions: add → write, get → read, remove → delete on the channel.
//! Leave (unsubscribe) and where_now need no permission per that page; they
//! still refuse a bad signature or an unusable token. App Context
//! (`g`/`u`/`j` on uuids and channels) is mapped in [`Permission`] for the
//! App Context routes; this server has none yet.

mod admin;
mod grants;
mod signature;
mod tokens;
mod view;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub(crate) use admin::{audit, grant, grant_token, revoke_token};
pub(crate) use view::token_json;

use crate::access::{Permissions, Token};

use self::grants::Grants;
pub(crate) use self::grants::{Entry as GrantEntry, Scope};
use self::signature::{ReplayGuard, SigningKeys};
use self::tokens::{PatternCache, Revocations};
use super::config::{DevServerConfig, Keyset};
use super::errors::ApiError;
use super::storage::Persist;
use super::wire::RequestCtx;

/// A permission a request needs (PROTOCOL.md §8.1: r, w, m, d, g, u, j).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Permission {
    /// `r`: subscribe, history, here_now, presence state, list a group.
    Read,
    /// `w`: publish, signal, fire.
    Write,
    /// `m`: channel-group management.
    Manage,
    /// `d`: delete history.
    Delete,
    /// `g`: App Context get.
    Get,
    /// `u`: App Context update.
    Update,
    /// `j`: App Context memberships.
    Join,
}

impl Permission {
    /// The bit of this permission in a token or grant.
    pub(crate) fn bits(self) -> Permissions {
        match self {
            Self::Read => Permissions::READ,
            Self::Write => Permissions::WRITE,
            Self::Manage => Permissions::MANAGE,
            Self::Delete => Permissions::DELETE,
            Self::Get => Permissions::GET,
            Self::Update => Permissions::UPDATE,
            Self::Join => Permissions::JOIN,
        }
    }
}

/// The resources a request touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resources {
    pub(crate) channels: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) uuids: Vec<String>,
    /// The request acts on the whole keyset (list every group, global
    /// here_now): only a keyset-level v2 grant allows it.
    pub(crate) keyset: bool,
    /// The uuid the request acts on when the route names one (in the path):
    /// a token bound to an authorized uuid allows only that one. See
    /// [`Resources::with_subject`].
    pub(crate) subject: Option<String>,
}

impl Resources {
    pub(crate) fn channels<I, S>(channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            channels: channels.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub(crate) fn channel(channel: &str) -> Self {
        Self::channels([channel])
    }

    pub(crate) fn group(group: &str) -> Self {
        Self {
            groups: vec![group.to_owned()],
            ..Self::default()
        }
    }

    /// The whole keyset.
    pub(crate) fn keyset() -> Self {
        Self {
            keyset: true,
            ..Self::default()
        }
    }

    pub(crate) fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// Adds `uuid` as a resource that needs the permission (App Context
    /// `g`/`u`/`j` on uuids).
    pub(crate) fn with_uuid(mut self, uuid: &str) -> Self {
        self.uuids.push(uuid.to_owned());
        self
    }

    /// Names the **subject uuid**: the uuid the request reads or changes
    /// when it is not (only) the caller's `uuid` query parameter — the
    /// `{uuid}` of presence state get/set and where_now, of App Context
    /// uuid metadata and memberships. A token with an authorized uuid then
    /// allows the request only when the subject is that uuid too (403
    /// listing the subject in `payload.uuids` otherwise). It needs no
    /// permission by itself; combine with [`with_uuid`](Self::with_uuid)
    /// where the uuid is also a resource.
    pub(crate) fn with_subject(mut self, uuid: &str) -> Self {
        self.subject = Some(uuid.to_owned());
        self
    }

    /// An App Context uuid route (uuid metadata, memberships): `uuid` is a
    /// resource that needs the permission **and** the subject a bound token
    /// must match.
    pub(crate) fn uuid_object(uuid: &str) -> Self {
        Self::default().with_uuid(uuid).with_subject(uuid)
    }
}

/// Who made a request, decided once per request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// Signed with the secret key: every permission.
    Admin,
    /// Carries a usable token issued by this keyset.
    Token(Arc<Token>),
    /// A v2 auth key, or none.
    AuthKey(Option<String>),
}

/// What the cache in [`RequestCtx`] holds.
pub(crate) type CallerVerdict = Result<Caller, ApiError>;

/// The Access Manager state of one keyset that has a secret key.
#[derive(Debug)]
pub(crate) struct AccessControl {
    keys: SigningKeys,
    window: Duration,
    grants: Mutex<Grants>,
    revoked: Mutex<Revocations>,
    replays: Mutex<ReplayGuard>,
    patterns: Mutex<PatternCache>,
    /// The tokens this keyset issued, for the console (bounded).
    issued: Mutex<view::Issued>,
    trust: Trust,
    /// Grants, issued tokens and revocations are kept here too.
    persist: Persist,
}

/// How a keyset came to enforce Access Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// The secret key was configured: every signature is verified with it.
    Pinned,
    /// Trust on first use: the first signed administration request turned
    /// Access Manager on, and the server has no secret key to verify
    /// signatures with (see the module docs).
    FirstUse,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values are plain data that stay consistent per call.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AccessControl {
    /// Access Manager for `keyset`, or `None` when it has no secret key.
    pub(crate) fn new(
        keyset: &Keyset,
        config: &DevServerConfig,
        persist: &Persist,
    ) -> Option<Self> {
        let secret = keyset.secret_key.clone()?;
        Some(Self::with_keys(
            keyset,
            secret,
            Trust::Pinned,
            config,
            persist,
        ))
    }

    /// Access Manager turned on by trust on first use for a keyset without
    /// a secret key. Tokens are signed with a random key of the server's
    /// own, so that they cannot be forged either.
    /// `secret` is the server's own signing key of an earlier run (from the
    /// data dir), `None` for a new one.
    pub(crate) fn first_use(
        keyset: &Keyset,
        config: &DevServerConfig,
        secret: Option<String>,
        persist: &Persist,
    ) -> Self {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let secret = secret.unwrap_or_else(|| URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        Self::with_keys(keyset, secret, Trust::FirstUse, config, persist)
    }

    /// The key tokens are signed with (kept in the data dir for trust on
    /// first use, where the server made it up).
    pub(crate) fn signing_secret(&self) -> &str {
        &self.keys.secret
    }

    /// Puts what the data dir kept for this keyset back: grants of a
    /// target, an issued token, a revocation.
    pub(crate) fn restore_grants(&self, scope: &Scope<'_>, entry: GrantEntry, now: u64) {
        lock(&self.grants).restore(scope, entry, now);
    }

    /// See [`AccessControl::restore_grants`].
    pub(crate) fn restore_issued(&self, number: u64, text: String) {
        lock(&self.issued).restore(number, text, &self.persist);
    }

    /// See [`AccessControl::restore_grants`].
    pub(crate) fn restore_revocation(&self, signature: &str, expires_at: u64) {
        lock(&self.revoked).restore(signature, expires_at);
    }

    fn with_keys(
        keyset: &Keyset,
        secret: String,
        trust: Trust,
        config: &DevServerConfig,
        persist: &Persist,
    ) -> Self {
        Self {
            keys: SigningKeys {
                subscribe_key: keyset.subscribe_key.clone(),
                publish_key: keyset.publish_key.clone(),
                secret,
            },
            window: config.signature_window,
            grants: Mutex::new(Grants::kept_in(persist)),
            revoked: Mutex::new(Revocations::kept_in(persist)),
            replays: Mutex::new(ReplayGuard::new(config.replay_memory)),
            patterns: Mutex::new(PatternCache::default()),
            issued: Mutex::new(view::Issued::default()),
            trust,
            persist: persist.clone(),
        }
    }

    /// The caller of `ctx`, worked out on first use and then cached.
    fn caller(&self, ctx: &RequestCtx, now: u64) -> CallerVerdict {
        ctx.caller.get_or_init(|| self.identify(ctx, now)).clone()
    }

    fn identify(&self, ctx: &RequestCtx, now: u64) -> CallerVerdict {
        if let Some(presented) = ctx.query.get("signature") {
            let verified = match self.trust {
                Trust::Pinned => signature::verify(ctx, &self.keys, presented, now, self.window)?,
                Trust::FirstUse => signature::unverifiable(ctx, presented, now, self.window)?,
            };
            lock(&self.replays).check_and_remember(
                &verified,
                now,
                self.window,
                signature::source_of(ctx),
            )?;
            return Ok(Caller::Admin);
        }
        let Some(auth) = ctx.query.non_empty("auth") else {
            return Ok(Caller::AuthKey(None));
        };
        match tokens::decode(auth) {
            Some(bytes) => {
                let token = tokens::verify_received(&bytes, &self.keys.secret)?;
                tokens::validate(&token, &lock(&self.revoked), now)?;
                Ok(Caller::Token(Arc::new(token)))
            }
            None => Ok(Caller::AuthKey(Some(auth.to_owned()))),
        }
    }

    /// Refuses anything but a correctly signed request (the administration
    /// endpoints). `source` names the endpoint in the error body.
    pub(crate) fn require_admin(
        &self,
        ctx: &RequestCtx,
        now: u64,
        source: &'static str,
    ) -> Result<(), ApiError> {
        match self.caller(ctx, now)? {
            Caller::Admin => Ok(()),
            Caller::Token(_) | Caller::AuthKey(_) => Err(signature::unsigned(source)),
        }
    }

    /// The permission check of one data request.
    pub(crate) fn check(
        &self,
        ctx: &RequestCtx,
        permission: Permission,
        resources: &Resources,
        now: u64,
    ) -> Result<(), ApiError> {
        let caller = self.caller(ctx, now)?;
        let token = match &caller {
            Caller::Admin => return Ok(()),
            Caller::Token(token) => {
                if let Some(authorized) = token.authorized_uuid.as_deref() {
                    // The uuid of the query (who is asking) and the uuid
                    // the request acts on (path) must both be the token's.
                    let acting = ctx.uuid();
                    let stranger = if acting == Some(authorized) {
                        resources.subject.as_deref().filter(|s| *s != authorized)
                    } else {
                        Some(acting.unwrap_or_default())
                    };
                    if let Some(uuid) = stranger {
                        return Err(ApiError::Forbidden {
                            channels: Vec::new(),
                            groups: Vec::new(),
                            uuids: vec![uuid.to_owned()],
                        });
                    }
                }
                Some(token.as_ref())
            }
            Caller::AuthKey(_) => None,
        };
        let auth_key = match &caller {
            Caller::AuthKey(key) => key.as_deref(),
            _ => None,
        };
        let grants = lock(&self.grants);
        let mut patterns = lock(&self.patterns);
        let mut allowed = |scope: Scope<'_>| {
            token.is_some_and(|t| tokens::allows(t, &scope, permission, &mut patterns))
                || grants.allows(&scope, auth_key, permission, now)
        };
        let keyset_denied = resources.keyset && !allowed(Scope::Keyset);
        let channels: Vec<String> = resources
            .channels
            .iter()
            .filter(|name| !allowed(Scope::Channel(name)))
            .cloned()
            .collect();
        let groups: Vec<String> = resources
            .groups
            .iter()
            .filter(|name| !allowed(Scope::Group(name)))
            .cloned()
            .collect();
        let uuids: Vec<String> = resources
            .uuids
            .iter()
            .filter(|name| !allowed(Scope::Uuid(name)))
            .cloned()
            .collect();
        if keyset_denied || !channels.is_empty() || !groups.is_empty() || !uuids.is_empty() {
            return Err(ApiError::Forbidden {
                channels,
                groups,
                uuids,
            });
        }
        Ok(())
    }
}
