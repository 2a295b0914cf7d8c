/**
 * collectd-ddoscoo - src/sources.c
 * SPDX-License-Identifier: MIT
 *
 * The top source IPs of an attack event; see sources.h. Parameters and
 * fields: the SDK's models of DescribeWebReportTopIp and
 * DescribeDDosEventSrcIp (alibabacloud-go/ddoscoo-20200101),
 * doc/api-operations.md.
 */
#include "sources.h"

#include "statistics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const api_field_t cc_source_fields[] = {
    {"SourceIp", API_FIELD_TEXT, false},
    {"AreaId", API_FIELD_TEXT, false},
    {"Isp", API_FIELD_TEXT, false},
    {"Count", API_FIELD_COUNT, false},
};
enum { SRC_IP, SRC_AREA, SRC_ISP, SRC_COUNT };
const size_t cc_source_field_count =
    sizeof(cc_source_fields) / sizeof(cc_source_fields[0]);

/* In the same order; no Count. */
const api_field_t ddos_source_fields[] = {
    {"SrcIp", API_FIELD_TEXT, false},
    {"AreaId", API_FIELD_TEXT, false},
    {"Isp", API_FIELD_TEXT, false},
};
const size_t ddos_source_field_count =
    sizeof(ddos_source_fields) / sizeof(ddos_source_fields[0]);

/* The Isp codes the SDK's model lists, with its names. */
static const struct {
  const char *code;
  const char *name;
} isps[] = {
    {"100017", "China Telecom"},
    {"100026", "China Unicom"},
    {"100025", "China Mobile"},
    {"100027", "CERNET"},
    {"100020", "China Mobile Tietong"},
    {"1000143", "Dr.Peng Telecom"},
    {"100080", "Gehua CATV"},
    {"1000139", "NRTA"},
    {"100023", "Oriental Cable"},
    {"100063", "Founder Broadband"},
    {"1000337", "China Internet Exchange"},
    {"100021", "21Vianet"},
    {"1000333", "Wasu"},
    {"100093", "Wangsu"},
    {"1000401", "Tencent"},
    {"100099", "Baidu"},
    {"1000323", "Alibaba Cloud"},
    {"100098", "Alibaba"},
};

int cc_top_ip_interval(time_t span) {
  if (span < 3 * 86400)
    return 300;
  return (span < 31 * 86400) ? 3600 : 86400;
}

static int add_number(rpc_params_t *params, const char *name, long long v) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%lld", v);
  return rpc_params_add(params, name, buf);
}

int cc_top_ip_params(const char *region_id, const char *domain, time_t start,
                     time_t end, rpc_params_t *params) {
  time_t from = start - start % 60;
  time_t to = (end % 60 == 0) ? end : end - end % 60 + 60;
  if (to <= from)
    to = from + 60;
  if (domain == NULL || domain[0] == 0 || start <= 0)
    return -1;
  int status = rpc_params_add(params, "Format", "XML");
  if (region_id != NULL)
    status |= rpc_params_add(params, "RegionId", region_id);
  status |= add_number(params, "StartTime", (long long)from);
  status |= add_number(params, "EndTime", (long long)to);
  status |= add_number(params, "Interval", cc_top_ip_interval(to - from));
  status |= rpc_params_add(params, "QueryType", "block");
  status |= rpc_params_add(params, "Domain", domain);
  status |= add_number(params, "Top", SOURCES_MAX);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int ddos_src_ip_params(const char *region_id, const char *type, const char *ip,
                       time_t start, rpc_params_t *params) {
  if (type == NULL || ip == NULL || ip[0] == 0 || start <= 0 ||
      (strcmp(type, "defense") != 0 && strcmp(type, "blackhole") != 0))
    return -1;
  int status = rpc_params_add(params, "Format", "XML");
  if (region_id != NULL)
    status |= rpc_params_add(params, "RegionId", region_id);
  status |= rpc_params_add(params, "EventType", type);
  status |= rpc_params_add(params, "Ip", ip);
  status |= add_number(params, "StartTime", (long long)start);
  status |= add_number(params, "Range", SOURCES_MAX);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

/* text if it is a code of 1 to 16 digits (or, with letters, lower-case
 * letters and digits: an AreaId "us"), else "?" (and noted, unless it is
 * empty). */
static void code_text(const char *text, bool letters, char *out, size_t size,
                      sources_refused_t *refused) {
  size_t len = strspn(text, letters ? "0123456789abcdefghijklmnopqrstuvwxyz"
                                    : "0123456789");
  if (len > 0 && len <= 16 && text[len] == 0 && len < size) {
    memcpy(out, text, len + 1);
    return;
  }
  snprintf(out, size, "?");
  if (text[0] != 0 && refused->bad_text++ == 0 && refused->no_ip == 0)
    stat_escape(text, refused->first, sizeof(refused->first));
}

/* The canonical form of an IPv4 or IPv6 address; false for anything else. */
static bool canonical_ip(const char *ip, char *out, size_t size) {
  unsigned char addr[16];
  int family = (strchr(ip, ':') != NULL) ? AF_INET6 : AF_INET;
  return inet_pton(family, ip, addr) == 1 &&
         inet_ntop(family, addr, out, (socklen_t)size) != NULL;
}

size_t sources_pick(const api_rows_t *rows, source_t *out, size_t max,
                    sources_refused_t *refused) {
  size_t n = 0;
  *refused = (sources_refused_t){0};
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    source_t src = {
        .count = rows->field_count > SRC_COUNT ? row[SRC_COUNT].count : 0};
    if (!row[SRC_IP].present ||
        !canonical_ip(row[SRC_IP].text, src.ip, sizeof(src.ip))) {
      if (refused->no_ip++ == 0 && refused->bad_text == 0)
        stat_escape(row[SRC_IP].present ? row[SRC_IP].text : "(none)",
                    refused->first, sizeof(refused->first));
      continue;
    }
    bool twice = false;
    for (size_t k = 0; k < n && !twice; k++)
      twice = strcmp(out[k].ip, src.ip) == 0;
    if (twice)
      continue;
    code_text(row[SRC_AREA].present ? row[SRC_AREA].text : "", true, src.area,
              sizeof(src.area), refused);
    code_text(row[SRC_ISP].present ? row[SRC_ISP].text : "", false, src.isp,
              sizeof(src.isp), refused);
    for (size_t i = 0; i < sizeof(isps) / sizeof(isps[0]); i++)
      if (strcmp(isps[i].code, src.isp) == 0)
        src.isp_name = isps[i].name;
    /* Kept sorted by Count, most first; past max, the least drops out. */
    size_t at = n;
    while (at > 0 && out[at - 1].count < src.count)
      at--;
    if (at >= max)
      continue;
    if (n == max)
      n--;
    memmove(out + at + 1, out + at, (n - at) * sizeof(*out));
    out[at] = src;
    n++;
  }
  return n;
}

void sources_text(const source_t *src, size_t n, char *out, size_t size) {
  if (size == 0)
    return;
  out[0] = 0;
  size_t used = 0;
  for (size_t k = 0; k < n; k++) {
    char one[160], isp[48];
    if (src[k].isp_name != NULL)
      snprintf(isp, sizeof(isp), "%s", src[k].isp_name);
    else
      snprintf(isp, sizeof(isp), "ISP %s", src[k].isp);
    int len = snprintf(one, sizeof(one), "%s%s (%s, area %s)", k ? ", " : "",
                       src[k].ip, isp, src[k].area);
    /* Room for this one and, if more follow, " and N more". */
    size_t tail = (k + 1 < n) ? 16 : 0;
    if (len < 0 || used + (size_t)len + tail >= size) {
      snprintf(out + used, size - used, " and %zu more", n - k);
      return;
    }
    memcpy(out + used, one, (size_t)len + 1);
    used += (size_t)len;
  }
}
