/**
 * collectd-ddoscoo - src/statistics.c
 * SPDX-License-Identifier: MIT
 *
 * The table of statistics; see statistics.h. Operations, parameters and
 * fields: the official SDK's models (alibabacloud-go/ddoscoo-20200101) and
 * the API reference, summed up in doc/api-operations.md.
 */
#include "statistics.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* DescribePortConnsCount: one window, a flat answer. */
static const api_field_t connections_fields[] = {
    {"Conns", API_FIELD_COUNT, true},
    {"ActConns", API_FIELD_COUNT, true},
    {"InActConns", API_FIELD_COUNT, true},
    {"Cps", API_FIELD_COUNT, true},
};
static const stat_value_t connections_values[] = {
    {"Conns", "current_connections", "concurrent"},
    {"ActConns", "current_connections", "active"},
    {"InActConns", "current_connections", "inactive"},
    {"Cps", "operations_per_second", "new_connections"},
};

/* DescribePortFlowList: a row per Interval bucket. bit/s go into "gauge",
 * not "bitrate": the stock bitrate type stops at 2^32 - 1 (4.29 Gbit/s),
 * and rrdtool stores anything above a data source's maximum as unknown. */
static const api_field_t traffic_fields[] = {
    {"Time", API_FIELD_COUNT, false},     {"Index", API_FIELD_COUNT, false},
    {"InBps", API_FIELD_COUNT, true},     {"OutBps", API_FIELD_COUNT, true},
    {"AttackBps", API_FIELD_COUNT, true}, {"InPps", API_FIELD_COUNT, true},
    {"OutPps", API_FIELD_COUNT, true},    {"AttackPps", API_FIELD_COUNT, true},
};
static const stat_value_t traffic_values[] = {
    {"InBps", "gauge", "in_bps"},
    {"OutBps", "gauge", "out_bps"},
    {"AttackBps", "gauge", "attack_bps"},
    {"InPps", "operations_per_second", "in_packets"},
    {"OutPps", "operations_per_second", "out_packets"},
    {"AttackPps", "operations_per_second", "attack_packets"},
};

const statistic_t statistics[] = {
    {
        .name = "connections",
        .action = "DescribePortConnsCount",
        .scope = SCOPE_PORT,
        .fields = connections_fields,
        .field_count = COUNT_OF(connections_fields),
        .values = connections_values,
        .value_count = COUNT_OF(connections_values),
        .max_response = 64 * 1024, /* four numbers and a RequestId */
        .state_suffix = "",
    },
    {
        .name = "traffic",
        .action = "DescribePortFlowList",
        .scope = SCOPE_INSTANCE,
        /* The longest range for which the reference recommends Interval 60. */
        .batch_seconds = 3600,
        .list = "PortFlowList",
        .time_field = "Time",
        .index_field = "Index",
        .fields = traffic_fields,
        .field_count = COUNT_OF(traffic_fields),
        .values = traffic_values,
        .value_count = COUNT_OF(traffic_values),
        /* An hour of rows, one per source region on Premium (six). */
        .max_response = 1024 * 1024,
        .state_suffix = "/traffic",
    },
};
const size_t statistics_count = COUNT_OF(statistics);

const statistic_t *statistic_find(const char *name) {
  for (size_t i = 0; i < statistics_count; i++)
    if (strcasecmp(statistics[i].name, name) == 0)
      return statistics + i;
  return NULL;
}

const statistic_t *statistic_of_action(const char *action) {
  for (size_t i = 0; i < statistics_count; i++)
    if (strcmp(statistics[i].action, action) == 0)
      return statistics + i;
  return NULL;
}

/* The index of the field named name, or -1. */
static int field_index(const statistic_t *stat, const char *name) {
  for (size_t f = 0; name != NULL && f < stat->field_count; f++)
    if (strcmp(stat->fields[f].name, name) == 0)
      return (int)f;
  return -1;
}

int stat_windows(const statistic_t *stat, const api_rows_t *rows,
                 time_t first_end, time_t last_end, int window, double *values,
                 bool *seen, char *why, size_t why_size) {
  size_t windows = (size_t)((last_end - first_end) / window) + 1;
  memset(values, 0, windows * stat->value_count * sizeof(*values));
  memset(seen, 0, windows * sizeof(*seen));
  int time_f = field_index(stat, stat->time_field);
  int index_f = field_index(stat, stat->index_field);
  time_t start = first_end - window; /* the request's StartTime */

  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    size_t k = 0;
    if (stat->list != NULL) {
      /* Time, the bucket's start, or else Index, buckets from StartTime. */
      uint64_t offset;
      if (time_f >= 0 && row[time_f].present) {
        if (row[time_f].count < (uint64_t)start) {
          snprintf(why, why_size, "a row's Time %llu is before StartTime %lld",
                   (unsigned long long)row[time_f].count, (long long)start);
          return -1;
        }
        offset = row[time_f].count - (uint64_t)start;
      } else if (index_f >= 0 && row[index_f].present) {
        offset = row[index_f].count * (uint64_t)window;
      } else {
        snprintf(why, why_size, "a row has neither %s nor %s",
                 stat->time_field ? stat->time_field : "Time",
                 stat->index_field ? stat->index_field : "Index");
        return -1;
      }
      if (offset % (uint64_t)window != 0 ||
          offset / (uint64_t)window >= windows) {
        snprintf(
            why, why_size,
            "a row %llu s after StartTime %lld is not a bucket of the %d s "
            "windows asked for",
            (unsigned long long)offset, (long long)start, window);
        return -1;
      }
      k = (size_t)(offset / (uint64_t)window);
    }
    seen[k] = true;
    for (size_t v = 0; v < stat->value_count; v++) {
      int f = field_index(stat, stat->values[v].field);
      if (f >= 0 && row[f].present)
        values[k * stat->value_count + v] += (double)row[f].count;
    }
  }
  return 0;
}

void statistics_names(char *buf, size_t size) {
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < statistics_count && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "",
                             statistics[i].name);
}
