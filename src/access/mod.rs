//! Access Manager building blocks that need no client: the permission set
//! and the v3 token codec (PROTOCOL.md §8.2).
//!
//! The calls that talk to PubNub (`grant`, `revoke`, `audit`, `grant_token`,
//! `revoke_token`) are builders on [`PubNub`](crate::PubNub); see
//! [`api::access`](crate::api::access).

mod permissions;
pub mod token;

pub use permissions::Permissions;
pub use token::{encode_token, parse_token, Token, TokenResources};
