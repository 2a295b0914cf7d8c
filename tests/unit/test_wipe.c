/**
 * collectd-ddoscoo - tests/unit/test_wipe.c
 * SPDX-License-Identifier: MIT
 *
 * No copy of a secret key or token that the plugin's own code makes reaches
 * free() unwiped: this program replaces free() with one that looks for the
 * test's secret and token in every block it is given (glibc: the real free
 * is __libc_free), and runs the signing and credentials code over them.
 */
#define _GNU_SOURCE /* memmem */

#include "acs3_sign.h"
#include "credentials.h"
#include "credentials_file.h"
#include "ecs_metadata.h"
#include "rpc_sign.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "testing.h"

/* Unreserved characters only: percent-encoding leaves them as they are, so
 * an encoded copy is found too. */
#define SECRET "wipeSECRETx9Q7zz"
#define TOKEN "wipeTOKENx4K2yy"

void __libc_free(void *p);

static bool watching;
static int leaks;

void free(void *p) {
  if (p != NULL && watching) {
    size_t n = malloc_usable_size(p);
    if (memmem(p, n, SECRET, strlen(SECRET)) != NULL ||
        memmem(p, n, TOKEN, strlen(TOKEN)) != NULL)
      leaks++;
  }
  __libc_free(p);
}

/* As the glue frees a signed body or URL. */
static void free_request_text(char *s) {
  if (s != NULL)
    OPENSSL_cleanse(s, strlen(s));
  free(s);
}

DEF_TEST(signature_v1) {
  rpc_params_t params = RPC_PARAMS_INIT;
  CHECK_ZERO(rpc_params_add(&params, "InstanceIds.1", "ddoscoo-cn-wipe"));
  CHECK_ZERO(rpc_common_params_v1(&params, "DescribePortConnsCount",
                                  "2020-01-01", "LTAIwipe", TOKEN, 1700000000,
                                  "0123456789abcdef0123456789abcdef"));
  leaks = 0;
  watching = true;
  char *body = rpc_sign_v1(&params, "POST", SECRET);
  rpc_params_clear(&params);
  OK(body != NULL && strstr(body, TOKEN) != NULL);
  free_request_text(body);
  watching = false;
  EXPECT_EQ_INT(0, leaks);
  return 0;
}

DEF_TEST(signature_v3) {
  leaks = 0;
  watching = true;
  char **headers = acs3_sign_request(&(acs3_request_t){
      .method = "POST",
      .host = "ddoscoo.cn-hangzhou.aliyuncs.com",
      .canonical_query = "InstanceIds.1=ddoscoo-cn-wipe",
      .content_type = "application/x-www-form-urlencoded",
      .body = "",
      .body_len = 0,
      .action = "DescribePortConnsCount",
      .version = "2020-01-01",
      .now = 1700000000,
      .nonce = "0123456789abcdef0123456789abcdef",
      .access_key_id = "LTAIwipe",
      .access_key_secret = SECRET,
      .security_token = TOKEN,
  });
  CHECK_NOT_NULL(headers);
  acs3_free_headers(headers);
  watching = false;
  EXPECT_EQ_INT(0, leaks);
  return 0;
}

DEF_TEST(credentials) {
  static const char text[] = "[default]\n"
                             "type = sts\n"
                             "access_key_id = STS.wipe\n"
                             "access_key_secret = " SECRET "\n"
                             "security_token = " TOKEN "\n"
                             "[broken]\n"
                             "type = sts\n"
                             "access_key_id = STS.wipe\n"
                             "access_key_secret = " SECRET "\n";
  char path[] = "/tmp/ddoscoo-wipe-XXXXXX";
  int fd = mkstemp(path);
  CHECK_ZERO(fd < 0);
  /* write(2): stdio would leave a copy in its own buffer. */
  CHECK_ZERO(write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1));
  close(fd);

  char why[512], warning[512];
  profile_t profile;
  access_key_t key;
  leaks = 0;
  watching = true;
  CHECK_ZERO(
      credentials_file_read(path, "default", &profile, why, sizeof(why)));
  profile_clear(&profile);
  OK(credentials_file_read(path, "broken", &profile, why, sizeof(why)) != 0);

  credentials_t *c =
      credentials_open(&(credentials_options_t){.credentials_file = path},
                       warning, sizeof(warning), why, sizeof(why));
  CHECK_NOT_NULL(c);
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR(TOKEN, key.security_token);
  credentials_close(c);

  c = credentials_open(&(credentials_options_t){.access_key_id = "LTAIwipe",
                                                .access_key_secret = SECRET,
                                                .security_token = TOKEN},
                       warning, sizeof(warning), why, sizeof(why));
  CHECK_NOT_NULL(c);
  credentials_close(c);

  static const char json[] = "{\"Code\": \"Success\", \"AccessKeyId\": "
                             "\"STS.wipe\", \"AccessKeySecret\": \"" SECRET
                             "\", \"SecurityToken\": \"" TOKEN
                             "\", \"Expiration\": \"2030-01-01T00:00:00Z\"}";
  time_t expiration;
  CHECK_ZERO(ecs_metadata_parse(json, strlen(json), &profile, &expiration, why,
                                sizeof(why)));
  profile_clear(&profile);
  watching = false;
  unlink(path);
  EXPECT_EQ_INT(0, leaks);
  return 0;
}

int main(void) {
  RUN_TEST(signature_v1);
  RUN_TEST(signature_v3);
  RUN_TEST(credentials);
  END_TEST;
}
