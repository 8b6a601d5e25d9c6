//! Test hooks: the request log (with a way to await a request without
//! sleeping) and fault injection.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use tokio::sync::broadcast;

use super::wire::decode_query;

/// Which route a request hit, as the request log and fault injection see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteKind {
    /// `GET /time/0`.
    Time,
    /// Publish and fire (`/publish/…`, GET or POST).
    Publish,
    /// `GET /signal/…`.
    Signal,
    /// `GET /v2/subscribe/…` (handshake and receive).
    Subscribe,
    /// `…/heartbeat`.
    Heartbeat,
    /// `…/leave`.
    Leave,
    /// here_now, per channel or global.
    HereNow,
    /// where_now.
    WhereNow,
    /// Set presence state.
    SetState,
    /// Get presence state.
    GetState,
    /// History v2.
    History,
    /// Fetch messages v3 (with or without actions).
    FetchMessages,
    /// Message counts.
    MessageCounts,
    /// Delete messages.
    DeleteMessages,
    /// Channel-group management.
    ChannelGroups,
    /// Access Manager v2 grant (and revoke): `GET /v2/auth/grant/…`.
    Grant,
    /// Access Manager v2 audit: `GET /v2/auth/audit/…`.
    Audit,
    /// Access Manager v3 token grant: `POST /v3/pam/{sub}/grant`.
    GrantToken,
    /// Access Manager v3 token revoke: `DELETE /v3/pam/{sub}/grant/{token}`.
    RevokeToken,
    /// App Context (objects v2): `/v2/objects/…`.
    AppContext,
    /// Message actions: add, remove, get (`/v1/message-actions/…`).
    MessageActions,
    /// Files: generate-upload-url, list, get URL, delete (`/v1/files/…`).
    Files,
    /// The file message: `GET /v1/files/publish-file/…`.
    PublishFile,
    /// The server's stand-in for the files bucket: form upload and download
    /// (`/file-store/…`).
    FileStore,
    /// Mobile Push registrations (`/v1/push/…`, `/v2/push/…`).
    Push,
    /// CORS preflight.
    Options,
    /// Anything the server does not know.
    Unknown,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// Position in the log, starting at 1, increasing by one per request.
    pub seq: u64,
    /// The route it hit.
    pub kind: RouteKind,
    /// The HTTP method.
    pub method: String,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The raw query string, if any.
    pub raw_query: Option<String>,
    /// Decoded query pairs in order (empty if the query could not be decoded).
    pub query: Vec<(String, String)>,
    /// Request headers (name, value) with non-UTF-8 values dropped.
    pub headers: Vec<(String, String)>,
    /// The body exactly as received (possibly compressed).
    pub body: Bytes,
    /// How it was answered, once it was (see [`LoggedRequest::status`]);
    /// shared with the log's record, which the server fills in when it
    /// answers.
    pub(crate) answer: AnswerSlot,
}

/// Where the server writes how a logged request was answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnswerSlot(Arc<OnceLock<Answer>>);

impl AnswerSlot {
    /// Records how the request was answered (once; later calls are ignored).
    pub(crate) fn answered(&self, status: u16, latency: Duration) {
        let _ = self.0.set(Answer { status, latency });
    }
}

/// The status and latency of an answered request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) latency: Duration,
}

impl LoggedRequest {
    /// The first decoded value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The HTTP status it was answered with; `None` while it is still being
    /// handled (a parked long-poll) or when its connection was closed
    /// without an answer (fault injection).
    pub fn status(&self) -> Option<u16> {
        self.answer.0.get().map(|a| a.status)
    }

    /// Time from its request head to its answer; `None` as for
    /// [`LoggedRequest::status`].
    pub fn latency(&self) -> Option<Duration> {
        self.answer.0.get().map(|a| a.latency)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Most bytes (paths, queries, headers, bodies) the log keeps; older
/// entries are forgotten first.
const LOG_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Most entries the log keeps, whatever `request_log_capacity` says: its
/// ring of slots is allocated up front (16 bytes a slot).
const LOG_MAX_ENTRIES: usize = 1 << 20;

/// Separates header names and values in [`Recorded::text`]: a header
/// value the log keeps is visible ASCII (`to_str` succeeded) and a name is a
/// token, so neither contains it.
const HEADER_SEPARATOR: char = '\0';

/// A request as the server records it on its hot path: the request target
/// and the headers copied into one string, nothing decoded. The
/// [`LoggedRequest`] readers see is built from it on first read (and kept),
/// so recording costs two allocations whatever the request carries, and a
/// log nobody reads costs no decoding at all.
#[derive(Debug)]
struct Recorded {
    seq: u64,
    kind: RouteKind,
    method: Method,
    /// The path, then `?` and the raw query if there is one, then
    /// `name\0value\0` for every header with a UTF-8 value, in order.
    text: String,
    path_len: usize,
    /// Where the target ends (the headers start) in `text`.
    target_len: usize,
    has_query: bool,
    body: Bytes,
    built: OnceLock<Arc<LoggedRequest>>,
    /// How it was answered (the console shows it).
    answer: AnswerSlot,
}

impl Recorded {
    fn new(
        kind: RouteKind,
        method: &Method,
        path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Self {
        let values = || {
            headers
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        };
        let target_len = path.len() + raw_query.map_or(0, |q| q.len() + 1);
        let mut text = String::with_capacity(
            target_len
                + values()
                    .map(|(name, value)| name.len() + value.len() + 2)
                    .sum::<usize>(),
        );
        text.push_str(path);
        if let Some(query) = raw_query {
            text.push('?');
            text.push_str(query);
        }
        for (name, value) in values() {
            text.push_str(name);
            text.push(HEADER_SEPARATOR);
            text.push_str(value);
            text.push(HEADER_SEPARATOR);
        }
        Self {
            seq: 0,
            kind,
            method: method.clone(),
            text,
            path_len: path.len(),
            target_len,
            has_query: raw_query.is_some(),
            body,
            built: OnceLock::new(),
            answer: AnswerSlot::default(),
        }
    }

    /// What the log bounds count: target, headers and body bytes.
    fn size(&self) -> usize {
        self.text.len() + self.body.len()
    }

    /// The request as readers see it, built once.
    fn request(&self) -> Arc<LoggedRequest> {
        self.built
            .get_or_init(|| {
                let path = self.text.get(..self.path_len).unwrap_or_default();
                let raw_query = self.has_query.then(|| {
                    self.text
                        .get(self.path_len + 1..self.target_len)
                        .unwrap_or_default()
                });
                let headers_text = self.text.get(self.target_len..).unwrap_or_default();
                let mut parts = headers_text.split(HEADER_SEPARATOR);
                let mut headers = Vec::new();
                while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                    headers.push((name.to_owned(), value.to_owned()));
                }
                Arc::new(LoggedRequest {
                    seq: self.seq,
                    kind: self.kind,
                    method: self.method.to_string(),
                    path: path.to_owned(),
                    raw_query: raw_query.map(str::to_owned),
                    // A query that does not decode is logged without pairs.
                    query: raw_query
                        .and_then(|q| decode_query(q).ok())
                        .unwrap_or_default(),
                    headers,
                    body: self.body.clone(),
                    answer: self.answer.clone(),
                })
            })
            .clone()
    }
}

/// The log of the most recent requests, bounded in count
/// (`request_log_capacity`) and in bytes (64 MiB).
///
/// Recording is on every request's path, so it takes no server-wide lock:
/// request `seq` goes to slot `seq % capacity` of a ring, each slot with its
/// own lock (two requests meet on one only `capacity` requests apart), and
/// the live feed for [`RequestLog::wait_for_after`] is only written while
/// someone waits on it. Readers collect the slots and order them by `seq`.
#[derive(Debug)]
pub struct RequestLog {
    slots: Box<[Mutex<Option<Arc<Recorded>>>]>,
    /// Bytes held by the entries in `slots`.
    bytes: AtomicUsize,
    /// No entry older than this `seq` is held (eviction by bytes starts
    /// here).
    oldest: AtomicU64,
    next_seq: AtomicU64,
    /// How many [`RequestLog::wait_for_after`] calls are listening.
    listening: AtomicUsize,
    live: broadcast::Sender<Arc<Recorded>>,
}

/// Takes a listener off [`RequestLog::listening`] when its wait ends.
struct Listening<'a>(&'a AtomicUsize);

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RequestLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity.min(LOG_MAX_ENTRIES))
                .map(|_| Mutex::new(None))
                .collect(),
            bytes: AtomicUsize::new(0),
            oldest: AtomicU64::new(1),
            next_seq: AtomicU64::new(1),
            listening: AtomicUsize::new(0),
            live: broadcast::channel(1024).0,
        }
    }

    fn slot(&self, seq: u64) -> Option<&Mutex<Option<Arc<Recorded>>>> {
        let len = u64::try_from(self.slots.len())
            .ok()
            .filter(|len| *len > 0)?;
        self.slots.get(usize::try_from(seq % len).ok()?)
    }

    /// Records one request (the path still percent-encoded, the query raw,
    /// the body as received); decoding waits until someone reads the log.
    /// Returns where to write how it was answered.
    pub(crate) fn record(
        &self,
        kind: RouteKind,
        method: &Method,
        path: &str,
        raw_query: Option<&str>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> AnswerSlot {
        let mut request = Recorded::new(kind, method, path, raw_query, headers, body);
        let answer = request.answer.clone();
        let seq = self.next_seq.fetch_add(1, Ordering::AcqRel);
        request.seq = seq;
        let request = Arc::new(request);
        if let Some(slot) = self.slot(seq) {
            let size = request.size();
            let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
            // A slower request `capacity` older may come second: keep the newer.
            let replaced = if held.as_ref().is_none_or(|old| old.seq < seq) {
                self.bytes.fetch_add(size, Ordering::AcqRel);
                held.replace(request.clone())
            } else {
                None
            };
            drop(held);
            if let Some(old) = replaced {
                self.bytes.fetch_sub(old.size(), Ordering::AcqRel);
            }
            if self.bytes.load(Ordering::Acquire) > LOG_MAX_BYTES {
                self.evict_oldest(seq);
            }
        }
        // Pairs with the fence in `wait_for_after`: either that waiter's
        // look at the past sees this entry, or this sees the waiter.
        fence(Ordering::SeqCst);
        if self.listening.load(Ordering::SeqCst) > 0 {
            // No receiver left is fine: nobody is waiting any more.
            let _ = self.live.send(request);
        }
        answer
    }

    /// Drops the oldest entries until the log is within its byte bound
    /// (rare: only large bodies get there).
    fn evict_oldest(&self, newest: u64) {
        // Entries older than `capacity` requests were replaced already.
        let held = u64::try_from(self.slots.len()).unwrap_or(u64::MAX);
        let mut seq = self
            .oldest
            .load(Ordering::Acquire)
            .max(newest.saturating_sub(held));
        while seq < newest && self.bytes.load(Ordering::Acquire) > LOG_MAX_BYTES {
            if let Some(slot) = self.slot(seq) {
                let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
                if held.as_ref().is_some_and(|old| old.seq == seq) {
                    if let Some(old) = held.take() {
                        self.bytes.fetch_sub(old.size(), Ordering::AcqRel);
                    }
                }
            }
            seq += 1;
        }
        self.oldest.fetch_max(seq, Ordering::AcqRel);
    }

    /// Every held entry, oldest first.
    fn recorded(&self) -> Vec<Arc<Recorded>> {
        let mut all: Vec<Arc<Recorded>> = self
            .slots
            .iter()
            .filter_map(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect();
        all.sort_unstable_by_key(|r| r.seq);
        all
    }

    /// The logged requests, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<LoggedRequest>> {
        self.recorded().iter().map(|r| r.request()).collect()
    }

    /// The logged requests of one route kind, oldest first.
    pub fn of_kind(&self, kind: RouteKind) -> Vec<Arc<LoggedRequest>> {
        self.recorded()
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.request())
            .collect()
    }

    /// Forgets every logged request (sequence numbers keep increasing).
    pub fn clear(&self) {
        for slot in &*self.slots {
            let taken = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(old) = taken {
                self.bytes.fetch_sub(old.size(), Ordering::AcqRel);
            }
        }
    }

    /// The `seq` of the latest request so far (0 if none): a mark for
    /// [`RequestLog::wait_for_after`].
    pub fn mark(&self) -> u64 {
        self.next_seq.load(Ordering::Acquire).saturating_sub(1)
    }

    /// Waits until a request matching `pred` has arrived — now or earlier
    /// (among those still in the log). Wrap it in a timeout in tests.
    pub async fn wait_for<F>(&self, pred: F) -> Arc<LoggedRequest>
    where
        F: Fn(&LoggedRequest) -> bool,
    {
        self.wait_for_after(0, pred).await
    }

    /// Waits until a request matching `pred` arrives after the call.
    pub async fn wait_for_next<F>(&self, pred: F) -> Arc<LoggedRequest>
    where
        F: Fn(&LoggedRequest) -> bool,
    {
        let mark = self.mark();
        self.wait_for_after(mark, pred).await
    }

    /// Waits until a request matching `pred` with `seq > mark` has arrived.
    pub async fn wait_for_after<F>(&self, mark: u64, pred: F) -> Arc<LoggedRequest>
    where
        F: Fn(&LoggedRequest) -> bool,
    {
        // Listen first, then look at the past: nothing falls in between.
        self.listening.fetch_add(1, Ordering::SeqCst);
        let _listening = Listening(&self.listening);
        let mut live = self.live.subscribe();
        // Pairs with the fence in `record`.
        fence(Ordering::SeqCst);
        let find_logged = || {
            self.recorded()
                .iter()
                .filter(|r| r.seq > mark)
                .map(|r| r.request())
                .find(|r| pred(r))
        };
        if let Some(found) = find_logged() {
            return found;
        }
        loop {
            match live.recv().await {
                Ok(recorded) if recorded.seq > mark => {
                    let request = recorded.request();
                    if pred(&request) {
                        return request;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(found) = find_logged() {
                        return found;
                    }
                }
                // The log lives as long as the server; if it is gone nothing
                // more can arrive.
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

/// What to do to a request instead of (or before) answering it normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and body (`Content-Type` as PubNub's).
    Respond {
        /// HTTP status code.
        status: u16,
        /// Response body.
        body: String,
    },
    /// Wait `after`, then close the connection without answering.
    DropConnection {
        /// How long the request stays open before the connection is closed.
        after: Duration,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
}

#[derive(Debug)]
struct FaultRule {
    kind: RouteKind,
    remaining: usize,
    fault: Fault,
}

/// Fault injection: rules apply, in the order they were added, to the next
/// requests of their route kind.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<VecDeque<FaultRule>>,
    /// How many rules `rules` holds: with none, a request does not lock.
    armed: AtomicUsize,
}

impl Faults {
    /// Applies `fault` to the next `times` requests of route `kind`.
    pub fn inject(&self, kind: RouteKind, times: usize, fault: Fault) {
        if times == 0 {
            return;
        }
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.push_back(FaultRule {
            kind,
            remaining: times,
            fault,
        });
        self.armed.store(rules.len(), Ordering::Release);
    }

    /// Answers the next `times` requests of `kind` with `status` and `body`.
    pub fn respond(&self, kind: RouteKind, times: usize, status: u16, body: impl Into<String>) {
        self.inject(
            kind,
            times,
            Fault::Respond {
                status,
                body: body.into(),
            },
        );
    }

    /// Closes the connection of the next `times` requests of `kind` without
    /// answering.
    pub fn drop_connections(&self, kind: RouteKind, times: usize) {
        self.drop_connections_after(kind, times, Duration::ZERO);
    }

    /// Like [`Faults::drop_connections`], after holding each request `after`
    /// (a long-poll dropped mid-poll).
    pub fn drop_connections_after(&self, kind: RouteKind, times: usize, after: Duration) {
        self.inject(kind, times, Fault::DropConnection { after });
    }

    /// Delays the next `times` requests of `kind` by `by`, then answers them.
    pub fn delay(&self, kind: RouteKind, times: usize, by: Duration) {
        self.inject(kind, times, Fault::Delay(by));
    }

    /// Removes every pending rule.
    pub fn clear(&self) {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.clear();
        self.armed.store(0, Ordering::Release);
    }

    /// How many faults are still to be applied, over all rules.
    pub fn pending(&self) -> usize {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|r| r.remaining)
            .sum()
    }

    /// Takes the fault for one request of `kind`, if a rule applies.
    /// (A rule added before the request arrived is always seen: adding it
    /// happens before the client sends the request.)
    pub(crate) fn take(&self, kind: RouteKind) -> Option<Fault> {
        if self.armed.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        let index = rules.iter().position(|r| r.kind == kind)?;
        let rule = rules.get_mut(index)?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        if rule.remaining == 0 {
            rules.remove(index);
            self.armed.store(rules.len(), Ordering::Release);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(log: &RequestLog, kind: RouteKind, path: &str) {
        log.record(
            kind,
            &Method::GET,
            path,
            None,
            &HeaderMap::new(),
            Bytes::new(),
        );
    }

    #[test]
    fn faults_apply_in_order_and_count_down() {
        let faults = Faults::default();
        faults.respond(RouteKind::Subscribe, 2, 500, "x");
        faults.delay(RouteKind::Subscribe, 1, Duration::from_millis(5));
        assert_eq!(faults.take(RouteKind::Publish), None);
        assert!(matches!(
            faults.take(RouteKind::Subscribe),
            Some(Fault::Respond { status: 500, .. })
        ));
        assert!(matches!(
            faults.take(RouteKind::Subscribe),
            Some(Fault::Respond { .. })
        ));
        assert!(matches!(
            faults.take(RouteKind::Subscribe),
            Some(Fault::Delay(_))
        ));
        assert_eq!(faults.take(RouteKind::Subscribe), None);
        assert_eq!(faults.pending(), 0);
    }

    #[test]
    fn log_is_bounded() {
        let log = RequestLog::new(2);
        for i in 0..5 {
            record(&log, RouteKind::Time, &format!("/{i}"));
        }
        let paths: Vec<_> = log.snapshot().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/3", "/4"]);
        assert_eq!(log.mark(), 5);
    }

    #[test]
    fn log_is_bounded_in_bytes() {
        let log = RequestLog::new(10);
        // One shared 33 MiB body, counted in full by every entry: two of
        // them are over the 64 MiB bound, so each record evicts the older.
        let body = Bytes::from(vec![0u8; 33 << 20]);
        for path in ["/a", "/b", "/c"] {
            log.record(
                RouteKind::Publish,
                &Method::POST,
                path,
                None,
                &HeaderMap::new(),
                body.clone(),
            );
        }
        let paths: Vec<_> = log.snapshot().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/c"]);
        log.clear();
        assert!(log.snapshot().is_empty());
        assert_eq!(log.mark(), 3);
    }

    #[test]
    fn logged_requests_read_as_they_arrived() {
        let log = RequestLog::new(10);
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "sdk/1".parse().unwrap());
        headers.append("x-two", "a".parse().unwrap());
        headers.append("x-two", "b: c".parse().unwrap());
        // Not UTF-8: left out, as before.
        headers.insert(
            "x-bin",
            axum::http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        log.record(
            RouteKind::Publish,
            &Method::POST,
            "/publish/p/s/0/a%2Fb/0",
            Some("uuid=u+1&meta=%7B%7D&x"),
            &headers,
            Bytes::from_static(b"{}"),
        );
        log.record(
            RouteKind::Time,
            &Method::GET,
            "/time/0",
            Some("%zz"),
            &HeaderMap::new(),
            Bytes::new(),
        );
        let logged = log.snapshot();
        let first = &logged[0];
        assert_eq!((first.seq, first.kind), (1, RouteKind::Publish));
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/publish/p/s/0/a%2Fb/0");
        assert_eq!(first.raw_query.as_deref(), Some("uuid=u+1&meta=%7B%7D&x"));
        assert_eq!(first.param("uuid"), Some("u 1"));
        assert_eq!(first.param("meta"), Some("{}"));
        assert_eq!(first.param("x"), Some(""));
        assert_eq!(first.header("User-Agent"), Some("sdk/1"));
        let two: Vec<_> = first
            .headers
            .iter()
            .filter(|(k, _)| k == "x-two")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(two, ["a", "b: c"]);
        assert_eq!(first.header("x-bin"), None);
        assert_eq!(&first.body[..], b"{}");
        // Read twice, built once.
        assert!(Arc::ptr_eq(first, &log.snapshot()[0]));
        // A query that does not decode keeps its raw form and no pairs.
        assert_eq!(logged[1].raw_query.as_deref(), Some("%zz"));
        assert!(logged[1].query.is_empty());
        assert_eq!(log.of_kind(RouteKind::Time).len(), 1);
    }

    #[tokio::test]
    async fn wait_for_sees_past_and_future_requests() {
        let log = Arc::new(RequestLog::new(10));
        record(&log, RouteKind::Time, "/past");
        let past = log.wait_for(|r| r.path == "/past").await;
        assert_eq!(past.seq, 1);
        let waiter = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_for_next(|r| r.kind == RouteKind::Publish).await })
        };
        tokio::task::yield_now().await;
        record(&log, RouteKind::Time, "/other");
        record(&log, RouteKind::Publish, "/pub");
        let found = waiter.await.unwrap();
        assert_eq!(found.path, "/pub");
    }
}
