/**
 * collectd-ddoscoo - src/account_poll.c
 *
 * One read of a block: which windows each series still needs, requests
 * for them (at most MaxConcurrentRequests in flight, at most
 * MaxRequestsPerSecond started, each series' windows in order), what each
 * answer means, retries and backoff, and dispatch.
 */
#include "account_poll.h"

#include "utils/common/common.h"
#include "utils_random.h"

#include "acs3_sign.h"
#include "api_request.h"
#include "api_response.h"
#include "dispatch.h"
#include "rpc_sign.h"
#include "state_store.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

/* Too little time left in a read for another request. */
#define MIN_REQUEST_TIME MS_TO_CDTIME_T(100)
#define MAX_BACKOFF TIME_T_TO_CDTIME_T(60)
/* Requests for one window within one read, on transient failures. */
#define MAX_ATTEMPTS 3
/* MaxRequestsPerSecond counts starts within this long: a little over a
 * second, so that the API, whose clock starts when a request arrives, never
 * sees more. */
#define RATE_WINDOW MS_TO_CDTIME_T(1050)

typedef struct {
  account_t *a;
  time_t latest;
  cdtime_t deadline;
  bool stop; /* start nothing more in this read */
  size_t cursor;
  poll_result_t *result;
} poll_t;

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
          .content_type = "application/x-www-form-urlencoded",
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
static void describe_clock(const http_result_t *resp, char *buf, size_t size) {
  buf[0] = 0;
  if (resp->date == 0)
    return;
  long long offset = (long long)(time(NULL) - resp->date);
  ssnprintf(buf, size, " The host clock is %lld s %s the API's.",
            offset < 0 ? -offset : offset, offset < 0 ? "behind" : "ahead of");
}

/* Exponential, from half a second up to MAX_BACKOFF, with jitter so that
 * many collectd hosts sharing an account do not retry in step. */
static cdtime_t backoff(unsigned failures) {
  cdtime_t d = MS_TO_CDTIME_T(500) << (failures > 8 ? 7 : failures - 1);
  if (d > MAX_BACKOFF)
    d = MAX_BACKOFF;
  return (cdtime_t)((double)d * (0.5 + cdrand_d()));
}

/* Whether MaxRequestsPerSecond lets a request start now; if not, *until
 * says when one may. The ring holds the last starts, oldest next. */
static bool rate_allows(const account_t *a, cdtime_t now, cdtime_t *until) {
  if (a->max_rps == 0)
    return true;
  cdtime_t oldest = a->starts[a->starts_next];
  if (oldest == 0 || now >= oldest + RATE_WINDOW)
    return true;
  if (oldest + RATE_WINDOW < *until)
    *until = oldest + RATE_WINDOW;
  return false;
}

static void rate_record(account_t *a, cdtime_t now) {
  if (a->max_rps == 0)
    return;
  a->starts[a->starts_next] = now;
  a->starts_next = (a->starts_next + 1) % (size_t)a->max_rps;
}

/* Which windows each series needs in this read: from the one after its
 * last dispatched window to latest, at most MaxBackfill of them. */
static void plan(poll_t *p) {
  account_t *a = p->a;
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *s = a->series + i;
    s->in_flight = false;
    s->retry_at = 0;
    s->attempts = 0;
    s->next_end = 0;
    if (p->latest <= s->given_up_end || p->latest <= a->given_up_end)
      continue;
    time_t first = (s->last_end == 0) ? p->latest : s->last_end + a->window;
    if (first > p->latest)
      continue;
    time_t behind = (p->latest - first) / a->window + 1;
    if (behind > a->max_backfill) {
      p->result->skipped += (size_t)(behind - a->max_backfill);
      first = p->latest - (time_t)(a->max_backfill - 1) * a->window;
    }
    s->next_end = first;
  }
}

/* Whether any series still has a window to fetch in this read. */
static bool pending(const poll_t *p) {
  for (size_t i = 0; i < p->a->series_count; i++)
    if (p->a->series[i].next_end != 0 && !p->a->series[i].in_flight)
      return true;
  return false;
}

/* The next series, round robin from the cursor, with a window to fetch and
 * nothing in flight; NULL if none can start now (*wake: when one can). */
static series_t *next_ready(poll_t *p, cdtime_t now, cdtime_t *wake) {
  account_t *a = p->a;
  for (size_t k = 0; k < a->series_count; k++) {
    size_t i = (p->cursor + k) % a->series_count;
    series_t *s = a->series + i;
    if (s->in_flight || s->next_end == 0)
      continue;
    if (s->retry_at > now) {
      if (s->retry_at < *wake)
        *wake = s->retry_at;
      continue;
    }
    p->cursor = (i + 1) % a->series_count;
    return s;
  }
  return NULL;
}

static void start(poll_t *p, series_t *s, cdtime_t now) {
  account_t *a = p->a;
  access_key_t key;
  char why[1024];
  if (credentials_get(a->credentials, CDTIME_T_TO_TIME_T(now), a->keys_rejected,
                      &key, why, sizeof(why)) != 0) {
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\": no usable credentials "
                           "from the %s: %s",
               a->name, credentials_describe(a->credentials), why);
    p->stop = true;
    return;
  }

  signed_request_t req;
  if (sign_request(a, s, s->next_end, &key, &req) != 0) {
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: cannot build "
                           "the signed request.",
               a->name, s->plugin_instance);
    s->next_end = 0;
    return;
  }

  cdtime_t timeout = p->deadline - now;
  if (timeout > a->timeout)
    timeout = a->timeout;
  int status = http_client_start(
      a->http, req.url ? req.url : a->url, req.body ? req.body : "",
      (const char *const *)req.headers, (long)CDTIME_T_TO_MS(timeout), s);
  signed_request_clear(&req);
  if (status != 0) {
    /* Only if memory ran out: the slots are counted by the caller. */
    p->stop = true;
    return;
  }
  s->in_flight = true;
  s->requested_end = s->next_end;
  rate_record(a, now);
  a->stats.requests++;
}

/* An API error: logged, and what it means for the series or the block. */
static void api_failed(poll_t *p, series_t *s, const http_result_t *r,
                       const api_error_t *error) {
  account_t *a = p->a;
  api_error_class_t class = api_error_classify(error->code, r->http_status);
  bool block_wide = class == API_ERROR_TRANSIENT ||
                    class == API_ERROR_CREDENTIALS || class == API_ERROR_CLOCK;
  char clock[96] = "";
  if (class == API_ERROR_CLOCK)
    describe_clock(r, clock, sizeof(clock));
  c_complain(LOG_ERR, block_wide ? &a->complaint : &s->complaint,
             PLUGIN_NAME " plugin: Account \"%s\", series %s: API error %s "
                         "(HTTP %ld; %s): %s (RequestId %s)%s",
             a->name, s->plugin_instance, error->code, r->http_status,
             api_error_explain(class), error->message,
             error->request_id[0] ? error->request_id : "none", clock);

  cdtime_t now = cdtime();
  switch (class) {
  case API_ERROR_TRANSIENT: {
    a->failures++;
    bool throttled =
        strncasecmp(error->code, "Throttling", strlen("Throttling")) == 0;
    cdtime_t wait = (throttled && r->retry_after_ms >= 0)
                        ? MS_TO_CDTIME_T(r->retry_after_ms)
                        : backoff(a->failures);
    if (throttled) {
      /* Flow control is per account: the whole block holds back, if need
       * be beyond this read. */
      a->stats.throttled++;
      a->not_before = now + wait;
    }
    if (++s->attempts >= MAX_ATTEMPTS)
      s->next_end = 0;
    else
      s->retry_at = now + wait;
    break;
  }
  case API_ERROR_CREDENTIALS:
    /* Renewable keys (a RAM role, a credentials file) are renewed and
     * tried once more at once. */
    if (!a->keys_rejected && credentials_renewable(a->credentials)) {
      a->keys_rejected = true;
      break;
    }
    a->keys_rejected = false;
    a->given_up_end = p->latest;
    p->stop = true;
    break;
  case API_ERROR_CLOCK:
    a->given_up_end = p->latest;
    p->stop = true;
    break;
  case API_ERROR_PERMISSION:
  case API_ERROR_REQUEST:
    /* Asking again within the window would fail the same way. */
    s->given_up_end = p->latest;
    s->next_end = 0;
    break;
  }
}

static void finished(const http_result_t *r, void *ctx) {
  poll_t *p = ctx;
  account_t *a = p->a;
  series_t *s = r->user;
  time_t end = s->requested_end;
  s->in_flight = false;
  p->result->latency_sum += r->seconds;
  p->result->latency_count++;

  if (r->status == HTTP_FAILED) {
    /* Nothing answered: most likely nothing will in this read. */
    a->stats.failed++;
    a->failures++;
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: request to %s "
                           "failed: %s",
               a->name, s->plugin_instance, a->url, r->error);
    p->stop = true;
    return;
  }

  api_port_conns_t conns;
  api_error_t error;
  char why[256] = "";
  api_response_status_t parsed = API_RESPONSE_INVALID;
  if (r->status == HTTP_TOO_LARGE)
    sstrncpy(why, r->error, sizeof(why));
  else
    parsed =
        api_parse_port_conns(r->body, r->len, &conns, &error, why, sizeof(why));

  if (parsed == API_RESPONSE_INVALID) {
    a->stats.failed++;
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: unusable "
                           "response (HTTP %ld, %zu bytes): %s",
               a->name, s->plugin_instance, r->http_status, r->len, why);
    s->next_end = 0; /* the next read asks again */
    return;
  }
  if (parsed == API_RESPONSE_ERROR) {
    a->stats.failed++;
    api_failed(p, s, r, &error);
    return;
  }

  dispatch_window(a, s, end, &conns);
  if (end < p->latest)
    a->stats.backfilled++;
  s->last_end = end;
  s->next_end = (end + a->window <= p->latest) ? end + a->window : 0;
  s->attempts = 0;
  state_store_remember(a, s);
  a->failures = 0;
  a->keys_rejected = false;
  c_release(LOG_INFO, &a->complaint,
            PLUGIN_NAME " plugin: Account \"%s\": the API answers again.",
            a->name);
  c_release(LOG_INFO, &s->complaint,
            PLUGIN_NAME " plugin: Account \"%s\", series %s: valid answers "
                        "again.",
            a->name, s->plugin_instance);
}

void account_poll(account_t *a, time_t latest, cdtime_t deadline,
                  poll_result_t *result) {
  poll_t p = {.a = a,
              .latest = latest,
              .deadline = deadline,
              .cursor = a->next_series,
              .result = result};
  if (latest <= a->given_up_end)
    return;
  plan(&p);

  for (;;) {
    cdtime_t now = cdtime();
    cdtime_t wake = deadline; /* when something may start */
    if (now < a->not_before)
      wake = a->not_before;
    while (!p.stop && now >= a->not_before &&
           now + MIN_REQUEST_TIME <= deadline &&
           http_client_in_flight(a->http) < a->max_concurrent &&
           rate_allows(a, now, &wake)) {
      series_t *s = next_ready(&p, now, &wake);
      if (s == NULL)
        break;
      start(&p, s, now);
    }

    int in_flight = http_client_in_flight(a->http);
    if (in_flight == 0) {
      if (p.stop || !pending(&p) || wake + MIN_REQUEST_TIME > deadline)
        break;
      struct timespec ts = CDTIME_T_TO_TIMESPEC(wake - now);
      nanosleep(&ts, NULL);
      continue;
    }
    /* Wait for an answer, or until something else may start. */
    cdtime_t until =
        (!p.stop && in_flight < a->max_concurrent && wake < deadline)
            ? wake
            : deadline;
    long wait_ms = (until > now) ? (long)CDTIME_T_TO_MS(until - now) : 0;
    /* Past the deadline, requests still end by their own timeouts. */
    http_client_run(a->http, (wait_ms > 10) ? wait_ms : 10, finished, &p);
  }
  a->next_series = p.cursor;
}
