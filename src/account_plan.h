/**
 * collectd-ddoscoo - src/account_plan.h
 * SPDX-License-Identifier: MIT
 *
 * A block's request plan (plan.h), made from its series as built, the
 * pace the scheduler learnt and the latency it measured, handed to the
 * series, and said in the log.
 */
#ifndef ACCOUNT_PLAN_H
#define ACCOUNT_PLAN_H 1

#include "account.h"

/* Before a read: plans the block's series when they changed (the first
 * read, discovery: changed true) or when the learnt pace, or the capacity
 * at the latency the scheduler measured (MaxConcurrentRequests requests at
 * a time), has moved materially from the one planned for (at most once
 * every PLAN_REPLAN_SECONDS). Each new plan is one INFO line. */
void account_plan(account_t *a, bool changed);

/* The order in which the block's statistics give way, most important
 * first: Priority's, then the rest in the default order (alerting first:
 * events, blackhole; then max_new_connections, traffic, connections, the
 * web statistics).
 * Returns 0-based rank. */
size_t account_priority(const account_t *a, const statistic_t *stat);

#endif /* ACCOUNT_PLAN_H */
