/**
 * collectd-ddoscoo - src/account_poll.c
 * SPDX-License-Identifier: MIT
 *
 * One read of a block, the glue around the scheduler (scheduler.c): the
 * requests it asks for, what each answer means, the log lines, dispatch
 * and the StateFile.
 */
#include "account_poll.h"

#include "utils/common/common.h"
#include "utils_random.h"

#include "account_facts.h"
#include "account_plan.h"
#include "account_request.h"
#include "account_series.h"
#include "api_request.h"
#include "api_response.h"
#include "discovery.h"
#include "dispatch.h"
#include "event_sources.h"
#include "state_file.h"
#include "state_store.h"

/* The pages of a paged answer read so far, of a series whose next page
 * is due: its values come from all of them together. */
typedef struct {
  const series_t *s;
  api_rows_t rows;
} pages_t;

typedef struct {
  account_t *a;
  time_t latest;
  poll_result_t *result;
  pages_t *pages; /* series between pages */
  size_t page_count;
  cdtime_t release_at; /* when held windows go out next; 0: none held */
} poll_t;

/* The pages read so far of s (NULL: none; create: an empty entry). */
static pages_t *pages_of(poll_t *p, const series_t *s, bool create) {
  for (size_t i = 0; i < p->page_count; i++)
    if (p->pages[i].s == s)
      return p->pages + i;
  if (!create)
    return NULL;
  pages_t *more = realloc(p->pages, (p->page_count + 1) * sizeof(*more));
  if (more == NULL)
    return NULL;
  p->pages = more;
  p->pages[p->page_count] = (pages_t){.s = s};
  return p->pages + p->page_count++;
}

/* Forgets the pages of s, or (NULL) of every series. */
static void pages_drop(poll_t *p, const series_t *s) {
  for (size_t i = 0; i < p->page_count;) {
    if (s == NULL || p->pages[i].s == s) {
      api_rows_clear(&p->pages[i].rows);
      p->pages[i] = p->pages[--p->page_count];
    } else {
      i++;
    }
  }
  if (p->page_count == 0)
    sfree(p->pages);
}

/* For InvalidTimeStamp.Expired: how far off the host clock is, by the
 * server's Date header. */
static void describe_clock(const http_result_t *resp, char *buf, size_t size) {
  buf[0] = 0;
  if (resp->date == 0)
    return;
  long long offset = (long long)(time(NULL) - resp->date);
  ssnprintf(buf, size, " The host clock is %lld s %s the API's.",
            offset < 0 ? -offset : offset, offset < 0 ? "behind" : "ahead of");
}

/* Series new to the block carry on where the StateFile says they stopped;
 * a chunk (which the StateFile does not know) where the furthest behind
 * of its members did. */
static void restore_new(account_t *a, time_t latest) {
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *s = a->series + i;
    if (s->restored)
      continue;
    if (s->chunk)
      for (size_t j = 0; j < s->member_count; j++) {
        time_t end = a->series[s->members[j]].w.last_end;
        if (end != 0 && (s->w.last_end == 0 || end < s->w.last_end))
          s->w.last_end = end;
      }
    else
      state_store_restore(a, s, latest);
    s->restored = true;
    if (s->w.last_end == 0)
      s->age_since = latest - series_window(a, s);
  }
}

static sched_time_t io_now(void *ctx) {
  (void)ctx;
  return cdtime();
}

static double io_random(void *ctx) {
  (void)ctx;
  return cdrand_d();
}

static size_t io_series_count(void *ctx) {
  return ((poll_t *)ctx)->a->series_count;
}

static sched_series_t *io_series(void *ctx, size_t i) {
  return &((poll_t *)ctx)->a->series[i].w;
}

/* The block's spelling of a variant that has two; NULL for one that has
 * not (or no room). */
static stat_spelling_t *spelling_of(account_t *a, const stat_variant_t *v) {
  if (v == NULL || v->alt_value == NULL)
    return NULL;
  for (size_t i = 0; i < a->spelling_count; i++)
    if (a->spellings[i].variant == v)
      return a->spellings + i;
  if (a->spelling_count == STAT_MAX_SPELLINGS)
    return NULL;
  a->spellings[a->spelling_count] = (stat_spelling_t){.variant = v};
  return a->spellings + a->spelling_count++;
}

/* The NetworkRules of the instance of s (its forwarding rules, as
 * discovery found them) as DescribeHealthCheckStatus takes them: a JSON
 * array of {"InstanceId", "Protocol", "FrontendPort"}. NULL: none known,
 * or no memory. Instance IDs are identifiers: nothing to escape. */
static char *network_rules(const account_t *a, const series_t *s) {
  size_t k = s->first_instance;
  if (a->rules == NULL || a->rules_of != a->instance_count ||
      k >= a->rules_of || a->rule_counts[k] == 0)
    return NULL;
  const char *id = a->instance_ids[k];
  size_t each = strlen(id) + 64, size = a->rule_counts[k] * each + 3;
  char *json = malloc(size);
  if (json == NULL)
    return NULL;
  size_t n = 0;
  json[n++] = '[';
  for (size_t r = 0; r < a->rule_counts[k]; r++) {
    int code = a->rules[k][r];
    n += (size_t)ssnprintf(
        json + n, size - n,
        "%s{\"InstanceId\":\"%s\",\"Protocol\":\"%s\",\"FrontendPort\":%d}",
        r ? "," : "", id, (code & DISCOVERY_UDP) ? "udp" : "tcp",
        code & (DISCOVERY_UDP - 1));
  }
  json[n++] = ']';
  json[n] = 0;
  return json;
}

static sched_start_t io_start_window(void *ctx, size_t i, time_t first_end,
                                     time_t last_end, sched_time_t deadline,
                                     unsigned *generation) {
  account_t *a = ((poll_t *)ctx)->a;
  series_t *s = a->series + i;
  bool web = s->stat->scope == SCOPE_DOMAIN;
  bool rules = s->stat->takes_rules;
  /* The whole account's: the account itself, or every instance of it. */
  bool account = s->stat->scope == SCOPE_ACCOUNT ||
                 s->stat->attribution == STAT_ACCOUNT_BY_IP;
  char *json = rules ? network_rules(a, s) : NULL;
  stat_spelling_t *spelling = spelling_of(a, s->variant);
  s->asked_alt = spelling != NULL && spelling->alt;
  api_request_t req = {
      .takes = s->stat->takes,
      .region_id = a->region_id,
      .resource_group_id = a->resource_group_id,
      .instance_ids =
          (web || rules || account) ? NULL
          : s->chunk                ? (const char *const *)s->member_ids
                     : (const char *const *)a->instance_ids + s->first_instance,
      .instance_count = (web || rules || account) ? 0
                        : s->chunk                ? s->member_count
                                                  : s->instance_count,
      .network_rules = json,
      .domain = web ? s->domain : NULL,
      .account = account,
      .fixed_param = s->variant ? s->variant->param : s->stat->fixed_param,
      .fixed_value = !s->variant    ? s->stat->fixed_value
                     : s->asked_alt ? s->variant->alt_value
                                    : s->variant->value,
      .port = s->port[0] ? s->port : NULL,
      .start_time = s->stat->timeless
                        ? 0
                        : first_end - series_window(a, s) - s->stat->lookback,
      .end_time = s->stat->timeless ? 0 : last_end,
      .page_size =
          (s->stat->lookback > 0) ? API_EVENTS_PAGE_SIZE : s->stat->page_size,
      .page_number = s->w.page,
      .interval = s->stat->takes_interval ? series_window(a, s) : 0,
      .region = api_service_region(a->region_id),
  };
  /* A first page starts the answer afresh. */
  if (s->w.page <= 1)
    pages_drop((poll_t *)ctx, s);
  rpc_params_t params = RPC_PARAMS_INIT;
  int status =
      ((!rules || json != NULL) && api_request_params(&req, &params) == 0)
          ? account_start(a, s->stat->action, &params, cdtime(), deadline, s,
                          generation)
          : -2;
  free(json);
  if (status == 0) {
    stat_health_t *h = dispatch_health(a, s->stat);
    if (h != NULL)
      h->sent++;
    return SCHED_STARTED;
  }
  if (status == -1)
    return SCHED_NO_KEYS;
  c_complain(LOG_ERR, &s->complaint,
             PLUGIN_NAME " plugin: Account \"%s\", series %s: cannot build "
                         "the signed request.",
             a->name, s->name);
  return SCHED_FAILED;
}

/* Discovery's requests, and the sources of attack events
 * (event_sources.c). */
static bool io_other_pending(void *ctx) {
  account_t *a = ((poll_t *)ctx)->a;
  return discovery_has_work(a) || account_facts_has_work(a) ||
         event_sources_pending(a);
}

static int io_start_other(void *ctx, sched_time_t deadline) {
  account_t *a = ((poll_t *)ctx)->a;
  int status = discovery_start_next(a, cdtime(), deadline);
  if (status == 0)
    status = account_facts_start_next(a, cdtime(), deadline);
  return (status != 0) ? status
                       : event_sources_start_next(a, cdtime(), deadline);
}

static bool io_apply(void *ctx) {
  poll_t *p = ctx;
  bool changed = discovery_apply(p->a);
  if (changed) /* new instances: their IPs */
    account_facts_begin(p->a, cdtime());
  changed |= account_facts_apply(p->a);
  /* A split's new chunks, once no answer is between its pages (a new
   * plan would ask them from the first page again). */
  if (p->a->rechunk && p->page_count == 0) {
    account_series_rechunk(p->a);
    changed = true;
  }
  if (!changed)
    return false;
  pages_drop(p, NULL); /* the series are new: their answers start afresh */
  restore_new(p->a, p->latest);
  account_plan(p->a, true); /* and planned before the read asks them */
  return true;
}

static int io_in_flight(void *ctx) {
  return http_client_in_flight(((poll_t *)ctx)->a->http);
}

static void finished(const http_result_t *r, void *ctx);

static cdtime_t release(poll_t *p, cdtime_t now);

/* Held windows go out together, at most every RELEASE_BATCH: collectd
 * wakes a sleeping write thread for every value dispatched, and its write
 * threads, woken a few at a time for each answer, contend for its queue;
 * values dispatched together keep the woken threads busy instead. */
#define RELEASE_BATCH MS_TO_CDTIME_T(100)

/* Held windows are due at due (0: none), in the next batch at the soonest. */
static void release_due(poll_t *p, cdtime_t due, cdtime_t now) {
  if (due == 0)
    return;
  if (due < now + RELEASE_BATCH)
    due = now + RELEASE_BATCH;
  if (p->release_at == 0 || due < p->release_at)
    p->release_at = due;
}

static void io_wait(void *ctx, sched_time_t until) {
  poll_t *p = ctx;
  cdtime_t now = cdtime();
  if (p->release_at != 0 && now >= p->release_at) {
    p->release_at = 0;
    release_due(p, release(p, now), now);
  }
  if (p->release_at != 0 && p->release_at < until)
    until = p->release_at;
  if (http_client_in_flight(p->a->http) == 0) {
    if (until > now) {
      struct timespec ts = CDTIME_T_TO_TIMESPEC(until - now);
      nanosleep(&ts, NULL);
    }
    return;
  }
  long wait_ms = (until > now) ? (long)CDTIME_T_TO_MS(until - now) : 0;
  http_client_run(p->a->http, (wait_ms > 10) ? wait_ms : 10, finished, p);
}

/* Whether text names the parameter Region (not RegionId). */
static bool names_region(const char *text) {
  for (const char *p = strstr(text, "Region"); p != NULL;
       p = strstr(p + 1, "Region"))
    if (strncmp(p + 6, "Id", 2) != 0)
      return true;
  return false;
}

/* A refusal of the statistic (permission, parameters, a feature the
 * account lacks): the scheduler backs it off, and each step is one line
 * with what to do. */
static void refused(poll_t *p, series_t *s, const http_result_t *r,
                    const api_error_t *error, api_error_class_t class) {
  account_t *a = p->a;
  sched_time_t wait = sched_refused(&a->sched, &s->w, error->code);
  if (wait == 0)
    return; /* sent before the statistic backed off: said already */
  char todo[384];
  bool region = (s->stat->takes & API_TAKES_REGION) && r->http_status >= 400 &&
                r->http_status <= 499 &&
                (names_region(error->code) || names_region(error->message));
  if (region)
    ssnprintf(todo, sizeof(todo),
              "Region \"%s\", derived from RegionId \"%s\", may not be "
              "the domains' service region: set RegionId to a mainland "
              "region (cn-hangzhou: Region cn) or to ap-southeast-1 (Region "
              "cn-hongkong), in a block of its own for the other domains",
              api_service_region(a->region_id),
              a->region_id ? a->region_id : "cn-hangzhou");
  else if (class == API_ERROR_PERMISSION)
    ssnprintf(todo, sizeof(todo),
              "permission denied: allow the RAM action yundun-ddoscoo:%s in "
              "the key's policy",
              s->stat->action);
  else
    ssnprintf(todo, sizeof(todo),
              "the service does not take this request (a parameter, or a "
              "feature the instance's edition lacks): if it persists, leave "
              "\"%s\" out of Statistics",
              s->stat->name);
  char who[DATA_MAX_NAME_LEN + 64];
  if (s->w.refusals > 0)
    ssnprintf(who, sizeof(who), "Series %s alone", s->name);
  else
    ssnprintf(who, sizeof(who), "Statistic \"%s\"", s->stat->name);
  ERROR(PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: API error %s "
                    "(HTTP %ld; %s): %s (RequestId %s). %s refused %u time(s) "
                    "in a row: asked again in %.0f min%s; the block's other "
                    "statistics go on.",
        a->name, s->name, s->stat->action, error->code, r->http_status, todo,
        error->message, error->request_id[0] ? error->request_id : "none", who,
        sched_refusals(&a->sched, &s->w), CDTIME_T_TO_DOUBLE(wait) / 60,
        s->w.refusals > 0 ? " (the statistic's other series answer)"
                          : ", by one of its series while the others wait");
}

/* A request naming several instances refused (permission, parameters) or
 * answered "not found": the service refuses it whole when it refuses one
 * of its instances (a RAM policy that names instances, an instance gone or
 * of an edition without the feature). It is split in two, asked again in
 * this read; a request of one instance is refused as any. Its members
 * stay in chunks of at most that size, doubled again by each answer. */
static sched_outcome_t split(poll_t *p, series_t *s, const http_result_t *r,
                             const api_error_t *error,
                             api_error_class_t class) {
  account_t *a = p->a;
  size_t half = (s->member_count + 1) / 2;
  for (size_t j = 0; j < s->member_count; j++)
    a->series[s->members[j]].cap = half;
  a->rechunk = true;
  stat_health_t *h = dispatch_health(a, s->stat);
  if (class == API_ERROR_GONE)
    discovery_refresh_now(a);
  else if (h != NULL)
    h->refused++; /* not said as the statistic's: perhaps one instance's */
  INFO(PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: API error %s "
                   "(HTTP %ld): %s (RequestId %s). One of its %zu "
                   "instances may be refused alone: asked again as requests "
                   "of at most %zu instances.",
       a->name, s->name, s->stat->action, error->code, r->http_status,
       error->message, error->request_id[0] ? error->request_id : "none",
       s->member_count, half);
  return SCHED_SPLIT;
}

/* An API error: logged, and what it means for the series or the block. A
 * refusal is refused()'s, and already handed to the scheduler. */
static sched_outcome_t api_failed(poll_t *p, series_t *s,
                                  const http_result_t *r,
                                  const api_error_t *error) {
  account_t *a = p->a;
  if (strcmp(error->code, "SignatureNonceUsed") == 0) {
    /* A copy of the request reached the API before (a proxy resent it):
     * the same request signed anew is a new one. */
    c_complain(LOG_WARNING, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: API error "
                           "%s (HTTP %ld): the request's nonce was used "
                           "already; asked again with a new signature "
                           "(RequestId %s)",
               a->name, s->name, s->stat->action, error->code, r->http_status,
               error->request_id[0] ? error->request_id : "none");
    return SCHED_AGAIN;
  }
  api_error_class_t class = api_error_classify(error->code, r->http_status);
  /* A request of the whole account names no instance to split by. */
  if (s->chunk && s->member_count > 1 &&
      s->stat->attribution != STAT_ACCOUNT_BY_IP &&
      (class == API_ERROR_PERMISSION || class == API_ERROR_REQUEST ||
       class == API_ERROR_GONE))
    return split(p, s, r, error, class);
  if (class == API_ERROR_PERMISSION || class == API_ERROR_REQUEST) {
    dispatch_refused(a, s, class, error);
    refused(p, s, r, error, class);
    return SCHED_REFUSED;
  }
  bool block_wide = class == API_ERROR_TRANSIENT ||
                    class == API_ERROR_CREDENTIALS || class == API_ERROR_CLOCK;
  char clock[96] = "";
  if (class == API_ERROR_CLOCK)
    describe_clock(r, clock, sizeof(clock));
  /* Throttling is the quota at work, not a fault: the pace adapts to it
   * (scheduler.h), so a warning. */
  bool throttled =
      class == API_ERROR_TRANSIENT && api_error_is_throttling(error->code);
  char explain[256];
  sstrncpy(explain,
           throttled ? "throttled by the account's API quota: the pace is "
                       "lowered, will retry"
                     : api_error_explain(class),
           sizeof(explain));
  c_complain(throttled ? LOG_WARNING : LOG_ERR,
             block_wide ? &a->complaint : &s->complaint,
             PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: API error "
                         "%s (HTTP %ld; %s): %s (RequestId %s)%s",
             a->name, s->name, s->stat->action, error->code, r->http_status,
             explain, error->message,
             error->request_id[0] ? error->request_id : "none", clock);

  switch (class) {
  case API_ERROR_TRANSIENT:
    if (!throttled)
      return SCHED_TRANSIENT;
    a->stats.throttled++;
    stat_health_t *h = dispatch_health(a, s->stat);
    if (h != NULL)
      h->throttled++;
    return SCHED_THROTTLED;
  case API_ERROR_CREDENTIALS:
    return SCHED_CREDENTIALS;
  case API_ERROR_CLOCK:
    return SCHED_CLOCK;
  case API_ERROR_GONE:
    /* The list of instances is out of date: asked again now, and the
     * instance's other ports are not asked in this read. */
    discovery_refresh_now(a);
    return SCHED_GONE;
  case API_ERROR_PERMISSION:
  case API_ERROR_REQUEST:
    break; /* above */
  }
  refused(p, s, r, error, class); /* a class nobody foresaw */
  return SCHED_REFUSED;
}

typedef struct {
  poll_t *p;
  series_t *s;
} emit_t;

/* A value of an answer: kept until its window's turn (held_values.h). */
static void emit(void *ctx, time_t end, const char *type,
                 const char *type_instance, double value) {
  emit_t *e = ctx;
  char prefixed[DATA_MAX_NAME_LEN];
  if (e->s->variant != NULL) {
    ssnprintf(prefixed, sizeof(prefixed), "%s%s", e->s->variant->prefix,
              type_instance);
    type_instance = prefixed;
  }
  if (stat_named_by_answer(e->s->stat, type) &&
      !account_series_admit(e->p->a, e->s, type_instance))
    return;
  if (held_add(&e->s->held, end, type, type_instance, value) != 0)
    c_complain(LOG_ERR, &e->s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: out of "
                           "memory; a value of %lld is lost.",
               e->p->a->name, e->s->name, (long long)end);
}

/* A value of a member's window it handed collectd already (its chunk
 * asks from the furthest behind of its members): not again. */
static void emit_member(void *ctx, time_t end, const char *type,
                        const char *type_instance, double value) {
  emit_t *e = ctx;
  if (end > e->s->w.last_end)
    emit(ctx, end, type, type_instance, value);
}

static void emit_nothing(void *ctx, time_t end, const char *type,
                         const char *type_instance, double value) {
  (void)ctx, (void)end, (void)type, (void)type_instance, (void)value;
}

static void dispatch_held(void *ctx, const held_value_t *v) {
  emit_t *e = ctx;
  dispatch_value(e->p->a, e->s, v->end, v->type, v->type_instance, v->value);
}

/* One series hands collectd a window at most once a second: collectd's
 * write threads may reorder values of one series closer together, and
 * rrdtool stores one value a second at most. */
#define RELEASE_SPACING TIME_T_TO_CDTIME_T(1)

/* Dispatches s's oldest held window if it is its turn. Returns when its
 * next is due, 0 if nothing is held. */
static cdtime_t release_series(poll_t *p, series_t *s, cdtime_t now) {
  if (s->held.count == 0)
    return 0;
  if (now >= s->released_at + RELEASE_SPACING) {
    emit_t e = {.p = p, .s = s};
    time_t end = held_take_oldest(&s->held, dispatch_held, &e);
    s->released_at = now;
    if (end + series_window(p->a, s) <= p->latest)
      p->a->stats.backfilled++;
    state_store_remember(p->a, s);
  }
  return s->held.count ? s->released_at + RELEASE_SPACING : 0;
}

/* Dispatches the oldest held window of every series whose turn it is.
 * Returns when the next is due, 0 if nothing is held. */
static cdtime_t release(poll_t *p, cdtime_t now) {
  cdtime_t next = 0;
  for (size_t i = 0; i < p->a->series_count; i++) {
    cdtime_t due = release_series(p, p->a->series + i, now);
    if (due != 0 && (next == 0 || due < next))
      next = due;
  }
  return next;
}

/* Each event is notified once when it starts and once when it ends, also
 * across a restart with a StateFile, with its sources (event_sources.c). */
static void notify_events(account_t *a, series_t *s, const api_rows_t *rows,
                          time_t first) {
  time_t now = time(NULL);
  time_t since = first - a->window;
  size_t refused = 0;
  char first_refused[128] = "";
  for (size_t r = 0; r < rows->count; r++) {
    stat_event_t e;
    (s->stat->event != NULL ? s->stat->event : stat_event)(rows, r, &e);
    /* An Ip or Port of an answer that is none: not notified, not kept. */
    if (!stat_event_names_ok(&e)) {
      if (refused++ == 0) {
        char ip[48], port[24];
        stat_escape(e.ip, ip, sizeof(ip));
        stat_escape(e.port, port, sizeof(port));
        ssnprintf(first_refused, sizeof(first_refused),
                  "Ip \"%s\", Port \"%s\"", ip, port);
      }
      continue;
    }
    char key[STATE_STORE_KEY_SIZE];
    ssnprintf(key, sizeof(key), "%s/%s/event/%s/%s/%s/%lld", a->name,
              s->plugin_instance, e.type, e.ip, e.port, (long long)e.start);
    /* The mark: 1, its start notified; its end (2 at least), its end too. */
    /* DescribeDDosEventSrcIp names the sources of a mitigation or a
     * blackhole; none names a connection flood's (instance_cc_events). */
    event_of_t of = {.op = strcmp(e.type, "cc") == 0 ? SOURCES_NONE
                                                     : SOURCES_DDOS,
                     .key = key,
                     .plugin_instance = s->plugin_instance};
    event_sources_due(a, &of, &e, since, now);
  }
  if (refused > 0)
    c_complain(LOG_WARNING, &s->name_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %zu of %zu "
                           "events have an Ip that is no IPv4 or IPv6 address "
                           "or a Port that is no port, and are not notified; "
                           "the first: %s.",
               a->name, s->name, s->stat->action, refused, rows->count,
               first_refused);
  /* An event that ended before the oldest window a request may still ask
   * for (MaxBackfill, then the look-back) would be history if seen again:
   * its mark can go, once an hour. */
  if (now - a->marks_forgotten >= 3600) {
    a->marks_forgotten = now;
    state_store_forget_marks(a->name,
                             now - (time_t)(a->max_backfill + 1) * a->window -
                                 s->stat->lookback);
  }
}

typedef struct {
  account_t *a;
  series_t *s;
} health_ctx_t;

/* A forwarding rule or one of its origin servers turned abnormal, or
 * normal again: a notification (FAILURE, OKAY). */
static void notify_health_change(void *ctx, const char *rule,
                                 const char *address, bool abnormal) {
  health_ctx_t *c = ctx;
  char key[STATE_STORE_KEY_SIZE];
  ssnprintf(key, sizeof(key), "%s/%s/health/%s%s%s", c->a->name,
            c->s->plugin_instance, rule, address ? "/" : "",
            address ? address : "");
  bool news;
  int mark = stat_health_step((int)state_store_mark(key), abnormal, &news);
  if ((int)state_store_mark(key) != mark)
    state_store_set_mark(key, mark);
  if (!news)
    return;
  notification_t n = {.severity = abnormal ? NOTIF_FAILURE : NOTIF_OKAY,
                      .time = cdtime()};
  sstrncpy(n.host, c->a->host[0] ? c->a->host : hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, c->s->plugin_instance, sizeof(n.plugin_instance));
  sstrncpy(n.type, address ? "count" : "gauge", sizeof(n.type));
  ssnprintf(n.type_instance, sizeof(n.type_instance), "%s_%s",
            address ? "abnormal_servers" : "rule_normal", rule);
  char port[8];
  const char *sep = strchr(rule, '_');
  sstrncpy(port, sep ? sep + 1 : "", sizeof(port));
  if (address != NULL)
    ssnprintf(
        n.message, sizeof(n.message),
        "Anti-DDoS origin server %s %s: instance %s, rule %.*s/%s", address,
        abnormal ? "fails its health check" : "passes its health check again",
        c->s->plugin_instance, (int)(sep ? sep - rule : 0), rule, port);
  else
    ssnprintf(n.message, sizeof(n.message),
              "Anti-DDoS forwarding rule %.*s/%s %s: instance %s",
              (int)(sep ? sep - rule : 0), rule, port,
              abnormal ? "is abnormal (its origin fails health checks)"
                       : "is normal again",
              c->s->plugin_instance);
  plugin_dispatch_notification(&n);
}

/* Each rule and origin server that turns abnormal, and back, is notified
 * once, also across a restart with a StateFile. */
static void notify_health(account_t *a, series_t *s, const api_rows_t *rows) {
  health_ctx_t ctx = {.a = a, .s = s};
  stat_health_each(rows, notify_health_change, &ctx);
}

/* An instance's term: one news each of its expiry coming near (WARNING,
 * FAILURE), its end (FAILURE), its renewal (OKAY), and of its debt and
 * its payment, also across a restart with a StateFile. */
static void notify_expiry(account_t *a, series_t *s, const api_rows_t *rows,
                          time_t now) {
  static const int severity[] = {NOTIF_OKAY, NOTIF_OKAY, NOTIF_WARNING,
                                 NOTIF_FAILURE, NOTIF_FAILURE};
  for (size_t r = 0; r < rows->count; r++) {
    stat_expiry_t e;
    stat_expiry(rows, r, &e);
    int level[2] = {stat_expiry_level(&e, now, 86400LL * a->expiry_warning_days,
                                      86400LL * a->expiry_failure_days),
                    e.in_debt ? 2 : 1};
    for (int k = 0; k < 2; k++) {
      char key[STATE_STORE_KEY_SIZE];
      /* Not "<block>/<instance>/expiry": the series' own key. */
      ssnprintf(key, sizeof(key), "%s/%s/term/%s", a->name, s->plugin_instance,
                k ? "debt" : "expiry");
      int before = (int)state_store_mark(key);
      bool news;
      int after = stat_mark_step(before, level[k], &news);
      if (after != before)
        state_store_set_mark(key, after);
      if (!news)
        continue;
      notification_t n = {.severity =
                              k ? (e.in_debt ? NOTIF_FAILURE : NOTIF_OKAY)
                                : severity[after],
                          .time = cdtime()};
      sstrncpy(n.host, a->host[0] ? a->host : hostname_g, sizeof(n.host));
      sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
      sstrncpy(n.plugin_instance, s->plugin_instance,
               sizeof(n.plugin_instance));
      sstrncpy(n.type, k ? "gauge" : "timeleft", sizeof(n.type));
      sstrncpy(n.type_instance, k ? "debt_status" : "expiry",
               sizeof(n.type_instance));
      char until[32];
      dispatch_utc(e.expire, until, sizeof(until));
      long long days = ((long long)e.expire - now) / 86400;
      if (k)
        ssnprintf(n.message, sizeof(n.message), "Anti-DDoS instance %s %s",
                  s->plugin_instance,
                  e.in_debt ? "is in debt (DebtStatus): renew or pay to keep "
                              "it forwarding"
                            : "is paid again (no debt)");
      else if (after == STAT_EXPIRY_EXPIRED)
        ssnprintf(n.message, sizeof(n.message),
                  "Anti-DDoS instance %s has expired (%s): it stops "
                  "forwarding; renew it",
                  s->plugin_instance, until);
      else if (after == STAT_EXPIRY_OK)
        ssnprintf(n.message, sizeof(n.message),
                  "Anti-DDoS instance %s is renewed: it expires at %s, in "
                  "%lld days",
                  s->plugin_instance, until, days);
      else
        ssnprintf(n.message, sizeof(n.message),
                  "Anti-DDoS instance %s expires at %s, in %lld days: renew "
                  "it",
                  s->plugin_instance, until, days);
      plugin_dispatch_notification(&n);
    }
  }
}

/* A page of a paged answer (the events): gathered with the pages before
 * it. *more: the next page is due; otherwise rows becomes every page
 * together, for the values and the notifications. */
static api_response_status_t gather_pages(poll_t *p, series_t *s,
                                          api_rows_t *rows, bool *more,
                                          char *why, size_t why_size) {
  account_t *a = p->a;
  size_t page_rows = rows->count;
  uint64_t total = (rows->root != NULL && rows->root[0].present)
                       ? rows->root[0].count
                       : rows->count;
  pages_t *pages = pages_of(p, s, true);
  if (pages == NULL || stat_rows_append(&pages->rows, rows) != 0) {
    pages_drop(p, s);
    sstrncpy(why, "out of memory for its pages", why_size);
    return API_RESPONSE_INVALID;
  }
  switch (stat_next_page(total, s->w.page, API_EVENTS_PAGE_SIZE, page_rows)) {
  case STAT_PAGES_MORE:
    *more = true;
    return API_RESPONSE_OK;
  case STAT_PAGES_CAPPED:
    c_complain(LOG_WARNING, &s->paging,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %" PRIu64
                           " attack events, more than %d pages of %d: only "
                           "the %zu of the first %d pages are counted and "
                           "notified.",
               a->name, s->name, s->stat->action, total, STAT_MAX_PAGES,
               API_EVENTS_PAGE_SIZE, pages->rows.count, STAT_MAX_PAGES);
    break;
  case STAT_PAGES_DONE:
    c_release(LOG_INFO, &s->paging,
              PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: all "
                          "%" PRIu64 " attack events are read again.",
              a->name, s->name, s->stat->action, total);
    break;
  }
  *rows = pages->rows;
  pages->rows = (api_rows_t){0};
  pages_drop(p, s);
  return API_RESPONSE_OK;
}

/* The rows of an answer that names its instances: those of the instances
 * the request named, the others refused and said (rate-limited). */
static api_response_status_t attribute_rows(poll_t *p, series_t *s,
                                            api_rows_t *rows, char *why,
                                            size_t why_size) {
  account_t *a = p->a;
  size_t total = rows->count;
  int left_out = stat_rows_of_instances(
      s->stat, rows,
      s->chunk ? (const char *const *)s->member_ids
               : (const char *const *)a->instance_ids + s->first_instance,
      s->chunk ? s->member_count : s->instance_count, why, why_size);
  if (left_out < 0)
    return API_RESPONSE_INVALID;
  if (left_out > 0)
    c_complain(LOG_WARNING, &s->name_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %d of %zu "
                           "rows refused: %s.",
               a->name, s->name, s->stat->action, left_out, total, why);
  why[0] = 0;
  return API_RESPONSE_OK;
}

/* The first answer with values after refusals: said once. */
static void allowed_again(account_t *a, const series_t *s) {
  unsigned refusals = sched_refusals(&a->sched, &s->w);
  if (refusals > 0)
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %s (%s%s%s) answers again "
                     "after %u refusals: polled at full pace, catching up "
                     "what MaxBackfill allows.",
         a->name, s->stat->action, s->stat->name,
         s->w.refusals ? ", series " : "", s->w.refusals ? s->name : "",
         refusals);
}

/* The service refused the value of a variant spelled two ways by the
 * vendor (the origin's QueryType): the same windows are asked again at once
 * in the other spelling, so the refusal costs no window. Returns true if
 * they are. */
static bool respell(poll_t *p, series_t *s, const http_result_t *r,
                    const api_error_t *error) {
  account_t *a = p->a;
  stat_spelling_t *sp = spelling_of(a, s->variant);
  if (sp == NULL ||
      !api_error_refuses(error, r->http_status, sp->variant->param))
    return false;
  stat_spelling_step_t step = stat_spelling_refused(sp, s->asked_alt);
  if (step == STAT_SPELLING_KEEP)
    return false;
  if (step == STAT_SPELLING_SWITCHED)
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %s: %.*s refused %s=%s, using "
                     "%s",
         a->name, s->stat->name, (int)strcspn(sp->variant->prefix, "_"),
         sp->variant->prefix, sp->variant->param, sp->variant->value,
         sp->variant->alt_value);
  return true; /* asked again at once, now in the block's spelling */
}

/* A chunk's answer: each row goes to its member's series (the instance
 * facts say whose IP it is), whose values and notifications are that
 * instance's as if it had been asked alone. An unusable answer gives
 * nothing: returns -1 with why. */
static int chunk_answer(poll_t *p, series_t *c, const api_rows_t *rows,
                        char *why, size_t why_size) {
  account_t *a = p->a;
  const statistic_t *stat = c->stat;
  time_t first = c->w.requested_first, last = c->w.requested_end;
  if (stat_points(stat, rows, first, last, series_window(a, c), emit_nothing,
                  NULL, why, why_size) != 0)
    return -1;
  why[0] = 0; /* notes of names refused: each member's, below */
  size_t *owner = calloc(rows->count + 1, sizeof(*owner));
  if (owner == NULL) {
    sstrncpy(why, "out of memory", why_size);
    return -1;
  }
  facts_attribution_t note;
  facts_attribute(&a->facts, stat, rows, (const char *const *)c->member_ids,
                  c->member_count, owner, &note);
  if (note.unknown > 0) {
    char shown[128];
    stat_escape(note.first_unknown, shown, sizeof(shown));
    if (a->unknown_ip_complaint.interval == 0)
      a->unknown_ip_complaint.interval = TIME_T_TO_CDTIME_T(a->window);
    c_complain(LOG_WARNING, &a->unknown_ip_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %zu of "
                           "%zu rows name an IP that no instance of the block "
                           "has by %s, the first \"%s\": not attributed to "
                           "any instance; the instances' IPs are asked again.",
               a->name, c->name, stat->action, note.unknown, rows->count,
               API_ACTION_DETAILS, shown);
    account_facts_refresh_soon(a);
  }
  if (note.not_ip > 0) {
    char shown[128];
    stat_escape(note.first_not_ip, shown, sizeof(shown));
    c_complain(LOG_WARNING, &c->name_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: left out "
                           "%zu of %zu rows whose Ip is no IPv4 or IPv6 "
                           "address, the first \"%s\" (not attributed to any "
                           "instance).",
               a->name, c->name, stat->action, note.not_ip, rows->count, shown);
  }
  if (note.unusable > 0) {
    char shown[128];
    stat_escape(note.first_unusable, shown, sizeof(shown));
    c_complain(LOG_WARNING, &c->name_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %zu of "
                           "%zu rows name no instance the request asked for "
                           "(%s \"%s\", the first): not attributed.",
               a->name, c->name, stat->action, note.unusable, rows->count,
               stat->attribution_field, shown);
  }
  for (size_t k = 0; k < c->member_count; k++) {
    series_t *m = a->series + c->members[k];
    api_rows_t mine;
    char mine_why[256] = "";
    if (facts_rows_of(rows, owner, k, &mine) != 0) {
      c_complain(LOG_ERR, &m->complaint,
                 PLUGIN_NAME " plugin: Account \"%s\", series %s: out of "
                             "memory; the values of %lld are lost.",
                 a->name, m->name, (long long)last);
      continue;
    }
    emit_t e = {.p = p, .s = m};
    stat_points(stat, &mine, first, last, series_window(a, c), emit_member, &e,
                mine_why, sizeof(mine_why));
    if (mine_why[0] != 0)
      c_complain(LOG_WARNING, &m->name_complaint,
                 PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %s.",
                 a->name, m->name, stat->action, mine_why);
    if (stat->lookback > 0)
      notify_events(a, m, &mine, first);
    if (stat->notifies_expiry)
      notify_expiry(a, m, &mine, last);
    free(mine.values);
  }
  free(owner);
  return 0;
}

/* A chunk answered its windows: each member has them, and the members of
 * a split chunk may share a larger one again (twice its size, each
 * answer). */
static void chunk_done(poll_t *p, series_t *c) {
  account_t *a = p->a;
  for (size_t k = 0; k < c->member_count; k++) {
    series_t *m = a->series + c->members[k];
    if (c->w.requested_end > m->w.last_end)
      m->w.last_end = c->w.requested_end;
    if (m->cap > 0) {
      m->cap = (2 * m->cap >= c->stat->max_instances) ? 0 : 2 * m->cap;
      a->regroup = true;
    }
    if (m->held.count == 0)
      state_store_remember(a, m);
    else
      release_series(p, m, cdtime());
  }
}

static void finished(const http_result_t *r, void *ctx) {
  poll_t *p = ctx;
  account_t *a = p->a;
  p->result->latency_sum += r->seconds;
  p->result->latency_count++;
  if (*(request_kind_t *)r->user == REQUEST_SOURCES) {
    event_sources_finished(a, r->user, r);
    return;
  }
  if (*(request_kind_t *)r->user == REQUEST_FACTS) {
    account_facts_finished(a, r->user, r);
    return;
  }
  if (*(request_kind_t *)r->user != REQUEST_WINDOW) {
    discovery_finished(a, r->user, r);
    return;
  }

  series_t *s = r->user;
  const statistic_t *stat = s->stat;

  if (r->status == HTTP_FAILED && r->resend) {
    sched_window_done(&a->sched, &s->w, SCHED_AGAIN, -1);
    return;
  }
  if (r->status == HTTP_FAILED) {
    a->stats.failed++;
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: request to %s "
                           "failed: %s",
               a->name, s->name, a->url, r->error);
    sched_window_done(&a->sched, &s->w, SCHED_NETWORK, -1);
    return;
  }

  api_rows_t rows = {0};
  api_error_t error;
  char why[256] = "";
  api_response_status_t parsed = API_RESPONSE_INVALID;
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else
    parsed = api_server_failure(
        api_parse_rows(r->body, r->len, stat->action, stat->list, stat->fields,
                       stat->field_count, stat->root_fields,
                       stat->root_field_count, &rows, &error, why, sizeof(why)),
        r->http_status, r->content_type, r->len, &error);

  /* A paged answer: its values come from all its pages together. */
  bool more = false;
  if (parsed == API_RESPONSE_OK && stat->lookback > 0)
    parsed = gather_pages(p, s, &rows, &more, why, sizeof(why));

  if (parsed == API_RESPONSE_OK && !more && stat->instance_field != NULL)
    parsed = attribute_rows(p, s, &rows, why, sizeof(why));

  /* The values the answer gives its windows, dispatched unless the answer
   * turns out to be unusable; then the news of attack events. */
  emit_t e = {.p = p, .s = s};
  if (parsed == API_RESPONSE_OK && !more && s->chunk) {
    if (chunk_answer(p, s, &rows, why, sizeof(why)) != 0)
      parsed = API_RESPONSE_INVALID;
  } else if (parsed == API_RESPONSE_OK && !more) {
    why[0] = 0;
    if (stat_points(stat, &rows, s->w.requested_first, s->w.requested_end,
                    series_window(a, s), emit, &e, why, sizeof(why)) != 0)
      parsed = API_RESPONSE_INVALID;
    else if (why[0] != 0) /* values refused, the others dispatched */
      c_complain(LOG_WARNING, &s->name_complaint,
                 PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %s.",
                 a->name, s->name, stat->action, why);
  }
  if (parsed == API_RESPONSE_OK && !more && stat->lookback > 0 && !s->chunk) {
    if (stat->scope == SCOPE_DOMAIN)
      cc_notify_events(a, s, &rows); /* HTTP floods, with their sources */
    else
      notify_events(a, s, &rows, s->w.requested_first);
  }
  if (parsed == API_RESPONSE_OK && stat->takes_rules)
    notify_health(a, s, &rows);
  if (parsed == API_RESPONSE_OK && !more && stat->notifies_expiry && !s->chunk)
    notify_expiry(a, s, &rows, s->w.requested_end);
  api_rows_clear(&rows);

  if (parsed == API_RESPONSE_INVALID) {
    a->stats.failed++;
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: unusable "
                           "response (HTTP %ld, %zu bytes): %s",
               a->name, s->name, stat->action, r->http_status, r->len, why);
    sched_window_done(&a->sched, &s->w, SCHED_INVALID, -1);
    return;
  }
  if (parsed == API_RESPONSE_ERROR && respell(p, s, r, &error)) {
    sched_window_done(&a->sched, &s->w, SCHED_AGAIN, -1);
    return;
  }
  if (parsed == API_RESPONSE_ERROR) {
    a->stats.failed++;
    sched_outcome_t outcome = api_failed(p, s, r, &error);
    if (outcome != SCHED_REFUSED) /* a refusal is the scheduler's already */
      sched_window_done(&a->sched, &s->w, outcome, r->retry_after_ms);
    return;
  }

  allowed_again(a, s);
  sched_window_done(&a->sched, &s->w, more ? SCHED_MORE : SCHED_DONE, -1);
  if (more)
    return;
  if (spelling_of(a, s->variant) != NULL)
    stat_spelling_answered(spelling_of(a, s->variant), s->asked_alt);
  if (s->chunk)
    chunk_done(p, s);
  else if (s->held.count == 0)
    state_store_remember(a, s); /* windows without values */
  else /* released (and remembered) in the next batch */
    release_due(p, s->released_at + RELEASE_SPACING, cdtime());
  dispatch_answered(a, s);
  c_release(LOG_INFO, &a->complaint,
            PLUGIN_NAME " plugin: Account \"%s\": the API answers again.",
            a->name);
  c_release(LOG_INFO, &s->complaint,
            PLUGIN_NAME " plugin: Account \"%s\", series %s: valid answers "
                        "again.",
            a->name, s->name);
}

void account_poll(account_t *a, time_t latest, cdtime_t deadline,
                  poll_result_t *result) {
  /* Windows held since the last read are due at once. */
  poll_t p = {.a = a, .latest = latest, .result = result, .release_at = 1};
  sched_io_t io = {
      .ctx = &p,
      .now = io_now,
      .random = io_random,
      .series_count = io_series_count,
      .series = io_series,
      .start_window = io_start_window,
      .other_pending = io_other_pending,
      .start_other = io_start_other,
      .apply = io_apply,
      .in_flight = io_in_flight,
      .wait = io_wait,
  };
  a->sched.renewable = credentials_renewable(a->credentials);
  discovery_begin(a, cdtime());
  account_facts_begin(a, cdtime());
  if (a->regroup) { /* no request in flight between reads */
    a->regroup = false;
    account_series_rechunk(a);
  }
  restore_new(a, latest);
  account_plan(a, false);
  account_facts_begin(a, cdtime()); /* a stand-in the plan now uses */
  sched_read(&a->sched, &io, latest, deadline);
  /* What is still held goes out a window a second, within the read. */
  for (cdtime_t next = release(&p, cdtime()); next != 0 && next < deadline;
       next = release(&p, cdtime())) {
    cdtime_t now = cdtime();
    if (next > now) {
      struct timespec ts = CDTIME_T_TO_TIMESPEC(next - now);
      nanosleep(&ts, NULL);
    }
  }
  pages_drop(&p, NULL); /* answers cut short by the deadline */
  result->skipped = a->sched.skipped;
}
