/**
 * collectd-ddoscoo - src/state_file.c
 * SPDX-License-Identifier: MIT
 *
 * The StateFile; see state_file.h. Format, one entry a line after a header:
 *
 *   # collectd-ddoscoo state 1
 *   <EndTime>\t<block>/<plugin_instance>
 */
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_HEADER "# collectd-ddoscoo state 1\n"

static bool valid_key(const char *key) {
  size_t len = strlen(key);
  return len > 0 && len < STATE_MAX_KEY &&
         strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-/") == len;
}

void state_clear(state_t *st) {
  free(st->entries);
  *st = (state_t)STATE_INIT;
}

time_t state_get(const state_t *st, const char *key) {
  for (size_t i = 0; i < st->count; i++)
    if (strcmp(st->entries[i].key, key) == 0)
      return st->entries[i].end;
  return 0;
}

int state_set(state_t *st, const char *key, time_t end) {
  if (!valid_key(key))
    return -1;
  for (size_t i = 0; i < st->count; i++) {
    if (strcmp(st->entries[i].key, key) == 0) {
      st->entries[i].end = end;
      return 0;
    }
  }
  if (st->count >= STATE_MAX_ENTRIES)
    return -1;
  if (st->count == st->size) {
    size_t size = (st->size == 0) ? 64 : 2 * st->size;
    state_entry_t *entries = realloc(st->entries, size * sizeof(*entries));
    if (entries == NULL)
      return -1;
    st->entries = entries;
    st->size = size;
  }
  state_entry_t *e = st->entries + st->count++;
  memcpy(e->key, key, strlen(key) + 1);
  e->end = end;
  return 0;
}

/* "<digits>\t<key>\n" */
static int parse_line(char *line, time_t *end, char **key) {
  size_t len = strlen(line);
  if (len == 0 || line[len - 1] != '\n')
    return -1; /* cut short, or longer than the buffer */
  line[len - 1] = 0;

  size_t digits = strspn(line, "0123456789");
  if (digits == 0 || digits > 12 || line[digits] != '\t')
    return -1;
  line[digits] = 0;
  *end = (time_t)strtoll(line, NULL, 10);
  *key = line + digits + 1;
  return valid_key(*key) ? 0 : -1;
}

int state_load(state_t *st, const char *path, char *why, size_t why_size) {
  state_clear(st);
  FILE *fh = fopen(path, "r");
  if (fh == NULL) {
    if (errno == ENOENT)
      return 0;
    snprintf(why, why_size, "cannot open: %s", strerror(errno));
    return -1;
  }

  char line[STATE_MAX_KEY + 32];
  int status = 0;
  if (fgets(line, sizeof(line), fh) == NULL || strcmp(line, STATE_HEADER)) {
    snprintf(why, why_size, "not a collectd-ddoscoo state file");
    status = -1;
  }
  for (unsigned n = 2; status == 0 && fgets(line, sizeof(line), fh); n++) {
    time_t end;
    char *key;
    if (parse_line(line, &end, &key) != 0) {
      snprintf(why, why_size, "line %u is malformed", n);
      status = -1;
    } else if (state_set(st, key, end) != 0) {
      snprintf(why, why_size, "too many entries");
      status = -1;
    }
  }
  if (status == 0 && ferror(fh)) {
    snprintf(why, why_size, "read error");
    status = -1;
  }
  fclose(fh);
  if (status != 0)
    state_clear(st);
  return status;
}

int state_save(const state_t *st, const char *path, char *why,
               size_t why_size) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
    snprintf(why, why_size, "path too long");
    return -1;
  }

  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FILE *fh = (fd < 0) ? NULL : fdopen(fd, "w");
  if (fh == NULL) {
    snprintf(why, why_size, "cannot create %s: %s", tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }

  fputs(STATE_HEADER, fh);
  for (size_t i = 0; i < st->count; i++)
    fprintf(fh, "%" PRIdMAX "\t%s\n", (intmax_t)st->entries[i].end,
            st->entries[i].key);

  /* Data on disk before the rename, or a crash could leave an empty file. */
  int status = (fflush(fh) != 0 || fsync(fileno(fh)) != 0) ? -1 : 0;
  if (fclose(fh) != 0)
    status = -1;
  if (status == 0 && rename(tmp, path) != 0)
    status = -1;
  if (status != 0) {
    snprintf(why, why_size, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
  }
  return status;
}
