"""The real mailing-list case of ../shared/corpus: ietf.org relays stalw.art's mail (reports of
Mail.Ru and backschues.NET, November 2022), so stalw.art's own DKIM signature fails while
ietf.org's passes.  dmarcstat must say that the reports cannot tell a list from an ESP with a
missing key, give both fixes, and never tell stalw.art to set up DKIM at the list.  Exits 77
(reported by CTest as skipped) when the corpus is not there.

    DMARCSTAT=build/cli/dmarcstat DM_CORPUS_DIR=../shared/corpus python3 tests/cli/test_report_corpus.py
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import harness  # noqa: E402
from harness import Tally  # noqa: E402
from test_report_golden import run  # noqa: E402

CORPUS = os.environ.get("DM_CORPUS_DIR", "")
FEEDBACK = os.path.join(CORPUS, "stalwartlabs__mail-auth", "resources", "dmarc-feedback")
LIST_IP = "50.223.129.194"
PERIOD = ["--from", "2022-11-01", "--to", "2022-12-01"]
WRONG = ("set up dkim", "at the list", "custom return-path", "authenticates as itself")


def main():
    harness.need_binary()
    mails = [os.path.join(FEEDBACK, f"{n}.eml") for n in (100, 101, 102)]
    if not all(os.path.exists(m) for m in mails):
        print(f"SKIPPED: the corpus's list case is not at {FEEDBACK!r}")
        sys.exit(77)
    t = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "list.db")
        rc, out, err = run(["ingest", "--quiet", "--db", db] + mails)
        t.check("the corpus's reports are stored", "" if rc == 0 else f"exit {rc}: {err}")
        rc, out, err = run(["report", "--db", db, "--format", "json"] + PERIOD)
        doc = json.loads(out) if rc == 0 else {"sources": []}
        pairs = [s for s in doc["sources"]
                 if s["source_ip"] == LIST_IP and s["header_from"] == "stalw.art"]
        s = pairs[0] if pairs else {}
        text = (s.get("explanation", "") + " " + s.get("fix", "")).lower()
        t.check("the list's pair is list_or_esp, with both readings and both fixes", [
            "" if pairs else f"no pair {LIST_IP} stalw.art in {doc['sources']}",
            "" if s.get("cause") == "list_or_esp" else f"cause {s.get('cause')}",
            "" if "mailing list" in text and "esp" in text else f"not both: {text}",
            "" if "ietf.org" in text else "the list is not named",
            "" if "_domainkey.stalw.art" in text else "no key to publish for the ESP case"])
        t.check("the list is never the one to set up DKIM",
                [f"says {w!r}" for w in WRONG if w in text])
        rc, out, err = run(["explain", "--db", db, "--ip", LIST_IP] + PERIOD)
        said = out.decode(errors="replace").lower()
        t.check("explain names the list's signature and gives no wrong fix", [
            f"exit {rc}: {err}" if rc != 0 else "",
            "" if "dkim pass for ietf.org" in said and "cause: list_or_esp" in said else
            f"evidence missing: {said[:400]!r}"] + [f"says {w!r}" for w in WRONG if w in said])
    t.finish()


if __name__ == "__main__":
    main()
