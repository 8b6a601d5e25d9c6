//! The `pubnub-dev-server` binary as a child process, started up to its
//! banner.
//!
//! Include it from a test file with
//! `#[path = "common/binary.rs"] mod binary;`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the binary may take to print its banner.
const BANNER_WAIT: Duration = Duration::from_secs(20);

/// The first banner line's text around the origin.
const ORIGIN_PREFIX: &str = "pubnub-dev-server listening; use origin ";
const ORIGIN_SUFFIX: &str = " with ssl=false";

/// A running binary (killed when dropped) and what it printed.
pub struct Started {
    pub child: Child,
    /// Every stdout line up to the banner's last (the data dir), log lines
    /// included.
    pub lines: Vec<String>,
    /// Where the origin line is in `lines`.
    pub banner_at: usize,
    /// `host:port`.
    pub origin: String,
}

impl Started {
    /// The banner line `n` after the origin line (1: console, 2: data dir).
    pub fn banner(&self, n: usize) -> Option<&str> {
        self.lines.get(self.banner_at + n).map(String::as_str)
    }
}

/// Starts the binary with `args` and reads stdout through the banner's
/// three lines.
pub async fn start<I, S>(args: I) -> Started
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout).lines();
    let mut lines = Vec::new();
    let mut banner_at = None;
    while banner_at.is_none_or(|at| lines.len() < at + 3) {
        let line = tokio::time::timeout(BANNER_WAIT, reader.next_line())
            .await
            .expect("the banner in time")
            .expect("readable stdout")
            .unwrap_or_else(|| panic!("stdout ended before the banner: {lines:?}"));
        if banner_at.is_none() && line.starts_with(ORIGIN_PREFIX) {
            banner_at = Some(lines.len());
        }
        lines.push(line);
    }
    let banner_at = banner_at.unwrap_or_default();
    let origin = lines[banner_at]
        .strip_prefix(ORIGIN_PREFIX)
        .and_then(|rest| rest.strip_suffix(ORIGIN_SUFFIX))
        .unwrap_or_else(|| panic!("unexpected banner: {lines:?}"))
        .to_owned();
    Started {
        child,
        lines,
        banner_at,
        origin,
    }
}
