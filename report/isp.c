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
 * need no entry of their own.  An org_name not in it is shown as reported.
 */
#include "report.h"
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

/* Longest folded name compared; longer org_names are nobody's in the table. */
#define FOLD_MAX 128

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
    {"yahoo", "Yahoo"},
    {"yahoo co jp", "Yahoo! JAPAN (LY)"},
    {"yahoo com", "Yahoo"},
    {"yahoo holdings", "Yahoo"},
    {"yahoo japan", "Yahoo! JAPAN (LY)"},
    {"yahoo japan ly", "Yahoo! JAPAN (LY)"},
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

const char *
dm_isp_name(const char *org_name)
{
	const struct isp_entry *e;
	char key[FOLD_MAX];

	if (org_name == NULL || org_name[0] == '\0')
		return "(unknown)";
	fold(org_name, key, sizeof(key));
	e = bsearch(
	    key, isps, sizeof(isps) / sizeof(isps[0]), sizeof(isps[0]), by_key);
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
