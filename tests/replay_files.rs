//! Replays every Files cassette recorded from the real PubNub service
//! (`../shared/fixtures/cassettes/*/file_upload/*`): our client must send the
//! same requests (generate-upload-url body, the S3 form fields in their
//! order with the file last, the publish-file message and parameters, list
//! `limit`/`next`, delete, the download through PubNub's 307) and read the
//! recorded answers the same way (ids, timetokens, file lists, downloaded
//! bytes), the encrypted cassettes included: their file bytes and file
//! message decrypt to what the recording client encrypted.
//!
//! The replay server rewrites the S3 upload URL and the 307 `Location` to
//! itself, so the whole exchange (upload and download included) stays on
//! this machine.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use common::replay::{decode_query, decoded_segments, Cassette, Interaction};
use common::rest::{decrypt_payload, legacy_module, CIPHER_KEY};
use pubnub_rx::crypto::CryptoModule;
use pubnub_rx::{Config, Error, PubNub};
use serde_json::Value;

const S3: &str =
    "https://pubnub-mnemosyne-files-us-east-1-prd.s3.dualstack.us-east-1.amazonaws.com";
const DOWNLOAD_HOST: &str = "https://files-us-east-1.pndsn.com";

/// One recorded exchange with what the shared replay harness leaves out.
struct Step {
    i: Interaction,
    /// The request body, `body_base64` decoded when the recorder used it.
    request_body: Vec<u8>,
    /// The recorded `Location` answer header.
    location: Option<String>,
}

fn load(path: &Path, root: &Path) -> (String, Vec<Step>) {
    let cassette = Cassette::load(path, root);
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let steps = cassette
        .interactions
        .into_iter()
        .zip(raw["interactions"].as_array().unwrap())
        .map(|(i, raw)| {
            let request = &raw["request"];
            let request_body = match (&request["body_base64"], &request["body"]) {
                (Value::String(b64), _) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap(),
                (_, Value::String(text)) => text.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            let location = raw["response"]["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")))
                .and_then(|(_, v)| v[0].as_str())
                .map(str::to_owned);
            Step {
                i,
                request_body,
                location,
            }
        })
        .collect();
    (cassette.name, steps)
}

/// What our client sent.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A recorded answer: status, body, `Location`.
type Answer = (u16, Vec<u8>, Option<String>);

struct State {
    answers: Mutex<std::collections::VecDeque<Answer>>,
    sent: Mutex<Vec<Sent>>,
}

/// Answers with the recorded responses in order, pointing the S3 and
/// download URLs at itself.
struct FilesReplay {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FilesReplay {
    async fn start(steps: &[Step]) -> FilesReplay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = format!("http://{addr}");
        let answers = steps
            .iter()
            .map(|s| {
                // Text answers point at this server; binary ones stay as recorded.
                let body = match std::str::from_utf8(&s.i.response_body) {
                    Ok(text) => text
                        .replace(&format!("{S3}/"), &format!("{origin}/s3/"))
                        .into_bytes(),
                    Err(_) => s.i.response_body.clone(),
                };
                let location = s
                    .location
                    .as_ref()
                    .map(|l| l.replace(DOWNLOAD_HOST, &format!("{origin}/download")));
                (s.i.status, body, location)
            })
            .collect();
        let state = Arc::new(State {
            answers: Mutex::new(answers),
            sent: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&shared);
                async move { serve(&state, method, uri, headers, body) }
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        FilesReplay {
            addr,
            state,
            _stop: stop,
        }
    }

    fn sent(&self) -> Vec<Sent> {
        self.state.sent.lock().unwrap().clone()
    }
}

fn serve(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    state.sent.lock().unwrap().push(Sent {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: decode_query(uri.query().unwrap_or("")),
        headers,
        body: body.to_vec(),
    });
    match state.answers.lock().unwrap().pop_front() {
        Some((status, body, location)) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body,
            )
                .into_response();
            if let Some(location) = location {
                response
                    .headers_mut()
                    .insert("location", location.parse().unwrap());
            }
            response
        }
        None => (StatusCode::from_u16(599).unwrap(), "cassette exhausted").into_response(),
    }
}

/// The parts of a multipart body: (name, file name, content).
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap_or_else(|| panic!("not multipart: {content_type}"))
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let positions: Vec<usize> = text
        .windows(delimiter.len())
        .enumerate()
        .filter(|(_, w)| *w == delimiter.as_bytes())
        .map(|(i, _)| i)
        .collect();
    for pair in positions.windows(2) {
        let part = &text[pair[0] + delimiter.len() + 2..pair[1] - 2];
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head");
        let head = String::from_utf8_lossy(&part[..split]);
        let value = part[split + 4..].to_vec();
        let attr = |key: &str| {
            head.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        parts.push((
            attr(" name").or_else(|| attr("name")).unwrap(),
            attr("filename"),
            value,
        ));
    }
    parts
}

/// What one cassette step group asks of our client.
enum Op {
    /// generate-upload-url alone.
    Generate(usize),
    /// generate-upload-url, S3 upload, publish-file (or the upload refused).
    Send {
        generate: usize,
        upload: usize,
        publish: Option<usize>,
    },
    PublishFileMessage(usize),
    List(usize),
    Delete(usize),
    Download {
        url: usize,
        bytes: usize,
    },
}

fn ops(steps: &[Step]) -> Vec<Op> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < steps.len() {
        let s = steps[at].i.segments();
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        let method = steps[at].i.method.as_str();
        match (method, s.as_slice()) {
            ("POST", ["v1", "files", _, "channels", _, "generate-upload-url"])
                if steps.get(at + 1).is_none_or(|s| !s.i.uri.starts_with(S3)) =>
            {
                out.push(Op::Generate(at));
                at += 1;
            }
            ("POST", ["v1", "files", _, "channels", _, "generate-upload-url"]) => {
                let upload = at + 1;
                assert!(steps[upload].i.uri.starts_with(S3), "upload after generate");
                let ok = (200..300).contains(&steps[upload].i.status);
                let publish = ok.then_some(at + 2);
                out.push(Op::Send {
                    generate: at,
                    upload,
                    publish,
                });
                at += if ok { 3 } else { 2 };
            }
            ("GET", ["v1", "files", "publish-file", ..]) => {
                out.push(Op::PublishFileMessage(at));
                at += 1;
            }
            ("GET", ["v1", "files", _, "channels", _, "files"]) => {
                out.push(Op::List(at));
                at += 1;
            }
            ("DELETE", ["v1", "files", _, "channels", _, "files", _, _]) => {
                out.push(Op::Delete(at));
                at += 1;
            }
            ("GET", ["v1", "files", _, "channels", _, "files", _, _]) => {
                assert_eq!(steps[at].i.status, 307);
                out.push(Op::Download {
                    url: at,
                    bytes: at + 1,
                });
                at += 2;
            }
            other => panic!("unexpected recorded request {other:?}"),
        }
    }
    out
}

/// The recorded file message (decrypted) and whether it was encrypted.
fn file_message(i: &Interaction) -> (Value, bool) {
    let payload = i.segments()[8].clone();
    match decrypt_payload(&payload) {
        Some((_, plain)) => (plain, true),
        None => (serde_json::from_str(&payload).unwrap(), false),
    }
}

/// Decrypts the recording client's file bytes when they are encrypted.
fn plain_file(bytes: &[u8], encrypted: bool) -> Vec<u8> {
    if encrypted {
        legacy_module(true).unwrap().decrypt_file(bytes).unwrap()
    } else {
        bytes.to_vec()
    }
}

fn client_for(replay: &FilesReplay, i: &Interaction, encrypted: bool) -> PubNub {
    let mut builder = Config::builder()
        .origin(replay.addr.to_string())
        .ssl(false)
        .subscribe_key("{PN_KEY_SUBSCRIBE}")
        .publish_key("{PN_KEY_PUBLISH}")
        .user_id(
            i.query()
                .get("uuid")
                .cloned()
                .unwrap_or_else(|| "replay-user".to_owned()),
        );
    if encrypted {
        builder = builder.crypto_module(CryptoModule::legacy(CIPHER_KEY, true).unwrap());
    }
    PubNub::new(builder.build().unwrap()).unwrap()
}

/// Checks our publish-file request against the recorded one.
fn assert_publish_matches(name: &str, ours: &Sent, recorded: &Interaction) {
    let our_segments = decoded_segments(&ours.path);
    let recorded_segments = recorded.segments();
    assert_eq!(
        our_segments[..8],
        recorded_segments[..8],
        "{name}: publish-file path"
    );
    let (recorded_message, _) = file_message(recorded);
    let ours_payload = &our_segments[8];
    let ours_message = match decrypt_payload(ours_payload) {
        Some((_, plain)) => plain,
        None => serde_json::from_str(ours_payload).unwrap(),
    };
    assert_eq!(ours_message, recorded_message, "{name}: file message");
    let q = recorded.query();
    for key in ["store", "custom_message_type"] {
        assert_eq!(ours.query.get(key), q.get(key), "{name}: `{key}`");
    }
    if q.get("store").map(String::as_str) != Some("0") {
        assert_eq!(ours.query.get("ttl"), q.get("ttl"), "{name}: `ttl`");
    }
    match q.get("meta").map(String::as_str) {
        None | Some("null") => assert_eq!(ours.query.get("meta"), None, "{name}: meta"),
        Some(meta) => assert_eq!(
            serde_json::from_str::<Value>(&ours.query["meta"]).unwrap(),
            serde_json::from_str::<Value>(meta).unwrap(),
            "{name}: meta"
        ),
    }
}

/// Our equivalent of a recorded publish-file: the builder options.
macro_rules! with_publish_options {
    ($builder:expr, $recorded:expr) => {{
        let q = $recorded.query();
        let (message, _) = file_message($recorded);
        let mut b = $builder;
        if !message["message"].is_null() {
            b = b.message(&message["message"]);
        }
        if let Some(store) = q.get("store") {
            b = b.should_store(store == "1");
        }
        if let Some(ttl) = q.get("ttl").and_then(|t| t.parse().ok()) {
            b = b.ttl(ttl);
        }
        if let Some(meta) = q.get("meta").filter(|m| *m != "null") {
            b = b.meta(&serde_json::from_str::<Value>(meta).unwrap());
        }
        if let Some(cmt) = q.get("custom_message_type") {
            b = b.custom_message_type(cmt.clone());
        }
        b
    }};
}

async fn replay(name: &str, steps: &[Step]) -> usize {
    let replay = FilesReplay::start(steps).await;
    // The encrypted cassettes are told apart by their file message.
    let encrypted = steps.iter().any(|s| {
        s.i.segments().get(2).map(String::as_str) == Some("publish-file") && file_message(&s.i).1
    });
    let mut expected_requests = 0;
    for op in ops(steps) {
        match op {
            Op::Send {
                generate,
                upload,
                publish,
            } => {
                let g = &steps[generate].i;
                let channel = g.segments()[4].clone();
                let recorded_name = serde_json::from_slice::<Value>(g.body.as_deref().unwrap())
                    .unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let recorded_upload = &steps[upload];
                let recorded_parts = recorded_upload
                    .i
                    .headers
                    .get("content-type")
                    .filter(|ct| ct.starts_with("multipart/"))
                    .map(|ct| multipart_parts(ct, &recorded_upload.request_body));
                let content = match &recorded_parts {
                    Some(parts) => plain_file(&parts.last().unwrap().2, encrypted),
                    // The urlencoded form of an old asyncio SDK (refused by S3).
                    None => b"Knights who say Ni!".to_vec(),
                };
                let client = client_for(&replay, g, encrypted);
                let mut builder = client
                    .send_file()
                    .channel(channel)
                    .name(recorded_name.clone())
                    .data(content.clone());
                if let Some(p) = publish {
                    builder = with_publish_options!(builder, &steps[p].i);
                }
                let result = builder.await;
                let sent = replay.sent();
                let ours_generate = &sent[expected_requests];
                assert_eq!(ours_generate.method, "POST", "{name}");
                assert_eq!(
                    decoded_segments(&ours_generate.path),
                    g.segments(),
                    "{name}: generate path"
                );
                assert_eq!(
                    serde_json::from_slice::<Value>(&ours_generate.body).unwrap(),
                    serde_json::from_slice::<Value>(g.body.as_deref().unwrap()).unwrap(),
                    "{name}: generate body"
                );
                let ours_upload = &sent[expected_requests + 1];
                assert_eq!(ours_upload.path, "/s3/", "{name}: upload URL");
                assert!(
                    ours_upload.query.is_empty(),
                    "{name}: no PubNub params on S3"
                );
                let content_type = ours_upload.headers["content-type"].to_str().unwrap();
                let parts = multipart_parts(content_type, &ours_upload.body);
                let generated = g.response_json();
                let fields: Vec<(String, String)> = generated["file_upload_request"]["form_fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["key"].as_str().unwrap().to_owned(),
                            f["value"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                let (file_part, field_parts) = parts.split_last().unwrap();
                let ours_fields: Vec<(String, String)> = field_parts
                    .iter()
                    .map(|(k, _, v)| (k.clone(), String::from_utf8(v.clone()).unwrap()))
                    .collect();
                assert_eq!(ours_fields, fields, "{name}: form fields in order");
                assert_eq!(file_part.0, "file", "{name}: the file goes last");
                assert_eq!(file_part.1.as_deref(), Some(recorded_name.as_str()));
                assert_eq!(
                    plain_file(&file_part.2, encrypted),
                    content,
                    "{name}: file bytes"
                );
                if let Some(parts) = &recorded_parts {
                    // The recording client sent the same fields, in the same order.
                    let recorded_fields: Vec<(String, String)> = parts[..parts.len() - 1]
                        .iter()
                        .map(|(k, _, v)| (k.clone(), String::from_utf8(v.clone()).unwrap()))
                        .collect();
                    assert_eq!(ours_fields, recorded_fields, "{name}: recorded form");
                }
                match publish {
                    Some(p) => {
                        let result = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert_eq!(result.id, generated["data"]["id"], "{name}: id");
                        assert_eq!(result.name, recorded_name);
                        let recorded_tt: u64 = steps[p].i.response_json()[2]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert_eq!(result.timetoken, recorded_tt, "{name}: timetoken");
                        assert_publish_matches(name, &sent[expected_requests + 2], &steps[p].i);
                        expected_requests += 3;
                    }
                    None => {
                        assert!(
                            matches!(&result, Err(Error::Http { status: 400, service: Some(s), .. }) if s == "file storage"),
                            "{name}: {result:?}"
                        );
                        expected_requests += 2;
                    }
                }
            }
            Op::Generate(at) => {
                let recorded = &steps[at].i;
                let name_sent = serde_json::from_slice::<Value>(recorded.body.as_deref().unwrap())
                    .unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let client = client_for(&replay, recorded, encrypted);
                let form = client
                    .generate_file_upload_url()
                    .channel(recorded.segments()[4].clone())
                    .name(name_sent)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let body = recorded.response_json();
                assert_eq!(form.id, body["data"]["id"]);
                assert_eq!(form.name, body["data"]["name"]);
                assert!(form.url.ends_with("/s3/"), "{}", form.url);
                assert_eq!(form.form_fields.len(), 9);
                assert_eq!(form.form_fields[1].0, "key");
                assert_eq!(
                    form.expiration_date.as_deref(),
                    body["file_upload_request"]["expiration_date"].as_str()
                );
                let ours = &replay.sent()[expected_requests];
                assert_eq!(decoded_segments(&ours.path), recorded.segments());
                expected_requests += 1;
            }
            Op::PublishFileMessage(at) => {
                let recorded = &steps[at].i;
                let (message, _) = file_message(recorded);
                let client = client_for(&replay, recorded, encrypted);
                let builder = client
                    .publish_file_message()
                    .channel(recorded.segments()[6].clone())
                    .file_id(message["file"]["id"].as_str().unwrap())
                    .file_name(message["file"]["name"].as_str().unwrap());
                let result = with_publish_options!(builder, recorded)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let recorded_tt: u64 = recorded.response_json()[2]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(result.timetoken, recorded_tt);
                assert_publish_matches(name, &replay.sent()[expected_requests], recorded);
                expected_requests += 1;
            }
            Op::List(at) => {
                let recorded = &steps[at].i;
                let q = recorded.query();
                let client = client_for(&replay, recorded, encrypted);
                let mut builder = client.list_files().channel(recorded.segments()[4].clone());
                if let Some(limit) = q.get("limit") {
                    builder = builder.limit(limit.parse().unwrap());
                }
                if let Some(next) = q.get("next") {
                    builder = builder.next(next.clone());
                }
                let page = builder.await.unwrap_or_else(|e| panic!("{name}: {e}"));
                let ours = &replay.sent()[expected_requests];
                assert_eq!(
                    decoded_segments(&ours.path),
                    recorded.segments(),
                    "{name}: list path"
                );
                for key in ["limit", "next"] {
                    assert_eq!(ours.query.get(key), q.get(key), "{name}: `{key}`");
                }
                let body = recorded.response_json();
                let recorded_files = body["data"].as_array().unwrap();
                assert_eq!(page.files.len(), recorded_files.len(), "{name}");
                for (ours, recorded) in page.files.iter().zip(recorded_files) {
                    assert_eq!(ours.id, recorded["id"]);
                    assert_eq!(ours.name, recorded["name"]);
                    assert_eq!(Some(ours.size), recorded["size"].as_u64());
                    assert_eq!(ours.created, recorded["created"]);
                }
                assert_eq!(page.next.as_deref(), body["next"].as_str(), "{name}: next");
                expected_requests += 1;
            }
            Op::Delete(at) => {
                let recorded = &steps[at].i;
                let s = recorded.segments();
                let client = client_for(&replay, recorded, encrypted);
                client
                    .delete_file()
                    .channel(s[4].clone())
                    .id(s[6].clone())
                    .name(s[7].clone())
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let ours = &replay.sent()[expected_requests];
                assert_eq!(ours.method, "DELETE");
                assert_eq!(decoded_segments(&ours.path), s, "{name}: delete path");
                expected_requests += 1;
            }
            Op::Download { url, bytes } => {
                let recorded = &steps[url].i;
                let s = recorded.segments();
                let client = client_for(&replay, recorded, encrypted);
                let downloaded = client
                    .download_file()
                    .channel(s[4].clone())
                    .id(s[6].clone())
                    .name(s[7].clone())
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let recorded_bytes = plain_file(&steps[bytes].i.response_body, encrypted);
                assert_eq!(
                    &downloaded[..],
                    &recorded_bytes[..],
                    "{name}: downloaded bytes"
                );
                let sent = replay.sent();
                assert_eq!(decoded_segments(&sent[expected_requests].path), s);
                // The redirect was followed to the recorded storage path.
                let storage = decoded_segments(&sent[expected_requests + 1].path);
                assert_eq!(storage[0], "download");
                assert_eq!(
                    storage[1..],
                    steps[bytes].i.segments()[..],
                    "{name}: storage path"
                );
                expected_requests += 2;
            }
        }
    }
    assert_eq!(
        replay.sent().len(),
        expected_requests,
        "{name}: request count"
    );
    expected_requests
}

#[tokio::test]
async fn every_files_cassette_replays() {
    let Some(shared) = common::shared_dir_or_skip("every_files_cassette_replays") else {
        return;
    };
    let root = shared.join("fixtures/cassettes");
    let mut replayed = 0;
    let mut cassettes = 0;
    for folder in ["asyncio/file_upload", "native_sync/file_upload"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let (name, steps) = load(&path, &root);
            replayed += replay(&name, &steps).await;
            cassettes += 1;
        }
    }
    eprintln!("replayed {replayed} requests of {cassettes} files cassettes");
    assert_eq!(cassettes, 14);
}
