"""IMAP inputs against a real Dovecot (tests/cli/dovecot.py: 127.0.0.1, free ports, TLS from a
CA made here, a throw-away config), end to end through the dmarcstat binary:

- first import: the same totals as the same mails in a Maildir; messages left flagged \\Seen;
- a re-run fetches nothing; new mail between runs is fetched, and only it;
- --move-to and --failed-to, by UID MOVE, and by COPY + \\Deleted + UID EXPUNGE on a server
  without MOVE; a run with --move-to moves what earlier runs left; no MOVE nor UIDPLUS: refused;
- kill -9 in mid-run, then re-runs: after every kill each message moved is committed, none is
  lost, and the totals end exact;
- wrong password, wrong certificate, missing folder, no STARTTLS: one line naming server and
  folder, exit 3; a password never printed nor stored;
- a changed UIDVALIDITY: read again, nothing counted twice;
- a 1,000-message folder (with --limit), and a re-run over 10,000 seen messages in under 2 s;
- XOAUTH2 and OAUTHBEARER against Dovecot's oauth2 passdb (local JWT validation); an expired
  token refused, the token file read again on the next run;
- STARTTLS for imap://, --insecure-plaintext only to loopback, files and folders mixed in one run,
  the progress line on a terminal.

Skipped (exit 77) only when Dovecot is not installed; a Dovecot that does not start fails the test.
"""
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import dovecot  # noqa: E402
import gen  # noqa: E402
import harness  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
DATA = os.path.join(os.environ["DM_TEST_DATA_DIR"], "mail")
SLOW = harness.SLOW
PASSWORD = "Pw-7f3a9c-never-printed"
tally = harness.Tally()
check = tally.expect
outputs = []   # every stdout and stderr of dmarcstat, searched for the password at the end


class Env:
    """The servers and files the tests share."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.pwfile = os.path.join(tmp, "password")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)
        users = {u: PASSWORD for u in ("first", "moves", "kill", "uidv", "big", "huge", "oauth",
                                        "plain", "mixed", "tty", "later", "cap")}
        self.dc = dovecot.Dovecot(os.path.join(tmp, "dc"), users).start()
        self.other_ca = dovecot.make_ca(os.path.join(tmp, "other"), "other")


def ingest(db, *args, env=None, cacert=None, password=True):
    """dmarcstat ingest --json; returns (exit status, summary or None, stderr)."""
    argv = [DMARCSTAT, "ingest", "--json", "--db", db]
    if password:
        argv += ["--password-file", E.pwfile]
    if cacert is not False:
        argv += ["--cacert", cacert or E.dc.ca]
    res = subprocess.run(argv + list(args), capture_output=True, timeout=600 * SLOW, env=env)
    out, err = res.stdout.decode(), res.stderr.decode()
    outputs.append(out + err)
    return res.returncode, (json.loads(out) if out.strip() else None), err


def totals(db):
    with sqlite3.connect(db) as con:
        return con.execute("SELECT (SELECT count(*) FROM report), count(*), ifnull(sum(count), 0)"
                           " FROM record").fetchone()


def query(db, sql):
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def mails(n, first=0, records=None):
    """n report mails of bench/gen.py (zip and gzip attachments, base64), from mail first."""
    out = []
    for i, name, att, z in gen.mails(first + n):
        if i >= first:
            out.append(gen.mail(i, name, att, z))
    return out


def small_mails(n):
    """n distinct one-record report mails, quick to make, fetch and store."""
    out = []
    for i in range(n):
        xml = (f'<?xml version="1.0"?><feedback><report_metadata><org_name>small.example'
               f'</org_name><email>r@small.example</email><report_id>small-{i}</report_id>'
               f'<date_range><begin>{1763942400 + i}</begin><end>{1764028799 + i}</end>'
               f'</date_range></report_metadata><policy_published><domain>example.com</domain>'
               f'<p>none</p></policy_published><record><row><source_ip>192.0.2.{i % 250 + 1}'
               f'</source_ip><count>{i % 7 + 1}</count><policy_evaluated><disposition>none'
               f'</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>'
               f'<identifiers><header_from>example.com</header_from></identifiers><auth_results>'
               f'<spf><domain>example.com</domain><result>pass</result></spf></auth_results>'
               f'</record></feedback>\n')
        out.append((f"From: r@small.example\nTo: rua@example.com\nSubject: Report {i}\n"
                    f"Message-ID: <small-{i}@small.example>\nContent-Type: text/xml\n\n"
                    + xml).encode())
    return out


def reference(messages, name):
    """The totals of the same mails put in a Maildir and ingested from there."""
    box = os.path.join(E.tmp, "ref-" + name)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    for i, m in enumerate(messages):
        with open(os.path.join(box, "new", f"{i}.M{i}P1.ref"), "wb") as f:
            f.write(m)
    db = os.path.join(E.tmp, "ref-" + name + ".db")
    rc, _, err = ingest(db, box, password=False, cacert=False)
    check(rc == 0, f"reference {name}: exit {rc}: {err[:200]!r}")
    return totals(db)


def test_first_import_rerun_and_new_mail():
    msgs = mails(20)
    E.dc.deliver("first", msgs)
    db = os.path.join(E.tmp, "first.db")
    rc, s, err = ingest(db, E.dc.url("first"))
    want = reference(msgs, "first20")
    check(rc == 0 and s["files"] == 20 and s["reports"] == 20,
          f"first import: exit {rc}, {s}, {err[:300]!r}")
    check(totals(db) == want, f"first import: stored {totals(db)}, the same mails as a Maildir {want}")
    box = E.dc.folder("first")
    check(len(box) == 20 and all("\\Seen" in f for f, _ in box.values()),
          f"messages stay in INBOX flagged \\Seen: {[f for f, _ in box.values()][:3]}")
    v = E.dc.status("first")["UIDVALIDITY"]
    ids = [r[0] for r in query(db, "SELECT identity FROM input ORDER BY id")]
    check(ids[0] == f"{E.dc.url('first')};UIDVALIDITY={v}/;UID=1"
          and ids[-1].endswith(";UID=20") and len(ids) == 20,
          f"each message's identity is its IMAP URL (RFC 5092): {ids[:1]}")
    hashes = {h for _, h in box.values()}
    check(hashes == {r[0] for r in query(db, "SELECT sha256 FROM input")},
          "each input's SHA-256 is that of the message as the server sends it")
    check(query(db, "SELECT folder, uidvalidity, last_uid FROM imap_folder")
          == [(E.dc.url("first"), v, 20)], "the folder's UIDVALIDITY and last UID are kept")

    rc, s, err = ingest(db, E.dc.url("first"))
    check(rc == 0 and s["files"] == 0 and s["reports"] == 0,
          f"a re-run fetches nothing: exit {rc}, {s}, {err!r}")

    more = mails(3, first=20)
    E.dc.deliver("first", more)
    rc, s, err = ingest(db, E.dc.url("first"))
    check(rc == 0 and s["files"] == 3 and s["reports"] == 3,
          f"new mail between runs: only it is fetched: {s} {err!r}")
    check(totals(db) == reference(msgs + more, "first23"), f"after new mail: {totals(db)}")


def broken_and_forensic():
    with open(os.path.join(DATA, "bad_base64.eml"), "rb") as f:
        bad = f.read()
    with open(os.path.join(DATA, "forensic.eml"), "rb") as f:
        forensic = f.read()
    return bad, forensic


def test_move_to_and_failed_to():
    good = mails(4, first=100)
    bad, forensic = broken_and_forensic()
    E.dc.deliver("moves", good[:2] + [bad] + good[2:3])
    db = os.path.join(E.tmp, "moves.db")
    # A first run without --move-to leaves its messages; the next run with it moves them.
    rc, s, err = ingest(db, E.dc.url("moves"))
    check(rc == 1 and s["quarantined"] == 1 and "quarantined: " + E.dc.url("moves") + ": UID 3:" in err,
          f"a broken mail is quarantined, named by folder and UID: exit {rc} {err!r}")
    before = E.dc.folder("moves")
    check(len(before) == 4, "without --move-to nothing moves")
    E.dc.deliver("moves", [forensic, good[3]])
    rc, s, err = ingest(db, E.dc.url("moves"), "--move-to", "Processed", "--failed-to", "Failed")
    check(rc == 0 and s["files"] == 2 and s["skipped"] == 1, f"second run: exit {rc} {s} {err!r}")
    inbox, done, failed = (E.dc.folder("moves", f) for f in ("INBOX", "Processed", "Failed"))
    check(inbox == {}, f"INBOX is empty: {inbox}")
    check(done is not None and len(done) == 5, f"stored and skipped mails went to Processed: {done}")
    check(failed is not None and [h for _, h in failed.values()] == [before[3][1]],
          f"the quarantined mail went to Failed: {failed}")
    check(query(db, "SELECT count(*) FROM imap_message") == [(0,)], "nothing is left to move")
    qid = query(db, "SELECT id, path, member FROM quarantine")
    check(len(qid) == 1 and qid[0][1] == E.dc.url("moves") and qid[0][2].startswith("UID 3"),
          f"the quarantine names folder and UID: {qid}")
    raw = subprocess.run([DMARCSTAT, "quarantine", "--db", db, "show", "--raw", str(qid[0][0])],
                         capture_output=True).stdout
    check(hashlib.sha256(raw).hexdigest() == list(failed.values())[0][1],
          "the quarantined message's bytes are kept whole")
    res = subprocess.run([DMARCSTAT, "quarantine", "--db", db, "retry", str(qid[0][0])],
                         capture_output=True, text=True)
    outputs.append(res.stdout + res.stderr)
    check(res.returncode == 1 and f"{qid[0][0]}: still failing" in res.stdout
          and query(db, f"SELECT resolved_at FROM quarantine WHERE id = {qid[0][0]}") == [(None,)],
          f"quarantine retry runs the kept message again, off line: {res.returncode} "
          f"{res.stdout!r} {res.stderr!r}")
    log = E.dc.log()
    check("expunge: box=INBOX" in log and "flags=(\\Deleted" not in log,
          "moved by UID MOVE (no \\Deleted flag set)")


def test_refused_move_goes_on():
    E.dc.deliver("later", mails(150, first=900))
    db = os.path.join(E.tmp, "later.db")
    url = E.dc.url("later")
    rc, s, err = ingest(db, url, "--move-to", "INBOX")
    check(rc == 3 and f"failed: {url}: --move-to names the folder being read" in err,
          f"--move-to the folder read is refused: exit {rc} {err!r}")
    rc, s, err = ingest(db, url, "--move-to", "Bad/Name")
    check(rc == 1 and s["reports"] == 150 and err.count("\n") == 1
          and f"failed: {url}: moving messages to Bad/Name: NO [CANNOT] Invalid mailbox name" in err,
          f"a move the server refuses: every message still stored, one line: exit {rc} {s} {err!r}")
    check(len(E.dc.folder("later")) == 150, "the messages stay until they can be moved")
    rc, s, err = ingest(db, url, "--move-to", "Later")
    check(rc == 0 and s["files"] == 0 and E.dc.folder("later") == {}
          and len(E.dc.folder("later", "Later")) == 150,
          f"the next run moves them: exit {rc} {s} {err!r}")


def test_move_without_move_capability():
    dc = dovecot.Dovecot(os.path.join(E.tmp, "nomove"), {"u": PASSWORD},
                         capability="IMAP4rev1 SASL-IR LITERAL+ UIDPLUS").start()
    try:
        msgs = mails(3, first=200)
        dc.deliver("u", msgs)
        db = os.path.join(E.tmp, "nomove.db")
        rc, s, err = ingest(db, dc.url("u"), "--move-to", "Done Reports", cacert=dc.ca)
        check(rc == 0 and s["reports"] == 3, f"no MOVE: exit {rc} {s} {err!r}")
        check(dc.folder("u") == {} and len(dc.folder("u", "Done Reports") or {}) == 3,
              "no MOVE: messages copied, flagged \\Deleted and expunged by UID")
        log = dc.log()
        check(log.count("expunge: box=INBOX") == 3 and log.count("flags=(\\Deleted \\Seen)") == 3,
              "no MOVE: COPY, \\Deleted and UID EXPUNGE were used")
    finally:
        dc.stop()
    dc = dovecot.Dovecot(os.path.join(E.tmp, "bare"), {"u": PASSWORD}, ssl_on=False,
                         capability="IMAP4rev1 SASL-IR LITERAL+").start()
    try:
        dc.deliver("u", mails(1, first=210))
        db = os.path.join(E.tmp, "bare.db")
        url = dc.url("u", scheme="imap")
        rc, s, err = ingest(db, url, "--move-to", "Done")
        check(rc == 3 and f"failed: {url}: reading the folder: the server offers no STARTTLS, "
              "which imap:// needs (use imaps://)" in err,
              f"imap:// to a server without STARTTLS is refused: exit {rc} {err!r}")
        rc, s, err = ingest(db, url, "--insecure-plaintext", "--move-to", "Done")
        check(rc == 1 and s["reports"] == 1 and f"failed: {url}: moving messages to Done: the server "
              "has neither MOVE nor UIDPLUS; the messages stay in the folder" in err,
              f"neither MOVE nor UIDPLUS: stored, not moved: exit {rc} {s} {err!r}")
        rc, s, err = ingest(db, url, "--insecure-plaintext")
        check(rc == 0 and s["files"] == 0, f"without --move-to the next run is clean: {rc} {err!r}")
    finally:
        dc.stop()


def committed_hashes(db):
    """SHA-256 of every input committed as done; the database may be mid-write (WAL)."""
    with harness.connect(db) as con:
        return {r[0] for r in con.execute("SELECT sha256 FROM input WHERE status = 'done'")}


def input_count(db):
    try:
        with harness.connect(db) as con:
            return con.execute("SELECT count(*) FROM input").fetchone()[0]
    except sqlite3.Error:
        return 0


def kill_after(db, n, args):
    """Starts an ingest and kills it (SIGKILL) once n inputs are in its database."""
    p = subprocess.Popen([DMARCSTAT, "ingest", "--db", db, "--password-file", E.pwfile,
                          "--cacert", E.dc.ca] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120 * SLOW
    while p.poll() is None and input_count(db) < n and time.monotonic() < deadline:
        time.sleep(0.002)
    finished = p.poll() is not None
    p.send_signal(signal.SIGKILL)
    p.wait()
    outputs.append(p.stderr.read().decode())
    return not finished


def test_kill_mid_run():
    msgs = mails(300, first=300)
    E.dc.deliver("kill", msgs)
    all_hashes = {h for _, h in E.dc.folder("kill").values()}
    db = os.path.join(E.tmp, "kill.db")
    args = ["--move-to", "Processed", E.dc.url("kill")]
    problems, kills = [], 0
    for n in (1, 40, 90, 150, 210, 260):
        kills += kill_after(db, n, args)
        inbox = E.dc.folder("kill")
        done = E.dc.folder("kill", "Processed") or {}
        moved = {h for _, h in done.values()}
        early = moved - committed_hashes(db)
        if early:
            problems.append(f"after a kill at {n} inputs: {len(early)} messages moved before commit")
        if {h for _, h in inbox.values()} | moved != all_hashes or len(inbox) + len(done) != 300:
            problems.append(f"after a kill at {n} inputs: {len(inbox)} + {len(done)} messages, not 300")
        if harness.integrity(db) != "ok":
            problems.append(f"integrity after a kill at {n}")
    check(not problems, "kill -9 mid-run: nothing moved before its commit, nothing lost: "
          + "; ".join(problems))
    check(kills >= 4, f"the kills hit running imports ({kills} of 6)")
    rc, s, err = ingest(db, *args)
    check(rc == 0, f"the run after the kills: exit {rc} {err!r}")
    check(totals(db) == reference(msgs, "kill300"),
          f"after the kills the totals are exact: {totals(db)}")
    check(len(E.dc.folder("kill")) == 0 and len(E.dc.folder("kill", "Processed")) == 300,
          "after the kills every message is moved")
    check(query(db, "SELECT count(*), count(DISTINCT sha256) FROM input") == [(300, 300)]
          and query(db, "SELECT count(*) FROM imap_message") == [(0,)],
          f"each message stored once: {query(db, 'SELECT count(*) FROM input')}")


def test_refusals():
    db = os.path.join(E.tmp, "refusals.db")
    url = E.dc.url("first")
    wrong = os.path.join(E.tmp, "wrong")
    with open(wrong, "w") as f:
        f.write("not-the-password\n")
    os.chmod(wrong, 0o600)
    argv = [DMARCSTAT, "ingest", "--db", db, "--cacert", E.dc.ca, "--password-file", wrong, url]
    res = subprocess.run(argv, capture_output=True, text=True)
    outputs.append(res.stdout + res.stderr)
    check(res.returncode == 3 and res.stderr.startswith(
          f"dmarcstat: failed: {url}: reading the folder: login denied for first: "
          "NO [AUTHENTICATIONFAILED] Authentication failed.\n"),
          f"wrong password: exit {res.returncode}: {res.stderr!r}")
    check("not-the-password" not in res.stderr + res.stdout, "a wrong password is not printed")
    env = dict(os.environ, DMARCSTAT_IMAP_PASSWORD="not-the-password")
    rc, s, err = ingest(db, url, env=env, password=False)
    check(rc == 3 and "login denied for first" in err and "not-the-password" not in err,
          f"wrong DMARCSTAT_IMAP_PASSWORD: exit {rc} {err!r}")
    env = dict(os.environ, DMARCSTAT_IMAP_PASSWORD=PASSWORD)
    rc, s, err = ingest(db, url, env=env, password=False)
    check(rc == 0 and s["reports"] == 23, f"DMARCSTAT_IMAP_PASSWORD: exit {rc} {s} {err!r}")

    for cacert, what in ((E.other_ca, "another CA"), (None, "the system's CAs")):
        argv = [DMARCSTAT, "ingest", "--db", db, "--password-file", E.pwfile, url]
        if cacert:
            argv[4:4] = ["--cacert", cacert]
        res = subprocess.run(argv, capture_output=True, text=True)
        outputs.append(res.stdout + res.stderr)
        check(res.returncode == 3 and f"dmarcstat: failed: {url}: reading the folder: TLS: SSL "
              "certificate problem: unable to get local issuer certificate" in res.stderr,
              f"wrong certificate ({what}): exit {res.returncode}: {res.stderr!r}")

    missing = E.dc.url("first", "NoSuchFolder")
    rc, s, err = ingest(db, missing)
    check(rc == 3 and err.startswith(f"dmarcstat: failed: {missing}: reading the folder: "
                                     "NO Mailbox doesn't exist: NoSuchFolder"),
          f"missing folder: exit {rc}: {err!r}")

    rc, s, err = ingest(db, url.replace("first@", f"first:{PASSWORD}@"))
    check(rc == 3 and "a password in the URL is refused" in err and PASSWORD not in err,
          f"a password in the URL is refused, not echoed: exit {rc} {err!r}")
    loose = os.path.join(E.tmp, "loose")
    shutil.copy(E.pwfile, loose)
    os.chmod(loose, 0o644)
    rc, s, err = ingest(db, url, "--password-file", loose, password=False)
    check(rc == 3 and f"the password file {loose} must be a file only its owner can read" in err,
          f"a password file others can read is refused: exit {rc} {err!r}")
    rc, s, err = ingest(db, "--netrc", "--password-file", E.pwfile, url, password=False)
    check(rc == 2 and "exclude each other" in err, f"two sources of credentials: {rc} {err!r}")
    rc, s, err = ingest(db, "--limit", "0", url)
    check(rc == 2 and "--limit needs a count of messages: 0" in err, f"--limit 0: {rc} {err!r}")
    # A folder that fails beside one that works: partial, exit 1.
    rc, s, err = ingest(db, url, missing)
    check(rc == 1 and s["failed"] == 1, f"one folder of two fails: exit {rc} {s}")


def test_uidvalidity_change():
    msgs = mails(6, first=400)
    E.dc.deliver("uidv", msgs)
    db = os.path.join(E.tmp, "uidv.db")
    rc, s, err = ingest(db, E.dc.url("uidv"))
    check(rc == 0 and s["reports"] == 6, f"before the change: {s} {err!r}")
    E.dc.set_uidvalidity("uidv", "INBOX", 4242)
    more = mails(1, first=406)
    E.dc.deliver("uidv", more)
    rc, s, err = ingest(db, E.dc.url("uidv"))
    check(rc == 0 and s["files"] == 7 and s["seen"] == 6 and s["reports"] == 1,
          f"a new UIDVALIDITY: every message read again, nothing counted twice: {s} {err!r}")
    check(totals(db) == reference(msgs + more, "uidv7"), f"after the change: {totals(db)}")
    check(query(db, "SELECT uidvalidity, last_uid FROM imap_folder") == [(4242, 7)],
          f"the new UIDVALIDITY is kept: {query(db, 'SELECT * FROM imap_folder')}")
    rc, s, err = ingest(db, E.dc.url("uidv"))
    check(rc == 0 and s["files"] == 0, f"then a re-run fetches nothing: {s}")


def test_thousand_messages():
    msgs = mails(1000, first=1000)
    E.dc.deliver("big", msgs)
    db = os.path.join(E.tmp, "big.db")
    start = time.monotonic()
    rc, s, err = ingest(db, "--limit", "400", E.dc.url("big"))
    first = time.monotonic() - start
    check(rc == 0 and s["files"] == 400, f"--limit 400: {s} {err!r}")
    rc, s, err = ingest(db, E.dc.url("big"))
    check(rc == 0 and s["files"] == 600, f"the rest: {s} {err!r}")
    check(totals(db) == reference(msgs, "big1000"), f"1,000 messages: {totals(db)}")
    start = time.monotonic()
    rc, s, err = ingest(db, E.dc.url("big"))
    again = time.monotonic() - start
    check(rc == 0 and s["files"] == 0, f"re-run over 1,000: {s}")
    print(f"     1,000 messages: first 400 in {first:.2f} s, a re-run in {again:.3f} s", flush=True)


def test_ten_thousand_rerun():
    msgs = small_mails(10000)
    E.dc.deliver("huge", msgs)
    db = os.path.join(E.tmp, "huge.db")
    start = time.monotonic()
    rc, s, err = ingest(db, E.dc.url("huge"))
    first = time.monotonic() - start
    check(rc == 0 and s["files"] == 10000 and s["reports"] == 10000, f"10,000: {s} {err[:300]!r}")
    start = time.monotonic()
    rc, s, err = ingest(db, E.dc.url("huge"))
    again = time.monotonic() - start
    check(rc == 0 and s["files"] == 0, f"re-run over 10,000: {s}")
    check(again < 2.0 * SLOW, f"a re-run over 10,000 seen messages takes {again:.2f} s (< 2 s)")
    print(f"     10,000 messages: first run {first:.1f} s, re-run {again:.3f} s", flush=True)


def test_message_over_the_cap():
    line = b"x" * 1023 + b"\n"
    # 101.1 MiB as the server gives it (its lines end in CRLF).
    body = (b"From: r@big.example\nSubject: too big\nMessage-ID: <big@big.example>\n\n"
            + line * (101 * 1024))
    E.dc.deliver("cap", [body, mails(1, first=950)[0]])
    db = os.path.join(E.tmp, "cap.db")
    res = harness.run(["ingest", "--json", "--db", db, "--password-file", E.pwfile, "--cacert",
                       E.dc.ca, "--failed-to", "TooBig", E.dc.url("cap")], timeout=300 * SLOW)
    outputs.append(res.out.decode() + res.err)
    s = res.json()
    check(res.rc == 1 and s["quarantined"] == 1 and s["reports"] == 1
          and f"quarantined: {E.dc.url('cap')}: UID 1: message larger than 100 MiB "
          "(DM_MAX_MESSAGE_BYTES); only the first 16 MiB of 101.1 MiB kept "
          "(DM_MAX_QUARANTINE_BYTES) (limit)" in res.err,
          f"a message over the cap is refused at the cap: exit {res.rc} {s} {res.err!r}")
    check(res.rss_mib < 150 * (4 if SLOW > 1 else 1),
          f"a 101 MiB message is held only up to the 100 MiB cap: peak RSS {res.rss_mib:.0f} MiB")
    check(len(E.dc.folder("cap", "TooBig")) == 1 and len(E.dc.folder("cap")) == 1,
          "--failed-to takes it")
    print(f"     101 MiB message: {res.seconds:.1f} s, peak RSS {res.rss_mib:.0f} MiB", flush=True)


def test_oauth2():
    token = os.path.join(E.tmp, "token")
    E.dc.deliver("oauth", mails(2, first=500))
    db = os.path.join(E.tmp, "oauth.db")

    def write_token(t):
        with open(token, "w") as f:
            f.write(t + "\n")
        os.chmod(token, 0o600)

    write_token(E.dc.token("oauth", ttl=-60))
    rc, s, err = ingest(db, E.dc.url("oauth", options=";AUTH=XOAUTH2"), "--oauth2-token-file",
                        token, password=False)
    check(rc == 3 and "login denied for oauth" in err, f"an expired token is refused: {rc} {err!r}")
    write_token(E.dc.token("oauth"))
    rc, s, err = ingest(db, E.dc.url("oauth", options=";AUTH=XOAUTH2"), "--oauth2-token-file",
                        token, password=False)
    check(rc == 0 and s["reports"] == 2, f"XOAUTH2 (token file read again): {rc} {s} {err!r}")
    check("user=<oauth>, method=XOAUTH2" in E.dc.log(), "Dovecot saw XOAUTH2")
    E.dc.deliver("oauth", mails(1, first=502))
    rc, s, err = ingest(db, E.dc.url("oauth"), "--oauth2-token-file", token, password=False)
    check(rc == 0 and s["reports"] == 1 and "user=<oauth>, method=OAUTHBEARER" in E.dc.log(),
          f"OAUTHBEARER when the server offers it: {rc} {s} {err!r}")


def test_starttls_plaintext_and_mixed_inputs():
    E.dc.deliver("plain", mails(2, first=600))
    db = os.path.join(E.tmp, "plain.db")
    url = E.dc.url("plain", scheme="imap")
    rc, s, err = ingest(db, url)
    check(rc == 0 and s["reports"] == 2, f"imap:// upgrades with STARTTLS: {rc} {s} {err!r}")
    check("Login: user=<plain>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid" in E.dc.log()
          and ", TLS, session" in E.dc.log().split("user=<plain>")[1].split("\n")[0],
          "the STARTTLS login ran over TLS")
    E.dc.deliver("plain", mails(1, first=602))
    rc, s, err = ingest(db, "--insecure-plaintext", url)
    check(rc == 0 and s["reports"] == 1, f"--insecure-plaintext to loopback: {rc} {s} {err!r}")
    rc, s, err = ingest(db, "--insecure-plaintext", "imap://plain@192.0.2.1/INBOX")
    check(rc == 3 and "--insecure-plaintext is only for a test server on this machine" in err,
          f"--insecure-plaintext elsewhere: {rc} {err!r}")

    E.dc.deliver("mixed", mails(2, first=700))
    files = os.path.join(E.tmp, "mixed-files")
    os.makedirs(files)
    shutil.copy(os.path.join(DATA, "report.xml.gz"), files)
    db = os.path.join(E.tmp, "mixed.db")
    rc, s, err = ingest(db, files, E.dc.url("mixed"))
    check(rc == 0 and s["files"] == 3 and s["reports"] == 3,
          f"a folder of files and an IMAP folder in one run: {rc} {s} {err!r}")
    # The summary names what was read: files and messages here, messages for IMAP alone
    # (test_progress_on_a_terminal).
    res = subprocess.run([DMARCSTAT, "ingest", "--db", os.path.join(E.tmp, "mixed2.db"),
                          "--password-file", E.pwfile, "--cacert", E.dc.ca, files,
                          E.dc.url("mixed")], capture_output=True, timeout=600 * SLOW)
    err = res.stderr.decode()
    outputs.append(err)
    check(res.returncode == 0 and err.startswith("3 files and messages: 3 reports ("),
          f"the summary of files and an IMAP folder: {res.returncode} {err!r}")


def test_progress_on_a_terminal():
    E.dc.deliver("tty", mails(3, first=800))
    db = os.path.join(E.tmp, "tty.db")
    master, slave = pty.openpty()
    p = subprocess.Popen([DMARCSTAT, "ingest", "--db", db, "--password-file", E.pwfile,
                          "--cacert", E.dc.ca, E.dc.url("tty")],
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    text = b""
    while True:
        r, _, _ = select.select([master], [], [], 60 * SLOW)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        text += chunk
    p.wait()
    os.close(master)
    text = text.decode(errors="replace")
    outputs.append(text)
    check(p.returncode == 0 and "\r\033[Kingesting: 1 messages" in text
          and "3 messages: 3 reports" in text,
          f"the progress line counts messages on a terminal: {text!r}")


def test_secrets_never_printed_nor_stored():
    leaked = [o for o in outputs if PASSWORD in o]
    check(not leaked, f"the password appears in output: {leaked[:1]!r}")
    stored = []
    for top, _, files in os.walk(E.tmp):
        for name in files:
            if name.endswith((".db", ".db-wal")):
                with open(os.path.join(top, name), "rb") as f:
                    if PASSWORD.encode() in f.read():
                        stored.append(name)
    check(not stored, f"the password is stored in {stored}")
    check(len(outputs) > 30, f"the password was looked for in {len(outputs)} outputs")


TESTS = [test_first_import_rerun_and_new_mail, test_move_to_and_failed_to,
         test_refused_move_goes_on, test_move_without_move_capability, test_kill_mid_run, test_refusals,
         test_uidvalidity_change, test_thousand_messages, test_message_over_the_cap, test_oauth2,
         test_starttls_plaintext_and_mixed_inputs, test_progress_on_a_terminal,
         test_ten_thousand_rerun, test_secrets_never_printed_nor_stored]


def main():
    global E
    harness.need_binary()
    tmp = tempfile.mkdtemp(prefix="dmimap")
    try:
        try:
            E = Env(tmp)
        except dovecot.NotInstalled as e:
            print(f"SKIPPED: {e}", flush=True)
            sys.exit(77)
        try:
            only = os.environ.get("DM_IMAP_TEST")
            for t in TESTS:
                if only and only not in t.__name__:
                    continue
                start = time.monotonic()
                t()
                print(f"     {t.__name__}: {time.monotonic() - start:.1f} s", flush=True)
        finally:
            E.dc.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tally.finish()


if __name__ == "__main__":
    main()
