"""Hostile-input and failure findings of issue 17, each a regression check run by
tests/cli/test_hostile.py after the catalogue (see README.md in this folder).

Each finding is a function f(t) -> list of problems ([] when dmarcstat behaves), registered in
FINDINGS with its name; t is a Tmp (a fresh folder, a database path, helpers).  They drive the
built binary as users do, through harness.run (exit status, stderr, the child's peak RSS).
"""
import base64
import gzip
import json
import os
import re
import shutil
import subprocess

import gen
import harness
from harness import run

MIB = 1024 * 1024


class Tmp:
    """A fresh folder for one finding."""

    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "t.db")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return p

    def dm(self, *args, stdin=None, timeout=60, **kw):
        """dmarcstat ARGS (with --db for the commands that take it); stdin: bytes or a path."""
        args = list(args)
        if args and args[0] in ("ingest", "quarantine", "report", "explain") \
                and "--db" not in args:
            args[1:1] = ["--db", self.db]
        if isinstance(stdin, bytes):
            stdin = self.write(f"stdin.{len(os.listdir(self.dir))}", stdin)
        if stdin is None:
            return run(args, timeout=timeout * harness.SLOW, cwd=self.dir, **kw)
        with open(stdin, "rb") as f:
            return run(args, timeout=timeout * harness.SLOW, cwd=self.dir, stdin=f, **kw)

    def quarantine(self):
        res = self.dm("quarantine", "list", "--all", "--json")
        try:
            return json.loads(res.out)
        except ValueError:
            return [{"error": f"quarantine list exit {res.rc}: {res.err[-200:]}"}]

    def raw(self, entry_id):
        return self.dm("quarantine", "show", "--raw", str(entry_id)).out


def expect(cond, what):
    return [] if cond else [what]


def exit_is(res, want, what):
    return expect(res.rc == want,
                  f"{what}: exit {res.rc}, expected {want}; stderr {res.err.strip()[-400:]!r}")


def report_mail(attachments, subject="Report Domain: example.com"):
    """A report mail; attachments are (file name, bytes), sent base64."""
    parts = "".join(
        f"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename={name}\r\n\r\n"
        + "\r\n".join(re.findall(".{1,76}", base64.b64encode(data).decode())) + "\r\n"
        for name, data in attachments)
    return ("From: dmarc@hostile.example\r\nTo: rua@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{abs(hash(parts))}@hostile.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            + parts + "--b--\r\n").encode()


BROKEN = gen.xml_report(rid="broken-1")[:150].encode()      # XML cut short: quarantined


def good_xml(rid, count="5"):
    return gen.xml_report(rid=rid, count=count).encode()


# ---- 1. Bytes of quarantined mail from standard input and from an mbox ---------------------

def stdin_mail_kept(t):
    """A quarantined mail read from standard input keeps its bytes: show --raw gives them back."""
    mail = report_mail([("r.xml.gz", gzip.compress(BROKEN))])
    res = t.dm("ingest", "-", stdin=mail)
    p = exit_is(res, 1, "ingest - (quarantined)")
    rows = t.quarantine()
    p += expect(len(rows) == 1 and rows[0].get("size") == len(mail)
                and rows[0].get("truncated") is False,
                f"quarantine entry {rows}: expected size {len(mail)}, not truncated")
    if rows and "id" in rows[0]:
        p += expect(t.raw(rows[0]["id"]) == mail, "show --raw does not give the mail back")
        retry = t.dm("quarantine", "retry", str(rows[0]["id"]))
        p += expect("no bytes" not in retry.err and b"still failing" in retry.out,
                    f"retry: {retry.out!r} {retry.err!r}")
    again = t.dm("ingest", "--json", "-", stdin=mail)
    p += exit_is(again, 0, "the same mail again (kept whole: seen)")
    return p


def mbox_message_kept(t):
    """A quarantined message of an mbox keeps its own bytes (unescaped), not the mbox's."""
    m1 = report_mail([("a.xml", good_xml("mbox-good-1"))])
    m2 = report_mail([("b.xml", BROKEN)], subject="broken")
    m2 = m2.replace(b"--b--", b"--b\r\nContent-Type: text/plain\r\n\r\nQuoted:\r\n"
                    b">From the desk of a quoting client\r\n--b--")
    m3 = report_mail([("c.xml", good_xml("mbox-good-3"))])
    esc = m2.replace(b"\r\n>From ", b"\r\n>>From ")
    mbox = b"".join(b"From dmarc@hostile.example Thu Nov 16 10:00:00 2023\n" + m + b"\n"
                    for m in (m1, esc, m3))
    box = t.write("reports.mbox", mbox)
    res = t.dm("ingest", box)
    p = exit_is(res, 1, "ingest of the mbox")
    rows = t.quarantine()
    p += expect(len(rows) == 1 and (rows[0].get("member") or "").startswith("message 2>"),
                f"quarantine {rows}: expected one entry of message 2")
    if rows and "id" in rows[0]:
        p += expect(rows[0].get("size") == len(m2) and t.raw(rows[0]["id"]) == m2,
                    f"message 2's bytes are not kept (size {rows[0].get('size')}, "
                    f"expected {len(m2)})")
    return p


def big_mail(size):
    """A report mail of about size bytes: a broken report, then random data beside it."""
    filler = os.urandom(size * 3 // 4)
    return report_mail([("r.xml", BROKEN), ("filler.bin", filler)])


def stdin_cut_by_cap_is_lost(t):
    """Standard input that the quarantine cannot keep whole exits 4, says so, and is not
    skipped as seen when it comes again (the MTA's retry)."""
    mail = big_mail(20 * MIB)
    p = []
    for attempt in (1, 2):
        res = t.dm("ingest", "--json", "-", stdin=mail)
        p += exit_is(res, 4, f"attempt {attempt}: 20 MiB mail on stdin, quarantine cap 16 MiB")
        summary = res.json() or {}
        p += expect(summary.get("lost") == 1 and summary.get("seen") == 0,
                    f"attempt {attempt}: summary {summary}: expected lost 1, seen 0")
        p += expect(re.search(r"; only the first 16 MiB of 20\.\d MiB kept "
                              r"\(DM_MAX_QUARANTINE_BYTES\) \(xml_malformed\)", res.err),
                    f"attempt {attempt}: stderr does not say what is kept: {res.err[-300:]!r}")
    rows = t.quarantine()
    p += expect(len(rows) == 1 and rows[0].get("truncated") is True
                and rows[0].get("attempts") == 2,
                f"quarantine {rows}: expected one truncated entry tried twice")
    return p


def readme_pipe_wrapper(t):
    """The README's MTA pipe wrapper, run as written: 0 (the MTA drops the mail) only when the
    mail is stored or kept whole; 75 (the MTA keeps it and retries) otherwise."""
    with open(os.path.join(harness.SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    m = re.search(r"```sh\n(#!/bin/sh\n# /usr/local/bin/dmarc-pipe\n.*?)```", readme, re.S)
    if not m:
        return ["README: no dmarc-pipe wrapper found"]
    script = m.group(1).replace("/var/lib/dmarcstat/dmarcstat.db", t.db)
    wrapper = t.write("dmarc-pipe", script)
    os.chmod(wrapper, 0o755)
    bindir = t.path("bin")
    os.makedirs(bindir)
    os.symlink(harness.DMARCSTAT, os.path.join(bindir, "dmarcstat"))
    env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", ""))
    cases = [("a good report", report_mail([("g.xml", good_xml("pipe-good"))]), 0),
             ("a broken report (kept whole)", report_mail([("r.xml", BROKEN)]), 0),
             ("a 20 MiB mail with a broken report (cut by the quarantine cap)",
              big_mail(20 * MIB), 75)]
    p = []
    for what, mail, want in cases:
        r = subprocess.run([wrapper], input=mail, env=env, capture_output=True, timeout=120)
        p += expect(r.returncode == want, f"wrapper on {what}: exit {r.returncode}, expected "
                    f"{want}; stderr {r.stderr.decode()[-300:]!r}")
    os.chmod(t.db, 0o400)
    r = subprocess.run([wrapper], input=cases[0][1], env=env, capture_output=True, timeout=60)
    p += expect(r.returncode == 75, f"wrapper with a read-only database: exit {r.returncode}")
    os.chmod(t.db, 0o600)
    return p


# ---- 2. Counts up to INT64_MAX and sums that wrap ------------------------------------------

def count_int64_max(t):
    """Two records of count INT64_MAX: read as invalid (over DM_MAX_RECORD_COUNT), so the report
    says 3 messages, not a wrapped total; report and its rates stay sane."""
    recs = [gen.record(ip="192.0.2.1", count=str(2 ** 63 - 1), disposition="reject"),
            gen.record(ip="192.0.2.2", count=str(2 ** 63 - 1)),
            gen.record(ip="192.0.2.3", count="3")]
    f = t.write("huge.xml", gen.xml_report(rid="huge-1", records=recs))
    res = t.dm("ingest", "--json", f)
    p = exit_is(res, 0, "ingest")
    p += expect((res.json() or {}).get("messages") == 3,
                f"ingest summary {res.json()}: expected 3 messages")
    rep = t.dm("report", "--from", "2023-11-14", "--to", "2023-11-16", "--format", "json")
    p += exit_is(rep, 0, "report")
    over = {}
    try:
        over = {r["metric"]: r["value"] for r in json.loads(rep.out)["overview"]}
    except (ValueError, KeyError, TypeError) as e:
        p.append(f"report JSON: {e}")
    p += expect(over.get("messages") == 3 and over.get("rejected") == 0
                and over.get("dmarc_pass_percent") == 100.0,
                f"report overview {over}: expected 3 messages, 0 rejected, 100.0 % pass")
    return p


# ---- 4. A forged report pre-empting the genuine one ----------------------------------------

def overview(t, *extra):
    res = t.dm("report", "--from", "2023-11-14", "--to", "2023-11-16", "--format", "json",
               *extra)
    try:
        return {r["metric"]: r["value"] for r in json.loads(res.out)["overview"]}
    except (ValueError, KeyError, TypeError):
        return {"error": f"report exit {res.rc}: {res.err[-200:]}"}


def forged_report_conflict(t):
    """A forged report mailed first (same reporter, id, domain, period) makes the genuine one a
    conflict: it is quarantined with its bytes (exit 1, stderr says so), the report's overview
    counts it, retry refuses it, and `quarantine resolve --keep-new` puts the genuine one in
    place of the forgery, rollups included."""
    forged = report_mail([("r.xml", gen.xml_report(
        rid="conflict-1", records=[gen.record(ip="203.0.113.66", count="1")]).encode())])
    genuine = report_mail([("r.xml", gen.xml_report(
        rid="conflict-1", records=[gen.record(ip="192.0.2.1", count="40", disposition="reject"),
                                   gen.record(ip="192.0.2.2", count="2")]).encode())])
    p = exit_is(t.dm("ingest", "-", stdin=forged), 0, "the forgery")
    res = t.dm("ingest", "--json", "-", stdin=genuine)
    p += exit_is(res, 1, "the genuine report (a conflict)")
    p += expect("is already stored with other content: the stored copy is kept and this one "
                "quarantined" in res.err and "(conflict)" in res.err, f"stderr {res.err!r}")
    rows = t.quarantine()
    p += expect(len(rows) == 1 and rows[0].get("reason") == "conflict"
                and rows[0].get("conflict_report") == 1, f"quarantine {rows}")
    if not rows or "id" not in rows[0]:
        return p
    qid = str(rows[0]["id"])
    p += expect(t.raw(qid) == genuine, "the conflicting copy's bytes are not kept")
    before = overview(t)
    p += expect(before.get("messages") == 1 and before.get("unresolved_conflicts") == 1,
                f"overview before resolving {before}")
    retry = t.dm("quarantine", "retry", qid)
    p += expect(retry.rc == 1 and "is a conflict" in retry.err, f"retry: {retry.err!r}")
    fix = t.dm("quarantine", "resolve", qid, "--keep-new")
    p += exit_is(fix, 0, "resolve --keep-new")
    after = overview(t)
    p += expect(after.get("messages") == 42 and after.get("rejected") == 40
                and "unresolved_conflicts" not in after, f"overview after resolving {after}")
    with harness.connect(t.db) as con:
        got = con.execute("SELECT group_concat(source_ip || '=' || count, ' ') FROM (SELECT "
                          "source_ip, count FROM record ORDER BY id)").fetchone()[0]
    p += expect(got == "192.0.2.1=40 192.0.2.2=2", f"records after resolving: {got}")
    p += expect(t.quarantine()[0].get("resolved") is True, "the entry is not resolved")
    return p


def conflict_keep_stored(t):
    """--keep-stored settles a conflict and changes nothing else; a second resolve of the same
    entry, or of an entry that is no conflict, is a usage error."""
    a = t.write("a.xml", gen.xml_report(rid="ks-1", count="7"))
    b = t.write("b.xml", gen.xml_report(rid="ks-1", count="9"))
    c = t.write("c.xml", BROKEN)
    t.dm("ingest", a)
    p = exit_is(t.dm("ingest", b, c), 1, "a conflict and a broken file")
    p += exit_is(t.dm("quarantine", "resolve", "1", "--keep-stored"), 0, "resolve --keep-stored")
    p += expect(overview(t).get("messages") == 7, f"overview {overview(t)}")
    p += exit_is(t.dm("quarantine", "resolve", "1", "--keep-new"), 2, "resolving twice")
    p += exit_is(t.dm("quarantine", "resolve", "2", "--keep-new"), 2, "resolving no conflict")
    p += exit_is(t.dm("quarantine", "resolve", "1"), 2, "resolve without saying which")
    return p


# ---- 5-7. Maildir identity, unreadable messages, moves -------------------------------------

def maildir(t, name, messages):
    """A Maildir under t with messages {file name in new/: bytes}."""
    box = t.path(name)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    for fname, data in messages.items():
        t.write(os.path.join(name, "new", fname), data)
    return box


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def report_ids(t):
    with harness.connect(t.db) as con:
        return sorted(r[0] for r in con.execute("SELECT report_id FROM report"))


def maildir_same_name(t):
    """Two Maildirs holding messages of the same name but other content: both stored, both
    moved (the identity includes the Maildir; the content hash decides)."""
    a = maildir(t, "a", {"1700000000.M1P1.host": report_mail([("r.xml", good_xml("md-a"))])})
    b = maildir(t, "b", {"1700000000.M1P1.host": report_mail([("r.xml", good_xml("md-b"))])})
    res = t.dm("ingest", "--json", "--move-to", t.path("done"), a, b)
    p = exit_is(res, 0, "ingest of two Maildirs")
    p += expect(report_ids(t) == ["md-a", "md-b"], f"reports {report_ids(t)}: expected both")
    p += expect(listing(os.path.join(a, "new")) == [] and listing(os.path.join(b, "new")) == [],
                f"left in new/: {listing(os.path.join(a, 'new'))} {listing(os.path.join(b, 'new'))}")
    return p


def as_nobody():
    """preexec_fn: run the child as nobody when we are root (root reads anything)."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)


def maildir_unreadable(t):
    """A message that cannot be read (EACCES) goes to --failed-to, never --move-to; its
    quarantine entry names where it went and says that no bytes were kept."""
    box = maildir(t, "box", {"1.M1P1.t": report_mail([("r.xml", good_xml("md-ok"))]),
                             "2.M2P1.t": report_mail([("r.xml", good_xml("md-locked"))])})
    os.chmod(os.path.dirname(t.dir), 0o711)     # the suite's temporary folder, 0700
    for d, _, files in os.walk(t.dir):
        os.chmod(d, 0o777)
    os.chmod(os.path.join(box, "new", "2.M2P1.t"), 0)
    done, failed = t.path("done"), t.path("failed")
    r = subprocess.run([harness.DMARCSTAT, "ingest", "--db", t.db, "--move-to", done,
                        "--failed-to", failed, box], capture_output=True, text=True,
                       preexec_fn=as_nobody, timeout=60 * harness.SLOW)
    p = expect(r.returncode == 1, f"exit {r.returncode}, expected 1: {r.stderr[-300:]!r}")
    p += expect(listing(os.path.join(failed, "cur")) == ["2.M2P1.t"]
                and listing(os.path.join(done, "cur")) == ["1.M1P1.t"],
                f"done {listing(os.path.join(done, 'cur'))}, failed "
                f"{listing(os.path.join(failed, 'cur'))}")
    rows = t.quarantine()
    want = os.path.join(failed, "cur", "2.M2P1.t")
    p += expect(len(rows) == 1 and rows[0].get("path") == want
                and "Permission denied; no bytes kept" in (rows[0].get("message") or ""),
                f"quarantine {rows}: expected one entry at {want} saying no bytes were kept")
    return p


def maildir_seen_moved(t):
    """--move-to also moves messages skipped as seen (here: processed by a run without
    --move-to); one that failed back then goes to --failed-to."""
    box = maildir(t, "box", {"1.M1P1.t": report_mail([("r.xml", good_xml("md-seen"))]),
                             "2.M2P1.t": report_mail([("r.xml", BROKEN)])})
    first = t.dm("ingest", box)
    again = t.dm("ingest", "--json", "--move-to", t.path("done"), "--failed-to",
                 t.path("failed"), box)
    p = exit_is(first, 1, "first run, without --move-to")
    p += exit_is(again, 0, "second run (everything seen)")
    p += expect((again.json() or {}).get("seen") == 2, f"summary {again.json()}: 2 seen")
    p += expect(listing(os.path.join(box, "new")) == []
                and listing(t.path("done/cur")) == ["1.M1P1.t"]
                and listing(t.path("failed/cur")) == ["2.M2P1.t"],
                f"new {listing(os.path.join(box, 'new'))}, done {listing(t.path('done/cur'))}, "
                f"failed {listing(t.path('failed/cur'))}")
    rows = t.quarantine()
    p += expect([r.get("path") for r in rows] == [t.path("failed/cur/2.M2P1.t")],
                f"quarantine paths {[r.get('path') for r in rows]}: expected the moved message")
    return p


def maildir_overlapping_runs(t):
    """Two cron runs with --move-to over one Maildir at the same time: both exit 0, together
    they move every message, and every report is stored once."""
    n = 300
    box = maildir(t, "box", {f"{i:04d}.M{i}P1.t": report_mail([("r.xml", good_xml(f"md-{i}"))])
                             for i in range(n)})
    args = [harness.DMARCSTAT, "ingest", "--quiet", "--db", t.db, "--move-to", t.path("done"), box]
    procs = [subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    p = []
    for i, pr in enumerate(procs):
        try:
            _, err = pr.communicate(timeout=120 * harness.SLOW)
        except subprocess.TimeoutExpired:
            pr.kill()
            _, err = pr.communicate()
        p += expect(pr.returncode == 0, f"run {i + 1}: exit {pr.returncode}: {err[-300:]!r}")
    p += expect(listing(os.path.join(box, "new")) == [] and len(listing(t.path("done/cur"))) == n,
                f"{len(listing(os.path.join(box, 'new')))} left in new/, "
                f"{len(listing(t.path('done/cur')))} moved (of {n})")
    p += expect(len(report_ids(t)) == n, f"{len(report_ids(t))} reports stored, expected {n}")
    return p


def maildir_long_path(t):
    """A Maildir so deep that its messages' paths pass 4096 bytes: read and moved, not skipped.
    The folders are made by descriptor: no path that long is ever opened whole."""
    name = "d" * 250
    fd = os.open(t.dir, os.O_RDONLY)
    path = t.dir
    for _ in range(16):
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd, path = nfd, path + "/" + name
    os.mkdir("box", dir_fd=fd)
    for sub in ("cur", "new", "tmp"):
        os.mkdir("box/" + sub, dir_fd=fd)
    msg = "m" * 240 + ".M1P1.t"
    mfd = os.open("box/new/" + msg, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(mfd, report_mail([("r.xml", good_xml("md-deep"))]))
    os.close(mfd)
    os.close(fd)
    box = path + "/box"
    assert len(box) + len("/new/") + len(msg) > 4096
    res = t.dm("ingest", "--move-to", t.path("done"), box)
    p = exit_is(res, 0, "ingest of a deep Maildir")
    p += expect(report_ids(t) == ["md-deep"], f"reports {report_ids(t)}")
    p += expect(listing(t.path("done/cur")) == [msg], "the message was not moved")
    return p


# ---- 12, 13. A FIFO swapped in between stat and open; raw input over the caps ---------------

def fifo_swapped(t):
    """A folder entry swapped for a FIFO between stat() and open() (made certain by
    swap_shim.c, preloaded) is refused at once, never waited on; the rest is stored."""
    shim = t.path("swap_shim.so")
    cc = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", shim,
                         os.path.join(os.path.dirname(__file__), "swap_shim.c"), "-ldl"],
                        capture_output=True, text=True)
    if cc.returncode != 0:
        return [f"cannot build swap_shim.c: {cc.stderr[-300:]}"]
    folder = t.path("in")
    t.write("in/a.xml", good_xml("fifo-a"))
    t.write("in/b.xml", good_xml("fifo-b"))
    fifo = t.path("fifo")
    os.mkfifo(fifo)
    env = dict(os.environ, LD_PRELOAD=shim, DM_SWAP_NAME="a.xml", DM_SWAP_FIFO=fifo,
               ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
    res = t.dm("ingest", "--json", folder, env=env, timeout=20)
    p = expect(not res.timed_out, "ingest blocked on the FIFO (killed after the time bound)")
    if not res.timed_out:
        p += exit_is(res, 0, "ingest with a FIFO swapped in")
        p += expect(report_ids(t) == ["fifo-b"], f"reports {report_ids(t)}: expected fifo-b")
    p += expect(not os.path.exists(fifo) and os.path.exists(t.path("in/a.xml")),
                "the shim did not swap the FIFO in (the test did not test anything)")
    return p


def stdin_endless(t):
    """`yes | dmarcstat ingest -` ends with the message cap's error (exit 4: standard input is
    not kept whole), reading no more than the cap: standard input is held in memory up to
    DM_MAX_MESSAGE_BYTES (100 MiB), so the RSS bound is that plus the usual 64 MiB."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        res = run(["ingest", "--db", t.db, "-"], timeout=60 * harness.SLOW, stdin=yes.stdout)
    finally:
        yes.kill()
        yes.wait()
    p = expect(not res.timed_out, "ingest - never ended")
    p += exit_is(res, 4, "yes | ingest -")
    p += expect("standard input exceeds 100 MiB limit (DM_MAX_MESSAGE_BYTES)" in res.err,
                f"stderr does not name the cap: {res.err[-300:]!r}")
    bound = harness.RSS_MIB + (0 if harness.sanitized() else 100)
    p += expect(res.rss_mib < bound, f"peak RSS {res.rss_mib:.0f} MiB, bound {bound} MiB")
    return p


def sparse_4gib(t):
    """A 4 GiB sparse file in a folder is refused by its size before it is hashed
    (DM_MAX_INPUT_BYTES), quickly; its first bytes are kept; the good file is stored."""
    t.write("in/good.xml", good_xml("sparse-good"))
    with open(t.path("in/sparse.bin"), "wb") as f:
        f.truncate(4 << 30)
    res = t.dm("ingest", "--json", t.path("in"), timeout=10)
    p = expect(not res.timed_out and res.seconds < 5 * harness.SLOW,
               f"took {res.seconds:.1f} s (bound {5 * harness.SLOW} s)")
    p += exit_is(res, 1, "ingest of a folder with a 4 GiB sparse file")
    p += expect("sparse.bin: file larger than the 1 GiB limit (DM_MAX_INPUT_BYTES)" in res.err
                and "only the first 16 MiB of 4.0 GiB kept" in res.err,
                f"stderr: {res.err[-300:]!r}")
    p += expect(report_ids(t) == ["sparse-good"], f"reports {report_ids(t)}")
    p += expect(res.rss_mib < harness.RSS_MIB, f"peak RSS {res.rss_mib:.0f} MiB")
    return p


# ---- 14. Terminal escapes in member and attachment names -----------------------------------

# A zip member name keeps to ASCII: libarchive drops names it cannot convert to the locale's
# charset (C: ASCII); U+202E comes in the attachment's name, which GMime decodes to UTF-8.
EVIL = "\x1b[2J\x1b]0;owned\x07\r\ndmarcstat: stored 1 report.xml"
RAW = [b"\x1b", b"\x07", b"\r", "\u202e".encode()]


def raw_in(text):
    """The raw control bytes of EVIL found in text (str or bytes)."""
    data = text.encode() if isinstance(text, str) else text
    return [r for r in RAW if r in data]


def terminal_escapes(t):
    """A zip member name and a MIME attachment name with ESC sequences, BEL, CR LF (a forged
    line) and U+202E: every one is escaped on stderr (ingest, parse) and stdout (quarantine
    list, show)."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(EVIL, BROKEN)
    zpath = t.write("evil.zip", buf.getvalue())
    mail = report_mail([("x.xml", BROKEN)]).replace(
        b"filename=x.xml",
        b"filename*=utf-8''%1B%5B2J%07%0D%0Admarcstat%3A%20stored%E2%80%AEgpj.xml")
    mpath = t.write("evil.eml", mail)
    p = []
    for args in (["ingest", zpath, mpath], ["parse", zpath, mpath]):
        res = t.dm(*args)
        p += expect(res.rc == 1 and not raw_in(res.err) and "\\x1b[2J" in res.err
                    and "\\u202egpj.xml" in res.err,
                    f"{args[0]}: exit {res.rc}, raw {raw_in(res.err)} in {res.err[-400:]!r}")
    listed = t.dm("quarantine", "list")
    p += expect(not raw_in(listed.out) and b"\\x1b[2J" in listed.out,
                f"quarantine list: raw {raw_in(listed.out)} in {listed.out[-400:]!r}")
    for entry, shows in (("1", b"\\x1b]0;owned\\x07"), ("2", b"\\u202egpj.xml")):
        shown = t.dm("quarantine", "show", entry)
        p += expect(shown.rc == 0 and not raw_in(shown.out) and shows in shown.out,
                    f"quarantine show {entry}: raw {raw_in(shown.out)} in {shown.out[:400]!r}")
    return p


# ---- 15. Foreign SQLite files -------------------------------------------------------------

def sha_of(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def foreign_sqlite(t):
    """SQLite files that are not dmarcstat's are refused with the file unchanged, whatever
    user_version says (-5, 2) or when another program's application id is set; `report` on an
    empty file writes nothing into it."""
    import sqlite3
    good = t.write("good.xml", good_xml("foreign-1"))
    p = []
    for name, sql in (("neg.db", "CREATE TABLE t (x); PRAGMA user_version = -5"),
                      ("two.db", "CREATE TABLE t (x); PRAGMA user_version = 2"),
                      ("app.db", "PRAGMA application_id = 1179603526; CREATE TABLE t (x)")):
        db = t.path(name)
        con = sqlite3.connect(db)
        con.executescript(sql)
        con.close()
        before = sha_of(db)
        for args in (["ingest", "--db", db, good], ["quarantine", "--db", db, "list"]):
            res = t.dm(*args)
            p += exit_is(res, 3, f"{args[0]} on {name}")
            p += expect("not a dmarcstat database" in res.err, f"{name}: {res.err[-200:]!r}")
        p += expect(sha_of(db) == before and not os.path.exists(db + "-wal"),
                    f"{name} was changed")
    empty = t.write("empty.db", b"")
    res = t.dm("report", "--db", empty)
    p += exit_is(res, 3, "report on an empty file")
    p += expect(os.path.getsize(empty) == 0, f"report wrote {os.path.getsize(empty)} bytes")
    return p


# ---- 18. The small ones ---------------------------------------------------------------------

def db_warnings(t):
    """A database anyone may write, or another user's, is used with a warning."""
    t.write("in/good.xml", good_xml("warn-1"))
    first = t.dm("ingest", t.path("in"))
    os.chmod(t.db, 0o666)
    res = t.dm("ingest", "--quiet", t.path("in"))
    p = exit_is(first, 0, "first ingest") + exit_is(res, 0, "ingest into a 0666 database")
    p += expect("is writable by anyone (mode 0666)" in res.err, f"stderr {res.err!r}")
    if os.geteuid() == 0:
        os.chmod(os.path.dirname(t.dir), 0o711)
        os.chmod(t.dir, 0o777)
        r = subprocess.run([harness.DMARCSTAT, "quarantine", "--db", t.db, "list"],
                           capture_output=True, text=True, preexec_fn=as_nobody, timeout=60)
        p += expect(f"belongs to user 0, not to you (65534)" in r.stderr,
                    f"as nobody: exit {r.returncode}, stderr {r.stderr!r}")
    return p


def report_read_only_user(t):
    """`report` by a user who may read the database but not write it or its folder works
    (read-only, never "database is read-only"); needs root to run as another user."""
    if os.geteuid() != 0:
        return ["needs root, to run the report as another user (nobody)"]
    t.write("in/good.xml", good_xml("ro-1"))
    p = exit_is(t.dm("ingest", t.path("in")), 0, "ingest")
    os.chmod(os.path.dirname(t.dir), 0o711)
    os.chmod(t.dir, 0o755)
    os.chmod(t.db, 0o644)
    r = subprocess.run([harness.DMARCSTAT, "report", "--db", t.db, "--from", "2023-11-14",
                        "--to", "2023-11-16", "--format", "json"], capture_output=True,
                       text=True, preexec_fn=as_nobody, timeout=60)
    try:
        over = {x["metric"]: x["value"] for x in json.loads(r.stdout)["overview"]}
    except (ValueError, KeyError, TypeError):
        over = {}
    p += expect(r.returncode == 0 and over.get("messages") == 5,
                f"report as nobody: exit {r.returncode}, stderr {r.stderr[-300:]!r}, "
                f"overview {over}")
    p += expect(not os.path.exists(t.db + "-wal"), "the report left a -wal file")
    return p


def quarantine_bad_arguments(t):
    """`quarantine show 99999999999999999999` is a usage error naming the value (not entry
    INT64_MAX); `quarantine list extra` says what is wrong with "extra"."""
    big = t.dm("quarantine", "show", "99999999999999999999")
    extra = t.dm("quarantine", "list", "extra")
    p = exit_is(big, 2, "quarantine show 99999999999999999999")
    p += expect("'99999999999999999999' is not an entry ID" in big.err
                and "no entry 9223372036854775807" not in big.err,
                f"stderr {big.err!r}")
    p += exit_is(extra, 2, "quarantine list extra")
    p += expect("'extra'" in extra.err and "unknown subcommand 'list'" not in extra.err,
                f"stderr {extra.err!r}")
    return p

def base64_junk(t):
    """Characters outside the base64 alphabet inside an attachment are ignored (RFC 2045,
    section 6.8), not a reason to quarantine the mail."""
    data = gzip.compress(good_xml("b64-junk-1"))
    lines = re.findall(".{1,76}", base64.b64encode(data).decode())
    junk = "\r\n".join(line[:9] + "*!#." + line[9:] for line in lines)
    mail = report_mail([("r.xml.gz", data)]).replace(
        "\r\n".join(lines).encode(), junk.encode())
    res = t.dm("ingest", "--json", "-", stdin=mail)
    p = exit_is(res, 0, "ingest of a mail with junk in its base64")
    p += expect((res.json() or {}).get("reports") == 1, f"summary {res.json()}: expected 1 report")
    return p


FINDINGS = [
    ("stdin_mail_kept", stdin_mail_kept),
    ("mbox_message_kept", mbox_message_kept),
    ("stdin_cut_by_cap_is_lost", stdin_cut_by_cap_is_lost),
    ("readme_pipe_wrapper", readme_pipe_wrapper),
    ("count_int64_max", count_int64_max),
    ("forged_report_conflict", forged_report_conflict),
    ("conflict_keep_stored", conflict_keep_stored),
    ("maildir_same_name", maildir_same_name),
    ("maildir_unreadable", maildir_unreadable),
    ("maildir_seen_moved", maildir_seen_moved),
    ("maildir_overlapping_runs", maildir_overlapping_runs),
    ("maildir_long_path", maildir_long_path),
    ("fifo_swapped", fifo_swapped),
    ("stdin_endless", stdin_endless),
    ("sparse_4gib", sparse_4gib),
    ("terminal_escapes", terminal_escapes),
    ("foreign_sqlite", foreign_sqlite),
    ("db_warnings", db_warnings),
    ("report_read_only_user", report_read_only_user),
    ("quarantine_bad_arguments", quarantine_bad_arguments),
    ("base64_junk", base64_junk),
]


def run_all(tmp, tally, only=()):
    for name, fn in FINDINGS:
        if only and name not in only:
            continue
        t = Tmp(tmp, "finding-" + name)
        try:
            problems = fn(t)
        except Exception as e:  # a finding that crashes is a failed check, not a lost suite
            problems = [f"{type(e).__name__}: {e}"]
        tally.check(f"finding {name}", problems)
        shutil.rmtree(t.dir, ignore_errors=True)
