/*
 * pipe.h - the store's thread: the caller's thread walks and parses, and hands
 * every call for the store over to a second thread, which runs them in the
 * order they were made.
 *
 * So the store of one unit overlaps the reading and parsing of the next ones
 * (an ingest spends about as long in each), and the store itself stays
 * single-threaded: only the second thread uses it while the pipe exists, and
 * the caller again once dm_pipe_drain() returned.
 *
 * Three kinds of calls cross:
 *   - posts (dm_pipe_post): fn(ctx, arg) runs later; arg is laid out in room
 *     from dm_pipe_room(), which lives until fn has run;
 *   - calls (dm_pipe_call): the caller waits until fn(ctx, arg) has run after
 *     everything before it, and gets its result; arg may point anywhere;
 *   - the sink (dm_pipe_sink): the parser's begin/record/end are copied and
 *     run on the inner sink.  A begin() that says DM_DONE (a duplicate) makes
 *     the pipe drop that report's records; an inner error fails the report
 *     (its later calls are dropped) and is kept for dm_pipe_sink_status().
 * Records and posts go over in batches, through one mutex and two condition
 * variables; nobody polls.  Memory is bounded: at most a few batches wait.
 *
 * A post or call returning an error (below DM_OK) stops the pipe: what was
 * sent after it is dropped, and every later post, call, sink call and drain
 * returns that error with its message.
 */
#ifndef DM_PIPE_H
#define DM_PIPE_H

#include <stddef.h>

#include "model.h"

struct dm_pipe;

/* What the store's thread runs: DM_OK, or an error that stops the pipe. */
typedef int (*dm_pipe_fn)(void *ctx, void *arg, struct dm_error *err);
/* Run instead of a post's fn when the pipe has stopped, to give back what arg
 * owns (a descriptor, memory). */
typedef void (*dm_pipe_drop)(void *ctx, void *arg);

/*
 * Starts the store's thread: posts and calls get ctx, the sink's calls go to
 * inner (which must outlive the pipe).
 */
int dm_pipe_new(struct dm_pipe **out, void *ctx, const struct dm_sink *inner,
    struct dm_error *err);

/*
 * Room for n bytes (aligned for any type) for the argument of the next post;
 * NULL when out of memory.
 */
void *dm_pipe_room(struct dm_pipe *p, size_t n);

/*
 * Sends fn(ctx, arg) for later; DM_OK, or the error that stopped the pipe.
 * When fn will never run (the pipe stopped before it, or is freed with it
 * unsent), drop(ctx, arg) runs instead if drop is not NULL: at once on this
 * thread when the post itself fails, else on whichever thread drops it.
 */
int dm_pipe_post(struct dm_pipe *p, dm_pipe_fn fn, dm_pipe_drop drop, void *arg,
    struct dm_error *err);

/* Runs fn(ctx, arg) after everything sent, and returns what it returned. */
int dm_pipe_call(
    struct dm_pipe *p, dm_pipe_fn fn, void *arg, struct dm_error *err);

/* The sink to hand to the parser. */
struct dm_sink dm_pipe_sink(struct dm_pipe *p);

/*
 * For the store's thread: the first error of the inner sink since the last
 * call (DM_OK if none, err cleared), forgotten.
 */
int dm_pipe_sink_status(struct dm_pipe *p, struct dm_error *err);

/* Waits until everything sent has run; DM_OK or the error that stopped it. */
int dm_pipe_drain(struct dm_pipe *p, struct dm_error *err);

/* Stops and joins the store's thread (dropping what is left); p may be NULL.
 */
void dm_pipe_free(struct dm_pipe *p);

#endif /* DM_PIPE_H */
