/**
 * collectd-ddoscoo - src/held_values.h
 * SPDX-License-Identifier: MIT
 *
 * A series' values fetched but not yet handed to collectd. collectd's
 * write threads (five by default) can reorder two values of one series
 * dispatched back to back; the older then fails ("uc_update: Value too
 * old") and rrdtool refuses it. So a series hands collectd one window at
 * a time, oldest first, at most one a second (rrdtool's step, too), and
 * keeps the rest here. Pure: no collectd.
 */
#ifndef HELD_VALUES_H
#define HELD_VALUES_H 1

#include <stddef.h>
#include <time.h>

/* collectd's DATA_MAX_NAME_LEN, which the glue's names fit. */
#define HELD_NAME_SIZE 128

typedef struct {
  time_t end;       /* the window's EndTime */
  const char *type; /* a stock type: a string of the statistics table */
  char type_instance[HELD_NAME_SIZE];
  double value;
} held_value_t;

typedef struct {
  held_value_t *items;
  size_t count;
  size_t size;
} held_values_t;

/* Keeps a value of the window ending at end. type must outlive it;
 * type_instance is copied (cut to fit). Returns 0, or -1 when memory ran
 * out (nothing kept). */
int held_add(held_values_t *h, time_t end, const char *type,
             const char *type_instance, double value);

/* The EndTime of the oldest window held, 0 if none. */
time_t held_oldest(const held_values_t *h);

/* Hands each value of the oldest window to take, in the order they were
 * kept, and forgets them. Returns that window's EndTime, 0 if none. */
time_t held_take_oldest(held_values_t *h,
                        void (*take)(void *ctx, const held_value_t *v),
                        void *ctx);

/* Moves everything from *from to *to, which must be empty. */
void held_move(held_values_t *to, held_values_t *from);

void held_clear(held_values_t *h);

#endif /* HELD_VALUES_H */
