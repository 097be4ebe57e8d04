#!/usr/bin/env python3
"""Restart-to-ready after SIGKILL, measured against the real `trove serve`.

Two workloads, each on a fresh data folder:

  crashloop  claims (8 connections, closed loop, small commits: a
             claim-heavy journal of small blocks), SIGKILL about every
             --uptime seconds, --rounds times.
  seed       `trove-sim load` of docs/bench/restart-load.toml (200k players,
             ~200k events/s)
             at the highest rate the server holds, SIGKILL at a random
             moment of each round.

For every restart it prints the time from spawning `trove serve` to
`GET /readyz` = 200, the journal sequence, and what recovery replayed (from
the server's log), then p50 and max.

    pip install websockets
    python3 docs/bench/restart.py crashloop --trove target/release/trove --rounds 30
    python3 docs/bench/restart.py seed --trove target/release/trove \
        --sim target/release/trove-sim --rounds 5 --uptime 20
"""
import argparse, asyncio, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

import websockets

ADMIN = "bench-admin-key-0001"
GAME = "bench-game-key-00001"
KEYS = f"admin:{ADMIN},game:{GAME}"


def http(addr, method, path, body=None, key=ADMIN):
    req = urllib.request.Request(f"http://{addr}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def start(trove, data, log, extra_env=None):
    env = dict(os.environ, TROVE_KEYS=KEYS, TROVE_LOG="info")
    env.update(extra_env or {})
    t0 = time.monotonic()
    p = subprocess.Popen([trove, "serve", "--data", data, "--listen", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=open(log, "a"), text=True)
    addr = None
    for line in p.stdout:
        m = re.match(r"trove listening on http://(\S+)", line)
        if m:
            addr = m.group(1)
            break
    if addr is None:
        sys.exit(f"server did not start; see {log}")
    while True:
        try:
            if urllib.request.urlopen(f"http://{addr}/readyz", timeout=5).status == 200:
                break
        except Exception:
            pass
        if p.poll() is not None:
            sys.exit(f"server exited; see {log}")
        time.sleep(0.02)
    return p, addr, time.monotonic() - t0


def recovered(log):
    """The last 'recovery done' line of the log: (tail records, ms)."""
    tail = ms = None
    for line in open(log, errors="replace"):
        if "recovery done" in line:
            t = re.search(r"tail_records=(\d+)", line)
            m = re.search(r"ms=(\d+)", line)
            tail, ms = (int(t.group(1)) if t else None), (int(m.group(1)) if m else None)
    return tail, ms


async def claimer(addr, k, stop):
    n = 0
    try:
        async with websockets.connect(f"ws://{addr}/v1/ws", additional_headers={"Authorization": "Bearer " + GAME},
                                      max_size=None) as ws:
            while not stop.is_set():
                await ws.send(json.dumps({"id": n, "op": "claim", "claim_id": f"{k}-{time.time_ns()}",
                                          "player": f"p{k}-{n % 5000}", "hunt": "loop", "sku": "mug",
                                          "customs": {"name": "x", "country": "NL"}}))
                await ws.recv()
                n += 1
    except Exception:
        pass


async def claims_for(addr, seconds):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(claimer(addr, k, stop)) for k in range(8)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def summary(name, rows):
    ready = sorted(r[0] for r in rows)
    print(f"{name}: {len(rows)} restarts; ready p50 {ready[len(ready) // 2]:.2f} s, max {ready[-1]:.2f} s")


def crash_rounds(a, name, before, load):
    """On a fresh folder: `before(addr)` once, then per round `load(addr, r)`
    (which returns once the server should die), SIGKILL, restart, measure."""
    data = tempfile.mkdtemp(prefix=f"trove-restart-{name}-")
    log = os.path.join(data, "server.log")
    p, addr, _ = start(a.trove, os.path.join(data, "d"), log)
    before(addr)
    rows = []
    for r in range(a.rounds):
        stop_load = load(addr, r, data)
        p.send_signal(signal.SIGKILL)
        p.wait()
        stop_load()
        p, addr, ready = start(a.trove, os.path.join(data, "d"), log)
        _, c = http(addr, "GET", "/v1/admin/consistency")
        tail, ms = recovered(log)
        seq = c["journal_seq"] if c else None
        rows.append((ready, seq, tail, ms))
        print(f"round {r}: ready {ready:.2f} s, journal {seq} records, recovery replayed {tail} in {ms} ms", flush=True)
    p.send_signal(signal.SIGKILL)
    p.wait()
    summary(name, rows)
    if not a.keep:
        shutil.rmtree(data)


def crashloop(a):
    def before(addr):
        http(addr, "POST", "/v1/hunts", {"id": "loop", "name": "loop", "clues": [],
             "products": [{"sku": "mug", "stock": 1_000_000_000, "per_player_limit": 1_000_000, "min_score": 0}]})

    def load(addr, r, data):
        asyncio.run(claims_for(addr, a.uptime * random.uniform(0.5, 1.5)))
        return lambda: None

    crash_rounds(a, "crashloop", before, load)


def seed(a):
    scenario = os.path.join(os.path.dirname(os.path.abspath(__file__)), "restart-load.toml")

    def load(addr, r, data):
        sim = subprocess.Popen([a.sim, "load", "--url", f"ws://{addr}/v1/ws", "--key", ADMIN, "--batch", str(a.batch),
                                "--quiet", "--hunt-id", f"seed-{r}", "--duration", str(int(a.uptime * 2)),
                                "--out", os.path.join(data, f"sim-{r}"), scenario],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(a.uptime * random.uniform(0.5, 1.0))
        return lambda: (sim.kill(), sim.wait())

    crash_rounds(a, "seed", lambda addr: None, load)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["crashloop", "seed"])
    ap.add_argument("--trove", default="target/release/trove")
    ap.add_argument("--sim", default="target/release/trove-sim")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--uptime", type=float, default=1.0, help="seconds of load before each SIGKILL (jittered)")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    random.seed(a.seed)
    crashloop(a) if a.workload == "crashloop" else seed(a)
