// Interop agent for the JavaScript SDK (npm `pubnub` 7.3.3, Node build).
//
// The same line protocol as tests/interop/py/agent.py: started with one JSON
// argument (the client configuration), it reads one JSON command per line on
// stdin and writes one answer per command on stdout, prefixed with
// `@@interop ` so that anything the SDK prints cannot be taken for an answer.
// Results have the same shape as the Python agent's; timetokens are strings,
// exactly as the SDK handed them over (`String()` of a number when the SDK
// parsed one).
//
// Client quirks handled here (see CLIENT-CAPTURES.md):
// * the Node build defaults `ssl` to true: `ssl: false` is passed;
// * history v2 timetokens are parsed as doubles (the last digits are lost)
//   unless `stringifiedTimeToken: true` is asked for, so the agent asks for it;
// * get_state for several channels comes back wrapped in one more `channels`;
// * a leave is acknowledged by a status with `operation` PNUnsubscribeOperation
//   and no category;
// * parseToken leaves out `resources` / `patterns` / `meta` when the token has
//   none and adds `signature`: the agent reports every resource type (empty
//   when none), `meta` `{}` when none, and no signature (freenub has none);
// * the v2 grant resolves with `{}`: `level` and `ttl` are reported as null.
//
// A failed SDK call is answered with `"ok": false`, the `error` text and, when
// the SDK got an answer from the server, `http` (the status code), `category`
// (the status category) and `details` (the error data the SDK reported, JSON
// unless it is a string; it carries the server's error body).
'use strict';

const readline = require('readline');
const PubNub = require('pubnub');

const ANSWER_PREFIX = '@@interop ';
const EVENT_KINDS = ['message', 'signal', 'presence', 'status', 'objects', 'message_action'];
// Access Manager: the resource types of a token and the permission names.
const TOKEN_RESOURCE_TYPES = ['channels', 'groups', 'uuids'];
const PERMISSIONS = ['read', 'write', 'manage', 'delete', 'get', 'update', 'join'];

class AgentError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.http = details.http === undefined ? null : details.http;
    this.category = details.category === undefined ? null : details.category;
    this.details = details.details === undefined ? null : details.details;
  }

  static fromStatus(status) {
    const data = status.errorData;
    let details = null;
    if (data !== undefined) details = typeof data === 'string' ? data : JSON.stringify(data);
    return new AgentError(statusText(status), {
      http: status.statusCode,
      category: status.category,
      details,
    });
  }
}

function statusText(status) {
  if (!status) return 'no status';
  const parts = [`category=${status.category}`, `operation=${status.operation}`];
  if (status.statusCode !== undefined) parts.push(`http=${status.statusCode}`);
  if (status.errorData !== undefined) {
    const data = status.errorData;
    parts.push(`error=${data && data.message ? data.message : JSON.stringify(data)}`);
  }
  return parts.join(' ');
}

// A message that arrived through a direct channel subscription has no `b`
// (real PubNub omits it; PROTOCOL.md §4.3), and 7.3.3 then leaves
// `subscription` undefined rather than null. Both mean "no separate
// subscription"; JSON has only null for that.
function orNull(value) {
  return value === undefined ? null : value;
}

function tt(value) {
  return value === undefined || value === null ? null : String(value);
}

/** A message action in the shape both agents report. */
function actionOf(action) {
  return {
    type: action.type,
    value: action.value,
    uuid: action.uuid,
    action_timetoken: tt(action.actionTimetoken),
    message_timetoken: tt(action.messageTimetoken),
  };
}

/** An unbounded FIFO of events with a `next(timeoutMs)` that waits. */
class EventQueue {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  drain() {
    return this.items.splice(0, this.items.length);
  }

  next(timeoutMs, what) {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    return new Promise((resolve, reject) => {
      const waiter = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new AgentError(`no ${what} within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

class Agent {
  constructor(settings) {
    const config = {
      origin: settings.origin,
      ssl: false,
      subscribeKey: settings.subscribe_key || 'sub-c-interop',
      publishKey: settings.publish_key || 'pub-c-interop',
      userId: settings.uuid,
      transactionalRequestTimeout: (settings.request_timeout || 10) * 1000,
    };
    if (settings.cipher_key) {
      config.cipherKey = settings.cipher_key;
      config.useRandomIVs = settings.random_iv === undefined ? true : settings.random_iv;
    }
    if (settings.secret_key) config.secretKey = settings.secret_key;
    if (settings.auth_key) config.authKey = settings.auth_key;
    if (settings.filter_expression) config.filterExpression = settings.filter_expression;
    // heartbeat=N on subscribe and a /heartbeat every N/2-1 seconds (minimum N: 20).
    if (settings.presence_timeout) config.presenceTimeout = settings.presence_timeout;
    this.pubnub = new PubNub(config);
    this.queues = {};
    for (const kind of EVENT_KINDS) this.queues[kind] = new EventQueue();
    this.pubnub.addListener({
      status: (status) =>
        this.queues.status.push({
          category: status.category === undefined ? null : status.category,
          operation: status.operation === undefined ? null : status.operation,
          error: Boolean(status.error),
          text: statusText(status),
        }),
      message: (event) => {
        const out = {
          channel: orNull(event.channel),
          subscription: orNull(event.subscription),
          message: event.message,
          publisher: event.publisher,
          timetoken: tt(event.timetoken),
        };
        if (event.userMetadata !== undefined) out.meta = event.userMetadata;
        this.queues.message.push(out);
      },
      signal: (event) =>
        this.queues.signal.push({
          channel: orNull(event.channel),
          subscription: orNull(event.subscription),
          message: event.message,
          publisher: event.publisher,
          timetoken: tt(event.timetoken),
        }),
      presence: (event) =>
        this.queues.presence.push({
          action: event.action,
          channel: orNull(event.channel),
          subscription: orNull(event.subscription),
          uuid: event.uuid,
          occupancy: event.occupancy,
          timestamp: event.timestamp,
          state: event.state === undefined ? null : event.state,
          timetoken: tt(event.timetoken),
        }),
      // App Context events: `message` is `{event, type, data}` as sent.
      // The event's `event` (added / removed) is left out: freenub does not report it.
      messageAction: (event) => this.queues.message_action.push(actionOf(event.data)),
      objects: (event) =>
        this.queues.objects.push({
          type: event.message.type,
          event: event.message.event,
          data: event.message.data,
        }),
    });
  }

  /** Waits for a status matching `wanted`; fails on an error status. */
  async waitStatus(wanted, what, timeoutS) {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new AgentError(`no ${what} status within ${timeoutS}s`);
      const status = await this.queues.status.next(remaining, `${what} status`);
      if (status.error) throw new AgentError(`error status while waiting for ${what}: ${status.text}`);
      if (wanted(status)) return status;
    }
  }

  async call(promise) {
    try {
      return await promise;
    } catch (error) {
      // 7.3.3 rejects with an Error carrying the failed request's `status`.
      if (error && error.status) throw AgentError.fromStatus(error.status);
      throw error;
    }
  }

  // --- commands -----------------------------------------------------------

  async op_time() {
    const result = await this.call(this.pubnub.time());
    return { timetoken: tt(result.timetoken) };
  }

  async op_publish(args) {
    const params = { channel: args.channel, message: args.message };
    if ('meta' in args) params.meta = args.meta;
    if ('store' in args) params.storeInHistory = args.store;
    if (args.post) params.sendByPost = true;
    if (args.compress) throw new AgentError('pubnub-js 7.3.3 cannot compress a publish');
    const result = await this.call(this.pubnub.publish(params));
    return { timetoken: tt(result.timetoken) };
  }

  async op_signal(args) {
    const result = await this.call(this.pubnub.signal({ channel: args.channel, message: args.message }));
    return { timetoken: tt(result.timetoken) };
  }

  async op_subscribe(args) {
    this.queues.status.drain();
    const params = {
      channels: args.channels || [],
      channelGroups: args.groups || [],
      withPresence: Boolean(args.presence),
    };
    if (args.timetoken) params.timetoken = args.timetoken;
    this.pubnub.subscribe(params);
    await this.waitStatus((s) => s.category === 'PNConnectedCategory', 'PNConnectedCategory', args.timeout || 10);
    return {};
  }

  async op_unsubscribe(args) {
    this.queues.status.drain();
    this.pubnub.unsubscribe({ channels: args.channels || [], channelGroups: args.groups || [] });
    await this.waitStatus((s) => s.operation === 'PNUnsubscribeOperation', 'leave', args.timeout || 10);
    return {};
  }

  async op_unsubscribe_all(args) {
    this.queues.status.drain();
    this.pubnub.unsubscribeAll();
    await this.waitStatus((s) => s.operation === 'PNUnsubscribeOperation', 'leave', args.timeout || 10);
    return {};
  }

  async op_next_event(args) {
    const queue = this.queues[args.kind];
    if (!queue) throw new AgentError(`unknown event kind ${args.kind}; use one of ${EVENT_KINDS}`);
    const timeout = args.timeout || 10;
    return queue.next(timeout * 1000, `${args.kind} event`);
  }

  async op_pending_events(args) {
    return { events: this.queues[args.kind].drain() };
  }

  async op_here_now(args) {
    const result = await this.call(
      this.pubnub.hereNow({
        channels: args.channels || [],
        channelGroups: args.groups || [],
        includeUUIDs: args.include_uuids === undefined ? true : args.include_uuids,
        includeState: Boolean(args.include_state),
      }),
    );
    const channels = {};
    for (const [name, data] of Object.entries(result.channels || {})) {
      channels[name] = {
        occupancy: data.occupancy,
        occupants: Array.isArray(data.occupants)
          ? data.occupants.map((o) => ({ uuid: o.uuid, state: o.state === undefined ? null : o.state }))
          : null,
      };
    }
    return { total_channels: result.totalChannels, total_occupancy: result.totalOccupancy, channels };
  }

  async op_where_now(args) {
    const params = {};
    if (args.uuid) params.uuid = args.uuid;
    const result = await this.call(this.pubnub.whereNow(params));
    return { channels: result.channels };
  }

  async op_set_state(args) {
    const result = await this.call(this.pubnub.setState({ channels: args.channels, state: args.state }));
    return { state: result.state };
  }

  async op_get_state(args) {
    const params = { channels: args.channels };
    if (args.uuid) params.uuid = args.uuid;
    const result = await this.call(this.pubnub.getState(params));
    let channels = result.channels;
    // 7.3.3 returns the server's `payload` as is for several channels, and
    // PubNub's payload there is `{"channels": {ch: state}}` (PROTOCOL.md §5.6,
    // cassette state/multiple_channel): unwrap that one level.
    if (args.channels.length > 1 && channels && Object.keys(channels).length === 1 && channels.channels) {
      channels = channels.channels;
    }
    return { channels };
  }

  async op_history(args) {
    const result = await this.call(
      this.pubnub.history({
        channel: args.channel,
        count: args.count || 100,
        reverse: Boolean(args.reverse),
        includeMeta: args.include_meta === undefined ? true : args.include_meta,
        stringifiedTimeToken: true,
      }),
    );
    return {
      messages: result.messages.map((m) => ({
        message: m.entry,
        timetoken: tt(m.timetoken),
        meta: m.meta === undefined ? null : m.meta,
      })),
      start: tt(result.startTimeToken),
      end: tt(result.endTimeToken),
    };
  }

  async op_fetch_messages(args) {
    const params = {
      channels: args.channels,
      includeMeta: args.include_meta === undefined ? true : args.include_meta,
      includeUUID: true,
      includeMessageType: true,
    };
    if ('count' in args) params.count = args.count;
    const result = await this.call(this.pubnub.fetchMessages(params));
    const channels = {};
    for (const [name, items] of Object.entries(result.channels || {})) {
      channels[name] = items.map((item) => ({
        message: item.message,
        timetoken: tt(item.timetoken),
        uuid: item.uuid === undefined ? null : item.uuid,
        meta: item.meta === undefined ? null : item.meta,
        message_type: item.messageType === undefined ? null : item.messageType,
      }));
    }
    return { channels };
  }

  async op_message_counts(args) {
    const result = await this.call(
      this.pubnub.messageCounts({ channels: args.channels, channelTimetokens: args.timetokens }),
    );
    return { channels: result.channels };
  }

  async op_cg_add(args) {
    await this.call(this.pubnub.channelGroups.addChannels({ channels: args.channels, channelGroup: args.group }));
    return {};
  }

  async op_cg_list(args) {
    const result = await this.call(this.pubnub.channelGroups.listChannels({ channelGroup: args.group }));
    return { channels: result.channels };
  }

  async op_cg_remove(args) {
    await this.call(this.pubnub.channelGroups.removeChannels({ channels: args.channels, channelGroup: args.group }));
    return {};
  }

  async op_cg_delete(args) {
    await this.call(this.pubnub.channelGroups.deleteGroup({ channelGroup: args.group }));
    return {};
  }

  // --- Mobile Push: `device`, `push_type` (gcm | apns | apns2 | mpns),
  // `channels`, and for apns2 `topic` and `environment` ------------------

  pushParams(args) {
    const params = { device: args.device, pushGateway: args.push_type };
    if (args.push_type === 'apns2') {
      params.topic = args.topic;
      params.environment = args.environment || 'development';
    }
    return params;
  }

  async op_push_add(args) {
    await this.call(this.pubnub.push.addChannels({ ...this.pushParams(args), channels: args.channels }));
    return {};
  }

  async op_push_list(args) {
    const result = await this.call(this.pubnub.push.listChannels(this.pushParams(args)));
    return { channels: result.channels };
  }

  async op_push_remove(args) {
    await this.call(this.pubnub.push.removeChannels({ ...this.pushParams(args), channels: args.channels }));
    return {};
  }

  async op_push_remove_device(args) {
    await this.call(this.pubnub.push.deleteDevice(this.pushParams(args)));
    return {};
  }

  /** Decrypts a legacy-cryptor ciphertext with this client's cipher key. */
  async op_decrypt(args) {
    return { message: this.pubnub.decrypt(args.ciphertext) };
  }

  // --- Access Manager -----------------------------------------------------

  /** grantToken: `ttl`, `authorized_uuid`, `resources`, `patterns`, `meta` as 7.3.3 takes them. */
  async op_grant_token(args) {
    const params = { ttl: args.ttl };
    if (args.authorized_uuid) params.authorized_uuid = args.authorized_uuid;
    if (args.meta !== undefined && args.meta !== null) params.meta = args.meta;
    for (const section of ['resources', 'patterns']) {
      if (!args[section]) continue;
      params[section] = {};
      for (const [kind, entries] of Object.entries(args[section])) {
        if (!TOKEN_RESOURCE_TYPES.includes(kind)) {
          throw new AgentError(`unknown resource type ${kind}; use one of ${TOKEN_RESOURCE_TYPES}`);
        }
        params[section][kind] = entries;
      }
    }
    const token = await this.call(this.pubnub.grantToken(params));
    return { token };
  }

  /** The SDK's own parseToken, every resource type present (empty when none). */
  async op_parse_token(args) {
    const parsed = this.pubnub.parseToken(args.token);
    if (parsed === undefined) throw new AgentError('parseToken could not decode the token');
    const out = {
      version: parsed.version,
      timestamp: parsed.timestamp,
      ttl: parsed.ttl,
      authorized_uuid: parsed.authorized_uuid === undefined ? null : parsed.authorized_uuid,
      meta: parsed.meta === undefined ? {} : parsed.meta,
    };
    for (const section of ['resources', 'patterns']) {
      const given = parsed[section] || {};
      out[section] = {};
      for (const kind of TOKEN_RESOURCE_TYPES) out[section][kind] = given[kind] || {};
    }
    return out;
  }

  async op_set_token(args) {
    this.pubnub.setToken(args.token);
    return {};
  }

  async op_revoke_token(args) {
    const result = await this.call(this.pubnub.revokeToken(args.token));
    return { status: result.status };
  }

  /** The v2 grant (signed GET): `channels`, `groups`, `uuids`, `auth_keys`, permission flags, `ttl`. */
  async op_grant(args) {
    const params = {};
    if (args.channels) params.channels = args.channels;
    if (args.groups) params.channelGroups = args.groups;
    if (args.uuids) params.uuids = args.uuids;
    if (args.auth_keys) params.authKeys = args.auth_keys;
    for (const permission of PERMISSIONS) {
      if (permission in args) params[permission] = Boolean(args[permission]);
    }
    if ('ttl' in args) params.ttl = args.ttl;
    await this.call(this.pubnub.grant(params));
    // 7.3.3 resolves a grant with {}: nothing of the server's answer is handed over.
    return { level: null, ttl: null };
  }

  // --- App Context --------------------------------------------------------

  async op_set_uuid_metadata(args) {
    const data = {};
    for (const key of ['name', 'email', 'custom']) if (key in args) data[key] = args[key];
    const params = { uuid: args.uuid, data, include: { customFields: true } };
    return { data: (await this.call(this.pubnub.objects.setUUIDMetadata(params))).data };
  }

  async op_get_uuid_metadata(args) {
    const params = { uuid: args.uuid, include: { customFields: true } };
    return { data: (await this.call(this.pubnub.objects.getUUIDMetadata(params))).data };
  }

  async op_remove_uuid_metadata(args) {
    await this.call(this.pubnub.objects.removeUUIDMetadata({ uuid: args.uuid }));
    return {};
  }

  async op_set_channel_metadata(args) {
    const data = {};
    for (const key of ['name', 'description', 'custom']) if (key in args) data[key] = args[key];
    const params = { channel: args.channel, data, include: { customFields: true } };
    return { data: (await this.call(this.pubnub.objects.setChannelMetadata(params))).data };
  }

  async op_get_channel_metadata(args) {
    const params = { channel: args.channel, include: { customFields: true } };
    return { data: (await this.call(this.pubnub.objects.getChannelMetadata(params))).data };
  }

  async op_get_all_uuid_metadata(args) {
    const params = { include: { customFields: true, totalCount: Boolean(args.total_count) } };
    if (args.filter) params.filter = args.filter;
    if (args.limit) params.limit = args.limit;
    if (args.next) params.page = { next: args.next };
    return pageOf(await this.call(this.pubnub.objects.getAllUUIDMetadata(params)));
  }

  async op_set_memberships(args) {
    const params = {
      uuid: args.uuid,
      channels: args.channels.map((c) => ('custom' in c ? { id: c.id, custom: c.custom } : c.id)),
      include: { customFields: true, channelFields: true, customChannelFields: true },
    };
    return pageOf(await this.call(this.pubnub.objects.setMemberships(params)));
  }

  async op_remove_memberships(args) {
    const params = { uuid: args.uuid, channels: args.channels };
    return pageOf(await this.call(this.pubnub.objects.removeMemberships(params)));
  }

  async op_get_memberships(args) {
    const params = {
      uuid: args.uuid,
      include: { customFields: true, channelFields: true, customChannelFields: true },
    };
    return pageOf(await this.call(this.pubnub.objects.getMemberships(params)));
  }

  async op_get_channel_members(args) {
    const params = {
      channel: args.channel,
      include: { customFields: true, UUIDFields: true, customUUIDFields: true },
    };
    return pageOf(await this.call(this.pubnub.objects.getChannelMembers(params)));
  }

  // Message actions.
  async op_add_message_action(args) {
    const result = await this.call(
      this.pubnub.addMessageAction({
        channel: args.channel,
        messageTimetoken: args.message_timetoken,
        action: { type: args.type, value: args.value },
      }),
    );
    return actionOf(result.data);
  }

  async op_get_message_actions(args) {
    const result = await this.call(this.pubnub.getMessageActions({ channel: args.channel }));
    return { actions: result.data.map(actionOf) };
  }

  async op_remove_message_action(args) {
    await this.call(
      this.pubnub.removeMessageAction({
        channel: args.channel,
        messageTimetoken: args.message_timetoken,
        actionTimetoken: args.action_timetoken,
      }),
    );
    return {};
  }

  // Files: contents travel as base64 (`data_b64`); encrypted with the
  // client's cipher key when it has one, as pubnub-js does by default.
  async op_send_file(args) {
    const params = {
      channel: args.channel,
      file: { data: Buffer.from(args.data_b64, 'base64'), name: args.name, mimeType: 'application/octet-stream' },
    };
    if (args.message !== undefined && args.message !== null) params.message = args.message;
    const result = await this.call(this.pubnub.sendFile(params));
    return { id: result.id, name: result.name, timetoken: tt(result.timetoken) };
  }

  async op_list_files(args) {
    const params = { channel: args.channel };
    if (args.limit !== undefined) params.limit = args.limit;
    const result = await this.call(this.pubnub.listFiles(params));
    return {
      files: result.data.map((f) => ({ id: f.id, name: f.name, size: f.size })),
      next: result.next || null,
    };
  }

  async op_download_file(args) {
    const file = await this.call(this.pubnub.downloadFile({ channel: args.channel, id: args.id, name: args.name }));
    const data = await file.toBuffer();
    return { data_b64: data.toString('base64') };
  }

  async op_delete_file(args) {
    await this.call(this.pubnub.deleteFile({ channel: args.channel, id: args.id, name: args.name }));
    return {};
  }

  async op_exit() {
    this.pubnub.stop();
    return {};
  }
}

/** An App Context list page in the shape both agents report. */
function pageOf(result) {
  return {
    data: result.data,
    total_count: result.totalCount === undefined ? null : result.totalCount,
    next: result.next || null,
    prev: result.prev || null,
  };
}

function answer(payload) {
  process.stdout.write(ANSWER_PREFIX + JSON.stringify(payload) + '\n');
}

async function main() {
  if (process.argv.length !== 3) {
    process.stderr.write("usage: agent.js '<json settings>'\n");
    process.exit(2);
  }
  const agent = new Agent(JSON.parse(process.argv[2]));
  answer({ id: 0, ok: true, result: { ready: true, sdk: 'pubnub-js' } });
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    const handler = agent[`op_${request.op}`];
    try {
      if (typeof handler !== 'function') throw new AgentError(`unknown op ${JSON.stringify(request.op)}`);
      const result = await handler.call(agent, request.args || {});
      answer({ id: request.id, ok: true, result });
    } catch (error) {
      const failure = { id: request.id, ok: false, error: `${error.name}: ${error.message}` };
      if (error instanceof AgentError) {
        Object.assign(failure, { http: error.http, category: error.category, details: error.details });
      }
      answer(failure);
    }
    if (request.op === 'exit') break;
  }
  agent.pubnub.stop();
  // The SDK keeps timers (heartbeats, reconnection polling); nothing is left to do.
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`agent crashed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
