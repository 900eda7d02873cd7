/*
 * names.c - the dns/ handle, and what it knows without asking DNS: registrable
 * domains (libpsl) and ASN/country (libmaxminddb).
 *
 * libpsl's psl_latest() takes the newer of its built-in list and Debian's
 * (package publicsuffix), so an old build still knows new suffixes.  Names are
 * lower-cased first (libpsl compares bytes) and IP literals kept away from it
 * (it would call "192.0.2.10" a domain under "10").  MMDB files are opened
 * memory-mapped; several may be given (an ASN file and a country file are
 * separate downloads at MaxMind and DB-IP), and each field comes from the
 * first file that has it, in MaxMind's layout or IPinfo's.
 */
#include "dns_int.h"
#include "i18n.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libpsl.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
dm_dns_open(
    struct dm_dns **out, const struct dm_dns_options *opt, struct dm_error *err)
{
	struct dm_dns *d;
	int rc;

	*out = NULL;
	if ((d = dm_calloc(1, sizeof(*d))) == NULL)
		return dm_error_set(err, DM_ENOMEM, "out of memory");
	d->timeout_ms =
	    opt->timeout_ms > 0 ? opt->timeout_ms : DM_DNS_TIMEOUT_MS;
	d->tries = opt->tries > 0 ? opt->tries : DM_DNS_TRIES;
	d->concurrency =
	    opt->concurrency > 0 ? opt->concurrency : DM_DNS_CONCURRENCY;
	if ((rc = dns_channel_open(d, opt, err)) != DM_OK ||
	    (rc = services_init(d, err)) != DM_OK) {
		dm_dns_close(d);
		return rc;
	}
	/* Falls back to the built-in list when Debian's file is missing. */
	d->psl = psl_latest(NULL);
	*out = d;
	return DM_OK;
}

void
dm_dns_close(struct dm_dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	spf_free(d->spf);
	dns_channel_close(d);
	services_free(d->svc);
	for (i = 0; i < d->n_mmdb; i++)
		MMDB_close(&d->mmdb[i]);
	dm_free(d->mmdb);
	if (d->psl != NULL && d->psl != psl_builtin())
		psl_free((psl_ctx_t *)(uintptr_t)d->psl);
	dm_free(d);
}

int
dm_dns_add_mmdb(struct dm_dns *d, const char *path, struct dm_error *err)
{
	struct stat sb;
	MMDB_s *grown;
	int rc;

	if (stat(path, &sb) != 0 && errno == ENOENT)
		return DM_DONE;
	grown = dm_realloc(d->mmdb, (d->n_mmdb + 1) * sizeof(*grown));
	if (grown == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	d->mmdb = grown;
	rc = MMDB_open(path, MMDB_MODE_MMAP, &d->mmdb[d->n_mmdb]);
	if (rc != MMDB_SUCCESS)
		return dm_error_set(err, DM_EFORMAT,
		    _("%s: not a readable MaxMind DB: %s%s%s"), path,
		    MMDB_strerror(rc), rc == MMDB_IO_ERROR ? ": " : "",
		    rc == MMDB_IO_ERROR ? strerror(errno) : "");
	d->n_mmdb++;
	return DM_OK;
}

int
name_normalise(const char *name, char *out, size_t size)
{
	size_t n = strlen(name), i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= size)
		return -1;
	for (i = 0; i < n; i++) {
		char c = name[i];

		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return 0;
}

char *
text_trim(char *s)
{
	size_t n;

	s += strspn(s, " \t\r");
	n = strlen(s);
	while (n > 0 && strchr(" \t\r", s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

static int
is_ip_literal(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1;
}

const char *
dm_dns_base_domain(
    const struct dm_dns *d, const char *name, char *out, size_t size)
{
	const char *reg;
	char lower[256];

	if (size > 0)
		out[0] = '\0';
	if (name == NULL || name_normalise(name, lower, sizeof(lower)) != 0 ||
	    is_ip_literal(lower) || d->psl == NULL)
		return NULL;
	reg = psl_registrable_domain(d->psl, lower);
	if (reg == NULL || strlen(reg) >= size)
		return NULL;
	memcpy(out, reg, strlen(reg) + 1);
	return out;
}

/* ---- ASN and country ---- */

/* Copies a string value at path into buf; NULL when absent or not a string.
 */
static const char *
mmdb_string(MMDB_entry_s *e, char *buf, size_t size, const char *const *path)
{
	MMDB_entry_data_s v;

	if (MMDB_aget_value(e, &v, path) != MMDB_SUCCESS || !v.has_data ||
	    v.type != MMDB_DATA_TYPE_UTF8_STRING || v.data_size >= size ||
	    v.data_size == 0)
		return NULL;
	memcpy(buf, v.utf8_string, v.data_size);
	buf[v.data_size] = '\0';
	return buf;
}

/* MaxMind's autonomous_system_number (uint32), or IPinfo's "AS15169". */
static int64_t
mmdb_asn(MMDB_entry_s *e)
{
	static const char *const maxmind[] = {"autonomous_system_number", NULL};
	static const char *const ipinfo[] = {"asn", NULL};
	MMDB_entry_data_s v;
	char buf[32], *end;
	long long n;

	if (MMDB_aget_value(e, &v, maxmind) == MMDB_SUCCESS && v.has_data &&
	    v.type == MMDB_DATA_TYPE_UINT32)
		return v.uint32;
	if (mmdb_string(e, buf, sizeof(buf), ipinfo) == NULL ||
	    strncmp(buf, "AS", 2) != 0)
		return -1;
	errno = 0;
	n = strtoll(buf + 2, &end, 10);
	return errno == 0 && *end == '\0' && n >= 0 && n <= 4294967295LL ? n
	                                                                 : -1;
}

/* Fills what is still unknown in h from one file's entry for the IP. */
static void
geo_from(MMDB_entry_s *e, struct dm_host *h, struct dm_dns_geo_buf *b)
{
	static const char *const org[] = {
	    "autonomous_system_organization", NULL};
	static const char *const as_name[] = {"as_name", NULL};
	static const char *const iso[] = {"country", "iso_code", NULL};
	static const char *const flat[] = {"country", NULL};

	if (h->asn < 0)
		h->asn = mmdb_asn(e);
	if (h->as_org == NULL && (h->as_org = mmdb_string(e, b->as_org,
	                              sizeof(b->as_org), org)) == NULL)
		h->as_org =
		    mmdb_string(e, b->as_org, sizeof(b->as_org), as_name);
	if (h->country == NULL && (h->country = mmdb_string(e, b->country,
	                               sizeof(b->country), iso)) == NULL)
		h->country =
		    mmdb_string(e, b->country, sizeof(b->country), flat);
}

void
dm_dns_geo(const struct dm_dns *d, const char *ip, struct dm_host *h,
    struct dm_dns_geo_buf *b)
{
	MMDB_lookup_result_s r;
	int gai, mmerr;
	size_t i;

	for (i = 0; i < d->n_mmdb; i++) {
		r = MMDB_lookup_string(&d->mmdb[i], ip, &gai, &mmerr);
		if (gai == 0 && mmerr == MMDB_SUCCESS && r.found_entry)
			geo_from(&r.entry, h, b);
	}
}
