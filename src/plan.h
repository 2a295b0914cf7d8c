/**
 * collectd-ddoscoo - src/plan.h
 * SPDX-License-Identifier: MIT
 *
 * A block's request plan: when its statistics need more requests a Window
 * than the API's quota lets it send, which of them run at full resolution,
 * which are batched over time (every minute still stored at its own time,
 * k minutes at a time, so up to k - 1 minutes later), which run at a lower
 * resolution (every k-th minute, for statistics whose operation covers one
 * window per request), and which the block cannot afford at all. Decided
 * in the block's priority order, said in one line, and handed to the
 * scheduler as per-series fields (sched_series_t cadence, thin, phase,
 * dropped). Pure: no collectd.
 */
#ifndef PLAN_H
#define PLAN_H 1

#include "scheduler.h"

#include <stdbool.h>
#include <stddef.h>

/* The share of the capacity a plan uses: the rest is for retries, pages
 * and discovery, so that what the plan promises is kept. */
#define PLAN_USE 0.9
/* The cadences a plan chooses from, in windows. */
#define PLAN_MAX_CADENCE 60

/* One statistic of a block, in the priority order (most important first).
 * The caller fills the first part from the series as built (a series that
 * names many instances is one request), plan_make() the second. */
typedef struct {
  const char *name;
  size_t series;   /* its series */
  double requests; /* requests a window of all its series at full resolution */
  /* Windows one request may cover (sched_series_t batch): more than one,
   * it can be batched over time; otherwise it can only be asked less
   * often. */
  int max_batch;
  int max_backfill; /* MaxBackfill: no batch may wait longer */
  /* Seconds of its windows, its own (sched_series_t step): a window of
   * it is Window / window requests of a series a Window. The cadence and
   * batches count its windows. 0: the Window. */
  int window;
  /* A stand-in: planned only where the plan degrades (thins, batches or
   * drops) the statistic of this name, in its place, else not at all (no
   * request, not in the plan's line); note says what it gives then (e.g.
   * "new connections of every port from ..."). NULL: a statistic of its
   * own. */
  const char *stands_in_for;
  const char *note;
  /* Instances its series name where a series names several (a request for
   * up to 100 instances): the plan's line says "N instances in M
   * requests". 0: a series of its own each. */
  size_t instances;

  /* The plan */
  int cadence; /* 1: every window at once; k > 1: every k windows; 0: none */
  bool thin;   /* with cadence > 1: every k-th window only (a lower
                  resolution), otherwise all of them, k at a time */
  size_t full; /* with thin: its first `full` series keep every window */
  double cost; /* requests a window it takes as planned */
  int rank;    /* its place in the priority order, from 0 */
  bool standing_in; /* a stand-in the plan uses */
} plan_stat_t;

/* Counts one more series of p, a request per window of its own: Window /
 * p->window requests a Window (1 for a series of the block's windows, a
 * fifth at a Window of 60 for one of 300 s). */
void plan_add_series(plan_stat_t *p, int window);

/* Plans n statistics (in priority order) into capacity requests a window
 * (of which PLAN_USE is planned). Each takes the finest resolution that fits
 * what is left once the statistics after it are sure of their least (the
 * longest cadence; if that does not fit either, they are dropped). A
 * stand-in is planned, at its place in the order, only if the plan without
 * it degrades the statistic it stands in for; otherwise it is dropped
 * (cadence 0) and costs nothing. Returns true if any statistic is
 * degraded. */
bool plan_make(plan_stat_t *stats, size_t n, double capacity);

/* The requests a window the plan's statistics take at full resolution,
 * and as planned. */
double plan_needed(const plan_stat_t *stats, size_t n);
double plan_cost(const plan_stat_t *stats, size_t n);

/* Sets the scheduler's fields of the j-th series (from 0, in the block's
 * order) of statistic p. */
void plan_series(const plan_stat_t *p, size_t j, sched_series_t *w);

/* The plan in words, for the log: the requests a window needed, and
 * whether they fit the capacity (context: how it was reckoned); then per
 * statistic its series, the requests a window it takes and the resolution
 * and delay it gets, e.g. "connections: 1,000 series, 454 a minute, the
 * first 317 every minute, the other 683 every 5 minutes only"; a stand-in
 * in use with the series it stands in for and its note ("standing in for
 * the 1,000 connections series: ..."), one not in use not at all. Window:
 * seconds. */
void plan_describe(const plan_stat_t *stats, size_t n, double capacity,
                   int window, const char *context, char *buf, size_t size);

#endif /* PLAN_H */
