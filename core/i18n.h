/*
 * i18n.h - words for people go through gettext (DESIGN.md); codes, JSON keys
 * and cause names stay English and are never marked.
 *
 * Library code translates with the text domain named here, so that it needs
 * no textdomain() of its own: cli/ picks the locale and binds the domain to
 * its catalogue once, at start (cli/i18n.c).  Until then, and whenever no
 * catalogue is found, every string is the English it was written in.
 *
 *   _("text")               translated now
 *   N_("text")              marked for the catalogue, translated where shown
 *   P_("1 x", "%ld xs", n)  the plural form for n
 *   C_("context", "text")   translated apart from the same text elsewhere
 *
 * po/ holds the catalogues; xgettext finds these keywords (po/CMakeLists.txt).
 */
#ifndef DM_I18N_H
#define DM_I18N_H

#include <libintl.h>

#define DM_TEXTDOMAIN "dmarcstat"

#define _(s) dgettext(DM_TEXTDOMAIN, s)
#define N_(s) s
#define P_(one, many, n) dngettext(DM_TEXTDOMAIN, one, many, (unsigned long)(n))

/* gettext's pgettext: the context and the text joined by EOT are the key. */
static inline const char *
dm_pgettext(const char *key, const char *text)
{
	const char *t = dgettext(DM_TEXTDOMAIN, key);

	return t == key ? text : t;
}
#define C_(ctx, s) dm_pgettext(ctx "\004" s, s)

#endif /* DM_I18N_H */
