"""A client's join and leave are seen by the other client's presence listener.

The listener subscribes with presence first and sees its own join; then the
other client subscribes (join, occupancy 2), sets its state (state-change
with the state) and unsubscribes (leave, occupancy 1), in that order. Then
`unsubscribe_all` from channels and a group gives a leave on each channel.
"""

from harness import expect, expect_eq, run_case


def expect_presence(listener, action, uuid, occupancy, channel, what):
    event = listener.next_event("presence", timeout=10)
    expect_eq((event["action"], event["uuid"]), (action, uuid), f"{what}: next presence event (action, uuid)")
    expect_eq(event["channel"], channel, f"{what}: channel (without -pnpres)")
    expect_eq(event["occupancy"], occupancy, f"{what}: occupancy")
    expect(isinstance(event["timestamp"], int) and event["timestamp"] > 1_600_000_000,
           f"{what}: timestamp is unix seconds: {event['timestamp']!r}")
    expect(event["timetoken"] is not None and len(event["timetoken"]) == 17,
           f"{what}: 17-digit timetoken: {event['timetoken']!r}")
    return event


def main(h):
    py, js = h.pair()
    for listener, other in ((py, js), (js, py)):
        channel = h.name(f"presence-{listener.lang}-listens")
        direction = f"{other.lang} seen by {listener.lang}"
        listener.call("subscribe", channels=[channel], presence=True)
        expect_presence(listener, "join", listener.uuid, 1, channel, f"{direction}: own join")
        other.call("subscribe", channels=[channel])
        join = expect_presence(listener, "join", other.uuid, 2, channel, f"{direction}: join")
        state = {"status": "typing", "from": other.lang}
        other.call("set_state", channels=[channel], state=state)
        change = expect_presence(listener, "state-change", other.uuid, 2, channel, f"{direction}: state-change")
        expect_eq(change["state"], state, f"{direction}: state-change carries the new state")
        other.call("unsubscribe", channels=[channel])
        leave = expect_presence(listener, "leave", other.uuid, 1, channel, f"{direction}: leave")
        expect(int(leave["timetoken"]) > int(join["timetoken"]), f"{direction}: leave after join")
        listener.call("unsubscribe", channels=[channel])
        expect_eq(listener.pending_events("presence"), [], f"{direction}: no other presence events")

        # unsubscribe_all leaves channels and groups in one request.
        first, second, grouped = (h.name(f"all-{listener.lang}-{n}") for n in (1, 2, 3))
        group = h.name(f"all-group-{listener.lang}")
        other.call("cg_add", group=group, channels=[grouped])
        listener.call("subscribe", channels=[first, second, grouped], presence=True)
        own = sorted(listener.next_event("presence")["channel"] for _ in range(3))
        expect_eq(own, sorted([first, second, grouped]), f"{direction}: own joins on three channels")
        other.call("subscribe", channels=[first, second], groups=[group])
        joins = sorted((e["action"], e["uuid"], e["channel"], e["occupancy"])
                       for e in (listener.next_event("presence") for _ in range(3)))
        expect_eq(joins, sorted(("join", other.uuid, c, 2) for c in (first, second, grouped)),
                  f"{direction}: joins on two channels and through a group")
        other.call("unsubscribe_all")
        leaves = sorted((e["action"], e["uuid"], e["channel"], e["occupancy"])
                        for e in (listener.next_event("presence") for _ in range(3)))
        expect_eq(leaves, sorted(("leave", other.uuid, c, 1) for c in (first, second, grouped)),
                  f"{direction}: unsubscribe_all leaves every channel, the group's included")
        listener.call("unsubscribe_all")


run_case(main)
