/**
 * collectd-ddoscoo - src/sources.h
 * SPDX-License-Identifier: MIT
 *
 * Who is attacking: the top source IPs of an attack event, asked once when
 * it starts and once when it ends (not per minute), and named in its
 * notification. Of an HTTP flood on a domain from DescribeWebReportTopIp,
 * of a volumetric event (mitigation, blackhole) from
 * DescribeDDosEventSrcIp. The answer is untrusted: an IP that is none is
 * left out, an AreaId or Isp that is no code is shown as "?". Pure: no
 * collectd.
 */
#ifndef SOURCES_H
#define SOURCES_H 1

#include "api_response.h"
#include "rpc_sign.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The sources a notification names, and Top of the request. */
#define SOURCES_MAX 5

/* DescribeWebReportTopIp's DataList: SourceIp, AreaId, Isp, Count. */
extern const api_field_t cc_source_fields[];
extern const size_t cc_source_field_count;
#define CC_TOP_IP_LIST "DataList"

/* DescribeDDosEventSrcIp's Ips: SrcIp, AreaId, Isp (no Count: the answer
 * is ranked by attack traffic, most first). */
extern const api_field_t ddos_source_fields[];
extern const size_t ddos_source_field_count;
#define DDOS_SRC_IP_LIST "Ips"

typedef struct {
  char ip[INET6_ADDRSTRLEN]; /* canonical (inet_ntop) */
  char area[24];             /* AreaId: digits or letters ("us"), or "?" */
  const char *isp_name;      /* a known Isp's name, or NULL */
  char isp[24];              /* Isp: digits, or "?" */
  uint64_t count;            /* Count, 0 if absent */
} source_t;

/* What an answer held that could not be shown as it was. */
typedef struct {
  size_t no_ip;    /* rows left out: SourceIp absent or no IP address */
  size_t bad_text; /* AreaId or Isp that is no code: shown as "?" */
  char first[96];  /* the first such value, escaped */
} sources_refused_t;

/* The Interval DescribeWebReportTopIp takes for a span of that many
 * seconds: 300 under 3 days, 3600 under 31 days, else 86400. */
int cc_top_ip_interval(time_t span);

/* DescribeWebReportTopIp of domain from start to end (whole minutes:
 * start floored, end raised), the blocked IPs, Top SOURCES_MAX:
 * Format, RegionId (NULL: not sent), StartTime, EndTime, Interval,
 * QueryType, Domain, Top. No ResourceGroupId: the operation has none.
 * Returns 0, or -1 (params then cleared). */
int cc_top_ip_params(const char *region_id, const char *domain, time_t start,
                     time_t end, rpc_params_t *params);

/* DescribeDDosEventSrcIp of the event of type ("defense" or "blackhole")
 * on ip that started at start, its top SOURCES_MAX: Format, RegionId
 * (NULL: not sent), EventType, Ip, StartTime, Range. Returns 0, or -1 (an
 * unknown type, no ip or start; params then cleared). */
int ddos_src_ip_params(const char *region_id, const char *type, const char *ip,
                       time_t start, rpc_params_t *params);

/* The sources of an answer's rows (cc_source_fields or
 * ddos_source_fields: IP, AreaId, Isp and maybe Count), most Count first
 * (the answer's order among equals, and without Count), an IP answered
 * twice once: at most max. An AreaId or Isp absent or empty is "?"
 * without a word (the vendor's example answers <Isp></Isp>). Returns how
 * many. */
size_t sources_pick(const api_rows_t *rows, source_t *out, size_t max,
                    sources_refused_t *refused);

/* "198.51.100.7 (China Telecom, area 90998690), ..." in out (size
 * bytes): every source that fits whole, then " and N more" (which always
 * fits when size is at least 16). "" for none. */
void sources_text(const source_t *src, size_t n, char *out, size_t size);

#endif /* SOURCES_H */
