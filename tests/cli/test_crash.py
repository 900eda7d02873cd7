"""Crash safety (issues 3 and 6): `dmarcstat ingest` killed with SIGKILL at 50 random moments.

The corpus is ../shared/corpus (when present) plus 3000 reports from bench/gen.py.  Two uninterrupted
runs into fresh databases give the reference totals (both the same) and duration (the shorter).  Then 25 rounds, each on a fresh
database: start the same ingest and SIGKILL it after a random delay within the measured duration,
start it again and SIGKILL it within half the duration (so that it dies while resuming), then
re-run it to completion: 50 kills.  After every kill PRAGMA integrity_check must be ok; after
every round the totals (reports, records, SUM(count), quarantine entries, inputs done) must equal
the reference.  DM_CRASH_SEED sets the random seed (printed) to replay a failure.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402
from harness import Tally, run  # noqa: E402

ROUNDS, KILLS = 25, 2
# Enough that a run lasts long after its start-up: the kills must land while it works.
N_GENERATED = 3000


def full_totals(db):
    with harness.connect(db) as con:
        done = con.execute("SELECT count(*) FROM input WHERE status = 'done'").fetchone()[0]
        pending = con.execute("SELECT count(*) FROM input WHERE status != 'done'").fetchone()[0]
    return harness.totals(db) + (done,), pending


def remove_db(db):
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)


def kill_once(args, delay):
    """Starts ingest, SIGKILLs it after delay s.  Returns whether it was still running then, its
    exit status, and how long it ran."""
    start = time.monotonic()
    p = subprocess.Popen([harness.DMARCSTAT] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while p.poll() is None and time.monotonic() - start < delay:
        time.sleep(min(0.002, delay))
    alive = p.poll() is None
    if alive:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return alive, p.returncode, time.monotonic() - start


def main():
    harness.need_binary()
    tally = Tally()
    seed = int(os.environ.get("DM_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"seed {seed} (DM_CRASH_SEED={seed} replays this run)")
    with tempfile.TemporaryDirectory(prefix="dm-crash-") as tmp:
        os.environ["DM_TEST_TMP"] = tmp
        gendir = os.path.join(tmp, "gen")
        harness.gen_reports(gendir, N_GENERATED)
        inputs = [gendir]
        if os.path.isdir(harness.CORPUS_DIR):
            inputs.append(harness.CORPUS_DIR)
        else:
            print(f"corpus {harness.CORPUS_DIR!r} not found: generated reports only")
        ref_db = os.path.join(tmp, "ref.db")
        ref = run(["ingest", "--quiet", "--db", ref_db] + inputs, timeout=120 * harness.SLOW)
        want, _ = full_totals(ref_db)
        # The first run pays for cold caches; the kills are timed on the faster of two.
        again_db = os.path.join(tmp, "again.db")
        again = run(["ingest", "--quiet", "--db", again_db] + inputs, timeout=120 * harness.SLOW)
        duration = min(ref.seconds, again.seconds)
        print(f"uninterrupted: {ref.seconds:.2f} s and {again.seconds:.2f} s, exit {ref.rc}, "
              f"peak RSS {ref.rss_mib:.1f} MiB, totals (reports, records, messages, quarantined, "
              f"inputs) {want}")
        problems = [] if ref.rc in (0, 1) else [f"exit {ref.rc}: {ref.err[-400:]!r}"]
        if full_totals(again_db)[0] != want:
            problems.append(f"a second run gave {full_totals(again_db)[0]}")
        if not tally.check("uninterrupted runs", problems):
            tally.finish()
        db = os.path.join(tmp, "crash.db")
        args = ["ingest", "--quiet", "--db", db] + inputs
        interrupted = mid_write = 0
        for rnd in range(ROUNDS):
            remove_db(db)
            problems = []
            for k in range(KILLS):
                delay = rng.uniform(0, duration / (k + 1))
                alive, rc, took = kill_once(args, delay)
                interrupted += alive
                if k == 0 and not alive:
                    duration = min(duration, took)  # a whole run, faster than measured
                if alive and os.path.exists(db + "-wal") and os.path.getsize(db + "-wal") > 0:
                    mid_write += 1
                if not alive and rc not in (0, 1):
                    problems.append(f"kill {k}: run ended by itself with exit {rc}")
                if os.path.exists(db):
                    ok = harness.integrity(db)
                    if ok != "ok":
                        problems.append(f"kill {k} after {delay:.3f} s: integrity_check {ok!r}")
            fin = run(args, timeout=120 * harness.SLOW)
            if fin.rc not in (0, 1):
                problems.append(f"re-run exit {fin.rc}: {fin.err[-400:]!r}")
            ok = harness.integrity(db)
            got, pending = full_totals(db)
            if ok != "ok":
                problems.append(f"integrity_check after the re-run: {ok!r}")
            if got != want:
                problems.append(f"totals {got}, uninterrupted run {want}")
            if pending:
                problems.append(f"{pending} inputs still pending after the re-run")
            tally.check(f"round {rnd + 1}: {KILLS} kills then re-run", problems)
        print(f"{interrupted} of {ROUNDS * KILLS} kills hit a running ingest "
              f"(the others found it finished); {mid_write} left a non-empty WAL behind")
        tally.check("at least 30 of the kills interrupted a running ingest",
                    [] if interrupted >= 30 else f"only {interrupted}: the corpus is too small")
    tally.finish()


main()
