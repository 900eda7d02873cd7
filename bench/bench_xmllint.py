#!/usr/bin/env python3
"""Ingest against the XML parse limit of the machine (issue: ingest within 2x of libxml2).

usage: bench/bench_xmllint.py [BUILD_DIR] [--runs N] [--quick] [--work DIR] [--no-load]
                              [--before BUILD_DIR]

The limit is libxml2's own streaming pass over the same XML, `xmllint --stream --noout`, run
over the decompressed reports.  For each input, xmllint and `dmarcstat ingest` into a fresh
database run one after the other, N times (default 3), and the best wall time of each is kept:

  1. 2,000 generated reports, mixed .xml / .xml.gz / .zip, 1-50 records each (bench/gen.py);
  2. one 1,000,000-record report (.xml.gz);
  3. both again beside a busy loop on one core (a loaded machine);
  4. CPU honesty: the CPU time (user + system, all threads) of the ingest of 1 and 2 on every
     core, against the same ingest pinned to one core (taskset -c 0).

It prints each run, then the ratios, the peak RSS of every ingest (getrusage of the child) and
the load average, and exits 1 if a goal is missed: ingest / xmllint at most 2.0, CPU on every
core / CPU on one core at most 1.15, peak RSS under 64 MiB.  --quick: 400 reports and a
200,000-record report.  Inputs are generated once into --work (default: a folder under the
system's temporary directory) and kept for the next run.  --before BUILD_DIR: another build's
ingest (say, of the commit before a change) runs in every round too, right after xmllint, and
its ratio is printed beside the current one; the goals are checked on the current build only.
"""
import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
RATIO_LIMIT = 2.0
CPU_LIMIT = 1.15
RSS_LIMIT_MIB = 64


def options(argv):
    opt = {"build": os.path.join(HERE, "..", "build"), "runs": 3, "quick": False,
           "work": None, "load": True, "before": None}
    rest = list(argv)
    while rest:
        a = rest.pop(0)
        if a == "--runs":
            opt["runs"] = int(rest.pop(0))
        elif a == "--quick":
            opt["quick"] = True
        elif a == "--work":
            opt["work"] = rest.pop(0)
        elif a == "--no-load":
            opt["load"] = False
        elif a == "--before":
            opt["before"] = rest.pop(0)
        elif a.startswith("-"):
            sys.exit(__doc__)
        else:
            opt["build"] = a
    size = "quick" if opt["quick"] else "full"
    opt["work"] = opt["work"] or os.path.join(tempfile.gettempdir(), f"dmarcstat-bench-{size}")
    return opt


def run(cmd):
    """Wall seconds, CPU seconds (user + system of the child and its threads), peak RSS MiB."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd[:3])} ... failed ({code}): {err.decode()[:500]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def unpack(src, xml_dir):
    """The XML of every report of src (a folder of .xml/.xml.gz/.zip), one file each."""
    os.makedirs(xml_dir, exist_ok=True)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                for m in z.namelist():
                    with open(os.path.join(xml_dir, name + "." + os.path.basename(m)), "wb") as f:
                        f.write(z.read(m))
        elif name.endswith(".gz"):
            with gzip.open(path) as g, open(os.path.join(xml_dir, name[:-3]), "wb") as f:
                shutil.copyfileobj(g, f)
        else:
            shutil.copy(path, os.path.join(xml_dir, name))


def inputs(opt):
    """Generates (once) the inputs and their XML; returns [(label, ingest path, xml paths)]."""
    n_files, big = (400, 200_000) if opt["quick"] else (2000, 1_000_000)
    work = opt["work"]
    files, xml = os.path.join(work, "files"), os.path.join(work, "files-xml")
    big_gz, big_xml = os.path.join(work, "big.xml.gz"), os.path.join(work, "big.xml")
    done = os.path.join(work, "ready")
    if not os.path.exists(done):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        print(f"generating the inputs in {work} (once) ...", flush=True)
        gen = [sys.executable, os.path.join(HERE, "gen.py")]
        subprocess.check_call(gen + ["files", files, str(n_files)])
        unpack(files, xml)
        subprocess.check_call(gen + ["big", big_gz, str(big)])
        with gzip.open(big_gz) as g, open(big_xml, "wb") as f:
            shutil.copyfileobj(g, f)
        open(done, "w").close()
    xmls = [os.path.join(xml, n) for n in sorted(os.listdir(xml))]
    return [(f"{n_files:,} reports", files, xmls), (f"{big:,}-record report", big_gz, [big_xml])]


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def ingest(opt, build, db, path, pin=None):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return run((pin or []) + [os.path.join(build, "cli", "dmarcstat"), "ingest", "--db", db, path])


def better(a, b):
    return b if a is None or b[0] < a[0] else a


def pair(opt, label, path, xmls):
    """N rounds of xmllint, then the --before build's ingest if any, then this build's; the
    best wall of each, and the peak RSS of this build's ingests."""
    db = os.path.join(opt["work"], "bench.db")
    best_x = best_b = best_i = None
    rss = 0.0
    for i in range(opt["runs"]):
        x = run(["xmllint", "--stream", "--noout"] + xmls)
        line = f"  {label:<26} xmllint {x[0]:6.2f} s (CPU {x[1]:5.2f})"
        if opt["before"]:
            b = ingest(opt, opt["before"], db, path)
            best_b = better(best_b, b)
            line += f"   before {b[0]:6.2f} s (CPU {b[1]:5.2f}, {b[2]:5.1f} MiB)"
        g = ingest(opt, opt["build"], db, path)
        rss = max(rss, g[2])
        print(line + f"   ingest {g[0]:6.2f} s (CPU {g[1]:5.2f}, peak RSS {g[2]:5.1f} MiB)",
              flush=True)
        best_x, best_i = better(best_x, x), better(best_i, g)
    return best_x, best_b, best_i, rss


def ratios(opt, sets, title):
    print(f"{title} ({load()})")
    out = []
    for label, path, xmls in sets:
        x, b, g, rss = pair(opt, label, path, xmls)
        out.append((label, g[0] / x[0], x[0], g[0], rss, b[0] / x[0] if b else None))
    print(f"  ({load()})")
    return out


def cpu_honesty(opt, sets):
    """CPU of the ingest on every core over CPU pinned to core 0, each the least of N."""
    print(f"CPU honesty: ingest on every core, then pinned to one core ({load()})")
    db = os.path.join(opt["work"], "cpu.db")
    out = []
    for label, path, _ in sets:
        cpu = {"all": [], "one": []}
        for i in range(opt["runs"]):
            for mode, pin in (("all", []), ("one", ["taskset", "-c", "0"])):
                cpu[mode].append(ingest(opt, opt["build"], db, path, pin)[1])
        a, o = min(cpu["all"]), min(cpu["one"])
        print(f"  {label:<26} CPU every core {a:6.2f} s, one core {o:6.2f} s: {a / o:.2f}x")
        out.append((label, a / o))
    return out


def busy_loop():
    """A process spinning on the last core, as another job on the machine would."""
    cmd = ["sh", "-c", "while :; do :; done"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(os.cpu_count() - 1)] + cmd
    return subprocess.Popen(cmd, start_new_session=True)


def main():
    opt = options(sys.argv[1:])
    if shutil.which("xmllint") is None:
        sys.exit("xmllint is not installed (apt-get install libxml2-utils)")
    sets = inputs(opt)
    print(f"{os.cpu_count()} CPUs, {opt['runs']} runs each, best wall time kept")
    quiet = ratios(opt, sets, "Ingest against xmllint --stream --noout")
    loaded = []
    if opt["load"]:
        spin = busy_loop()
        try:
            loaded = ratios(opt, sets, "The same beside a busy loop on one core")
        finally:
            os.killpg(spin.pid, signal.SIGTERM)
            spin.wait()
    honesty = cpu_honesty(opt, sets) if shutil.which("taskset") else []
    ok = True
    print("Summary")
    for name, rows in (("", quiet), ("loaded: ", loaded)):
        for label, r, x, g, rss, before in rows:
            good = r <= RATIO_LIMIT and rss < RSS_LIMIT_MIB
            ok &= good
            was = f" (before: {before:4.2f}x)" if before else ""
            print(f"  {name}{label:<26} ingest {g:6.2f} s / xmllint {x:6.2f} s = {r:4.2f}x{was} "
                  f"(limit {RATIO_LIMIT}x; {r / RATIO_LIMIT:.0%} of it), peak RSS {rss:.1f} MiB "
                  f"{'ok' if good else 'MISSED'}")
    for label, r in honesty:
        ok &= r <= CPU_LIMIT
        print(f"  CPU {label:<22} every core / one core = {r:4.2f}x (limit {CPU_LIMIT}x) "
              f"{'ok' if r <= CPU_LIMIT else 'MISSED'}")
    print(f"  ({load()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
