#!/usr/bin/env python3
"""The hostile-input catalogue of issue 6, generated (nothing large is committed).

Each case is a Case(name, file, write, expect): write(path) creates the hostile input, expect says
what dmarcstat must do with it (see README.md in this folder for the table).

    gen.py DIR            writes every case into DIR (to reproduce one by hand:
                          dmarcstat ingest --db x.db DIR/<file>; dmarcstat parse DIR/<file>)
    gen.py DIR NAME...    only the named cases
    --port N              (first) the local port the XXE and DTD URLs name

Expectations:
    stored       the report is stored; fixups lists the fix-ups that must be named (in the parse
                 JSON "fixups" and in report.fixups); check(reports) may look at the parse JSON;
                 also: another part of the file is quarantined with that reason (exit status 1)
    quarantined  kept in the quarantine with `reason`; the message must contain one of `cause`
    skipped      not a report (DESIGN.md: recognised and skipped with a reason, not an error):
                 nothing stored or quarantined, `reason` and one of `cause` in the message
    conflict     the file's report has the identity of an earlier file's (pre) but other
                 content: the first stays stored, this one is quarantined (reason conflict)
"""
import bz2
import gzip
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

MIB = 1024 * 1024


def xml_report(org="hostile.example", rid="hostile-1", domain="example.com", begin="1700000000",
               end="1700086399", records=None, count="5", ip="192.0.2.10", extra_meta="",
               org_raw=None):
    """A small, valid RFC 7489 report; every piece can be replaced by raw (hostile) text."""
    if records is None:
        records = [record(ip=ip, count=count)]
    org_text = org_raw if org_raw is not None else org
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<version>1.0</version>\n"
            f"<report_metadata><org_name>{org_text}</org_name>"
            f"<email>dmarc@{org}</email><report_id>{rid}</report_id>{extra_meta}"
            f"<date_range><begin>{begin}</begin><end>{end}</end></date_range>"
            "</report_metadata>\n"
            f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf>"
            "<p>none</p><sp>none</sp><pct>100</pct></policy_published>\n"
            + "".join(records) + "</feedback>\n")


def record(ip="192.0.2.10", count="5", disposition="none", human=""):
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count>"
            f"<policy_evaluated><disposition>{disposition}</disposition><dkim>pass</dkim>"
            "<spf>pass</spf></policy_evaluated></row><identifiers>"
            "<header_from>example.com</header_from></identifiers><auth_results>"
            f"<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result>"
            f"{human}</dkim>"
            "<spf><domain>example.com</domain><scope>mfrom</scope><result>pass</result></spf>"
            "</auth_results></record>\n")


def good_report():
    """The good file of every batch: 3 records, 3+4+5 = 12 messages."""
    recs = [record(ip=f"198.51.100.{i}", count=str(c)) for i, c in ((1, 3), (2, 4), (3, 5))]
    return xml_report(org="good.example", rid="good-1", records=recs).encode()


GOOD_RECORDS, GOOD_MESSAGES = 3, 12


class Case:
    def __init__(self, name, file, write, expect, pre=None, limit_s=20, note=""):
        self.name, self.file, self.write, self.expect = name, file, write, expect
        self.pre = pre            # (file, write) stored in the batch before this one
        self.limit_s = limit_s    # time bound of one command, release build
        self.note = note


def put(data):
    def write(path):
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
    return write


def gz(data):
    return gzip.compress(data, 6, mtime=0)


def zipped(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, method)
    return buf.getvalue()


# Bombs.  Deflate tops out near 1030:1, just over DM_MAX_COMPRESSION_RATIO, so a deflate
# bomb may hit either the ratio cap or the 64 MiB payload cap first: both are right, both named.

BOMB_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n'


def bomb_stream(total, chunk=MIB):
    """A raw deflate stream of BOMB_HEAD and `total` bytes of empty elements (<x/>: streamed and
    skipped by the parser, so that nothing but the container caps stops the reading), built by
    repeating one fully flushed block.  Returns the stream, the inflated size and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = b"<x/>" * (chunk // 4)
    first = c.compress(BOMB_HEAD + z) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(z) + c.flush(zlib.Z_FULL_FLUSH) == again
    n = total // chunk
    body = first + again * (n - 2) + c.compress(z) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(BOMB_HEAD)
    for _ in range(n):
        crc = zlib.crc32(z, crc)
    return body, len(BOMB_HEAD) + n * chunk, crc


def write_gzip_bomb(path, total=1024 * MIB):
    """1 GiB of XML in a 1 MiB gzip."""
    body, size, crc = bomb_stream(total)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\0\0\0\0\x02\x03" + body
                + struct.pack("<II", crc, size & 0xffffffff))


def write_zip_bomb(path, total=1024 * MIB):
    """One member that inflates to 1 GiB of XML (the classic single-layer zip bomb)."""
    body, size, crc = bomb_stream(total)
    name = b"report.xml"
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, crc, len(body),
                        size & 0xffffffff, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(body),
                          size & 0xffffffff, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central),
                      len(local) + len(body), 0)
    with open(path, "wb") as f:
        f.write(local + body + central + end)


def write_ratio_bomb(path):
    """20 MiB XML (under the 64 MiB payload cap) in a few hundred bytes of bzip2: only the ratio cap
    stops it.  Short elements, not one long text or comment, which the text cap would stop first."""
    head = b'<?xml version="1.0"?>\n<feedback>'
    data = head + b"<x/>" * (5 * MIB) + good_report()[good_report().index(b"<version"):]
    with open(path, "wb") as f:
        f.write(bz2.compress(data, 9))


def nested_20(path):
    data = good_report()
    for depth in range(20):
        data = gz(data) if depth % 2 == 0 else zipped([(f"level{depth}.bin", data)])
    put(data)(path)


def write_many_members(path, n=100000):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr(zipfile.ZipInfo(f"m{i:06d}.xml", (2024, 1, 1, 0, 0, 0)), b"")


def encrypted_zip(path):
    """`zip -P` when installed; else a zip whose local and central headers carry the encryption
    flag (general purpose bit 0), which is what libarchive looks at."""
    tmp = path + ".dir"
    if shutil.which("zip"):
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(tmp, "report.xml"), "wb") as f:
            f.write(xml_report(rid="hostile-encrypted").encode())
        subprocess.run(["zip", "-q", "-j", "-P", "secret", path, os.path.join(tmp, "report.xml")],
                       check=True)
        shutil.rmtree(tmp)
        return
    data = bytearray(zipped([("report.xml", xml_report(rid="hostile-encrypted").encode())]))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + off, struct.unpack_from("<H", data, i + off)[0] | 1)
    put(bytes(data))(path)


def zip_empty_name(path):
    """A zip whose only member has an empty name (found by fuzz_archive: name[strlen(name) - 1]
    read the byte before the name)."""
    data = bytearray(zipped([("r.xml", xml_report(rid="hostile-noname").encode())]))
    for sig, len_off, name_off in ((b"PK\x03\x04", 26, 30), (b"PK\x01\x02", 28, 46)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + len_off, 0)
        del data[i + name_off:i + name_off + 5]
    i = data.find(b"PK\x05\x06")
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<II", data, i + 12, i - cd, cd)
    put(bytes(data))(path)


def mail_empty_part():
    """A report mail with an empty attachment before the report (found by fuzz_mail: memcpy from
    the NULL buffer of an empty part)."""
    b64 = __import__("base64").b64encode(gz(xml_report(rid="hostile-mail").encode())).decode()
    return ("From: dmarc@hostile.example\r\nTo: rua@example.com\r\nSubject: Report Domain: "
            "example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
            "\r\n--b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=empty.xml.gz\r\n\r\n\r\n--b\r\n"
            "Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=r.xml.gz\r\n\r\n" + b64 + "\r\n--b--\r\n")


# XML attacks.  The listener port is filled in by the test (XXE over http must never connect).

def billion_laughs():
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    return ('<?xml version="1.0"?>\n<!DOCTYPE feedback [' + ents + ']>\n'
            + xml_report(org_raw="&lol9;").split("\n", 1)[1])


def doctype_doc(doctype, org_raw="hostile.example"):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + "\n"
            + xml_report(org_raw=org_raw).split("\n", 1)[1])


def deep_xml(depth=10000):
    body = "<x>" * depth + "</x>" * depth
    return xml_report(extra_meta="").replace("</feedback>", body + "</feedback>")


def write_big_text(path, size=100 * MIB):
    head, tail = xml_report(org_raw="@@").encode().split(b"@@")
    with open(path, "wb") as f:
        f.write(head)
        block = b"A" * MIB
        for _ in range(size // MIB):
            f.write(block)
        f.write(tail)


def write_empty_records(path, n=1000000):
    head = xml_report(records=["@@"]).encode().split(b"@@")
    with open(path, "wb") as f:
        f.write(head[0])
        block = b"<record></record>\n" * 10000
        for _ in range(n // 10000):
            f.write(block)
        f.write(head[1])


def write_markup_flood(path, unit, size):
    """A valid report with `size` bytes of small comments or processing instructions (unit % n)
    before its record, gzipped.  A little randomness keeps the ratio (about 290:1) under
    DM_MAX_COMPRESSION_RATIO, as an attacker would: the 2.2 GB of issue 17 came from 512 MiB of
    comments in a 16 MB gzip."""
    rng = random.Random(17)
    head, tail = xml_report(rid="hostile-flood").encode().split(b"<record>", 1)
    block = (unit % 0) * 512
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(c.compress(head))
        done = 0
        while done < size:
            b = block + unit % rng.getrandbits(32)
            f.write(c.compress(b))
            done += len(b)
        f.write(c.compress(b"<record>" + tail))
        f.write(c.flush())


def truncated(data, frac=0.6):
    return data[:int(len(data) * frac)]


def junk(n=MIB):
    rng = random.Random(6)
    data = bytearray(rng.getrandbits(8) for _ in range(n))
    data[0:4] = b"\x00\x01\x02\x03"  # no container magic, no '<'
    return bytes(data)


def many_records(n=200):
    return [record(ip=f"203.0.113.{i % 250}", count=str(i + 1)) for i in range(n)]


def rec_field(reports, key):
    """All values of one record field in the parse JSON of the hostile file."""
    return [r.get(key) for rep in reports for r in rep.get("records", [])]


def meta(reports, key):
    return [rep.get(key) for rep in reports]


def expect_eq(what, got, want):
    return [] if got == want else [f"{what}: got {got!r}, expected {want!r}"]


def cases(port=9):
    """The catalogue.  port: a local TCP port nobody may connect to (XXE over http)."""
    base = xml_report
    q = "quarantined"
    return [
        # Containers
        Case("zip_bomb", "zip_bomb.zip", write_zip_bomb,
             {"outcome": q, "reason": "limit",
              "cause": ["DM_MAX_COMPRESSION_RATIO", "DM_MAX_PAYLOAD_BYTES"]},
             note="1 GiB of XML (<x/> repeated) in one deflate member"),
        Case("gzip_bomb", "gzip_bomb.xml.gz", write_gzip_bomb,
             {"outcome": q, "reason": "limit",
              "cause": ["DM_MAX_COMPRESSION_RATIO", "DM_MAX_PAYLOAD_BYTES"]},
             note="1 GiB of XML (<x/> repeated)"),
        Case("ratio_bomb", "ratio_bomb.xml.bz2", write_ratio_bomb,
             {"outcome": q, "reason": "limit", "cause": ["DM_MAX_COMPRESSION_RATIO"]},
             note="20 MiB of XML in a few hundred bytes of bzip2: under the payload cap"),
        Case("nested_20", "nested_20.zip.gz", nested_20,
             {"outcome": q, "reason": "limit", "cause": ["DM_MAX_CONTAINER_DEPTH"]},
             note="gzip and zip alternating 20 deep around a valid report"),
        Case("many_members", "many_members.zip", write_many_members,
             {"outcome": q, "reason": "limit", "cause": ["DM_MAX_ARCHIVE_MEMBERS"],
              "max_quarantined": 1001},
             note="100,000 empty members"),
        Case("encrypted_zip", "encrypted.zip", encrypted_zip,
             {"outcome": q, "reason": "encrypted", "cause": ["encrypted"]}),
        Case("zip_dotdot", "dotdot.zip",
             put(zipped([("../../evil.xml", base(rid="hostile-dotdot-1").encode()),
                         ("/etc/evil.xml", base(rid="hostile-dotdot-2").encode())])),
             {"outcome": "stored", "fixups": [], "reports": 2,
              "members": ["../../evil.xml", "/etc/evil.xml"]},
             note="member names are only names: nothing is written"),
        Case("zip_empty_name", "empty_name.zip", zip_empty_name,
             {"outcome": "stored", "fixups": [], "reports": 1}),
        Case("mail_empty_part", "empty_part.eml", put(mail_empty_part()),
             {"outcome": "stored", "fixups": [], "reports": 1,
              "also": {"reason": "empty", "cause": ["empty"]}},
             note="the report is stored; the empty attachment is quarantined as empty"),
        Case("truncated_gzip", "truncated.xml.gz",
             put(truncated(gz(base(records=many_records()).encode()))),
             {"outcome": q, "reason": "gzip_truncated", "cause": ["truncated"]}),
        Case("truncated_zip", "truncated.zip",
             put(truncated(zipped([("r.xml", base(records=many_records()).encode())]))),
             {"outcome": q, "reason": "zip_truncated", "cause": ["truncated"]}),
        # XML
        Case("billion_laughs", "billion_laughs.xml", put(billion_laughs()),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"]}),
        Case("xxe_file", "xxe_file.xml",
             put(doctype_doc('<!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                             "&x;")),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"], "never": "root:"}),
        Case("xxe_http", "xxe_http.xml",
             put(doctype_doc('<!DOCTYPE feedback [<!ENTITY x SYSTEM '
                             f'"http://127.0.0.1:{port}/xxe">]>', "&x;")),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"]}),
        Case("external_dtd", "external_dtd.xml",
             put(doctype_doc(f'<!DOCTYPE feedback SYSTEM "http://127.0.0.1:{port}/x.dtd">')),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"]}),
        Case("parameter_entity", "parameter_entity.xml",
             put(doctype_doc('<!DOCTYPE feedback [<!ENTITY % p SYSTEM '
                             f'"http://127.0.0.1:{port}/p.dtd"> %p;]>')),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"]}),
        Case("doctype", "doctype.xml", put(doctype_doc("<!DOCTYPE feedback>")),
             {"outcome": q, "reason": "doctype", "cause": ["DOCTYPE"]}),
        Case("nested_10000", "nested_10000.xml", put(deep_xml()),
             {"outcome": q, "reason": "limit", "cause": ["DM_MAX_XML_DEPTH"]}),
        Case("text_100mib", "text_100mib.xml", write_big_text,
             {"outcome": q, "reason": "limit", "cause": ["DM_MAX_TEXT_BYTES"]},
             note="a 100 MiB <org_name>"),
        Case("empty_records", "empty_records.xml", write_empty_records,
             {"outcome": "stored", "fixups": ["count_invalid", "ip_invalid"],
              "records": 1000000, "messages": 0, "big": True},
             limit_s=60, note="1,000,000 <record></record>: stored with nulls, fix-ups named"),
        Case("xml_comments", "comments.xml.gz",
             lambda p: write_markup_flood(p, b"<!--%x-->", 256 * MIB),
             {"outcome": "stored", "fixups": [], "records": 1, "messages": 5},
             note="256 MiB of small comments: cut before libxml2, which keeps them in memory"),
        Case("xml_pis", "pis.xml.gz",
             lambda p: write_markup_flood(p, b"<?p %x?>", 128 * MIB),
             {"outcome": "stored", "fixups": [], "records": 1, "messages": 5},
             note="128 MiB of small processing instructions"),
        Case("invalid_utf8", "invalid_utf8.xml",
             put(base(org_raw="bad\xff\xfeutf8").encode("latin-1")),
             {"outcome": "stored", "fixups": ["invalid_utf8"],
              "check": lambda reps: expect_eq("org_name", meta(reps, "org_name"),
                                              ["bad\ufffd\ufffdutf8"])}),
        Case("control_del", "control_del.xml",
             put(base(org_raw="del\x7forg",
                      records=[record(human="<human_result>a\x7fb</human_result>")])),
             {"outcome": "stored", "fixups": ["control_chars"],
              "check": lambda reps: expect_eq("org_name", meta(reps, "org_name"), ["delorg"])}),
        Case("control_chars", "control_chars.xml",
             put(base(org_raw="ctl\x01\x08org\x1b",
                      records=[record(human="<human_result>a\x02b</human_result>")])),
             {"outcome": "stored", "fixups": ["control_chars"],
              "check": lambda reps: expect_eq("org_name", meta(reps, "org_name"), ["ctlorg"])}),
        Case("truncated_xml", "truncated.xml", put(truncated(base(records=many_records()))),
             {"outcome": q, "reason": "xml_malformed", "cause": ["well-formed", "truncated",
                                                                 "end of"]}),
        Case("not_dmarc", "not_dmarc.xml",
             put('<?xml version="1.0"?>\n<html><body><p>hello</p></body></html>\n'),
             {"outcome": "skipped", "reason": "not_aggregate", "cause": ["<html>"]}),
        Case("binary_junk", "junk.bin", put(junk()),
             {"outcome": "skipped", "reason": "not_report", "cause": ["binary data"]}),
        Case("empty_file", "empty.xml", put(b""),
             {"outcome": q, "reason": "empty", "cause": ["empty"]}),
        # Values
        Case("count_negative", "count_negative.xml", put(base(count="-5")),
             {"outcome": "stored", "fixups": ["count_invalid"],
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [None])}),
        Case("count_huge", "count_huge.xml", put(base(count="99999999999999999999")),
             {"outcome": "stored", "fixups": ["count_invalid"],
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [None])}),
        Case("count_2p63", "count_2p63.xml", put(base(count=str(2 ** 63))),
             {"outcome": "stored", "fixups": ["count_invalid"],
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [None])}),
        Case("count_2p40", "count_2p40.xml", put(base(count=str(2 ** 40))),
             {"outcome": "stored", "fixups": [], "messages": 2 ** 40,
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [2 ** 40])},
             note="the largest count read (DM_MAX_RECORD_COUNT)"),
        Case("count_over_cap", "count_over_cap.xml", put(base(count=str(2 ** 40 + 1))),
             {"outcome": "stored", "fixups": ["count_invalid"], "messages": 0,
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [None])},
             note="2^40 + 1: over DM_MAX_RECORD_COUNT, read as invalid"),
        Case("count_text", "count_text.xml", put(base(count="many")),
             {"outcome": "stored", "fixups": ["count_invalid"],
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [None])}),
        Case("count_decimal", "count_decimal.xml", put(base(count="3.0")),
             {"outcome": "stored", "fixups": ["count_decimal"],
              "check": lambda reps: expect_eq("count", rec_field(reps, "count"), [3])}),
        Case("ipv6_invalid", "ipv6_invalid.xml", put(base(ip="2001:db8::zz")),
             {"outcome": "stored", "fixups": ["ip_invalid"],
              "check": lambda reps: expect_eq("source_ip", rec_field(reps, "source_ip"), [None])}),
        Case("ipv6_mapped", "ipv6_mapped.xml", put(base(ip="::ffff:192.0.2.1")),
             {"outcome": "stored", "fixups": ["ip_mapped"],
              "check": lambda reps: expect_eq("source_ip", rec_field(reps, "source_ip"),
                                              ["192.0.2.1"])}),
        Case("ipv6_noncanonical", "ipv6_noncanonical.xml", put(base(ip="2001:DB8:0:0:0:0:0:1")),
             {"outcome": "stored", "fixups": ["ip_canonical"],
              "check": lambda reps: expect_eq("source_ip", rec_field(reps, "source_ip"),
                                              ["2001:db8::1"])}),
        Case("timestamp_ms", "timestamp_ms.xml",
             put(base(begin="1700000000000", end="1700086399000")),
             {"outcome": "stored", "fixups": ["timestamp_ms"],
              "check": lambda reps: expect_eq("begin/end", meta(reps, "begin") + meta(reps, "end"),
                                              [1700000000, 1700086399])}),
        Case("timestamp_negative", "timestamp_negative.xml", put(base(begin="-86400", end="-1")),
             {"outcome": "stored", "fixups": ["date_invalid"],
              "check": lambda reps: expect_eq("begin/end", meta(reps, "begin") + meta(reps, "end"),
                                              [None, None])}),
        Case("timestamp_3000", "timestamp_3000.xml",
             put(base(begin="32503680000", end="32503766399")),
             {"outcome": "stored", "fixups": ["date_invalid"],
              "check": lambda reps: expect_eq("begin/end", meta(reps, "begin") + meta(reps, "end"),
                                              [None, None])},
             note="year 3000 in seconds must not be read as milliseconds (1971)"),
        Case("same_id_other_content", "same_id_b.xml",
             put(base(rid="hostile-same", records=[record(ip="192.0.2.99", count="777")])),
             {"outcome": "conflict"},
             pre=("same_id_a.xml", put(base(rid="hostile-same",
                                            records=[record(ip="192.0.2.1", count="1")])))),
    ]


def main(argv):
    port = 9
    if len(argv) > 2 and argv[1] == "--port":
        port = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        sys.exit(__doc__)
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    for c in cases(port):
        if len(argv) > 2 and c.name not in argv[2:]:
            continue
        if c.pre:
            c.pre[1](os.path.join(out, c.pre[0]))
        c.write(os.path.join(out, c.file))
        print(f"{c.name}\t{c.file}\t{c.expect['outcome']}\t{c.expect.get('reason', '')}")
    put(good_report())(os.path.join(out, "good.xml"))


if __name__ == "__main__":
    main(sys.argv)
