/**
 * collectd-ddoscoo - src/held_values.c
 * SPDX-License-Identifier: MIT
 *
 * Values waiting for their turn; see held_values.h.
 */
#include "held_values.h"

#include <stdlib.h>
#include <string.h>

int held_add(held_values_t *h, time_t end, const char *type,
             const char *type_instance, double value) {
  if (h->count == h->size) {
    size_t size = h->size ? 2 * h->size : 16;
    held_value_t *grown = realloc(h->items, size * sizeof(*grown));
    if (grown == NULL)
      return -1;
    h->items = grown;
    h->size = size;
  }
  held_value_t *v = h->items + h->count++;
  v->end = end;
  v->type = type;
  v->value = value;
  size_t n = strlen(type_instance);
  if (n >= sizeof(v->type_instance))
    n = sizeof(v->type_instance) - 1;
  memcpy(v->type_instance, type_instance, n);
  v->type_instance[n] = 0;
  return 0;
}

time_t held_oldest(const held_values_t *h) {
  time_t oldest = 0;
  for (size_t i = 0; i < h->count; i++)
    if (oldest == 0 || h->items[i].end < oldest)
      oldest = h->items[i].end;
  return oldest;
}

time_t held_take_oldest(held_values_t *h,
                        void (*take)(void *ctx, const held_value_t *v),
                        void *ctx) {
  time_t oldest = held_oldest(h);
  if (oldest == 0)
    return 0;
  /* Answers come oldest first, so this is mostly a prefix; the rest keep
   * their order. */
  size_t kept = 0;
  for (size_t i = 0; i < h->count; i++) {
    if (h->items[i].end == oldest)
      take(ctx, h->items + i);
    else
      h->items[kept++] = h->items[i];
  }
  h->count = kept;
  if (kept == 0)
    held_clear(h); /* a catch-up's memory goes with it */
  return oldest;
}

void held_move(held_values_t *to, held_values_t *from) {
  *to = *from;
  *from = (held_values_t){0};
}

void held_clear(held_values_t *h) {
  free(h->items);
  *h = (held_values_t){0};
}
