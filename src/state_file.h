/**
 * collectd-ddoscoo - src/state_file.h
 * SPDX-License-Identifier: MIT
 *
 * The StateFile: the EndTime of the newest dispatched window of each
 * series, kept across restarts so that a restarted collectd fills the gap.
 * Pure: no collectd; callers serialise access.
 */
#ifndef STATE_FILE_H
#define STATE_FILE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STATE_MAX_ENTRIES 100000
#define STATE_MAX_KEY 256 /* bytes, with the terminating NUL */

typedef struct {
  char *key; /* "<block>/<plugin_instance>", UTF-8 */
  time_t end;
  uint32_t hash;
} state_entry_t;

/* The entries in the order they were first set (the file's order), and a
 * hash table over them for lookups in constant time. */
typedef struct {
  state_entry_t *entries;
  size_t count;
  size_t size;
  uint32_t *slots;   /* index into entries + 1; 0: free */
  size_t slot_count; /* a power of two, or 0 */
} state_t;

#define STATE_INIT                                                             \
  { NULL, 0, 0, NULL, 0 }

/* Replaces st's entries with path's. A missing file is an empty state
 * (returns 0). A file that is not ours, or has any malformed line, leaves
 * st empty and returns -1 with the reason in why: half a state is worse
 * than none. Something other than a regular file (a FIFO, a directory, a
 * device) is not opened for reading, let alone waited for: st empty and
 * STATE_NOT_A_FILE. */
#define STATE_NOT_A_FILE (-2)
int state_load(state_t *st, const char *path, char *why, size_t why_size);

/* st in the file's format, in a buffer the caller frees: a snapshot that
 * can be written without st. Returns 0, or ENOMEM. */
int state_format(const state_t *st, char **text, size_t *len);

/* Replaces path with text: a new file beside it (mkstemp, mode 0600),
 * written, synced and renamed over path, and the directory synced. Nothing
 * is left behind on failure. Returns 0, or -1 with the reason in why. */
int state_write(const char *path, const char *text, size_t len, char *why,
                size_t why_size);

/* state_format and state_write. */
int state_save(const state_t *st, const char *path, char *why, size_t why_size);

/* The EndTime stored for key, or 0. */
time_t state_get(const state_t *st, const char *key);

/* Stores end for key. Returns 0; EINVAL if the key is empty, longer than
 * STATE_MAX_KEY - 1 bytes, not UTF-8 or holds a control character; ENOSPC
 * if STATE_MAX_ENTRIES are stored already; ENOMEM. */
int state_set(state_t *st, const char *key, time_t end);

/* The key under which key is kept: key itself when state_set takes it
 * (every key of an older file stays as it was), else one it takes, the
 * same at every start: the text of key up to some 230 bytes, bytes that are
 * not UTF-8 text or are control characters as \xHH, and "~" and 16 hex
 * digits of a hash of the whole of key. out has room for STATE_MAX_KEY
 * bytes. */
void state_fit_key(const char *key, char *out);

/* Removes the entries for which drop says so, keeping the others' order.
 * Returns how many went. */
size_t state_remove_if(state_t *st,
                       bool (*drop)(const state_entry_t *e, void *ctx),
                       void *ctx);

void state_clear(state_t *st);

/* Takes the lock that says path is in use, an exclusive flock(2) on
 * "<path>.lock" (the file itself is replaced at every write), without
 * waiting; *fd holds it until closed, by the process's end at the latest.
 * Returns 0; EBUSY if another process (or another open of it) holds it;
 * -1 if it cannot be taken; each with the reason in why. */
int state_file_lock(const char *path, int *fd, char *why, size_t why_size);

#endif /* STATE_FILE_H */
