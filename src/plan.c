/**
 * collectd-ddoscoo - src/plan.c
 * SPDX-License-Identifier: MIT
 *
 * A block's request plan; see plan.h.
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

/* The cadences a degraded statistic may run at, finest first. */
static const int cadences[] = {2, 5, 10, 15, 30, PLAN_MAX_CADENCE};
#define CADENCE_COUNT (sizeof(cadences) / sizeof(cadences[0]))

/* The longest cadence p may run at: a batch over time covers it in one
 * request and waits no longer than MaxBackfill; a lower resolution, an
 * hour. */
static int longest(const plan_stat_t *p) {
  if (p->max_batch <= 1)
    return PLAN_MAX_CADENCE;
  int k = p->max_batch;
  if (p->max_backfill > 0 && p->max_backfill < k)
    k = p->max_backfill;
  return k;
}

/* Whether p is planned: a statistic of its own, or a stand-in in use. */
static bool counted(const plan_stat_t *p) {
  return p->stands_in_for == NULL || p->standing_in;
}

/* The least p may cost and still run. */
static double least(const plan_stat_t *p) {
  return counted(p) ? p->requests / longest(p) : 0;
}

/* p at full resolution; a stand-in not in use, not at all. */
static void full(plan_stat_t *p) {
  bool on = counted(p);
  p->cadence = on ? 1 : 0;
  p->thin = false;
  p->full = on ? p->series : 0;
  p->cost = on ? p->requests : 0;
}

/* The finest resolution of p that costs at most budget. */
static void fit(plan_stat_t *p, double budget) {
  if (!counted(p) || p->requests <= budget) {
    full(p);
    return;
  }
  int most = longest(p);
  for (size_t c = 0; c < CADENCE_COUNT && cadences[c] <= most; c++) {
    double k = cadences[c];
    if (p->requests / k > budget)
      continue;
    p->cadence = cadences[c];
    p->thin = p->max_batch <= 1;
    p->full = 0;
    p->cost = p->requests / k;
    if (p->thin && p->series > 0) {
      /* Its first series keep every window with what is left. */
      double each = p->requests / (double)p->series;
      double more = (budget - p->cost) / (each * (1 - 1 / k));
      p->full = (more < (double)p->series) ? (size_t)more : p->series;
      p->cost += (double)p->full * each * (1 - 1 / k);
    }
    return;
  }
  *p = (plan_stat_t){.name = p->name,
                     .series = p->series,
                     .requests = p->requests,
                     .max_batch = p->max_batch,
                     .max_backfill = p->max_backfill,
                     .window = p->window,
                     .stands_in_for = p->stands_in_for,
                     .note = p->note,
                     .instances = p->instances,
                     .rank = p->rank,
                     .standing_in = p->standing_in};
}

void plan_add_series(plan_stat_t *p, int window) {
  p->series++;
  p->requests += (p->window > 0) ? (double)window / p->window : 1;
}

double plan_needed(const plan_stat_t *stats, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += counted(stats + i) ? stats[i].requests : 0;
  return sum;
}

double plan_cost(const plan_stat_t *stats, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += stats[i].cost;
  return sum;
}

/* One plan of the statistics counted. */
static bool make(plan_stat_t *stats, size_t n, double capacity) {
  double left = capacity * PLAN_USE;
  for (size_t i = 0; i < n; i++) {
    full(stats + i);
    stats[i].rank = (int)i;
  }
  if (plan_needed(stats, n) <= left)
    return false;
  for (size_t i = 0; i < n; i++) {
    double reserve = 0;
    for (size_t j = i + 1; j < n; j++)
      reserve += least(stats + j);
    double budget = left - reserve;
    if (budget < least(stats + i))
      budget = left; /* then those after it may go without */
    fit(stats + i, budget);
    left -= stats[i].cost;
  }
  return true;
}

bool plan_make(plan_stat_t *stats, size_t n, double capacity) {
  for (size_t i = 0; i < n; i++)
    stats[i].standing_in = false;
  bool degraded = make(stats, n, capacity), more = false;
  /* A stand-in takes the place of a statistic degraded without it. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; stats[i].stands_in_for != NULL && j < n; j++)
      if (j != i && counted(stats + j) && stats[j].cadence != 1 &&
          strcmp(stats[j].name, stats[i].stands_in_for) == 0)
        more = stats[i].standing_in = true;
  return more ? make(stats, n, capacity) : degraded;
}

void plan_series(const plan_stat_t *p, size_t j, sched_series_t *w) {
  w->rank = p->rank;
  w->dropped = p->cadence == 0;
  w->thin = p->thin && j >= p->full;
  w->cadence = (p->cadence > 1 && (!p->thin || j >= p->full)) ? p->cadence : 1;
  /* Spread over the cadence, so that the requests do not come at once. */
  w->phase = (int)(j % (size_t)w->cadence);
}

/* n with thousands separators. */
static void count(double n, char *buf, size_t size) {
  unsigned long long v = (unsigned long long)n; /* rounded up */
  if ((double)v < n - 1e-9)
    v++;
  char digits[32];
  int len = snprintf(digits, sizeof(digits), "%llu", v);
  size_t o = 0;
  for (int i = 0; i < len && o + 2 < size; i++) {
    if (i > 0 && (len - i) % 3 == 0)
      buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = 0;
}

/* k windows of window s: "5 minutes", "30 s", "2 hours" ...; one minute
 * or hour as "minute" or "hour" (every minute), or, with one, "1 minute"
 * (a minute later). */
static void span(int k, int window, bool one, char *buf, size_t size) {
  long s = (long)k * window;
  if (s % 3600 == 0 && s > 0)
    snprintf(buf, size, (s == 3600 && !one) ? "hour" : "%ld hour%s", s / 3600,
             s == 3600 ? "" : "s");
  else if (s % 60 == 0)
    snprintf(buf, size, (s == 60 && !one) ? "minute" : "%ld minute%s", s / 60,
             s == 60 ? "" : "s");
  else
    snprintf(buf, size, "%ld s", s);
}

/* Appends to buf what snprintf would print. */
#define APPEND(buf, size, o, ...)                                              \
  do {                                                                         \
    if ((o) < (size))                                                          \
      (o) += (size_t)snprintf((buf) + (o), (size) - (o), __VA_ARGS__);         \
  } while (0)

void plan_describe(const plan_stat_t *stats, size_t n, double capacity,
                   int window, const char *context, char *buf, size_t size) {
  char needed[32], planned[32], fit[32], a_window[32];
  count(plan_needed(stats, n), needed, sizeof(needed));
  count(capacity * PLAN_USE, planned, sizeof(planned));
  count(capacity, fit, sizeof(fit));
  span(1, window, false, a_window, sizeof(a_window));
  bool degraded = false;
  for (size_t i = 0; i < n; i++)
    degraded = degraded || (counted(stats + i) && stats[i].cadence != 1);
  size_t o = 0;
  buf[0] = 0;
  APPEND(buf, size, o,
         "%s requests a %s %s %s (%.0f %% of the %s that fit, %s)%s: ", needed,
         a_window, degraded ? "do not fit" : "fit", planned, PLAN_USE * 100,
         fit, context, degraded ? ", degraded by Priority" : "");
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    const plan_stat_t *p = stats + i;
    char series[32], cost[32], every[32], late[32];
    if (!counted(p))
      continue;
    count((double)p->series, series, sizeof(series));
    count(p->cost, cost, sizeof(cost));
    int own = (p->window > 0) ? p->window : window; /* its windows */
    char its_window[32];
    span(1, own, false, its_window, sizeof(its_window));
    span(p->cadence, own, false, every, sizeof(every));
    span(p->cadence - 1, own, true, late, sizeof(late));
    if (p->instances > p->series) {
      char named[32];
      count((double)p->instances, named, sizeof(named));
      APPEND(buf, size, o, "%s%s: %s instances in %s request%s, %s a %s, ",
             first ? "" : "; ", p->name, named, series,
             p->series == 1 ? "" : "s", cost, a_window);
    } else {
      APPEND(buf, size, o, "%s%s: %s series, %s a %s, ", first ? "" : "; ",
             p->name, series, cost, a_window);
    }
    first = false;
    if (p->cadence == 0) {
      APPEND(buf, size, o, "not polled");
    } else if (p->cadence == 1) {
      APPEND(buf, size, o, "every %s", its_window);
    } else if (!p->thin) {
      APPEND(buf, size, o, "every %s, %d at a time (up to %s late)", its_window,
             p->cadence, late);
    } else {
      char full_count[32], rest[32];
      count((double)p->full, full_count, sizeof(full_count));
      count((double)(p->series - p->full), rest, sizeof(rest));
      if (p->full > 0)
        APPEND(buf, size, o, "the first %s every %s, the other ", full_count,
               its_window);
      APPEND(buf, size, o, "%s every %s only", rest, every);
    }
    for (size_t j = 0; p->stands_in_for != NULL && j < n; j++)
      if (strcmp(stats[j].name, p->stands_in_for) == 0) {
        count((double)stats[j].series, series, sizeof(series));
        APPEND(buf, size, o, ", standing in for the %s %s series: %s", series,
               p->stands_in_for, p->note != NULL ? p->note : "");
      }
  }
}
