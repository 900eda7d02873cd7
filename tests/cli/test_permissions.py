"""Permissions and footprint (issue 6).

With umask 022 (which would give 0644):
  - `ingest --db FILE` creates FILE 0600, and its -wal and -shm (watched while the run is going)
    0600 too;
  - the default database ($XDG_DATA_HOME/dmarcstat/dmarcstat.db, else
    $HOME/.local/share/dmarcstat/dmarcstat.db) is 0600 in folders dmarcstat creates 0700;
  - dmarcstat writes nothing but the database and the paths named: with a fresh HOME,
    XDG_DATA_HOME, TMPDIR and working folder, `parse`, `ingest` and `quarantine` leave exactly the
    expected files, and the inputs are untouched.
"""
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import gen  # noqa: E402
import harness  # noqa: E402
from harness import Tally, run  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def tree(root):
    """Every path under root (relative), with file contents' SHA-256."""
    out = {}
    for d, dirs, files in os.walk(root):
        for x in dirs:
            out[os.path.relpath(os.path.join(d, x), root) + "/"] = None
        for x in files:
            p = os.path.join(d, x)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def watch_wal(tally, tmp, inputs):
    """Starts a long ingest and checks the modes of -wal and -shm while they exist."""
    db = os.path.join(tmp, "watched.db")
    p = subprocess.Popen([harness.DMARCSTAT, "ingest", "--quiet", "--db", db] + inputs,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = {}
    while p.poll() is None:
        for s in ("", "-wal", "-shm"):
            try:
                seen[s] = mode(db + s)
            except FileNotFoundError:
                pass
        time.sleep(0.002)
    err = p.stderr.read().decode()
    p.stderr.close()
    problems = [] if p.returncode in (0, 1) else [f"exit {p.returncode}: {err[-300:]!r}"]
    for s in ("", "-wal"):
        if s not in seen:
            problems.append(f"never saw {db + s} during the run")
    for s, m in seen.items():
        if m != 0o600:
            problems.append(f"watched{'.db' + s} mode {m:04o}, expected 0600")
    tally.check(f"database, -wal and -shm created 0600 under umask 022 "
                f"(seen: { {k or 'db': oct(v) for k, v in seen.items()} })", problems)


def main():
    harness.need_binary()
    tally = Tally()
    os.umask(0o022)
    with tempfile.TemporaryDirectory(prefix="dm-perm-") as tmp:
        os.environ["DM_TEST_TMP"] = os.path.join(tmp, "harness")
        os.makedirs(os.environ["DM_TEST_TMP"])
        inputs = os.path.join(tmp, "inputs")
        harness.gen_reports(inputs, 300)
        gen.put(gen.xml_report(rid="perm-broken")[:300])(os.path.join(inputs, "broken.xml"))
        os.chmod(inputs, 0o755)
        inputs_before = tree(inputs)

        # --db FILE
        db = os.path.join(tmp, "explicit.db")
        res = run(["ingest", "--quiet", "--db", db, inputs], timeout=120 * harness.SLOW)
        tally.check(f"ingest --db: exit {res.rc}, mode {mode(db):04o}",
                    ([] if res.rc == 1 else [f"exit {res.rc}, expected 1 (one input broken)"])
                    + ([] if mode(db) == 0o600 else [f"mode {mode(db):04o}, expected 0600"])
                    + [f"left behind: {s}" for s in ("-wal", "-shm") if os.path.exists(db + s)])
        watch_wal(tally, tmp, [inputs])

        # Default database, fresh HOME / XDG_DATA_HOME / TMPDIR / cwd.
        for use_xdg in (True, False):
            box = os.path.join(tmp, "xdg" if use_xdg else "home")
            home, xdg, tdir, cwd = (os.path.join(box, n) for n in ("home", "data", "tmp", "cwd"))
            for d in (home, xdg, tdir, cwd):
                os.makedirs(d)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": tdir,
                   "LANG": "C"}
            if use_xdg:
                env["XDG_DATA_HOME"] = xdg
            expect_db = (os.path.join(xdg, "dmarcstat", "dmarcstat.db") if use_xdg else
                         os.path.join(home, ".local", "share", "dmarcstat", "dmarcstat.db"))
            before = tree(box)
            p = []
            par = run(["parse", inputs], timeout=120 * harness.SLOW, env=env, cwd=cwd)
            if par.rc != 1:
                p.append(f"parse exit {par.rc}, expected 1")
            if tree(box) != before:
                p.append(f"parse wrote {sorted(set(tree(box)) - set(before))}")
            for args in (["ingest", "--quiet", inputs], ["quarantine", "list"],
                         ["quarantine", "show", "1"], ["quarantine", "retry"]):
                r = run(args, timeout=120 * harness.SLOW, env=env, cwd=cwd)
                if r.rc not in (0, 1):
                    p.append(f"{' '.join(args[:2])}: exit {r.rc}: {r.err[-200:]!r}")
            after = tree(box)
            created = sorted(set(after) - set(before))
            rel_db = os.path.relpath(expect_db, box)
            allowed = {rel_db}
            d = os.path.dirname(rel_db)
            while d not in (os.path.relpath(home, box), os.path.relpath(xdg, box), ""):
                allowed.add(d + "/")
                d = os.path.dirname(d)
            if set(created) != allowed:
                p.append(f"created {created}, expected exactly {sorted(allowed)}")
            if os.path.exists(expect_db):
                if mode(expect_db) != 0o600:
                    p.append(f"default database mode {mode(expect_db):04o}, expected 0600")
                for x in sorted(allowed - {rel_db}):
                    m = mode(os.path.join(box, x))
                    if m != 0o700:
                        p.append(f"folder {x} mode {m:04o}, expected 0700")
            else:
                p.append(f"no database at {expect_db}")
            tally.check(f"default database under {'XDG_DATA_HOME' if use_xdg else 'HOME'}: "
                        f"created {created}", p)

        tally.check("inputs untouched (bytes, names)",
                    [] if tree(inputs) == inputs_before else ["the input folder changed"])
        leftovers = os.listdir(os.environ["DM_TEST_TMP"])
        tally.check("nothing left in the temporary folder of the harness",
                    [] if not leftovers else [f"{leftovers}"])
    tally.finish()


main()
