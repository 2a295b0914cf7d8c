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

static series_t *find(series_t *list, size_t count, const series_t *s) {
  for (size_t i = 0; i < count; i++)
    if (list[i].stat == s->stat && list[i].variant == s->variant &&
        strcmp(list[i].plugin_instance, s->plugin_instance) == 0)
      return list + i;
  return NULL;
}

/* A series in the log: "series X" for connections, whose series were there
 * first, "traffic of series X", "qps of domain X", "status_codes (QueryType
 * gf) of domain X". */
static const char *describe(const series_t *s, char *buf, size_t size) {
  if (s->stat->scope == SCOPE_PORT)
    ssnprintf(buf, size, "series %s", s->plugin_instance);
  else if (s->stat->scope == SCOPE_INSTANCE)
    ssnprintf(buf, size, "%s of series %s", s->stat->name, s->plugin_instance);
  else if (s->variant != NULL)
    ssnprintf(buf, size, "%s (%s %s) of domain %s", s->stat->name,
              s->variant->param, s->variant->value, s->domain);
  else
    ssnprintf(buf, size, "%s of domain %s", s->stat->name, s->domain);
  return buf;
}

/* A new series: its state from the same series of the old list, if any,
 * or logged as new. */
static void carry_over(const account_t *a, series_t *s, bool log_changes) {
  C_COMPLAIN_INIT(&s->complaint);
  if (s->variant != NULL)
    ssnprintf(s->name, sizeof(s->name), "%s (%s %s)", s->plugin_instance,
              s->variant->param, s->variant->value);
  else
    sstrncpy(s->name, s->plugin_instance, sizeof(s->name));
  const series_t *old = find(a->series, a->series_count, s);
  char label[DATA_MAX_NAME_LEN + 96];
  if (old != NULL) {
    s->w.last_end = old->w.last_end;
    s->released_at = old->released_at;
    s->w.given_up_end = old->w.given_up_end;
    s->complaint = old->complaint;
    s->restored = old->restored;
  } else if (log_changes) {
    INFO(PLUGIN_NAME " plugin: Account \"%s\": now polling %s.", a->name,
         describe(s, label, sizeof(label)));
  }
}

/* The series of old no longer in the new list, logged as gone. */
static void log_gone(const account_t *a, series_t *series,
                     size_t series_count) {
  for (size_t i = 0; i < a->series_count; i++) {
    char label[DATA_MAX_NAME_LEN + 96];
    if (find(series, series_count, a->series + i) == NULL)
      INFO(PLUGIN_NAME " plugin: Account \"%s\": %s is gone from the "
                       "account; no longer polled.",
           a->name, describe(a->series + i, label, sizeof(label)));
  }
}

/* A new series of stat in scheduling group g, before its names. */
static void series_init(const account_t *a, series_t *s,
                        const statistic_t *stat, size_t g) {
  memset(s, 0, sizeof(*s));
  s->kind = REQUEST_WINDOW;
  s->stat = stat;
  s->w.group = g;
  s->w.stat = (size_t)(stat - statistics); /* refusals back off per stat */
  s->w.latest_only = stat->timeless;
  s->w.batch = stat->batch_seconds / a->window;
  if (s->w.batch > STAT_MAX_BATCH)
    s->w.batch = STAT_MAX_BATCH;
}

/* The block's series are series now: the ones no longer there are logged
 * as gone, and the next read starts at the first. */
static void install_series(account_t *a, series_t *series, size_t series_count,
                           bool log_changes) {
  if (log_changes)
    log_gone(a, series, series_count);
  /* Windows fetched but not yet dispatched stay with their series. */
  for (size_t i = 0; i < series_count; i++) {
    series_t *old = find(a->series, a->series_count, series + i);
    if (old != NULL)
      held_move(&series[i].held, &old->held);
  }
  for (size_t i = 0; i < a->series_count; i++)
    held_clear(&a->series[i].held); /* of the series gone */
  sfree(a->series);
  a->series = series;
  a->series_count = series_count;
  a->sched.cursor = 0;
}

void account_domain_instance(const char *domain, char *out, size_t size) {
  sstrncpy(out, domain, size);
  for (char *c = out; *c != 0; c++)
    if (*c == '*')
      *c = '_';
}

/* Appends to *series the web series of domains: per domain, statistic
 * and variant. Returns 0 or ENOMEM (*series then as it was, or grown). */
static int add_domain_series(const account_t *a, char *const *domains,
                             size_t domain_count, series_t **series,
                             size_t *series_count, bool log_changes) {
  size_t want = 0;
  for (size_t k = 0; k < a->statistics_count; k++)
    if (a->statistics[k]->scope == SCOPE_DOMAIN)
      want +=
          a->statistics[k]->variant_count ? a->statistics[k]->variant_count : 1;
  if (want == 0 || domain_count == 0)
    return 0;
  series_t *grown = realloc(*series, (*series_count + want * domain_count + 1) *
                                         sizeof(**series));
  if (grown == NULL)
    return ENOMEM;
  *series = grown;
  for (size_t d = 0; d < domain_count; d++)
    for (size_t k = 0; k < a->statistics_count; k++) {
      const statistic_t *stat = a->statistics[k];
      if (stat->scope != SCOPE_DOMAIN)
        continue;
      size_t variants = stat->variant_count ? stat->variant_count : 1;
      for (size_t v = 0; v < variants; v++) {
        series_t *s = *series + (*series_count)++;
        /* Series of one domain share a group: a domain gone skips them
         * all. Instances count up from 0, domains down from the top. */
        series_init(a, s, stat, SIZE_MAX - d);
        s->variant = stat->variant_count ? stat->variants + v : NULL;
        /* A variant backs off apart: one QueryType may be refused alone. */
        s->w.stat += statistics_count * v;
        sstrncpy(s->domain, domains[d], sizeof(s->domain));
        account_domain_instance(domains[d], s->plugin_instance,
                                sizeof(s->plugin_instance));
        carry_over(a, s, log_changes);
      }
    }
  return 0;
}

/* The series of a's list of the other kind (domain or not), copied. */
static int keep_series(const account_t *a, bool domains, series_t **series,
                       size_t *series_count) {
  for (size_t i = 0; i < a->series_count; i++) {
    if ((a->series[i].stat->scope == SCOPE_DOMAIN) != domains)
      continue;
    series_t *grown = realloc(*series, (*series_count + 2) * sizeof(**series));
    if (grown == NULL)
      return ENOMEM;
    *series = grown;
    (*series)[(*series_count)++] = a->series[i];
  }
  return 0;
}

int account_set_domains(account_t *a, char **domains, size_t count,
                        bool log_changes) {
  series_t *series = NULL;
  size_t series_count = 0;
  int status = keep_series(a, false, &series, &series_count);
  if (status == 0)
    status = add_domain_series(a, domains, count, &series, &series_count,
                               log_changes);
  if (status != 0) {
    free(series);
    free_list(domains, count);
    return status;
  }
  install_series(a, series, series_count, log_changes);
  free_list(a->domains, a->domain_count);
  a->domains = domains;
  a->domain_count = count;
  return 0;
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
      want += (a->statistics[k]->scope == SCOPE_PORT)     ? per_port
              : (a->statistics[k]->scope == SCOPE_DOMAIN) ? 0
                                                          : 1;
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
      if (stat->scope == SCOPE_DOMAIN)
        continue;
      if (n > stat->max_instances)
        ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate covers the "
                          "first %zu of %zu instances for %s, the API's "
                          "limit.",
              a->name, stat->max_instances, n, stat->name);
      size_t per_stat = (stat->scope == SCOPE_PORT) ? per_port : 1;
      for (size_t p = 0; p < per_stat; p++) {
        series_t *s = series + series_count++;
        series_init(a, s, stat, g);
        s->first_instance = first;
        s->instance_count = (n > stat->max_instances) ? stat->max_instances : n;
        if (stat->scope == SCOPE_PORT && !all_ports) {
          ssnprintf(s->port, sizeof(s->port), "%d", ports[p]);
          ssnprintf(s->plugin_instance, sizeof(s->plugin_instance), "%s_%s",
                    base, s->port);
        } else {
          sstrncpy(s->plugin_instance, base, sizeof(s->plugin_instance));
        }
        carry_over(a, s, log_changes);
      }
    }
    free(ports);
  }
  /* The web series stay as they are. */
  if (status == 0)
    status = keep_series(a, true, &series, &series_count);
  if (status != 0) {
    free(series);
    free_list(ids, count);
    free_list(names, count);
    return status;
  }
  install_series(a, series, series_count, log_changes);
  free_list(a->instance_ids, a->instance_count);
  free_list(a->instance_names, a->instance_count);
  a->instance_ids = ids;
  a->instance_names = names;
  a->instance_count = count;
  return 0;
}
