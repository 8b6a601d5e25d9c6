"""Publish from each client is received by the other: payload, publisher, meta, timetoken.

The timetoken a subscriber sees must equal the one the publish call returned
(real PubNub guarantees it). Publishes go by GET and by POST; freenub also
sends one compressed POST (a zlib body labelled `Content-Encoding: gzip`).
freenub does not hand `meta` to its listener, so meta is checked on the
JavaScript subscriber only (history covers the rest).
"""

from harness import expect, expect_eq, run_case

PAYLOADS = [
    # (message, meta, use POST, compress the POST body: freenub only)
    ({"text": "hello", "n": 1, "nested": {"list": [1, 2.5, None, True]}}, {"kind": "greeting", "n": 1}, False, False),
    ("plain string with spaces, commas, slashes /a/b?c=d&e and unicode é ✓", None, False, False),
    ([1, "two", {"three": 3}], {"kind": "list"}, True, False),
    (42, None, True, False),
    ({"compressed": "x" * 300}, {"kind": "zlib"}, True, True),
]


def main(h):
    py, js = h.pair()
    for publisher, subscriber in ((py, js), (js, py)):
        channel = h.name(f"from-{publisher.lang}")
        subscriber.call("subscribe", channels=[channel])
        sent = []
        for message, meta, post, compress in PAYLOADS:
            args = {"channel": channel, "message": message, "post": post,
                    "compress": compress and publisher.lang == "py"}
            if meta is not None:
                args["meta"] = meta
            result = publisher.call("publish", **args)
            expect(result["timetoken"] and len(result["timetoken"]) == 17,
                   f"{publisher} publish timetoken is 17 digits: {result}")
            sent.append((message, meta, result["timetoken"]))
        previous = 0
        for index, (message, meta, timetoken) in enumerate(sent):
            what = f"{publisher.lang} -> {subscriber.lang} message #{index}"
            event = subscriber.next_event("message")
            expect_eq(event["message"], message, f"{what} payload")
            expect_eq(event["channel"], channel, f"{what} channel")
            expect_eq(event["subscription"], None, f"{what} subscription (b == c)")
            expect_eq(event["publisher"], publisher.uuid, f"{what} publisher uuid")
            expect_eq(event["timetoken"], timetoken, f"{what} timetoken equals the publish result")
            expect(int(timetoken) > previous, f"{what}: timetokens increase")
            previous = int(timetoken)
            if subscriber.lang == "js":
                expect_eq(event.get("meta"), meta, f"{what} meta")
        expect_eq(subscriber.pending_events("message"), [], "no extra messages")
        subscriber.call("unsubscribe", channels=[channel])


run_case(main)
