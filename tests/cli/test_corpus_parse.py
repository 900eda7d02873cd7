"""`dmarcstat parse` over every corpus file: record counts and message totals equal the manifest;
malformed and non-aggregate files give a clear error naming the file."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
CONTAINERS = {"xml", "gz", "zip", "eml", "other"}
MESSAGES = ("not a DMARC aggregate report", "XML not well-formed", "empty file", "gzip",
            "zip", "no DMARC report", "forensic", "TLS", "not XML", "truncated")


def check(row):
    p = corpus.path(row)
    res = subprocess.run([DMARCSTAT, "parse", p], capture_output=True, timeout=60)
    out, err = res.stdout.decode(), res.stderr.decode("utf-8", "replace")
    reports = [json.loads(line) for line in out.splitlines()]
    records = sum(len(r["records"]) for r in reports)
    total = sum(rec["count"] or 0 for r in reports for rec in r["records"])
    problems = []
    if row["kind"] == "aggregate":
        want = corpus.ints(row)
        if (records, total) != want:
            problems.append(f"records/total {records}/{total}, manifest {want[0]}/{want[1]}")
        for r in reports:
            if r["source"]["file"] != p:
                problems.append(f"source.file {r['source']['file']!r}")
    if corpus.expects_error(row):
        if res.returncode != 1:
            problems.append(f"exit status {res.returncode}, expected 1")
        if p not in err or not any(m in err for m in MESSAGES):
            problems.append(f"no clear error naming the file: {err.strip()[:300]!r}")
    elif res.returncode != 0 and "malformed" not in row["notes"]:
        # A multi-member zip may hold junk members next to reports: those print errors.
        if "not a report" not in row["notes"]:
            problems.append(f"exit status {res.returncode}: {err.strip()[:300]!r}")
    if "Sanitizer" in err or "runtime error" in err:
        problems.append("sanitizer report: " + err[:500])
    return problems


def main():
    failures = 0
    checked = 0
    for row in corpus.rows():
        if row["container"] not in CONTAINERS:
            continue
        checked += 1
        problems = check(row)
        if problems:
            failures += 1
            print(f"FAIL {row['file']}: " + "; ".join(problems))
    print(f"{checked - failures} passed, {failures} failed")
    sys.exit(1 if failures or checked == 0 else 0)


main()
