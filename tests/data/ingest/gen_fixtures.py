#!/usr/bin/env python3
"""Writes the container fixtures of tests/check_ingest.c into the folder given as argv[1].

Generated rather than committed so that every quirk is visible here as code: multi-member gzip,
trailing garbage, a zip labelled .gz, nesting, truncation, encryption, AppleDouble junk, bombs.
Everything is deterministic; report.xml is the original every payload is compared with.
"""
import bz2
import gzip
import hashlib
import io
import lzma
import os
import random
import struct
import sys
import zipfile
import zlib

out = sys.argv[1]
MIB = 1024 * 1024


def put(name, data):
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0: byte-identical output on every run.
    return gzip.compress(data, mtime=0)


def zipped(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def report(seed, records):
    # Pseudo-random values keep the XML from compressing 100:1, so that truncating its gzip
    # halfway cuts the payload well after its first 512 bytes.
    rnd = random.Random(seed)
    rows = []
    for _ in range(records):
        ip = "198.51.%d.%d" % (rnd.randrange(256), rnd.randrange(256))
        rows.append("<record><row><source_ip>%s</source_ip><count>%d</count></row>"
                    "<identifiers><header_from>d%08x.example</header_from></identifiers>"
                    "</record>\n" % (ip, rnd.randrange(1, 10000), rnd.getrandbits(32)))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n<report_metadata>'
            "<org_name>example.net</org_name><report_id>%d</report_id></report_metadata>\n%s"
            "</feedback>\n" % (seed, "".join(rows))).encode()


x = report(1, 400)
y = report(2, 3)
put("report.xml", x)
put("report.xml.sha256", hashlib.sha256(x).hexdigest().encode())
put("second.xml", y)
put("empty.xml", b"")
put("report.xml.gz", gz(x))
put("report.xml.zip", zipped([("report.xml", x)]))
put("multi.zip", zipped([("a.xml", x), ("b.xml", y), ("notes.txt", b"not a report\n"),
                         ("empty.xml", b""), ("report.json", b'{"organization-name":"x"}'),
                         ("mail.eml", b"From: a@example.com\nSubject: hi\n\nbody\n")]))
put("gz_in_zip.zip", zipped([("inner.xml.gz", gz(x))]))
put("gz_in_gz.gz", gz(gz(x)))
put("zip_in_gz.gz", gz(zipped([("report.xml", x)])))
put("multi_member.gz", gz(x[:5000]) + gz(x[5000:]))
put("trailing_crlf.gz", gz(x) + b"\r\n")
put("trailing_garbage.gz", gz(x) + b"this is not gzip data\n" * 3)
put("zip_labelled.gz", zipped([("report.xml", x)]))
put("report.xml.bz2", bz2.compress(x))
put("report.xml.xz", lzma.compress(x))
put("report.json.gz", gz(b'{"organization-name":"x","report-id":"1"}\n'))
put("stored.zip", zipped([("report.xml", x)], zipfile.ZIP_STORED))
put("zip_dirs.zip", zipped([("dir/", b""), ("dir/sub/", b""), ("dir/sub/r.xml", x)]))
put("macosx.zip", zipped([("r.xml", x), ("__MACOSX/", b""), ("__MACOSX/._r.xml", b"\x00\x05\x16\x07junk"),
                          ("._r.xml", b"\x00\x05\x16\x07junk")]))
put("many.zip", zipped([("m%d.xml" % i, y) for i in range(5)]))
put("names.zip", zipped([("../escape.xml", y), ("/abs/olute.xml", y)]))

g = gz(x)
put("truncated.gz", g[: len(g) // 2])
put("truncated_small.gz", g[:30])
put("corrupt_crc.gz", g[:-8] + bytes([g[-8] ^ 0xFF]) + g[-7:])
b = bz2.compress(x)
put("truncated.bz2", b[: len(b) // 2])
z = zipped([("report.xml", x), ("second.xml", y)])
put("truncated.zip", z[: len(z) // 2])
put("truncated_header.zip", z[:20])
c = bytearray(zipped([("report.xml", x)]))
c[len(c) // 3] ^= 0xFF
put("corrupt.zip", bytes(c))
put("fake.bz2", b"BZh9 looks like bzip2 but is text\n")

# Nesting: four gzips inside each other are allowed (DM_MAX_CONTAINER_DEPTH), five are not.
n = x
for i in range(5):
    n = gz(n)
    if i == 3:
        put("nest4.gz", n)
put("nest5.gz", n)

# Encryption: zipfile cannot encrypt, so set the "encrypted" flag (bit 0) of a stored member in
# both its local header and the central directory, as PKWARE's traditional encryption does.
enc = bytearray(zipped([("secret.xml", y), ("plain.xml", y)], zipfile.ZIP_STORED))
lh = enc.find(b"PK\x03\x04")
struct.pack_into("<H", enc, lh + 6, struct.unpack_from("<H", enc, lh + 6)[0] | 1)
cd = enc.find(b"PK\x01\x02")
struct.pack_into("<H", enc, cd + 8, struct.unpack_from("<H", enc, cd + 8)[0] | 1)
put("encrypted.zip", bytes(enc))


def zeros_gz(path, size):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        chunk = bytes(MIB)
        for _ in range(size // MIB):
            f.write(c.compress(chunk))
        f.write(c.flush())


def zeros_zip(path, name, size):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as m:
            chunk = b"<feedback>" + bytes(MIB - 10)
            m.write(chunk)
            chunk = bytes(MIB)
            for _ in range(size // MIB - 1):
                m.write(chunk)
        zf.writestr("after.xml", y)


# A bare zlib stream (RFC 1950, no gzip header), as AOL sent reports; cut, with a bad checksum,
# inside a zip, a bomb (20 MiB of zeros), and text whose first bytes pass the zlib header check.
zl = zlib.compress(x, 9)
put("report.xml.zlib", zl)
put("truncated.zlib", zl[: len(zl) // 2])
put("corrupt.zlib", zl[:-1] + bytes([zl[-1] ^ 0xFF]))
put("zlib_in_zip.zip", zipped([("report.zlib", zl)]))
put("bomb.zlib", zlib.compress(b"<feedback>" + bytes(20 * MIB), 9))
put("zlib_like.txt", b"x^ is how this note starts, and it is text\n")

# Bombs: 200 MiB of zeros in 200 KiB.
zeros_gz(os.path.join(out, "bomb.gz"), 200 * MIB)
zeros_zip(os.path.join(out, "bomb.zip"), "zeros.xml", 200 * MIB)
