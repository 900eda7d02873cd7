"""Golden test of `dmarcstat parse`, the JSON Lines contract of the README: every field of a
report and a record, absent values as null, strangers' text escaped, the member inside a zip, a
gzip and a bare zlib stream; byte for byte against tests/data/parse/golden/parse.jsonl, and every
object with exactly the README's keys in the README's order.

    DMARCSTAT=build/cli/dmarcstat DM_TEST_DATA_DIR=tests/data python3 tests/cli/test_parse_golden.py
    DM_UPDATE_GOLDEN=1 ...   rewrites the golden file (then review the diff).
"""
import json
import os
import subprocess
import sys

DMARCSTAT = os.path.abspath(os.environ.get("DMARCSTAT", "build/cli/dmarcstat"))
DATA = os.environ.get("DM_TEST_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "data"))
GOLDEN = os.path.join(DATA, "parse", "golden")
# Each with what it shows: every RFC 7489 field; every RFC 9990 field and <extensions>; every
# optional value absent (null, empty lists); text that must be escaped; a zip member; gunzip;
# a bare zlib stream.
INPUTS = ["full-rfc7489.xml", "full-rfc9990.xml", "nulls.xml", "escapes.xml", "member.zip",
          "gzipped.xml.gz", "deflated.zlib"]

REPORT_KEYS = ["source", "schema", "version", "org_name", "email", "extra_contact_info",
               "report_id", "begin", "end", "errors", "generator", "policy", "fixups", "records",
               "extensions"]
POLICY_KEYS = ["domain", "p", "sp", "np", "adkim", "aspf", "pct", "fo", "testing",
               "discovery_method"]
RECORD_KEYS = ["source_ip", "count", "disposition", "dkim", "spf", "reasons", "header_from",
               "envelope_from", "envelope_to", "dkim_results", "spf_results", "extensions"]
DKIM_KEYS = ["domain", "selector", "result", "human_result"]
SPF_KEYS = ["domain", "scope", "result", "human_result"]

failures = []


def expect(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what)


def keys(obj, want, where):
    expect(list(obj) == want, f"{where}: keys {list(obj)}, want {want}")


def check_shape(report):
    where = f"{report['source']['file']}"
    keys(report, REPORT_KEYS, where)
    keys(report["source"], ["file", "member"], where + " source")
    keys(report["policy"], POLICY_KEYS, where + " policy")
    for i, r in enumerate(report["records"]):
        keys(r, RECORD_KEYS, f"{where} record {i}")
        for x in r["reasons"]:
            keys(x, ["type", "comment"], f"{where} record {i} reason")
        for x in r["dkim_results"]:
            keys(x, DKIM_KEYS, f"{where} record {i} dkim")
        for x in r["spf_results"]:
            keys(x, SPF_KEYS, f"{where} record {i} spf")


def main():
    res = subprocess.run([DMARCSTAT, "parse"] + INPUTS, cwd=GOLDEN, capture_output=True,
                         timeout=60)
    expect(res.returncode == 0, f"exit {res.returncode}: {res.stderr.decode()[:300]!r}")
    expect(res.stderr == b"", f"stderr: {res.stderr.decode()[:300]!r}")
    golden = os.path.join(GOLDEN, "parse.jsonl")
    if os.environ.get("DM_UPDATE_GOLDEN"):
        with open(golden, "wb") as f:
            f.write(res.stdout)
    with open(golden, "rb") as f:
        want = f.read()
    got_lines, want_lines = res.stdout.split(b"\n"), want.split(b"\n")
    for i, (g, w) in enumerate(zip(got_lines, want_lines)):
        expect(g == w, f"line {i + 1} differs:\n got  {g[:2000]!r}\n want {w[:2000]!r}")
    expect(len(got_lines) == len(want_lines),
           f"{len(got_lines) - 1} lines, golden has {len(want_lines) - 1}")
    lines = res.stdout.decode().splitlines()
    expect(len(lines) == len(INPUTS), f"{len(lines)} reports for {len(INPUTS)} inputs")
    for line in lines:
        check_shape(json.loads(line))
    # Every field appears with a value somewhere and as null somewhere: none is always null.
    reports = [json.loads(line) for line in lines]
    for k in REPORT_KEYS:
        vals = [r[k] for r in reports]
        expect(any(v not in (None, []) for v in vals), f"{k}: never has a value")
    for k in POLICY_KEYS:
        vals = [r["policy"][k] for r in reports]
        expect(any(v is not None for v in vals) and any(v is None for v in vals),
               f"policy {k}: want a value and a null among the inputs: {vals}")
    records = [x for r in reports for x in r["records"]]
    for k in RECORD_KEYS:
        vals = [x[k] for x in records]
        expect(any(v not in (None, []) for v in vals), f"record {k}: never has a value")
        expect(k in ("reasons", "dkim_results", "spf_results") or any(v is None for v in vals),
               f"record {k}: never null")
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print(f"parse golden: {len(lines)} reports, {len(records)} records match")


main()
