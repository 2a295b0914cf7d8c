/**
 * collectd-ddoscoo - src/http_client.h
 * SPDX-License-Identifier: MIT
 *
 * A block's HTTP client: up to max_parallel POSTs in flight at once over
 * libcurl's multi interface, kept-alive connections and TLS sessions shared
 * between them, TLS verification on by default, a timeout and a cap on the
 * response size for each request, and the throttling hints of the answer's
 * headers. Used by one thread at a time (a block's read callback). No
 * collectd dependency.
 */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct {
  bool verify_peer;    /* check the server's certificate chain */
  bool verify_host;    /* check the certificate names the host */
  const char *ca_cert; /* CA bundle file; NULL: the system's */
  const char *proxy;   /* NULL: libcurl's default (environment) */
  const char *user_agent;
  int max_parallel; /* requests in flight at most */
} http_options_t;

typedef enum {
  HTTP_OK,        /* a response arrived, whatever its HTTP status */
  HTTP_FAILED,    /* none did: connection, TLS, timeout; see error */
  HTTP_TOO_LARGE, /* one did, but its body was over the request's cap */
} http_status_t;

/* The longest wait a retry hint may ask for. A hint is obeyed by the whole
 * block, and a wrong one (a proxy's header, a unit mistaken, garbage that
 * happens to be digits) must not stop it polling for hours: after a minute
 * the block asks again, and if still throttled is told again. A minute is
 * also the plugin's longest backoff, and the API's windows are minutes. */
#define HTTP_MAX_RETRY_HINT_MS 60000L

typedef struct {
  void *user; /* as given to http_client_start() */
  http_status_t status;
  const char *error;        /* what went wrong, unless HTTP_OK */
  long http_status;         /* HTTP status code; 0 if none */
  const char *content_type; /* the Content-Type header; NULL if none */
  const char *body;         /* NUL-terminated */
  size_t len;
  time_t date; /* the Date header; 0 if none or unreadable */
  /* How long the server asks the client to wait before asking again, in
   * ms, from 0 to HTTP_MAX_RETRY_HINT_MS; -1 if it says nothing usable.
   * See http_hints_retry_ms(). Meant for throttled answers; it may be set
   * on any answer. */
  long retry_after_ms;
  double seconds; /* the whole exchange */
  /* HTTP_FAILED only: a kept-alive connection closed before any answer to
   * the request came, and libcurl was about to send it again as it was on
   * a new connection. It was stopped: the first copy may have reached the
   * server, and a signed request must not arrive twice with one signature.
   * Start it again at once, signed anew; not a failure of the server. */
  bool resend;
} http_result_t;

typedef struct http_client_s http_client_t;

/* Returns NULL and writes the reason into err on failure. The options'
 * strings are copied. curl_global_init() must have run. */
http_client_t *http_client_create(const http_options_t *options, char *err,
                                  size_t err_size);
void http_client_destroy(http_client_t *client);

/* Starts POSTing body (application/x-www-form-urlencoded; may be empty) to
 * url, with the extra header lines in headers ("Name: value", NULL-
 * terminated; may be NULL), failing the request with HTTP_TOO_LARGE if the
 * answer's body grows beyond max_response bytes, giving up after
 * timeout_ms for the whole exchange, connecting included. Everything is
 * copied. Returns 0, or -1 when max_parallel requests are in flight
 * already or memory ran out. */
int http_client_start(http_client_t *client, const char *url, const char *body,
                      const char *const *headers, size_t max_response,
                      long timeout_ms, void *user);

typedef void (*http_done_t)(const http_result_t *result, void *ctx);

/* Moves the transfers on, waiting up to wait_ms for one to finish, and hands
 * each finished one to done (the result is valid during the call only).
 * Returns the number still in flight. */
int http_client_run(http_client_t *client, long wait_ms, http_done_t done,
                    void *ctx);

int http_client_in_flight(const http_client_t *client);

/* Throttling hints, read from an answer's header lines. Pure, so that the
 * header parsing is tested without a server.
 *
 * x-acs-retry-after: ms to wait (the API sends it with Throttling errors).
 * x-ratelimit-user-api, x-ratelimit-user: the flow control of the API and
 * of the whole account, "Limit:<n>,Remain:<n>,TimeLeft:<ms>,Reset:<time>".
 * The official SDKs' core (aliyun/darabonba-openapi, golang/utils/client.go,
 * GetThrottlingTimeLeft) waits the larger TimeLeft of the two before
 * retrying a Throttling error. Header names are matched in any case;
 * numbers are decimal digits only, white space around them allowed;
 * anything else is ignored, never guessed at. */
typedef struct {
  long remain;       /* -1: absent or unreadable */
  long time_left_ms; /* -1: absent or unreadable */
} http_rate_limit_t;

typedef struct {
  long retry_after_ms; /* -1: absent or unreadable */
  http_rate_limit_t user_api;
  http_rate_limit_t user;
} http_hints_t;

void http_hints_reset(http_hints_t *hints);

/* Reads one header line ("Name: value", with or without its CRLF, not NUL-
 * terminated) if it is one of the hints; any other line is passed over. */
void http_hints_header(http_hints_t *hints, const char *line, size_t len);

/* The one retry hint: x-acs-retry-after if usable; else the TimeLeft of the
 * rate limit header that is exhausted (Remain 0), else of either one
 * present, the larger if both; at most HTTP_MAX_RETRY_HINT_MS; -1 if none. */
long http_hints_retry_ms(const http_hints_t *hints);

#endif /* HTTP_CLIENT_H */
