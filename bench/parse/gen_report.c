/*
 * gen_report.c - writes a synthetic DMARC aggregate report with N records to a
 * file, shaped like Google's (two-space indentation, one DKIM and one SPF
 * result per record, a tenth of the sources IPv6), for bench_parse.
 *
 * Usage: bench_gen_report N out.xml
 */
#include <stdio.h>
#include <stdlib.h>

static const char head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"
    "<feedback>\n"
    "  <report_metadata>\n"
    "    <org_name>google.com</org_name>\n"
    "    <email>noreply-dmarc-support@google.com</email>\n"
    "    "
    "<extra_contact_info>https://support.google.com/a/answer/2466580</"
    "extra_contact_info>\n"
    "    <report_id>17391827719371928371</report_id>\n"
    "    <date_range>\n"
    "      <begin>1700006400</begin>\n"
    "      <end>1700092799</end>\n"
    "    </date_range>\n"
    "  </report_metadata>\n"
    "  <policy_published>\n"
    "    <domain>example.com</domain>\n"
    "    <adkim>r</adkim>\n"
    "    <aspf>r</aspf>\n"
    "    <p>quarantine</p>\n"
    "    <sp>quarantine</sp>\n"
    "    <pct>100</pct>\n"
    "  </policy_published>\n";

static void
write_ip(FILE *f, unsigned long i)
{
	if (i % 10 == 9)
		fprintf(f, "2001:db8:%lx::%lx", (i >> 16) & 0xffff, i & 0xffff);
	else
		fprintf(f, "%lu.%lu.%lu.%lu", 10 + (i >> 24) % 200,
		    (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
}

static void
write_record(FILE *f, unsigned long i)
{
	fputs("  <record>\n    <row>\n      <source_ip>", f);
	write_ip(f, i);
	fprintf(f,
	    "</source_ip>\n"
	    "      <count>%lu</count>\n"
	    "      <policy_evaluated>\n"
	    "        <disposition>%s</disposition>\n"
	    "        <dkim>%s</dkim>\n"
	    "        <spf>fail</spf>\n"
	    "      </policy_evaluated>\n"
	    "    </row>\n"
	    "    <identifiers>\n"
	    "      <header_from>example.com</header_from>\n"
	    "      <envelope_from>bounce%lu.example.net</envelope_from>\n"
	    "    </identifiers>\n"
	    "    <auth_results>\n"
	    "      <dkim>\n"
	    "        <domain>example.com</domain>\n"
	    "        <selector>s%lu</selector>\n"
	    "        <result>%s</result>\n"
	    "      </dkim>\n"
	    "      <spf>\n"
	    "        <domain>bounce%lu.example.net</domain>\n"
	    "        <scope>mfrom</scope>\n"
	    "        <result>softfail</result>\n"
	    "      </spf>\n"
	    "    </auth_results>\n"
	    "  </record>\n",
	    1 + i % 97, i % 3 == 0 ? "quarantine" : "none",
	    i % 3 == 0 ? "fail" : "pass", i % 50, i % 7,
	    i % 3 == 0 ? "fail" : "pass", i % 50);
}

int
main(int argc, char **argv)
{
	unsigned long n, i;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_gen_report N out.xml\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	if ((f = fopen(argv[2], "w")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	fputs(head, f);
	for (i = 0; i < n; i++)
		write_record(f, i);
	fputs("</feedback>\n", f);
	if (fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
