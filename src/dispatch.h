/**
 * collectd-ddoscoo - src/dispatch.h
 * SPDX-License-Identifier: MIT
 *
 * What the plugin dispatches; the metric names users build dashboards on.
 */
#ifndef DISPATCH_H
#define DISPATCH_H 1

#include "account.h"
#include "api_response.h"

/* A value of the series for the window ending at end, time-stamped end,
 * with the block's Window as its interval. */
void dispatch_value(const account_t *a, const series_t *s, time_t end,
                    const char *type, const char *type_instance, double value);

/* The block's self-monitoring (<block>-api): the mean latency of this
 * read's requests (if any), the counters, and of each statistic its
 * counters and its age (see statistic_age). */
/* t as notifications show it: ISO 8601 in UTC ("2026-12-05T14:45:14Z"). */
void dispatch_utc(time_t t, char *buf, size_t size);

void dispatch_stats(account_t *a, double latency_sum, unsigned latency_count);

/* The block's counters of stat; NULL if the block does not poll it. */
stat_health_t *dispatch_health(account_t *a, const statistic_t *stat);

/* How far behind a statistic is at now: now minus the newest window its
 * series stored, of the series that is furthest behind (a series that
 * stored none yet counts from its age_since). -1: it has no series. */
double statistic_age(const account_t *a, const statistic_t *stat, cdtime_t now);

/* First contact, logged once per statistic and block: the first answer
 * to one of s's requests, or the first refusal (permission, parameters),
 * and the first answer after a refusal. dispatch_refused also counts the
 * refusal. */
void dispatch_answered(account_t *a, const series_t *s);
void dispatch_refused(account_t *a, const series_t *s, api_error_class_t class,
                      const api_error_t *error);

#endif /* DISPATCH_H */
