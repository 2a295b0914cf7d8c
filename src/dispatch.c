/**
 * collectd-ddoscoo - src/dispatch.c
 * SPDX-License-Identifier: MIT
 *
 * What the plugin hands to collectd: a window's values, and a
 * block's own health.
 */
#include "dispatch.h"

#include "utils/common/common.h"

static void submit(const account_t *a, const char *plugin_instance,
                   cdtime_t time, cdtime_t interval, const char *type,
                   const char *type_instance, value_t value) {
  value_list_t vl = VALUE_LIST_INIT;

  vl.values = &value;
  vl.values_len = 1;
  vl.time = time;
  vl.interval = interval;
  if (a->host[0] != 0)
    sstrncpy(vl.host, a->host, sizeof(vl.host));
  sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, plugin_instance, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));

  plugin_dispatch_values(&vl);
}

/* The value covers the window ending at EndTime, and there is one per
 * Window whatever the read interval: write plugins (rrdtool) size their
 * files from vl.interval. */
void dispatch_value(const account_t *a, const series_t *s, time_t end,
                    const char *type, const char *type_instance, double value) {
  submit(a, s->plugin_instance, TIME_T_TO_CDTIME_T(end),
         TIME_T_TO_CDTIME_T(a->window), type, type_instance,
         (value_t){.gauge = (gauge_t)value});
}

/* The plugin's own health, as <block>-api, stamped with the whole second.
 * Reads can follow each other closely after one that ran long; a second
 * dispatch within the same second would be refused downstream ("Value too
 * old", rrdtool's one-second step), and the counters lose nothing by
 * waiting. Whole seconds, not "a second after the last": reads of Interval
 * 1 that end a little earlier each time would otherwise skip every other
 * one, and the threshold plugin would call the series missing. */
void dispatch_stats(account_t *a, double latency_sum, unsigned latency_count) {
  cdtime_t now = TIME_T_TO_CDTIME_T(CDTIME_T_TO_TIME_T(cdtime()));
  if (!a->self_monitoring || now <= a->stats_time)
    return;
  a->stats_time = now;
  char pi[DATA_MAX_NAME_LEN];
  ssnprintf(pi, sizeof(pi), "%s-api", a->name);
  const account_stats_t *st = &a->stats;

  if (latency_count > 0)
    submit(a, pi, now, 0, "response_time", "",
           (value_t){.gauge = latency_sum / latency_count});
  submit(a, pi, now, 0, "total_requests", "sent",
         (value_t){.derive = (derive_t)st->requests});
  submit(a, pi, now, 0, "total_requests", "failed",
         (value_t){.derive = (derive_t)st->failed});
  submit(a, pi, now, 0, "total_requests", "throttled",
         (value_t){.derive = (derive_t)st->throttled});
  /* The pace in use: MaxRequestsPerSecond, or less after throttling. */
  if (a->max_rps > 0)
    submit(a, pi, now, 0, "operations_per_second", "requests_allowed",
           (value_t){.gauge = (gauge_t)a->sched.pace});
  submit(a, pi, now, 0, "total_operations", "backfilled_windows",
         (value_t){.derive = (derive_t)st->backfilled});
}
