"""`time` from both clients: 17-digit timetokens from the server clock, in step with publishes.

pubnub-js 7.3.3 parses the /time answer as a JSON number (a double), so its
value may be off by the rounding of a double at 1.8e16 (2 units); the order
checks allow for that.
"""

import time as wall

from harness import expect, run_case

DOUBLE_SLACK = 2


def main(h):
    py, js = h.pair()
    channel = h.name("time")
    before = int(wall.time() * 10_000_000)
    t_py = int(py.call("time")["timetoken"])
    t_js = int(js.call("time")["timetoken"])
    published = int(py.call("publish", channel=channel, message="tick")["timetoken"])
    t_py_after = int(py.call("time")["timetoken"])
    after = int(wall.time() * 10_000_000)
    for name, value in (("py time", t_py), ("js time", t_js), ("py time after publish", t_py_after)):
        expect(len(str(value)) == 17, f"{name} {value} has 17 digits")
        # The server uses this machine's clock; allow a little skew for the request itself.
        expect(before - 10_000_000 <= value <= after + 10_000_000,
               f"{name} {value} is within a second of the local clock [{before}, {after}]")
    expect(t_py <= t_js + DOUBLE_SLACK, f"py time {t_py} <= js time {t_js} taken after it")
    expect(t_js <= published + DOUBLE_SLACK, f"js time {t_js} <= publish timetoken {published} taken after it")
    expect(published <= t_py_after, f"publish timetoken {published} <= py time {t_py_after} taken after it")


run_case(main)
