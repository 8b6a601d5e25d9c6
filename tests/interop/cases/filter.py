"""A filter expression set on each client is applied by the server.

Each subscriber has its own `filter_expression` (both clients send it as
`filter-expr` on every subscribe poll); the other client publishes messages
with varied meta. The subscriber must get exactly the matching ones, in
order. The last publish always matches, so once it has arrived every earlier
message has been either delivered or filtered out.
"""

from harness import expect_eq, run_case

FILTERS = {
    "py": "region == 'eu' && priority > 1",
    "js": '(region == "eu" || region LIKE "eu-*") && priority >= 2',
}

# (meta, delivered to the py subscriber, delivered to the js subscriber)
MESSAGES = [
    ({"region": "us", "priority": 5}, False, False),
    ({"region": "eu", "priority": 1}, False, False),
    (None, False, False),
    ({"region": "eu-west", "priority": 2}, False, True),
    ({"region": "eu", "priority": 3}, True, True),
    ({"priority": 9}, False, False),
    ({"region": "eu", "priority": 2}, True, True),
]


def main(h):
    for subscriber_lang, publisher_lang in (("py", "js"), ("js", "py")):
        subscriber = h.agent(subscriber_lang, label=f"{subscriber_lang}-filtered",
                             filter_expression=FILTERS[subscriber_lang])
        publisher = h.agent(publisher_lang, label=f"{publisher_lang}-publisher")
        way = f"{publisher_lang} -> {subscriber_lang} with filter {FILTERS[subscriber_lang]!r}"
        channel = h.name(f"filter-{subscriber_lang}")
        subscriber.call("subscribe", channels=[channel])
        expected = []
        for index, (meta, to_py, to_js) in enumerate(MESSAGES):
            args = {"channel": channel, "message": {"index": index}}
            if meta is not None:
                args["meta"] = meta
            timetoken = publisher.call("publish", **args)["timetoken"]
            if to_py if subscriber_lang == "py" else to_js:
                expected.append(({"index": index}, timetoken))
        received = [subscriber.next_event("message") for _ in expected]
        expect_eq([(event["message"], event["timetoken"]) for event in received], expected,
                  f"{way}: the matching messages, in order")
        expect_eq(subscriber.pending_events("message"), [], f"{way}: nothing else")
        subscriber.call("unsubscribe", channels=[channel])


run_case(main)
