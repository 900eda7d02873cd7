/*
 * version.c - the versions of the libraries ingest/ runs with (libarchive and
 * its compressors, zlib, libcurl, GMime, GLib), as each reports
 * them at run time (the shared libraries loaded may be newer than the headers
 * built against), for `dmarcstat --version`.
 */
#include <archive.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "ingest.h"

void
dm_ingest_versions(char *buf, size_t n)
{
	/* "libarchive 3.6.2 zlib/1.2.13 liblzma/5.4.1 ...": its compressors. */
	const char *details = archive_version_details();
	const char *rest = strchr(details, ' ');
	int len;

	if (rest != NULL) /* past "libarchive 3.6.2" */
		rest = strchr(rest + 1, ' ');
	len = snprintf(buf, n, "libarchive/%d.%d.%d%s",
	    archive_version_number() / 1000000,
	    archive_version_number() / 1000 % 1000,
	    archive_version_number() % 1000, rest != NULL ? rest : "");
	/* gzip is inflated with zlib directly too: the same zlib, normally. */
	if (len >= 0 && (size_t)len < n &&
	    (strstr(buf, "zlib/") == NULL ||
	        strstr(buf, zlibVersion()) == NULL))
		len += snprintf(
		    buf + len, n - (size_t)len, " zlib/%s", zlibVersion());
	/* libcurl for IMAP inputs. */
	if (len >= 0 && (size_t)len < n)
		len += snprintf(buf + len, n - (size_t)len, " libcurl/%s",
		    curl_version_info(CURLVERSION_NOW)->version);
	if (len >= 0 && (size_t)len < n)
		snprintf(buf + len, n - (size_t)len,
		    " gmime/%u.%u.%u glib/%u.%u.%u", gmime_major_version,
		    gmime_minor_version, gmime_micro_version,
		    glib_major_version, glib_minor_version, glib_micro_version);
}
