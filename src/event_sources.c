/**
 * collectd-ddoscoo - src/event_sources.c
 * SPDX-License-Identifier: MIT
 *
 * Attack events as notifications, with their sources; see
 * event_sources.h. One mechanism for every kind of event: what differs
 * (the operation that finds the sources, its answer's fields, the
 * notification's words) is a row of the table below.
 */
#include "event_sources.h"

#include "utils/common/common.h"

#include "account_request.h"
#include "api_request.h"
#include "dispatch.h"
#include "sources.h"
#include "state_store.h"

/* Events waiting for their sources, per block: more at once (a hostile
 * answer) are notified without sources. */
#define MAX_WAITING 64
/* Sources requests of an event that failed for a passing reason (network,
 * throttling): then it is notified without. */
#define MAX_ATTEMPTS 3

/* An event whose notifications wait for its sources. */
struct event_pending_s {
  request_kind_t kind; /* REQUEST_SOURCES */
  sources_op_t op;
  char key[STATE_STORE_KEY_SIZE];
  char plugin_instance[DATA_MAX_NAME_LEN];
  char domain[DATA_MAX_NAME_LEN]; /* SOURCES_CC */
  char type[16];                  /* SOURCES_DDOS: defense or blackhole */
  char ip[INET6_ADDRSTRLEN + 8];
  char port[8];
  char subject[2 * DATA_MAX_NAME_LEN + 16]; /* for the log */
  stat_event_t e; /* its texts are the members above, not e's */
  bool start_due, end_due;
  bool in_flight;
  int attempts;
};

/* Who is attacking: the sources of an answer, or why there are none ("":
 * not asked, EventSources false). */
typedef struct {
  source_t src[SOURCES_MAX];
  size_t n;
  char why[128]; /* with n 0 */
} sources_t;

static void when_text(const event_pending_t *p, bool started, char *buf,
                      size_t size) {
  char from[32], to[32];
  dispatch_utc(p->e.start, from, sizeof(from));
  dispatch_utc(p->e.end, to, sizeof(to));
  if (started)
    ssnprintf(buf, size, "since %s", from);
  else
    ssnprintf(buf, size, "from %s to %s", from, to);
}

/* The attacks on an instance's IP, by their EventType: the notification's
 * type instance and words, and the severity of a start (a blackhole's is a
 * failure: its IP is unreachable). The last row: any other, a mitigation. */
static const struct {
  const char *type;
  const char *type_instance;
  const char *words;
  int severity;
} attacks[] = {
    {"blackhole", "blackhole_events", "blackhole", NOTIF_FAILURE},
    {"cc", "cc_instance_events", "CC (connection flood)", NOTIF_WARNING},
    {NULL, "mitigation_events", "mitigation", NOTIF_WARNING},
};

/* An attack on an instance's IP (a mitigation, a blackhole, a connection
 * flood) started or ended: which instance and IP, how hard, since when. */
static void ddos_head(const event_pending_t *p, bool started,
                      notification_t *n) {
  size_t k = 0;
  while (attacks[k].type != NULL && strcmp(p->type, attacks[k].type) != 0)
    k++;
  n->severity = started ? attacks[k].severity : NOTIF_OKAY;
  sstrncpy(n->type_instance, attacks[k].type_instance,
           sizeof(n->type_instance));
  char when[80];
  when_text(p, started, when, sizeof(when));
  ssnprintf(n->message, sizeof(n->message),
            "Anti-DDoS %s %s: instance %s, IP %s%s%s, %" PRIu64
            " bit/s, %" PRIu64 " packets/s, %s",
            attacks[k].words, started ? "started" : "ended", p->plugin_instance,
            p->ip[0] ? p->ip : "?", p->port[0] ? ", port " : "", p->port,
            p->e.bps, p->e.pps, when);
}

/* An HTTP flood started or ended: which domain, how hard, since when. */
static void cc_head(const event_pending_t *p, bool started, notification_t *n) {
  n->severity = started ? NOTIF_WARNING : NOTIF_OKAY;
  sstrncpy(n->type_instance, "cc_events", sizeof(n->type_instance));
  char when[80];
  when_text(p, started, when, sizeof(when));
  ssnprintf(n->message, sizeof(n->message),
            "Anti-DDoS HTTP flood %s: domain %s, peak %" PRIu64
            " attack requests/s, %s",
            started ? "started" : "ended", p->domain, p->e.qps, when);
  plugin_notification_meta_add_string(n, "domain", p->domain);
}

static int ddos_params(const account_t *a, const event_pending_t *p,
                       rpc_params_t *params) {
  return ddos_src_ip_params(a->region_id, p->type, p->ip, p->e.start, params);
}

/* A start: its sources so far, to the current minute. */
static int cc_params(const account_t *a, const event_pending_t *p,
                     rpc_params_t *params) {
  time_t now = time(NULL);
  time_t end = p->end_due ? p->e.end : now - now % 60;
  return cc_top_ip_params(a->region_id, p->domain, p->e.start, end, params);
}

/* Each kind of event: the operation that finds its sources (NULL: none),
 * its answer, and the notification's words. */
static const struct {
  const char *action;
  const char *list;
  const api_field_t *fields;
  const size_t *field_count;
  const char *label; /* before the sources in the message */
  const char *none;  /* an answer without any */
  int (*params)(const account_t *a, const event_pending_t *p,
                rpc_params_t *params);
  void (*head)(const event_pending_t *p, bool started, notification_t *n);
} kinds[] = {
    [SOURCES_DDOS] = {API_ACTION_SRC_IP, DDOS_SRC_IP_LIST, ddos_source_fields,
                      &ddos_source_field_count, "top attack sources: ",
                      "no attack sources reported", ddos_params, ddos_head},
    [SOURCES_CC] = {API_ACTION_TOP_IP, CC_TOP_IP_LIST, cc_source_fields,
                    &cc_source_field_count, "top blocked sources: ",
                    "no blocked sources reported", cc_params, cc_head},
    [SOURCES_NONE] = {.head = ddos_head},
};

/* An event started or ended, with who is attacking, as a notification:
 * the sources that fit the message whole, all of them in the meta data
 * "sources". */
static void notify_event(const account_t *a, const event_pending_t *p,
                         bool started, const sources_t *who) {
  notification_t n = {.time = cdtime()};
  sstrncpy(n.host, a->host[0] ? a->host : hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, p->plugin_instance, sizeof(n.plugin_instance));
  sstrncpy(n.type, "count", sizeof(n.type));
  kinds[p->op].head(p, started, &n);
  char all[SOURCES_MAX * 96] = "";
  if (who->n > 0)
    sources_text(who->src, who->n, all, sizeof(all));
  else
    sstrncpy(all, who->why, sizeof(all));
  size_t len = strlen(n.message);
  if (all[0] != 0 && len + 2 < sizeof(n.message)) {
    ssnprintf(n.message + len, sizeof(n.message) - len, "; %s",
              who->n > 0 ? kinds[p->op].label : "");
    len = strlen(n.message);
    if (who->n > 0)
      sources_text(who->src, who->n, n.message + len, sizeof(n.message) - len);
    else
      sstrncpy(n.message + len, who->why, sizeof(n.message) - len);
  }
  if (all[0] != 0)
    plugin_notification_meta_add_string(&n, "sources", all);
  plugin_dispatch_notification(&n);
  plugin_notification_meta_free(n.meta);
}

/* p's notifications that are due, and its mark; then p is done. */
static void notify_due(account_t *a, const event_pending_t *p,
                       const sources_t *who) {
  if (p->start_due)
    notify_event(a, p, true, who);
  if (p->end_due)
    notify_event(a, p, false, who);
  state_store_set_mark(p->key, p->end_due ? (p->e.end > 2 ? p->e.end : 2) : 1);
}

static void notify_without(account_t *a, const event_pending_t *p,
                           const char *why) {
  sources_t who = {.n = 0};
  sstrncpy(who.why, why, sizeof(who.why));
  notify_due(a, p, &who);
}

static void drop(account_t *a, size_t i) {
  sfree(a->pending[i]);
  a->pending[i] = a->pending[--a->pending_count];
  if (a->pending_count == 0)
    sfree(a->pending);
}

static event_pending_t *waiting(account_t *a, const char *key) {
  for (size_t i = 0; i < a->pending_count; i++)
    if (strcmp(a->pending[i]->key, key) == 0)
      return a->pending[i];
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

void event_sources_due(account_t *a, const event_of_t *of,
                       const stat_event_t *e, time_t since, time_t now) {
  event_pending_t *p = waiting(a, of->key);
  if (p != NULL && p->in_flight)
    return; /* its answer settles it; the next poll sees the rest */
  time_t mark = state_store_mark(of->key);
  int before = (mark > 2) ? 2 : (int)mark;
  due_t due = {0};
  int after = stat_event_notify(e, before, since, now, note_due, &due);
  if (after == before)
    return;
  if (!due.start && !due.end) { /* history: recorded without a word */
    state_store_set_mark(of->key, (after == 2 && e->end > 2) ? e->end : after);
    return;
  }
  /* EventSources false, or an event whose sources no operation names:
   * notified at once, without a request. */
  bool asks = a->event_sources && kinds[of->op].action != NULL;
  if (p == NULL && asks && a->pending_count < MAX_WAITING) {
    event_pending_t **more =
        realloc(a->pending, (a->pending_count + 1) * sizeof(*more));
    p = (more != NULL) ? calloc(1, sizeof(*p)) : NULL;
    if (more != NULL)
      a->pending = more;
    if (p != NULL)
      a->pending[a->pending_count++] = p;
  }
  event_pending_t none = {0};
  event_pending_t *q = (p != NULL) ? p : &none;
  q->kind = REQUEST_SOURCES;
  q->op = of->op;
  sstrncpy(q->key, of->key, sizeof(q->key));
  sstrncpy(q->plugin_instance, of->plugin_instance, sizeof(q->plugin_instance));
  sstrncpy(q->domain, of->domain ? of->domain : "", sizeof(q->domain));
  sstrncpy(q->type, e->type ? e->type : "", sizeof(q->type));
  sstrncpy(q->ip, e->ip ? e->ip : "", sizeof(q->ip));
  sstrncpy(q->port, e->port ? e->port : "", sizeof(q->port));
  if (of->op == SOURCES_CC)
    ssnprintf(q->subject, sizeof(q->subject), "domain %s", q->domain);
  else
    ssnprintf(q->subject, sizeof(q->subject), "instance %s, %s event on %s",
              q->plugin_instance, q->type, q->ip);
  q->e = *e;
  q->e.type = q->e.ip = q->e.port = "";
  q->start_due = due.start;
  q->end_due = due.end;
  if (p != NULL)
    return;
  if (!asks) {
    notify_without(a, q, "");
    return;
  }
  c_complain(LOG_WARNING, &a->sources_name_complaint[of->op],
             PLUGIN_NAME " plugin: Account \"%s\": more than %d attack "
                         "events wait for their sources: the others are "
                         "notified without.",
             a->name, MAX_WAITING);
  notify_without(a, q, "sources not asked (too many events at once)");
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
    event_of_t of = {.op = SOURCES_CC,
                     .key = key,
                     .plugin_instance = s->plugin_instance,
                     .domain = s->domain};
    event_sources_due(a, &of, &e, since, now);
  }
  /* As for the volumetric events: marks of floods long over go. */
  if (now - a->marks_forgotten >= 3600) {
    a->marks_forgotten = now;
    state_store_forget_marks(a->name,
                             now - (time_t)(a->max_backfill + 1) * a->window -
                                 s->stat->lookback);
  }
}

bool event_sources_pending(const account_t *a) {
  for (size_t i = 0; i < a->pending_count; i++)
    if (!a->pending[i]->in_flight)
      return true;
  return false;
}

int event_sources_start_next(account_t *a, cdtime_t now, cdtime_t deadline) {
  for (size_t i = 0; i < a->pending_count; i++) {
    event_pending_t *p = a->pending[i];
    if (p->in_flight)
      continue;
    rpc_params_t params = RPC_PARAMS_INIT;
    if (kinds[p->op].params(a, p, &params) != 0) {
      notify_without(a, p, "sources not asked (no request could be built)");
      drop(a, i);
      return 0;
    }
    int status =
        account_start(a, kinds[p->op].action, &params, now, deadline, p, NULL);
    if (status == -1)
      return -1; /* no keys: nothing starts in this read */
    p->attempts++;
    if (status == 0) {
      p->in_flight = true;
      return 1;
    }
    /* This request could not start (logged): asked again, up to
     * MAX_ATTEMPTS in all. */
    if (p->attempts >= MAX_ATTEMPTS) {
      notify_without(a, p, "sources not asked (the request could not start)");
      drop(a, i);
    }
    return 0;
  }
  return 0;
}

/* The sources of an answer in who; false with why there are none. *again:
 * a passing failure, asked again. */
static bool sources_of(account_t *a, const event_pending_t *p,
                       const http_result_t *r, sources_t *who, bool *again) {
  const char *action = kinds[p->op].action;
  c_complain_t *complaint = &a->sources_complaint[p->op];
  char *out = who->why;
  size_t size = sizeof(who->why);
  api_rows_t rows = {0};
  api_error_t error;
  char why[256] = "";
  api_response_status_t parsed = API_RESPONSE_INVALID;
  *again = false;
  if (r->status == HTTP_FAILED) {
    *again = p->attempts < MAX_ATTEMPTS;
    c_complain(LOG_ERR, complaint,
               PLUGIN_NAME " plugin: Account \"%s\", %s: %s failed: %s",
               a->name, p->subject, action, r->error);
    ssnprintf(out, size, "sources unknown (%s failed)", action);
    return false;
  }
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else
    parsed = api_server_failure(
        api_parse_rows(r->body, r->len, action, kinds[p->op].list,
                       kinds[p->op].fields, *kinds[p->op].field_count, NULL, 0,
                       &rows, &error, why, sizeof(why)),
        r->http_status, r->content_type, r->len, &error);
  if (parsed == API_RESPONSE_ERROR) {
    api_error_class_t class = api_error_classify(error.code, r->http_status);
    *again = (class == API_ERROR_TRANSIENT || class == API_ERROR_CLOCK ||
              class == API_ERROR_CREDENTIALS) &&
             p->attempts < MAX_ATTEMPTS;
    c_complain(LOG_ERR, complaint,
               PLUGIN_NAME " plugin: Account \"%s\", %s: %s: API error %s "
                           "(HTTP %ld; %s): %s (RequestId %s)%s%s",
               a->name, p->subject, action, error.code, r->http_status,
               api_error_explain(class), error.message,
               error.request_id[0] ? error.request_id : "none",
               class == API_ERROR_PERMISSION
                   ? ": events are notified without their sources; allow "
                     "the RAM action yundun-ddoscoo:"
                   : "",
               class == API_ERROR_PERMISSION ? action : "");
    ssnprintf(out, size, "sources unknown (%s: %s)", action, error.code);
    return false;
  }
  if (parsed != API_RESPONSE_OK) {
    c_complain(LOG_ERR, complaint,
               PLUGIN_NAME " plugin: Account \"%s\", %s: %s: unusable "
                           "response (HTTP %ld, %zu bytes): %s",
               a->name, p->subject, action, r->http_status, r->len, why);
    ssnprintf(out, size, "sources unknown (unusable answer)");
    return false;
  }
  sources_refused_t refused;
  size_t n = sources_pick(&rows, who->src, SOURCES_MAX, &refused);
  who->n = n;
  if (refused.no_ip + refused.bad_text > 0)
    c_complain(LOG_WARNING, &a->sources_name_complaint[p->op],
               PLUGIN_NAME " plugin: Account \"%s\", %s: %s: %zu rows left "
                           "out whose %s is no IPv4 or IPv6 address, %zu "
                           "AreaId or Isp that are no code shown as \"?\"; "
                           "the first: \"%s\".",
               a->name, p->subject, action, refused.no_ip,
               kinds[p->op].fields[0].name, refused.bad_text, refused.first);
  api_rows_clear(&rows);
  if (n == 0) {
    sstrncpy(out, kinds[p->op].none, size);
    return false;
  }
  c_release(LOG_INFO, complaint,
            PLUGIN_NAME " plugin: Account \"%s\": %s answers again.", a->name,
            action);
  return true;
}

void event_sources_finished(account_t *a, void *user, const http_result_t *r) {
  event_pending_t *p = user;
  p->in_flight = false;
  sources_t who = {.n = 0};
  bool again = false;
  sources_of(a, p, r, &who, &again);
  if (again)
    return; /* asked again, in this read or the next */
  for (size_t i = 0; i < a->pending_count; i++)
    if (a->pending[i] == p) {
      notify_due(a, p, &who);
      drop(a, i);
      return;
    }
}

void event_sources_free(account_t *a) {
  while (a->pending_count > 0)
    drop(a, a->pending_count - 1);
}
