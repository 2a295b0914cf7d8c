/**
 * collectd-ddoscoo - src/ecs_metadata.c
 * SPDX-License-Identifier: MIT
 *
 * The ECS instance metadata service; see ecs_metadata.h.
 */
#include "ecs_metadata.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define MAX_DOCUMENT (64 * 1024)
#define ROLE_PATH "/latest/meta-data/ram/security-credentials/"

/* JSON ------------------------------------------------------------------ */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  return p;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A string at p (which is at its opening quote) into a malloc'ed *out (may
 * be NULL to skip it). Escapes are decoded; \u escapes of anything but
 * printable ASCII are refused: no key, token or date needs them. Returns
 * the position after the closing quote, or NULL. */
static const char *parse_string(const char *p, const char *end, char **out) {
  if (p >= end || *p != '"')
    return NULL;
  p++;
  const char *close = p;
  while (close < end && *close != '"')
    close += (*close == '\\') ? 2 : 1;
  if (close >= end)
    return NULL;

  char *buf = (out != NULL) ? malloc((size_t)(close - p) + 1) : NULL;
  if (out != NULL && buf == NULL)
    return NULL;
  size_t n = 0;
  for (; p < close; p++) {
    char c = *p;
    if ((unsigned char)c < 0x20)
      goto fail;
    if (c == '\\') {
      p++;
      switch (*p) {
      case '"':
      case '\\':
      case '/':
        c = *p;
        break;
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'u': {
        int v = 0;
        for (int i = 1; i <= 4; i++) {
          int d = (p + i < close) ? hex_digit(p[i]) : -1;
          if (d < 0)
            goto fail;
          v = 16 * v + d;
        }
        if (v < 0x20 || v > 0x7E)
          goto fail;
        c = (char)v;
        p += 4;
        break;
      }
      default:
        goto fail;
      }
    }
    if (buf != NULL)
      buf[n++] = c;
  }
  if (out != NULL) {
    buf[n] = 0;
    *out = buf;
  }
  return close + 1;

fail:
  if (buf != NULL) {
    OPENSSL_cleanse(buf, n);
    free(buf);
  }
  return NULL;
}

/* A number, true, false or null: skipped. */
static const char *skip_scalar(const char *p, const char *end) {
  const char *s = p;
  while (p < end && strchr("0123456789+-.eEtrufalsn", *p) != NULL)
    p++;
  return (p > s) ? p : NULL;
}

static bool parse_time(const char *s, time_t *t) {
  struct tm tm = {0};
  char z = 0, extra = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z,
             &extra) != 7 ||
      z != 'Z' || strlen(s) != 20)
    return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *t = timegm(&tm);
  return *t > 0;
}

int ecs_metadata_parse(const char *json, size_t len, profile_t *keys,
                       time_t *expiration, char *why, size_t why_size) {
  memset(keys, 0, sizeof(*keys));
  char *code = NULL, *expires = NULL;
  const char *end = json + len;
  const char *p = skip_ws(json, end);
  bool ok = p < end && *p == '{';
  if (ok)
    p = skip_ws(p + 1, end);
  if (ok && p < end && *p == '}')
    p++; /* an empty object; caught below as keys missing */
  else
    while (ok) {
      char *name = NULL;
      p = parse_string(p, end, &name);
      if (p == NULL) {
        ok = false;
        break;
      }
      char **field = NULL;
      if (strcmp(name, "Code") == 0)
        field = &code;
      else if (strcmp(name, "AccessKeyId") == 0)
        field = &keys->access_key_id;
      else if (strcmp(name, "AccessKeySecret") == 0)
        field = &keys->access_key_secret;
      else if (strcmp(name, "SecurityToken") == 0)
        field = &keys->security_token;
      else if (strcmp(name, "Expiration") == 0)
        field = &expires;
      free(name);

      p = skip_ws(p, end);
      if (p >= end || *p != ':') {
        ok = false;
        break;
      }
      p = skip_ws(p + 1, end);
      if (field != NULL && *field != NULL) {
        ok = false; /* a key twice: which one would be meant? */
        break;
      }
      p = (p < end && *p == '"') ? parse_string(p, end, field)
                                 : skip_scalar(p, end);
      if (p == NULL) {
        ok = false;
        break;
      }
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == '}')
        p++;
      else
        ok = false;
      break;
    }
  if (ok && skip_ws(p, end) != end)
    ok = false;

  int status = -1;
  if (!ok)
    snprintf(why, why_size, "the credentials are not a flat JSON object");
  else if (code == NULL || strcmp(code, "Success") != 0)
    snprintf(why, why_size, "the credentials' Code is not \"Success\"");
  else if (keys->access_key_id == NULL || keys->access_key_id[0] == 0 ||
           keys->access_key_secret == NULL || keys->access_key_secret[0] == 0 ||
           keys->security_token == NULL || keys->security_token[0] == 0)
    snprintf(why, why_size,
             "the credentials lack AccessKeyId, "
             "AccessKeySecret or SecurityToken");
  else if (!credentials_text_ok(keys->access_key_id) ||
           !credentials_text_ok(keys->access_key_secret) ||
           !credentials_text_ok(keys->security_token))
    /* Decoded from an escape such as \n: it would split the headers of
     * the requests signed with them. */
    snprintf(why, why_size, "the credentials' %s holds a control character",
             !credentials_text_ok(keys->access_key_id)       ? "AccessKeyId"
             : !credentials_text_ok(keys->access_key_secret) ? "AccessKeySecret"
                                                             : "SecurityToken");
  else if (expires == NULL || !parse_time(expires, expiration))
    snprintf(why, why_size,
             "the credentials' Expiration is missing or not "
             "YYYY-MM-DDThh:mm:ssZ");
  else
    status = 0;

  free(code);
  free(expires);
  if (status != 0)
    profile_clear(keys);
  else
    keys->type = PROFILE_STS;
  return status;
}

/* HTTP ------------------------------------------------------------------ */

typedef struct {
  char *data;
  size_t len;
  bool too_large;
} buffer_t;

static size_t collect(char *data, size_t size, size_t nmemb, void *ud) {
  buffer_t *b = ud;
  size_t n = size * nmemb;
  if (n > MAX_DOCUMENT - b->len) {
    b->too_large = true;
    return 0;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
  return n;
}

/* One request; 0 and the body in b for a 200 answer. -1 with why for a
 * transport failure, and *status 0; -1 and *status for other answers. */
static int request(CURL *h, const char *method, const char *url,
                   struct curl_slist *headers, long timeout_ms, buffer_t *b,
                   long *status, char *why, size_t why_size) {
  char err[CURL_ERROR_SIZE] = "";
  b->len = 0;
  b->data[0] = 0;
  b->too_large = false;
  *status = 0;

  curl_easy_setopt(h, CURLOPT_URL, url);
  if (strcmp(method, "PUT") == 0) {
    /* An empty body, sent with Content-Length: 0. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
  if (rc != CURLE_OK) {
    snprintf(why, why_size, "%s %s: %s", method, url,
             b->too_large ? "answer too large"
             : err[0]     ? err
                          : curl_easy_strerror(rc));
    return -1;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  if (*status != 200) {
    snprintf(why, why_size, "%s %s: HTTP %ld", method, url, *status);
    return -1;
  }
  return 0;
}

static bool valid_role(const char *role) {
  size_t len = strlen(role);
  return len > 0 && len <= 64 &&
         strspn(role, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-") == len;
}

int ecs_metadata_fetch(const char *base_url, const char *role, long timeout_ms,
                       char **role_out, profile_t *keys, time_t *expiration,
                       char *why, size_t why_size) {
  memset(keys, 0, sizeof(*keys));
  CURL *h = curl_easy_init();
  buffer_t b = {.data = malloc(MAX_DOCUMENT + 1)};
  struct curl_slist *headers = NULL;
  char *found_role = NULL;
  int status = -1;
  long http = 0;
  char url[1024];

  if (h == NULL || b.data == NULL) {
    snprintf(why, why_size, "out of memory");
    goto out;
  }
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  /* The service is on the link: no proxy from the environment. */
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");

  /* The token-protected variant first; a service that does not offer it
   * answers otherwise than 200, and plain requests follow. One that does
   * not answer at all is not there (not an ECS instance). */
  snprintf(url, sizeof(url), "%s/latest/api/token", base_url);
  headers =
      curl_slist_append(NULL, "X-aliyun-ecs-metadata-token-ttl-seconds: 21600");
  int token_status =
      request(h, "PUT", url, headers, timeout_ms, &b, &http, why, why_size);
  curl_slist_free_all(headers);
  headers = NULL;
  if (token_status != 0 && http == 0)
    goto out;
  if (token_status == 0) {
    char line[512];
    size_t n = strcspn(b.data, "\r\n");
    if (n == 0 || n >= sizeof(line) - 40) {
      snprintf(why, why_size, "the metadata token is empty or too long");
      goto out;
    }
    snprintf(line, sizeof(line), "X-aliyun-ecs-metadata-token: %.*s", (int)n,
             b.data);
    headers = curl_slist_append(NULL, line);
    OPENSSL_cleanse(line, sizeof(line));
  }

  if (role == NULL) {
    snprintf(url, sizeof(url), "%s" ROLE_PATH, base_url);
    if (request(h, "GET", url, headers, timeout_ms, &b, &http, why, why_size) !=
        0)
      goto out;
    found_role = strndup(b.data, strcspn(b.data, "\r\n"));
    if (found_role == NULL || !valid_role(found_role)) {
      snprintf(why, why_size, "the instance has no usable RAM role");
      goto out;
    }
    role = found_role;
  } else if (!valid_role(role)) {
    snprintf(why, why_size, "\"%s\" is not a RAM role name", role);
    goto out;
  }

  snprintf(url, sizeof(url), "%s" ROLE_PATH "%s", base_url, role);
  if (request(h, "GET", url, headers, timeout_ms, &b, &http, why, why_size) !=
      0)
    goto out;
  char reason[256];
  if (ecs_metadata_parse(b.data, b.len, keys, expiration, reason,
                         sizeof(reason)) != 0) {
    snprintf(why, why_size, "role %s: %s", role, reason);
    goto out;
  }
  status = 0;
  if (role_out != NULL) {
    *role_out = found_role != NULL ? found_role : strdup(role);
    found_role = NULL;
  }

out:
  if (b.data != NULL) {
    OPENSSL_cleanse(b.data, b.len);
    free(b.data);
  }
  curl_slist_free_all(headers);
  free(found_role);
  if (h != NULL)
    curl_easy_cleanup(h);
  return status;
}
