/**
 * collectd-ddoscoo - src/cc_sources.h
 * SPDX-License-Identifier: MIT
 *
 * Who is attacking a website: the top source IPs of an HTTP flood on a
 * domain, from DescribeWebReportTopIp, asked once when the flood starts
 * and once when it ends (not per minute), and named in the flood's
 * notification. The answer is untrusted: an IP that is none is left out,
 * an AreaId or Isp that is no number is shown as "?". Pure: no collectd.
 */
#ifndef CC_SOURCES_H
#define CC_SOURCES_H 1

#include "api_response.h"
#include "rpc_sign.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The sources a notification names, and Top of the request. */
#define CC_SOURCES_MAX 5

/* DataList's fields: SourceIp, AreaId, Isp, Count. */
extern const api_field_t cc_source_fields[];
extern const size_t cc_source_field_count;
#define CC_SOURCES_LIST "DataList"

typedef struct {
  char ip[INET6_ADDRSTRLEN]; /* canonical (inet_ntop) */
  char area[24];             /* AreaId: digits, or "?" */
  const char *isp_name;      /* a known Isp's name, or NULL */
  char isp[24];              /* Isp: digits, or "?" */
  uint64_t count;            /* Count, 0 if absent */
} cc_source_t;

/* What an answer held that could not be shown as it was. */
typedef struct {
  size_t no_ip;    /* rows left out: SourceIp absent or no IP address */
  size_t bad_text; /* AreaId or Isp that is no number: shown as "?" */
  char first[96];  /* the first such value, escaped */
} cc_refused_t;

/* The Interval DescribeWebReportTopIp takes for a span of that many
 * seconds: 300 under 3 days, 3600 under 31 days, else 86400. */
int cc_top_ip_interval(time_t span);

/* DescribeWebReportTopIp of domain from start to end (whole minutes:
 * start floored, end raised), the blocked IPs, Top CC_SOURCES_MAX:
 * Format, RegionId (NULL: not sent), StartTime, EndTime, Interval,
 * QueryType, Domain, Top. No ResourceGroupId: the operation has none.
 * Returns 0, or -1 (params then cleared). */
int cc_top_ip_params(const char *region_id, const char *domain, time_t start,
                     time_t end, rpc_params_t *params);

/* The sources of an answer's rows (cc_source_fields), most Count first
 * (the answer's order among equals), an IP answered twice once: at most
 * max. Returns how many. */
size_t cc_sources_pick(const api_rows_t *rows, cc_source_t *out, size_t max,
                       cc_refused_t *refused);

/* "198.51.100.7 (China Telecom, area 90998690), ..." in out (size
 * bytes): every source that fits whole, then " and N more" (which always
 * fits when size is at least 16). "" for none. */
void cc_sources_text(const cc_source_t *src, size_t n, char *out, size_t size);

#endif /* CC_SOURCES_H */
