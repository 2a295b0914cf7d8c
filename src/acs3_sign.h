/**
 * collectd-ddoscoo - src/acs3_sign.h
 * SPDX-License-Identifier: MIT
 *
 * Alibaba Cloud signature V3 (ACS3-HMAC-SHA256): canonical request, the
 * signature, and the signed headers of a request. Pure: no collectd, no
 * network. The query string is canonicalised by rpc_canonical_query().
 */
#ifndef ACS3_SIGN_H
#define ACS3_SIGN_H 1

#include <stddef.h>
#include <time.h>

#define ACS3_HEX_SIZE 65 /* 64 hex digits and the NUL */

typedef struct {
  const char *name; /* lower case */
  const char *value;
} acs3_header_t;

/* Lower-case hex SHA-256 of data. */
void acs3_hex_sha256(const void *data, size_t len, char out[ACS3_HEX_SIZE]);

/* METHOD \n / \n query \n canonical headers \n signed headers \n payload
 * hash, with every header signed (sorted by name here, values trimmed).
 * *signed_headers receives "h1;h2;...". Both malloc'ed; NULL on failure. */
char *acs3_canonical_request(const char *method, const char *canonical_query,
                             acs3_header_t *headers, size_t count,
                             const char *hashed_payload, char **signed_headers);

/* Hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + HexSHA256(request))). */
int acs3_signature(const char *secret, const char *canonical_request,
                   char out[ACS3_HEX_SIZE]);

typedef struct {
  const char *method;
  const char *host; /* exactly as in the Host header */
  const char *canonical_query;
  const char *content_type; /* signed; libcurl sends one with every POST */
  const char *body;
  size_t body_len;
  const char *action;
  const char *version;
  time_t now;
  const char *nonce;
  const char *access_key_id;
  const char *access_key_secret;
  const char *security_token; /* NULL: long-term key */
} acs3_request_t;

/* Every header the signed request needs, Host and Authorization included,
 * as "Name: value" lines ending with NULL (libcurl's form). Free with
 * acs3_free_headers(). NULL on failure. */
char **acs3_sign_request(const acs3_request_t *req);
void acs3_free_headers(char **headers);

#endif /* ACS3_SIGN_H */
