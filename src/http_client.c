/**
 * collectd-ddoscoo - src/http_client.c
 *
 * libcurl wrapper; see http_client.h.
 */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct http_client_s {
  CURL *curl;
  size_t max_response;
  char *body; /* the last response body, NUL-terminated */
  size_t len;
  size_t size;
  bool too_large;
  time_t date;
  long retry_after_ms;
  char curl_error[CURL_ERROR_SIZE];
};

/* The value of header line "Name: value\r\n" as a NUL-terminated copy in
 * buf, or NULL if the line is another header. */
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
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  size_t n = (size_t)(end - v);
  if (n >= buf_size)
    return NULL;
  memcpy(buf, v, n);
  buf[n] = 0;
  return buf;
}

static size_t read_header(char *line, size_t size, size_t nmemb, void *ud) {
  http_client_t *c = ud;
  size_t len = size * nmemb;
  char buf[128];

  /* A new response (after a redirect or 100-continue) starts afresh. */
  if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    c->date = 0;
    c->retry_after_ms = -1;
  } else if (header_value(line, len, "Date", buf, sizeof(buf)) != NULL) {
    time_t t = curl_getdate(buf, NULL);
    c->date = (t > 0) ? t : 0;
  } else if (header_value(line, len, "x-acs-retry-after", buf, sizeof(buf)) !=
             NULL) {
    char *end = NULL;
    long ms = strtol(buf, &end, 10);
    if (end != buf && *end == 0 && ms >= 0)
      c->retry_after_ms = ms;
  }
  return len;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *ud) {
  http_client_t *c = ud;
  size_t n = size * nmemb;

  if (n > c->max_response - c->len) {
    c->too_large = true;
    return 0; /* makes libcurl fail the transfer with CURLE_WRITE_ERROR */
  }
  if (c->len + n + 1 > c->size) {
    size_t want = (c->size == 0) ? 4096 : c->size;
    while (want < c->len + n + 1)
      want *= 2;
    char *body = realloc(c->body, want);
    if (body == NULL)
      return 0;
    c->body = body;
    c->size = want;
  }
  memcpy(c->body + c->len, data, n);
  c->len += n;
  c->body[c->len] = 0;
  return n;
}

void http_client_destroy(http_client_t *client) {
  if (client == NULL)
    return;
  if (client->curl != NULL)
    curl_easy_cleanup(client->curl);
  free(client->body);
  free(client);
}

http_client_t *http_client_create(const http_options_t *options, char *err,
                                  size_t err_size) {
  http_client_t *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  c->max_response = options->max_response;
  c->curl = curl_easy_init();
  if (c->curl == NULL) {
    snprintf(err, err_size, "cannot initialise libcurl");
    http_client_destroy(c);
    return NULL;
  }

  CURL *h = c->curl;
  CURLcode rc = CURLE_OK;
  /* Several threads read; libcurl must not use signals for timeouts. */
  rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_error);
  rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
  rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
  rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
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
  return c;
}

http_status_t http_client_post(http_client_t *client, const char *url,
                               const char *body, const char *const *headers,
                               long timeout_ms, http_response_t *response,
                               char *err, size_t err_size) {
  CURL *h = client->curl;

  client->len = 0;
  client->too_large = false;
  client->date = 0;
  client->retry_after_ms = -1;
  client->curl_error[0] = 0;
  if (client->body != NULL)
    client->body[0] = 0;

  /* An empty Expect header: libcurl would otherwise wait for a
   * "100 Continue" before sending larger bodies. */
  struct curl_slist *list = curl_slist_append(NULL, "Expect:");
  for (size_t i = 0; list != NULL && headers != NULL && headers[i] != NULL;
       i++) {
    struct curl_slist *grown = curl_slist_append(list, headers[i]);
    if (grown == NULL) {
      curl_slist_free_all(list);
      list = NULL;
    }
    list = grown;
  }
  if (list == NULL) {
    snprintf(err, err_size, "out of memory");
    return HTTP_FAILED;
  }

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);

  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(list);
  response->status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response->status);
  response->body = (client->body != NULL) ? client->body : "";
  response->len = client->len;
  response->date = client->date;
  response->retry_after_ms = client->retry_after_ms;

  if (client->too_large) {
    snprintf(err, err_size, "body larger than %zu bytes", client->max_response);
    return HTTP_TOO_LARGE;
  }
  if (rc != CURLE_OK) {
    snprintf(err, err_size, "%s",
             client->curl_error[0] != 0 ? client->curl_error
                                        : curl_easy_strerror(rc));
    return HTTP_FAILED;
  }
  return HTTP_OK;
}
