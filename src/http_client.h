/**
 * collectd-ddoscoo - src/http_client.h
 * SPDX-License-Identifier: MIT
 *
 * A block's HTTP client: up to max_parallel POSTs in flight at once over
 * libcurl's multi interface, kept-alive connections and TLS sessions shared
 * between them, TLS verification on by default, a timeout for each whole
 * request and a cap on the response size. Used by one thread at a time (a
 * block's read callback). No collectd dependency.
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
  size_t max_response; /* larger bodies fail the request */
  int max_parallel;    /* requests in flight at most */
} http_options_t;

typedef enum {
  HTTP_OK,        /* a response arrived, whatever its HTTP status */
  HTTP_FAILED,    /* none did: connection, TLS, timeout; see error */
  HTTP_TOO_LARGE, /* one did, but its body was over max_response */
} http_status_t;

typedef struct {
  void *user; /* as given to http_client_start() */
  http_status_t status;
  const char *error; /* what went wrong, unless HTTP_OK */
  long http_status;  /* HTTP status code; 0 if none */
  const char *body;  /* NUL-terminated */
  size_t len;
  time_t date;         /* the Date header; 0 if none or unreadable */
  long retry_after_ms; /* the x-acs-retry-after header; -1 if none */
  double seconds;      /* the whole exchange */
} http_result_t;

typedef struct http_client_s http_client_t;

/* Returns NULL and writes the reason into err on failure. The options'
 * strings are copied. curl_global_init() must have run. */
http_client_t *http_client_create(const http_options_t *options, char *err,
                                  size_t err_size);
void http_client_destroy(http_client_t *client);

/* Starts POSTing body (application/x-www-form-urlencoded; may be empty) to
 * url, with the extra header lines in headers ("Name: value", NULL-
 * terminated; may be NULL), giving up after timeout_ms for the whole
 * exchange, connecting included. Everything is copied. Returns 0, or -1
 * when max_parallel requests are in flight already or memory ran out. */
int http_client_start(http_client_t *client, const char *url, const char *body,
                      const char *const *headers, long timeout_ms, void *user);

typedef void (*http_done_t)(const http_result_t *result, void *ctx);

/* Moves the transfers on, waiting up to wait_ms for one to finish, and hands
 * each finished one to done (the result is valid during the call only).
 * Returns the number still in flight. */
int http_client_run(http_client_t *client, long wait_ms, http_done_t done,
                    void *ctx);

int http_client_in_flight(const http_client_t *client);

#endif /* HTTP_CLIENT_H */
