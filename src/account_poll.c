/**
 * collectd-ddoscoo - src/account_poll.c
 * SPDX-License-Identifier: MIT
 *
 * One read of a block: which windows each series still needs, requests
 * for them (at most MaxConcurrentRequests in flight, at most
 * MaxRequestsPerSecond started, each series' windows in order), what each
 * answer means, retries and backoff, and dispatch.
 */
#include "account_poll.h"

#include "utils/common/common.h"
#include "utils_random.h"

#include "account_request.h"
#include "api_request.h"
#include "api_response.h"
#include "discovery.h"
#include "dispatch.h"
#include "state_store.h"

/* Too little time left in a read for another request. */
#define MIN_REQUEST_TIME MS_TO_CDTIME_T(100)
#define MAX_BACKOFF TIME_T_TO_CDTIME_T(60)
/* Requests for one window within one read, on transient failures. */
#define MAX_ATTEMPTS 3

typedef struct {
  account_t *a;
  time_t latest;
  cdtime_t deadline;
  bool stop; /* start nothing more in this read */
  size_t cursor;
  poll_result_t *result;
} poll_t;

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

/* Which windows each series needs in this read: from the one after its
 * last dispatched window to latest, at most MaxBackfill of them. */
static void plan(poll_t *p) {
  account_t *a = p->a;
  p->result->skipped = 0; /* counted anew for a new plan */
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *s = a->series + i;
    if (!s->restored) {
      state_store_restore(a, s, p->latest);
      s->restored = true;
    }
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
  api_request_t req = {
      .region_id = a->region_id,
      .resource_group_id = a->resource_group_id,
      .instance_ids = (const char *const *)a->instance_ids + s->first_instance,
      .instance_count = s->instance_count,
      .port = s->port[0] ? s->port : NULL,
      .start_time = s->next_end - a->window,
      .end_time = s->next_end,
  };
  rpc_params_t params = RPC_PARAMS_INIT;
  int status = (api_request_params(&req, &params) == 0)
                   ? account_start(a, API_ACTION, &params, now, p->deadline, s)
                   : -2;
  if (status == -1) {
    p->stop = true;
  } else if (status == -2) {
    c_complain(LOG_ERR, &s->complaint,
               PLUGIN_NAME " plugin: Account \"%s\", series %s: cannot build "
                           "the signed request.",
               a->name, s->plugin_instance);
    s->next_end = 0;
  } else {
    s->in_flight = true;
    s->requested_end = s->next_end;
  }
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
  p->result->latency_sum += r->seconds;
  p->result->latency_count++;
  if (*(request_kind_t *)r->user != REQUEST_WINDOW) {
    discovery_finished(a, r->user, r);
    return;
  }

  series_t *s = r->user;
  time_t end = s->requested_end;
  s->in_flight = false;

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
  discovery_begin(a, cdtime());
  plan(&p);

  for (unsigned turn = 0;; turn++) {
    cdtime_t now = cdtime();
    cdtime_t wake = deadline; /* when something may start */
    if (now < a->not_before)
      wake = a->not_before;
    while (!p.stop && now >= a->not_before &&
           now + MIN_REQUEST_TIME <= deadline &&
           http_client_in_flight(a->http) < a->max_concurrent &&
           account_rate_allows(a, now, &wake)) {
      /* Discovery and polls take turns, so that neither waits long. */
      bool started = false;
      for (int k = 0; k < 2 && !started && !p.stop; k++) {
        if ((turn + k) % 2 == 0) {
          int status = discovery_start_next(a, now, deadline);
          p.stop = status < 0;
          started = status > 0;
        } else {
          series_t *s = next_ready(&p, now, &wake);
          if (s != NULL) {
            start(&p, s, now);
            started = true;
          }
        }
      }
      if (!started)
        break;
      turn++;
    }

    int in_flight = http_client_in_flight(a->http);
    if (in_flight == 0) {
      /* New instances or ports: polled in this very read. */
      if (discovery_apply(a)) {
        plan(&p);
        continue;
      }
      if (p.stop || (!pending(&p) && !discovery_has_work(a)) ||
          wake + MIN_REQUEST_TIME > deadline)
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
