/**
 * collectd-ddoscoo - src/ddoscoo.c
 *
 * collectd glue: the plugin's configuration, one read callback per
 * <Account> block, backfill of missed windows, dispatch of the connection
 * statistics that DescribePortConnsCount reports and of the plugin's own
 * health, and the StateFile.
 */
#include "account.h"

#include "utils/common/common.h"
#include "utils_random.h"

#include "acs3_sign.h"
#include "api_request.h"
#include "api_response.h"
#include "rpc_sign.h"
#include "state_file.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>

#define USER_AGENT "collectd-ddoscoo/" DDOSCOO_VERSION
/* A real answer is a few hundred bytes. */
#define MAX_RESPONSE_SIZE (64 * 1024)
/* Too little time left in a read for another request. */
#define MIN_REQUEST_TIME MS_TO_CDTIME_T(100)
#define MAX_BACKOFF TIME_T_TO_CDTIME_T(60)
/* Requests for one window within one read, on transient failures. */
#define MAX_ATTEMPTS 3

/* The StateFile is shared by every block: guarded by state_lock. */
static char *state_path;
static state_t state = STATE_INIT;
static bool state_dirty;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static c_complain_t state_complaint = C_COMPLAIN_INIT_STATIC;

/* What one exchange with the API came to. */
typedef enum {
  QUERY_OK,
  QUERY_INVALID,   /* unusable answer: this series, next read */
  QUERY_REJECTED,  /* permanent error of this series: next window */
  QUERY_BLOCKED,   /* permanent error of the whole block: next window */
  QUERY_TRANSIENT, /* 5xx, network: try again soon */
  QUERY_THROTTLED, /* flow control: wait, as the API says or longer each time */
  QUERY_KEYS_REFUSED, /* renew the keys if they can be, else as BLOCKED */
  QUERY_NO_KEYS,      /* no keys to sign with: next read */
} query_result_t;

static void state_key(const account_t *a, const series_t *s, char *key,
                      size_t size) {
  ssnprintf(key, size, "%s/%s", a->name, s->plugin_instance);
}

/* At a block's first read: where each series stopped before the restart.
 * A time ahead of the window now due (a clock set back, a foreign file)
 * is ignored rather than left to block the series. */
static void state_restore(account_t *a, time_t latest) {
  a->state_restored = true;
  if (state_path == NULL)
    return;

  pthread_mutex_lock(&state_lock);
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *s = a->series + i;
    char key[STATE_MAX_KEY];
    state_key(a, s, key, sizeof(key));
    time_t end = state_get(&state, key);
    if (end > latest || (end != 0 && end % a->window != 0))
      WARNING(PLUGIN_NAME " plugin: Account \"%s\", series %s: ignoring the "
                          "StateFile's EndTime %lld, not a window before now.",
              a->name, s->plugin_instance, (long long)end);
    else
      s->last_end = end;
  }
  pthread_mutex_unlock(&state_lock);
}

static void state_remember(const account_t *a, const series_t *s) {
  if (state_path == NULL)
    return;
  char key[STATE_MAX_KEY];
  state_key(a, s, key, sizeof(key));

  pthread_mutex_lock(&state_lock);
  if (state_set(&state, key, s->last_end) == 0)
    state_dirty = true;
  pthread_mutex_unlock(&state_lock);
}

static void state_write(void) {
  char why[512];

  pthread_mutex_lock(&state_lock);
  if (state_path != NULL && state_dirty) {
    if (state_save(&state, state_path, why, sizeof(why)) == 0) {
      state_dirty = false;
      c_release(LOG_INFO, &state_complaint,
                PLUGIN_NAME " plugin: StateFile \"%s\" written again.",
                state_path);
    } else {
      c_complain(LOG_ERR, &state_complaint,
                 PLUGIN_NAME " plugin: StateFile \"%s\": %s", state_path, why);
    }
  }
  pthread_mutex_unlock(&state_lock);
}

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
static void submit_window(const account_t *a, const series_t *s, time_t end,
                          const api_port_conns_t *c) {
  cdtime_t t = TIME_T_TO_CDTIME_T(end);
  cdtime_t interval = TIME_T_TO_CDTIME_T(a->window);
  const char *pi = s->plugin_instance;

  submit(a, pi, t, interval, "current_connections", "concurrent",
         (value_t){.gauge = (gauge_t)c->conns});
  submit(a, pi, t, interval, "current_connections", "active",
         (value_t){.gauge = (gauge_t)c->act_conns});
  submit(a, pi, t, interval, "current_connections", "inactive",
         (value_t){.gauge = (gauge_t)c->inact_conns});
  submit(a, pi, t, interval, "operations_per_second", "new_connections",
         (value_t){.gauge = (gauge_t)c->cps});
}

/* The plugin's own health, as <block>-api. Reads can follow each other
 * closely after one that ran long; a second dispatch within the same second
 * would be refused downstream ("Value too old", rrdtool's one-second step),
 * and the counters lose nothing by waiting. */
static void submit_stats(account_t *a, double latency_sum,
                         unsigned latency_count) {
  cdtime_t now = cdtime();
  if (!a->self_monitoring || now < a->stats_time + TIME_T_TO_CDTIME_T(1))
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
  submit(a, pi, now, 0, "total_operations", "backfilled_windows",
         (value_t){.derive = (derive_t)st->backfilled});
}

/* One window's request, signed: where to POST what, with which headers. */
typedef struct {
  char *url;      /* NULL: the endpoint's */
  char *body;     /* NULL: empty */
  char **headers; /* NULL: none */
} signed_request_t;

static void signed_request_clear(signed_request_t *r) {
  sfree(r->url);
  if (r->body != NULL)
    OPENSSL_cleanse(r->body, strlen(r->body)); /* may hold a SecurityToken */
  sfree(r->body);
  acs3_free_headers(r->headers);
  r->headers = NULL;
}

/* Signature 1.0: every parameter in the form body. V3: the operation's in
 * the query string, the rest in signed headers, an empty body. */
static int sign_request(const account_t *a, const series_t *s, time_t end,
                        const access_key_t *key, signed_request_t *out) {
  api_request_t req = {
      .region_id = a->region_id,
      .resource_group_id = a->resource_group_id,
      .instance_ids = (const char *const *)a->instance_ids + s->first_instance,
      .instance_count = s->instance_count,
      .port = s->port,
      .start_time = end - a->window,
      .end_time = end,
  };
  char nonce[RPC_NONCE_SIZE];
  rpc_params_t params = RPC_PARAMS_INIT;
  time_t now = time(NULL);

  *out = (signed_request_t){0};
  if (rpc_nonce(nonce, sizeof(nonce)) != 0 ||
      api_request_params(&req, &params) != 0)
    return -1;

  if (a->signature_version == 1) {
    if (rpc_common_params_v1(&params, API_ACTION, API_VERSION,
                             key->access_key_id, key->security_token, now,
                             nonce) == 0)
      out->body = rpc_sign_v1(&params, "POST", key->access_key_secret);
  } else {
    char *query = rpc_canonical_query(&params);
    size_t size = strlen(a->url) + 1 + (query ? strlen(query) : 0) + 1;
    if (query != NULL && (out->url = malloc(size)) != NULL) {
      ssnprintf(out->url, size, "%s?%s", a->url, query);
      out->headers = acs3_sign_request(&(acs3_request_t){
          .method = "POST",
          .host = a->url_authority,
          .canonical_query = query,
          .body = "",
          .body_len = 0,
          .action = API_ACTION,
          .version = API_VERSION,
          .now = now,
          .nonce = nonce,
          .access_key_id = key->access_key_id,
          .access_key_secret = key->access_key_secret,
          .security_token = key->security_token,
      });
    }
    sfree(query);
  }
  rpc_params_clear(&params);

  if ((a->signature_version == 1) ? out->body == NULL : out->headers == NULL) {
    signed_request_clear(out);
    return -1;
  }
  return 0;
}

/* For InvalidTimeStamp.Expired: how far off the host clock is, by the
 * server's Date header. */
static void describe_clock(const http_response_t *resp, char *buf,
                           size_t size) {
  buf[0] = 0;
  if (resp->date == 0)
    return;
  long long offset = (long long)(time(NULL) - resp->date);
  ssnprintf(buf, size, " The host clock is %lld s %s the API's.",
            offset < 0 ? -offset : offset, offset < 0 ? "behind" : "ahead of");
}

/* One request for one window. On QUERY_THROTTLED, *retry_after is the wait
 * the API asked for, or 0. */
static query_result_t query(account_t *a, series_t *s, time_t end,
                            cdtime_t timeout, api_port_conns_t *conns,
                            double *latency, cdtime_t *retry_after) {
  access_key_t key;
  char why[1024];
  if (credentials_get(a->credentials, time(NULL), a->keys_rejected, &key, why,
                      sizeof(why)) != 0) {
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\": no usable credentials "
                           "from the %s: %s",
               a->name, credentials_describe(a->credentials), why);
    return QUERY_NO_KEYS;
  }

  signed_request_t req;
  if (sign_request(a, s, end, &key, &req) != 0) {
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: cannot build "
                           "the signed request.",
               a->name, s->plugin_instance);
    return QUERY_INVALID;
  }

  http_response_t resp = {0};
  char err[CURL_ERROR_SIZE + 64];
  cdtime_t start = cdtime();
  http_status_t sent = http_client_post(
      a->http, req.url ? req.url : a->url, req.body ? req.body : "",
      (const char *const *)req.headers, (long)CDTIME_T_TO_MS(timeout), &resp,
      err, sizeof(err));
  *latency = CDTIME_T_TO_DOUBLE(cdtime() - start);
  signed_request_clear(&req);
  a->stats.requests++;

  if (sent == HTTP_FAILED) {
    a->stats.failed++;
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: request to %s "
                           "failed: %s",
               a->name, s->plugin_instance, a->url, err);
    return QUERY_TRANSIENT;
  }

  api_error_t error;
  why[0] = 0;
  api_response_status_t parsed = API_RESPONSE_INVALID;
  if (sent == HTTP_TOO_LARGE)
    sstrncpy(why, err, sizeof(why));
  else
    parsed = api_parse_port_conns(resp.body, resp.len, conns, &error, why,
                                  sizeof(why));

  if (parsed == API_RESPONSE_OK) {
    a->keys_rejected = false;
    return QUERY_OK;
  }
  a->stats.failed++;
  if (parsed == API_RESPONSE_INVALID) {
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: unusable "
                           "response (HTTP %ld, %zu bytes): %s",
               a->name, s->plugin_instance, resp.status, resp.len, why);
    return QUERY_INVALID;
  }

  api_error_class_t class = api_error_classify(error.code, resp.status);
  bool block_wide = class == API_ERROR_TRANSIENT ||
                    class == API_ERROR_CREDENTIALS || class == API_ERROR_CLOCK;
  char clock[96] = "";
  if (class == API_ERROR_CLOCK)
    describe_clock(&resp, clock, sizeof(clock));
  c_complain(LOG_ERR, block_wide ? &a->complaint : &s->complaint,
             PLUGIN_NAME " plugin: Account \"%s\", series %s: API error %s "
                         "(HTTP %ld; %s): %s (RequestId %s)%s",
             a->name, s->plugin_instance, error.code, resp.status,
             api_error_explain(class), error.message,
             error.request_id[0] ? error.request_id : "none", clock);

  if (class == API_ERROR_TRANSIENT &&
      strncasecmp(error.code, "Throttling", strlen("Throttling")) == 0) {
    a->stats.throttled++;
    *retry_after =
        (resp.retry_after_ms >= 0) ? MS_TO_CDTIME_T(resp.retry_after_ms) : 0;
    return QUERY_THROTTLED;
  }
  if (class == API_ERROR_TRANSIENT)
    return QUERY_TRANSIENT;
  if (class == API_ERROR_CREDENTIALS)
    return QUERY_KEYS_REFUSED;
  return block_wide ? QUERY_BLOCKED : QUERY_REJECTED;
}

/* Exponential, from half a second up to MAX_BACKOFF, with jitter so that
 * many collectd hosts sharing an account do not retry in step. */
static cdtime_t backoff(unsigned failures) {
  cdtime_t d = MS_TO_CDTIME_T(500) << (failures > 8 ? 7 : failures - 1);
  if (d > MAX_BACKOFF)
    d = MAX_BACKOFF;
  return (cdtime_t)((double)d * (0.5 + cdrand_d()));
}

typedef struct {
  cdtime_t deadline;
  double latency_sum;
  unsigned latency_count;
} read_t;

/* Fetches and dispatches every window of s from the one after its last
 * dispatched window up to latest, oldest first. Returns false when the
 * read must end: no time left, or a failure that concerns the whole
 * block. */
static bool poll_series(account_t *a, series_t *s, time_t latest, read_t *r,
                        size_t *skipped) {
  if (latest <= s->given_up_end)
    return true;
  time_t first = (s->last_end == 0) ? latest : s->last_end + a->window;
  time_t behind = (first <= latest) ? (latest - first) / a->window + 1 : 0;
  if (behind > a->max_backfill) {
    *skipped += (size_t)(behind - a->max_backfill);
    first = latest - (time_t)(a->max_backfill - 1) * a->window;
  }

  int attempts = 0; /* at the current window */
  for (time_t end = first; end <= latest;) {
    cdtime_t now = cdtime();
    if (now + MIN_REQUEST_TIME > r->deadline)
      return false;
    cdtime_t timeout = r->deadline - now;
    if (timeout > a->timeout)
      timeout = a->timeout;

    api_port_conns_t conns;
    double latency = 0;
    cdtime_t retry_after = 0;
    query_result_t result =
        query(a, s, end, timeout, &conns, &latency, &retry_after);
    r->latency_sum += latency;
    r->latency_count++;

    switch (result) {
    case QUERY_OK:
      submit_window(a, s, end, &conns);
      if (end < latest)
        a->stats.backfilled++;
      s->last_end = end;
      state_remember(a, s);
      a->failures = 0;
      c_release(LOG_INFO, &a->complaint,
                PLUGIN_NAME " plugin: Account \"%s\": the API answers again.",
                a->name);
      c_release(LOG_INFO, &s->complaint,
                PLUGIN_NAME " plugin: Account \"%s\", series %s: valid "
                            "answers again.",
                a->name, s->plugin_instance);
      end += a->window;
      attempts = 0;
      break;
    case QUERY_INVALID:
      return true;
    case QUERY_REJECTED:
      s->given_up_end = latest;
      return true;
    case QUERY_KEYS_REFUSED:
      /* Renewable keys (a RAM role, a credentials file) are renewed and
       * tried once more at once. */
      if (!a->keys_rejected && credentials_renewable(a->credentials)) {
        a->keys_rejected = true;
        break;
      }
      a->keys_rejected = false;
      a->given_up_end = latest;
      return false;
    case QUERY_BLOCKED:
      a->given_up_end = latest;
      return false;
    case QUERY_NO_KEYS:
      return false;
    case QUERY_TRANSIENT:
    case QUERY_THROTTLED: {
      a->failures++;
      cdtime_t wait = (retry_after > 0) ? retry_after : backoff(a->failures);
      now = cdtime();
      if (++attempts < MAX_ATTEMPTS &&
          now + wait + MIN_REQUEST_TIME <= r->deadline) {
        /* Time enough to wait and try again within this read. */
        struct timespec ts = CDTIME_T_TO_TIMESPEC(wait);
        nanosleep(&ts, NULL);
        break;
      }
      /* Throttling asks for quiet, possibly beyond the next read; other
       * failures are tried again at the next read. */
      if (result == QUERY_THROTTLED)
        a->not_before = now + wait;
      return false;
    }
    }
  }
  return true;
}

static int ddoscoo_read(user_data_t *ud) {
  account_t *a = ud->data;
  cdtime_t start = cdtime();

  if (a->http == NULL) {
    http_options_t options = {
        .verify_peer = a->verify_peer,
        .verify_host = a->verify_host,
        .ca_cert = a->ca_cert,
        .proxy = a->proxy,
        .user_agent = USER_AGENT,
        .max_response = MAX_RESPONSE_SIZE,
    };
    char err[256];
    a->http = http_client_create(&options, err, sizeof(err));
    if (a->http == NULL) {
      c_complain(LOG_ERR, &a->complaint,
                 PLUGIN_NAME " plugin: Account \"%s\": %s", a->name, err);
      return -1;
    }
  }

  time_t latest = api_window_end(time(NULL), a->window, a->delay);
  if (!a->state_restored)
    state_restore(a, latest);

  /* A read ends within its interval, and within one Timeout so that
   * collectd's shutdown, which waits for running reads, is never held up
   * longer. What is left is done at the next read. */
  cdtime_t budget = plugin_get_interval();
  if (budget > a->timeout)
    budget = a->timeout;
  read_t r = {.deadline = start + budget};
  size_t skipped = 0;

  if (start >= a->not_before && latest > a->given_up_end) {
    for (size_t k = 0; k < a->series_count; k++) {
      size_t i = (a->next_series + k) % a->series_count;
      if (!poll_series(a, a->series + i, latest, &r, &skipped)) {
        a->next_series = i;
        break;
      }
    }
  }

  if (skipped > 0)
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %zu windows were more than "
                        "MaxBackfill (%d) behind and are skipped.",
            a->name, skipped, a->max_backfill);
  state_write();
  submit_stats(a, r.latency_sum, r.latency_count);
  return 0;
}

static int ddoscoo_config(oconfig_item_t *ci) {
  int started = 0;
  int failed = 0;

  /* Still single-threaded here, and blocks may ask the ECS metadata service
   * for their credentials: the place for libcurl's global set-up. */
  static bool curl_ready;
  if (!curl_ready && curl_global_init(CURL_GLOBAL_SSL) != CURLE_OK) {
    ERROR(PLUGIN_NAME " plugin: curl_global_init failed; nothing to poll.");
    return 0;
  }
  curl_ready = true;

  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp("StateFile", child->key) == 0) {
      if (cf_util_get_string(child, &state_path) != 0 || state_path[0] == 0) {
        ERROR(PLUGIN_NAME " plugin: StateFile needs a file name; running "
                          "without one.");
        sfree(state_path);
      }
      continue;
    }
    if (strcasecmp("Account", child->key) != 0) {
      ERROR(PLUGIN_NAME " plugin: unknown option \"%s\"; only StateFile and "
                        "<Account> blocks go here.",
            child->key);
      failed++;
      continue;
    }
    /* Two blocks of one name would share a read callback name. */
    bool duplicate = false;
    for (int j = 0; j < i && !duplicate; j++)
      duplicate = strcasecmp("Account", ci->children[j].key) == 0 &&
                  child->values_num == 1 && ci->children[j].values_num == 1 &&
                  child->values[0].type == OCONFIG_TYPE_STRING &&
                  ci->children[j].values[0].type == OCONFIG_TYPE_STRING &&
                  strcmp(child->values[0].value.string,
                         ci->children[j].values[0].value.string) == 0;
    if (duplicate) {
      ERROR(PLUGIN_NAME " plugin: a second <Account \"%s\"> block; only the "
                        "first is polled.",
            child->values[0].value.string);
      failed++;
      continue;
    }

    account_t *a = account_config(child);
    if (a == NULL) {
      failed++;
      continue;
    }
    char cb_name[DATA_MAX_NAME_LEN];
    ssnprintf(cb_name, sizeof(cb_name), PLUGIN_NAME "/%s", a->name);
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %zu series from %s, "
                     "credentials from the %s, signature %s.",
         a->name, a->series_count, a->url, credentials_describe(a->credentials),
         a->signature_version == 1 ? "1.0" : "V3");
    if (plugin_register_complex_read(
            /* group = */ NULL, cb_name, ddoscoo_read, a->interval,
            &(user_data_t){.data = a, .free_func = account_free}) == 0)
      started++;
    else
      failed++;
  }

  /* Never fail: collectd 5.12 refuses to start at all when a plugin's
   * configuration callback fails, which would stop every other plugin too. */
  if (started == 0)
    ERROR(PLUGIN_NAME " plugin: no <Account> block %s; nothing to poll.",
          failed ? "is valid" : "configured");
  return 0;
}

static int ddoscoo_init(void) {
  /* Still single-threaded here: the place for libxml2's global set-up. */
  xmlInitParser();

  if (state_path != NULL) {
    char why[512];
    if (state_load(&state, state_path, why, sizeof(why)) != 0)
      ERROR(PLUGIN_NAME " plugin: StateFile \"%s\": %s; ignoring it, and "
                        "writing it anew.",
            state_path, why);
    else
      INFO(PLUGIN_NAME " plugin: StateFile \"%s\": %zu series known.",
           state_path, state.count);
  }
  return 0;
}

static int ddoscoo_shutdown(void) {
  state_write();
  pthread_mutex_lock(&state_lock);
  state_clear(&state);
  sfree(state_path);
  pthread_mutex_unlock(&state_lock);
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, ddoscoo_config);
  plugin_register_init(PLUGIN_NAME, ddoscoo_init);
  plugin_register_shutdown(PLUGIN_NAME, ddoscoo_shutdown);
}
