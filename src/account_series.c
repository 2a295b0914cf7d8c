/**
 * collectd-ddoscoo - src/account_series.c
 * SPDX-License-Identifier: MIT
 *
 * A block's series; see account_series.h.
 */
#include "account_series.h"

#include "utils/common/common.h"

#include "api_request.h"

/* Room left in plugin_instance for "_65535". */
#define NAME_SIZE (DATA_MAX_NAME_LEN - 6)

void account_series_name(const char *remark, char *out, size_t size) {
  size_t n = 0;
  if (size > NAME_SIZE)
    size = NAME_SIZE;
  for (const unsigned char *r = (const unsigned char *)remark; *r != 0;) {
    size_t len = 1;
    if (*r >= 0xC0) /* a UTF-8 lead byte: the whole character or nothing */
      while (r[len] >= 0x80 && r[len] < 0xC0)
        len++;
    if (n + len + 1 > size)
      break;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = r[i];
      bool keep = c >= 0x80 || isalnum(c) || c == '_' || c == '-';
      out[n++] = keep ? (char)c : '_';
    }
    r += len;
  }
  out[n] = 0;
  /* Nothing but underscores says nothing. */
  if (strspn(out, "_") == n)
    out[0] = 0;
}

static void free_list(char **list, size_t count) {
  for (size_t i = 0; list != NULL && i < count; i++)
    sfree(list[i]);
  sfree(list);
}

static int port_compare(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

/* The configured ports and the found ones, sorted, each once. */
static int *merge_ports(const account_t *a, int *const *found,
                        const size_t *found_count, size_t first, size_t n,
                        size_t *count) {
  size_t max = a->port_count;
  for (size_t i = first; found != NULL && i < first + n; i++)
    max += found_count[i];
  int *ports = calloc(max + 1, sizeof(*ports));
  if (ports == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < a->port_count; i++)
    ports[k++] = atoi(a->ports[i]);
  for (size_t i = first; a->ports_auto && found != NULL && i < first + n; i++)
    for (size_t j = 0; j < found_count[i]; j++)
      ports[k++] = found[i][j];
  qsort(ports, k, sizeof(*ports), port_compare);
  size_t unique = 0;
  for (size_t i = 0; i < k; i++)
    if (unique == 0 || ports[unique - 1] != ports[i])
      ports[unique++] = ports[i];
  *count = unique;
  return ports;
}

static const series_t *find(const series_t *list, size_t count,
                            const series_t *s) {
  for (size_t i = 0; i < count; i++)
    if (list[i].stat == s->stat &&
        strcmp(list[i].plugin_instance, s->plugin_instance) == 0)
      return list + i;
  return NULL;
}

/* "traffic of " and the like, before a series' name in the log; nothing
 * for connections, whose series were there first. */
static const char *stat_label(const series_t *s, char *buf, size_t size) {
  if (s->stat->scope == SCOPE_PORT)
    return "";
  ssnprintf(buf, size, "%s of ", s->stat->name);
  return buf;
}

/* The name of instance i: its Remark, if InstanceNames asks for it and
 * the Remark is usable, not like a block's self-monitoring and no other
 * instance's name. */
static void display_name(const account_t *a, char **ids, char **names,
                         size_t count, size_t i, char *out, size_t size) {
  sstrncpy(out, ids[i], size);
  if (!a->instance_names_option || names == NULL || names[i] == NULL)
    return;
  char mine[NAME_SIZE];
  account_series_name(names[i], mine, sizeof(mine));
  size_t len = strlen(mine);
  /* "...-api" is how blocks name their own health. */
  if (len == 0 || (len >= 4 && strcmp(mine + len - 4, "-api") == 0))
    return;
  for (size_t j = 0; j < count; j++) {
    char other[NAME_SIZE];
    if (j == i)
      continue;
    account_series_name(names[j] ? names[j] : "", other, sizeof(other));
    if (strcmp(mine, other) == 0 || strcmp(mine, ids[j]) == 0)
      return; /* collides: the ID it is */
  }
  sstrncpy(out, mine, size);
}

int account_set_instances(account_t *a, char **ids, char **names, size_t count,
                          int *const *found, const size_t *found_count,
                          bool log_changes) {
  size_t groups = a->aggregate ? (count > 0 ? 1 : 0) : count;
  size_t aggregated =
      (count > API_MAX_INSTANCE_IDS) ? API_MAX_INSTANCE_IDS : count;
  if (a->aggregate && count > API_MAX_INSTANCE_IDS)
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate covers the first "
                      "%d of %zu instances, the API's limit.",
          a->name, API_MAX_INSTANCE_IDS, count);

  series_t *series = NULL;
  size_t series_count = 0;
  int status = 0;
  for (size_t g = 0; g < groups && status == 0; g++) {
    size_t first = a->aggregate ? 0 : g;
    size_t n = a->aggregate ? aggregated : 1;
    size_t port_count = 0;
    int *ports = merge_ports(a, found, found_count, first, n, &port_count);
    if (ports == NULL) {
      status = ENOMEM;
      break;
    }
    /* No port configured, none auto: all ports together. Auto and none
     * found: no port to poll for this instance. */
    bool all_ports = port_count == 0 && a->port_count == 0 && !a->ports_auto;
    size_t per_port = all_ports ? 1 : port_count;
    size_t want = 0;
    for (size_t k = 0; k < a->statistics_count; k++)
      want += (a->statistics[k]->scope == SCOPE_PORT) ? per_port : 1;
    series_t *grown =
        realloc(series, (series_count + want + 1) * sizeof(*series));
    if (grown == NULL) {
      free(ports);
      status = ENOMEM;
      break;
    }
    series = grown;

    char base[NAME_SIZE];
    if (a->aggregate)
      sstrncpy(base, a->name, sizeof(base));
    else
      display_name(a, ids, names, count, g, base, sizeof(base));
    for (size_t k = 0; k < a->statistics_count; k++) {
      const statistic_t *stat = a->statistics[k];
      if (n > stat->max_instances)
        ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate covers the "
                          "first %zu of %zu instances for %s, the API's "
                          "limit.",
              a->name, stat->max_instances, n, stat->name);
      size_t per_stat = (stat->scope == SCOPE_PORT) ? per_port : 1;
      for (size_t p = 0; p < per_stat; p++) {
        series_t *s = series + series_count++;
        memset(s, 0, sizeof(*s));
        s->kind = REQUEST_WINDOW;
        s->stat = stat;
        s->first_instance = first;
        s->instance_count = (n > stat->max_instances) ? stat->max_instances : n;
        s->w.group = g;
        s->w.latest_only = stat->timeless;
        s->w.batch = stat->batch_seconds / a->window;
        if (s->w.batch > STAT_MAX_BATCH)
          s->w.batch = STAT_MAX_BATCH;
        if (stat->scope == SCOPE_PORT && !all_ports) {
          ssnprintf(s->port, sizeof(s->port), "%d", ports[p]);
          ssnprintf(s->plugin_instance, sizeof(s->plugin_instance), "%s_%s",
                    base, s->port);
        } else {
          sstrncpy(s->plugin_instance, base, sizeof(s->plugin_instance));
        }
        C_COMPLAIN_INIT(&s->complaint);
        const series_t *old = find(a->series, a->series_count, s);
        char label[64];
        if (old != NULL) {
          s->w.last_end = old->w.last_end;
          s->w.given_up_end = old->w.given_up_end;
          s->complaint = old->complaint;
          s->restored = old->restored;
        } else if (log_changes) {
          INFO(PLUGIN_NAME " plugin: Account \"%s\": now polling %sseries %s.",
               a->name, stat_label(s, label, sizeof(label)),
               s->plugin_instance);
        }
      }
    }
    free(ports);
  }
  if (status != 0) {
    free(series);
    free_list(ids, count);
    free_list(names, count);
    return status;
  }

  for (size_t i = 0; log_changes && i < a->series_count; i++) {
    char label[64];
    if (find(series, series_count, a->series + i) == NULL)
      INFO(PLUGIN_NAME " plugin: Account \"%s\": %sseries %s is gone from "
                       "the account; no longer polled.",
           a->name, stat_label(a->series + i, label, sizeof(label)),
           a->series[i].plugin_instance);
  }

  free_list(a->instance_ids, a->instance_count);
  free_list(a->instance_names, a->instance_count);
  sfree(a->series);
  a->instance_ids = ids;
  a->instance_names = names;
  a->instance_count = count;
  a->series = series;
  a->series_count = series_count;
  a->sched.cursor = 0;
  return 0;
}
