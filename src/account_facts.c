/**
 * collectd-ddoscoo - src/account_facts.c
 * SPDX-License-Identifier: MIT
 *
 * A block's instance facts; see account_facts.h.
 */
#include "account_facts.h"

#include "utils/common/common.h"

#include "account_request.h"
#include "account_series.h"
#include "api_request.h"
#include "api_response.h"

/* A failed refresh, or one asked for by an unknown IP: again after this
 * long at the soonest. */
#define FACTS_RETRY TIME_T_TO_CDTIME_T(60)

/* One request of a refresh: DescribeInstances (page by page) or
 * DescribeInstanceDetails of ids[first, first + count). */
typedef struct {
  request_kind_t kind; /* REQUEST_FACTS */
  bool details;
  size_t first, count;
  /* DescribeInstances of the account's every instance (no InstanceIds, no
   * ResourceGroupId): for an answer of the whole account (a statistic of
   * STAT_ACCOUNT_BY_IP), whose rows name the IPs of instances the block
   * does not poll too. Its DescribeInstanceDetails follow, of the
   * instances it lists. */
  bool account;
  int page; /* the page to ask next, from 1; 0: answered */
  bool in_flight;
} facts_request_t;

struct account_facts_s {
  char **ids; /* the instances asked about, a copy */
  size_t id_count;
  facts_request_t *requests;
  size_t request_count;
  instance_facts_t building;
  bool running, failed, refused;
  bool complete; /* not yet applied */
  bool ready;    /* facts were applied once */
  bool unusable; /* refused: chunks of one instance */
  cdtime_t next_run, last_soon;
  uint64_t asked; /* ids_hash of the instances last asked about */
  c_complain_t complaint;
};

static const api_field_t instances_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"Ip", API_FIELD_TEXT, false},
    {"Remark", API_FIELD_TEXT, false},
    {"ExpireTime", API_FIELD_COUNT, false},
    {"Status", API_FIELD_COUNT, false},
    {"Enabled", API_FIELD_COUNT, false},
    {"DebtStatus", API_FIELD_COUNT, false},
    {"Edition", API_FIELD_COUNT, false},
};
enum { F_ID, F_IP, F_REMARK, F_EXPIRE, F_STATUS, F_ENABLED, F_DEBT, F_EDITION };
static const api_field_t instances_root[] = {
    {"TotalCount", API_FIELD_COUNT, false},
};
static const api_field_t details_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
};
static const api_field_t eip_fields[] = {
    {"Eip", API_FIELD_TEXT, false},
};

/* Whether a statistic of the block asks for the whole account. */
static bool account_wide(const account_t *a) {
  for (size_t k = 0; !a->aggregate && k < a->statistics_count; k++)
    if (a->statistics[k]->attribution == STAT_ACCOUNT_BY_IP)
      return true;
  return false;
}

/* Whether a statistic of the block attributes rows by IP among several of
 * its instances (a stand-in only while the plan uses it). */
static bool needed(const account_t *a) {
  if (a->aggregate || a->instance_count < 1)
    return false;
  for (size_t k = 0; k < a->statistics_count; k++)
    if (a->statistics[k] == a->stand_in && !a->standing_in)
      continue; /* asks nothing */
    else if ((a->statistics[k]->attribution == STAT_BY_IP &&
              a->instance_count >= 2) ||
             a->statistics[k]->attribution == STAT_ACCOUNT_BY_IP)
      return true; /* an account's answer: other instances' IPs too */
  return false;
}

bool account_facts_ready(const account_t *a) {
  return a->facts_refresh != NULL && a->facts_refresh->ready;
}

bool account_facts_usable(const account_t *a) {
  return a->facts_refresh == NULL || !a->facts_refresh->unusable;
}

bool account_facts_refreshing(const account_t *a) {
  return a->facts_refresh != NULL &&
         (a->facts_refresh->running || a->facts_refresh->complete);
}

/* The request of the c-th chunk of f's ids (API_MAX_INSTANCE_IDS a
 * request): DescribeInstances, or with details DescribeInstanceDetails. */
static void add_chunk(struct account_facts_s *f, size_t c, bool details) {
  size_t first = c * API_MAX_INSTANCE_IDS, left = f->id_count - first;
  f->requests[f->request_count++] = (facts_request_t){
      .kind = REQUEST_FACTS,
      .details = details,
      .first = first,
      .count = left < API_MAX_INSTANCE_IDS ? left : API_MAX_INSTANCE_IDS,
      .page = 1,
  };
}

/* Of the block's instance IDs, to see that they changed. */
static uint64_t ids_hash(const account_t *a) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < a->instance_count; i++)
    for (const unsigned char *c = (const unsigned char *)a->instance_ids[i];;
         c++) {
      h = (h ^ *c) * UINT64_C(1099511628211);
      if (*c == 0)
        break;
    }
  return h;
}

static void forget(struct account_facts_s *f) {
  for (size_t i = 0; i < f->id_count; i++)
    sfree(f->ids[i]);
  sfree(f->ids);
  f->id_count = 0;
  sfree(f->requests);
  f->request_count = 0;
  facts_clear(&f->building);
}

void account_facts_free(account_t *a) {
  if (a->facts_refresh != NULL)
    forget(a->facts_refresh);
  sfree(a->facts_refresh);
  facts_clear(&a->facts);
}

void account_facts_refresh_soon(account_t *a) {
  struct account_facts_s *f = a->facts_refresh;
  cdtime_t now = cdtime();
  if (f == NULL || now < f->last_soon + FACTS_RETRY)
    return;
  f->last_soon = now;
  if (f->next_run > now)
    f->next_run = now;
}

void account_facts_begin(account_t *a, cdtime_t now) {
  if (!needed(a))
    return;
  if (a->facts_refresh == NULL) {
    a->facts_refresh = calloc(1, sizeof(*a->facts_refresh));
    if (a->facts_refresh == NULL)
      return;
    C_COMPLAIN_INIT(&a->facts_refresh->complaint);
  }
  struct account_facts_s *f = a->facts_refresh;
  uint64_t h = ids_hash(a);
  if (f->running || f->complete || (now < f->next_run && h == f->asked))
    return;
  f->asked = h;
  forget(f);
  f->ids = calloc(a->instance_count + 1, sizeof(*f->ids));
  size_t chunks =
      (a->instance_count + API_MAX_INSTANCE_IDS - 1) / API_MAX_INSTANCE_IDS;
  f->requests = calloc(2 * chunks + 1, sizeof(*f->requests));
  if (f->ids == NULL || f->requests == NULL) {
    forget(f);
    return;
  }
  for (size_t i = 0; i < a->instance_count; i++)
    if ((f->ids[f->id_count++] = strdup(a->instance_ids[i])) == NULL) {
      forget(f);
      return;
    }
  if (account_wide(a)) /* the account's list, then its details */
    f->requests[f->request_count++] =
        (facts_request_t){.kind = REQUEST_FACTS, .account = true, .page = 1};
  for (size_t c = 0; c < chunks && !account_wide(a); c++) {
    add_chunk(f, c, false);
    add_chunk(f, c, true);
  }
  f->running = true;
  f->failed = f->refused = false;
  account_series_idle(a);
}

bool account_facts_has_work(const account_t *a) {
  const struct account_facts_s *f = a->facts_refresh;
  if (f == NULL || !f->running || f->failed)
    return false;
  for (size_t i = 0; i < f->request_count; i++)
    if (f->requests[i].page > 0 && !f->requests[i].in_flight)
      return true;
  return false;
}

int account_facts_start_next(account_t *a, cdtime_t now, cdtime_t deadline) {
  struct account_facts_s *f = a->facts_refresh;
  if (!account_facts_has_work(a))
    return 0;
  for (size_t i = 0; i < f->request_count; i++) {
    facts_request_t *q = f->requests + i;
    if (q->page == 0 || q->in_flight)
      continue;
    rpc_params_t params = RPC_PARAMS_INIT;
    if (api_facts_params(q->details ? API_ACTION_DETAILS : API_ACTION_FACTS,
                         a->region_id, q->account ? NULL : a->resource_group_id,
                         (const char *const *)f->ids + q->first, q->count,
                         q->page, q->details ? 0 : API_FACTS_PAGE_SIZE,
                         &params) != 0)
      return 0;
    int status = q->details ? account_start(a, API_ACTION_DETAILS, &params, now,
                                            deadline, q, NULL)
                            : account_start(a, API_ACTION_FACTS, &params, now,
                                            deadline, q, NULL);
    if (status == 0)
      q->in_flight = true;
    return (status == -1) ? -1 : (status == 0);
  }
  return 0;
}

/* The account's list is read: the DescribeInstanceDetails of every
 * instance it holds, API_MAX_INSTANCE_IDS a request. Nothing else of the
 * refresh is in flight (the list is its only request before). Returns 0 or
 * ENOMEM. */
static int ask_details_of_all(struct account_facts_s *f) {
  size_t n = f->building.count;
  size_t chunks = (n + API_MAX_INSTANCE_IDS - 1) / API_MAX_INSTANCE_IDS;
  char **ids = calloc(n + 1, sizeof(*ids));
  facts_request_t *grown =
      realloc(f->requests, (f->request_count + chunks + 1) * sizeof(*grown));
  if (grown != NULL)
    f->requests = grown;
  if (ids == NULL || grown == NULL) {
    free(ids);
    return ENOMEM;
  }
  for (size_t i = 0; i < f->id_count; i++)
    sfree(f->ids[i]);
  sfree(f->ids);
  f->ids = ids;
  f->id_count = 0;
  for (size_t i = 0; i < n; i++)
    if ((f->ids[f->id_count++] = strdup(f->building.items[i].id)) == NULL)
      return ENOMEM;
  for (size_t c = 0; c < chunks; c++)
    add_chunk(f, c, true);
  return 0;
}

/* The refresh ends once nothing of it is in flight and, unless it failed,
 * nothing is left to ask. */
static void check_complete(account_t *a) {
  struct account_facts_s *f = a->facts_refresh;
  for (size_t i = 0; i < f->request_count; i++)
    if (f->requests[i].in_flight || (!f->failed && f->requests[i].page > 0))
      return;
  f->running = false;
  cdtime_t now = cdtime();
  if (f->failed) {
    f->next_run =
        now + (a->discovery_interval < FACTS_RETRY ? a->discovery_interval
                                                   : FACTS_RETRY);
    if (f->refused)
      f->complete = true; /* applied: chunks of one */
    return;
  }
  f->complete = true;
  f->next_run = now + a->discovery_interval;
}

/* A DescribeInstances page into the facts being built. */
static int take_instances(struct account_facts_s *f, const api_rows_t *rows) {
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    instance_fact_t *it = facts_instance(&f->building, row[F_ID].text);
    if (it == NULL)
      return ENOMEM;
    sfree(it->remark);
    if (row[F_REMARK].text[0] != 0 &&
        (it->remark = strdup(row[F_REMARK].text)) == NULL)
      return ENOMEM;
    it->expire_time = row[F_EXPIRE].present ? (int64_t)row[F_EXPIRE].count : 0;
    it->status = row[F_STATUS].present ? (int)row[F_STATUS].count : -1;
    it->enabled = row[F_ENABLED].present ? (int)row[F_ENABLED].count : -1;
    it->debt_status = row[F_DEBT].present ? (int)row[F_DEBT].count : -1;
    it->edition = row[F_EDITION].present ? (int)row[F_EDITION].count : -1;
    if (row[F_IP].text[0] != 0 &&
        facts_add_ip(&f->building, row[F_ID].text, row[F_IP].text) < 0)
      return ENOMEM;
  }
  return 0;
}

void account_facts_finished(account_t *a, void *user, const http_result_t *r) {
  struct account_facts_s *f = a->facts_refresh;
  facts_request_t *q = user;
  q->in_flight = false;
  const char *action = q->details ? API_ACTION_DETAILS : API_ACTION_FACTS;

  api_error_t error;
  char why[256] = "";
  api_rows_t rows = {0};
  api_response_status_t parsed = API_RESPONSE_INVALID;
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else if (r->status == HTTP_OK && q->details)
    parsed = api_parse_nested_rows(r->body, r->len, action, "InstanceDetails",
                                   details_fields, 1, "EipInfos", eip_fields, 1,
                                   &rows, &error, why, sizeof(why));
  else if (r->status == HTTP_OK)
    parsed =
        api_parse_rows(r->body, r->len, action, "Instances", instances_fields,
                       STATIC_ARRAY_SIZE(instances_fields), instances_root, 1,
                       &rows, &error, why, sizeof(why));
  if (r->status == HTTP_OK)
    parsed = api_server_failure(parsed, r->http_status, r->content_type, r->len,
                                &error);

  int status = 0;
  if (parsed == API_RESPONSE_OK && !f->failed) {
    if (q->details) {
      for (size_t i = 0; i < rows.count && status == 0; i++) {
        const api_value_t *row = rows.values + i * rows.field_count;
        if (row[1].text[0] != 0 &&
            facts_add_ip(&f->building, row[0].text, row[1].text) < 0)
          status = ENOMEM;
      }
      q->page = 0;
    } else {
      status = take_instances(f, &rows);
      uint64_t total = (rows.root != NULL && rows.root[0].present)
                           ? rows.root[0].count
                           : rows.count;
      bool more = rows.count > 0 &&
                  (uint64_t)q->page * API_FACTS_PAGE_SIZE < total &&
                  q->page < STAT_MAX_PAGES;
      q->page = more ? q->page + 1 : 0;
      if (status == 0 && q->account && q->page == 0)
        status = ask_details_of_all(f); /* q moved: not used again */
    }
  }
  api_rows_clear(&rows);
  if (parsed == API_RESPONSE_OK && status == 0) {
    c_release(LOG_INFO, &f->complaint,
              PLUGIN_NAME " plugin: Account \"%s\": %s answers again.", a->name,
              action);
    check_complete(a);
    return;
  }
  if (f->failed) {
    check_complete(a);
    return;
  }

  a->stats.failed++;
  char what[768];
  api_error_class_t class = API_ERROR_TRANSIENT;
  if (status != 0)
    ssnprintf(what, sizeof(what), "out of memory");
  else if (r->status == HTTP_FAILED)
    ssnprintf(what, sizeof(what), "request failed: %s", r->error);
  else if (parsed == API_RESPONSE_INVALID)
    ssnprintf(what, sizeof(what), "unusable response (HTTP %ld, %zu bytes): %s",
              r->http_status, r->len, why);
  else {
    class = api_error_classify(error.code, r->http_status);
    ssnprintf(what, sizeof(what),
              "API error %s (HTTP %ld; %s): %s (RequestId "
              "%s)",
              error.code, r->http_status, api_error_explain(class),
              error.message, error.request_id[0] ? error.request_id : "none");
    if (api_error_is_throttling(error.code)) {
      a->stats.throttled++;
      sched_throttled(&a->sched, r->retry_after_ms);
      return; /* the same request again, after the pause */
    }
  }
  f->refused = parsed == API_RESPONSE_ERROR &&
               (class == API_ERROR_PERMISSION || class == API_ERROR_REQUEST);
  c_complain(LOG_ERR, &f->complaint,
             PLUGIN_NAME " plugin: Account \"%s\": %s failed: %s; %s", a->name,
             action, what,
             f->refused ? "without the instances' IPs, each request of "
                          "\"events\" and \"blackhole\" names one instance "
                          "(allow yundun-ddoscoo:DescribeInstances and "
                          "yundun-ddoscoo:DescribeInstanceDetails)"
             : f->ready ? "keeping the last known IPs of the instances"
                        : "requests naming several instances wait for them");
  f->failed = true;
  check_complete(a);
}

bool account_facts_apply(account_t *a) {
  struct account_facts_s *f = a->facts_refresh;
  if (f == NULL || !f->complete)
    return false;
  f->complete = false;
  bool was_unusable = f->unusable, was_ready = f->ready;
  if (f->failed) {
    f->unusable = true; /* refused */
  } else {
    facts_done(&f->building);
    facts_move(&a->facts, &f->building);
    f->unusable = false;
    f->ready = true;
    if (!was_ready)
      INFO(PLUGIN_NAME " plugin: Account \"%s\": %s and %s: %zu IPs of %zu "
                       "instances.",
           a->name, API_ACTION_FACTS, API_ACTION_DETAILS, a->facts.ip_count,
           a->facts.count);
  }
  forget(f);
  if (was_unusable != f->unusable) {
    account_series_rechunk(a);
    return true;
  }
  return account_series_idle(a);
}
