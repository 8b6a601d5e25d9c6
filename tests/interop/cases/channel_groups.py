"""Channel group management from both clients: add, list, remove, delete; each sees the other's changes."""

from harness import expect_eq, run_case


def main(h):
    py, js = h.pair()
    for manager, observer in ((py, js), (js, py)):
        way = f"{manager.lang} manages, {observer.lang} lists"
        group = h.name(f"cg-{manager.lang}")
        a, b, c = (h.name(f"cg-{manager.lang}-{x}") for x in "abc")
        expect_eq(observer.call("cg_list", group=group)["channels"], [], f"{way}: a new group is empty")
        manager.call("cg_add", group=group, channels=[a, b])
        manager.call("cg_add", group=group, channels=[c])
        for client in (manager, observer):
            expect_eq(sorted(client.call("cg_list", group=group)["channels"]), sorted([a, b, c]),
                      f"{way}: {client.lang} lists after add")
        manager.call("cg_remove", group=group, channels=[a, c])
        for client in (manager, observer):
            expect_eq(client.call("cg_list", group=group)["channels"], [b], f"{way}: {client.lang} lists after remove")
        manager.call("cg_delete", group=group)
        for client in (manager, observer):
            expect_eq(client.call("cg_list", group=group)["channels"], [], f"{way}: {client.lang} lists after delete")


run_case(main)
