"""Interop agent for the Python SDK (PyPI `freenub` 0.1.2, import name `pubnub`).

A case driver (tests/interop/harness.py) starts this script with one JSON
argument (the client configuration) and sends it one JSON command per line
on stdin. Each command gets one answer line on stdout, prefixed with
`@@interop ` so stray output from the SDK can never be mistaken for an
answer:

    {"id": 1, "op": "publish", "args": {"channel": "c", "message": {"a": 1}}}
    @@interop {"id": 1, "ok": true, "result": {"timetoken": "17..."}}

Results are plain JSON in the same shape as tests/interop/js/agent.js gives,
so a case can run the same assertions with either client on either side.
Timetokens are reported as strings, exactly as the SDK handed them over.
Events (messages, signals, presence, statuses) are queued as they arrive and
read with the `next_event` command.

Client quirks handled here (see CLIENT-CAPTURES.md):
* freenub never passes a message's `meta` (`u`) to the listener, so message
  events from this agent carry no `meta` key.
* freenub 0.1.2's telemetry has no entry for the fetch-messages operation and
  turns every successful `fetch_messages` into a KeyError; the agent maps that
  operation to the history telemetry group on its own client instance.
* `parse_token` leaves out resource types the token has no entry for; the
  agent reports `channels`, `groups` and `uuids` always (empty when none).

A failed SDK call is answered with `"ok": false`, the `error` text and, when
the SDK got an answer from the server, `http` (the status code), `category`
(the status category name) and `details` (the error information the SDK
reported, which carries the server's error body).
"""

import asyncio
import base64
import json
import sys
import traceback

from pubnub.enums import PNOperationType, PNPushEnvironment, PNPushType, PNStatusCategory
from pubnub.callbacks import SubscribeCallback
from pubnub.endpoints.objects_v2.objects_endpoint import ChannelIncludeEndpoint, UUIDIncludeEndpoint
from pubnub.models.consumer.message_actions import PNMessageAction
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership
from pubnub.models.consumer.objects_v2.page import Next
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.group import Group
from pubnub.models.consumer.v3.uuid import UUID
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub_asyncio import PubNubAsyncio

ANSWER_PREFIX = "@@interop "
EVENT_KINDS = ("message", "signal", "presence", "status", "objects", "message_action")
# Access Manager: the resource types of a token and the permission names, in
# the JSON shape pubnub-js takes and both agents report.
TOKEN_RESOURCE_TYPES = {"channels": Channel, "groups": Group, "uuids": UUID}
PERMISSIONS = ("read", "write", "manage", "delete", "get", "update", "join")


class AgentError(Exception):
    """A command failed; the message (and the HTTP details) go back to the driver."""

    def __init__(self, message, http=None, category=None, details=None):
        super().__init__(message)
        self.http = http
        self.category = category
        self.details = details

    @classmethod
    def from_status(cls, status):
        error_data = getattr(status, "error_data", None)
        details = None if error_data is None else str(getattr(error_data, "information", error_data))
        return cls(
            status_text(status),
            http=getattr(status, "status_code", None),
            category=constant_name(PNStatusCategory, status.category),
            details=details,
        )


def constant_name(holder, value):
    """freenub's enums are classes of int constants: find the constant's name."""
    for name, constant in vars(holder).items():
        if constant == value and not name.startswith("_"):
            return name
    return None if value is None else str(value)


def status_text(status):
    if status is None:
        return "no status"
    parts = [
        f"category={constant_name(PNStatusCategory, status.category)}",
        f"operation={constant_name(PNOperationType, status.operation)}",
    ]
    if getattr(status, "status_code", None) is not None:
        parts.append(f"http={status.status_code}")
    error_data = getattr(status, "error_data", None)
    if error_data is not None:
        parts.append(f"error={getattr(error_data, 'information', error_data)}")
    return " ".join(parts)


def tt(value):
    return None if value is None else str(value)


def action_of(action):
    """A message action in the shape both agents report."""
    return {
        "type": action.type,
        "value": action.value,
        "uuid": action.uuid,
        "action_timetoken": tt(action.action_timetoken),
        "message_timetoken": tt(action.message_timetoken),
    }


def reported(callback):
    """freenub swallows exceptions raised in listener callbacks: log them."""

    def wrapper(self, pubnub, event):
        try:
            callback(self, pubnub, event)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            raise

    return wrapper


class Listener(SubscribeCallback):
    def __init__(self, queues):
        self.queues = queues

    @reported
    def status(self, pubnub, status):
        self.queues["status"].put_nowait(
            {
                "category": constant_name(PNStatusCategory, status.category),
                "operation": constant_name(PNOperationType, status.operation),
                "error": bool(status.is_error()),
                "text": status_text(status),
            }
        )

    @reported
    def message(self, pubnub, message):
        self.queues["message"].put_nowait(
            {
                "channel": message.channel,
                "subscription": message.subscription,
                "message": message.message,
                "publisher": message.publisher,
                "timetoken": tt(message.timetoken),
            }
        )

    @reported
    def message_action(self, pubnub, message_action):
        # freenub does not say whether the action was added or removed.
        self.queues["message_action"].put_nowait(action_of(message_action))

    @reported
    def signal(self, pubnub, signal):
        self.queues["signal"].put_nowait(
            {
                "channel": signal.channel,
                "subscription": signal.subscription,
                "message": signal.message,
                "publisher": signal.publisher,
                "timetoken": tt(signal.timetoken),
            }
        )

    @reported
    def presence(self, pubnub, presence):
        self.queues["presence"].put_nowait(
            {
                "action": presence.event,
                "channel": presence.channel,
                "subscription": presence.subscription,
                "uuid": presence.uuid,
                "occupancy": presence.occupancy,
                "timestamp": presence.timestamp,
                "state": presence.state,
                "timetoken": tt(presence.timetoken),
            }
        )


    def _objects(self, kind, event):
        self.queues["objects"].put_nowait({"type": kind, "event": event.event, "data": event.data})

    @reported
    def uuid(self, pubnub, event):
        self._objects("uuid", event)

    @reported
    def channel(self, pubnub, event):
        self._objects("channel", event)

    @reported
    def membership(self, pubnub, event):
        self._objects("membership", event)


def page_of(result):
    """An App Context list page in the shape both agents report."""
    return {
        "data": result.data,
        "total_count": result.total_count,
        "next": result.next.hash if result.next else None,
        "prev": result.prev.hash if result.prev else None,
    }


def patch_fetch_telemetry(pubnub):
    """Work around freenub 0.1.2's KeyError after every successful fetch."""
    telemetry = pubnub._telemetry_manager
    original = telemetry.endpoint_name_for_operation

    def endpoint_name(operation_type):
        if operation_type == PNOperationType.PNFetchMessagesOperation:
            return "hist"
        return original(operation_type)

    telemetry.endpoint_name_for_operation = endpoint_name


class Agent:
    def __init__(self, settings):
        config = PNConfiguration()
        config.origin = settings["origin"]
        config.ssl = False
        config.subscribe_key = settings.get("subscribe_key", "sub-c-interop")
        config.publish_key = settings.get("publish_key", "pub-c-interop")
        config.uuid = settings["uuid"]
        config.non_subscribe_request_timeout = settings.get("request_timeout", 10)
        config.connect_timeout = 5
        if settings.get("cipher_key"):
            config.cipher_key = settings["cipher_key"]
            config.use_random_initialization_vector = settings.get("random_iv", True)
        if settings.get("secret_key"):
            config.secret_key = settings["secret_key"]
        if settings.get("auth_key"):
            config.auth_key = settings["auth_key"]
        if settings.get("filter_expression"):
            config.filter_expression = settings["filter_expression"]
        if settings.get("presence_timeout"):
            # Like pubnub-js with `presenceTimeout`: heartbeat=N on subscribe and
            # a /heartbeat every N/2-1 seconds.
            config.set_presence_timeout(settings["presence_timeout"])
            config.enable_presence_heartbeat = True
        self.pubnub = PubNubAsyncio(config)
        patch_fetch_telemetry(self.pubnub)
        self.queues = {kind: asyncio.Queue() for kind in EVENT_KINDS}
        self.pubnub.add_listener(Listener(self.queues))

    async def call(self, builder):
        envelope = await builder.future()
        if envelope.status is not None and envelope.status.is_error():
            raise AgentError.from_status(envelope.status)
        return envelope.result

    async def wait_status(self, wanted, timeout):
        """Waits for a status of one of the `wanted` categories; fails on an error status."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AgentError(f"no {'/'.join(wanted)} status within {timeout}s")
            try:
                status = await asyncio.wait_for(self.queues["status"].get(), remaining)
            except asyncio.TimeoutError:
                continue
            if status["error"]:
                raise AgentError(f"error status while waiting for {wanted}: {status['text']}")
            if status["category"] in wanted:
                return status

    def drain_statuses(self):
        while not self.queues["status"].empty():
            self.queues["status"].get_nowait()

    # --- commands -------------------------------------------------------

    async def op_time(self, args):
        result = await self.call(self.pubnub.time())
        return {"timetoken": str(int(result))}

    async def op_publish(self, args):
        builder = self.pubnub.publish().channel(args["channel"]).message(args["message"])
        if "meta" in args:
            builder = builder.meta(args["meta"])
        if "store" in args:
            builder = builder.should_store(args["store"])
        if args.get("post"):
            builder = builder.use_post(True)
        if args.get("compress"):
            # freenub's "gzip" is a zlib stream labelled Content-Encoding: gzip.
            builder = builder.use_post(True).use_compression(True)
        result = await self.call(builder)
        return {"timetoken": tt(result.timetoken)}

    async def op_signal(self, args):
        result = await self.call(
            self.pubnub.signal().channel(args["channel"]).message(args["message"])
        )
        return {"timetoken": tt(result.timetoken)}

    async def op_subscribe(self, args):
        self.drain_statuses()
        builder = self.pubnub.subscribe()
        if args.get("channels"):
            builder = builder.channels(args["channels"])
        if args.get("groups"):
            builder = builder.channel_groups(args["groups"])
        if args.get("presence"):
            builder = builder.with_presence()
        if args.get("timetoken"):
            builder = builder.with_timetoken(int(args["timetoken"]))
        builder.execute()
        await self.wait_status(
            ["PNConnectedCategory"], args.get("timeout", 10)
        )
        return {}

    async def op_unsubscribe(self, args):
        self.drain_statuses()
        builder = self.pubnub.unsubscribe()
        if args.get("channels"):
            builder = builder.channels(args["channels"])
        if args.get("groups"):
            builder = builder.channel_groups(args["groups"])
        builder.execute()
        # The leave request's answer is announced as an acknowledgment.
        await self.wait_status(["PNAcknowledgmentCategory"], args.get("timeout", 10))
        return {}

    async def op_unsubscribe_all(self, args):
        self.drain_statuses()
        self.pubnub.unsubscribe_all()
        await self.wait_status(["PNAcknowledgmentCategory"], args.get("timeout", 10))
        return {}

    async def op_next_event(self, args):
        kind = args["kind"]
        if kind not in self.queues:
            raise AgentError(f"unknown event kind {kind!r}; use one of {EVENT_KINDS}")
        timeout = args.get("timeout", 10)
        try:
            return await asyncio.wait_for(self.queues[kind].get(), timeout)
        except asyncio.TimeoutError:
            raise AgentError(f"no {kind} event within {timeout}s") from None

    async def op_pending_events(self, args):
        queue = self.queues[args["kind"]]
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return {"events": events}

    async def op_here_now(self, args):
        builder = self.pubnub.here_now()
        if args.get("channels"):
            builder = builder.channels(args["channels"])
        if args.get("groups"):
            builder = builder.channel_groups(args["groups"])
        builder = builder.include_uuids(args.get("include_uuids", True))
        builder = builder.include_state(args.get("include_state", False))
        result = await self.call(builder)
        channels = result.channels
        if isinstance(channels, dict):  # freenub returns {} when no channel is occupied
            channels = list(channels.values())
        out = {}
        for data in channels:
            occupants = None
            if data.occupants is not None:
                occupants = [{"uuid": o.uuid, "state": o.state} for o in data.occupants]
            out[data.channel_name] = {"occupancy": data.occupancy, "occupants": occupants}
        return {
            "total_channels": result.total_channels,
            "total_occupancy": result.total_occupancy,
            "channels": out,
        }

    async def op_where_now(self, args):
        builder = self.pubnub.where_now()
        if args.get("uuid"):
            builder = builder.uuid(args["uuid"])
        result = await self.call(builder)
        return {"channels": list(result.channels)}

    async def op_set_state(self, args):
        builder = self.pubnub.set_state().channels(args["channels"]).state(args["state"])
        result = await self.call(builder)
        return {"state": result.state}

    async def op_get_state(self, args):
        builder = self.pubnub.get_state().channels(args["channels"])
        if args.get("uuid"):
            builder = builder.uuid(args["uuid"])
        result = await self.call(builder)
        return {"channels": result.channels}

    async def op_history(self, args):
        builder = (
            self.pubnub.history()
            .channel(args["channel"])
            .count(args.get("count", 100))
            .include_timetoken(True)
            .include_meta(args.get("include_meta", True))
        )
        if args.get("reverse"):
            builder = builder.reverse(True)
        result = await self.call(builder)
        return {
            "messages": [
                {"message": m.entry, "timetoken": tt(m.timetoken), "meta": m.meta}
                for m in result.messages
            ],
            "start": tt(result.start_timetoken),
            "end": tt(result.end_timetoken),
        }

    async def op_fetch_messages(self, args):
        builder = (
            self.pubnub.fetch_messages()
            .channels(args["channels"])
            .include_meta(args.get("include_meta", True))
            .include_uuid(True)
            .include_message_type(True)
        )
        if "count" in args:
            builder = builder.maximum_per_channel(args["count"])
        result = await self.call(builder)
        channels = {}
        for name, items in result.channels.items():
            channels[name] = [
                {
                    "message": item.message,
                    "timetoken": tt(item.timetoken),
                    "uuid": getattr(item, "uuid", None),
                    "meta": getattr(item, "meta", None),
                    "message_type": getattr(item, "message_type", None),
                }
                for item in items
            ]
        return {"channels": channels}

    async def op_message_counts(self, args):
        result = await self.call(
            self.pubnub.message_counts()
            .channel(args["channels"])
            .channel_timetokens(args["timetokens"])
        )
        return {"channels": result.channels}

    async def op_cg_add(self, args):
        await self.call(
            self.pubnub.add_channel_to_channel_group()
            .channels(args["channels"])
            .channel_group(args["group"])
        )
        return {}

    async def op_cg_list(self, args):
        result = await self.call(
            self.pubnub.list_channels_in_channel_group().channel_group(args["group"])
        )
        return {"channels": list(result.channels)}

    async def op_cg_remove(self, args):
        await self.call(
            self.pubnub.remove_channel_from_channel_group()
            .channels(args["channels"])
            .channel_group(args["group"])
        )
        return {}

    async def op_cg_delete(self, args):
        await self.call(self.pubnub.remove_channel_group().channel_group(args["group"]))
        return {}

    # --- Mobile Push: `device`, `push_type` (gcm | apns | apns2 | mpns),
    # `channels`, and for apns2 `topic` and `environment` -----------------

    PUSH_TYPES = {"gcm": PNPushType.GCM, "apns": PNPushType.APNS, "apns2": PNPushType.APNS2,
                  "mpns": PNPushType.MPNS}

    def push_device(self, builder, args):
        builder = builder.device_id(args["device"]).push_type(self.PUSH_TYPES[args["push_type"]])
        if args["push_type"] == "apns2":
            environment = (PNPushEnvironment.PRODUCTION if args.get("environment") == "production"
                           else PNPushEnvironment.DEVELOPMENT)
            builder = builder.topic(args["topic"]).environment(environment)
        return builder

    async def op_push_add(self, args):
        await self.call(self.push_device(self.pubnub.add_channels_to_push(), args).channels(args["channels"]))
        return {}

    async def op_push_list(self, args):
        result = await self.call(self.push_device(self.pubnub.list_push_channels(), args))
        return {"channels": list(result.channels)}

    async def op_push_remove(self, args):
        await self.call(self.push_device(self.pubnub.remove_channels_from_push(), args).channels(args["channels"]))
        return {}

    async def op_push_remove_device(self, args):
        await self.call(self.push_device(self.pubnub.remove_device_from_push(), args))
        return {}

    async def op_decrypt(self, args):
        """Decrypts a legacy-cryptor ciphertext with this client's cipher key."""
        config = self.pubnub.config
        return {"message": config.crypto.decrypt(config.cipher_key, args["ciphertext"])}

    # --- Access Manager ------------------------------------------------

    async def op_grant_token(self, args):
        """grant_token with pubnub-js' argument shape: `ttl`, `authorized_uuid`,
        `resources` / `patterns` ({type: {name: {permission: true}}}), `meta`."""
        builder = self.pubnub.grant_token().ttl(args["ttl"])
        if args.get("authorized_uuid"):
            builder = builder.authorized_uuid(args["authorized_uuid"])
        if args.get("meta") is not None:
            builder = builder.meta(args["meta"])
        grants = {kind: [] for kind in TOKEN_RESOURCE_TYPES}
        for section, make in (("resources", "id"), ("patterns", "pattern")):
            for kind, entries in (args.get(section) or {}).items():
                resource_type = TOKEN_RESOURCE_TYPES.get(kind)
                if resource_type is None:
                    raise AgentError(f"unknown resource type {kind!r}; use one of {list(TOKEN_RESOURCE_TYPES)}")
                for name, permissions in entries.items():
                    resource = getattr(resource_type, make)(name)
                    for permission, wanted in permissions.items():
                        if not wanted:
                            continue
                        setter = getattr(resource, permission, None)
                        if permission not in PERMISSIONS or setter is None:
                            raise AgentError(f"freenub cannot grant {permission!r} on {kind}")
                        resource = setter()
                    grants[kind].append(resource)
        if grants["channels"]:
            builder = builder.channels(grants["channels"])
        if grants["groups"]:
            builder = builder.groups(grants["groups"])
        if grants["uuids"]:
            builder = builder.uuids(grants["uuids"])
        result = await self.call(builder)
        return {"token": result.token}

    async def op_parse_token(self, args):
        """The SDK's own parse_token, every resource type present (empty when none)."""
        parsed = self.pubnub.parse_token(args["token"])
        out = {
            "version": parsed["version"],
            "timestamp": parsed["timestamp"],
            "ttl": parsed["ttl"],
            "authorized_uuid": parsed.get("authorized_uuid"),
            "meta": parsed.get("meta") or {},
        }
        for section in ("resources", "patterns"):
            given = parsed.get(section) or {}
            out[section] = {kind: dict(given.get(kind) or {}) for kind in TOKEN_RESOURCE_TYPES}
        return out

    async def op_set_token(self, args):
        self.pubnub.set_token(args["token"])
        return {}

    async def op_revoke_token(self, args):
        result = await self.call(self.pubnub.revoke_token(args["token"]))
        return {"status": result.status}

    async def op_grant(self, args):
        """The v2 grant (signed GET): `channels`, `groups`, `uuids`, `auth_keys`,
        permission flags (`read`, `write`, ...) and `ttl` (minutes)."""
        builder = self.pubnub.grant()
        if args.get("channels"):
            builder = builder.channels(args["channels"])
        if args.get("groups"):
            builder = builder.channel_groups(args["groups"])
        if args.get("uuids"):
            builder = builder.uuids(args["uuids"])
        if args.get("auth_keys"):
            builder = builder.auth_keys(args["auth_keys"])
        for permission in PERMISSIONS:
            if permission in args:
                builder = getattr(builder, permission)(bool(args[permission]))
        if "ttl" in args:
            builder = builder.ttl(args["ttl"])
        result = await self.call(builder)
        return {"level": result.level, "ttl": result.ttl}

    # --- App Context --------------------------------------------------------

    async def op_set_uuid_metadata(self, args):
        builder = self.pubnub.set_uuid_metadata().uuid(args["uuid"]).include_custom(True)
        if "name" in args:
            builder = builder.set_name(args["name"])
        if "email" in args:
            builder = builder.email(args["email"])
        if "custom" in args:
            builder = builder.custom(args["custom"])
        return {"data": (await self.call(builder)).data}

    async def op_get_uuid_metadata(self, args):
        builder = self.pubnub.get_uuid_metadata().uuid(args["uuid"]).include_custom(True)
        return {"data": (await self.call(builder)).data}

    async def op_remove_uuid_metadata(self, args):
        await self.call(self.pubnub.remove_uuid_metadata().uuid(args["uuid"]))
        return {}

    async def op_set_channel_metadata(self, args):
        builder = self.pubnub.set_channel_metadata().channel(args["channel"]).include_custom(True)
        if "name" in args:
            builder = builder.set_name(args["name"])
        if "description" in args:
            builder = builder.description(args["description"])
        if "custom" in args:
            builder = builder.custom(args["custom"])
        return {"data": (await self.call(builder)).data}

    async def op_get_channel_metadata(self, args):
        builder = self.pubnub.get_channel_metadata().channel(args["channel"]).include_custom(True)
        return {"data": (await self.call(builder)).data}

    async def op_get_all_uuid_metadata(self, args):
        builder = self.pubnub.get_all_uuid_metadata().include_custom(True)
        if args.get("filter"):
            builder = builder.filter(args["filter"])
        if args.get("limit"):
            builder = builder.limit(args["limit"])
        if args.get("total_count"):
            builder = builder.include_total_count(True)
        if args.get("next"):
            builder = builder.page(Next(args["next"]))
        return page_of(await self.call(builder))

    async def op_set_memberships(self, args):
        """`channels`: `[{"id", "custom"?}]`; the answer includes each channel with custom."""
        memberships = [
            PNChannelMembership.channel_with_custom(c["id"], c["custom"]) if "custom" in c
            else PNChannelMembership.channel(c["id"])
            for c in args["channels"]
        ]
        builder = (
            self.pubnub.set_memberships()
            .uuid(args["uuid"])
            .channel_memberships(memberships)
            .include_custom(True)
            .include_channel(ChannelIncludeEndpoint.CHANNEL_WITH_CUSTOM)
        )
        return page_of(await self.call(builder))

    async def op_remove_memberships(self, args):
        memberships = [PNChannelMembership.channel(c) for c in args["channels"]]
        builder = self.pubnub.remove_memberships().uuid(args["uuid"]).channel_memberships(memberships)
        return page_of(await self.call(builder))

    async def op_get_memberships(self, args):
        builder = (
            self.pubnub.get_memberships()
            .uuid(args["uuid"])
            .include_custom(True)
            .include_channel(ChannelIncludeEndpoint.CHANNEL_WITH_CUSTOM)
        )
        return page_of(await self.call(builder))

    async def op_get_channel_members(self, args):
        builder = (
            self.pubnub.get_channel_members()
            .channel(args["channel"])
            .include_custom(True)
            .include_uuid(UUIDIncludeEndpoint.UUID_WITH_CUSTOM)
        )
        return page_of(await self.call(builder))

    # Message actions.
    async def op_add_message_action(self, args):
        action = PNMessageAction()
        action.type = args["type"]
        action.value = args["value"]
        action.message_timetoken = args["message_timetoken"]
        result = await self.call(self.pubnub.add_message_action().channel(args["channel"]).message_action(action))
        return action_of(result)

    async def op_get_message_actions(self, args):
        result = await self.call(self.pubnub.get_message_actions().channel(args["channel"]))
        return {"actions": [action_of(a) for a in result.actions]}

    async def op_remove_message_action(self, args):
        await self.call(
            self.pubnub.remove_message_action()
            .channel(args["channel"])
            .message_timetoken(args["message_timetoken"])
            .action_timetoken(args["action_timetoken"])
        )
        return {}

    # Files: contents travel as base64 (`data_b64`); encrypted with the
    # client's cipher key when it has one, as freenub does by default.
    async def op_send_file(self, args):
        builder = (
            self.pubnub.send_file()
            .channel(args["channel"])
            .file_name(args["name"])
            .file_object(base64.b64decode(args["data_b64"]))
        )
        if args.get("message") is not None:
            builder = builder.message(args["message"])
        result = await self.call(builder)
        return {"id": result.file_id, "name": result.name, "timetoken": tt(result.timestamp)}

    async def op_list_files(self, args):
        result = await self.call(self.pubnub.list_files().channel(args["channel"]))
        files = [{"id": f["id"], "name": f["name"], "size": f["size"]} for f in result.data]
        return {"files": files, "next": result.next}

    async def op_download_file(self, args):
        result = await self.call(
            self.pubnub.download_file().channel(args["channel"]).file_id(args["id"]).file_name(args["name"])
        )
        return {"data_b64": base64.b64encode(result.data).decode()}

    async def op_delete_file(self, args):
        await self.call(
            self.pubnub.delete_file().channel(args["channel"]).file_id(args["id"]).file_name(args["name"])
        )
        return {}

    async def op_exit(self, args):
        await self.pubnub.stop()
        return {}


def answer(payload):
    sys.stdout.write(ANSWER_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main():
    if len(sys.argv) != 2:
        print("usage: agent.py '<json settings>'", file=sys.stderr)
        return 2
    agent = Agent(json.loads(sys.argv[1]))
    loop = asyncio.get_running_loop()
    answer({"id": 0, "ok": True, "result": {"ready": True, "sdk": "freenub"}})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            await agent.pubnub.stop()
            return 0
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.get("op", "")
        handler = getattr(agent, f"op_{op}", None)
        try:
            if handler is None:
                raise AgentError(f"unknown op {op!r}")
            result = await handler(request.get("args") or {})
            answer({"id": request.get("id"), "ok": True, "result": result})
        except Exception as error:  # every failure goes back to the driver
            failure = {"id": request.get("id"), "ok": False, "error": f"{type(error).__name__}: {error}"}
            if isinstance(error, AgentError):
                failure.update(http=error.http, category=error.category, details=error.details)
            answer(failure)
        if op == "exit":
            return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
