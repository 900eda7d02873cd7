"""Concurrency (issues 3 and 6): several `dmarcstat ingest` processes and a reader on one database.

2000 reports from bench/gen.py.  The reference is one process ingesting all of them.  Then, three
times each, on a fresh database:
  - 4 ingest processes at once, each given 3/4 of the files (every file goes to 3 of them), while a
    reader queries the database in a loop (`dmarcstat report` when it works, else SQL reads);
  - the issue-3 case: 2 ingest processes at once on the same files.
Every process must exit 0, every reader query succeed, and the totals (reports, records,
SUM(count)) equal the reference; the processes' JSON summaries must add up to the same numbers
(each report stored by exactly one process, the others count it as a duplicate or skip the file).
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402
from harness import Tally, run  # noqa: E402

N_FILES, REPEAT = 2000, 3


def reader_cmd(db):
    """The `dmarcstat report` command line if the command works on db, else None."""
    res = run(["report", "--db", db, "--format", "json"], timeout=60 * harness.SLOW)
    return ["report", "--db", db, "--format", "json"] if res.rc == 0 else None


class Reader(threading.Thread):
    def __init__(self, db, use_report):
        super().__init__()
        self.db, self.use_report = db, use_report
        self.stop = threading.Event()
        self.queries, self.errors = 0, []

    def run(self):
        while not self.stop.is_set():
            # Each pause ends at once when the test stops the reader (an event, not a time).
            if not os.path.exists(self.db):
                self.stop.wait(0.01)
                continue
            try:
                if self.use_report:
                    res = run(["report", "--db", self.db, "--format", "json"],
                              timeout=60 * harness.SLOW)
                    if res.rc != 0 and "(no such table: rollup_daily)" in res.err:
                        # The first ingest has made the file, not the schema yet; report
                        # only reads, it never creates a schema.
                        self.stop.wait(0.01)
                        continue
                    if res.rc != 0:
                        self.errors.append(f"report exit {res.rc}: {res.err[-200:]!r}")
                else:
                    with harness.connect(self.db) as con:
                        con.execute("SELECT count(*), sum(count) FROM record").fetchone()
                        con.execute("SELECT * FROM v_reporter_disposition").fetchall()
                self.queries += 1
            except Exception as e:  # noqa: BLE001 - every failure of a reader is a finding
                msg = str(e)
                if "no such table" in msg or "no such view" in msg:
                    continue  # the schema is not created yet
                self.errors.append(f"reader: {msg}")
            self.stop.wait(0.02)


def concurrent(db, subsets, use_report):
    """Runs one ingest per subset at once with a reader; returns (problems, summaries)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    reader = Reader(db, use_report)
    reader.start()
    procs = [subprocess.Popen([harness.DMARCSTAT, "ingest", "--json", "--quiet", "--db", db]
                              + s, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for s in subsets]
    problems, summaries = [], []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300 * harness.SLOW)
        if p.returncode != 0:
            problems.append(f"process {i} exit {p.returncode}: {err.decode()[-400:]!r}")
        try:
            summaries.append(json.loads(out))
        except ValueError:
            problems.append(f"process {i}: no JSON summary: {out[:200]!r}")
    reader.stop.set()
    reader.join()
    problems += reader.errors[:5]
    if reader.queries == 0:
        problems.append("the reader never ran a query")
    return problems, summaries, reader.queries


def check_totals(db, want, summaries):
    p = []
    got = harness.totals(db)
    if got != want:
        p.append(f"totals (reports, records, messages, quarantined) {got}, single process {want}")
    ok = harness.integrity(db)
    if ok != "ok":
        p.append(f"integrity_check {ok!r}")
    stored = tuple(sum(s.get(k, 0) for s in summaries) for k in ("reports", "records", "messages"))
    if stored != want[:3]:
        p.append(f"the processes' summaries add up to {stored} stored, expected {want[:3]}")
    return p


def main():
    harness.need_binary()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="dm-conc-") as tmp:
        os.environ["DM_TEST_TMP"] = tmp
        gendir = os.path.join(tmp, "gen")
        harness.gen_reports(gendir, N_FILES)
        files = sorted(os.path.join(gendir, f) for f in os.listdir(gendir))
        ref_db = os.path.join(tmp, "ref.db")
        ref = run(["ingest", "--quiet", "--db", ref_db] + files, timeout=300 * harness.SLOW)
        want = harness.totals(ref_db)
        print(f"single process: {ref.seconds:.2f} s, exit {ref.rc}, totals {want}")
        if not tally.check("single-process run", [] if ref.rc == 0 else
                           f"exit {ref.rc}: {ref.err[-400:]!r}"):
            tally.finish()
        use_report = reader_cmd(ref_db) is not None
        print("reader: " + ("dmarcstat report --format json" if use_report else
                            "SQL reads (dmarcstat report is not usable on this build)"))
        db = os.path.join(tmp, "conc.db")
        subsets4 = [[f for j, f in enumerate(files) if (j + i) % 4 != 0] for i in range(4)]
        for r in range(REPEAT):
            t0 = time.monotonic()
            p, summaries, q = concurrent(db, subsets4, use_report)
            p += check_totals(db, want, summaries) if os.path.exists(db) else ["no database"]
            tally.check(f"4 writers + reader, run {r + 1} ({time.monotonic() - t0:.2f} s, "
                        f"{q} reader queries)", p)
        for r in range(REPEAT):
            t0 = time.monotonic()
            p, summaries, q = concurrent(db, [files, files], use_report)
            p += check_totals(db, want, summaries) if os.path.exists(db) else ["no database"]
            tally.check(f"2 writers on the same files (issue 3), run {r + 1} "
                        f"({time.monotonic() - t0:.2f} s)", p)
    tally.finish()


main()
