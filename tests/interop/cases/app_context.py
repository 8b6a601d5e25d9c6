"""App Context v2 round trips and events between both clients.

One client writes uuid metadata, channel metadata and memberships; the
other reads them back (custom key order kept), lists the channel's members
and the uuid's memberships with the nested objects, finds the uuid with a
filter, pages through a filtered list with `next`, and receives every App
Context event (uuid / channel / membership, set and delete) on the uuid's
and the channel's names. Removed metadata is a 404 for both.
"""

from harness import expect, expect_eq, run_case


def ids(page, key):
    return sorted(item[key]["id"] for item in page["data"])


def main(h):
    py, js = h.pair()
    for writer, reader in ((py, js), (js, py)):
        tag = f"{writer.lang}-to-{reader.lang}"
        who = f"{writer.lang} -> {reader.lang}"
        user = h.name(f"ac-user-{tag}")
        room = h.name(f"ac-room-{tag}")
        other = h.name(f"ac-other-{tag}")
        reader.call("subscribe", channels=[user, room])

        custom = {"zeta": "last", "alpha": 1, "on": True}
        written = writer.call("set_uuid_metadata", uuid=user, name=f"Name {tag}", email="u@example.com",
                              custom=custom)["data"]
        expect_eq((written["id"], written["name"], written["custom"]), (user, f"Name {tag}", custom),
                  f"{who}: set uuid metadata answer")
        read = reader.call("get_uuid_metadata", uuid=user)["data"]
        expect_eq(read["email"], "u@example.com", f"{who}: uuid email read back")
        expect_eq(list(read["custom"]), ["zeta", "alpha", "on"], f"{who}: custom key order read back")
        expect_eq(read["eTag"], written["eTag"], f"{who}: same eTag")

        writer.call("set_channel_metadata", channel=room, name="Room", description="a room",
                    custom={"floor": 3})
        channel = reader.call("get_channel_metadata", channel=room)["data"]
        expect_eq((channel["name"], channel["description"], channel["custom"]), ("Room", "a room", {"floor": 3}),
                  f"{who}: channel metadata read back")

        page = writer.call("set_memberships", uuid=user,
                           channels=[{"id": room, "custom": {"role": "host"}}, {"id": other}])
        expect_eq(ids(page, "channel"), sorted([room, other]), f"{who}: set memberships answer")
        memberships = reader.call("get_memberships", uuid=user)
        expect_eq(ids(memberships, "channel"), sorted([room, other]), f"{who}: memberships read back")
        in_room = next(m for m in memberships["data"] if m["channel"]["id"] == room)
        expect_eq((in_room["custom"], in_room["channel"]["name"], in_room["channel"]["custom"]),
                  ({"role": "host"}, "Room", {"floor": 3}), f"{who}: membership custom and nested channel")
        members = reader.call("get_channel_members", channel=room)
        expect_eq(ids(members, "uuid"), [user], f"{who}: channel members")
        expect_eq(members["data"][0]["uuid"]["name"], f"Name {tag}", f"{who}: nested uuid name")

        found = reader.call("get_all_uuid_metadata", filter=f"name == 'Name {tag}'", total_count=True)
        expect_eq(([u["id"] for u in found["data"]], found["total_count"]), ([user], 1), f"{who}: filter by name")
        prefix = h.name(f"ac-page-{tag}")
        for n in range(3):
            writer.call("set_uuid_metadata", uuid=f"{prefix}-{n}", name=f"{prefix} {n}")
        first = reader.call("get_all_uuid_metadata", filter=f"name LIKE '{prefix}*'", limit=2)
        expect_eq([u["id"] for u in first["data"]], [f"{prefix}-0", f"{prefix}-1"], f"{who}: first page")
        expect(first["next"], f"{who}: first page has a next cursor")
        second = reader.call("get_all_uuid_metadata", filter=f"name LIKE '{prefix}*'", limit=2, next=first["next"])
        expect_eq([u["id"] for u in second["data"]], [f"{prefix}-2"], f"{who}: second page")

        writer.call("remove_memberships", uuid=user, channels=[other])
        writer.call("remove_uuid_metadata", uuid=user)
        reader.refused("get_uuid_metadata", status=404, uuid=user)

        # uuid set (on the uuid), channel set (room), memberships set (room, and
        # the uuid's channel twice), membership delete and uuid delete (uuid).
        events = [reader.next_event("objects") for _ in range(7)]
        seen = sorted((e["type"], e["event"],
                       e["data"]["channel"]["id"] if e["type"] == "membership" else e["data"]["id"])
                      for e in events)
        expected = sorted([
            ("uuid", "set", user), ("channel", "set", room),
            ("membership", "set", room), ("membership", "set", room), ("membership", "set", other),
            ("membership", "delete", other), ("uuid", "delete", user),
        ])
        expect_eq(seen, expected, f"{who}: App Context events")
        uuid_set = next(e for e in events if e["type"] == "uuid" and e["event"] == "set")
        expect_eq(list(uuid_set["data"]["custom"]), ["zeta", "alpha", "on"], f"{who}: event custom key order")
        expect_eq(reader.pending_events("objects"), [], f"{who}: no extra App Context events")
        expect_eq(reader.pending_events("message"), [], f"{who}: App Context events are not messages")
        reader.call("unsubscribe", channels=[user, room])


run_case(main)
