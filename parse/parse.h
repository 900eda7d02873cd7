/*
 * parse.h - DMARC aggregate report XML to the model of core/model.h, streaming.
 *
 * The parser pulls bytes from a struct dm_source through libxml2's xmlTextReader (xmlReaderForIO)
 * and hands each <record> to a struct dm_sink as soon as it closes, so memory stays bounded by
 * the caps in struct dm_limits whatever the report's size.  It reads RFC 7489 (with or without
 * the dmarc-xml/0.1 namespace, and the pre-RFC draft with <identities>) and RFC 9990
 * (urn:ietf:params:xml:ns:dmarc-2.0).  It is lenient but never silent: every real-world quirk it
 * repairs is counted in struct dm_feedback.fixups.  It is safe: no network, no DTD, no entity
 * expansion; a document with a DOCTYPE is rejected.
 *
 * It does not decompress, sniff containers or store anything: see ingest/ and sql/.
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
 * Creates a parser.  lim and sink are copied.  Returns DM_OK and sets *out, or DM_ENOMEM.
 */
int dm_parser_new(struct dm_parser **out, const struct dm_limits *lim,
    const struct dm_sink *sink, struct dm_error *err) DM_WUR;

/*
 * Parses one XML document from src, calling the sink's begin() before the first record (or at
 * the end when there is none), record() per record and end() when </feedback> closes.
 *
 * Returns DM_OK, or:
 *   DM_EFORMAT  not XML, not well-formed ("XML not well-formed at line 9: ..."), a DOCTYPE,
 *               or not an aggregate report ("not a DMARC aggregate report: root element is
 *               <html>"); reason is "xml_malformed", "doctype", "not_aggregate", "empty" ...
 *   DM_ESKIP    the payload is a recognised non-aggregate document; reason "not_aggregate"
 *   DM_ELIMIT   a cap was hit; the message names it ("XML depth exceeds 64 (DM_MAX_XML_DEPTH)")
 *   DM_ENOMEM
 *   any error returned by src.read (its message kept) or by a sink callback (passed through).
 * On error after begin() no end() is called.
 */
int dm_parse_run(struct dm_parser *p, const struct dm_source *src, struct dm_error *err) DM_WUR;

/* Frees the parser; NULL is fine. */
void dm_parser_free(struct dm_parser *p);

#endif /* DM_PARSE_H */
