"""Mail sources end to end (issue: mailbox ingestion).

- every aggregate `eml` of the corpus, assembled by this test into an mbox and into a Maildir,
  stores the same records and messages as the mails one by one; a second run stores nothing;
- --move-to / --failed-to move each Maildir message after its reports are committed;
- standard input takes a mail piped in, as from an MTA alias;
- malformed mails give a clear message naming the mail and the cause.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import corpus  # noqa: E402
import harness  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
tally = harness.Tally()
check = tally.expect
DATA = os.path.join(os.environ["DM_TEST_DATA_DIR"], "mail")


def ingest(db, *args, stdin=None):
    res = subprocess.run([DMARCSTAT, "ingest", "--json", "--db", db, *args], input=stdin,
                         capture_output=True, timeout=300)
    out = res.stdout.decode()
    return res.returncode, (json.loads(out) if out.strip() else None), res.stderr.decode()


def totals(db):
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*), ifnull(sum(count), 0) FROM record").fetchone()


def reports(db):
    with sqlite3.connect(db) as con:
        return con.execute("SELECT ifnull(org_name,''), ifnull(report_id,''), ifnull(domain,''),"
                           " ifnull(begin,-1), ifnull(\"end\",-1), anchor IS NOT NULL,"
                           " record_count, message_count FROM report").fetchall()


def message_body(path):
    """A corpus mail as one mbox message: without its own 'From ' line or leading blank lines."""
    with open(path, "rb") as f:
        lines = f.read().replace(b"\r\n", b"\n").split(b"\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith(b"From "):
        lines.pop(0)
    return lines


def mbox_message(lines):
    """mboxrd: a 'From ' line (and one already quoted) in the body gets one more '>'."""
    out = [b"From dmarcstat-test Thu Nov 26 00:00:00 2026"]
    for line in lines:
        stripped = line.lstrip(b">")
        out.append(b">" + line if stripped.startswith(b"From ") else line)
    return b"\n".join(out).rstrip(b"\n") + b"\n\n"


def expected_totals(rows, tmp):
    """Each mail alone into a fresh database; a report met again (same identity) counts once."""
    seen, records, messages = set(), 0, 0
    for i, row in enumerate(rows):
        db = os.path.join(tmp, f"one{i}.db")
        ingest(db, corpus.path(row))
        for r in reports(db):
            key = r[:5] if not r[5] else (row["file"],) + r[:5]
            if key in seen:
                continue
            seen.add(key)
            records += r[6]
            messages += r[7]
    return records, messages


def test_mbox_and_maildir(tmp):
    rows = [r for r in corpus.rows() if r["container"] == "eml" and r["kind"] == "aggregate"]
    rows.sort(key=lambda r: r["file"])
    want = expected_totals(rows, tmp)
    check(want[0] > 0, f"the corpus has aggregate mails: {want}")
    mbox = os.path.join(tmp, "reports.mbox")
    maildir = os.path.join(tmp, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub))
    with open(mbox, "wb") as f:
        for i, row in enumerate(rows):
            lines = message_body(corpus.path(row))
            f.write(mbox_message(lines))
            box = "new" if i % 2 else "cur"
            name = f"17000{i:05d}.M{i}P1.test" + (":2,S" if box == "cur" else "")
            with open(os.path.join(maildir, box, name), "wb") as m:
                m.write(b"\n".join(lines))
    for what, path in (("mbox", mbox), ("Maildir", maildir)):
        db = os.path.join(tmp, what + ".db")
        rc, s, err = ingest(db, path)
        check(rc == 0 and s is not None, f"{what}: exit {rc}: {err[:300]!r}")
        check(s is not None and s["files"] == len(rows), f"{what}: {s and s['files']} messages, want {len(rows)}")
        check(totals(db) == want, f"{what}: stored {totals(db)}, one by one {want}")
        with sqlite3.connect(db) as con:
            ids = con.execute("SELECT count(*) FROM input WHERE message_id IS NOT NULL").fetchone()[0]
        check(ids > 0, f"{what}: Message-IDs kept as provenance ({ids})")
        rc, s2, _ = ingest(db, path)
        check(rc == 0 and s2["reports"] == 0 and s2["seen"] == len(rows),
              f"{what}: second run stored something: {s2}")
        check(totals(db) == want, f"{what}: second run changed the totals")


def test_move_to_and_failed_to(tmp):
    src, done, failed = (os.path.join(tmp, d) for d in ("in", "done", "failed"))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(src, sub))
    mails = {"1.M1P1.t": "zip_attachment.eml", "2.M2P1.t": "gzip_octet_stream.eml",
             "3.M3P1.t": "truncated.eml", "4.M4P1.t": "forensic.eml"}
    for name, fixture in mails.items():
        shutil.copy(os.path.join(DATA, fixture), os.path.join(src, "new", name))
    db = os.path.join(tmp, "move.db")
    rc, s, err = ingest(db, "--move-to", done, "--failed-to", failed, src)
    check(rc == 1, f"move: exit {rc} (a mail was quarantined), {err[:300]!r}")
    left = sorted(os.listdir(os.path.join(src, "new")) + os.listdir(os.path.join(src, "cur")))
    check(left == [], f"move: left in the source Maildir: {left}")
    moved = sorted(os.listdir(os.path.join(done, "cur")))
    check(moved == ["1.M1P1.t", "2.M2P1.t", "4.M4P1.t"], f"move: in --move-to: {moved}")
    bad = sorted(os.listdir(os.path.join(failed, "cur")))
    check(bad == ["3.M3P1.t"], f"move: in --failed-to: {bad}")
    # The zip and the gzip fixtures carry the same report: stored once, then a duplicate.
    check(s is not None and s["reports"] == 1 and s["duplicates"] == 1 and
          s["quarantined"] == 1 and s["skipped"] == 1, f"move: summary {s}")
    # Reports of the moved mails are in the database (committed before the move).
    check(totals(db)[0] > 0, "move: no records stored")
    # Without --failed-to a failing mail stays where it is.
    src2 = os.path.join(tmp, "in2")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(src2, sub))
    shutil.copy(os.path.join(DATA, "truncated.eml"), os.path.join(src2, "new", "5.M5P1.t"))
    shutil.copy(os.path.join(DATA, "zip_attachment.eml"), os.path.join(src2, "new", "6.M6P1.t"))
    rc, s, _ = ingest(os.path.join(tmp, "move2.db"), "--move-to", done, src2)
    check(os.listdir(os.path.join(src2, "new")) == ["5.M5P1.t"],
          f"move: a failed mail left in place: {os.listdir(os.path.join(src2, 'new'))}")


def test_stdin(tmp):
    rows = [r for r in corpus.rows() if r["container"] == "eml" and r["kind"] == "aggregate"]
    row = next(r for r in rows if int(r["record_count"]) > 1)
    db = os.path.join(tmp, "stdin.db")
    with open(corpus.path(row), "rb") as f:
        rc, s, err = ingest(db, "-", stdin=f.read())
    check(rc == 0, f"stdin: exit {rc}: {err[:300]!r}")
    check(totals(db) == corpus.ints(row), f"stdin: stored {totals(db)}, manifest {corpus.ints(row)}")
    with sqlite3.connect(db) as con:
        path = con.execute("SELECT path FROM input").fetchone()[0]
    check(path == "-", f"stdin: input path {path!r}")


def test_malformed(tmp):
    cases = {"missing_boundary.eml": "mime_malformed", "truncated.eml": "mime_truncated",
             "bad_base64.eml": "gzip_corrupt"}
    for fixture, reason in cases.items():
        db = os.path.join(tmp, "bad-" + fixture + ".db")
        path = os.path.join(DATA, fixture)
        rc, s, err = ingest(db, path)
        check(rc == 1 and path in err and f"({reason})" in err,
              f"{fixture}: exit {rc}, message {err.strip()[:300]!r}, want reason {reason}")
        with sqlite3.connect(db) as con:
            got = con.execute("SELECT reason FROM quarantine").fetchall()
        check(got == [(reason,)], f"{fixture}: quarantine {got}")


def test_huge_mail(tmp):
    """A 200 MiB mail: refused by the message cap, with bounded memory (GNU time's peak RSS)."""
    path = os.path.join(tmp, "huge.eml")
    line = b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
    with open(path, "wb") as f:
        f.write(b"From: a@example.net\nTo: b@example.com\nSubject: huge\nMIME-Version: 1.0\n"
                b"Content-Type: multipart/mixed; boundary=\"B\"\n\n--B\n"
                b"Content-Type: application/zip; name=\"r.zip\"\n"
                b"Content-Transfer-Encoding: base64\n\n")
        chunk = line * 4096
        for _ in range(200 * 1024 * 1024 // len(chunk)):
            f.write(chunk)
        f.write(b"--B--\n")
    rss = os.path.join(tmp, "rss")
    timer = ["/usr/bin/time", "-f", "%M", "-o", rss] if os.path.exists("/usr/bin/time") else []
    res = subprocess.run(timer + [DMARCSTAT, "ingest", "--db", os.path.join(tmp, "h.db"), path],
                         capture_output=True, timeout=120)
    err = res.stderr.decode()
    check(res.returncode == 1 and "message larger than 100 MiB (DM_MAX_MESSAGE_BYTES)" in err
          and path in err, f"huge mail: exit {res.returncode} {err[:300]!r}")
    if timer:
        kib = int(open(rss).read().split()[-1])
        # The bound of the release build; sanitizers' shadow memory is held to 1 GiB.
        with open(DMARCSTAT, "rb") as f:
            bound = 1024 if b"__asan_init" in f.read() else 64
        check(kib < bound * 1024, f"huge mail: peak RSS {kib} KiB, bound {bound} MiB")
    os.unlink(path)


def main():
    corpus.rows()  # exits 0 with a note when the corpus is missing
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_mbox_and_maildir, test_move_to_and_failed_to, test_stdin, test_malformed,
                  test_huge_mail):
            d = os.path.join(tmp, t.__name__)
            os.makedirs(d)
            t(d)
    tally.finish()


main()
