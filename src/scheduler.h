/**
 * collectd-ddoscoo - src/scheduler.h
 * SPDX-License-Identifier: MIT
 *
 * The decisions of a block's read, over time: which window each series
 * needs next (backfill up to MaxBackfill, in order), when a request may
 * start (MaxConcurrentRequests, MaxRequestsPerSecond, the read's deadline,
 * backoff after failures and throttling, and per statistic after
 * refusals), whose turn it is (series round robin, taking turns with
 * discovery), and what each answer means for the series and the block
 * (retries, pages, keys refused, instances gone). Pure: no
 * collectd, no libcurl; time, randomness and requests come through
 * sched_io_t, so tests drive it with a simulated clock.
 */
#ifndef SCHEDULER_H
#define SCHEDULER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* collectd's cdtime_t unit, 2^-30 s, so the glue passes cdtime() as is. */
typedef uint64_t sched_time_t;
#define SCHED_SECONDS(s) ((sched_time_t)(s) << 30)
#define SCHED_MS(ms) ((((sched_time_t)(ms)) << 30) / 1000)

/* MaxRequestsPerSecond counts starts within this long: a little over a
 * second, so that the API, whose clock starts when a request arrives, never
 * sees more. */
#define SCHED_RATE_WINDOW SCHED_MS(1050)
/* The pace (requests per rate window in use, up to MaxRequestsPerSecond)
 * climbs by one after this long of reaching it without a throttled answer;
 * a throttled answer halves it, at most once per rate window. */
#define SCHED_PACE_STEP SCHED_SECONDS(10)
/* The weight of a request's duration in the block's latency, a moving
 * average (about the last twenty answers). */
#define SCHED_LATENCY_WEIGHT 0.05
/* Too little time left in a read for another request. */
#define SCHED_MIN_REQUEST_TIME SCHED_MS(100)
#define SCHED_MAX_BACKOFF SCHED_SECONDS(60)
/* Requests for one window within one read, on transient failures. */
#define SCHED_MAX_ATTEMPTS 3
/* A statistic the API keeps refusing is asked again after 1, 2, 4 ...
 * minutes, at most an hour. */
#define SCHED_REFUSAL_FIRST SCHED_SECONDS(60)
#define SCHED_REFUSAL_MAX SCHED_SECONDS(3600)
/* Statistics (and variants) a block backs off apart: sched_series_t.stat
 * modulo this. */
#define SCHED_MAX_STATS 32

/* One series' windows. The glue keeps one in each of its series. */
typedef struct {
  time_t last_end;     /* EndTime of the newest dispatched window; 0: none */
  time_t given_up_end; /* skip windows up to this after a permanent error */
  size_t group;        /* the instance: series of one share it */
  size_t stat;         /* the statistic: series of one back off together */
  int batch;           /* windows one request may cover; 0: one */
  /* Seconds of its windows, its own (a statistic's fixed Interval), ends
   * at multiples of it: its newest window is the newest of them that is
   * complete by the block's latest, and MaxBackfill reaches as far back
   * as the block's windows. 0: the block's Window. */
  int step;
  bool latest_only; /* a state: only the newest window, no backfill */
  /* Asks nothing for now (its windows stay due): a series whose values
   * another series' requests fetch, or one that waits for what it needs
   * (the glue says which). */
  bool idle;
  /* A state that changes slowly: asked once every state_every seconds (its
   * newest window only, nothing caught up), with the requests the series
   * without one leave over. 0: every window. */
  int state_every;
  /* The request plan's (plan.h). cadence > 1: the series is asked every
   * cadence windows: all of them at once (batched over time: each window
   * stored, only later), or, thin, only the windows whose number (end /
   * window) is phase modulo cadence (a lower resolution). dropped: not
   * asked at all. */
  int cadence;
  int phase;
  bool thin;
  bool dropped;
  /* Its statistic's place in the block's priority (0 first): when not
   * every due request can start, a lower rank starts first, so that a
   * shortfall (a throttled pace) delays the least important series, which
   * then catch up, rather than any at random. But first of all, in each
   * window, every series' request that its plan promised (the first that
   * brings its values, each window or each cadence); only then the windows
   * a series fell behind (a backlog: at the first read, after an outage),
   * so that no series' backlog takes another's promised requests. */
  int rank;
  time_t served; /* the latest of the read in which it last had values */

  /* Within a read */
  time_t next_end;        /* the next window to fetch; 0: none in this read */
  time_t requested_first; /* the windows of the request in flight */
  time_t requested_end;
  bool in_flight;
  unsigned generation;  /* of the keys that signed the request in flight */
  bool after_rejection; /* started once keys had been refused */
  sched_time_t retry_at;
  int attempts;         /* at next_end */
  int page;             /* of a paged answer: the page to ask next, from 1 */
  sched_time_t started; /* when the request in flight started */
  bool probe;           /* it asks whether its refused statistic may again */

  /* Refused while other series of its statistic answer (an instance the
   * key may not read, or whose edition lacks the feature): it backs off
   * alone. */
  unsigned refusals;          /* in a row; 0: none */
  sched_time_t refused_until; /* its next try */
} sched_series_t;

/* A statistic the API refuses (SCHED_REFUSED): its series wait, and one
 * of them asks again after each step. */
typedef struct {
  unsigned refusals;       /* in a row, with this code: the step; 0: none */
  char code[64];           /* the API's error code */
  sched_time_t not_before; /* the next try */
  bool probing;            /* that try is in flight */
  sched_time_t answered;   /* when the last request answered was started */
} sched_refusal_t;

/* What an answer to a window's request was. */
typedef enum {
  SCHED_DONE,        /* the window's values, dispatched */
  SCHED_MORE,        /* a page of the answer: the next page is asked */
  SCHED_INVALID,     /* an unusable answer: the next read asks again */
  SCHED_NETWORK,     /* no answer at all: nothing more in this read */
  SCHED_TRANSIENT,   /* the service's trouble: again, after a backoff */
  SCHED_THROTTLED,   /* flow control: the whole block holds back */
  SCHED_CREDENTIALS, /* the keys were refused */
  SCHED_CLOCK,       /* the host clock is off: the block skips the window */
  SCHED_REFUSED,     /* the statistic (permission, parameters): backs off */
  SCHED_GONE,        /* the instance no longer exists */
  /* Not answered for a reason of the request's own (its kept-alive
   * connection died, its nonce was refused as used): */
  SCHED_AGAIN, /* asked again at once, signed anew */
  /* The glue replaces the series (a request of several instances refused
   * is split): no window done, nothing counted; the new series ask. */
  SCHED_SPLIT,
} sched_outcome_t;

typedef enum {
  SCHED_STARTED,
  SCHED_NO_KEYS, /* nothing can be signed: start nothing more this read */
  SCHED_FAILED,  /* this request could not be built: skip the series */
} sched_start_t;

/* The glue's side of a read. Answers arrive inside wait(), which hands
 * each to sched_window_done() (or to discovery). */
typedef struct {
  void *ctx;
  sched_time_t (*now)(void *ctx);
  double (*random)(void *ctx); /* uniform in [0, 1): backoff jitter */
  size_t (*series_count)(void *ctx);
  sched_series_t *(*series)(void *ctx, size_t i);
  /* Starts the request for series i's windows ending at first_end, ...,
   * last_end (one window unless the series has a batch); *generation:
   * which keys signed it (a number that grows when the keys change). */
  sched_start_t (*start_window)(void *ctx, size_t i, time_t first_end,
                                time_t last_end, sched_time_t deadline,
                                unsigned *generation);
  /* Discovery: whether it has a request to start, and starting it (1:
   * started, 0: none can start, -1: no keys). NULL: no discovery. */
  bool (*other_pending)(void *ctx);
  int (*start_other)(void *ctx, sched_time_t deadline);
  /* With nothing in flight: applies news (a completed discovery). Returns
   * true if the series changed, so the read plans again. */
  bool (*apply)(void *ctx);
  int (*in_flight)(void *ctx);
  /* Waits until `until`, or less if an answer arrives (with nothing in
   * flight, it just sleeps). */
  void (*wait)(void *ctx, sched_time_t until);
} sched_io_t;

typedef struct {
  int window;       /* seconds */
  int max_backfill; /* windows per series and read */
  int max_concurrent;
  int max_rps;    /* 0: unlimited */
  bool renewable; /* the keys can be renewed (not the block's own) */

  time_t given_up_end;     /* as in sched_series_t, for the whole block */
  sched_time_t not_before; /* backing off until then */
  unsigned failures;       /* transient failures in a row */
  bool keys_rejected;      /* the keys last used were refused: renew them */
  unsigned generation;     /* the newest keys that signed a request */
  /* The account's quota, learnt (additive increase, multiplicative
   * decrease) when it is below max_rps; with max_rps 0, none. */
  int pace;                /* starts per rate window in use, 1..max_rps */
  sched_time_t pace_cut;   /* when a throttled answer last halved it */
  sched_time_t pace_since; /* the climbing period's start */
  bool pace_reached;       /* the starts reached the pace in the period */
  size_t cursor;           /* where the next read starts, so none starves */
  sched_time_t *starts;    /* the last max_rps starts, a ring */
  size_t starts_next;      /* its oldest entry */
  sched_refusal_t refusals[SCHED_MAX_STATS]; /* per statistic */
  /* How long the API takes to answer (seconds, from a request's start to
   * its answer, a moving average; 0: none answered yet): with
   * max_concurrent requests at a time, at most max_concurrent / latency
   * start per second, whatever the pace. */
  double latency;

  /* The read in progress */
  const sched_io_t *io;
  time_t latest;
  bool stop;
  size_t skipped; /* windows more than MaxBackfill behind */
  size_t gone;    /* groups whose instance answered "gone" */
} sched_t;

/* Returns 0, or -1 when memory ran out. */
int sched_init(sched_t *s, int window, int max_backfill, int max_concurrent,
               int max_rps);
void sched_free(sched_t *s);

/* One read: fetches, for every series, the windows after its last
 * dispatched one up to latest (the newest complete window), oldest first;
 * a series with a state_every, its newest window once that is over
 * since its last, and only when no series without one may start. Starts no
 * request that could not end by deadline. */
void sched_read(sched_t *s, const sched_io_t *io, time_t latest,
                sched_time_t deadline);

/* An answer to series w's request (within sched_read's wait()). */
void sched_window_done(sched_t *s, sched_series_t *w, sched_outcome_t outcome,
                       long retry_hint_ms);

/* Series w's request was refused (SCHED_REFUSED) with the API's code.
 * Its statistic backs off: no request of it until a step later (1, 2, 4
 * ... minutes, at most SCHED_REFUSAL_MAX; the first step again for another
 * code), then one of its series asks (a probe) while the others wait; the
 * first answer with values ends it, and the windows missed meanwhile are
 * caught up as far as MaxBackfill reaches. Returns the step's wait when
 * this refusal begins a step (the glue says so in the log), or 0 when the
 * statistic was already backing off (a request in flight before it). */
sched_time_t sched_refused(sched_t *s, sched_series_t *w, const char *code);

/* The refusals in a row of w's statistic, or of w alone: 0 unless it is
 * backing off. */
unsigned sched_refusals(const sched_t *s, const sched_series_t *w);

/* Flow control met by another request (discovery): the block holds back as
 * the hint says (ms; -1: none) or backs off, and halves its pace (as for a
 * throttled window). */
void sched_throttled(sched_t *s, long retry_hint_ms);

/* The backoff after `failures` transient failures in a row, jitter in
 * [0, 1): exponential from half a second up to SCHED_MAX_BACKOFF, spread
 * from half to one and a half times that. */
sched_time_t sched_backoff(unsigned failures, double jitter);

/* How many requests a block can start per window: reads of min(interval,
 * timeout) seconds every interval seconds, max_rps per rate window.
 * SIZE_MAX when max_rps is 0. */
size_t sched_capacity(int window, double interval, double timeout, int max_rps);

/* How many requests a block can start per window, in the same reads, with
 * max_concurrent requests at a time that take latency seconds each.
 * SIZE_MAX when the latency is not known yet (0). */
size_t sched_concurrent_capacity(int window, double interval, double timeout,
                                 int max_concurrent, double latency);

#endif /* SCHEDULER_H */
