/**
 * collectd-ddoscoo - src/http_client.h
 *
 * One libcurl easy handle per account block: kept-alive connections, TLS
 * verification on by default, a timeout for each whole request and a cap on
 * the response size. No collectd dependency.
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
} http_options_t;

typedef struct {
  long status;      /* HTTP status code */
  const char *body; /* NUL-terminated; owned by the client */
  size_t len;
  time_t date;         /* the Date header; 0 if none or unreadable */
  long retry_after_ms; /* the x-acs-retry-after header; -1 if none */
} http_response_t;

typedef struct http_client_s http_client_t;

/* Returns NULL and writes the reason into err on failure. The options'
 * strings are copied. curl_global_init() must have run. */
http_client_t *http_client_create(const http_options_t *options, char *err,
                                  size_t err_size);
void http_client_destroy(http_client_t *client);

typedef enum {
  HTTP_OK,        /* a response arrived, whatever its HTTP status */
  HTTP_FAILED,    /* none did: connection, TLS, timeout; see err */
  HTTP_TOO_LARGE, /* one did, but its body was over max_response */
} http_status_t;

/* POSTs body (application/x-www-form-urlencoded; may be empty) to url, with
 * the extra header lines in headers ("Name: value", NULL-terminated; may be
 * NULL), giving up after timeout_ms for the whole exchange, connecting
 * included. On HTTP_OK, response->body stays valid until the next call;
 * otherwise err says what went wrong. */
http_status_t http_client_post(http_client_t *client, const char *url,
                               const char *body, const char *const *headers,
                               long timeout_ms, http_response_t *response,
                               char *err, size_t err_size);

#endif /* HTTP_CLIENT_H */
