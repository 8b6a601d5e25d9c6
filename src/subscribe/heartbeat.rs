//! The presence actor: periodic heartbeats (when configured) and `leave`
//! requests for channels that leave the long-poll.
//!
//! The subscribe long-poll itself carries `heartbeat=<presence_timeout>` and
//! keeps the user present, so explicit heartbeats are off by default; they
//! run every `heartbeat_interval` when one is configured (a presence timeout
//! set in the configuration implies `timeout / 2 − 1`, as in the Python SDK).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::event::Status;
use super::shards::chunks;
use super::status::StatusHub;
use crate::client::{ClientInner, Request};
use crate::config::HeartbeatNotifications;
use crate::transport::encoding::{encode, encode_list};
use crate::transport::HttpMethod;

/// What the multiplexer tells the presence actor.
#[derive(Debug)]
pub(crate) struct PresenceUpdate {
    /// Channels now in the long-poll (without `-pnpres` names).
    pub(crate) channels: Vec<String>,
    /// Groups now in the long-poll (without `-pnpres` names).
    pub(crate) groups: Vec<String>,
    /// Channels that just left the long-poll.
    pub(crate) left_channels: Vec<String>,
    /// Groups that just left the long-poll.
    pub(crate) left_groups: Vec<String>,
    /// Answered once the leave for `left_*` was sent (or none was due).
    pub(crate) sent: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// Starts the presence actor. It ends when the sender is dropped, after
/// sending the leaves still due.
pub(crate) fn spawn(
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
) -> (
    mpsc::UnboundedSender<PresenceUpdate>,
    tokio::task::JoinHandle<()>,
) {
    // Unbounded: updates come from the multiplexer at the rate the
    // application changes its subscriptions, and each is a few names.
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(client, status, rx));
    (tx, task)
}

async fn run(
    client: Arc<ClientInner>,
    status: Arc<StatusHub>,
    mut updates: mpsc::UnboundedReceiver<PresenceUpdate>,
) {
    let interval = client.config.heartbeat_interval;
    let budget = client.config.max_subscribe_list_bytes;
    let mut channels: Vec<String> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut next_beat: Option<Instant> = None;
    // The last heartbeat was refused in a way retrying cannot fix.
    let mut refused = false;
    loop {
        let beat = async {
            match next_beat {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            update = updates.recv() => {
                let Some(update) = update else { break };
                let anything_left = !update.left_channels.is_empty() || !update.left_groups.is_empty();
                if anything_left && !client.config.suppress_leave_events {
                    // Split like the long-polls, so any number of channels leaves.
                    let parts = chunks(&update.left_channels, &update.left_groups, budget);
                    for (channels, groups) in parts {
                        let request = leave_request(&client, &channels, &groups);
                        if let Err(error) = client.execute(request).await {
                            tracing::debug!(%error, "leave request failed");
                        }
                    }
                }
                for sent in update.sent {
                    let _ = sent.send(());
                }
                // A new channel mix is a new request: worth beating again
                // even after a refusal.
                if (&update.channels, &update.groups) != (&channels, &groups) {
                    refused = false;
                }
                channels = update.channels;
                groups = update.groups;
                let active = !(refused || channels.is_empty() && groups.is_empty());
                next_beat = match (interval, active, next_beat) {
                    (Some(_), true, Some(at)) => Some(at),
                    (Some(every), true, None) => Some(Instant::now() + every),
                    _ => None,
                };
            }
            () = beat => {
                let mut error = None;
                for (part_channels, part_groups) in chunks(&channels, &groups, budget) {
                    let request = heartbeat_request(&client, &part_channels, &part_groups);
                    if let Err(failed) = client.execute(request).await {
                        error.get_or_insert(failed);
                    }
                }
                // The same request cannot succeed after a 400/403/414 or a
                // request that could not be built: stop until the channel
                // mix changes (the failure was reported).
                refused = error.as_ref().is_some_and(|e| !e.is_retryable());
                report(&client, &status, error);
                next_beat = interval
                    .filter(|_| !refused)
                    .map(|every| Instant::now() + every);
            }
        }
    }
}

fn report(client: &ClientInner, status: &StatusHub, error: Option<crate::Error>) {
    let wanted = match client.config.heartbeat_notifications {
        HeartbeatNotifications::None => false,
        HeartbeatNotifications::Failures => error.is_some(),
        HeartbeatNotifications::All => true,
    };
    if let Some(error) = &error {
        tracing::debug!(%error, "heartbeat failed");
    }
    if wanted {
        status.emit(Status::Heartbeat { error });
    }
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/heartbeat` (PROTOCOL.md §5.1).
pub(crate) fn heartbeat_request(
    client: &ClientInner,
    channels: &[String],
    groups: &[String],
) -> Request {
    let path = format!(
        "/v2/presence/sub-key/{}/channel/{}/heartbeat",
        encode(&client.config.subscribe_key),
        encode_list(channels)
    );
    Request::new(HttpMethod::Get, path)
        .param("heartbeat", client.config.presence_timeout.to_string())
        .param_opt(
            "channel-group",
            (!groups.is_empty()).then(|| groups.join(",")),
        )
        .param_opt("state", state_param(client, channels, groups))
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}/leave` (PROTOCOL.md §5.2).
pub(crate) fn leave_request(
    client: &ClientInner,
    channels: &[String],
    groups: &[String],
) -> Request {
    let path = format!(
        "/v2/presence/sub-key/{}/channel/{}/leave",
        encode(&client.config.subscribe_key),
        encode_list(channels)
    );
    Request::new(HttpMethod::Get, path).param_opt(
        "channel-group",
        (!groups.is_empty()).then(|| groups.join(",")),
    )
}

/// The presence state for these channels and groups, as the JSON object
/// keyed by name that subscribe and heartbeat carry; `None` when there is none.
pub(crate) fn state_param(
    client: &ClientInner,
    channels: &[String],
    groups: &[String],
) -> Option<String> {
    let states = client
        .presence_state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if states.is_empty() {
        return None;
    }
    let selected: BTreeMap<&str, &serde_json::Value> = channels
        .iter()
        .chain(groups)
        .filter_map(|name| states.get(name).map(|state| (name.as_str(), state)))
        .collect();
    if selected.is_empty() {
        return None;
    }
    serde_json::to_string(&selected).ok()
}
