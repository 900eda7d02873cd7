#!/usr/bin/env python3
"""run.py - times `dmarcstat report` and `dmarcstat explain` over a database made by gen.py.

    DMARCSTAT=build/cli/dmarcstat python3 bench/report/run.py bench/out/r10m.db [RUNS]

Each command runs RUNS times (default 5) after one warm-up run; the table shows the median and
the worst wall time.  The goal (issue 5): every command under 1 second over 10,000,000 records.
The period is the last week of gen.py's year (2026-10-25 to 2026-10-31).
"""
import os
import statistics
import subprocess
import sys
import time

DMARCSTAT = os.environ.get("DMARCSTAT", "build/cli/dmarcstat")
PERIOD = ["--from", "2026-10-25", "--to", "2026-11-01"]
COMMANDS = [
    ("report text (7 days)", ["report"] + PERIOD),
    ("report json (7 days)", ["report", "--format", "json"] + PERIOD),
    ("report html (7 days)", ["report", "--format", "html"] + PERIOD),
    ("report csv sources (7 days)", ["report", "--format", "csv", "--table", "sources"] + PERIOD),
    ("report --reporter Yahoo", ["report", "--reporter", "Yahoo"] + PERIOD),
    ("report --by-domain (7 days)", ["report", "--by-domain"] + PERIOD),
    ("report --by service (7 days)", ["report", "--by", "service"] + PERIOD),
    ("report --last 30d", ["report", "--last", "30d", "--now", "2026-11-01"]),
    ("explain --ip (one address)", ["explain", "--ip", "198.18.3.7"] + PERIOD),
    ("explain --ip /24 --reporter", ["explain", "--ip", "198.18.5.0/24", "--reporter",
                                     "Microsoft"] + PERIOD),
    ("explain --ip /15 (every source)", ["explain", "--ip", "198.18.0.0/15"] + PERIOD),
    ("explain --ip /24 --letter", ["explain", "--ip", "198.18.5.0/24", "--letter"] + PERIOD),
]


def main():
    db = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    worst_all = 0.0
    print(f"{'command':<34} {'median':>8} {'worst':>8} {'output':>10}")
    for name, args in COMMANDS:
        times = []
        size = 0
        for i in range(runs + 1):
            t = time.perf_counter()
            p = subprocess.run([DMARCSTAT] + args + ["--db", db], capture_output=True)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                print(f"{name}: exit {p.returncode}: {p.stderr.decode()}")
                return 1
            size = len(p.stdout)
            if i > 0:
                times.append(dt)
        worst_all = max(worst_all, max(times))
        print(f"{name:<34} {statistics.median(times):7.3f}s {max(times):7.3f}s {size:>9,}B")
    print(f"worst of all: {worst_all:.3f} s ({'under' if worst_all < 1 else 'OVER'} 1 s)")
    return 0 if worst_all < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
