"""`dmarcstat report` and `explain` as users run them: exit codes and messages of every usage
and database error (also SQLite failing to write its temporary file), the default period (--now), the default database ($DMARCSTAT_DB), -o, and
colour only on a terminal without NO_COLOR.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_cli.py
"""
import os
import pty
import resource
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import DMARCSTAT, GOLDEN, PERIOD, run, sample_db  # noqa: E402
from reportxml import NOV02, ingest, record, report  # noqa: E402

USAGE = [
    (["report", "--format", "xml"], "dmarcstat: unknown format 'xml': text, csv, json or html"),
    (["report", "--format", "csv", "--table", "nope"], "dmarcstat: unknown CSV table 'nope': "
     "overview, isps, sources, source_isps, new_sources, silent_isps, domains, daily, "
     "services or dns_checks"),
    (["report", "--table", "isps"], "dmarcstat: --table picks a CSV section: use it with "
     "--format csv"),
    (["report", "--last", "0d"], "dmarcstat: --last wants a number of days from 1 to 3660, "
     "such as 7d: \"0d\""),
    (["report", "--last", "7d", "--from", "2026-11-01"], "dmarcstat: --last cannot be combined "
     "with --from or --to"),
    (["report", "--from", "2026-13-01"], "dmarcstat: not a date (YYYY-MM-DD) or a Unix time: "
     "\"2026-13-01\""),
    (["report", "--from", "2026-11-08", "--to", "2026-11-01"], "dmarcstat: the period is empty: "
     "--from 2026-11-08 is not before --to 2026-11-01 (--to is exclusive: the day after the "
     "last day)"),
    (["report", "extra"], "dmarcstat: unexpected argument 'extra'"),
    (["report", "--ip", "192.0.2.1"], "dmarcstat: --ip is an option of 'dmarcstat explain'"),
    (["report", "--letter"], "dmarcstat: --letter is an option of 'dmarcstat explain'"),
    (["explain", "--by-domain"], "dmarcstat: --by-domain is an option of 'dmarcstat report'"),
    (["report", "--top", "0"], "dmarcstat: --top wants a number of rows from 1 to 1000: \"0\""),
    (["explain", "--top", "1001"], "dmarcstat: --top wants a number of rows from 1 to 1000: "
     "\"1001\""),
    (["explain", "--format", "json"], "dmarcstat: explain writes text only: --format and "
     "--table are for report"),
    (["explain", "--ip", "300.1.1.1"], "dmarcstat: not an IP address or CIDR range: 300.1.1.1"),
    (["explain", "--ip", "192.0.2.0/40"], "dmarcstat: bad prefix length in 192.0.2.0/40 (0-32)"),
]


def on_terminal(args, env):
    """Runs with stdout on a pseudo-terminal; returns the bytes written there."""
    master, slave = pty.openpty()
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env)
    p = subprocess.Popen([DMARCSTAT] + args, stdout=slave, stderr=subprocess.DEVNULL, env=e)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait()
    os.close(master)
    return out


def temp_file_fails(problems, tmp):
    """explain --letter copies the period's rows into a temporary table first (dm_query_keep);
    once the copy outgrows SQLite's cache it goes to a temporary file in $SQLITE_TMPDIR. With
    file writes capped at 64 KiB (RLIMIT_FSIZE; the database's -shm file needs 32 KiB), that
    write fails: exit 3 with SQLite's cause, nothing on stdout. The same command without the
    cap writes the letter."""
    db = os.path.join(tmp, "keep.db")
    # About 6 MB of rows to copy, three times SQLite's default cache of 2,000 KiB.
    ingest(db, tmp, [report("Yahoo", "keep-1", [
        record(f"10.0.{i >> 8 & 255}.{i & 255}", 3,
               header_from=f"customer-{i % 50:02d}.mail.example-tenant.test",
               envelope_from=f"bounces-{i % 50:02d}.esp-return-path.example.test")
        for i in range(40000)])])
    args = [DMARCSTAT, "explain", "--db", db, "--ip", "10.0.0.0/16", "--letter"] + PERIOD
    env = dict(os.environ, SQLITE_TMPDIR=tmp, LANGUAGE="", LC_ALL="C")

    def capped():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    p = subprocess.run(args, capture_output=True, env=env, preexec_fn=capped, timeout=120)
    if p.returncode != 3 or p.stdout or \
            p.stderr != b"dmarcstat: copying the rows of the period: disk I/O error\n":
        problems.append(f"explain --letter, temporary file not writable: want exit 3 and "
                        f"the copy's error, got {p.returncode}: {p.stderr!r} {p.stdout[:100]!r}")
    p = subprocess.run(args, capture_output=True, env=env, timeout=120)
    if p.returncode != 0 or b"To: the postmaster team of Yahoo" not in p.stdout:
        problems.append(f"explain --letter without the cap: {p.returncode} {p.stderr!r}")


def main():
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        db = sample_db(tmp)
        for args, msg in USAGE:
            rc, out, err = run(args + ["--db", db])
            if rc != 2 or msg not in err.splitlines():
                problems.append(f"{args}: want exit 2 and '{msg}', got {rc}: {err!r}")
        rc, out, err = run(["report", "--db", os.path.join(tmp, "none.db")])
        if rc != 3 or err.strip() != f"dmarcstat: {tmp}/none.db: no database there (run " \
                                     "'dmarcstat ingest' first, or pass --db)":
            problems.append(f"missing database: got {rc}: {err!r}")
        junk = os.path.join(tmp, "junk.db")
        with open(junk, "w") as f:
            f.write("this is not a database, just text long enough to be read as a header\n")
        rc, out, err = run(["explain", "--db", junk])
        if rc != 3 or "file is not a database" not in err:
            problems.append(f"not a database: got {rc}: {err!r}")
        rc, out, err = run(["report", "--db", db, "-o", os.path.join(tmp, "no", "dir.txt")])
        if rc != 1 or err.strip() != f"dmarcstat: {tmp}/no/dir.txt: No such file or directory":
            problems.append(f"unwritable -o: got {rc}: {err!r}")
        temp_file_fails(problems, tmp)

        with open(os.path.join(GOLDEN, "report.txt"), "rb") as f:
            golden = f.read()
        rc, out, err = run(["report", "--now", "1794096000"],
                           env={"DMARCSTAT_DB": db})
        if rc != 0 or out != golden:
            problems.append(f"default period and $DMARCSTAT_DB: not the golden report ({rc} {err})")
        rc, out, err = run(["report", "--db", db, "--last", "7", "--now", "1794100000"])
        if out != golden:
            problems.append("--last 7 with --now in the middle of a day: not the golden report")

        color = on_terminal(["report", "--db", db] + PERIOD, {})
        if b"\033[1mOverview\033[0m" not in color or b"\033[31m3480\033[0m" not in color:
            problems.append("no colour on a terminal")
        plain = on_terminal(["report", "--db", db] + PERIOD, {"NO_COLOR": "1"})
        if b"\033" in plain or b"Overview" not in plain:
            problems.append("colour despite NO_COLOR")
        path = os.path.join(tmp, "r.txt")
        on_terminal(["report", "--db", db, "-o", path] + PERIOD, {})
        with open(path, "rb") as f:
            if f.read() != golden:
                problems.append("-o FILE on a terminal: not the plain golden report")
    for p in problems:
        print("FAIL", p)
    print("report cli: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
