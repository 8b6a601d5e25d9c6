//! The embedded PubNub-compatible dev server (feature `server`).
//!
//! (stub: being written on the `server` branch)

pub mod filter;
