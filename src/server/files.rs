//! Files (PROTOCOL.md §12; the `*/file_upload/*` cassettes are the
//! specification): PubNub's file API, and the object store that stands in
//! for the S3 bucket it hands uploads to.
//!
//! Routes:
//!
//! * `POST /v1/files/{sub}/channels/{ch}/generate-upload-url` with body
//!   `{"name": "…"}` → `{"status":200,"data":{"id","name"},"file_upload_request":
//!   {"url","method":"POST","expiration_date","form_fields":[…]}}`. The URL is
//!   this server's own `/file-store/`, the form fields are S3's (in S3's order,
//!   with `key` and `Content-Type` meaningful) and the form expires after
//!   60 s, as PubNub's does.
//! * `POST /file-store/` — the multipart form upload (the bucket). `204` with a
//!   `Location`, as S3 answers; S3's XML error bodies for a missing or expired
//!   form (`AccessDenied`), a missing file part (`InvalidArgument`) and a file
//!   past [`MAX_FILE_SIZE`] (`EntityTooLarge`).
//! * `GET /v1/files/publish-file/{pub}/{sub}/0/{ch}/0/{json}` — the file
//!   message, a publish (same parameters and errors) stored and delivered as
//!   message type 4 (`e: 4`).
//! * `GET /v1/files/{sub}/channels/{ch}/files?limit=&next=` — list, ordered by
//!   file id as PubNub's listing is, `limit` 1–100 (default 100), an opaque
//!   `next` cursor.
//! * `GET /v1/files/{sub}/channels/{ch}/files/{id}/{name}` — `307` to the
//!   download URL `GET /file-store/{sub}/{token}/{id}/{name}`, which answers
//!   the bytes with the uploaded `Content-Type`.
//! * `DELETE /v1/files/{sub}/channels/{ch}/files/{id}/{name}` → `{"status":200}`
//!   (idempotent, like the S3 delete behind it).
//!
//! Access Manager: generate-upload-url and publish-file need write, list and
//! get-URL read, delete needs delete on the channel (PubNub's documented
//! permissions for the file operations). The download URL itself is a
//! capability like S3's presigned URL: it carries the channel's random
//! token and the random file id.
//!
//! Differences from PubNub, and why: the bucket is in memory and bounded
//! ([`MAX_FILES_PER_KEYSET`] per keyset, the server-wide byte cap
//! `max_file_bytes`, oldest files evicted first and logged), files never
//! expire on their own (PubNub's retention is a keyset setting), and the
//! `X-Amz-*` form fields are placeholders nobody checks: the upload is
//! authorized by its pending form (key and expiry), which only this server
//! can have issued.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::access::{Permission, Resources};
use super::app::App;
use super::errors::{ok_json, ApiError};
use super::keyset::{KeysetHandle, Keysets};
use super::objects::iso8601;
use super::storage::{Persist, Table};
use super::wire::RequestCtx;

/// The largest file PubNub accepts (the S3 policy's `content-length-range`
/// upper bound: 5 MiB).
pub(crate) const MAX_FILE_SIZE: usize = 5 * 1024 * 1024;
/// Room for the form fields around the file in an upload body.
pub(crate) const UPLOAD_FORM_OVERHEAD: usize = 64 * 1024;
/// How long an upload form stays valid (PubNub's `expiration_date` is 60 s
/// after the request).
const UPLOAD_WINDOW_SECS: u64 = 60;
/// Upload forms a keyset keeps waiting for their upload; the oldest is
/// forgotten past it (its upload then fails as expired).
const MAX_PENDING_UPLOADS: usize = 1_000;
/// Files one keyset keeps; the oldest is evicted past it.
pub(crate) const MAX_FILES_PER_KEYSET: usize = 10_000;
/// Longest file name accepted.
const MAX_NAME_LEN: usize = 1_024;
/// Largest (and default) page of a list.
const MAX_LIST_LIMIT: usize = 100;
/// `source` of the files service's error bodies.
const SOURCE: &str = "files";
/// The first path segment of the bucket's routes.
pub(crate) const STORE_SEGMENT: &str = "file-store";

/// What a path segment of a URL this server hands out escapes: everything
/// but the unreserved characters (RFC 3986).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `http://host/file-store/{key}` with each key segment escaped.
fn store_url(origin: &str, key: &str) -> String {
    let segments: Vec<String> = key
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    format!("{origin}/{STORE_SEGMENT}/{}", segments.join("/"))
}

/// Server-wide account of the bytes files hold, against `max_file_bytes`.
#[derive(Debug)]
pub(crate) struct FileBudget {
    cap: usize,
    held: Arc<AtomicUsize>,
    /// Upload order over every keyset (eviction order).
    next_seq: AtomicU64,
    evicted: AtomicU64,
    /// Salt of the per-channel path tokens (random per server run).
    salt: [u8; 32],
}

impl FileBudget {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            // A cap below one file would refuse every large upload.
            cap: cap.max(MAX_FILE_SIZE),
            held: Arc::new(AtomicUsize::new(0)),
            next_seq: AtomicU64::new(1),
            evicted: AtomicU64::new(0),
            salt: rand::random(),
        }
    }

    /// Bytes held by stored files.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Files evicted for the caps so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Charges `bytes` of one stored file.
    fn charge(&self, bytes: usize) -> FileCharge {
        self.held.fetch_add(bytes, Ordering::Relaxed);
        FileCharge {
            held: self.held.clone(),
            bytes,
        }
    }

    /// Uses `salt` for the path tokens (the data dir's, so that URLs
    /// handed out before a restart keep working).
    pub(crate) fn with_salt(mut self, salt: Option<[u8; 32]>) -> Self {
        if let Some(salt) = salt {
            self.salt = salt;
        }
        self
    }

    /// The random path token of a channel's files (like PubNub's per-channel
    /// key prefix).
    fn channel_token(&self, subscribe_key: &str, channel: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(subscribe_key.as_bytes());
        hasher.update([0]);
        hasher.update(channel.as_bytes());
        URL_SAFE_NO_PAD.encode(hasher.finalize())
    }
}

/// The bytes one stored file holds; given back when the file is dropped,
/// whatever dropped it.
#[derive(Debug)]
struct FileCharge {
    held: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for FileCharge {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// An upload form issued and not used yet.
#[derive(Debug)]
struct Pending {
    channel: Arc<str>,
    name: String,
    key: String,
    content_type: String,
    expires_at: u64,
}

/// One stored file.
#[derive(Debug)]
struct StoredFile {
    name: String,
    key: String,
    content_type: String,
    data: Bytes,
    created_secs: u64,
    seq: u64,
    _charge: FileCharge,
}

/// A stored file's metadata as the data dir keeps it (table `files`, keyed
/// by channel and id; the contents go to `file_bytes` under the same key).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeptFile {
    name: String,
    key: String,
    content_type: String,
    created_secs: u64,
    seq: u64,
}

impl KeptFile {
    /// Its upload order.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

/// The files of one keyset.
#[derive(Debug, Default)]
pub(crate) struct Files {
    pending: HashMap<String, Pending>,
    /// Channel → file id → file (ids sorted, as PubNub lists them).
    channels: HashMap<Arc<str>, BTreeMap<String, StoredFile>>,
    /// Upload order → (channel, id), for eviction.
    order: BTreeMap<u64, (Arc<str>, String)>,
    /// Stored files are kept here too (`storage`).
    pub(crate) persist: Persist,
}

impl Files {
    /// Empty file store, with changes journalled to `persist`.
    pub(crate) fn kept_in(persist: &Persist) -> Self {
        Self {
            persist: persist.clone(),
            ..Self::default()
        }
    }

    /// The upload order of the oldest file, if any.
    fn oldest_seq(&self) -> Option<u64> {
        self.order.keys().next().copied()
    }

    fn remove(&mut self, channel: &str, id: &str) -> Option<StoredFile> {
        let files = self.channels.get_mut(channel)?;
        let file = files.remove(id)?;
        if files.is_empty() {
            self.channels.remove(channel);
        }
        self.order.remove(&file.seq);
        self.persist.delete(Table::Files, &(channel, id));
        self.persist.delete(Table::FileBytes, &(channel, id));
        Some(file)
    }

    fn insert(&mut self, channel: Arc<str>, id: &str, file: StoredFile) {
        self.order
            .insert(file.seq, (channel.clone(), id.to_owned()));
        self.channels
            .entry(channel)
            .or_default()
            .insert(id.to_owned(), file);
    }

    /// Puts a file read back from the data dir, charged to `budget`.
    pub(crate) fn restore(
        &mut self,
        budget: &FileBudget,
        channel: &str,
        id: &str,
        kept: KeptFile,
        data: Vec<u8>,
    ) {
        budget
            .next_seq
            .fetch_max(kept.seq.saturating_add(1), Ordering::Relaxed);
        let file = StoredFile {
            name: kept.name,
            key: kept.key,
            content_type: kept.content_type,
            _charge: budget.charge(data.len()),
            data: Bytes::from(data),
            created_secs: kept.created_secs,
            seq: kept.seq,
        };
        self.insert(Arc::from(channel), id, file);
        // A lower limit than when it was kept: the oldest go, as at upload.
        while self.len() > MAX_FILES_PER_KEYSET && self.evict_oldest() {}
    }

    fn evict_oldest(&mut self) -> bool {
        let Some((channel, id)) = self.order.values().next().cloned() else {
            return false;
        };
        self.remove(&channel, &id).is_some()
    }

    fn get(&self, channel: &str, id: &str) -> Option<&StoredFile> {
        self.channels.get(channel)?.get(id)
    }

    /// Number of files held.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

fn files_error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Sourced {
        status,
        source: SOURCE,
        message: message.into(),
    }
}

/// The origin clients reached this server at, for the URLs it hands out.
fn origin(app: &App, ctx: &RequestCtx) -> String {
    let host = ctx
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| app.config.bind_addr().to_string(), str::to_owned);
    format!("http://{host}")
}

/// The MIME type PubNub's form sets for a file name (by extension).
fn content_type_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// `20241203T145204Z` (S3's `X-Amz-Date`) for unix seconds.
fn amz_date(secs: u64) -> String {
    let iso = iso8601(secs.saturating_mul(10_000_000));
    // 2024-12-03T14:52:04.000000Z → 20241203T145204Z
    let digits: String = iso
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

/// `2024-12-03T14:52:04Z` for unix seconds.
fn iso_seconds(secs: u64) -> String {
    let iso = iso8601(secs.saturating_mul(10_000_000));
    format!("{}Z", iso.get(..19).unwrap_or(&iso))
}

/// `POST /v1/files/{sub}/channels/{ch}/generate-upload-url`.
pub(crate) fn generate_upload_url(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    channel: &str,
) -> Result<Response<Body>, ApiError> {
    if channel.is_empty() {
        return Err(files_error(StatusCode::BAD_REQUEST, "Invalid channel name"));
    }
    let body: Value = serde_json::from_slice(&ctx.body).map_err(|_| {
        files_error(
            StatusCode::BAD_REQUEST,
            "Invalid request body: expected {\"name\": \"<file name>\"}",
        )
    })?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| files_error(StatusCode::BAD_REQUEST, "Missing file name"))?;
    if name.len() > MAX_NAME_LEN || name.contains('/') {
        return Err(files_error(
            StatusCode::BAD_REQUEST,
            format!("Invalid file name: at most {MAX_NAME_LEN} bytes and no '/'"),
        ));
    }
    app.authorize(keyset, ctx, Permission::Write, &Resources::channel(channel))?;

    let now = app.clock.unix_secs();
    let id = uuid::Uuid::new_v4().to_string();
    let token = app.files.channel_token(&keyset.subscribe_key, channel);
    let key = format!("{}/{token}/{id}/{name}", keyset.subscribe_key);
    let content_type = content_type_of(name);
    let expires_at = now + UPLOAD_WINDOW_SECS;
    {
        let mut state = keyset.lock();
        let pending = &mut state.files.pending;
        pending.retain(|_, p| p.expires_at > now);
        if pending.len() >= MAX_PENDING_UPLOADS {
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.expires_at)
                .map(|(id, _)| id.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            id.clone(),
            Pending {
                channel: Arc::from(channel),
                name: name.to_owned(),
                key: key.clone(),
                content_type: content_type.to_owned(),
                expires_at,
            },
        );
    }
    let date = amz_date(now);
    let policy = json!({
        "expiration": iso_seconds(expires_at),
        "conditions": [
            {"bucket": "pubnub-dev-server"},
            ["eq", "$key", key],
            ["content-length-range", 0, MAX_FILE_SIZE],
            ["starts-with", "$Content-Type", ""],
        ],
    });
    let field = |key: &str, value: &str| json!({"key": key, "value": value});
    let answer = json!({
        "status": 200,
        "data": {"id": id, "name": name},
        "file_upload_request": {
            "url": format!("{}/{STORE_SEGMENT}/", origin(app, ctx)),
            "method": "POST",
            "expiration_date": iso_seconds(expires_at),
            "form_fields": [
                field("tagging", "<Tagging><TagSet><Tag><Key>ObjectTTLInDays</Key><Value>1</Value></Tag></TagSet></Tagging>"),
                field("key", &key),
                field("Content-Type", content_type),
                field("X-Amz-Credential", &format!("PUBNUBDEVSERVER/{}/local/s3/aws4_request", date.get(..8).unwrap_or(""))),
                field("X-Amz-Security-Token", ""),
                field("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                field("X-Amz-Date", &date),
                field("Policy", &STANDARD.encode(policy.to_string())),
                field("X-Amz-Signature", "0000000000000000000000000000000000000000000000000000000000000000"),
            ],
        },
    });
    Ok(ok_json(answer.to_string()))
}

/// An S3-style XML error answer of the bucket.
fn s3_error(status: StatusCode, code: &str, message: &str, extra: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>pubnub-dev-server</RequestId></Error>"
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// What an upload form carried.
#[derive(Default)]
struct Form {
    key: Option<String>,
    file: Option<Bytes>,
}

/// Reads the multipart form of an upload. `Err` is S3's answer.
async fn read_form(ctx: &RequestCtx) -> Result<Form, Response<Body>> {
    let malformed = || {
        s3_error(
            StatusCode::BAD_REQUEST,
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
            "",
        )
    };
    let boundary = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(malformed)?;
    let body = ctx.body.clone();
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return Err(malformed()),
        };
        let name = field.name().map(str::to_owned);
        let data = field.bytes().await.map_err(|_| malformed())?;
        match name.as_deref() {
            Some("key") => form.key = Some(String::from_utf8_lossy(&data).into_owned()),
            // S3 ignores fields after the file; the first file wins.
            Some("file") if form.file.is_none() => form.file = Some(data),
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /file-store/`: the multipart form upload.
pub(crate) async fn upload(app: &App, ctx: &RequestCtx) -> Result<Response<Body>, ApiError> {
    let form = match read_form(ctx).await {
        Ok(form) => form,
        Err(answer) => return Ok(answer),
    };
    let Some(key) = form.key else {
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.",
            "",
        ));
    };
    let Some(data) = form.file else {
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
            "",
        ));
    };
    if data.len() > MAX_FILE_SIZE {
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            &format!(
                "<ProposedSize>{}</ProposedSize><MaxSizeAllowed>{MAX_FILE_SIZE}</MaxSizeAllowed>",
                data.len()
            ),
        ));
    }
    let denied = || {
        s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Invalid according to Policy: Policy expired or not issued by this server.",
            "",
        )
    };
    let mut parts = key.splitn(4, '/');
    let (Some(subscribe_key), Some(_token), Some(id), Some(_name)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(denied());
    };
    let Ok(keyset) = app.keysets.resolve(subscribe_key) else {
        return Ok(denied());
    };
    let now = app.clock.unix_secs();
    let size = data.len();
    let stored = {
        let mut state = keyset.lock();
        let files = &mut state.files;
        match files.pending.remove(id) {
            Some(pending) if pending.key == key && pending.expires_at > now => {
                let seq = app.files.next_seq.fetch_add(1, Ordering::Relaxed);
                let kept = KeptFile {
                    name: pending.name,
                    key: pending.key,
                    content_type: pending.content_type,
                    created_secs: now,
                    seq,
                };
                files
                    .persist
                    .put(Table::Files, &(&*pending.channel, id), &kept);
                files
                    .persist
                    .put_raw(Table::FileBytes, &(&*pending.channel, id), &data[..]);
                let file = StoredFile {
                    name: kept.name,
                    key: kept.key,
                    content_type: kept.content_type,
                    data,
                    created_secs: now,
                    seq,
                    _charge: app.files.charge(size),
                };
                files.insert(pending.channel, id, file);
                let mut evicted = 0u64;
                while files.len() > MAX_FILES_PER_KEYSET && files.evict_oldest() {
                    evicted += 1;
                }
                Some(evicted)
            }
            Some(pending) => {
                // A mismatched key keeps the form usable for its real owner.
                if pending.expires_at > now && pending.key != key {
                    files.pending.insert(id.to_owned(), pending);
                }
                None
            }
            None => None,
        }
    };
    let Some(mut evicted) = stored else {
        return Ok(denied());
    };
    evicted += enforce_byte_cap(&app.files, &app.keysets);
    if evicted > 0 {
        app.files.evicted.fetch_add(evicted, Ordering::Relaxed);
        tracing::warn!(
            evicted,
            held_bytes = app.files.held(),
            "file store full: the oldest files were evicted (raise --max-file-bytes to keep more)"
        );
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let location = store_url(&origin(app, ctx), &key);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// Evicts the oldest files server-wide until the held bytes are under the
/// cap; returns how many went. Locks one keyset at a time. (Also after a
/// restore, when the cap is lower than when the files were kept.)
pub(crate) fn enforce_byte_cap(budget: &FileBudget, keysets: &Keysets) -> u64 {
    let mut evicted = 0;
    while budget.held() > budget.cap {
        let oldest = keysets
            .all()
            .into_iter()
            .filter_map(|keyset| {
                let seq = keyset.lock().files.oldest_seq()?;
                Some((seq, keyset))
            })
            .min_by_key(|(seq, _)| *seq);
        let Some((_, keyset)) = oldest else {
            break;
        };
        if keyset.lock().files.evict_oldest() {
            evicted += 1;
        }
    }
    evicted
}

/// `GET /v1/files/{sub}/channels/{ch}/files`.
pub(crate) fn list(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    channel: &str,
) -> Result<Response<Body>, ApiError> {
    app.authorize(keyset, ctx, Permission::Read, &Resources::channel(channel))?;
    let limit = ctx
        .query
        .count_in("limit", MAX_LIST_LIMIT, 1..=MAX_LIST_LIMIT)
        .map_err(|_| {
            files_error(
                StatusCode::BAD_REQUEST,
                format!("Invalid limit: between 1 and {MAX_LIST_LIMIT}"),
            )
        })?;
    let after = match ctx.query.non_empty("next") {
        None => None,
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .ok_or_else(|| files_error(StatusCode::BAD_REQUEST, "Invalid next cursor"))?,
        ),
    };
    let state = keyset.lock();
    let mut data = Vec::new();
    let mut more = false;
    if let Some(files) = state.files.channels.get(channel) {
        let range = match &after {
            Some(last) => files
                .range::<String, _>((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded)),
            None => files.range::<String, _>(..),
        };
        for (id, file) in range {
            if data.len() == limit {
                more = true;
                break;
            }
            data.push(json!({
                "name": file.name,
                "id": id,
                "size": file.data.len(),
                "created": iso_seconds(file.created_secs),
            }));
        }
    }
    drop(state);
    let next = if more {
        data.last()
            .and_then(|f| f["id"].as_str())
            .map(|id| Value::String(URL_SAFE_NO_PAD.encode(id)))
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let count = data.len();
    Ok(ok_json(
        json!({"status": 200, "data": data, "next": next, "count": count}).to_string(),
    ))
}

/// `GET /v1/files/{sub}/channels/{ch}/files/{id}/{name}` → 307 to the
/// download URL.
pub(crate) fn get_url(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    channel: &str,
    id: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    app.authorize(keyset, ctx, Permission::Read, &Resources::channel(channel))?;
    let key = {
        let state = keyset.lock();
        match state.files.get(channel, id) {
            Some(file) if file.name == name => file.key.clone(),
            _ => return Err(files_error(StatusCode::NOT_FOUND, "File not found")),
        }
    };
    let location = store_url(&origin(app, ctx), &key);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `DELETE /v1/files/{sub}/channels/{ch}/files/{id}/{name}`.
pub(crate) fn delete(
    app: &App,
    keyset: &KeysetHandle,
    ctx: &RequestCtx,
    channel: &str,
    id: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    app.authorize(
        keyset,
        ctx,
        Permission::Delete,
        &Resources::channel(channel),
    )?;
    let mut state = keyset.lock();
    if state
        .files
        .get(channel, id)
        .is_some_and(|file| file.name == name)
    {
        state.files.remove(channel, id);
    }
    Ok(ok_json(r#"{"status":200}"#))
}

/// `GET /file-store/{sub}/{token}/{id}/{name}`: the file's bytes.
pub(crate) fn download(
    app: &App,
    subscribe_key: &str,
    token: &str,
    id: &str,
    name: &str,
) -> Response<Body> {
    let missing = || {
        s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            "",
        )
    };
    let Ok(keyset) = app.keysets.resolve(subscribe_key) else {
        return missing();
    };
    let key = format!("{subscribe_key}/{token}/{id}/{name}");
    let found = {
        let state = keyset.lock();
        state.files.channels.values().find_map(|files| {
            files
                .get(id)
                .filter(|file| file.key == key)
                .map(|file| (file.data.clone(), file.content_type.clone()))
        })
    };
    let Some((data, content_type)) = found else {
        return missing();
    };
    let mut response = Response::new(Body::from(data));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_s3_and_iso_forms() {
        // 2024-12-03T14:52:04Z
        let secs = 1_733_237_524;
        assert_eq!(iso_seconds(secs), "2024-12-03T14:52:04Z");
        assert_eq!(amz_date(secs), "20241203T145204Z");
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type_of("king_arthur.txt"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type_of("a.PNG"), "image/png");
        assert_eq!(content_type_of("noext"), "application/octet-stream");
    }

    #[test]
    fn channel_tokens_differ_by_channel_and_are_path_safe() {
        let budget = FileBudget::new(0);
        let a = budget.channel_token("sub", "a");
        assert_eq!(a, budget.channel_token("sub", "a"));
        assert_ne!(a, budget.channel_token("sub", "b"));
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
