"""What the reliability CLI tests share: running dmarcstat with a time bound while measuring the
child's peak RSS (wait4), reading a database's totals, and counting checks."""
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

DMARCSTAT = os.environ.get("DMARCSTAT", "")
SOURCE_DIR = os.environ.get("DM_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DATA_DIR = os.environ.get("DM_TEST_DATA_DIR", os.path.join(SOURCE_DIR, "tests", "data"))
CORPUS_DIR = os.environ.get("DM_CORPUS_DIR", "")


def sanitized():
    """1 for an ASan/UBSan build (memory and time bounds are scaled, and say so), else 0."""
    try:
        with open(DMARCSTAT, "rb") as f:
            return 1 if b"__asan_init" in f.read() else 0
    except OSError:
        return 0


SLOW = 5 if sanitized() else 1      # time bounds x5 under sanitizers
# Under ASan the shadow memory and the quarantine of freed blocks count as RSS: the 64 MiB bound
# is the release build's; a sanitizer build is only held to 1 GiB.  The quarantine is 64 MiB
# here, not ASan's 256 MiB: a report over a million sources frees 28 million blocks, and with
# the default every freed block held back made the allocator carve new memory until the peak
# RSS was ASan's (1,028 MiB, of which 45 MiB with no quarantine at all; 352 MiB with 64 MiB).
# A use after free is still caught within the last 64 MiB freed.
RSS_MIB = 1024 if sanitized() else 64
ASAN_QUARANTINE = "quarantine_size_mb=64"


def child_env(env):
    """env (or this process's environment) with the quarantine above for a sanitizer build,
    unless ASAN_OPTIONS already sets one."""
    if not sanitized():
        return env
    env = dict(os.environ if env is None else env)
    opts = env.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in opts:
        env["ASAN_OPTIONS"] = f"{opts}:{ASAN_QUARANTINE}" if opts else ASAN_QUARANTINE
    return env


class Result:
    def __init__(self, rc, out, err, rss_kib, seconds, timed_out):
        self.rc, self.out, self.err = rc, out, err
        self.rss_mib = rss_kib / 1024.0
        self.seconds, self.timed_out = seconds, timed_out

    def json(self):
        try:
            return json.loads(self.out)
        except (ValueError, TypeError):
            return None


TIME = "/usr/bin/time"  # GNU time (Debian package "time")


def run(args, timeout=60, env=None, cwd=None, stdout_path=None, stdin=None):
    """Runs dmarcstat ARGS; returns a Result with the child's own peak RSS.

    The peak RSS comes from GNU time, which forks dmarcstat from its own small process: a process
    forked from this (larger) Python process would inherit Python's high-water mark, which Linux
    carries over exec into ru_maxrss.  Without /usr/bin/time, wait4's ru_maxrss is used and is an
    upper bound.  stdout goes to stdout_path when given (Result.out is then the path), else is
    returned as bytes.  A run past timeout is killed (its process group) and marked timed_out."""
    base = stdout_path or os.path.join(os.environ.get("DM_TEST_TMP", "/tmp"),
                                       f"dmout.{os.getpid()}.{time.monotonic_ns()}")
    err_path, rss_path = base + ".err", base + ".rss"
    argv = [DMARCSTAT] + list(args)
    use_time = os.access(TIME, os.X_OK)
    if use_time:
        argv = [TIME, "-f", "%M", "-o", rss_path] + argv
    start = time.monotonic()
    with open(base, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=child_env(env), cwd=cwd,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             start_new_session=True)
    timed_out = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() - start > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            timed_out = True
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    p.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting again
    seconds = time.monotonic() - start
    rc, rss_kib = p.returncode, ru.ru_maxrss
    if use_time:
        rc, rss_kib = time_output(rss_path, rc, rss_kib)
    with open(err_path, "rb") as f:
        err_text = f.read().decode("utf-8", "replace")
    os.unlink(err_path)
    if stdout_path:
        out_data = stdout_path
    else:
        with open(base, "rb") as f:
            out_data = f.read()
        os.unlink(base)
    return Result(rc, out_data, err_text, rss_kib, seconds, timed_out)


def time_output(path, rc, rss_kib):
    """(exit status, peak RSS KiB) from GNU time's -o file; a signal gives a negative status."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
        os.unlink(path)
    except OSError:
        return rc, rss_kib
    for line in lines:
        m = re.match(r"Command terminated by signal (\d+)", line)
        if m:
            rc = -int(m.group(1))
        elif line.strip().isdigit():
            rss_kib = int(line.strip())
    return rc, rss_kib


def connect(db):
    """A connection closed at the end of a with block (sqlite3's own only commits)."""
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA busy_timeout = 30000")
    return contextlib.closing(con)


def totals(db):
    """(reports, records, SUM(count), quarantine entries) of a database."""
    with connect(db) as con:
        reports = con.execute("SELECT count(*) FROM report").fetchone()[0]
        records, messages = con.execute(
            "SELECT count(*), ifnull(sum(count), 0) FROM record").fetchone()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    return reports, records, messages, quarantined


def integrity(db):
    with connect(db) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


def sanitizer_report(text):
    return "Sanitizer" in text or "runtime error:" in text


def sanitizer_lines(text):
    """The lines of a sanitizer report worth printing: the error, its first frames, the summary."""
    lines = text.splitlines()
    keep = []
    for i, line in enumerate(lines):
        if "ERROR: AddressSanitizer" in line or "runtime error:" in line:
            keep.append(line.strip())
            keep += [x.strip() for x in lines[i + 1:i + 6] if x.strip().startswith("#")]
        elif line.startswith("SUMMARY:"):
            keep.append(line.strip())
    return " | ".join(keep[:10])


class Tally:
    """Counts checks; prints FAIL lines and the final "N passed, M failed"."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, problems):
        if isinstance(problems, str):
            problems = [problems]
        problems = [p for p in problems if p]
        if problems:
            self.failed += 1
            print(f"FAIL {name}: " + "; ".join(problems), flush=True)
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        return not problems

    def expect(self, cond, what):
        """One check of a plain condition: what names it and, on failure, what was seen."""
        return self.check(what, [] if cond else ["failed"])

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def need_binary():
    if not DMARCSTAT or not os.access(DMARCSTAT, os.X_OK):
        print(f"DMARCSTAT={DMARCSTAT!r} is not an executable: set it to the dmarcstat binary")
        print("0 passed, 1 failed")
        sys.exit(1)


def gen_reports(out, n):
    """n distinct reports from bench/gen.py (its report(), gz() and zipped()), mixed .xml, .xml.gz
    and .zip, each file named with its index so that none overwrites another."""
    import importlib.util
    import random

    spec = importlib.util.spec_from_file_location(
        "bench_gen", os.path.join(SOURCE_DIR, "bench", "gen.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = random.Random(7489)
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        name, data = bench.report(rng, i, rng.randrange(1, 51))
        if not name.endswith(f"!{i}"):  # older gen.py names collide every 30 reports
            name = f"{name}!{i}"
        kind = i % 3
        if kind == 1:
            name, data = name + ".xml.gz", bench.gz(data)
        elif kind == 2:
            name, data = name + ".zip", bench.zipped(name, data)
        else:
            name += ".xml"
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return out
