//! # pubnub-rx
//!
//! An actor-based, reactive-stream client for the PubNub real-time network,
//! plus (feature `server`) an embedded PubNub-compatible dev server.
//!
//! ```no_run
//! # async fn run() -> Result<(), pubnub_rx::Error> {
//! use pubnub_rx::{Config, PubNub};
//!
//! let client = PubNub::new(
//!     Config::builder()
//!         .subscribe_key("demo")
//!         .publish_key("demo")
//!         .user_id("quickstart")
//!         .build()?,
//! )?;
//! let sent = client.publish().channel("hello_world").message(&"Hello from Rust").await?;
//! println!("published at timetoken {}", sent.timetoken);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml) and marks feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod access;
pub mod api;
mod client;
pub mod config;
pub mod crypto;
pub mod entity;
mod error;
pub mod subscribe;
pub mod transport;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

pub use access::{Permissions, Token};
pub use api::access::{AccessLevel, AccessResult, GrantBuilder, GrantTokenBuilder};
pub use api::channel_groups::ChannelGroupChannels;
pub use api::history::{
    FetchMessagesResult, FetchedMessage, HistoryItem, HistoryResult, MessageCountsResult,
};
pub use api::message_actions::{MessageAction, MessageActionsPage};
pub use api::objects::{
    ChannelMetadataObject, Member, MemberInput, Membership, MembershipInput, ObjectsPage,
    UuidMetadataObject,
};
pub use api::presence::{HereNowResult, WhereNowResult};
pub use api::publish::{PublishBuilder, PublishResult, SignalBuilder};
pub use client::PubNub;
pub use config::{
    Config, ConfigBuilder, GapRecovery, HeartbeatNotifications, ReconnectPolicy, TokenFuture,
};
pub use entity::{Channel, ChannelGroup, ChannelMetadata, UserMetadata};
pub use error::{Error, Result};
pub use subscribe::{
    Event, Message, OverflowPolicy, Presence, PresenceEvent, Status, StatusCategory, Subscription,
    SubscriptionOptions, SubscriptionSet,
};
