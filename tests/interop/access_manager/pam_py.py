"""Access Manager interop, Python side: freenub 0.1.2 (PyPI, MIT; the
pubnub-python 7.2.0 code base, import name `pubnub`) against a
pubnub-dev-server started with a secret key.

Proves, with the SDK's own calls: `grant_token` (signed POST with a body)
returns a token the SDK's `parse_token` reads back with the granted ttl,
authorized uuid, resources, patterns and meta; the token works for what it
grants and not for anything else; `revoke_token` (signed DELETE) cuts it
off; a v2 `grant` (signed GET) lets an auth key publish.

Environment: PAM_ORIGIN (host:port), PAM_SUBSCRIBE_KEY, PAM_PUBLISH_KEY,
PAM_SECRET_KEY. Exits 0 when every check passed, 1 with the reason.
"""

import asyncio
import os
import sys
import time
import uuid as uuid_module

from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.group import Group
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub_asyncio import PubNubAsyncio

RUN = uuid_module.uuid4().hex[:8]


class Failure(AssertionError):
    pass


def expect_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def client(user_id, secret_key=None, auth_key=None):
    config = PNConfiguration()
    config.origin = os.environ["PAM_ORIGIN"]
    config.ssl = False
    config.subscribe_key = os.environ["PAM_SUBSCRIBE_KEY"]
    config.publish_key = os.environ["PAM_PUBLISH_KEY"]
    config.uuid = user_id
    config.non_subscribe_request_timeout = 10
    config.connect_timeout = 5
    if secret_key:
        config.secret_key = secret_key
    if auth_key:
        config.auth_key = auth_key
    return PubNubAsyncio(config)


async def ok(builder, what):
    envelope = await builder.future()
    if envelope.status is not None and envelope.status.is_error():
        raise Failure(f"{what} failed: HTTP {envelope.status.status_code}: {envelope.status.error_data}")
    return envelope.result


async def refused(builder, what, status=403, text=None):
    envelope = await builder.future()
    got = envelope.status.status_code if envelope.status is not None else None
    if envelope.status is None or not envelope.status.is_error() or got != status:
        raise Failure(f"{what}: expected HTTP {status}, got {got} ({envelope.result})")
    info = str(getattr(envelope.status.error_data, "information", envelope.status.error_data))
    if text is not None and text not in info:
        raise Failure(f"{what}: expected {text!r} in the error, got {info!r}")
    return info


async def main():
    secret = os.environ["PAM_SECRET_KEY"]
    user_id = f"py-user-{RUN}"
    room = f"py-room-{RUN}"
    pattern = f"^py-news-{RUN}\\..*$"
    admin = client(f"py-admin-{RUN}", secret_key=secret)
    user = client(user_id)
    try:
        before = int(time.time())
        grant = (
            admin.grant_token()
            .ttl(15)
            .authorized_uuid(user_id)
            .channels([Channel.id(room).read().write(), Channel.pattern(pattern).read()])
            .groups([Group.id(f"py-cg-{RUN}").read()])
            .meta({"run": RUN, "lang": "py"})
        )
        token = (await ok(grant, "grant_token")).token
        expect_eq(isinstance(token, str) and len(token) > 20, True, "a token string")

        parsed = admin.parse_token(token)
        expect_eq(parsed["version"], 2, "token version")
        expect_eq(parsed["ttl"], 15, "token ttl")
        expect_eq(parsed["authorized_uuid"], user_id, "authorized uuid")
        if not before - 60 <= parsed["timestamp"] <= int(time.time()) + 60:
            raise Failure(f"token timestamp {parsed['timestamp']} is not the server's now")
        permissions = parsed["resources"]["channels"][room]
        expect_eq((permissions["read"], permissions["write"], permissions["manage"]), (True, True, False), "room permissions")
        expect_eq(parsed["patterns"]["channels"][pattern]["read"], True, "pattern read")
        expect_eq(parsed["patterns"]["channels"][pattern]["write"], False, "pattern write")
        expect_eq(parsed["resources"]["groups"][f"py-cg-{RUN}"]["read"], True, "group read")
        expect_eq(parsed["meta"], {"run": RUN, "lang": "py"}, "meta")

        user.set_token(token)
        await ok(user.publish().channel(room).message({"hello": "granted"}), "publish with the token")
        await ok(user.here_now().channels([f"py-news-{RUN}.sports"]), "here_now on a pattern channel")
        await refused(
            user.publish().channel(f"py-news-{RUN}.sports").message("no write"),
            "publish on a read-only pattern channel",
            text="Forbidden",
        )
        await refused(user.publish().channel(f"elsewhere-{RUN}").message("x"), "publish elsewhere")

        await ok(admin.revoke_token(token), "revoke_token")
        await refused(
            user.publish().channel(room).message("after revoke"),
            "publish with a revoked token",
            text="Token is revoked",
        )

        # v2: a grant on an auth key, signed GET.
        keyed = client(f"py-keyed-{RUN}", auth_key=f"py-key-{RUN}")
        try:
            await refused(keyed.publish().channel(room).message("before"), "publish before the v2 grant")
            result = await ok(
                admin.grant().channels([room]).auth_keys([f"py-key-{RUN}"]).read(True).write(True).ttl(5),
                "v2 grant",
            )
            expect_eq(result.level, "user", "v2 grant level")
            await ok(keyed.publish().channel(room).message("after"), "publish after the v2 grant")
        finally:
            await keyed.stop()
    finally:
        await admin.stop()
        await user.stop()
    print("py: grant_token, parse_token, token use, revoke_token and v2 grant all passed")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:  # report and fail
        import traceback

        traceback.print_exc()
        print(f"py: FAILED: {error}", file=sys.stderr)
        sys.exit(1)
