/**
 * collectd-ddoscoo - tests/unit/test_rpc_sign.c
 * SPDX-License-Identifier: MIT
 *
 * Signature version 1.0 against Alibaba Cloud's published examples.
 */
#include "rpc_sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.h"

static void add_all(rpc_params_t *p, const char *const *kv) {
  for (; kv[0] != NULL; kv += 2)
    rpc_params_add(p, kv[0], kv[1]);
}

/* The official worked example (DescribeRegions, GET, "testsecret"). */
static const char *const official[] = {"Version",
                                       "2014-05-26",
                                       "Timestamp",
                                       "2016-02-23T12:46:24Z",
                                       "SignatureVersion",
                                       "1.0",
                                       "SignatureNonce",
                                       "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
                                       "SignatureMethod",
                                       "HMAC-SHA1",
                                       "Format",
                                       "XML",
                                       "Action",
                                       "DescribeRegions",
                                       "AccessKeyId",
                                       "testid",
                                       NULL};

DEF_TEST(official_example) {
  rpc_params_t p = RPC_PARAMS_INIT;
  add_all(&p, official);

  char *query = rpc_canonical_query(&p);
  char *sts = rpc_string_to_sign("GET", query);
  EXPECT_EQ_STR("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26"
                "Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%"
                "3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1."
                "0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-"
                "05-26",
                sts);

  char sig[RPC_SIGNATURE_SIZE];
  CHECK_ZERO(rpc_signature_v1("testsecret", sts, sig, sizeof(sig)));
  EXPECT_EQ_STR("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", sig);

  char *signed_query = rpc_sign_v1(&p, "GET", "testsecret");
  char expect[1024];
  snprintf(expect, sizeof(expect),
           "%s&Signature=OLeaidS1JvxuMvnyHOwuJ%%2BuX5qY%%3D", query);
  EXPECT_EQ_STR(expect, signed_query);

  free(signed_query);
  free(sts);
  free(query);
  rpc_params_clear(&p);
  return 0;
}

/* The secret is used with '&' appended; without it the result differs. */
DEF_TEST(key_has_ampersand) {
  rpc_params_t p = RPC_PARAMS_INIT;
  add_all(&p, official);
  char *query = rpc_canonical_query(&p);
  char *sts = rpc_string_to_sign("GET", query);
  char sig[RPC_SIGNATURE_SIZE];
  CHECK_ZERO(rpc_signature_v1("testsecret", sts, sig, sizeof(sig)));
  OK(strcmp(sig, "R8VkbeU3DqhHmAVCdxW/CjqsRK0=") != 0);
  free(sts);
  free(query);
  rpc_params_clear(&p);
  return 0;
}

/* The vector from the SDK's own tests: empty method. */
DEF_TEST(sdk_vector) {
  rpc_params_t p = RPC_PARAMS_INIT;
  CHECK_ZERO(rpc_params_add(&p, "test", "ok"));
  char *query = rpc_canonical_query(&p);
  char *sts = rpc_string_to_sign("", query);
  EXPECT_EQ_STR("&%2F&test%3Dok", sts);
  char sig[RPC_SIGNATURE_SIZE];
  CHECK_ZERO(rpc_signature_v1("accessKeySecret", sts, sig, sizeof(sig)));
  EXPECT_EQ_STR("jHx/oHoHNrbVfhncHEvPdHXZwHU=", sig);
  OK(rpc_signature_v1("accessKeySecret", sts, sig, sizeof(sig) - 1) != 0);
  free(sts);
  free(query);
  rpc_params_clear(&p);
  return 0;
}

DEF_TEST(percent_encoding) {
  struct {
    const char *in;
    const char *want;
  } cases[] = {
      {"AZaz09-_.~", "AZaz09-_.~"},
      {"a b", "a%20b"},
      {"a+b", "a%2Bb"},
      {"*", "%2A"},
      {"/:=&?#%", "%2F%3A%3D%26%3F%23%25"},
      {"\xe4\xb8\xad", "%E4%B8%AD"}, /* U+4E2D in UTF-8 */
      {"\x7f\x01", "%7F%01"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *got = rpc_percent_encode(cases[i].in);
    EXPECT_EQ_STR(cases[i].want, got);
    free(got);
  }
  return 0;
}

DEF_TEST(canonical_query_sorts_by_byte_order) {
  rpc_params_t p = RPC_PARAMS_INIT;
  CHECK_ZERO(rpc_params_add(&p, "b", "2"));
  CHECK_ZERO(rpc_params_add(&p, "InstanceIds.10", "x y"));
  CHECK_ZERO(rpc_params_add(&p, "InstanceIds.2", "z"));
  CHECK_ZERO(rpc_params_add(&p, "a", "1"));
  char *query = rpc_canonical_query(&p);
  /* Upper case sorts before lower case; "10" before "2". */
  EXPECT_EQ_STR("InstanceIds.10=x%20y&InstanceIds.2=z&a=1&b=2", query);
  free(query);
  rpc_params_clear(&p);
  return 0;
}

DEF_TEST(no_empty_values) {
  rpc_params_t p = RPC_PARAMS_INIT;
  OK(rpc_params_add(&p, "Port", "") != 0);
  OK(rpc_params_add(&p, "", "1") != 0);
  OK(rpc_params_add(&p, "Port", NULL) != 0);
  EXPECT_EQ_UINT64(0, p.count);
  rpc_params_clear(&p);
  return 0;
}

/* No parameters: an empty query (found by tests/fuzz/fuzz_rpc_sign.c, whose
 * UndefinedBehaviorSanitizer saw the empty list's NULL array go to qsort). */
DEF_TEST(empty_list) {
  rpc_params_t p = RPC_PARAMS_INIT;
  char *query = rpc_canonical_query(&p);
  EXPECT_EQ_STR("", query);
  free(query);
  EXPECT_EQ_UINT64(0, p.count);
  rpc_params_clear(&p);
  return 0;
}

DEF_TEST(nonce) {
  char a[RPC_NONCE_SIZE], b[RPC_NONCE_SIZE];
  CHECK_ZERO(rpc_nonce(a, sizeof(a)));
  CHECK_ZERO(rpc_nonce(b, sizeof(b)));
  EXPECT_EQ_UINT64(32, strlen(a));
  EXPECT_EQ_UINT64(32, strspn(a, "0123456789abcdef"));
  OK(strcmp(a, b) != 0);
  OK(rpc_nonce(a, RPC_NONCE_SIZE - 1) != 0);
  return 0;
}

static int compare_nonce(const void *a, const void *b) { return strcmp(a, b); }

/* Nonces are drawn for several at a time: every one still differs, across
 * many refills of the pool. */
DEF_TEST(a_thousand_nonces_all_differ) {
  static char n[1000][RPC_NONCE_SIZE];
  for (size_t i = 0; i < 1000; i++) {
    CHECK_ZERO(rpc_nonce(n[i], sizeof(n[i])));
    EXPECT_EQ_UINT64(32, strspn(n[i], "0123456789abcdef"));
  }
  qsort(n, 1000, sizeof(n[0]), compare_nonce);
  int same = 0;
  for (size_t i = 1; i < 1000; i++)
    same += strcmp(n[i - 1], n[i]) == 0;
  EXPECT_EQ_INT(0, same);
  return 0;
}

/* A child process does not hand out the nonces its parent still has in
 * its pool: the next nonce of each differs. */
DEF_TEST(a_forked_child_draws_its_own_nonces) {
  char first[RPC_NONCE_SIZE], parent[RPC_NONCE_SIZE], child[RPC_NONCE_SIZE];
  CHECK_ZERO(rpc_nonce(first, sizeof(first))); /* the pool is filled */
  int pipe_fds[2];
  CHECK_ZERO(pipe(pipe_fds));
  pid_t pid = fork();
  OK(pid >= 0);
  if (pid == 0) {
    char n[RPC_NONCE_SIZE] = "";
    rpc_nonce(n, sizeof(n));
    _exit(write(pipe_fds[1], n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1);
  }
  OK(read(pipe_fds[0], child, sizeof(child)) == (ssize_t)sizeof(child));
  waitpid(pid, NULL, 0);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  CHECK_ZERO(rpc_nonce(parent, sizeof(parent)));
  EXPECT_EQ_UINT64(32, strlen(child));
  OK(strcmp(parent, child) != 0);
  return 0;
}

DEF_TEST(timestamp) {
  char ts[RPC_TIMESTAMP_SIZE];
  CHECK_ZERO(rpc_timestamp(1456231584, ts, sizeof(ts)));
  EXPECT_EQ_STR("2016-02-23T12:46:24Z", ts);
  CHECK_ZERO(rpc_timestamp(0, ts, sizeof(ts)));
  EXPECT_EQ_STR("1970-01-01T00:00:00Z", ts);
  OK(rpc_timestamp(0, ts, sizeof(ts) - 1) != 0);
  return 0;
}

int main(void) {
  RUN_TEST(official_example);
  RUN_TEST(key_has_ampersand);
  RUN_TEST(sdk_vector);
  RUN_TEST(percent_encoding);
  RUN_TEST(canonical_query_sorts_by_byte_order);
  RUN_TEST(no_empty_values);
  RUN_TEST(empty_list);
  RUN_TEST(nonce);
  RUN_TEST(a_thousand_nonces_all_differ);
  RUN_TEST(a_forked_child_draws_its_own_nonces);
  RUN_TEST(timestamp);
  END_TEST;
}
