/**
 * collectd-ddoscoo - tests/fuzz/fuzz_rpc_sign.c
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer target for the RFC 3986 encoder and the canonical query. The
 * input is split at NUL bytes into name, value, name, value, ... (an odd
 * last piece is the AccessKeySecret). It abort()s unless:
 *   - rpc_percent_encode() of every piece is made of A-Z a-z 0-9 - _ . ~
 *     and %XY with upper-case hex, encodes exactly the bytes that are not
 *     unreserved, and decodes back to the piece;
 *   - rpc_params_add() refuses empty names and values (EINVAL) and takes
 *     the rest;
 *   - rpc_canonical_query() is "name=value" pairs joined by '&', every part
 *     a valid encoding, names in byte order, and exactly the pairs added;
 *   - rpc_string_to_sign() is "GET&%2F&" + the encoded canonical query;
 *   - rpc_sign_v1() is a canonical query of the same pairs followed by
 *     "&Signature=" and the encoded 28-character Base64 of the HMAC.
 */
#include "rpc_sign.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PIECES 512

static void fail(const char *what) {
  fprintf(stderr, "fuzz_rpc_sign: %s\n", what);
  abort();
}

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1; /* lower-case hex is not what the encoder may write */
}

/* Decodes the len bytes at enc into a malloc'ed string; NULL when enc is
 * not exactly what the encoder must write (only unreserved characters and
 * %XY of bytes that are not unreserved). */
static char *decode(const char *enc, size_t len) {
  char *out = malloc(len + 1);
  if (out == NULL)
    fail("out of memory");
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)enc[i];
    if (is_unreserved(c)) {
      out[n++] = (char)c;
      continue;
    }
    if (c != '%' || len - i < 3 || hex_value(enc[i + 1]) < 0 ||
        hex_value(enc[i + 2]) < 0) {
      free(out);
      return NULL;
    }
    unsigned char b =
        (unsigned char)(hex_value(enc[i + 1]) * 16 + hex_value(enc[i + 2]));
    if (b == 0 || is_unreserved(b)) {
      free(out);
      return NULL;
    }
    out[n++] = (char)b;
    i += 2;
  }
  out[n] = 0;
  return out;
}

typedef struct {
  char *name;
  char *value;
} pair_t;

static int pair_compare(const void *a, const void *b) {
  const pair_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return (c != 0) ? c : strcmp(x->value, y->value);
}

/* Checks that query (len bytes) is a canonical query of exactly the want
 * pairs (count of them, in any order). */
static void check_canonical(const char *query, size_t len, const pair_t *want,
                            size_t count) {
  pair_t *got = calloc(count + 1, sizeof(*got));
  if (got == NULL)
    fail("out of memory");
  size_t n = 0;
  if (count == 0 && len != 0)
    fail("canonical query of no parameters is not empty");

  const char *pos = query, *end = query + len;
  while (count > 0 && pos <= end) {
    const char *amp = memchr(pos, '&', (size_t)(end - pos));
    const char *stop = (amp != NULL) ? amp : end;
    const char *eq = memchr(pos, '=', (size_t)(stop - pos));
    if (eq == NULL)
      fail("canonical query has a pair without '='");
    if (n == count)
      fail("canonical query has more pairs than were added");
    got[n].name = decode(pos, (size_t)(eq - pos));
    got[n].value = decode(eq + 1, (size_t)(stop - eq - 1));
    if (got[n].name == NULL || got[n].value == NULL)
      fail("canonical query holds an invalid encoding");
    if (got[n].name[0] == 0 || got[n].value[0] == 0)
      fail("canonical query holds an empty name or value");
    if (n > 0 && strcmp(got[n - 1].name, got[n].name) > 0)
      fail("canonical query is not sorted by name");
    n++;
    if (amp == NULL)
      break;
    pos = amp + 1;
  }
  if (n != count)
    fail("canonical query has fewer pairs than were added");

  pair_t *sorted_want = malloc((count + 1) * sizeof(*sorted_want));
  if (sorted_want == NULL)
    fail("out of memory");
  if (count > 0)
    memcpy(sorted_want, want, count * sizeof(*want));
  qsort(sorted_want, count, sizeof(*sorted_want), pair_compare);
  qsort(got, count, sizeof(*got), pair_compare);
  for (size_t i = 0; i < count; i++)
    if (pair_compare(sorted_want + i, got + i) != 0)
      fail("canonical query holds other pairs than were added");

  for (size_t i = 0; i < count; i++) {
    free(got[i].name);
    free(got[i].value);
  }
  free(got);
  free(sorted_want);
}

static void check_encoding(const char *piece) {
  char *enc = rpc_percent_encode(piece);
  if (enc == NULL)
    fail("rpc_percent_encode returned NULL");
  char *dec = decode(enc, strlen(enc));
  if (dec == NULL)
    fail("rpc_percent_encode wrote something else than unreserved and %XY");
  if (strcmp(dec, piece) != 0)
    fail("rpc_percent_encode does not decode back to its input");
  free(dec);
  free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A NUL-terminated copy: the pieces are the strings between NULs. */
  char *copy = malloc(size + 1);
  if (copy == NULL)
    fail("out of memory");
  if (size > 0)
    memcpy(copy, data, size);
  copy[size] = 0;

  const char *pieces[MAX_PIECES];
  size_t npieces = 0;
  for (size_t i = 0; i <= size && npieces < MAX_PIECES;) {
    pieces[npieces++] = copy + i;
    i += strlen(copy + i) + 1;
  }
  for (size_t i = 0; i < npieces; i++)
    check_encoding(pieces[i]);

  rpc_params_t params = RPC_PARAMS_INIT;
  pair_t added[MAX_PIECES / 2];
  size_t nadded = 0;
  for (size_t i = 0; i + 1 < npieces; i += 2) {
    int status = rpc_params_add(&params, pieces[i], pieces[i + 1]);
    int empty = pieces[i][0] == 0 || pieces[i + 1][0] == 0;
    if (empty && status != EINVAL)
      fail("rpc_params_add took an empty name or value");
    if (!empty && status != 0)
      fail("rpc_params_add refused a non-empty name and value");
    if (status == 0)
      added[nadded++] = (pair_t){(char *)pieces[i], (char *)pieces[i + 1]};
  }
  if (params.count != nadded)
    fail("params.count differs from the number of pairs added");

  char *query = rpc_canonical_query(&params);
  if (query == NULL)
    fail("rpc_canonical_query returned NULL");
  size_t query_len = strlen(query);
  check_canonical(query, query_len, added, nadded);
  for (size_t i = 1; i < params.count; i++)
    if (strcmp(params.items[i - 1].name, params.items[i].name) > 0)
      fail("params are not sorted after rpc_canonical_query");

  char *sts = rpc_string_to_sign("GET", query);
  if (sts == NULL || strncmp(sts, "GET&%2F&", 8) != 0)
    fail("string to sign does not start with GET&%2F&");
  char *inner = decode(sts + 8, strlen(sts + 8));
  if (inner == NULL || strcmp(inner, query) != 0)
    fail("string to sign does not hold the encoded canonical query");
  free(inner);
  free(sts);

  const char *secret = (npieces % 2 == 1) ? pieces[npieces - 1] : "secret";
  char *signed_query = rpc_sign_v1(&params, "GET", secret);
  if (signed_query == NULL)
    fail("rpc_sign_v1 returned NULL");
  /* The last one: a parameter may be called Signature too. */
  const char *mark = NULL;
  for (const char *m = signed_query; (m = strstr(m, "&Signature=")) != NULL;
       m++)
    mark = m;
  if (nadded > 0 && mark == NULL)
    fail("signed query without &Signature=");
  if (mark != NULL) {
    size_t prefix_len = (size_t)(mark - signed_query);
    check_canonical(signed_query, prefix_len, added, nadded);
    char *prefix = strndup(signed_query, prefix_len);
    char *prefix_sts = rpc_string_to_sign("GET", prefix);
    char signature[RPC_SIGNATURE_SIZE];
    if (prefix == NULL || prefix_sts == NULL ||
        rpc_signature_v1(secret, prefix_sts, signature, sizeof(signature)) != 0)
      fail("rpc_signature_v1 failed");
    if (strlen(signature) != RPC_SIGNATURE_SIZE - 1 ||
        signature[RPC_SIGNATURE_SIZE - 2] != '=')
      fail("signature is not 28 characters of Base64");
    char *sig = decode(mark + 11, strlen(mark + 11));
    if (sig == NULL || strcmp(sig, signature) != 0)
      fail("signed query does not end in the encoded signature");
    free(sig);
    free(prefix_sts);
    free(prefix);
  }
  free(signed_query);
  free(query);

  /* The list can be reused after clearing. */
  rpc_params_clear(&params);
  if (params.count != 0 || params.items != NULL)
    fail("rpc_params_clear left something behind");
  if (rpc_params_add(&params, "Action", "DescribePortConnsCount") != 0)
    fail("rpc_params_add after rpc_params_clear failed");
  rpc_params_clear(&params);
  free(copy);
  return 0;
}
