//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod harness;
pub mod recording;
pub mod replay;
pub mod rest;

use std::path::PathBuf;

/// The `../shared` folder beside the project root (protocol facts, vectors,
/// cassettes), or `PUBNUB_SHARED_DIR` when set. `None` when absent: tests
/// that need it print why they skip and pass, since a user's clone has none.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PUBNUB_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    dir.join("protocol").is_dir().then_some(dir)
}

/// Returns the shared folder or prints a skip notice naming the test.
pub fn shared_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared_dir();
    if dir.is_none() {
        eprintln!(
            "SKIPPED {test}: ../shared (protocol vectors and cassettes) is absent; \
             set PUBNUB_SHARED_DIR to run it"
        );
    }
    dir
}
