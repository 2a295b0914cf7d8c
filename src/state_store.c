/**
 * collectd-ddoscoo - src/state_store.c
 * SPDX-License-Identifier: MIT
 *
 * The plugin-wide StateFile, shared by every block: loaded at init, each
 * block's series carry on from it at their first read, rewritten after
 * reads that dispatched something. Guarded by one lock.
 */
#include "state_store.h"

#include "utils/common/common.h"

#include "state_file.h"

static char *state_path;
static state_t state = STATE_INIT;
static bool state_dirty;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static c_complain_t state_complaint = C_COMPLAIN_INIT_STATIC;

int state_store_configure(const char *path) {
  sfree(state_path);
  state_path = strdup(path);
  return (state_path == NULL) ? ENOMEM : 0;
}

void state_store_load(void) {
  char why[512];
  if (state_path == NULL)
    return;
  if (state_load(&state, state_path, why, sizeof(why)) != 0)
    ERROR(PLUGIN_NAME " plugin: StateFile \"%s\": %s; ignoring it, and "
                      "writing it anew.",
          state_path, why);
  else
    INFO(PLUGIN_NAME " plugin: StateFile \"%s\": %zu series known.", state_path,
         state.count);
}

static void state_key(const account_t *a, const series_t *s, char *key,
                      size_t size) {
  ssnprintf(key, size, "%s/%s", a->name, s->plugin_instance);
}

/* At a block's first read: where each series stopped before the restart.
 * A time ahead of the window now due (a clock set back, a foreign file)
 * is ignored rather than left to block the series. */
void state_store_restore(const account_t *a, series_t *s, time_t latest) {
  if (state_path == NULL)
    return;
  char key[STATE_MAX_KEY];
  state_key(a, s, key, sizeof(key));

  pthread_mutex_lock(&state_lock);
  time_t end = state_get(&state, key);
  pthread_mutex_unlock(&state_lock);
  if (end > latest || (end != 0 && end % a->window != 0))
    WARNING(PLUGIN_NAME " plugin: Account \"%s\", series %s: ignoring the "
                        "StateFile's EndTime %lld, not a window before now.",
            a->name, s->plugin_instance, (long long)end);
  else
    s->w.last_end = end;
}

void state_store_remember(const account_t *a, const series_t *s) {
  if (state_path == NULL)
    return;
  char key[STATE_MAX_KEY];
  state_key(a, s, key, sizeof(key));

  pthread_mutex_lock(&state_lock);
  if (state_set(&state, key, s->w.last_end) == 0)
    state_dirty = true;
  pthread_mutex_unlock(&state_lock);
}

void state_store_write(void) {
  char why[512];

  pthread_mutex_lock(&state_lock);
  if (state_path != NULL && state_dirty) {
    if (state_save(&state, state_path, why, sizeof(why)) == 0) {
      state_dirty = false;
      c_release(LOG_INFO, &state_complaint,
                PLUGIN_NAME " plugin: StateFile \"%s\" written again.",
                state_path);
    } else {
      c_complain(LOG_ERR, &state_complaint,
                 PLUGIN_NAME " plugin: StateFile \"%s\": %s", state_path, why);
    }
  }
  pthread_mutex_unlock(&state_lock);
}

void state_store_shutdown(void) {
  state_store_write();
  pthread_mutex_lock(&state_lock);
  state_clear(&state);
  sfree(state_path);
  pthread_mutex_unlock(&state_lock);
}
