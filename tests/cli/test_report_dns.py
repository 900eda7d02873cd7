"""What `dmarcstat enrich` found, in `report` and `explain`: each failing pair's PTR name (and
whether it is forward-confirmed), sending service, ASN and country in every format, from the host
table; the service kind changing the cause (a list host: mailing_list; a forwarder: forwarded);
`report --by service` summed against SQL; `report --mmdb` and `explain --mmdb` giving ASN and
country for sources the host table does not know, without writing to the database.  The host table is filled by a real enrich against
dnsmasq on 127.0.0.1 at a free port (tests/dns/dnstest.py), with a MaxMind-format file written
here and a user services file; nothing leaves the machine.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_dns.py
"""
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import dnstest  # noqa: E402
import harness  # noqa: E402
import mmdb  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
tally = harness.Tally()
check = tally.expect
DAY = 86400
NOW = int(time.time()) // DAY * DAY
PERIOD = ["--last", "7d"]

ZONES = [
    "host-record=s21.bmsend.com,198.51.100.21",                          # Benchmark Email, confirmed
    "ptr-record=12.2.0.192.in-addr.arpa,a1-2.smtp-out.amazonses.com",  # no A: not confirmed
    "host-record=mx1.lists.example.test,192.0.2.60",                     # a list host (services file)
    "host-record=relay.fwd.example.test,192.0.2.61",                     # a forwarder (services file)
]
KEY = open(os.path.join(os.environ.get("DM_TEST_DATA_DIR", os.path.join(HERE, "..", "data")),
                        "dns", "rsa2048.b64")).read().strip()
# The From domains' records before the customer acted on the report, and after.
BEFORE = [
    'txt-record=_dmarc.shop.test,"v=DMARC1; p=reject; rua=mailto:d@shop.test"',
    'txt-record=shop.test,"v=spf1 ip4:192.0.2.61 -all"',
    'txt-record=amazonses.com,"v=spf1 ip4:192.0.2.0/24 -all"',
    'txt-record=bmsend.com,"v=spf1 ip4:198.51.100.0/24 -all"',
]
AFTER = [
    'txt-record=_dmarc.shop.test,"v=DMARC1; p=reject; rua=mailto:d@shop.test"',
    'txt-record=shop.test,"v=spf1 ip4:192.0.2.61 include:amazonses.com -all"',
    'txt-record=amazonses.com,"v=spf1 ip4:192.0.2.0/24 -all"',
    'txt-record=bmsend.com,"v=spf1 ip4:198.51.100.0/24 -all"',
    f'txt-record=s1._domainkey.shop.test,"v=DKIM1; k=rsa; p={KEY}"',
    'txt-record=_dmarc.news.test,"v=DMARC1; p=none; rua=mailto:d@news.test"',
    'txt-record=news.test,"v=spf1 include:bmsend.com -all"',
    f'txt-record=n1._domainkey.news.test,"v=DKIM1; k=rsa; p={KEY}"',
]
ASN = [("192.0.2.0/24", {"autonomous_system_number": ("u32", 64500),
                         "autonomous_system_organization": "Example Net"}),
       ("198.51.100.0/24", {"asn": "AS64501", "as_name": "Other Net", "country": "DE"})]
SERVICES = ("lists.example.test  list       -  Example Lists\n"
            "fwd.example.test    forwarder  -  Example Forwarding\n"
            "lists2.example.test list       -  Lists Two\n")


def rec(ip, count, hf, dkim=(), spf=(), disposition="none"):
    return {"ip": ip, "count": count, "header_from": hf, "dkim": list(dkim), "spf": list(spf),
            "disposition": disposition}


RECORDS = [
    # An ESP's IP, confirmed: its DKIM passes for itself only.
    rec("198.51.100.21", 30, "shop.test", [("bmsend.com", "bm", "pass")],
        [("bounce.bmsend.com", "pass")], "reject"),
    # Amazon SES's name, not forward-confirmed.
    rec("192.0.2.12", 8, "shop.test", [], [("shop.test", "fail")], "quarantine"),
    # A list host: the author's signature broken, the list's own passes.
    # (its own domain is in no services file: only its PTR name tells).
    rec("192.0.2.60", 12, "shop.test", [("shop.test", "s1", "fail"),
                                        ("lists.other.test", "l", "pass")],
        [("lists.other.test", "pass")]),
    # A forwarder: SPF fails for the sender, no signature survives.
    rec("192.0.2.61", 5, "shop.test", [], [("shop.test", "fail")], "reject"),
    # No PTR: known by the domain it authenticates (built-in bmsend.com; our lists2).
    rec("203.0.113.70", 4, "news.test", [("bmsend.com", "bm", "pass")],
        [("bounce.bmsend.com", "pass")], "reject"),
    rec("203.0.113.71", 3, "news.test", [("news.test", "n1", "fail"),
                                         ("lists2.example.test", "x", "pass")],
        [("lists2.example.test", "pass")]),
    # The ESP sends for news.test too, without its SPF include.
    rec("198.51.100.21", 6, "news.test", [("bmsend.com", "bm", "pass")],
        [("news.test", "softfail")], "reject"),
    # Nothing known about it.
    rec("203.0.113.99", 2, "news.test", [], [("news.test", "fail")], "reject"),
]


def run(*args, env=None):
    res = subprocess.run([DMARCSTAT, *args], capture_output=True, timeout=120, env=env)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def json_report(db, env, *extra):
    rc, out, err = run("report", "--db", db, "--format", "json", *PERIOD, *extra, env=env)
    check(rc == 0, f"report --format json {extra}: exit 0: {rc} {err!r}")
    return json.loads(out) if rc == 0 else {}


def by_pair(doc):
    return {(s["source_ip"], s["header_from"]): s for s in doc.get("sources", [])}


HOST_KEYS = ("ptr", "ptr_confirmed", "service", "service_kind", "service_by", "asn", "as_org",
             "country", "cause")
# Every new field of every pair once enriched, and its cause.
WANT = {
    ("198.51.100.21", "shop.test"): ("s21.bmsend.com", 1, "Benchmark Email", "esp", "ptr", 64501,
                                     "Other Net", "DE", "esp_not_aligned"),
    ("198.51.100.21", "news.test"): ("s21.bmsend.com", 1, "Benchmark Email", "esp", "ptr", 64501,
                                     "Other Net", "DE", "spf_fail"),
    ("192.0.2.12", "shop.test"): ("a1-2.smtp-out.amazonses.com", 0, "Amazon SES", "esp", "ptr",
                                  64500, "Example Net", None, "spf_fail"),
    ("192.0.2.60", "shop.test"): ("mx1.lists.example.test", 1, "Example Lists", "list", "ptr",
                                  64500, "Example Net", None, "mailing_list"),
    ("192.0.2.61", "shop.test"): ("relay.fwd.example.test", 1, "Example Forwarding", "forwarder",
                                  "ptr", 64500, "Example Net", None, "forwarded"),
    ("203.0.113.70", "news.test"): (None, None, "Benchmark Email", "esp", "domain", None, None,
                                    None, "esp_not_aligned"),
    ("203.0.113.71", "news.test"): (None, None, "Lists Two", "list", "domain", None, None, None,
                                    "mailing_list"),
    ("203.0.113.99", "news.test"): (None, None, None, None, None, None, None, None, "spf_fail"),
}


def test_before_enrich(db, env):
    """No host rows: the new fields are null, and the causes are the reports' alone (the list
    host is list_or_esp, the forwarder spf_fail) except where a domain names a service."""
    pairs = by_pair(json_report(db, env))
    got = {k: tuple(v[f] for f in HOST_KEYS) for k, v in pairs.items()}
    want = dict(WANT)
    want[("198.51.100.21", "news.test")] = (None, None, "Benchmark Email", "esp", "domain", None,
                                            None, None, "spf_fail")
    for k in [("198.51.100.21", "shop.test"), ("192.0.2.12", "shop.test"),
              ("192.0.2.60", "shop.test"), ("192.0.2.61", "shop.test")]:
        want[k] = (None,) * 8 + ({"192.0.2.60": "list_or_esp",
                                  "192.0.2.61": "spf_fail"}.get(k[0], WANT[k][8]),)
    # The ESP's IP is known by its DKIM domain before any lookup.
    want[("198.51.100.21", "shop.test")] = (None, None, "Benchmark Email", "esp", "domain",
                                            None, None, None, "esp_not_aligned")
    for k, row in want.items():
        check(got.get(k) == row, f"before enrich, {k}: {got.get(k)} (want {row})")
    check(len(got) == len(want), f"before enrich: every pair: {sorted(got)}")


def test_fields(db, env):
    doc = json_report(db, env)
    pairs = by_pair(doc)
    for k, row in WANT.items():
        got = tuple(pairs.get(k, {}).get(f) for f in HOST_KEYS)
        check(got == row, f"json {k}: {got} (want {row})")
    check(len(pairs) == len(WANT), f"json: every pair: {sorted(pairs)}")
    # The ISP's top cause follows the kinds too: its rows are classified the same way.
    isps = {i["isp"]: i["top_cause"] for i in doc.get("isps", [])}
    check(isps == {"Google": "esp_not_aligned"}, f"isps' top cause: {isps}")
    fwd = pairs[("192.0.2.61", "shop.test")]
    check(fwd["explanation"].startswith(
        "The sending server is a known forwarder (Example Forwarding), so the message was "
        "forwarded. Forwarding sends it from another server"),
        f"the forwarder's explanation: {fwd['explanation']!r}")
    lst = pairs[("192.0.2.60", "shop.test")]
    check(lst["explanation"].startswith("A mailing list (lists.other.test) relayed the message")
          and "set up DKIM" not in lst["fix"], f"the list's explanation: {lst['explanation']!r}")

    rc, out, err = run("report", "--db", db, "--format", "csv", "--table", "sources", *PERIOD,
                       env=env)
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and len(rows) == len(WANT), f"csv: a row per pair: {rc} {len(rows)} {err!r}")
    for r in rows:
        k = (r["source_ip"], r["header_from"])
        want = tuple("" if v is None else str(v) for v in WANT.get(k, ()))
        got = tuple(r.get(f) for f in HOST_KEYS)
        check(got == want, f"csv {k}: {got} (want {want})")

    rc, out, err = run("report", "--db", db, *PERIOD, env=env)
    for line in ["Host: s21.bmsend.com (forward-confirmed); Benchmark Email (esp); AS64501 Other "
                 "Net; DE",
                 "Host: a1-2.smtp-out.amazonses.com (not forward-confirmed); Amazon SES (esp);",
                 "Host: Lists Two (list, by the domain it authenticates)"]:
        check(rc == 0 and line in out, f"text: {line!r}")
    check(out.count("Host: ") == 7, f"text: a Host line for each known source: "
          f"{out.count('Host: ')}")
    rc, out, err = run("report", "--db", db, "--format", "html", *PERIOD, env=env)
    check(rc == 0 and "<b>Host:</b> s21.bmsend.com (forward-confirmed); Benchmark Email (esp); "
          "AS64501 Other Net; DE" in out, "html: the host line")
    rc, out, err = run("explain", "--db", db, "--ip", "198.51.100.21", *PERIOD, env=env)
    check(rc == 0 and "\n  Host: s21.bmsend.com (forward-confirmed); Benchmark Email (esp); "
          "AS64501 Other Net; DE\n  Cause: esp_not_aligned\n" in out, f"explain: {out!r}")


def test_mmdb_without_enrich(db, env, mm):
    """Before any enrich (no host rows), --mmdb (or $DMARCSTAT_MMDB) gives each pair the ASN, AS
    organisation and country of its IP from the file, in every format and in explain; the
    database stays as it was; a file that is not an MMDB is a usage error."""
    geo = {"198.51.100.21": (64501, "Other Net", "DE"), "192.0.2.12": (64500, "Example Net", None),
           "192.0.2.60": (64500, "Example Net", None), "192.0.2.61": (64500, "Example Net", None)}
    for how, extra, e in [("--mmdb", ["--mmdb", mm], env),
                          ("$DMARCSTAT_MMDB", [], dict(env, DMARCSTAT_MMDB=mm))]:
        pairs = by_pair(json_report(db, e, *extra))
        got = {k: (v["asn"], v["as_org"], v["country"]) for k, v in pairs.items()}
        want = {k: geo.get(k[0], (None, None, None)) for k in WANT}
        check(got == want, f"report {how}: ASN and country of each pair: {got} (want {want})")
    rc, out, err = run("report", "--db", db, "--format", "csv", "--table", "sources", *PERIOD,
                       "--mmdb", mm, env=env)
    rows = {(r["source_ip"], r["header_from"]): (r["asn"], r["as_org"], r["country"])
            for r in csv.DictReader(io.StringIO(out))}
    check(rc == 0 and rows[("198.51.100.21", "news.test")] == ("64501", "Other Net", "DE") and
          rows[("203.0.113.99", "news.test")] == ("", "", ""), f"csv --mmdb: {rc} {rows}")
    rc, out, err = run("report", "--db", db, *PERIOD, "--mmdb", mm, env=env)
    check(rc == 0 and "Host: Benchmark Email (esp, by the domain it authenticates); AS64501 "
          "Other Net; DE" in out and "Host: AS64500 Example Net\n" in out,
          f"text --mmdb: the host lines: {out!r}")
    rc, out, err = run("explain", "--db", db, "--ip", "192.0.2.12", *PERIOD, "--mmdb", mm,
                       env=env)
    check(rc == 0 and "\n  Host: AS64500 Example Net\n" in out, f"explain --mmdb: {out!r}")
    con = sqlite3.connect(db)
    hosts = con.execute("SELECT count(*) FROM host").fetchone()[0]
    con.close()
    check(hosts == 0, f"report --mmdb writes nothing to the host table: {hosts} rows")
    bad = os.path.join(os.path.dirname(mm), "not.mmdb")
    with open(bad, "w") as f:
        f.write("not a database\n")
    for cmd in ("report", "explain"):
        rc, out, err = run(cmd, "--db", db, *PERIOD, "--mmdb", bad, env=env)
        check(rc == 2 and f"{bad}: not a readable MaxMind DB" in err and out == "",
              f"{cmd} --mmdb of a text file: exit 2 naming it: {rc} {err!r}")


# The service of each record in SQL: the host's (by PTR), else the services file's entry for a
# DKIM domain that passed (the only relays of this fixture), else none.
SERVICE_SQL = """
WITH svc(domain, name, kind) AS (VALUES ('bmsend.com', 'Benchmark Email', 'esp'),
                                        ('lists2.example.test', 'Lists Two', 'list'))
SELECT coalesce(h.service, (SELECT s.name FROM dkim_result d JOIN svc s ON s.domain = d.domain
                            WHERE d.record = r.id AND d.result = 'pass')) AS service,
       count(DISTINCT r.source_ip || ' ' || r.header_from), sum(r.count),
       sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN r.count ELSE 0 END),
       sum(CASE WHEN r.disposition = 'quarantine' THEN r.count ELSE 0 END),
       sum(CASE WHEN r.disposition = 'reject' THEN r.count ELSE 0 END)
FROM record r LEFT JOIN host h ON h.ip = r.source_ip
WHERE (r.dkim <> 'pass' AND r.spf <> 'pass') OR r.disposition IN ('quarantine', 'reject')
GROUP BY 1"""


def test_by_service(db, env):
    con = sqlite3.connect(db)
    want = {r[0]: r[1:] for r in con.execute(SERVICE_SQL)}
    con.close()
    check(len(want) == 6, f"the fixture has 6 services and sources of none: {want}")
    doc = json_report(db, env, "--by", "service")
    got = {s["service"]: (s["pairs"], s["messages"], s["dmarc_pass"], s["quarantined"],
                          s["rejected"]) for s in doc.get("services", [])}
    check(got == want, f"--by service: each service's sums equal SQL's: {got} (want {want})")
    order = [s["service"] for s in doc.get("services", [])]
    check(order == ["Benchmark Email", "Amazon SES", "Example Forwarding", None,
                    "Example Lists", "Lists Two"],
          f"services, most blocked first, no known service last among equals: {order}")
    for s in doc.get("services", []):
        nested = [(p["source_ip"], p["header_from"]) for p in s["sources"]]
        check(all(WANT[k][2] == s["service"] for k in nested) and len(nested) == s["pairs"]
              and s["more_sources"] == 0,
              f"--by service: the pairs under {s['service']}: {nested}")
    check(doc.get("by_service") is True and doc.get("by_domain") is False, "json: by_service")
    bm = doc["services"][0]
    check((bm["kind"], bm["dmarc_pass_percent"]) == ("esp", 0.0), f"Benchmark Email: {bm}")

    rc, out, err = run("report", "--db", db, "--by", "service", *PERIOD, env=env)
    check(rc == 0 and "By sending service" in out and "Failing sources by sending service" in out
          and "Service Benchmark Email (esp): 40 messages, 0.0 % passed DMARC, 0 quarantined, "
          "40 rejected" in out and "No known service: 2 messages" in out,
          f"text --by service: {rc} {err!r}")
    rc, out, err = run("report", "--db", db, "--by", "service", "--top", "1", *PERIOD, env=env)
    check(rc == 0 and "Service Benchmark Email (esp): 40 messages" in out and
          "and 2 more sources: 10 messages, 10 rejected." in out,
          f"--top 1: a service's other pairs summed: {out!r}")
    rc, out, err = run("report", "--db", db, "--by", "service", "--format", "csv", "--table",
                       "services", *PERIOD, env=env)
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and {r["service"] or None: (int(r["pairs"]), int(r["messages"]),
                                              int(r["dmarc_pass"]), int(r["quarantined"]),
                                              int(r["rejected"])) for r in rows} == want,
          f"csv --table services: {out!r}")
    rc, out, err = run("report", "--db", db, "--by", "service", "--format", "html", *PERIOD,
                       env=env)
    check(rc == 0 and "By sending service" in out and
          "Service Benchmark Email (esp): 40 messages" in out, "html --by service")
    rc, out, err = run("report", "--db", db, "--by-domain", "--format", "json", *PERIOD, env=env)
    rc2, out2, _ = run("report", "--db", db, "--by", "domain", "--format", "json", *PERIOD,
                       env=env)
    check(rc == rc2 == 0 and out == out2 and json.loads(out)["by_domain"] is True,
          "--by domain is --by-domain")
    for bad, msg in [(["report", "--by", "isp"], "--by wants domain or service: \"isp\""),
                     (["explain", "--by", "service"], "--by is an option of 'dmarcstat report'")]:
        rc, _, err = run(*bad, "--db", db, env=env)
        check(rc == 2 and msg in err, f"{bad}: exit 2: {rc} {err!r}")


def checks_json(db, env, resolver, *extra):
    rc, out, err = run("report", "--db", db, "--format", "json", "--check-dns", "--resolver",
                       resolver, "--timeout", "0.3", *PERIOD, *extra, env=env)
    doc = json.loads(out) if out else {}
    return rc, err, {(d["domain"], c["check"], c["subject"]): (c["status"], c["found"], c["fix"])
                     for d in doc.get("dns", []) for c in d["checks"]}, doc


def test_check_dns(db, env, before, after, hole):
    """The From domains of the failing pairs shown, checked in DNS now: before the customers
    acted on the report's fixes, and after."""
    rc, err, got, doc = checks_json(db, env, before.resolver)
    check(rc == 1 and [(d["domain"], d["status"]) for d in doc["dns"]] ==
          [("shop.test", "wrong"), ("news.test", "wrong")],
          f"before: exit 1, both domains wrong, in the order of their pairs: {rc} {err!r} "
          f"{[(d['domain'], d['status']) for d in doc.get('dns', [])]}")
    want = {
        ("shop.test", "dmarc_record", "_dmarc.shop.test"):
            ("ok", "v=DMARC1; p=reject; rua=mailto:d@shop.test", None),
        ("shop.test", "dkim_key", "s1"):
            ("wrong", "s1._domainkey.shop.test: no key record",
             "Publish the DKIM key of selector s1 at s1._domainkey.shop.test (a TXT record, or "
             "the CNAME the sender gives)."),
        ("news.test", "spf_include", "include:bmsend.com"):
            ("wrong", "include:bmsend.com (Benchmark Email, which sends for news.test from "
             "198.51.100.21) is not in its SPF record",
             "Add include:bmsend.com to the SPF record of news.test."),
        ("news.test", "dmarc_record", "_dmarc.news.test"):
            ("wrong", "no DMARC record",
             'Publish a TXT record at _dmarc.news.test: "v=DMARC1; p=none; rua=mailto:ADDRESS", '
             "then tighten p= once the reports show all your mail passing."),
    }
    for k, v in want.items():
        check(got.get(k) == v, f"before: {k}: {got.get(k)} (want {v})")

    rc, err, got, doc = checks_json(db, env, after.resolver)
    statuses = {k: v[0] for k, v in got.items()}
    check(rc == 0 and all(v in ("ok", "changed") for v in statuses.values()) and
          [(d["domain"], d["status"]) for d in doc["dns"]] ==
          [("shop.test", "changed"), ("news.test", "changed")],
          f"after the fixes: exit 0, nothing wrong: {rc} {err!r} {statuses}")
    for k, v in {("shop.test", "dkim_key", "s1"): ("ok", "s1._domainkey.shop.test: rsa 2048-bit "
                                                         "key", None),
                 ("news.test", "spf_include", "include:bmsend.com"):
                     ("ok", "include:bmsend.com (Benchmark Email) is in the SPF record of "
                      "news.test", None),
                 ("shop.test", "spf_ip", "192.0.2.61 (Example Forwarding)"):
                     ("changed", "SPF of shop.test: pass now; the reports show fail (5 messages)",
                      None)}.items():
        check(got.get(k) == v, f"after: {k}: {got.get(k)} (want {v})")

    rc, out, err = run("report", "--db", db, "--check-dns", "--resolver", before.resolver,
                       *PERIOD, env=env)
    i = out.find("DNS now: are the fixes in place?")
    check(rc == 1 and i > 0 and "\nnews.test: wrong\n" in out[i:] and
          "  spf_include   include:bmsend.com" in out[i:] and
          "Fix: Add include:bmsend.com to the SPF record of news.test." in out[i:],
          f"text: the DNS section: {rc} {out[i:i + 400]!r}")
    rc, out, err = run("report", "--db", db, "--check-dns", "--resolver", before.resolver,
                       "--format", "html", *PERIOD, env=env)
    check(rc == 1 and "DNS now: are the fixes in place?" in out and
          "<b>Fix:</b> Add include:bmsend.com to the SPF record of news.test." in out,
          "html: the DNS section")
    rc, out, err = run("report", "--db", db, "--check-dns", "--resolver", before.resolver,
                       "--format", "csv", "--table", "dns_checks", *PERIOD, env=env)
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 1 and {(r["domain"], r["check"], r["subject"]): (r["status"], r["found"],
                                                              r["fix"] or None)
                       for r in rows} == {k: (v[0], v[1], v[2]) for k, v in
                                          checks_json(db, env, before.resolver)[2].items()},
          "csv --table dns_checks: the same checks as JSON")
    rc, out, err = run("explain", "--db", db, "--ip", "198.51.100.21", "--check-dns",
                       "--resolver", after.resolver, *PERIOD, env=env)
    i = out.find("\nDNS now: are the fixes in place?\n")
    check(rc == 0 and i > 0 and "\nFrom domain shop.test:\n" in out[i:] and
          "\nFrom domain news.test:\n  dmarc_record _dmarc.news.test: ok\n" in out[i:] and
          "  spf_include include:bmsend.com: ok\n" in out[i:],
          f"explain --check-dns, after: {rc} {out[i:]!r}")
    rc, out, err = run("explain", "--db", db, "--ip", "198.51.100.21", "--check-dns",
                       "--resolver", before.resolver, *PERIOD, env=env)
    check(rc == 1 and "    Fix: Add include:bmsend.com to the SPF record of news.test.\n" in out,
          f"explain --check-dns, before: exit 1 and the fix: {rc}")
    # A resolver that never answers: every check unknown, exit 3.
    rc, err, got, doc = checks_json(db, env, f"127.0.0.1:{hole.port}")
    check(rc == 3 and [d["status"] for d in doc.get("dns", [])] == ["unknown", "unknown"],
          f"DNS unreachable: exit 3, unknown: {rc} {err!r}")
    rc, out, err = run("report", "--db", db, *PERIOD, env=env)
    check(rc == 0 and "DNS now" not in out, "without --check-dns: no DNS section, no lookup")
    for bad, msg in [(["explain", "--letter", "--check-dns"],
                      "--check-dns goes with the explanation, not with --letter"),
                     (["report", "--check-dns", "--resolver", "localhost"],
                      "resolver is not an IP address with an optional port")]:
        rc, _, err = run(*bad, "--db", db, env=env)
        check(rc == 2 and msg in err, f"{bad}: exit 2: {rc} {err!r}")


def test_services_unreadable(db, t):
    """A reader of the database may be unable to read the services file of the environment it
    runs in (another user's home): report warns and uses the built-in services; a broken file
    is still refused, as by enrich."""
    cfg = os.path.join(t, "other", "dmarcstat")
    os.makedirs(os.path.join(cfg, "services"))
    env = dict(os.environ, HOME=t, XDG_CONFIG_HOME=os.path.join(t, "other"))
    rc, out, err = run("report", "--db", db, "--format", "json", *PERIOD, env=env)
    pairs = by_pair(json.loads(out)) if rc == 0 else {}
    check(rc == 0 and err == f"dmarcstat: {cfg}/services: Is a directory; using the built-in "
          "services only\n" and pairs[("203.0.113.70", "news.test")]["service"] ==
          "Benchmark Email" and pairs[("203.0.113.71", "news.test")]["service"] is None,
          f"unreadable services file: a warning, the built-in services: {rc} {err!r}")
    os.rmdir(os.path.join(cfg, "services"))
    with open(os.path.join(cfg, "services"), "w") as f:
        f.write("lists2.example.test list\n")
    rc, out, err = run("report", "--db", db, *PERIOD, env=env)
    check(rc == 2 and f"{cfg}/services:1:" in err, f"a broken services file: exit 2: {rc} {err!r}")


def main():
    if not os.access(dnstest.DNSMASQ, os.X_OK):
        print("dnsmasq is missing: scripts/install-deps --test")
        print("0 passed, 1 failed")
        sys.exit(1)
    with tempfile.TemporaryDirectory() as t, dnstest.DnsServer(ZONES) as dns, \
            dnstest.DnsServer(BEFORE) as before, dnstest.DnsServer(AFTER) as after, \
            dnstest.Silent() as hole:
        os.makedirs(os.path.join(t, "reports"))
        with open(os.path.join(t, "reports", "r.xml"), "w") as f:
            f.write(dnstest.report("google.com", "g1", "shop.test", NOW - 3 * DAY,
                                   NOW - 2 * DAY - 1, RECORDS, p="reject"))
        cfg = os.path.join(t, "config", "dmarcstat")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "services"), "w") as f:
            f.write(SERVICES)
        mm = os.path.join(t, "asn.mmdb")
        mmdb.write(mm, ASN)
        env = dict(os.environ, HOME=t, XDG_CONFIG_HOME=os.path.join(t, "config"))
        for k in ("DMARCSTAT_RESOLVER", "DMARCSTAT_MMDB", "DMARCSTAT_DB"):
            env.pop(k, None)
        db = os.path.join(t, "d.db")
        rc, _, err = run("ingest", "--quiet", "--db", db, os.path.join(t, "reports"), env=env)
        check(rc == 0, f"ingest: {rc} {err!r}")
        test_before_enrich(db, env)
        test_mmdb_without_enrich(db, env, mm)
        rc, out, err = run("enrich", "--db", db, "--resolver", dns.resolver, "--mmdb", mm,
                           "--timeout", "0.5", env=env)
        check(rc == 0, f"enrich: {rc} {out!r} {err!r}")
        test_fields(db, env)
        test_by_service(db, env)
        test_check_dns(db, env, before, after, hole)
        test_services_unreadable(db, t)
    tally.finish()


main()
