/**
 * collectd-ddoscoo - src/http_client.c
 * SPDX-License-Identifier: MIT
 *
 * libcurl's multi interface for a block; see http_client.h.
 */
#include "http_client.h"

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

/* One easy handle and what belongs to its transfer. Handles are kept for
 * the next transfer: libcurl keeps their connections alive. */
typedef struct {
  CURL *curl;
  bool busy;
  void *user;
  size_t max_response;
  char *url;
  char *request_body;
  struct curl_slist *headers;

  char *body; /* the response body, NUL-terminated */
  size_t len;
  size_t size;
  bool too_large;
  char date[128]; /* the Date header's value */
  http_hints_t hints;
  int sends;   /* times libcurl was about to send the request */
  bool resend; /* stopped a second send of it; see before_send() */
  char error[CURL_ERROR_SIZE];
} slot_t;

struct http_client_s {
  CURLM *multi;
  CURLSH *share; /* TLS sessions and DNS answers, across the handles */
  struct curl_slist *expect; /* "Expect:" alone */
  slot_t *slots;
  int count;
  int in_flight;
  /* libcurl's multi_socket interface: the sockets it asks to be watched,
   * and when it wants to be called back (ms of CLOCK_MONOTONIC; -1:
   * never). Only a socket that is ready is handed to libcurl, where
   * curl_multi_perform() would poll every transfer's socket each time. */
  struct pollfd *fds;
  int fd_count;
  int fd_size;
  long long timer_at;
};

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl says, or no more. */
static int watch_socket(CURL *easy, curl_socket_t fd, int what, void *ud,
                        void *socketp) {
  http_client_t *c = ud;
  (void)easy, (void)socketp;
  int i = 0;
  while (i < c->fd_count && c->fds[i].fd != fd)
    i++;
  if (what == CURL_POLL_REMOVE) {
    if (i < c->fd_count)
      c->fds[i] = c->fds[--c->fd_count];
    return 0;
  }
  if (i == c->fd_count) {
    if (c->fd_count == c->fd_size) {
      int size = (c->fd_size == 0) ? 8 : 2 * c->fd_size;
      struct pollfd *fds = realloc(c->fds, (size_t)size * sizeof(*fds));
      if (fds == NULL)
        return -1;
      c->fds = fds;
      c->fd_size = size;
    }
    c->fd_count++;
  }
  c->fds[i] = (struct pollfd){
      .fd = fd,
      .events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                        ((what & CURL_POLL_OUT) ? POLLOUT : 0)),
  };
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: when to call libcurl back; -1: no timer. */
static int set_timer(CURLM *multi, long timeout_ms, void *ud) {
  http_client_t *c = ud;
  (void)multi;
  c->timer_at = (timeout_ms < 0) ? -1 : monotonic_ms() + timeout_ms;
  return 0;
}

/* The value of header line "Name: value\r\n" as a NUL-terminated copy in
 * buf, or NULL if the line is another header or the value does not fit. */
static const char *header_value(const char *line, size_t len, const char *name,
                                char *buf, size_t buf_size) {
  size_t name_len = strlen(name);
  if (len <= name_len || line[name_len] != ':' ||
      strncasecmp(line, name, name_len) != 0)
    return NULL;
  const char *v = line + name_len + 1;
  const char *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                     end[-1] == '\t'))
    end--;
  size_t n = (size_t)(end - v);
  if (n >= buf_size)
    return NULL;
  memcpy(buf, v, n);
  buf[n] = 0;
  return buf;
}

/* A count of ms: decimal digits between optional blanks, over [s, end).
 * Saturates far above any cap; -1 for anything else (a sign, a fraction,
 * a unit, nothing). */
static long parse_ms(const char *s, const char *end) {
  while (s < end && (*s == ' ' || *s == '\t'))
    s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if (s == end)
    return -1;
  long v = 0;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    if (v < LONG_MAX / 10)
      v = 10 * v + (*s - '0');
  }
  return (v < LONG_MAX / 10) ? v : LONG_MAX / 10;
}

/* "Limit:<n>,Remain:<n>,TimeLeft:<ms>,Reset:<time>": pairs in any order,
 * keys in any case; unknown keys and pairs without ':' are passed over. */
static void parse_rate_limit(const char *value, http_rate_limit_t *rl) {
  rl->remain = rl->time_left_ms = -1;
  const char *p = value;
  while (*p != 0) {
    const char *pair_end = p + strcspn(p, ",");
    const char *colon = memchr(p, ':', (size_t)(pair_end - p));
    if (colon != NULL) {
      const char *key = p;
      const char *key_end = colon;
      while (key < key_end && (*key == ' ' || *key == '\t'))
        key++;
      while (key_end > key && (key_end[-1] == ' ' || key_end[-1] == '\t'))
        key_end--;
      size_t key_len = (size_t)(key_end - key);
      if (key_len == 6 && strncasecmp(key, "Remain", 6) == 0)
        rl->remain = parse_ms(colon + 1, pair_end);
      else if (key_len == 8 && strncasecmp(key, "TimeLeft", 8) == 0)
        rl->time_left_ms = parse_ms(colon + 1, pair_end);
    }
    p = (*pair_end == ',') ? pair_end + 1 : pair_end;
  }
}

void http_hints_reset(http_hints_t *hints) {
  *hints = (http_hints_t){
      .retry_after_ms = -1,
      .user_api = {-1, -1},
      .user = {-1, -1},
  };
}

void http_hints_header(http_hints_t *hints, const char *line, size_t len) {
  char buf[256];
  if (len == 0 || (line[0] != 'x' && line[0] != 'X'))
    return;
  if (header_value(line, len, "x-acs-retry-after", buf, sizeof(buf)) != NULL)
    hints->retry_after_ms = parse_ms(buf, buf + strlen(buf));
  else if (header_value(line, len, "x-ratelimit-user-api", buf, sizeof(buf)) !=
           NULL)
    parse_rate_limit(buf, &hints->user_api);
  else if (header_value(line, len, "x-ratelimit-user", buf, sizeof(buf)) !=
           NULL)
    parse_rate_limit(buf, &hints->user);
}

long http_hints_retry_ms(const http_hints_t *hints) {
  long ms = hints->retry_after_ms;
  if (ms < 0) {
    /* The exhausted limit is the one that throttled; without one, the
     * longer wait is the safe one (as the SDKs do). */
    const http_rate_limit_t *limits[] = {&hints->user_api, &hints->user};
    long exhausted = -1, any = -1;
    for (size_t i = 0; i < 2; i++) {
      long t = limits[i]->time_left_ms;
      if (t > any)
        any = t;
      if (limits[i]->remain == 0 && t > exhausted)
        exhausted = t;
    }
    ms = (exhausted >= 0) ? exhausted : any;
  }
  return (ms > HTTP_MAX_RETRY_HINT_MS) ? HTTP_MAX_RETRY_HINT_MS : ms;
}

static size_t read_header(char *line, size_t size, size_t nmemb, void *ud) {
  slot_t *s = ud;
  size_t len = size * nmemb;
  char buf[128];

  /* Only a few headers matter; most lines are passed over at the first
   * byte. The Date is kept as text: only error answers need it. */
  switch (line[0]) {
  case 'H': /* a new response (after a 100-continue) starts afresh */
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
      s->date[0] = 0;
      http_hints_reset(&s->hints);
    }
    break;
  case 'D':
  case 'd':
    if (header_value(line, len, "Date", buf, sizeof(buf)) != NULL)
      memcpy(s->date, buf, sizeof(s->date));
    break;
  case 'X':
  case 'x':
    http_hints_header(&s->hints, line, len);
    break;
  }
  return len;
}

/* libcurl calls this just before it sends the request, and again when it
 * means to send it once more: when a kept-alive connection turns out to be
 * dead before any answer came ("Connection died, retrying a fresh
 * connect"), libcurl sends the same headers and body (CURLOPT_POSTFIELDS)
 * on a new connection. The first copy may have reached the server before
 * the connection died, and a signed request must never reach the API twice
 * with one signature (its nonce is refused, SignatureNonceUsed): the
 * second send is stopped, and the caller signs the request anew. */
static int before_send(void *ud, char *primary_ip, char *local_ip,
                       int primary_port, int local_port) {
  slot_t *s = ud;
  (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
  if (s->sends++ == 0)
    return CURL_PREREQFUNC_OK;
  s->resend = true;
  return CURL_PREREQFUNC_ABORT;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *ud) {
  slot_t *s = ud;
  size_t n = size * nmemb;

  if (n > s->max_response - s->len) {
    s->too_large = true;
    return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
  }
  if (s->len + n + 1 > s->size) {
    size_t want = (s->size == 0) ? 4096 : s->size;
    while (want < s->len + n + 1)
      want *= 2;
    char *body = realloc(s->body, want);
    if (body == NULL)
      return 0;
    s->body = body;
    s->size = want;
  }
  memcpy(s->body + s->len, data, n);
  s->len += n;
  s->body[s->len] = 0;
  return n;
}

/* What a finished transfer leaves behind; the request body may hold a
 * SecurityToken, and so may the headers. */
static void slot_release(slot_t *s) {
  free(s->url);
  if (s->request_body != NULL)
    OPENSSL_cleanse(s->request_body, strlen(s->request_body));
  free(s->request_body);
  for (struct curl_slist *h = s->headers; h != NULL; h = h->next)
    OPENSSL_cleanse(h->data, strlen(h->data));
  curl_slist_free_all(s->headers);
  s->url = s->request_body = NULL;
  s->headers = NULL;
  s->busy = false;
  s->user = NULL;
}

void http_client_destroy(http_client_t *client) {
  if (client == NULL)
    return;
  for (int i = 0; i < client->count; i++) {
    slot_t *s = client->slots + i;
    if (s->curl != NULL) {
      if (s->busy)
        curl_multi_remove_handle(client->multi, s->curl);
      curl_easy_cleanup(s->curl);
    }
    slot_release(s);
    free(s->body);
  }
  free(client->slots);
  if (client->multi != NULL)
    curl_multi_cleanup(client->multi);
  free(client->fds);
  curl_slist_free_all(client->expect);
  if (client->share != NULL)
    curl_share_cleanup(client->share);
  free(client);
}

http_client_t *http_client_create(const http_options_t *options, char *err,
                                  size_t err_size) {
  http_client_t *c = calloc(1, sizeof(*c));
  int count = (options->max_parallel > 0) ? options->max_parallel : 1;
  if (c == NULL || (c->slots = calloc((size_t)count, sizeof(slot_t))) == NULL) {
    snprintf(err, err_size, "out of memory");
    free(c);
    return NULL;
  }
  c->count = count;
  c->timer_at = -1;
  c->multi = curl_multi_init();
  c->share = curl_share_init();
  c->expect = curl_slist_append(NULL, "Expect:");
  if (c->multi == NULL || c->share == NULL || c->expect == NULL) {
    snprintf(err, err_size, "cannot initialise libcurl");
    http_client_destroy(c);
    return NULL;
  }
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  /* Connections wait in the multi handle's cache between reads. */
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)count);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, set_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);

  for (int i = 0; i < count; i++) {
    slot_t *s = c->slots + i;
    CURL *h = s->curl = curl_easy_init();
    if (h == NULL) {
      snprintf(err, err_size, "cannot initialise libcurl");
      http_client_destroy(c);
      return NULL;
    }
    http_hints_reset(&s->hints);

    CURLcode rc = CURLE_OK;
    /* Several threads read; libcurl must not use signals for timeouts. */
    rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    rc |= curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->error);
    rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
    rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    rc |= curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, before_send);
    rc |= curl_easy_setopt(h, CURLOPT_PREREQDATA, s);
    rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, options->user_agent);
    rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER,
                           options->verify_peer ? 1L : 0L);
    rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST,
                           options->verify_host ? 2L : 0L);
    rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (options->ca_cert != NULL)
      rc |= curl_easy_setopt(h, CURLOPT_CAINFO, options->ca_cert);
    if (options->proxy != NULL)
      rc |= curl_easy_setopt(h, CURLOPT_PROXY, options->proxy);
    if (rc != CURLE_OK) {
      snprintf(err, err_size, "cannot set libcurl options");
      http_client_destroy(c);
      return NULL;
    }
  }
  return c;
}

int http_client_start(http_client_t *client, const char *url, const char *body,
                      const char *const *headers, size_t max_response,
                      long timeout_ms, void *user) {
  slot_t *s = NULL;
  for (int i = 0; i < client->count && s == NULL; i++)
    if (!client->slots[i].busy)
      s = client->slots + i;
  if (s == NULL)
    return -1;

  s->url = strdup(url);
  s->request_body = strdup(body);
  /* An empty Expect header: libcurl would otherwise wait for a
   * "100 Continue" before sending larger bodies. Without other headers
   * (signature 1.0), the client's list of it alone serves every request. */
  bool own = headers != NULL && headers[0] != NULL;
  s->headers = own ? curl_slist_append(NULL, "Expect:") : NULL;
  for (size_t i = 0; s->headers != NULL && own && headers[i]; i++) {
    struct curl_slist *grown = curl_slist_append(s->headers, headers[i]);
    if (grown == NULL)
      curl_slist_free_all(s->headers);
    s->headers = grown;
  }
  if (s->url == NULL || s->request_body == NULL ||
      (own && s->headers == NULL)) {
    slot_release(s);
    return -1;
  }

  s->len = 0;
  s->max_response = max_response;
  s->too_large = false;
  s->sends = 0;
  s->resend = false;
  s->date[0] = 0;
  http_hints_reset(&s->hints);
  s->error[0] = 0;
  if (s->body != NULL)
    s->body[0] = 0;

  CURL *h = s->curl;
  curl_easy_setopt(h, CURLOPT_URL, s->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, own ? s->headers : client->expect);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->request_body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(s->request_body));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (curl_multi_add_handle(client->multi, h) != CURLM_OK) {
    slot_release(s);
    return -1;
  }
  s->busy = true;
  s->user = user;
  client->in_flight++;
  return 0;
}

/* Hands every finished transfer to done. */
static void collect_finished(http_client_t *client, http_done_t done,
                             void *ctx) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(client->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *h = msg->easy_handle;
    CURLcode rc = msg->data.result;
    slot_t *s = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(client->multi, h);
    client->in_flight--;

    http_result_t r = {
        .user = s->user,
        .status = HTTP_OK,
        .error = "",
        .body = (s->body != NULL) ? s->body : "",
        .len = s->len,
        .retry_after_ms = http_hints_retry_ms(&s->hints),
    };
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.http_status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &r.content_type);
    if (r.http_status >= 400 && s->date[0] != 0) {
      time_t t = curl_getdate(s->date, NULL);
      r.date = (t > 0) ? t : 0;
    }
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &r.seconds);
    char error[CURL_ERROR_SIZE + 64];
    if (s->too_large) {
      snprintf(error, sizeof(error), "body larger than %zu bytes",
               s->max_response);
      r.status = HTTP_TOO_LARGE;
      r.error = error;
    } else if (s->resend) {
      snprintf(error, sizeof(error),
               "the kept-alive connection closed before any answer");
      r.status = HTTP_FAILED;
      r.error = error;
      r.resend = true;
    } else if (rc != CURLE_OK) {
      snprintf(error, sizeof(error), "%s",
               s->error[0] ? s->error : curl_easy_strerror(rc));
      r.status = HTTP_FAILED;
      r.error = error;
    }
    done(&r, ctx);
    slot_release(s);
  }
}

/* Calls libcurl back if its timer is due (it is at once when a transfer
 * was added: that starts it). */
static void run_timer(http_client_t *c) {
  int running;
  if (c->timer_at >= 0 && c->timer_at <= monotonic_ms()) {
    c->timer_at = -1;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

/* Waits up to wait_ms, and no longer than libcurl's timer, for a socket to
 * be ready, and hands libcurl the ready ones, then its timer if due. */
static void wait_sockets(http_client_t *c, long wait_ms) {
  int running;
  if (c->timer_at >= 0) {
    long long left = c->timer_at - monotonic_ms();
    if (left < wait_ms)
      wait_ms = (left > 0) ? (long)left : 0;
  }
  int n = poll(c->fds, (nfds_t)c->fd_count, (int)wait_ms);
  /* libcurl changes the set of sockets as it goes: the ready ones first. */
  struct pollfd ready[16];
  int count = 0;
  for (int i = 0; n > 0 && i < c->fd_count && count < 16; i++)
    if (c->fds[i].revents != 0)
      ready[count++] = c->fds[i];
  for (int i = 0; i < count; i++) {
    short ev = ready[i].revents;
    int mask = ((ev & POLLIN) ? CURL_CSELECT_IN : 0) |
               ((ev & POLLOUT) ? CURL_CSELECT_OUT : 0) |
               ((ev & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(c->multi, ready[i].fd, mask, &running);
  }
  run_timer(c);
}

int http_client_run(http_client_t *client, long wait_ms, http_done_t done,
                    void *ctx) {
  int before = client->in_flight;
  run_timer(client);
  collect_finished(client, done, ctx);
  if (client->in_flight > 0 && client->in_flight == before) {
    wait_sockets(client, (wait_ms > 0) ? wait_ms : 0);
    collect_finished(client, done, ctx);
  }
  return client->in_flight;
}

int http_client_in_flight(const http_client_t *client) {
  return client->in_flight;
}
