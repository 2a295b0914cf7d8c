/**
 * collectd-ddoscoo - src/account_plan.c
 * SPDX-License-Identifier: MIT
 *
 * A block's request plan, the glue around plan.c; see account_plan.h.
 */
#include "account_plan.h"

#include "utils/common/common.h"

#include "plan.h"

/* A new plan for the pace: when its mean over the last reads is this far
 * from the pace planned for, and at most this often. */
#define PLAN_PACE_CHANGE 0.2
#define PLAN_REPLAN_SECONDS 180
/* The weight of a read's pace in the mean (about the last ten reads). */
#define PLAN_PACE_WEIGHT 0.1

/* Alerting first: events, blackhole; then the ports' new connections (a
 * request per 100 instances: asked in Statistics, or standing in for
 * connections), traffic, connections, web. */
static const char *const default_priority[] = {
    "events",      "blackhole", "max_new_connections", "traffic",
    "connections", "qps",       "status_codes"};

size_t account_priority(const account_t *a, const statistic_t *stat) {
  for (size_t i = 0; i < a->priority_count; i++)
    if (a->priority[i] == stat)
      return i;
  size_t rank = a->priority_count;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(default_priority); i++) {
    bool named = false;
    for (size_t k = 0; k < a->priority_count; k++)
      named = named || strcmp(a->priority[k]->name, default_priority[i]) == 0;
    if (strcmp(stat->name, default_priority[i]) == 0)
      return rank;
    if (!named)
      rank++;
  }
  return rank; /* not in the list: last */
}

/* The requests a Window the block can send at that pace, and with its
 * MaxConcurrentRequests at that latency (seconds; 0: not known yet): the
 * fewer; *concurrent says whether that is the latter. */
static double capacity(const account_t *a, int pace, double latency,
                       double *interval, double *busy, bool *concurrent) {
  *interval =
      CDTIME_T_TO_DOUBLE(a->interval ? a->interval : plugin_get_interval());
  double timeout = CDTIME_T_TO_DOUBLE(a->timeout);
  *busy = (timeout < *interval) ? timeout : *interval;
  size_t c = sched_capacity(a->window, *interval, timeout, pace);
  size_t k = sched_concurrent_capacity(a->window, *interval, timeout,
                                       a->max_concurrent, latency);
  *concurrent = k < c;
  if (k < c)
    c = k;
  return (c == SIZE_MAX) ? 1e12 : (double)c;
}

static void make(account_t *a, int pace, double latency) {
  plan_stat_t stats[STATIC_ARRAY_SIZE(a->statistics)];
  const statistic_t *of[STATIC_ARRAY_SIZE(a->statistics)];
  size_t n = 0;
  /* The block's statistics that have series, most important first; the
   * members of chunks ask nothing (their chunks do), and the states asked
   * every StateInterval take what the plan leaves over. */
  double states = 0;
  for (size_t i = 0; i < a->series_count; i++) {
    const series_t *s = a->series + i;
    if (s->member)
      continue;
    if (s->w.state_every > a->window) {
      states += (double)a->window / s->w.state_every;
      continue;
    }
    size_t k = 0;
    while (k < n && of[k] != s->stat)
      k++;
    if (k == n) {
      if (n == STATIC_ARRAY_SIZE(stats))
        continue;
      size_t rank = account_priority(a, s->stat);
      k = 0;
      while (k < n && account_priority(a, of[k]) <= rank)
        k++;
      memmove(stats + k + 1, stats + k, (n - k) * sizeof(*stats));
      memmove(of + k + 1, of + k, (n - k) * sizeof(*of));
      n++;
      of[k] = s->stat;
      int own = series_window(a, s);
      int backfill = (int)((long long)a->max_backfill * a->window / own);
      stats[k] = (plan_stat_t){.name = s->stat->name,
                               .max_batch = s->w.batch,
                               .max_backfill = backfill > 0 ? backfill : 1,
                               .window = own};
      if (s->stat == a->stand_in)
        stats[k].stands_in_for = a->stands_in_for->name;
    }
    /* A series is a request a window of its own, however many instances
     * it names. */
    plan_add_series(stats + k, a->window);
    if (s->chunk)
      stats[k].instances += s->member_count;
  }
  /* What the stand-in gives in the place of the statistic it stands in
   * for. */
  char note[128] = "";
  if (a->stand_in != NULL)
    ssnprintf(note, sizeof(note), "new connections of every port from %s",
              a->stand_in->action);
  for (size_t k = 0; k < n; k++)
    if (of[k] == a->stand_in)
      stats[k].note = note;
  double interval, busy;
  bool concurrent;
  double cap =
      capacity(a, pace, latency, &interval, &busy, &concurrent) - states;
  if (cap < 0)
    cap = 0;
  plan_make(stats, n, cap);
  a->standing_in = false;
  for (size_t k = 0; k < n; k++)
    if (of[k] == a->stand_in)
      a->standing_in = stats[k].standing_in;
  size_t j[STATIC_ARRAY_SIZE(stats)] = {0};
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *s = a->series + i;
    if (s->member || s->w.state_every > a->window)
      continue;
    for (size_t k = 0; k < n; k++)
      if (of[k] == s->stat)
        plan_series(stats + k, j[k]++, &s->w);
    /* A chunk's members store what it fetches, at its resolution. */
    for (size_t m = 0; s->chunk && m < s->member_count; m++) {
      sched_series_t *w = &a->series[s->members[m]].w;
      w->cadence = s->w.cadence;
      w->thin = s->w.thin;
    }
  }

  char context[128], line[1024];
  if (concurrent)
    ssnprintf(context, sizeof(context),
              "%d concurrent request%s at %.0f ms, reads of %.0f s every "
              "%.0f s",
              a->max_concurrent, (a->max_concurrent == 1) ? "" : "s",
              latency * 1000, busy, interval);
  else if (a->max_rps > 0)
    ssnprintf(context, sizeof(context),
              "pace %d/s of MaxRequestsPerSecond %d, reads of %.0f s every "
              "%.0f s",
              pace, a->max_rps, busy, interval);
  else
    sstrncpy(context, "MaxRequestsPerSecond 0: no limit", sizeof(context));
  plan_describe(stats, n, cap, a->window, context, line, sizeof(line));
  a->plan_pace = pace;
  a->plan_latency = latency;
  a->plan_time = cdtime();
  if (strcmp(line, a->plan_line) == 0)
    return; /* said already */
  sstrncpy(a->plan_line, line, sizeof(a->plan_line));
  INFO(PLUGIN_NAME " plugin: Account \"%s\": request plan: %s.", a->name, line);
}

/* Whether the capacity at the latency now is PLAN_PACE_CHANGE or more from
 * the one planned for (at the pace planned for). */
static bool latency_moved(const account_t *a, double latency) {
  double interval, busy;
  bool concurrent;
  double planned =
      capacity(a, a->plan_pace, a->plan_latency, &interval, &busy, &concurrent);
  double now =
      capacity(a, a->plan_pace, latency, &interval, &busy, &concurrent);
  return now < planned * (1 - PLAN_PACE_CHANGE) ||
         now > planned * (1 + PLAN_PACE_CHANGE);
}

void account_plan(account_t *a, bool changed) {
  int pace = a->sched.pace;
  double latency = a->sched.latency;
  if (a->plan_time == 0)
    a->plan_pace_mean = pace;
  a->plan_pace_mean += PLAN_PACE_WEIGHT * (pace - a->plan_pace_mean);
  if (changed || a->plan_time == 0) {
    if (a->plan_time == 0)
      make(a, pace, latency);
    else
      make(a, a->plan_pace, a->plan_latency);
    return;
  }
  double mean = a->plan_pace_mean;
  bool moved =
      a->max_rps > 0 && (mean < a->plan_pace * (1 - PLAN_PACE_CHANGE) ||
                         mean > a->plan_pace * (1 + PLAN_PACE_CHANGE));
  if ((moved || latency_moved(a, latency)) &&
      cdtime() >= a->plan_time + TIME_T_TO_CDTIME_T(PLAN_REPLAN_SECONDS)) {
    int planned = (int)(mean + 0.5);
    make(a, (a->max_rps > 0 && planned < 1) ? 1 : planned, latency);
  }
}
