/**
 * collectd-ddoscoo - tests/unit/test_scheduler.c
 * SPDX-License-Identifier: MIT
 *
 * The scheduler against a simulated world: a clock that only moves when
 * the scheduler waits, an API that answers after a fixed latency with
 * scripted outcomes, and keys that change generation. Days of reads run
 * in milliseconds.
 */
#include "plan.h"
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define MAX_SERIES 2100
#define MAX_FLIGHT 64
#define MAX_STARTS 400000
#define WINDOW 60
#define T0 1796205600 /* a whole minute */

typedef struct world_s world_t;
typedef sched_outcome_t (*answer_t)(world_t *w, size_t i, time_t end,
                                    unsigned generation, int nth);

typedef struct {
  size_t i; /* series; (size_t)-1: discovery */
  time_t first, end;
  unsigned generation;
  sched_time_t done_at;
} flight_t;

struct world_s {
  sched_t s;
  sched_series_t series[MAX_SERIES];
  size_t count;
  sched_time_t now;
  sched_time_t latency;
  flight_t flight[MAX_FLIGHT];
  int in_flight;
  answer_t answer;
  long hint_ms;
  unsigned generation; /* of the keys now */
  bool renew_on_reject;
  sched_time_t deadline;

  /* What happened */
  sched_time_t starts[MAX_STARTS];
  char start_kind[MAX_STARTS];     /* 'w' window, 'o' other */
  size_t start_series[MAX_STARTS]; /* (size_t)-1: other */
  int start_page[MAX_STARTS];
  size_t start_count;
  size_t skipped;         /* over all reads */
  const char *code;       /* of a SCHED_REFUSED answer */
  sched_time_t steps[64]; /* the waits sched_refused began */
  size_t step_count;
  int pages;                     /* a paged answer's pages */
  unsigned requests[MAX_SERIES]; /* per series, this read or overall */
  unsigned windows[MAX_SERIES];  /* asked for, per series */
  unsigned widest[MAX_SERIES];   /* the most in a request, per series */
  time_t dispatched[MAX_SERIES]; /* newest */
  unsigned dispatch_count[MAX_SERIES];
  int errors;     /* out of order, twice, late starts */
  int gaps;       /* windows never dispatched */
  int other_left; /* discovery requests to make */
  unsigned long rng;
};

static world_t *world_new(size_t count, int max_backfill, int concurrent,
                          int rps, answer_t answer) {
  world_t *w = calloc(1, sizeof(*w));
  sched_init(&w->s, WINDOW, max_backfill, concurrent, rps);
  w->s.renewable = true;
  w->count = count;
  w->latency = SCHED_MS(50);
  w->answer = answer;
  w->hint_ms = -1;
  w->generation = 1;
  w->now = SCHED_SECONDS(T0);
  w->rng = 12345;
  w->code = "Forbidden.RAM";
  for (size_t i = 0; i < count; i++)
    w->series[i].group = i;
  return w;
}

static void world_free(world_t *w) {
  sched_free(&w->s);
  free(w);
}

static sched_time_t io_now(void *ctx) { return ((world_t *)ctx)->now; }

static double io_random(void *ctx) {
  world_t *w = ctx;
  w->rng = w->rng * 6364136223846793005UL + 1442695040888963407UL;
  return (double)(w->rng >> 11) / (double)(1UL << 53);
}

static size_t io_count(void *ctx) { return ((world_t *)ctx)->count; }

static sched_series_t *io_series(void *ctx, size_t i) {
  return ((world_t *)ctx)->series + i;
}

static void record_start(world_t *w, char kind, size_t i) {
  if (w->now + SCHED_MIN_REQUEST_TIME > w->deadline)
    w->errors++; /* could not end in time */
  if (w->start_count < MAX_STARTS) {
    w->start_kind[w->start_count] = kind;
    w->start_series[w->start_count] = i;
    w->start_page[w->start_count] = (kind == 'w') ? w->series[i].page : 0;
    w->starts[w->start_count++] = w->now;
  }
}

static sched_start_t io_start_window(void *ctx, size_t i, time_t first_end,
                                     time_t end, sched_time_t deadline,
                                     unsigned *generation) {
  world_t *w = ctx;
  time_t win = w->series[i].step ? w->series[i].step : WINDOW;
  if (first_end > end || (end - first_end) / win >= w->series[i].batch + 1)
    w->errors++; /* more than the batch */
  if (first_end % win != 0 || end % win != 0)
    w->errors++; /* not one of its windows */
  w->windows[i] += (unsigned)((end - first_end) / win + 1);
  if ((end - first_end) / win + 1 > w->widest[i])
    w->widest[i] = (unsigned)((end - first_end) / win + 1);
  if (w->in_flight >= MAX_FLIGHT || deadline != w->deadline)
    w->errors++;
  /* Keys refused: a renewable source hands out new ones. */
  if (w->s.keys_rejected && w->renew_on_reject)
    w->generation++;
  w->flight[w->in_flight++] = (flight_t){.i = i,
                                         .first = first_end,
                                         .end = end,
                                         .generation = w->generation,
                                         .done_at = w->now + w->latency};
  *generation = w->generation;
  w->requests[i]++;
  record_start(w, 'w', i);
  return SCHED_STARTED;
}

static bool io_other_pending(void *ctx) {
  return ((world_t *)ctx)->other_left > 0;
}

static int io_start_other(void *ctx, sched_time_t deadline) {
  world_t *w = ctx;
  (void)deadline;
  w->other_left--;
  w->flight[w->in_flight++] =
      (flight_t){.i = (size_t)-1, .done_at = w->now + w->latency};
  record_start(w, 'o', (size_t)-1);
  return 1;
}

static int io_in_flight(void *ctx) { return ((world_t *)ctx)->in_flight; }

static void answer(world_t *w, flight_t f) {
  if (f.i == (size_t)-1)
    return;
  sched_series_t *s = w->series + f.i;
  int nth = (int)w->requests[f.i];
  sched_outcome_t o = w->answer(w, f.i, f.end, f.generation, nth);
  if (o == SCHED_REFUSED) {
    sched_time_t wait = sched_refused(&w->s, s, w->code);
    if (wait != 0 && w->step_count < 64)
      w->steps[w->step_count++] = wait;
    return;
  }
  if (o == SCHED_DONE) {
    /* Every window, or every cadence-th of a thinned series. */
    time_t win = s->step ? s->step : WINDOW;
    time_t step = (s->thin && s->cadence > 1) ? s->cadence * win : win;
    time_t last = w->dispatched[f.i];
    if (f.first <= last)
      w->errors++; /* twice, or backwards */
    else if (last != 0 && f.first != last + step)
      w->gaps++;
    w->dispatched[f.i] = f.end;
    w->dispatch_count[f.i] += (unsigned)((f.end - f.first) / step + 1);
  }
  sched_window_done(&w->s, s, o, w->hint_ms);
}

/* Like libcurl's multi: every answer due by `until` arrives in one call. */
static void io_wait(void *ctx, sched_time_t until) {
  world_t *w = ctx;
  if (w->in_flight == 0) {
    if (until > w->now)
      w->now = until;
    return;
  }
  if (until < w->now + SCHED_MS(10))
    until = w->now + SCHED_MS(10);
  sched_time_t first = until;
  for (int k = 0; k < w->in_flight; k++)
    if (w->flight[k].done_at < first)
      first = w->flight[k].done_at;
  if (first > w->now)
    w->now = first;
  for (int k = 0; k < w->in_flight;) {
    if (w->flight[k].done_at <= w->now) {
      flight_t f = w->flight[k];
      w->flight[k] = w->flight[--w->in_flight];
      answer(w, f);
    } else {
      k++;
    }
  }
}

static const sched_io_t world_io = {
    .now = io_now,
    .random = io_random,
    .series_count = io_count,
    .series = io_series,
    .start_window = io_start_window,
    .other_pending = io_other_pending,
    .start_other = io_start_other,
    .in_flight = io_in_flight,
    .wait = io_wait,
};

/* One read at `at` (seconds), as the glue does: the newest window a delay
 * of 60 s makes complete, a budget of min(interval, timeout). */
static void read_at(world_t *w, time_t at, double budget) {
  sched_io_t io = world_io;
  io.ctx = w;
  if (w->now < SCHED_SECONDS(at))
    w->now = SCHED_SECONDS(at);
  time_t latest = (at - 60) / WINDOW * WINDOW;
  w->deadline = w->now + (sched_time_t)(budget * (double)SCHED_SECONDS(1));
  sched_read(&w->s, &io, latest, w->deadline);
  w->skipped += w->s.skipped;
}

static void run_reads(world_t *w, time_t from, time_t to, int interval,
                      double budget) {
  for (time_t t = from; t < to; t += interval)
    read_at(w, t, budget);
}

/* The most starts within any SCHED_RATE_WINDOW. */
static size_t max_rate(const world_t *w) {
  size_t most = 0;
  for (size_t a = 0, b = 0; b < w->start_count; b++) {
    while (w->starts[b] >= w->starts[a] + SCHED_RATE_WINDOW)
      a++;
    if (b - a + 1 > most)
      most = b - a + 1;
  }
  return most;
}

static sched_outcome_t always_done(world_t *w, size_t i, time_t end,
                                   unsigned generation, int nth) {
  (void)w, (void)i, (void)end, (void)generation, (void)nth;
  return SCHED_DONE;
}

DEF_TEST(a_day_of_reads_fetches_every_window_once) {
  world_t *w = world_new(5, 60, 4, 10, always_done);
  run_reads(w, T0, T0 + 86400, 10, 10);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps);
  /* The first window is the one due at the start; then one a minute. */
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(1440, w->dispatch_count[i]);
    EXPECT_EQ_INT(1440, w->requests[i]); /* one request per window */
    EXPECT_EQ_INT(T0 + 86400 - 60 - WINDOW, w->dispatched[i]);
  }
  world_free(w);
  return 0;
}

/* Series 0 is refused once as a whole request (a chunk of several
 * instances split by the glue): SCHED_SPLIT. */
static sched_outcome_t split_once(world_t *w, size_t i, time_t end,
                                  unsigned generation, int nth) {
  (void)w, (void)end, (void)generation;
  return (i == 0 && nth == 1) ? SCHED_SPLIT : SCHED_DONE;
}

DEF_TEST(idle_series_ask_nothing_and_a_split_costs_no_window) {
  /* Series 1 is a member whose chunk asks for it: idle, a day long. */
  world_t *w = world_new(3, 60, 4, 10, split_once);
  w->series[1].idle = true;
  run_reads(w, T0, T0 + 86400, 10, 10);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, (int)w->requests[1]);
  EXPECT_EQ_INT(0, (int)w->dispatch_count[1]);
  /* A split is no refusal: the statistic does not back off, and the
   * window stays due (asked at the next read, or by the new series). */
  EXPECT_EQ_INT(0, (int)w->step_count);
  EXPECT_EQ_INT(0, (int)sched_refusals(&w->s, &w->series[0]));
  EXPECT_EQ_INT(1440, (int)w->dispatch_count[0]);
  EXPECT_EQ_INT(1441, (int)w->requests[0]);
  EXPECT_EQ_INT(1440, (int)w->dispatch_count[2]);
  world_free(w);
  return 0;
}

DEF_TEST(the_rate_limit_holds_and_series_take_turns) {
  world_t *w = world_new(300, 60, 4, 10, always_done);
  w->latency = SCHED_MS(5);
  run_reads(w, T0, T0 + 3600, 60, 60);
  EXPECT_EQ_INT(0, w->errors);
  OK(max_rate(w) <= 10);
  OK(max_rate(w) >= 9); /* and it is used */
  for (size_t i = 0; i < w->count; i++)
    EXPECT_EQ_INT(60, w->dispatch_count[i]);
  world_free(w);
  return 0;
}

DEF_TEST(too_many_series_fall_behind_as_capacity_says) {
  /* Reads of 10 s each minute, 10 per rate window of 1.05 s. */
  EXPECT_EQ_INT(95, sched_capacity(60, 60, 10, 10));
  EXPECT_EQ_INT(571, sched_capacity(60, 10, 10, 10));
  EXPECT_EQ_INT(571, sched_capacity(60, 1, 10, 10));
  EXPECT_EQ_INT(1142, sched_capacity(120, 10, 10, 10));
  OK(sched_capacity(60, 10, 10, 0) == SIZE_MAX);

  world_t *w = world_new(200, 60, 4, 10, always_done);
  w->latency = SCHED_MS(5);
  read_at(w, T0, 10);
  size_t started = w->start_count;
  OK(started <= 95 + 10); /* the first rate window may hold a full ring */
  OK(started < 200);
  world_free(w);
  return 0;
}

DEF_TEST(backfill_after_an_outage_stops_at_max_backfill) {
  world_t *w = world_new(2, 60, 4, 0, always_done);
  time_t latest = (T0 - 60) / WINDOW * WINDOW;
  for (size_t i = 0; i < w->count; i++)
    w->series[i].last_end = latest - 100 * WINDOW;
  read_at(w, T0, 10);
  EXPECT_EQ_INT(80, w->s.skipped); /* two series, 40 windows each */
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(60, w->dispatch_count[i]);
    EXPECT_EQ_INT(latest, w->dispatched[i]);
  }
  EXPECT_EQ_INT(0, w->errors); /* in order */
  world_free(w);
  return 0;
}

/* A series of 300 s windows (step) asks each as soon as the block's
 * latest reaches its end: the request starts within the read after. */
static sched_outcome_t done_at_window_end(world_t *w, size_t i, time_t end,
                                          unsigned generation, int nth) {
  (void)generation, (void)nth;
  time_t started =
      (time_t)((w->now - w->latency) >> 30); /* whole seconds, floor */
  /* (The first, T0 - 300, is due at the first read.) */
  if (w->series[i].step == 300 && end > T0 - 300 &&
      (started < end + 60 || started > end + 70))
    w->errors++;
  return SCHED_DONE;
}

DEF_TEST(a_series_of_its_own_five_minutes_asks_each_window_once) {
  world_t *w = world_new(2, 60, 4, 10, done_at_window_end);
  w->series[1].step = 300;
  w->series[1].batch = 60;
  run_reads(w, T0, T0 + 3600, 10, 10);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps);
  /* The block's: a window a minute. Its own: T0 - 300 (the newest of 300
   * s complete at the first read) to T0 + 3300, one request each. */
  EXPECT_EQ_INT(60, w->dispatch_count[0]);
  EXPECT_EQ_INT(13, w->dispatch_count[1]);
  EXPECT_EQ_INT(13, w->requests[1]);
  EXPECT_EQ_INT(T0 + 3300, w->dispatched[1]);
  EXPECT_EQ_INT(0, (int)w->skipped);
  world_free(w);
  return 0;
}

DEF_TEST(a_series_of_five_minutes_catches_up_in_one_request) {
  /* Ten windows of 300 s missed; MaxBackfill 60 (an hour of the block's
   * windows) reaches twelve of them. */
  world_t *w = world_new(2, 60, 4, 10, always_done);
  time_t latest = T0 - 300; /* the newest end of 300 s at the read T0 */
  for (size_t i = 0; i < 2; i++) {
    w->series[i].step = 300;
    w->series[i].batch = 60;
  }
  w->series[0].last_end = latest - 10 * 300;
  w->series[1].last_end = latest - 20 * 300; /* 100 minutes */
  read_at(w, T0, 10);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(1, w->requests[0]);
  EXPECT_EQ_INT(10, w->windows[0]);
  EXPECT_EQ_INT(latest, w->series[0].last_end);
  EXPECT_EQ_INT(1, w->requests[1]);
  EXPECT_EQ_INT(12, w->windows[1]);
  EXPECT_EQ_INT(8, (int)w->s.skipped); /* the older ones */
  EXPECT_EQ_INT(latest, w->series[1].last_end);
  /* Nothing more until the next end of 300 s, T0, is complete (a delay
   * of 60 s). */
  run_reads(w, T0 + 10, T0 + 60, 10, 10);
  EXPECT_EQ_INT(1, w->requests[0]);
  read_at(w, T0 + 60, 10);
  EXPECT_EQ_INT(2, w->requests[0]);
  EXPECT_EQ_INT(T0, w->series[0].last_end);
  world_free(w);
  return 0;
}

DEF_TEST(a_batch_catches_up_an_hour_in_one_request) {
  world_t *w = world_new(2, 60, 4, 10, always_done);
  time_t latest = (T0 - 60) / WINDOW * WINDOW;
  for (size_t i = 0; i < w->count; i++) {
    w->series[i].batch = 60;
    w->series[i].last_end = latest - 100 * WINDOW;
  }
  read_at(w, T0, 10);
  EXPECT_EQ_INT(80, w->s.skipped); /* MaxBackfill still caps it */
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(1, w->requests[i]);
    EXPECT_EQ_INT(60, w->windows[i]);
    EXPECT_EQ_INT(latest, w->series[i].last_end);
  }
  /* Then one request per window, as without a batch. */
  run_reads(w, T0 + 10, T0 + 610, 10, 10);
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(11, w->requests[i]);
    EXPECT_EQ_INT(70, w->windows[i]);
  }
  EXPECT_EQ_INT(0, w->errors);
  world_free(w);
  return 0;
}

static sched_outcome_t fails_twice(world_t *w, size_t i, time_t end,
                                   unsigned generation, int nth) {
  (void)w, (void)i, (void)end, (void)generation;
  return (nth <= 2) ? SCHED_TRANSIENT : SCHED_DONE;
}

DEF_TEST(transient_errors_are_retried_with_growing_backoff) {
  world_t *w = world_new(1, 60, 1, 10, fails_twice);
  read_at(w, T0, 10);
  EXPECT_EQ_INT(3, w->start_count);
  EXPECT_EQ_INT(1, w->dispatch_count[0]);
  /* Gaps: latency plus backoff(1), then latency plus backoff(2); jitter
   * spreads each from half to one and a half times 0.5 s and 1 s. */
  sched_time_t g1 = w->starts[1] - w->starts[0] - w->latency;
  sched_time_t g2 = w->starts[2] - w->starts[1] - w->latency;
  OK(g1 >= SCHED_MS(250) && g1 <= SCHED_MS(750));
  OK(g2 >= SCHED_MS(500) && g2 <= SCHED_MS(1500));
  EXPECT_EQ_INT(0, w->s.failures); /* reset by the success */
  world_free(w);
  return 0;
}

static sched_outcome_t down_first_read(world_t *w, size_t i, time_t end,
                                       unsigned generation, int nth) {
  (void)w, (void)i, (void)end, (void)generation;
  return (nth <= 3) ? SCHED_TRANSIENT : SCHED_DONE;
}

DEF_TEST(three_failures_leave_the_window_to_the_next_read) {
  world_t *w = world_new(1, 60, 1, 10, down_first_read);
  read_at(w, T0, 10);
  EXPECT_EQ_INT(SCHED_MAX_ATTEMPTS, w->start_count);
  EXPECT_EQ_INT(0, w->dispatch_count[0]);
  read_at(w, T0 + 10, 10);
  EXPECT_EQ_INT(1, w->dispatch_count[0]); /* not lost */
  world_free(w);
  return 0;
}

static sched_outcome_t again_once(world_t *w, size_t i, time_t end,
                                  unsigned generation, int nth) {
  (void)w, (void)end, (void)generation;
  return (i == 0 && nth == 1) ? SCHED_AGAIN : SCHED_DONE;
}

/* A request whose nonce was refused as used, or whose kept-alive connection
 * died before an answer: asked again at once (signed anew by the glue's
 * start), the window kept in this read, the block not held back. */
DEF_TEST(a_request_to_ask_again_keeps_its_window) {
  world_t *w = world_new(1, 60, 1, 10, again_once);
  read_at(w, T0, 10);
  EXPECT_EQ_INT(2, w->start_count);
  EXPECT_EQ_INT(1, w->dispatch_count[0]);
  /* No backoff: the second start follows the first answer. */
  EXPECT_EQ_INT(w->latency, w->starts[1] - w->starts[0]);
  EXPECT_EQ_INT(0, w->errors);
  world_free(w);
  return 0;
}

DEF_TEST(a_new_series_keeps_its_first_window_across_a_minute) {
  /* The first read's three tries fail; the next read is in the next
   * minute. */
  world_t *w = world_new(1, 60, 1, 10, down_first_read);
  read_at(w, T0 + 58, 2);
  EXPECT_EQ_INT(0, w->dispatch_count[0]);
  read_at(w, T0 + 61, 2);
  EXPECT_EQ_INT(2, w->dispatch_count[0]);
  EXPECT_EQ_INT(0, w->gaps);
  EXPECT_EQ_INT(T0, w->dispatched[0]);
  world_free(w);
  return 0;
}

static sched_outcome_t throttled_once(world_t *w, size_t i, time_t end,
                                      unsigned generation, int nth) {
  (void)w, (void)end, (void)generation;
  return (i == 0 && nth == 1) ? SCHED_THROTTLED : SCHED_DONE;
}

DEF_TEST(throttling_holds_the_whole_block_as_the_hint_says) {
  world_t *w = world_new(3, 60, 1, 0, throttled_once);
  w->hint_ms = 2000;
  read_at(w, T0, 10);
  /* After the throttled answer (first start + latency), nothing starts
   * for 2 s, whichever series. */
  sched_time_t answered = w->starts[0] + w->latency;
  for (size_t k = 1; k < w->start_count; k++)
    OK(w->starts[k] >= answered + SCHED_MS(2000));
  for (size_t i = 0; i < w->count; i++)
    EXPECT_EQ_INT(1, w->dispatch_count[i]);
  world_free(w);
  return 0;
}

static sched_outcome_t old_keys_refused(world_t *w, size_t i, time_t end,
                                        unsigned generation, int nth) {
  (void)w, (void)i, (void)end, (void)nth;
  return (generation == 1) ? SCHED_CREDENTIALS : SCHED_DONE;
}

DEF_TEST(late_refusals_of_old_keys_do_not_skip_the_window) {
  /* Four requests in flight, signed with keys the API has just stopped
   * accepting; all four refusals arrive together. */
  world_t *w = world_new(4, 60, 4, 0, old_keys_refused);
  w->renew_on_reject = true;
  read_at(w, T0, 10);
  EXPECT_EQ_INT(0, w->s.given_up_end);
  for (size_t i = 0; i < w->count; i++)
    EXPECT_EQ_INT(1, w->dispatch_count[i]);
  OK(w->generation >= 2);
  EXPECT_EQ_INT(0, w->s.keys_rejected);
  world_free(w);
  return 0;
}

static sched_outcome_t always_refused(world_t *w, size_t i, time_t end,
                                      unsigned generation, int nth) {
  (void)w, (void)i, (void)end, (void)generation, (void)nth;
  return SCHED_CREDENTIALS;
}

DEF_TEST(a_wrong_key_costs_one_request_per_window) {
  world_t *w = world_new(1, 60, 4, 10, always_refused);
  w->s.renewable = false; /* the block's own keys */
  run_reads(w, T0, T0 + 600, 10, 10);
  EXPECT_EQ_INT(10, w->start_count);
  EXPECT_EQ_INT(0, w->dispatch_count[0]);
  world_free(w);
  return 0;
}

DEF_TEST(refused_renewable_keys_are_renewed_once_per_window) {
  world_t *w = world_new(1, 60, 4, 10, always_refused);
  w->renew_on_reject = true;
  run_reads(w, T0, T0 + 600, 10, 10);
  /* The first window: the keys, then renewed ones; after that, while the
   * keys stay refused, one request a window. */
  EXPECT_EQ_INT(11, w->start_count);
  EXPECT_EQ_INT(0, w->dispatch_count[0]);
  world_free(w);
  return 0;
}

static sched_outcome_t first_instance_gone(world_t *w, size_t i, time_t end,
                                           unsigned generation, int nth) {
  (void)end, (void)generation, (void)nth;
  return (w->series[i].group == 0) ? SCHED_GONE : SCHED_DONE;
}

DEF_TEST(a_gone_instance_skips_its_other_ports) {
  /* Instance 0 with three ports, instance 1 with two. */
  world_t *w = world_new(5, 60, 1, 0, first_instance_gone);
  size_t groups[] = {0, 0, 0, 1, 1};
  for (size_t i = 0; i < 5; i++)
    w->series[i].group = groups[i];
  read_at(w, T0, 10);
  EXPECT_EQ_INT(1, w->requests[0] + w->requests[1] + w->requests[2]);
  EXPECT_EQ_INT(1, w->s.gone);
  EXPECT_EQ_INT(1, w->dispatch_count[3]);
  EXPECT_EQ_INT(1, w->dispatch_count[4]);
  world_free(w);
  return 0;
}

DEF_TEST(discovery_and_polls_take_turns) {
  world_t *w = world_new(6, 60, 1, 0, always_done);
  w->other_left = 6;
  read_at(w, T0, 10);
  EXPECT_EQ_INT(12, w->start_count);
  /* Neither waits for the other to finish. */
  for (size_t k = 0; k + 1 < w->start_count; k++)
    OK(w->start_kind[k] != w->start_kind[k + 1]);
  world_free(w);
  return 0;
}

DEF_TEST(nothing_starts_that_could_not_end_by_the_deadline) {
  world_t *w = world_new(50, 60, 1, 0, always_done);
  w->latency = SCHED_MS(300);
  read_at(w, T0, 2);
  OK(w->start_count < 50);
  EXPECT_EQ_INT(0, w->errors); /* record_start checks each start */
  read_at(w, T0 + 10, 2);      /* the rest in later reads */
  OK(w->start_count > 7);
  world_free(w);
  return 0;
}

/* Faults at random, as a bad day brings them: the service's errors,
 * throttling, garbage, no answer at all. */
/* A simulated API with a quota the scheduler does not know: per account
 * (one bucket) or per account and operation (series i's operation: seven
 * in ten are connections, the others one of three more), counted over any
 * 1 s of arrivals (here: starts); a request beyond it is throttled, and not
 * counted. */
#define QUOTA_OPS 4
#define QUOTA_MAX 64
static struct {
  int rps;
  bool per_operation;
  sched_time_t accepted[QUOTA_OPS][QUOTA_MAX]; /* the last rps, a ring */
  size_t next[QUOTA_OPS];
  sched_outcome_t verdict[MAX_SERIES];
  unsigned sent[QUOTA_OPS], throttled[QUOTA_OPS];
} quota;

static size_t quota_op(size_t i) { return (i % 10 < 7) ? 0 : 1 + i % 3; }

static void quota_set(int rps, bool per_operation) {
  memset(quota.accepted, 0, sizeof(quota.accepted));
  memset(quota.next, 0, sizeof(quota.next));
  quota.rps = rps;
  quota.per_operation = per_operation;
}

static unsigned quota_sum(const unsigned *v) {
  return v[0] + v[1] + v[2] + v[3];
}

static sched_start_t quota_start_window(void *ctx, size_t i, time_t first_end,
                                        time_t end, sched_time_t deadline,
                                        unsigned *generation) {
  world_t *w = ctx;
  sched_start_t r =
      io_start_window(ctx, i, first_end, end, deadline, generation);
  size_t op = quota_op(i), b = quota.per_operation ? op : 0;
  sched_time_t *oldest = &quota.accepted[b][quota.next[b]];
  quota.sent[op]++;
  if (*oldest == 0 || w->now >= *oldest + SCHED_SECONDS(1)) {
    *oldest = w->now;
    quota.next[b] = (quota.next[b] + 1) % (size_t)quota.rps;
    quota.verdict[i] = SCHED_DONE;
  } else {
    quota.verdict[i] = SCHED_THROTTLED;
    quota.throttled[op]++;
  }
  return r;
}

static sched_outcome_t quota_answer(world_t *w, size_t i, time_t end,
                                    unsigned generation, int nth) {
  (void)w, (void)end, (void)generation, (void)nth;
  return quota.verdict[i];
}

/* Reads every 10 s of 10 s each from `from` to `to`; the pace in use after
 * each: its mean and most. */
static void quota_reads(world_t *w, time_t from, time_t to, double *mean,
                        int *most) {
  sched_io_t io = world_io;
  io.ctx = w;
  io.start_window = quota_start_window;
  double sum = 0;
  int n = 0;
  *most = 0;
  for (time_t at = from; at < to; at += 10) {
    if (w->now < SCHED_SECONDS(at))
      w->now = SCHED_SECONDS(at);
    w->deadline = w->now + SCHED_SECONDS(10);
    sched_read(&w->s, &io, (at - 60) / WINDOW * WINDOW, w->deadline);
    sum += w->s.pace;
    n++;
    if (w->s.pace > *most)
      *most = w->s.pace;
  }
  *mean = sum / n;
}

/* Half an hour against a quota below MaxRequestsPerSecond 10, after a first
 * minute of learning it: few throttled answers, the pace near the quota and
 * the quota used; then the quota rises above the cap: the pace climbs back
 * to it. Returns the pace's mean in the half hour. */
static double learn_quota(world_t *w, int hidden, bool per_operation) {
  double mean;
  int most;
  quota_set(hidden, per_operation);
  memset(quota.sent, 0, sizeof(quota.sent));
  memset(quota.throttled, 0, sizeof(quota.throttled));
  quota_reads(w, T0, T0 + 60, &mean, &most);
  unsigned sent[QUOTA_OPS], throttled[QUOTA_OPS];
  memcpy(sent, quota.sent, sizeof(sent));
  memcpy(throttled, quota.throttled, sizeof(throttled));
  quota_reads(w, T0 + 60, T0 + 1860, &mean, &most);
  for (size_t op = 0; op < QUOTA_OPS; op++) {
    unsigned n = quota.sent[op] - sent[op];
    unsigned t = quota.throttled[op] - throttled[op];
    printf("  quota %d%s: operation %zu: %u sent, %u throttled\n", hidden,
           per_operation ? " per operation" : "", op, n, t);
    OK(t * 100 < n * 5); /* under 5 % */
  }
  unsigned accepted = quota_sum(quota.sent) - quota_sum(quota.throttled) -
                      (quota_sum(sent) - quota_sum(throttled));
  printf("  pace: mean %.2f, most %d; %.2f accepted/s\n", mean, most,
         accepted / 1800.0);
  OK(most < 10);
  /* The quota is used: the busiest bucket gets at least 2/3 of it, or half
   * of it per operation (one pace for the block: the requests of the
   * busiest operation come in runs, a port after another). */
  unsigned busiest = per_operation ? quota.sent[0] - sent[0] -
                                         (quota.throttled[0] - throttled[0])
                                   : accepted;
  OK(busiest >= (unsigned)(1800 * hidden * (per_operation ? 3 : 4) / 6));

  quota_set(40, per_operation);
  memcpy(throttled, quota.throttled, sizeof(throttled));
  double after;
  quota_reads(w, T0 + 1860, T0 + 2160, &after, &most);
  EXPECT_EQ_INT(10, w->s.pace); /* back at MaxRequestsPerSecond */
  EXPECT_EQ_INT(quota_sum(throttled), quota_sum(quota.throttled));
  EXPECT_EQ_INT(0, w->errors);
  return mean;
}

DEF_TEST(the_pace_learns_a_quota_per_account) {
  /* 400 series: 6.7 requests/s, more than a quota of 3 allows. */
  world_t *w = world_new(400, 60, 4, 10, quota_answer);
  double mean = learn_quota(w, 3, false);
  OK(mean >= 2.0 && mean <= 3.5);
  world_free(w);
  return 0;
}

DEF_TEST(the_pace_learns_a_quota_per_operation) {
  /* 7 in 10 requests are connections, in runs of 7: a quota of 3 for each
   * operation holds the block between 3 and 3 / 0.7. */
  world_t *w = world_new(400, 60, 4, 10, quota_answer);
  double mean = learn_quota(w, 3, true);
  OK(mean >= 2.0 && mean <= 5.0);
  world_free(w);
  return 0;
}

DEF_TEST(every_window_lands_when_the_load_fits_the_quota) {
  /* 100 series a minute, 1.7 requests/s, under a quota of 3. */
  world_t *w = world_new(100, 60, 4, 10, quota_answer);
  double mean;
  int most;
  quota_set(3, false);
  memset(quota.sent, 0, sizeof(quota.sent));
  memset(quota.throttled, 0, sizeof(quota.throttled));
  quota_reads(w, T0, T0 + 3600, &mean, &most);
  OK(quota_sum(quota.throttled) * 100 < quota_sum(quota.sent) * 5);
  EXPECT_EQ_INT(0, w->gaps);
  EXPECT_EQ_INT(0, w->errors);
  time_t latest = (T0 + 3590 - 60) / WINDOW * WINDOW;
  for (size_t i = 0; i < w->count; i++)
    EXPECT_EQ_INT(latest, w->dispatched[i]);
  world_free(w);
  return 0;
}

static sched_outcome_t bad_day(world_t *w, size_t i, time_t end,
                               unsigned generation, int nth) {
  (void)i, (void)end, (void)generation, (void)nth;
  double r = io_random(w);
  if (r < 0.05)
    return SCHED_TRANSIENT;
  if (r < 0.07)
    return SCHED_THROTTLED;
  if (r < 0.08)
    return SCHED_INVALID;
  if (r < 0.085)
    return SCHED_NETWORK;
  return SCHED_DONE;
}

DEF_TEST(two_hundred_hours_of_faults_lose_no_window) {
  world_t *w = world_new(20, 60, 4, 10, bad_day);
  time_t end = T0 + 200 * 3600;
  run_reads(w, T0, end, 10, 10);
  w->answer = always_done; /* a calm last hour catches up */
  run_reads(w, end, end + 3600, 10, 10);
  EXPECT_EQ_INT(0, w->errors); /* in order, once each, in time */
  EXPECT_EQ_INT(0, w->gaps);
  OK(max_rate(w) <= 10);
  unsigned windows = (200 + 1) * 60;
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(windows, w->dispatch_count[i]);
    EXPECT_EQ_INT(end + 3600 - 60 - WINDOW, w->dispatched[i]);
  }
  world_free(w);
  return 0;
}

/* Three instances, connections (series 0-2) and traffic (3-5, an hour a
 * request); the key may not call DescribePortFlowList for the first hour. */
#define DENIED_UNTIL (T0 + 3600)
static sched_outcome_t traffic_denied(world_t *w, size_t i, time_t end,
                                      unsigned generation, int nth) {
  (void)end, (void)generation, (void)nth;
  return (w->series[i].stat == 1 && w->now < SCHED_SECONDS(DENIED_UNTIL))
             ? SCHED_REFUSED
             : SCHED_DONE;
}

static world_t *traffic_world(answer_t answer) {
  world_t *w = world_new(6, 60, 4, 10, answer);
  for (size_t i = 0; i < 6; i++) {
    w->series[i].group = i % 3;
    w->series[i].stat = i / 3;
    w->series[i].batch = (i < 3) ? 0 : 60;
  }
  return w;
}

DEF_TEST(a_refused_statistic_backs_off_alone_and_catches_up) {
  world_t *w = traffic_world(traffic_denied);
  run_reads(w, T0, T0 + 3780, 10, 10);

  /* Traffic: one request tries at each step, 1, 2, 4 ... minutes apart;
   * after the first 15 minutes at most one every 10 minutes. */
  sched_time_t tries[64];
  size_t n = 0;
  for (size_t k = 0; k < w->start_count && n < 64; k++)
    if (w->start_kind[k] == 'w' && w->start_series[k] >= 3)
      tries[n++] = w->starts[k];
  EXPECT_EQ_INT(6, n); /* 0, 1, 3, 7, 15, 31 minutes */
  for (size_t k = 1; k < n; k++) {
    sched_time_t step = SCHED_SECONDS(60) << (k - 1);
    OK(tries[k] - tries[k - 1] >= step);
    OK(tries[k] - tries[k - 1] < step + SCHED_SECONDS(11));
    if (tries[k - 1] >= SCHED_SECONDS(T0 + 900))
      OK(tries[k] - tries[k - 1] >= SCHED_SECONDS(600));
  }
  /* A step each, for the log: 1, 2, 4, 8, 16, 32 minutes. */
  EXPECT_EQ_INT(6, w->step_count);
  for (size_t k = 0; k < w->step_count; k++)
    EXPECT_EQ_INT(SCHED_SECONDS(60) << k, w->steps[k]);
  EXPECT_EQ_INT(6, sched_refusals(&w->s, w->series + 3));

  /* Connections: every minute, as if nothing happened. */
  for (size_t i = 0; i < 3; i++)
    EXPECT_EQ_INT(63, w->dispatch_count[i]);

  /* The next step, at 63 minutes, is allowed: every window MaxBackfill
   * covers, an hour, in one request per series. The 4 windows beyond it
   * are skipped, and counted once. */
  size_t before = w->start_count;
  unsigned windows[6];
  memcpy(windows, w->windows, sizeof(windows));
  read_at(w, T0 + 3780, 10);
  time_t latest = T0 + 3780 - 60;
  for (size_t i = 3; i < 6; i++) {
    EXPECT_EQ_INT(latest, w->series[i].last_end);
    EXPECT_EQ_INT(60, w->windows[i] - windows[i]);
  }
  EXPECT_EQ_INT(3 + 3, w->start_count - before);
  EXPECT_EQ_INT(3 * 4, w->skipped);
  EXPECT_EQ_INT(0, sched_refusals(&w->s, w->series + 3));

  /* Then full pace: a request a minute per series. */
  memcpy(windows, w->windows, sizeof(windows));
  run_reads(w, T0 + 3790, T0 + 3790 + 600, 10, 10);
  for (size_t i = 0; i < 6; i++)
    EXPECT_EQ_INT(10, w->windows[i] - windows[i]);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps);
  world_free(w);
  return 0;
}

static sched_outcome_t traffic_always_denied(world_t *w, size_t i, time_t end,
                                             unsigned generation, int nth) {
  (void)end, (void)generation, (void)nth;
  return (w->series[i].stat == 1) ? SCHED_REFUSED : SCHED_DONE;
}

DEF_TEST(a_statistic_refused_for_a_day_asks_once_an_hour) {
  world_t *w = traffic_world(traffic_always_denied);
  run_reads(w, T0, T0 + 86400, 10, 10);
  size_t traffic = 0;
  for (size_t i = 3; i < 6; i++)
    traffic += w->requests[i];
  /* 0, 1, 3, 7, 15, 31, 63 minutes, then every hour: 7 + 22. */
  EXPECT_EQ_INT(29, traffic);
  EXPECT_EQ_INT(29, w->step_count);
  EXPECT_EQ_INT(SCHED_REFUSAL_MAX, w->steps[28]);
  for (size_t i = 0; i < 3; i++)
    EXPECT_EQ_INT(1440, w->dispatch_count[i]);
  /* The windows beyond MaxBackfill are skipped once, not at every read. */
  EXPECT_EQ_INT(3 * (1440 - 60), w->skipped);
  world_free(w);
  return 0;
}

/* The key may not read the first instance's traffic (series 3): the other
 * instances' traffic answers. */
static sched_outcome_t one_instance_denied(world_t *w, size_t i, time_t end,
                                           unsigned generation, int nth) {
  (void)w, (void)end, (void)generation, (void)nth;
  return (i == 3) ? SCHED_REFUSED : SCHED_DONE;
}

DEF_TEST(a_series_refused_alone_backs_off_alone) {
  world_t *w = traffic_world(one_instance_denied);
  run_reads(w, T0, T0 + 7200, 10, 10);
  /* The other series of the statistic, and every connection, every
   * minute; the refused one at 0, 1, 3, 7, 15, 31, 63 minutes and then
   * hourly (the first try of the first read counts for the statistic). */
  for (size_t i = 0; i < 6; i++)
    if (i != 3)
      EXPECT_EQ_INT(T0 + 7080, w->series[i].last_end);
  EXPECT_EQ_INT(0, w->gaps);
  OK(w->requests[3] <= 9);
  OK(sched_refusals(&w->s, w->series + 3) >= 5);
  EXPECT_EQ_INT(0, sched_refusals(&w->s, w->series + 4));
  EXPECT_EQ_INT(0, w->errors);
  world_free(w);
  return 0;
}

DEF_TEST(another_code_starts_again_at_the_first_step) {
  world_t *w = world_new(1, 60, 1, 0, always_done);
  sched_series_t *s = w->series;
  s->started = SCHED_SECONDS(T0);
  EXPECT_EQ_INT(SCHED_SECONDS(60), sched_refused(&w->s, s, "Forbidden.RAM"));
  /* Answers to requests sent before it are no new step. */
  EXPECT_EQ_INT(0, sched_refused(&w->s, s, "Forbidden.RAM"));
  s->probe = true;
  EXPECT_EQ_INT(SCHED_SECONDS(120), sched_refused(&w->s, s, "Forbidden.RAM"));
  EXPECT_EQ_INT(SCHED_SECONDS(T0 + 120), w->s.refusals[0].not_before);
  s->probe = true;
  EXPECT_EQ_INT(SCHED_SECONDS(60),
                sched_refused(&w->s, s, "InvalidParameter.Interval"));
  EXPECT_EQ_INT(1, sched_refusals(&w->s, s));
  world_free(w);
  return 0;
}

/* Every window's answer has w->pages pages; page 2 fails once. */
static sched_outcome_t paged(world_t *w, size_t i, time_t end,
                             unsigned generation, int nth) {
  (void)end, (void)generation;
  if (w->series[i].page == 2 && nth == 2)
    return SCHED_TRANSIENT;
  return (w->series[i].page < w->pages) ? SCHED_MORE : SCHED_DONE;
}

DEF_TEST(pages_of_an_answer_are_requests_like_any_other) {
  world_t *w = world_new(4, 60, 2, 3, paged);
  w->pages = 3;
  read_at(w, T0, 10);
  OK(max_rate(w) <= 3);
  for (size_t i = 0; i < w->count; i++) {
    EXPECT_EQ_INT(1, w->dispatch_count[i]); /* once, after its last page */
    EXPECT_EQ_INT(4, w->requests[i]);       /* 3 pages, page 2 twice */
    int expect[] = {1, 2, 2, 3};
    size_t k = 0;
    for (size_t j = 0; j < w->start_count; j++)
      if (w->start_series[j] == i && k < 4)
        EXPECT_EQ_INT(expect[k++], w->start_page[j]);
  }
  /* The next window starts at page 1 again. */
  run_reads(w, T0 + 60, T0 + 120, 10, 10);
  for (size_t i = 0; i < w->count; i++)
    EXPECT_EQ_INT(2, w->dispatch_count[i]);
  EXPECT_EQ_INT(0, w->errors);
  world_free(w);
  return 0;
}

/* Series with a cadence of 10 minutes, the others every minute. */
static world_t *cadence_world(size_t fast, size_t slow, int rps) {
  world_t *w = world_new(fast + slow, 60, 4, rps, always_done);
  w->latency = SCHED_MS(5);
  for (size_t i = fast; i < fast + slow; i++) {
    w->series[i].state_every = 600;
    w->series[i].latest_only = true;
  }
  return w;
}

DEF_TEST(a_cadence_asks_the_newest_window_every_ten_minutes) {
  world_t *w = cadence_world(2, 2, 10);
  run_reads(w, T0, T0 + 3600, 10, 10);
  EXPECT_EQ_INT(0, w->errors);
  time_t latest = (T0 + 3590 - 60) / WINDOW * WINDOW;
  for (size_t i = 2; i < 4; i++) {
    /* At the first read, then each 10 minutes: 6 in an hour. */
    EXPECT_EQ_INT(6, w->requests[i]);
    EXPECT_EQ_INT(6, w->windows[i]); /* one window each */
    OK(w->dispatched[i] > latest - 600 && w->dispatched[i] <= latest);
  }
  for (size_t i = 0; i < 2; i++)
    EXPECT_EQ_INT(60, w->requests[i]);
  /* An outage of half an hour: the newest window once, nothing caught
   * up; the series without a cadence catch up as MaxBackfill says. */
  run_reads(w, T0 + 5400, T0 + 5410, 10, 10);
  for (size_t i = 2; i < 4; i++) {
    EXPECT_EQ_INT(7, w->requests[i]);
    EXPECT_EQ_INT(7, w->windows[i]);
    EXPECT_EQ_INT((T0 + 5400 - 60) / WINDOW * WINDOW, w->dispatched[i]);
  }
  world_free(w);
  return 0;
}

DEF_TEST(a_cadence_takes_only_the_requests_left_over) {
  /* 120 series every minute are more than the 95 requests a minute
   * MaxRequestsPerSecond 10 allows in reads of 10 s: the 20 with a
   * cadence take none of theirs, and change nothing of what they get. */
  world_t *alone = cadence_world(120, 0, 10);
  world_t *with = cadence_world(120, 20, 10);
  run_reads(alone, T0, T0 + 1800, 60, 10);
  run_reads(with, T0, T0 + 1800, 60, 10);
  EXPECT_EQ_INT(0, with->errors);
  for (size_t i = 0; i < 120; i++)
    EXPECT_EQ_INT(alone->requests[i], with->requests[i]);
  for (size_t i = 120; i < 140; i++)
    EXPECT_EQ_INT(0, with->requests[i]);
  world_free(alone);
  world_free(with);

  /* 80 every minute leave room: the 20 are asked each 10 minutes, each
   * after every request of the others in its read. */
  world_t *w = cadence_world(80, 20, 10);
  run_reads(w, T0, T0 + 1800, 60, 10);
  EXPECT_EQ_INT(0, w->errors);
  for (size_t i = 0; i < 80; i++)
    EXPECT_EQ_INT(30, w->requests[i]);
  for (size_t i = 80; i < 100; i++)
    EXPECT_EQ_INT(3, w->requests[i]);
  for (size_t k = 1; k < w->start_count; k++)
    if (w->start_series[k - 1] >= 80 && w->start_series[k] < 80)
      OK(w->starts[k] - w->starts[k - 1] > SCHED_SECONDS(30)); /* next read */
  world_free(w);
  return 0;
}

/* A block of n instances of p ports each with the default statistics, as
 * the glue builds it (per instance: events, blackhole, traffic, then a
 * series per port), planned (plan.h) in the default priority order for
 * what MaxRequestsPerSecond 10 allows with reads of 10 s every 10 s. */
enum { EVENTS, BLACKHOLE, TRAFFIC, CONNECTIONS };
static void planned_block_for(world_t *w, size_t n, size_t p, plan_stat_t *plan,
                              double capacity);
static void planned_block(world_t *w, size_t n, size_t p, plan_stat_t *plan) {
  planned_block_for(w, n, p, plan, (double)sched_capacity(WINDOW, 10, 10, 10));
}

/* The same, planned for capacity requests a minute. */
static void planned_block_for(world_t *w, size_t n, size_t p, plan_stat_t *plan,
                              double capacity) {
  static const char *names[] = {"events", "blackhole", "traffic",
                                "connections"};
  size_t count = 0, kind[MAX_SERIES];
  for (size_t g = 0; g < n; g++)
    for (size_t k = 0; k < 3 + p; k++) {
      sched_series_t *s = w->series + count;
      kind[count++] = (k < 3) ? k : CONNECTIONS;
      *s = (sched_series_t){.group = g, .stat = (k < 3) ? k : CONNECTIONS};
      s->batch = (k == EVENTS || k == TRAFFIC) ? 60 : 0;
      s->latest_only = k == BLACKHOLE;
    }
  w->count = count;
  for (size_t k = 0; k < 4; k++)
    plan[k] = (plan_stat_t){.name = names[k],
                            .max_batch = (k == EVENTS || k == TRAFFIC) ? 60 : 0,
                            .max_backfill = 60};
  for (size_t i = 0; i < count; i++) {
    plan[kind[i]].series++;
    plan[kind[i]].requests += 1;
  }
  plan_make(plan, 4, capacity);
  size_t j[4] = {0};
  for (size_t i = 0; i < count; i++)
    plan_series(plan + kind[i], j[kind[i]]++, w->series + i);
}

/* Days of reads against a quota of 10 requests/s per account: every window
 * the plan promises lands, in order, none twice, none lost, each series
 * within its cadence of the newest window; the quota holds. */
static int keeps_its_promise(size_t n, size_t p, int days) {
  world_t *w = world_new(0, 60, 4, 10, quota_answer);
  plan_stat_t plan[4];
  planned_block(w, n, p, plan);
  char line[1024];
  plan_describe(plan, 4, (double)sched_capacity(WINDOW, 10, 10, 10), WINDOW,
                "pace 10/s", line, sizeof(line));
  printf("  %zu x %zu: %s\n", n, p, line);
  OK(plan_cost(plan, 4) <= 571 * PLAN_USE);
  quota_set(10, false);
  memset(quota.sent, 0, sizeof(quota.sent));
  memset(quota.throttled, 0, sizeof(quota.throttled));
  double mean;
  int most;
  time_t to = T0 + days * 86400;
  quota_reads(w, T0, to, &mean, &most);
  printf("  %u sent, %u throttled, pace mean %.2f\n", quota_sum(quota.sent),
         quota_sum(quota.throttled), mean);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps);
  EXPECT_EQ_INT(0, w->skipped);
  OK(quota_sum(quota.throttled) * 1000 < quota_sum(quota.sent));
  time_t latest = (to - 10 - 60) / WINDOW * WINDOW;
  int late = 0, short_count = 0;
  for (size_t i = 0; i < w->count; i++) {
    const sched_series_t *s = w->series + i;
    time_t k = (s->cadence > 1) ? s->cadence : 1;
    /* Up to date within its cadence ... */
    late += w->dispatched[i] <= latest - k * WINDOW;
    /* ... and every promised window since the first read's. */
    time_t step = s->thin ? k * WINDOW : WINDOW;
    unsigned promised =
        (unsigned)((w->dispatched[i] - (T0 - 60 - WINDOW)) / step);
    short_count += w->dispatch_count[i] + 1 < promised;
  }
  EXPECT_EQ_INT(0, late);
  EXPECT_EQ_INT(0, short_count);
  world_free(w);
  return 0;
}

DEF_TEST(twenty_instances_of_fifty_ports_keep_the_plan_for_days) {
  return keeps_its_promise(20, 50, 2);
}

DEF_TEST(five_hundred_instances_keep_the_plan_for_days) {
  return keeps_its_promise(500, 1, 2);
}

/* The quota falls to half for five minutes (another client shares it):
 * the pace follows, and the requests that no longer fit are the least
 * important ones, which catch up once the quota is back. Blackhole, a
 * state asked only for its newest window, would lose the minutes it
 * missed: none is missed. */
DEF_TEST(a_shortfall_delays_the_least_important_series_only) {
  world_t *w = world_new(0, 60, 4, 10, quota_answer);
  plan_stat_t plan[4];
  planned_block(w, 20, 50, plan);
  quota_set(10, false);
  double mean;
  int most;
  quota_reads(w, T0, T0 + 1800, &mean, &most);
  quota_set(5, false);
  quota_reads(w, T0 + 1800, T0 + 2100, &mean, &most);
  OK(most < 10); /* the pace came down */
  quota_set(10, false);
  quota_reads(w, T0 + 2100, T0 + 5400, &mean, &most);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps); /* a blackhole series that skipped is one */
  EXPECT_EQ_INT(0, w->skipped);
  time_t latest = (T0 + 5390 - 60) / WINDOW * WINDOW;
  int late = 0;
  for (size_t i = 0; i < w->count; i++) {
    time_t k = (w->series[i].cadence > 1) ? w->series[i].cadence : 1;
    late += w->dispatched[i] <= latest - k * WINDOW;
  }
  EXPECT_EQ_INT(0, late);
  world_free(w);
  return 0;
}

/* Every request fails in the minute a new series' first batch comes due
 * (the quota taken by others): the batch is asked at the next minute, not
 * once the series is a whole cadence behind. */
static sched_outcome_t fails_in_minute_one(world_t *w, size_t i, time_t end,
                                           unsigned generation, int nth) {
  (void)i, (void)end, (void)generation, (void)nth;
  time_t now = (time_t)(w->now >> 30);
  return (now >= T0 + 60 && now < T0 + 120) ? SCHED_THROTTLED : SCHED_DONE;
}

DEF_TEST(a_batch_missed_in_its_minute_is_asked_at_the_next) {
  world_t *w = world_new(1, 60, 4, 10, fails_in_minute_one);
  w->series[0].batch = 60;
  w->series[0].cadence = 5;
  w->series[0].phase = (int)((T0 / WINDOW) % 5); /* due at T0 + 60 */
  run_reads(w, T0, T0 + 120, 10, 10);
  EXPECT_EQ_INT(0, w->dispatch_count[0]);
  run_reads(w, T0 + 120, T0 + 180, 10, 10);
  EXPECT_EQ_INT(T0 + 60, w->dispatched[0]); /* up to date at T0 + 120 */
  EXPECT_EQ_INT(3, w->dispatch_count[0]);   /* from the first read's on */
  EXPECT_EQ_INT(0, w->gaps);
  world_free(w);
  return 0;
}

/* The block "prio" of tests/e2e/test_quota.py: 10 instances of 10 ports at
 * MaxRequestsPerSecond 2 (114 requests a minute fit), connections first,
 * every minute (100 a minute), then traffic, batched 5 minutes at a time.
 * The first read comes mid-minute: the connections' first windows are a
 * backlog that the 14 requests a minute left over take minutes to drain.
 * Traffic still gets the requests the plan promised it: at the end of
 * every minute, each traffic series has every window up to 4 minutes ago,
 * in requests of 5 windows at most; the connections catch up. */
DEF_TEST(a_backlog_at_start_takes_no_promised_window) {
  world_t *w = world_new(110, 60, 16, 2, always_done);
  plan_stat_t plan[2] = {{.name = "connections",
                          .series = 100,
                          .requests = 100,
                          .max_backfill = 60},
                         {.name = "traffic",
                          .series = 10,
                          .requests = 10,
                          .max_batch = 60,
                          .max_backfill = 60}};
  plan_make(plan, 2, (double)sched_capacity(WINDOW, 10, 10, 2));
  EXPECT_EQ_INT(1, plan[0].cadence);
  EXPECT_EQ_INT(5, plan[1].cadence);
  EXPECT_EQ_INT(0, plan[1].thin);
  for (size_t i = 0; i < 110; i++) {
    bool traffic = i >= 100;
    w->series[i] = (sched_series_t){.group = traffic ? i - 100 : i / 10,
                                    .stat = traffic,
                                    .batch = traffic ? 60 : 0};
    plan_series(plan + traffic, traffic ? i - 100 : i, w->series + i);
  }
  time_t first = T0 - 60; /* the window due at the first read */
  int late = 0, minutes = 0;
  for (time_t t = T0 + 50; t < T0 + 3600; t = (t / 60 + 1) * 60) {
    run_reads(w, t, (t / 60 + 1) * 60, 10, 10);
    minutes++;
    time_t latest = ((t / 60 + 1) * 60 - 10 - 60) / WINDOW * WINDOW;
    for (size_t i = 100; i < 110; i++)
      if (latest - 4 * WINDOW >= first &&
          w->dispatched[i] < latest - 4 * WINDOW) {
        if (late++ == 0)
          printf("  minute %d: traffic %zu has %ld windows of %ld\n", minutes,
                 i - 100, (long)w->dispatch_count[i],
                 (long)((latest - 4 * WINDOW - first) / WINDOW + 1));
      }
  }
  EXPECT_EQ_INT(0, late);
  EXPECT_EQ_INT(0, w->errors);
  EXPECT_EQ_INT(0, w->gaps);
  EXPECT_EQ_INT(0, w->skipped);
  time_t latest = (T0 + 3590 - 60) / WINDOW * WINDOW;
  for (size_t i = 100; i < 110; i++) {
    /* Every window since the first read's, at most 5 in a request. */
    EXPECT_EQ_INT((w->dispatched[i] - first) / WINDOW + 1,
                  w->dispatch_count[i]);
    OK(w->dispatched[i] > latest - 5 * WINDOW);
    EXPECT_EQ_INT(5, w->widest[i]);
    OK(w->requests[i] <= (unsigned)minutes / 5 + 1);
  }
  for (size_t i = 0; i < 100; i++)
    EXPECT_EQ_INT(latest, w->dispatched[i]); /* the backlog drained */
  world_free(w);
  return 0;
}

/* Answers of 500 ms and MaxConcurrentRequests 4: at most 8 requests start a
 * second, fewer than MaxRequestsPerSecond 10 allows. The scheduler measures
 * the latency (the network's failures aside), and the capacity it gives
 * (480 a minute, not the pace's 571) makes a plan that keeps its promise
 * for 20 instances of 50 ports, where a plan for the pace alone falls
 * behind. */
static int late_series(world_t *w, time_t to) {
  time_t latest = (to - 10 - 60) / WINDOW * WINDOW;
  int late = 0;
  for (size_t i = 0; i < w->count; i++) {
    time_t k = (w->series[i].cadence > 1) ? w->series[i].cadence : 1;
    late += w->dispatched[i] <= latest - k * WINDOW;
  }
  return late;
}

static sched_outcome_t slow_network(world_t *w, size_t i, time_t end,
                                    unsigned generation, int nth) {
  (void)i, (void)end, (void)generation, (void)nth;
  /* No answer at all, after 30 s. */
  return (w->latency > SCHED_SECONDS(1)) ? SCHED_NETWORK : SCHED_DONE;
}

DEF_TEST(the_latency_bounds_what_the_plan_promises) {
  EXPECT_EQ_INT(480, sched_concurrent_capacity(60, 10, 10, 4, 0.5));
  EXPECT_EQ_INT(80, sched_concurrent_capacity(60, 60, 10, 4, 0.5));
  OK(sched_concurrent_capacity(60, 10, 10, 4, 0) == SIZE_MAX);

  world_t *w = world_new(10, 60, 4, 10, slow_network);
  EXPECT_EQ_INT(0, w->s.latency); /* not known yet */
  w->latency = SCHED_MS(500);
  run_reads(w, T0, T0 + 600, 10, 10);
  OK(w->s.latency > 0.499 && w->s.latency < 0.501);
  double measured = w->s.latency;
  /* No answer in 30 s says nothing of the API's latency. */
  w->latency = SCHED_SECONDS(30);
  run_reads(w, T0 + 600, T0 + 630, 10, 10);
  OK(w->s.latency > 0.499 && w->s.latency < 0.501);
  /* It follows the API. */
  w->latency = SCHED_MS(200);
  run_reads(w, T0 + 630, T0 + 3600, 10, 10);
  OK(w->s.latency > 0.199 && w->s.latency < 0.201);
  world_free(w);

  int late[2];
  for (int k = 0; k < 2; k++) {
    w = world_new(0, 60, 4, 10, always_done);
    w->latency = SCHED_MS(500);
    double capacity = (double)sched_capacity(WINDOW, 10, 10, 10);
    size_t concurrent = sched_concurrent_capacity(WINDOW, 10, 10, 4, measured);
    if (k == 1 && (double)concurrent < capacity)
      capacity = (double)concurrent;
    plan_stat_t plan[4];
    planned_block_for(w, 20, 50, plan, capacity);
    char line[1024];
    plan_describe(plan, 4, capacity, WINDOW,
                  k ? "4 concurrent requests at 500 ms" : "pace 10/s", line,
                  sizeof(line));
    printf("  %s\n", line);
    run_reads(w, T0, T0 + 7200, 10, 10);
    late[k] = late_series(w, T0 + 7200);
    printf("  planned for %.0f a minute: %d series late\n", capacity, late[k]);
    EXPECT_EQ_INT(0, w->errors);
    EXPECT_EQ_INT(0, w->skipped);
    world_free(w);
  }
  OK(late[0] > 0);
  EXPECT_EQ_INT(0, late[1]);
  return 0;
}

int main(void) {
  RUN_TEST(idle_series_ask_nothing_and_a_split_costs_no_window);
  RUN_TEST(the_pace_learns_a_quota_per_account);
  RUN_TEST(the_pace_learns_a_quota_per_operation);
  RUN_TEST(every_window_lands_when_the_load_fits_the_quota);
  RUN_TEST(a_day_of_reads_fetches_every_window_once);
  RUN_TEST(a_cadence_asks_the_newest_window_every_ten_minutes);
  RUN_TEST(a_cadence_takes_only_the_requests_left_over);
  RUN_TEST(the_rate_limit_holds_and_series_take_turns);
  RUN_TEST(too_many_series_fall_behind_as_capacity_says);
  RUN_TEST(backfill_after_an_outage_stops_at_max_backfill);
  RUN_TEST(a_series_of_its_own_five_minutes_asks_each_window_once);
  RUN_TEST(a_series_of_five_minutes_catches_up_in_one_request);
  RUN_TEST(a_batch_catches_up_an_hour_in_one_request);
  RUN_TEST(transient_errors_are_retried_with_growing_backoff);
  RUN_TEST(three_failures_leave_the_window_to_the_next_read);
  RUN_TEST(a_new_series_keeps_its_first_window_across_a_minute);
  RUN_TEST(throttling_holds_the_whole_block_as_the_hint_says);
  RUN_TEST(late_refusals_of_old_keys_do_not_skip_the_window);
  RUN_TEST(a_request_to_ask_again_keeps_its_window);
  RUN_TEST(a_wrong_key_costs_one_request_per_window);
  RUN_TEST(refused_renewable_keys_are_renewed_once_per_window);
  RUN_TEST(a_gone_instance_skips_its_other_ports);
  RUN_TEST(discovery_and_polls_take_turns);
  RUN_TEST(nothing_starts_that_could_not_end_by_the_deadline);
  RUN_TEST(two_hundred_hours_of_faults_lose_no_window);
  RUN_TEST(a_refused_statistic_backs_off_alone_and_catches_up);
  RUN_TEST(a_statistic_refused_for_a_day_asks_once_an_hour);
  RUN_TEST(a_series_refused_alone_backs_off_alone);
  RUN_TEST(another_code_starts_again_at_the_first_step);
  RUN_TEST(pages_of_an_answer_are_requests_like_any_other);
  RUN_TEST(twenty_instances_of_fifty_ports_keep_the_plan_for_days);
  RUN_TEST(five_hundred_instances_keep_the_plan_for_days);
  RUN_TEST(a_shortfall_delays_the_least_important_series_only);
  RUN_TEST(a_batch_missed_in_its_minute_is_asked_at_the_next);
  RUN_TEST(a_backlog_at_start_takes_no_promised_window);
  RUN_TEST(the_latency_bounds_what_the_plan_promises);
  END_TEST;
}
