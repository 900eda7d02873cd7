"""`dmarcstat quarantine` with real broken inputs: list (text and JSON), show, show --raw (the
input's bytes back exactly), retry of entries that still fail, retry of an entry that now
succeeds (left by an older parser: the bytes of a good report), unknown IDs."""
import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
tally = harness.Tally()
check = tally.expect

GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>{org}</org_name><email>d@example.net</email>
<report_id>{rid}</report_id><date_range><begin>1793491200</begin><end>1793577599</end>
</date_range></report_metadata><policy_published><domain>example.com</domain><p>reject</p>
</policy_published><record><row><source_ip>192.0.2.{ip}</source_ip><count>{count}</count>
<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>
</policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>
<auth_results><spf><domain>example.com</domain><result>pass</result></spf></auth_results>
</record></feedback>
"""


def good(rid, ip=1, count=5, org="example.net"):
    return GOOD.format(rid=rid, ip=ip, count=count, org=org).encode()


def run(*args):
    res = subprocess.run([DMARCSTAT, *args], capture_output=True, timeout=120)
    return res.returncode, res.stdout, res.stderr.decode()


def make_inputs(d):
    files = {}
    files["good.xml"] = good("g-1")
    files["malformed.xml"] = good("m-1").replace(b"</record>", b"</recrd>")
    files["truncated.xml.gz"] = gzip.compress(good("t-1"), mtime=0)[:60]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ok.xml", good("z-1", ip=2))
        z.writestr("broken.xml", b"<feedback><report_metadata>")
    files["mixed.zip"] = buf.getvalue()
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return files


def entries(db, *extra):
    rc, out, err = run("quarantine", "--db", db, "list", "--json", *extra)
    check(rc == 0, f"list --json: exit {rc} {err!r}")
    return json.loads(out)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        os.makedirs(inputs)
        files = make_inputs(inputs)
        db = os.path.join(tmp, "q.db")
        rc, _, err = run("ingest", "--db", db, inputs)
        check(rc == 1, f"ingest with broken inputs: exit {rc}, want 1")
        got = {(os.path.basename(e["path"]), e["member"], e["reason"]) for e in entries(db)}
        want = {("malformed.xml", None, "xml_malformed"),
                ("truncated.xml.gz", "gunzip", "gzip_truncated"),
                ("mixed.zip", "broken.xml", "xml_malformed")}
        check(got == want, f"list --json: {sorted(got, key=str)}")
        with sqlite3.connect(db) as con:
            stored = con.execute("SELECT group_concat(report_id) FROM "
                                 "(SELECT report_id FROM report ORDER BY 1)").fetchone()[0]
        check(stored == "g-1,z-1", f"the good reports of the batch are stored: {stored}")

        rc, out, _ = run("quarantine", "--db", db)
        text = out.decode()
        check(rc == 0 and text.startswith("ID    FIRST SEEN (UTC)") and
              "gzip_truncated" in text and "mixed.zip: broken.xml" in text and
              "XML not well-formed at line" in text, f"list (text): {text!r}")

        by_name = {os.path.basename(e["path"]): e for e in entries(db)}
        zid = by_name["mixed.zip"]["id"]
        rc, out, _ = run("quarantine", "--db", db, "show", str(zid))
        text = out.decode()
        check(rc == 0 and f"id:          {zid}\n" in text and "member:      broken.xml\n" in text
              and "reason:      xml_malformed\n" in text and "attempts:    1\n" in text
              and f"size:        {len(files['mixed.zip'])} bytes\n" in text,
              f"show: {text!r}")
        rc, raw, _ = run("quarantine", "--db", db, "show", "--raw", str(zid))
        check(rc == 0 and raw == files["mixed.zip"], "show --raw gives the input's bytes back")
        tid = by_name["truncated.xml.gz"]["id"]
        rc, raw, _ = run("quarantine", "--db", db, "show", "--raw", str(tid))
        check(raw == files["truncated.xml.gz"], "show --raw of the truncated gzip")

        # Retry with the same parser: all still fail, attempts grow, nothing is added twice.
        rc, out, err = run("quarantine", "--db", db, "retry")
        check(rc == 1 and out.decode().count("still failing") == 3, f"retry: exit {rc} {out!r} {err!r}")
        after = entries(db)
        check(len(after) == 3 and all(e["attempts"] == 2 for e in after),
              f"retry: attempts {[(e['id'], e['attempts']) for e in after]}")
        with sqlite3.connect(db) as con:
            n = con.execute("SELECT count(*) FROM report").fetchone()[0]
        check(n == 2, f"retry stored nothing new: {n} reports")

        # An entry an older parser could not read, that this one can: retry stores it.
        with sqlite3.connect(db) as con:
            data = good("old-1", ip=9, count=7)
            con.execute("INSERT INTO quarantine (path, member, reason, message, bytes, size, "
                        "truncated, sha256, first_seen, last_tried, attempts) VALUES "
                        "('/old/report.xml', NULL, 'xml_malformed', 'old parser', ?, ?, 0, "
                        "'old', ?, ?, 1)", (zlib.compress(data), len(data), int(time.time()),
                                            int(time.time())))
            oid = con.execute("SELECT max(id) FROM quarantine").fetchone()[0]
        rc, out, err = run("quarantine", "--db", db, "retry", str(oid))
        check(rc == 0 and f"{oid}: resolved: 1 reports (1 records) stored" in out.decode(),
              f"retry of a readable entry: exit {rc} {out!r} {err!r}")
        with sqlite3.connect(db) as con:
            row = con.execute("SELECT r.report_id, c.source_ip, c.count, i.path FROM record c "
                              "JOIN report r ON c.report = r.id JOIN input i ON r.input = i.id "
                              "WHERE r.report_id = 'old-1'").fetchone()
        check(row == ("old-1", "192.0.2.9", 7, "/old/report.xml"), f"retried report stored: {row}")
        check(oid not in [e["id"] for e in entries(db)], "resolved entry left the list")
        resolved = [e for e in entries(db, "--all") if e["id"] == oid]
        check(resolved and resolved[0]["resolved"] is True, f"list --all: {resolved}")

        rc, _, err = run("quarantine", "--db", db, "show", "999")
        check(rc == 2 and "quarantine: no entry 999" in err, f"unknown id: exit {rc} {err!r}")
        rc, _, err = run("quarantine", "--db", db, "retry", "999")
        check(rc == 1 and "no quarantine entry 999" in err, f"retry unknown id: exit {rc} {err!r}")
        rc, _, err = run("quarantine", "--db", db, "frobnicate")
        check(rc == 2 and "unknown subcommand 'frobnicate'" in err, f"bad subcommand: {rc} {err!r}")
    tally.finish()


main()
