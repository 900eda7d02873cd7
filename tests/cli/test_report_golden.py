"""Golden tests of `dmarcstat report` (every format, every CSV table) and `dmarcstat explain`
over the samples (samples/reports), byte for byte against tests/data/report/golden/.

The database is made the way users make it: `dmarcstat ingest samples/reports` into a fresh
file.  The other report tests import sample_db() and run() from here.

    DMARCSTAT=build/cli/dmarcstat DM_TEST_DATA_DIR=tests/data DM_SOURCE_DIR=. \
        python3 tests/cli/test_report_golden.py
    DM_UPDATE_GOLDEN=1 ...   rewrites the golden files (then review the diff).
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

DMARCSTAT = os.environ.get("DMARCSTAT", "build/cli/dmarcstat")
SOURCE = os.environ.get("DM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("DM_TEST_DATA_DIR", os.path.join(SOURCE, "tests", "data"))
GOLDEN = os.path.join(DATA, "report", "golden")
PERIOD = ["--from", "2026-11-01", "--to", "2026-11-08"]
TABLES = ["overview", "isps", "sources", "source_isps", "new_sources", "silent_isps", "domains",
          "daily"]


def run(args, env=None):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    # English whatever the locale of the one who runs the tests (test_i18n.py asks for others).
    e.pop("LANGUAGE", None)
    e["LC_ALL"] = "C"
    e.update(env or {})
    p = subprocess.run([DMARCSTAT] + args, capture_output=True, env=e, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def sample_db(tmp):
    """A database with the samples ingested; returns its path."""
    db = os.path.join(tmp, "samples.db")
    rc, out, err = run(["ingest", "--quiet", "--db", db, os.path.join(SOURCE, "samples",
                                                                      "reports")])
    assert rc == 0, f"ingest of the samples failed ({rc}): {err}"
    con = sqlite3.connect(db)
    have = con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'rollup_daily'").fetchone()
    if have[0] == 0:
        # rollup.sql is not registered as a migration in this build yet: apply it as the
        # store will (its last statement folds in the reports already stored).
        with open(os.path.join(SOURCE, "sql", "rollup.sql")) as f:
            con.executescript(f.read())
    con.commit()
    con.close()
    return db


def golden(path, out, tmp):
    """out against the golden file at path (rewritten instead with DM_UPDATE_GOLDEN=1): a list
    of the failure, with its diff, or an empty one."""
    if os.environ.get("DM_UPDATE_GOLDEN") == "1":
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(out)
        return []
    with open(path, "rb") as f:
        if f.read() == out:
            return []
    got = os.path.join(tmp, os.path.basename(path))
    with open(got, "wb") as f:
        f.write(out)
    diff = subprocess.run(["diff", "-u", path, got], capture_output=True, text=True,
                          errors="replace").stdout
    return [f"{os.path.basename(path)}: differs from the golden file:\n{diff[:3000]}"]


def cases():
    yield "report.txt", ["report"] + PERIOD
    yield "report.json", ["report", "--format", "json"] + PERIOD
    yield "report.html", ["report", "--format", "html"] + PERIOD
    for t in TABLES:
        yield f"report-{t}.csv", ["report", "--format", "csv", "--table", t] + PERIOD
    yield "report-all.csv", ["report", "--format", "csv"] + PERIOD
    yield "report-yahoo.txt", ["report", "--reporter", "Yahoo"] + PERIOD
    yield "report-by-domain.txt", ["report", "--by-domain"] + PERIOD
    yield "report-by-domain.json", ["report", "--by-domain", "--format", "json"] + PERIOD
    yield "report-by-domain.html", ["report", "--by-domain", "--format", "html"] + PERIOD
    yield "report-top1.txt", ["report", "--top", "1"] + PERIOD
    yield "explain-shared-ip.txt", ["explain", "--ip", "198.51.100.20"] + PERIOD
    yield "explain-letter.txt", ["explain", "--ip", "198.51.100.20", "--reporter", "Yahoo",
                                 "--letter"] + PERIOD
    yield "explain-esp.txt", ["explain", "--ip", "198.51.100.0/24", "--reporter", "yahoo"] + PERIOD
    yield "explain-forwarder.txt", ["explain", "--ip", "203.0.113.45"] + PERIOD
    yield "explain-v6.txt", ["explain", "--ip", "2001:DB8:25::10", "--reporter",
                             "Microsoft"] + PERIOD


def one_csv(db):
    """`--format csv` without --table: one CSV whose rows of each section are, column for
    column, the rows of that section's own CSV; every row carries the period."""
    import csv
    import io
    failures = []
    rc, out, err = run(["report", "--format", "csv", "--db", db] + PERIOD)
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    if rc != 0 or not rows or list(rows[0])[:3] != ["section", "period_first_day",
                                                    "period_last_day"]:
        return [f"one CSV: exit {rc} {err} header {list(rows[0]) if rows else None}"]
    for t in TABLES:
        rc, out, err = run(["report", "--format", "csv", "--table", t, "--db", db] + PERIOD)
        want = list(csv.DictReader(io.StringIO(out.decode())))
        got = [{k: r[k] for k in want[0]} for r in rows if r["section"] == t] if want else []
        if got != want or not want:
            failures.append(f"one CSV, section {t}: {len(got)} rows, not its table's "
                            f"{len(want)}")
        for r in rows:
            extra = [k for k in r if r["section"] == t and want and k not in want[0]
                     and k != "section" and r[k] != ""]
            if extra:
                failures.append(f"one CSV, section {t}: values in other columns {extra}")
                break
    periods = {(r["period_first_day"], r["period_last_day"]) for r in rows}
    if periods != {("2026-11-01", "2026-11-07")}:
        failures.append(f"one CSV: periods {periods}")
    return failures


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        db = sample_db(tmp)
        for name, args in cases():
            rc, out, err = run(args + ["--db", db])
            path = os.path.join(GOLDEN, name)
            if rc != 0:
                failures.append(f"{name}: exit {rc}: {err}")
                continue
            if name.endswith(".json"):
                try:
                    json.loads(out)
                except ValueError as e:
                    failures.append(f"{name}: not valid JSON: {e}")
            failures += golden(path, out, tmp)
        failures += one_csv(db)
    for f in failures:
        print("FAIL", f)
    print(f"{len(list(cases())) - len(failures)}/{len(list(cases()))} golden outputs match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
