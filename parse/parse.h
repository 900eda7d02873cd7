/*
 * parse.h - DMARC aggregate report XML to the model of core/model.h, streaming.
 *
 * The parser pulls bytes from a struct dm_source through libxml2's SAX2 parser
 * (xmlCreateIOParserCtxt) and hands each <record> to a struct dm_sink as soon
 * as it closes, so memory stays bounded by the caps in struct dm_limits
 * whatever the report's size.  It reads RFC 7489 (with or without the
 * dmarc-xml/0.1 namespace, and the pre-RFC draft with <identities>) and RFC
 * 9990 (urn:ietf:params:xml:ns:dmarc-2.0).  It is lenient but never silent:
 * every real-world quirk it repairs is counted in struct dm_feedback.fixups. It
 * is safe: no network, no DTD, no entity expansion; a document with a DOCTYPE
 * is rejected.
 *
 * It does not decompress, sniff containers or store anything: see ingest/ and
 * sql/.
 *
 * Typical use:
 *   1. dm_parser_new() with the limits and the sink.
 *   2. dm_parse_run() once per XML document (the parser can be reused).
 *   3. dm_parser_free().
 */
#ifndef DM_PARSE_H
#define DM_PARSE_H

#include "error.h"
#include "io.h"
#include "limits.h"
#include "model.h"

struct dm_parser;

/*
 * Creates a parser.  lim and sink are copied; lim NULL means
 * dm_limits_default(), sink NULL a sink with no callbacks.  Returns DM_OK and
 * sets *out, or DM_ENOMEM (*out is then NULL). It installs, for the whole
 * process, a libxml2 external entity loader that refuses everything (libxml2
 * has only a global one).
 */
int dm_parser_new(struct dm_parser **out, const struct dm_limits *lim,
    const struct dm_sink *sink, struct dm_error *err) DM_WUR;

/*
 * Parses one XML document from src, calling the sink's begin() before the first
 * record (or at </feedback> when there is none), record() per record
 * (rec->index counts from 1) and end() once the whole document has been read
 * and found well-formed.  A UTF-8 BOM and whitespace before the first '<' are
 * skipped (and counted as fix-ups).  Missing <report_metadata> or
 * <policy_published> are not errors: their fields are NULL.  If begin() returns
 * DM_DONE, no record() follows, but fb->n_records and fb->total_count still
 * count every record parsed.
 *
 * Returns DM_OK, or:
 *   DM_EFORMAT with reason
 *     "empty"          "empty file" (nothing, or only a BOM and whitespace)
 *     "not_xml"        "not XML: starts with \"...\""
 *     "xml_malformed"  "XML not well-formed at line 9: Opening and ending tag
 *                      mismatch: ..." (also for content after </feedback>)
 *     "doctype"        "DOCTYPE not allowed in a DMARC report"
 *     "entity"         an entity reference (unreachable: DOCTYPEs are refused)
 *   DM_ESKIP with reason "not_aggregate": well-formed, but not ours:
 *     "not a DMARC aggregate report: root element is <html>", or JSON
 *     ("not a DMARC aggregate report: JSON (SMTP TLS report?)")
 *   DM_ELIMIT with reason "limit"; the message names the cap, e.g. "XML nesting
 *     deeper than 64 (DM_MAX_XML_DEPTH)", "text longer than 65536 bytes
 *     (DM_MAX_TEXT_BYTES)", "more than 2000000 records in one report
 *     (DM_MAX_RECORDS)"
 *   DM_ENOMEM
 *   any error
 * returned by src.read (its code, reason and message kept) or by a sink
 * callback (returned unchanged, with what the callback wrote into err). On
 * error after begin() no end() is called.  libxml2's per-thread error handlers
 * are replaced during the call (nothing is printed) and restored before it
 * returns.
 */
int dm_parse_run(struct dm_parser *p, const struct dm_source *src,
    struct dm_error *err) DM_WUR;

/* Frees the parser; NULL is fine. */
void dm_parser_free(struct dm_parser *p);

/* Writes "libxml2/2.9.14", the version of the libxml2 running, into buf. */
void dm_parse_versions(char *buf, size_t n);

#endif /* DM_PARSE_H */
