"""A wildcard subscription (`prefix.*`) receives the other client's publishes on matching channels.

The event names the real channel and the wildcard as its subscription; a
channel outside the prefix is not delivered (the last, matching publish
proves it was not just late).
"""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    for publisher, subscriber in ((py, js), (js, py)):
        way = f"{publisher.lang} -> {subscriber.lang} wildcard"
        prefix = f"wc{h.run_id}{subscriber.lang}"
        pattern = f"{prefix}.*"
        subscriber.call("subscribe", channels=[pattern])
        sent = []
        for channel in (f"{prefix}.a", f"other{h.run_id}.a", f"{prefix}.b"):
            timetoken = publisher.call("publish", channel=channel, message={"to": channel})["timetoken"]
            if channel.startswith(prefix + "."):
                sent.append((channel, timetoken))
        for index, (channel, timetoken) in enumerate(sent):
            event = subscriber.next_event("message")
            expect_eq((event["channel"], event["subscription"], event["message"], event["timetoken"],
                       event["publisher"]),
                      (channel, pattern, {"to": channel}, timetoken, publisher.uuid), f"{way} #{index}")
        expect_eq(subscriber.pending_events("message"), [], f"{way}: nothing else")
        subscriber.call("unsubscribe", channels=[pattern])


run_case(main)
