/*
 * text.h - report text made safe for a terminal, a plain-text mail or a
 * spreadsheet cell.
 *
 * Every string in a report was written by a stranger.  Printed raw, ESC and the
 * other C0/C1 controls drive the terminal (clear the screen, set the title,
 * move the cursor to forge lines), and the Unicode bidirectional controls
 * (U+202E RIGHT-TO-LEFT OVERRIDE and its kin) make text read differently from
 * what it is ("moc.elpmaxe" shown as "example.com").  Each writer of text walks
 * a string character by character with dm_text_char() and replaces what is not
 * plain; dm_text_escape() does that into a buffer.
 */
#ifndef DM_TEXT_H
#define DM_TEXT_H

#include <stddef.h>

#include "mem.h"

enum dm_text_kind {
	DM_TEXT_PLAIN = 0, /* printable: copy it */
	DM_TEXT_CONTROL,   /* C0 or C1 control, DEL, U+2028/U+2029 */
	DM_TEXT_BIDI,      /* a bidirectional control: U+061C, U+200E, U+200F,
	                      U+202A-U+202E, U+2066-U+2069 */
	DM_TEXT_INVALID    /* a byte that does not start valid UTF-8 */
};

/*
 * Classifies the character at s (NUL-terminated, not empty) and sets *len to
 * its length in bytes (1 for an invalid byte).
 */
enum dm_text_kind dm_text_char(const char *s, size_t *len);

/*
 * Appends s to b with every control character as '?' and every bidirectional
 * control and invalid byte as U+FFFD; keep lists characters (e.g. "\n") that
 * are copied although they are controls (NULL: none).  DM_OK, DM_ENOMEM or
 * DM_ELIMIT.
 */
int dm_text_escape(struct dm_buf *b, const char *s, const char *keep);

#endif /* DM_TEXT_H */
