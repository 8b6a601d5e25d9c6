"""A subscription through a channel group receives the other client's publishes and signals.

The group is managed by the publishing client. The event names the real
channel and the group as its subscription; a channel removed from the group
no longer delivers. Subscribed with presence, the group delivers the joins
and leaves on its channels.
"""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    for publisher, subscriber in ((py, js), (js, py)):
        way = f"{publisher.lang} -> group -> {subscriber.lang}"
        group = h.name(f"group-{subscriber.lang}")
        first, second = h.name(f"grouped-{subscriber.lang}-1"), h.name(f"grouped-{subscriber.lang}-2")
        publisher.call("cg_add", group=group, channels=[first, second])
        subscriber.call("subscribe", groups=[group])
        sent = []
        for channel in (first, second):
            result = publisher.call("publish", channel=channel, message={"to": channel}, meta={"via": "group"})
            sent.append((channel, result["timetoken"]))
        for index, (channel, timetoken) in enumerate(sent):
            event = subscriber.next_event("message")
            what = f"{way} message #{index}"
            expect_eq(event["message"], {"to": channel}, f"{what}: payload")
            expect_eq(event["channel"], channel, f"{what}: channel")
            expect_eq(event["subscription"], group, f"{what}: subscription is the group")
            expect_eq(event["publisher"], publisher.uuid, f"{what}: publisher")
            expect_eq(event["timetoken"], timetoken, f"{what}: timetoken equals the publish result")
        signal_tt = publisher.call("signal", channel=second, message="sig")["timetoken"]
        signal = subscriber.next_event("signal")
        expect_eq((signal["channel"], signal["subscription"], signal["message"], signal["timetoken"]),
                  (second, group, "sig", signal_tt), f"{way}: signal through the group")

        # A channel taken out of the group stops delivering; the sentinel on the
        # remaining channel proves the first publish was not just late.
        publisher.call("cg_remove", group=group, channels=[first])
        subscriber.call("unsubscribe", groups=[group])
        subscriber.call("subscribe", groups=[group])
        publisher.call("publish", channel=first, message="removed")
        sentinel_tt = publisher.call("publish", channel=second, message="sentinel")["timetoken"]
        event = subscriber.next_event("message")
        expect_eq((event["channel"], event["message"], event["timetoken"]), (second, "sentinel", sentinel_tt),
                  f"{way}: after removing {first}, only {second} delivers")
        subscriber.call("unsubscribe", groups=[group])
        expect_eq(subscriber.pending_events("message"), [], f"{way}: no extra messages")

        # Presence through the group: `<group>-pnpres` delivers the joins and
        # leaves of the group's channels.
        subscriber.call("subscribe", groups=[group], presence=True)
        own = subscriber.next_event("presence")
        expect_eq((own["action"], own["uuid"], own["channel"], own["subscription"]),
                  ("join", subscriber.uuid, second, group), f"{way}: own join through the group")
        publisher.call("subscribe", channels=[second])
        join = subscriber.next_event("presence")
        expect_eq((join["action"], join["uuid"], join["channel"], join["subscription"], join["occupancy"]),
                  ("join", publisher.uuid, second, group, 2), f"{way}: the other's join through the group")
        publisher.call("unsubscribe", channels=[second])
        leave = subscriber.next_event("presence")
        expect_eq((leave["action"], leave["uuid"], leave["channel"], leave["subscription"], leave["occupancy"]),
                  ("leave", publisher.uuid, second, group, 1), f"{way}: the other's leave through the group")
        subscriber.call("unsubscribe", groups=[group])


run_case(main)
