#!/usr/bin/env python3
"""make-samples.py - writes the sample DMARC aggregate reports in samples/ (deterministic).

The story: example.com sends from its own servers (192.0.2.10, 192.0.2.11, 2001:db8:25::10,
DKIM d=example.com, SPF pass) and, from 1 November 2026, through an ESP (198.51.100.20-22).
The ESP signs with DKIM as esp-mail.example.net and uses its bounce domain bmsend.example.net
as return-path, so neither SPF nor DKIM aligns with example.com; its transactional IP
198.51.100.22 uses example.com as return-path, but example.com's SPF record lacks the ESP's
include: (SPF softfail).  Published policy p=reject: Google and Yahoo reject that mail,
Microsoft quarantines it (as it does for p=reject).  The ESP's IP 198.51.100.20 also sends for
two subdomains of example.com with their own From domain, each with its own problem: the
newsletter news.example.com is signed as news.example.com with selector esp2026, whose key
was never published (DKIM fails; dkim_fail), and the shop shop.example.com is signed and
aligned (DMARC passes), yet Yahoo rejects its mail (local_policy).  Google also reports a
forwarder (203.0.113.45, reason "forwarded").  Mail.ru and a small reporter (Example Mail Co, one report
spanning two days) report too; "Old Relay Inc." reported in October and fell silent.

Weeks: 25-31 October 2026 (the previous period: own servers only) and 1-7 November 2026.
`dmarcstat report --from 2026-11-01 --to 2026-11-08` shows the week.

Containers under samples/reports/ (so that `dmarcstat ingest samples/reports` sees reports
only), one report in exactly one of them (RFC 7489 section 7.2.1.1 file names):
  xml/      Mail.ru and Example Mail Co as plain XML
  gz/       Yahoo (gzip, mtime 0)
  zip/      Google (zip, fixed timestamps)
  eml/      Microsoft, November: one mail per report with the zip attached
  mbox/     October reports of Google, Microsoft and Yahoo: one mbox of several mails
  Maildir/  October Mail.ru and Old Relay reports as mails in cur/ and new/ (tmp/ empty)

Everything is derived from fixed numbers: running it again writes identical bytes.
"""
import base64
import gzip
import io
import os
import shutil
import sys
import zipfile

DAY = 86400
OCT25 = 1792886400  # 2026-10-25 00:00:00 UTC
NOV01 = 1793491200  # 2026-11-01 00:00:00 UTC
DOMAIN = "example.com"

OWN = [("192.0.2.10", 0.55), ("192.0.2.11", 0.35), ("2001:db8:25::10", 0.10)]


def wobble(day, salt, spread=0.2):
    """A deterministic factor in [1 - spread, 1 + spread] for a day and a name."""
    h = 0
    for ch in "%d/%s" % (day, salt):
        h = (h * 131 + ord(ch)) % 1000003
    return 1.0 - spread + 2 * spread * (h % 1000) / 999.0


def own_records(day, volume, salt):
    recs = []
    for ip, share in OWN:
        n = max(1, int(volume * share * wobble(day, salt + ip)))
        recs.append(dict(ip=ip, count=n, disp="none", dkim="pass", spf="pass",
                         env=DOMAIN, dkim_res=[(DOMAIN, "mail2026", "pass")],
                         spf_res=[(DOMAIN, "mfrom", "pass")]))
    return recs


def esp_records(day, volume, disp, salt, with_dkim=True):
    recs = []
    for ip, share in (("198.51.100.20", 0.6), ("198.51.100.21", 0.4)):
        n = max(1, int(volume * share * wobble(day, salt + ip)))
        recs.append(dict(ip=ip, count=n, disp=disp, dkim="fail", spf="fail",
                         env="bmsend.example.net",
                         dkim_res=[("esp-mail.example.net", "esp1", "pass")] if with_dkim else [],
                         spf_res=[("bmsend.example.net", "mfrom", "pass")]))
    n = max(1, int(volume * 0.08 * wobble(day, salt + "tx")))
    recs.append(dict(ip="198.51.100.22", count=n, disp=disp, dkim="fail", spf="fail",
                     env=DOMAIN, dkim_res=[("esp-mail.example.net", "esp1", "pass")],
                     spf_res=[(DOMAIN, "mfrom", "softfail")]))
    return recs


def customer_records(day, volume, disp, salt):
    """Two more From domains on the ESP's IP: a broken DKIM key, and mail that passes."""
    news = max(1, int(volume * 0.2 * wobble(day, salt + "news")))
    shop = max(1, int(volume * 0.25 * wobble(day, salt + "shop")))
    return [dict(ip="198.51.100.20", count=news, disp=disp, dkim="fail", spf="fail",
                 env="bmsend.example.net", hfrom="news.example.com",
                 dkim_res=[("news.example.com", "esp2026", "fail")],
                 spf_res=[("bmsend.example.net", "mfrom", "pass")]),
            dict(ip="198.51.100.20", count=shop, disp="reject" if salt == "y" else "none",
                 dkim="pass", spf="fail", env="bmsend.example.net", hfrom="shop.example.com",
                 dkim_res=[("shop.example.com", "esp2026", "pass")],
                 spf_res=[("bmsend.example.net", "mfrom", "pass")])]


def forwarder_record(day):
    return dict(ip="203.0.113.45", count=int(12 * wobble(day, "fwd")), disp="none",
                dkim="fail", spf="fail", env=DOMAIN,
                dkim_res=[(DOMAIN, "mail2026", "fail")], spf_res=[(DOMAIN, "mfrom", "softfail")],
                reason=("forwarded", "list.example.edu"), to="example.edu")


REPORTERS = {
    "google": dict(org="google.com", email="noreply-dmarc-support@google.com",
                   extra="https://support.google.com/a/answer/2466580", fmt="zip"),
    "microsoft": dict(org="Enterprise Outlook", email="dmarcreport@microsoft.com",
                      extra=None, fmt="eml"),
    "yahoo": dict(org="Yahoo", email="dmarchelp@yahooinc.com", extra=None, fmt="gz"),
    "mailru": dict(org="Mail.Ru", email="dmarc_support@corp.mail.ru",
                   extra="http://help.mail.ru/mail-help", fmt="xml"),
    "small": dict(org="Example Mail Co", email="postmaster@mail.example.org",
                  extra=None, fmt="xml"),
    "oldrelay": dict(org="Old Relay Inc.", email="dmarc@relay.example.org", extra=None,
                     fmt="maildir"),
}


def records_for(rep, day, current):
    if rep == "google":
        recs = own_records(day, 1200, "g")
        if current:
            recs += esp_records(day, 300, "reject", "g") + [forwarder_record(day)]
            recs += customer_records(day, 300, "reject", "g")
        return recs
    if rep == "microsoft":
        recs = own_records(day, 800, "m")
        return recs + (esp_records(day, 250, "quarantine", "m") +
                       customer_records(day, 250, "quarantine", "m") if current else [])
    if rep == "yahoo":
        recs = own_records(day, 400, "y")
        return recs + (esp_records(day, 150, "reject", "y", with_dkim=False) +
                       customer_records(day, 150, "reject", "y") if current else [])
    if rep == "mailru":
        recs = own_records(day, 60, "r")[:1]
        return recs + (esp_records(day, 20, "reject", "r")[:1] if current else [])
    if rep == "small":
        return own_records(day, 30, "s")[:2] + esp_records(day, 10, "reject", "s")[:1]
    return own_records(day, 25, "o")[:1]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def record_xml(r):
    out = ["  <record>\n    <row>\n      <source_ip>%s</source_ip>\n      <count>%d</count>\n"
           "      <policy_evaluated>\n        <disposition>%s</disposition>\n"
           "        <dkim>%s</dkim>\n        <spf>%s</spf>\n"
           % (r["ip"], r["count"], r["disp"], r["dkim"], r["spf"])]
    if "reason" in r:
        out.append("        <reason>\n          <type>%s</type>\n          <comment>%s</comment>\n"
                   "        </reason>\n" % r["reason"])
    out.append("      </policy_evaluated>\n    </row>\n    <identifiers>\n")
    if "to" in r:
        out.append("      <envelope_to>%s</envelope_to>\n" % r["to"])
    out.append("      <envelope_from>%s</envelope_from>\n      <header_from>%s</header_from>\n"
               "    </identifiers>\n    <auth_results>\n" % (r["env"], r.get("hfrom", DOMAIN)))
    for d, sel, res in r["dkim_res"]:
        out.append("      <dkim>\n        <domain>%s</domain>\n        <selector>%s</selector>\n"
                   "        <result>%s</result>\n      </dkim>\n" % (d, sel, res))
    for d, scope, res in r["spf_res"]:
        out.append("      <spf>\n        <domain>%s</domain>\n        <scope>%s</scope>\n"
                   "        <result>%s</result>\n      </spf>\n" % (d, scope, res))
    out.append("    </auth_results>\n  </record>\n")
    return "".join(out)


def report_xml(rep, begin, end, recs, seq):
    info = REPORTERS[rep]
    extra = ("    <extra_contact_info>%s</extra_contact_info>\n" % esc(info["extra"])
             if info["extra"] else "")
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n  <version>1.0</version>\n'
            "  <report_metadata>\n    <org_name>%s</org_name>\n    <email>%s</email>\n%s"
            "    <report_id>%s-%d-%d</report_id>\n    <date_range>\n      <begin>%d</begin>\n"
            "      <end>%d</end>\n    </date_range>\n  </report_metadata>\n"
            "  <policy_published>\n    <domain>%s</domain>\n    <adkim>r</adkim>\n"
            "    <aspf>r</aspf>\n    <p>reject</p>\n    <sp>reject</sp>\n    <pct>100</pct>\n"
            "    <fo>1</fo>\n  </policy_published>\n"
            % (esc(info["org"]), info["email"], extra, rep, begin, seq, begin, end, DOMAIN))
    return (head + "".join(record_xml(r) for r in recs) + "</feedback>\n").encode()


def file_name(rep, begin, end):
    org = REPORTERS[rep]["org"].replace(" ", "_")
    return "%s!%s!%d!%d" % (org, DOMAIN, begin, end)


def gz_bytes(data, name):
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def zip_bytes(data, name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name, date_time=(2026, 11, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
    return buf.getvalue()


def mail_bytes(rep, begin, attach, attach_name, ctype, seq):
    info = REPORTERS[rep]
    date = "Date: %s" % __import__("email.utils").utils.formatdate(begin + DAY + 3600 + seq,
                                                                  usegmt=True)
    boundary = "=_dmarcstat_sample_%d" % seq
    b64 = base64.encodebytes(attach).decode()
    text = ("From: DMARC Reports <%s>\r\nTo: dmarc-reports@example.com\r\n"
            "Subject: Report Domain: %s Submitter: %s Report-ID: <%s-%d-%d>\r\n%s\r\n"
            "Message-ID: <sample-%d-%d@reports.example.net>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n'
            "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is an aggregate report from %s.\r\n\r\n--%s\r\n"
            'Content-Type: %s; name="%s"\r\nContent-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="%s"\r\n\r\n%s\r\n--%s--\r\n'
            % (info["email"], DOMAIN, info["org"], rep, begin, seq, date, begin, seq,
               boundary, boundary, info["org"], boundary, ctype, attach_name, attach_name,
               b64.replace("\n", "\r\n").rstrip("\r\n"), boundary))
    return text.encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def reports():
    """(reporter, begin, end, current) for every report of the story, in a fixed order."""
    out = []
    for week, current in ((OCT25, False), (NOV01, True)):
        for d in range(7):
            begin = week + d * DAY
            for rep in ("google", "microsoft", "yahoo"):
                out.append((rep, begin, begin + DAY - 1, current))
            if d % 2 == 0:
                out.append(("mailru", begin, begin + DAY - 1, current))
        if current:
            # One report covering two days: shown spread over both in the daily series.
            out.append(("small", week + 2 * DAY, week + 4 * DAY - 1, current))
        else:
            out.append(("oldrelay", week + DAY, week + 2 * DAY - 1, current))
            out.append(("oldrelay", week + 4 * DAY, week + 5 * DAY - 1, current))
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reports")
    for sub in ("xml", "gz", "zip", "eml", "mbox", "Maildir"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    mbox = []
    for seq, (rep, begin, end, current) in enumerate(reports(), 1):
        days = (end + 1 - begin) // DAY
        recs = [r for day in range(days) for r in records_for(rep, begin // DAY + day, current)]
        if days > 1:
            # A multi-day report sums its days per source, as reporters do.
            merged = {}
            for r in recs:
                key = (r["ip"], r["disp"], r["env"], r.get("hfrom", DOMAIN))
                if key in merged:
                    merged[key]["count"] += r["count"]
                else:
                    merged[key] = dict(r)
            recs = list(merged.values())
        xml = report_xml(rep, begin, end, recs, seq)
        name = file_name(rep, begin, end)
        fmt = REPORTERS[rep]["fmt"]
        if not current and rep in ("google", "microsoft", "yahoo"):
            fmt = "mbox"
        elif not current and rep == "mailru":
            fmt = "maildir"  # October's Mail.ru reports arrive by mail, into the Maildir
        if fmt == "mbox":
            mbox.append(mail_bytes(rep, begin, gz_bytes(xml, name + ".xml"), name + ".xml.gz",
                                   "application/gzip", seq))
        elif fmt == "xml":
            write(os.path.join(root, "xml", name + ".xml"), xml)
        elif fmt == "gz":
            write(os.path.join(root, "gz", name + ".xml.gz"), gz_bytes(xml, name + ".xml"))
        elif fmt == "zip":
            write(os.path.join(root, "zip", name + ".zip"), zip_bytes(xml, name + ".xml"))
        elif fmt == "eml":
            write(os.path.join(root, "eml", name + ".eml"),
                  mail_bytes(rep, begin, zip_bytes(xml, name + ".xml"), name + ".zip",
                             "application/zip", seq))
        else:
            box = "new" if seq % 2 else "cur"
            flags = "" if box == "new" else ":2,S"
            write(os.path.join(root, "Maildir", box, "%d.M%dP1.samples%s" % (begin, seq, flags)),
                  mail_bytes(rep, begin, zip_bytes(xml, name + ".xml"), name + ".zip",
                             "application/zip", seq))
    os.makedirs(os.path.join(root, "mbox"), exist_ok=True)
    with open(os.path.join(root, "mbox", "october.mbox"), "wb") as f:
        for i, m in enumerate(mbox):
            f.write(b"From dmarc-reports@example.com Sun Nov  1 00:00:%02d 2026\n" % (i % 60))
            body = m.replace(b"\r\n", b"\n")
            body = b"\n".join((b">" + l if l.startswith(b"From ") else l)
                              for l in body.split(b"\n"))
            f.write(body + b"\n")
    # git keeps no empty folder; a Maildir reader ignores files in tmp/ (being delivered).
    write(os.path.join(root, "Maildir", "tmp", ".keep"), b"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
