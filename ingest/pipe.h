/*
 * pipe.h - a record sink that runs another sink on a second thread, so that
 * the parser reads the next records while the store writes the last ones.
 *
 * The parser calls the pipe's sink; the pipe copies each report and record into
 * a bounded ring and returns at once; a worker thread calls the inner sink with
 * the copies, in order.  The inner sink runs only between the first call of a
 * report and dm_pipe_finish(): whoever owns the inner sink's state (the store)
 * may use it freely outside that window.
 *
 * An inner sink error reaches the parser at its next record() and at end()
 * (which waits for the worker), so dm_parse_run() returns it as before; once
 * an error happened the worker runs nothing more of that payload.
 */
#ifndef DM_PIPE_H
#define DM_PIPE_H

#include "model.h"

struct dm_pipe;

/* Starts the worker thread; inner must outlive the pipe. */
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
