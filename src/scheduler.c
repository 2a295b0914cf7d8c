/**
 * collectd-ddoscoo - src/scheduler.c
 * SPDX-License-Identifier: MIT
 *
 * A block's read, as decisions over time; see scheduler.h.
 */
#include "scheduler.h"

#include <limits.h>

#include <stdlib.h>
#include <string.h>

int sched_init(sched_t *s, int window, int max_backfill, int max_concurrent,
               int max_rps) {
  *s = (sched_t){.window = window,
                 .max_backfill = max_backfill,
                 .max_concurrent = max_concurrent,
                 .max_rps = max_rps,
                 .pace = max_rps};
  if (max_rps > 0 &&
      (s->starts = calloc((size_t)max_rps, sizeof(*s->starts))) == NULL)
    return -1;
  return 0;
}

void sched_free(sched_t *s) {
  free(s->starts);
  s->starts = NULL;
}

sched_time_t sched_backoff(unsigned failures, double jitter) {
  if (failures == 0)
    failures = 1;
  sched_time_t d = SCHED_MS(500) << (failures > 8 ? 7 : failures - 1);
  if (d > SCHED_MAX_BACKOFF)
    d = SCHED_MAX_BACKOFF;
  return (sched_time_t)((double)d * (0.5 + jitter));
}

size_t sched_capacity(int window, double interval, double timeout,
                      int max_rps) {
  if (max_rps <= 0)
    return SIZE_MAX;
  double busy = (timeout < interval) ? timeout : interval; /* per read */
  double seconds = busy * (double)window / interval;       /* per window */
  double rate = 1050.0 / 1000.0; /* SCHED_RATE_WINDOW in seconds */
  return (size_t)(seconds / rate * max_rps);
}

size_t sched_concurrent_capacity(int window, double interval, double timeout,
                                 int max_concurrent, double latency) {
  if (latency <= 0 || max_concurrent <= 0)
    return SIZE_MAX;
  double busy = (timeout < interval) ? timeout : interval; /* per read */
  double seconds = busy * (double)window / interval;       /* per window */
  return (size_t)(seconds * max_concurrent / latency);
}

/* An answer to w's request: its duration moves the block's latency (the
 * first sets it). Requests that got no answer (the network, a connection
 * that died) say nothing of the API's. */
static void latency_note(sched_t *s, const sched_series_t *w) {
  if (s->io == NULL || !w->in_flight)
    return;
  sched_time_t now = s->io->now(s->io->ctx);
  double took = (now > w->started)
                    ? (double)(now - w->started) / (double)SCHED_SECONDS(1)
                    : 0;
  s->latency = (s->latency > 0)
                   ? s->latency + SCHED_LATENCY_WEIGHT * (took - s->latency)
                   : took;
}

/* The pace-th most recent start (0: none yet). The ring holds the last
 * max_rps starts, oldest next. */
static sched_time_t rate_nth_last(const sched_t *s) {
  size_t back = (size_t)(s->max_rps - s->pace);
  return s->starts[(s->starts_next + back) % (size_t)s->max_rps];
}

/* Whether the pace lets a request start now; if not, *wake is brought
 * forward to when one may. */
static bool rate_allows(const sched_t *s, sched_time_t now,
                        sched_time_t *wake) {
  if (s->max_rps == 0)
    return true;
  sched_time_t nth = rate_nth_last(s);
  if (nth == 0 || now >= nth + SCHED_RATE_WINDOW)
    return true;
  if (nth + SCHED_RATE_WINDOW < *wake)
    *wake = nth + SCHED_RATE_WINDOW;
  return false;
}

/* A start: recorded, and the pace climbs by one after each
 * SCHED_PACE_STEP in which the starts reached it without a throttled
 * answer (a pace the block does not use says nothing of the quota). */
static void rate_record(sched_t *s, sched_time_t now) {
  if (s->max_rps == 0)
    return;
  if (now >= s->pace_since + SCHED_PACE_STEP) {
    if (s->pace_reached && s->pace < s->max_rps)
      s->pace++;
    s->pace_since = now;
    s->pace_reached = false;
  }
  s->starts[s->starts_next] = now;
  s->starts_next = (s->starts_next + 1) % (size_t)s->max_rps;
  sched_time_t nth = rate_nth_last(s);
  if (nth != 0 && now < nth + SCHED_RATE_WINDOW)
    s->pace_reached = true;
}

/* A throttled answer: the quota is below the pace; halved, once per rate
 * window (answers to requests started before the cut say nothing new). */
static void rate_throttled(sched_t *s, sched_time_t now) {
  if (s->max_rps == 0 ||
      (s->pace_cut != 0 && now < s->pace_cut + SCHED_RATE_WINDOW))
    return;
  s->pace = (s->pace > 1) ? s->pace / 2 : 1;
  s->pace_cut = now;
  s->pace_since = now;
  s->pace_reached = false;
}

/* The refusals of w's statistic. */
static sched_refusal_t *refusal_of(sched_t *s, const sched_series_t *w) {
  return s->refusals + w->stat % SCHED_MAX_STATS;
}

/* w's place in the priority: the plan's rank, and a state asked every
 * state_every seconds after all of them (it takes the requests the others
 * leave over). */
static int rank_of(const sched_series_t *w) {
  return (w->state_every > 0) ? INT_MAX : w->rank;
}

/* Seconds between w's windows: its own step, or the block's Window. */
static time_t window_of(const sched_t *s, const sched_series_t *w) {
  return (w->step > 0) ? w->step : s->window;
}

/* w's newest complete window: the block's latest, or the newest end of
 * w's own step not after it. */
static time_t latest_of(const sched_t *s, const sched_series_t *w) {
  time_t win = window_of(s, w);
  return s->latest - ((s->latest % win) + win) % win;
}

/* MaxBackfill in w's windows: as far back as the block's, at least one. */
static time_t backfill_of(const sched_t *s, const sched_series_t *w) {
  time_t n = (time_t)s->max_backfill * s->window / window_of(s, w);
  return (n > 0) ? n : 1;
}

/* Whose request starts first, when not every due one can: in each window,
 * a series' first with values (the request its plan promised it) before any
 * other (a backlog), each by rank; the states after everything. */
static long long order_of(const sched_t *s, const sched_series_t *w) {
  bool promised = w->state_every == 0 && w->served != s->latest;
  return (promised ? 0 : (long long)INT_MAX + 1) + rank_of(w);
}

/* The windows w asks at once, or of which it asks one (thin): its plan's
 * cadence. */
static time_t cadence_of(const sched_series_t *w) {
  return (w->cadence > 1) ? w->cadence : 1;
}

/* How many windows after end the next one of w's cadence is (0: end is
 * one). */
static time_t to_cadence(const sched_t *s, const sched_series_t *w,
                         time_t end) {
  time_t k = cadence_of(w);
  time_t n = end / window_of(s, w);
  return (((time_t)w->phase - n) % k + k) % k;
}

/* Which windows each series needs in this read: from the one after its
 * last dispatched window to latest, at most MaxBackfill of them (older
 * ones are skipped, and counted, once). A series the request plan batches
 * over time waits until a window of its cadence is due (and, if it could
 * not ask then, asks at the next read); one it thins asks only the windows
 * of its cadence; one it drops asks none. */
static void plan(sched_t *s) {
  const sched_io_t *io = s->io;
  size_t n = io->series_count(io->ctx);
  s->skipped = 0; /* counted anew for a new plan */
  for (size_t i = 0; i < n; i++) {
    sched_series_t *w = io->series(io->ctx, i);
    w->in_flight = false;
    w->retry_at = 0;
    w->attempts = 0;
    w->next_end = 0;
    w->page = 1;
    w->probe = false;
    refusal_of(s, w)->probing = false;
    /* A new series starts with the window due at its first read, and keeps
     * it due until it is fetched, across minute boundaries. */
    time_t win = window_of(s, w), latest = latest_of(s, w);
    time_t step = (w->state_every > win) ? w->state_every : win;
    if (w->last_end == 0)
      w->last_end = latest - step;
    if (w->step > 0) /* one of its own windows (a StateFile of another) */
      w->last_end -= ((w->last_end % win) + win) % win;
    if (w->idle)
      continue;
    if (latest <= w->given_up_end || latest <= s->given_up_end || w->dropped)
      continue;
    time_t first = w->last_end + step;
    if (first > latest)
      continue;
    if (w->latest_only || w->state_every > 0)
      first = latest;
    time_t behind = (latest - first) / win + 1, backfill = backfill_of(s, w);
    if (behind > backfill) {
      s->skipped += (size_t)(behind - backfill);
      first = latest - (backfill - 1) * win;
      w->last_end = first - win;
    }
    time_t k = cadence_of(w);
    /* The newest window of its cadence that is due. */
    time_t cadence_end = latest - ((k - to_cadence(s, w, latest)) % k) * win;
    if (k > 1 && w->thin && w->latest_only) {
      /* A state at a lower resolution: its newest window of the cadence. */
      first = cadence_end;
      if (first <= w->last_end)
        continue;
    } else if (k > 1 && w->thin) {
      first += to_cadence(s, w, first) * win;
      if (first > latest)
        continue;
    } else if (k > 1 && cadence_end <= w->last_end) {
      continue; /* batched over time: no window of its cadence due yet */
    }
    w->next_end = first;
  }
}

/* Whether any series still has a window to fetch in this read. */
static bool pending(const sched_t *s) {
  const sched_io_t *io = s->io;
  size_t n = io->series_count(io->ctx);
  for (size_t i = 0; i < n; i++) {
    const sched_series_t *w = io->series(io->ctx, i);
    if (w->next_end != 0 && !w->in_flight)
      return true;
  }
  return false;
}

/* Starts the next series with a window to fetch and nothing in flight:
 * first in order_of(), round robin from the cursor. Returns whether it
 * started one; if none can start yet, *wake is brought forward to when one
 * can. */
static bool start_next_window(sched_t *s, sched_time_t now,
                              sched_time_t deadline, sched_time_t *wake) {
  const sched_io_t *io = s->io;
  size_t n = io->series_count(io->ctx);
  /* The first in order of a series that may start now. */
  long long rank = -1;
  for (size_t i = 0; i < n; i++) {
    const sched_series_t *w = io->series(io->ctx, i);
    const sched_refusal_t *r = refusal_of(s, w);
    if (w->in_flight || w->next_end == 0 || w->retry_at > now ||
        w->refused_until > now ||
        (r->refusals > 0 && (r->probing || r->not_before > now)))
      continue;
    if (rank < 0 || order_of(s, w) < rank)
      rank = order_of(s, w);
  }
  for (size_t k = 0; k < n; k++) {
    size_t i = (s->cursor + k) % n;
    sched_series_t *w = io->series(io->ctx, i);
    if (w->in_flight || w->next_end == 0)
      continue;
    if (w->retry_at > now) {
      if (w->retry_at < *wake)
        *wake = w->retry_at;
      continue;
    }
    if (w->refused_until > now) {
      if (w->refused_until < *wake)
        *wake = w->refused_until;
      continue;
    }
    /* A refused statistic: one series asks, once its step is over. */
    sched_refusal_t *r = refusal_of(s, w);
    if (r->refusals > 0 && r->probing)
      continue;
    if (r->refusals > 0 && r->not_before > now) {
      if (r->not_before < *wake)
        *wake = r->not_before;
      continue;
    }
    if (order_of(s, w) != rank)
      continue; /* a more important series starts first */
    s->cursor = (i + 1) % n;
    time_t last = w->next_end;
    if (w->batch > 1 && !w->thin)
      last += (time_t)(w->batch - 1) * window_of(s, w);
    if (last > latest_of(s, w))
      last = latest_of(s, w);
    switch (io->start_window(io->ctx, i, w->next_end, last, deadline,
                             &w->generation)) {
    case SCHED_STARTED:
      w->in_flight = true;
      w->requested_first = w->next_end;
      w->requested_end = last;
      w->after_rejection = s->keys_rejected;
      w->started = now;
      w->probe = r->refusals > 0;
      r->probing = w->probe;
      if (w->generation > s->generation)
        s->generation = w->generation;
      return true;
    case SCHED_NO_KEYS:
      s->stop = true;
      return false;
    case SCHED_FAILED:
      w->next_end = 0;
      return true; /* a turn taken: the loop looks again */
    }
  }
  return false;
}

/* Discovery's next request, if it has one. */
static bool start_next_other(sched_t *s, sched_time_t deadline) {
  const sched_io_t *io = s->io;
  if (io->start_other == NULL || !io->other_pending(io->ctx))
    return false;
  int status = io->start_other(io->ctx, deadline);
  s->stop = s->stop || status < 0;
  return status > 0;
}

/* Starts what may start now; returns when, if anything is left, something
 * may start next. */
static sched_time_t start_what_may(sched_t *s, sched_time_t now,
                                   sched_time_t deadline, unsigned *turn) {
  const sched_io_t *io = s->io;
  sched_time_t wake = deadline;
  if (now < s->not_before)
    return s->not_before;
  while (!s->stop && now + SCHED_MIN_REQUEST_TIME <= deadline &&
         io->in_flight(io->ctx) < s->max_concurrent &&
         rate_allows(s, now, &wake)) {
    /* Discovery and polls take turns, so that neither waits long. */
    bool started = false;
    for (int k = 0; k < 2 && !started && !s->stop; k++) {
      int in_flight = io->in_flight(io->ctx);
      started = ((*turn + k) % 2 == 0)
                    ? start_next_other(s, deadline)
                    : start_next_window(s, now, deadline, &wake);
      if (started && io->in_flight(io->ctx) > in_flight)
        rate_record(s, now);
    }
    if (!started)
      break;
    (*turn)++;
  }
  return wake;
}

void sched_read(sched_t *s, const sched_io_t *io, time_t latest,
                sched_time_t deadline) {
  s->io = io;
  s->latest = latest;
  s->stop = false;
  s->gone = 0;
  plan(s);

  for (unsigned turn = 0;;) {
    sched_time_t now = io->now(io->ctx);
    sched_time_t wake = start_what_may(s, now, deadline, &turn);
    int in_flight = io->in_flight(io->ctx);
    if (in_flight == 0) {
      /* New instances or ports: polled in this very read. */
      if (io->apply != NULL && io->apply(io->ctx)) {
        plan(s);
        continue;
      }
      bool other = io->other_pending != NULL && io->other_pending(io->ctx);
      if (s->stop || (!pending(s) && !other) ||
          wake + SCHED_MIN_REQUEST_TIME > deadline)
        break;
      io->wait(io->ctx, wake);
      continue;
    }
    /* Wait for an answer, or until something else may start. Past the
     * deadline, requests still end by their own timeouts. */
    bool may_start = !s->stop && in_flight < s->max_concurrent;
    io->wait(io->ctx, (may_start && wake < deadline) ? wake : deadline);
  }
  s->io = NULL;
}

/* Every series of w's group skips its windows up to latest. */
static void skip_group(sched_t *s, const sched_series_t *w) {
  const sched_io_t *io = s->io;
  size_t n = io->series_count(io->ctx);
  for (size_t i = 0; i < n; i++) {
    sched_series_t *o = io->series(io->ctx, i);
    if (o->group == w->group) {
      o->given_up_end = s->latest;
      o->next_end = 0;
    }
  }
}

void sched_throttled(sched_t *s, long retry_hint_ms) {
  const sched_io_t *io = s->io;
  s->failures++;
  sched_time_t wait = (retry_hint_ms >= 0)
                          ? SCHED_MS(retry_hint_ms)
                          : sched_backoff(s->failures, io->random(io->ctx));
  s->not_before = io->now(io->ctx) + wait;
  rate_throttled(s, io->now(io->ctx));
}

/* The step of n refusals in a row: 1, 2, 4 ... minutes, at most
 * SCHED_REFUSAL_MAX. */
static sched_time_t refusal_wait(unsigned n) {
  sched_time_t wait = SCHED_REFUSAL_FIRST << (n > 7 ? 6 : n - 1);
  return (wait < SCHED_REFUSAL_MAX) ? wait : SCHED_REFUSAL_MAX;
}

sched_time_t sched_refused(sched_t *s, sched_series_t *w, const char *code) {
  sched_refusal_t *r = refusal_of(s, w);
  bool probe = w->probe;
  latency_note(s, w);
  w->in_flight = false;
  w->probe = false;
  w->next_end = 0; /* its windows stay due, for after the backoff */
  if (r->refusals > 0 && !probe)
    return 0; /* asked before the statistic backed off */
  /* Other series of its statistic answer (within two windows of this
   * request): the refusal is this series' own, and it backs off alone. */
  if (r->refusals == 0 && r->answered != 0 &&
      w->started < r->answered + 2 * SCHED_SECONDS(s->window)) {
    w->refusals++;
    sched_time_t wait = refusal_wait(w->refusals);
    w->refused_until = w->started + wait;
    return wait;
  }
  r->probing = false;
  if (r->refusals > 0 && strncmp(r->code, code, sizeof(r->code) - 1) == 0)
    r->refusals++;
  else
    r->refusals = 1;
  strncpy(r->code, code, sizeof(r->code) - 1);
  r->code[sizeof(r->code) - 1] = 0;
  sched_time_t wait = refusal_wait(r->refusals);
  r->not_before = w->started + wait;
  return wait;
}

unsigned sched_refusals(const sched_t *s, const sched_series_t *w) {
  return w->refusals ? w->refusals
                     : s->refusals[w->stat % SCHED_MAX_STATS].refusals;
}

/* The service answered w without refusing its statistic (values, an
 * unusable answer, an instance gone): a backoff of the statistic, or of w
 * alone, ends, and a refusal soon after is w's own. */
static void not_refused(sched_t *s, sched_series_t *w) {
  *refusal_of(s, w) = (sched_refusal_t){.answered = w->started};
  w->refusals = 0;
  w->refused_until = 0;
}

void sched_window_done(sched_t *s, sched_series_t *w, sched_outcome_t outcome,
                       long retry_hint_ms) {
  const sched_io_t *io = s->io;
  time_t end = w->requested_end;
  sched_refusal_t *r = refusal_of(s, w);
  if (outcome == SCHED_REFUSED) {
    sched_refused(s, w, "");
    return;
  }
  if (outcome != SCHED_NETWORK && outcome != SCHED_AGAIN)
    latency_note(s, w);
  w->in_flight = false;
  if (w->probe)
    r->probing = false; /* answered, refused or not: another may ask */
  w->probe = false;

  switch (outcome) {
  case SCHED_DONE: {
    /* A thin series' next window is a cadence later. */
    time_t next = end + (w->thin ? cadence_of(w) : 1) * window_of(s, w);
    w->last_end = end;
    w->next_end = (next <= latest_of(s, w)) ? next : 0;
    w->served = s->latest;
    w->attempts = 0;
    w->page = 1;
    s->failures = 0;
    s->keys_rejected = false;
    not_refused(s, w); /* full pace again */
    return;
  }
  case SCHED_MORE:
    /* The same windows, their next page: a request as any other. */
    w->page++;
    w->attempts = 0;
    s->failures = 0;
    s->keys_rejected = false;
    not_refused(s, w);
    return;
  case SCHED_INVALID:
    w->next_end = 0; /* the next read asks again */
    not_refused(s, w);
    return;
  case SCHED_NETWORK:
    /* Nothing answered: most likely nothing will in this read. */
    s->failures++;
    s->stop = true;
    return;
  case SCHED_TRANSIENT:
  case SCHED_THROTTLED: {
    sched_time_t now = io->now(io->ctx);
    s->failures++;
    sched_time_t wait = (outcome == SCHED_THROTTLED && retry_hint_ms >= 0)
                            ? SCHED_MS(retry_hint_ms)
                            : sched_backoff(s->failures, io->random(io->ctx));
    /* Flow control is per account: the whole block holds back, if need be
     * beyond this read. */
    if (outcome == SCHED_THROTTLED) {
      s->not_before = now + wait;
      rate_throttled(s, now);
    }
    if (++w->attempts >= SCHED_MAX_ATTEMPTS)
      w->next_end = 0;
    else
      w->retry_at = now + wait;
    return;
  }
  case SCHED_CREDENTIALS:
    /* Signed before the refusal was known, with keys that may have been
     * replaced since (requests side by side): asked again. */
    if (w->generation < s->generation ||
        (s->keys_rejected && !w->after_rejection))
      return;
    /* Renewable keys (a RAM role, a credentials file) are renewed (the glue
     * does while keys_rejected) and tried once more at once. */
    bool first = !s->keys_rejected;
    s->keys_rejected = true;
    if (first && s->renewable)
      return;
    s->given_up_end = s->latest;
    s->stop = true;
    return;
  case SCHED_CLOCK:
    s->given_up_end = s->latest;
    s->stop = true;
    return;
  case SCHED_REFUSED: /* above */
    return;
  case SCHED_GONE:
    s->gone++;
    skip_group(s, w);
    not_refused(s, w);
    return;
  case SCHED_SPLIT:
    w->next_end = 0;
    return;
  case SCHED_AGAIN:
    /* Not the service's trouble: no backoff, and the window stays in this
     * read; every start signs anew. Bounded all the same. */
    if (++w->attempts >= SCHED_MAX_ATTEMPTS)
      w->next_end = 0;
    return;
  }
}
