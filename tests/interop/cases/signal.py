"""Signals from each client reach the other's signal listener (not its message listener)."""

from harness import expect_eq, run_case

SIGNALS = [{"typing": True, "n": 1}, "ping", 7]


def main(h):
    py, js = h.pair()
    for sender, receiver in ((py, js), (js, py)):
        channel = h.name(f"signal-from-{sender.lang}")
        receiver.call("subscribe", channels=[channel])
        sent = [(payload, sender.call("signal", channel=channel, message=payload)["timetoken"])
                for payload in SIGNALS]
        for index, (payload, timetoken) in enumerate(sent):
            what = f"{sender.lang} -> {receiver.lang} signal #{index}"
            event = receiver.next_event("signal")
            expect_eq(event["message"], payload, f"{what} payload")
            expect_eq(event["channel"], channel, f"{what} channel")
            expect_eq(event["publisher"], sender.uuid, f"{what} publisher uuid")
            expect_eq(event["timetoken"], timetoken, f"{what} timetoken equals the signal result")
        expect_eq(receiver.pending_events("message"), [], f"{sender.lang} -> {receiver.lang}: signals are not messages")
        expect_eq(receiver.pending_events("signal"), [], f"{sender.lang} -> {receiver.lang}: no extra signals")
        receiver.call("unsubscribe", channels=[channel])


run_case(main)
