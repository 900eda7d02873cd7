"""Japanese: the catalogue is complete, and the report and explain of the samples read in Japanese
through LANG=ja_JP.UTF-8 (whether that locale is generated here or not) and --lang ja, byte for
byte against tests/data/report/golden/ja/; JSON keys, CSV headers and cause codes stay English;
the text tables stay aligned by display width under Japanese headings; long Japanese sentences
wrap within 100 columns.

The catalogue comes from the build (DMARCSTAT_LOCALEDIR=build/locale, as CTest sets it).

    DMARCSTAT=build/cli/dmarcstat DMARCSTAT_LOCALEDIR=build/locale DM_BUILD_DIR=build \\
        DM_SOURCE_DIR=. DM_TEST_DATA_DIR=tests/data python3 tests/cli/test_i18n.py
    DM_UPDATE_GOLDEN=1 ...   rewrites the golden files (then review the diff).
"""
import csv
import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_report_golden import DATA, PERIOD, SOURCE, run, sample_db  # noqa: E402
from test_report_golden import golden as golden_file  # noqa: E402

BUILD = os.environ.get("DM_BUILD_DIR", "build")
GOLDEN = os.path.join(DATA, "report", "golden", "ja")
# Japanese through the environment: LANG alone, as a user's profile sets it.
JA = {"LC_ALL": "", "LANG": "ja_JP.UTF-8"}


def width(s):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def catalogue(problems, tmp):
    """Every message of the sources has a Japanese translation, neither fuzzy nor empty, and
    po/dmarcstat.pot is the catalogue of the sources as they are."""
    with open(os.path.join(BUILD, "po", "xgettext.args")) as f:
        args = [a for a in f.read().split("\n") if a]
    options = [a for a in args if a.startswith("--")]
    files = sorted(p for g in args if not g.startswith("--")
                   for p in glob.glob(os.path.join(SOURCE, g)))
    pot = os.path.join(tmp, "fresh.pot")
    p = subprocess.run(["xgettext"] + options + ["-o", pot] +
                       [os.path.relpath(f, SOURCE) for f in files],
                       cwd=SOURCE, capture_output=True, text=True)
    if p.returncode != 0:
        problems.append(f"xgettext failed: {p.stderr}")
        return
    ja = os.path.join(SOURCE, "po", "ja.po")
    p = subprocess.run(["msgcmp", ja, pot], capture_output=True, text=True)
    if p.returncode != 0:
        problems.append(f"po/ja.po lacks translations of the sources' messages:\n"
                        f"{p.stderr[:3000]}")
    p = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, ja],
                       capture_output=True, text=True)
    if p.returncode != 0 or "fuzzy" in p.stderr or "untranslated" in p.stderr:
        problems.append(f"msgfmt --check --statistics po/ja.po: {p.stderr.strip()}")
    p = subprocess.run(["msgcmp", "--use-untranslated", pot,
                        os.path.join(SOURCE, "po", "dmarcstat.pot")],
                       capture_output=True, text=True)
    q = subprocess.run(["msgcmp", "--use-untranslated",
                        os.path.join(SOURCE, "po", "dmarcstat.pot"), pot],
                       capture_output=True, text=True)
    if p.returncode != 0 or q.returncode != 0:
        problems.append("po/dmarcstat.pot is not the sources' catalogue: run "
                        "`cmake --build build --target pot`")


def cases():
    yield "report.txt", ["report"] + PERIOD, JA
    yield "report.json", ["report", "--format", "json"] + PERIOD, JA
    yield "report-all.csv", ["report", "--format", "csv"] + PERIOD, JA
    yield "report-by-domain.txt", ["report", "--by-domain", "--lang", "ja"] + PERIOD, None
    yield "explain-shared-ip.txt", ["explain", "--ip", "198.51.100.20", "--lang", "ja"] \
        + PERIOD, None
    yield "explain-esp.txt", ["explain", "--ip", "198.51.100.0/24"] + PERIOD, JA
    yield "explain-forwarder.txt", ["explain", "--ip", "203.0.113.45"] + PERIOD, JA
    yield "explain-letter.txt", ["explain", "--ip", "198.51.100.20", "--reporter", "Yahoo",
                                 "--letter"] + PERIOD, JA


def golden(problems, db, tmp):
    for name, args, env in cases():
        rc, out, err = run(args + ["--db", db], env=env)
        path = os.path.join(GOLDEN, name)
        if rc != 0:
            problems.append(f"{name}: exit {rc}: {err}")
            continue
        problems += golden_file(path, out, tmp)
        if name.endswith(".txt"):
            wide = [line for line in out.decode().splitlines() if width(line) > 100
                    and not line.startswith("件名: ")]
            if wide:
                problems.append(f"{name}: lines wider than 100 columns: {wide[:3]}")


def environments(problems, db):
    """Every way of asking for Japanese gives the same report; English stays English."""
    args = ["report", "--db", db] + PERIOD
    want = run(args, env=JA)[1]
    if "概要".encode() not in want or "DMARC レポート".encode() not in want:
        problems.append(f"LANG=ja_JP.UTF-8: not Japanese: {want[:200]!r}")
    for env in ({"LC_ALL": "ja_JP.UTF-8"}, {"LC_ALL": "", "LC_MESSAGES": "ja_JP.UTF-8"},
                {"LC_ALL": "", "LANG": "ja_JP"}, {"LC_ALL": "C.UTF-8", "LANGUAGE": "ja"}):
        got = run(args, env=env)[1]
        if got != want:
            problems.append(f"{env}: not the Japanese report")
    if run(args + ["--lang", "ja"])[1] != want:
        problems.append("--lang ja under LC_ALL=C: not the Japanese report")
    english = run(args)[1]
    if run(args + ["--lang", "en"], env=JA)[1] != english:
        problems.append("--lang en under LANG=ja_JP.UTF-8: not the English report")
    if b"Overview" not in english:
        problems.append(f"LC_ALL=C: not English: {english[:200]!r}")
    # A German locale must not put commas into numbers, generated here or not.
    de = run(["report", "--db", db, "--format", "json"] + PERIOD,
             env={"LC_ALL": "", "LANG": "de_DE.UTF-8"})[1]
    if de != run(["report", "--db", db, "--format", "json"] + PERIOD)[1]:
        problems.append("LANG=de_DE.UTF-8 changed the JSON")


def machine_formats(problems, db):
    """JSON keys, cause codes and CSV headers stay English; only the words for people change."""
    def load(fmt, env):
        return run(["report", "--db", db, "--format", fmt] + PERIOD, env=env)[1].decode()

    en, ja = json.loads(load("json", None)), json.loads(load("json", JA))

    def keys(v, path=""):
        if isinstance(v, dict):
            return {path + "/" + k for k in v} | set().union(
                *[keys(x, path + "/" + k) for k, x in v.items()])
        if isinstance(v, list):
            return set().union(set(), *[keys(x, path) for x in v])
        return set()
    if keys(en) != keys(ja):
        problems.append(f"JSON keys differ: {sorted(keys(en) ^ keys(ja))[:10]}")
    causes = [(s["cause"], t["cause"]) for s, t in zip(en["sources"], ja["sources"])]
    if not causes or any(a != b for a, b in causes):
        problems.append(f"cause codes translated: {causes[:3]}")
    why = [(s["explanation"], t["explanation"]) for s, t in zip(en["sources"], ja["sources"])]
    if not why or any(a == b or not re.search("[\u3040-\u30ff]", b) for a, b in why):
        problems.append(f"JSON explanations not in Japanese: {why[:1]}")
    en_rows = list(csv.reader(io.StringIO(load("csv", None))))
    ja_rows = list(csv.reader(io.StringIO(load("csv", JA))))
    if en_rows[0] != ja_rows[0] or len(en_rows) != len(ja_rows):
        problems.append(f"CSV header or rows differ: {en_rows[0]} {ja_rows[0]}")
    fix = en_rows[0].index("fix")
    pairs = [(a[fix], b[fix]) for a, b in zip(en_rows, ja_rows) if a[0] == "sources"]
    if not pairs or any(a == b for a, b in pairs):
        problems.append(f"CSV fixes not translated: {pairs[:1]}")


def section(text, title):
    """The lines of a text report's table under title (header first), up to a blank line."""
    lines = text.splitlines()
    i = lines.index(title)
    out = []
    for line in lines[i + 2:]:
        if not line.strip():
            break
        out.append(line)
    return out


def end_columns(line, pattern):
    m = re.search(pattern, line)
    return [width(line[:m.end(g)]) for g in range(1, m.lastindex + 1)] if m else None


def alignment(problems, db):
    """Right-aligned columns end under the end of their Japanese heading, in display columns
    (a wide character counts two), in the overview and the ISP table."""
    text = run(["report", "--db", db] + PERIOD, env=JA)[1].decode()
    num = r"(-|[+-]?\d+(?:\.\d)?)"
    for title, head, row in (
            ("概要", r"(今期)\s+(前期)\s+(増減)$", rf"{num}\s+{num}\s+{num}$"),
            ("ISP 別", r"(通数)\s+(成功率 %)\s+(隔離)\s+(拒否)",
             rf"{num}\s+{num}\s+{num}\s+{num}\s+\S+$")):
        rows = section(text, title)
        want = end_columns(rows[0], head)
        got = [end_columns(r, row) for r in rows[1:]]
        if want is None or not got or any(g != want for g in got):
            problems.append(f"{title}: columns end at {got}, headings at {want}:\n"
                            + "\n".join(rows))


def messages(problems, db, tmp):
    """Errors and help of report and explain in Japanese; --lang checked."""
    missing = os.path.join(tmp, "typo.db")
    rc, out, err = run(["report", "--db", missing], env=JA)
    if rc != 3 or err != f"dmarcstat: {missing}: データベースがありません（先に 'dmarcstat " \
                         "ingest' を実行するか、--db を指定してください）\n":
        problems.append(f"missing database in Japanese: {rc} {err!r}")
    # The C library's words (strerror) in UTF-8 too: Japanese where its catalogue is installed
    # (Debian's libc-l10n), else English; never the "????" of a conversion to ASCII.
    rc, out, err = run(["report", "--db", db, "-o", os.path.join(tmp, "no", "x.txt")] + PERIOD,
                       env=JA)
    want = [f"dmarcstat: {tmp}/no/x.txt: {e}\n" for e in
            ("そのようなファイルやディレクトリはありません", "No such file or directory")]
    if rc != 1 or err not in want:
        problems.append(f"strerror under a Japanese locale: {rc} {err!r}")
    # The mail's errors (report --mail-to, --sendmail).
    rc, out, err = run(["report", "--db", db, "--mail-to", "ops"] + PERIOD, env=JA)
    if rc != 2 or out or err != 'dmarcstat: --mail-to: メールアドレスではありません: "ops"' \
                                '（local@domain か "Name <local@domain>" の形で指定してください）\n':
        problems.append(f"--mail-to error in Japanese: {rc} {err!r}")
    rc, out, err = run(["report", "--db", db, "--subject", "x"] + PERIOD, env=JA)
    if rc != 2 or err != "dmarcstat: --subject は --mail-to ADDR と一緒に指定してください\n":
        problems.append(f"--subject without --mail-to in Japanese: {rc} {err!r}")
    nowhere = os.path.join(tmp, "no-sendmail")
    rc, out, err = run(["report", "--db", db, "--mail-to", "ops@example.com",
                        f"--sendmail={nowhere}"] + PERIOD, env=JA)
    want = [f"dmarcstat: {nowhere}: 実行できません: {e}（メールは送信されていません）\n" for e in
            ("そのようなファイルやディレクトリはありません", "No such file or directory")]
    if rc != 1 or err not in want:
        problems.append(f"a sendmail that cannot run, in Japanese: {rc} {err!r}")
    # The errors of opening a database that is not ours, and an MMDB file that is not one:
    # dmarcstat's words in Japanese, the libraries' own words as they give them.
    other = os.path.join(tmp, "other.db")
    subprocess.run(["sqlite3", other, "PRAGMA application_id = 5; CREATE TABLE t (x);"],
                   check=True)
    rc, out, err = run(["report", "--db", other], env=JA)
    if rc != 3 or err != f"dmarcstat: {other}: dmarcstat のデータベースではありません: " \
                         "application id が 0x00000005 です（別のプログラムのもの）\n":
        problems.append(f"another program's database in Japanese: {rc} {err!r}")
    rollups = os.path.join(tmp, "norollups.db")
    subprocess.run(["sqlite3", rollups, "CREATE TABLE t (x);"], check=True)
    rc, out, err = run(["explain", "--db", rollups, "--ip", "192.0.2.1"], env=JA)
    if rc != 3 or err != f"dmarcstat: {rollups}: レポート集計表のある dmarcstat のデータベースでは" \
                         "ありません（no such table: rollup_daily）。このビルドの dmarcstat " \
                         "ingest を実行して作成または更新してください\n":
        problems.append(f"a database without rollups in Japanese: {rc} {err!r}")
    junk = os.path.join(tmp, "junk.db")
    with open(junk, "w") as f:
        f.write("not sqlite at all, but long enough to be read as a header" * 20)
    rc, out, err = run(["report", "--db", junk], env=JA)
    if rc != 3 or err != f"dmarcstat: {junk}: データベースを読めません: file is not a database\n":
        problems.append(f"a file that is not a database in Japanese: {rc} {err!r}")
    mmdb = os.path.join(tmp, "not.mmdb")
    with open(mmdb, "w") as f:
        f.write("not an mmdb\n")
    rc, out, err = run(["report", "--db", db, "--mmdb", mmdb] + PERIOD, env=JA)
    if rc != 2 or err != f"dmarcstat: {mmdb}: 読み取れる MaxMind DB ではありません: The " \
                         "MaxMind DB file contains invalid metadata\n" or out:
        problems.append(f"an MMDB file that is not one, in Japanese: {rc} {err!r}")
    rc, out, err = run(["explain", "--db", db, "--from", "2030-01-01", "--now", "2026-11-28"],
                       env=JA)
    if rc != 2 or err != "dmarcstat: --from 2030-01-01 は昨日（2026-11-27）より後です: --to を" \
                         "指定しない場合、期間は昨日（UTC）までです\n":
        problems.append(f"period error in Japanese: {rc} {err!r}")
    rc, out, err = run(["report", "--help"], env=JA)
    if rc != 0 or not out.decode().startswith("使い方: dmarcstat report"):
        problems.append(f"report --help in Japanese: {rc} {out[:80]!r}")
    rc, out, err = run(["report", "--db", db, "--lang", "fr"] + PERIOD)
    if rc != 2 or err != 'dmarcstat: --lang wants en or ja: "fr"\n' or out:
        problems.append(f"--lang fr: {rc} {err!r}")
    rc, out, err = run(["--help"], env=JA)
    if rc != 0 or "コマンド:" not in out.decode():
        problems.append(f"--help in Japanese: {rc} {out[:80]!r}")


def html(problems, db):
    """The HTML report (no golden file: its charts are still changing) in Japanese, lang=ja."""
    rc, out, err = run(["report", "--db", db, "--format", "html"] + PERIOD, env=JA)
    text = out.decode()
    for words in ('<html lang="ja">', "<title>DMARC レポート 2026-11-01～2026-11-07</title>",
                  "ISP 別", "DMARC に失敗した送信元", "対処",
                  "DMARC 失敗（ポリシーによるブロックなし）", "日別の通数（区分別）"):
        if rc != 0 or words not in text:
            problems.append(f"HTML in Japanese lacks {words!r} ({rc} {err})")


def main():
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        catalogue(problems, tmp)
        db = sample_db(tmp)
        golden(problems, db, tmp)
        environments(problems, db)
        machine_formats(problems, db)
        alignment(problems, db)
        messages(problems, db, tmp)
        html(problems, db)
    for p in problems:
        print("FAIL", p)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
