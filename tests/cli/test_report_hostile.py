"""`dmarcstat report` and `explain` against hostile reports and careless use (issue 17's report
items): a source whose failures count no message, an address spelt another way, `-o` over an
existing file, and more below.  Each check reproduces the finding it guards.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_hostile.py
"""
import os
import stat
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import harness  # noqa: E402
from harness import Tally  # noqa: E402
from reportxml import ingest, record, report  # noqa: E402
from test_report_golden import PERIOD, run, sample_db  # noqa: E402

def zero_count_source(t, tmp):
    """Issue 17.3: an IP whose only failing records count 0 or an invalid count crashed explain
    (NULL dereference) and was listed by report with cause "pass" and an empty "ISPs:"."""
    db = os.path.join(tmp, "zero.db")
    soft = [("example.com", "softfail")]
    ingest(db, tmp, [report("google.com", "z1", [
        record("192.0.2.10", 10, "none", "pass", "pass"),
        record("198.51.100.77", 0, spf_auth=soft),
        record("198.51.100.77", None, spf_auth=soft),
        record("198.51.100.77", "-4", spf_auth=soft)])])
    rc, out, err = run(["explain", "--db", db, "--ip", "198.51.100.77"] + PERIOD)
    text = out.decode(errors="replace")
    t.check("explain of a source whose failures count no message", [
        f"exit {rc}: {err}" if rc != 0 else "",
        "" if "Cause: spf_fail" in text else f"no cause in {text!r}"])
    rc, out, err = run(["report", "--db", db] + PERIOD)
    text = out.decode(errors="replace")
    t.check("report does not list a failing source of no message", [
        f"exit {rc}: {err}" if rc != 0 else "",
        "listed" if "198.51.100.77" in text.split("New sending sources")[0] else ""])


def mapped_address(t, db):
    """Issue 17.17: `explain --ip ::ffff:198.51.100.20` found nothing although ingest stores the
    address as 198.51.100.20; every spelling of an address (or range) must find it."""
    rc, want, err = run(["explain", "--db", db, "--ip", "198.51.100.20"] + PERIOD)
    body = want.split(b"\n", 1)[1]
    for spelling in ("::ffff:198.51.100.20", "::FFFF:C633:6414", "198.051.100.020"):
        rc, out, err = run(["explain", "--db", db, "--ip", spelling] + PERIOD)
        t.check(f"explain --ip {spelling} finds 198.51.100.20", [
            f"exit {rc}: {err}" if rc != 0 else "",
            "" if out.split(b"\n", 1)[1] == body and b"198.51.100.20" in body
            else f"differs: {out[:300]!r}"])
    rc, out, err = run(["explain", "--db", db, "--ip", "::ffff:198.51.100.0/120"] + PERIOD)
    t.check("explain --ip ::ffff:198.51.100.0/120 is 198.51.100.0/24",
            "" if rc == 0 and b"198.51.100.21" in out else f"exit {rc}: {out[:300]!r} {err}")


def output_file(t, db, tmp):
    """Issue 17.16: `report -o FILE` truncated FILE before the report was built, so a failing
    report (a bad --table) left 0 bytes.  FILE is now replaced only by a whole report."""
    path = os.path.join(tmp, "week.csv")
    with open(path, "w") as f:
        f.write("last week's report\n")
    os.chmod(path, 0o640)
    rc, out, err = run(["report", "--db", db, "--format", "csv", "--table", "nope", "-o", path]
                       + PERIOD)
    with open(path) as f:
        kept = f.read()
    t.check("a failed report -o FILE leaves FILE as it was", [
        "" if rc == 2 else f"exit {rc}",
        "" if kept == "last week's report\n" else f"FILE now holds {kept[:80]!r}",
        "" if sorted(os.listdir(tmp)).count("week.csv") == 1 and
        not [n for n in os.listdir(tmp) if n.startswith(".week.csv.")] else
        f"left behind: {os.listdir(tmp)}"])
    rc, out, err = run(["report", "--db", db, "--format", "csv", "--table", "isps", "-o", path]
                       + PERIOD)
    with open(path) as f:
        new = f.read()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    t.check("report -o FILE replaces FILE whole, keeping its mode", [
        "" if rc == 0 else f"exit {rc}: {err}",
        "" if new.startswith("isp,") else f"FILE holds {new[:80]!r}",
        "" if mode == 0o640 else f"mode {mode:o}",
        "" if not [n for n in os.listdir(tmp) if n.startswith(".week.csv.")] else
        f"left behind: {os.listdir(tmp)}"])
    fresh = os.path.join(tmp, "fresh.txt")
    old = os.umask(0o027)
    try:
        rc, out, err = run(["report", "--db", db, "-o", fresh] + PERIOD)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(fresh).st_mode) if os.path.exists(fresh) else None
    t.check("report -o NEW creates it with the umask's mode",
            "" if rc == 0 and mode == 0o640 else f"exit {rc}, mode {mode}: {err}")
    rc, out, err = run(["report", "--db", db, "-o", "/dev/null"] + PERIOD)
    t.check("report -o /dev/null (not a regular file) is written directly",
            "" if rc == 0 and err == "" else f"exit {rc}: {err}")


def main():
    harness.need_binary()
    t = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        db = sample_db(tmp)
        zero_count_source(t, tmp)
        mapped_address(t, db)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        output_file(t, db, out)
    t.finish()


if __name__ == "__main__":
    main()
