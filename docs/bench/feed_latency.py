#!/usr/bin/env python3
"""Claim-to-dispatch-feed latency against a running `trove serve`.

One WebSocket subscribes to the `claims` feed from the current journal end;
another sends claims open-loop at --rate per second (distinct players, a
product with ample stock). For every granted claim we record when it was
sent, when its acknowledgement arrived, and when the feed pushed it; we report
p50/p99/p99.9/max of push - ack and push - send.

    python3 docs/bench/feed_latency.py --url ws://127.0.0.1:8787 --key ADMIN_KEY --rate 1000 --seconds 20
"""
import argparse, asyncio, json, time, urllib.request

import websockets


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def http(base, key, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="ws://127.0.0.1:8787")
    ap.add_argument("--key", required=True, help="admin key (defines the hunt, reads the journal end)")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    base = a.url.replace("ws://", "http://")
    hunt = "feedlat-%d" % int(time.time())
    http(base, a.key, "POST", "/v1/hunts", {"id": hunt, "name": hunt, "clues": [],
         "products": [{"sku": "box", "stock": 10_000_000, "per_player_limit": 1, "min_score": 0}]})
    start_seq = http(base, a.key, "GET", "/v1/admin/consistency")["journal_seq"]
    hdr = {"Authorization": "Bearer " + a.key}
    sent, acked, pushed = {}, {}, {}
    async with websockets.connect(a.url + "/v1/ws", additional_headers=hdr, max_size=None) as feed, \
               websockets.connect(a.url + "/v1/ws", additional_headers=hdr, max_size=None) as game:
        await feed.send(json.dumps({"id": 1, "op": "subscribe", "topic": "claims", "from": start_seq}))

        async def read_feed():
            async for msg in feed:
                m = json.loads(msg)
                if m.get("push") == "claim" and m.get("hunt") == hunt:
                    pushed[m["claim_id"]] = time.perf_counter()

        async def read_game():
            async for msg in game:
                m = json.loads(msg)
                if m.get("ok") and m.get("status") == "granted":
                    acked[m["claim_id"]] = time.perf_counter()

        readers = [asyncio.create_task(read_feed()), asyncio.create_task(read_game())]
        n = a.rate * a.seconds
        t0 = time.perf_counter()
        for i in range(n):
            due = t0 + i / a.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            cid = "f%d" % i
            sent[cid] = due  # intended send time: no coordinated omission
            await game.send(json.dumps({"id": i + 10, "op": "claim", "claim_id": cid, "player": "fp%d" % i,
                                        "hunt": hunt, "sku": "box", "customs": {"country": "NL"}}))
        deadline = time.perf_counter() + 10
        while len(pushed) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for r in readers:
            r.cancel()
    push_ack = [(pushed[c] - acked[c]) * 1e3 for c in pushed if c in acked]
    push_send = [(pushed[c] - sent[c]) * 1e3 for c in pushed]
    print(f"claims sent {n} at {a.rate}/s, acknowledged granted {len(acked)}, pushed on the feed {len(pushed)}")
    for name, xs in (("feed push - claim ack", push_ack), ("feed push - intended send", push_send)):
        print(f"  {name}: p50 {pct(xs, 50):.2f} ms  p99 {pct(xs, 99):.2f} ms  p99.9 {pct(xs, 99.9):.2f} ms  max {max(xs):.2f} ms")


asyncio.run(main())
