/**
 * collectd-ddoscoo - src/account_facts.h
 * SPDX-License-Identifier: MIT
 *
 * A block's instance facts (instance_facts.h), asked for when a statistic
 * attributes rows by IP to several instances of one request: at the first
 * read, every DiscoveryInterval, after discovery changed the instances,
 * and soon after an answer named an IP the facts do not know.
 * DescribeInstances (the listed or discovered instances, 100 at a time,
 * pages of API_FACTS_PAGE_SIZE) and DescribeInstanceDetails (the same 100:
 * every IP). Its requests share the block's client, rate limit and reads
 * with the polls, as discovery's do. A failed refresh keeps the last
 * facts; a refused one (permission, parameters) makes the chunks one
 * instance each until a refresh answers.
 */
#ifndef ACCOUNT_FACTS_H
#define ACCOUNT_FACTS_H 1

#include "account.h"

/* Whether the facts are there (a refresh answered), so chunks that
 * attribute by IP may ask. */
bool account_facts_ready(const account_t *a);

/* Whether chunks may name several instances: false once the facts were
 * refused, until they answer. */
bool account_facts_usable(const account_t *a);

/* Whether a refresh is under way (or complete, not yet applied). */
bool account_facts_refreshing(const account_t *a);

/* At the start of a read: begins a refresh if one is due. */
void account_facts_begin(account_t *a, cdtime_t now);

/* The facts' next refresh comes soon (at most once a minute). */
void account_facts_refresh_soon(account_t *a);

bool account_facts_has_work(const account_t *a);

/* Starts the refresh's next request: 1 started, 0 none can, -1 no keys. */
int account_facts_start_next(account_t *a, cdtime_t now, cdtime_t deadline);

void account_facts_finished(account_t *a, void *user, const http_result_t *r);

/* With nothing in flight: a completed refresh becomes the block's facts.
 * Returns whether the chunks changed (the read plans again). */
bool account_facts_apply(account_t *a);

void account_facts_free(account_t *a);

#endif /* ACCOUNT_FACTS_H */
