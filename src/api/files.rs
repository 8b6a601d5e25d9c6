//! Files: share files on a channel (PROTOCOL.md §12; the `*/file_upload/*`
//! cassettes are the specification).
//!
//! Sending a file is three requests, as in every PubNub SDK:
//! `generate-upload-url` (PubNub hands out an upload form), the multipart form
//! upload to the storage URL it names, then the *file message*
//! (`publish-file`) that tells subscribers, stored in history as message
//! type 4. With a crypto module configured, the file's bytes and its message
//! are encrypted the way the other SDKs do (legacy: random IV first; AES-CBC:
//! `PNED` header), so files are readable across SDKs.
//!
//! ```no_run
//! # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
//! let sent = client
//!     .send_file()
//!     .channel("room.1")
//!     .name("notes.txt")
//!     .data("Knights who say Ni!")
//!     .message(&serde_json::json!({"text": "my notes"}))
//!     .await?;
//! let bytes = client
//!     .download_file()
//!     .channel("room.1")
//!     .id(&sent.id)
//!     .name(&sent.name)
//!     .await?;
//! assert_eq!(&bytes[..], b"Knights who say Ni!");
//! # Ok(()) }
//! ```
//!
//! The multipart body is written here rather than by reqwest's `multipart`
//! form, because uploads go through the client's pluggable
//! [`Transport`](crate::transport::Transport) like every other request (a
//! custom transport or a test double sees them too), and the transport
//! carries bytes.

use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::endpoint::{awaitable, Answer, Boxed, Call, Endpoint};
use crate::api::publish::{
    parse_publish_response, publish_key, validate_custom_message_type, PublishResult,
};
use crate::api::util::{check_ok, parse_reply, setters};
use crate::api::{to_json, validate_channel};
use crate::transport::encoding::encode;
use crate::transport::{HttpMethod, RequestKind, TransportRequest};
use crate::{Error, PubNub};

/// The largest file PubNub stores: 5 MiB (after encryption).
pub const MAX_FILE_SIZE: usize = 5 * 1024 * 1024;
/// How many times `send_file` tries to publish the file message after the
/// upload succeeded (the official SDKs' `fileUploadPublishRetryLimit`).
const PUBLISH_ATTEMPTS: usize = 5;

/// What [`PubNub::send_file`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFileResult {
    /// The file's id (with the name, what downloads and deletes it).
    pub id: String,
    /// The file's name as stored.
    pub name: String,
    /// Timetoken of the file message.
    pub timetoken: u64,
}

/// One stored file, as [`PubNub::list_files`] describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's id.
    pub id: String,
    /// The file's name.
    pub name: String,
    /// Stored size in bytes (the encrypted size for encrypted files).
    pub size: u64,
    /// When it was uploaded, as PubNub writes it (`2025-05-05T19:12:14Z`).
    pub created: String,
}

/// A page of [`PubNub::list_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilesResult {
    /// The files of this page.
    pub files: Vec<FileInfo>,
    /// The cursor of the next page, `None` on the last one.
    pub next: Option<String>,
}

fn require_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid_argument(
            "name",
            "is empty: name the file (e.g. `.name(\"photo.png\")`)",
        ));
    }
    Ok(())
}

fn require_id(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid_argument(
            "id",
            "is empty: give the file id `send_file` or `list_files` returned",
        ));
    }
    Ok(())
}

/// `/v1/files/{sub}/channels/{ch}/files/{id}/{name}`.
fn file_path(client: &PubNub, channel: &str, id: &str, name: &str) -> String {
    format!(
        "/v1/files/{}/channels/{}/files/{}/{}",
        encode(&client.inner.config.subscribe_key),
        encode(channel),
        encode(id),
        encode(name)
    )
}

/// The options of a file message, shared by `send_file` and
/// `publish_file_message`.
#[derive(Debug, Default)]
struct MessageOptions {
    message: Option<Result<Value, Error>>,
    meta: Option<Result<String, Error>>,
    ttl: Option<u32>,
    should_store: Option<bool>,
    custom_message_type: Option<String>,
}

impl MessageOptions {
    /// Checks everything the publish will need, before any request.
    fn check(&self) -> Result<(), Error> {
        if let Some(Err(error)) = &self.message {
            return Err(error.clone());
        }
        if let Some(meta) = &self.meta {
            if !meta.as_ref().map_err(Clone::clone)?.starts_with('{') {
                return Err(Error::invalid_argument(
                    "meta",
                    "must be a JSON object (filter expressions read its fields)",
                ));
            }
        }
        if let Some(message_type) = &self.custom_message_type {
            validate_custom_message_type(message_type)?;
        }
        Ok(())
    }

    /// The `publish-file` request for file `id`/`name` on `channel`.
    fn request(
        &self,
        client: &PubNub,
        channel: &str,
        id: &str,
        name: &str,
    ) -> Result<crate::client::Request, Error> {
        let config = &client.inner.config;
        let publish_key = publish_key(client, "publishing a file message")?;
        let message = match &self.message {
            Some(message) => message.clone()?,
            None => Value::Null,
        };
        // `message` first, as the official SDKs write it.
        #[derive(Serialize)]
        struct FileMessage<'a> {
            message: &'a Value,
            file: FileId<'a>,
        }
        #[derive(Serialize)]
        struct FileId<'a> {
            id: &'a str,
            name: &'a str,
        }
        let body = to_json(
            "file message",
            &FileMessage {
                message: &message,
                file: FileId { id, name },
            },
        )?;
        let payload = match &config.crypto {
            Some(crypto) => to_json("file message", &crypto.encrypt_to_base64(body.as_bytes())?)?,
            None => body,
        };
        let path = format!(
            "/v1/files/publish-file/{}/{}/0/{}/0/{}",
            encode(publish_key),
            encode(&config.subscribe_key),
            encode(channel),
            encode(&payload)
        );
        let store = self.should_store;
        let mut request = client
            .request(HttpMethod::Get, path)
            .param_opt("store", store.map(|s| if s { "1" } else { "0" }))
            .param_opt("meta", self.meta.clone().transpose()?)
            .param_opt("custom_message_type", self.custom_message_type.clone());
        if store != Some(false) {
            request = request.param_opt("ttl", self.ttl.map(|t| t.to_string()));
        }
        Ok(request)
    }
}

/// The file message options, shared by `send_file` and
/// `publish_file_message` (both keep them in `self.options`).
macro_rules! message_option_setters {
    () => {
        /// A message sent with the file (any value serde can turn into JSON).
        pub fn message<T: Serialize + ?Sized>(mut self, message: &T) -> Self {
            self.options.message = Some(crate::api::to_value("file message", message));
            self
        }

        /// User metadata of the file message (a JSON object, never encrypted).
        pub fn meta<T: Serialize + ?Sized>(mut self, meta: &T) -> Self {
            self.options.meta = Some(to_json("meta", meta));
            self
        }

        /// Hours the file message stays in history.
        pub fn ttl(mut self, hours: u32) -> Self {
            self.options.ttl = Some(hours);
            self
        }

        /// Store the file message in history (`true`) or not; unset uses the
        /// keyset's default.
        pub fn should_store(mut self, store: bool) -> Self {
            self.options.should_store = Some(store);
            self
        }

        /// A custom message type for the file message (3–50 characters of
        /// `A-Z a-z 0-9 _ -`).
        pub fn custom_message_type(mut self, message_type: impl Into<String>) -> Self {
            self.options.custom_message_type = Some(message_type.into());
            self
        }
    };
}

/// Builder of a file upload; await it to send. Created by
/// [`PubNub::send_file`].
#[must_use = "a file is not sent until the builder is awaited"]
#[derive(Debug)]
pub struct SendFileBuilder {
    client: PubNub,
    channel: String,
    name: String,
    data: Option<Bytes>,
    path: Option<PathBuf>,
    options: MessageOptions,
}

impl SendFileBuilder {
    setters! {
        /// The channel to share the file on (required).
        channel(channel: String);
        /// The file's name (required): what subscribers and downloads see.
        name(name: String);
    }

    /// The file's content (this or [`path`](Self::path) is required; at most
    /// 5 MiB after encryption).
    pub fn data(mut self, data: impl Into<Bytes>) -> Self {
        self.data = Some(data.into());
        self.path = None;
        self
    }

    /// Reads the content from a file when awaited. Its size is checked
    /// against the 5 MiB limit first, so a big file is refused without being
    /// read. When no [`name`](Self::name) is set, the file name is used.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self.data = None;
        self
    }

    message_option_setters!();

    async fn send(self) -> Result<SendFileResult, Error> {
        let Self {
            client,
            channel,
            mut name,
            data,
            path,
            options,
        } = self;
        validate_channel("channel", &channel)?;
        publish_key(&client, "sending a file")?;
        options.check()?;
        let data = match (data, path) {
            (Some(data), _) => data,
            (None, Some(path)) => {
                if name.is_empty() {
                    name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                }
                read_file(&path).await?
            }
            (None, None) => {
                return Err(Error::invalid_argument(
                    "data",
                    "is missing: call `.data(bytes)` or `.path(file)`",
                ))
            }
        };
        require_name(&name)?;
        let config = &client.inner.config;
        let data = match &config.crypto {
            Some(crypto) => Bytes::from(crypto.encrypt_file(&data)?),
            None => data,
        };
        if data.len() > MAX_FILE_SIZE {
            return Err(Error::MessageTooLarge {
                what: "file",
                size: Some(data.len()),
                limit: MAX_FILE_SIZE,
            });
        }

        let form = client
            .generate_file_upload_url()
            .channel(channel.clone())
            .name(name.clone())
            .await?;
        upload(&client, &form, &name, data).await?;

        let mut attempt = 1;
        loop {
            let request = options.request(&client, &channel, &form.id, &form.name)?;
            match client.execute(request).await {
                Ok(response) => {
                    let PublishResult { timetoken } = parse_publish_response(&response.body)?;
                    return Ok(SendFileResult {
                        id: form.id,
                        name: form.name,
                        timetoken,
                    });
                }
                Err(error) if error.is_retryable() && attempt < PUBLISH_ATTEMPTS => {
                    tracing::debug!(%error, attempt, "file message publish failed; retrying");
                    attempt += 1;
                }
                Err(error) => {
                    return Err(Error::FileMessageNotPublished {
                        id: form.id,
                        name: form.name,
                        source: Box::new(error),
                    })
                }
            }
        }
    }
}

impl std::future::IntoFuture for SendFileBuilder {
    type Output = Result<SendFileResult, Error>;
    type IntoFuture = Boxed<SendFileResult>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Reads a file to send, refusing one over the limit before reading it.
async fn read_file(path: &std::path::Path) -> Result<Bytes, Error> {
    let unreadable = |e: std::io::Error| {
        Error::invalid_argument(
            "path",
            format!("`{}` could not be read: {e}", path.display()),
        )
    };
    let size = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
    if size > MAX_FILE_SIZE as u64 {
        return Err(Error::MessageTooLarge {
            what: "file",
            size: usize::try_from(size).ok(),
            limit: MAX_FILE_SIZE,
        });
    }
    tokio::fs::read(path)
        .await
        .map(Bytes::from)
        .map_err(unreadable)
}

/// What `generate-upload-url` hands out: where and how to upload one file.
/// [`PubNub::send_file`] asks for it and uses it; ask for one yourself with
/// [`PubNub::generate_file_upload_url`] to upload another way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUploadForm {
    /// The id the file will have.
    pub id: String,
    /// The file's name as PubNub will store it.
    pub name: String,
    /// Where to POST the multipart form.
    pub url: String,
    /// The form fields to send before the file, in this order.
    pub form_fields: Vec<(String, String)>,
    /// Until when the form is valid (`2024-12-03T14:52:04Z`).
    pub expiration_date: Option<String>,
}

/// Builder of an upload form request; await it. Created by
/// [`PubNub::generate_file_upload_url`].
#[must_use = "no upload form is requested until the builder is awaited"]
#[derive(Debug, Clone)]
pub struct GenerateFileUploadUrlBuilder {
    client: PubNub,
    channel: String,
    name: String,
}

impl GenerateFileUploadUrlBuilder {
    setters! {
        /// The channel the file will be shared on (required).
        channel(channel: String);
        /// The file's name (required).
        name(name: String);
    }
}

impl Endpoint for GenerateFileUploadUrlBuilder {
    type Output = FileUploadForm;
    type Context = String;

    fn build(self) -> Result<Call<String>, Error> {
        validate_channel("channel", &self.channel)?;
        require_name(&self.name)?;
        let path = format!(
            "/v1/files/{}/channels/{}/generate-upload-url",
            encode(&self.client.inner.config.subscribe_key),
            encode(&self.channel)
        );
        let body = to_json("file name", &json!({ "name": self.name }))?;
        let request = self.client.request(HttpMethod::Post, path).json_body(body);
        Ok(Call {
            client: self.client,
            request,
            context: self.name,
        })
    }

    fn parse(answer: Answer<String>) -> Result<FileUploadForm, Error> {
        let what = "the generate-upload-url response";
        let body = &answer.response.body[..];
        let value = parse_reply(what, body)?;
        let bad = |reason: &str| Error::deserialization(what, reason, body);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let id = text(&value["data"]["id"]).ok_or_else(|| bad("no data.id"))?;
        let name = text(&value["data"]["name"]).unwrap_or_else(|| answer.context.clone());
        let request = &value["file_upload_request"];
        let url = text(&request["url"]).ok_or_else(|| bad("no file_upload_request.url"))?;
        let form_fields = request["form_fields"]
            .as_array()
            .ok_or_else(|| bad("no file_upload_request.form_fields"))?
            .iter()
            .filter_map(|field| Some((text(&field["key"])?, text(&field["value"])?)))
            .collect();
        Ok(FileUploadForm {
            id,
            name,
            url,
            form_fields,
            expiration_date: text(&request["expiration_date"]),
        })
    }
}

/// A multipart form: the fields in order, then the file.
fn multipart_body(fields: &[(String, String)], file_name: &str, data: &[u8]) -> (String, Bytes) {
    let boundary = format!("pubnub-rx-{}", uuid::Uuid::new_v4().simple());
    let quoted = |text: &str| {
        text.replace('\\', "\\\\")
            .replace('"', "%22")
            .replace(['\r', '\n'], " ")
    };
    let content_type = fields
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("Content-Type"))
        .map_or("application/octet-stream", |(_, value)| value.as_str());
    let mut body = BytesMut::with_capacity(data.len() + 256 * (fields.len() + 1));
    for (key, value) in fields {
        body.put_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                quoted(key)
            )
            .as_bytes(),
        );
        body.put_slice(value.as_bytes());
        body.put_slice(b"\r\n");
    }
    body.put_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
            quoted(file_name)
        )
        .as_bytes(),
    );
    body.put_slice(data);
    body.put_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body.freeze())
}

/// Splits `https://host[:port]/path?query` into the base URL and the rest.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Some((format!("{scheme}://{authority}"), path))
}

/// The form upload to the storage URL (no PubNub parameters: it is not a
/// PubNub API).
async fn upload(
    client: &PubNub,
    form: &FileUploadForm,
    name: &str,
    data: Bytes,
) -> Result<(), Error> {
    let (base_url, path) = split_url(&form.url).ok_or_else(|| {
        Error::deserialization(
            "the generate-upload-url response",
            "the upload URL is not an http(s) URL",
            form.url.as_bytes(),
        )
    })?;
    let (boundary, body) = multipart_body(&form.form_fields, name, &data);
    let request = TransportRequest {
        method: HttpMethod::Post,
        base_url: base_url.into(),
        path,
        query: Vec::new(),
        headers: vec![(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )],
        body: Some(body),
        timeout: client.inner.config.non_subscribe_request_timeout,
        kind: RequestKind::NonSubscribe,
    };
    let response = client.inner.transport.send(request).await?;
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&response.body);
    let message = text
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map_or_else(|| text.chars().take(200).collect(), |(m, _)| m.to_owned());
    Err(Error::Http {
        status: response.status,
        message: format!("the file upload was refused: {message}"),
        service: Some("file storage".to_owned()),
        body: text.chars().take(1024).collect(),
    })
}

/// Builder of a file message for a file already uploaded; await it.
/// Created by [`PubNub::publish_file_message`].
#[must_use = "a file message is not published until the builder is awaited"]
#[derive(Debug)]
pub struct PublishFileMessageBuilder {
    client: PubNub,
    channel: String,
    file_id: String,
    file_name: String,
    options: MessageOptions,
}

impl PublishFileMessageBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
        /// The uploaded file's id (required).
        file_id(id: String);
        /// The uploaded file's name (required).
        file_name(name: String);
    }

    message_option_setters!();
}

impl Endpoint for PublishFileMessageBuilder {
    type Output = PublishResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_channel("channel", &self.channel)?;
        require_id(&self.file_id)?;
        require_name(&self.file_name)?;
        self.options.check()?;
        let request =
            self.options
                .request(&self.client, &self.channel, &self.file_id, &self.file_name)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<PublishResult, Error> {
        parse_publish_response(answer.body())
    }
}

/// Builder of a file listing; await it for one page, or walk every page
/// with [`pages`](Self::pages). Created by [`PubNub::list_files`].
#[must_use = "files are not listed until the builder is awaited"]
#[derive(Debug, Clone)]
pub struct ListFilesBuilder {
    client: PubNub,
    channel: String,
    limit: Option<u32>,
    next: Option<String>,
}

impl ListFilesBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
        /// Files per page, 1–100 (default 100).
        limit(limit: Option<u32>);
        /// The cursor a previous page returned as `next`.
        next(next: Option<String>);
    }

    /// Every file of the channel, page after page; a failed request ends
    /// the stream with its error.
    pub fn pages(self) -> impl Stream<Item = Result<FileInfo, Error>> + Send + 'static {
        async_stream::stream! {
            let mut builder = self;
            loop {
                let page = match builder.clone().await {
                    Ok(page) => page,
                    Err(error) => {
                        yield Err(error);
                        break;
                    }
                };
                let empty = page.files.is_empty();
                for file in page.files {
                    yield Ok(file);
                }
                match page.next {
                    // A cursor that repeats (or an empty page) cannot progress.
                    Some(next) if !empty && builder.next.as_deref() != Some(next.as_str()) => {
                        builder.next = Some(next);
                    }
                    _ => break,
                }
            }
        }
    }
}

impl Endpoint for ListFilesBuilder {
    type Output = ListFilesResult;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_channel("channel", &self.channel)?;
        if let Some(limit) = self.limit {
            if !(1..=100).contains(&limit) {
                return Err(Error::invalid_argument(
                    "limit",
                    format!("is {limit}: between 1 and 100"),
                ));
            }
        }
        let path = format!(
            "/v1/files/{}/channels/{}/files",
            encode(&self.client.inner.config.subscribe_key),
            encode(&self.channel)
        );
        let request = self
            .client
            .request(HttpMethod::Get, path)
            .param_opt("limit", self.limit.map(|l| l.to_string()))
            .param_opt("next", self.next);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<ListFilesResult, Error> {
        let what = "the file list";
        let body = answer.body();
        let value = parse_reply(what, body)?;
        let items = value["data"]
            .as_array()
            .ok_or_else(|| Error::deserialization(what, "no `data` array", body))?;
        let files = items
            .iter()
            .map(|item| {
                let text = |key: &str| item[key].as_str().map(str::to_owned);
                Some(FileInfo {
                    id: text("id")?,
                    name: text("name")?,
                    size: item["size"].as_u64().unwrap_or(0),
                    created: text("created").unwrap_or_default(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::deserialization(what, "a file without id or name", body))?;
        Ok(ListFilesResult {
            files,
            next: value["next"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
        })
    }
}

/// Identifies one stored file (`channel`, `id`, `name`).
#[derive(Debug, Clone, Default)]
struct FileRef {
    channel: String,
    id: String,
    name: String,
}

impl FileRef {
    fn check(&self) -> Result<(), Error> {
        validate_channel("channel", &self.channel)?;
        require_id(&self.id)?;
        require_name(&self.name)
    }

    /// The checked `/v1/files/{sub}/channels/{ch}/files/{id}/{name}` request.
    fn request(
        &self,
        client: &PubNub,
        method: HttpMethod,
    ) -> Result<crate::client::Request, Error> {
        self.check()?;
        let path = file_path(client, &self.channel, &self.id, &self.name);
        Ok(client.request(method, path))
    }
}

macro_rules! file_ref_setters {
    () => {
        /// The channel the file was shared on (required).
        pub fn channel(mut self, channel: impl Into<String>) -> Self {
            self.file.channel = channel.into();
            self
        }

        /// The file's id (required).
        pub fn id(mut self, id: impl Into<String>) -> Self {
            self.file.id = id.into();
            self
        }

        /// The file's name (required).
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.file.name = name.into();
            self
        }
    };
}

/// Builder of a file download; await it for the (decrypted) bytes.
/// Created by [`PubNub::download_file`].
#[must_use = "a file is not downloaded until the builder is awaited"]
#[derive(Debug, Clone)]
pub struct DownloadFileBuilder {
    client: PubNub,
    file: FileRef,
}

impl DownloadFileBuilder {
    file_ref_setters!();
}

impl Endpoint for DownloadFileBuilder {
    type Output = Bytes;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = self.file.request(&self.client, HttpMethod::Get)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<Bytes, Error> {
        if (300..400).contains(&answer.response.status) {
            return Err(Error::InvalidRequest {
                reason: format!(
                    "the transport returned HTTP {} instead of following PubNub's redirect to \
                     the file; use a transport that follows redirects (the default one does)",
                    answer.response.status
                ),
            });
        }
        let body = answer.response.body;
        match &answer.client.inner.config.crypto {
            Some(crypto) => Ok(Bytes::from(crypto.decrypt_file(&body)?)),
            None => Ok(body),
        }
    }
}

/// Builder of a file deletion; await it. Created by
/// [`PubNub::delete_file`].
#[must_use = "a file is not deleted until the builder is awaited"]
#[derive(Debug, Clone)]
pub struct DeleteFileBuilder {
    client: PubNub,
    file: FileRef,
}

impl DeleteFileBuilder {
    file_ref_setters!();
}

impl Endpoint for DeleteFileBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        let request = self.file.request(&self.client, HttpMethod::Delete)?;
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the delete-file response", answer.body())
    }
}

awaitable!(
    GenerateFileUploadUrlBuilder => FileUploadForm,
    PublishFileMessageBuilder => PublishResult,
    ListFilesBuilder => ListFilesResult,
    DownloadFileBuilder => Bytes,
    DeleteFileBuilder => (),
);

impl PubNub {
    /// Uploads a file to a channel and publishes its file message.
    pub fn send_file(&self) -> SendFileBuilder {
        SendFileBuilder {
            client: self.clone(),
            channel: String::new(),
            name: String::new(),
            data: None,
            path: None,
            options: MessageOptions::default(),
        }
    }

    /// Asks PubNub for the form that uploads one file (what
    /// [`send_file`](Self::send_file) does first).
    pub fn generate_file_upload_url(&self) -> GenerateFileUploadUrlBuilder {
        GenerateFileUploadUrlBuilder {
            client: self.clone(),
            channel: String::new(),
            name: String::new(),
        }
    }

    /// Publishes the file message of a file already uploaded (what
    /// [`send_file`](Self::send_file) does last; use it after
    /// [`Error::FileMessageNotPublished`]).
    pub fn publish_file_message(&self) -> PublishFileMessageBuilder {
        PublishFileMessageBuilder {
            client: self.clone(),
            channel: String::new(),
            file_id: String::new(),
            file_name: String::new(),
            options: MessageOptions::default(),
        }
    }

    /// Lists the files of a channel.
    pub fn list_files(&self) -> ListFilesBuilder {
        ListFilesBuilder {
            client: self.clone(),
            channel: String::new(),
            limit: None,
            next: None,
        }
    }

    /// Downloads a file (following PubNub's redirect to storage) and
    /// decrypts it with the client's crypto module.
    pub fn download_file(&self) -> DownloadFileBuilder {
        DownloadFileBuilder {
            client: self.clone(),
            file: FileRef::default(),
        }
    }

    /// Deletes a file.
    pub fn delete_file(&self) -> DeleteFileBuilder {
        DeleteFileBuilder {
            client: self.clone(),
            file: FileRef::default(),
        }
    }

    /// The URL that downloads a file (it redirects to storage), built here
    /// without a request: with the client's `uuid`, `auth` and, when a
    /// secret key is set, its signature. The bytes it serves are encrypted
    /// when the file was sent encrypted.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty channel, id or name.
    pub fn file_url(&self, channel: &str, id: &str, name: &str) -> Result<String, Error> {
        let file = FileRef {
            channel: channel.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
        };
        let request = file.request(self, HttpMethod::Get)?;
        Ok(self.inner.prepare(request).url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_base_and_path() {
        assert_eq!(
            split_url("https://bucket.s3.amazonaws.com/").unwrap(),
            ("https://bucket.s3.amazonaws.com".to_owned(), "/".to_owned())
        );
        assert_eq!(
            split_url("http://127.0.0.1:9/file-store/?x=1").unwrap(),
            (
                "http://127.0.0.1:9".to_owned(),
                "/file-store/?x=1".to_owned()
            )
        );
        assert_eq!(
            split_url("http://h?x").unwrap(),
            ("http://h".to_owned(), "/?x".to_owned())
        );
        assert!(split_url("ftp://h/").is_none());
        assert!(split_url("nonsense").is_none());
    }

    #[test]
    fn multipart_has_the_fields_in_order_then_the_file() {
        let fields = vec![
            ("key".to_owned(), "sub/t/id/a.txt".to_owned()),
            ("Content-Type".to_owned(), "text/plain".to_owned()),
        ];
        let (boundary, body) = multipart_body(&fields, "a\"b.txt", b"\x00\xffdata");
        let text = String::from_utf8_lossy(&body);
        let key = text.find("name=\"key\"").unwrap();
        let ct = text.find("name=\"Content-Type\"").unwrap();
        let file = text.find("name=\"file\"; filename=\"a%22b.txt\"").unwrap();
        assert!(key < ct && ct < file, "{text}");
        assert!(text.contains("Content-Type: text/plain\r\n\r\n"));
        let tail = [
            &b"\x00\xffdata"[..],
            format!("\r\n--{boundary}--\r\n").as_bytes(),
        ]
        .concat();
        assert!(body.ends_with(&tail), "{text}");
    }
}
