/**
 * collectd-ddoscoo - tests/fuzz/fuzz_credentials_file.c
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer target for what the plugin reads of its credentials: the INI
 * credentials file (src/credentials_file.c) and the metadata service's
 * JSON document (src/ecs_metadata.c). The first byte picks the parser and,
 * for the INI file, the profile asked for.
 */
#include "credentials_file.h"
#include "ecs_metadata.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key, token or role name with a control character would split the
 * headers of a request signed with it. */
static void check_text(const char *s, const char *what) {
  if (s == NULL)
    return;
  for (const char *p = s; *p != 0; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7F) {
      fprintf(stderr, "%s holds a control character\n", what);
      abort();
    }
}

static void check_reason(const char *why, size_t size) {
  if (memchr(why, 0, size) == NULL || why[0] == 0) {
    fprintf(stderr, "reason unterminated or empty\n");
    abort();
  }
}

static void check_empty(const profile_t *p) {
  if (p->access_key_id || p->access_key_secret || p->security_token ||
      p->role_name) {
    fprintf(stderr, "a failed parse left keys behind\n");
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  static const char *const profiles[] = {"default", "tmp", "on-ecs", "a b"};
  uint8_t mode = data[0];
  const char *text = (const char *)data + 1;
  size_t len = size - 1;

  profile_t p;
  char why[512];
  memset(why, 'x', sizeof(why));
  if (mode & 1) {
    time_t expiration = 0;
    if (ecs_metadata_parse(text, len, &p, &expiration, why, sizeof(why)) == 0) {
      if (p.type != PROFILE_STS || !p.access_key_id || !p.access_key_id[0] ||
          !p.access_key_secret || !p.access_key_secret[0] ||
          !p.security_token || !p.security_token[0] || expiration <= 0) {
        fprintf(stderr, "metadata keys incomplete\n");
        abort();
      }
      check_text(p.access_key_id, "AccessKeyId");
      check_text(p.access_key_secret, "AccessKeySecret");
      check_text(p.security_token, "SecurityToken");
      profile_clear(&p);
    } else {
      check_reason(why, sizeof(why));
      check_empty(&p);
    }
    return 0;
  }

  const char *name = profiles[(mode >> 1) % 4];
  if (credentials_file_parse(text, len, name, &p, why, sizeof(why)) == 0) {
    int ok = 0;
    switch (p.type) {
    case PROFILE_ACCESS_KEY:
      ok = p.access_key_id && p.access_key_id[0] && p.access_key_secret &&
           p.access_key_secret[0];
      break;
    case PROFILE_STS:
      ok = p.access_key_id && p.access_key_id[0] && p.access_key_secret &&
           p.access_key_secret[0] && p.security_token && p.security_token[0];
      break;
    case PROFILE_ECS_RAM_ROLE:
      ok = p.role_name && p.role_name[0];
      break;
    }
    if (!ok) {
      fprintf(stderr, "profile of its type incomplete\n");
      abort();
    }
    check_text(p.access_key_id, "access_key_id");
    check_text(p.access_key_secret, "access_key_secret");
    check_text(p.security_token, "security_token");
    check_text(p.role_name, "role_name");
    profile_clear(&p);
  } else {
    check_reason(why, sizeof(why));
    check_empty(&p);
  }
  return 0;
}
