"""Clients configured with a secret key and an auth key still work against the dev server.

Both then add `timestamp`, `signature` (and `auth`) to every request, `/time`
included. The dev server has no Access Manager keyset configured, so it must
take those parameters in its stride on every endpoint.
"""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair(secret_key="sec-c-interop", auth_key="interop-auth")
    for client in (py, js):
        expect_eq(len(client.call("time")["timetoken"]), 17, f"{client.lang} signed time")
    for publisher, subscriber in ((py, js), (js, py)):
        way = f"{publisher.lang} -> {subscriber.lang} signed"
        channel = h.name(f"signed-{publisher.lang}")
        subscriber.call("subscribe", channels=[channel], presence=True)
        expect_eq(subscriber.next_event("presence")["action"], "join", f"{way}: own join")
        sent = [publisher.call("publish", channel=channel, message={"n": n}, meta={"n": n}, post=n == 1)["timetoken"]
                for n in range(2)]
        for n, timetoken in enumerate(sent):
            event = subscriber.next_event("message")
            expect_eq((event["message"], event["timetoken"]), ({"n": n}, timetoken), f"{way} #{n}")
        here = publisher.call("here_now", channels=[channel, h.name("signed-empty")])
        expect_eq(here["channels"][channel]["occupancy"], 1, f"{way}: here_now")
        history = publisher.call("history", channel=channel)
        expect_eq([m["timetoken"] for m in history["messages"]], sent, f"{way}: history")
        subscriber.call("unsubscribe", channels=[channel])


run_case(main)
