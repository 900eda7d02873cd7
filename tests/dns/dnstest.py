"""A real DNS server for the tests of enrich and check: dnsmasq on 127.0.0.1 at a free port, in a
temporary folder, with the zones of a test written inline, started and stopped by the test.

dnsmasq answers only from its own configuration (no-resolv, no-hosts, and local=/#/ makes every
other name NXDOMAIN), so no query ever leaves the machine.  Silent() is a UDP socket that is
bound and never read: as a resolver, or as the upstream of one zone (server=/zone/...), it
never answers, which is how timeouts are tested.

    with Silent() as hole, DnsServer(lines, silent_port=hole.port) as dns:
        run dmarcstat ... --resolver 127.0.0.1:{dns.port}
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class Silent:
    """A UDP socket on 127.0.0.1 that receives queries and never answers them."""

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.sock.close()


def _free_port():
    return random.randint(20000, 60999)


class DnsServer:
    """dnsmasq with the given configuration lines (host-record=, ptr-record=, txt-record=, ...).
    {SILENT} in a line is replaced by the port of a Silent() socket given as silent_port."""

    def __init__(self, lines, silent_port=None):
        self.lines = [ln.replace("{SILENT}", str(silent_port)) for ln in lines]
        self.dir = None
        self.port = None

    def _config(self, port):
        base = [
            f"port={port}",
            "listen-address=127.0.0.1",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "user=root" if os.geteuid() == 0 else "",
            f"pid-file={self.dir}/dnsmasq.pid",
            f"log-facility={self.dir}/dnsmasq.log",
            "cache-size=0",
            "local=/#/",
        ]
        path = os.path.join(self.dir, "dnsmasq.conf")
        with open(path, "w") as f:
            f.write("\n".join(x for x in base + self.lines if x) + "\n")
        return path

    def __enter__(self):
        if not os.access(DNSMASQ, os.X_OK):
            raise RuntimeError("dnsmasq is not installed (scripts/install-deps --test)")
        self.dir = tempfile.mkdtemp(prefix="dm-dns-")
        for _ in range(20):
            port = _free_port()
            conf = self._config(port)
            # dnsmasq forks and its parent exits once the socket is bound: ready on return.
            res = subprocess.run([DNSMASQ, f"--conf-file={conf}"], capture_output=True, text=True)
            if res.returncode == 0:
                self.port = port
                return self
            if "Address already in use" not in res.stderr:
                raise RuntimeError(f"dnsmasq failed: {res.stderr.strip()}")
        raise RuntimeError("dnsmasq: no free port found")

    def __exit__(self, *exc):
        pid_file = os.path.join(self.dir, "dnsmasq.pid")
        try:
            with open(pid_file) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
            # dnsmasq removes its pid file as it exits: wait for that, not for a time.
            deadline = time.monotonic() + 10
            while os.path.exists(pid_file) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def resolver(self):
        return f"127.0.0.1:{self.port}"


def report(org, report_id, domain, begin, end, records, p="none", sp=None, pct=100):
    """One aggregate report (RFC 7489 XML).  records: dicts with ip, count, header_from and
    optionally dkim [(domain, selector, result)], spf [(domain, result)], disposition,
    dkim_eval, spf_eval."""
    out = ['<?xml version="1.0"?>', "<feedback>",
           f"<report_metadata><org_name>{org}</org_name><email>noreply@{org}</email>"
           f"<report_id>{report_id}</report_id><date_range><begin>{begin}</begin>"
           f"<end>{end}</end></date_range></report_metadata>",
           f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf>"
           f"<p>{p}</p>" + (f"<sp>{sp}</sp>" if sp else "") + f"<pct>{pct}</pct></policy_published>"]
    for r in records:
        auth = "".join(f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{res}</result></dkim>"
                       for d, s, res in r.get("dkim", []))
        auth += "".join(f"<spf><domain>{d}</domain><result>{res}</result></spf>"
                        for d, res in r.get("spf", []))
        out.append(
            f"<record><row><source_ip>{r['ip']}</source_ip><count>{r['count']}</count>"
            f"<policy_evaluated><disposition>{r.get('disposition', 'none')}</disposition>"
            f"<dkim>{r.get('dkim_eval', 'fail')}</dkim><spf>{r.get('spf_eval', 'fail')}</spf>"
            f"</policy_evaluated></row><identifiers><header_from>{r['header_from']}</header_from>"
            f"</identifiers><auth_results>{auth}</auth_results></record>")
    out.append("</feedback>")
    return "\n".join(out) + "\n"
