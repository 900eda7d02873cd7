"""The documentation names what the code does (the README's reason list once missed zstd_*,
lz4_* and compress_*):

- every quarantine and skip reason the code sets (ingest/, parse/, sql/, core/) is in the
  README's reason list and in the man page;
- the README's fix-up table names exactly the fix-ups of core/model.c;
- every reason the README lists is one the code sets.
"""
import glob
import os
import re
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
    tally.finish()


main()
