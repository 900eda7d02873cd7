"""`dmarcstat enrich`, `ingest --enrich` and `dmarcstat check` against a real DNS server: dnsmasq
on 127.0.0.1 at a free port, started and stopped here, with zones for every case (PTR names
confirmed and not, SPF records with and without the ESP include, over the lookup limit, broken,
doubled; DKIM keys present, revoked, weak, missing; DMARC records valid, with invalid tags,
missing, at the organisational domain), MMDB files written here (tests/dns/mmdb.py), and a UDP
socket that never answers for timeouts.  dnsmasq knows no upstream server: no query leaves the
machine.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_dns.py
"""
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
DATA = os.path.join(os.environ.get("DM_TEST_DATA_DIR", os.path.join(HERE, "..", "data")), "dns")
tally = harness.Tally()
check = tally.expect
DAY = 86400
NOW = int(time.time())


def key(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read().strip()


ZONES = [
    # ---- enrichment: PTR and forward records ----
    "host-record=mail.example.test,192.0.2.10",                  # confirmed
    "host-record=o1.ptr1234.sendgrid.net,192.0.2.11",            # confirmed, an ESP
    "ptr-record=12.2.0.192.in-addr.arpa,a1-2.smtp-out.amazonses.com",  # no A: not confirmed
    "ptr-record=14.2.0.192.in-addr.arpa,host.slow.test",         # its A lookup times out
    "server=/slow.test/127.0.0.1#{SILENT}",
    "server=/77.100.51.198.in-addr.arpa/127.0.0.1#{SILENT}",     # the PTR lookup times out
    "host-record=s21.bmsend.com,198.51.100.21",                  # Benchmark Email, confirmed
    "host-record=mx.example.test,2001:db8::25",                  # IPv6, confirmed
    # ---- good.test: everything right; the reports saw p=none and an SPF softfail ----
    'txt-record=_dmarc.good.test,"v=DMARC1; p=reject; sp=quarantine; adkim=s; fo=1; '
    'rua=mailto:dmarc@good.test,mailto:reports@elsewhere.test; ruf=mailto:f@elsewhere.test"',
    'txt-record=good.test._report._dmarc.elsewhere.test,"v=DMARC1"',
    'txt-record=good.test,"google-site-verification=abc"',
    'txt-record=good.test,"v=spf1 ip4:192.0.2.10 include:bmsend.com -all"',
    'txt-record=bmsend.com,"v=spf1 ip4:198.51.100.0/24 -all"',
    f'txt-record=s1._domainkey.good.test,"v=DKIM1; k=rsa; p={key("rsa2048.b64")}"',
    f'txt-record=ed._domainkey.good.test,"v=DKIM1; k=ed25519; p={key("ed25519.b64")}"',
    f'txt-record=k2._domainkey.good.test,"v=DKIM1; p={key("rsa1024.b64")}"',
    # ---- esp.test: invalid DMARC tags, an unauthorised rua, the ESP include missing ----
    'txt-record=_dmarc.esp.test,"v=DMARC1; p=rejectt; pct=150; foo=bar; '
    'rua=mailto:reports@thirdparty.test"',
    'txt-record=esp.test,"v=spf1 ip4:192.0.2.10 ~all"',
    'txt-record=old._domainkey.esp.test,"v=DKIM1; k=rsa; p="',
    f'txt-record=weak._domainkey.esp.test,"v=DKIM1; p={key("rsa512.b64")}"',
    'txt-record=junk._domainkey.esp.test,"v=DKIM1; p=bm90IGEga2V5"',
    # ---- many.test: 12 DNS-querying terms over its includes, no DMARC record ----
    'txt-record=many.test,"v=spf1 a mx include:a.many.test include:b.many.test -all"',
    'txt-record=a.many.test,"v=spf1 a mx ptr exists:%{i}.x.many.test include:c.many.test ~all"',
    'txt-record=b.many.test,"v=spf1 a:x.many.test mx:y.many.test -all"',
    'txt-record=c.many.test,"v=spf1 a ?all"',
    "host-record=c.many.test,192.0.2.50",
    # ---- broken records ----
    'txt-record=syntax.test,"v=spf1 ip4:192.0.2.300 -all"',
    'txt-record=two.test,"v=spf1 -all"',
    'txt-record=two.test,"v=spf1 ip4:192.0.2.10 -all"',
    'txt-record=_dmarc.two.test,"v=DMARC1; p=none"',
    'txt-record=_dmarc.two.test,"v=DMARC1; p=reject"',
    'txt-record=_dmarc.lower.test,"v=dmarc1; p=none"',
    'txt-record=lower.test,"v=spf1 include:nospf.test -all"',
    'txt-record=nospf.test,"just text"',
]

# MMDB files: MaxMind's ASN layout, MaxMind's country layout, IPinfo's flat layout.
ASN = [("192.0.2.0/24", {"autonomous_system_number": ("u32", 64500),
                         "autonomous_system_organization": "Example Net"}),
       ("198.51.100.0/24", {"asn": "AS64501", "as_name": "Other Net", "country": "DE"})]
COUNTRY = [("192.0.2.0/24", {"country": {"iso_code": "JP", "names": {"en": "Japan"}}}),
           ("2001:db8::/32", {"country": {"iso_code": "FR"}})]


def rec(ip, count, header_from, dkim=(), spf=(), dkim_eval="fail", spf_eval="fail"):
    return {"ip": ip, "count": count, "header_from": header_from, "dkim": list(dkim),
            "spf": list(spf), "dkim_eval": dkim_eval, "spf_eval": spf_eval}


def reports(folder):
    """Reports of the last days for the domains and IPs of the zones."""
    begin, end = NOW - 2 * DAY, NOW - DAY
    good = [rec("192.0.2.10", 40, "good.test", [("good.test", "s1", "pass")],
                [("good.test", "pass")], "pass", "pass"),
            rec("198.51.100.21", 12, "good.test", [("good.test", "ed", "pass")],
                [("good.test", "softfail")], "pass"),
            rec("192.0.2.10", 2, "good.test", [("good.test", "k2", "permerror")],
                [("good.test", "pass")], "fail", "pass")]
    esp = [rec("198.51.100.21", 30, "esp.test", [("bmsend.com", "bm", "pass")],
               [("esp.test", "softfail")]),
           rec("203.0.113.66", 5, "esp.test", [], [("esp.test", "fail")]),
           rec("192.0.2.10", 9, "esp.test", [("esp.test", "old", "permerror"),
                                            ("esp.test", "gone", "fail"),
                                            ("esp.test", "weak", "fail"),
                                            ("esp.test", "junk", "fail")],
               [("esp.test", "pass")], "fail", "pass")]
    many = [rec("192.0.2.50", 7, "many.test", [("many.test", "m", "pass")],
                [("many.test", "softfail")], "pass"),
            rec("2001:db8::25", 1, "many.test", [], [("many.test", "pass")], "fail", "pass"),
            rec("192.0.2.11", 1, "many.test", [], [("many.test", "pass")], "fail", "pass"),
            rec("192.0.2.12", 1, "many.test", [], [("many.test", "pass")], "fail", "pass"),
            rec("192.0.2.13", 1, "many.test", [], [("many.test", "pass")], "fail", "pass"),
            rec("192.0.2.14", 1, "many.test", [], [("many.test", "pass")], "fail", "pass"),
            rec("198.51.100.77", 1, "many.test", [], [("many.test", "pass")], "fail", "pass")]
    for i, (domain, records) in enumerate([("good.test", good), ("esp.test", esp),
                                           ("many.test", many)]):
        with open(os.path.join(folder, f"{domain}.xml"), "w") as f:
            f.write(dnstest.report("google.com", f"r{i}", domain, begin, end, records, p="none"))


def run(*args, env=None, timeout=60):
    res = subprocess.run([DMARCSTAT, *args], capture_output=True, timeout=timeout, env=env)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def hosts(db):
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT ip, ptr, confirmed, base_domain, service, kind, asn, as_org, country, error "
            "FROM host")}
    finally:
        con.close()


def test_enrich(t, dns, hole, env):
    db = os.path.join(t, "e.db")
    rc, _, err = run("ingest", "--quiet", "--db", db, os.path.join(t, "reports"), env=env)
    check(rc == 0, f"ingest the reports: {rc} {err!r}")
    mm = [os.path.join(t, "asn.mmdb"), os.path.join(t, "country.mmdb")]
    args = ["enrich", "--db", db, "--resolver", dns.resolver, "--timeout", "0.3", "--json",
            "--mmdb", mm[0], "--mmdb", mm[1], "--mmdb", os.path.join(t, "absent.mmdb")]
    t0 = time.monotonic()
    rc, out, err = run(*args, env=env)
    took = time.monotonic() - t0
    stats = json.loads(out) if out else {}
    check(rc == 1 and stats == {"due": 10, "looked_up": 10, "ptr": 7, "confirmed": 5, "failed": 2,
                                "left": 0, "services_updated": 0},
          f"enrich: exit 1 (2 lookups timed out), the counts: {rc} {stats} {err!r}")
    check(took < 10, f"timeouts bounded by --timeout 0.3: {took:.1f} s")
    h = hosts(db)
    want = {
        "192.0.2.10": ("mail.example.test", 1, "example.test", None, None, 64500, "Example Net",
                       "JP", None),
        "192.0.2.11": ("o1.ptr1234.sendgrid.net", 1, "sendgrid.net", "Twilio SendGrid", "esp",
                       64500, "Example Net", "JP", None),
        "192.0.2.12": ("a1-2.smtp-out.amazonses.com", 0, "amazonses.com", "Amazon SES", "esp",
                       64500, "Example Net", "JP", None),
        "192.0.2.13": (None, None, None, None, None, 64500, "Example Net", "JP", None),
        "192.0.2.14": ("host.slow.test", 0, "slow.test", None, None, 64500, "Example Net", "JP",
                       "forward lookup: timeout"),
        "192.0.2.50": ("c.many.test", 1, "many.test", None, None, 64500, "Example Net", "JP",
                       None),
        "203.0.113.66": (None, None, None, None, None, None, None, None, None),
        "198.51.100.21": ("s21.bmsend.com", 1, "bmsend.com", "Benchmark Email", "esp", 64501,
                          "Other Net", "DE", None),
        "198.51.100.77": (None, None, None, None, None, 64501, "Other Net", "DE",
                          "PTR lookup: timeout"),
        "2001:db8::25": ("mx.example.test", 1, "example.test", None, None, None, None, "FR",
                         None),
    }
    for ip, row in want.items():
        check(h.get(ip) == row, f"host {ip}: {h.get(ip)} (want {row})")
    check(len(h) == 10, f"every source IP has a row: {sorted(h)}")

    # Nothing is due the second time: answers stay 7 days, failures a day.
    rc, out, _ = run(*args, env=env)
    check(rc == 0 and json.loads(out)["due"] == 0, f"second run: nothing due: {rc} {out!r}")
    con = sqlite3.connect(db)
    con.execute("UPDATE host SET checked_at = checked_at - 8 * 86400 WHERE ip = '192.0.2.10'")
    con.execute("UPDATE host SET checked_at = checked_at - 2 * 86400 WHERE ip = '192.0.2.14'")
    con.commit()
    con.close()
    rc, out, _ = run(*args, env=env)
    check(json.loads(out)["due"] == 2, f"an 8-day-old answer and a 2-day-old failure are due: "
          f"{out!r}")
    rc, out, _ = run(*args, "--ttl", "30d", env=env)
    check(json.loads(out)["due"] == 0, f"--ttl 30d: nothing due: {out!r}")
    rc, out, _ = run(*args, "--all", env=env)
    check(json.loads(out)["due"] == 10, f"--all: every IP: {out!r}")

    # The user's services file renames and adds services, without DNS.
    cfg = os.path.join(t, "config", "dmarcstat")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "services"), "w") as f:
        f.write("# ours\nsendgrid.net  esp  -  SendGrid (our account)\n"
                "example.test  mailbox  -  Example Mail\n")
    rc, out, err = run(*args, env=env)
    h = hosts(db)
    check(json.loads(out)["services_updated"] == 3 and
          h["192.0.2.11"][3:5] == ("SendGrid (our account)", "esp") and
          h["192.0.2.10"][3:5] == ("Example Mail", "mailbox") and
          h["2001:db8::25"][3:5] == ("Example Mail", "mailbox"),
          f"services file: 3 rows renamed: {out!r} {h['192.0.2.11']}")
    with open(os.path.join(cfg, "services"), "a") as f:
        f.write("broken.example frob - Name\n")
    rc, out, err = run(*args, env=env)
    check(rc == 2 and f"{cfg}/services:4: KIND is not esp, mailbox, list, forwarder or gateway"
          in err, f"a broken services file: exit 2 and the line: {rc} {err!r}")
    os.unlink(os.path.join(cfg, "services"))

    # A resolver that never answers: nothing stored, exit 3.
    rc, out, _ = run(*args, env=env)
    check(json.loads(out)["services_updated"] == 3, f"without the file, the built-in names are "
          f"back: {out!r}")
    before = hosts(db)
    rc, out, err = run("enrich", "--all", "--db", db, "--resolver", f"127.0.0.1:{hole.port}",
                       "--timeout", "0.2", env=env)
    check(rc == 3 and "no IP could be looked up (DNS unreachable?); 10 left for the next run"
          in err and hosts(db) == before, f"resolver unreachable: exit 3, rows kept: {rc} {err!r}")

    # The environment instead of options.
    e2 = dict(env, DMARCSTAT_RESOLVER=dns.resolver, DMARCSTAT_MMDB=":".join(mm))
    con = sqlite3.connect(db)
    con.execute("DELETE FROM host")
    con.commit()
    con.close()
    rc, out, err = run("enrich", "--db", db, "--timeout", "0.3", "--quiet", env=e2)
    h = hosts(db)
    check(rc == 1 and out == "" and err == "" and h["198.51.100.21"][0] == "s21.bmsend.com" and
          h["2001:db8::25"][7] == "FR",
          f"DMARCSTAT_RESOLVER and DMARCSTAT_MMDB; --quiet: {rc} {out!r} {err!r}")

    # Refusals.
    for bad, msg in [(["--resolver", "localhost"], "resolver is not an IP address with an "
                                                  "optional port (IP, IP:PORT or [IPv6]:PORT): "
                                                  "\"localhost\""),
                     (["--timeout", "0"], "--timeout wants seconds, more than 0 and at most 60"),
                     (["--ttl", "0d"], "--ttl wants a number of days from 1 to 3660"),
                     (["--budget", "x"], "--budget wants seconds from 1 to 86400"),
                     (["--concurrency", "0"], "--concurrency wants a number from 1 to 1000"),
                     (["--mmdb", os.path.join(DATA, "rsa512.b64")], "not a readable MaxMind DB")]:
        rc, _, err = run("enrich", "--db", db, *bad, env=env)
        check(rc == 2 and msg in err, f"enrich {bad}: exit 2: {rc} {err!r}")
    rc, _, err = run("enrich", "--db", os.path.join(t, "none.db"), env=env)
    check(rc == 3 and "none.db: no database there" in err, f"enrich, no database: {rc} {err!r}")


def test_ingest_enrich(t, dns, env):
    db = os.path.join(t, "i.db")
    rc, _, err = run("ingest", "--enrich", "--resolver", "300.1.1.1", "--db", db,
                     os.path.join(t, "reports"), env=env)
    check(rc == 2 and not os.path.exists(db), f"ingest --enrich, bad resolver: refused before "
          f"storing anything: {rc} {err!r}")
    rc, _, err = run("ingest", "--enrich", "--resolver", dns.resolver, "--timeout", "0.3",
                     "--mmdb", os.path.join(t, "country.mmdb"), "--db", db,
                     os.path.join(t, "reports"), env=env)
    h = hosts(db)
    check(rc == 1 and "3 reports (13 records" in err and
          "enrich: 10 IPs looked up, 2 failed, 0 left for the next run" in err and
          h["192.0.2.11"][3] == "Twilio SendGrid" and h["192.0.2.10"][7] == "JP",
          f"ingest --enrich: stored, then looked up (2 timeouts: exit 1): {rc} {err!r}")


def checks_of(out):
    doc = json.loads(out)
    return {d["domain"]: {(c["check"], c["subject"]): c for c in d["checks"]}
            for d in doc["domains"]}, doc


def expect(checks, domain, check_name, subject, status, found=None, fix=None):
    c = checks.get(domain, {}).get((check_name, subject))
    ok = (c is not None and c["status"] == status and (found is None or found in c["found"]) and
          (fix is None or (c["fix"] is not None and fix in c["fix"])))
    check(ok, f"check {domain} {check_name} {subject}: {status} {found or ''}: got {c}")


def test_check(t, dns, hole, env):
    db = os.path.join(t, "c.db")
    rc, _, err = run("ingest", "--quiet", "--enrich", "--resolver", dns.resolver, "--timeout",
                     "0.3", "--db", db, os.path.join(t, "reports"), env=env)
    base = ["check", "--db", db, "--resolver", dns.resolver, "--format", "json"]

    rc, out, err = run(*base, "good.test", env=env)
    checks, doc = checks_of(out)
    check(rc == 0 and doc["format"] == "dmarcstat-check" and doc["version"] == 1 and
          doc["domains"][0]["status"] == "changed", f"good.test: exit 0, changed: {rc} {err!r}")
    g = "good.test"
    expect(checks, g, "dmarc_record", "_dmarc.good.test", "ok", "v=DMARC1; p=reject")
    expect(checks, g, "dmarc_policy", "_dmarc.good.test", "changed",
           "p=reject sp=quarantine pct=100 now; the reports show p=none sp=none pct=100")
    expect(checks, g, "dmarc_destination", "elsewhere.test", "ok",
           "elsewhere.test accepts rua reports for good.test")
    expect(checks, g, "spf_record", "good.test", "ok",
           "v=spf1 ip4:192.0.2.10 include:bmsend.com -all")
    expect(checks, g, "spf_lookups", "good.test", "ok", ": 1 of at most 10")
    expect(checks, g, "spf_include", "include:bmsend.com", "ok",
           "include:bmsend.com (Benchmark Email) is in the SPF record of good.test")
    expect(checks, g, "spf_ip", "198.51.100.21 (Benchmark Email)", "changed",
           "SPF of good.test: pass now; the reports show softfail (12 messages)")
    expect(checks, g, "dkim_key", "s1", "ok", "s1._domainkey.good.test: rsa 2048-bit key")
    expect(checks, g, "dkim_key", "ed", "ok", "ed._domainkey.good.test: ed25519 key")
    expect(checks, g, "dkim_key", "k2", "changed",
           "rsa 1024-bit key (2048 bits is the norm now); the reports show permerror")
    check(len(checks[g]) == 10, f"good.test: 10 checks: {sorted(checks[g])}")

    rc, out, err = run(*base, "esp.test", env=env)
    checks, _ = checks_of(out)
    e = "esp.test"
    check(rc == 1, f"esp.test: something to fix: exit 1: {rc} {err!r}")
    expect(checks, e, "dmarc_tag", "p", "wrong", "p=rejectt is not valid",
           "p= takes none, quarantine or reject.")
    expect(checks, e, "dmarc_tag", "pct", "wrong", "pct=150 is not valid",
           "a whole number from 0 to 100")
    expect(checks, e, "dmarc_tag", "foo", "wrong", "unknown tag foo=bar", "Remove foo=")
    expect(checks, e, "dmarc_destination", "thirdparty.test", "wrong",
           "rua= sends to thirdparty.test, which does not say it accepts reports for esp.test",
           "esp.test._report._dmarc.thirdparty.test")
    expect(checks, e, "spf_include", "include:bmsend.com", "wrong",
           "include:bmsend.com (Benchmark Email, which sends for esp.test from 198.51.100.21) "
           "is not in its SPF record", "Add include:bmsend.com to the SPF record of esp.test.")
    expect(checks, e, "spf_ip", "198.51.100.21 (Benchmark Email)", "wrong",
           "SPF of esp.test: softfail now; the reports show softfail (30 messages)",
           "Add include:bmsend.com (Benchmark Email) to the SPF record of esp.test.")
    expect(checks, e, "spf_ip", "203.0.113.66", "ok", "fail now; the reports show fail (5 "
           "messages), and nothing shows it sends for esp.test")
    expect(checks, e, "dkim_key", "old", "wrong", "the key is revoked (empty p=)")
    expect(checks, e, "dkim_key", "gone", "wrong", "gone._domainkey.esp.test: no key record",
           "Publish the DKIM key of selector gone")
    expect(checks, e, "dkim_key", "weak", "wrong",
           "an RSA key of 512 bits: receivers must not accept keys under 1024 bits")
    expect(checks, e, "dkim_key", "junk", "wrong", "p= is not an RSA public key")

    rc, out, err = run(*base, "many.test", env=env)
    checks, _ = checks_of(out)
    m = "many.test"
    expect(checks, m, "dmarc_record", "_dmarc.many.test", "wrong", "no DMARC record",
           "Publish a TXT record at _dmarc.many.test")
    expect(checks, m, "spf_lookups", "many.test", "wrong",
           "12 DNS-querying terms (include, a, mx, ptr, exists, redirect) over the record and "
           "its includes; the limit is 10")
    expect(checks, m, "spf_ip", "192.0.2.50", "wrong", "SPF of many.test: pass now",
           "libspf2 passes it, but only by reading more than 10 DNS-querying terms")

    rc, out, _ = run(*base, "syntax.test", "two.test", "lower.test", "mail.good.test", env=env)
    checks, doc = checks_of(out)
    check(rc == 1 and [d["domain"] for d in doc["domains"]] ==
          ["syntax.test", "two.test", "lower.test", "mail.good.test"],
          f"several domains, in the order given: {rc}")
    expect(checks, "syntax.test", "spf_syntax", "syntax.test", "wrong",
           "the record is not valid SPF: ")
    expect(checks, "two.test", "spf_record", "two.test", "wrong",
           "2 SPF records: receivers answer permerror for all mail")
    expect(checks, "two.test", "dmarc_record", "_dmarc.two.test", "wrong",
           "2 DMARC records: receivers ignore them all")
    expect(checks, "lower.test", "dmarc_record", "_dmarc.lower.test", "wrong",
           "\"v=dmarc1\" is not v=DMARC1 (upper case)")
    expect(checks, "lower.test", "spf_syntax", "lower.test", "wrong",
           "include:nospf.test has no SPF record")
    expect(checks, "mail.good.test", "dmarc_record", "_dmarc.good.test", "ok",
           "none at _dmarc.mail.good.test; the organisational domain's applies: v=DMARC1")
    expect(checks, "mail.good.test", "spf_record", "mail.good.test", "wrong", "no SPF record")

    # Without DOMAIN: every domain with reports, sorted.
    rc, out, _ = run(*base, env=env)
    _, doc = checks_of(out)
    check(rc == 1 and [d["domain"] for d in doc["domains"]] ==
          ["esp.test", "good.test", "many.test"], f"no DOMAIN: the reported domains: {rc}")

    # Text output.
    rc, out, _ = run("check", "--db", db, "--resolver", dns.resolver, "good.test", env=env)
    check(rc == 0 and out.startswith("good.test: ok, 3 changed since the reports\n"
                                      "  ok       dmarc_record       _dmarc.good.test\n"
                                      "           v=DMARC1; p=reject;"),
          f"text output: {out[:200]!r}")
    # check shows no ASN or country: it takes no --mmdb, and a broken $DMARCSTAT_MMDB (set
    # for enrich) changes nothing of its answer.
    broken = os.path.join(DATA, "rsa512.b64")
    rc2, out2, err = run("check", "--db", db, "--resolver", dns.resolver, "good.test",
                         env=dict(env, DMARCSTAT_MMDB=broken))
    check(rc2 == 0 and out2 == out and err == "",
          f"check ignores DMARCSTAT_MMDB: {rc2} {err!r} {out2[:200]!r}")
    rc2, out2, err = run("check", "--db", db, "--resolver", dns.resolver, "--mmdb",
                         os.path.join(t, "asn.mmdb"), "good.test", env=env)
    check(rc2 == 2 and out2 == "" and "unrecognized option '--mmdb'" in err and
          "usage: dmarcstat check" in err, f"check --mmdb: exit 2: {rc2} {err[:200]!r}")

    # No database: the records alone.
    e2 = dict(env, XDG_DATA_HOME=os.path.join(t, "nodata"))
    e2.pop("DMARCSTAT_DB", None)
    rc, out, err = run("check", "--resolver", dns.resolver, "--format", "json", "good.test",
                       env=e2)
    checks, _ = checks_of(out) if out else ({}, None)
    check(rc == 0 and "checking the records alone" in err and
          not any(k[0] in ("spf_ip", "dkim_key") for k in checks.get("good.test", {})),
          f"no database: the records alone: {rc} {err!r}")
    expect(checks, "good.test", "dmarc_policy", "_dmarc.good.test", "ok",
           "p=reject sp=quarantine pct=100")

    # DNS unreachable: exit 3, every check unknown.
    t0 = time.monotonic()
    rc, out, err = run("check", "--db", db, "--resolver", f"127.0.0.1:{hole.port}",
                       "--timeout", "0.2", "--format", "json", "good.test", "esp.test", env=env)
    took = time.monotonic() - t0
    _, doc = checks_of(out)
    statuses = {c["status"] for d in doc["domains"] for c in d["checks"]}
    check(rc == 3 and statuses == {"unknown"} and took < 10,
          f"unreachable: exit 3, all unknown, {took:.1f} s: {rc} {statuses}")

    # Usage.
    for bad, msg in [(["--format", "xml"], "unknown format 'xml': text or json"),
                     (["--last", "7d", "--from", "2026-01-01"], "--last cannot be combined"),
                     (["--resolver", "1.2.3.4:99999"], "resolver is not an IP address")]:
        rc, _, err = run("check", "--db", db, *bad, "good.test", env=env)
        check(rc == 2 and msg in err, f"check {bad}: exit 2: {rc} {err!r}")
    rc, _, err = run("check", "--db", os.path.join(t, "none.db"), "good.test", env=env)
    check(rc == 3 and "none.db: no database there" in err, f"check --db missing: {rc} {err!r}")


def test_help():
    for cmd, words in [("enrich", "Exit status: 0 every due IP looked up"),
                       ("check", "Exit status: 0 all fine, 1 something to fix"),
                       ("ingest", "--enrich")]:
        rc, out, _ = run(cmd, "--help")
        check(rc == 0 and words in out and "--resolver IP[:PORT]" in out, f"{cmd} --help")
        check(("--mmdb" in out) == (cmd != "check") and "--timeout SECONDS" in out,
              f"{cmd} --help: --mmdb (not for check) and --timeout")


def main():
    if not os.access(dnstest.DNSMASQ, os.X_OK):
        print("dnsmasq is missing: scripts/install-deps --test")
        print("0 passed, 1 failed")
        sys.exit(1)
    with tempfile.TemporaryDirectory() as t, dnstest.Silent() as hole, \
            dnstest.DnsServer(ZONES, silent_port=hole.port) as dns:
        os.makedirs(os.path.join(t, "reports"))
        reports(os.path.join(t, "reports"))
        mmdb.write(os.path.join(t, "asn.mmdb"), ASN)
        mmdb.write(os.path.join(t, "country.mmdb"), COUNTRY)
        env = dict(os.environ, HOME=t, XDG_CONFIG_HOME=os.path.join(t, "config"))
        for k in ("DMARCSTAT_RESOLVER", "DMARCSTAT_MMDB"):
            env.pop(k, None)
        test_enrich(t, dns, hole, env)
        test_ingest_enrich(t, dns, env)
        test_check(t, dns, hole, env)
        test_help()
    tally.finish()


main()
