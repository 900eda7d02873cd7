/*
 * isp.c - one name per ISP for the many org_names their report generators use.
 *
 * Receivers name themselves inconsistently across generators and years
 * ("google.com", "Google Inc.", "Google LLC"; "Outlook.com", "Enterprise
 * Outlook", "Microsoft Corporation"). A user asks "what did Yahoo do", so
 * reports group by ISP.  A table of exact names (compared case-insensitively,
 * ignoring surrounding spaces) is predictable; an org_name not in it is shown
 * as reported.
 */
#include "report.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *org_name, *isp;
} isps[] = {
    {"google.com", "Google"},
    {"Google Inc.", "Google"},
    {"Google LLC", "Google"},
    {"Google", "Google"},
    {"Outlook.com", "Microsoft"},
    {"Enterprise Outlook", "Microsoft"},
    {"Microsoft Corporation", "Microsoft"},
    {"Microsoft", "Microsoft"},
    {"Hotmail", "Microsoft"},
    {"hotmail.com", "Microsoft"},
    {"outlook.com", "Microsoft"},
    {"protection.outlook.com", "Microsoft"},
    {"Yahoo", "Yahoo"},
    {"Yahoo! Inc.", "Yahoo"},
    {"Yahoo Inc.", "Yahoo"},
    {"yahoo.com", "Yahoo"},
    {"AOL", "Yahoo"},
    {"aol.com", "Yahoo"},
    {"Oath", "Yahoo"},
    {"Oath Inc.", "Yahoo"},
    {"Verizon Media", "Yahoo"},
    {"Yahoo Holdings", "Yahoo"},
    {"Mail.Ru", "Mail.ru"},
    {"mail.ru", "Mail.ru"},
    {"Mail.Ru Group", "Mail.ru"},
    {"VK", "Mail.ru"},
    {"Comcast", "Comcast"},
    {"comcast.net", "Comcast"},
    {"Comcast Cable", "Comcast"},
    {"GMX", "GMX/WEB.DE"},
    {"WEB.DE", "GMX/WEB.DE"},
    {"1&1", "GMX/WEB.DE"},
    {"1&1 Mail & Media GmbH", "GMX/WEB.DE"},
    {"gmx.net", "GMX/WEB.DE"},
    {"web.de", "GMX/WEB.DE"},
    {"Fastmail", "Fastmail"},
    {"FastMail Pty Ltd", "Fastmail"},
    {"fastmail.com", "Fastmail"},
    {"Proton", "Proton"},
    {"Proton AG", "Proton"},
    {"protonmail.com", "Proton"},
    {"proton.me", "Proton"},
    {"Zoho", "Zoho"},
    {"zoho.com", "Zoho"},
    {"Zoho Corporation", "Zoho"},
    {"Apple", "Apple (iCloud)"},
    {"Apple Inc.", "Apple (iCloud)"},
    {"icloud.com", "Apple (iCloud)"},
    {"iCloud", "Apple (iCloud)"},
    {"Amazon SES", "Amazon SES"},
    {"amazonses.com", "Amazon SES"},
    {"Mimecast", "Mimecast"},
    {"mimecast.org", "Mimecast"},
    {"Mimecast Ltd", "Mimecast"},
    {"Cisco", "Cisco"},
    {"Cisco Systems, Inc.", "Cisco"},
    {"cisco.com", "Cisco"},
    {"Orange", "Orange"},
    {"orange.fr", "Orange"},
    {"Yandex", "Yandex"},
    {"yandex.ru", "Yandex"},
    {"Yandex LLC", "Yandex"},
    {"Seznam.cz", "Seznam"},
    {"seznam.cz", "Seznam"},
    {"t-online.de", "T-Online"},
    {"Deutsche Telekom AG", "T-Online"},
    {"Proofpoint", "Proofpoint"},
    {"Proofpoint, Inc.", "Proofpoint"},
    {"Barracuda Networks", "Barracuda"},
    {"Trend Micro", "Trend Micro"},
    {"XS4ALL", "XS4ALL"},
    {"Free", "Free"},
    {"La Poste", "La Poste"},
};

/* strcasecmp of s trimmed of surrounding white space against name. */
static int
trimmed_equal(const char *s, const char *name)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

const char *
dm_isp_name(const char *org_name)
{
	size_t i;

	if (org_name == NULL || org_name[0] == '\0')
		return "(unknown)";
	for (i = 0; i < sizeof(isps) / sizeof(isps[0]); i++) {
		if (trimmed_equal(org_name, isps[i].org_name))
			return isps[i].isp;
	}
	return org_name;
}
