"""A dev server on a data dir (`--data-dir`) keeps what both clients wrote across a graceful stop and across
`kill -9`.

The case runs its own server on a temporary data dir. Python and JavaScript each publish (with meta), add a
message action to the other's message, register a channel group, App Context user metadata and a membership,
a push device and a file. Each client reads everything back (history, fetch, actions, group, user metadata
with its eTag, memberships, push channels, file list and bytes). The server is stopped with Ctrl-C and then,
after more publishes, killed with SIGKILL; after each restart on the same dir and port, fresh clients of both
SDKs must read exactly what their SDK read before, and new timetokens must come after the kept ones.
"""

import base64
import os
import tempfile

from harness import expect, expect_eq, run_case


def snapshot(reader, names):
    """Everything a client reads back about what the case wrote."""
    channel, group, user, token, file_channel = names
    return {
        "history": reader.call("history", channel=channel)["messages"],
        "fetch": reader.call("fetch_messages", channels=[channel])["channels"],
        "actions": reader.call("get_message_actions", channel=channel)["actions"],
        "group": sorted(reader.call("cg_list", group=group)["channels"]),
        "user": reader.call("get_uuid_metadata", uuid=user)["data"],
        "memberships": reader.call("get_memberships", uuid=user)["data"],
        "push": sorted(reader.call("push_list", device=token, push_type="gcm")["channels"]),
        "files": reader.call("list_files", channel=file_channel)["files"],
    }


def main(h):
    with tempfile.TemporaryDirectory(prefix="interop-data-dir-") as data_dir:
        server = h.dev_server("--data-dir", data_dir)
        names = (h.name("kept"), h.name("kept-group"), h.name("kept-user"),
                 h.name("kept-device").encode().hex()[:64], h.name("kept-files"))
        channel, group, user, token, file_channel = names
        py, js = (h.agent(lang, label=f"{lang}-before", origin=server.origin) for lang in ("py", "js"))

        sent = {}
        for writer, other in ((py, js), (js, py)):
            sent[writer.lang] = writer.call("publish", channel=channel, message={"from": writer.lang, "n": 1},
                                            meta={"by": writer.lang})["timetoken"]
        for writer, other in ((py, js), (js, py)):
            writer.call("add_message_action", channel=channel, message_timetoken=sent[other.lang],
                        type="reaction", value=f"from-{writer.lang}")
        py.call("cg_add", group=group, channels=[channel, h.name("kept-other")])
        js.call("set_uuid_metadata", uuid=user, name="Kept User", custom={"zeta": 1, "alpha": "two"})
        py.call("set_memberships", uuid=user, channels=[{"id": channel, "custom": {"role": "host"}}])
        js.call("push_add", device=token, push_type="gcm", channels=[channel])
        content = {lang: os.urandom(20_000) for lang in ("py", "js")}
        for writer in (py, js):
            writer.call("send_file", channel=file_channel, name=f"kept-{writer.lang}.bin",
                        data_b64=base64.b64encode(content[writer.lang]).decode())

        before = {agent.lang: snapshot(agent, names) for agent in (py, js)}
        for lang, seen in before.items():
            expect_eq(len(seen["history"]), 2, f"{lang}: both publishes")
            expect_eq(len(seen["actions"]), 2, f"{lang}: both actions")
            expect_eq(len(seen["files"]), 2, f"{lang}: both files")

        def read_after(stage):
            fresh = {lang: h.agent(lang, label=f"{lang}-{stage}", origin=server.origin) for lang in ("py", "js")}
            for lang, agent in fresh.items():
                expect_eq(snapshot(agent, names), before[lang], f"{lang} after {stage}: the same answers")
                for f in before[lang]["files"]:
                    got = agent.call("download_file", channel=file_channel, id=f["id"], name=f["name"])
                    owner = f["name"][len("kept-"):-len(".bin")]
                    expect(base64.b64decode(got["data_b64"]) == content[owner],
                           f"{lang} after {stage}: {f['name']} byte for byte")
            return fresh

        server.stop()
        server.start()
        py, js = read_after("restart").values()

        # Acknowledged publishes survive SIGKILL too.
        newest = max(int(m["timetoken"]) for m in before["py"]["history"])
        acked = []
        for n, writer in enumerate((py, js, py, js)):
            timetoken = writer.call("publish", channel=channel, message={"from": writer.lang, "n": 2 + n})["timetoken"]
            expect(int(timetoken) > newest, f"{writer.lang}: new timetoken {timetoken} after the kept {newest}")
            acked.append(timetoken)
        server.kill()
        server.start()
        for lang in ("py", "js"):
            reader = h.agent(lang, label=f"{lang}-after-kill", origin=server.origin)
            history = reader.call("history", channel=channel)["messages"]
            expect_eq([m["timetoken"] for m in history],
                      [m["timetoken"] for m in before[lang]["history"]] + acked,
                      f"{lang} after kill -9: every acknowledged publish, in order")
        server.stop()


run_case(main)
