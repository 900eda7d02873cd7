#!/usr/bin/env python3
"""Ingest and mailbox benchmarks (issues: ingest into SQLite, mailbox ingestion).

usage: bench/bench_ingest.py [BUILD_DIR] [--quick]

1. 10,000 generated reports (mixed xml/gz/zip, 1-50 records): `parse` (parse-only) vs `ingest`.
2. One 1,000,000-record report: `parse` vs `ingest`.
3. A Maildir of 10,000 report mails: first ingest, second ingest (everything already seen), and
   the same reports as plain attachment files for comparison.
Prints wall time, reports/s, records/s, MB/s and peak RSS (getrusage of the child) for each.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
QUICK = "--quick" in sys.argv
BUILD = args[0] if args else os.path.join(HERE, "..", "build")
BIN = os.path.join(BUILD, "cli", "dmarcstat")
N_FILES = 1000 if QUICK else 10000
BIG = 100000 if QUICK else 1000000


def run(cmd, stdout=subprocess.DEVNULL):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    out = p.stdout.read() if stdout == subprocess.PIPE else b""
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{cmd} failed ({code}): {err.decode()[:500]}")
    return dt, ru.ru_maxrss / 1024.0, out, ru.ru_utime + ru.ru_stime


def size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def line(label, dt, rss, reports, records, nbytes, cpu):
    """cpu: user + system time of every thread (ingest stores a big report on a second one)."""
    print(f"{label:<34} {dt:8.2f} s {reports / dt:10.0f} reports/s {records / dt:11.0f} rec/s "
          f"{nbytes / dt / 1e6:7.1f} MB/s  peak RSS {rss:6.1f} MiB  CPU {cpu:6.2f} s")


def ingest(db, path):
    dt, rss, out, cpu = run([BIN, "ingest", "--json", "--db", db, path], stdout=subprocess.PIPE)
    return dt, rss, json.loads(out), cpu


def bench_pair(label, path, tmp):
    nbytes = size(path)
    dt_p, rss_p, _, cpu_p = run([BIN, "parse", path])
    dt_i, rss_i, s, cpu_i = ingest(os.path.join(tmp, label + ".db"), path)
    line(f"{label}: parse only", dt_p, rss_p, s["reports"], s["records"], nbytes, cpu_p)
    line(f"{label}: ingest", dt_i, rss_i, s["reports"], s["records"], nbytes, cpu_i)
    print(f"{'':<34} ingest/parse-only speed: {dt_p / dt_i:.2f}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        files = os.path.join(tmp, "files")
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen.py"), "files", files,
                               str(N_FILES)])
        bench_pair(f"{N_FILES} files", files, tmp)
        big = os.path.join(tmp, "big.xml.gz")
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen.py"), "big", big, str(BIG)])
        bench_pair(f"{BIG}-record report", big, tmp)
        md, flat = os.path.join(tmp, "Maildir"), os.path.join(tmp, "flat")
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen.py"), "maildir", md,
                               str(N_FILES)])
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen.py"), "flat", flat,
                               str(N_FILES)])
        dt_f, rss_f, s, cpu = ingest(os.path.join(tmp, "flat.db"), flat)
        line(f"{N_FILES} attachments as files", dt_f, rss_f, s["reports"], s["records"], size(flat),
             cpu)
        db = os.path.join(tmp, "maildir.db")
        dt1, rss1, s1, cpu = ingest(db, md)
        line(f"Maildir {N_FILES} mails, 1st run", dt1, rss1, s1["reports"], s1["records"], size(md),
             cpu)
        dt2, rss2, s2, _ = ingest(db, md)
        print(f"{'Maildir, 2nd run (all seen)':<34} {dt2:8.2f} s  stored {s2['reports']} reports, "
              f"{s2['seen']} of {s2['files']} mails skipped as seen, peak RSS {rss2:.1f} MiB")
        print(f"{'':<34} 1st Maildir run / plain files: {dt1 / dt_f:.2f}x")


main()
