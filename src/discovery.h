/**
 * collectd-ddoscoo - src/discovery.h
 * SPDX-License-Identifier: MIT
 *
 * A block's instances (DescribeInstanceIds, when it lists none) and their
 * forwarded ports (DescribeNetworkRules, with Port "auto"), refreshed every
 * DiscoveryInterval. Its requests share the block's HTTP client, rate limit
 * and reads with the polls; a refresh may span several reads. A failed
 * refresh keeps the last known list.
 */
#ifndef DISCOVERY_H
#define DISCOVERY_H 1

#include "account.h"

typedef struct discovery_s discovery_t;

/* A udp rule's code in account_t.rules: its port plus this. */
#define DISCOVERY_UDP 0x10000

discovery_t *discovery_create(void);
void discovery_destroy(discovery_t *d);

/* At the start of a read: begins a refresh if one is due. */
void discovery_begin(account_t *a, cdtime_t now);

/* An instance was not found: the next read refreshes the list (unless a
 * refresh is under way), whatever DiscoveryInterval says. */
void discovery_refresh_now(account_t *a);

/* Whether a request of the refresh waits to be started. */
bool discovery_has_work(const account_t *a);

/* Starts the refresh's next request. Returns 1 if it did, 0 if none can
 * start now, -1 if nothing more should start in this read (no keys). */
int discovery_start_next(account_t *a, cdtime_t now, cdtime_t deadline);

/* The answer to one of its requests (user: as started). */
void discovery_finished(account_t *a, void *user, const http_result_t *r);

/* With nothing in flight: applies a completed refresh to the block's
 * instances and series. Returns whether it did. */
bool discovery_apply(account_t *a);

#endif /* DISCOVERY_H */
