"""`cmake --install` into a fresh prefix, and what it installs, as a user finds it:

- bin/dmarcstat runs; --version prints the project's version and the versions of the libraries
  it runs with, which on a consistent system are those pkg-config reports;
- share/man/man1/dmarcstat.1 renders without a groff warning, man -w finds it, and it names
  every command and every option of every command's --help, every exit status and every
  environment variable the code reads;
- the SQL a user may run (views.sql, rollup_rebuild.sql) works on a database ingest made;
- bash completion completes commands, options and option values;
- the Japanese catalogue is installed where the binary finds it with DMARCSTAT_LOCALEDIR;
- the example systemd units and timers pass systemd-analyze verify.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402

DMARCSTAT = os.environ["DMARCSTAT"]
BUILD = os.environ["DM_BUILD_DIR"]
SOURCE = os.environ["DM_SOURCE_DIR"]
CMAKE = os.environ.get("DM_CMAKE", "cmake")
tally = harness.Tally()
check = tally.expect
COMMANDS = ["parse", "ingest", "quarantine", "report", "explain", "alerts", "enrich", "check"]
ENVIRONMENT = ["DMARCSTAT_DB", "XDG_DATA_HOME", "HOME", "XDG_CONFIG_HOME", "DMARCSTAT_IMAP_PASSWORD",
               "DMARCSTAT_RESOLVER", "DMARCSTAT_MMDB", "NO_COLOR", "DMARCSTAT_LOCALEDIR", "LANGUAGE",
               "LC_ALL", "LC_MESSAGES", "LANG"]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        return re.search(r"project\(dmarcstat VERSION ([0-9.]+)", f.read()).group(1)


def test_version(prefix):
    res = run([os.path.join(prefix, "bin", "dmarcstat"), "--version"])
    lines = res.stdout.splitlines()
    check(res.returncode == 0 and len(lines) == 2, f"--version: {res.returncode} {res.stdout!r}")
    check(lines[:1] == [f"dmarcstat {project_version()}"], f"--version first line {lines[:1]}")
    libs = dict(t.split("/", 1) for t in (lines[1].split() if len(lines) > 1 else []))
    for name, module in (("libxml2", "libxml-2.0"), ("sqlite", "sqlite3"),
                         ("libarchive", "libarchive"), ("zlib", "zlib"), ("gmime", "gmime-3.0"),
                         ("glib", "glib-2.0"), ("libcurl", "libcurl"), ("c-ares", "libcares"), ("libpsl", "libpsl"),
                         ("libmaxminddb", "libmaxminddb"), ("openssl", "libcrypto")):
        want = run(["pkg-config", "--modversion", module]).stdout.strip()
        check(libs.get(name) == want, f"--version: {name} {libs.get(name)!r}, pkg-config {want!r}")
    # libspf2 has no pkg-config file: its version as it says.
    check(re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", libs.get("libspf2", "")) is not None,
          f"--version: libspf2 {libs.get('libspf2')!r}")


def help_options():
    """Every --option the commands' --help name, with the command."""
    found = set()
    for c in COMMANDS:
        text = run([DMARCSTAT, c, "--help"]).stdout
        check(text != "", f"{c} --help printed nothing")
        found.update((c, o) for o in re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-o)\b", text))
    return found


def test_man(prefix):
    page = os.path.join(prefix, "share", "man", "man1", "dmarcstat.1")
    res = run(["groff", "-man", "-Tutf8", "-ww", "-z", page])
    check(res.returncode == 0 and res.stderr == "", f"groff warnings: {res.stderr[:500]!r}")
    res = run(["man", "-w", "dmarcstat"], env=dict(os.environ, MANPATH=os.path.join(prefix, "share", "man")))
    check(res.stdout.strip() == page, f"man -w: {res.stdout.strip()!r} {res.stderr.strip()!r}")
    text = run(["man", "-l", page], env=dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")).stdout
    text = re.sub(r".\x08", "", text)
    for c in COMMANDS:
        check(re.search(rf"^   {c}\b", text, re.M) is not None, f"man page: no section for {c}")
    for c, o in sorted(help_options()):
        check(o in text, f"man page: {c} {o} (from its --help) missing")
    for status in range(5):
        check(re.search(rf"^       {status}\s", text, re.M) is not None,
              f"man page: exit status {status} missing")
    for v in ENVIRONMENT:
        check(re.search(rf"^       {v}\b", text, re.M) is not None, f"man page: {v} missing")
    for section in ("EXAMPLES", "FILES", "EXIT STATUS", "ENVIRONMENT", "SEE ALSO"):
        check(re.search(rf"^{section}$", text, re.M) is not None, f"man page: no {section}")
    check(re.search(r"^\s+\*/30 \*.* dmarcstat ingest ", text, re.M) is not None,
          "man page: no cron line")


def test_sql(prefix, tmp):
    db = os.path.join(tmp, "s.db")
    res = run([DMARCSTAT, "ingest", "--quiet", "--db", db,
               os.path.join(SOURCE, "samples", "reports", "xml")])
    check(res.returncode == 0, f"ingest samples: {res.returncode} {res.stderr[:300]!r}")
    con = sqlite3.connect(db)
    before = con.execute("SELECT count(*), sum(messages) FROM rollup_source").fetchone()
    views = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
    for name in ("views.sql", "rollup_rebuild.sql"):
        with open(os.path.join(prefix, "share", "dmarcstat", "sql", name)) as f:
            con.executescript(f.read())
    check(con.execute("SELECT count(*), sum(messages) FROM rollup_source").fetchone() == before,
          "rollup_rebuild.sql changed the rollups of a database the store wrote")
    check(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
          == views, "views.sql made other views than the store's")
    check(before[0] > 0, f"nothing stored: {before}")
    con.close()


def complete(prefix, words):
    script = os.path.join(prefix, "share", "bash-completion", "completions", "dmarcstat")
    line = " ".join(words)
    cmd = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _dmarcstat;"
           ' printf "%s\\n" "${COMPREPLY[@]}"')
    res = run(["bash", "-c", cmd])
    check(res.returncode == 0 and res.stderr == "", f"completion {words}: {res.stderr!r}")
    return sorted(res.stdout.split())


def test_completion(prefix):
    check(complete(prefix, ["dmarcstat", "re"]) == ["report"], "completion of 're'")
    check(complete(prefix, ["dmarcstat", "report", "--format", "h"]) == ["html"],
          "completion of --format h")
    check(complete(prefix, ["dmarcstat", "report", "--table", "s"]) ==
          ["services", "silent_isps", "source_isps", "sources"],
          "completion of --table s")
    check(complete(prefix, ["dmarcstat", "ingest", "--mo"]) == ["--move-to"], "completion of --mo")
    check(complete(prefix, ["dmarcstat", "quarantine", "r"]) == ["resolve", "retry"],
          "completion of quarantine r")
    check(complete(prefix, ["dmarcstat", "check", "--format", ""]) == ["json", "text"],
          "completion of check --format")
    check(complete(prefix, ["dmarcstat", "enrich", "--c"]) == ["--concurrency"],
          "completion of enrich --c")
    check(complete(prefix, ["dmarcstat", "al"]) == ["alerts"], "completion of 'al'")
    check(complete(prefix, ["dmarcstat", "alerts", "--m"]) ==
          ["--mail-from", "--mail-to", "--min-messages"], "completion of alerts --m")
    check(complete(prefix, ["dmarcstat", "report", "--s"]) == ["--sendmail", "--subject"],
          "completion of report --s")


def test_catalogue(prefix):
    """The installed catalogue answers LANG=ja_JP.UTF-8 (the build's is not there to help)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k != "LANGUAGE"}
    env.update(LANG="ja_JP.UTF-8", DMARCSTAT_LOCALEDIR=os.path.join(prefix, "share", "locale"))
    res = run([os.path.join(prefix, "bin", "dmarcstat"), "report", "--help"], env=env)
    check(res.returncode == 0 and res.stdout.startswith("使い方: dmarcstat report"),
          f"installed catalogue: {res.returncode} {res.stdout[:60]!r}")
    check(complete(prefix, ["dmarcstat", "explain", "--lang", ""]) == ["en", "ja"],
          "completion of --lang")


def test_units(prefix, tmp):
    src = os.path.join(prefix, "share", "doc", "dmarcstat", "examples", "systemd")
    units = sorted(os.listdir(src))
    check(units == ["dmarcstat-alerts.service", "dmarcstat-alerts.timer",
                    "dmarcstat-import.service", "dmarcstat-import.timer",
                    "dmarcstat-report.service", "dmarcstat-report.timer"], f"units: {units}")
    work = os.path.join(tmp, "units")
    os.makedirs(work)
    binary = os.path.join(prefix, "bin", "dmarcstat")
    for u in units:
        with open(os.path.join(src, u)) as f:
            text = f.read()
        if u.endswith(".service"):
            check("ExecStart=dmarcstat " in text, f"{u}: ExecStart does not run dmarcstat")
            # systemd finds the bare name in /usr/bin or /usr/local/bin; here it is elsewhere.
            text = text.replace("ExecStart=dmarcstat ", f"ExecStart={binary} ")
        with open(os.path.join(work, u), "w") as f:
            f.write(text)
    runtime = os.path.join(tmp, "run")
    os.makedirs(runtime, mode=0o700)
    res = run(["systemd-analyze", "verify", "--user", "--man=no"] + units, cwd=work,
              env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
    check(res.returncode == 0 and res.stderr.strip() == "",
          f"systemd-analyze verify: {res.returncode} {res.stderr[:500]!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prefix")
        res = run([CMAKE, "--install", BUILD, "--prefix", prefix])
        check(res.returncode == 0, f"cmake --install: {res.returncode} {res.stderr[:500]!r}")
        for f in ("bin/dmarcstat", "share/man/man1/dmarcstat.1", "share/dmarcstat/services",
                  "share/dmarcstat/sql/views.sql", "share/dmarcstat/sql/rollup_rebuild.sql",
                  "share/bash-completion/completions/dmarcstat", "share/doc/dmarcstat/README.md",
                  "share/locale/ja/LC_MESSAGES/dmarcstat.mo"):
            check(os.path.isfile(os.path.join(prefix, f)), f"not installed: {f}")
        check(os.access(os.path.join(prefix, "bin", "dmarcstat"), os.X_OK), "bin not executable")
        for t in (test_version, test_man, test_completion, test_catalogue):
            t(prefix)
        test_sql(prefix, tmp)
        test_units(prefix, tmp)
        shutil.rmtree(prefix)
    tally.finish()


main()
