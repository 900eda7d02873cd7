/*
 * io.h - the byte stream that connects containers to the parser.
 *
 * ingest/ unwraps files, archives and mail parts into a struct dm_source;
 * parse/ pulls bytes from it in chunks.  Nothing is ever read whole.  A
 * source's read reports its own failures (a truncated gzip, a cap hit) in the
 * dm_error it is given, so that the parser can pass the real cause on instead
 * of "premature end of data".
 */
#ifndef DM_IO_H
#define DM_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct dm_source {
	void *ctx;
	/*
	 * Reads up to len bytes into buf.  Returns the number read, 0 at the
	 * end of the stream, or -1 after setting err.
	 */
	ssize_t (*read)(void *ctx, void *buf, size_t len, struct dm_error *err);
};

#endif /* DM_IO_H */
