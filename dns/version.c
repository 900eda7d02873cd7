/*
 * version.c - the versions of the libraries dns/ runs with, as each reports
 * them at run time, for `dmarcstat --version`.  libspf2 says its own; OpenSSL
 * is there for libcrypto (DKIM key sizes).
 */
/* As in spf.c: libspf2's headers need the BSD h_errno codes of glibc. */
#define _DEFAULT_SOURCE 1

#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <libpsl.h>
#include <maxminddb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <spf2/spf.h>
#include <stdio.h>
#include <string.h>

/* libpsl says "0.21.2 (+libidn2/2.3.3)": one name/version token each. */
static void
psl_version(char *buf, size_t n)
{
	const char *v = psl_get_version();
	size_t len = strcspn(v, " ");
	const char *plus = strstr(v, "(+");

	if (plus == NULL)
		snprintf(buf, n, "libpsl/%.*s", (int)len, v);
	else
		snprintf(buf, n, "libpsl/%.*s %.*s", (int)len, v,
		    (int)strcspn(plus + 2, ") "), plus + 2);
}

void
dm_dns_versions(char *buf, size_t n)
{
	int major = 0, minor = 0, patch = 0;
	char psl[128];

	SPF_get_lib_version(&major, &minor, &patch);
	psl_version(psl, sizeof(psl));
	snprintf(buf, n,
	    "c-ares/%s %s libmaxminddb/%s libspf2/%d.%d.%d openssl/%s",
	    ares_version(NULL), psl, MMDB_lib_version(), major, minor, patch,
	    OpenSSL_version(OPENSSL_VERSION_STRING));
}
