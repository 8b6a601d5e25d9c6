//! The `pubnub-bench` binary: a short fan-out run against the embedded dev
//! server delivers every message to every subscriber once, and bad
//! arguments exit with code 2. Correctness only: no figure is asserted.

use std::process::Output;
use std::time::Duration;

use tokio::process::Command;

const RUN: Duration = Duration::from_secs(300);

async fn bench(args: &[&str]) -> Output {
    let run = Command::new(env!("CARGO_BIN_EXE_pubnub-bench"))
        .arg("pubsub")
        .args(args)
        .env_remove("PUBNUB_ORIGIN")
        .env_remove("PUBNUB_SUBSCRIBE_KEY")
        .env_remove("PUBNUB_PUBLISH_KEY")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(RUN, run)
        .await
        .expect("the run ends by itself")
        .expect("the binary runs")
}

fn report(output: &Output) -> serde_json::Map<String, serde_json::Value> {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    value.as_object().expect("one JSON object").clone()
}

// The server's per-connection queue is raised so that a subscriber starved
// of CPU on a busy machine does not lose messages at the server: the test is
// about the client and the bench's accounting, not the server's queue bound.
#[tokio::test]
async fn fan_out_delivers_every_message_to_every_subscriber_once() {
    let output = bench(&[
        "--publishers",
        "2",
        "--subscribers",
        "50",
        "--messages",
        "2000",
        "--server-queue-size",
        "2000",
        "--drain-timeout",
        "60",
        "--json",
    ])
    .await;
    let report = report(&output);
    for key in [
        "delivered",
        "lost",
        "duplicates",
        "out_of_order",
        "msgs_per_sec",
        "publish_msgs_per_sec",
        "mb_per_sec",
        "p50",
        "p90",
        "p99",
        "p999",
        "max",
        "client_cpu_secs",
        "peak_rss_mib",
        "statuses",
    ] {
        assert!(report.contains_key(key), "{key} missing: {report:?}");
    }
    assert_eq!(report["published"], 2000, "{report:?}");
    assert_eq!(report["publish_errors"], 0, "{report:?}");
    assert_eq!(report["expected"], 2000 * 50, "{report:?}");
    assert_eq!(report["delivered"], 2000 * 50, "{report:?}");
    assert_eq!(report["lost"], 0, "{report:?}");
    assert_eq!(report["duplicates"], 0, "{report:?}");
    assert_eq!(
        report["out_of_order"], 0,
        "one publish in flight per publisher keeps its order: {report:?}"
    );
    assert_eq!(report["malformed"], 0, "{report:?}");
    assert_eq!(report["interrupted"], false);
}

#[tokio::test]
async fn shared_client_channels_and_csv_deliver_everything_once() {
    let output = bench(&[
        "--subscribers",
        "20",
        "--channels",
        "4",
        "--messages",
        "400",
        "--shared-client",
        "--cipher-key",
        "bench-secret",
        "--server-queue-size",
        "2000",
        "--drain-timeout",
        "60",
        "--csv",
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "header and one row: {stdout}");
    let cell = |name: &str| {
        let column = lines[0]
            .split(',')
            .position(|header| header == name)
            .unwrap_or_else(|| panic!("no {name} column: {stdout}"));
        lines[1]
            .split(',')
            .nth(column)
            .unwrap_or_default()
            .to_owned()
    };
    // 400 messages over 4 channels, 5 subscribers per channel.
    assert_eq!(cell("expected"), "2000", "{stdout}");
    assert_eq!(cell("delivered"), "2000", "{stdout}");
    assert_eq!(cell("lost"), "0", "{stdout}");
    assert_eq!(cell("duplicates"), "0", "{stdout}");
    assert_eq!(cell("malformed"), "0", "decrypted bench payloads: {stdout}");
}

#[tokio::test]
async fn bad_arguments_exit_with_code_2_and_say_why() {
    let cases: &[(&[&str], &str)] = &[
        (&["--subscribers", "0"], "--subscribers 0"),
        (&["--subscribers", "two"], "--subscribers"),
        (
            &["--subscribers", "1", "--channels", "2"],
            "every channel needs a subscriber",
        ),
        (&["--subscribe-key", "sub-c-only"], "--publish-key"),
        (&["--json", "--csv"], "--csv"),
    ];
    for (args, needle) in cases {
        let output = bench(args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: no report");
    }
}
