//! Access Manager (PROTOCOL.md §8): the v2 `grant` / `revoke` / `audit`
//! calls on auth keys, and the v3 `grant_token` / `revoke_token` calls.
//!
//! These are administration calls: they need the keyset's secret key (every
//! request is signed with it) and never send the caller's own auth key or
//! token. Clients then use what was granted with
//! [`ConfigBuilder::auth_key`](crate::ConfigBuilder::auth_key) (v2) or
//! [`PubNub::set_token`](crate::PubNub::set_token) (v3).

mod grant;
mod grant_token;
mod result;

pub use grant::{AuditBuilder, GrantBuilder, RevokeBuilder, MAX_GRANT_TTL};
pub use grant_token::{GrantTokenBuilder, MAX_TOKEN_TTL};
pub use result::{AccessLevel, AccessResult, AuthKeyAccess, ResourceAccess};

use crate::{Error, PubNub};

/// Checks the keys an Access Manager call signs with: the secret key, and
/// the publish key, which is part of every signed string (a signature made
/// without it never matches the one PubNub computes).
pub(crate) fn require_admin_keys(client: &PubNub, operation: &'static str) -> Result<(), Error> {
    let config = &client.inner.config;
    if config.secret_key.is_none() {
        return Err(Error::MissingKey {
            key: "secret_key",
            operation,
        });
    }
    if config.publish_key.is_none() {
        return Err(Error::MissingKey {
            key: "publish_key",
            operation,
        });
    }
    Ok(())
}

/// `a,b,c`, or `None` for an empty list.
pub(crate) fn comma_list(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join(","))
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::{Config, PubNub};

    /// A client with every key an Access Manager call needs, and an auth
    /// key of its own that admin calls must not send.
    pub(crate) fn admin() -> PubNub {
        PubNub::new(
            Config::builder()
                .subscribe_key("sub")
                .publish_key("pub")
                .secret_key("sec")
                .auth_key("my-own-key")
                .user_id("admin")
                .build()
                .unwrap(),
        )
        .unwrap()
    }
}
