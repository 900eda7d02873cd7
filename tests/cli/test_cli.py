"""The command line itself: usage errors (exit 2), unreadable paths (exit 1, named), a database
that cannot be created (exit 3), --version, the default database path, and the quiet / JSON
summary modes of ingest (no progress line when stderr is not a terminal)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
tally = harness.Tally()
check = tally.expect
DATA = os.environ["DM_TEST_DATA_DIR"]


def run(*args, env=None):
    res = subprocess.run([DMARCSTAT, *args], capture_output=True, timeout=60, env=env)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def main():
    good = os.path.join(DATA, "mail", "report.xml")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "t.db")
        rc, out, err = run()
        check(rc == 2 and err.startswith("usage: dmarcstat COMMAND"), f"no command: {rc} {err!r}")
        rc, out, err = run("frob")
        check(rc == 2 and "dmarcstat: unknown command 'frob'" in err, f"unknown command: {rc} {err!r}")
        rc, out, _ = run("--version")
        check(rc == 0 and out.startswith("dmarcstat "), f"--version: {rc} {out!r}")
        rc, out, _ = run("--help")
        check(rc == 0 and "ingest" in out and "3 database cannot be opened" in out, f"--help: {out!r}")
        rc, _, err = run("parse")
        check(rc == 2 and err.startswith("usage: dmarcstat parse FILE..."), f"parse, no file: {rc} {err!r}")
        rc, _, err = run("ingest", "--db", db)
        check(rc == 2 and "dmarcstat: ingest: no PATH given" in err, f"ingest, no path: {rc} {err!r}")
        rc, _, err = run("ingest", "--frob", good)
        check(rc == 2 and "usage: dmarcstat ingest" in err, f"ingest, bad option: {rc} {err!r}")
        rc, out, _ = run("ingest", "--help")
        check(rc == 0 and "Exit status: 0 all stored" in out, f"ingest --help: {out!r}")

        missing = os.path.join(tmp, "nope.xml")
        rc, out, err = run("parse", missing, good)
        check(rc == 1 and f"dmarcstat: cannot open {missing}: No such file or directory" in err
              and out.count("\n") == 1, f"parse, missing file: {rc} {err!r}")
        rc, out, err = run("ingest", "--db", db, missing, good)
        check(rc == 1 and f"dmarcstat: failed: cannot open {missing}: No such file or directory" in err
              and "1 reports (1 records, 3 messages) stored" in err and ", 1 unreadable" in err,
              f"ingest, missing path: {rc} {err!r}")
        check("ingesting:" not in err and "\r" not in err, f"progress line off a terminal: {err!r}")
        rc, out, err = run("ingest", "--quiet", "--db", db, good)
        check(rc == 0 and out == "" and err == "", f"--quiet, nothing to say: {rc} {out!r} {err!r}")
        rc, out, err = run("ingest", "--json", "--db", db, good)
        s = json.loads(out) if rc == 0 else None
        check(s == {"files": 1, "seen": 1, "reports": 0, "records": 0, "messages": 0,
                    "duplicates": 0, "conflicts": 0, "quarantined": 0, "skipped": 0, "failed": 0,
                    "lost": 0},
              f"--json: {rc} {out!r}")
        # The same bytes three times in one run, under two names: the store's thread finds the
        # second and third seen in its batch (not committed yet, so the reading thread could not).
        twice_db = os.path.join(tmp, "twice.db")
        copy = os.path.join(tmp, "copy-of-good.xml")
        shutil.copyfile(good, copy)
        rc, out, err = run("ingest", "--json", "--db", twice_db, good, copy, good)
        s = json.loads(out) if rc == 0 else None
        check(s is not None and (s["files"], s["seen"], s["reports"], s["records"],
                                 s["duplicates"]) == (3, 2, 1, 1, 0),
              f"the same input thrice in one run: {rc} {out!r} {err!r}")

        bad_db = os.path.join(tmp, "no", "such", "dir", "x.db")
        rc, _, err = run("ingest", "--db", bad_db, good)
        check(rc == 3 and f"cannot create database {bad_db}" in err, f"db in a missing folder: {rc} {err!r}")

        # The default database: $DMARCSTAT_DB, else under $XDG_DATA_HOME (folders created 0700).
        env = dict(os.environ, XDG_DATA_HOME=os.path.join(tmp, "xdg"), HOME=tmp)
        env.pop("DMARCSTAT_DB", None)
        rc, _, err = run("ingest", "--quiet", good, env=env)
        want = os.path.join(tmp, "xdg", "dmarcstat", "dmarcstat.db")
        check(rc == 0 and os.path.exists(want), f"default db under XDG_DATA_HOME: {rc} {err!r}")
        check(oct(os.stat(os.path.dirname(want)).st_mode & 0o777) == "0o700",
              "the default db folder is 0700")
        env["DMARCSTAT_DB"] = os.path.join(tmp, "env.db")
        rc, _, _ = run("ingest", "--quiet", good, env=env)
        check(rc == 0 and os.path.exists(env["DMARCSTAT_DB"]), "DMARCSTAT_DB is used")
    tally.finish()


main()
