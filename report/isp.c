/*
 * isp.c - one name per ISP for the many org_names their report generators use.
 *
 * Receivers name themselves inconsistently across generators and years
 * ("google.com", "Google Inc.", "Google, Inc."; "Outlook.com", "Enterprise
 * Outlook", "Microsoft Corporation"; "ニフティ株式会社", "NIFTY Corporation").
 * A user asks "what did Yahoo do", so reports group by ISP.  An org_name is
 * folded by rule (fold() below: case, punctuation, full-width letters,
 * corporate forms such as "Inc." or "株式会社") and looked up in a table of
 * folded names: predictable, and "AMAZON-SES", "Orange." or "Google, Inc."
 * need no entry of their own.  An org_name not in it is shown as reported,
 * unless other org_names of the database fold the same way ("Foo Mail, Inc.",
 * "FOO MAIL INC", "Foo-Mail LLC"): those are one ISP, named by one of them
 * with its corporate suffix cut (struct isp_names).
 */
#include "report.h"
#include "report_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

/* Longest folded name compared; longer org_names are nobody's in the table. */
#define FOLD_MAX DM_ISP_KEY_MAX

/*
 * Folded names (as fold() gives them: tests/check_report.c holds every key to
 * that), in strcmp order for bsearch.  North America and Europe's large
 * mailbox providers and filters, and Japan's carriers and ISPs by their
 * English and Japanese company names and their mail domains.
 */
static const struct isp_entry {
	const char *key, *isp;
} isps[] = {
    {"1 1", "GMX/WEB.DE"},
    {"1 1 mail media", "GMX/WEB.DE"},
    {"amazon", "Amazon"},
    {"amazon com", "Amazon"},
    {"amazon ses", "Amazon"},
    {"amazon web services", "Amazon"},
    {"amazonses com", "Amazon"},
    {"aol", "Yahoo"},
    {"aol com", "Yahoo"},
    {"apple", "Apple (iCloud)"},
    {"apple icloud", "Apple (iCloud)"},
    {"au", "KDDI (au)"},
    {"au com", "KDDI (au)"},
    {"aws", "Amazon"},
    {"barracuda", "Barracuda"},
    {"barracuda networks", "Barracuda"},
    {"biglobe", "BIGLOBE"},
    {"biglobe ne jp", "BIGLOBE"},
    {"cisco", "Cisco"},
    {"cisco com", "Cisco"},
    {"cisco systems", "Cisco"},
    {"comcast", "Comcast"},
    {"comcast cable", "Comcast"},
    {"comcast net", "Comcast"},
    {"deutsche telekom", "T-Online"},
    {"docomo", "NTT Docomo"},
    {"docomo ne jp", "NTT Docomo"},
    {"enterprise outlook", "Microsoft"},
    {"ezweb ne jp", "KDDI (au)"},
    {"fastmail", "Fastmail"},
    {"fastmail com", "Fastmail"},
    {"free", "Free"},
    {"free fr", "Free"},
    {"gmail com", "Google"},
    {"gmx", "GMX/WEB.DE"},
    {"gmx de", "GMX/WEB.DE"},
    {"gmx net", "GMX/WEB.DE"},
    {"gmx web de", "GMX/WEB.DE"},
    {"google", "Google"},
    {"google com", "Google"},
    {"hotmail", "Microsoft"},
    {"hotmail com", "Microsoft"},
    {"i softbank jp", "SoftBank"},
    {"icloud", "Apple (iCloud)"},
    {"icloud com", "Apple (iCloud)"},
    {"iphmx com", "Cisco"},
    {"kddi", "KDDI (au)"},
    {"kddi au", "KDDI (au)"},
    {"kddi com", "KDDI (au)"},
    {"la poste", "La Poste"},
    {"laposte net", "La Poste"},
    {"lineヤフー", "Yahoo! JAPAN (LY)"},
    {"ly", "Yahoo! JAPAN (LY)"},
    {"mail ru", "Mail.ru"},
    {"mail ru group", "Mail.ru"},
    {"microsoft", "Microsoft"},
    {"microsoft com", "Microsoft"},
    {"mimecast", "Mimecast"},
    {"mimecast org", "Mimecast"},
    {"nifty", "NIFTY"},
    {"nifty com", "NIFTY"},
    {"ntt communications", "OCN"},
    {"ntt docomo", "NTT Docomo"},
    {"nttコミュニケーションズ", "OCN"},
    {"nttドコモ", "NTT Docomo"},
    {"oath", "Yahoo"},
    {"ocn", "OCN"},
    {"ocn ne jp", "OCN"},
    {"office 365", "Microsoft"},
    {"orange", "Orange"},
    {"orange fr", "Orange"},
    {"outlook com", "Microsoft"},
    {"proofpoint", "Proofpoint"},
    {"protection outlook com", "Microsoft"},
    {"proton", "Proton"},
    {"proton me", "Proton"},
    {"protonmail com", "Proton"},
    {"rakuten", "Rakuten"},
    {"rakuten co jp", "Rakuten"},
    {"rakuten group", "Rakuten"},
    {"rakuten jp", "Rakuten"},
    {"rakuten mobile", "Rakuten"},
    {"seznam", "Seznam"},
    {"seznam cz", "Seznam"},
    {"so net", "So-net"},
    {"so net ne jp", "So-net"},
    {"softbank", "SoftBank"},
    {"softbank jp", "SoftBank"},
    {"softbank ne jp", "SoftBank"},
    {"sony network communications", "So-net"},
    {"t online", "T-Online"},
    {"t online de", "T-Online"},
    {"trend micro", "Trend Micro"},
    {"verizon media", "Yahoo"},
    {"vk", "Mail.ru"},
    {"web de", "GMX/WEB.DE"},
    {"xs4all", "XS4ALL"},
    {"xs4all nl", "XS4ALL"},
    {"yahoo", "Yahoo"},
    {"yahoo co jp", "Yahoo! JAPAN (LY)"},
    {"yahoo com", "Yahoo"},
    {"yahoo holdings", "Yahoo"},
    {"yahoo japan", "Yahoo! JAPAN (LY)"},
    {"yahoo japan ly", "Yahoo! JAPAN (LY)"},
    {"yahooinc com", "Yahoo"},
    {"yandex", "Yandex"},
    {"yandex ru", "Yandex"},
    {"zoho", "Zoho"},
    {"zoho com", "Zoho"},
    {"ソニーネットワークコミュニケーションズ", "So-net"},
    {"ソフトバンク", "SoftBank"},
    {"ニフティ", "NIFTY"},
    {"ビッグローブ", "BIGLOBE"},
    {"ヤフー", "Yahoo! JAPAN (LY)"},
    {"楽天グループ", "Rakuten"},
    {"楽天モバイル", "Rakuten"},
};

/* Trailing words that say only what kind of company it is. */
static const char *const corporate[] = {"ab", "ag", "bv", "co", "company",
    "corp", "corporation", "gmbh", "inc", "incorporated", "kk", "limited",
    "llc", "ltd", "nv", "oy", "plc", "pty", "sa", "sas", "spa", "srl"};

/* Japanese corporate forms, before or after the name, with no space. */
static const char *const forms_ja[] = {"株式会社", "有限会社", "合同会社"};

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* A Japanese corporate form at s: its length, else 0. */
static size_t
form_at(const char *s)
{
	size_t i, n;

	for (i = 0; i < sizeof(forms_ja) / sizeof(forms_ja[0]); i++) {
		n = strlen(forms_ja[i]);
		if (strncmp(s, forms_ja[i], n) == 0)
			return n;
	}
	return 0;
}

/* The ASCII character of a full-width form at s (U+FF01-U+FF5E, "ＫＤＤＩ"),
 * else 0. */
static int
fullwidth_at(const unsigned char *s)
{
	if (s[0] == 0xef && s[1] == 0xbc && s[2] >= 0x81 && s[2] <= 0xbf)
		return s[2] - 0x81 + 0x21;
	if (s[0] == 0xef && s[1] == 0xbd && s[2] >= 0x80 && s[2] <= 0x9e)
		return s[2] - 0x80 + 0x60;
	return 0;
}

static int
is_corporate(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof(corporate) / sizeof(corporate[0]); i++)
		if (strcmp(word, corporate[i]) == 0)
			return 1;
	return 0;
}

/* Appends c to out (n bytes with the NUL), after one space when a separator
 * came before it; 0 when out is full. */
static int
put(char *out, size_t n, size_t *len, int c, int *gap)
{
	if (*len + 2 >= n)
		return 0;
	if (*gap && *len > 0)
		out[(*len)++] = ' ';
	*gap = 0;
	out[(*len)++] = (char)c;
	out[*len] = '\0';
	return 1;
}

/* Cuts trailing corporate words ("google inc" -> "google"), keeping one. */
static void
drop_corporate(char *out)
{
	char *sp;

	while ((sp = strrchr(out, ' ')) != NULL && is_corporate(sp + 1))
		*sp = '\0';
}

/*
 * s folded into out: ASCII letters lower-cased, full-width letters and digits
 * made ASCII, every run of other ASCII characters (space, punctuation) and
 * Japanese corporate forms one space between words, trailing corporate words
 * dropped; other characters kept.  "Google, Inc." -> "google",
 * "AMAZON-SES" -> "amazon ses", "ニフティ株式会社" -> "ニフティ".
 */
static void
fold(const char *s, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, skip;
	int gap = 0, c;

	out[0] = '\0';
	while (*p != '\0') {
		if ((skip = form_at((const char *)p)) > 0) {
			gap = 1;
			p += skip;
			continue;
		}
		c = fullwidth_at(p) ? fullwidth_at(p) : *p;
		p += fullwidth_at(p) ? 3 : 1;
		if (c >= 0x80 || is_alnum(c)) {
			if (!put(out, n, &len,
			        c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c, &gap))
				break;
		} else
			gap = 1;
	}
	drop_corporate(out);
}

static int
by_key(const void *k, const void *e)
{
	return strcmp(k, ((const struct isp_entry *)e)->key);
}

/* The table's entry of a folded name, or NULL. */
static const struct isp_entry *
table_get(const char *key)
{
	return bsearch(
	    key, isps, sizeof(isps) / sizeof(isps[0]), sizeof(isps[0]), by_key);
}

/*
 * The table's entry of org_name, by its folded name, else, when it is a mail
 * address (some generators write their reporting address as org_name:
 * "noreply-dmarc-support@google.com") or a host name (a gateway writes its
 * own: "esa1.example.c3s2.iphmx.com"), by the address's domain or a parent
 * of it ("dmarc_support@corp.mail.ru" -> mail.ru), never a bare top-level
 * domain.  key is org_name folded.
 */
static const struct isp_entry *
table_find(const char *org_name, const char *key)
{
	const struct isp_entry *e = table_get(key);
	const char *d = strrchr(org_name, '@');
	char dom[FOLD_MAX];

	if (d != NULL)
		d++;
	else if (strchr(org_name, ' ') == NULL &&
	         (d = strchr(org_name, '.')) != NULL)
		d++; /* the whole name was key */
	for (; e == NULL && d != NULL && strchr(d, '.') != NULL;
	     d = strchr(d, '.') + 1) {
		fold(d, dom, sizeof(dom));
		e = table_get(dom);
	}
	return e;
}

const char *
dm_isp_name(const char *org_name)
{
	const struct isp_entry *e;
	char key[FOLD_MAX];

	if (org_name == NULL || org_name[0] == '\0')
		return "(unknown)";
	fold(org_name, key, sizeof(key));
	e = table_find(org_name, key);
	return e != NULL ? e->isp : org_name;
}

const char *
dm_isp_table_check(void)
{
	char key[FOLD_MAX];
	size_t i;

	for (i = 0; i < sizeof(isps) / sizeof(isps[0]); i++) {
		fold(isps[i].key, key, sizeof(key));
		if (strcmp(key, isps[i].key) != 0 ||
		    (i > 0 && strcmp(isps[i - 1].key, isps[i].key) >= 0))
			return isps[i].key;
	}
	return NULL;
}

/* ---- The org_names of one database ---- */

static int
by_org(const void *a, const void *b)
{
	return strcmp(
	    ((const struct isp_org *)a)->org, ((const struct isp_org *)b)->org);
}

static int
by_key_then_org(const void *a, const void *b)
{
	const struct isp_org *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->org, y->org);
}

static int
add_org(void *ctx, const char *org, struct dm_error *err)
{
	struct isp_names *n = ctx;
	struct isp_org *e;

	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		struct isp_org *v = dm_realloc(n->v, cap * sizeof(*v));

		if (v == NULL)
			return dm_error_set(err, DM_ENOMEM, _("out of memory"));
		n->v = v;
		n->cap = cap;
	}
	e = &n->v[n->n];
	memset(e, 0, sizeof(*e));
	if ((e->org = dm_strdup(org)) == NULL)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	n->n++;
	fold(org, e->key, sizeof(e->key));
	return DM_OK;
}

/* 1 when s has both upper- and lower-case ASCII letters, or is not ASCII:
 * written the way a company writes its name, not shouted or folded. */
static int
mixed_case(const char *s)
{
	int upper = 0, lower = 0;

	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return 1;
		upper |= *s >= 'A' && *s <= 'Z';
		lower |= *s >= 'a' && *s <= 'z';
	}
	return upper && lower;
}

/* Cuts trailing separators and corporate words of a display name, in
 * place: "Foo Mail, Inc." -> "Foo Mail", "Orange." -> "Orange". */
static void
trim_display(char *s)
{
	char word[32], *end, *sp;
	size_t i, n;

	for (;;) {
		n = strlen(s);
		while (n > 0 && (unsigned char)s[n - 1] < 0x80 &&
		       !is_alnum(s[n - 1]))
			s[--n] = '\0';
		sp = strrchr(s, ' ');
		end = sp != NULL ? sp + 1 : NULL;
		/* One word is left as it is, corporate or not. */
		if (end == NULL || sp == s || strlen(end) >= sizeof(word))
			return;
		for (i = 0; end[i] != '\0'; i++)
			word[i] = end[i] >= 'A' && end[i] <= 'Z'
			              ? (char)(end[i] + 'a' - 'A')
			              : end[i];
		word[i] = '\0';
		if (!is_corporate(word))
			return;
		*sp = '\0';
	}
}

/* Names the group of org_names v[0..n) (n > 1, one folded key): the one
 * written in mixed case, else any, trimmed; ties by byte order. */
static char *
group_name(const struct isp_org *v, size_t n)
{
	char *best = NULL, *t;
	int best_mixed = 0, mixed;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((t = dm_strdup(v[i].org)) == NULL) {
			dm_free(best);
			return NULL;
		}
		trim_display(t);
		mixed = mixed_case(t);
		if (best == NULL || mixed > best_mixed ||
		    (mixed == best_mixed && strcmp(t, best) < 0)) {
			dm_free(best);
			best = t;
			best_mixed = mixed;
		} else
			dm_free(t);
	}
	return best;
}

/* Names each group of unknown org_names that fold alike (n->v sorted by
 * key). */
static int
name_groups(struct isp_names *n)
{
	size_t i, j, k;
	char *name;

	for (i = 0; i < n->n; i = j) {
		for (j = i + 1;
		     j < n->n && strcmp(n->v[j].key, n->v[i].key) == 0; j++)
			;
		if (n->v[i].isp != NULL || j - i < 2 || n->v[i].key[0] == '\0')
			continue;
		if ((name = group_name(&n->v[i], j - i)) == NULL)
			return DM_ENOMEM;
		n->v[i].made = name;
		for (k = i; k < j; k++)
			n->v[k].isp = name;
	}
	return DM_OK;
}

int
dm_isp_names_load(struct isp_names *n, struct dm_query *q, struct dm_error *err)
{
	const struct isp_entry *e;
	size_t i;
	int rc;

	memset(n, 0, sizeof(*n));
	if ((rc = dm_query_org_names(q, add_org, n, err)) != DM_OK)
		return rc;
	for (i = 0; i < n->n; i++) {
		e = table_find(n->v[i].org, n->v[i].key);
		n->v[i].isp = e != NULL ? e->isp : NULL;
	}
	if (n->n > 0)
		qsort(n->v, n->n, sizeof(*n->v), by_key_then_org);
	if (name_groups(n) != DM_OK)
		return dm_error_set(err, DM_ENOMEM, _("out of memory"));
	for (i = 0; i < n->n; i++)
		if (n->v[i].isp == NULL)
			n->v[i].isp = dm_isp_name(n->v[i].org);
	if (n->n > 0)
		qsort(n->v, n->n, sizeof(*n->v), by_org);
	return DM_OK;
}

const char *
dm_isp_names_get(void *names, const char *org_name)
{
	const struct isp_names *n = names;
	const struct isp_org *e = NULL;
	struct isp_org k;

	if (org_name != NULL && n != NULL && n->n > 0) {
		k.org = (char *)(uintptr_t)org_name;
		e = bsearch(&k, n->v, n->n, sizeof(*n->v), by_org);
	}
	return e != NULL ? e->isp : dm_isp_name(org_name);
}

static int
mark_org(void *ctx, const char *org, struct dm_error *err)
{
	struct isp_names *n = ctx;
	struct isp_org k, *e = NULL;

	(void)err;
	k.org = (char *)(uintptr_t)org;
	if (n->n > 0)
		e = bsearch(&k, n->v, n->n, sizeof(*n->v), by_org);
	/* A name stored after the names were loaded has no row to mark. */
	if (e != NULL)
		e->in_period = 1;
	return DM_OK;
}

int
dm_isp_names_period(struct isp_names *n, struct dm_query *q,
    const struct dm_query_filter *f, struct dm_error *err)
{
	n->period = 1;
	return dm_query_period_org_names(q, f, mark_org, n, err);
}

int
dm_isp_names_orgs(const struct isp_names *n, const char *isp, const char *sep,
    struct dm_buf *out, size_t *count)
{
	size_t i;
	const char *p;
	int rc = DM_OK;

	*count = 0;
	for (i = 0; i < n->n && rc == DM_OK; i++) {
		if (strcmp(n->v[i].isp, isp) != 0 ||
		    (n->period && !n->v[i].in_period))
			continue;
		if ((*count)++ > 0)
			rc = dm_buf_adds(out, sep);
		/* A list's separator never comes from a name. */
		for (p = n->v[i].org; *p != '\0' && rc == DM_OK; p++)
			rc = dm_buf_add(out, *p == DM_LIST_SEP ? "?" : p, 1);
	}
	return rc;
}

int
dm_isp_names_use(struct isp_names *n, struct dm_query *q, struct dm_error *err)
{
	int rc = dm_isp_names_load(n, q, err);

	return rc == DM_OK ? dm_query_set_isp_names(q, dm_isp_names_get, n, err)
	                   : rc;
}

void
dm_isp_names_done(struct isp_names *n, struct dm_query *q)
{
	/* The table alone from now on: n is about to go. */
	if (dm_query_set_isp_names(q, dm_isp_names_get, NULL, NULL) != DM_OK)
		return;
	dm_isp_names_free(n);
}

void
dm_isp_names_free(struct isp_names *n)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		dm_free(n->v[i].org);
		dm_free(n->v[i].made);
	}
	dm_free(n->v);
	memset(n, 0, sizeof(*n));
}
