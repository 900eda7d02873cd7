/*
 * pipe.h - a record sink that stores a big report's records on a second
 * thread, so that the parser reads on while the store writes.
 *
 * The parser calls the pipe's sink.  begin() and end() run the inner sink at
 * once, on the caller's thread, and return what it returned: a duplicate's
 * DM_DONE reaches the parser before it sends a record, and the pipe drops any
 * record sent after it.  The first records of a report also go straight to
 * the inner sink; past them (a report too big to store in one go) the pipe
 * copies the records into batches that a worker thread hands to the inner
 * sink, in order, while the parser goes on.  end() waits for the worker
 * before it runs.  So the inner sink runs only between a report's begin()
 * and its end() or dm_pipe_finish(), and never on two threads at once: whoever
 * owns its state (the store) may use it freely outside that window.
 *
 * An inner sink error stops the payload: record() and end() return it (an
 * error of the worker at the first record() after the worker met it, at the
 * latest at end()), and the inner sink sees nothing more of the payload.
 */
#ifndef DM_PIPE_H
#define DM_PIPE_H

#include "model.h"

struct dm_pipe;

/* A pipe around inner, which must outlive it; its thread starts when first
 * needed. */
int dm_pipe_new(
    struct dm_pipe **out, const struct dm_sink *inner, struct dm_error *err);

/* The sink to hand to the parser. */
struct dm_sink dm_pipe_sink(struct dm_pipe *p);

/*
 * Waits until the worker has run everything sent, then returns the first error
 * of the inner sink since the previous call (DM_OK if none, with err cleared)
 * and forgets it.  Call it after every dm_parse_run(), whatever it returned.
 */
int dm_pipe_finish(struct dm_pipe *p, struct dm_error *err);

/* Stops and joins the worker; p may be NULL. */
void dm_pipe_free(struct dm_pipe *p);

#endif /* DM_PIPE_H */
