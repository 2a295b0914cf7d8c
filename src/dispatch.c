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
 * Window whatever the read interval (one per cadence for a slowly changing
 * state): write plugins (rrdtool, whose heartbeat is twice the step) size
 * their files from vl.interval. */
void dispatch_value(const account_t *a, const series_t *s, time_t end,
                    const char *type, const char *type_instance, double value) {
  /* A state has a value every state_every seconds; a series the request
   * plan thins, every cadence windows. */
  int window = series_window(a, s);
  int every = (s->w.state_every > window)       ? s->w.state_every
              : (s->w.thin && s->w.cadence > 1) ? window * s->w.cadence
                                                : window;
  /* A port's value (type_instance its number): the port's series, as the
   * connections' ("<instance>_<port>"). */
  char port_instance[DATA_MAX_NAME_LEN];
  const char *plugin_instance = s->plugin_instance;
  for (size_t v = 0; s->stat->per_port && v < s->stat->value_count; v++)
    if (strcmp(s->stat->values[v].type, type) == 0) {
      ssnprintf(port_instance, sizeof(port_instance), "%s_%s",
                s->plugin_instance, type_instance);
      plugin_instance = port_instance;
      type_instance = s->stat->values[v].type_instance;
      break;
    }
  submit(a, plugin_instance, TIME_T_TO_CDTIME_T(end), TIME_T_TO_CDTIME_T(every),
         type, type_instance, (value_t){.gauge = (gauge_t)value});
}

void dispatch_utc(time_t t, char *buf, size_t size) {
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%FT%TZ", &tm) == 0)
    ssnprintf(buf, size, "%lld", (long long)t);
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

  /* Of each statistic: <statistic>-sent, -refused, -throttled and -age. */
  for (size_t i = 0; i < a->statistics_count; i++) {
    const statistic_t *stat = a->statistics[i];
    const stat_health_t *h = dispatch_health(a, stat);
    if (h == NULL || (stat == a->stand_in && !a->standing_in && h->sent == 0))
      continue; /* a stand-in the plan has not used */
    const struct {
      const char *what;
      uint64_t count;
    } counters[] = {{"sent", h->sent},
                    {"refused", h->refused},
                    {"throttled", h->throttled}};
    char ti[DATA_MAX_NAME_LEN];
    for (size_t k = 0; k < STATIC_ARRAY_SIZE(counters); k++) {
      ssnprintf(ti, sizeof(ti), "%s-%s", stat->name, counters[k].what);
      submit(a, pi, now, 0, "total_requests", ti,
             (value_t){.derive = (derive_t)counters[k].count});
    }
    double age = statistic_age(a, stat, now);
    if (age >= 0) {
      ssnprintf(ti, sizeof(ti), "%s-age", stat->name);
      submit(a, pi, now, 0, "duration", ti, (value_t){.gauge = age});
    }
  }
}

stat_health_t *dispatch_health(account_t *a, const statistic_t *stat) {
  for (size_t i = 0;
       i < a->statistics_count && i < STATIC_ARRAY_SIZE(a->stats.of); i++)
    if (a->statistics[i] == stat)
      return a->stats.of + i;
  return NULL;
}

/* The oldest of the newest windows: "the statistic is N seconds behind"
 * is true of every one of its series. */
double statistic_age(const account_t *a, const statistic_t *stat,
                     cdtime_t now) {
  time_t oldest = 0;
  bool any = false;
  for (size_t i = 0; i < a->series_count; i++) {
    const series_t *s = a->series + i;
    if (s->stat != stat)
      continue;
    time_t stored = series_stored_end(s, series_window(a, s));
    time_t newest = stored ? stored : s->age_since;
    if (newest == 0) /* not polled yet */
      continue;
    if (!any || newest < oldest)
      oldest = newest;
    any = true;
  }
  if (!any)
    return -1;
  double age = CDTIME_T_TO_DOUBLE(now) - (double)oldest;
  return age > 0 ? age : 0;
}

/* What a statistic's first answer covers: "2 instances", "3 domains". */
static void describe_cover(const account_t *a, const statistic_t *stat,
                           char *buf, size_t size) {
  bool web = stat->scope == SCOPE_DOMAIN;
  size_t n = web ? a->domain_count : a->instance_count;
  if (stat->scope == SCOPE_ACCOUNT) {
    sstrncpy(buf, "the account", size);
    return;
  }
  ssnprintf(buf, size, "%zu %s%s", n, web ? "domain" : "instance",
            n == 1 ? "" : "s");
}

void dispatch_answered(account_t *a, const series_t *s) {
  stat_health_t *h = dispatch_health(a, s->stat);
  if (h == NULL || h->contact == CONTACT_ANSWERED)
    return;
  char cover[64];
  describe_cover(a, s->stat, cover, sizeof(cover));
  INFO(PLUGIN_NAME " plugin: Account \"%s\": %s: %s %s for %s.", a->name,
       s->stat->name, s->stat->action,
       h->contact == CONTACT_REFUSED ? "answers now" : "answered", cover);
  h->contact = CONTACT_ANSWERED;
}

void dispatch_refused(account_t *a, const series_t *s, api_error_class_t class,
                      const api_error_t *error) {
  stat_health_t *h = dispatch_health(a, s->stat);
  if (h == NULL)
    return;
  h->refused++;
  if (h->contact != CONTACT_NONE)
    return;
  h->contact = CONTACT_REFUSED;
  if (class == API_ERROR_PERMISSION)
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %s: permission denied, add "
                     "yundun-ddoscoo:%s to the key's RAM policy.",
         a->name, s->stat->name, s->stat->action);
  else
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %s: %s refused: %s (%s).",
         a->name, s->stat->name, s->stat->action, error->code,
         api_error_explain(class));
}
