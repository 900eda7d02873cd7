"""Reading ../shared/corpus/MANIFEST.tsv for the CLI tests (ground truth from another reader).

A test that needs the corpus is a test_corpus_*.py of its own: without the corpus it exits
SKIPPED (77), which CTest reports as skipped (SKIP_RETURN_CODE), never as passed."""
import csv
import os
import sys

CORPUS = os.environ.get("DM_CORPUS_DIR", "")
SKIPPED = 77


def rows():
    """Manifest rows as dicts, or exit SKIPPED with a note when the corpus is not there."""
    manifest = os.path.join(CORPUS, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print(f"corpus not found at {CORPUS!r}: skipped")
        sys.exit(SKIPPED)
    with open(manifest, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL))


def path(row):
    return os.path.join(CORPUS, row["file"])


def expects_error(row):
    """Files the manifest calls malformed (and we cannot salvage) must give an error."""
    notes = row["notes"]
    if row["kind"] != "aggregate":
        return True
    # Blank lines before <?xml are salvaged (fixup leading_whitespace): counts must match.
    if "malformed" in notes and "leading whitespace" not in notes:
        return True
    return False


def ints(row):
    return int(row["record_count"] or 0), int(row["total_count"] or 0)
