/**
 * collectd-ddoscoo - src/state_store.h
 * SPDX-License-Identifier: MIT
 *
 * The plugin-wide StateFile (see state_file.h for the file itself).
 */
#ifndef STATE_STORE_H
#define STATE_STORE_H 1

#include "account.h"

/* Room for any key the plugin builds (a block name, a plugin_instance, an
 * event's type, Ip, Port and start); keys longer than the file takes are
 * shortened there, from the whole key. */
#define STATE_STORE_KEY_SIZE 1024

/* StateFile: where to keep the state. Without it, nothing is kept. */
int state_store_configure(const char *path);

/* Takes the file's lock and reads the file, at init; a file that cannot be
 * used is reported. A file another process holds the lock of, or something
 * other than a regular file, is not used at all. */
void state_store_load(void);

/* Before a series' first window: it carries on from its stored EndTime,
 * unless that is not a window before latest. */
void state_store_restore(const account_t *a, series_t *s, time_t latest);

/* Notes the series' newest dispatched window. */
void state_store_remember(const account_t *a, const series_t *s);

/* A mark kept with the series (what was notified of an attack event),
 * under "<block>/<plugin_instance>/event/...": its value, 0 if none; and
 * setting it. In memory without a StateFile. */
time_t state_store_mark(const char *key);
void state_store_set_mark(const char *key, time_t value);

/* Forgets the block's marks whose value (the end of an event notified
 * over) is before ended_before: events too old to be asked again. */
void state_store_forget_marks(const char *block, time_t ended_before);

/* Rewrites the file if anything changed. */
void state_store_write(void);

/* Writes and forgets everything. */
void state_store_shutdown(void);

#endif /* STATE_STORE_H */
