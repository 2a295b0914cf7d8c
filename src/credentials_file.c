/**
 * collectd-ddoscoo - src/credentials_file.c
 * SPDX-License-Identifier: MIT
 *
 * The INI credentials file; see credentials_file.h.
 */
#include "credentials_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static void free_secret(char *s) {
  if (s != NULL)
    OPENSSL_cleanse(s, strlen(s));
  free(s);
}

void profile_clear(profile_t *profile) {
  free(profile->access_key_id);
  free_secret(profile->access_key_secret);
  free_secret(profile->security_token);
  free(profile->role_name);
  memset(profile, 0, sizeof(*profile));
}

bool credentials_text_ok(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++)
    if (*p < 0x20 || *p == 0x7F)
      return false;
  return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* [start, end) without surrounding white space and, for values, quotes. */
static void trim(const char **start, const char **end, bool unquote) {
  while (*start < *end && is_space(**start))
    (*start)++;
  while (*end > *start && is_space((*end)[-1]))
    (*end)--;
  if (unquote && *end - *start >= 2 && **start == '"' && (*end)[-1] == '"') {
    (*start)++;
    (*end)--;
  }
}

static bool equals(const char *s, const char *e, const char *word) {
  size_t n = strlen(word);
  return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* Stores a copy of [s, e) in *field, replacing an earlier value. */
static int set_field(char **field, const char *s, const char *e) {
  char *v = strndup(s, (size_t)(e - s));
  if (v == NULL)
    return -1;
  free_secret(*field);
  *field = v;
  return 0;
}

int credentials_file_parse(const char *text, size_t len, const char *name,
                           profile_t *profile, char *why, size_t why_size) {
  memset(profile, 0, sizeof(*profile));
  char *type = NULL;
  bool found = false;
  bool in_profile = false;
  int status = 0;
  unsigned line_no = 0;

  /* A byte order mark, as Windows editors save UTF-8. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    text += 3, len -= 3;

  for (const char *line = text, *end = text + len; line < end && status == 0;
       line_no++) {
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (eol == NULL)
      eol = end;
    const char *s = line, *e = eol;
    line = eol + 1;
    trim(&s, &e, false);

    if (s == e || *s == '#' || *s == ';')
      continue;
    if (memchr(s, 0, (size_t)(e - s)) != NULL) {
      snprintf(why, why_size, "line %u holds a NUL byte", line_no + 1);
      status = -1;
    } else if (*s == '[') {
      if (e[-1] != ']') {
        snprintf(why, why_size, "line %u: a section needs a closing ']'",
                 line_no + 1);
        status = -1;
        break;
      }
      const char *ns = s + 1, *ne = e - 1;
      trim(&ns, &ne, false);
      in_profile = equals(ns, ne, name);
      found = found || in_profile;
    } else {
      const char *eq = memchr(s, '=', (size_t)(e - s));
      if (eq == NULL) {
        snprintf(why, why_size,
                 "line %u is not a section, a key = value or a comment",
                 line_no + 1);
        status = -1;
        break;
      }
      if (!in_profile)
        continue;
      const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
      trim(&ks, &ke, false);
      trim(&vs, &ve, true);
      static const char *const keys[] = {"type", "access_key_id",
                                         "access_key_secret", "security_token",
                                         "role_name"};
      char **fields[] = {&type, &profile->access_key_id,
                         &profile->access_key_secret, &profile->security_token,
                         &profile->role_name};
      size_t k = 0;
      while (k < 5 && !equals(ks, ke, keys[k]))
        k++;
      /* Other keys (region_id, enable, ...) are not ours to judge. */
      if (k == 5)
        continue;
      if (set_field(fields[k], vs, ve) != 0) {
        snprintf(why, why_size, "out of memory");
        status = -1;
      } else if (!credentials_text_ok(*fields[k])) {
        /* A carriage return or other control character would end up in
         * a request's headers. */
        snprintf(why, why_size, "line %u: %s holds a control character",
                 line_no + 1, keys[k]);
        status = -1;
      }
    }
  }

  if (status == 0 && !found) {
    snprintf(why, why_size, "profile [%s] not found", name);
    status = -1;
  } else if (status == 0) {
    struct {
      const char *name;
      profile_type_t type;
      bool key, token, role;
    } types[] = {
        {"access_key", PROFILE_ACCESS_KEY, true, false, false},
        {"sts", PROFILE_STS, true, true, false},
        {"ecs_ram_role", PROFILE_ECS_RAM_ROLE, false, false, true},
    };
    size_t t = 0;
    while (t < 3 && (type == NULL || strcmp(type, types[t].name) != 0))
      t++;
    const char *missing = NULL;
    if (t == 3) {
      snprintf(why, why_size,
               "profile [%s]: type is %s; access_key, sts or ecs_ram_role "
               "are supported",
               name, type ? "not one of those" : "missing");
      status = -1;
    } else if (types[t].key && (profile->access_key_id == NULL ||
                                profile->access_key_id[0] == 0)) {
      missing = "access_key_id";
    } else if (types[t].key && (profile->access_key_secret == NULL ||
                                profile->access_key_secret[0] == 0)) {
      missing = "access_key_secret";
    } else if (types[t].token && (profile->security_token == NULL ||
                                  profile->security_token[0] == 0)) {
      missing = "security_token";
    } else if (types[t].role &&
               (profile->role_name == NULL || profile->role_name[0] == 0)) {
      missing = "role_name";
    } else {
      profile->type = types[t].type;
    }
    if (missing != NULL) {
      snprintf(why, why_size, "profile [%s] (type %s) has no %s", name,
               types[t].name, missing);
      status = -1;
    }
  }

  free(type);
  if (status != 0)
    profile_clear(profile);
  return status;
}

int credentials_file_read(const char *path, const char *name,
                          profile_t *profile, char *why, size_t why_size) {
  memset(profile, 0, sizeof(*profile));
  /* Without waiting: a FIFO would block open() until a writer came. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat sb;
  if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
    close(fd);
    snprintf(why, why_size, "%s is not a regular file", path);
    return -1;
  }
  FILE *fh = (fd >= 0) ? fdopen(fd, "r") : NULL;
  if (fh == NULL) {
    snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  char *text = malloc(CREDENTIALS_FILE_MAX_SIZE + 1);
  size_t len =
      (text != NULL) ? fread(text, 1, CREDENTIALS_FILE_MAX_SIZE + 1, fh) : 0;
  int read_error = ferror(fh);
  fclose(fh);

  int status = -1;
  if (text == NULL)
    snprintf(why, why_size, "out of memory");
  else if (read_error)
    snprintf(why, why_size, "cannot read %s", path);
  else if (len > CREDENTIALS_FILE_MAX_SIZE)
    snprintf(why, why_size, "%s is larger than %d bytes", path,
             CREDENTIALS_FILE_MAX_SIZE);
  else
    status = credentials_file_parse(text, len, name, profile, why, why_size);

  if (text != NULL)
    OPENSSL_cleanse(text, len);
  free(text);
  return status;
}
