"""Both clients on one channel get every message, their own included, in one order.

Each client publishes three messages, alternating. Both subscribers must see
all six, in publish (timetoken) order, with the right publisher.
"""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    channel = h.name("fanout")
    for client in (py, js):
        client.call("subscribe", channels=[channel])
    sent = []
    for index in range(6):
        publisher = (py, js)[index % 2]
        timetoken = publisher.call("publish", channel=channel, message={"n": index})["timetoken"]
        sent.append(({"n": index}, publisher.uuid, timetoken))
    for client in (py, js):
        received = []
        for _ in sent:
            event = client.next_event("message")
            received.append((event["message"], event["publisher"], event["timetoken"]))
        expect_eq(received, sent, f"{client.lang} subscriber: all six, in order, own messages included")
        expect_eq(client.pending_events("message"), [], f"{client.lang} subscriber: no duplicates")


run_case(main)
