/**
 * collectd-ddoscoo - src/event_sources.h
 * SPDX-License-Identifier: MIT
 *
 * Attack events as notifications, with who is attacking: each event once
 * when it starts and once when it ends, also across a restart with a
 * StateFile, naming its top source IPs, which one request per notification
 * finds (DescribeDDosEventSrcIp for a volumetric event of the events
 * statistic, DescribeWebReportTopIp for an HTTP flood of cc_events). The
 * request is started between the polls, as discovery's are
 * (account_poll.c); with EventSources false none is, and the notification
 * goes at once without sources.
 */
#ifndef EVENT_SOURCES_H
#define EVENT_SOURCES_H 1

#include "account.h"

/* Whose sources, and which operation finds them: a row of the table in
 * event_sources.c. */
typedef enum {
  SOURCES_DDOS, /* a mitigation or blackhole event: DescribeDDosEventSrcIp */
  SOURCES_CC,   /* an HTTP flood on a domain: DescribeWebReportTopIp */
  /* a connection flood (CC) on an instance's IP (instance_cc_events): no
   * operation names its sources, it is notified at once */
  SOURCES_NONE,
} sources_op_t;

/* What an event's notification names: the plugin instance, and for an HTTP
 * flood the domain. */
typedef struct {
  sources_op_t op;
  const char *key; /* its StateFile mark */
  const char *plugin_instance;
  const char *domain; /* SOURCES_CC */
} event_of_t;

/* An event of an answer, given since and now as stat_event_notify() takes
 * them: a start or end that is news is notified once its sources are
 * known (or at once, without them); its mark is set then. An event long
 * over is marked without a word. */
void event_sources_due(account_t *a, const event_of_t *of,
                       const stat_event_t *e, time_t since, time_t now);

/* A cc_events answer (every page): its floods through event_sources_due. */
void cc_notify_events(account_t *a, series_t *s, const api_rows_t *rows);

/* Whether a sources request may start, and starting it (1 started, 0 none
 * can, -1 no keys), as discovery_has_work() and discovery_start_next(). */
bool event_sources_pending(const account_t *a);
int event_sources_start_next(account_t *a, cdtime_t now, cdtime_t deadline);

/* The answer to a sources request (user: what account_start() was given):
 * the event's notifications, with the sources or why there are none. */
void event_sources_finished(account_t *a, void *user, const http_result_t *r);

/* Frees what waits (its notifications are sent after a restart). */
void event_sources_free(account_t *a);

#endif /* EVENT_SOURCES_H */
