/*
 * parse_int.h - what parse/'s own files share; nothing outside parse/ includes
 * it.
 *
 *   parse.c     the run: the first bytes, libxml2's SAX2 callbacks, errors,
 *               raw XML of <extensions>
 *   elements.c  the element table (one small handler per element), and the
 *               assembly of the feedback and its records
 *   values.c    normalisation of values: trimming, keywords, numbers, dates,
 *               IP addresses
 *
 * Strings of the report are kept in struct field buffers owned by the parser
 * and reused from one record (and one run) to the next, so a long report
 * allocates nothing per record once the buffers have grown to the report's
 * longest values.  Keyword values (p, disposition, results) point to static
 * strings instead.
 */
#ifndef DM_PARSE_INT_H
#define DM_PARSE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#include "mem.h"
#include "parse.h"

/* Element ids: a position in the report's structure, not only a name (<domain>
 * has three). */
enum dm_el {
	EL_DOC = 0, /* the document itself: the parent of the root element */
	EL_FEEDBACK,
	EL_VERSION,
	EL_META,
	EL_ORG_NAME,
	EL_EMAIL,
	EL_EXTRA_CONTACT,
	EL_REPORT_ID,
	EL_DATE_RANGE,
	EL_BEGIN,
	EL_END,
	EL_ERROR,
	EL_GENERATOR,
	EL_POLICY,
	EL_POLICY_DOMAIN,
	EL_ADKIM,
	EL_ASPF,
	EL_P,
	EL_SP,
	EL_NP,
	EL_PCT,
	EL_FO,
	EL_TESTING,
	EL_DISCOVERY,
	EL_RECORD,
	EL_ROW,
	EL_SOURCE_IP,
	EL_MSG_COUNT,
	EL_EVALUATED,
	EL_DISPOSITION,
	EL_EVAL_DKIM,
	EL_EVAL_SPF,
	EL_REASON,
	EL_REASON_TYPE,
	EL_REASON_COMMENT,
	EL_IDENTIFIERS,
	EL_HEADER_FROM,
	EL_ENVELOPE_FROM,
	EL_ENVELOPE_TO,
	EL_AUTH,
	EL_DKIM,
	EL_DKIM_DOMAIN,
	EL_DKIM_SELECTOR,
	EL_DKIM_RESULT,
	EL_DKIM_HUMAN,
	EL_SPF,
	EL_SPF_DOMAIN,
	EL_SPF_SCOPE,
	EL_SPF_RESULT,
	EL_SPF_HUMAN,
	EL_EXTENSIONS, /* kept as raw XML, with everything inside it
	                  (EL_EXT_INNER) */
	EL_EXT_INNER,
	EL_UNKNOWN, /* outside both schemas: skipped with its subtree */
	EL_NUM
};

struct dm_parser;

/* An element's start as libxml2's SAX2 gives it (startElementNs). */
struct start_tag {
	const xmlChar *local, *prefix, *uri;
	int nb_namespaces;
	const xmlChar **namespaces; /* prefix, URI pairs */
	int nb_attributes;
	const xmlChar **attributes; /* local, prefix, URI, value, end */
};

/*
 * One element of the table.  start runs when the element opens; end when it
 * closes, with its text trimmed, cleaned of control characters and
 * NUL-terminated (s may be modified).  Only elements with text set collect
 * text.
 */
struct dm_element {
	const char *name;
	enum dm_el id;
	int (*start)(struct dm_parser *p);
	int (*end)(struct dm_parser *p, char *s, size_t n);
	int text;
};

/* An owned, reusable string: absent unless set. */
struct field {
	struct dm_buf b;
	int set;
};

struct dkim_slot {
	struct field domain, selector, human;
	const char *result;
};

struct spf_slot {
	struct field domain, human;
	const char *scope, *result;
};

struct reason_slot {
	struct field comment;
	const char *type;
};

/* A growable array of slots (v) and of their public twins (pub), capped by the
 * caller. */
struct slots {
	void *v, *pub;
	size_t n, cap, size, pub_size;
};

/*
 * strip.c: XML comments and processing instructions cut out of the byte
 * stream, which libxml2's reader would keep in memory.  dm_strip writes at
 * most n + DM_STRIP_SLACK bytes (what an earlier chunk held back, such as a
 * "<!-" that may open a comment); n = 0 marks the end and flushes them.  out
 * may be in - DM_STRIP_SLACK: the output never overtakes the input.
 */
#define DM_STRIP_SLACK 16
struct dm_strip {
	unsigned width; /* bytes per code unit: 1, or 2 (UTF-16) */
	int big_endian;
	int state, started;    /* started: markup or text seen before */
	unsigned char held[6]; /* "<!-" at most */
	size_t held_len;
	unsigned char part[2]; /* a code unit cut by the chunk's end */
	size_t part_len;
	uint64_t dropped; /* comments and processing instructions cut */
};

void dm_strip_init(struct dm_strip *s, unsigned width, int big_endian);
size_t dm_strip(
    struct dm_strip *s, const unsigned char *in, size_t n, unsigned char *out);

enum dm_ns {
	NS_NONE = 0,
	/* http://dmarc.org/dmarc-xml/0.1 */
	NS_DMARC_01,
	/* urn:ietf:params:xml:ns:dmarc-2.0 */
	NS_DMARC_20,
	/* the namespace of a <feedback> root in neither (foreign_namespace) */
	NS_FOREIGN,
	NS_OTHER
};

struct dm_parser {
	struct dm_limits lim;
	struct dm_sink sink;
	xmlParserCtxtPtr ctxt; /* the run's SAX2 parser */
	int stopped;           /* a handler failed: p->err says why */
	struct dm_error *err;  /* the error of the current dm_parse_run() */

	/* Bytes read ahead of libxml2: to check the start (BOM, whitespace,
	 * encoding), then each chunk before filter_bytes() hands it over. */
	const struct dm_source *src;
	unsigned char head[4096];
	size_t head_len, head_off;
	int src_failed;
	struct dm_error src_err;

	int src_eof; /* the source said it has no more */

	/* The byte filters of io_read(): read_utf8 (UTF-8 documents), strip.c,
	 * then filter_bytes. */
	struct dm_strip strip;
	/* Filtered bytes not yet handed over, when libxml2 asks for fewer than
	 * a chunk's worth (reads of up to DM_STRIP_SLACK bytes). */
	unsigned char pend[4 * DM_STRIP_SLACK];
	size_t pend_off, pend_len;
	int utf16; /* UTF-16 input: bytes below 0x20 are halves of characters */
	int check_utf8; /* UTF-8 input: bytes that are not UTF-8 become U+FFFD
	                 */
	int in_prolog;  /* no element has started yet */
	char carry[8];  /* the prolog's last bytes, for a "<!DOCTYPE" split */
	size_t carry_len;
	uint64_t text_run; /* bytes since the last '<' */

	/* The first libxml2 error of the run, already formatted. */
	int xml_failed;
	struct dm_error xml_err;

	const struct dm_element **stack;
	size_t depth, stack_cap;
	struct dm_buf text;
	int text_on; /* the open element collects text */
	struct field
	    *ext; /* extensions being serialised into this field, or NULL */
	size_t ext_depth;      /* stack depth of the <extensions> element being
	                          serialised */
	int ext_open;          /* a start tag waits for its ">" or "/>" */
	int ext_had_child;     /* the open element has had a child element */
	int ext_in_text;       /* text is being written ... */
	int ext_blank;         /* ... all whitespace so far ... */
	size_t ext_text_start; /* ... from this offset */

	/* The report. */
	struct dm_feedback fb;
	enum dm_ns ns;
	/* a NS_FOREIGN root's namespace URI, borrowed from the reader */
	const char *root_ns;
	/* <report_metadata> and <policy_published> were read: what makes a
	 * <feedback> in a foreign namespace DMARC's */
	int has_meta, has_policy;
	int begun, ended, skip_records, fb_dirty;
	struct field version, org_name, email, extra_contact, report_id,
	    generator;
	struct field domain, fo, fb_ext;
	struct slots errors; /* struct field, const char * */
	const char **error_ptrs;

	/* The record being read. */
	struct dm_record rec;
	char ip[64];
	int ip_set;
	struct field header_from, envelope_from, envelope_to, rec_ext;
	struct slots dkim, spf, reasons;
	int reason_typed; /* the open <reason> had a <type> */
};

/* elements.c */
void dm_parse_fixup(struct dm_parser *p, enum dm_fixup f);
const struct dm_element *dm_el_find(enum dm_el parent, const char *name);
void dm_parse_report_reset(struct dm_parser *p);
int dm_parse_report_finish(struct dm_parser *p, struct dm_error *err);
void dm_parser_free_report(struct dm_parser *p);
int dm_field_set(struct dm_parser *p, struct field *f, const char *s, size_t n);
const char *dm_field_get(const struct field *f);

/* values.c */
size_t dm_trim(char **s, size_t n);
size_t dm_strip_controls(char *s, size_t n);
const char *dm_keyword(
    const char *const *set, const char *s, size_t n, int *case_fixed);
int dm_parse_u64(const char *s, size_t n, uint64_t *v);

/* Sets a DM_ELIMIT error (reason "limit") in the run's error and returns
 * DM_ELIMIT. */
int dm_parse_limit(struct dm_parser *p, const char *fmt, ...) DM_PRINTF(2, 3);

#endif /* DM_PARSE_INT_H */
