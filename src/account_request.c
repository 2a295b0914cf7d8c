/**
 * collectd-ddoscoo - src/account_request.c
 * SPDX-License-Identifier: MIT
 *
 * A block's signed requests; see account_request.h.
 */
#include "account_request.h"

#include "utils/common/common.h"

#include "acs3_sign.h"
#include "api_request.h"

#include <openssl/crypto.h>

void signed_request_clear(signed_request_t *r) {
  sfree(r->url);
  if (r->body != NULL)
    OPENSSL_cleanse(r->body, strlen(r->body)); /* may hold a SecurityToken */
  sfree(r->body);
  acs3_free_headers(r->headers);
  r->headers = NULL;
}

int account_sign(const account_t *a, const char *action, rpc_params_t *params,
                 const access_key_t *key, signed_request_t *out) {
  char nonce[RPC_NONCE_SIZE];
  time_t now = time(NULL);

  *out = (signed_request_t){0};
  if (rpc_nonce(nonce, sizeof(nonce)) != 0) {
    rpc_params_clear(params);
    return -1;
  }

  if (a->signature_version == 1) {
    if (rpc_common_params_v1(params, action, API_VERSION, key->access_key_id,
                             key->security_token, now, nonce) == 0)
      out->body = rpc_sign_v1(params, "POST", key->access_key_secret);
  } else {
    char *query = rpc_canonical_query(params);
    size_t size = strlen(a->url) + 1 + (query ? strlen(query) : 0) + 1;
    if (query != NULL && (out->url = malloc(size)) != NULL) {
      ssnprintf(out->url, size, "%s?%s", a->url, query);
      out->headers = acs3_sign_request(&(acs3_request_t){
          .method = "POST",
          .host = a->url_authority,
          .canonical_query = query,
          .content_type = "application/x-www-form-urlencoded",
          .body = "",
          .body_len = 0,
          .action = action,
          .version = API_VERSION,
          .now = now,
          .nonce = nonce,
          .access_key_id = key->access_key_id,
          .access_key_secret = key->access_key_secret,
          .security_token = key->security_token,
      });
    }
    sfree(query);
  }
  rpc_params_clear(params);

  if ((a->signature_version == 1) ? out->body == NULL : out->headers == NULL) {
    signed_request_clear(out);
    return -1;
  }
  return 0;
}

int account_keys(account_t *a, cdtime_t now, access_key_t *key) {
  char why[1024];
  if (credentials_get(a->credentials, CDTIME_T_TO_TIME_T(now),
                      a->sched.keys_rejected, key, why, sizeof(why)) == 0)
    return 0;
  c_complain(LOG_ERR, &a->complaint,
             PLUGIN_NAME " plugin: Account \"%s\": no usable credentials from "
                         "the %s: %s",
             a->name, credentials_describe(a->credentials), why);
  return -1;
}

int account_start(account_t *a, const char *action, rpc_params_t *params,
                  cdtime_t now, cdtime_t deadline, void *user,
                  unsigned *generation) {
  access_key_t key;
  if (account_keys(a, now, &key) != 0) {
    rpc_params_clear(params);
    return -1;
  }
  signed_request_t req;
  if (account_sign(a, action, params, &key, &req) != 0) {
    c_complain(LOG_ERR, &a->complaint,
               PLUGIN_NAME " plugin: Account \"%s\": cannot build a signed "
                           "%s request.",
               a->name, action);
    return -2;
  }

  cdtime_t timeout = (deadline > now) ? deadline - now : 0;
  if (timeout > a->timeout)
    timeout = a->timeout;
  if (timeout < MS_TO_CDTIME_T(1))
    timeout = MS_TO_CDTIME_T(1); /* 0 would be libcurl's "never" */
  int status = http_client_start(
      a->http, req.url ? req.url : a->url, req.body ? req.body : "",
      (const char *const *)req.headers, api_max_response(action),
      (long)CDTIME_T_TO_MS(timeout), user);
  signed_request_clear(&req);
  if (status != 0)
    return -1; /* memory ran out: the slots are counted by the caller */
  if (generation != NULL)
    *generation = key.generation;
  a->stats.requests++;
  return 0;
}
