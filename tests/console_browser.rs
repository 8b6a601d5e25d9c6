//! The web console in a real browser: headless Chromium (Debian's
//! `chromium`) loads `/console`, subscribes from the page, a message
//! published through the server appears in the page's live view, the
//! channel list and the request log show the traffic, and screenshots are
//! written under `target/tmp/`. What is checked is the **rendered DOM**,
//! read through the Chrome DevTools protocol (a WebSocket, spoken with
//! tokio-tungstenite), not the HTML the server sent.
//!
//! Without Chromium (at `/usr/bin/chromium`, or `PUBNUB_CHROMIUM`) the
//! test prints a SKIPPED line and passes, unless `PUBNUB_REQUIRE_BROWSER=1`
//! (`.ci/run` sets it and installs Chromium), which makes it fail.

#[path = "common/dev_server.rs"]
mod dev_server;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use dev_server::{test_config, TestServer, STEP};
use futures::{SinkExt, StreamExt};
use pubnub_rx::access::Permissions;
use pubnub_rx::server::{Keyset, RouteKind};
use pubnub_rx::{Config, PubNub};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const PAM_SUB: &str = "sub-c-pam";
/// How long the browser may take to start, load or render one step.
const BROWSER_STEP: Duration = Duration::from_secs(30);

/// The browser to use (`PUBNUB_CHROMIUM`, or Debian's); `Err` names the
/// path that was looked at.
fn chromium() -> Result<PathBuf, PathBuf> {
    let path = std::env::var_os("PUBNUB_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM));
    if path.is_file() {
        Ok(path)
    } else {
        Err(path)
    }
}

/// A Chrome DevTools protocol connection, attached to one page.
struct Cdp {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    /// Events read while waiting for a command's answer.
    events: Vec<Value>,
}

impl Cdp {
    async fn read(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(BROWSER_STEP, self.ws.next())
                .await
                .expect("the browser answers in time")
                .expect("the DevTools connection stays open")
                .expect("a readable DevTools frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).expect("DevTools sends JSON");
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            command["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .expect("DevTools command sent");
        loop {
            let message = self.read().await;
            if message["id"] == id {
                assert!(
                    message.get("error").is_none(),
                    "{method} failed: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    async fn wait_event(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at);
        }
        loop {
            let message = self.read().await;
            if message["method"] == method {
                return message;
            }
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns
    /// its value; a JavaScript exception fails the test.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("page script failed: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Resolves with `probe()`'s first truthy value, re-checked on every
    /// DOM change (a `MutationObserver`: no polling); fails after 15 s.
    async fn wait_dom(&mut self, what: &str, probe: &str) -> Value {
        let script = format!(
            r#"new Promise((resolve, reject) => {{
                const probe = () => {{ {probe} }};
                let timer;
                const observer = new MutationObserver(() => check());
                const check = () => {{
                    const found = probe();
                    if (found) {{ observer.disconnect(); clearTimeout(timer); resolve(found); }}
                }};
                observer.observe(document.body, {{ subtree: true, childList: true, characterData: true, attributes: true }});
                timer = setTimeout(() => {{ observer.disconnect(); reject(new Error({what:?} + ' did not appear; page: ' + document.body.innerText.slice(0, 2000))); }}, 15000);
                check();
            }})"#
        );
        self.eval(&script).await
    }

    async fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        assert!(
            png.len() > 10_000,
            "a blank screenshot? {} bytes",
            png.len()
        );
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, &png).expect("screenshot written");
        path
    }
}

/// Starts headless Chromium with the DevTools protocol on a free port and
/// returns it with the browser's WebSocket URL.
async fn launch(chromium: &PathBuf, profile: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            // Root (CI) cannot use Chromium's sandbox; the page is our own.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-port=0",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(BROWSER_STEP, async {
        while let Some(line) = lines.next_line().await.expect("chromium stderr") {
            if let Some(at) = line.find("ws://") {
                return line[at..].trim().to_owned();
            }
        }
        panic!("chromium exited without a DevTools URL");
    })
    .await
    .expect("chromium prints its DevTools URL in time");
    // Keep draining stderr so that Chromium never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_through_the_server_appears_in_the_console() {
    let chromium = match chromium() {
        Ok(path) => path,
        Err(missing) => {
            let required = std::env::var("PUBNUB_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PUBNUB_REQUIRE_BROWSER=1 but there is no Chromium at {}: install Debian's \
                 `chromium` (apt-get install -y chromium) or set PUBNUB_CHROMIUM",
                missing.display()
            );
            // Written to the process's stderr, not through the test
            // harness's capture, so that the skip shows in a plain `cargo test`.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED console_browser: no Chromium at {} (install Debian's `chromium` or set \
                 PUBNUB_CHROMIUM); PUBNUB_REQUIRE_BROWSER=1 makes this a failure",
                missing.display()
            );
            return;
        }
    };

    // An open keyset for the traffic, and one with Access Manager whose
    // token the console shows decoded.
    let t = TestServer::with_config(
        test_config()
            .with_keyset(Keyset::new("sub-c-browser", "pub-c-browser"))
            .with_keyset(Keyset::new(PAM_SUB, "pub-c-pam").with_secret_key("sec-c-pam")),
    )
    .await;
    let sub = "sub-c-browser";
    let admin = PubNub::new(
        Config::builder()
            .subscribe_key(PAM_SUB)
            .publish_key("pub-c-pam")
            .secret_key("sec-c-pam")
            .user_id("admin")
            .origin(t.server.origin())
            .ssl(false)
            .build()
            .expect("config"),
    )
    .expect("client");
    admin
        .grant_token()
        .ttl(30)
        .authorized_uuid("alice")
        .channel("room.1", Permissions::new().read().write())
        .await
        .expect("token");
    // One stored message before the page opens: the channel list shows it.
    t.get(&format!(
        "/publish/pub-c-browser/{sub}/0/room.1/0/%22before%22?uuid=alice"
    ))
    .await;

    let profile =
        std::env::temp_dir().join(format!("pubnub-console-browser-{}", std::process::id()));
    let (mut child, browser_url) = launch(&chromium, &profile).await;
    let (ws, _) = tokio_tungstenite::connect_async(browser_url.as_str())
        .await
        .expect("DevTools WebSocket");
    let mut cdp = Cdp {
        ws,
        next_id: 0,
        session: None,
        events: Vec::new(),
    };
    let target = cdp
        .call("Target.createTarget", json!({ "url": "about:blank" }))
        .await;
    let attached = cdp
        .call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )
        .await;
    cdp.session = Some(
        attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned(),
    );
    cdp.call("Page.enable", json!({})).await;
    // Uncaught page errors arrive as `Runtime.exceptionThrown` events.
    cdp.call("Runtime.enable", json!({})).await;
    let console_url = format!("{}/console?sub={sub}&channel=room.1&live=1", t.base);
    cdp.call("Page.navigate", json!({ "url": console_url }))
        .await;
    cdp.wait_event("Page.loadEventFired").await;

    // The page's own long-poll (after its handshake) is at the server.
    let poll = tokio::time::timeout(
        STEP,
        t.server.request_log().wait_for(|r| {
            r.kind == RouteKind::Subscribe
                && r.param("uuid").is_some_and(|u| u.starts_with("console-"))
                && r.param("tt").is_some_and(|tt| tt != "0")
        }),
    )
    .await
    .expect("the console subscribes from the page");
    assert_eq!(poll.param("pnsdk"), Some("pubnub-dev-console"));

    // Markup in a message must be shown as text, never rendered.
    let payload = r#"{"text":"hello browser <b>bold</b> <img src=x onerror=alert(1)>"}"#;
    let reply = t
        .get(&format!(
            "/publish/pub-c-browser/{sub}/0/room.1/0/{}?uuid=bob",
            dev_server::enc(payload)
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let shown = cdp
        .wait_dom(
            "the published message in the live view",
            r#"const p = [...document.querySelectorAll('#live-list .msg[data-channel="room.1"] .payload')]
                   .find((n) => n.textContent.includes('hello browser'));
               return p && p.closest('.msg').innerText;"#,
        )
        .await;
    let shown = shown.as_str().expect("text of the message");
    assert!(shown.contains("<b>bold</b>"), "{shown}");
    assert!(shown.contains("room.1") && shown.contains("bob"), "{shown}");
    let injected = cdp
        .eval("document.querySelectorAll('#live-list b.bold, #live-list .payload b, #live-list img').length")
        .await;
    assert_eq!(injected, 0, "markup from a message was rendered");

    // The polled channel list counts both stored messages.
    let row = cdp
        .wait_dom(
            "room.1 with 2 stored messages in the channel list",
            r#"const row = document.querySelector('#channels tr[data-channel="room.1"]');
               return row && row.children[2].textContent === '2' && row.innerText;"#,
        )
        .await;
    assert!(row.as_str().is_some_and(|r| r.contains("room.1")), "{row}");
    let live_shot = cdp.screenshot("console-browser-live.png").await;

    // The request log tab shows the publish with its status.
    cdp.eval("document.querySelector('#tabs button[data-tab=requests]').click()")
        .await;
    let logged = cdp
        .wait_dom(
            "the publish in the request log",
            r#"const row = [...document.querySelectorAll('#requests tr.request')]
                   .find((r) => r.innerText.includes('/publish/') && r.innerText.includes('bob'));
               return row && row.innerText;"#,
        )
        .await;
    let logged = logged.as_str().expect("row text");
    assert!(
        logged.contains("200") && logged.contains("publish"),
        "{logged}"
    );
    let hidden = cdp
        .eval("[...document.querySelectorAll('#requests tr.request')].filter((r) => r.innerText.includes('console-')).length")
        .await;
    assert_eq!(
        hidden, 0,
        "the console's own requests are hidden by default"
    );
    let log_shot = cdp.screenshot("console-browser-requests.png").await;

    // The publish form, through the page: the message comes back in the
    // page's own live view.
    cdp.eval(
        "document.querySelector('#tabs button[data-tab=publish]').click();
         document.getElementById('pub-message').value = '{\"from\": \"the form\"}';
         document.getElementById('pub-send').click();",
    )
    .await;
    cdp.wait_dom(
        "the form's message in the live view",
        r#"return [...document.querySelectorAll('#live-list .payload')]
               .some((n) => n.textContent.includes('the form'));"#,
    )
    .await;
    let sent = cdp
        .wait_dom(
            "the publish answer",
            "const r = document.getElementById('pub-result').textContent; return r.includes('Sent') && r;",
        )
        .await;
    assert!(
        sent.as_str().is_some_and(|s| s.contains("room.1")),
        "{sent}"
    );

    // Presence: the console itself is a member of room.1 (it subscribed
    // with its uuid).
    cdp.eval("document.querySelector('#tabs button[data-tab=presence]').click()")
        .await;
    let here = cdp
        .wait_dom(
            "the console in here_now",
            r#"const t = document.getElementById('presence').innerText;
               return t.includes('this console') && t;"#,
        )
        .await;
    assert!(
        here.as_str().is_some_and(|t| t.contains("room.1")),
        "{here}"
    );

    // History (fetch v3): both stored messages, newest first.
    cdp.eval(
        "document.querySelector('#tabs button[data-tab=history]').click();
         document.getElementById('history-load').click();",
    )
    .await;
    let history = cdp
        .wait_dom(
            "the stored messages in the history tab",
            r#"const rows = [...document.querySelectorAll('#history tbody tr')].map((r) => r.innerText);
               return rows.length >= 3 && rows;"#,
        )
        .await;
    let history: Vec<&str> = history
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(history[0].contains("the form"), "{history:?}");
    assert!(
        history[2].contains("before") && history[2].contains("alice"),
        "{history:?}"
    );

    // Every other tab renders (a table or its empty note).
    for (tab, container) in [
        ("groups", "groups"),
        ("objects", "objects"),
        ("access", "access"),
        ("losses", "losses"),
    ] {
        cdp.eval(&format!(
            "document.querySelector('#tabs button[data-tab={tab}]').click()"
        ))
        .await;
        cdp.wait_dom(
            &format!("the {tab} tab"),
            &format!("return document.getElementById('{container}').childElementCount > 0;"),
        )
        .await;
    }

    // The Access Manager keyset: its token, decoded.
    cdp.eval(&format!(
        "const input = document.getElementById('sub');
         input.value = '{PAM_SUB}';
         input.dispatchEvent(new Event('change'));
         document.querySelector('#tabs button[data-tab=access]').click();"
    ))
    .await;
    let token = cdp
        .wait_dom(
            "the decoded token in the Access Manager tab",
            r#"const row = document.querySelector('#access tr.token');
               return row && row.innerText;"#,
        )
        .await;
    let token = token.as_str().expect("row text");
    for part in ["alice", "channels: room.1 (rw)", "live", "30"] {
        assert!(token.contains(part), "{part} in {token}");
    }
    let access_shot = cdp.screenshot("console-browser-access.png").await;

    cdp.eval("1").await;
    let errors: Vec<&Value> = cdp
        .events
        .iter()
        .filter(|e| e["method"] == "Runtime.exceptionThrown")
        .collect();
    assert!(errors.is_empty(), "page errors: {errors:?}");

    let _ = writeln!(
        std::io::stderr(),
        "console screenshots: {} {} {}",
        live_shot.display(),
        log_shot.display(),
        access_shot.display()
    );
    // Ask the browser to quit; it may close the connection before it
    // answers, so the answer is not awaited.
    let _ = cdp
        .ws
        .send(Message::text(
            json!({ "id": 0, "method": "Browser.close" }).to_string(),
        ))
        .await;
    let _ = tokio::time::timeout(STEP, child.wait()).await;
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
}
