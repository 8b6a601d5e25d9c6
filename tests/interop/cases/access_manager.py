"""Access Manager: one SDK grants, the other parses and uses the token, both ways.

Runs against the second dev server (Access Manager on: `--subscribe-key`,
`--publish-key`, `--secret-key`). For each direction (Python grants and
JavaScript uses, then the reverse):

1. the granting admin (secret key) calls `grant_token` (signed POST with a
   JSON body): ttl 15, an authorized uuid, read+write on a channel, read on a
   channel regex pattern, read on a channel group, meta;
2. *both* SDKs' own `parse_token` read the server's token back alike:
   version 2, ttl, authorized uuid, timestamp (the server's now), every
   permission, patterns and meta;
3. a user of the other SDK with `set_token` publishes where allowed, reads a
   pattern channel (here_now), subscribes and gets its own message, and gets
   403 `Forbidden` for a publish on the read-only pattern channel and on a
   channel the token does not name; a client of that SDK with another uuid
   gets 403 with the same token (it is bound to the authorized uuid);
4. the admin's `revoke_token` (signed DELETE) answers 200; the user's next
   publish gets 403 `Token is revoked`;
5. a v2 `grant` (signed GET) by the admin on an auth key turns the other
   SDK's 403 publish into a success.
"""

import time

from harness import LANGUAGES, expect, expect_eq, run_case

TTL_MINUTES = 15
NO_PERMISSIONS = dict.fromkeys(("read", "write", "manage", "delete", "get", "update", "join"), False)


def permissions(**granted):
    """The full permission map a parsed token reports: `granted` on, the rest off."""
    return {**NO_PERMISSIONS, **granted}


def main(h):
    admins = {lang: h.pam_agent(lang, f"{lang}-admin", admin=True) for lang in LANGUAGES}
    for granter, user_lang in (("py", "js"), ("js", "py")):
        way = f"{granter} grants, {user_lang} uses"
        admin = admins[granter]
        user_id = h.name(f"{user_lang}-user-by-{granter}")
        user = h.pam_agent(user_lang, f"{user_lang}-user-by-{granter}", uuid=user_id)
        room = h.name(f"room-by-{granter}")
        news = h.name(f"news-by-{granter}")
        pattern = f"^{news}\\..*$"
        group = h.name(f"cg-by-{granter}")
        meta = {"run": h.run_id, "lang": granter}

        # 1. grant_token: a signed POST with the permissions as JSON.
        before = int(time.time())
        token = admin.call(
            "grant_token",
            ttl=TTL_MINUTES,
            authorized_uuid=user_id,
            resources={"channels": {room: {"read": True, "write": True}}, "groups": {group: {"read": True}}},
            patterns={"channels": {pattern: {"read": True}}},
            meta=meta,
        )["token"]
        expect(isinstance(token, str) and len(token) > 20, f"{way}: grant_token gave a token string: {token!r}")

        # 2. Each SDK parses the token the server issued (to itself and to the other).
        expected = {
            "version": 2,
            "ttl": TTL_MINUTES,
            "authorized_uuid": user_id,
            "resources": {
                "channels": {room: permissions(read=True, write=True)},
                "groups": {group: permissions(read=True)},
                "uuids": {},
            },
            "patterns": {"channels": {pattern: permissions(read=True)}, "groups": {}, "uuids": {}},
            "meta": meta,
        }
        parsed_by = {}
        for parser in (admin, user):
            parsed = parser.call("parse_token", token=token)
            what = f"{way}: {parser.lang} parse_token"
            expect_eq(parsed["version"], 2, f"{what}: token version")
            expect_eq(parsed["ttl"], TTL_MINUTES, f"{what}: token ttl")
            expect_eq(parsed["authorized_uuid"], user_id, f"{what}: authorized uuid")
            expect(before - 60 <= parsed["timestamp"] <= int(time.time()) + 60,
                   f"{what}: token timestamp {parsed['timestamp']} is not the server's now ({before})")
            room_permissions = parsed["resources"]["channels"][room]
            expect_eq((room_permissions["read"], room_permissions["write"], room_permissions["manage"]),
                      (True, True, False), f"{what}: room permissions")
            expect_eq(parsed["patterns"]["channels"][pattern]["read"], True, f"{what}: pattern read")
            expect_eq(parsed["patterns"]["channels"][pattern]["write"], False, f"{what}: pattern write")
            expect_eq(parsed["resources"]["groups"][group]["read"], True, f"{what}: group read")
            expect_eq(parsed["meta"], meta, f"{what}: meta")
            for key, value in expected.items():
                expect_eq(parsed[key], value, f"{what}: {key}")
            parsed_by[parser.lang] = parsed
        expect_eq(parsed_by[user_lang], parsed_by[granter], f"{way}: both SDKs read the token alike")

        # 3. The token at work, in the other SDK.
        user.call("set_token", token=token)
        user.call("publish", channel=room, message={"hello": "granted"})
        user.call("here_now", channels=[f"{news}.sports"])
        user.call("subscribe", channels=[room])
        sent = user.call("publish", channel=room, message={"hello": "subscribed"})["timetoken"]
        event = user.next_event("message")
        expect_eq((event["channel"], event["message"], event["timetoken"]), (room, {"hello": "subscribed"}, sent),
                  f"{way}: own message through a subscribe with the token")
        user.call("unsubscribe", channels=[room])
        user.refused("publish", text="Forbidden", category="PNAccessDeniedCategory",
                     channel=f"{news}.sports", message="no write")
        user.refused("publish", category="PNAccessDeniedCategory", channel=h.name("elsewhere"), message="x")
        stranger = h.pam_agent(user_lang, f"{user_lang}-stranger-by-{granter}")
        stranger.call("set_token", token=token)
        stranger.refused("publish", text="Forbidden", category="PNAccessDeniedCategory",
                         channel=room, message="not my token")

        # 4. revoke_token: a signed DELETE; the token stops working at once.
        expect_eq(admin.call("revoke_token", token=token), {"status": 200}, f"{way}: revoke_token")
        user.refused("publish", text="Token is revoked", channel=room, message="after revoke")

        # 5. v2: a grant on an auth key, signed GET.
        auth_key = h.name(f"key-by-{granter}")
        keyed = h.pam_agent(user_lang, f"{user_lang}-keyed-by-{granter}", auth_key=auth_key)
        keyed.refused("publish", channel=room, message="before")
        result = admin.call("grant", channels=[room], auth_keys=[auth_key], read=True, write=True, ttl=5)
        # pubnub-js 7.3.3 resolves a grant with {}: only freenub hands the level over.
        expect_eq(result["level"], "user" if granter == "py" else None, f"{way}: v2 grant level")
        keyed.call("publish", channel=room, message="after")


run_case(main)
