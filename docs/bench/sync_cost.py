#!/usr/bin/env python3
"""What a durability sync costs on a volume: a 4 KiB append followed by
fdatasync, then the 48-byte mark overwrite + fdatasync (one Trove commit's
sync since the journal is its own file: "fdatasync+mark"), against the same
append followed by syncfs of the volume (what the sled journal needed:
sled's log, blob files, conf and directories in one call), with and without
the mark.

    python3 docs/bench/sync_cost.py --dir /path/on/the/data/volume [--n 2000] [--dirty-mb 0]

--dirty-mb N keeps N MiB of unsynced writes to another file pending before
each sync, as a stream of events does between syncs: syncfs then writes them
back too, fdatasync of the small file does not.
"""
import argparse, ctypes, os, statistics, tempfile, time

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def syncfs(fd):
    if libc.syncfs(fd) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def run(a, how):
    d = tempfile.mkdtemp(dir=a.dir)
    log = os.open(os.path.join(d, "log"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    mark = os.open(os.path.join(d, "mark"), os.O_CREAT | os.O_WRONLY, 0o600)
    os.pwrite(mark, b"\0" * 48, 0)
    os.fsync(mark)
    other = os.open(os.path.join(d, "other"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    page = os.urandom(4096)
    dirty = os.urandom(1 << 20)
    times = []
    cpu0 = time.process_time()
    for _ in range(a.n):
        for _ in range(a.dirty_mb):
            os.write(other, dirty)
        os.write(log, page)
        t = time.perf_counter()
        if how == "fdatasync":
            os.fdatasync(log)
        elif how == "fdatasync+mark":
            os.fdatasync(log)
            os.pwrite(mark, b"\1" * 48, 0)
            os.fdatasync(mark)
        elif how == "syncfs":
            syncfs(log)
        else:
            syncfs(log)
            os.pwrite(mark, b"\1" * 48, 0)
            os.fdatasync(mark)
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu0
    for f in (log, mark, other):
        os.close(f)
    for f in ("log", "mark", "other"):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)
    us = [t * 1e6 for t in times]
    print(f"{how:>18}: p50 {pct(us, 50):7.0f} us  p99 {pct(us, 99):7.0f} us  mean {statistics.mean(us):7.0f} us"
          f"  ({a.n} syncs, {a.dirty_mb} MiB other dirty data each, process CPU {cpu / a.n * 1e6:.0f} us/sync)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=".")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--dirty-mb", type=int, default=0)
    a = ap.parse_args()
    for how in ("fdatasync", "fdatasync+mark", "syncfs", "syncfs+mark"):
        run(a, how)
