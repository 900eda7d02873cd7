"""`dmarcstat ingest` over the corpus: each file alone into a fresh database stores exactly the
manifest's records and SUM(count); the whole corpus at once stores each distinct report once, and
a second run stores nothing."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
IDENTITY = ("SELECT ifnull(org_name,''), ifnull(report_id,''), ifnull(domain,''), "
            "ifnull(begin,-1), ifnull(\"end\",-1), ifnull(anchor,''), record_count FROM report")


def ingest(db, *paths):
    res = subprocess.run([DMARCSTAT, "ingest", "--json", "--db", db, *paths],
                         capture_output=True, timeout=600)
    summary = json.loads(res.stdout) if res.stdout.strip() else None
    return res.returncode, summary, res.stderr.decode("utf-8", "replace")


def stored(db):
    with sqlite3.connect(db) as con:
        n, total = con.execute("SELECT count(*), ifnull(sum(count),0) FROM record").fetchone()
        reports = con.execute(IDENTITY).fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    return n, total, reports, quarantined


def walk_order(row):
    """The walker reads folders in byte order of names, level by level."""
    return [part.encode() for part in row["file"].split("/")]


def check_one(row, tmp, identities):
    db = os.path.join(tmp, "one.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    rc, summary, err = ingest(db, corpus.path(row))
    if summary is None:
        return [f"no JSON summary (exit {rc}): {err[:300]!r}"]
    n, total, reports, quarantined = stored(db)
    for r in reports:
        identities.setdefault(r[:6], r[6])
    problems = []
    if "Sanitizer" in err or "runtime error" in err:
        problems.append("sanitizer report: " + err[:500])
    if row["kind"] == "aggregate" and (n, total) != corpus.ints(row):
        problems.append(f"stored {n}/{total}, manifest {row['record_count']}/{row['total_count']}")
    if summary["records"] != n or summary["messages"] != total:
        problems.append(f"summary {summary} disagrees with the database {n}/{total}")
    if corpus.expects_error(row):
        if row["kind"] in ("forensic", "smtp_tls"):
            if summary["skipped"] < 1 or rc != 0:
                problems.append(f"{row['kind']} not skipped: exit {rc}, {summary}")
        elif summary["quarantined"] + summary["skipped"] < 1:
            problems.append(f"not quarantined or skipped: exit {rc}, {summary}")
        if summary["quarantined"] != quarantined:
            problems.append(f"summary says {summary['quarantined']} quarantined, table has {quarantined}")
        if summary["quarantined"] > 0 and rc != 1:
            problems.append(f"exit status {rc} with quarantined inputs, expected 1")
    return problems


def main():
    failures = checked = 0
    identities = {}
    rows = [r for r in corpus.rows() if r["container"] in ("xml", "gz", "zip", "eml", "other")]
    # The same report id can come with other content (conflicts): the whole-corpus run keeps
    # the first in walk order, so the expectation is built in that order too.
    rows.sort(key=walk_order)
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            checked += 1
            problems = check_one(row, tmp, identities)
            if problems:
                failures += 1
                print(f"FAIL {row['file']}: " + "; ".join(problems))
        # The whole corpus in one run, then again.
        db = os.path.join(tmp, "all.db")
        rc, first, err = ingest(db, corpus.CORPUS)
        n, total, reports, _ = stored(db)
        want = sum(identities.values())
        checked += 1
        if first is None or n != want or len(reports) != len(identities):
            failures += 1
            print(f"FAIL whole corpus: {len(reports)} reports/{n} records stored, "
                  f"expected {len(identities)}/{want} (exit {rc}) {err[:300]!r}")
        rc2, second, _ = ingest(db, corpus.CORPUS)
        checked += 1
        n2 = stored(db)[0]
        if second is None or second["reports"] != 0 or n2 != n or second["seen"] != second["files"]:
            failures += 1
            print(f"FAIL second run stored something: {second}, records {n} -> {n2}")
        with sqlite3.connect(db) as con:
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        checked += 1
        if ok != "ok":
            failures += 1
            print(f"FAIL integrity_check: {ok}")
    print(f"{checked - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


main()
