// Access Manager interop, JavaScript side: npm pubnub 7.3.3 (MIT, Node
// build) against a pubnub-dev-server started with a secret key.
//
// Proves, with the SDK's own calls: grantToken (signed POST with a body)
// returns a token the SDK's parseToken reads back with the granted ttl,
// authorized uuid, resources, patterns and meta; the token works for what
// it grants and not for anything else; revokeToken (signed DELETE) cuts it
// off; a v2 grant (signed GET) lets an auth key publish.
//
// Environment: PAM_ORIGIN (host:port), PAM_SUBSCRIBE_KEY, PAM_PUBLISH_KEY,
// PAM_SECRET_KEY; NODE_PATH must reach the installed `pubnub`. Exits 0 when
// every check passed, 1 with the reason.
'use strict';

const crypto = require('crypto');
const PubNub = require('pubnub');

const RUN = crypto.randomUUID().slice(0, 8);

function expectEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

function client(userId, extra) {
  return new PubNub({
    origin: process.env.PAM_ORIGIN,
    ssl: false,
    subscribeKey: process.env.PAM_SUBSCRIBE_KEY,
    publishKey: process.env.PAM_PUBLISH_KEY,
    userId,
    ...extra,
  });
}

function statusCode(error) {
  return error && error.status ? error.status.statusCode : undefined;
}

function errorText(error) {
  const data = error && error.status ? error.status.errorData : undefined;
  return JSON.stringify(data === undefined ? String(error) : data);
}

async function refused(promise, what, status = 403, text = undefined) {
  try {
    await promise;
  } catch (error) {
    if (statusCode(error) !== status) {
      throw new Error(`${what}: expected HTTP ${status}, got ${statusCode(error)} (${errorText(error)})`);
    }
    if (text !== undefined && !errorText(error).includes(text)) {
      throw new Error(`${what}: expected ${JSON.stringify(text)} in the error, got ${errorText(error)}`);
    }
    return;
  }
  throw new Error(`${what}: expected HTTP ${status}, but it succeeded`);
}

async function main() {
  const userId = `js-user-${RUN}`;
  const room = `js-room-${RUN}`;
  const pattern = `^js-news-${RUN}\\..*$`;
  const group = `js-cg-${RUN}`;
  const admin = client(`js-admin-${RUN}`, { secretKey: process.env.PAM_SECRET_KEY });
  const user = client(userId, {});

  const before = Math.floor(Date.now() / 1000);
  const token = await admin.grantToken({
    ttl: 15,
    authorized_uuid: userId,
    resources: { channels: { [room]: { read: true, write: true } }, groups: { [group]: { read: true } } },
    patterns: { channels: { [pattern]: { read: true } } },
    meta: { run: RUN, lang: 'js' },
  });
  expectEq(typeof token === 'string' && token.length > 20, true, 'a token string');

  const parsed = admin.parseToken(token);
  expectEq(parsed.version, 2, 'token version');
  expectEq(parsed.ttl, 15, 'token ttl');
  expectEq(parsed.authorized_uuid, userId, 'authorized uuid');
  if (!(parsed.timestamp >= before - 60 && parsed.timestamp <= Math.floor(Date.now() / 1000) + 60)) {
    throw new Error(`token timestamp ${parsed.timestamp} is not the server's now`);
  }
  const perms = parsed.resources.channels[room];
  expectEq([perms.read, perms.write, perms.manage], [true, true, false], 'room permissions');
  expectEq(parsed.patterns.channels[pattern].read, true, 'pattern read');
  expectEq(parsed.patterns.channels[pattern].write, false, 'pattern write');
  expectEq(parsed.resources.groups[group].read, true, 'group read');
  expectEq([parsed.meta.run, parsed.meta.lang, Object.keys(parsed.meta).length], [RUN, 'js', 2], 'meta');

  user.setToken(token);
  await user.publish({ channel: room, message: { hello: 'granted' } });
  await user.hereNow({ channels: [`js-news-${RUN}.sports`] });
  await refused(
    user.publish({ channel: `js-news-${RUN}.sports`, message: 'no write' }),
    'publish on a read-only pattern channel',
    403,
    'Forbidden',
  );
  await refused(user.publish({ channel: `elsewhere-${RUN}`, message: 'x' }), 'publish elsewhere');

  await admin.revokeToken(token);
  await refused(
    user.publish({ channel: room, message: 'after revoke' }),
    'publish with a revoked token',
    403,
    'Token is revoked',
  );

  // v2: a grant on an auth key, signed GET.
  const keyed = client(`js-keyed-${RUN}`, { authKey: `js-key-${RUN}` });
  await refused(keyed.publish({ channel: room, message: 'before' }), 'publish before the v2 grant');
  await admin.grant({ channels: [room], authKeys: [`js-key-${RUN}`], read: true, write: true, ttl: 5 });
  await keyed.publish({ channel: room, message: 'after' });

  for (const c of [admin, user, keyed]) c.stop();
  console.log('js: grantToken, parseToken, token use, revokeToken and v2 grant all passed');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`js: FAILED: ${error && error.stack ? error.stack : error}`);
    if (error && error.status) console.error(`status: ${JSON.stringify(error.status)}`);
    process.exit(1);
  },
);
