/**
 * collectd-ddoscoo - src/discovery.c
 * SPDX-License-Identifier: MIT
 *
 * Instances and forwarded ports; see discovery.h.
 */
#include "discovery.h"

#include "utils/common/common.h"

#include "account_request.h"
#include "account_series.h"
#include "api_request.h"
#include "api_response.h"

/* A failed refresh is tried again after this long (or DiscoveryInterval,
 * if shorter). */
#define RETRY_FAILED TIME_T_TO_CDTIME_T(60)
/* Pages of forwarding rules per instance, at most. */
#define MAX_PAGES 100

typedef struct {
  request_kind_t kind; /* REQUEST_RULES */
  char *id;
  char *remark;
  int *ports;
  size_t port_count;
  int *rules; /* port, + DISCOVERY_UDP for udp: each rule once */
  size_t rule_count;
  int next_page; /* 0: all read */
  bool in_flight;
} found_t;

/* The user of a DescribeDomains request. */
typedef struct {
  request_kind_t kind; /* REQUEST_DOMAINS */
} domains_request_t;

struct discovery_s {
  request_kind_t kind; /* REQUEST_INSTANCES, for that request */
  domains_request_t domains_request;
  bool running; /* a refresh is under way */
  bool ready;   /* a refresh is complete, not yet applied */
  bool applied; /* some refresh was */
  bool failed;  /* this refresh: it ends once nothing is in flight */
  bool instances_pending;
  bool instances_in_flight;
  found_t *found;
  size_t found_count;
  size_t cursor;
  bool domains_pending; /* DescribeDomains to ask */
  bool domains_in_flight;
  bool domains_found; /* answered in this refresh: domains is the list */
  char **domains;
  size_t domain_count;
  cdtime_t next_run;
  c_complain_t complaint;
  /* Names of answers left out, of DescribeInstanceIds and DescribeDomains:
   * apart, as the two answers come in either order. */
  c_complain_t ids_complaint, domains_complaint;
};

static void forget(discovery_t *d) {
  for (size_t i = 0; i < d->found_count; i++) {
    sfree(d->found[i].id);
    sfree(d->found[i].remark);
    sfree(d->found[i].ports);
    sfree(d->found[i].rules);
  }
  sfree(d->found);
  d->found_count = 0;
  d->cursor = 0;
  for (size_t i = 0; i < d->domain_count; i++)
    sfree(d->domains[i]);
  sfree(d->domains);
  d->domain_count = 0;
  d->domains_found = false;
}

/* Whether the refresh asks for instances or their ports (or rules). */
static bool instances_part(const account_t *a) {
  return a->discover_instances || a->ports_auto || a->rules_wanted;
}

discovery_t *discovery_create(void) {
  discovery_t *d = calloc(1, sizeof(*d));
  if (d != NULL) {
    d->kind = REQUEST_INSTANCES;
    d->domains_request.kind = REQUEST_DOMAINS;
    C_COMPLAIN_INIT(&d->complaint);
    C_COMPLAIN_INIT(&d->ids_complaint);
    C_COMPLAIN_INIT(&d->domains_complaint);
  }
  return d;
}

void discovery_destroy(discovery_t *d) {
  if (d == NULL)
    return;
  forget(d);
  sfree(d);
}

static int add_found(discovery_t *d, const char *id, const char *remark,
                     bool rules) {
  for (size_t i = 0; i < d->found_count; i++)
    if (strcmp(d->found[i].id, id) == 0)
      return 0;
  found_t *grown = realloc(d->found, (d->found_count + 1) * sizeof(*grown));
  if (grown == NULL)
    return ENOMEM;
  d->found = grown;
  found_t *f = d->found + d->found_count;
  *f = (found_t){.kind = REQUEST_RULES, .next_page = rules ? 1 : 0};
  f->id = strdup(id);
  f->remark = (remark != NULL && remark[0] != 0) ? strdup(remark) : NULL;
  if (f->id == NULL) {
    sfree(f->remark);
    return ENOMEM;
  }
  d->found_count++;
  return 0;
}

void discovery_begin(account_t *a, cdtime_t now) {
  discovery_t *d = a->discovery;
  if (d == NULL || d->running || d->ready || now < d->next_run)
    return;
  d->running = true;
  d->failed = false;
  forget(d);
  d->instances_pending = a->discover_instances;
  d->domains_pending = a->domains_auto;
  /* Listed instances (then instance_ids never changes): only their ports
   * are discovered. */
  for (size_t i = 0;
       !a->discover_instances && (a->ports_auto || a->rules_wanted) &&
       i < a->instance_count;
       i++)
    if (add_found(d, a->instance_ids[i], NULL, true) != 0)
      d->running = false;
}

void discovery_refresh_now(account_t *a) {
  if (a->discovery != NULL && (a->discover_instances || a->domains_auto))
    a->discovery->next_run = 0;
}

bool discovery_has_work(const account_t *a) {
  const discovery_t *d = a->discovery;
  if (d == NULL || !d->running || d->failed)
    return false;
  if (d->domains_pending && !d->domains_in_flight)
    return true;
  if (d->instances_pending)
    return !d->instances_in_flight;
  for (size_t i = 0; i < d->found_count; i++)
    if (d->found[i].next_page > 0 && !d->found[i].in_flight)
      return true;
  return false;
}

int discovery_start_next(account_t *a, cdtime_t now, cdtime_t deadline) {
  discovery_t *d = a->discovery;
  if (!discovery_has_work(a))
    return 0;

  rpc_params_t params = RPC_PARAMS_INIT;
  if (d->domains_pending && !d->domains_in_flight) {
    /* The listed instances' domains; with none listed (or more than one
     * request takes), the account's. */
    size_t n = a->discover_instances || a->instance_count > API_MAX_INSTANCE_IDS
                   ? 0
                   : a->instance_count;
    if (api_domains_params(a->region_id, a->resource_group_id,
                           (const char *const *)a->instance_ids, n,
                           &params) != 0)
      return 0;
    int status = account_start(a, API_ACTION_DOMAINS, &params, now, deadline,
                               &d->domains_request, NULL);
    if (status == 0)
      d->domains_in_flight = true;
    return (status == -1) ? -1 : (status == 0);
  }
  if (d->instances_pending) {
    if (api_instance_ids_params(a->region_id, a->resource_group_id, &params) !=
        0)
      return 0;
    int status =
        account_start(a, API_ACTION_INSTANCES, &params, now, deadline, d, NULL);
    if (status == 0)
      d->instances_in_flight = true;
    return (status == -1) ? -1 : (status == 0);
  }

  for (size_t k = 0; k < d->found_count; k++) {
    found_t *f = d->found + (d->cursor + k) % d->found_count;
    if (f->next_page == 0 || f->in_flight)
      continue;
    d->cursor = (d->cursor + k + 1) % d->found_count;
    if (api_network_rules_params(a->region_id, a->resource_group_id, f->id,
                                 f->next_page, API_RULES_PAGE_SIZE,
                                 &params) != 0)
      return 0;
    int status =
        account_start(a, API_ACTION_RULES, &params, now, deadline, f, NULL);
    if (status == 0)
      f->in_flight = true;
    return (status == -1) ? -1 : (status == 0);
  }
  return 0;
}

/* The refresh ends: complete (ready to apply) or failed (the last list
 * stays). */
static void finish(account_t *a, bool ok) {
  discovery_t *d = a->discovery;
  cdtime_t now = cdtime();
  d->running = false;
  d->ready = ok;
  if (ok) {
    d->next_run = now + a->discovery_interval;
  } else {
    forget(d);
    d->next_run =
        now + ((a->discovery_interval < RETRY_FAILED) ? a->discovery_interval
                                                      : RETRY_FAILED);
  }
}

/* Ends the refresh once nothing of it is in flight and, unless it failed,
 * nothing is left to ask. */
static void check_complete(account_t *a) {
  discovery_t *d = a->discovery;
  if (!d->running || d->instances_in_flight || d->domains_in_flight ||
      (!d->failed && d->domains_pending))
    return;
  for (size_t i = 0; i < d->found_count; i++)
    if (d->found[i].in_flight || (!d->failed && d->found[i].next_page > 0))
      return;
  if (d->failed || !d->instances_pending)
    finish(a, !d->failed);
}

static int add_port(found_t *f, int port) {
  for (size_t i = 0; i < f->port_count; i++)
    if (f->ports[i] == port)
      return 0; /* tcp and udp on one port: one series */
  int *grown = realloc(f->ports, (f->port_count + 1) * sizeof(*grown));
  if (grown == NULL)
    return ENOMEM;
  f->ports = grown;
  f->ports[f->port_count++] = port;
  return 0;
}

/* A rule as the health statistic asks for it: its port, and its protocol
 * (udp, or else tcp). */
static int add_rule(found_t *f, const api_rule_t *rule) {
  int code = rule->frontend_port +
             (strcmp(rule->protocol, "udp") == 0 ? DISCOVERY_UDP : 0);
  for (size_t i = 0; i < f->rule_count; i++)
    if (f->rules[i] == code)
      return 0;
  int *grown = realloc(f->rules, (f->rule_count + 1) * sizeof(*grown));
  if (grown == NULL)
    return ENOMEM;
  f->rules = grown;
  f->rules[f->rule_count++] = code;
  return 0;
}

/* What went wrong, for the log; true if the request may simply be asked
 * again (throttling). */
static bool describe_failure(account_t *a, const http_result_t *r,
                             api_response_status_t parsed,
                             const api_error_t *error, const char *why,
                             char *out, size_t size) {
  if (r->status == HTTP_FAILED) {
    ssnprintf(out, size, "request failed: %s", r->error);
    return false;
  }
  if (parsed == API_RESPONSE_INVALID) {
    ssnprintf(out, size, "unusable response (HTTP %ld, %zu bytes): %s",
              r->http_status, r->len, why);
    return false;
  }
  api_error_class_t class = api_error_classify(error->code, r->http_status);
  ssnprintf(out, size, "API error %s (HTTP %ld; %s): %s (RequestId %s)",
            error->code, r->http_status, api_error_explain(class),
            error->message, error->request_id[0] ? error->request_id : "none");
  if (api_error_is_throttling(error->code)) {
    a->stats.throttled++;
    sched_throttled(&a->sched, r->retry_after_ms);
    return true;
  }
  return false;
}

/* The names of a DescribeDomains answer. */
static const api_field_t domain_fields[] = {
    {API_FIELD_SELF, API_FIELD_TEXT, true},
};

/* Names of an answer left out: one line (rate-limited) for the answer,
 * with how many and the first, escaped. */
static void refused_names(account_t *a, c_complain_t *complaint,
                          const char *action, size_t refused, size_t count,
                          const char *first, const char *what) {
  if (refused == 0)
    return;
  char shown[API_TEXT_SIZE];
  stat_escape(first, shown, sizeof(shown));
  /* The same answer comes back with each refresh: said once, then at
   * doubling intervals from DiscoveryInterval. */
  if (complaint->interval == 0)
    complaint->interval = a->discovery_interval;
  c_complain(LOG_WARNING, complaint,
             PLUGIN_NAME " plugin: Account \"%s\": %s: left out %zu of %zu "
                         "names that are no %s, the first \"%s\".",
             a->name, action, refused, count, what, shown);
}

/* Takes the web domains of an answer; names that are no domain are left
 * out with a warning. Returns 0 or ENOMEM. */
static int take_domains(account_t *a, discovery_t *d, const api_rows_t *rows) {
  size_t listed = a->listed_domain_count;
  d->domains = calloc(listed + rows->count + 1, sizeof(*d->domains));
  if (d->domains == NULL)
    return ENOMEM;
  size_t refused = 0;
  const char *first_refused = NULL;
  /* The listed domains first, then the account's. */
  for (size_t i = 0; i < listed + rows->count; i++) {
    char name[API_TEXT_SIZE];
    sstrncpy(name,
             (i < listed) ? a->listed_domains[i]
                          : rows->values[i - listed].text,
             sizeof(name));
    for (char *c = name; *c != 0; c++)
      *c = (char)tolower((unsigned char)*c);
    if (!account_is_domain(name)) {
      if (refused++ == 0)
        first_refused =
            (i < listed) ? a->listed_domains[i] : rows->values[i - listed].text;
      continue;
    }
    bool twice = false;
    for (size_t j = 0; j < d->domain_count && !twice; j++)
      twice = strcmp(d->domains[j], name) == 0;
    if (twice)
      continue;
    if ((d->domains[d->domain_count] = strdup(name)) == NULL)
      return ENOMEM;
    d->domain_count++;
  }
  refused_names(a, &d->domains_complaint, API_ACTION_DOMAINS, refused,
                listed + rows->count, first_refused,
                "domain name (letters, digits, '-', '_' and dots, optionally "
                "after \"*.\", short enough for a series name)");
  d->domains_found = true;
  return 0;
}

void discovery_finished(account_t *a, void *user, const http_result_t *r) {
  discovery_t *d = a->discovery;
  request_kind_t kind = *(request_kind_t *)user;
  bool instances = kind == REQUEST_INSTANCES;
  bool domains = kind == REQUEST_DOMAINS;
  found_t *f = (instances || domains) ? NULL : user;
  if (instances)
    d->instances_in_flight = false;
  else if (domains)
    d->domains_in_flight = false;
  else
    f->in_flight = false;

  api_error_t error;
  char why[256] = "";
  api_response_status_t parsed = API_RESPONSE_INVALID;
  api_instance_list_t list = {0};
  api_rule_list_t rules = {0};
  api_rows_t names = {0};
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else if (r->status == HTTP_OK && domains)
    parsed = api_parse_rows(r->body, r->len, API_ACTION_DOMAINS, "Domains",
                            domain_fields, 1, NULL, 0, &names, &error, why,
                            sizeof(why));
  else if (r->status == HTTP_OK && instances)
    parsed = api_parse_instance_ids(r->body, r->len, &list, &error, why,
                                    sizeof(why));
  else if (r->status == HTTP_OK)
    parsed = api_parse_network_rules(r->body, r->len, &rules, &error, why,
                                     sizeof(why));
  if (r->status == HTTP_OK)
    parsed = api_server_failure(parsed, r->http_status, r->content_type, r->len,
                                &error);

  int status = 0;
  if (parsed == API_RESPONSE_OK && domains) {
    if (!d->failed)
      status = take_domains(a, d, &names);
    d->domains_pending = false;
  } else if (parsed == API_RESPONSE_OK && instances) {
    size_t refused = 0;
    const char *first_refused = NULL;
    for (size_t i = 0; i < list.count && status == 0; i++) {
      if (!account_is_identifier(list.items[i].id)) {
        if (refused++ == 0)
          first_refused = list.items[i].id;
        continue;
      }
      status = add_found(d, list.items[i].id, list.items[i].remark,
                         a->ports_auto || a->rules_wanted);
    }
    refused_names(a, &d->ids_complaint, API_ACTION_INSTANCES, refused,
                  list.count, first_refused,
                  "instance ID (letters, digits, '.', '_', '-')");
    d->instances_pending = false;
  } else if (parsed == API_RESPONSE_OK) {
    for (size_t i = 0; i < rules.count && status == 0; i++) {
      status = add_port(f, rules.items[i].frontend_port);
      if (status == 0)
        status = add_rule(f, &rules.items[i]);
    }
    bool more =
        rules.count > 0 &&
        (uint64_t)f->next_page * API_RULES_PAGE_SIZE < rules.total_count &&
        f->next_page < MAX_PAGES;
    f->next_page = more ? f->next_page + 1 : 0;
  }
  api_instance_list_clear(&list);
  api_rule_list_clear(&rules);
  api_rows_clear(&names);

  if (d->failed) {
    /* The refresh failed already: this answer comes to nothing. */
    check_complete(a);
    return;
  }
  if (parsed == API_RESPONSE_OK && status == 0) {
    c_release(LOG_INFO, &d->complaint,
              PLUGIN_NAME " plugin: Account \"%s\": discovery works again.",
              a->name);
    check_complete(a);
    return;
  }

  a->stats.failed++;
  char what[768];
  if (status != 0)
    ssnprintf(what, sizeof(what), "out of memory");
  else if (describe_failure(a, r, parsed, &error, why, what, sizeof(what)))
    return; /* throttled: the same request again, after the pause */
  c_complain(LOG_ERR, &d->complaint,
             PLUGIN_NAME " plugin: Account \"%s\": discovery failed at %s%s%s: "
                         "%s; keeping the last known list (%zu series).",
             a->name,
             domains     ? API_ACTION_DOMAINS
             : instances ? API_ACTION_INSTANCES
                         : API_ACTION_RULES,
             f != NULL ? " of " : "", f != NULL ? f->id : "", what,
             account_series_shown(a));
  d->failed = true;
  check_complete(a);
}

/* The rules found of each instance, in the order of found (instance IDs
 * sorted): a->rules[i] is a list of rule_counts[i] codes. */
static int account_set_rules(account_t *a, found_t *found, size_t n) {
  int **rules = calloc(n + 1, sizeof(*rules));
  size_t *counts = calloc(n + 1, sizeof(*counts));
  if (rules == NULL || counts == NULL) {
    sfree(rules);
    sfree(counts);
    return ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    rules[i] = found[i].rules;
    counts[i] = found[i].rule_count;
    found[i].rules = NULL;
    found[i].rule_count = 0;
  }
  account_free_rules(a);
  a->rules = rules;
  a->rule_counts = counts;
  a->rules_of = n;
  return 0;
}

static int compare_found(const void *x, const void *y) {
  return strcmp(((const found_t *)x)->id, ((const found_t *)y)->id);
}

bool discovery_apply(account_t *a) {
  discovery_t *d = a->discovery;
  if (d == NULL || !d->ready)
    return false;
  d->ready = false;

  size_t n = d->found_count;
  qsort(d->found, n, sizeof(*d->found), compare_found);
  char **ids = calloc(n + 1, sizeof(*ids));
  char **names = calloc(n + 1, sizeof(*names));
  int **ports = calloc(n + 1, sizeof(*ports));
  size_t *counts = calloc(n + 1, sizeof(*counts));
  if (ids == NULL || names == NULL || ports == NULL || counts == NULL) {
    sfree(ids);
    sfree(names);
    sfree(ports);
    sfree(counts);
    forget(d);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    ids[i] = d->found[i].id;
    names[i] = d->found[i].remark;
    d->found[i].id = d->found[i].remark = NULL;
    ports[i] = d->found[i].ports;
    counts[i] = d->found[i].port_count;
  }

  size_t before = a->series_count;
  int status = 0;
  /* The instances' rules, for the health statistic's requests: set before
   * the series, which are made for instances that have rules. */
  if (instances_part(a))
    status = account_set_rules(a, d->found, n);
  if (status == 0 && instances_part(a))
    status = account_set_instances(a, ids, names, n, ports, counts,
                                   /* log_changes = */ d->applied);
  else {
    sfree(ids);
    sfree(names);
  }
  if (status == 0 && d->domains_found) {
    status = account_set_domains(a, d->domains, d->domain_count, d->applied);
    d->domains = NULL; /* taken, or freed */
    d->domain_count = 0;
    if (status == 0 && !d->applied)
      INFO(PLUGIN_NAME " plugin: Account \"%s\": discovered %zu web "
                       "domains.",
           a->name, a->domain_count);
  }
  if (status == 0 && !d->applied && instances_part(a))
    INFO(PLUGIN_NAME " plugin: Account \"%s\": discovered %zu instances, "
                     "%zu series.",
         a->name, n, account_series_shown(a));
  if (status == 0)
    d->applied = true;
  else
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": out of memory applying "
                      "discovery; keeping %zu series.",
          a->name, before);
  sfree(ports);
  sfree(counts);
  forget(d);
  return status == 0;
}
