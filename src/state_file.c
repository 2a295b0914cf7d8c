/**
 * collectd-ddoscoo - src/state_file.c
 * SPDX-License-Identifier: MIT
 *
 * The StateFile; see state_file.h. Format, one entry a line after a header:
 *
 *   # collectd-ddoscoo state 1
 *   <EndTime>\t<block>/<plugin_instance>
 *
 * Keys are UTF-8: remarks name series (InstanceNames) in any language.
 */
#define _GNU_SOURCE /* mkostemp */

#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_HEADER "# collectd-ddoscoo state 1\n"

/* The smallest code point that needs 1, 2, 3 or 4 bytes: anything below is
 * an overlong encoding. */
static const uint32_t utf8_min[] = {0, 0x80, 0x800, 0x10000};

/* The length of the well-formed UTF-8 character (RFC 3629) at s that is not
 * a control character (C0, DEL, C1: a tab or a newline would break the
 * file's lines), or 0. */
static size_t key_char(const unsigned char *s) {
  unsigned char c = s[0];
  uint32_t cp;
  size_t more;
  if (c < 0x80) {
    cp = c, more = 0;
  } else if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1F, more = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0F, more = 2;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07, more = 3;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= more; k++) {
    if ((s[k] & 0xC0) != 0x80) /* a NUL ends here too */
      return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if (cp < utf8_min[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
    return 0;
  return more + 1;
}

/* Non-empty, shorter than STATE_MAX_KEY, well-formed UTF-8 and no control
 * characters. */
static bool valid_key(const char *key) {
  const unsigned char *s = (const unsigned char *)key;
  size_t i = 0;
  while (s[i] != 0) {
    size_t len = key_char(s + i);
    if (len == 0)
      return false;
    i += len;
    if (i >= STATE_MAX_KEY)
      return false;
  }
  return i > 0;
}

/* FNV-1a, 64 bits: the same on every machine and at every start. */
static uint64_t key_hash64(const char *key) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (const unsigned char *p = (const unsigned char *)key; *p != 0; p++)
    h = (h ^ *p) * UINT64_C(1099511628211);
  return h;
}

/* "~" and 16 hex digits. */
#define KEY_HASH_LEN 17

void state_fit_key(const char *key, char *out) {
  if (valid_key(key)) {
    memcpy(out, key, strlen(key) + 1);
    return;
  }
  const unsigned char *s = (const unsigned char *)key;
  size_t limit = STATE_MAX_KEY - 1 - KEY_HASH_LEN;
  size_t n = 0;
  for (size_t i = 0; s[i] != 0;) {
    size_t len = key_char(s + i);
    if (len > 0) {
      if (n + len > limit)
        break;
      memcpy(out + n, s + i, len);
      n += len, i += len;
    } else {
      if (n + 4 > limit)
        break;
      snprintf(out + n, 5, "\\x%02x", s[i]);
      n += 4, i++;
    }
  }
  snprintf(out + n, STATE_MAX_KEY - n, "~%016" PRIx64, key_hash64(key));
}

/* FNV-1a, 32 bits. */
static uint32_t key_hash(const char *key) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)key; *p != 0; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}

void state_clear(state_t *st) {
  for (size_t i = 0; i < st->count; i++)
    free(st->entries[i].key);
  free(st->entries);
  free(st->slots);
  *st = (state_t)STATE_INIT;
}

/* Open addressing with linear probing: the slot holding key, or the free
 * slot where it would go. Entries are only removed with a rebuild of the
 * table, so a free slot ends every probe. */
static size_t find_slot(const state_t *st, const char *key, uint32_t hash) {
  size_t mask = st->slot_count - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t slot = st->slots[i];
    if (slot == 0)
      return i;
    const state_entry_t *e = st->entries + slot - 1;
    if (e->hash == hash && strcmp(e->key, key) == 0)
      return i;
  }
}

time_t state_get(const state_t *st, const char *key) {
  if (st->slot_count == 0)
    return 0;
  uint32_t slot = st->slots[find_slot(st, key, key_hash(key))];
  return (slot == 0) ? 0 : st->entries[slot - 1].end;
}

/* Room for one more entry at most 70 % load, so probes stay short. */
static int reserve(state_t *st) {
  if ((st->count + 1) * 10 > st->slot_count * 7) {
    size_t slot_count = (st->slot_count == 0) ? 64 : 2 * st->slot_count;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL)
      return ENOMEM;
    free(st->slots);
    st->slots = slots;
    st->slot_count = slot_count;
    for (size_t i = 0; i < st->count; i++) {
      size_t mask = slot_count - 1;
      size_t j = st->entries[i].hash & mask;
      while (slots[j] != 0)
        j = (j + 1) & mask;
      slots[j] = (uint32_t)(i + 1);
    }
  }
  if (st->count == st->size) {
    size_t size = (st->size == 0) ? 64 : 2 * st->size;
    state_entry_t *entries = realloc(st->entries, size * sizeof(*entries));
    if (entries == NULL)
      return ENOMEM;
    st->entries = entries;
    st->size = size;
  }
  return 0;
}

int state_set(state_t *st, const char *key, time_t end) {
  if (!valid_key(key))
    return EINVAL;
  uint32_t hash = key_hash(key);
  if (st->slot_count > 0) {
    uint32_t slot = st->slots[find_slot(st, key, hash)];
    if (slot != 0) {
      st->entries[slot - 1].end = end;
      return 0;
    }
  }
  if (st->count >= STATE_MAX_ENTRIES)
    return ENOSPC;
  char *copy = strdup(key);
  if (copy == NULL || reserve(st) != 0) {
    free(copy);
    return ENOMEM;
  }
  st->entries[st->count] =
      (state_entry_t){.key = copy, .end = end, .hash = hash};
  st->slots[find_slot(st, key, hash)] = (uint32_t)(++st->count);
  return 0;
}

size_t state_remove_if(state_t *st,
                       bool (*drop)(const state_entry_t *e, void *ctx),
                       void *ctx) {
  size_t kept = 0;
  for (size_t i = 0; i < st->count; i++) {
    if (drop(st->entries + i, ctx))
      free(st->entries[i].key);
    else
      st->entries[kept++] = st->entries[i];
  }
  size_t removed = st->count - kept;
  if (removed == 0)
    return 0;
  /* Probes end at a free slot: the table is built anew, not patched. */
  st->count = kept;
  memset(st->slots, 0, st->slot_count * sizeof(*st->slots));
  for (size_t i = 0; i < kept; i++)
    st->slots[find_slot(st, st->entries[i].key, st->entries[i].hash)] =
        (uint32_t)(i + 1);
  return removed;
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

/* path opened for reading without waiting for a writer (a FIFO would block
 * open() for good): -1 with errno if it cannot be opened, -2 if it is not a
 * regular file. */
static int open_regular(const char *path, int flags) {
  int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return -2;
  }
  return fd;
}

int state_load(state_t *st, const char *path, char *why, size_t why_size) {
  state_clear(st);
  int fd = open_regular(path, O_RDONLY);
  if (fd == -2) {
    snprintf(why, why_size, "not a regular file");
    return STATE_NOT_A_FILE;
  }
  FILE *fh = (fd >= 0) ? fdopen(fd, "r") : NULL;
  if (fh == NULL) {
    if (errno == ENOENT)
      return 0;
    snprintf(why, why_size, "cannot open: %s", strerror(errno));
    if (fd >= 0)
      close(fd);
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
    } else if ((status = state_set(st, key, end)) != 0) {
      snprintf(why, why_size, "%s",
               status == ENOSPC ? "too many entries" : "out of memory");
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

int state_format(const state_t *st, char **text, size_t *len) {
  /* A line: at most 20 digits, a tab, the key, a newline. */
  size_t size = sizeof(STATE_HEADER);
  for (size_t i = 0; i < st->count; i++)
    size += 22 + strlen(st->entries[i].key);
  char *buf = malloc(size);
  if (buf == NULL)
    return ENOMEM;

  size_t n = (size_t)snprintf(buf, size, "%s", STATE_HEADER);
  for (size_t i = 0; i < st->count; i++)
    n += (size_t)snprintf(buf + n, size - n, "%" PRIdMAX "\t%s\n",
                          (intmax_t)st->entries[i].end, st->entries[i].key);
  *text = buf;
  *len = n;
  return 0;
}

/* The directory entry of a rename is only durable once the directory is
 * synced. A file system that cannot sync directories (EINVAL) has to do. */
static int sync_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, sizeof(dir), ".");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path),
             path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int status = (fsync(fd) != 0 && errno != EINVAL) ? -1 : 0;
  int err = errno;
  close(fd);
  errno = err;
  return status;
}

int state_write(const char *path, const char *text, size_t len, char *why,
                size_t why_size) {
  /* A name of mkstemp's choosing, created O_EXCL: a link planted beside
   * the file cannot redirect the write, and two writers never share one. */
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
    snprintf(why, why_size, "path too long");
    return -1;
  }
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_size, "cannot create a file beside %s: %s", path,
             strerror(errno));
    return -1;
  }

  const char *failed = NULL;
  int err = 0;
  /* mkstemp's mode is 0600 less the umask; exactly 0600, whatever it is. */
  if (fchmod(fd, 0600) != 0)
    failed = "cannot set the mode of", err = errno;
  for (size_t done = 0; failed == NULL && done < len;) {
    ssize_t n = write(fd, text + done, len - done);
    if (n > 0)
      done += (size_t)n;
    else if (n == 0 || errno != EINTR)
      failed = "cannot write", err = (n == 0) ? EIO : errno;
  }
  /* Data on disk before the rename, or a crash could leave an empty file. */
  if (failed == NULL && fsync(fd) != 0)
    failed = "cannot sync", err = errno;
  if (close(fd) != 0 && failed == NULL)
    failed = "cannot close", err = errno;
  if (failed != NULL) {
    snprintf(why, why_size, "%s %s: %s", failed, tmp, strerror(err));
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    snprintf(why, why_size, "cannot rename %s to %s: %s", tmp, path,
             strerror(errno));
    unlink(tmp);
    return -1;
  }
  if (sync_dir(path) != 0) {
    snprintf(why, why_size, "cannot sync the directory of %s: %s", path,
             strerror(errno));
    return -1;
  }
  return 0;
}

int state_save(const state_t *st, const char *path, char *why,
               size_t why_size) {
  char *text;
  size_t len;
  if (state_format(st, &text, &len) != 0) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  int status = state_write(path, text, len, why, why_size);
  free(text);
  return status;
}

int state_file_lock(const char *path, int *fd, char *why, size_t why_size) {
  char lock[4096];
  *fd = -1;
  if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock)) {
    snprintf(why, why_size, "path too long");
    return -1;
  }
  int f = open_regular(lock, O_RDWR | O_CREAT | O_NOFOLLOW);
  if (f == -2) {
    snprintf(why, why_size, "%s is not a regular file", lock);
    return -1;
  }
  if (f < 0) {
    snprintf(why, why_size, "cannot open %s: %s", lock, strerror(errno));
    return -1;
  }
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(f);
    if (err == EWOULDBLOCK) {
      snprintf(why, why_size, "%s is locked by another process", lock);
      return EBUSY;
    }
    snprintf(why, why_size, "cannot lock %s: %s", lock, strerror(err));
    return -1;
  }
  *fd = f;
  return 0;
}
