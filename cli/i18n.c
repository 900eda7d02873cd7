/*
 * i18n.c - the language of what dmarcstat says: the user's locale
 * (LANGUAGE, LC_ALL, LC_MESSAGES, LANG) or report's and explain's --lang, and
 * the catalogue that holds it.
 *
 * Only LC_MESSAGES follows the user.  Character handling, numbers and dates
 * stay those of the "C" locale, so that a German LC_NUMERIC cannot put a comma
 * in a JSON number and a Turkish LC_CTYPE cannot change how "pass" compares.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "i18n.h"

#ifndef DM_LOCALEDIR
#define DM_LOCALEDIR "/usr/local/share/locale"
#endif

/* The first of the variables that name the language of messages, or NULL. */
static const char *
wanted_locale(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
	size_t i;
	const char *v;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = getenv(vars[i])) != NULL && v[0] != '\0')
			return v;
	}
	return NULL;
}

/*
 * gettext translates nothing while LC_MESSAGES is "C", and setlocale() falls
 * back to "C" when the wanted locale (ja_JP.UTF-8) is not generated on this
 * machine, as on many servers and containers.  C.UTF-8 is always there and is
 * not "C" to gettext, which then follows LANGUAGE: set from the wanted locale,
 * ja_JP.UTF-8 finds the ja catalogue.
 */
static void
messages_locale(void)
{
	const char *want, *language = getenv("LANGUAGE");

	if (setlocale(LC_MESSAGES, "") != NULL)
		return;
	if (setlocale(LC_MESSAGES, "C.UTF-8") == NULL)
		return;
	if ((language == NULL || language[0] == '\0') &&
	    (want = wanted_locale()) != NULL)
		setenv("LANGUAGE", want, 1);
}

void
dm_cli_i18n_init(void)
{
	const char *dir = getenv("DMARCSTAT_LOCALEDIR");

	messages_locale();
	bindtextdomain(
	    DM_TEXTDOMAIN, dir != NULL && dir[0] != '\0' ? dir : DM_LOCALEDIR);
	bind_textdomain_codeset(DM_TEXTDOMAIN, "UTF-8");
	/* strerror(3) translates through the C library's own catalogue, in
	 * the character set of LC_CTYPE, which stays "C": its Japanese came
	 * out as "????".  UTF-8, like ours. */
	bind_textdomain_codeset("libc", "UTF-8");
	textdomain(DM_TEXTDOMAIN);
}

int
dm_cli_i18n_lang(const char *lang)
{
	const char *cur;
	char keep[128];

	if (strcmp(lang, "en") != 0 && strcmp(lang, "ja") != 0)
		return -1;
	setenv("LANGUAGE", lang, 1);
	/* LANGUAGE counts only outside the "C" locale; setting the locale
	 * again also drops the translations gettext has cached. */
	cur = setlocale(LC_MESSAGES, NULL);
	if (cur == NULL || strcmp(cur, "C") == 0 || strcmp(cur, "POSIX") == 0)
		setlocale(LC_MESSAGES, "C.UTF-8");
	else if (strlen(cur) < sizeof(keep)) {
		memcpy(keep, cur, strlen(cur) + 1);
		setlocale(LC_MESSAGES, keep);
	}
	return 0;
}
