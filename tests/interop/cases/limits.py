"""Size limits: a large message goes through, a too-large one or signal is a 400 both clients report.

PubNub takes messages up to 32 KiB (channel and message URI-encoded, plus
envelope) and signals up to 64 bytes. An oversized publish is answered 400
`[0,"Message Too Large",tt]`; the clients must report that as an error with
the HTTP status, and keep working afterwards.
"""

from harness import InteropFailure, expect, expect_eq, run_case


def expect_rejected(client, op, what, **args):
    try:
        result = client.call(op, **args)
    except InteropFailure as failure:
        expect("http=400" in str(failure), f"{what}: reported as HTTP 400: {failure}")
        return
    raise InteropFailure(f"{what}: expected a 400 error, got {result}")


def main(h):
    py, js = h.pair()
    for publisher, subscriber in ((py, js), (js, py)):
        way = f"{publisher.lang} -> {subscriber.lang}"
        channel = h.name(f"limits-{publisher.lang}")
        subscriber.call("subscribe", channels=[channel])
        big_post = {"blob": "x" * 24_000, "via": "POST"}
        big_get = {"blob": "y" * 6_000, "via": "GET"}
        sent = [(message, publisher.call("publish", channel=channel, message=message,
                                         post=message["via"] == "POST")["timetoken"])
                for message in (big_post, big_get)]
        expect_rejected(publisher, "publish", f"{way}: 40 000-byte publish", channel=channel,
                        message={"blob": "z" * 40_000}, post=True)
        expect_rejected(publisher, "signal", f"{way}: 100-byte signal", channel=channel, message="s" * 100)
        sent.append(({"after": "errors"}, publisher.call("publish", channel=channel,
                                                         message={"after": "errors"})["timetoken"]))
        for index, (message, timetoken) in enumerate(sent):
            event = subscriber.next_event("message")
            expect_eq((event["message"], event["timetoken"]), (message, timetoken), f"{way} message #{index}")
        expect_eq(subscriber.pending_events("message") + subscriber.pending_events("signal"), [],
                  f"{way}: the rejected ones were not delivered")
        subscriber.call("unsubscribe", channels=[channel])


run_case(main)
