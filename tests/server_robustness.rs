//! A corpus of malformed requests: each gets an error status with a PubNub
//! error body, and the server keeps serving afterwards.

mod common;
#[path = "common/dev_server.rs"]
mod dev_server;

use dev_server::{TestServer, PUB, STEP, SUB};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts an error answer: status ≥ 400 and a PubNub error body (a
/// `[0,"…","<tt>"]` array, or an object with `"error": true` or an
/// `error_message`).
fn assert_error_body(what: &str, status: u16, body: &str) {
    assert!(
        status >= 400,
        "{what}: expected an error status, got {status}: {body}"
    );
    let v: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {body:?}"));
    let ok = match &v {
        Value::Array(a) => {
            a.first() == Some(&Value::from(0)) && a.get(1).is_some_and(Value::is_string)
        }
        Value::Object(o) => {
            o.get("error") == Some(&Value::Bool(true))
                && (o.get("message").is_some_and(Value::is_string)
                    || o.get("error_message").is_some_and(Value::is_string))
        }
        _ => false,
    };
    assert!(ok, "{what}: not a PubNub error body: {body}");
}

async fn still_serving(t: &TestServer) {
    let reply = t.get("/time/0").await;
    assert_eq!(reply.status, 200, "server stopped answering /time/0");
}

#[tokio::test]
async fn malformed_http_requests_get_error_bodies_and_the_server_keeps_serving() {
    let t = TestServer::start().await;
    let huge = "a".repeat(40 * 1024);
    // reqwest (http::Uri) cannot send more than 64 KiB of URI.
    let bigger = "b".repeat(60 * 1024);
    let corpus: Vec<(&str, String, Option<Vec<u8>>, u16)> = vec![
        // bad percent-encoding
        ("GET", format!("/publish/{PUB}/{SUB}/0/ch/0/%ZZ"), None, 400),
        ("GET", format!("/v2/subscribe/{SUB}/%G1/0?tt=0"), None, 400),
        ("GET", "/time/0?uuid=%".to_owned(), None, 400),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/%C3%28"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/history/sub-key/{SUB}/channel/ch?start=%2"),
            None,
            400,
        ),
        // invalid JSON
        ("GET", format!("/publish/{PUB}/{SUB}/0/ch/0/%7B"), None, 400),
        (
            "GET",
            format!("/signal/{PUB}/{SUB}/0/ch/0/%7B%22a%22"),
            None,
            400,
        ),
        (
            "POST",
            format!("/publish/{PUB}/{SUB}/0/ch/0"),
            Some(b"{\"a\":".to_vec()),
            400,
        ),
        (
            "POST",
            format!("/publish/{PUB}/{SUB}/0/ch/0"),
            Some(vec![0xff, 0xfe, 0x00]),
            400,
        ),
        (
            "GET",
            format!("/publish/{PUB}/{SUB}/0/ch/0/1?meta=%7Bx"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/ch/uuid/u/data?state=%7Bx"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/ch/uuid/u/data?state=%5B1%5D"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/ch/heartbeat?uuid=u&state=nope"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/subscribe/{SUB}/ch/0?tt=0&uuid=u&state=%7B"),
            None,
            400,
        ),
        // huge paths and queries
        (
            "GET",
            format!("/publish/{PUB}/{SUB}/0/ch/0/%22{huge}%22"),
            None,
            414,
        ),
        (
            "GET",
            format!("/v2/subscribe/{SUB}/{bigger}/0?tt=0"),
            None,
            414,
        ),
        ("GET", format!("/time/0?junk={huge}"), None, 414),
        // unknown routes
        ("GET", "/".to_owned(), None, 404),
        ("GET", "/favicon.ico".to_owned(), None, 404),
        ("GET", "/v2/unknown/thing".to_owned(), None, 404),
        ("GET", "/v2/subscribe".to_owned(), None, 404),
        ("GET", format!("/publish/{PUB}"), None, 404),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/ch/nonsense"),
            None,
            404,
        ),
        (
            "GET",
            format!("/v1/channel-registration/sub-key/{SUB}/channel-group/g/x/y"),
            None,
            404,
        ),
        ("GET", "/time/1/2/3".to_owned(), None, 404),
        // wrong methods
        ("DELETE", "/time/0".to_owned(), None, 405),
        (
            "POST",
            format!("/v2/subscribe/{SUB}/ch/0"),
            Some(b"{}".to_vec()),
            405,
        ),
        ("PUT", format!("/publish/{PUB}/{SUB}/0/ch/0/1"), None, 405),
        (
            "PATCH",
            format!("/v2/history/sub-key/{SUB}/channel/ch"),
            None,
            405,
        ),
        (
            "DELETE",
            format!("/v2/presence/sub-key/{SUB}/channel/ch"),
            None,
            405,
        ),
        // bad arguments
        (
            "GET",
            format!("/v2/subscribe/{SUB}/ch/0?tt=notanumber"),
            None,
            400,
        ),
        ("GET", format!("/v2/subscribe/{SUB}/,/0?tt=0"), None, 400),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/ch/heartbeat"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v2/presence/sub-key/{SUB}/channel/,/leave?uuid=u"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v3/history/sub-key/{SUB}/message-counts/ch"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v3/history/sub-key/{SUB}/message-counts/a,b?channelsTimetoken=1,2,3"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v3/history-with-actions/sub-key/{SUB}/channel/a,b"),
            None,
            400,
        ),
        (
            "GET",
            format!("/v1/channel-registration/sub-key/{SUB}/channel-group/g?add="),
            None,
            400,
        ),
        (
            "GET",
            format!("/v1/channel-registration/sub-key/{SUB}/channel-group/a%2Cb"),
            None,
            400,
        ),
        ("GET", format!("/publish/{PUB}/{SUB}/0//0/1"), None, 400),
    ];
    for (method, path, body, expected) in corpus {
        let short: String = path.chars().take(80).collect();
        let what = format!("{method} {short}");
        let reply = t.request(method, &path, body, &[]).await;
        assert_eq!(reply.status, expected, "{what}: {}", reply.body);
        assert!(reply.content_type.is_some(), "{what}: no Content-Type");
        assert_error_body(&what, reply.status, &reply.body);
        still_serving(&t).await;
    }
}

#[tokio::test]
async fn oversized_and_corrupt_bodies_are_refused() {
    let t = TestServer::start().await;
    let path = format!("/publish/{PUB}/{SUB}/0/ch/0");
    let big = vec![b' '; 2 * 1024 * 1024];
    let reply = t.request("POST", &path, Some(big), &[]).await;
    assert_eq!(reply.status, 413);
    assert_error_body("2 MiB body", reply.status, &reply.body);
    still_serving(&t).await;

    // gzip magic followed by garbage
    let corrupt = vec![0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03];
    let reply = t
        .request(
            "POST",
            &path,
            Some(corrupt),
            &[("content-encoding", "gzip")],
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_error_body("corrupt gzip", reply.status, &reply.body);
    still_serving(&t).await;
}

/// Sends raw bytes and reads the answer until the server closes or answers.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8], close_write: bool) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if close_write {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("an answer in time");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn truncated_body_gets_an_error_answer() {
    let t = TestServer::start().await;
    let request = format!(
        "POST /publish/{PUB}/{SUB}/0/ch/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"cut\": "
    );
    let answer = raw_exchange(t.server.addr(), request.as_bytes(), true).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_error_body("truncated body", 400, body);
    still_serving(&t).await;
}

#[tokio::test]
async fn garbage_and_stalled_connections_do_not_block_anyone() {
    let t = TestServer::start().await;
    // Not HTTP at all: hyper answers 400 itself and closes.
    let answer = raw_exchange(t.server.addr(), b"\x00\x01\x02 hello\r\n\r\n", true).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    // A client that sends half a request head and stalls.
    let mut stalled = TcpStream::connect(t.server.addr()).await.unwrap();
    stalled
        .write_all(b"GET /time/0 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A client that sends a body more slowly than promised.
    let mut slow = TcpStream::connect(t.server.addr()).await.unwrap();
    slow.write_all(
        format!(
            "POST /publish/{PUB}/{SUB}/0/ch/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n\"a"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    for _ in 0..20 {
        still_serving(&t).await;
    }
    let tt = t.publish("ch", "\"still fine\"").await;
    assert_eq!(tt.to_string().len(), 17);
    drop((stalled, slow));
}

#[tokio::test]
async fn cors_preflight_is_answered_for_browsers() {
    let t = TestServer::start().await;
    let reply = t
        .request("OPTIONS", &format!("/v2/subscribe/{SUB}/ch/0"), None, &[])
        .await;
    assert_eq!(reply.status, 200);
    let reply = t.get("/time/0").await;
    assert_eq!(reply.status, 200);
}
