/**
 * collectd-ddoscoo - src/account_series.c
 * SPDX-License-Identifier: MIT
 *
 * A block's series; see account_series.h.
 */
#include "account_series.h"

#include "utils/common/common.h"

#include "account_facts.h"
#include "api_request.h"

#include <pthread.h>

/* Room left in plugin_instance for "_65535". */
#define NAME_SIZE (DATA_MAX_NAME_LEN - 6)

void account_series_name(const char *remark, char *out, size_t size) {
  bool cut;
  stat_text_name(remark, out, (size > NAME_SIZE) ? NAME_SIZE : size, &cut);
}

static void free_chunk(series_t *c);

/* The names in use, by every block: a series of one block (host, plugin
 * instance, statistic and variant) is no other block's. Blocks read on
 * threads of their own. */
typedef struct {
  uint64_t hash; /* of host and name */
  char *name;    /* plugin_instance */
  const statistic_t *stat;
  const stat_variant_t *variant;
  const account_t *owner; /* its claims go before it does */
} claim_t;

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static claim_t *claims;
static size_t claim_count, claim_size;

static uint64_t name_hash(const char *host, const char *name) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (const unsigned char *c = (const unsigned char *)host; *c != 0; c++)
    h = (h ^ *c) * UINT64_C(1099511628211);
  h = (h ^ '/') * UINT64_C(1099511628211);
  for (const unsigned char *c = (const unsigned char *)name; *c != 0; c++)
    h = (h ^ *c) * UINT64_C(1099511628211);
  return h;
}

/* The other block that writes s's series already, or NULL. A stand-in's
 * (account.h) neither claims a name nor holds one: it never renames an
 * instance's series. Under claims_lock. */
static const account_t *holder(const account_t *a, const series_t *s) {
  if (s->stat == a->stand_in)
    return NULL;
  uint64_t h = name_hash(a->host, s->plugin_instance);
  for (size_t i = 0; i < claim_count; i++) {
    const claim_t *c = claims + i;
    if (c->hash == h && c->owner != a && c->stat == s->stat &&
        c->variant == s->variant && strcmp(c->owner->host, a->host) == 0 &&
        strcmp(c->name, s->plugin_instance) == 0)
      return c->owner;
  }
  return NULL;
}

/* Forgets a's claims. Under claims_lock. */
static void drop_claims(const account_t *a) {
  size_t k = 0;
  for (size_t i = 0; i < claim_count; i++)
    if (claims[i].owner == a)
      sfree(claims[i].name);
    else
      claims[k++] = claims[i];
  claim_count = k;
}

/* a's claims: those of series now. Returns 0, or ENOMEM with nothing
 * changed. Under claims_lock. */
static int claim(const account_t *a, const series_t *series, size_t n) {
  size_t mine = 0, stand_ins = 0;
  for (size_t i = 0; i < claim_count; i++)
    mine += claims[i].owner == a;
  for (size_t i = 0; i < n; i++)
    stand_ins += series[i].stat == a->stand_in;
  size_t need = claim_count - mine + n - stand_ins;
  if (need > claim_size) {
    size_t size = need + need / 2 + 16;
    claim_t *grown = realloc(claims, size * sizeof(*claims));
    if (grown == NULL)
      return ENOMEM;
    claims = grown;
    claim_size = size;
  }
  char **names = calloc(n + 1, sizeof(*names));
  for (size_t i = 0; names != NULL && i < n; i++)
    if (series[i].stat != a->stand_in &&
        (names[i] = strdup(series[i].plugin_instance)) == NULL) {
      for (size_t j = 0; j < i; j++)
        sfree(names[j]);
      sfree(names);
    }
  if (names == NULL)
    return ENOMEM;
  drop_claims(a);
  size_t k = claim_count;
  for (size_t i = 0; i < n; i++)
    if (series[i].stat != a->stand_in)
      claims[k++] = (claim_t){
          .hash = name_hash(a->host, names[i]),
          .name = names[i],
          .stat = series[i].stat,
          .variant = series[i].variant,
          .owner = a,
      };
  claim_count = k;
  free(names);
  return 0;
}

void account_series_release(account_t *a) {
  pthread_mutex_lock(&claims_lock);
  drop_claims(a);
  if (claim_count == 0) {
    sfree(claims);
    claim_size = 0;
  }
  pthread_mutex_unlock(&claims_lock);
  sfree(a->named_series);
  a->named_series_count = 0;
  for (size_t i = 0; i < a->series_count; i++)
    if (a->series[i].chunk)
      free_chunk(a->series + i);
  account_facts_free(a);
}

static int hash_compare(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return (a > b) - (a < b);
}

void account_series_new_read(account_t *a) { a->named_series_new = 0; }

/* Whether port (a number) is one the block polls for the instance (or
 * Aggregate) of s: a series of s's group has it. The series of a group
 * are next to each other. */
static bool port_polled(const account_t *a, const series_t *s,
                        const char *port) {
  size_t at = (size_t)(s - a->series);
  if (at >= a->series_count)
    return false;
  size_t first = at, last = at;
  while (first > 0 && a->series[first - 1].w.group == s->w.group)
    first--;
  while (last + 1 < a->series_count &&
         a->series[last + 1].w.group == s->w.group)
    last++;
  for (size_t i = first; i <= last; i++)
    if (!a->series[i].chunk && strcmp(a->series[i].port, port) == 0)
      return true;
  return false;
}

bool account_series_admit(account_t *a, const series_t *s,
                          const char *type_instance) {
  /* A port's value of a port the block polls: its series is the block's
   * own, no name an answer made up. */
  if (s->stat->per_port && port_polled(a, s, type_instance))
    return true;
  uint64_t h = name_hash(s->plugin_instance, type_instance);
  if (bsearch(&h, a->named_series, a->named_series_count, sizeof(h),
              hash_compare) != NULL)
    return true;
  bool all = a->named_series_count >= STAT_MAX_NAMED_SERIES;
  bool read = a->named_series_new >= STAT_MAX_NEW_NAMED_PER_READ;
  uint64_t *grown = (all || read)
                        ? NULL
                        : realloc(a->named_series,
                                  (a->named_series_count + 1) * sizeof(*grown));
  if (grown == NULL) {
    if (a->named_complaint.interval == 0) /* as a series' name_complaint */
      a->named_complaint.interval = TIME_T_TO_CDTIME_T(a->window);
    char shown[DATA_MAX_NAME_LEN * 2];
    stat_escape(type_instance, shown, sizeof(shown));
    if (all || read)
      c_complain(LOG_WARNING, &a->named_complaint,
                 PLUGIN_NAME " plugin: Account \"%s\", series %s: %s: %zu "
                             "new series named by answers %s, the most a "
                             "block makes (%d per read, %d in all); \"%s\" "
                             "and any other new name are not dispatched%s.",
                 a->name, s->name, s->stat->action,
                 all ? a->named_series_count : a->named_series_new,
                 all ? "since the start" : "in this read",
                 STAT_MAX_NEW_NAMED_PER_READ, STAT_MAX_NAMED_SERIES, shown,
                 all ? "" : " before the next read");
    return false;
  }
  a->named_series = grown;
  size_t at = 0;
  while (at < a->named_series_count && a->named_series[at] < h)
    at++;
  memmove(a->named_series + at + 1, a->named_series + at,
          (a->named_series_count - at) * sizeof(*grown));
  a->named_series[at] = h;
  a->named_series_count++;
  a->named_series_new++;
  return true;
}

static void free_list(char **list, size_t count) {
  for (size_t i = 0; list != NULL && i < count; i++)
    sfree(list[i]);
  sfree(list);
}

static int port_compare(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

/* The configured ports and the found ones, sorted, each once. */
static int *merge_ports(const account_t *a, int *const *found,
                        const size_t *found_count, size_t first, size_t n,
                        size_t *count) {
  size_t max = a->port_count;
  for (size_t i = first; found != NULL && i < first + n; i++)
    max += found_count[i];
  int *ports = calloc(max + 1, sizeof(*ports));
  if (ports == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < a->port_count; i++)
    ports[k++] = atoi(a->ports[i]);
  for (size_t i = first; a->ports_auto && found != NULL && i < first + n; i++)
    for (size_t j = 0; j < found_count[i]; j++)
      ports[k++] = found[i][j];
  qsort(ports, k, sizeof(*ports), port_compare);
  size_t unique = 0;
  for (size_t i = 0; i < k; i++)
    if (unique == 0 || ports[unique - 1] != ports[i])
      ports[unique++] = ports[i];
  *count = unique;
  return ports;
}

static series_t *find(series_t *list, size_t count, const series_t *s) {
  for (size_t i = 0; i < count; i++)
    if (!list[i].chunk && list[i].stat == s->stat &&
        list[i].variant == s->variant &&
        strcmp(list[i].plugin_instance, s->plugin_instance) == 0)
      return list + i;
  return NULL;
}

/* A series in the log: "series X" for connections, whose series were there
 * first, "traffic of series X", "qps of domain X", "status_codes (QueryType
 * gf) of domain X". */
static const char *describe(const series_t *s, char *buf, size_t size) {
  if (s->stat->scope == SCOPE_PORT)
    ssnprintf(buf, size, "series %s", s->plugin_instance);
  else if (s->stat->scope == SCOPE_INSTANCE || s->stat->scope == SCOPE_ACCOUNT)
    ssnprintf(buf, size, "%s of series %s", s->stat->name, s->plugin_instance);
  else if (s->variant != NULL)
    ssnprintf(buf, size, "%s (%s %s) of domain %s", s->stat->name,
              s->variant->param, s->variant->value, s->domain);
  else
    ssnprintf(buf, size, "%s of domain %s", s->stat->name, s->domain);
  return buf;
}

/* A new series: its state from the same series of the old list, if any,
 * or logged as new. */
static void carry_over(const account_t *a, series_t *s, bool log_changes) {
  C_COMPLAIN_INIT(&s->complaint);
  /* Said at most once per window, then at doubling intervals: the same
   * names come back with each window. */
  C_COMPLAIN_INIT(&s->name_complaint);
  s->name_complaint.interval = TIME_T_TO_CDTIME_T(a->window);
  if (s->variant != NULL)
    ssnprintf(s->name, sizeof(s->name), "%s (%s %s)", s->plugin_instance,
              s->variant->param, s->variant->value);
  else
    sstrncpy(s->name, s->plugin_instance, sizeof(s->name));
  const series_t *old = find(a->series, a->series_count, s);
  char label[DATA_MAX_NAME_LEN + 96];
  if (old != NULL) {
    s->w.last_end = old->w.last_end;
    s->released_at = old->released_at;
    s->w.given_up_end = old->w.given_up_end;
    s->complaint = old->complaint;
    s->name_complaint = old->name_complaint;
    s->restored = old->restored;
    s->cap = old->cap;
  } else if (log_changes && s->stat != a->stand_in) {
    INFO(PLUGIN_NAME " plugin: Account \"%s\": now polling %s.", a->name,
         describe(s, label, sizeof(label)));
  }
}

/* The series of old no longer in the new list, logged as gone. */
static void log_gone(const account_t *a, series_t *series,
                     size_t series_count) {
  for (size_t i = 0; i < a->series_count; i++) {
    char label[DATA_MAX_NAME_LEN + 96];
    if (!a->series[i].chunk && a->series[i].stat != a->stand_in &&
        find(series, series_count, a->series + i) == NULL)
      INFO(PLUGIN_NAME " plugin: Account \"%s\": %s is gone from the "
                       "account; no longer polled.",
           a->name, describe(a->series + i, label, sizeof(label)));
  }
}

/* A new series of stat in scheduling group g, before its names. */
static void series_init(const account_t *a, series_t *s,
                        const statistic_t *stat, size_t g) {
  memset(s, 0, sizeof(*s));
  s->kind = REQUEST_WINDOW;
  s->stat = stat;
  s->w.group = g;
  s->w.stat = (size_t)(stat - statistics); /* refusals back off per stat */
  s->w.latest_only = stat->timeless;
  s->w.state_every = stat->slow ? a->state_interval : 0;
  s->w.step = stat->window;
  s->w.batch = stat->batch_seconds / (stat->window ? stat->window : a->window);
  if (s->w.batch > STAT_MAX_BATCH)
    s->w.batch = STAT_MAX_BATCH;
  /* Asked for by its chunk (a series of its own, below). */
  s->member = stat->attribution != STAT_OWN_ROWS && !a->aggregate;
  s->w.idle = s->member;
}

static void free_chunk(series_t *c) {
  for (size_t j = 0; c->member_ids != NULL && j < c->member_count; j++)
    sfree(c->member_ids[j]);
  sfree(c->member_ids);
  sfree(c->members);
  c->member_count = 0;
}

/* The old chunk of stat that asked for instance id, or NULL. */
static const series_t *old_chunk_of(const series_t *old, size_t old_count,
                                    const statistic_t *stat, const char *id) {
  for (size_t i = 0; i < old_count; i++)
    for (size_t j = 0; old[i].stat == stat && j < old[i].member_count; j++)
      if (strcmp(old[i].member_ids[j], id) == 0)
        return old + i;
  return NULL;
}

/* A chunk of members [from, to) of idx: what it asks, and its windows as
 * far as its members' old chunks had them (the oldest), or, the same
 * members asked the same way, the old chunk's state. */
static int make_chunk(account_t *a, series_t *c, const statistic_t *stat,
                      char *const *ids, const size_t *idx, size_t n,
                      const series_t *old, size_t old_count) {
  series_init(a, c, stat, SIZE_MAX / 2 - (size_t)(c - a->series));
  c->member = false;
  c->w.idle = false;
  c->chunk = true;
  c->members = calloc(n + 1, sizeof(*c->members));
  c->member_ids = calloc(n + 1, sizeof(*c->member_ids));
  if (c->members == NULL || c->member_ids == NULL)
    return ENOMEM;
  C_COMPLAIN_INIT(&c->complaint);
  C_COMPLAIN_INIT(&c->name_complaint);
  c->name_complaint.interval = TIME_T_TO_CDTIME_T(a->window);
  bool same = true, restored = true;
  const series_t *first_old = NULL;
  for (size_t j = 0; j < n; j++) {
    const series_t *m = a->series + idx[j];
    c->members[j] = idx[j];
    if ((c->member_ids[j] = strdup(ids[m->first_instance])) == NULL)
      return ENOMEM;
    c->member_count = j + 1;
    const series_t *o = old_chunk_of(old, old_count, stat, c->member_ids[j]);
    if (j == 0)
      first_old = o;
    same = same && o != NULL && o == first_old && o->member_count == n;
    restored = restored && o != NULL && o->restored;
    time_t end = o != NULL ? o->w.last_end : m->w.last_end;
    if (end != 0 && (c->w.last_end == 0 || end < c->w.last_end))
      c->w.last_end = end;
  }
  c->restored = restored;
  if (same) {
    c->w.given_up_end = first_old->w.given_up_end;
    c->w.refusals = first_old->w.refusals;
    c->w.refused_until = first_old->w.refused_until;
    c->complaint = first_old->complaint;
    c->name_complaint = first_old->name_complaint;
    c->age_since = first_old->age_since;
  }
  if (n == 1) /* as the instance's own series, the log lines as ever */
    sstrncpy(c->name, a->series[idx[0]].name, sizeof(c->name));
  else
    ssnprintf(c->name, sizeof(c->name), "%s of %zu instances (%s to %s)",
              stat->name, n, c->member_ids[0], c->member_ids[n - 1]);
  return 0;
}

/* Appends to the block's series (members, no chunk) the chunks of each
 * statistic whose requests name several instances: its members in order,
 * max_instances a chunk (one without the instance facts), fewer where a
 * member's cap says. ids: what the members' first_instance index. Returns
 * 0 or ENOMEM (no chunk then). */
static int build_chunks(account_t *a, char *const *ids, const series_t *old,
                        size_t old_count) {
  size_t base = a->series_count, members = 0;
  for (size_t i = 0; i < base; i++)
    members += a->series[i].member;
  if (members == 0)
    return 0;
  series_t *grown = realloc(a->series, (base + members + 1) * sizeof(*grown));
  size_t *idx = calloc(members + 1, sizeof(*idx));
  size_t *caps = calloc(members + 1, sizeof(*caps));
  size_t *first = calloc(members + 1, sizeof(*first));
  int status = (grown == NULL || idx == NULL || caps == NULL || first == NULL)
                   ? ENOMEM
                   : 0;
  if (grown != NULL)
    a->series = grown;
  bool facts = account_facts_usable(a);
  for (size_t k = 0; k < a->statistics_count && status == 0; k++) {
    const statistic_t *stat = a->statistics[k];
    size_t n = 0;
    for (size_t i = 0; i < base; i++)
      if (a->series[i].member && a->series[i].stat == stat) {
        idx[n] = i;
        caps[n++] = a->series[i].cap;
      }
    size_t max =
        (facts || stat->attribution != STAT_BY_IP) ? stat->max_instances : 1;
    if (stat->attribution == STAT_ACCOUNT_BY_IP)
      max = n; /* one request, naming none, for all of them */
    size_t chunks = facts_chunks(n, max, caps, first);
    for (size_t c = 0; c < chunks && status == 0; c++) {
      size_t to = (c + 1 < chunks) ? first[c + 1] : n;
      series_t *ch = a->series + a->series_count;
      status = make_chunk(a, ch, stat, ids, idx + first[c], to - first[c], old,
                          old_count);
      a->series_count++;
      if (status != 0)
        free_chunk(ch);
    }
  }
  if (status != 0) {
    for (size_t i = base; i < a->series_count; i++)
      free_chunk(a->series + i);
    a->series_count = base;
  }
  free(idx);
  free(caps);
  free(first);
  account_series_idle(a);
  return status;
}

bool account_series_idle(account_t *a) {
  bool ready = account_facts_ready(a), usable = account_facts_usable(a);
  bool refreshing = account_facts_refreshing(a), changed = false;
  for (size_t i = 0; i < a->series_count; i++) {
    series_t *c = a->series + i;
    if (!c->chunk)
      continue;
    bool idle = false;
    bool account = c->stat->attribution == STAT_ACCOUNT_BY_IP;
    if ((c->member_count > 1 || account) &&
        (c->stat->attribution == STAT_BY_IP || account) && usable) {
      /* New instances: their IPs first, if they are being asked. */
      idle = !ready;
      for (size_t j = 0; refreshing && !idle && j < c->member_count; j++)
        idle = facts_find(&a->facts, c->member_ids[j]) == NULL;
    }
    changed |= idle != c->w.idle;
    c->w.idle = idle;
  }
  return changed;
}

/* Takes the chunks out of the block's series (they are at the end):
 * returned, *count of them. */
static series_t *take_chunks(account_t *a, size_t *count) {
  size_t first = a->series_count;
  while (first > 0 && a->series[first - 1].chunk)
    first--;
  *count = a->series_count - first;
  if (*count == 0)
    return NULL;
  series_t *old = malloc(*count * sizeof(*old));
  if (old != NULL)
    memcpy(old, a->series + first, *count * sizeof(*old));
  else
    for (size_t i = first; i < a->series_count; i++)
      free_chunk(a->series + i);
  a->series_count = first;
  if (old == NULL)
    *count = 0;
  return old;
}

static void free_chunks(series_t *old, size_t count) {
  for (size_t i = 0; i < count; i++)
    free_chunk(old + i);
  free(old);
}

int account_series_rechunk(account_t *a) {
  size_t old_count;
  series_t *old = take_chunks(a, &old_count);
  int status = build_chunks(a, a->instance_ids, old, old_count);
  free_chunks(old, old_count);
  a->sched.cursor = 0;
  a->rechunk = false;
  return status;
}

/* The block's series are series now: the ones no longer there are logged
 * as gone, and the next read starts at the first. */
static void install_series(account_t *a, series_t *series, size_t series_count,
                           bool log_changes, char *const *ids) {
  if (log_changes)
    log_gone(a, series, series_count);
  size_t old_count;
  series_t *old = take_chunks(a, &old_count);
  /* Windows fetched but not yet dispatched stay with their series. */
  for (size_t i = 0; i < series_count; i++) {
    series_t *old = find(a->series, a->series_count, series + i);
    if (old != NULL)
      held_move(&series[i].held, &old->held);
  }
  for (size_t i = 0; i < a->series_count; i++)
    held_clear(&a->series[i].held); /* of the series gone */
  sfree(a->series);
  a->series = series;
  a->series_count = series_count;
  a->sched.cursor = 0;
  if (build_chunks(a, ids, old, old_count) != 0)
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": out of memory building the "
                      "requests of several instances; those statistics are "
                      "not polled until the next discovery.",
          a->name);
  free_chunks(old, old_count);
}

/* base, cut at a character to leave room, "_" and suffix. */
static void join(char *out, const char *base, const char *suffix) {
  size_t room = NAME_SIZE - 2 - strlen(suffix);
  size_t len = strlen(base);
  if (len > room) {
    len = room;
    while (len > 0 && ((unsigned char)base[len] & 0xC0) == 0x80)
      len--; /* not inside a UTF-8 character */
  }
  ssnprintf(out, NAME_SIZE, "%.*s_%s", (int)len, base, suffix);
}

/* The series of one instance (or domain) named after base: base, and
 * base_<port> for a port's. */
static void name_group(series_t *group, size_t n, const char *base) {
  for (size_t i = 0; i < n; i++)
    if (group[i].port[0] != 0)
      ssnprintf(group[i].plugin_instance, sizeof(group[i].plugin_instance),
                "%s_%s", base, group[i].port);
    else
      sstrncpy(group[i].plugin_instance, base,
               sizeof(group[i].plugin_instance));
}

/* Names the series of one instance (what "instance", id its ID) or
 * domain, which no other block may write too: base; taken, "<base>_<id>";
 * taken too, "<base>_<block>". The choice is logged when the series are
 * new. Returns false, the group's series to be left out, when all are
 * taken. Under claims_lock. */
static bool choose_names(const account_t *a, series_t *group, size_t n,
                         const char *what, const char *id, const char *base) {
  char names[3][NAME_SIZE];
  size_t count = 0;
  sstrncpy(names[count++], base, NAME_SIZE);
  if (id != NULL && strcmp(id, base) != 0)
    join(names[count++], base, id);
  join(names[count++], base, a->name);
  const account_t *first = NULL;
  for (size_t c = 0; c < count; c++) {
    name_group(group, n, names[c]);
    const account_t *other = NULL;
    for (size_t i = 0; i < n && other == NULL; i++)
      other = holder(a, group + i);
    if (c == 0)
      first = other;
    if (other != NULL)
      continue;
    if (c > 0 && find(a->series, a->series_count, group) == NULL)
      WARNING(PLUGIN_NAME " plugin: Account \"%s\": %s %s is named \"%s\" in "
                          "Account \"%s\" already; its series are \"%s\".",
              a->name, what, id ? id : base, base, first->name, names[c]);
    return true;
  }
  ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s %s is named \"%s\" in "
                    "Account \"%s\" already, and so are the other names "
                    "tried; its series are left out.",
        a->name, what, id ? id : base, base, first->name);
  return false;
}

void account_domain_instance(const char *domain, char *out, size_t size) {
  sstrncpy(out, domain, size);
  for (char *c = out; *c != 0; c++)
    if (*c == '*')
      *c = '_';
}

/* Appends to *series the web series of domains: per domain, statistic
 * and variant. Returns 0 or ENOMEM (*series then as it was, or grown). */
static int add_domain_series(const account_t *a, char *const *domains,
                             size_t domain_count, series_t **series,
                             size_t *series_count, bool log_changes) {
  size_t want = 0;
  for (size_t k = 0; k < a->statistics_count; k++)
    if (a->statistics[k]->scope == SCOPE_DOMAIN)
      want +=
          a->statistics[k]->variant_count ? a->statistics[k]->variant_count : 1;
  if (want == 0 || domain_count == 0)
    return 0;
  series_t *grown = realloc(*series, (*series_count + want * domain_count + 1) *
                                         sizeof(**series));
  if (grown == NULL)
    return ENOMEM;
  *series = grown;
  for (size_t d = 0; d < domain_count; d++) {
    size_t first = *series_count;
    for (size_t k = 0; k < a->statistics_count; k++) {
      const statistic_t *stat = a->statistics[k];
      if (stat->scope != SCOPE_DOMAIN)
        continue;
      size_t variants = stat->variant_count ? stat->variant_count : 1;
      for (size_t v = 0; v < variants; v++) {
        series_t *s = *series + (*series_count)++;
        /* Series of one domain share a group: a domain gone skips them
         * all. Instances count up from 0, domains down from the top. */
        series_init(a, s, stat, SIZE_MAX - d);
        s->variant = stat->variant_count ? stat->variants + v : NULL;
        /* A variant backs off apart: one QueryType may be refused alone. */
        s->w.stat += statistics_count * v;
        sstrncpy(s->domain, domains[d], sizeof(s->domain));
      }
    }
    char base[NAME_SIZE];
    account_domain_instance(domains[d], base, sizeof(base));
    if (!choose_names(a, *series + first, *series_count - first, "domain", NULL,
                      base)) {
      *series_count = first;
      continue;
    }
    for (size_t i = first; i < *series_count; i++)
      carry_over(a, *series + i, log_changes);
  }
  return 0;
}

/* The series of a's list of the other kind (domain or not), copied. */
static int keep_series(const account_t *a, bool domains, series_t **series,
                       size_t *series_count) {
  for (size_t i = 0; i < a->series_count; i++) {
    if ((a->series[i].stat->scope == SCOPE_DOMAIN) != domains ||
        a->series[i].chunk)
      continue;
    series_t *grown = realloc(*series, (*series_count + 2) * sizeof(**series));
    if (grown == NULL)
      return ENOMEM;
    *series = grown;
    (*series)[(*series_count)++] = a->series[i];
  }
  return 0;
}

int account_set_domains(account_t *a, char **domains, size_t count,
                        bool log_changes) {
  series_t *series = NULL;
  size_t series_count = 0;
  pthread_mutex_lock(&claims_lock);
  int status = keep_series(a, false, &series, &series_count);
  if (status == 0)
    status = add_domain_series(a, domains, count, &series, &series_count,
                               log_changes);
  if (status == 0)
    status = claim(a, series, series_count);
  pthread_mutex_unlock(&claims_lock);
  if (status != 0) {
    free(series);
    free_list(domains, count);
    return status;
  }
  install_series(a, series, series_count, log_changes, a->instance_ids);
  free_list(a->domains, a->domain_count);
  a->domains = domains;
  a->domain_count = count;
  return 0;
}

/* Whether the last list had instance id with that Remark: said already. */
static bool remark_known(const account_t *a, const char *id,
                         const char *remark) {
  for (size_t j = 0; a->instance_names != NULL && j < a->instance_count; j++)
    if (strcmp(a->instance_ids[j], id) == 0)
      return a->instance_names[j] != NULL &&
             strcmp(a->instance_names[j], remark) == 0;
  return false;
}

/* The name of instance i: its Remark, if InstanceNames asks for it and
 * the Remark is usable, not like a block's self-monitoring and no other
 * instance's name. */
static void display_name(const account_t *a, char **ids, char **names,
                         size_t count, size_t i, char *out, size_t size) {
  sstrncpy(out, ids[i], size);
  if (!a->instance_names_option || names == NULL || names[i] == NULL)
    return;
  char mine[NAME_SIZE];
  bool cut;
  stat_text_name(names[i], mine, sizeof(mine), &cut);
  size_t len = strlen(mine);
  if ((cut || len == 0) && !remark_known(a, ids[i], names[i])) {
    char shown[NAME_SIZE + 32];
    stat_escape(names[i], shown, sizeof(shown));
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %s: the Remark of "
                        "instance %s, \"%s\", %s.",
            a->name, API_ACTION_INSTANCES, ids[i], shown,
            len == 0 ? "has no letter or digit to name series with; its "
                       "series are named by its ID"
                     : "is cut to fit a series name");
  }
  /* "...-api" is how blocks name their own health. */
  if (len == 0 || (len >= 4 && strcmp(mine + len - 4, "-api") == 0))
    return;
  for (size_t j = 0; j < count; j++) {
    char other[NAME_SIZE];
    if (j == i)
      continue;
    account_series_name(names[j] ? names[j] : "", other, sizeof(other));
    if (strcmp(mine, other) == 0 || strcmp(mine, ids[j]) == 0)
      return; /* collides: the ID it is */
  }
  sstrncpy(out, mine, size);
}

/* Appends to *series those of the block's statistics of the whole account,
 * named after the block. Returns 0 or ENOMEM. Under claims_lock. */
static int add_account_series(const account_t *a, series_t **series,
                              size_t *series_count, bool log_changes) {
  size_t first = *series_count;
  for (size_t k = 0; k < a->statistics_count; k++) {
    const statistic_t *stat = a->statistics[k];
    if (stat->scope != SCOPE_ACCOUNT)
      continue;
    series_t *grown = realloc(*series, (*series_count + 2) * sizeof(**series));
    if (grown == NULL)
      return ENOMEM;
    *series = grown;
    series_t *s = *series + (*series_count)++;
    series_init(a, s, stat, SIZE_MAX / 2); /* no instance's group */
  }
  if (*series_count == first ||
      !choose_names(a, *series + first, *series_count - first, "Account", NULL,
                    a->name)) {
    *series_count = first;
    return 0;
  }
  for (size_t i = first; i < *series_count; i++)
    carry_over(a, *series + i, log_changes);
  return 0;
}

int account_set_instances(account_t *a, char **ids, char **names, size_t count,
                          int *const *found, const size_t *found_count,
                          bool log_changes) {
  size_t groups = a->aggregate ? (count > 0 ? 1 : 0) : count;
  size_t aggregated =
      (count > API_MAX_INSTANCE_IDS) ? API_MAX_INSTANCE_IDS : count;
  if (a->aggregate && count > API_MAX_INSTANCE_IDS)
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate covers the first "
                      "%d of %zu instances, the API's limit.",
          a->name, API_MAX_INSTANCE_IDS, count);

  series_t *series = NULL;
  size_t series_count = 0;
  int status = 0;
  pthread_mutex_lock(&claims_lock);
  for (size_t g = 0; g < groups && status == 0; g++) {
    size_t first = a->aggregate ? 0 : g;
    size_t n = a->aggregate ? aggregated : 1;
    size_t port_count = 0;
    int *ports = merge_ports(a, found, found_count, first, n, &port_count);
    if (ports == NULL) {
      status = ENOMEM;
      break;
    }
    /* No port configured, none auto: all ports together. Auto and none
     * found: no port to poll for this instance. */
    bool all_ports = port_count == 0 && a->port_count == 0 && !a->ports_auto;
    size_t per_port = all_ports ? 1 : port_count;
    size_t want = 0;
    for (size_t k = 0; k < a->statistics_count; k++)
      want += (a->statistics[k]->scope == SCOPE_PORT)       ? per_port
              : (a->statistics[k]->scope == SCOPE_INSTANCE) ? 1
                                                            : 0;
    series_t *grown =
        realloc(series, (series_count + want + 1) * sizeof(*series));
    if (grown == NULL) {
      free(ports);
      status = ENOMEM;
      break;
    }
    series = grown;

    char base[NAME_SIZE];
    if (a->aggregate)
      sstrncpy(base, a->name, sizeof(base));
    else
      display_name(a, ids, names, count, g, base, sizeof(base));
    size_t group_first = series_count;
    for (size_t k = 0; k < a->statistics_count; k++) {
      const statistic_t *stat = a->statistics[k];
      if (stat->scope == SCOPE_DOMAIN || stat->scope == SCOPE_ACCOUNT)
        continue;
      /* Rows of an instance each (a plan, its rules) are not added up over
       * an Aggregate's instances: one instance's protection is no part of
       * a sum. */
      if (a->aggregate && stat->instance_field != NULL)
        continue;
      if (n > stat->max_instances)
        ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate covers the "
                          "first %zu of %zu instances for %s, the API's "
                          "limit.",
              a->name, stat->max_instances, n, stat->name);
      size_t per_stat = (stat->scope == SCOPE_PORT) ? per_port : 1;
      /* Asked with the instance's rules: none known (yet), nothing to ask. */
      if (stat->takes_rules && (found == NULL || found_count[g] == 0))
        per_stat = 0;
      for (size_t p = 0; p < per_stat; p++) {
        series_t *s = series + series_count++;
        series_init(a, s, stat, g);
        s->first_instance = first;
        s->instance_count = (n > stat->max_instances) ? stat->max_instances : n;
        if (stat->scope == SCOPE_PORT && !all_ports)
          ssnprintf(s->port, sizeof(s->port), "%d", ports[p]);
      }
    }
    free(ports);
    if (!choose_names(a, series + group_first, series_count - group_first,
                      a->aggregate ? "Aggregate" : "instance",
                      a->aggregate ? NULL : ids[g], base)) {
      series_count = group_first;
      continue;
    }
    for (size_t i = group_first; i < series_count; i++)
      carry_over(a, series + i, log_changes);
  }
  if (status == 0)
    status = add_account_series(a, &series, &series_count, log_changes);
  /* The web series stay as they are. */
  if (status == 0)
    status = keep_series(a, true, &series, &series_count);
  if (status == 0)
    status = claim(a, series, series_count);
  pthread_mutex_unlock(&claims_lock);
  if (status != 0) {
    free(series);
    free_list(ids, count);
    free_list(names, count);
    return status;
  }
  install_series(a, series, series_count, log_changes, ids);
  free_list(a->instance_ids, a->instance_count);
  free_list(a->instance_names, a->instance_count);
  a->instance_ids = ids;
  a->instance_names = names;
  a->instance_count = count;
  return 0;
}

size_t account_series_shown(const account_t *a) {
  size_t n = 0;
  for (size_t i = 0; i < a->series_count; i++)
    n += !a->series[i].chunk && a->series[i].stat != a->stand_in;
  return n;
}
