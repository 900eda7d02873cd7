"""Mail sources end to end (issue: mailbox ingestion); the corpus's mails are in
test_corpus_mailbox.py.

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
    """A mail piped in (an MTA alias) stores what the same mail given by path stores."""
    path = os.path.join(DATA, "zip_attachment.eml")
    ingest(os.path.join(tmp, "path.db"), path)
    want = totals(os.path.join(tmp, "path.db"))
    check(want[0] > 0, f"stdin: the mail given by path stored nothing: {want}")
    db = os.path.join(tmp, "stdin.db")
    with open(path, "rb") as f:
        rc, s, err = ingest(db, "-", stdin=f.read())
    check(rc == 0, f"stdin: exit {rc}: {err[:300]!r}")
    check(totals(db) == want, f"stdin: stored {totals(db)}, by path {want}")
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
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_move_to_and_failed_to, test_stdin, test_malformed, test_huge_mail):
            d = os.path.join(tmp, t.__name__)
            os.makedirs(d)
            t(d)
    tally.finish()


if __name__ == "__main__":
    main()
