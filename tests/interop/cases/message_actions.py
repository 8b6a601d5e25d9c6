"""Message actions both ways between freenub 0.1.2 and pubnub-js 7.3.3.

One client publishes a message and adds a reaction to it; the other, which
is subscribed, gets the action event with the same type, value, uuid and
timetokens, reads it back with get_message_actions (and fetch_messages with
actions, from the server directly), and after the removal gets the second
event and an empty list. An action repeated by the same uuid is refused with
PubNub's 409.
"""

import urllib.parse

from harness import expect, expect_eq, run_case


def main(h):
    py, js = h.pair()
    for actor, watcher in ((py, js), (js, py)):
        way = f"{actor.lang} -> {watcher.lang}"
        channel = h.name(f"actions-{actor.lang}")
        watcher.call("subscribe", channels=[channel])
        message_tt = actor.call("publish", channel=channel, message={"text": "react to me"})["timetoken"]
        watcher.next_event("message")
        added = actor.call("add_message_action", channel=channel, message_timetoken=message_tt,
                           type="reaction", value="smiley_face")
        expect_eq((added["type"], added["value"], added["uuid"], added["message_timetoken"]),
                  ("reaction", "smiley_face", actor.uuid, message_tt), f"{way}: added action")
        expect(int(added["action_timetoken"]) > int(message_tt), f"{way}: action timetoken after the message")
        event = watcher.next_event("message_action")
        expect_eq(event, added, f"{way}: the action event")

        listed = watcher.call("get_message_actions", channel=channel)["actions"]
        expect_eq(listed, [added], f"{way}: get_message_actions")
        fetched = h.raw_get(f"/v3/history-with-actions/sub-key/sub-c-interop/channel/"
                            f"{urllib.parse.quote(channel, safe='')}")
        actions = fetched["channels"][channel][0]["actions"]
        expect_eq(actions["reaction"]["smiley_face"][0]["actionTimetoken"], added["action_timetoken"],
                  f"{way}: fetch with actions")

        actor.refused("add_message_action", status=409, channel=channel, message_timetoken=message_tt,
                      type="reaction", value="smiley_face")
        actor.call("remove_message_action", channel=channel, message_timetoken=message_tt,
                   action_timetoken=added["action_timetoken"])
        removed = watcher.next_event("message_action")
        expect_eq(removed["action_timetoken"], added["action_timetoken"], f"{way}: the removal event")
        expect_eq(watcher.call("get_message_actions", channel=channel)["actions"], [], f"{way}: removed")
        watcher.call("unsubscribe", channels=[channel])


run_case(main)
