"""Mobile Push from both clients: add → list → remove → remove device for gcm, apns and apns2 (development and
production kept apart); each sees the other's registrations. Then a publish with pn_gcm / pn_apns payloads from
either SDK shows up as recorded notifications at the dev server's /dev/push/{sub}/notifications, and the server's
push error body reaches both SDKs."""

from harness import expect, expect_eq, run_case

SUBSCRIBE_KEY = "sub-c-interop"


def hex_token(seed):
    """A 64-hex-digit device token (APNs tokens are hex), unique per run."""
    return (seed.encode().hex() * 64)[:64]


def main(h):
    py, js = h.pair()
    for manager, observer in ((py, js), (js, py)):
        way = f"{manager.lang} registers, {observer.lang} lists"
        token = hex_token(h.name(f"push-{manager.lang}"))
        a, b, c = (h.name(f"push-{manager.lang}-{x}") for x in "abc")
        devices = [
            ("gcm", {}),
            ("apns", {}),
            ("apns2", {"topic": "com.example.interop", "environment": "development"}),
            ("apns2", {"topic": "com.example.interop", "environment": "production"}),
        ]
        for push_type, extra in devices:
            device = dict(device=token, push_type=push_type, **extra)
            what = f"{way}: {push_type} {extra.get('environment', '')}".rstrip()
            expect_eq(observer.call("push_list", **device)["channels"], [], f"{what}: a new device has no channels")
            manager.call("push_add", channels=[a, b], **device)
            manager.call("push_add", channels=[c], **device)
            for client in (manager, observer):
                expect_eq(sorted(client.call("push_list", **device)["channels"]), sorted([a, b, c]),
                          f"{what}: {client.lang} lists after add")
            manager.call("push_remove", channels=[a, c], **device)
            for client in (manager, observer):
                expect_eq(client.call("push_list", **device)["channels"], [b],
                          f"{what}: {client.lang} lists after remove")
        # Removing the development APNs2 device leaves the production one.
        dev = dict(device=token, push_type="apns2", topic="com.example.interop", environment="development")
        prod = dict(dev, environment="production")
        observer.call("push_remove_device", **dev)
        expect_eq(manager.call("push_list", **dev)["channels"], [], f"{way}: development device removed")
        expect_eq(manager.call("push_list", **prod)["channels"], [b], f"{way}: production device kept")
        for push_type, extra in devices:
            device = dict(device=token, push_type=push_type, **extra)
            manager.call("push_remove_device", **device)
            for client in (manager, observer):
                expect_eq(client.call("push_list", **device)["channels"], [],
                          f"{way}: {push_type} {client.lang} lists after remove device")

    # A publish with push payloads from either SDK records what would be sent.
    notifications = f"/dev/push/{SUBSCRIBE_KEY}/notifications"
    for publisher in (py, js):
        channel = h.name(f"push-news-{publisher.lang}")
        gcm_token = h.name(f"fcm-token-{publisher.lang}")
        apns_token = hex_token(h.name(f"apns2-{publisher.lang}"))
        other = js if publisher is py else py
        other.call("push_add", device=gcm_token, push_type="gcm", channels=[channel])
        other.call("push_add", device=apns_token, push_type="apns2", topic="com.example.interop",
                   environment="production", channels=[channel])
        message = {
            "text": "hello",
            "pn_gcm": {"notification": {"title": "Hello", "body": f"from {publisher.lang}"}},
            "pn_apns": {
                "aps": {"alert": f"from {publisher.lang}"},
                "pn_push": [{"targets": [{"environment": "production", "topic": "com.example.interop"}],
                             "version": "v2"}],
            },
        }
        timetoken = publisher.call("publish", channel=channel, message=message)["timetoken"]
        recorded = [n for n in h.raw_get(notifications) if n["channel"] == channel]
        got = sorted((n["push_type"], n["device"], n["timetoken"]) for n in recorded)
        expect_eq(got, sorted([("gcm", gcm_token, timetoken), ("apns2", apns_token, timetoken)]),
                  f"{publisher.lang} publishes: recorded notifications")
        by_type = {n["push_type"]: n for n in recorded}
        expect_eq(by_type["gcm"]["payload"], message["pn_gcm"], f"{publisher.lang}: the FCM payload")
        expect_eq(by_type["apns2"]["payload"], message["pn_apns"], f"{publisher.lang}: the APNs payload")
        expect_eq((by_type["apns2"]["topic"], by_type["apns2"]["environment"]),
                  ("com.example.interop", "production"), f"{publisher.lang}: the APNs2 target")

    # The server's recorded error body reaches both SDKs.
    for client in (py, js):
        answer = client.refused("push_add", status=400, device="not-a-hex-token", push_type="apns",
                                channels=[h.name("push-refused")])
        expect("Invalid device token" in (answer.get("details") or answer.get("error") or ""),
               f"{client.lang}: the error names the device token: {answer}")
    expect_eq(h.raw_get(f"/v1/push/sub-key/{SUBSCRIBE_KEY}/devices/not-a-hex-token?type=apns&uuid=x"), [],
              "nothing was registered for the refused token")


run_case(main)
