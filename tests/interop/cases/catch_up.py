"""Subscribing from a past timetoken delivers what was published since, then live messages.

The publisher sends two messages while nobody listens; the subscriber then
subscribes with a timetoken just before the first and must get both, in
order and with their timetokens, followed by a live one. (pubnub-js makes a
tt=0 handshake first and then polls from the given timetoken; freenub polls
from it directly.)
"""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    for publisher, subscriber in ((py, js), (js, py)):
        way = f"{publisher.lang} -> {subscriber.lang}"
        channel = h.name(f"catch-up-{subscriber.lang}")
        earlier = [({"early": n}, publisher.call("publish", channel=channel, message={"early": n})["timetoken"])
                   for n in range(2)]
        since = str(int(earlier[0][1]) - 1)
        subscriber.call("subscribe", channels=[channel], timetoken=since)
        received = []
        for _ in earlier:
            event = subscriber.next_event("message")
            received.append((event["message"], event["timetoken"]))
        expect_eq(received, earlier, f"{way}: messages since the timetoken, in order")
        live = ({"live": True}, publisher.call("publish", channel=channel, message={"live": True})["timetoken"])
        event = subscriber.next_event("message")
        expect_eq((event["message"], event["timetoken"]), live, f"{way}: then the live message")
        expect_eq(subscriber.pending_events("message"), [], f"{way}: nothing twice")
        subscriber.call("unsubscribe", channels=[channel])


run_case(main)
