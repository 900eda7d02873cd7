/*
 * dkim.c - the DKIM key record of each selector the reports show.
 *
 * The record (RFC 6376 section 3.6.1) is tag=value pairs: v=DKIM1 (first if
 * present), k= key type (rsa by default, ed25519 from RFC 8463), p= the key in
 * base64 (empty: revoked), h= hash algorithms, t= flags.  The key itself is
 * decoded by OpenSSL, which tells its type and size: RFC 8301 says verifiers
 * must not accept RSA keys under 1024 bits nor SHA-1 signatures.  A key that
 * cannot be decoded is as good as none: receivers report permerror.
 */
#include "dns_int.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Where a key's description goes: "rsa 2048-bit key". */
struct key_info {
	char text[96];
	int bits;
	int usable;
	char problem[160];
};

/* The value of tag name in a DKIM record, copied into out; NULL when absent.
 */
static const char *
dkim_tag(const char *rec, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = rec;

	while (*p != '\0') {
		const char *end = p + strcspn(p, ";"), *v;
		size_t n;

		p += strspn(p, " \t");
		if ((size_t)(end - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0 &&
		    (v = p + nlen + strspn(p + nlen, " \t"))[0] == '=') {
			v++;
			n = 0;
			for (; v < end && n + 1 < size; v++) {
				if (*v != ' ' && *v != '\t' && *v != '\r' &&
				    *v != '\n')
					out[n++] = *v; /* folding whitespace */
			}
			out[n] = '\0';
			return out;
		}
		p = *end == ';' ? end + 1 : end;
	}
	return NULL;
}

/* Decodes base64 into a new buffer; NULL (and *n 0) when invalid. */
static unsigned char *
base64(const char *b64, size_t *n)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *out;
	int got;

	*n = 0;
	if (len == 0 || len % 4 != 0)
		return NULL;
	if ((out = dm_malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	got = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (got < 0) {
		dm_free(out);
		return NULL;
	}
	pad = (size_t)(b64[len - 1] == '=') + (size_t)(b64[len - 2] == '=');
	*n = (size_t)got - pad;
	return out;
}

/* An RSA key: SubjectPublicKeyInfo (RFC 6376), or a bare PKCS#1 key, which
 * some publish and most verifiers accept. */
static void
rsa_info(const unsigned char *der, size_t n, struct key_info *k)
{
	const unsigned char *p = der;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)n);

	if (key == NULL) {
		p = der;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
	}
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		snprintf(k->problem, sizeof(k->problem),
		    "p= is not an RSA public key");
		EVP_PKEY_free(key);
		return;
	}
	k->bits = EVP_PKEY_get_bits(key);
	EVP_PKEY_free(key);
	snprintf(k->text, sizeof(k->text), "rsa %d-bit key", k->bits);
	if (k->bits < 1024)
		snprintf(k->problem, sizeof(k->problem),
		    "an RSA key of %d bits: receivers must not accept keys "
		    "under 1024 bits (RFC 8301)",
		    k->bits);
	else
		k->usable = 1;
}

/* Reads the key of p= as k= says. */
static void
key_info(const char *k_tag, const char *p, struct key_info *k)
{
	unsigned char *der;
	size_t n;

	memset(k, 0, sizeof(*k));
	if ((der = base64(p, &n)) == NULL) {
		snprintf(
		    k->problem, sizeof(k->problem), "p= is not valid base64");
		return;
	}
	if (k_tag == NULL || strcasecmp(k_tag, "rsa") == 0)
		rsa_info(der, n, k);
	else if (strcasecmp(k_tag, "ed25519") == 0 && n == 32) {
		snprintf(k->text, sizeof(k->text), "ed25519 key");
		k->bits = 256;
		k->usable = 1;
	} else if (strcasecmp(k_tag, "ed25519") == 0)
		snprintf(k->problem, sizeof(k->problem),
		    "p= holds %zu bytes; an ed25519 key is 32", n);
	else
		snprintf(k->problem, sizeof(k->problem),
		    "unknown key type k=%s", k_tag);
	dm_free(der);
}

/* 1 when h= leaves only SHA-1, which RFC 8301 forbids. */
static int
sha1_only(const char *h)
{
	return h != NULL && strcasecmp(h, "sha1") == 0;
}

static void
check_key(struct check_run *c, const struct dm_check_selector *s,
    const char *name, const char *rec)
{
	char k_tag[32], p[8192], h[64], v[16];
	const char *pv;
	struct key_info k;
	struct dm_check_item *it;
	int permerror_only =
	    s->result != NULL && strcmp(s->result, "permerror") == 0;

	if (dkim_tag(rec, "v", v, sizeof(v)) != NULL &&
	    strcmp(v, "DKIM1") != 0) {
		it = item_add(c, "dkim_key", s->selector, DM_CHECK_WRONG,
		    "%s: v=%s is not DKIM1", name, v);
		item_fix(c, it, "Start the record with v=DKIM1 (or drop v=).");
		return;
	}
	if ((pv = dkim_tag(rec, "p", p, sizeof(p))) == NULL || *pv == '\0') {
		it = item_add(c, "dkim_key", s->selector, DM_CHECK_WRONG,
		    "%s: %s", name,
		    pv != NULL ? "the key is revoked (empty p=)"
		               : "no p= tag: no key");
		item_fix(c, it,
		    "Publish the current public key for selector %s (the "
		    "sender that signs with it gives it), or stop signing "
		    "with this selector.",
		    s->selector);
		return;
	}
	key_info(dkim_tag(rec, "k", k_tag, sizeof(k_tag)), p, &k);
	if (!k.usable) {
		it = item_add(c, "dkim_key", s->selector, DM_CHECK_WRONG,
		    "%s: %s", name, k.problem);
		item_fix(c, it,
		    "Publish the key the signer gives for selector %s again, "
		    "whole and unchanged (a key of 2048 bits).",
		    s->selector);
	} else if (sha1_only(dkim_tag(rec, "h", h, sizeof(h)))) {
		it = item_add(c, "dkim_key", s->selector, DM_CHECK_WRONG,
		    "%s: %s, but h=sha1: receivers no longer accept SHA-1 "
		    "signatures (RFC 8301)",
		    name, k.text);
		item_fix(c, it, "Remove h=sha1 and sign with rsa-sha256.");
	} else
		item_add(c, "dkim_key", s->selector,
		    permerror_only ? DM_CHECK_CHANGED : DM_CHECK_OK,
		    "%s: %s%s%s", name, k.text,
		    k.bits == 1024 ? " (2048 bits is the norm now)" : "",
		    permerror_only ? "; the reports show permerror, so it "
		                     "was broken then"
		                   : "");
}

/* The one key record among the TXT records at name, or NULL. */
static const char *
key_record(struct check_run *c, const struct dm_check_selector *s,
    const char *name, const struct dns_txt *t)
{
	struct dm_check_item *it;

	if (t->n == 1)
		return t->recs[0];
	it = item_add(c, "dkim_key", s->selector, DM_CHECK_WRONG,
	    t->n == 0 ? "%s: no key record" : "%s: more than one record", name);
	if (t->n == 0)
		item_fix(c, it,
		    "Publish the DKIM key of selector %s at %s (a TXT "
		    "record, or the CNAME the sender gives).",
		    s->selector, name);
	else
		item_fix(c, it, "Keep one TXT record at %s.", name);
	return NULL;
}

void
check_dkim(struct check_run *c)
{
	size_t i;

	for (i = 0; i < c->ev->n_selectors && c->rc == DM_OK; i++) {
		const struct dm_check_selector *s = &c->ev->selectors[i];
		char name[600];
		const char *rec;
		struct dns_txt t;

		snprintf(name, sizeof(name), "%s._domainkey.%s", s->selector,
		    s->domain);
		if (dns_txt(c->d, name, &t) != DM_OK)
			c->rc = DM_ENOMEM;
		else if (dns_status_failed(t.status))
			item_dns_failed(c, "dkim_key", s->selector, t.status);
		else if ((rec = key_record(c, s, name, &t)) != NULL)
			check_key(c, s, name, rec);
		dns_txt_free(&t);
	}
}
