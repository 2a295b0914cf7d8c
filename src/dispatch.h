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
 * read's requests (if any) and the counters. */
void dispatch_stats(account_t *a, double latency_sum, unsigned latency_count);

#endif /* DISPATCH_H */
