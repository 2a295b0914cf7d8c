/**
 * collectd-ddoscoo - src/rpc_sign.c
 * SPDX-License-Identifier: MIT
 *
 * Alibaba Cloud RPC signature version 1.0; see rpc_sign.h.
 */
#include "rpc_sign.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int rpc_params_add(rpc_params_t *params, const char *name, const char *value) {
  if (name == NULL || name[0] == 0 || value == NULL || value[0] == 0)
    return EINVAL;

  if (params->count == params->size) {
    size_t size = (params->size == 0) ? 16 : 2 * params->size;
    rpc_param_t *items = realloc(params->items, size * sizeof(*items));
    if (items == NULL)
      return ENOMEM;
    params->items = items;
    params->size = size;
  }

  rpc_param_t *p = params->items + params->count;
  p->name = strdup(name);
  p->value = strdup(value);
  if (p->name == NULL || p->value == NULL) {
    free(p->name);
    free(p->value);
    return ENOMEM;
  }
  params->count++;
  return 0;
}

/* Text that may hold a SecurityToken is overwritten before it is freed. */
static void free_wiped(char *s) {
  if (s != NULL)
    OPENSSL_cleanse(s, strlen(s));
  free(s);
}

void rpc_params_clear(rpc_params_t *params) {
  for (size_t i = 0; i < params->count; i++) {
    free(params->items[i].name);
    free_wiped(params->items[i].value);
  }
  free(params->items);
  *params = (rpc_params_t)RPC_PARAMS_INIT;
}

/* RFC 3986's unreserved characters: A-Z a-z 0-9 - _ . ~ (a table: every
 * byte of every request goes through here three times). */
static const bool unreserved[256] = {
    ['-'] = true, ['.'] = true, ['_'] = true, ['~'] = true, ['0'] = true,
    ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true, ['5'] = true,
    ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true, ['A'] = true,
    ['B'] = true, ['C'] = true, ['D'] = true, ['E'] = true, ['F'] = true,
    ['G'] = true, ['H'] = true, ['I'] = true, ['J'] = true, ['K'] = true,
    ['L'] = true, ['M'] = true, ['N'] = true, ['O'] = true, ['P'] = true,
    ['Q'] = true, ['R'] = true, ['S'] = true, ['T'] = true, ['U'] = true,
    ['V'] = true, ['W'] = true, ['X'] = true, ['Y'] = true, ['Z'] = true,
    ['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true, ['e'] = true,
    ['f'] = true, ['g'] = true, ['h'] = true, ['i'] = true, ['j'] = true,
    ['k'] = true, ['l'] = true, ['m'] = true, ['n'] = true, ['o'] = true,
    ['p'] = true, ['q'] = true, ['r'] = true, ['s'] = true, ['t'] = true,
    ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true, ['y'] = true,
    ['z'] = true,
};

static size_t encoded_length(const char *src) {
  size_t len = 0;
  for (const unsigned char *s = (const unsigned char *)src; *s != 0; s++)
    len += unreserved[*s] ? 1 : 3;
  return len;
}

/* Writes the encoding of src at dst (which has room for it) and returns the
 * position after it; no terminating NUL. */
static char *encode_into(char *dst, const char *src) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *s = (const unsigned char *)src; *s != 0; s++) {
    if (unreserved[*s]) {
      *dst++ = (char)*s;
    } else {
      *dst++ = '%';
      *dst++ = hex[*s >> 4];
      *dst++ = hex[*s & 0x0F];
    }
  }
  return dst;
}

char *rpc_percent_encode(const char *src) {
  char *out = malloc(encoded_length(src) + 1);
  if (out == NULL)
    return NULL;
  *encode_into(out, src) = 0;
  return out;
}

static int param_compare(const void *a, const void *b) {
  return strcmp(((const rpc_param_t *)a)->name, ((const rpc_param_t *)b)->name);
}

char *rpc_canonical_query(rpc_params_t *params) {
  /* An empty list has items == NULL, which qsort() must not be given. */
  if (params->count > 1)
    qsort(params->items, params->count, sizeof(*params->items), param_compare);

  size_t len = 0;
  for (size_t i = 0; i < params->count; i++)
    len += encoded_length(params->items[i].name) + 1 +
           encoded_length(params->items[i].value) + 1;

  char *out = malloc(len + 1);
  if (out == NULL)
    return NULL;

  char *pos = out;
  for (size_t i = 0; i < params->count; i++) {
    if (i > 0)
      *pos++ = '&';
    pos = encode_into(pos, params->items[i].name);
    *pos++ = '=';
    pos = encode_into(pos, params->items[i].value);
  }
  *pos = 0;
  return out;
}

char *rpc_string_to_sign(const char *method, const char *canonical_query) {
  static const char path[] = "&%2F&";
  size_t method_len = strlen(method);
  char *out = malloc(method_len + sizeof(path) - 1 +
                     encoded_length(canonical_query) + 1);
  if (out == NULL)
    return NULL;

  memcpy(out, method, method_len);
  memcpy(out + method_len, path, sizeof(path) - 1);
  *encode_into(out + method_len + sizeof(path) - 1, canonical_query) = 0;
  return out;
}

/* HMAC contexts with their digest set and no key, made once: OpenSSL 3's
 * one-shot HMAC() fetches the MAC and the digest by name and sets up a new
 * context on every call, twice the work of the MAC itself. Each signature
 * copies one, keys the copy and frees it, which wipes its copy of the key. */
static struct {
  pthread_once_t once;
  EVP_MAC *mac;
  EVP_MAC_CTX *sha1;
  EVP_MAC_CTX *sha256;
} hmac = {.once = PTHREAD_ONCE_INIT};

static EVP_MAC_CTX *hmac_template(const char *digest) {
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac.mac);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest,
                                       0),
      OSSL_PARAM_construct_end(),
  };
  if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    ctx = NULL;
  }
  return ctx;
}

static void hmac_init(void) {
  hmac.mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (hmac.mac == NULL)
    return;
  hmac.sha1 = hmac_template("SHA1");
  hmac.sha256 = hmac_template("SHA256");
}

int rpc_hmac(const char *digest, const void *key, size_t key_len,
             const void *data, size_t len, unsigned char *md, size_t md_size) {
  pthread_once(&hmac.once, hmac_init);
  EVP_MAC_CTX *template = (strcmp(digest, "SHA1") == 0)     ? hmac.sha1
                          : (strcmp(digest, "SHA256") == 0) ? hmac.sha256
                                                            : NULL;
  EVP_MAC_CTX *ctx = (template != NULL) ? EVP_MAC_CTX_dup(template) : NULL;
  size_t md_len = 0;
  int ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
           EVP_MAC_update(ctx, data, len) == 1 &&
           EVP_MAC_final(ctx, md, &md_len, md_size) == 1;
  EVP_MAC_CTX_free(ctx);
  return ok ? (int)md_len : -1;
}

int rpc_signature_v1(const char *secret, const char *string_to_sign, char *out,
                     size_t out_size) {
  if (out_size < RPC_SIGNATURE_SIZE)
    return -1;

  /* The key is the secret with '&' appended (the empty token secret). */
  size_t secret_len = strlen(secret);
  char *key = malloc(secret_len + 2);
  if (key == NULL)
    return -1;
  memcpy(key, secret, secret_len);
  key[secret_len] = '&';
  key[secret_len + 1] = 0;

  unsigned char md[EVP_MAX_MD_SIZE];
  int md_len = rpc_hmac("SHA1", key, secret_len + 1, string_to_sign,
                        strlen(string_to_sign), md, sizeof(md));
  OPENSSL_cleanse(key, secret_len + 1);
  free(key);
  if (md_len != 20)
    return -1;

  /* 20 bytes encode to 28 characters plus the NUL EVP_EncodeBlock adds. */
  EVP_EncodeBlock((unsigned char *)out, md, md_len);
  return 0;
}

char *rpc_sign_v1(rpc_params_t *params, const char *method,
                  const char *secret) {
  char *query = rpc_canonical_query(params);
  if (query == NULL)
    return NULL;

  char *string_to_sign = rpc_string_to_sign(method, query);
  char signature[RPC_SIGNATURE_SIZE];
  int status = (string_to_sign == NULL)
                   ? -1
                   : rpc_signature_v1(secret, string_to_sign, signature,
                                      sizeof(signature));
  free_wiped(string_to_sign);
  if (status != 0) {
    free_wiped(query);
    return NULL;
  }

  /* A new buffer rather than realloc(), which could free a copy unwiped. */
  static const char name[] = "&Signature=";
  size_t query_len = strlen(query);
  char *out =
      malloc(query_len + sizeof(name) - 1 + encoded_length(signature) + 1);
  if (out != NULL) {
    memcpy(out, query, query_len);
    memcpy(out + query_len, name, sizeof(name) - 1);
    *encode_into(out + query_len + sizeof(name) - 1, signature) = 0;
  }
  free_wiped(query);
  return out;
}

int rpc_common_params_v1(rpc_params_t *params, const char *action,
                         const char *version, const char *access_key_id,
                         const char *security_token, time_t timestamp,
                         const char *nonce) {
  char ts[RPC_TIMESTAMP_SIZE];
  if (rpc_timestamp(timestamp, ts, sizeof(ts)) != 0)
    return -1;

  int status = 0;
  status |= rpc_params_add(params, "Action", action);
  status |= rpc_params_add(params, "Version", version);
  status |= rpc_params_add(params, "AccessKeyId", access_key_id);
  status |= rpc_params_add(params, "SignatureMethod", "HMAC-SHA1");
  status |= rpc_params_add(params, "SignatureVersion", "1.0");
  status |= rpc_params_add(params, "SignatureNonce", nonce);
  status |= rpc_params_add(params, "Timestamp", ts);
  if (security_token != NULL)
    status |= rpc_params_add(params, "SecurityToken", security_token);
  return (status == 0) ? 0 : -1;
}

/* Nonces are cut from a pool of random bytes, filled for 32 of them at a
 * time: each RAND_bytes() call costs a getpid() (OpenSSL's fork check) and
 * more than the rest of the signature. A child process starts with an
 * empty pool, so that no two processes send the same nonce. */
#define NONCE_BYTES 16
static struct {
  pthread_once_t once;
  pthread_mutex_t lock;
  unsigned char pool[32 * NONCE_BYTES];
  size_t used; /* bytes of the pool handed out */
} nonces = {.once = PTHREAD_ONCE_INIT,
            .lock = PTHREAD_MUTEX_INITIALIZER,
            .used = sizeof(nonces.pool)};

static void nonce_fork_prepare(void) { pthread_mutex_lock(&nonces.lock); }
static void nonce_fork_parent(void) { pthread_mutex_unlock(&nonces.lock); }
static void nonce_fork_child(void) {
  OPENSSL_cleanse(nonces.pool, sizeof(nonces.pool));
  nonces.used = sizeof(nonces.pool);
  pthread_mutex_unlock(&nonces.lock);
}

static void nonce_init(void) {
  pthread_atfork(nonce_fork_prepare, nonce_fork_parent, nonce_fork_child);
}

int rpc_nonce(char *out, size_t out_size) {
  static const char hex[] = "0123456789abcdef";
  unsigned char bytes[NONCE_BYTES];
  if (out_size < RPC_NONCE_SIZE)
    return -1;
  pthread_once(&nonces.once, nonce_init);
  pthread_mutex_lock(&nonces.lock);
  int status = 0;
  if (nonces.used == sizeof(nonces.pool)) {
    if (RAND_bytes(nonces.pool, sizeof(nonces.pool)) == 1)
      nonces.used = 0;
    else
      status = -1;
  }
  if (status == 0) {
    memcpy(bytes, nonces.pool + nonces.used, sizeof(bytes));
    OPENSSL_cleanse(nonces.pool + nonces.used, sizeof(bytes));
    nonces.used += sizeof(bytes);
  }
  pthread_mutex_unlock(&nonces.lock);
  if (status != 0)
    return -1;
  for (size_t i = 0; i < sizeof(bytes); i++) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 0x0F];
  }
  out[2 * sizeof(bytes)] = 0;
  return 0;
}

int rpc_timestamp(time_t t, char *out, size_t out_size) {
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL)
    return -1;
  return (strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm) ==
          RPC_TIMESTAMP_SIZE - 1)
             ? 0
             : -1;
}
