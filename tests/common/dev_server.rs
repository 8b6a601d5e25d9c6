//! A dev server started in-process on an ephemeral port, and a raw HTTP
//! client (reqwest) that talks to it the way the SDKs do.
//!
//! Include it from a test file with
//! `#[path = "common/dev_server.rs"] mod dev_server;`.
#![allow(dead_code)]

use std::time::Duration;

use pubnub_rx::server::{DevServer, DevServerConfig, DevServerHandle};
use serde_json::Value;

/// Subscribe key used by the tests (any key works in open mode).
pub const SUB: &str = "sub-c-test";
/// Publish key used by the tests.
pub const PUB: &str = "pub-c-test";

/// Longest a single test step may take before it is called a failure.
pub const STEP: Duration = Duration::from_secs(10);

/// Percent-encodes like JavaScript's `encodeURIComponent` plus `!'()*~`
/// (the set the PubNub SDKs escape).
pub fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// One subscribe answer.
#[derive(Debug, Clone)]
pub struct Polled {
    pub cursor: u64,
    pub messages: Vec<Value>,
}

impl Polled {
    /// The `d` of every envelope, in order.
    pub fn payloads(&self) -> Vec<Value> {
        self.messages.iter().map(|m| m["d"].clone()).collect()
    }
}

/// A running server plus a client for it.
pub struct TestServer {
    pub server: DevServerHandle,
    pub http: reqwest::Client,
    pub base: String,
}

/// The configuration tests start from: short hold, so idle polls end fast.
pub fn test_config() -> DevServerConfig {
    DevServerConfig::default().with_hold(Duration::from_secs(5))
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with_config(test_config()).await
    }

    pub async fn with_config(config: DevServerConfig) -> Self {
        let server = DevServer::start(config).await.expect("dev server starts");
        let base = server.base_url();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Self { server, http, base }
    }

    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = tokio::time::timeout(STEP, request.send())
            .await
            .expect("answer in time")
            .expect("HTTP exchange");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.expect("body");
        Reply {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.request("GET", path_and_query, None, &[]).await
    }

    /// Publishes `json` (already JSON text) on `channel` with extra query
    /// parameters (`&`-joined, already encoded); returns the timetoken.
    pub async fn publish_with(&self, channel: &str, json: &str, extra: &str) -> u64 {
        let reply = self
            .get(&format!(
                "/publish/{PUB}/{SUB}/0/{}/0/{}?uuid=publisher{}{}",
                enc(channel),
                enc(json),
                if extra.is_empty() { "" } else { "&" },
                extra
            ))
            .await;
        assert_eq!(reply.status, 200, "publish failed: {}", reply.body);
        let v = reply.json();
        assert_eq!(v[0], 1, "{}", reply.body);
        assert_eq!(v[1], "Sent");
        v[2].as_str()
            .expect("timetoken string")
            .parse()
            .expect("17 digits")
    }

    pub async fn publish(&self, channel: &str, json: &str) -> u64 {
        self.publish_with(channel, json, "").await
    }

    pub async fn signal(&self, channel: &str, json: &str) -> Reply {
        self.get(&format!(
            "/signal/{PUB}/{SUB}/0/{}/0/{}?uuid=publisher",
            enc(channel),
            enc(json)
        ))
        .await
    }

    /// A subscribe request; `channels` is the raw path segment, `query`
    /// the rest of the query (already encoded, may be empty).
    pub async fn poll(&self, channels: &str, query: &str) -> Polled {
        let reply = self
            .get(&format!("/v2/subscribe/{SUB}/{channels}/0?{query}"))
            .await;
        assert_eq!(reply.status, 200, "subscribe failed: {}", reply.body);
        let v = reply.json();
        let cursor = v["t"]["t"]
            .as_str()
            .expect("cursor string")
            .parse()
            .expect("cursor digits");
        assert_eq!(v["t"]["r"], 1);
        Polled {
            cursor,
            messages: v["m"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// A handshake (`tt=0`) for `uuid`; returns the cursor.
    pub async fn handshake(&self, channels: &str, uuid: &str, query: &str) -> u64 {
        let polled = self
            .poll(channels, &format!("tt=0&uuid={}&{query}", enc(uuid)))
            .await;
        assert!(polled.messages.is_empty(), "handshake carries no messages");
        polled.cursor
    }

    /// A receive after `cursor`.
    pub async fn receive(&self, channels: &str, cursor: u64, uuid: &str, query: &str) -> Polled {
        self.poll(
            channels,
            &format!("tt={cursor}&tr=1&uuid={}&{query}", enc(uuid)),
        )
        .await
    }
}
