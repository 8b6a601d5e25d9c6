"""Legacy-cryptor messages published by one client decrypt on the other.

Both pinned clients have only the legacy cryptor (AES-256-CBC, key from
sha256(cipher key)); they run with a random IV (the default) and with the
static IV. The server must carry the ciphertext untouched: history read
straight from the server holds a base64 string, not the plaintext, and that
string decrypts to the message on the other client.
"""

import base64
import urllib.parse

from harness import expect, expect_eq, run_case

CIPHER_KEY = "interop-cipher-key"
MESSAGES = [{"secret": "attack at dawn ✓", "n": [1, 2, 3]}, "a plain string / with a slash"]


def main(h):
    for random_iv in (True, False):
        iv = "random IV" if random_iv else "static IV"
        py = h.agent("py", label=f"py-{'random' if random_iv else 'static'}", cipher_key=CIPHER_KEY,
                     random_iv=random_iv)
        js = h.agent("js", label=f"js-{'random' if random_iv else 'static'}", cipher_key=CIPHER_KEY,
                     random_iv=random_iv)
        for publisher, subscriber in ((py, js), (js, py)):
            way = f"{publisher.lang} -> {subscriber.lang} ({iv})"
            channel = h.name(f"enc-{publisher.lang}-{'r' if random_iv else 's'}")
            subscriber.call("subscribe", channels=[channel])
            # The second message goes by POST (the ciphertext is then the body).
            sent = [(message, publisher.call("publish", channel=channel, message=message, post=index == 1)["timetoken"])
                    for index, message in enumerate(MESSAGES)]
            for index, (message, timetoken) in enumerate(sent):
                event = subscriber.next_event("message")
                expect_eq((event["message"], event["timetoken"], event["publisher"]),
                          (message, timetoken, publisher.uuid), f"{way} #{index}: decrypted message")
            subscriber.call("unsubscribe", channels=[channel])

            raw = h.raw_get(f"/v2/history/sub-key/sub-c-interop/channel/{urllib.parse.quote(channel, safe='')}"
                            "?include_token=true&string_message_token=true")
            stored = raw[0]
            expect_eq([item["timetoken"] for item in stored], [tt for _, tt in sent], f"{way}: stored timetokens")
            for index, (item, (message, _)) in enumerate(zip(stored, sent)):
                ciphertext = item["message"]
                expect(isinstance(ciphertext, str), f"{way} #{index}: the server stored a string: {ciphertext!r}")
                blob = base64.b64decode(ciphertext, validate=True)
                expect(len(blob) % 16 == 0 and len(blob) >= (32 if random_iv else 16),
                       f"{way} #{index}: ciphertext is {'IV + ' if random_iv else ''}AES blocks ({len(blob)} bytes)")
                expect(str(message) not in ciphertext, f"{way} #{index}: the server did not see the plaintext")
                expect_eq(subscriber.call("decrypt", ciphertext=ciphertext)["message"], message,
                          f"{way} #{index}: {subscriber.lang} decrypts the stored ciphertext")

            history = subscriber.call("history", channel=channel)
            expect_eq([(m["message"], m["timetoken"]) for m in history["messages"]], sent,
                      f"{way}: {subscriber.lang} history decrypts")


run_case(main)
