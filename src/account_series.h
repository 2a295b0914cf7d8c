/**
 * collectd-ddoscoo - src/account_series.h
 * SPDX-License-Identifier: MIT
 *
 * A block's series, from its instances and ports: at configuration and
 * after each discovery.
 */
#ifndef ACCOUNT_SERIES_H
#define ACCOUNT_SERIES_H 1

#include "account.h"

/* Sets the block's instances (taking ownership of ids and, if not NULL,
 * names: arrays of count strings, a name NULL or "" where there is none)
 * and rebuilds its series: per instance, or with Aggregate over all of
 * them, one series per port (the configured ones and, with Port "auto",
 * those in found[i], found_count[i]), or one for all ports when no port is
 * configured or auto. Series that stay keep their state; with log_changes
 * those that come and go are logged. Returns 0, or ENOMEM with nothing
 * changed (ids and names freed). */
int account_set_instances(account_t *a, char **ids, char **names, size_t count,
                          int *const *found, const size_t *found_count,
                          bool log_changes);

/* Sets the block's web domains (taking ownership of domains, an array of
 * count names) and rebuilds their series: per domain, web statistic and
 * variant; the other series stay. Series that stay keep their state; with
 * log_changes those that come and go are logged. Returns 0, or ENOMEM
 * with nothing changed (domains freed). */
int account_set_domains(account_t *a, char **domains, size_t count,
                        bool log_changes);

/* A domain as a plugin_instance: as it is, but a wildcard's '*' made '_'
 * ("*.example.com" becomes "_.example.com"). */
void account_domain_instance(const char *domain, char *out, size_t size);

/* A Remark as a plugin_instance: stat_text_name (ASCII letters, digits,
 * '_' and '-' kept, other ASCII made '_', well-formed visible UTF-8 kept),
 * cut at a character boundary to fit size (with room for "_<port>"). ""
 * if nothing is left. */
void account_series_name(const char *remark, char *out, size_t size);

/* Series names are unique across blocks (and <Plugin ddoscoo> blocks): a
 * process-wide registry of the names in use (host, plugin_instance,
 * statistic, variant), claimed when a block's series are built and
 * released when they go. A name another block has: "<name>_<ID>", or
 * "<name>_<block>" (logged). Releases the block's names and its names
 * from answers; account_free() calls it. */
void account_series_release(account_t *a);

/* A read begins: no series named by answers made in it yet. */
void account_series_new_read(account_t *a);

/* Whether a value of s named by an answer (a blackhole's IP, a port, as
 * type_instance) may be dispatched: a port the block polls for the
 * instance, a series made before, or a new one within the caps
 * (STAT_MAX_NEW_NAMED_PER_READ per read, STAT_MAX_NAMED_SERIES in all
 * since the start; a cap reached is logged, rate-limited). */
bool account_series_admit(account_t *a, const series_t *s,
                          const char *type_instance);

/* Builds the block's chunks anew (account.h: series_t.chunk), from its
 * members, their caps and the instance facts: after a refusal split one,
 * or when the facts came or went. The chunks' windows carry on. Only with
 * no request in flight. Returns 0 or ENOMEM. */
int account_series_rechunk(account_t *a);

/* Chunks of several instances that attribute rows by IP wait (w.idle)
 * while the instance facts are not there, or are being asked again and
 * lack one of their instances. Returns whether a chunk's waiting changed. */
bool account_series_idle(account_t *a);

/* The block's series as users see them, for the log: not its chunks, which
 * only ask for their members. */
size_t account_series_shown(const account_t *a);

#endif /* ACCOUNT_SERIES_H */
