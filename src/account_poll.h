/**
 * collectd-ddoscoo - src/account_poll.h
 * SPDX-License-Identifier: MIT
 *
 * One read of a block: fetch and dispatch every window its series need.
 */
#ifndef ACCOUNT_POLL_H
#define ACCOUNT_POLL_H 1

#include "account.h"

typedef struct {
  size_t skipped; /* windows more than MaxBackfill behind, not fetched */
  double latency_sum;
  unsigned latency_count;
} poll_result_t;

/* Fetches, for every series, the windows after its last dispatched one up
 * to latest, oldest first, and dispatches them. Starts no request that
 * could not end by deadline. */
void account_poll(account_t *a, time_t latest, cdtime_t deadline,
                  poll_result_t *result);

#endif /* ACCOUNT_POLL_H */
