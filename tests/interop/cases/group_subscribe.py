"""A subscription through a channel group receives the other client's publishes and signals.

The group is managed by the publishing client. The event names the real
channel and the group as its subscription; a channel removed from the group
no longer delivers.
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


run_case(main)
