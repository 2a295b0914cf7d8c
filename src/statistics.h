/**
 * collectd-ddoscoo - src/statistics.h
 * SPDX-License-Identifier: MIT
 *
 * What the plugin collects, one row per statistic: the operation it asks,
 * what one series covers, the fields of the answer and the collectd type
 * each becomes. The scheduler, the request builder, the parser and
 * dispatch walk this table and never name a statistic. Pure data: no
 * collectd.
 */
#ifndef STATISTICS_H
#define STATISTICS_H 1

#include "api_request.h"
#include "api_response.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Bounds of the table: windows one request covers, values per window. */
#define STAT_MAX_BATCH 60
#define STAT_MAX_VALUES 16
/* Pages of one paged answer (events) read for one request's windows. */
#define STAT_MAX_PAGES 20
/* Statistics one block may poll (account_t's arrays): room for the table's
 * rows, and for more. */
#define STAT_MAX_STATISTICS 24

typedef enum {
  SCOPE_PORT,     /* a series per instance and port (or all ports) */
  SCOPE_INSTANCE, /* a series per instance */
  SCOPE_DOMAIN,   /* a series per web domain (Domain): no InstanceIds */
  SCOPE_ACCOUNT,  /* a series per block: neither InstanceIds nor Domain */
} stat_scope_t;

/* Whose a row of an answer is, for a statistic whose requests name
 * several instances (max_instances): the block asks once for up to
 * max_instances of its instances (a chunk, a scheduler series), and each
 * row's values and notifications go to its own instance's series. */
typedef enum {
  STAT_OWN_ROWS,       /* a request names one instance: its rows are it */
  STAT_BY_INSTANCE_ID, /* a row's attribution_field is its InstanceId */
  STAT_BY_IP, /* a row's attribution_field is an IP of its instance, mapped
                 through the instance facts (instance_facts.h) */
  /* The request names no instance: it answers for the whole account, one
   * request (a chunk of all the block's instances, a series of its own)
   * for every instance; a row goes, by its IP as for STAT_BY_IP, to the
   * instance of the block it belongs to, and a row of an instance the block
   * does not poll is dropped without a word. */
  STAT_ACCOUNT_BY_IP,
} stat_attribution_t;

typedef struct statistic_s statistic_t;
typedef struct stat_event_s stat_event_t;

/* Where a statistic's values go: one value of the window ending at end. */
typedef void (*stat_emit_t)(void *ctx, time_t end, const char *type,
                            const char *type_instance, double value);

/* An answer's field and the value it becomes: type and type_instance from
 * collectd's stock types.db. */
typedef struct {
  const char *field;
  const char *type;
  const char *type_instance;
} stat_value_t;

/* How a value is converted: the field's unit in the value's (1e9: Gbit/s
 * as bit/s; 0: 1), and a field value that means no value (STAT_NONE_*:
 * no limit). */
typedef struct {
  double scale;
  unsigned none;
} stat_unit_t;

/* 0 means no limit (RealLimitBw). */
#define STAT_NONE_ZERO 0x1u
/* -1 means unlimited (DefenseCount): the field is read as a text, an
 * integer of at most 15 digits with an optional '-'. */
#define STAT_NONE_MINUS_ONE 0x2u

/* A parameter with fixed values: the statistic is asked once per value, a
 * series each, and the type_instance of each of its values starts with
 * the value's prefix. */
typedef struct {
  const char *param;  /* e.g. "QueryType" */
  const char *value;  /* e.g. "gf"; also in the StateFile key */
  const char *prefix; /* e.g. "edge_" */
  /* The value's other spelling, where the vendor's sources disagree:
   * asked when the service refuses value (and value when it refuses this);
   * NULL: none. */
  const char *alt_value;
} stat_variant_t;

/* Which spelling of a variant with an alt_value a block asks: value until
 * the service refuses it, then alt_value; settled once one is answered
 * (kept for the block's lifetime) or both were refused (value again). */
typedef struct {
  const stat_variant_t *variant;
  bool alt;     /* asks alt_value */
  bool settled; /* no more switching */
} stat_spelling_t;
#define STAT_MAX_SPELLINGS 4

typedef enum {
  STAT_SPELLING_KEEP,     /* not for a new spelling: an error as any */
  STAT_SPELLING_SWITCHED, /* now the other spelling: ask again at once */
  STAT_SPELLING_AGAIN,    /* asked in a spelling the block has left since:
                             ask again at once, in the current one */
} stat_spelling_step_t;

/* The service refused a request that asked sp's variant in alt_value
 * (asked_alt) or value: what to do, sp updated. */
stat_spelling_step_t stat_spelling_refused(stat_spelling_t *sp, bool asked_alt);

/* The service answered a request so asked: that spelling is kept. */
void stat_spelling_answered(stat_spelling_t *sp, bool asked_alt);

struct statistic_s {
  const char *name;   /* the value of the Statistics option */
  const char *action; /* the operation */
  /* The optional parameters it takes (API_TAKES_*), by its request model:
   * only those are sent. */
  unsigned takes;
  stat_scope_t scope;
  /* Seconds one request may cover, for operations that take an Interval
   * (the Window) and answer a row per bucket: one request per hour of
   * missed minutes. 0: one window per request. */
  int batch_seconds;
  bool takes_interval; /* the request's Interval: the Window, a row each */
  /* Seconds of its own windows, whatever the block's Window: its
   * operation's finest Interval (DescribeDomainBps: 300). Its windows end
   * at multiples of it; a request's Interval is it. 0: the Window. */
  int window;
  const char *list; /* the row element; NULL: a flat answer, one row */
  /* With list: the fields that say which bucket a row is: Time, its start
   * (preferred), or Index, counting buckets from StartTime. Rows of one
   * bucket (Premium answers one per source region) are added up. */
  const char *time_field;
  const char *index_field;
  const api_field_t *fields;
  size_t field_count;
  const api_field_t *root_fields; /* e.g. Total, beside the rows */
  size_t root_field_count;
  const stat_value_t *values;
  size_t value_count;
  const stat_unit_t *units; /* per value; NULL: as answered */
  size_t max_response;      /* the largest answer accepted, in bytes */
  size_t max_instances;     /* InstanceIds one request may name */
  /* With STAT_BY_*: requests name up to max_instances instances, their
   * rows attributed by attribution_field. */
  stat_attribution_t attribution;
  const char *attribution_field;
  /* Seconds before the first window a request also covers: events that
   * began earlier and still run. With it, the answer is paged: every page
   * up to its Total (root field 0), at most STAT_MAX_PAGES. */
  int lookback;
  /* A state, not a history: the request names no time, and only the
   * newest window is asked (an outage is not caught up). */
  bool timeless;
  /* Turns an answer's rows into values (emit); NULL: `values` maps the
   * fields, a window per row (stat_windows). Returns 0, or -1 with why
   * before it emits anything. */
  int (*points)(const statistic_t *stat, const api_rows_t *rows,
                time_t first_end, time_t last_end, int window, stat_emit_t emit,
                void *ctx, char *why, size_t why_size);
  /* Appended to the StateFile key; "" for connections, whose keys predate
   * the other statistics. A variant appends "/<value>". */
  const char *state_suffix;
  /* Asked once per variant (e.g. QueryType gf and upstrem); NULL: once. */
  const stat_variant_t *variants;
  size_t variant_count;
  /* A parameter every request carries with this value (EventType cc);
   * NULL: none. A variant's goes before it. */
  const char *fixed_param;
  const char *fixed_value;
  /* Row r of an answer as an attack event, for the notifications of a
   * statistic with a lookback of instances (stat_event, stat_all_event);
   * NULL: stat_event. */
  void (*event)(const api_rows_t *rows, size_t r, stat_event_t *e);
  /* A state that changes slowly (a plan's limits, quotas used): asked once
   * every StateInterval (sched_series_t.cadence), with the requests the
   * per-minute statistics leave over; timeless too. */
  bool slow;
  /* Asked with the NetworkRules of the instance's forwarding rules (a
   * JSON text), known from discovery: no series before they are. */
  bool takes_rules;
  /* The field of a row naming its instance: a row of an instance the
   * request did not name is refused (stat_rows_of_instances). NULL: the
   * rows name none. */
  const char *instance_field;
  /* PageSize (and PageNumber 1) of an operation that requires them
   * (DescribeInstances): max_instances at most, one page holds every row
   * a request asks for. 0: not sent (or the events' paging, lookback). */
  int page_size;
  /* Its rows are instances' terms (stat_expiry): news of their expiry
   * and debt. */
  bool notifies_expiry;
  /* Its values are ports': its points emit each with the port's number as
   * type_instance (a name the answer makes), and it goes to the port's
   * series, plugin_instance "<instance>_<port>" as the connections', with
   * the table's type_instance. */
  bool per_port;
};

/* The statistics, and how many there are. */
extern const statistic_t statistics[];
extern const size_t statistics_count;

/* The statistic of that name (case-insensitive), or NULL. */
const statistic_t *statistic_find(const char *name);

/* The statistic that calls action, or NULL. */
const statistic_t *statistic_of_action(const char *action);

/* The values an answer's rows give the windows ending at first_end,
 * first_end + window, ..., last_end: values[k * value_count + v] is value
 * v of window k (NAN if no row of the window has its field: an optional
 * field the answer left out), seen[k] whether the answer had the window.
 * A flat answer is the window first_end. Rows of one bucket are added up.
 * Returns 0, or -1 with why for a row outside the range or between buckets. */
int stat_windows(const statistic_t *stat, const api_rows_t *rows,
                 time_t first_end, time_t last_end, int window, double *values,
                 bool *seen, char *why, size_t why_size);

/* The values an answer gives the windows first_end ... last_end, handed
 * to emit: stat->points, or the fields mapped by stat->values (a field
 * the answer left out gives no value). Returns 0, why "" or a note of the
 * values refused (a row whose name is unusable: a blackhole's Ip that is
 * no IP address), or -1 with why (an unusable answer) having emitted
 * nothing. */
int stat_points(const statistic_t *stat, const api_rows_t *rows,
                time_t first_end, time_t last_end, int window, stat_emit_t emit,
                void *ctx, char *why, size_t why_size);

/* What a paged answer needs after page `page` (from 1) of page_size
 * rows, which held page_rows of them, when the answer counts total. */
typedef enum {
  STAT_PAGES_DONE,   /* every page read (or an empty one: nothing more) */
  STAT_PAGES_MORE,   /* the next page */
  STAT_PAGES_CAPPED, /* more, but STAT_MAX_PAGES are read */
} stat_pages_t;
stat_pages_t stat_next_page(uint64_t total, int page, int page_size,
                            size_t page_rows);

/* Adds the rows of page to all (the pages before it, or empty), except
 * rows all already has (an answer that shifted between pages); the root
 * fields become page's (its Total is the newest). page is left empty.
 * Returns 0, or -1 (out of memory, or rows of other fields). */
int stat_rows_append(api_rows_t *all, api_rows_t *page);

/* Keeps the rows of an answer whose instance_field names one of the ids
 * asked for (all rows when stat has no instance_field). Returns how many
 * rows were left out, the first of them named in why; or -1 with why for
 * an instance answered twice where a row is an instance's (no points
 * function of its own). */
int stat_rows_of_instances(const statistic_t *stat, api_rows_t *rows,
                           const char *const *ids, size_t id_count, char *why,
                           size_t why_size);

/* A real server's address as a name: an IP address's (stat_ip_name), else
 * stat_text_name's. */
#define STAT_ADDRESS_SIZE 64

/* The health of each forwarding rule (address NULL) and each of its real
 * servers in a DescribeHealthCheckStatus answer that stat_points took:
 * rule "tcp_80", address as a name, abnormal or not. */
void stat_health_each(const api_rows_t *rows,
                      void (*each)(void *ctx, const char *rule,
                                   const char *address, bool abnormal),
                      void *ctx);

/* What is known of a rule's or server's health (a StateFile mark): 0
 * nothing yet. */
#define STAT_HEALTH_NORMAL 1
#define STAT_HEALTH_ABNORMAL 2

/* The mark after a health seen abnormal or not, given the mark before;
 * *notify: whether that is news (it turned abnormal, or normal again; or
 * is abnormal when first seen), once per change. */
int stat_health_step(int mark, bool abnormal, bool *notify);

/* An instance's term in a DescribeInstances answer (the expiry
 * statistic): when it expires (seconds), whether it is expired (Status 2)
 * and in debt (DebtStatus other than 0). */
typedef struct {
  const char *instance_id;
  time_t expire;
  bool expired;
  bool in_debt;
} stat_expiry_t;

/* Row r of an expiry answer that stat_points took. */
void stat_expiry(const api_rows_t *rows, size_t r, stat_expiry_t *e);

/* How near e's end is at now, given the seconds before it that are a
 * warning and a failure: a StateFile mark. */
#define STAT_EXPIRY_OK 1
#define STAT_EXPIRY_WARNING 2 /* expires within warning seconds */
#define STAT_EXPIRY_FAILURE 3 /* within failure seconds */
#define STAT_EXPIRY_EXPIRED 4 /* Status 2, or its ExpireTime is past */
int stat_expiry_level(const stat_expiry_t *e, time_t now, long long warning,
                      long long failure);

/* The mark after a state seen at level (1: as it should be; an expiry
 * level, or 1/2 for not in debt/in debt), given the mark before (0:
 * nothing yet); *notify: whether that is news, once per change (a level
 * other than 1 when first seen is news too). */
int stat_mark_step(int mark, int level, bool *notify);

/* Whether stat's values of that type are named by the answer (a table
 * type_instance such as "<Ip>", or a port's value): series the answer, not
 * the table, makes. */
bool stat_named_by_answer(const statistic_t *stat, const char *type);

/* An IP address of an answer as a type_instance: the address in its
 * canonical form (inet_ntop: IPv4 dotted decimal, IPv6 compressed, lower
 * case), an IPv6 address's ':' made '_' ("2001:db8::1" becomes
 * "2001_db8__1": ':' separates fields in rrdtool's graph arguments, and
 * write_graphite makes it '_' anyway). Returns false, out "", for
 * anything that is no IPv4 or IPv6 address (inet_pton). */
bool stat_ip_name(const char *ip, char *out, size_t size);

/* A text of an answer (a Remark) as a name: ASCII letters, digits, '_' and
 * '-' kept, other ASCII made '_'; of UTF-8, the well-formed characters that
 * show as something kept, spaces, controls (U+0080..U+009F: U+0085 is a
 * line break to some), invisible format characters (U+200B..U+200F,
 * U+2028..U+202E, U+2060..U+206F, U+FEFF...) and malformed bytes made '_'.
 * Cut at a character to fit size; *cut says whether it was. "" if nothing
 * but '_' is left. */
void stat_text_name(const char *text, char *out, size_t size, bool *cut);

/* text for a log line: printable ASCII as it is, but for '"' and '\\',
 * and every other byte as \xHH; cut with "..." to fit size. */
void stat_escape(const char *text, char *out, size_t size);

/* Per-IP series a block creates: at most this many new ones in one read,
 * and this many in all (a blackholed IP's series that the answers name). */
#define STAT_MAX_NEW_NAMED_PER_READ 256
#define STAT_MAX_NAMED_SERIES 4096

/* An attack event of a DescribeDDoSEvents answer. */
struct stat_event_s {
  const char *type; /* "defense" (mitigation), "blackhole" or "cc" */
  const char *ip;
  const char *port; /* "" for a blackhole */
  time_t start;
  time_t end; /* 0: still running (EndTime 0 or absent); or its planned end */
  uint64_t bps, pps;
  uint64_t qps; /* an HTTP flood's (DescribeDomainAttackEvents) MaxQps */
};

/* Row r of an events answer as an event. */
void stat_event(const api_rows_t *rows, size_t r, stat_event_t *e);

/* Whether e's Ip (an IPv4 or IPv6 address, or none) and Port (1 to 65535,
 * or none) are usable in notifications and StateFile keys. */
bool stat_event_names_ok(const stat_event_t *e);

/* What is left to notify of e: given what was (0 nothing, 1 its start, 2
 * its end too), calls notify for its start and its end (once its end is
 * not after now) as due, and returns what then is. An event that ended
 * before since (older than the windows polled: the first poll, an outage
 * beyond its lookback) is recorded without a word. */
int stat_event_notify(
    const stat_event_t *e, int notified, time_t since, time_t now,
    void (*notify)(void *ctx, const stat_event_t *e, bool started), void *ctx);

/* Row r of a DescribeDomainAttackEvents answer (the cc_events statistic)
 * as an event: type "cc", no Ip or Port, its MaxQps in qps. */
void stat_cc_event(const api_rows_t *rows, size_t r, stat_event_t *e);

/* Row r of a DescribeDDosAllEventList answer (the instance_cc_events
 * statistic) as an event: its EventType ("cc"), Ip, Port, its Mbps (Mbit/s)
 * as bit/s (times 10^6) and Pps. */
void stat_all_event(const api_rows_t *rows, size_t r, stat_event_t *e);

/* "connections", "traffic", ...: for messages naming the known ones. */
void statistics_names(char *buf, size_t size);

#endif /* STATISTICS_H */
