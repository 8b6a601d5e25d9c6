"""Presence state set by one client is read back by the other (one channel and several)."""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    for setter, getter in ((py, js), (js, py)):
        way = f"{setter.lang} sets, {getter.lang} gets"
        first = h.name(f"state-{setter.lang}-1")
        second = h.name(f"state-{setter.lang}-2")
        state = {"mood": "happy", "n": 7, "nested": {"list": [1, "x"]}, "from": setter.lang}
        result = setter.call("set_state", channels=[first, second], state=state)
        expect_eq(result["state"], state, f"{way}: set_state result")
        one = getter.call("get_state", channels=[first], uuid=setter.uuid)
        expect_eq(one["channels"], {first: state}, f"{way}: get_state one channel")
        several = getter.call("get_state", channels=[first, second], uuid=setter.uuid)
        expect_eq(several["channels"], {first: state, second: state}, f"{way}: get_state two channels")
        own = setter.call("get_state", channels=[first])
        expect_eq(own["channels"], {first: state}, f"{way}: the setter reads its own state")
        changed = {"mood": "sleepy"}
        setter.call("set_state", channels=[first], state=changed)
        expect_eq(getter.call("get_state", channels=[first], uuid=setter.uuid)["channels"], {first: changed},
                  f"{way}: state replaced")


run_case(main)
