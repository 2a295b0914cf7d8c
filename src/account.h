/**
 * collectd-ddoscoo - src/account.h
 * SPDX-License-Identifier: MIT
 *
 * An <Account> block: its options, the series it polls and their state.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H 1

#include "collectd.h"

#include "plugin.h"
#include "utils_complain.h"

#include "credentials.h"
#include "held_values.h"
#include "http_client.h"
#include "instance_facts.h"
#include "scheduler.h"
#include "statistics.h"

#define PLUGIN_NAME "ddoscoo"

/* What an HTTP request in flight is for: the first member of the struct its
 * user pointer points to. */
typedef enum {
  REQUEST_WINDOW,    /* a series_t: one of its statistic's windows */
  REQUEST_INSTANCES, /* discovery: DescribeInstanceIds */
  REQUEST_RULES,     /* discovery: DescribeNetworkRules of an instance */
  REQUEST_DOMAINS,   /* discovery: DescribeDomains */
  REQUEST_SOURCES,   /* an attack event's sources (event_sources.c) */
  REQUEST_FACTS,     /* instance facts: DescribeInstances, ...Details */
} request_kind_t;

typedef struct event_pending_s event_pending_t;

/* One statistic of an instance (or, aggregated, of every instance of the
 * block) and, for connections, of a port (or all ports together); or, for
 * web statistics, of a domain (and a variant: QueryType gf or upstrem). */
typedef struct {
  request_kind_t kind; /* REQUEST_WINDOW */
  const statistic_t *stat;
  const stat_variant_t *variant; /* NULL: none */
  char plugin_instance[DATA_MAX_NAME_LEN];
  char domain[DATA_MAX_NAME_LEN];    /* SCOPE_DOMAIN: Domain as asked */
  char name[DATA_MAX_NAME_LEN + 32]; /* for the log: plugin_instance and
                                        the variant, if any */
  size_t first_instance;             /* into the block's instance_ids */
  size_t instance_count;
  char port[8];         /* "": all ports */
  sched_series_t w;     /* its windows, for the scheduler */
  held_values_t held;   /* fetched windows not yet dispatched */
  cdtime_t released_at; /* when its last window was dispatched */
  bool restored;        /* from the StateFile, once */
  bool asked_alt;       /* the request in flight asks variant->alt_value */
  /* With no window stored yet (w.last_end 0): the end of the window before
   * the first it asked for, from which its age counts. */
  time_t age_since;
  c_complain_t complaint;
  c_complain_t paging;         /* more events than STAT_MAX_PAGES pages */
  c_complain_t name_complaint; /* names of answers refused */
  /* Of a statistic whose requests name several instances (its
   * attribution): a member is an instance's series (values, StateFile),
   * asking nothing itself (w.idle); a chunk asks for up to max_instances
   * members (the series at these indices of the block's) and dispatches
   * nothing itself. */
  bool member;
  size_t cap; /* member: the most members its chunk may have; 0: any */
  bool chunk;
  size_t *members;
  char **member_ids; /* the InstanceIds it asks, the members' */
  size_t member_count;
} series_t;

/* What the block has seen of one of its statistics: counters since the
 * start, and whether the log said the first answer (or refusal). */
typedef enum {
  CONTACT_NONE,     /* no answer yet */
  CONTACT_REFUSED,  /* refused (permission, parameters), said so */
  CONTACT_ANSWERED, /* answered, said so */
} stat_contact_t;

typedef struct {
  uint64_t sent;
  uint64_t refused; /* permission or parameters: API_ERROR_PERMISSION/REQUEST */
  uint64_t throttled;
  stat_contact_t contact;
} stat_health_t;

/* Self-monitoring counters, since the start. */
typedef struct {
  uint64_t requests;
  uint64_t failed;
  uint64_t throttled;
  uint64_t backfilled;
  stat_health_t of[STAT_MAX_STATISTICS]; /* of the block's statistics[i] */
} account_stats_t;

typedef struct {
  /* Options */
  char *name;
  char *access_key_id;
  char *access_key_secret;
  char *security_token;
  char *credentials_file;
  char *profile;
  char *ram_role;
  char *metadata_url;
  int signature_version; /* 1 or 3 */
  char *region_id;
  char *endpoint;
  char *url;           /* the endpoint with the path "/" */
  char *url_authority; /* host[:port], the Host header V3 signs */
  char *resource_group_id;
  char **instance_ids; /* configured, or the last discovered */
  size_t instance_count;
  char **instance_names; /* for plugin_instance (InstanceNames), or NULL */
  char **ports;          /* configured port numbers */
  size_t port_count;
  bool ports_auto;         /* Port "auto": and the forwarded ones */
  bool discover_instances; /* no InstanceId: the account's */
  bool instance_names_option;
  char **domains; /* Domain: configured, and the last discovered */
  size_t domain_count;
  char **listed_domains; /* configured, kept for discovery */
  size_t listed_domain_count;
  bool domains_auto;   /* Domain "auto", or web statistics and no Domain */
  bool domains_listed; /* some Domain other than "auto" */
  cdtime_t discovery_interval;
  struct discovery_s *discovery; /* NULL: nothing to discover */
  /* StateInterval: seconds between asks of a slow statistic. */
  int state_interval;
  /* ExpiryWarningDays, ExpiryFailureDays: days before an instance expires
   * that its notifications (the expiry statistic) are a WARNING, a
   * FAILURE. */
  int expiry_warning_days;
  int expiry_failure_days;
  /* A statistic asks with the instances' rules (health): discovery reads
   * them, and keeps them here, per instance of instance_ids (port, +
   * DISCOVERY_UDP for udp), rules_of lists. */
  bool rules_wanted;
  int **rules;
  size_t *rule_counts;
  size_t rules_of;
  bool aggregate;
  const statistic_t *statistics[STAT_MAX_STATISTICS]; /* Statistics: what each
                                                         instance gives */
  size_t statistics_count;
  const statistic_t *priority[STAT_MAX_STATISTICS]; /* Priority: who gives
                                                       way last, first */
  size_t priority_count;
  /* A statistic not in Statistics that the plan asks where it degrades
   * another (max_new_connections for connections: account_plan.c), at the
   * end of statistics, and that other; NULL: none. standing_in: the plan
   * asks it now. */
  const statistic_t *stand_in;
  const statistic_t *stands_in_for;
  bool standing_in;
  cdtime_t interval;
  int window;
  int delay;
  int max_backfill; /* windows per series and read */
  int max_concurrent;
  int max_rps; /* requests started per second; 0: unlimited */
  cdtime_t timeout;
  bool verify_peer;
  bool verify_host;
  char *ca_cert;
  char *proxy;
  char host[DATA_MAX_NAME_LEN];
  bool self_monitoring;
  bool event_sources; /* EventSources: notifications name the sources */

  /* State; only the block's read callback touches it. */
  series_t *series;
  size_t series_count;
  credentials_t *credentials;
  http_client_t *http;
  sched_t sched;          /* windows, limits, backoff, keys refused */
  time_t marks_forgotten; /* when old event marks were last dropped */
  /* The request plan (account_plan.c): the pace and the latency it was
   * made for, when, the pace's mean over the last reads, and its line as
   * last logged. */
  int plan_pace;
  double plan_latency;
  cdtime_t plan_time;
  double plan_pace_mean;
  char plan_line[1024];
  /* The spelling asked of each variant with two (account_poll.c). */
  stat_spelling_t spellings[STAT_MAX_SPELLINGS];
  size_t spelling_count;
  account_stats_t stats;
  cdtime_t stats_time;    /* of the last dispatch of stats */
  c_complain_t complaint; /* errors of the whole block */

  /* Series named by answers (a blackhole's IPs): hashes of those made so
   * far, sorted, and how many were new in this read. */
  uint64_t *named_series;
  size_t named_series_count;
  size_t named_series_new;
  c_complain_t named_complaint; /* a cap reached */

  /* Attack events whose notifications wait for their sources
   * (event_sources.c); of each sources operation (sources_op_t) its
   * errors, and its sources refused. */
  event_pending_t **pending;
  size_t pending_count;
  c_complain_t sources_complaint[3];
  c_complain_t sources_name_complaint[3];
  /* What DescribeInstances and DescribeInstanceDetails say of the
   * instances (account_facts.c): the IPs that attribute rows to them. */
  instance_facts_t facts;
  struct account_facts_s *facts_refresh; /* NULL: no chunk needs the IPs */
  bool rechunk; /* the chunks are to be built anew, at once (a split) */
  bool regroup; /* ... at the next read's start (split chunks grow back) */
  c_complain_t unknown_ip_complaint;
} account_t;

/* Seconds of s's windows: its statistic's own, or the block's Window. */
static inline int series_window(const account_t *a, const series_t *s) {
  return s->w.step > 0 ? s->w.step : a->window;
}

/* The end of the newest window the series handed collectd, 0 if none:
 * windows still held are fetched, not stored. */
static inline time_t series_stored_end(const series_t *s, int window) {
  return s->held.count ? held_oldest(&s->held) - window : s->w.last_end;
}

/* Instance IDs and block names end up in plugin_instance and file names:
 * letters, digits, '.', '_', '-'. */
bool account_is_identifier(const char *s);

/* A web domain as Domain and DescribeDomains give it: letters, digits, '-',
 * '_' and dots, optionally after "*.", short enough for plugin_instance. */
bool account_is_domain(const char *s);

/* Reads an <Account> block. Logs every mistake, naming the block and the
 * option, and returns NULL if there was any. */
account_t *account_config(oconfig_item_t *ci);

void account_free(void *account);

/* Frees the block's rules (account_t.rules). */
void account_free_rules(account_t *a);

#endif /* ACCOUNT_H */
