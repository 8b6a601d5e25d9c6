"""where_now from both clients, for themselves and for the other client."""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    py_channels = sorted([h.name("wn-py-a"), h.name("wn-py-b")])
    js_channels = [h.name("wn-js")]
    py.call("subscribe", channels=py_channels)
    js.call("subscribe", channels=js_channels)
    for asker in (py, js):
        for target, channels in ((py, py_channels), (js, js_channels)):
            result = asker.call("where_now", uuid=target.uuid)
            expect_eq(sorted(result["channels"]), channels, f"{asker.lang} where_now({target.lang})")
        own = asker.call("where_now")
        expected = py_channels if asker is py else js_channels
        expect_eq(sorted(own["channels"]), expected, f"{asker.lang} where_now() for itself")
    py.call("unsubscribe", channels=[py_channels[0]])
    for asker in (py, js):
        result = asker.call("where_now", uuid=py.uuid)
        expect_eq(sorted(result["channels"]), py_channels[1:], f"{asker.lang} where_now(py) after a leave")
    nobody = h.name("nobody")
    for asker in (py, js):
        expect_eq(asker.call("where_now", uuid=nobody)["channels"], [], f"{asker.lang} where_now(unknown uuid)")


run_case(main)
