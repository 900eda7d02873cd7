/*
 * escape.h - strings from strangers made safe to show on a terminal or in a
 * plain-text report cell.
 *
 * File names inside zips, MIME attachment names, report fields and the
 * messages that quote them are chosen by whoever sent the report.  Shown raw,
 * ESC starts a terminal control sequence (clear the screen, set the title),
 * CR and LF forge lines, and U+202E (right-to-left override) reorders what
 * follows.  dm_escape_text makes every such character visible instead: the
 * text stays readable, nothing in it can act on the terminal, and no two
 * different strings print the same.  It is the one escaping for terminals
 * and text cells; JSON, CSV and HTML have their own (json.h, report/).
 *
 * What is escaped, and how:
 *   - C0 controls (TAB, LF, CR, ESC, ...) and DEL: \x09 \x0a \x0d \x1b \x7f;
 *   - C1 controls (U+0080-U+009F, where CSI U+009B also starts a sequence):
 *     \u009b;
 *   - bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
 *     U+2066-U+2069) and line and paragraph separators (U+2028, U+2029):
 *     \u202e;
 *   - bytes that are not valid UTF-8: \xff;
 *   - the backslash itself: \\, so that an escape cannot be forged.
 * Everything else, other scripts included, is kept as it is.
 *
 * Report writers (report/) walk their text with dm_char_kind instead and
 * replace what is not plain with '?' or U+FFFD: a cell keeps its width and a
 * spreadsheet or a mail shows no backslash codes.  Both use the one classifier
 * below, so they agree on what may not reach a reader as it is.
 */
#ifndef DM_ESCAPE_H
#define DM_ESCAPE_H

#include <stddef.h>

#include "mem.h"

enum dm_char_kind {
	DM_CHAR_PLAIN = 0, /* printable: copy it */
	DM_CHAR_CONTROL,   /* C0 or C1 control, DEL, U+2028/U+2029 */
	DM_CHAR_BIDI,      /* a bidirectional control: U+061C, U+200E, U+200F,
	                      U+202A-U+202E, U+2066-U+2069 */
	DM_CHAR_INVALID    /* a byte that does not start valid UTF-8 */
};

/*
 * Classifies the character at s (NUL-terminated, not empty) and sets *len to
 * its length in bytes (1 for an invalid byte).
 */
enum dm_char_kind dm_char_kind(const char *s, size_t *len);

/* Appends s (NULL appends nothing), escaped.  DM_OK, DM_ENOMEM or DM_ELIMIT
 * (the buffer's cap: nothing of s appended past it). */
int dm_escape_text(struct dm_buf *b, const char *s);

/*
 * s escaped into buf (n bytes, n >= 4), for one line of a message: when it does
 * not fit, it ends with "..." (never cut inside an escape or a UTF-8
 * character).  Returns buf.  NULL gives "".
 */
const char *dm_escape_line(char *buf, size_t n, const char *s);

#endif /* DM_ESCAPE_H */
