"""Files shared between pubnub-rx and the official clients, plain and encrypted.

Each of the three clients (pubnub-rx's own agent, freenub 0.1.2, pubnub-js
7.3.3) sends a 70 KB binary file with a message; the other two list it and
download it byte for byte; then one of them deletes it and nobody lists it
any more. With a cipher key (the legacy cryptor every SDK shares, random
IV), the server holds the ciphertext: the raw download through the server's
own URL differs from the plaintext.
"""

import base64
import os
import urllib.parse
import urllib.request

from harness import expect, expect_eq, run_case

CIPHER_KEY = "interop-file-key"


def raw_download(h, channel, file_id, name):
    """The stored bytes, through the server's 307 (no SDK, no decryption)."""
    path = "/v1/files/sub-c-interop/channels/{}/files/{}/{}?uuid=raw".format(
        urllib.parse.quote(channel, safe=""), file_id, urllib.parse.quote(name, safe=""))
    with urllib.request.urlopen(f"http://{h.origin}{path}", timeout=10) as response:
        return response.read()


def main(h):
    for cipher_key in (None, CIPHER_KEY):
        mode = "encrypted" if cipher_key else "plain"
        settings = {"cipher_key": cipher_key} if cipher_key else {}
        agents = [h.agent(lang, label=f"{lang}-{mode}", **settings) for lang in ("rs", "py", "js")]
        for sender in agents:
            others = [a for a in agents if a is not sender]
            way = f"{sender.lang} ({mode})"
            channel = h.name(f"files-{sender.lang}-{mode}")
            content = os.urandom(70_000)
            # freenub puts the file name into the download path unescaped: no spaces.
            name = f"blob-from-{sender.lang}.bin"
            sent = sender.call("send_file", channel=channel, name=name,
                               data_b64=base64.b64encode(content).decode(), message={"from": sender.lang})
            expect_eq(sent["name"], name, f"{way}: stored name")
            expect(sent["id"] and sent["timetoken"], f"{way}: id and timetoken {sent}")
            for receiver in others:
                listed = receiver.call("list_files", channel=channel)["files"]
                expect_eq([(f["id"], f["name"]) for f in listed], [(sent["id"], name)],
                          f"{way} -> {receiver.lang}: listed")
                expect(listed[0]["size"] >= len(content), f"{way}: stored size {listed[0]['size']}")
                got = receiver.call("download_file", channel=channel, id=sent["id"], name=name)
                expect(base64.b64decode(got["data_b64"]) == content,
                       f"{way} -> {receiver.lang}: downloaded bytes equal the sent ones")
            stored = raw_download(h, channel, sent["id"], name)
            if cipher_key:
                expect(stored != content and len(stored) % 16 == 0 and len(stored) >= len(content) + 16,
                       f"{way}: the server holds IV + ciphertext ({len(stored)} bytes)")
            else:
                expect(stored == content, f"{way}: the server holds the bytes as sent")
            others[-1].call("delete_file", channel=channel, id=sent["id"], name=name)
            for agent in agents:
                expect_eq(agent.call("list_files", channel=channel)["files"], [],
                          f"{way}: {agent.lang} lists nothing after the delete")


run_case(main)
