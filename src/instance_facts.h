/**
 * collectd-ddoscoo - src/instance_facts.h
 * SPDX-License-Identifier: MIT
 *
 * What a block knows of its instances beyond their IDs, from
 * DescribeInstances (Ip, Remark, ExpireTime, Status, Enabled, DebtStatus,
 * Edition) and DescribeInstanceDetails (every IP: EipInfos[].Eip): the map
 * from an IP to its instance that attributes the rows of an answer naming
 * several instances (statistics.h, stat_attribution_t) to each of them.
 * And how a statistic's instances are split into requests (chunks). Pure:
 * no collectd.
 */
#ifndef INSTANCE_FACTS_H
#define INSTANCE_FACTS_H 1

#include "api_response.h"
#include "statistics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An instance as DescribeInstances answers it; a field not answered is
 * -1 (ExpireTime 0). */
typedef struct {
  char *id;
  char *remark;        /* NULL: none */
  int64_t expire_time; /* ExpireTime: ms since the epoch; 0: not answered */
  int status;          /* Status: 1 normal, 2 expired */
  int enabled;         /* Enabled: 1 forwarding, 0 stopped */
  int debt_status;     /* DebtStatus: 0 no overdue payment */
  int edition;         /* Edition: 0, 1, 2 (outside mainland China), 9 */
} instance_fact_t;

/* An IP of an instance: canonical (stat_ip_name), and the instance. */
typedef struct {
  char ip[48];
  size_t instance; /* into items */
} instance_ip_t;

typedef struct {
  instance_fact_t *items;
  size_t count;
  instance_ip_t *ips; /* sorted by ip once facts_done() */
  size_t ip_count;
} instance_facts_t;

/* The fact of instance id, added (all fields unknown) if new; NULL: no
 * memory. */
instance_fact_t *facts_instance(instance_facts_t *f, const char *id);

/* The fact of instance id, or NULL. */
const instance_fact_t *facts_find(const instance_facts_t *f, const char *id);

/* Notes that ip is an address of instance id (added if new). Returns 0,
 * 1 for an ip that is no IPv4 or IPv6 address (ignored), -1 for no
 * memory. */
int facts_add_ip(instance_facts_t *f, const char *id, const char *ip);

/* Everything noted: sorts the IPs for facts_owner(). An IP noted of two
 * instances keeps the first. */
void facts_done(instance_facts_t *f);

/* The instance ID an answer's IP belongs to (any spelling of the address),
 * or NULL if the facts know no such IP. */
const char *facts_owner(const instance_facts_t *f, const char *ip);

void facts_clear(instance_facts_t *f);

/* Moves everything from *from to *to (cleared first). */
void facts_move(instance_facts_t *to, instance_facts_t *from);

/* Splits n instances (in order) into chunks of at most max each, where
 * instance i is in a chunk of at most cap[i] (cap NULL, cap[i] 0 or above
 * max: max) with neighbours of the same cap only: first[k] is the first
 * instance of chunk k. Returns the number of chunks (first must have room
 * for n). */
size_t facts_chunks(size_t n, size_t max, const size_t *cap, size_t *first);

/* How the rows of an answer to a request naming ids[0..n) belong to
 * them: owner[r] is the index into ids of row r's instance, or SIZE_MAX
 * (not attributed). With n 1, every row is that instance's (the request
 * named no other). Else by stat's attribution field: STAT_BY_INSTANCE_ID
 * a row's InstanceId; STAT_BY_IP a row's Ip, through the facts; and
 * STAT_ACCOUNT_BY_IP (a request naming no instance, ids the block's) so
 * also with n 1. */
typedef struct {
  size_t unknown;          /* rows naming an IP the facts do not know */
  char first_unknown[256]; /* the first of them, as answered */
  size_t not_ip; /* rows whose Ip is no IPv4 or IPv6 address (or none) */
  char first_not_ip[256];
  size_t unusable; /* rows naming an instance the request did not name */
  char first_unusable[256];
  /* STAT_ACCOUNT_BY_IP: rows of the account's instances the block does not
   * poll (the request named none), dropped without a word. */
  size_t others;
} facts_attribution_t;

void facts_attribute(const instance_facts_t *f, const statistic_t *stat,
                     const api_rows_t *rows, const char *const *ids, size_t n,
                     size_t *owner, facts_attribution_t *note);

/* The rows of all whose owner is k, copied into *out (texts still held by
 * all's). Returns 0, or -1 for no memory. Free out->values only. */
int facts_rows_of(const api_rows_t *all, const size_t *owner, size_t k,
                  api_rows_t *out);

#endif /* INSTANCE_FACTS_H */
