"""Mail sources over the corpus: every aggregate `eml` of the corpus, assembled by this test into
an mbox and into a Maildir, stores the same records and messages as the mails one by one; a second
run stores nothing.  Skipped (77) without the corpus."""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402
from test_mailbox import check, ingest, tally, totals  # noqa: E402


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


def main():
    corpus.rows()  # exits SKIPPED when the corpus is missing
    with tempfile.TemporaryDirectory() as tmp:
        test_mbox_and_maildir(tmp)
    tally.finish()


main()
