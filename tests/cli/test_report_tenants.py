"""Diagnosis per (source IP, From domain) pair, as an ESP's support desk meets it: one IP sending
for four customers with four different problems, a mailing list and a forwarder relaying one of
them, and a spoofed source.  The reports are written as XML and ingested as users do; `report` in
every format, `report --by-domain`, `explain` and `explain --letter` are compared byte for byte
with tests/data/report/golden/tenants-*, and every pair's figures (and every letter's) are
checked against SQL over the same database.

    DMARCSTAT=build/cli/dmarcstat DM_TEST_DATA_DIR=tests/data python3 tests/cli/test_report_tenants.py
    DM_UPDATE_GOLDEN=1 ...   rewrites the golden files (then review the diff).
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import harness  # noqa: E402
from harness import Tally  # noqa: E402
from reportxml import DAY, NOV02, ingest, record, report  # noqa: E402
from test_report_golden import GOLDEN, PERIOD, run  # noqa: E402

ESP = "198.51.100.20"
BOUNCE = ("bounce.esp.example", "pass")


def reports():
    """The week: Google, Yahoo and Microsoft (Microsoft's report covers two days)."""
    shop_ok = dict(header_from="shop.example", envelope_from="bounce.esp.example",
                   dkim_auth=[("shop.example", "s1", "pass")], spf_auth=[BOUNCE])
    news = dict(header_from="news.example", envelope_from="bounce.esp.example",
                dkim_auth=[("news.example", "s2024", "fail")], spf_auth=[BOUNCE])
    promo = dict(header_from="promo.example", envelope_from="bounce.esp.example",
                 dkim_auth=[("esp.example", "e1", "pass")], spf_auth=[BOUNCE])
    bank = dict(header_from="bank.example", envelope_from="bank.example",
                spf_auth=[("bank.example", "softfail")])
    return [
        report("google.com", "g-1102", [
            record(ESP, 100, "none", dkim="pass", **shop_ok),
            record(ESP, 30, "reject", **news),
            record(ESP, 20, "reject", **bank),
            record(ESP, 15, "reject", **promo),
            record("192.0.2.50", 12, "none", header_from="shop.example",
                   envelope_from="lists.example.org",
                   dkim_auth=[("lists.example.org", "l1", "pass"), ("shop.example", "s1", "fail")],
                   spf_auth=[("lists.example.org", "pass")]),
            record("203.0.113.9", 7, "none", header_from="shop.example",
                   envelope_from="shop.example", dkim_auth=[("shop.example", "s1", "fail")],
                   spf_auth=[("shop.example", "softfail")], reasons=[("forwarded", "")])],
            domain="shop.example", email="noreply-dmarc-support@google.com"),
        report("Yahoo! Inc.", "y-1102", [
            record(ESP, 50, "reject", dkim="pass", **shop_ok),
            record(ESP, 25, "reject", **news),
            record("203.0.113.66", 9, "reject", header_from="bank.example",
                   envelope_from="bank.example", spf_auth=[("bank.example", "fail")])],
            domain="shop.example", email="dmarchelp@yahooinc.com"),
        report("Outlook.com", "o-1103", [
            record(ESP, 20, "quarantine", **news),
            record(ESP, 10, "quarantine", **promo)],
            begin=NOV02 + DAY, days=2, domain="shop.example", email="dmarcrep@microsoft.com"),
    ]


# The cause each pair must get: the diagnosis this test is about.
CAUSES = {(ESP, "news.example"): "dkim_fail", (ESP, "shop.example"): "local_policy",
          (ESP, "promo.example"): "esp_not_aligned", (ESP, "bank.example"): "spf_fail",
          ("203.0.113.66", "bank.example"): "spf_fail",
          ("192.0.2.50", "shop.example"): "list_or_esp",
          ("203.0.113.9", "shop.example"): "forwarded"}

FAILING = "((r.dkim <> 'pass' AND r.spf <> 'pass') OR r.disposition IN ('quarantine', 'reject'))"
IN_PERIOD = "p.\"begin\" >= 1793491200 AND p.\"begin\" < 1794096000"


def cases():
    yield "tenants.txt", ["report"] + PERIOD
    yield "tenants.json", ["report", "--format", "json"] + PERIOD
    yield "tenants.html", ["report", "--format", "html"] + PERIOD
    yield "tenants-sources.csv", ["report", "--format", "csv", "--table", "sources"] + PERIOD
    yield "tenants-source_isps.csv", ["report", "--format", "csv", "--table",
                                      "source_isps"] + PERIOD
    yield "tenants-by-domain.txt", ["report", "--by-domain"] + PERIOD
    yield "tenants-explain.txt", ["explain", "--ip", ESP] + PERIOD
    yield "tenants-letter.txt", ["explain", "--ip", ESP, "--letter"] + PERIOD


def golden(t, db, tmp):
    update = os.environ.get("DM_UPDATE_GOLDEN") == "1"
    for name, args in cases():
        rc, out, err = run(args + ["--db", db])
        path = os.path.join(GOLDEN, name)
        if rc != 0:
            t.check(name, f"exit {rc}: {err}")
            continue
        if update:
            with open(path, "wb") as f:
                f.write(out)
        with open(path, "rb") as f:
            want = f.read()
        diff = ""
        if out != want:
            got = os.path.join(tmp, name)
            with open(got, "wb") as f:
                f.write(out)
            diff = subprocess.run(["diff", "-u", path, got], capture_output=True, text=True,
                                  errors="replace").stdout[:3000]
        t.check(f"{name} is the golden file", diff and f"differs:\n{diff}")


def pair_sql(con, ip, hf, extra=""):
    return con.execute(
        "SELECT ifnull(sum(r.count), 0), count(DISTINCT r.report) FROM record r JOIN report p "
        f"ON p.id = r.report WHERE {IN_PERIOD} AND r.source_ip = ? AND r.header_from = ? "
        f"AND {FAILING}{extra}", (ip, hf)).fetchone()


def pairs_against_sql(t, db):
    rc, out, err = run(["report", "--db", db, "--format", "json"] + PERIOD)
    doc = json.loads(out)
    seen = {(s["source_ip"], s["header_from"]): s for s in doc["sources"]}
    t.check("one element per pair", "" if set(seen) == set(CAUSES) else f"pairs {sorted(seen)}")
    with sqlite3.connect(db) as con:
        for key, cause in CAUSES.items():
            s = seen.get(key)
            if s is None:
                continue
            m, reports = pair_sql(con, *key)
            q = pair_sql(con, *key, " AND r.disposition = 'quarantine'")[0]
            rj = pair_sql(con, *key, " AND r.disposition = 'reject'")[0]
            isp_sum = sum(i["messages"] for i in s["isps"])
            t.check(f"pair {key[0]} {key[1]}: {cause}, figures as SQL", [
                "" if s["cause"] == cause else f"cause {s['cause']}",
                "" if (s["messages"], s["quarantined"], s["rejected"], s["reports"]) ==
                (m, q, rj, reports) else
                f"got {(s['messages'], s['quarantined'], s['rejected'], s['reports'])}, "
                f"SQL {(m, q, rj, reports)}",
                "" if isp_sum == m else f"its ISPs sum to {isp_sum}, not {m}"])


def letters_against_sql(t, db):
    rc, out, err = run(["explain", "--db", db, "--ip", ESP, "--letter"] + PERIOD)
    text = out.decode()
    orgs = {"Google": "google.com", "Yahoo": "Yahoo! Inc.", "Microsoft": "Outlook.com"}
    with sqlite3.connect(db) as con:
        for isp, org in orgs.items():
            part = text.split(f"To: the postmaster team of {isp}\n")[1].split("Thank you,")[0]
            m, passed, q, rj, n = con.execute(
                "SELECT sum(r.count), sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN "
                "r.count ELSE 0 END), sum(CASE WHEN r.disposition = 'quarantine' THEN r.count "
                "ELSE 0 END), sum(CASE WHEN r.disposition = 'reject' THEN r.count ELSE 0 END), "
                "count(DISTINCT r.report) FROM record r JOIN report p ON p.id = r.report "
                f"WHERE {IN_PERIOD} AND r.source_ip = ? AND p.org_name = ?",
                (ESP, org)).fetchone()
            want = [f"  Messages:        {m}\n", f"  Passed DMARC:    {passed} (",
                    f"  Quarantined:     {q}\n", f"  Rejected:        {rj}\n",
                    f"  Reports:         {n}, from {org} <"]
            t.check(f"letter to {isp}: its figures are SQL's",
                    [f"lacks {w!r}" for w in want if w not in part])


def main():
    harness.need_binary()
    t = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "tenants.db")
        ingest(db, tmp, reports())
        golden(t, db, tmp)
        pairs_against_sql(t, db)
        letters_against_sql(t, db)
    t.finish()


if __name__ == "__main__":
    main()
