#!/usr/bin/env python3
"""JSON against MessagePack over the WebSocket, measured with `trove-sim load`.

For each round and each protocol (json, then msgpack, alternated --rounds
times) it starts `trove serve` on a fresh temporary data folder, runs
`trove-sim load --protocol P` of docs/examples/load-smoke.toml scaled to
--rate events per second (players = rate / 2.27) for --seconds, and reports:

  - events offered and accepted per second, `events` and `claim` latency
    (p50 / p99 / p99.9 / max, from the intended send time), from the run's
    report.json;
  - the server's CPU: utime + stime from /proc/<pid>/stat before and after
    the run, as CPU seconds, as a share of one core over the run, and per
    accepted event (microseconds);
  - the load generator's own CPU (its rusage), per accepted event.

The consistency check at the end of a run is skipped (the admin key given to
`--admin-key` is a game key) so that the server's CPU is the load's.

    cargo build --release -p trove-api -p trove-sim
    python3 docs/bench/wire_speed.py --trove target/release/trove \\
        --sim target/release/trove-sim --rate 150000 --seconds 15 --rounds 2
"""
import argparse, json, os, re, signal, subprocess, sys, tempfile, time, urllib.request

ADMIN = "bench-admin-key-0001"
GAME = "bench-game-key-00001"
KEYS = f"admin:{ADMIN},game:{GAME}"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(trove, data, log):
    env = dict(os.environ, TROVE_KEYS=KEYS, TROVE_LOG="warn", TROVE_SNAPSHOT_INTERVAL_SECS="0")
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://{addr}/readyz", timeout=5).status == 200:
                return p, addr
        except Exception:
            pass
        time.sleep(0.1)
    sys.exit(f"server not ready; see {log}")


def scenario(path, rate):
    text = open(os.path.join(os.path.dirname(__file__), "..", "examples", "load-smoke.toml")).read()
    players = int(rate / 2.27)
    text = re.sub(r"(?m)^players = \d+", f"players = {players}", text)
    open(path, "w").write(text)
    return players


def run(args, protocol, work, n):
    data = os.path.join(work, f"data-{n}")
    out = os.path.join(work, f"out-{n}")
    server, addr = start(args.trove, data, os.path.join(work, "server.log"))
    try:
        before = cpu_seconds(server.pid)
        t0 = time.monotonic()
        sim = subprocess.Popen([args.sim, "load", os.path.join(work, "load.toml"),
                                "--url", f"ws://{addr}/v1/ws", "--key", GAME,
                                "--design-key", ADMIN, "--admin-key", GAME,
                                "--protocol", protocol, "--duration", str(args.seconds),
                                "--connections", str(args.connections), "--batch", str(args.batch),
                                "--drain-secs", "20", "--out", out, "-q"],
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "sim.log"), "a"))
        _, status, usage = os.wait4(sim.pid, 0)
        wall = time.monotonic() - t0
        server_cpu = cpu_seconds(server.pid) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    r = json.load(open(os.path.join(out, "report.json")))
    live = r["live"]
    ops = {o["op"]: o for o in live["ops"]}
    accepted = live["events_accepted"]
    return {
        "protocol": protocol,
        "exit": os.waitstatus_to_exitcode(status),
        "invariants": r["invariants"]["ok"],
        "offered_per_s": live["events_offered_per_sec"],
        "accepted_per_s": live["events_accepted_per_sec"],
        "events_ms": [ops["events"][k] for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms")],
        "claim_ms": [ops["claim"][k] for k in ("p50_ms", "p99_ms", "max_ms")],
        "server_cpu_s": server_cpu,
        "server_core_share": server_cpu / wall,
        "server_us_per_event": server_cpu / max(accepted, 1) * 1e6,
        "sim_us_per_event": (usage.ru_utime + usage.ru_stime) / max(accepted, 1) * 1e6,
        "wall_s": wall,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trove", default="target/release/trove")
    ap.add_argument("--sim", default="target/release/trove-sim")
    ap.add_argument("--rate", type=int, default=150_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="trove-wire-") as work:
        players = scenario(os.path.join(work, "load.toml"), args.rate)
        print(f"# {players} players (~{args.rate} events/s), {args.seconds} s, "
              f"{args.connections} connections, batch {args.batch}", flush=True)
        n = 0
        for _ in range(args.rounds):
            for protocol in ("json", "msgpack"):
                n += 1
                row = run(args, protocol, work, n)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main()
