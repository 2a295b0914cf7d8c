/**
 * collectd-ddoscoo - tests/unit/test_cc.c
 * SPDX-License-Identifier: MIT
 *
 * HTTP floods on a domain (cc_events) and who is attacking
 * (sources.c): floods per window and their peak, the flood as an event
 * notified once each way, the DescribeWebReportTopIp request, and an
 * untrusted answer's sources checked, ranked, capped and fitted.
 */
#include "sources.h"
#include "statistics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define START 1796205540 /* a whole minute */

static char emitted[2048];
static char why[256];

static void collect(void *ctx, time_t end, const char *type,
                    const char *type_instance, double value) {
  (void)ctx;
  size_t n = strlen(emitted);
  snprintf(emitted + n, sizeof(emitted) - n, "%lld %s-%s=%g\n", (long long)end,
           type, type_instance, value);
}

/* A DomainAttackEvents row: StartTime, EndTime (-1: absent), MaxQps. */
static void flood_row(api_value_t *row, time_t start, long long end,
                      uint64_t qps) {
  row[0] = (api_value_t){.present = true, .count = (uint64_t)start, .text = ""};
  row[1] = (api_value_t){
      .present = end >= 0, .count = end >= 0 ? (uint64_t)end : 0, .text = ""};
  row[2] = (api_value_t){.present = true, .count = qps, .text = ""};
}

DEF_TEST(cc_events_table) {
  const statistic_t *cc = statistic_find("cc_events");
  CHECK_NOT_NULL(cc);
  EXPECT_EQ_STR("DescribeDomainAttackEvents", cc->action);
  OK(cc->scope == SCOPE_DOMAIN && cc->lookback > 0 && cc->list != NULL);
  EXPECT_EQ_STR("DomainAttackEvents", cc->list);
  /* Paged: its total is TotalCount, the root field paging reads first. */
  OK(cc->root_field_count == 1);
  EXPECT_EQ_STR("TotalCount", cc->root_fields[0].name);
  OK((cc->takes & API_TAKES_DOMAIN) && !(cc->takes & API_TAKES_PORT));
  return 0;
}

DEF_TEST(floods_per_window_and_peak) {
  const statistic_t *cc = statistic_find("cc_events");
  api_value_t cells[3 * 3];
  api_rows_t rows = {.field_count = 3, .values = cells, .count = 3};
  /* Windows ending START+60, +120, +180: a flood under way since before
   * them (EndTime absent), one in the second window only, one long over. */
  flood_row(cells, START - 3600, -1, 20000);
  flood_row(cells + 3, START + 70, START + 110, 90000);
  flood_row(cells + 6, START - 7200, START - 7000, 500000);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(cc, &rows, START + 60, START + 180, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-cc_events=1\n"
                "1796205600 operations_per_second-cc_peak_qps=20000\n"
                "1796205660 count-cc_events=2\n"
                "1796205660 operations_per_second-cc_peak_qps=90000\n"
                "1796205720 count-cc_events=1\n"
                "1796205720 operations_per_second-cc_peak_qps=20000\n",
                emitted);
  /* EndTime 0: still under way, as for the volumetric events. */
  flood_row(cells + 6, START + 150, 0, 7);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(cc, &rows, START + 180, START + 180, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205720 count-cc_events=2\n"
                "1796205720 operations_per_second-cc_peak_qps=20000\n",
                emitted);
  /* No flood: zeros, not gaps. */
  rows.count = 0;
  emitted[0] = 0;
  CHECK_ZERO(stat_points(cc, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-cc_events=0\n"
                "1796205600 operations_per_second-cc_peak_qps=0\n",
                emitted);
  /* A flood that ends before it starts: the answer is refused whole. */
  rows.count = 3;
  flood_row(cells + 6, START, START - 60, 7);
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(cc, &rows, START + 60, START + 180, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "ends before it starts") != NULL && emitted[0] == 0);
  return 0;
}

static int calls[2];
static void count_notify(void *ctx, const stat_event_t *e, bool started) {
  (void)ctx;
  OK(strcmp(e->type, "cc") == 0 && e->qps == 20000);
  calls[started ? 0 : 1]++;
}

DEF_TEST(a_flood_is_an_event) {
  api_value_t cells[3];
  api_rows_t rows = {.field_count = 3, .values = cells, .count = 1};
  flood_row(cells, START, -1, 20000);
  stat_event_t e;
  stat_cc_event(&rows, 0, &e);
  OK(e.start == START && e.end == 0 && e.qps == 20000);
  EXPECT_EQ_STR("", e.ip);
  OK(stat_event_names_ok(&e));
  /* Started: notified once; then ended: once more; never again. */
  calls[0] = calls[1] = 0;
  int mark =
      stat_event_notify(&e, 0, START - 60, START + 120, count_notify, NULL);
  mark =
      stat_event_notify(&e, mark, START - 60, START + 180, count_notify, NULL);
  flood_row(cells, START, START + 300, 20000);
  stat_cc_event(&rows, 0, &e);
  mark =
      stat_event_notify(&e, mark, START - 60, START + 360, count_notify, NULL);
  mark =
      stat_event_notify(&e, mark, START - 60, START + 420, count_notify, NULL);
  EXPECT_EQ_INT(2, mark);
  EXPECT_EQ_INT(1, calls[0]);
  EXPECT_EQ_INT(1, calls[1]);
  return 0;
}

static const char *param(const rpc_params_t *p, const char *name) {
  for (size_t i = 0; i < p->count; i++)
    if (strcmp(p->items[i].name, name) == 0)
      return p->items[i].value;
  return NULL;
}

DEF_TEST(top_ip_request) {
  rpc_params_t p = RPC_PARAMS_INIT;
  /* Times made whole minutes around the flood; the blocked IPs, Top 5. */
  CHECK_ZERO(cc_top_ip_params("cn-hangzhou", "www.example.com", START + 17,
                              START + 601, &p));
  EXPECT_EQ_STR("1796205540", param(&p, "StartTime"));
  EXPECT_EQ_STR("1796206200", param(&p, "EndTime"));
  EXPECT_EQ_STR("300", param(&p, "Interval"));
  EXPECT_EQ_STR("block", param(&p, "QueryType"));
  EXPECT_EQ_STR("www.example.com", param(&p, "Domain"));
  EXPECT_EQ_STR("5", param(&p, "Top"));
  EXPECT_EQ_STR("XML", param(&p, "Format"));
  EXPECT_EQ_STR("cn-hangzhou", param(&p, "RegionId"));
  /* The operation has no ResourceGroupId (its SDK request model). */
  OK(param(&p, "ResourceGroupId") == NULL && p.count == 8);
  rpc_params_clear(&p);
  /* A flood that began this minute still asks a minute. */
  CHECK_ZERO(cc_top_ip_params(NULL, "a.example", START, START, &p));
  EXPECT_EQ_STR("1796205600", param(&p, "EndTime"));
  OK(param(&p, "RegionId") == NULL);
  rpc_params_clear(&p);
  /* The Interval the span allows. */
  EXPECT_EQ_INT(300, cc_top_ip_interval(3 * 86400 - 60));
  EXPECT_EQ_INT(3600, cc_top_ip_interval(3 * 86400));
  EXPECT_EQ_INT(3600, cc_top_ip_interval(31 * 86400 - 60));
  EXPECT_EQ_INT(86400, cc_top_ip_interval(31 * 86400));
  OK(cc_top_ip_params(NULL, "", START, START + 60, &p) == -1 && p.count == 0);
  return 0;
}

/* A DataList row: SourceIp, AreaId, Isp (NULL: absent), Count. */
static void source_row(api_value_t *row, const char *ip, const char *area,
                       const char *isp, uint64_t count) {
  row[0] = (api_value_t){.present = ip != NULL, .text = ip ? ip : ""};
  row[1] = (api_value_t){.present = area != NULL, .text = area ? area : ""};
  row[2] = (api_value_t){.present = isp != NULL, .text = isp ? isp : ""};
  row[3] = (api_value_t){.present = true, .count = count, .text = ""};
}

DEF_TEST(sources_are_checked_ranked_and_capped) {
  OK(cc_source_field_count == 4);
  api_value_t cells[9 * 4];
  api_rows_t rows = {.field_count = 4, .values = cells, .count = 9};
  source_row(cells, "198.51.100.7", "90998690", "100017", 300);
  source_row(cells + 4, "not-an-ip\x1b[31m", "1", "100017", 99999);
  source_row(cells + 8, "2001:DB8:0:0::1", "440000", "100026", 900);
  source_row(cells + 12, "203.0.113.5", "area\"51", "1000323", 500);
  source_row(cells + 16, "198.51.100.7", "1", "100017", 100000); /* twice */
  source_row(cells + 20, "192.0.2.1", "1", "7777", 10);
  source_row(cells + 24, "192.0.2.2", "1", "x", 200);
  source_row(cells + 28, "192.0.2.3", NULL, "100025", 400);
  source_row(cells + 32, NULL, "1", "1", 5);
  source_t src[SOURCES_MAX];
  sources_refused_t refused;
  size_t n = sources_pick(&rows, src, SOURCES_MAX, &refused);
  EXPECT_EQ_INT(5, (int)n);
  /* Most Count first; 192.0.2.1 (10) is the sixth and drops out. */
  EXPECT_EQ_STR("2001:db8::1", src[0].ip);
  EXPECT_EQ_STR("203.0.113.5", src[1].ip);
  EXPECT_EQ_STR("?", src[1].area);
  EXPECT_EQ_STR("192.0.2.3", src[2].ip);
  EXPECT_EQ_STR("?", src[2].area); /* absent */
  EXPECT_EQ_STR("198.51.100.7", src[3].ip);
  EXPECT_EQ_STR("192.0.2.2", src[4].ip);
  EXPECT_EQ_STR("?", src[4].isp);
  OK(src[4].isp_name == NULL);
  EXPECT_EQ_INT(2, (int)refused.no_ip);
  /* area"51 and x; an absent AreaId is "?" without a word. */
  EXPECT_EQ_INT(2, (int)refused.bad_text);
  /* The first refused value, escaped for one log line. */
  EXPECT_EQ_STR("not-an-ip\\x1B[31m", refused.first);

  char text[512];
  sources_text(src, n, text, sizeof(text));
  EXPECT_EQ_STR("2001:db8::1 (China Unicom, area 440000), 203.0.113.5 "
                "(Alibaba Cloud, area ?), 192.0.2.3 (China Mobile, area ?), "
                "198.51.100.7 (China Telecom, area 90998690), 192.0.2.2 (ISP "
                "?, area 1)",
                text);
  /* Only what fits whole, then how many more. */
  sources_text(src, n, text, 80);
  EXPECT_EQ_STR("2001:db8::1 (China Unicom, area 440000) and 4 more", text);
  sources_text(src, n, text, 16);
  EXPECT_EQ_STR(" and 5 more", text);
  sources_text(src, 0, text, sizeof(text));
  EXPECT_EQ_STR("", text);
  /* An unknown ISP code that is a number is shown as one. */
  rows.count = 1;
  source_row(cells, "192.0.2.9", "1", "123456", 1);
  n = sources_pick(&rows, src, SOURCES_MAX, &refused);
  sources_text(src, n, text, sizeof(text));
  EXPECT_EQ_STR("192.0.2.9 (ISP 123456, area 1)", text);
  return 0;
}

DEF_TEST(src_ip_request) {
  rpc_params_t p = RPC_PARAMS_INIT;
  /* The event's own StartTime (no rounding), type and IP; the top 5. */
  CHECK_ZERO(ddos_src_ip_params("cn-hangzhou", "blackhole", "203.0.113.10",
                                START + 17, &p));
  EXPECT_EQ_STR("blackhole", param(&p, "EventType"));
  EXPECT_EQ_STR("203.0.113.10", param(&p, "Ip"));
  EXPECT_EQ_STR("1796205557", param(&p, "StartTime"));
  EXPECT_EQ_STR("5", param(&p, "Range"));
  EXPECT_EQ_STR("XML", param(&p, "Format"));
  EXPECT_EQ_STR("cn-hangzhou", param(&p, "RegionId"));
  /* Nothing the model lacks: no EndTime, no ResourceGroupId. */
  OK(param(&p, "EndTime") == NULL && p.count == 6);
  rpc_params_clear(&p);
  CHECK_ZERO(ddos_src_ip_params(NULL, "defense", "2001:db8::1", START, &p));
  OK(param(&p, "RegionId") == NULL && p.count == 5);
  rpc_params_clear(&p);
  /* Only the two types the operation takes; an IP and a start. */
  OK(ddos_src_ip_params(NULL, "cc", "192.0.2.1", START, &p) == -1);
  OK(ddos_src_ip_params(NULL, "defense", "", START, &p) == -1);
  OK(ddos_src_ip_params(NULL, "defense", "192.0.2.1", 0, &p) == -1);
  OK(p.count == 0);
  return 0;
}

/* An Ips row: SrcIp, AreaId, Isp (NULL: absent). */
static void src_ip_row(api_value_t *row, const char *ip, const char *area,
                       const char *isp) {
  row[0] = (api_value_t){.present = ip != NULL, .text = ip ? ip : ""};
  row[1] = (api_value_t){.present = area != NULL, .text = area ? area : ""};
  row[2] = (api_value_t){.present = isp != NULL, .text = isp ? isp : ""};
}

DEF_TEST(event_sources_keep_the_answers_order) {
  OK(ddos_source_field_count == 3);
  EXPECT_EQ_STR("SrcIp", ddos_source_fields[0].name);
  api_value_t cells[7 * 3];
  api_rows_t rows = {.field_count = 3, .values = cells, .count = 7};
  /* Most attack traffic first, as the API ranks them; the vendor's
   * example has an AreaId "us" and an empty Isp. */
  src_ip_row(cells, "218.0.0.24", "110000", "100026");
  src_ip_row(cells + 3, "193.0.0.174", "us", "");
  src_ip_row(cells + 6, "218.***.***.24", "110000", "100026"); /* masked */
  src_ip_row(cells + 9, "198.51.100.1", "US\n", "100017");
  src_ip_row(cells + 12, "218.0.0.24", "1", "1"); /* twice */
  src_ip_row(cells + 15, "198.51.100.2", "440000", "100025");
  src_ip_row(cells + 18, "198.51.100.3", "440000", "100025");
  source_t src[SOURCES_MAX];
  sources_refused_t refused;
  size_t n = sources_pick(&rows, src, 3, &refused);
  EXPECT_EQ_INT(3, (int)n);
  EXPECT_EQ_STR("218.0.0.24", src[0].ip);
  EXPECT_EQ_STR("193.0.0.174", src[1].ip);
  EXPECT_EQ_STR("us", src[1].area);
  EXPECT_EQ_STR("?", src[1].isp);
  EXPECT_EQ_STR("198.51.100.1", src[2].ip);
  EXPECT_EQ_STR("?", src[2].area);
  EXPECT_EQ_INT(1, (int)refused.no_ip);
  EXPECT_EQ_INT(1, (int)refused.bad_text); /* "US\n"; the empty Isp not */
  EXPECT_EQ_STR("218.***.***.24", refused.first);
  char text[256];
  sources_text(src, n, text, sizeof(text));
  EXPECT_EQ_STR("218.0.0.24 (China Unicom, area 110000), 193.0.0.174 (ISP ?, "
                "area us), 198.51.100.1 (China Telecom, area ?)",
                text);
  return 0;
}

int main(void) {
  RUN_TEST(cc_events_table);
  RUN_TEST(floods_per_window_and_peak);
  RUN_TEST(a_flood_is_an_event);
  RUN_TEST(top_ip_request);
  RUN_TEST(sources_are_checked_ranked_and_capped);
  RUN_TEST(src_ip_request);
  RUN_TEST(event_sources_keep_the_answers_order);
  END_TEST;
}
