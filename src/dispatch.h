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

/* The values of the window ending at end (one per value of the series'
 * statistic, in its order), time-stamped end, with the block's Window as
 * their interval. */
void dispatch_window(const account_t *a, const series_t *s, time_t end,
                     const double *values);

/* The block's self-monitoring (<block>-api): the mean latency of this
 * read's requests (if any) and the counters. */
void dispatch_stats(account_t *a, double latency_sum, unsigned latency_count);

#endif /* DISPATCH_H */
