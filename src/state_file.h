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

#include <stddef.h>
#include <time.h>

#define STATE_MAX_ENTRIES 100000
#define STATE_MAX_KEY 256

typedef struct {
  char key[STATE_MAX_KEY]; /* "<block>/<plugin_instance>" */
  time_t end;
} state_entry_t;

typedef struct {
  state_entry_t *entries;
  size_t count;
  size_t size;
} state_t;

#define STATE_INIT                                                             \
  { NULL, 0, 0 }

/* Replaces st's entries with path's. A missing file is an empty state
 * (returns 0). A file that is not ours, or has any malformed line, leaves
 * st empty and returns -1 with the reason in why: half a state is worse
 * than none. */
int state_load(state_t *st, const char *path, char *why, size_t why_size);

/* Writes st to path atomically (a temporary file beside it, fsync, rename).
 * Returns 0, or -1 with the reason in why. */
int state_save(const state_t *st, const char *path, char *why, size_t why_size);

/* The EndTime stored for key, or 0. */
time_t state_get(const state_t *st, const char *key);

/* Stores end for key. Returns 0, or -1 if the key is too long or empty, or
 * memory or STATE_MAX_ENTRIES ran out. */
int state_set(state_t *st, const char *key, time_t end);

void state_clear(state_t *st);

#endif /* STATE_FILE_H */
