/**
 * collectd-ddoscoo - tests/unit/test_acs3_sign.c
 * SPDX-License-Identifier: MIT
 *
 * Signature V3 against Alibaba Cloud's published example.
 */
#include "acs3_sign.h"
#include "rpc_sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define EMPTY_SHA256                                                           \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

DEF_TEST(official_example) {
  rpc_params_t q = RPC_PARAMS_INIT;
  CHECK_ZERO(rpc_params_add(&q, "RegionId", "cn-shanghai"));
  CHECK_ZERO(rpc_params_add(
      &q, "ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"));
  char *query = rpc_canonical_query(&q);
  EXPECT_EQ_STR("ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&"
                "RegionId=cn-shanghai",
                query);

  acs3_header_t headers[] = {
      {"x-acs-version", "2014-05-26"},
      {"host", "ecs.cn-shanghai.aliyuncs.com"},
      {"x-acs-action", "RunInstances"},
      {"x-acs-signature-nonce", " 3156853299f313e23d1673dc12e1703d "},
      {"x-acs-date", "2023-10-26T10:22:32Z"},
      {"x-acs-content-sha256", EMPTY_SHA256},
  };
  char *signed_headers = NULL;
  char *canonical = acs3_canonical_request("POST", query, headers, 6,
                                           EMPTY_SHA256, &signed_headers);
  EXPECT_EQ_STR("host;x-acs-action;x-acs-content-sha256;x-acs-date;"
                "x-acs-signature-nonce;x-acs-version",
                signed_headers);

  char hashed[ACS3_HEX_SIZE];
  acs3_hex_sha256(canonical, strlen(canonical), hashed);
  EXPECT_EQ_STR(
      "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259",
      hashed);
  char signature[ACS3_HEX_SIZE];
  CHECK_ZERO(acs3_signature("YourAccessKeySecret", canonical, signature));
  EXPECT_EQ_STR(
      "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0",
      signature);

  free(canonical);
  free(signed_headers);
  free(query);
  rpc_params_clear(&q);
  return 0;
}

static const char *header(char **headers, const char *prefix) {
  for (char **h = headers; *h != NULL; h++)
    if (strncmp(*h, prefix, strlen(prefix)) == 0)
      return *h + strlen(prefix);
  return NULL;
}

/* The request's headers sign what they say: the same inputs signed by
 * hand give the Authorization header's signature. */
DEF_TEST(signed_request) {
  acs3_request_t req = {
      .method = "POST",
      .host = "127.0.0.1:8080",
      .canonical_query = "EndTime=1796205600&Format=XML",
      .content_type = "application/x-www-form-urlencoded",
      .body = "",
      .body_len = 0,
      .action = "DescribePortConnsCount",
      .version = "2020-01-01",
      .now = 1796205665,
      .nonce = "0123456789abcdef0123456789abcdef",
      .access_key_id = "STS.key",
      .access_key_secret = "secret",
      .security_token = "token-value",
  };
  char **headers = acs3_sign_request(&req);
  CHECK_NOT_NULL(headers);
  EXPECT_EQ_STR("127.0.0.1:8080", header(headers, "host: "));
  EXPECT_EQ_STR("application/x-www-form-urlencoded",
                header(headers, "content-type: "));
  EXPECT_EQ_STR("2026-12-02T10:01:05Z", header(headers, "x-acs-date: "));
  EXPECT_EQ_STR(EMPTY_SHA256, header(headers, "x-acs-content-sha256: "));
  EXPECT_EQ_STR("token-value", header(headers, "x-acs-security-token: "));

  acs3_header_t by_hand[] = {
      {"host", "127.0.0.1:8080"},
      {"content-type", "application/x-www-form-urlencoded"},
      {"x-acs-action", "DescribePortConnsCount"},
      {"x-acs-version", "2020-01-01"},
      {"x-acs-date", "2026-12-02T10:01:05Z"},
      {"x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"},
      {"x-acs-content-sha256", EMPTY_SHA256},
      {"x-acs-security-token", "token-value"},
  };
  char *names = NULL;
  char *canonical = acs3_canonical_request("POST", req.canonical_query, by_hand,
                                           8, EMPTY_SHA256, &names);
  char signature[ACS3_HEX_SIZE];
  CHECK_ZERO(acs3_signature("secret", canonical, signature));
  char want[512];
  snprintf(want, sizeof(want),
           "ACS3-HMAC-SHA256 Credential=STS.key,SignedHeaders=%s,"
           "Signature=%s",
           names, signature);
  EXPECT_EQ_STR(want, header(headers, "Authorization: "));
  OK(strstr(names, "x-acs-security-token") != NULL);

  /* Without a token, no token header. */
  acs3_free_headers(headers);
  req.security_token = NULL;
  headers = acs3_sign_request(&req);
  OK(header(headers, "x-acs-security-token: ") == NULL);
  OK(strstr(header(headers, "Authorization: "), "x-acs-security-token") ==
     NULL);

  acs3_free_headers(headers);
  free(canonical);
  free(names);
  return 0;
}

int main(void) {
  RUN_TEST(official_example);
  RUN_TEST(signed_request);
  END_TEST;
}
