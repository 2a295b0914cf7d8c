/**
 * collectd-ddoscoo - src/credentials_file.h
 * SPDX-License-Identifier: MIT
 *
 * The Alibaba Cloud SDKs' INI credentials file (~/.alibabacloud/credentials):
 * one profile of type access_key, sts or ecs_ram_role. Pure: no collectd,
 * no network.
 */
#ifndef CREDENTIALS_FILE_H
#define CREDENTIALS_FILE_H 1

#include <stdbool.h>
#include <stddef.h>

#define CREDENTIALS_FILE_MAX_SIZE (1024 * 1024)

typedef enum {
  PROFILE_ACCESS_KEY,   /* access_key_id, access_key_secret */
  PROFILE_STS,          /* the same, and security_token */
  PROFILE_ECS_RAM_ROLE, /* role_name */
} profile_type_t;

typedef struct {
  profile_type_t type;
  char *access_key_id;
  char *access_key_secret;
  char *security_token;
  char *role_name;
} profile_t;

/* Whether s is free of control characters (C0 and DEL): a key, token or
 * role name with one, a newline above all, would split a request's
 * headers. */
bool credentials_text_ok(const char *s);

/* Reads profile `name` from INI text: `[name]` sections, `key = value`
 * lines, `#` and `;` comments, blank lines, a UTF-8 byte order mark at the
 * start; keys are case-sensitive, values are trimmed (and unquoted); a value
 * of ours with a control character is refused. Returns 0, or -1 with the
 * reason in why (naming the line or the missing key, never a value). */
int credentials_file_parse(const char *text, size_t len, const char *name,
                           profile_t *profile, char *why, size_t why_size);

/* The same from a file, which must be a regular file (not waited for if it
 * is a FIFO). */
int credentials_file_read(const char *path, const char *name,
                          profile_t *profile, char *why, size_t why_size);

/* Frees the strings (secrets wiped first) and zeroes the profile. */
void profile_clear(profile_t *profile);

#endif /* CREDENTIALS_FILE_H */
