"""App Context under Access Manager, both ways: one SDK grants, the other uses.

A token bound to a user grants `get` + `update` on that user's uuid and
`get` + `join` on one channel. With it the other SDK sets and reads its own
uuid metadata and joins the channel; it gets 403 for another uuid's
metadata (the path uuid is bound to the token's authorized uuid), for a
remove (no `delete`), for a channel it may not join, and for listing every
uuid (keyset level). A client with another uuid presenting the same token is
refused too.
"""

from harness import LANGUAGES, expect_eq, run_case


def main(h):
    admins = {lang: h.pam_agent(lang, f"{lang}-ac-admin", admin=True) for lang in LANGUAGES}
    for granter, user_lang in (("py", "js"), ("js", "py")):
        way = f"{granter} grants, {user_lang} uses"
        user_id = h.name(f"ac-{user_lang}-user-by-{granter}")
        stranger_id = h.name(f"ac-stranger-by-{granter}")
        room = h.name(f"ac-room-by-{granter}")
        vault = h.name(f"ac-vault-by-{granter}")
        token = admins[granter].call(
            "grant_token",
            ttl=15,
            authorized_uuid=user_id,
            resources={
                "uuids": {user_id: {"get": True, "update": True}},
                "channels": {room: {"get": True, "join": True}},
            },
        )["token"]
        user = h.pam_agent(user_lang, f"ac-{user_lang}-user-by-{granter}", uuid=user_id)
        user.call("set_token", token=token)

        stored = user.call("set_uuid_metadata", uuid=user_id, name="Me", custom={"b": 1, "a": 2})["data"]
        expect_eq((stored["id"], stored["name"]), (user_id, "Me"), f"{way}: set own metadata")
        read = user.call("get_uuid_metadata", uuid=user_id)["data"]
        expect_eq(list(read["custom"]), ["b", "a"], f"{way}: own metadata read back in key order")
        joined = user.call("set_memberships", uuid=user_id, channels=[{"id": room}])
        expect_eq([m["channel"]["id"] for m in joined["data"]], [room], f"{way}: joined the granted channel")

        user.refused("set_uuid_metadata", status=403, uuid=stranger_id, name="Not me")
        user.refused("get_uuid_metadata", status=403, uuid=stranger_id)
        user.refused("remove_uuid_metadata", status=403, uuid=user_id)
        user.refused("set_memberships", status=403, uuid=user_id, channels=[{"id": vault}])
        user.refused("get_all_uuid_metadata", status=403)

        other = h.pam_agent(user_lang, f"ac-other-by-{granter}", uuid=stranger_id)
        other.call("set_token", token=token)
        other.refused("get_uuid_metadata", status=403, uuid=user_id)

        # The refused calls changed nothing.
        memberships = user.call("get_memberships", uuid=user_id)
        expect_eq([m["channel"]["id"] for m in memberships["data"]], [room], f"{way}: memberships unchanged")
        expect_eq(user.call("get_uuid_metadata", uuid=user_id)["data"]["name"], "Me", f"{way}: metadata unchanged")


run_case(main)
