/**
 * collectd-ddoscoo - src/state_store.c
 * SPDX-License-Identifier: MIT
 *
 * The plugin-wide StateFile, shared by every block: loaded at init, each
 * block's series carry on from it at their first read, rewritten after
 * reads that dispatched something.
 *
 * Two locks. state_lock guards the entries and is only held for memory
 * work, so no read waits for the disk. write_lock is held by the one
 * writer at a time, from its snapshot to its rename: snapshots are taken
 * in the order they reach the file, so an older one never replaces a newer
 * one. A writer that finds another at work does not wait: what it would
 * have written is still marked dirty, and goes with the next write.
 */
#include "state_store.h"

#include "utils/common/common.h"

#include "state_file.h"

static char *state_path;
static state_t state = STATE_INIT;
static bool state_dirty;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static c_complain_t write_complaint = C_COMPLAIN_INIT_STATIC;
static c_complain_t key_complaint = C_COMPLAIN_INIT_STATIC;
static c_complain_t mark_complaint = C_COMPLAIN_INIT_STATIC;
static int lock_fd = -1; /* "<StateFile>.lock", held from init to shutdown */

int state_store_configure(const char *path) {
  sfree(state_path);
  state_path = strdup(path);
  return (state_path == NULL) ? ENOMEM : 0;
}

/* Without the lock another collectd has the file: both would replace it
 * in turn with their own entries, each losing the other's. */
void state_store_load(void) {
  char why[512];
  if (state_path == NULL)
    return;
  int locked = state_file_lock(state_path, &lock_fd, why, sizeof(why));
  if (locked == EBUSY) {
    ERROR(PLUGIN_NAME " plugin: StateFile \"%s\" is in use by another "
                      "collectd (%s); running without a StateFile: after a "
                      "restart this one's series start afresh.",
          state_path, why);
    sfree(state_path);
    return;
  }
  if (locked != 0)
    WARNING(PLUGIN_NAME " plugin: StateFile \"%s\": %s; another collectd "
                        "using the same file would go unnoticed.",
            state_path, why);

  int status = state_load(&state, state_path, why, sizeof(why));
  if (status == STATE_NOT_A_FILE) {
    ERROR(PLUGIN_NAME " plugin: StateFile \"%s\" is not a regular file; "
                      "running without a StateFile.",
          state_path);
    sfree(state_path);
    if (lock_fd >= 0)
      close(lock_fd);
    lock_fd = -1;
  } else if (status != 0) {
    ERROR(PLUGIN_NAME " plugin: StateFile \"%s\": %s; ignoring it, and "
                      "writing it anew.",
          state_path, why);
  } else {
    INFO(PLUGIN_NAME " plugin: StateFile \"%s\": %zu series known.", state_path,
         state.count);
  }
}

/* Room for the longest block name, plugin_instance and variant: a key too
 * long for the file is shortened by state_fit_key, from all of it. */
#define KEY_SIZE STATE_STORE_KEY_SIZE

static void state_key(const account_t *a, const series_t *s, char *key) {
  ssnprintf(key, KEY_SIZE, "%s/%s%s%s%s", a->name, s->plugin_instance,
            s->stat->state_suffix, s->variant ? "/" : "",
            s->variant ? s->variant->value : "");
}

/* At a block's first read: where each series stopped before the restart.
 * A time ahead of the window now due (a clock set back, a foreign file)
 * is ignored rather than left to block the series. */
void state_store_restore(const account_t *a, series_t *s, time_t latest) {
  if (state_path == NULL)
    return;
  char key[KEY_SIZE];
  state_key(a, s, key);

  char fit[STATE_MAX_KEY];
  state_fit_key(key, fit);
  pthread_mutex_lock(&state_lock);
  time_t end = state_get(&state, fit);
  pthread_mutex_unlock(&state_lock);
  if (end > latest || (end != 0 && end % series_window(a, s) != 0))
    WARNING(PLUGIN_NAME " plugin: Account \"%s\", series %s: ignoring the "
                        "StateFile's EndTime %lld, not a window before now.",
            a->name, s->plugin_instance, (long long)end);
  else
    s->w.last_end = end;
}

/* With state_lock held: stores value under key, fit for the file. Returns
 * 0, or ENOSPC or ENOMEM with the key as kept in fit. */
static int set_entry(const char *key, time_t value, char *fit) {
  state_fit_key(key, fit);
  int status = state_set(&state, fit, value);
  if (status == 0)
    state_dirty = true;
  return status;
}

static const char *set_error(int status) {
  return (status == ENOSPC) ? "the file is full" : "out of memory";
}

void state_store_remember(const account_t *a, const series_t *s) {
  if (state_path == NULL)
    return;
  char key[KEY_SIZE], fit[STATE_MAX_KEY];
  state_key(a, s, key);

  /* A window still held is fetched again after a restart. */
  time_t end = series_stored_end(s, series_window(a, s));
  pthread_mutex_lock(&state_lock);
  int status = set_entry(key, end, fit);
  /* Under the lock: one complaint for every block's thread, which names
   * the series it is about and keeps the log to a line an interval. */
  if (status != 0)
    c_complain(LOG_ERR, &key_complaint,
               PLUGIN_NAME " plugin: StateFile \"%s\": series \"%s\" cannot "
                           "be kept (%s); after a restart it starts afresh.",
               state_path, fit, set_error(status));
  pthread_mutex_unlock(&state_lock);
}

time_t state_store_mark(const char *key) {
  char fit[STATE_MAX_KEY];
  state_fit_key(key, fit);
  pthread_mutex_lock(&state_lock);
  time_t value = state_get(&state, fit);
  pthread_mutex_unlock(&state_lock);
  return value;
}

void state_store_set_mark(const char *key, time_t value) {
  char fit[STATE_MAX_KEY];
  pthread_mutex_lock(&state_lock);
  int status = set_entry(key, value, fit);
  if (status != 0)
    c_complain(LOG_ERR, &mark_complaint,
               PLUGIN_NAME " plugin: %s%s%s: the mark \"%s\" of a notified "
                           "attack event cannot be kept (%s); the event may "
                           "be notified again.",
               state_path ? "StateFile \"" : "memory",
               state_path ? state_path : "", state_path ? "\"" : "", fit,
               set_error(status));
  pthread_mutex_unlock(&state_lock);
}

typedef struct {
  const char *block;
  size_t block_len;
  time_t ended_before;
} forget_t;

/* "<block>/<plugin_instance>/event/...", a plugin_instance has no '/'. */
static bool old_mark(const state_entry_t *e, void *ctx) {
  const forget_t *f = ctx;
  if (e->end < 2 || e->end >= f->ended_before ||
      strncmp(e->key, f->block, f->block_len) != 0 ||
      e->key[f->block_len] != '/')
    return false;
  const char *rest = strchr(e->key + f->block_len + 1, '/');
  return rest != NULL && strncmp(rest, "/event/", 7) == 0;
}

void state_store_forget_marks(const char *block, time_t ended_before) {
  forget_t f = {block, strlen(block), ended_before};
  pthread_mutex_lock(&state_lock);
  if (state_remove_if(&state, old_mark, &f) > 0)
    state_dirty = true;
  pthread_mutex_unlock(&state_lock);
}

/* With write_lock held. */
static void write_snapshot(void) {
  char *text = NULL;
  size_t len = 0;
  size_t count = 0;
  bool dirty;

  pthread_mutex_lock(&state_lock);
  dirty = state_path != NULL && state_dirty;
  count = state.count;
  if (dirty && state_format(&state, &text, &len) == 0)
    state_dirty = false;
  pthread_mutex_unlock(&state_lock);
  if (!dirty)
    return;

  char why[512];
  if (text == NULL) {
    sstrncpy(why, "out of memory", sizeof(why));
  } else if (state_write(state_path, text, len, why, sizeof(why)) == 0) {
    c_release(LOG_INFO, &write_complaint,
              PLUGIN_NAME " plugin: StateFile \"%s\" written again.",
              state_path);
    sfree(text);
    return;
  }
  sfree(text);

  /* Changes since the snapshot are dirty anyway; the snapshot's are again. */
  pthread_mutex_lock(&state_lock);
  state_dirty = true;
  pthread_mutex_unlock(&state_lock);
  c_complain(LOG_ERR, &write_complaint,
             PLUGIN_NAME " plugin: StateFile \"%s\" not saved (%zu series): "
                         "%s; trying again after the next read.",
             state_path, count, why);
}

void state_store_write(void) {
  if (pthread_mutex_trylock(&write_lock) != 0)
    return; /* another block is writing; see the top of this file */
  write_snapshot();
  pthread_mutex_unlock(&write_lock);
}

void state_store_shutdown(void) {
  /* Reads have stopped: wait for a write in progress, then the last. */
  pthread_mutex_lock(&write_lock);
  write_snapshot();
  pthread_mutex_unlock(&write_lock);

  pthread_mutex_lock(&state_lock);
  state_clear(&state);
  sfree(state_path);
  if (lock_fd >= 0)
    close(lock_fd);
  lock_fd = -1;
  pthread_mutex_unlock(&state_lock);
}
