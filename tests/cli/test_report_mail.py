"""report --mail-to: the message read back with Python's email module (structure, headers, the
RFC 2047 subject and names), its parts against the report's own formats (the HTML part and the
CSV attachment byte for byte, the text part as --format text), --sendmail against a fake
sendmail that records its arguments and input (and whose exit status is passed on), and the
refusals: bad addresses, options without --mail-to, a sendmail missing or failing.

    DMARCSTAT=build/cli/dmarcstat python3 tests/cli/test_report_mail.py
"""
import email
import email.header
import email.policy
import email.utils
import os
import re
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402
from test_report_golden import PERIOD, run, sample_db  # noqa: E402

tally = harness.Tally()
check = tally.expect
SUBJECT = ("DMARC 2026-11-01 to 2026-11-07: 24,734 messages, 74.0 % pass, 2,258 quarantined, "
           "4,350 rejected")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def report(db, fmt, extra=()):
    rc, out, err = run(["report", "--db", db, "--format", fmt] + PERIOD + list(extra))
    assert rc == 0, f"report --format {fmt}: {rc} {err}"
    return out


def test_structure(db):
    to = 'ops@example.com, "Ünïcode Näme" <b@example.org>'
    rc, raw, err = run(["report", "--db", db, "--mail-to", to, "--mail-from",
                        "DMARC Bot <dmarc@example.net>"] + PERIOD)
    check(rc == 0 and err == "", f"report --mail-to: {rc} {err!r}")
    m = parse(raw)
    check(m.get_content_type() == "multipart/mixed", f"top type {m.get_content_type()}")
    parts = m.get_payload()
    check(len(parts) == 2, f"mixed has {len(parts)} parts")
    alt, csv = parts
    check(alt.get_content_type() == "multipart/alternative", f"first {alt.get_content_type()}")
    kinds = [p.get_content_type() for p in alt.get_payload()]
    check(kinds == ["text/plain", "text/html"], f"alternative holds {kinds}")
    for p in alt.get_payload():
        check(p.get_content_charset() == "utf-8", f"{p.get_content_type()} charset")
    check(csv.get_content_type() == "text/csv", f"attachment type {csv.get_content_type()}")
    check(csv.get_content_disposition() == "attachment", "attachment disposition")
    check(csv.get_filename() == "dmarc-2026-11-01_2026-11-07.csv",
          f"attachment name {csv.get_filename()}")
    check(csv["Content-Transfer-Encoding"] == "base64", "CSV is base64 (its CRLFs kept)")

    # Headers.
    check(str(m["Subject"]) == SUBJECT, f"default subject {str(m['Subject'])!r}")
    check(m["From"].addresses[0].addr_spec == "dmarc@example.net" and
          m["From"].addresses[0].display_name == "DMARC Bot", f"From {m['From']}")
    tos = [(a.display_name, a.addr_spec) for a in m["To"].addresses]
    check(tos == [("", "ops@example.com"), ("Ünïcode Näme", "b@example.org")], f"To {tos}")
    check(re.search(rb"^To: .*=\?[^?]+\?[bBqQ]\?", raw, re.M) is not None,
          "the non-ASCII name is RFC 2047 encoded on the wire")
    check(m["MIME-Version"] == "1.0", f"MIME-Version {m['MIME-Version']}")
    check(m["Auto-Submitted"] == "auto-generated", f"Auto-Submitted {m['Auto-Submitted']}")
    check(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(m["Message-ID"])) is not None,
          f"Message-ID {m['Message-ID']}")
    date = email.utils.parsedate_to_datetime(str(m["Date"]))
    check(date is not None and date.utcoffset().total_seconds() == 0, f"Date {m['Date']}")
    check(all(len(line) <= 998 for line in raw.split(b"\n")), "a line over 998 characters")
    check(all(b < 128 for b in raw), "the message is not 7-bit")

    # Parts against the report's formats of the same period.
    html = alt.get_payload()[1].get_payload(decode=True)
    check(html == report(db, "html"), "the HTML part is byte for byte report --format html")
    check(csv.get_payload(decode=True) == report(db, "csv"),
          "the CSV attachment is byte for byte report --format csv")
    text = alt.get_payload()[0].get_payload(decode=True)
    check(text == report(db, "text"), "the text part is report --format text (no colour)")


def test_subject(db):
    subject = "Wöchentlicher Bericht — 日本語の件名"
    rc, raw, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "--subject",
                        subject, "--domain", "example.com"] + PERIOD)
    check(rc == 0, f"--subject: {rc} {err}")
    line = re.search(rb"^Subject: (.*(?:\n[ \t].*)*)", raw, re.M).group(1).decode()
    check("=?" in line and "日本" not in line, f"the subject is RFC 2047 encoded: {line!r}")
    words = email.header.decode_header(line.replace("\n", ""))
    decoded = "".join(w.decode(c or "ascii") if isinstance(w, bytes) else w for w, c in words)
    check(decoded == subject, f"RFC 2047 subject decodes to {decoded!r}")
    check(str(parse(raw)["Subject"]) == subject, "email module reads the subject back")
    # The default subject names the domain filter.
    rc, raw, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "--domain",
                        "example.com", "--reporter", "Yahoo"] + PERIOD)
    got = str(parse(raw)["Subject"])
    check(got.startswith("DMARC example.com at Yahoo 2026-11-01 to 2026-11-07: "),
          f"subject with filters {got!r}")
    # In Japanese with --lang ja (RFC 2047 on the wire), the domain and ISP as given.
    rc, raw, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "--lang", "ja"]
                       + PERIOD)
    line = re.search(rb"^Subject: (.*(?:\n[ \t].*)*)", raw, re.M).group(1)
    got = str(parse(raw)["Subject"])
    check(rc == 0 and line.isascii() and b"=?" in line and got ==
          "DMARC 2026-11-01～2026-11-07: 24,734 通、成功率 74.0 %、隔離 2,258 通、拒否 4,350 通",
          f"the Japanese subject: {rc} {got!r} {line!r} {err}")
    rc, raw, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "--lang", "ja",
                        "--domain", "example.com", "--reporter", "Yahoo"] + PERIOD)
    got = str(parse(raw)["Subject"])
    check(rc == 0 and got.startswith("DMARC example.com Yahoo の報告 2026-11-01～2026-11-07: "),
          f"the Japanese subject with filters: {got!r}")
    # A line break in --subject cannot start a header of its own.
    rc, raw, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "--subject",
                        "a\nBcc: x@example.com"] + PERIOD)
    check(rc == 0 and parse(raw)["Bcc"] is None, "a newline in --subject made a header")
    # -o FILE holds the same message.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.eml")
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com", "-o", path]
                           + PERIOD)
        check(rc == 0 and out == b"" and parse(open(path, "rb").read())["Subject"] == SUBJECT,
              f"--mail-to -o FILE: {rc} {err}")


def fake_sendmail(tmp, status=0, read=True):
    """A sendmail that keeps its arguments and standard input, then exits with status."""
    path = os.path.join(tmp, f"sendmail-{status}-{int(read)}")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f'printf "%s\\n" "$@" > "{tmp}/argv"\n'
                + (f'cat > "{tmp}/stdin"\n' if read else "")
                + f"exit {status}\n")
    os.chmod(path, stat.S_IRWXU)
    return path


def test_sendmail(db):
    with tempfile.TemporaryDirectory() as tmp:
        sm = fake_sendmail(tmp)
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                            "--sendmail", sm] + PERIOD)
        check(rc == 0 and out == b"" and err == "", f"--sendmail PATH: {rc} {out[:80]!r} {err!r}")
        check(open(os.path.join(tmp, "argv")).read() == "-t\n-i\n", "sendmail's arguments")
        sent = open(os.path.join(tmp, "stdin"), "rb").read()
        m = parse(sent)
        check(str(m["Subject"]) == SUBJECT and m["To"].addresses[0].addr_spec ==
              "ops@example.com", "sendmail read the whole message")
        check(m.get_payload()[1].get_payload(decode=True) == report(db, "csv"),
              "the message sendmail read has the CSV")
        os.remove(os.path.join(tmp, "argv"))
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                            f"--sendmail={sm}"] + PERIOD)
        check(rc == 0 and os.path.exists(os.path.join(tmp, "argv")), f"--sendmail=PATH: {rc}")

        # Its exit status is ours, and said.
        for status, read in ((75, True), (1, True), (69, False)):
            rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                                "--sendmail", fake_sendmail(tmp, status, read)] + PERIOD)
            check(rc == status and f"exited with status {status}: the mail may not have been "
                  "sent" in err, f"sendmail exit {status} (read {read}): {rc} {err!r}")
        # Missing, or not a program.
        missing = os.path.join(tmp, "no-sendmail")
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                            "--sendmail", missing] + PERIOD)
        check(rc == 1 and err == f"dmarcstat: {missing}: cannot run: No such file or directory"
              " (the mail was not sent)\n", f"missing sendmail: {rc} {err!r}")
        plain = os.path.join(tmp, "plain")
        open(plain, "w").close()
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                            "--sendmail", plain] + PERIOD)
        check(rc == 1 and "cannot run: Permission denied" in err, f"not executable: {rc} {err!r}")
        # Killed by a signal.
        killer = os.path.join(tmp, "killed")
        with open(killer, "w") as f:
            f.write("#!/bin/sh\nkill -9 $$\n")
        os.chmod(killer, stat.S_IRWXU)
        rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                            "--sendmail", killer] + PERIOD)
        check(rc == 1 and "was killed by signal 9 (the mail was not sent)" in err,
              f"killed sendmail: {rc} {err!r}")


def test_refusals(db):
    cases = [
        (["--mail-to", "not an address"],
         'dmarcstat: --mail-to: not a mail address: "not an address" (want local@domain or '
         '"Name <local@domain>")\n'),
        (["--mail-to", "ops@example.com,,b@example.org"],
         'dmarcstat: --mail-to wants mail addresses separated by commas: '
         '"ops@example.com,,b@example.org" has an empty one\n'),
        (["--mail-to", "ops@example.com,"],
         'dmarcstat: --mail-to wants mail addresses separated by commas: "ops@example.com," '
         'has an empty one\n'),
        (["--mail-to", "ops@exa mple.com"],
         'dmarcstat: --mail-to: not a mail address: "ops@exa mple.com" (want local@domain or '
         '"Name <local@domain>")\n'),
        (["--mail-to", "ops@example.com", "--mail-from", "@example.com"],
         'dmarcstat: --mail-from: not a mail address: "@example.com" (want local@domain or '
         '"Name <local@domain>")\n'),
        (["--subject", "x"], "dmarcstat: --subject goes with --mail-to ADDR\n"),
        (["--sendmail"], "dmarcstat: --sendmail goes with --mail-to ADDR\n"),
        (["--mail-from", "a@example.com"], "dmarcstat: --mail-from goes with --mail-to ADDR\n"),
        (["--mail-to", "ops@example.com", "--format", "html"],
         "dmarcstat: --mail-to sends the text, HTML and CSV reports in one mail: leave --format "
         "and --table out\n"),
        (["--mail-to", "ops@example.com", "--sendmail", "-o", "x"],
         "dmarcstat: --sendmail sends the mail: leave -o out\n"),
    ]
    for args, want in cases:
        rc, out, err = run(["report", "--db", db] + args + PERIOD)
        check(rc == 2 and out == b"" and err == want, f"{args}: {rc} {err!r}")
    rc, out, err = run(["explain", "--db", db, "--mail-to", "ops@example.com"] + PERIOD)
    check(rc == 2 and err == "dmarcstat: --mail-to and its options are for 'dmarcstat "
          "report'\n", f"explain --mail-to: {rc} {err!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = sample_db(tmp)
        test_structure(db)
        test_subject(db)
        test_sendmail(db)
        test_refusals(db)
    tally.finish()


main()
