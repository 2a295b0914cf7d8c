/**
 * collectd-ddoscoo - src/cc_notify.h
 * SPDX-License-Identifier: MIT
 *
 * HTTP floods on a domain (the cc_events statistic) as notifications: each
 * flood once when it starts and once when it ends, also across a restart
 * with a StateFile, naming its top source IPs, which one
 * DescribeWebReportTopIp request per notification finds. That request is
 * started between the polls, as discovery's are (account_poll.c).
 */
#ifndef CC_NOTIFY_H
#define CC_NOTIFY_H 1

#include "account.h"

/* A cc_events answer (every page): the floods whose start or end is news
 * wait for their sources. */
void cc_notify_events(account_t *a, series_t *s, const api_rows_t *rows);

/* Whether a sources request may start, and starting it (1 started, 0 none
 * can, -1 no keys), as discovery_has_work() and discovery_start_next(). */
bool cc_sources_pending(const account_t *a);
int cc_sources_start_next(account_t *a, cdtime_t now, cdtime_t deadline);

/* The answer to a sources request (user: what account_start() was given):
 * the flood's notifications, with the sources or why there are none. */
void cc_sources_finished(account_t *a, void *user, const http_result_t *r);

/* Frees what waits (its notifications are sent after a restart). */
void cc_notify_free(account_t *a);

#endif /* CC_NOTIFY_H */
