"""The traps a new user falls into, each with its exact message and exit status: a mistyped
--db (never created, never shown as an empty database), periods that are empty or start before
2000 (said with the days given), an unknown --reporter (the closest names), standard output that
cannot be written (one rule for every command: exit 1 and one line), and -o FILE left as it was
by every refusal.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_traps.py
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import PERIOD, SOURCE, run, sample_db  # noqa: E402

NOW = ["--now", "2026-11-28"]
NO_DB = "no database there (run 'dmarcstat ingest' first, or pass --db)"
STDOUT = "dmarcstat: cannot write standard output"


def expect(problems, what, got, rc, err):
    """got is (rc, out, err): the status must be rc and stderr exactly the lines err."""
    lines = got[2].splitlines()
    if got[0] != rc or lines != err:
        problems.append(f"{what}: want {rc} and {err!r}, got {got[0]}: {lines!r}")


def missing_db(problems, tmp):
    typo = os.path.join(tmp, "typo.db")
    for args in (["quarantine"], ["quarantine", "list"], ["quarantine", "list", "--json"],
                 ["quarantine", "show", "1"], ["quarantine", "retry"],
                 ["quarantine", "resolve", "1", "--keep-new"], ["report"], ["explain"],
                 ["report", "-o", os.path.join(tmp, "r.txt")]):
        got = run(args + ["--db", typo])
        expect(problems, f"{args} on a missing database", got, 3, [f"dmarcstat: {typo}: {NO_DB}"])
        if got[1] != b"":
            problems.append(f"{args} on a missing database printed {got[1]!r}")
    # A usage error is said as such, database or not.
    expect(problems, "quarantine show with a bad ID", run(["quarantine", "show", "x1", "--db",
                                                         typo]), 2,
           ["dmarcstat: quarantine show: 'x1' is not an entry ID (a number from 1 to "
            "9223372036854775807)"])
    left = [n for n in os.listdir(tmp) if n.startswith("typo") or n == "r.txt"]
    if left:
        problems.append(f"a missing database was created: {left}")
    home = os.path.join(tmp, "home")
    os.mkdir(home)
    got = run(["quarantine"], env={"HOME": home, "XDG_DATA_HOME": "", "DMARCSTAT_DB": ""})
    path = f"{home}/.local/share/dmarcstat/dmarcstat.db"
    expect(problems, "quarantine with no database yet", got, 3, [f"dmarcstat: {path}: {NO_DB}"])
    if os.listdir(home):
        problems.append(f"quarantine made {os.listdir(home)} in an empty HOME")


def periods(problems, db):
    cases = [
        (["--from", "2030-01-01"], "dmarcstat: --from 2030-01-01 is after yesterday, "
         "2026-11-27: without --to the period ends with yesterday (UTC)"),
        (["--from", "2026-11-28"], "dmarcstat: --from 2026-11-28 is after yesterday, "
         "2026-11-27: without --to the period ends with yesterday (UTC)"),
        (["--from", "2026-11-08", "--to", "2026-11-01"], "dmarcstat: the period is empty: "
         "--from 2026-11-08 is not before --to 2026-11-01 (--to is exclusive: the day after "
         "the last day)"),
        (["--from", "1999-01-01", "--to", "2026-12-01"], "dmarcstat: --from 1999-01-01 is before "
         "2000-01-01: reports dated before it are counted apart, as undated"),
        (["--all", "--last", "7d"], "dmarcstat: --all is the whole database: it cannot be "
         "combined with --last, --from or --to"),
        (["--all", "--from", "2026-11-01"], "dmarcstat: --all is the whole database: it cannot "
         "be combined with --last, --from or --to"),
    ]
    for cmd in ("report", "explain"):
        for args, msg in cases:
            expect(problems, f"{cmd} {args}", run([cmd, "--db", db] + args + NOW), 2, [msg])
    # No longest period: 15 years are reported in months, the previous period starting no
    # earlier than dated reports do.
    got = run(["report", "--db", db, "--from", "2012-01-01", "--to", "2026-12-01"] + NOW)
    head = got[1].split(b"\n", 1)[0]
    if got[0] != 0 or head != b"DMARC report 2012-01-01 to 2026-11-30 (5448 days, UTC; " \
                              b"previous period 2000-01-01 to 2011-12-31)" \
            or b"\nMonthly\n=======\nMonth " not in got[1]:
        problems.append(f"15 years: want a report, got {got[0]} {head!r} {got[2]!r}")


def reporters(problems, db):
    expect(problems, "--reporter Gogle", run(["report", "--db", db, "--reporter", "Gogle"]
                                             + PERIOD), 2,
           ["dmarcstat: --reporter 'Gogle': no ISP or org_name of that name has reported; "
            "did you mean Google?"])
    expect(problems, "explain --reporter Yahooo",
           run(["explain", "--db", db, "--reporter", "Yahooo"] + PERIOD), 2,
           ["dmarcstat: --reporter 'Yahooo': no ISP or org_name of that name has reported; "
            "did you mean Yahoo?"])
    expect(problems, "--reporter Zzzz", run(["report", "--db", db, "--reporter", "Zzzz"]
                                            + PERIOD), 2,
           ["dmarcstat: --reporter 'Zzzz': no ISP or org_name of that name has reported; the "
            "ISPs that have: Example Mail Co, Google, Mail.ru, Microsoft, Old Relay Inc., "
            "Yahoo"])
    # Known names in any case, as an ISP or as the org_name reported.
    for r in ("YAHOO", "google.com", "Enterprise Outlook"):
        got = run(["report", "--db", db, "--reporter", r] + PERIOD)
        if got[0] != 0 or f"Reporter: {r}".encode() not in got[1]:
            problems.append(f"--reporter {r}: got {got[0]} {got[2]!r}")


def output_kept(problems, db, tmp):
    """Every refusal leaves -o FILE as it was, and creates no file when there was none."""
    path = os.path.join(tmp, "weekly.txt")
    refusals = [["--from", "2030-01-01"] + NOW, ["--from", "1999-01-01", "--to", "2026-12-01"],
                ["--all", "--last", "7d"],
                ["--reporter", "Gogle"] + PERIOD, ["--format", "csv", "--table", "nope"] + PERIOD,
                ["--top", "0"], ["--db", os.path.join(tmp, "typo.db")]]
    for args in refusals:
        with open(path, "w") as f:
            f.write("last week's report\n")
        rc = run(["report", "--db", db, "-o", path] + args)[0]
        with open(path) as f:
            kept = f.read()
        if rc == 0 or kept != "last week's report\n":
            problems.append(f"-o with {args}: exit {rc}, file now {kept[:40]!r}")
        os.unlink(path)
        run(["report", "--db", db, "-o", path] + args)
        if os.path.exists(path):
            problems.append(f"-o with {args}: the refusal created the file")
    stray = [n for n in os.listdir(tmp) if n.startswith(".weekly")]
    if stray:
        problems.append(f"temporary files left: {stray}")


def full_stdout(problems, db, tmp):
    """Every command's standard output on /dev/full: exit 1, one line naming it."""
    junk = os.path.join(tmp, "junk.xml")
    with open(junk, "w") as f:
        f.write("<feedback><report_metadata>")
    got = run(["ingest", "--quiet", "--db", db, junk])
    if got[0] != 1:
        problems.append(f"ingest of a broken report: want 1, got {got}")
    junk_db = os.path.join(tmp, "junk.db")
    run(["ingest", "--quiet", "--db", junk_db, junk])
    sample = os.path.join(SOURCE, "samples", "reports", "xml")
    cmds = [["parse", sample], ["report", "--db", db] + PERIOD,
            ["report", "--db", db, "--format", "json"] + PERIOD,
            ["explain", "--db", db, "--ip", "198.51.100.20"] + PERIOD,
            ["quarantine", "--db", db], ["quarantine", "list", "--json", "--db", db],
            ["quarantine", "show", "1", "--db", db], ["quarantine", "show", "--raw", "1", "--db", db],
            ["quarantine", "list", "--db", db],
            ["report", "--db", db, "--format", "csv"] + PERIOD,
            ["report", "--db", db, "--format", "html"] + PERIOD,
            ["report", "--db", db, "--lang", "ja"] + PERIOD,
            ["explain", "--db", db, "--ip", "198.51.100.20", "--letter"] + PERIOD,
            # DNS that cannot answer (the discard port): the checks still have a result to write.
            ["check", "example.com", "--db", db, "--resolver", "127.0.0.1:9", "--timeout", "0.2"],
            ["ingest", "--json", "--db", os.path.join(tmp, "fresh.db"),
             os.path.join(sample, "Mail.Ru!example.com!1793491200!1793577599.xml")],
            # Nothing to look up: a database that holds only a quarantined input.
            ["enrich", "--json", "--db", junk_db],
            ["--version"], ["--help"], ["report", "--help"], ["explain", "--help"],
            ["parse", "--help"], ["ingest", "--help"], ["quarantine", "--help"],
            ["enrich", "--help"], ["check", "--help"]]
    with open("/dev/full", "wb") as full:
        for args in cmds:
            p = subprocess.run([os.environ.get("DMARCSTAT", "build/cli/dmarcstat")] + args,
                               stdout=full, stderr=subprocess.PIPE, timeout=120)
            lines = p.stderr.decode().splitlines()
            said = "dmarcstat: 標準出力に書き込めません" if "--lang" in args else STDOUT
            if p.returncode != 1 or len(lines) != 1 or not lines[0].startswith(said):
                problems.append(f"{args} > /dev/full: want 1 and one '{STDOUT}' line, got "
                                f"{p.returncode}: {lines[:3]!r}")
    # Standard error that cannot be written (ingest's summary, enrich's, a warning) makes the
    # status 1: nothing can be said, but cron must not take the run for a clean one.
    with open("/dev/full", "wb") as full:
        for args, clean in (
                (["ingest", "--db", os.path.join(tmp, "fresh2.db"), sample], 0),
                (["enrich", "--db", os.path.join(tmp, "fresh2.db"), "--resolver", "127.0.0.1:9",
                  "--timeout", "0.2"], 3),
                (["quarantine", "--db", os.path.join(tmp, "fresh.db")], 0),
                (["report", "--db", db, "--reporter", "Gogle"] + PERIOD, 2)):
            p = subprocess.run([os.environ.get("DMARCSTAT", "build/cli/dmarcstat")] + args,
                               stdout=subprocess.PIPE, stderr=full, timeout=120)
            want = 1 if clean == 0 else clean
            if p.returncode != want:
                problems.append(f"{args} 2> /dev/full: want {want}, got {p.returncode}")
    # A command that writes nothing to standard output has nothing to fail.
    got = run(["report", "--db", db, "-o", os.path.join(tmp, "r.json"), "--format", "json"]
              + PERIOD)
    if got[0] != 0:
        problems.append(f"-o beside a full stdout: {got[0]} {got[2]!r}")


UNDATED = """<?xml version="1.0"?><feedback><report_metadata><org_name>Test Gen</org_name>
<email>t@example.net</email><report_id>{rid}</report_id>{dates}</report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published><record><row>
<source_ip>192.0.2.9</source_ip><count>{count}</count><policy_evaluated><disposition>none
</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers>
<header_from>example.com</header_from></identifiers><auth_results></auth_results></record>
</feedback>"""


def undated(problems, tmp):
    """Reports without trustworthy dates: stored, counted apart, on no day (not today's)."""
    import json
    import time
    db = os.path.join(tmp, "undated.db")
    folder = os.path.join(tmp, "undated")
    os.mkdir(folder)
    cases = {"none": ("", 5), "zero": ("<date_range><begin>0</begin><end>86399</end>"
                                        "</date_range>", 7),
             "inverted": ("<date_range><begin>1793664000</begin><end>1793577600</end>"
                          "</date_range>", 11)}
    for rid, (dates, count) in cases.items():
        with open(os.path.join(folder, rid + ".xml"), "w") as f:
            f.write(UNDATED.format(rid=rid, dates=dates, count=count))
    got = run(["ingest", "--quiet", "--db", db, folder])
    if got[0] != 0:
        problems.append(f"ingest of undated reports: {got}")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    got = run(["report", "--db", db, "--format", "json", "--from", today, "--to", tomorrow])
    r = json.loads(got[1])
    ov = {row["metric"]: row for row in r["overview"]}
    if ov.get("messages", {}).get("value") != 0 or [d["messages"] for d in r["daily"]] != [0]:
        problems.append(f"undated reports counted today: {ov} {r['daily']}")
    if ov.get("undated_reports", {}).get("value") != 3:
        problems.append(f"undated reports not counted apart: {ov}")
    got = run(["report", "--db", db, "--reporter", "Test Gen", "--from", "2026-11-01",
               "--to", "2026-11-08"])
    lines = [line for line in got[1].decode().splitlines() if "valid date" in line]
    if got[0] != 0 or [line.split() for line in lines] != [
            "Reports without a valid date (in no period) 3 - -".split()]:
        problems.append(f"text report: no undated line: {lines!r}")
    expect(problems, "--from before 2000", run(["report", "--db", db, "--from", "1999-12-31",
                                               "--to", "2000-01-07"]), 2,
           ["dmarcstat: --from 1999-12-31 is before 2000-01-01: reports dated before it are "
            "counted apart, as undated"])


def main():
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        missing_db(problems, tmp)
        undated(problems, tmp)
        db = sample_db(tmp)
        periods(problems, db)
        reporters(problems, db)
        output_kept(problems, db, tmp)
        full_stdout(problems, db, tmp)
    for p in problems:
        print("FAIL", p)
    print("traps: %s" % ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
