/**
 * collectd-ddoscoo - src/instance_facts.c
 * SPDX-License-Identifier: MIT
 *
 * A block's instance facts and the attribution of rows; see
 * instance_facts.h.
 */
#include "instance_facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

instance_fact_t *facts_instance(instance_facts_t *f, const char *id) {
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->items[i].id, id) == 0)
      return f->items + i;
  instance_fact_t *grown =
      realloc(f->items, (f->count + 1) * sizeof(*f->items));
  if (grown == NULL)
    return NULL;
  f->items = grown;
  instance_fact_t *it = f->items + f->count;
  *it = (instance_fact_t){
      .status = -1, .enabled = -1, .debt_status = -1, .edition = -1};
  if ((it->id = strdup(id)) == NULL)
    return NULL;
  f->count++;
  return it;
}

const instance_fact_t *facts_find(const instance_facts_t *f, const char *id) {
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->items[i].id, id) == 0)
      return f->items + i;
  return NULL;
}

int facts_add_ip(instance_facts_t *f, const char *id, const char *ip) {
  char name[48];
  if (!stat_ip_name(ip, name, sizeof(name)))
    return 1;
  instance_fact_t *it = facts_instance(f, id);
  if (it == NULL)
    return -1;
  size_t k = (size_t)(it - f->items);
  for (size_t i = 0; i < f->ip_count; i++)
    if (f->ips[i].instance == k && strcmp(f->ips[i].ip, name) == 0)
      return 0;
  instance_ip_t *grown = realloc(f->ips, (f->ip_count + 1) * sizeof(*grown));
  if (grown == NULL)
    return -1;
  f->ips = grown;
  memcpy(f->ips[f->ip_count].ip, name, sizeof(name));
  f->ips[f->ip_count++].instance = k;
  return 0;
}

static int ip_compare(const void *x, const void *y) {
  const instance_ip_t *a = x, *b = y;
  int c = strcmp(a->ip, b->ip);
  if (c != 0)
    return c;
  return (a->instance > b->instance) - (a->instance < b->instance);
}

void facts_done(instance_facts_t *f) {
  if (f->ip_count > 1)
    qsort(f->ips, f->ip_count, sizeof(*f->ips), ip_compare);
}

const char *facts_owner(const instance_facts_t *f, const char *ip) {
  char name[48];
  if (!stat_ip_name(ip, name, sizeof(name)))
    return NULL;
  size_t lo = 0, hi = f->ip_count;
  while (lo < hi) { /* the first entry not below name */
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(f->ips[mid].ip, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < f->ip_count && strcmp(f->ips[lo].ip, name) == 0)
    return f->items[f->ips[lo].instance].id;
  return NULL;
}

void facts_clear(instance_facts_t *f) {
  for (size_t i = 0; i < f->count; i++) {
    free(f->items[i].id);
    free(f->items[i].remark);
  }
  free(f->items);
  free(f->ips);
  *f = (instance_facts_t){0};
}

void facts_move(instance_facts_t *to, instance_facts_t *from) {
  facts_clear(to);
  *to = *from;
  *from = (instance_facts_t){0};
}

size_t facts_chunks(size_t n, size_t max, const size_t *cap, size_t *first) {
  size_t chunks = 0, size = 0, limit = 0;
  if (max == 0)
    max = 1;
  for (size_t i = 0; i < n; i++) {
    size_t mine = (cap != NULL && cap[i] > 0 && cap[i] < max) ? cap[i] : max;
    /* Members of one cap share chunks; another cap starts a new one, so a
     * split leaves the chunks around it as they were. */
    if (chunks > 0 && size < limit && mine == limit) {
      size++;
      continue;
    }
    first[chunks++] = i;
    size = 1;
    limit = mine;
  }
  return chunks;
}

/* The index of the field named name in stat's fields, or -1. */
static int field_of(const statistic_t *stat, const char *name) {
  for (size_t f = 0; name != NULL && f < stat->field_count; f++)
    if (strcmp(stat->fields[f].name, name) == 0)
      return (int)f;
  return -1;
}

static void note_first(size_t *count, char *first, size_t size,
                       const char *text) {
  if ((*count)++ == 0)
    snprintf(first, size, "%s", text);
}

void facts_attribute(const instance_facts_t *f, const statistic_t *stat,
                     const api_rows_t *rows, const char *const *ids, size_t n,
                     size_t *owner, facts_attribution_t *note) {
  *note = (facts_attribution_t){0};
  int field = field_of(stat, stat->attribution_field);
  for (size_t r = 0; r < rows->count; r++) {
    owner[r] = SIZE_MAX;
    bool account = stat->attribution == STAT_ACCOUNT_BY_IP;
    if (n == 1 && !account) {
      owner[r] = 0;
      continue;
    }
    const char *text =
        (field >= 0) ? rows->values[r * rows->field_count + field].text : "";
    const char *id = text;
    if (stat->attribution == STAT_BY_IP || account) {
      char name[48];
      if (!stat_ip_name(text, name, sizeof(name))) {
        note_first(&note->not_ip, note->first_not_ip,
                   sizeof(note->first_not_ip), text);
        continue;
      }
      if ((id = facts_owner(f, text)) == NULL) {
        note_first(&note->unknown, note->first_unknown,
                   sizeof(note->first_unknown), text);
        continue;
      }
    }
    for (size_t k = 0; k < n && owner[r] == SIZE_MAX; k++)
      if (strcmp(ids[k], id) == 0)
        owner[r] = k;
    if (owner[r] == SIZE_MAX && account) /* the block does not poll it */
      note->others++;
    else if (owner[r] == SIZE_MAX) /* an instance the request did not name */
      note_first(&note->unusable, note->first_unusable,
                 sizeof(note->first_unusable), text);
  }
}

int facts_rows_of(const api_rows_t *all, const size_t *owner, size_t k,
                  api_rows_t *out) {
  *out = (api_rows_t){.field_count = all->field_count, .root = all->root};
  size_t mine = 0;
  for (size_t r = 0; r < all->count; r++)
    mine += owner[r] == k;
  if (mine == 0)
    return 0;
  size_t width = all->field_count;
  out->values = malloc(mine * width * sizeof(*out->values));
  if (out->values == NULL)
    return -1;
  for (size_t r = 0; r < all->count; r++)
    if (owner[r] == k)
      memcpy(out->values + width * out->count++, all->values + r * width,
             width * sizeof(*out->values));
  return 0;
}
