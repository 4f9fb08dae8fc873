#!/usr/bin/env python3
# Part of bench/: alternates commands in fresh processes (eryx builds side by side), as in bench/ANALYSIS.md.
"""interleave.py ROUNDS NAME=CMD... : runs each command once per round in turn (fresh process),
prints medians of wall time (spawn -> exit) and CPU time (user+sys of the child)."""
import os, shlex, statistics, subprocess, sys, time
rounds = int(sys.argv[1])
cmds = [(a.split('=', 1)[0], shlex.split(a.split('=', 1)[1])) for a in sys.argv[2:]]
res = {n: ([], []) for n, _ in cmds}
for n, c in cmds:  # warm-up, unrecorded
    subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
for r in range(rounds):
    for n, c in cmds:
        t = time.perf_counter()
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        assert status == 0, (n, status)
        res[n][0].append(wall * 1e3); res[n][1].append((ru.ru_utime + ru.ru_stime) * 1e3)
for n, (w, c) in res.items():
    print(f"{n:<12} wall median {statistics.median(w):7.1f} ms (min {min(w):6.1f})   cpu median {statistics.median(c):7.1f} ms   n={len(w)}")
