/**
 * collectd-ddoscoo - src/acs3_sign.c
 * SPDX-License-Identifier: MIT
 *
 * Signature V3; see acs3_sign.h.
 */
#include "acs3_sign.h"

#include "rpc_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

static void to_hex(const unsigned char *md, size_t len, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 0x0F];
  }
  out[2 * len] = 0;
}

void acs3_hex_sha256(const void *data, size_t len, char out[ACS3_HEX_SIZE]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(data, len, md);
  to_hex(md, sizeof(md), out);
}

static int header_compare(const void *a, const void *b) {
  return strcmp(((const acs3_header_t *)a)->name,
                ((const acs3_header_t *)b)->name);
}

/* The value without leading and trailing white space: [*start, *end). */
static void trimmed(const char *v, const char **start, size_t *len) {
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  *start = v;
  *len = n;
}

char *acs3_canonical_request(const char *method, const char *canonical_query,
                             acs3_header_t *headers, size_t count,
                             const char *hashed_payload,
                             char **signed_headers) {
  if (count > 1)
    qsort(headers, count, sizeof(*headers), header_compare);

  size_t names_size = 1, lines_size = 1;
  for (size_t i = 0; i < count; i++) {
    const char *v;
    size_t vlen;
    trimmed(headers[i].value, &v, &vlen);
    names_size += strlen(headers[i].name) + 1;
    lines_size += strlen(headers[i].name) + 1 + vlen + 1;
  }
  char *names = malloc(names_size);
  char *lines = malloc(lines_size);
  size_t size = strlen(method) + strlen(canonical_query) + lines_size +
                names_size + strlen(hashed_payload) + 8;
  char *out = malloc(size);
  if (names == NULL || lines == NULL || out == NULL) {
    free(names);
    free(lines);
    free(out);
    return NULL;
  }

  size_t n = 0, l = 0;
  names[0] = lines[0] = 0;
  for (size_t i = 0; i < count; i++) {
    const char *v;
    size_t vlen;
    trimmed(headers[i].value, &v, &vlen);
    n += (size_t)snprintf(names + n, names_size - n, "%s%s", i ? ";" : "",
                          headers[i].name);
    l += (size_t)snprintf(lines + l, lines_size - l, "%s:%.*s\n",
                          headers[i].name, (int)vlen, v);
  }
  snprintf(out, size, "%s\n/\n%s\n%s\n%s\n%s", method, canonical_query, lines,
           names, hashed_payload);
  OPENSSL_cleanse(lines, lines_size); /* the token's header line */
  free(lines);
  *signed_headers = names;
  return out;
}

int acs3_signature(const char *secret, const char *canonical_request,
                   char out[ACS3_HEX_SIZE]) {
  char hashed[ACS3_HEX_SIZE];
  acs3_hex_sha256(canonical_request, strlen(canonical_request), hashed);
  char string_to_sign[sizeof("ACS3-HMAC-SHA256\n") + ACS3_HEX_SIZE];
  snprintf(string_to_sign, sizeof(string_to_sign), "ACS3-HMAC-SHA256\n%s",
           hashed);

  unsigned char md[EVP_MAX_MD_SIZE];
  int md_len = rpc_hmac("SHA256", secret, strlen(secret), string_to_sign,
                        strlen(string_to_sign), md, sizeof(md));
  if (md_len != SHA256_DIGEST_LENGTH)
    return -1;
  to_hex(md, (size_t)md_len, out);
  return 0;
}

void acs3_free_headers(char **headers) {
  if (headers == NULL)
    return;
  for (char **h = headers; *h != NULL; h++) {
    OPENSSL_cleanse(*h, strlen(*h)); /* the token is one of them */
    free(*h);
  }
  free(headers);
}

char **acs3_sign_request(const acs3_request_t *req) {
  char date[RPC_TIMESTAMP_SIZE];
  char hashed_body[ACS3_HEX_SIZE];
  if (rpc_timestamp(req->now, date, sizeof(date)) != 0)
    return NULL;
  acs3_hex_sha256(req->body, req->body_len, hashed_body);

  acs3_header_t signed_list[8] = {
      {"host", req->host},
      {"content-type", req->content_type},
      {"x-acs-action", req->action},
      {"x-acs-version", req->version},
      {"x-acs-date", date},
      {"x-acs-signature-nonce", req->nonce},
      {"x-acs-content-sha256", hashed_body},
  };
  size_t count = 7;
  if (req->security_token != NULL)
    signed_list[count++] =
        (acs3_header_t){"x-acs-security-token", req->security_token};

  char *signed_headers = NULL;
  char *canonical =
      acs3_canonical_request(req->method, req->canonical_query, signed_list,
                             count, hashed_body, &signed_headers);
  char signature[ACS3_HEX_SIZE];
  int status = (canonical == NULL) ? -1
                                   : acs3_signature(req->access_key_secret,
                                                    canonical, signature);
  if (canonical != NULL)
    OPENSSL_cleanse(canonical, strlen(canonical)); /* holds the token */
  free(canonical);

  char **headers = (status == 0) ? calloc(count + 2, sizeof(char *)) : NULL;
  for (size_t i = 0; headers != NULL && i < count; i++) {
    size_t len = strlen(signed_list[i].name) + 2 + strlen(signed_list[i].value);
    if ((headers[i] = malloc(len + 1)) == NULL) {
      acs3_free_headers(headers);
      headers = NULL;
      break;
    }
    snprintf(headers[i], len + 1, "%s: %s", signed_list[i].name,
             signed_list[i].value);
  }
  if (headers != NULL) {
    size_t len = strlen("Authorization: ACS3-HMAC-SHA256 Credential=") +
                 strlen(req->access_key_id) + strlen(",SignedHeaders=") +
                 strlen(signed_headers) + strlen(",Signature=") + ACS3_HEX_SIZE;
    headers[count] = malloc(len);
    if (headers[count] == NULL) {
      acs3_free_headers(headers);
      headers = NULL;
    } else {
      snprintf(headers[count], len,
               "Authorization: ACS3-HMAC-SHA256 Credential=%s,"
               "SignedHeaders=%s,Signature=%s",
               req->access_key_id, signed_headers, signature);
    }
  }
  free(signed_headers);
  return headers;
}
