//! Interop agent for pubnub-rx itself, driven by tests/interop/harness.py
//! with the line protocol of `py/agent.py` and `js/agent.js`: started with
//! one JSON argument (the client configuration), it reads one JSON command
//! per line on stdin and answers each with one line on stdout prefixed
//! `@@interop `, in the same result shapes as the other two agents.
//!
//! Built by tests/interop/run.sh as `cargo build --example interop_agent`.
//! Ops: `time`, `publish`, `send_file`, `list_files`, `download_file`,
//! `delete_file`, `exit` (file contents travel as base64 in `data_b64`).

use std::io::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pubnub_rx::{Config, Error, PubNub};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt as _;

const ANSWER_PREFIX: &str = "@@interop ";

fn answer(payload: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{ANSWER_PREFIX}{payload}");
    let _ = out.flush();
}

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, String> {
    args[key]
        .as_str()
        .ok_or_else(|| format!("argument `{key}` is missing"))
}

fn client(settings: &Value) -> Result<PubNub, Error> {
    let get = |key: &str, default: &str| settings[key].as_str().unwrap_or(default).to_owned();
    let mut builder = Config::builder()
        .origin(get("origin", "127.0.0.1:8090"))
        .ssl(false)
        .subscribe_key(get("subscribe_key", "sub-c-interop"))
        .publish_key(get("publish_key", "pub-c-interop"))
        .user_id(get("uuid", "rs-agent"));
    if let Some(key) = settings["cipher_key"].as_str() {
        let random_iv = settings["random_iv"].as_bool().unwrap_or(true);
        builder = builder.crypto_module(pubnub_rx::crypto::CryptoModule::legacy(key, random_iv)?);
    }
    PubNub::new(builder.build()?)
}

/// Runs one command; `Err` carries the failure answer's fields.
async fn run(client: &PubNub, op: &str, args: &Value) -> Result<Value, (String, Option<u16>)> {
    let failed = |e: Error| (e.to_string(), e.status());
    let bad = |e: String| (e, None);
    match op {
        "time" => {
            let tt = client.time().await.map_err(failed)?;
            Ok(json!({ "timetoken": tt.to_string() }))
        }
        "publish" => {
            let sent = client
                .publish()
                .channel(text(args, "channel").map_err(bad)?)
                .message(&args["message"])
                .await
                .map_err(failed)?;
            Ok(json!({ "timetoken": sent.timetoken.to_string() }))
        }
        "send_file" => {
            let data = STANDARD
                .decode(text(args, "data_b64").map_err(bad)?)
                .map_err(|e| bad(e.to_string()))?;
            let mut builder = client
                .send_file()
                .channel(text(args, "channel").map_err(bad)?)
                .name(text(args, "name").map_err(bad)?)
                .data(data);
            if !args["message"].is_null() {
                builder = builder.message(&args["message"]);
            }
            let sent = builder.await.map_err(failed)?;
            Ok(json!({"id": sent.id, "name": sent.name, "timetoken": sent.timetoken.to_string()}))
        }
        "list_files" => {
            let mut builder = client
                .list_files()
                .channel(text(args, "channel").map_err(bad)?);
            if let Some(limit) = args["limit"].as_u64() {
                builder = builder.limit(u32::try_from(limit).unwrap_or(100));
            }
            let page = builder.await.map_err(failed)?;
            let files: Vec<Value> = page
                .files
                .iter()
                .map(|f| json!({"id": f.id, "name": f.name, "size": f.size}))
                .collect();
            Ok(json!({ "files": files, "next": page.next }))
        }
        "download_file" => {
            let bytes = client
                .download_file()
                .channel(text(args, "channel").map_err(bad)?)
                .id(text(args, "id").map_err(bad)?)
                .name(text(args, "name").map_err(bad)?)
                .await
                .map_err(failed)?;
            Ok(json!({ "data_b64": STANDARD.encode(&bytes) }))
        }
        "delete_file" => {
            client
                .delete_file()
                .channel(text(args, "channel").map_err(bad)?)
                .id(text(args, "id").map_err(bad)?)
                .name(text(args, "name").map_err(bad)?)
                .await
                .map_err(failed)?;
            Ok(json!({}))
        }
        "exit" => Ok(json!({})),
        other => Err((format!("unknown op {other:?}"), None)),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Some(settings) = std::env::args().nth(1) else {
        eprintln!("usage: interop_agent '<json settings>' (driven by tests/interop/run.sh)");
        return std::process::ExitCode::from(2);
    };
    let client = match serde_json::from_str::<Value>(&settings)
        .map_err(|e| e.to_string())
        .and_then(|s| client(&s).map_err(|e| e.to_string()))
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("bad settings: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    answer(&json!({"id": 0, "ok": true, "result": {"ready": true, "sdk": "pubnub-rx"}}));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let request: Value = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                answer(&json!({"id": null, "ok": false, "error": error.to_string()}));
                continue;
            }
        };
        let op = request["op"].as_str().unwrap_or_default().to_owned();
        match run(&client, &op, &request["args"]).await {
            Ok(result) => answer(&json!({"id": request["id"], "ok": true, "result": result})),
            Err((error, http)) => {
                answer(&json!({"id": request["id"], "ok": false, "error": error, "http": http}))
            }
        }
        if op == "exit" {
            break;
        }
    }
    client.close().await;
    std::process::ExitCode::SUCCESS
}
