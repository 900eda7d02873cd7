"""The hostile-input catalogue (tests/hostile/gen.py, issue 6) through `dmarcstat ingest` and
`dmarcstat parse`.

Each case runs in a fresh database as a batch: [earlier file,] the hostile file, one good report.
For each: the expected outcome (stored with the named fix-ups, a duplicate, skipped as not a report
with the named reason, or quarantined with the named reason in `quarantine list --json`), a message naming the file and the cause, the good file
stored, no sanitizer report, peak RSS of the child under 64 MiB (wait4) and a time bound.  XXE and
external DTDs point at a local listener that must never see a connection.

Then the findings of issue 17 (tests/hostile/findings.py): lost bytes, sums, Maildir moves,
races, caps on raw input, terminal escapes, foreign databases; each a check of its own.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_hostile.py [CASE-OR-FINDING...]
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import findings  # noqa: E402
import gen  # noqa: E402
import harness  # noqa: E402
from harness import Tally, run  # noqa: E402


def bounds(res, what, limit_s):
    p = []
    if res.timed_out:
        p.append(f"{what}: killed after {limit_s * harness.SLOW} s (time bound)")
    elif res.seconds > limit_s * harness.SLOW:
        p.append(f"{what}: took {res.seconds:.1f} s, bound {limit_s * harness.SLOW} s")
    if res.rss_mib > harness.RSS_MIB:
        p.append(f"{what}: peak RSS {res.rss_mib:.1f} MiB, bound {harness.RSS_MIB} MiB")
    if res.rc < 0:
        p.append(f"{what}: killed by signal {-res.rc}")
    if harness.sanitizer_report(res.err):
        p.append(f"{what}: sanitizer report: {harness.sanitizer_lines(res.err)}")
    return p


def parse_reports(path, file, big):
    """The parse JSON objects of the hostile file; for huge output only a light summary."""
    reps, good = [], 0
    if big:
        # One JSON line of ~250 MB: read the head for the report fields, count records.
        with open(path, "rb") as f:
            head = f.read(65536).decode("utf-8", "replace")
            f.seek(0)
            # Records of the first line (the hostile file) only.
            n, tail, pat = 0, b"", b'"source_ip":'
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                data = tail + chunk
                end = data.find(b"\n")
                if end >= 0:
                    n += data[:end].count(pat)
                    break
                n += data.count(pat)
                tail = data[-(len(pat) - 1):]
        m = re.search(r'"fixups":\[([^\]]*)\]', head)
        fix = json.loads("[" + m.group(1) + "]") if m else None
        return [{"fixups": fix, "n_records": n, "light": True}], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                reps.append({"unparsable_line": line[:200]})
                continue
            if o.get("report_id") == "good-1":
                good += 1
            elif os.path.basename((o.get("source") or {}).get("file") or "") == file:
                reps.append(o)
    return reps, good


def quarantine_rows(db, cwd):
    res = run(["quarantine", "--db", db, "list", "--all", "--json"], timeout=30, cwd=cwd)
    try:
        return json.loads(res.out), res
    except ValueError:
        return None, res


def db_reports(db, exclude=("good-1",)):
    with harness.connect(db) as con:
        rows = con.execute("SELECT report_id, fixups, record_count, message_count, member "
                           "FROM report").fetchall()
    return [r for r in rows if r[0] not in exclude]


def good_stored(db):
    with harness.connect(db) as con:
        got = con.execute("SELECT record_count, message_count FROM report "
                          "WHERE report_id = 'good-1'").fetchall()
    want = [(gen.GOOD_RECORDS, gen.GOOD_MESSAGES)]
    return [] if got == want else [f"good file of the batch: stored {got}, expected {want}"]


def cause_in(text, causes):
    return any(c.lower() in text.lower() for c in causes)


def check_quarantined(c, path, db, ing, par, par_reps, cwd):
    e, p = c.expect, []
    if ing.rc != 1:
        p.append(f"ingest exit {ing.rc}, expected 1 (quarantined); stderr {ing.err[-300:]!r}")
    if c.file not in ing.err or not cause_in(ing.err, e["cause"]):
        p.append(f"ingest message does not name the file and one of {e['cause']}: "
                 f"{ing.err[-400:]!r}")
    rows, qres = quarantine_rows(db, cwd)
    if rows is None:
        p.append(f"quarantine list --json failed (exit {qres.rc}): {qres.err[-300:]!r}")
    else:
        mine = [r for r in rows if os.path.basename(r.get("path") or "") == c.file]
        if not any(r.get("reason") == e["reason"] and cause_in(r.get("message") or "", e["cause"])
                   for r in mine):
            p.append(f"no quarantine entry with reason {e['reason']!r} and a message naming "
                     f"one of {e['cause']}: {[(r.get('reason'), r.get('message')) for r in mine]}")
        if len(mine) > e.get("max_quarantined", len(mine)):
            p.append(f"{len(mine)} quarantine entries for one file (cap "
                     f"{e['max_quarantined']})")
    stored = db_reports(db)
    if stored:
        p.append(f"reports of the hostile file were stored: {stored[:3]}")
    if par.rc != 1:
        p.append(f"parse exit {par.rc}, expected 1")
    if c.file not in par.err or not cause_in(par.err, e["cause"]):
        p.append(f"parse message does not name the file and one of {e['cause']}: "
                 f"{par.err[-400:]!r}")
    if par_reps:
        p.append(f"parse printed {len(par_reps)} report(s) of the hostile file")
    never = e.get("never")
    if never:
        with harness.connect(db) as con:
            dump = "\n".join(con.iterdump())
        if never in dump or never in open(par.out, errors="replace").read():
            p.append(f"{never!r} leaked into the output or the database")
    return p


def fixups_of(value):
    if value is None:
        return set()
    v = json.loads(value)
    return set(v.keys() if isinstance(v, dict) else v)


def check_stored(c, path, db, ing, par, par_reps, cwd):
    e, p = c.expect, []
    summary = ing.json()
    also = e.get("also")
    if ing.rc != (1 if also else 0):
        p.append(f"ingest exit {ing.rc}, expected {1 if also else 0}; stderr {ing.err[-400:]!r}")
    if summary is None or summary.get("quarantined") != (1 if also else 0):
        p.append(f"ingest summary {summary}: expected {1 if also else 0} quarantined")
    if also:
        rows, _ = quarantine_rows(db, cwd)
        if not rows or [r.get("reason") for r in rows] != [also["reason"]] \
                or not cause_in(rows[0].get("message") or "", also["cause"]):
            p.append(f"quarantine {rows}: expected one entry {also}")
    rows = db_reports(db)
    want_n = e.get("reports", 1)
    if len(rows) != want_n:
        p.append(f"{len(rows)} reports stored, expected {want_n}")
    want_fix = set(e["fixups"])
    for rid, fix, nrec, nmsg, member in rows:
        if not want_fix <= fixups_of(fix):
            p.append(f"report {rid}: fixups {fix!r} lack {sorted(want_fix - fixups_of(fix))}")
        if "records" in e and nrec != e["records"]:
            p.append(f"report {rid}: {nrec} records stored, expected {e['records']}")
        if "messages" in e and nmsg != e["messages"]:
            p.append(f"report {rid}: message_count {nmsg}, expected {e['messages']}")
    if "members" in e and sorted(r[4] or "" for r in rows) != sorted(e["members"]):
        p.append(f"members {[r[4] for r in rows]}, expected {e['members']}")
    if par.rc != (1 if also else 0):
        p.append(f"parse exit {par.rc}, expected {1 if also else 0}; stderr {par.err[-300:]!r}")
    if len(par_reps) != want_n:
        p.append(f"parse printed {len(par_reps)} reports of the file, expected {want_n}")
    for rep in par_reps:
        got = set(rep.get("fixups") or [])
        if not want_fix <= got:
            p.append(f"parse fixups {sorted(got)} lack {sorted(want_fix - got)}")
        if rep.get("light") and rep["n_records"] != e.get("records"):
            p.append(f"parse printed {rep['n_records']} records, expected {e['records']}")
    if "check" in e and par_reps:
        p += e["check"](par_reps)
    return p


def check_skipped(c, db, ing, par, par_reps, cwd):
    e, p, summary = c.expect, [], ing.json()
    if ing.rc != 0:
        p.append(f"ingest exit {ing.rc}, expected 0 (skipped); stderr {ing.err[-300:]!r}")
    if summary is None or summary.get("skipped") != 1 or summary.get("quarantined") != 0:
        p.append(f"summary {summary}: expected 1 skipped, 0 quarantined")
    line = [x for x in ing.err.splitlines() if c.file in x]
    if not line or not cause_in(line[0], e["cause"]) or f"({e['reason']})" not in line[0]:
        p.append(f"ingest message does not name the file, one of {e['cause']} and the reason "
                 f"({e['reason']}): {ing.err[-400:]!r}")
    rows, _ = quarantine_rows(db, cwd)
    if rows:
        p.append(f"quarantined: {[(r.get('path'), r.get('reason')) for r in rows]}")
    if db_reports(db):
        p.append(f"reports stored: {db_reports(db)[:3]}")
    if par.rc != 1 or c.file not in par.err or not cause_in(par.err, e["cause"]):
        p.append(f"parse exit {par.rc} (expected 1), message {par.err[-300:]!r}")
    if par_reps:
        p.append(f"parse printed {len(par_reps)} report(s) of the file")
    return p


def check_conflict(c, db, ing, cwd):
    """Same identity, other content: the first copy stays stored, this one is quarantined
    with its bytes (anyone can mail the rua address: either may be the forgery)."""
    p, summary = [], ing.json()
    if ing.rc != 1:
        p.append(f"ingest exit {ing.rc}, expected 1 (quarantined); stderr {ing.err[-300:]!r}")
    if summary is None or summary.get("duplicates") != 1 or summary.get("conflicts") != 1 \
            or summary.get("quarantined") != 1:
        p.append(f"summary {summary}: expected 1 duplicate, 1 conflict, 1 quarantined")
    if c.file not in ing.err or "(conflict)" not in ing.err:
        p.append(f"stderr does not name the file and the conflict: {ing.err[-300:]!r}")
    rows, _ = quarantine_rows(db, cwd)
    size = os.path.getsize(os.path.join(cwd, c.file))
    if not rows or [(r.get("reason"), r.get("size"), r.get("truncated")) for r in rows] != \
            [("conflict", size, False)] or not rows[0].get("conflict_report"):
        p.append(f"quarantine {rows}: expected one conflict entry with the file's {size} bytes")
    with harness.connect(db) as con:
        got = con.execute("SELECT r.source_ip, r.count FROM record r JOIN report p "
                          "ON p.id = r.report WHERE p.report_id = 'hostile-same'").fetchall()
    if got != [("192.0.2.1", 1)]:
        p.append(f"records of the report id: {got}, expected the first file's [('192.0.2.1', 1)]")
    return p


def run_case(c, tmp, tally, listener):
    cwd = os.path.join(tmp, c.name)
    os.makedirs(cwd)
    path = os.path.join(cwd, c.file)
    good = os.path.join(cwd, "good.xml")
    # Generated in a child process: building a bomb must not raise this process's memory
    # high-water mark, which a forked child would inherit (see harness.run).
    subprocess.run([sys.executable, gen.__file__, "--port", str(listener.getsockname()[1]), cwd,
                    c.name], check=True, stdout=subprocess.DEVNULL)
    batch = [path, good]
    if c.pre:
        batch.insert(0, os.path.join(cwd, c.pre[0]))
    db = os.path.join(cwd, "case.db")
    before = set(os.listdir(cwd))
    ing = run(["ingest", "--json", "--db", db] + batch, timeout=c.limit_s * harness.SLOW, cwd=cwd)
    p = bounds(ing, "ingest", c.limit_s)
    if not ing.timed_out and ing.rc in (0, 1):
        p += good_stored(db)
    par = run(["parse", path, good], timeout=c.limit_s * harness.SLOW, cwd=cwd,
              stdout_path=os.path.join(tmp, "parse.out"))
    p += bounds(par, "parse", c.limit_s)
    par_reps, par_good = parse_reports(par.out, c.file, c.expect.get("big"))
    if par_good != 1 and not c.expect.get("big"):
        p.append(f"parse printed the good file {par_good} times, expected once")
    if not ing.timed_out and ing.rc in (0, 1):
        outcome = c.expect["outcome"]
        if outcome == "quarantined":
            p += check_quarantined(c, path, db, ing, par, par_reps, cwd)
        elif outcome == "stored":
            p += check_stored(c, path, db, ing, par, par_reps, cwd)
        elif outcome == "skipped":
            p += check_skipped(c, db, ing, par, par_reps, cwd)
        else:
            p += check_conflict(c, db, ing, cwd)
    elif not ing.timed_out:
        p.append(f"ingest exit {ing.rc}: {ing.err[-400:]!r}")
    created = set(os.listdir(cwd)) - before - {"case.db", "case.db-wal", "case.db-shm"}
    if created:
        p.append(f"files created beside the inputs: {sorted(created)}")
    for evil in (os.path.join(tmp, "evil.xml"), os.path.join(os.path.dirname(tmp), "evil.xml"),
                 "/etc/evil.xml"):
        if os.path.exists(evil):
            p.append(f"{evil} was written")
    try:
        conn, _ = listener.accept()
        conn.close()
        p.append("dmarcstat connected to the XXE/DTD listener")
    except BlockingIOError:
        pass
    tally.check(f"{c.name}: ingest {ing.seconds:.1f} s {ing.rss_mib:.1f} MiB, "
                f"parse {par.seconds:.1f} s {par.rss_mib:.1f} MiB", p)
    os.unlink(par.out)
    for name in os.listdir(cwd):
        os.unlink(os.path.join(cwd, name))
    return ing, par


def main():
    harness.need_binary()
    tally = Tally()
    only = sys.argv[1:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    print(f"bounds: peak RSS {harness.RSS_MIB} MiB, time x{harness.SLOW}"
          + (" (sanitizer build)" if harness.sanitized() else ""))
    worst = (0.0, "")
    with tempfile.TemporaryDirectory(prefix="dm-hostile-") as tmp:
        os.environ["DM_TEST_TMP"] = tmp
        for c in gen.cases(port):
            if only and c.name not in only:
                continue
            ing, par = run_case(c, tmp, tally, listener)
            for r, what in ((ing, "ingest"), (par, "parse")):
                if r.rss_mib > worst[0]:
                    worst = (r.rss_mib, f"{c.name} {what}")
        findings.run_all(tmp, tally, only)
    listener.close()
    print(f"highest peak RSS: {worst[0]:.1f} MiB ({worst[1]})")
    tally.finish()


main()
