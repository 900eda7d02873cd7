"""Aggregate reports written as XML for the report tests, and ingested as users do."""
import os
import tempfile

from test_report_golden import run

DAY = 86400
NOV02 = 1793577600  # 2026-11-02 00:00 UTC, inside the golden tests' PERIOD


def record(ip, count, disp="reject", dkim="fail", spf="fail", header_from="example.com",
           dkim_auth=(), spf_auth=(), reasons=(), envelope_from=None):
    """One <record> of a report (count None: no <count> element)."""
    c = "" if count is None else f"<count>{count}</count>"
    rs = "".join(f"<reason><type>{t}</type><comment>{m}</comment></reason>" for t, m in reasons)
    dk = "".join(f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{r}</result></dkim>"
                 for d, s, r in dkim_auth)
    sp = "".join(f"<spf><domain>{d}</domain><scope>mfrom</scope><result>{r}</result></spf>"
                 for d, r in spf_auth)
    ef = f"<envelope_from>{envelope_from}</envelope_from>" if envelope_from else ""
    return (f"<record><row><source_ip>{ip}</source_ip>{c}<policy_evaluated>"
            f"<disposition>{disp}</disposition><dkim>{dkim}</dkim><spf>{spf}</spf>{rs}"
            f"</policy_evaluated></row><identifiers>{ef}<header_from>{header_from}</header_from>"
            f"</identifiers><auth_results>{dk}{sp}</auth_results></record>")


def report(org, rid, records, begin=NOV02, domain="example.com", p="reject", email=None,
           days=1):
    """A whole aggregate report as XML text, covering days days from begin."""
    email = email or f"dmarc@{org.lower().replace(' ', '')}.example"
    return (f"<?xml version=\"1.0\"?><feedback><report_metadata><org_name>{org}</org_name>"
            f"<email>{email}</email><report_id>{rid}</report_id><date_range><begin>{begin}"
            f"</begin><end>{begin + days * DAY - 1}</end></date_range></report_metadata>"
            f"<policy_published><domain>{domain}</domain><p>{p}</p></policy_published>"
            + "".join(records) + "</feedback>")


def ingest(db, tmp, reports):
    """Writes the reports as files and ingests them into db."""
    folder = tempfile.mkdtemp(dir=tmp)
    for i, xml in enumerate(reports):
        with open(os.path.join(folder, f"r{i:06d}.xml"), "w", encoding="utf-8") as f:
            f.write(xml)
    rc, out, err = run(["ingest", "--quiet", "--db", db, folder])
    assert rc == 0, f"ingest failed ({rc}): {err}"


