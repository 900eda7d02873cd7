"""The documentation names what the code does (the README's reason list once missed zstd_*,
lz4_* and compress_*):

- every quarantine and skip reason the code sets (ingest/, parse/, sql/, core/) is in the
  README's reason list and in the man page;
- the README's fix-up table names exactly the fix-ups of core/model.c;
- every reason the README lists is one the code sets;
- every option the README gives a command (its synopses, examples and crontab lines) is in
  that command's --help.
"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile"))
import harness  # noqa: E402

SOURCE = os.environ["DM_SOURCE_DIR"]
BUILD = os.environ["DM_BUILD_DIR"]
tally = harness.Tally()
check = tally.expect
# Reasons that are not about an input: the report command's database errors.
NOT_INPUT_REASONS = {"db_open", "db_query", "db_schema"}


def code_reasons():
    """Reason codes set in the C sources, with a file that sets each."""
    found = {}
    # A status code or a mail kind, then a one-word literal: dm_error_setr(), tables of
    # reasons; and the containers' truncated/corrupt pairs.
    patterns = [r'\b(?:DM_E[A-Z]+|DM_MAIL_[A-Z]+),\s*"([a-z][a-z0-9_]*)"',
                r'dm_error_reason\s*\(\s*[^,]+,\s*"([a-z0-9_]+)"',
                r'"([a-z0-9]+_(?:truncated|corrupt))"',
                r'reason\s*=\s*"([a-z0-9_]+)"']
    for d in ("ingest", "parse", "sql", "core"):
        for f in glob.glob(os.path.join(SOURCE, d, "*.c")):
            text = open(f).read()
            for p in patterns:
                for m in re.finditer(p, text):
                    found.setdefault(m.group(1), os.path.relpath(f, SOURCE))
    return {k: v for k, v in found.items() if k not in NOT_INPUT_REASONS}


def readme_reasons(readme):
    para = re.search(r"Reason codes: (.*?)`retry` stores", readme, re.S)
    check(para is not None, "README: no 'Reason codes:' paragraph")
    return set(re.findall(r"`([a-z0-9_]+)`", para.group(1) if para else ""))


COMMANDS = ["parse", "ingest", "quarantine", "report", "explain", "alerts", "enrich", "check"]


def readme_options(readme):
    """(command, option, line) for each option the README writes after `dmarcstat COMMAND`, on
    that line or on the indented lines that continue a synopsis."""
    found, cmd = [], None
    for line in readme.splitlines():
        starts = list(re.finditer(r"dmarcstat (%s)\b" % "|".join(COMMANDS), line))
        if starts:
            cmds = [(m.group(1), line[m.end():]) for m in starts]
            cmd = cmds[-1][0]
        elif cmd is not None and line.startswith("  ") and "`" not in line:
            cmds = [(cmd, line)]
        else:
            cmd = None
            continue
        for c, text in cmds:
            # Up to what ends the command: a comment, a closing backquote, a shell pipe
            # (a "|" between alternatives of a synopsis is followed by an option).
            text = re.split(r"\s#|`|\s\|\|?\s+(?!-)|\$\(|&&", text)[0]
            found += [(c, o, line.strip()) for o in
                      re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)]
    return found


def options_documented(readme):
    dmarcstat = os.environ["DMARCSTAT"]
    helps = {c: subprocess.run([dmarcstat, c, "--help"], capture_output=True, text=True,
                               env=dict(os.environ, LANGUAGE="", LC_ALL="C")).stdout
             for c in COMMANDS}
    opts = readme_options(readme)
    check(len(opts) >= 100, f"found only {len(opts)} options after a command in the README")
    for cmd, opt, line in opts:
        check(opt in helps[cmd], f"README: {cmd} {opt} is not in 'dmarcstat {cmd} --help': "
                                 f"{line[:100]}")


def main():
    readme = open(os.path.join(SOURCE, "README.md")).read()
    man = open(os.path.join(BUILD, "doc", "dmarcstat.1")).read().replace("\\-", "-")
    code = code_reasons()
    listed = readme_reasons(readme)
    check(len(code) >= 30, f"found only {len(code)} reasons in the code: {sorted(code)}")
    for r, where in sorted(code.items()):
        check(r in listed, f"README: reason {r} ({where}) not listed")
        check(re.search(rf"\b{r}\b", man) is not None, f"man page: reason {r} ({where}) missing")
    for r in sorted(listed - set(code)):
        check(False, f"README lists reason {r}, which no code sets")
    model = open(os.path.join(SOURCE, "core", "model.c")).read()
    fixups = set(re.findall(r'\[DM_FIXUP_[A-Z0-9_]+\] = "([a-z0-9_]+)"', model))
    table = set(re.findall(r"^\| `([a-z0-9_]+)` \| ", readme.split("### Lenient, not silent")[1]
                           .split("###")[0], re.M))
    check(len(fixups) >= 20, f"found only {len(fixups)} fix-ups in core/model.c")
    check(table == fixups, f"README fix-up table: missing {sorted(fixups - table)}, "
                           f"extra {sorted(table - fixups)}")
    options_documented(readme)
    tally.finish()


main()
