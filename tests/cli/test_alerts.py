"""dmarcstat alerts on databases written for each alert kind: nothing new (exit 0, nothing
printed), each kind on both sides of its threshold (a rate change of exactly --threshold points
is no alert, a tenth more is; --min-messages exactly is enough, one less is not), the cause and
fix the classifier gives, the explain command to run next (which runs), JSON, the mail
(--mail-to, --sendmail) and the refusals; the sending service of a source named as report names
it (the host table's, else the services' entry for a domain that authenticated its mail); every
alert and the mail's subject in Japanese with --lang ja or LANG=ja_JP.UTF-8.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_alerts.py
"""
import calendar
import email
import email.policy
import json
import os
import shlex
import sqlite3
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402
from test_report_golden import SOURCE, run  # noqa: E402

tally = harness.Tally()
check = tally.expect
BEFORE, DAY = "2026-11-09", "2026-11-10"
PERIOD = ["--from", DAY, "--to", "2026-11-11"]
PASS = ("none", "pass", "pass")          # disposition, aligned DKIM, aligned SPF
FAIL = ("none", "fail", "fail")
BLOCKED_PASS = ("reject", "pass", "pass")


def day_start(day):
    return calendar.timegm(tuple(map(int, day.split("-"))) + (0, 0, 0))


def make_db(path, rows):
    """rows: (day, org_name, source_ip, header_from, count, (disposition, dkim, spf)[, domain]);
    one report per day and org_name; domain: another domain whose DKIM signature passed."""
    con = sqlite3.connect(path)
    for s in ("schema.sql", "views.sql"):
        con.executescript(open(os.path.join(SOURCE, "sql", s)).read())
    reports = {}
    for n, row in enumerate(rows, 1):
        day, org, ip, hf, count, (disp, dkim, spf) = row[:6]
        if (day, org) not in reports:
            rid = len(reports) + 1
            reports[(day, org)] = rid
            con.execute("INSERT INTO report (id, org_name, report_id, \"begin\", \"end\", schema,"
                        " domain, p, stored_at) VALUES (?, ?, ?, ?, ?, 'rfc7489', ?, 'reject', 0)",
                        (rid, org, f"{org}-{day}", day_start(day), day_start(day) + 86399, hf))
        con.execute("INSERT INTO record (id, report, source_ip, count, disposition, dkim, spf,"
                    " header_from, envelope_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (n, reports[(day, org)], ip, count, disp, dkim, spf, hf, hf))
        con.execute("INSERT INTO spf_result (record, n, domain, scope, result) VALUES (?, 0, ?,"
                    " 'mfrom', ?)", (n, hf, "pass" if spf == "pass" else "softfail"))
        if dkim == "pass":
            con.execute("INSERT INTO dkim_result (record, n, domain, selector, result) VALUES"
                        " (?, 0, ?, 's1', 'pass')", (n, hf))
        if len(row) > 6:
            con.execute("INSERT INTO dkim_result (record, n, domain, selector, result) VALUES"
                        " (?, 1, ?, 'x', 'pass')", (n, row[6]))
    con.execute("UPDATE report SET record_count = (SELECT count(*) FROM record WHERE report ="
                " report.id), message_count = (SELECT sum(count) FROM record WHERE report ="
                " report.id)")
    con.executescript(open(os.path.join(SOURCE, "sql", "rollup_rebuild.sql")).read())
    con.commit()
    con.close()
    return path


def both_days(org, ip, hf, count, kind=PASS):
    return [(BEFORE, org, ip, hf, count, kind), (DAY, org, ip, hf, count, kind)]


# Steady mail on both days: nothing to say about it.
BASE = (both_days("google.com", "192.0.2.1", "example.com", 10000)
        + both_days("Yahoo! Inc.", "192.0.2.1", "example.com", 500))


def alerts(tmp, name, rows, extra=()):
    db = make_db(os.path.join(tmp, name + ".db"), rows)
    rc, out, err = run(["alerts", "--db", db, "--format", "json"] + PERIOD + list(extra))
    doc = json.loads(out) if rc in (0, 1) and out else None
    return db, rc, doc, err


def kinds(doc):
    return [a["kind"] for a in doc["alerts"]] if doc else None


def test_nothing_new(tmp):
    db = make_db(os.path.join(tmp, "base.db"), BASE)
    rc, out, err = run(["alerts", "--db", db] + PERIOD)
    check(rc == 0 and out == b"" and err == "", f"nothing new: {rc} {out!r} {err!r}")
    rc, out, err = run(["alerts", "--db", db, "--format", "json"] + PERIOD)
    doc = json.loads(out)
    check(rc == 0 and doc["alerts"] == [] and doc["period"] == {
        "first_day": DAY, "last_day": DAY, "days": 1} and doc["threshold_points"] == 10.0
          and doc["min_messages"] == 100, f"nothing new, JSON: {rc} {doc}")


def test_blocking_rose(tmp):
    # Microsoft: 1000 messages both days, all passing DMARC; on the day, some rejected anyway.
    def rows(blocked, day_total=1000):
        return BASE + [(BEFORE, "Outlook.com", "192.0.2.1", "example.com", 1000, PASS),
                       (DAY, "Outlook.com", "192.0.2.1", "example.com", day_total - blocked, PASS),
                       (DAY, "Outlook.com", "192.0.2.1", "example.com", blocked, BLOCKED_PASS)]
    _, rc, doc, err = alerts(tmp, "rose100", rows(100))
    check(rc == 0 and kinds(doc) == [], f"blocking +10.0 points is no alert: {rc} {kinds(doc)}")
    db, rc, doc, err = alerts(tmp, "rose101", rows(101))
    check(rc == 1 and kinds(doc) == ["isp_blocking_rose"], f"+10.1 points: {rc} {kinds(doc)}")
    if doc and doc["alerts"]:
        a = doc["alerts"][0]
        check((a["isp"], a["header_from"], a["messages"], a["previous_messages"], a["blocked"],
               a["percent"], a["previous_percent"]) ==
              ("Microsoft", "example.com", 1000, 1000, 101, 10.1, 0.0), f"alert {a}")
        check(a["cause"] == "local_policy" and "postmaster" in a["fix"], f"cause {a['cause']}")
        check(a["next"] == f"dmarcstat explain --db {db} --domain example.com --reporter "
              f"Microsoft --from {DAY} --to 2026-11-11", f"next {a['next']}")
        next_runs(a["next"])
    _, rc, doc, err = alerts(tmp, "rose-t5", rows(60), ["--threshold", "5.9"])
    check(rc == 1 and kinds(doc) == ["isp_blocking_rose"], f"--threshold 5.9: {kinds(doc)}")
    _, rc, doc, err = alerts(tmp, "rose-t6", rows(60), ["--threshold", "6"])
    check(rc == 0 and kinds(doc) == [], f"--threshold 6 over +6.0: {kinds(doc)}")
    # --min-messages: 100 messages on both days is enough, 99 on the day is not.
    small = BASE + [(BEFORE, "Outlook.com", "192.0.2.1", "example.com", 100, PASS),
                    (DAY, "Outlook.com", "192.0.2.1", "example.com", 80, PASS),
                    (DAY, "Outlook.com", "192.0.2.1", "example.com", 20, BLOCKED_PASS)]
    _, rc, doc, err = alerts(tmp, "min100", small)
    check(rc == 1 and kinds(doc) == ["isp_blocking_rose"], f"100 messages: {kinds(doc)}")
    _, rc, doc, err = alerts(tmp, "min99", small[:-2] + [
        (DAY, "Outlook.com", "192.0.2.1", "example.com", 79, PASS), small[-1]])
    check(rc == 0 and kinds(doc) == [], f"99 messages: {kinds(doc)}")
    _, rc, doc, err = alerts(tmp, "min50", small, ["--min-messages", "101"])
    check(rc == 0 and kinds(doc) == [], f"--min-messages 101: {kinds(doc)}")


def test_source_pass_fell(tmp):
    # 192.0.2.7 sends 1000 messages for example.com each day; on the day some fail (delivered).
    def rows(failed):
        return BASE + [(BEFORE, "google.com", "192.0.2.7", "example.com", 1000, PASS),
                       (DAY, "google.com", "192.0.2.7", "example.com", 1000 - failed, PASS),
                       (DAY, "google.com", "192.0.2.7", "example.com", failed, FAIL)]
    _, rc, doc, err = alerts(tmp, "src100", rows(100))
    check(rc == 0 and kinds(doc) == [], f"source -10.0 points: {rc} {kinds(doc)}")
    db, rc, doc, err = alerts(tmp, "src101", rows(101))
    check(rc == 1 and kinds(doc) == ["source_pass_fell"], f"source -10.1 points: {kinds(doc)}")
    if doc and doc["alerts"]:
        a = doc["alerts"][0]
        check((a["source_ip"], a["header_from"], a["dmarc_pass"], a["percent"],
               a["previous_percent"]) == ("192.0.2.7", "example.com", 899, 89.9, 100.0),
              f"alert {a}")
        check(a["cause"] == "spf_fail" and "SPF record of example.com" in a["fix"],
              f"cause {a['cause']} fix {a['fix']}")
        check(a["next"] == f"dmarcstat explain --db {db} --ip 192.0.2.7 --domain example.com "
              f"--from {DAY} --to 2026-11-11", f"next {a['next']}")
        next_runs(a["next"])


def test_domain_pass_fell(tmp):
    # news.example.com from ten sources of 60 messages (too few to compare one by one).
    def rows(failed):
        r = list(BASE)
        for i in range(10):
            ip = f"198.51.100.{i + 1}"
            bad = min(60, max(0, failed - 60 * i))
            r += [(BEFORE, "google.com", ip, "news.example.com", 60, PASS)]
            r += [(DAY, "google.com", ip, "news.example.com", 60 - bad, PASS)] if bad < 60 else []
            r += [(DAY, "google.com", ip, "news.example.com", bad, FAIL)] if bad else []
        return r
    _, rc, doc, err = alerts(tmp, "dom60", rows(60))
    check(rc == 0 and kinds(doc) == [], f"domain -10.0 points: {rc} {kinds(doc)}")
    _, rc, doc, err = alerts(tmp, "dom61", rows(61))
    check(rc == 1 and kinds(doc) == ["domain_pass_fell"], f"domain -10.2 points: {kinds(doc)}")
    if doc and doc["alerts"]:
        a = doc["alerts"][0]
        check((a["header_from"], a["messages"], a["dmarc_pass"], a["percent"]) ==
              ("news.example.com", 600, 539, 89.8) and a["cause"] == "spf_fail", f"alert {a}")


def test_new_failing_source(tmp):
    def rows(failed):
        return BASE + [(DAY, "google.com", "203.0.113.9", "example.com", failed, FAIL),
                       (DAY, "google.com", "203.0.113.9", "example.com", 50, PASS)]
    _, rc, doc, err = alerts(tmp, "new99", rows(99))
    check(rc == 0 and kinds(doc) == [], f"new source, 99 failing: {rc} {kinds(doc)}")
    db, rc, doc, err = alerts(tmp, "new100", rows(100))
    check(rc == 1 and kinds(doc) == ["new_failing_source"], f"100 failing: {kinds(doc)}")
    if doc and doc["alerts"]:
        a = doc["alerts"][0]
        check((a["source_ip"], a["messages"], a["failed"], a["day"], a["cause"]) ==
              ("203.0.113.9", 150, 100, DAY, "spf_fail"), f"alert {a}")
        next_runs(a["next"])
    # The text form, as cron mails it.
    rc, out, err = run(["alerts", "--db", db] + PERIOD)
    text = out.decode()
    check(rc == 1 and text.startswith(f"DMARC alerts {DAY}, against {BEFORE}: 1 alert\n\n"
                                      "[new_failing_source] New source 203.0.113.9: 100 of its "
                                      f"150 messages failed DMARC (first seen {DAY})\n"
                                      "  Cause: spf_fail\n  Why: SPF softfail for example.com")
          and f"  Next: dmarcstat explain --db {db} --ip 203.0.113.9 --from {DAY} --to "
          "2026-11-11\n" in text, f"text: {rc} {text!r}")


def test_isp_silent(tmp):
    def rows(before):
        return BASE + [(BEFORE, "Mail.Ru", "192.0.2.1", "example.com", before, PASS)]
    _, rc, doc, err = alerts(tmp, "silent99", rows(99))
    check(rc == 0 and kinds(doc) == [], f"silent after 99: {rc} {kinds(doc)}")
    _, rc, doc, err = alerts(tmp, "silent100", rows(100))
    check(rc == 1 and kinds(doc) == ["isp_silent"], f"silent after 100: {kinds(doc)}")
    if doc and doc["alerts"]:
        a = doc["alerts"][0]
        check((a["isp"], a["previous_messages"], a["day"], a["cause"]) ==
              ("Mail.ru", 100, BEFORE, None) and "rua=" in a["fix"], f"alert {a}")
        check(a["next"].endswith(f"--reporter Mail.ru --from {BEFORE} --to 2026-11-11"),
              f"next {a['next']}")
        next_runs(a["next"])


# Every kind of alert at once, and new sources known by the host table (203.0.113.9: an ESP
# found by its PTR name), by the domain that signed for them (203.0.113.20: bmsend.com, a
# built-in service) and not at all (203.0.113.30).
ALL_KINDS = (BASE
             + [(BEFORE, "Outlook.com", "192.0.2.1", "example.com", 1000, PASS),
                (DAY, "Outlook.com", "192.0.2.1", "example.com", 899, PASS),
                (DAY, "Outlook.com", "192.0.2.1", "example.com", 101, BLOCKED_PASS),
                (BEFORE, "google.com", "192.0.2.7", "example.com", 1000, PASS),
                (DAY, "google.com", "192.0.2.7", "example.com", 899, PASS),
                (DAY, "google.com", "192.0.2.7", "example.com", 101, FAIL),
                (BEFORE, "Mail.Ru", "192.0.2.1", "example.com", 100, PASS),
                (DAY, "google.com", "203.0.113.9", "example.com", 130, FAIL),
                (DAY, "google.com", "203.0.113.20", "example.com", 120, FAIL, "bmsend.com"),
                (DAY, "google.com", "203.0.113.30", "example.com", 110, FAIL)]
             + [(BEFORE, "google.com", f"198.51.100.{i}", "news.example.com", 60, PASS)
                for i in range(1, 11)]
             + [(DAY, "google.com", f"198.51.100.{i}", "news.example.com", 60,
                 FAIL if i == 1 else PASS) for i in range(1, 11) if i != 2]
             + [(DAY, "google.com", "198.51.100.2", "news.example.com", 59, PASS),
                (DAY, "google.com", "198.51.100.2", "news.example.com", 1, FAIL)])


def all_kinds_db(tmp):
    db = make_db(os.path.join(tmp, "all.db"), ALL_KINDS)
    con = sqlite3.connect(db)
    con.execute("INSERT INTO host (ip, ptr, confirmed, base_domain, service, kind, checked_at)"
                " VALUES ('203.0.113.9', 'o1.mail.example-mailer.test', 1, "
                "'example-mailer.test', 'Example Mailer', 'esp', 0)")
    con.commit()
    con.close()
    return db


def test_services(tmp):
    """A new source is named by its sending service as report names the pair's: text, JSON, and
    report --by service agreeing."""
    db = all_kinds_db(tmp)
    rc, out, err = run(["alerts", "--db", db, "--format", "json"] + PERIOD)
    doc = json.loads(out) if rc == 1 else {"alerts": []}
    got = {a["source_ip"]: (a["service"], a["service_kind"]) for a in doc["alerts"]
           if a["kind"] == "new_failing_source"}
    want = {"203.0.113.9": ("Example Mailer", "esp"), "203.0.113.20": ("Benchmark Email", "esp"),
            "203.0.113.30": (None, None)}
    check(rc == 1 and got == want, f"the services of the new sources: {rc} {got} {err!r}")
    check(sorted(a["kind"] for a in doc["alerts"]) == sorted(
        ["new_failing_source"] * 3 + ["isp_blocking_rose", "source_pass_fell",
                                      "domain_pass_fell", "isp_silent"]),
          f"every kind: {kinds(doc)}")
    other = [a for a in doc["alerts"] if a["kind"] != "new_failing_source"]
    check(all(a["service"] is None and a["service_kind"] is None for a in other if
              a["source_ip"] is None), f"no service for alerts about no source: {other}")
    rc, out, err = run(["report", "--db", db, "--format", "json", "--by", "service"] + PERIOD)
    rep = {s["source_ip"]: (s["service"], s["service_kind"])
           for s in json.loads(out)["sources"] if s["source_ip"] in want} if rc == 0 else {}
    check(rep == want, f"report --by service names them alike: {rc} {rep} {err!r}")
    rc, out, err = run(["alerts", "--db", db] + PERIOD)
    text = out.decode()
    check(rc == 1 and "[new_failing_source] New source 203.0.113.20: 120 of its 120 messages "
          f"failed DMARC (first seen {DAY})\n  Sending service: Benchmark Email (esp)\n"
          "  Cause: " in text and "New source 203.0.113.30: 110 of its 110 messages failed DMARC "
          f"(first seen {DAY})\n  Cause: " in text, f"text: the service line: {text!r}")


# Each kind's headline and the words around it, in Japanese.
JA_LINES = [
    f"DMARC 警告 {DAY}（比較: {BEFORE}）: 7 件\n\n",
    "[new_failing_source] 新しい送信元 203.0.113.9: 130 通中 130 通が DMARC 失敗（初出 "
    f"{DAY}）\n  送信サービス: Example Mailer（esp）\n  原因: spf_fail\n  理由: ",
    "[isp_blocking_rose] Microsoft が example.com からのメールの 10.1 % を隔離または拒否しま"
    "した（以前は 0.0 %、+10.1 ポイント）: 1000 通中 101 通をブロック\n",
    "[source_pass_fell] 送信元 192.0.2.7、From example.com: DMARC 成功率 89.9 %（以前は "
    "100.0 %、-10.1 ポイント）: 899 通成功 / 1000 通\n",
    "[domain_pass_fell] From ドメイン news.example.com: DMARC 成功率 89.8 %（以前は 100.0 %、"
    "-10.2 ポイント）: 539 通成功 / 600 通\n",
    "[isp_silent] Mail.ru からこの期間のレポートが届いていません（前期間は 100 通、最後は "
    f"{BEFORE}）\n  対処: DMARC レコードの rua= が",
    f"  次に: dmarcstat explain --db ",
]
# English that must not be left in the Japanese alerts.
EN_WORDS = ["New source", "Sending service", "Cause:", "Why:", "Fix:", "Next:", "alerts",
            "quarantined or rejected", "points", "DMARC pass", "sent no report", "Check that"]


def test_japanese(tmp):
    db = all_kinds_db(tmp)
    for how, extra, env in [("--lang ja", ["--lang", "ja"], None),
                            ("LANG=ja_JP.UTF-8", [], {"LC_ALL": "", "LANG": "ja_JP.UTF-8"})]:
        rc, out, err = run(["alerts", "--db", db, "--min-messages", "100"] + PERIOD + extra,
                           env)
        text = out.decode()
        missing = [ln for ln in JA_LINES if ln not in text]
        english = [w for w in EN_WORDS if w in text]
        check(rc == 1 and text.startswith(JA_LINES[0]) and not missing and not english,
              f"{how}: Japanese alerts: {rc} missing {missing} English {english} {text!r}")
    rc, out, err = run(["alerts", "--db", db, "--format", "json", "--lang", "ja"] + PERIOD)
    doc = json.loads(out) if rc == 1 else {"alerts": []}
    silent = [a for a in doc["alerts"] if a["kind"] == "isp_silent"]
    check(rc == 1 and silent and silent[0]["fix"].startswith("DMARC レコードの rua=") and
          silent[0]["cause"] is None and set(doc) == {"format", "version", "period",
                                                        "threshold_points", "min_messages",
                                                        "alerts"},
          f"JSON in Japanese: keys and kinds stay English: {silent}")
    rc, out, err = run(["alerts", "--db", db, "--lang", "ja", "--mail-to", "ops@example.com",
                        "--sendmail", fake_sendmail(tmp, 0)] + PERIOD)
    raw = open(os.path.join(tmp, "stdin"), "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    subject = raw.split(b"\nSubject: ", 1)[1].split(b"\n", 1)[0] if b"\nSubject: " in raw else b""
    check(rc == 1 and str(m["Subject"]) == f"DMARC 警告 {DAY}: 7 件" and
          b"=?UTF-8?" in subject.upper() and subject.isascii() and
          m.get_content().startswith(JA_LINES[0]),
          f"the Japanese mail: {rc} {m['Subject']!r} {subject!r} {err!r}")
    rc, out, err = run(["alerts", "--db", db, "--lang", "fr"] + PERIOD)
    check(rc == 2 and err == 'dmarcstat: --lang wants en or ja: "fr"\n', f"--lang fr: {rc} {err!r}")


def next_runs(cmd):
    words = shlex.split(cmd)
    rc, out, err = run(words[1:])
    check(rc == 0 and out != b"", f"{cmd}: {rc} {err!r}")


def fake_sendmail(tmp, status):
    path = os.path.join(tmp, f"sendmail-{status}")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp}/argv"\ncat > "{tmp}/stdin"\n'
                f"exit {status}\n")
    os.chmod(path, stat.S_IRWXU)
    return path


def test_mail(tmp):
    db = make_db(os.path.join(tmp, "mail.db"), BASE + [
        (BEFORE, "Mail.Ru", "192.0.2.1", "example.com", 100, PASS)])
    rc, out, err = run(["alerts", "--db", db, "--mail-to", "ops@example.com", "--sendmail",
                        fake_sendmail(tmp, 0)] + PERIOD)
    check(rc == 1 and out == b"" and err == "", f"alerts --sendmail: {rc} {out!r} {err!r}")
    m = email.message_from_bytes(open(os.path.join(tmp, "stdin"), "rb").read(),
                                 policy=email.policy.default)
    rc2, text, _ = run(["alerts", "--db", db] + PERIOD)
    check(m.get_content_type() == "text/plain" and str(m["Subject"]) ==
          f"DMARC alerts {DAY}: 1 alert" and m["Auto-Submitted"] == "auto-generated" and
          m.get_payload(decode=True) == text, f"the alerts mail: {m['Subject']}")
    rc, out, err = run(["alerts", "--db", db, "--mail-to", "ops@example.com", "--sendmail",
                        fake_sendmail(tmp, 75)] + PERIOD)
    check(rc == 75 and "exited with status 75" in err, f"sendmail 75: {rc} {err!r}")
    # Nothing to say: no mail at all.
    os.remove(os.path.join(tmp, "stdin"))
    base = make_db(os.path.join(tmp, "quiet.db"), BASE)
    rc, out, err = run(["alerts", "--db", base, "--mail-to", "ops@example.com", "--sendmail",
                        fake_sendmail(tmp, 0)] + PERIOD)
    check(rc == 0 and not os.path.exists(os.path.join(tmp, "stdin")), f"no alerts, no mail: {rc}")


def test_refusals(tmp):
    db = make_db(os.path.join(tmp, "r.db"), BASE)
    cases = [
        (["--threshold", "ten"], 2, 'dmarcstat: --threshold wants percentage points from 0 to '
         '100, with at most one decimal: "ten"\n'),
        (["--threshold", "100.1"], 2, 'dmarcstat: --threshold wants percentage points from 0 to '
         '100, with at most one decimal: "100.1"\n'),
        (["--threshold", "1.25"], 2, 'dmarcstat: --threshold wants percentage points from 0 to '
         '100, with at most one decimal: "1.25"\n'),
        (["--min-messages", "0"], 2, 'dmarcstat: --min-messages wants a number of messages, 1 '
         'or more: "0"\n'),
        (["--format", "html"], 2, "dmarcstat: unknown format 'html': text or json\n"),
        (["--mail-to", "ops"], 2, 'dmarcstat: --mail-to: not a mail address: "ops" (want '
         'local@domain or "Name <local@domain>")\n'),
        (["--mail-to", "ops@example.com", "--format", "json"], 2,
         "dmarcstat: --mail-to sends the alerts as text: leave --format json out\n"),
        (["--sendmail"], 2, "dmarcstat: --sendmail goes with --mail-to ADDR\n"),
    ]
    for args, status, want in cases:
        rc, out, err = run(["alerts", "--db", db] + PERIOD + args)
        check(rc == status and err == want, f"{args}: {rc} {err!r}")
    missing = os.path.join(tmp, "none.db")
    rc, out, err = run(["alerts", "--db", missing] + PERIOD)
    check(rc == 3 and err.startswith(f"dmarcstat: {missing}: no database there"),
          f"no database: {rc} {err!r}")
    rc, out, err = run(["alerts", "--db", db, "--since", "1d", "--now", "2026-11-11"])
    check(rc == 0, f"--since 1d: {rc} {err!r}")
    # Errors name --since, the option alerts has, not report's --last.
    for args, want in [(["--since", "1d", "--from", "2026-11-01"],
                        "dmarcstat: --since cannot be combined with --from or --to\n"),
                       (["--since", "0d"], 'dmarcstat: --since wants a number of days from 1 to '
                                           '3660, such as 7d: "0d"\n')]:
        rc, out, err = run(["alerts", "--db", db] + args)
        check(rc == 2 and err == want and not out, f"alerts {args}: {rc} {err!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_nothing_new, test_blocking_rose, test_source_pass_fell,
                  test_domain_pass_fell, test_new_failing_source, test_isp_silent, test_mail,
                  test_refusals, test_services, test_japanese):
            sub = os.path.join(tmp, t.__name__)
            os.mkdir(sub)
            t(sub)
    tally.finish()


main()
