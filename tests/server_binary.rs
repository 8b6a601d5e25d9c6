//! The `pubnub-dev-server` binary: prints the origin, serves, and stops
//! cleanly on Ctrl-C (SIGINT).

#[path = "common/binary.rs"]
mod binary;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const STEP: Duration = Duration::from_secs(20);

/// Needs `kill -INT`, so Unix only.
#[cfg(unix)]
#[tokio::test]
async fn binary_prints_its_origin_serves_and_stops_on_ctrl_c() {
    let started = binary::start([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--hold",
        "1",
        "--presence-timeout",
        "60",
        "--queue-size",
        "100",
        "--log",
        "warn",
    ])
    .await;
    // Scripts read the first line: nothing comes before it.
    assert_eq!(started.banner_at, 0, "{:?}", started.lines);
    let (mut child, origin) = (started.child, started.origin);
    assert!(origin.starts_with("127.0.0.1:"), "{origin}");

    let body = reqwest::get(format!("http://{origin}/time/0"))
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert_eq!(body.len(), 19, "[<17 digits>]: {body}");

    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(STEP, child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn binary_refuses_a_bad_hold_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .args(["--port", "0", "--hold", "9999"])
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--hold"), "{stderr}");
}

#[tokio::test]
async fn binary_needs_the_keyset_for_a_secret_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .args(["--port", "0", "--secret-key", "sec-c-x"])
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--subscribe-key"), "{stderr}");
    assert!(stderr.contains("--publish-key"), "{stderr}");
}

#[tokio::test]
async fn binary_with_a_secret_key_enforces_access_manager() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .args(["--port", "0", "--log", "warn"])
        .args(["--subscribe-key", "sub-c-bin", "--publish-key", "pub-c-bin"])
        .args(["--secret-key", "sec-c-bin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::time::timeout(STEP, BufReader::new(stdout).lines().next_line())
        .await
        .expect("a line in time")
        .expect("readable")
        .expect("one line");
    let origin = line
        .strip_prefix("pubnub-dev-server listening; use origin ")
        .and_then(|rest| rest.strip_suffix(" with ssl=false"))
        .unwrap_or_else(|| panic!("unexpected banner: {line}"));
    let get = |path: &str| reqwest::get(format!("http://{origin}{path}"));
    let unsigned = get("/publish/pub-c-bin/sub-c-bin/0/room/0/1?uuid=u")
        .await
        .expect("answers");
    assert_eq!(unsigned.status(), 403);
    let other_key = get("/publish/pub-c-x/sub-c-x/0/room/0/1?uuid=u")
        .await
        .expect("answers");
    assert_eq!(other_key.status(), 400, "only the given keyset is served");
    child.kill().await.expect("stops");
}

#[tokio::test]
async fn help_explains_every_flag_and_names_the_console() {
    let output = Command::new(env!("CARGO_BIN_EXE_pubnub-dev-server"))
        .arg("--help")
        .output()
        .await
        .expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = help.lines().collect();
    let mut flags = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("--") || line.trim_start().starts_with("-h,") {
            flags += 1;
            let text = lines.get(i + 1).map_or("", |l| l.trim());
            assert!(
                !text.is_empty() && !text.starts_with('-'),
                "{line} has no help text"
            );
        }
    }
    for flag in [
        "--host",
        "--port",
        "--hold",
        "--presence-timeout",
        "--queue-size",
        "--log",
        "--subscribe-key",
        "--publish-key",
        "--secret-key",
        "--signature-window",
        "--max-store-bytes",
        "--max-file-bytes",
        "--header-read-timeout",
        "--data-dir",
        "--commit",
        "--import",
        "--export",
        "--version",
    ] {
        assert!(help.contains(flag), "{flag} missing: {help}");
    }
    assert!(flags >= 18, "{help}");
    assert!(help.contains("/console"), "{help}");
    assert!(!help.contains('\u{1b}'), "no colour codes off a terminal");
}

/// The banner: the origin (first line, read by scripts), the console URL
/// and the data dir; the logs have no colour codes when piped.
#[tokio::test]
async fn the_banner_names_the_origin_console_and_data_dir_without_colours() {
    let mut started = binary::start(["--port", "0", "--log", "info"]).await;
    // The INFO log line comes first, then the banner.
    let origin = started.origin.clone();
    assert_eq!(
        started.banner(1),
        Some(format!("console: http://{origin}/console").as_str())
    );
    assert_eq!(started.banner(2), Some("data dir: none (in memory)"));
    let seen = &started.lines;
    assert!(
        seen.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes: {seen:?}"
    );
    let page = reqwest::get(format!("http://{origin}/console"))
        .await
        .expect("answers");
    assert_eq!(page.status(), 200);
    let _ = started.child.kill().await;
}
