#!/usr/bin/env python3
"""Deterministic generator of realistic DMARC aggregate reports for the benchmarks.

gen.py files DIR N          N reports, mixed .xml / .xml.gz / .zip, 1-50 records each
gen.py big FILE RECORDS     one report with RECORDS records (plain XML, or gzip if FILE ends .gz)
gen.py maildir DIR N        a Maildir of N report mails (zip or gzip attachments, base64)
gen.py flat DIR N           the same N reports as gen.py maildir, as plain attachment files
"""
import base64
import gzip
import io
import os
import random
import sys
import zipfile

REPORTERS = [("google.com", "noreply-dmarc-support@google.com"),
             ("Outlook.com", "dmarcreport@microsoft.com"),
             ("Yahoo", "dmarchelp@yahooinc.com"),
             ("Mail.Ru", "dmarc_support@corp.mail.ru"),
             ("Enterprise Outlook", "dmarcreport@microsoft.com")]
DOMAINS = ["example.com", "example.net", "example.org"]


def record(rng, domain):
    ip = f"198.51.{rng.randrange(100, 102)}.{rng.randrange(1, 255)}"
    esp = rng.random() < 0.4
    dkim_ok = not esp and rng.random() < 0.9
    spf_ok = not esp and rng.random() < 0.95
    disp = "none" if (dkim_ok or spf_ok) else rng.choice(["none", "quarantine", "reject"])
    env = "bmsend.example.net" if esp else domain
    dkim_d = "esp-mail.example.net" if esp else domain
    return (f"<record><row><source_ip>{ip}</source_ip><count>{rng.randrange(1, 500)}</count>"
            f"<policy_evaluated><disposition>{disp}</disposition>"
            f"<dkim>{'pass' if dkim_ok else 'fail'}</dkim><spf>{'pass' if spf_ok else 'fail'}</spf>"
            f"</policy_evaluated></row><identifiers><header_from>{domain}</header_from>"
            f"<envelope_from>{env}</envelope_from></identifiers><auth_results>"
            f"<dkim><domain>{dkim_d}</domain><selector>s1</selector><result>pass</result></dkim>"
            f"<spf><domain>{env}</domain><scope>mfrom</scope>"
            f"<result>{'pass' if spf_ok or esp else 'softfail'}</result></spf>"
            f"</auth_results></record>\n")


def head(rng, i, begin):
    org, email = REPORTERS[i % len(REPORTERS)]
    domain = DOMAINS[i % len(DOMAINS)]
    return domain, org, (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n<version>1.0</version>\n'
        f"<report_metadata><org_name>{org}</org_name><email>{email}</email>"
        f"<report_id>bench-{i}-{rng.randrange(10**9)}</report_id><date_range><begin>{begin}"
        f"</begin><end>{begin + 86399}</end></date_range></report_metadata>\n"
        f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf>"
        f"<p>quarantine</p><sp>none</sp><pct>100</pct></policy_published>\n")


def report(rng, i, records):
    begin = 1763942400 + 86400 * (i % 30)
    domain, org, h = head(rng, i, begin)
    body = "".join(record(rng, domain) for _ in range(records))
    name = f"{org.split('.')[0].lower().replace(' ', '')}!{domain}!{begin}!{begin + 86399}!{i}"
    return name, (h + body + "</feedback>\n").encode()


def gz(data):
    return gzip.compress(data, mtime=0)


def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name + ".xml", (2026, 11, 1, 0, 0, 0)), data,
                   zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def files(out, n):
    rng = random.Random(7489)
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        name, data = report(rng, i, rng.randrange(1, 51))
        kind = i % 3
        if kind == 0:
            open(os.path.join(out, name + ".xml"), "wb").write(data)
        elif kind == 1:
            open(os.path.join(out, name + ".xml.gz"), "wb").write(gz(data))
        else:
            open(os.path.join(out, name + ".zip"), "wb").write(zipped(name, data))


def big(path, n):
    rng = random.Random(9990)
    domain, _, h = head(rng, 0, 1763942400)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(h.encode())
        for _ in range(n):
            f.write(record(rng, domain).encode())
        f.write(b"</feedback>\n")


def mail(i, name, attachment, zipped_kind):
    b64 = base64.encodebytes(attachment).decode()
    ext, ctype = (".zip", "application/zip") if zipped_kind else (".xml.gz", "application/gzip")
    return (f"From: dmarc-noreply@reporter.example\nTo: rua@example.com\n"
            f"Subject: Report domain: example.com Submitter: reporter Report-ID: {i}\n"
            f"Date: Mon, 23 Nov 2026 00:00:00 +0000\nMessage-ID: <bench-{i}@reporter.example>\n"
            f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b{i}\"\n\n"
            f"--b{i}\nContent-Type: text/plain\n\nThis is a DMARC aggregate report.\n\n"
            f"--b{i}\nContent-Type: {ctype}; name=\"{name}{ext}\"\n"
            f"Content-Disposition: attachment; filename=\"{name}{ext}\"\n"
            f"Content-Transfer-Encoding: base64\n\n{b64}\n--b{i}--\n").encode()


def mails(n):
    rng = random.Random(5322)
    for i in range(n):
        name, data = report(rng, i, rng.randrange(1, 51))
        z = i % 2 == 0
        yield i, name, (zipped(name, data) if z else gz(data)), z


def maildir(out, n):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for i, name, att, z in mails(n):
        path = os.path.join(out, "new", f"1763942400.M{i}P1.bench")
        open(path, "wb").write(mail(i, name, att, z))


def flat(out, n):
    os.makedirs(out, exist_ok=True)
    for i, name, att, z in mails(n):
        open(os.path.join(out, name + (".zip" if z else ".xml.gz")), "wb").write(att)


if __name__ == "__main__":
    cmd, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"files": files, "big": big, "maildir": maildir, "flat": flat}[cmd](target, count)
