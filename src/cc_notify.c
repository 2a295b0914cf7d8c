/**
 * collectd-ddoscoo - src/cc_notify.c
 * SPDX-License-Identifier: MIT
 *
 * HTTP floods as notifications, with their sources; see cc_notify.h.
 */
#include "cc_notify.h"

#include "utils/common/common.h"

#include "account_request.h"
#include "api_request.h"
#include "cc_sources.h"
#include "state_store.h"

/* Floods waiting for their sources, per block: more at once (a hostile
 * answer) are notified without sources. */
#define CC_MAX_WAITING 64
/* Sources requests of a flood that failed for a passing reason (network,
 * throttling): then it is notified without. */
#define CC_MAX_ATTEMPTS 3

/* A flood whose notifications wait for its sources. */
struct cc_pending_s {
  request_kind_t kind; /* REQUEST_SOURCES */
  char key[STATE_STORE_KEY_SIZE];
  char plugin_instance[DATA_MAX_NAME_LEN];
  char domain[DATA_MAX_NAME_LEN];
  stat_event_t e; /* type, ip and port point to "" constants */
  bool start_due, end_due;
  bool in_flight;
  int attempts;
};

static void utc(time_t t, char *buf, size_t size) {
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%FT%TZ", &tm) == 0)
    ssnprintf(buf, size, "%lld", (long long)t);
}

/* Who is attacking: the sources of an answer, or why there are none. */
typedef struct {
  cc_source_t src[CC_SOURCES_MAX];
  size_t n;
  char why[128]; /* with n 0 */
} sources_t;

/* A flood started or ended, with who is attacking, as a notification of
 * the domain's cc_events: the sources that fit the message whole, all of
 * them in the meta data "sources". */
static void notify_flood(const account_t *a, const cc_pending_t *p,
                         bool started, const sources_t *who) {
  notification_t n = {
      .severity = started ? NOTIF_WARNING : NOTIF_OKAY,
      .time = cdtime(),
  };
  sstrncpy(n.host, a->host[0] ? a->host : hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, p->plugin_instance, sizeof(n.plugin_instance));
  sstrncpy(n.type, "count", sizeof(n.type));
  sstrncpy(n.type_instance, "cc_events", sizeof(n.type_instance));
  char from[32], to[32], when[80];
  utc(p->e.start, from, sizeof(from));
  utc(p->e.end, to, sizeof(to));
  if (started)
    ssnprintf(when, sizeof(when), "since %s", from);
  else
    ssnprintf(when, sizeof(when), "from %s to %s", from, to);
  char all[CC_SOURCES_MAX * 96];
  if (who->n > 0)
    cc_sources_text(who->src, who->n, all, sizeof(all));
  else
    sstrncpy(all, who->why, sizeof(all));
  int len = ssnprintf(n.message, sizeof(n.message),
                      "Anti-DDoS HTTP flood %s: domain %s, peak %" PRIu64
                      " attack requests/s, %s; %s",
                      started ? "started" : "ended", p->domain, p->e.qps, when,
                      who->n > 0 ? "top blocked sources: " : "");
  if (len > 0 && (size_t)len < sizeof(n.message)) {
    if (who->n > 0)
      cc_sources_text(who->src, who->n, n.message + len,
                      sizeof(n.message) - (size_t)len);
    else
      sstrncpy(n.message + len, who->why, sizeof(n.message) - (size_t)len);
  }
  plugin_notification_meta_add_string(&n, "domain", p->domain);
  plugin_notification_meta_add_string(&n, "sources", all);
  plugin_dispatch_notification(&n);
  plugin_notification_meta_free(n.meta);
}

/* p's notifications that are due, and its mark; then p is done. */
static void notify_due(account_t *a, const cc_pending_t *p,
                       const sources_t *who) {
  if (p->start_due)
    notify_flood(a, p, true, who);
  if (p->end_due)
    notify_flood(a, p, false, who);
  state_store_set_mark(p->key, p->end_due ? (p->e.end > 2 ? p->e.end : 2) : 1);
}

static void notify_without(account_t *a, const cc_pending_t *p,
                           const char *why) {
  sources_t who = {.n = 0};
  sstrncpy(who.why, why, sizeof(who.why));
  notify_due(a, p, &who);
}

static void drop(account_t *a, size_t i) {
  sfree(a->cc_pending[i]);
  a->cc_pending[i] = a->cc_pending[--a->cc_pending_count];
  if (a->cc_pending_count == 0)
    sfree(a->cc_pending);
}

static cc_pending_t *waiting(account_t *a, const char *key) {
  for (size_t i = 0; i < a->cc_pending_count; i++)
    if (strcmp(a->cc_pending[i]->key, key) == 0)
      return a->cc_pending[i];
  return NULL;
}

typedef struct {
  bool start, end;
} due_t;

static void note_due(void *ctx, const stat_event_t *e, bool started) {
  (void)e;
  due_t *d = ctx;
  if (started)
    d->start = true;
  else
    d->end = true;
}

void cc_notify_events(account_t *a, series_t *s, const api_rows_t *rows) {
  time_t now = time(NULL);
  time_t since = s->w.requested_first - a->window;
  for (size_t r = 0; r < rows->count; r++) {
    stat_event_t e;
    stat_cc_event(rows, r, &e);
    char key[STATE_STORE_KEY_SIZE];
    ssnprintf(key, sizeof(key), "%s/%s/event/cc/%lld", a->name,
              s->plugin_instance, (long long)e.start);
    cc_pending_t *p = waiting(a, key);
    if (p != NULL && p->in_flight)
      continue; /* its answer settles it; the next poll sees the rest */
    time_t mark = state_store_mark(key);
    int before = (mark > 2) ? 2 : (int)mark;
    due_t due = {0};
    int after = stat_event_notify(&e, before, since, now, note_due, &due);
    if (after == before)
      continue;
    if (!due.start && !due.end) { /* history: recorded without a word */
      state_store_set_mark(key, (after == 2 && e.end > 2) ? e.end : after);
      continue;
    }
    if (p == NULL && a->cc_pending_count < CC_MAX_WAITING) {
      cc_pending_t **more =
          realloc(a->cc_pending, (a->cc_pending_count + 1) * sizeof(*more));
      p = (more != NULL) ? calloc(1, sizeof(*p)) : NULL;
      if (more != NULL)
        a->cc_pending = more;
      if (p != NULL)
        a->cc_pending[a->cc_pending_count++] = p;
    }
    cc_pending_t none = {0};
    cc_pending_t *q = (p != NULL) ? p : &none;
    q->kind = REQUEST_SOURCES;
    sstrncpy(q->key, key, sizeof(q->key));
    sstrncpy(q->plugin_instance, s->plugin_instance,
             sizeof(q->plugin_instance));
    sstrncpy(q->domain, s->domain, sizeof(q->domain));
    q->e = e;
    q->start_due = due.start;
    q->end_due = due.end;
    if (p == NULL) {
      c_complain(LOG_WARNING, &a->cc_name_complaint,
                 PLUGIN_NAME " plugin: Account \"%s\": more than %d HTTP "
                             "floods wait for their sources: the others are "
                             "notified without.",
                 a->name, CC_MAX_WAITING);
      notify_without(a, q, "sources not asked (too many floods at once)");
    }
  }
  /* As for the volumetric events: marks of floods long over go. */
  if (now - a->marks_forgotten >= 3600) {
    a->marks_forgotten = now;
    state_store_forget_marks(a->name,
                             now - (time_t)(a->max_backfill + 1) * a->window -
                                 s->stat->lookback);
  }
}

bool cc_sources_pending(const account_t *a) {
  for (size_t i = 0; i < a->cc_pending_count; i++)
    if (!a->cc_pending[i]->in_flight)
      return true;
  return false;
}

int cc_sources_start_next(account_t *a, cdtime_t now, cdtime_t deadline) {
  for (size_t i = 0; i < a->cc_pending_count; i++) {
    cc_pending_t *p = a->cc_pending[i];
    if (p->in_flight)
      continue;
    /* A start: its sources so far, to the current minute. */
    time_t now_s = time(NULL);
    time_t end = p->end_due ? p->e.end : now_s - now_s % 60;
    rpc_params_t params = RPC_PARAMS_INIT;
    if (cc_top_ip_params(a->region_id, p->domain, p->e.start, end, &params) !=
        0) {
      notify_without(a, p, "sources not asked (no request could be built)");
      drop(a, i);
      return 0;
    }
    int status =
        account_start(a, API_ACTION_TOP_IP, &params, now, deadline, p, NULL);
    if (status == -1)
      return -1; /* no keys: nothing starts in this read */
    p->attempts++;
    if (status == 0) {
      p->in_flight = true;
      return 1;
    }
    /* This request could not start (logged): asked again, up to
     * CC_MAX_ATTEMPTS in all. */
    if (p->attempts >= CC_MAX_ATTEMPTS) {
      notify_without(a, p, "sources not asked (the request could not start)");
      drop(a, i);
    }
    return 0;
  }
  return 0;
}

/* The sources of an answer in who; false with why there are none. *again:
 * a passing failure, asked again. */
static bool sources_of(account_t *a, const cc_pending_t *p,
                       const http_result_t *r, sources_t *who, bool *again) {
  char *out = who->why;
  size_t size = sizeof(who->why);
  api_rows_t rows = {0};
  api_error_t error;
  char why[256] = "";
  api_response_status_t parsed = API_RESPONSE_INVALID;
  *again = false;
  if (r->status == HTTP_FAILED) {
    *again = p->attempts < CC_MAX_ATTEMPTS;
    c_complain(LOG_ERR, &a->cc_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", domain %s: %s failed: %s",
               a->name, p->domain, API_ACTION_TOP_IP, r->error);
    ssnprintf(out, size, "sources unknown (%s failed)", API_ACTION_TOP_IP);
    return false;
  }
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else
    parsed = api_server_failure(
        api_parse_rows(r->body, r->len, API_ACTION_TOP_IP, CC_SOURCES_LIST,
                       cc_source_fields, cc_source_field_count, NULL, 0, &rows,
                       &error, why, sizeof(why)),
        r->http_status, r->content_type, r->len, &error);
  if (parsed == API_RESPONSE_ERROR) {
    api_error_class_t class = api_error_classify(error.code, r->http_status);
    *again = (class == API_ERROR_TRANSIENT || class == API_ERROR_CLOCK ||
              class == API_ERROR_CREDENTIALS) &&
             p->attempts < CC_MAX_ATTEMPTS;
    c_complain(LOG_ERR, &a->cc_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", domain %s: %s: API error "
                           "%s (HTTP %ld; %s): %s (RequestId %s)%s",
               a->name, p->domain, API_ACTION_TOP_IP, error.code,
               r->http_status, api_error_explain(class), error.message,
               error.request_id[0] ? error.request_id : "none",
               class == API_ERROR_PERMISSION
                   ? ": HTTP floods are notified without their sources; "
                     "allow the RAM action yundun-ddoscoo:" API_ACTION_TOP_IP
                   : "");
    ssnprintf(out, size, "sources unknown (%s: %s)", API_ACTION_TOP_IP,
              error.code);
    return false;
  }
  if (parsed != API_RESPONSE_OK) {
    c_complain(LOG_ERR, &a->cc_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", domain %s: %s: unusable "
                           "response (HTTP %ld, %zu bytes): %s",
               a->name, p->domain, API_ACTION_TOP_IP, r->http_status, r->len,
               why);
    ssnprintf(out, size, "sources unknown (unusable answer)");
    return false;
  }
  cc_refused_t refused;
  size_t n = cc_sources_pick(&rows, who->src, CC_SOURCES_MAX, &refused);
  who->n = n;
  if (refused.no_ip + refused.bad_text > 0)
    c_complain(LOG_WARNING, &a->cc_name_complaint,
               PLUGIN_NAME " plugin: Account \"%s\", domain %s: %s: %zu rows "
                           "left out whose SourceIp is no IPv4 or IPv6 "
                           "address, %zu AreaId or Isp that are no number "
                           "shown as \"?\"; the first: \"%s\".",
               a->name, p->domain, API_ACTION_TOP_IP, refused.no_ip,
               refused.bad_text, refused.first);
  api_rows_clear(&rows);
  if (n == 0) {
    ssnprintf(out, size, "no blocked sources reported");
    return false;
  }
  c_release(LOG_INFO, &a->cc_complaint,
            PLUGIN_NAME " plugin: Account \"%s\": %s answers again.", a->name,
            API_ACTION_TOP_IP);
  return true;
}

void cc_sources_finished(account_t *a, void *user, const http_result_t *r) {
  cc_pending_t *p = user;
  p->in_flight = false;
  sources_t who = {.n = 0};
  bool again = false;
  sources_of(a, p, r, &who, &again);
  if (again)
    return; /* asked again, in this read or the next */
  for (size_t i = 0; i < a->cc_pending_count; i++)
    if (a->cc_pending[i] == p) {
      notify_due(a, p, &who);
      drop(a, i);
      return;
    }
}

void cc_notify_free(account_t *a) {
  while (a->cc_pending_count > 0)
    drop(a, a->cc_pending_count - 1);
}
