"""Zero-configuration Access Manager: an app that signs with its secret key works against the open server.

Runs against the open dev server (no `--secret-key`). For each SDK as the
administrator, on a subscribe key of its own (so the other cases' keysets stay
open):

1. before any administration, the keyset is open: the other SDK publishes
   without a grant;
2. the admin (configured with a secret key the server never saw) calls v2
   `grant` on an auth key: the first signed administration request turns
   Access Manager on for that keyset (trust on first use) and answers 200;
3. from then on the keyset enforces: the other SDK without the auth key gets
   403 `Forbidden`, with it publishes;
4. `grant_token` works too (a signed POST): the other SDK with the token
   publishes on the granted channel and gets 403 on another one; the admin
   revokes it and the token is refused.
"""

from harness import LANGUAGES, expect, run_case

APP_SECRET = "sec-c-app-never-configured-on-the-server"


def main(h):
    for granter in LANGUAGES:
        user_lang = "js" if granter == "py" else "py"
        way = f"{granter} administers, {user_lang} uses"
        keys = {"subscribe_key": h.name(f"sub-c-tofu-{granter}"), "publish_key": h.name(f"pub-c-tofu-{granter}")}
        room = h.name(f"room-{granter}")
        lobby = h.name(f"lobby-{granter}")
        auth_key = h.name(f"key-{granter}")

        # 1. Open before the first signed administration request.
        stranger = h.agent(user_lang, f"{user_lang}-stranger-{granter}", **keys)
        stranger.call("publish", channel=room, message="open")

        # 2. The first signed grant turns Access Manager on.
        admin = h.agent(granter, f"{granter}-admin", secret_key=APP_SECRET, **keys)
        admin.call("grant", channels=[room], auth_keys=[auth_key], read=True, write=True, ttl=5)

        # 3. Enforced from now on.
        stranger.refused("publish", text="Forbidden", category="PNAccessDeniedCategory", channel=room,
                         message="no grant")
        keyed = h.agent(user_lang, f"{user_lang}-keyed-{granter}", auth_key=auth_key, **keys)
        keyed.call("publish", channel=room, message="granted")

        # 4. A token from the same administrator.
        token = admin.call("grant_token", ttl=5, resources={"channels": {lobby: {"read": True, "write": True}}})[
            "token"]
        expect(isinstance(token, str) and len(token) > 20, f"{way}: grant_token gave a token: {token!r}")
        holder = h.agent(user_lang, f"{user_lang}-holder-{granter}", **keys)
        holder.call("set_token", token=token)
        holder.call("publish", channel=lobby, message="with the token")
        holder.refused("publish", category="PNAccessDeniedCategory", channel=room, message="not in the token")
        admin.call("revoke_token", token=token)
        holder.refused("publish", text="Token is revoked", channel=lobby, message="after revoke")


run_case(main)
