#!/usr/bin/env python3
"""Cluster mode's figures (docs/BENCHMARKS.md, "The cluster on etcd").

    python3 docs/bench/cluster.py [--bin target/release/trove]
        [--sim target/release/trove-sim] [--players 20000] [--secs 30]
        [--partitions 8] [--only overhead,failover,txns]

Starts its own etcd (Debian etcd-server) on free loopback ports and runs, on
this one machine:

0. idle: a node's fixed cost (single node, one-node cluster, etcd), 20 s.
1. overhead: the same `trove-sim load` (docs/bench/cluster-load.toml: events
   and claims, open loop) against a single node, a one-node cluster and a
   two-node cluster, one after the other in the same run; the servers' CPU
   per event and per claim from /proc/PID/stat, the load's rates and p99.
2. failover: a three-node cluster; SIGKILL one node; the time until every
   partition it owned answers at its new owner (polled every 10 ms), with
   its lease TTL; repeated.
3. txns: etcd requests per 1,000 claims (gRPC counters from etcd's
   /metrics, the idle background of the same duration subtracted), with
   plentiful stock and with scarce stock (5 units, claimed everywhere).

Prints one JSON line per measurement and a summary table.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

KEYS = "admin:bench-admin-key-01,game:bench-game-key-001,designer:bench-design-key-1"
ADMIN, GAME, DESIGN = "bench-admin-key-01", "bench-game-key-001", "bench-design-key-1"
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def fnv_partition(player, partitions):
    h = 0xCBF29CE484222325
    for b in player.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


def req(addr, method, path, key=None, body=None, timeout=5):
    host, port = addr.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read()
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, text.decode(errors="replace")
    finally:
        c.close()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


HZ = os.sysconf("SC_CLK_TCK")


class Etcd:
    def __init__(self, root):
        os.makedirs(root, exist_ok=True)
        self.client, self.peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client}"
        peer = f"http://127.0.0.1:{self.peer}"
        self.proc = subprocess.Popen(
            ["etcd", "--name", "default", "--data-dir", os.path.join(root, "etcd"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"default={peer}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "etcd.log"), "w"))
        for _ in range(300):
            try:
                if req(f"127.0.0.1:{self.client}", "GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("etcd did not start")

    def grpc_counts(self):
        """gRPC requests handled, by method (etcd's own /metrics)."""
        _, text = req(f"127.0.0.1:{self.client}", "GET", "/metrics")
        out = {}
        for m in re.finditer(r'grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\d+)', text):
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
        return out

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Node:
    def __init__(self, args, root, etcd=None, node_id=None, partitions=8, ttl=10):
        os.makedirs(root, exist_ok=True)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        env = dict(os.environ, TROVE_KEYS=KEYS, TROVE_LOG="warn", TROVE_SNAPSHOT_INTERVAL_SECS="0")
        cmd = [args.bin, "serve", "--data", os.path.join(root, "data"), "--listen", self.addr]
        if etcd:
            cmd += ["--cluster", f"etcd={etcd.url}", "--node", node_id, "--advertise", f"http://{self.addr}",
                    "--partitions", str(partitions), "--lease-ttl", str(ttl)]
        self.log = open(os.path.join(root, f"{node_id or 'single'}-{self.port}.log"), "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(600):
            try:
                if req(self.addr, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"node {node_id} did not start; see {self.log.name}")

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait()


def cluster_map(addr):
    st, m = req(addr, "GET", "/v1/cluster", GAME)
    return m if st == 200 else None


def wait_spread(nodes, partitions, limit=60):
    live = {f"http://{n.addr}" for n in nodes}
    t0 = time.time()
    while time.time() - t0 < limit:
        m = cluster_map(nodes[0].addr)
        if m and all(o.get("url") in live for o in m["owners"]):
            ok = all(req(o["url"][7:], "GET", f"/v1/audit/head?partition={o['partition']}", ADMIN)[0] == 200
                     for o in m["owners"])
            if ok:
                return m
        time.sleep(0.05)
    raise SystemExit("partitions did not spread")


def run_load(args, url, out):
    """One `trove-sim load` run; its report.json."""
    subprocess.run([args.sim, "load", "--url", f"ws://{url}/v1/ws", "--key", GAME, "--design-key", DESIGN,
                    "--admin-key", ADMIN, "--connections", "4", "--duration", str(args.secs), "-q", "-o", out,
                    "--batch", str(args.batch), os.path.join(out, "scenario.toml")], check=False)
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def scenario(args, out):
    with open(os.path.join(HERE, "cluster-load.toml")) as f:
        text = f.read()
    text = re.sub(r"(?m)^players = \d+", f"players = {args.players}", text)
    if args.events_only:
        text = re.sub(r"(?m)^claim_delay_secs = \d+", "claim_delay_secs = 3600", text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "scenario.toml"), "w") as f:
        f.write(text)


def op(report, name):
    for o in (report.get("live") or {}).get("ops", []):
        if o["op"] == name:
            return o
    return {}


def overhead(args, root):
    """The same load on a single node, a one-node and a two-node cluster."""
    results = []
    etcd = Etcd(os.path.join(root, "o-etcd"))
    for mode, n in (("single", 0), ("cluster-1", 1), ("cluster-2", 2)):
        d = os.path.join(root, mode)
        os.makedirs(d, exist_ok=True)
        os.environ["TROVE_CLUSTER_PREFIX"] = f"/{mode}"
        if n == 0:
            nodes = [Node(args, d)]
        else:
            nodes = [Node(args, d, etcd, f"n{i}", args.partitions) for i in range(n)]
            wait_spread(nodes, args.partitions)
        out = os.path.join(d, "sim")
        scenario(args, out)
        before = [cpu_ticks(x.proc.pid) for x in nodes]
        t0 = time.time()
        report = run_load(args, nodes[0].addr, out)
        wall = time.time() - t0
        cpu = sum(cpu_ticks(x.proc.pid) - b for x, b in zip(nodes, before)) / HZ
        live = report.get("live") or {}
        ev, cl = op(report, "events"), op(report, "claim")
        events = live.get("events_accepted", 0)
        claims = cl.get("answered_ok", 0)
        line = {"phase": "overhead", "mode": mode, "nodes": max(n, 1), "partitions": args.partitions if n else 1,
                "wall_s": round(wall, 1), "events_accepted": events,
                "events_per_s": round(live.get("events_accepted_per_sec", 0)),
                "claims_ok": claims, "claims_per_s": round(cl.get("accepted_per_sec", 0), 1),
                "event_p99_ms": ev.get("p99_ms"), "claim_p99_ms": cl.get("p99_ms"),
                "errors": live.get("errors"), "invariants_ok": report.get("invariants", {}).get("ok"),
                "server_cpu_s": round(cpu, 2),
                "server_cpu_us_per_op": round(cpu * 1e6 / max(1, events + claims), 2)}
        print(json.dumps(line), flush=True)
        results.append(line)
        if args.claims:
            results.append(claims_phase(args, nodes, mode, n))
        for x in nodes:
            x.kill(signal.SIGTERM)
    os.environ.pop("TROVE_CLUSTER_PREFIX", None)
    etcd.stop()
    return results


def claims_phase(args, nodes, mode, n):
    """Claims alone over HTTP (8 threads, keep-alive), each to its
    partition's owner: the servers' CPU per claim."""
    st, body = req(nodes[0].addr, "POST", "/v1/hunts", DESIGN, hunt(1_000_000, 5))
    assert st in (200, 201), body
    if n:
        m = cluster_map(nodes[0].addr)
    else:
        m = {"owners": [{"partition": 0, "url": f"http://{nodes[0].addr}"}]}
    parts = args.partitions if n else 1
    claims = [(f"oc-{i}", f"player-{i % 5000}", "mug") for i in range(args.claims)]
    before = [cpu_ticks(x.proc.pid) for x in nodes]
    t0 = time.time()
    outcomes = claim_all(m, claims, parts)
    secs = time.time() - t0
    cpu = sum(cpu_ticks(x.proc.pid) - b for x, b in zip(nodes, before)) / HZ
    line = {"phase": "overhead-claims", "mode": mode, "claims": len(claims), "granted": outcomes.count("granted"),
            "claims_per_s": round(len(claims) / secs), "server_cpu_s": round(cpu, 2),
            "server_cpu_us_per_claim": round(cpu * 1e6 / len(claims), 1)}
    print(json.dumps(line), flush=True)
    return line


def hunt(stock_mug, stock_gold):
    return {"id": "b", "name": "bench", "clues": [{"id": "c1", "points": 10}],
            "products": [{"sku": "mug", "stock": stock_mug, "per_player_limit": 100000, "min_score": 0},
                         {"sku": "gold", "stock": stock_gold, "per_player_limit": 1, "min_score": 0}]}


def claim_all(m, claims, partitions):
    """Sends each claim (claim_id, player, sku) to its partition's owner over
    HTTP keep-alive, 8 threads; returns the outcomes."""
    owners = {o["partition"]: o["url"][7:] for o in m["owners"]}
    outcomes = []
    lock = threading.Lock()
    def work(chunk):
        conns = {}
        for cid, player, sku in chunk:
            addr = owners[fnv_partition(player, partitions)]
            body = json.dumps({"claim_id": cid, "player": player, "hunt": "b", "sku": sku})
            for attempt in range(3):
                c = conns.get(addr)
                if c is None:
                    host, port = addr.split(":")
                    c = conns[addr] = http.client.HTTPConnection(host, int(port), timeout=30)
                try:
                    c.request("POST", "/v1/claims", body=body,
                              headers={"Authorization": f"Bearer {GAME}", "Content-Type": "application/json"})
                    r = c.getresponse()
                    d = json.loads(r.read())
                    break
                except (OSError, http.client.HTTPException):
                    # A keep-alive connection the server closed: reconnect and
                    # resend (claims are idempotent by claim_id).
                    conns.pop(addr, None)
                    d = {"error": {"code": "connection"}}
            with lock:
                outcomes.append(d.get("status") or d.get("error", {}).get("code"))
    chunks = [claims[i::8] for i in range(8)]
    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return outcomes


def txns(args, root):
    results = []
    d = os.path.join(root, "txns")
    os.makedirs(d)
    etcd = Etcd(d)
    nodes = [Node(args, d, etcd, f"n{i}", args.partitions) for i in range(2)]
    m = wait_spread(nodes, args.partitions)
    st, body = req(nodes[0].addr, "POST", "/v1/hunts", DESIGN, hunt(1_000_000, 5))
    assert st in (200, 201), body
    time.sleep(1)
    for label, sku, n in (("plentiful", "mug", 4000), ("scarce", "gold", 1000)):
        claims = [(f"{label}-{i}", f"player-{i % 997}-{label}", sku) for i in range(n)]
        idle0, t0 = etcd.grpc_counts(), time.time()
        time.sleep(5)
        idle1, t1 = etcd.grpc_counts(), time.time()
        idle_rate = {k: (idle1.get(k, 0) - idle0.get(k, 0)) / (t1 - t0) for k in idle1}
        c0, s0 = etcd.grpc_counts(), time.time()
        outcomes = claim_all(m, claims, args.partitions)
        c1, s1 = etcd.grpc_counts(), time.time()
        spent = {k: (c1.get(k, 0) - c0.get(k, 0)) - idle_rate.get(k, 0) * (s1 - s0) for k in c1}
        granted = outcomes.count("granted")
        per_k = {k: round(v * 1000 / n, 1) for k, v in spent.items() if abs(v) >= 0.5}
        line = {"phase": "txns", "stock": label, "claims": n, "granted": granted, "secs": round(s1 - s0, 2),
                "etcd_requests_per_1000_claims": per_k,
                "idle_requests_per_s_for_2_nodes": {k: round(v, 1) for k, v in idle_rate.items() if v}}
        print(json.dumps(line), flush=True)
        results.append(line)
    for x in nodes:
        x.kill(signal.SIGTERM)
    etcd.stop()
    return results


def failover(args, root, rounds=3):
    results = []
    for r in range(rounds):
        d = os.path.join(root, f"failover-{r}")
        os.makedirs(d)
        etcd = Etcd(d)
        nodes = [Node(args, d, etcd, f"n{i}", args.partitions, ttl=args.ttl) for i in range(3)]
        m = wait_spread(nodes, args.partitions)
        st, body = req(nodes[0].addr, "POST", "/v1/hunts", DESIGN, hunt(100000, 5))
        # Some journal in every partition first.
        claim_all(m, [(f"warm-{i}", f"player-{i}", "mug") for i in range(400)], args.partitions)
        victim = nodes[1]
        mine = [o["partition"] for o in m["owners"] if o["url"] == f"http://{victim.addr}"]
        killed = time.time()
        victim.kill()
        first = {}
        while len(first) < len(mine) and time.time() - killed < 60:
            mm = cluster_map(nodes[0].addr)
            for o in (mm or {}).get("owners", []):
                p = o["partition"]
                if p in mine and p not in first and o.get("url") and o["url"] != f"http://{victim.addr}":
                    if req(o["url"][7:], "GET", f"/v1/audit/head?partition={p}", ADMIN, timeout=2)[0] == 200:
                        first[p] = time.time() - killed
            time.sleep(0.01)
        line = {"phase": "failover", "round": r, "lease_ttl_s": args.ttl, "partitions_moved": len(mine),
                "first_answer_s": round(min(first.values()), 3), "all_answer_s": round(max(first.values()), 3)}
        print(json.dumps(line), flush=True)
        results.append(line)
        for x in (nodes[0], nodes[2]):
            x.kill(signal.SIGTERM)
        etcd.stop()
    return results


def idle(args, root, secs=20):
    """A node's fixed cost: CPU of an idle single node and of an idle
    one-node cluster with `--partitions` partitions, and of etcd."""
    etcd = Etcd(os.path.join(root, "i-etcd"))
    single = Node(args, os.path.join(root, "i-single"))
    node = Node(args, os.path.join(root, "i-cluster"), etcd, "n1", args.partitions)
    wait_spread([node], args.partitions)
    time.sleep(2)
    pids = {"single": single.proc.pid, "cluster_node": node.proc.pid, "etcd": etcd.proc.pid}
    before = {k: cpu_ticks(v) for k, v in pids.items()}
    time.sleep(secs)
    line = {"phase": "idle", "secs": secs, "partitions": args.partitions}
    line.update({f"{k}_core_pct": round((cpu_ticks(v) - before[k]) / HZ / secs * 100, 2) for k, v in pids.items()})
    print(json.dumps(line), flush=True)
    single.kill(signal.SIGTERM)
    node.kill(signal.SIGTERM)
    etcd.stop()
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/trove")
    ap.add_argument("--sim", default="target/release/trove-sim")
    ap.add_argument("--players", type=int, default=20000)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--ttl", type=int, default=3)
    ap.add_argument("--batch", type=int, default=200, help="trove-sim load --batch: most events per request")
    ap.add_argument("--events-only", action="store_true", help="overhead: no claims in the load")
    ap.add_argument("--claims", type=int, default=4000, help="overhead: claims sent after the load, over HTTP")
    ap.add_argument("--only", default="idle,overhead,failover,txns")
    args = ap.parse_args()
    if not shutil.which("etcd"):
        sys.exit("etcd is not installed (apt-get install etcd-server)")
    root = tempfile.mkdtemp(prefix="trove-cluster-bench-")
    print(json.dumps({"commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
                      "date": time.strftime("%Y-%m-%d"), "root": root, "args": vars(args)}), flush=True)
    only = set(args.only.split(","))
    if "idle" in only:
        idle(args, root)
    if "overhead" in only:
        overhead(args, root)
    if "failover" in only:
        failover(args, root)
    if "txns" in only:
        txns(args, root)


if __name__ == "__main__":
    main()
