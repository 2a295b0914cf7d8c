/**
 * collectd-ddoscoo - src/account_request.h
 * SPDX-License-Identifier: MIT
 *
 * A block's signed requests: the keys to sign with now, and a request for
 * any action signed as the block's SignatureVersion says.
 */
#ifndef ACCOUNT_REQUEST_H
#define ACCOUNT_REQUEST_H 1

#include "account.h"
#include "rpc_sign.h"

/* Where to POST what, with which headers. */
typedef struct {
  char *url;      /* NULL: the endpoint's */
  char *body;     /* NULL: empty */
  char **headers; /* NULL: none */
} signed_request_t;

void signed_request_clear(signed_request_t *r);

/* The keys to sign with; logs (rate-limited) and returns -1 if there are
 * none. */
int account_keys(account_t *a, cdtime_t now, access_key_t *key);

/* Signs action with the operation's params (consumed). Signature 1.0:
 * every parameter in the form body; V3: the operation's in the query
 * string, the rest in signed headers, an empty body. Returns 0 or -1. */
int account_sign(const account_t *a, const char *action, rpc_params_t *params,
                 const access_key_t *key, signed_request_t *out);

/* Starts a signed request for action on the block's HTTP client, with a
 * timeout that ends no later than deadline; user is handed back with the
 * result, *generation (may be NULL) says which keys signed it. Logs what
 * keeps it from starting. Returns 0, or -1 (no keys: the read should start
 * nothing more) or -2 (this request only). */
int account_start(account_t *a, const char *action, rpc_params_t *params,
                  cdtime_t now, cdtime_t deadline, void *user,
                  unsigned *generation);

#endif /* ACCOUNT_REQUEST_H */
