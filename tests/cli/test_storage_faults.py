"""Storage faults (issue 6): the database cannot be written or is not ours.

  - full filesystem: the database on a 2 MiB tmpfs mounted by the test (root), filled up while
    ingesting; without mount permission, RLIMIT_FSIZE (writes fail with EFBIG) stands in, and the
    output says so.  Expected: exit 3, a message naming the cause, integrity_check ok, no report
    half-stored, and once there is room again the same command completes to the totals of a run
    on a normal disk.
  - read-only database file (chmod 0444), a file that is not SQLite, an SQLite file with other
    tables, a database of a newer schema version (user_version 999), a folder that does not
    exist: exit 3, a clear message, the database bytes unchanged (SHA-256 before and after) and no
    -wal/-shm/-journal left behind; for `ingest` and `quarantine list`.
"""
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402
from harness import Tally, run  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def side_files(db):
    return [db + s for s in ("-wal", "-shm", "-journal") if os.path.exists(db + s)]


def refused(tally, name, db, inputs, want_msg):
    """ingest and quarantine list on db must fail with exit 3 and leave its bytes alone."""
    before = sha(db) if os.path.exists(db) else None
    for args in (["ingest", "--db", db] + inputs, ["quarantine", "--db", db, "list"]):
        res = run(args, timeout=30 * harness.SLOW)
        p = []
        if res.rc != 3:
            p.append(f"exit {res.rc}, expected 3")
        if not any(m.lower() in res.err.lower() for m in want_msg):
            p.append(f"message {res.err.strip()[-300:]!r} says none of {want_msg}")
        if harness.sanitizer_report(res.err):
            p.append("sanitizer report")
        after = sha(db) if os.path.exists(db) else None
        if after != before:
            p.append("the database bytes changed")
        if side_files(db):
            p.append(f"left behind: {side_files(db)}")
        tally.check(f"{name}: {args[0]} -> {res.err.strip()[-160:]!r}", p)


def fresh_db(tmp, name, good):
    db = os.path.join(tmp, name)
    res = run(["ingest", "--quiet", "--db", db, good], timeout=30 * harness.SLOW)
    assert res.rc == 0, res.err
    return db


def try_mount(mnt):
    os.makedirs(mnt, exist_ok=True)
    if os.geteuid() != 0:
        return "not root"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip() or f"mount exit {r.returncode}")


def fill(path, leave):
    """Fills the filesystem of path until about `leave` bytes are free."""
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def no_half_reports(db):
    with harness.connect(db) as con:
        bad = con.execute("SELECT p.id, p.record_count, (SELECT count(*) FROM record r WHERE "
                          "r.report = p.id) FROM report p WHERE p.record_count != (SELECT "
                          "count(*) FROM record r WHERE r.report = p.id)").fetchall()
    return [] if not bad else [f"reports with missing records: {bad[:5]}"]


def full_disk(tally, tmp, inputs, want):
    mnt = os.path.join(tmp, "mnt")
    why = try_mount(mnt)
    mounted = why is None
    preexec = None
    if mounted:
        print("full filesystem: a 2 MiB tmpfs")
        db = os.path.join(mnt, "full.db")
        filler = os.path.join(mnt, "filler")
    else:
        print(f"full filesystem: cannot mount a tmpfs ({why}); using RLIMIT_FSIZE = 256 KiB instead")
        db = os.path.join(tmp, "full.db")
        filler = None
        # Under the rlimit, the database and its WAL may not grow past 256 KiB.

        def preexec():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))
    try:
        # A database with its schema and one report, then (tmpfs) the disk filled but 48 KiB.
        first = run(["ingest", "--quiet", "--db", db, inputs[0]], timeout=30 * harness.SLOW)
        assert first.rc == 0, first.err
        if mounted:
            fill(filler, 48 * 1024)
        args = [harness.DMARCSTAT, "ingest", "--quiet", "--db", db] + inputs[1:]
        r = subprocess.run(args, capture_output=True, text=True, preexec_fn=preexec,
                           timeout=120 * harness.SLOW)
        p = []
        if r.returncode != 3:
            p.append(f"exit {r.returncode}, expected 3: {r.stderr[-300:]!r}")
        if "full" not in r.stderr.lower() and "space" not in r.stderr.lower() \
                and "too large" not in r.stderr.lower():
            p.append(f"message does not say the disk is full: {r.stderr.strip()[-300:]!r}")
        if harness.sanitizer_report(r.stderr):
            p.append("sanitizer report")
        if filler:
            os.unlink(filler)
        if os.path.exists(db):
            ok = harness.integrity(db)
            if ok != "ok":
                p.append(f"integrity_check {ok!r}")
            p += no_half_reports(db)
        tally.check(f"full disk: ingest -> exit {r.returncode}, "
                    f"{r.stderr.strip().splitlines()[-1][:160] if r.stderr.strip() else ''!r}", p)
        # Room again (filler removed / no rlimit): the same command completes the work.
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
        res = run(["ingest", "--quiet", "--db", db] + inputs[1:], timeout=120 * harness.SLOW)
        p = [] if res.rc in (0, 1) else [f"exit {res.rc}: {res.err[-300:]!r}"]
        got = harness.totals(db)
        if got[:3] != want[:3]:
            p.append(f"totals {got}, run on a normal disk {want}")
        ok = harness.integrity(db)
        if ok != "ok":
            p.append(f"integrity_check {ok!r}")
        tally.check("full disk: re-run with room completes to the same totals", p)
    finally:
        if mounted:
            if subprocess.run(["umount", mnt]).returncode != 0:
                subprocess.run(["umount", "-l", mnt], check=False)


def main():
    harness.need_binary()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="dm-storage-") as tmp:
        os.environ["DM_TEST_TMP"] = tmp
        gendir = os.path.join(tmp, "gen")
        harness.gen_reports(gendir, 300)
        good = os.path.join(gendir, sorted(os.listdir(gendir))[0])
        ref_db = os.path.join(tmp, "ref.db")
        ref = run(["ingest", "--quiet", "--db", ref_db, gendir], timeout=120 * harness.SLOW)
        want = harness.totals(ref_db)
        print(f"reference: {want} (size {os.path.getsize(ref_db)} bytes)")

        full_disk(tally, tmp, [good, gendir], want)

        db = fresh_db(tmp, "readonly.db", good)
        os.chmod(db, 0o444)
        refused(tally, "read-only database (0444)", db, [gendir], ["read-only", "readonly"])
        os.chmod(db, 0o600)

        db = os.path.join(tmp, "text.db")
        with open(db, "w") as f:
            f.write("this is not a database\n" * 100)
        refused(tally, "not an SQLite file", db, [good], ["not a dmarcstat database",
                                                          "not a database"])

        db = os.path.join(tmp, "other.db")
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO customers (name) VALUES ('x')")
        con.commit()
        con.close()
        refused(tally, "SQLite database of another program", db, [good],
                ["not a dmarcstat database"])

        db = fresh_db(tmp, "newer.db", good)
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 999")
        con.commit()
        con.close()
        refused(tally, "schema version 999", db, [good], ["newer", "999"])

        db = os.path.join(tmp, "no", "such", "dir", "x.db")
        res = run(["ingest", "--db", db, good], timeout=30 * harness.SLOW)
        tally.check(f"database in a missing folder -> {res.err.strip()[-160:]!r}",
                    ([] if res.rc == 3 else [f"exit {res.rc}, expected 3"])
                    + ([] if "x.db" in res.err else ["message does not name the database"])
                    + ([] if not os.path.exists(db) else ["the database was created"]))
    tally.finish()


main()
