//! # pubnub-rx
//!
//! An actor-based, reactive-stream client for the PubNub real-time network,
//! plus (feature `server`) an embedded PubNub-compatible dev server.
//!
//! Crate documentation with a quickstart lands with the client foundation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;

#[cfg(feature = "server")]
pub mod server;
