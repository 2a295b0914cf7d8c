/**
 * collectd-ddoscoo - tests/unit/test_credentials.c
 * SPDX-License-Identifier: MIT
 *
 * Credentials: the INI file, the metadata service's JSON document, and
 * which source wins.
 */
#include "credentials.h"
#include "credentials_file.h"
#include "ecs_metadata.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

static char why[2048];
static char dir[] = "/tmp/ddoscoo-creds-XXXXXX";

static int parse(const char *text, const char *name, profile_t *p) {
  why[0] = 0;
  return credentials_file_parse(text, strlen(text), name, p, why, sizeof(why));
}

static const char ini[] = "# Alibaba Cloud credentials\r\n"
                          "[default]\r\n"
                          "type = access_key\r\n"
                          "access_key_id = LTAIdefault\r\n"
                          "access_key_secret=secret-default\r\n"
                          "\n"
                          "; temporary keys\n"
                          "[ tmp ]\n"
                          "  type   =   sts  \n"
                          "access_key_id = \"STS.tmp\"\n"
                          "access_key_secret = secret-tmp\n"
                          "security_token = token = with = equals\n"
                          "region_id = cn-hangzhou\n"
                          "[on-ecs]\n"
                          "type = ecs_ram_role\n"
                          "role_name = reader\n"
                          "[weird]\n"
                          "type = rsa_key_pair\n"
                          "[half]\n"
                          "type = sts\n"
                          "access_key_id = STS.half\n"
                          "access_key_secret = s\n";

DEF_TEST(ini_profiles) {
  profile_t p;
  CHECK_ZERO(parse(ini, "default", &p));
  EXPECT_EQ_INT(PROFILE_ACCESS_KEY, p.type);
  EXPECT_EQ_STR("LTAIdefault", p.access_key_id);
  EXPECT_EQ_STR("secret-default", p.access_key_secret);
  OK(p.security_token == NULL);
  profile_clear(&p);

  CHECK_ZERO(parse(ini, "tmp", &p));
  EXPECT_EQ_INT(PROFILE_STS, p.type);
  EXPECT_EQ_STR("STS.tmp", p.access_key_id);
  EXPECT_EQ_STR("token = with = equals", p.security_token);
  profile_clear(&p);

  CHECK_ZERO(parse(ini, "on-ecs", &p));
  EXPECT_EQ_INT(PROFILE_ECS_RAM_ROLE, p.type);
  EXPECT_EQ_STR("reader", p.role_name);
  profile_clear(&p);
  return 0;
}

DEF_TEST(ini_errors) {
  profile_t p;
  OK(parse(ini, "nobody", &p) != 0);
  EXPECT_EQ_STR("profile [nobody] not found", why);
  OK(parse(ini, "weird", &p) != 0);
  EXPECT_EQ_STR("profile [weird]: type is not one of those; access_key, sts "
                "or ecs_ram_role are supported",
                why);
  OK(parse(ini, "half", &p) != 0);
  EXPECT_EQ_STR("profile [half] (type sts) has no security_token", why);
  OK(parse("[default]\naccess_key_id = a\n", "default", &p) != 0);
  OK(strstr(why, "type is missing") != NULL);
  OK(parse("[default]\ntype = access_key\naccess_key_id = a\n", "default",
           &p) != 0);
  EXPECT_EQ_STR("profile [default] (type access_key) has no "
                "access_key_secret",
                why);
  OK(parse("[default]\ntype = access_key\njunk\n", "default", &p) != 0);
  EXPECT_EQ_STR("line 3 is not a section, a key = value or a comment", why);
  OK(parse("[default\n", "default", &p) != 0);
  EXPECT_EQ_STR("line 1: a section needs a closing ']'", why);
  /* Secrets never appear in the reasons. */
  OK(parse("[default]\ntype = access_key\naccess_key_secret = SeCrEt\n",
           "default", &p) != 0);
  OK(strstr(why, "SeCrEt") == NULL);
  OK(p.access_key_secret == NULL); /* nothing half-kept */
  return 0;
}

static int parse_json(const char *json, profile_t *p, time_t *expiration) {
  why[0] = 0;
  return ecs_metadata_parse(json, strlen(json), p, expiration, why,
                            sizeof(why));
}

DEF_TEST(metadata_document) {
  profile_t p;
  time_t expiration = 0;
  CHECK_ZERO(parse_json(
      " {\n \"AccessKeyId\" : \"STS.abc\",\"AccessKeySecret\":\"s\\/e\\u0041\","
      "\"Expiration\":\"2026-11-27T20:41:00Z\",\"SecurityToken\":\"tok\","
      "\"LastUpdated\":\"2026-11-27T14:41:00Z\",\"Code\":\"Success\","
      "\"Number\": 12.5e3, \"Flag\": true, \"Nothing\": null}\n",
      &p, &expiration));
  EXPECT_EQ_INT(PROFILE_STS, p.type);
  EXPECT_EQ_STR("STS.abc", p.access_key_id);
  EXPECT_EQ_STR("s/eA", p.access_key_secret);
  EXPECT_EQ_STR("tok", p.security_token);
  EXPECT_EQ_UINT64(1795812060, expiration); /* 2026-11-27T20:41:00Z */
  profile_clear(&p);

  struct {
    const char *json;
    const char *why;
  } bad[] = {
      {"{\"Code\":\"Failed\",\"Message\":\"no role\"}", "Code"},
      {"{\"Code\":\"Success\",\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"b\","
       "\"Expiration\":\"2026-11-27T20:41:00Z\"}",
       "SecurityToken"},
      {"{\"Code\":\"Success\",\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"b\","
       "\"SecurityToken\":\"c\",\"Expiration\":\"tomorrow\"}",
       "Expiration"},
      {"{\"Code\":\"Success\",\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"b\","
       "\"SecurityToken\":\"c\",\"Expiration\":\"2026-11-27T20:41:00Z\"} x",
       "flat JSON"},
      {"{\"Code\":\"Success\",\"AccessKeyId\":\"a\",\"AccessKeyId\":\"b\"}",
       "flat JSON"},
      {"{\"Code\":{\"nested\":1}}", "flat JSON"},
      {"this is not json", "flat JSON"},
      {"", "flat JSON"},
      {"{\"Code\":\"Succ\\u0000ess\"}", "flat JSON"},
      {"{\"Code\":\"Success\"", "flat JSON"},
      {"{}", "Code"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    OK(parse_json(bad[i].json, &p, &expiration) != 0);
    printf("# why: %s\n", why);
    OK(strstr(why, bad[i].why) != NULL);
    OK(p.access_key_id == NULL);
  }
  return 0;
}

/* A file saved by an editor that writes a UTF-8 byte order mark. */
DEF_TEST(ini_with_a_byte_order_mark) {
  profile_t p;
  CHECK_ZERO(parse("\xEF\xBB\xBF[default]\r\ntype = access_key\r\n"
                   "access_key_id = LTAIbom\r\naccess_key_secret = s\r\n",
                   "default", &p));
  EXPECT_EQ_STR("LTAIbom", p.access_key_id);
  profile_clear(&p);
  /* Only at the start. */
  OK(parse("[default]\n\xEF\xBB\xBFtype = access_key\n", "default", &p) != 0);
  return 0;
}

/* Keys with a control character, from any source, would split the
 * headers of a signed request (SignatureVersion 3): refused, the reason
 * naming the key, never the value. */
DEF_TEST(control_characters_are_refused) {
  profile_t p;
  static const char *const ini_bad[] = {
      "[default]\ntype = sts\naccess_key_id = STS.a\naccess_key_secret = s\n"
      "security_token = tok\rX-Injected: 1\n",
      "[default]\ntype = access_key\naccess_key_id = LTAI\x01x\n"
      "access_key_secret = s\n",
      "[default]\ntype = access_key\naccess_key_id = LTAIx\n"
      "access_key_secret = s\x7fs\n",
  };
  static const char *const ini_why[] = {
      "line 5: security_token holds a control character",
      "line 3: access_key_id holds a control character",
      "line 4: access_key_secret holds a control character",
  };
  for (size_t i = 0; i < 3; i++) {
    OK(parse(ini_bad[i], "default", &p) != 0);
    EXPECT_EQ_STR(ini_why[i], why);
    OK(p.access_key_id == NULL);
  }

  /* The metadata service: a \n or \t escape in a key. */
  static const char *const json_bad[] = {
      "{\"Code\":\"Success\",\"AccessKeyId\":\"STS.a\\nX-Injected: 1\","
      "\"AccessKeySecret\":\"b\",\"SecurityToken\":\"c\","
      "\"Expiration\":\"2026-11-27T20:41:00Z\"}",
      "{\"Code\":\"Success\",\"AccessKeyId\":\"STS.a\",\"AccessKeySecret\":"
      "\"b\",\"SecurityToken\":\"c\\nX-Injected: 1\","
      "\"Expiration\":\"2026-11-27T20:41:00Z\"}",
      "{\"Code\":\"Success\",\"AccessKeyId\":\"STS.a\",\"AccessKeySecret\":"
      "\"b\\tc\",\"SecurityToken\":\"c\","
      "\"Expiration\":\"2026-11-27T20:41:00Z\"}",
  };
  static const char *const json_why[] = {
      "the credentials' AccessKeyId holds a control character",
      "the credentials' SecurityToken holds a control character",
      "the credentials' AccessKeySecret holds a control character",
  };
  for (size_t i = 0; i < 3; i++) {
    time_t expiration = 0;
    OK(parse_json(json_bad[i], &p, &expiration) != 0);
    EXPECT_EQ_STR(json_why[i], why);
    OK(p.access_key_id == NULL);
  }

  /* The block's options, and the environment. */
  credentials_options_t o = {.access_key_id = "LTAIx",
                             .access_key_secret = "s",
                             .security_token = "tok\nX-Injected: 1",
                             .metadata_url = "http://127.0.0.1:9",
                             .metadata_timeout_ms = 500};
  char warning[512];
  OK(credentials_open(&o, warning, sizeof(warning), why, sizeof(why)) == NULL);
  EXPECT_EQ_STR("SecurityToken holds a control character", why);
  o.security_token = NULL;
  o.access_key_id = "LTAI\nx";
  OK(credentials_open(&o, warning, sizeof(warning), why, sizeof(why)) == NULL);
  EXPECT_EQ_STR("AccessKeyId holds a control character", why);

  char home[300];
  snprintf(home, sizeof(home), "%s/nohome", dir);
  setenv("HOME", home, 1);
  unsetenv("ALIBABA_CLOUD_CREDENTIALS_FILE");
  setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv", 1);
  setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret\r\nX: 1", 1);
  credentials_options_t machine = {.metadata_url = "http://127.0.0.1:9",
                                   .metadata_timeout_ms = 500};
  OK(credentials_open(&machine, warning, sizeof(warning), why, sizeof(why)) ==
     NULL);
  EXPECT_EQ_STR("ALIBABA_CLOUD_ACCESS_KEY_SECRET holds a control character",
                why);
  unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
  unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  return 0;
}

/* A FIFO named CredentialsFile is refused at once: open() would wait for
 * a writer for good. The alarm turns a hang into a failure. */
DEF_TEST(a_fifo_is_not_a_credentials_file) {
  char fifo[300];
  snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
  CHECK_ZERO(mkfifo(fifo, 0600));
  alarm(5);
  profile_t p;
  OK(credentials_file_read(fifo, "default", &p, why, sizeof(why)) != 0);
  char want[400];
  snprintf(want, sizeof(want), "%s is not a regular file", fifo);
  EXPECT_EQ_STR(want, why);
  credentials_options_t o = {.credentials_file = fifo,
                             .metadata_url = "http://127.0.0.1:9",
                             .metadata_timeout_ms = 500};
  char warning[512];
  OK(credentials_open(&o, warning, sizeof(warning), why, sizeof(why)) == NULL);
  snprintf(want, sizeof(want), "CredentialsFile: %s is not a regular file",
           fifo);
  EXPECT_EQ_STR(want, why);
  alarm(0);
  unlink(fifo);
  return 0;
}

static void write_file(const char *path, const char *content, mode_t mode) {
  FILE *fh = fopen(path, "w");
  fputs(content, fh);
  fclose(fh);
  chmod(path, mode);
}

static credentials_t *open_with(credentials_options_t o, char *warning) {
  why[0] = 0;
  if (o.metadata_url == NULL)
    o.metadata_url = "http://127.0.0.1:9"; /* nothing listens: not ECS */
  o.metadata_timeout_ms = 500;
  return credentials_open(&o, warning, 512, why, sizeof(why));
}

static void clear_env(void) {
  unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
  unsetenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  unsetenv("ALIBABA_CLOUD_SECURITY_TOKEN");
  unsetenv("ALIBABA_CLOUD_CREDENTIALS_FILE");
  unsetenv("ALIBABA_CLOUD_PROFILE");
}

DEF_TEST(precedence) {
  char file[256], warning[512];
  snprintf(file, sizeof(file), "%s/credentials", dir);
  write_file(file, ini, 0600);
  clear_env();
  setenv("HOME", dir, 1); /* no ~/.alibabacloud there */
  access_key_t key;

  /* The block's keys win over everything the machine has. */
  setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv", 1);
  setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-env", 1);
  setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", file, 1);
  credentials_t *c =
      open_with((credentials_options_t){.access_key_id = "LTAIblock",
                                        .access_key_secret = "secret-block"},
                warning);
  CHECK_NOT_NULL(c);
  EXPECT_EQ_STR("configuration", credentials_describe(c));
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("LTAIblock", key.access_key_id);
  OK(!credentials_renewable(c));
  credentials_close(c);

  /* The block's file and profile, too. */
  c = open_with(
      (credentials_options_t){.credentials_file = file, .profile = "tmp"},
      warning);
  CHECK_NOT_NULL(c);
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("STS.tmp", key.access_key_id);
  EXPECT_EQ_STR("token = with = equals", key.security_token);
  EXPECT_EQ_STR("", warning);
  credentials_close(c);

  /* Nothing in the block: the environment first ... */
  c = open_with((credentials_options_t){0}, warning);
  CHECK_NOT_NULL(c);
  EXPECT_EQ_STR("environment", credentials_describe(c));
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("LTAIenv", key.access_key_id);
  OK(key.security_token == NULL);
  credentials_close(c);

  /* ... then the default file (ALIBABA_CLOUD_CREDENTIALS_FILE), with
   * ALIBABA_CLOUD_PROFILE ... */
  unsetenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
  setenv("ALIBABA_CLOUD_PROFILE", "tmp", 1);
  c = open_with((credentials_options_t){0}, warning);
  CHECK_NOT_NULL(c);
  char want[512];
  snprintf(want, sizeof(want), "credentials file %s, profile tmp", file);
  EXPECT_EQ_STR(want, credentials_describe(c));
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("STS.tmp", key.access_key_id);
  OK(credentials_renewable(c));

  /* ... which is read again when it changes. */
  write_file(file,
             "[tmp]\ntype = sts\naccess_key_id = STS.rotated\n"
             "access_key_secret = s2\nsecurity_token = t2\n",
             0600);
  CHECK_ZERO(credentials_get(c, 0, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("STS.rotated", key.access_key_id);
  EXPECT_EQ_STR("t2", key.security_token);
  credentials_close(c);

  /* A profile naming a RAM role makes the role the source. */
  write_file(file, ini, 0644);
  setenv("ALIBABA_CLOUD_PROFILE", "on-ecs", 1);
  c = open_with((credentials_options_t){0}, warning);
  CHECK_NOT_NULL(c);
  snprintf(want, sizeof(want),
           "ECS RAM role reader (credentials file %s, profile on-ecs)", file);
  EXPECT_EQ_STR(want, credentials_describe(c));
  OK(strstr(warning, "can be read by group or others (mode 644)") != NULL);
  /* Its keys come from the metadata service, which is not there. */
  OK(credentials_get(c, 1000, false, &key, why, sizeof(why)) != 0);
  printf("# why: %s\n", why);
  OK(strstr(why, "no valid keys for the RAM role") != NULL);
  credentials_close(c);

  /* A broken default file and no metadata service: the reasons. */
  setenv("ALIBABA_CLOUD_PROFILE", "nobody", 1);
  c = open_with((credentials_options_t){0}, warning);
  OK(c == NULL);
  printf("# why: %s\n", why);
  OK(strstr(why, "no credentials") != NULL);
  OK(strstr(why, "profile [nobody] not found") != NULL);
  OK(strstr(why, "127.0.0.1:9") != NULL);

  /* No file at all. */
  unlink(file);
  c = open_with((credentials_options_t){0}, warning);
  OK(c == NULL);
  OK(strstr(why, "no credentials file") != NULL);

  /* A block's file that is missing is an error, not a fallback. */
  c = open_with((credentials_options_t){.credentials_file = file}, warning);
  OK(c == NULL);
  OK(strstr(why, "cannot open") != NULL);
  clear_env();
  return 0;
}

/* Keys refused: a credentials file rewritten in place within the same
 * second, to the same size, looks unchanged; it is read again all the same
 * (not more often than every 10 s), and the keys' generation grows. */
DEF_TEST(refused_keys_reread_the_file) {
  char file[256];
  snprintf(file, sizeof(file), "%s/refused", dir);
  write_file(file,
             "[default]\ntype = access_key\naccess_key_id = LTAIold1\n"
             "access_key_secret = secret-1\n",
             0600);
  struct stat st;
  CHECK_ZERO(stat(file, &st));
  credentials_t *c =
      open_with((credentials_options_t){.credentials_file = file}, NULL);
  CHECK_NOT_NULL(c);
  access_key_t key;
  CHECK_ZERO(credentials_get(c, 1000, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("LTAIold1", key.access_key_id);
  unsigned first = key.generation;

  FILE *fh = fopen(file, "r+"); /* in place: the same inode */
  fputs("[default]\ntype = access_key\naccess_key_id = LTAInew2\n"
        "access_key_secret = secret-2\n",
        fh);
  fclose(fh);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  CHECK_ZERO(utimensat(AT_FDCWD, file, times, 0));

  CHECK_ZERO(credentials_get(c, 1001, false, &key, why, sizeof(why)));
  EXPECT_EQ_STR("LTAIold1", key.access_key_id); /* looks unchanged */
  CHECK_ZERO(credentials_get(c, 1002, true, &key, why, sizeof(why)));
  EXPECT_EQ_STR("LTAInew2", key.access_key_id);
  OK(key.generation > first);
  unsigned second = key.generation;
  CHECK_ZERO(credentials_get(c, 1003, true, &key, why, sizeof(why)));
  EXPECT_EQ_INT(second, key.generation); /* not again within 10 s */
  credentials_close(c);
  unlink(file);
  return 0;
}

int main(void) {
  if (mkdtemp(dir) == NULL)
    return 1;
  RUN_TEST(ini_profiles);
  RUN_TEST(ini_errors);
  RUN_TEST(metadata_document);
  RUN_TEST(ini_with_a_byte_order_mark);
  RUN_TEST(control_characters_are_refused);
  RUN_TEST(a_fifo_is_not_a_credentials_file);
  RUN_TEST(precedence);
  RUN_TEST(refused_keys_reread_the_file);
  rmdir(dir);
  END_TEST;
}
