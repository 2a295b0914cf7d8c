/**
 * collectd-ddoscoo - src/rpc_sign.h
 * SPDX-License-Identifier: MIT
 *
 * Alibaba Cloud RPC request signing, signature version 1.0 (HMAC-SHA1):
 * parameter lists, RFC 3986 encoding, the canonical query and the signature.
 * Pure: no collectd, no network.
 */
#ifndef RPC_SIGN_H
#define RPC_SIGN_H 1

#include <stddef.h>
#include <time.h>

typedef struct {
  char *name;
  char *value;
} rpc_param_t;

typedef struct {
  rpc_param_t *items;
  size_t count;
  size_t size;
} rpc_params_t;

#define RPC_PARAMS_INIT                                                        \
  { NULL, 0, 0 }

/* Appends a copy of name and value. Returns 0, or EINVAL for an empty name
 * or value (the API disagrees with itself on signing empty values, so none
 * is ever sent) and ENOMEM. */
int rpc_params_add(rpc_params_t *params, const char *name, const char *value);

/* Frees every parameter; params can be reused afterwards. */
void rpc_params_clear(rpc_params_t *params);

/* Percent-encodes the bytes of src: A-Z a-z 0-9 - _ . ~ stay, everything
 * else becomes %XY (upper-case hex). Returns a malloc'ed string or NULL. */
char *rpc_percent_encode(const char *src);

/* Sorts params by name (byte order) and joins the encoded name=value pairs
 * with '&'. Returns a malloc'ed string or NULL. */
char *rpc_canonical_query(rpc_params_t *params);

/* METHOD "&%2F&" percent_encode(canonical_query). Malloc'ed or NULL. */
char *rpc_string_to_sign(const char *method, const char *canonical_query);

/* Base64(HMAC-SHA1(secret + "&", string_to_sign)) into out, which needs
 * RPC_SIGNATURE_SIZE bytes. Returns 0 or -1. */
#define RPC_SIGNATURE_SIZE 29
int rpc_signature_v1(const char *secret, const char *string_to_sign, char *out,
                     size_t out_size);

/* Adds the common parameters of signature version 1.0: Action, Version,
 * AccessKeyId, SignatureMethod, SignatureVersion, SignatureNonce,
 * Timestamp and, unless NULL, SecurityToken. Returns 0 or -1. */
int rpc_common_params_v1(rpc_params_t *params, const char *action,
                         const char *version, const char *access_key_id,
                         const char *security_token, time_t timestamp,
                         const char *nonce);

/* HMAC of data with key, digest "SHA1" or "SHA256", into md (md_size
 * bytes at least EVP_MAX_MD_SIZE). Returns the MAC's length, or -1. Thread
 * safe; the key is wiped from OpenSSL's copy before it returns. */
int rpc_hmac(const char *digest, const void *key, size_t key_len,
             const void *data, size_t len, unsigned char *md, size_t md_size);

/* Signs params for the given HTTP method and returns the complete encoded
 * query (canonical query + "&Signature=..."), ready to be sent as URL query
 * or form body. Malloc'ed, or NULL on failure. */
char *rpc_sign_v1(rpc_params_t *params, const char *method, const char *secret);

/* A fresh SignatureNonce: 32 lower-case hex digits from OpenSSL's
 * cryptographic random generator (drawn for several nonces at a time).
 * Thread safe. out needs RPC_NONCE_SIZE bytes. */
#define RPC_NONCE_SIZE 33
int rpc_nonce(char *out, size_t out_size);

/* t as the API's Timestamp, "YYYY-MM-DDThh:mm:ssZ" in UTC. out needs
 * RPC_TIMESTAMP_SIZE bytes. */
#define RPC_TIMESTAMP_SIZE 21
int rpc_timestamp(time_t t, char *out, size_t out_size);

#endif /* RPC_SIGN_H */
