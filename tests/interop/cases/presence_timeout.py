"""A client that vanishes without a leave is reported as `timeout`; one that heartbeats stays.

On each channel a listener (one client) watches presence while two clients of
the other kind join with a 20 s presence timeout (the minimum pubnub-js
allows): a "stayer", which keeps sending its periodic heartbeats, and a
"victim", which joins after it and is then killed (no leave). The listener
must see the victim's `timeout` and, before it, nothing about the stayer: the
stayer joined first, so without working heartbeats it would have timed out
first. Both channels run at the same time.
"""

from harness import expect_eq, run_case

PRESENCE_TIMEOUT = 20


def main(h):
    setups = []
    for listener_lang, other_lang in (("py", "js"), ("js", "py")):
        channel = h.name(f"timeout-{listener_lang}-listens")
        listener = h.agent(listener_lang, label=f"{listener_lang}-listener")
        stayer = h.agent(other_lang, label=f"{other_lang}-stayer", presence_timeout=PRESENCE_TIMEOUT)
        victim = h.agent(other_lang, label=f"{other_lang}-victim", presence_timeout=PRESENCE_TIMEOUT)
        listener.call("subscribe", channels=[channel], presence=True)
        for who, occupancy in ((listener, 1), (stayer, 2), (victim, 3)):
            if who is not listener:
                who.call("subscribe", channels=[channel])
            event = listener.next_event("presence", timeout=10)
            expect_eq((event["action"], event["uuid"], event["occupancy"], event["channel"]),
                      ("join", who.uuid, occupancy, channel), f"{listener_lang} listener: join of {who.name}")
        setups.append((listener, stayer, victim, channel))

    for _, _, victim, _ in setups:
        victim.kill()

    for listener, stayer, victim, channel in setups:
        way = f"{listener.lang} listener, {victim.lang} victim"
        event = listener.next_event("presence", timeout=PRESENCE_TIMEOUT + 15)
        expect_eq((event["action"], event["uuid"]), ("timeout", victim.uuid),
                  f"{way}: the next presence event is the victim's timeout (a stayer timeout means its heartbeats "
                  "were not honoured)")
        expect_eq((event["channel"], event["occupancy"]), (channel, 2), f"{way}: timeout channel and occupancy")
        present = listener.call("here_now", channels=[channel])["channels"][channel]
        expect_eq(sorted(o["uuid"] for o in present["occupants"]), sorted([listener.uuid, stayer.uuid]),
                  f"{way}: here_now after the timeout")


run_case(main)
