//! Message actions: reactions, receipts and other annotations attached to
//! stored messages (PROTOCOL.md §10). Needs Message Persistence on the keyset.

use futures::Stream;
use serde_json::Value;

use crate::api::endpoint::{awaitable, Answer, Call, Endpoint};
use crate::api::util::{check_ok, parse_reply, setters, str_field, validate_name};
use crate::api::{timetoken_from, to_json};
use crate::transport::encoding::encode;
use crate::transport::HttpMethod;
use crate::{Error, PubNub};

/// Longest action type PubNub accepts (the JS SDK refuses longer ones
/// before sending; the server limit itself is not documented).
pub const MAX_ACTION_TYPE_LEN: usize = 15;
/// Most actions one get-message-actions page holds.
pub const MAX_ACTIONS_LIMIT: u32 = 100;

/// An action attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAction {
    /// The action type, e.g. `reaction` or `receipt`.
    pub action_type: String,
    /// The action value, e.g. `smiley_face`.
    pub value: String,
    /// Who added it.
    pub uuid: String,
    /// When it was added.
    pub action_timetoken: u64,
    /// The message it is attached to.
    pub message_timetoken: u64,
}

fn parse_action(value: &Value) -> Option<MessageAction> {
    Some(MessageAction {
        action_type: str_field(value, "type")?,
        value: str_field(value, "value")?,
        uuid: str_field(value, "uuid").unwrap_or_default(),
        action_timetoken: value.get("actionTimetoken").and_then(timetoken_from)?,
        message_timetoken: value.get("messageTimetoken").and_then(timetoken_from)?,
    })
}

fn actions_path(client: &PubNub, channel: &str) -> String {
    format!(
        "/v1/message-actions/{}/channel/{}",
        encode(&client.inner.config.subscribe_key),
        encode(channel)
    )
}

fn require_timetoken(name: &'static str, value: Option<u64>) -> Result<u64, Error> {
    match value {
        Some(0) => Err(Error::invalid_argument(name, "is 0, which no message has")),
        Some(timetoken) => Ok(timetoken),
        None => Err(Error::invalid_argument(name, "is missing")),
    }
}

/// Builder of an add-message-action call; await it for the stored action.
/// Created by [`PubNub::add_message_action`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub, message_tt: u64) -> Result<(), pubnub_rx::Error> {
/// let action = client
///     .add_message_action()
///     .channel("chat")
///     .message_timetoken(message_tt)
///     .action_type("reaction")
///     .value("smiley_face")
///     .await?;
/// println!("added at {}", action.action_timetoken);
/// # Ok(()) }
/// ```
#[must_use = "an add call does nothing until it is awaited"]
#[derive(Debug)]
pub struct AddMessageActionBuilder {
    client: PubNub,
    channel: String,
    message_timetoken: Option<u64>,
    action_type: String,
    value: String,
}

impl AddMessageActionBuilder {
    setters! {
        /// The message's channel (required).
        channel(channel: String);
        /// The message's timetoken (required).
        message_timetoken(timetoken: Option<u64>);
        /// The action type, at most 15 characters (required).
        action_type(action_type: String);
        /// The action value (required).
        value(value: String);
    }
}

impl Endpoint for AddMessageActionBuilder {
    type Output = MessageAction;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("channel", "channel", &self.channel)?;
        let message_timetoken = require_timetoken("message_timetoken", self.message_timetoken)?;
        if self.action_type.is_empty() {
            return Err(Error::invalid_argument(
                "action_type",
                "is empty: e.g. `reaction`",
            ));
        }
        if self.action_type.chars().count() > MAX_ACTION_TYPE_LEN {
            return Err(Error::invalid_argument(
                "action_type",
                format!(
                    "`{}` is longer than {MAX_ACTION_TYPE_LEN} characters",
                    self.action_type
                ),
            ));
        }
        if self.value.is_empty() {
            return Err(Error::invalid_argument("value", "is empty"));
        }
        let body = to_json(
            "message action",
            &serde_json::json!({"type": self.action_type, "value": self.value}),
        )?;
        let path = format!(
            "{}/message/{message_timetoken}",
            actions_path(&self.client, &self.channel)
        );
        let request = self.client.request(HttpMethod::Post, path).json_body(body);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<MessageAction, Error> {
        const WHAT: &str = "the add-message-action response";
        let body = answer.body();
        let value = parse_reply(WHAT, body)?;
        if answer.response.status == 207 {
            // Stored, but the e:3 event was not published to subscribers.
            tracing::warn!(
                body = %String::from_utf8_lossy(body),
                "message action stored but not published"
            );
        }
        value
            .get("data")
            .and_then(parse_action)
            .ok_or_else(|| Error::deserialization(WHAT, "expected an action in `data`", body))
    }
}

/// Builder of a remove-message-action call; await it. Created by
/// [`PubNub::remove_message_action`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub, action: pubnub_rx::api::message_actions::MessageAction) -> Result<(), pubnub_rx::Error> {
/// client
///     .remove_message_action()
///     .channel("chat")
///     .message_timetoken(action.message_timetoken)
///     .action_timetoken(action.action_timetoken)
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a remove call does nothing until it is awaited"]
#[derive(Debug)]
pub struct RemoveMessageActionBuilder {
    client: PubNub,
    channel: String,
    message_timetoken: Option<u64>,
    action_timetoken: Option<u64>,
}

impl RemoveMessageActionBuilder {
    setters! {
        /// The message's channel (required).
        channel(channel: String);
        /// The message's timetoken (required).
        message_timetoken(timetoken: Option<u64>);
        /// The action's timetoken (required).
        action_timetoken(timetoken: Option<u64>);
    }
}

impl Endpoint for RemoveMessageActionBuilder {
    type Output = ();
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("channel", "channel", &self.channel)?;
        let message = require_timetoken("message_timetoken", self.message_timetoken)?;
        let action = require_timetoken("action_timetoken", self.action_timetoken)?;
        let path = format!(
            "{}/message/{message}/action/{action}",
            actions_path(&self.client, &self.channel)
        );
        let request = self.client.request(HttpMethod::Delete, path);
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<(), Error> {
        check_ok("the remove-message-action response", answer.body())
    }
}

/// Where the next page of actions starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageActionsMore {
    /// Pass as [`GetMessageActionsBuilder::start`] for the next (older) page.
    pub start: u64,
    /// The `end` bound of the query, if any.
    pub end: Option<u64>,
    /// The page size.
    pub limit: Option<u32>,
    /// The server's URL for the next page.
    pub url: Option<String>,
}

/// A page of message actions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageActionsPage {
    /// The actions of this page, as the server ordered them.
    pub actions: Vec<MessageAction>,
    /// Present when more (older) actions match.
    pub more: Option<MessageActionsMore>,
}

/// Builder of a get-message-actions query on a channel (one page); await
/// it, or walk every page with [`pages`](Self::pages). Created by
/// [`PubNub::get_message_actions`].
///
/// ```no_run
/// # async fn run(client: pubnub_rx::PubNub) -> Result<(), pubnub_rx::Error> {
/// let page = client.get_message_actions().channel("chat").limit(50).await?;
/// for action in &page.actions {
///     println!("{} on {}: {}", action.uuid, action.message_timetoken, action.value);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a get query does nothing until it is awaited"]
#[derive(Debug, Clone)]
pub struct GetMessageActionsBuilder {
    client: PubNub,
    channel: String,
    start: Option<u64>,
    end: Option<u64>,
    limit: Option<u32>,
}

impl GetMessageActionsBuilder {
    setters! {
        /// The channel (required).
        channel(channel: String);
        /// Only actions older than this action timetoken (exclusive).
        start(timetoken: Option<u64>);
        /// Only actions at or newer than this action timetoken.
        end(timetoken: Option<u64>);
        /// At most this many actions (1 ..= 100, server default 100).
        limit(limit: Option<u32>);
    }

    /// Every action of the channel (within `end`), page after page,
    /// following the server's `more` cursor. A failed request ends the
    /// stream with that error.
    pub fn pages(self) -> impl Stream<Item = Result<MessageAction, Error>> + Send + 'static {
        async_stream::stream! {
            let mut next = Some(self);
            while let Some(query) = next.take() {
                let template = query.clone();
                let page = match query.await {
                    Ok(page) => page,
                    Err(error) => {
                        yield Err(error);
                        break;
                    }
                };
                let got_any = !page.actions.is_empty();
                for action in page.actions {
                    yield Ok(action);
                }
                if let Some(more) = page.more {
                    // Only follow a cursor that moves, so a server repeating
                    // itself cannot loop forever.
                    if got_any && template.start.is_none_or(|previous| more.start < previous) {
                        next = Some(template.start(more.start));
                    }
                }
            }
        }
    }
}

impl Endpoint for GetMessageActionsBuilder {
    type Output = MessageActionsPage;
    type Context = ();

    fn build(self) -> Result<Call, Error> {
        validate_name("channel", "channel", &self.channel)?;
        if let Some(limit) = self.limit {
            if !(1..=MAX_ACTIONS_LIMIT).contains(&limit) {
                return Err(Error::invalid_argument(
                    "limit",
                    format!("{limit} is out of range: 1 to {MAX_ACTIONS_LIMIT} actions per page"),
                ));
            }
        }
        let request = self
            .client
            .request(HttpMethod::Get, actions_path(&self.client, &self.channel))
            .param_opt("start", self.start.map(|t| t.to_string()))
            .param_opt("end", self.end.map(|t| t.to_string()))
            .param_opt("limit", self.limit.map(|l| l.to_string()));
        Ok(Call::new(self.client, request))
    }

    fn parse(answer: Answer) -> Result<MessageActionsPage, Error> {
        parse_actions_page(answer.body())
    }
}

awaitable!(
    AddMessageActionBuilder => MessageAction,
    RemoveMessageActionBuilder => (),
    GetMessageActionsBuilder => MessageActionsPage,
);

pub(crate) fn parse_actions_page(body: &[u8]) -> Result<MessageActionsPage, Error> {
    const WHAT: &str = "the get-message-actions response";
    let value = parse_reply(WHAT, body)?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::deserialization(WHAT, "expected a `data` array", body))?;
    let actions = data
        .iter()
        .map(|item| {
            parse_action(item).ok_or_else(|| {
                Error::deserialization(WHAT, format!("malformed action {item}"), body)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let more = value.get("more").and_then(|more| {
        Some(MessageActionsMore {
            start: more.get("start").and_then(timetoken_from)?,
            end: more.get("end").and_then(timetoken_from),
            limit: more
                .get("limit")
                .and_then(Value::as_u64)
                .and_then(|l| u32::try_from(l).ok()),
            url: str_field(more, "url"),
        })
    });
    Ok(MessageActionsPage { actions, more })
}

impl PubNub {
    /// Attaches an action to a stored message. See [`AddMessageActionBuilder`].
    pub fn add_message_action(&self) -> AddMessageActionBuilder {
        AddMessageActionBuilder {
            client: self.clone(),
            channel: String::new(),
            message_timetoken: None,
            action_type: String::new(),
            value: String::new(),
        }
    }

    /// Removes an action from a message. See [`RemoveMessageActionBuilder`].
    pub fn remove_message_action(&self) -> RemoveMessageActionBuilder {
        RemoveMessageActionBuilder {
            client: self.clone(),
            channel: String::new(),
            message_timetoken: None,
            action_timetoken: None,
        }
    }

    /// Lists the actions on a channel's messages. See [`GetMessageActionsBuilder`].
    pub fn get_message_actions(&self) -> GetMessageActionsBuilder {
        GetMessageActionsBuilder {
            client: self.clone(),
            channel: String::new(),
            start: None,
            end: None,
            limit: None,
        }
    }
}
