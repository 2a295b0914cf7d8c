/**
 * collectd-ddoscoo - tests/unit/test_http_hints.c
 * SPDX-License-Identifier: MIT
 *
 * Throttling hints from response headers: x-acs-retry-after and the rate
 * limit headers x-ratelimit-user-api and x-ratelimit-user, header lines as
 * libcurl hands them over.
 */
#include "http_client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* The hint from header lines (each without its CRLF; it is added). */
static long hint(const char *const *lines) {
  http_hints_t h;
  http_hints_reset(&h);
  for (size_t i = 0; lines[i] != NULL; i++) {
    char line[512];
    int n = snprintf(line, sizeof(line), "%s\r\n", lines[i]);
    http_hints_header(&h, line, (size_t)n);
  }
  return http_hints_retry_ms(&h);
}

#define HINT(...) hint((const char *const[]){__VA_ARGS__, NULL})

DEF_TEST(nothing_is_no_hint) {
  EXPECT_EQ_INT(-1, HINT("Content-Type: text/xml"));
  EXPECT_EQ_INT(-1, HINT("x-acs-request-id: 7A2F", "Date: Mon, 1 Jan 2024"));
  /* Names that only start like a hint's. */
  EXPECT_EQ_INT(-1, HINT("x-acs-retry-after-x: 100", "x-ratelimit-users: "
                                                     "Remain:0,TimeLeft:100"));
  return 0;
}

DEF_TEST(retry_after) {
  EXPECT_EQ_INT(2000, HINT("x-acs-retry-after: 2000"));
  EXPECT_EQ_INT(0, HINT("x-acs-retry-after: 0"));
  EXPECT_EQ_INT(1500, HINT("X-Acs-Retry-After:1500"));
  EXPECT_EQ_INT(1500, HINT("X-ACS-RETRY-AFTER: \t 1500 \t"));
  /* Without CRLF too. */
  http_hints_t h;
  http_hints_reset(&h);
  http_hints_header(&h, "x-acs-retry-after: 700", 22);
  EXPECT_EQ_INT(700, http_hints_retry_ms(&h));
  /* Not NUL-terminated: only len bytes count. */
  http_hints_reset(&h);
  http_hints_header(&h, "x-acs-retry-after: 7009999", 21);
  EXPECT_EQ_INT(70, http_hints_retry_ms(&h));
  return 0;
}

DEF_TEST(retry_after_is_capped) {
  EXPECT_EQ_INT(HTTP_MAX_RETRY_HINT_MS, HINT("x-acs-retry-after: 60000"));
  EXPECT_EQ_INT(HTTP_MAX_RETRY_HINT_MS, HINT("x-acs-retry-after: 60001"));
  EXPECT_EQ_INT(HTTP_MAX_RETRY_HINT_MS, HINT("x-acs-retry-after: 3600000"));
  EXPECT_EQ_INT(HTTP_MAX_RETRY_HINT_MS,
                HINT("x-acs-retry-after: 99999999999999999999999999999999"));
  return 0;
}

DEF_TEST(retry_after_garbage_is_ignored) {
  const char *garbage[] = {
      "x-acs-retry-after: ",      "x-acs-retry-after: soon",
      "x-acs-retry-after: -5",    "x-acs-retry-after: +5",
      "x-acs-retry-after: 1.5",   "x-acs-retry-after: 2s",
      "x-acs-retry-after: 0x10",  "x-acs-retry-after: 1 2",
      "x-acs-retry-after: 1,000", "x-acs-retry-after:",
      "x-acs-retry-after : 100",
  };
  for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
    printf("# %s\n", garbage[i]);
    EXPECT_EQ_INT(-1, HINT(garbage[i]));
    /* ... and a usable rate limit header is used instead. */
    EXPECT_EQ_INT(900, HINT(garbage[i], "x-ratelimit-user: Limit:10,Remain:0,"
                                        "TimeLeft:900,Reset:1700000000000"));
  }
  /* A later garbage header does not keep an earlier number. */
  EXPECT_EQ_INT(-1, HINT("x-acs-retry-after: 100", "x-acs-retry-after: x"));
  /* Far too long for a number. */
  char line[400];
  snprintf(line, sizeof(line), "x-acs-retry-after: %0300d", 5);
  EXPECT_EQ_INT(-1, HINT(line));
  return 0;
}

DEF_TEST(retry_after_wins_over_rate_limits) {
  EXPECT_EQ_INT(300, HINT("x-ratelimit-user-api: Limit:5,Remain:0,TimeLeft:"
                          "2000,Reset:1700000000000",
                          "x-acs-retry-after: 300"));
  return 0;
}

DEF_TEST(rate_limit_headers) {
  /* As the SDKs' tests have them. */
  EXPECT_EQ_INT(2000, HINT("x-ratelimit-user-api: Limit:1,Remain:0,TimeLeft:"
                           "2000,Reset:1234"));
  EXPECT_EQ_INT(2000, HINT("x-ratelimit-user: Limit:1,Remain:0,TimeLeft:2000,"
                           "Reset:1234"));
  EXPECT_EQ_INT(0, HINT("x-ratelimit-user: Limit:1,Remain:0,TimeLeft:0,"
                        "Reset:1234"));
  /* Both exhausted: the longer wait. */
  EXPECT_EQ_INT(2000, HINT("x-ratelimit-user-api: Limit:1,Remain:0,TimeLeft:"
                           "2000,Reset:1234",
                           "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:0,"
                           "Reset:1234"));
  /* The exhausted one, even if the other has longer to go. */
  EXPECT_EQ_INT(400, HINT("x-ratelimit-user-api: Limit:20,Remain:7,TimeLeft:"
                          "5000,Reset:1234",
                          "x-ratelimit-user: Limit:100,Remain:0,TimeLeft:400,"
                          "Reset:1234"));
  EXPECT_EQ_INT(400, HINT("x-ratelimit-user-api: Limit:20,Remain:0,TimeLeft:"
                          "400,Reset:1234",
                          "x-ratelimit-user: Limit:100,Remain:3,TimeLeft:5000,"
                          "Reset:1234"));
  /* None exhausted: the longer TimeLeft of those present. */
  EXPECT_EQ_INT(5000, HINT("x-ratelimit-user-api: Limit:20,Remain:7,TimeLeft:"
                           "5000",
                           "x-ratelimit-user: Limit:100,Remain:3,TimeLeft:"
                           "400"));
  EXPECT_EQ_INT(800, HINT("x-ratelimit-user: Remain:3,TimeLeft:800"));
  return 0;
}

DEF_TEST(rate_limit_spelling) {
  /* Header names in any case, as HTTP/1.1 servers and proxies write them. */
  EXPECT_EQ_INT(1200, HINT("X-RateLimit-User-API: Limit:1,Remain:0,TimeLeft:"
                           "1200,Reset:1"));
  EXPECT_EQ_INT(1200, HINT("X-RATELIMIT-USER: Limit:1,Remain:0,TimeLeft:1200,"
                           "Reset:1"));
  /* Spaces around keys and values, any order, keys in any case. */
  EXPECT_EQ_INT(1200, HINT("x-ratelimit-user:  Reset : 1 , timeleft : 1200 ,"
                           " REMAIN :0 , Limit:1 "));
  /* Missing fields. */
  EXPECT_EQ_INT(1200, HINT("x-ratelimit-user: TimeLeft:1200"));
  EXPECT_EQ_INT(-1, HINT("x-ratelimit-user: Limit:1,Remain:0,Reset:1"));
  EXPECT_EQ_INT(-1, HINT("x-ratelimit-user: "));
  EXPECT_EQ_INT(-1, HINT("x-ratelimit-user-api:"));
  /* An unreadable Remain: present, not known to be exhausted. */
  EXPECT_EQ_INT(5000, HINT("x-ratelimit-user-api: Remain:none,TimeLeft:5000",
                           "x-ratelimit-user: Remain:9,TimeLeft:300"));
  return 0;
}

DEF_TEST(rate_limit_garbage) {
  const char *garbage[] = {
      "x-ratelimit-user: garbage",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:-5,Reset:1",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:2s,Reset:1",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:1.5,Reset:1",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:,Reset:1",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft 100,Reset:1",
      "x-ratelimit-user: Limit:1,Remain:0,TimeLeft:1:2,Reset:1",
      "x-ratelimit-user: Limit:1;Remain:0;TimeLeft:100;Reset:1",
      "x-ratelimit-user: Limit=1,Remain=0,TimeLeft=100",
      "x-ratelimit-user: ,,,:,::",
      "x-ratelimit-user: TimeLeftover:100",
      "x-ratelimit-user: Time Left:100",
  };
  for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
    printf("# %s\n", garbage[i]);
    EXPECT_EQ_INT(-1, HINT(garbage[i]));
  }
  /* Huge numbers are capped; so is a huge Remain harmlessly. */
  EXPECT_EQ_INT(HTTP_MAX_RETRY_HINT_MS,
                HINT("x-ratelimit-user: Limit:1,Remain:0,TimeLeft:"
                     "123456789012345678901234567890,Reset:1"));
  EXPECT_EQ_INT(100, HINT("x-ratelimit-user: Remain:99999999999999999999999,"
                          "TimeLeft:100"));
  return 0;
}

/* A new response (after "100 Continue") starts without the old hints:
 * http_hints_reset() is what the client calls then. */
DEF_TEST(reset) {
  http_hints_t h;
  http_hints_reset(&h);
  const char *line = "x-acs-retry-after: 100\r\n";
  http_hints_header(&h, line, strlen(line));
  EXPECT_EQ_INT(100, http_hints_retry_ms(&h));
  http_hints_reset(&h);
  EXPECT_EQ_INT(-1, http_hints_retry_ms(&h));
  http_hints_header(&h, "", 0);
  EXPECT_EQ_INT(-1, http_hints_retry_ms(&h));
  return 0;
}

int main(void) {
  RUN_TEST(nothing_is_no_hint);
  RUN_TEST(retry_after);
  RUN_TEST(retry_after_is_capped);
  RUN_TEST(retry_after_garbage_is_ignored);
  RUN_TEST(retry_after_wins_over_rate_limits);
  RUN_TEST(rate_limit_headers);
  RUN_TEST(rate_limit_spelling);
  RUN_TEST(rate_limit_garbage);
  RUN_TEST(reset);
  END_TEST;
}
