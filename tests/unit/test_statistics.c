/**
 * collectd-ddoscoo - tests/unit/test_statistics.c
 * SPDX-License-Identifier: MIT
 *
 * The table of statistics and how an answer's rows become windows: Time
 * or Index, rows of one bucket added up, rows outside the range refused.
 */
#include "api_response.h"
#include "scheduler.h"
#include "statistics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define START 1796205540 /* StartTime of the requests below */

static const statistic_t *traffic;
static char why[256];

/* A row of the traffic statistic: Time (0: absent), Index (-1: absent),
 * then InBps, ..., AttackPps from base. */
static void set_row(api_value_t *row, uint64_t t, long long index,
                    uint64_t base) {
  memset(row, 0, traffic->field_count * sizeof(*row));
  for (size_t f = 0; f < traffic->field_count; f++) {
    const char *name = traffic->fields[f].name;
    if (strcmp(name, "Time") == 0) {
      row[f].present = t != 0;
      row[f].count = t;
    } else if (strcmp(name, "Index") == 0) {
      row[f].present = index >= 0;
      row[f].count = (uint64_t)index;
    } else {
      row[f].present = true;
      row[f].count = base + f;
    }
  }
}

static double value_of(const double *values, size_t window, const char *ti) {
  for (size_t v = 0; v < traffic->value_count; v++)
    if (strcmp(traffic->values[v].type_instance, ti) == 0)
      return values[window * traffic->value_count + v];
  return -1;
}

DEF_TEST(table) {
  const statistic_t *c = statistic_find("Connections");
  CHECK_NOT_NULL(c);
  EXPECT_EQ_STR("DescribePortConnsCount", c->action);
  OK(c->list == NULL && c->batch_seconds == 0 && c->scope == SCOPE_PORT);
  EXPECT_EQ_STR("", c->state_suffix); /* the keys of earlier versions */
  CHECK_NOT_NULL(traffic);
  EXPECT_EQ_STR("DescribePortFlowList", traffic->action);
  OK(statistic_find("QPS") == statistic_find("qps"));
  OK(statistic_of_action("DescribePortFlowList") == traffic);
  char names[256];
  statistics_names(names, sizeof(names));
  EXPECT_EQ_STR("\"connections\", \"traffic\", \"blackhole\", \"events\", "
                "\"max_new_connections\", \"qps\", \"status_codes\", "
                "\"domain_bps\", \"cc_events\", "
                "\"instance_cc_events\", \"capacity\", \"usage\", "
                "\"advanced_mitigations\", \"blackhole_releases\", \"health\", "
                "\"expiry\"",
                names);
  /* Every value names a field of its statistic, and its type is a gauge of
   * the stock types.db: no DERIVE for a count per minute, nothing that
   * clips (bitrate stops at 2^32 - 1). */
  /* Statistics and their variants back off apart (sched_series_t.stat:
   * the row, plus statistics_count per variant, modulo SCHED_MAX_STATS). */
  size_t most = 0;
  for (size_t i = 0; i < statistics_count; i++)
    if (statistics[i].variant_count > 0 &&
        i + statistics_count * (statistics[i].variant_count - 1) + 1 > most)
      most = i + statistics_count * (statistics[i].variant_count - 1) + 1;
  OK(most <= SCHED_MAX_STATS && statistics_count <= SCHED_MAX_STATS);
  const char *gauges[] = {
      "gauge", "count",   "operations_per_second", "current_connections",
      "bool",  "timeleft"};
  for (size_t i = 0; i < statistics_count; i++) {
    const statistic_t *s = statistics + i;
    OK(s->value_count <= STAT_MAX_VALUES);
    OK(s->batch_seconds == 0 ||
       s->batch_seconds / (s->window ? s->window : 60) <= STAT_MAX_BATCH);
    for (size_t v = 0; v < s->value_count; v++) {
      bool found = false;
      for (size_t f = 0; f < s->field_count; f++)
        found = found || strcmp(s->fields[f].name, s->values[v].field) == 0;
      OK1(found, s->values[v].field);
      bool gauge = false;
      for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++)
        gauge = gauge || strcmp(s->values[v].type, gauges[g]) == 0;
      OK1(gauge, s->values[v].type);
    }
  }
  return 0;
}

DEF_TEST(rows_by_time_and_index) {
  api_value_t cells[4 * 8];
  api_rows_t rows = {
      .field_count = traffic->field_count, .values = cells, .count = 3};
  /* Three windows asked: ending START+60, +120, +180. The second has no
   * row; the third comes by Index. */
  set_row(cells, START, -1, 1000);
  set_row(cells + traffic->field_count, 0, 2, 40000000000ULL);
  set_row(cells + 2 * traffic->field_count, START, 0, 5);
  double values[3 * STAT_MAX_VALUES];
  bool seen[3];
  CHECK_ZERO(stat_windows(traffic, &rows, START + 60, START + 180, 60, values,
                          seen, why, sizeof(why)));
  OK(seen[0] && !seen[1] && seen[2]);
  /* Two rows of the first bucket (two source regions): added up. */
  size_t in_bps = 2;
  EXPECT_EQ_DOUBLE(1000 + in_bps + 5 + in_bps, value_of(values, 0, "in_bps"));
  EXPECT_EQ_DOUBLE(40000000000.0 + 4, value_of(values, 2, "attack_bps"));
  return 0;
}

DEF_TEST(rows_outside_the_range_are_refused) {
  api_value_t cells[8];
  api_rows_t rows = {
      .field_count = traffic->field_count, .values = cells, .count = 1};
  double values[2 * STAT_MAX_VALUES];
  bool seen[2];
  struct {
    uint64_t time;
    long long index;
    const char *why;
  } bad[] = {
      {START - 60, -1, "before StartTime"},
      {START + 120, -1, "not a bucket"}, /* the window after the last */
      {START + 30, -1, "not a bucket"},  /* between buckets */
      {0, 2, "not a bucket"},
      {0, -1, "neither Time nor Index"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    set_row(cells, bad[i].time, bad[i].index, 1);
    why[0] = 0;
    EXPECT_EQ_INT(-1, stat_windows(traffic, &rows, START + 60, START + 120, 60,
                                   values, seen, why, sizeof(why)));
    OK(strstr(why, bad[i].why) != NULL);
  }
  return 0;
}

DEF_TEST(a_flat_answer_is_its_window) {
  const statistic_t *c = statistic_find("connections");
  api_value_t cells[4] = {
      {true, 46340, ""}, {true, 159, ""}, {true, 121, ""}, {true, 0, ""}};
  api_rows_t rows = {.field_count = 4, .values = cells, .count = 1};
  double values[STAT_MAX_VALUES];
  bool seen[1];
  CHECK_ZERO(stat_windows(c, &rows, START + 60, START + 60, 60, values, seen,
                          why, sizeof(why)));
  OK(seen[0]);
  EXPECT_EQ_DOUBLE(46340, values[0]);
  EXPECT_EQ_DOUBLE(159, values[1]);
  return 0;
}

/* What emit receives, as "end type-type_instance=value" lines. */
static char emitted[1024];

static void collect(void *ctx, time_t end, const char *type,
                    const char *type_instance, double value) {
  (void)ctx;
  size_t n = strlen(emitted);
  snprintf(emitted + n, sizeof(emitted) - n, "%lld %s-%s=%g\n", (long long)end,
           type, type_instance, value);
}

static void blackhole_row(api_value_t *row, const char *ip,
                          const char *status) {
  for (int i = 0; i < 4; i++)
    row[i] = (api_value_t){.text = ""};
  row[0].present = row[1].present = true;
  row[0].text = ip;
  row[1].text = status;
}

DEF_TEST(blackhole_per_ip_and_count) {
  const statistic_t *b = statistic_find("blackhole");
  CHECK_NOT_NULL(b);
  OK(b->timeless && b->max_instances == 20);
  api_value_t cells[3 * 4];
  api_rows_t rows = {.field_count = 4, .values = cells, .count = 3};
  blackhole_row(cells, "203.0.113.10", "blackhole");
  blackhole_row(cells + 4, "203.0.113.11", "normal");
  blackhole_row(cells + 8, "2001:db8::1", "blackhole");
  emitted[0] = 0;
  CHECK_ZERO(stat_points(b, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 bool-203.0.113.10=1\n"
                "1796205600 bool-203.0.113.11=0\n"
                "1796205600 bool-2001_db8__1=1\n"
                "1796205600 count-blackholed_ips=2\n",
                emitted);

  /* No IP at all: none blackholed. */
  rows.count = 0;
  emitted[0] = 0;
  CHECK_ZERO(stat_points(b, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-blackholed_ips=0\n", emitted);

  /* An unknown status, an IP twice: nothing emitted. */
  rows.count = 2;
  blackhole_row(cells + 4, "203.0.113.11", "Blackhole ");
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(b, &rows, START + 60, START + 60, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "neither") != NULL && emitted[0] == 0);
  blackhole_row(cells + 4, "203.0.113.10", "normal");
  EXPECT_EQ_INT(-1, stat_points(b, &rows, START + 60, START + 60, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "answered twice") != NULL && emitted[0] == 0);
  return 0;
}

/* Names an answer gives series: an IP is an IPv4 or IPv6 address, in its
 * canonical form, the IPv6 one with '_' for ':'; anything else is none. */
DEF_TEST(ip_names) {
  char out[64];
  OK(stat_ip_name("203.0.113.10", out, sizeof(out)));
  EXPECT_EQ_STR("203.0.113.10", out);
  OK(stat_ip_name("2001:DB8:0:0::1", out, sizeof(out)));
  EXPECT_EQ_STR("2001_db8__1", out);
  OK(stat_ip_name("::ffff:192.0.2.1", out, sizeof(out)));
  EXPECT_EQ_STR("__ffff_192.0.2.1", out);
  static const char *const bad[] = {
      "",
      "203.0.113.10 ",
      " 203.0.113.10",
      "203.0.113.1\xC2\x85",
      "203.0.113",
      "203.0.113.256",
      "2001:db8::1%eth0",
      "2001:db8::/32",
      "010.0.0.1",
      "../../etc",
      "a b",
      "2001:db8:::1",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    OK1(!stat_ip_name(bad[i], out, sizeof(out)), bad[i]);
    EXPECT_EQ_STR("", out);
  }
  char long_ip[301];
  memset(long_ip, '1', 300);
  long_ip[300] = 0;
  OK(!stat_ip_name(long_ip, out, sizeof(out)));
  /* Room for the longest IPv6 address, or none. */
  OK(!stat_ip_name("2001:db8::1", out, 5));

  const statistic_t *b = statistic_find("blackhole");
  OK(stat_named_by_answer(b, "bool") && !stat_named_by_answer(b, "count"));
  OK(!stat_named_by_answer(traffic, "gauge"));
  return 0;
}

/* A Remark as a name: visible characters kept, the rest '_', cut at a
 * character, never a malformed or invisible one. */
DEF_TEST(text_names) {
  char out[32];
  bool cut;
  stat_text_name("web front/1", out, sizeof(out), &cut);
  EXPECT_EQ_STR("web_front_1", out);
  OK(!cut);
  stat_text_name("caf\xC3\xA9 \xE7\xBD\x91\xE7\xAB\x99", out, sizeof(out),
                 &cut);
  EXPECT_EQ_STR("caf\xC3\xA9_\xE7\xBD\x91\xE7\xAB\x99", out);
  /* U+0085 (NEL), U+2028, a bidi override, a zero-width space, U+FEFF. */
  stat_text_name("a\xC2\x85"
                 "b\xE2\x80\xA8"
                 "c\xE2\x80\xAE"
                 "d\xE2\x80\x8B"
                 "e\xEF\xBB\xBF",
                 out, sizeof(out), &cut);
  EXPECT_EQ_STR("a_b_c_d_e_", out);
  /* Malformed: a lone continuation byte, an overlong '/', a surrogate, a
   * character cut short at the end. */
  stat_text_name("x\x80y\xC0\xAFz\xED\xA0\x80w\xE7\xBD", out, sizeof(out),
                 &cut);
  EXPECT_EQ_STR("x_y__z___w__", out);
  stat_text_name("\xC2\x85 ./", out, sizeof(out), &cut);
  EXPECT_EQ_STR("", out);
  /* Cut at a character: "é" does not fit in the last byte. */
  stat_text_name("abcdefgh\xC3\xA9", out, 10, &cut);
  EXPECT_EQ_STR("abcdefgh", out);
  OK(cut);

  char shown[24];
  stat_escape("a\"b\\c\n\xC2\x85", shown, sizeof(shown));
  EXPECT_EQ_STR("a\\x22b\\x5Cc\\x0A\\xC2\\x85", shown);
  stat_escape("0123456789012345678901234567890", shown, sizeof(shown));
  EXPECT_EQ_STR("01234567890123456789...", shown);
  return 0;
}

/* An answer's Ip that is no IP address is left out, with a note; the
 * other rows count and are emitted. */
DEF_TEST(blackhole_refuses_what_is_no_ip) {
  const statistic_t *b = statistic_find("blackhole");
  api_value_t cells[5 * 4];
  api_rows_t rows = {.field_count = 4, .values = cells, .count = 5};
  blackhole_row(cells, "203.0.113.10", "blackhole");
  blackhole_row(cells + 4, "a b", "blackhole");
  blackhole_row(cells + 8, "203.0.113.11\xC2\x85", "normal");
  blackhole_row(cells + 12, "2001:DB8::2", "normal");
  char long_ip[API_TEXT_SIZE];
  memset(long_ip, '9', sizeof(long_ip) - 1);
  long_ip[sizeof(long_ip) - 1] = 0;
  blackhole_row(cells + 16, long_ip, "blackhole");
  emitted[0] = 0;
  why[0] = 0;
  CHECK_ZERO(stat_points(b, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 bool-203.0.113.10=1\n"
                "1796205600 bool-2001_db8__2=0\n"
                "1796205600 count-blackholed_ips=1\n",
                emitted);
  EXPECT_EQ_STR("left out 3 of 5 rows whose Ip is no IPv4 or IPv6 address, "
                "the first \"a b\"",
                why);
  /* One address written two ways is one IP answered twice. */
  blackhole_row(cells + 4, "2001:db8::2", "normal");
  rows.count = 4;
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(b, &rows, START + 60, START + 60, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "answered twice") != NULL && emitted[0] == 0);
  return 0;
}

static void peak_row(api_value_t *row, const char *ip, const char *port,
                     uint64_t cps) {
  row[0] = (api_value_t){true, 0, ip};
  row[1] = (api_value_t){true, 0, port};
  row[2] = (api_value_t){true, cps, ""};
}

/* DescribePortMaxConns: per port the sum of its IPs' peaks, a value named
 * by the port (dispatched as the port's series, "max_new_connections"). */
DEF_TEST(port_peaks_per_port) {
  const statistic_t *m = statistic_find("max_new_connections");
  CHECK_NOT_NULL(m);
  OK(!m->timeless && m->batch_seconds == 0 && m->max_instances == 100);
  OK(m->attribution == STAT_BY_IP && m->scope == SCOPE_INSTANCE);
  EXPECT_EQ_STR("DescribePortMaxConns", m->action);
  OK(m->per_port);
  EXPECT_EQ_STR("max_new_connections", m->values[0].type_instance);
  OK(stat_named_by_answer(m, "operations_per_second"));
  api_value_t cells[5 * 3];
  api_rows_t rows = {.field_count = 3, .values = cells, .count = 5};
  peak_row(cells, "203.0.113.10", "443", 120);
  peak_row(cells + 3, "203.0.113.10", "80", 7);
  peak_row(cells + 6, "2001:db8::1", "443", 30); /* a second IP of 443 */
  peak_row(cells + 9, "203.0.113.10", "65535", 0);
  peak_row(cells + 12, "203.0.113.10", "8080", 9007199254740993ULL);
  emitted[0] = 0;
  why[0] = 0;
  CHECK_ZERO(stat_points(m, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 operations_per_second-80=7\n"
                "1796205600 operations_per_second-443=150\n"
                "1796205600 operations_per_second-8080=9.0072e+15\n"
                "1796205600 operations_per_second-65535=0\n",
                emitted);
  EXPECT_EQ_STR("", why);
  /* No row: no value (no port answered). */
  rows.count = 0;
  emitted[0] = 0;
  CHECK_ZERO(stat_points(m, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("", emitted);
  return 0;
}

/* A Port that is no port or an Ip that is no IP is left out, with a note;
 * an IP and port answered twice (however spelled) is no answer. */
DEF_TEST(port_peaks_refuse_what_is_no_port) {
  const statistic_t *m = statistic_find("max_new_connections");
  static const char *const bad_ports[] = {
      "0", "65536", "", " 80", "80 ", "+80", "-1", "8a", "123456", "0x50"};
  size_t n = sizeof(bad_ports) / sizeof(bad_ports[0]);
  api_value_t cells[16 * 3];
  api_rows_t rows = {.field_count = 3, .values = cells, .count = n + 2};
  peak_row(cells, "203.0.113.10", "443", 5);
  for (size_t i = 0; i < n; i++)
    peak_row(cells + 3 * (i + 1), "203.0.113.10", bad_ports[i], 99);
  peak_row(cells + 3 * (n + 1), "203.0.113.1\xC2\x85", "80", 99);
  emitted[0] = 0;
  why[0] = 0;
  CHECK_ZERO(stat_points(m, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 operations_per_second-443=5\n", emitted);
  EXPECT_EQ_STR("left out 11 of 12 rows whose Ip is no IPv4 or IPv6 address "
                "or whose Port is no port from 1 to 65535, the first Ip "
                "\"203.0.113.10\", Port \"0\"",
                why);
  /* One address written two ways, one port written two ways. */
  rows.count = 2;
  peak_row(cells, "2001:db8::1", "443", 5);
  peak_row(cells + 3, "2001:DB8:0::1", "0443", 6);
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(m, &rows, START + 60, START + 60, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "answered twice") != NULL && emitted[0] == 0);
  return 0;
}

DEF_TEST(generic_points_are_the_mapped_fields) {
  api_value_t cells[8];
  api_rows_t rows = {
      .field_count = traffic->field_count, .values = cells, .count = 1};
  set_row(cells, START + 60, -1, 0);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(traffic, &rows, START + 60, START + 120, 60, collect,
                         NULL, why, sizeof(why)));
  /* Only the window that has a row, every value of it. */
  OK(strstr(emitted, "1796205660 gauge-attack_bps=4\n") != NULL);
  OK(strstr(emitted, "1796205600 ") == NULL);
  size_t lines = 0;
  for (const char *c = emitted; *c; c++)
    lines += *c == '\n';
  EXPECT_EQ_INT((int)traffic->value_count, (int)lines);
  return 0;
}

/* An events row: type, ip, port, start, end (-1: absent), bps, pps. */
static void event_row(api_value_t *row, const char *type, const char *ip,
                      const char *port, long long start, long long end,
                      uint64_t bps, uint64_t pps) {
  const char *texts[] = {type, ip, port};
  for (int i = 0; i < 3; i++)
    row[i] = (api_value_t){.present = true, .text = texts[i]};
  row[3] = (api_value_t){.present = true, .count = (uint64_t)start, .text = ""};
  row[4] = (api_value_t){
      .present = end >= 0, .count = (uint64_t)(end < 0 ? 0 : end), .text = ""};
  row[5] = (api_value_t){.present = true, .count = bps, .text = ""};
  row[6] = (api_value_t){.present = true, .count = pps, .text = ""};
}

/* DescribeDDosAllEventList: CC events per window, Mbps (Mbit/s) as bit/s,
 * notified as type "cc" with the instance's IP and port. */
DEF_TEST(cc_events_of_instances_per_window) {
  const statistic_t *cc = statistic_find("instance_cc_events");
  CHECK_NOT_NULL(cc);
  EXPECT_EQ_STR("DescribeDDosAllEventList", cc->action);
  EXPECT_EQ_INT(STAT_ACCOUNT_BY_IP, cc->attribution);
  EXPECT_EQ_STR("EventType", cc->fixed_param);
  EXPECT_EQ_STR("cc", cc->fixed_value);
  OK(cc->takes == 0 && cc->lookback >= 3600);
  api_value_t cells[2 * 7];
  api_rows_t rows = {.field_count = 7, .values = cells, .count = 2};
  /* One under way since before the windows; one in the second only. */
  event_row(cells, "cc", "203.0.113.10", "80", START - 600, 0, 1200, 90000);
  event_row(cells + 7, "cc", "203.0.113.10", "8080", START + 70, START + 110, 3,
            700);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(cc, &rows, START + 60, START + 120, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR(
      "1796205600 count-cc_instance_events=1\n"
      "1796205600 gauge-cc_instance_peak_bps=1.2e+09\n"
      "1796205600 operations_per_second-cc_instance_peak_packets=90000\n"
      "1796205660 count-cc_instance_events=2\n"
      "1796205660 gauge-cc_instance_peak_bps=1.2e+09\n"
      "1796205660 operations_per_second-cc_instance_peak_packets=90000\n",
      emitted);
  stat_event_t e;
  cc->event(&rows, 1, &e);
  EXPECT_EQ_STR("cc", e.type);
  EXPECT_EQ_STR("8080", e.port);
  OK(e.bps == 3000000 && e.pps == 700 && e.end == START + 110);
  /* An EventType not asked for (a web-cc event names a domain): unusable,
   * nothing emitted. */
  event_row(cells + 7, "web-cc", "www.example.com", "", START + 70, 0, 0, 0);
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(cc, &rows, START + 60, START + 120, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "web-cc") != NULL && emitted[0] == 0);
  return 0;
}

DEF_TEST(events_per_window) {
  const statistic_t *ev = statistic_find("events");
  CHECK_NOT_NULL(ev);
  OK(ev->lookback >= 3600 && ev->batch_seconds == 3600);
  api_value_t cells[3 * 7];
  api_rows_t rows = {.field_count = 7, .values = cells, .count = 3};
  /* Windows ending START+60, +120, +180. A mitigation under way since
   * before them, not ended (EndTime absent); a blackhole in the second
   * window only; a short mitigation long over. */
  event_row(cells, "defense", "203.0.113.10", "80", START - 3600, -1,
            40000000000ULL, 5000000);
  event_row(cells + 7, "blackhole", "203.0.113.10", "", START + 70, START + 110,
            0, 0);
  event_row(cells + 14, "defense", "203.0.113.11", "443", START - 7200,
            START - 7000, 90000000000ULL, 1);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(ev, &rows, START + 60, START + 180, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-mitigation_events=1\n"
                "1796205600 count-blackhole_events=0\n"
                "1796205600 gauge-event_peak_bps=4e+10\n"
                "1796205600 operations_per_second-event_peak_packets=5e+06\n"
                "1796205660 count-mitigation_events=1\n"
                "1796205660 count-blackhole_events=1\n"
                "1796205660 gauge-event_peak_bps=4e+10\n"
                "1796205660 operations_per_second-event_peak_packets=5e+06\n"
                "1796205720 count-mitigation_events=1\n"
                "1796205720 count-blackhole_events=0\n"
                "1796205720 gauge-event_peak_bps=4e+10\n"
                "1796205720 operations_per_second-event_peak_packets=5e+06\n",
                emitted);

  /* An unknown type: nothing emitted. */
  event_row(cells + 14, "scrubbing", "203.0.113.11", "443", START, -1, 1, 1);
  emitted[0] = 0;
  EXPECT_EQ_INT(-1, stat_points(ev, &rows, START + 60, START + 180, 60, collect,
                                NULL, why, sizeof(why)));
  OK(strstr(why, "neither") != NULL && emitted[0] == 0);
  return 0;
}

/* A page of n events, k from `from`, each under way; the peak on k 110. */
static api_rows_t event_page(int from, int n, uint64_t total) {
  api_rows_t page = {.field_count = 7,
                     .values = calloc((size_t)n * 7, sizeof(api_value_t)),
                     .count = (size_t)n,
                     .root = calloc(1, sizeof(api_value_t))};
  for (int k = 0; k < n; k++) {
    char ip[32];
    snprintf(ip, sizeof(ip), "198.51.100.%d", from + k);
    event_row(page.values + k * 7, "defense", ip, "80", START - 600 + from + k,
              -1, (from + k == 110) ? 90000000000ULL : 1000, 10);
  }
  page.root[0] = (api_value_t){.present = true, .count = total};
  return page;
}

DEF_TEST(events_beyond_one_page_count_from_all_pages) {
  const statistic_t *ev = statistic_find("events");
  /* 120 events, 50 a page: pages 1 and 2 ask for the next, 3 is the last;
   * an empty page ends it whatever Total says; at most STAT_MAX_PAGES. */
  EXPECT_EQ_INT(STAT_PAGES_MORE, stat_next_page(120, 1, 50, 50));
  EXPECT_EQ_INT(STAT_PAGES_MORE, stat_next_page(120, 2, 50, 50));
  EXPECT_EQ_INT(STAT_PAGES_DONE, stat_next_page(120, 3, 50, 20));
  EXPECT_EQ_INT(STAT_PAGES_DONE, stat_next_page(100, 2, 50, 50));
  EXPECT_EQ_INT(STAT_PAGES_DONE, stat_next_page(120, 2, 50, 0));
  EXPECT_EQ_INT(STAT_PAGES_MORE,
                stat_next_page(5000, STAT_MAX_PAGES - 1, 50, 50));
  EXPECT_EQ_INT(STAT_PAGES_CAPPED,
                stat_next_page(5000, STAT_MAX_PAGES, 50, 50));

  /* The pages together; page 2 repeats the last event of page 1 (the
   * answer shifted between requests): counted once. */
  api_rows_t all = {0};
  api_rows_t pages[] = {event_page(0, 50, 120), event_page(49, 50, 120),
                        event_page(99, 21, 120)};
  for (int p = 0; p < 3; p++)
    CHECK_ZERO(stat_rows_append(&all, pages + p));
  EXPECT_EQ_INT(120, all.count);
  EXPECT_EQ_INT(120, all.root[0].count);
  OK(pages[1].values == NULL && pages[1].count == 0);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(ev, &all, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-mitigation_events=120\n"
                "1796205600 count-blackhole_events=0\n"
                "1796205600 gauge-event_peak_bps=9e+10\n"
                "1796205600 operations_per_second-event_peak_packets=10\n",
                emitted);
  api_rows_clear(&all);
  return 0;
}

static void note(void *ctx, const stat_event_t *e, bool started) {
  (void)ctx;
  size_t n = strlen(emitted);
  snprintf(emitted + n, sizeof(emitted) - n, "%s %s\n", e->ip,
           started ? "started" : "ended");
}

DEF_TEST(events_are_notified_once_each_way) {
  stat_event_t e = {
      .type = "defense", .ip = "a", .port = "80", .start = START, .end = 0};
  emitted[0] = 0;
  EXPECT_EQ_INT(1, stat_event_notify(&e, 0, START, START + 900, note, NULL));
  EXPECT_EQ_INT(
      1, stat_event_notify(&e, 1, START, START + 900, note, NULL)); /* again */
  e.end = START + 300;
  EXPECT_EQ_INT(2, stat_event_notify(&e, 1, START, START + 900, note, NULL));
  EXPECT_EQ_INT(2, stat_event_notify(&e, 2, START, START + 900, note, NULL));
  EXPECT_EQ_STR("a started\na ended\n", emitted);

  /* Begun and ended between two polls: both, in order. */
  emitted[0] = 0;
  EXPECT_EQ_INT(2,
                stat_event_notify(&e, 0, START + 60, START + 900, note, NULL));
  EXPECT_EQ_STR("a started\na ended\n", emitted);
  /* A planned end still ahead: running. */
  emitted[0] = 0;
  EXPECT_EQ_INT(1, stat_event_notify(&e, 0, START, START + 200, note, NULL));
  EXPECT_EQ_STR("a started\n", emitted);
  /* Over before the windows polled (a first start): history, no news. */
  emitted[0] = 0;
  EXPECT_EQ_INT(2,
                stat_event_notify(&e, 0, START + 600, START + 900, note, NULL));
  EXPECT_EQ_STR("", emitted);
  return 0;
}

/* An event's Ip and Port go into notifications and StateFile keys: an
 * address (or none) and a port (or none), nothing else. */
DEF_TEST(event_names) {
  static const char *const good[][2] = {
      {"203.0.113.1", "80"},     {"2001:db8::1", "443"},
      {"203.0.113.1", ""},       {"", ""},
      {"198.51.100.2", "65535"},
  };
  static const char *const bad[][2] = {
      {"a", "80"},
      {"203.0.113.1\xC2\x85", ""},
      {"203.0.113.1/x", ""},
      {"203.0.113.1", "0"},
      {"203.0.113.1", "65536"},
      {"203.0.113.1", "80 "},
      {"203.0.113.1", "-1"},
      {"203.0.113.1", "000080"},
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    stat_event_t e = {.type = "defense", .ip = good[i][0], .port = good[i][1]};
    OK1(stat_event_names_ok(&e), good[i][0]);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    stat_event_t e = {.type = "defense", .ip = bad[i][0], .port = bad[i][1]};
    OK1(!stat_event_names_ok(&e), bad[i][0]);
  }
  return 0;
}

DEF_TEST(web_statistics) {
  const statistic_t *q = statistic_find("qps");
  const statistic_t *c = statistic_find("status_codes");
  CHECK_NOT_NULL(q);
  CHECK_NOT_NULL(c);
  EXPECT_EQ_STR("DescribeDomainQPSList", q->action);
  EXPECT_EQ_STR("DescribeDomainStatusCodeList", c->action);
  OK(q->scope == SCOPE_DOMAIN && c->scope == SCOPE_DOMAIN);
  OK(q->takes_interval && c->takes_interval);
  OK(q->batch_seconds == 3600 && c->batch_seconds == 3600);
  OK(q->variant_count == 0);
  /* Asked once per QueryType, spelled as the SDK spells it. */
  EXPECT_EQ_INT(2, (int)c->variant_count);
  EXPECT_EQ_STR("QueryType", c->variants[0].param);
  EXPECT_EQ_STR("gf", c->variants[0].value);
  EXPECT_EQ_STR("edge_", c->variants[0].prefix);
  EXPECT_EQ_STR("upstrem", c->variants[1].value);
  EXPECT_EQ_STR("origin_", c->variants[1].prefix);
  OK(strcmp(q->state_suffix, c->state_suffix) != 0);
  return 0;
}

/* Sets the named fields of a row of stat (others absent). */
static void web_row(const statistic_t *stat, api_value_t *row,
                    const char *const *names, const uint64_t *counts,
                    size_t n) {
  memset(row, 0, stat->field_count * sizeof(*row));
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < stat->field_count; f++)
      if (strcmp(stat->fields[f].name, names[i]) == 0)
        row[f] = (api_value_t){.present = true, .count = counts[i]};
}

/* DescribeDomainBps: Index counts 300 s buckets from StartTime (no
 * Time); each window's bit/s at its end, above 2^32 as they are. */
DEF_TEST(domain_bps_points) {
  const statistic_t *b = statistic_find("domain_bps");
  api_value_t cells[3 * 3];
  api_rows_t rows = {
      .field_count = b->field_count, .values = cells, .count = 3};
  const char *names[] = {"Index", "InBps", "OutBps"};
  /* In the answer's order, not the buckets'. */
  uint64_t r0[] = {1, 9000000000ULL, 2000000};
  uint64_t r1[] = {0, 1500000, 3000000};
  uint64_t r2[] = {2, 1600000, 3100000};
  web_row(b, cells, names, r0, 3);
  web_row(b, cells + 3, names, r1, 3);
  web_row(b, cells + 6, names, r2, 3);
  emitted[0] = 0;
  /* StartTime 1796205300: windows ending 1796205600 ... 1796206200. */
  CHECK_ZERO(stat_points(b, &rows, 1796205600, 1796206200, 300, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 gauge-domain_in_bps=1.5e+06\n"
                "1796205600 gauge-domain_out_bps=3e+06\n"
                "1796205900 gauge-domain_in_bps=9e+09\n"
                "1796205900 gauge-domain_out_bps=2e+06\n"
                "1796206200 gauge-domain_in_bps=1.6e+06\n"
                "1796206200 gauge-domain_out_bps=3.1e+06\n",
                emitted);
  /* An Index beyond the windows asked: refused, nothing emitted. */
  r2[0] = 3;
  web_row(b, cells + 6, names, r2, 3);
  emitted[0] = 0;
  OK(stat_points(b, &rows, 1796205600, 1796206200, 300, collect, NULL, why,
                 sizeof(why)) != 0);
  EXPECT_EQ_STR("", emitted);
  return 0;
}

DEF_TEST(qps_points) {
  const statistic_t *q = statistic_find("qps");
  api_value_t cells[2 * 16];
  api_rows_t rows = {
      .field_count = q->field_count, .values = cells, .count = 2};
  const char *names[] = {"Time",      "TotalQps",     "AttackQps",
                         "MaxQps",    "MaxNormalQps", "MaxAttackQps",
                         "CacheHits", "TotalCount"};
  uint64_t first[] = {START, 120, 20, 150, 110, 40, 7, 7200};
  uint64_t second[] = {START + 60, 9000, 8800, 12000, 300, 11800, 0, 540000};
  web_row(q, cells, names, first, 8);
  web_row(q, cells + q->field_count, names, second, 8);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(q, &rows, START + 60, START + 120, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 operations_per_second-total=120\n"
                "1796205600 operations_per_second-attack=20\n"
                "1796205600 operations_per_second-peak_total=150\n"
                "1796205600 operations_per_second-peak_normal=110\n"
                "1796205600 operations_per_second-peak_attack=40\n"
                "1796205600 count-cache_hits=7\n"
                "1796205600 count-requests=7200\n"
                "1796205660 operations_per_second-total=9000\n"
                "1796205660 operations_per_second-attack=8800\n"
                "1796205660 operations_per_second-peak_total=12000\n"
                "1796205660 operations_per_second-peak_normal=300\n"
                "1796205660 operations_per_second-peak_attack=11800\n"
                "1796205660 count-cache_hits=0\n"
                "1796205660 count-requests=540000\n",
                emitted);
  return 0;
}

DEF_TEST(status_codes_absent_give_no_value) {
  const statistic_t *c = statistic_find("status_codes");
  api_value_t cells[16];
  api_rows_t rows = {
      .field_count = c->field_count, .values = cells, .count = 1};
  /* No Status410, Status499 or any code but 200 and 502: only what is. */
  const char *names[] = {"Index",     "Status2XX", "Status3XX", "Status4XX",
                         "Status5XX", "Status200", "Status502"};
  uint64_t counts[] = {0, 15520, 3, 4486, 912, 15520, 900};
  web_row(c, cells, names, counts, 7);
  emitted[0] = 0;
  CHECK_ZERO(stat_points(c, &rows, START + 60, START + 60, 60, collect, NULL,
                         why, sizeof(why)));
  EXPECT_EQ_STR("1796205600 count-2xx=15520\n"
                "1796205600 count-3xx=3\n"
                "1796205600 count-4xx=4486\n"
                "1796205600 count-5xx=912\n"
                "1796205600 count-200=15520\n"
                "1796205600 count-502=900\n",
                emitted);
  return 0;
}

/* The origin's QueryType, spelled two ways by the vendor: upstrem first,
 * upstream once upstrem is refused; the spelling that answers is kept; a
 * request in a spelling left since is asked again; both refused: upstrem,
 * for good. */
DEF_TEST(origin_spellings) {
  const statistic_t *stat = statistic_find("status_codes");
  const stat_variant_t *origin = NULL;
  for (size_t v = 0; v < stat->variant_count; v++)
    if (stat->variants[v].alt_value != NULL)
      origin = stat->variants + v;
  OK(origin != NULL);
  EXPECT_EQ_STR("upstrem", origin->value);
  EXPECT_EQ_STR("upstream", origin->alt_value);
  EXPECT_EQ_STR("origin_", origin->prefix);

  stat_spelling_t sp = {.variant = origin};
  EXPECT_EQ_INT(STAT_SPELLING_SWITCHED, stat_spelling_refused(&sp, false));
  OK(sp.alt);
  /* Another domain's request, asked before the switch. */
  EXPECT_EQ_INT(STAT_SPELLING_AGAIN, stat_spelling_refused(&sp, false));
  stat_spelling_answered(&sp, true);
  OK(sp.alt && sp.settled);
  /* Kept: a later refusal is an error as any. */
  EXPECT_EQ_INT(STAT_SPELLING_KEEP, stat_spelling_refused(&sp, true));
  OK(sp.alt);

  /* upstrem answers: kept for good. */
  sp = (stat_spelling_t){.variant = origin};
  stat_spelling_answered(&sp, false);
  EXPECT_EQ_INT(STAT_SPELLING_KEEP, stat_spelling_refused(&sp, false));
  OK(!sp.alt);

  /* Both refused: not a matter of spelling; upstrem again, no more
   * switching. */
  sp = (stat_spelling_t){.variant = origin};
  EXPECT_EQ_INT(STAT_SPELLING_SWITCHED, stat_spelling_refused(&sp, false));
  EXPECT_EQ_INT(STAT_SPELLING_KEEP, stat_spelling_refused(&sp, true));
  OK(!sp.alt && sp.settled);
  EXPECT_EQ_INT(STAT_SPELLING_KEEP, stat_spelling_refused(&sp, false));
  return 0;
}

/* An answer parsed as the plugin parses it, its values as emitted. */
static int answer_points(const char *stat_name, const char *xml,
                         const char *const *ids, size_t id_count,
                         int *left_out) {
  const statistic_t *st = statistic_find(stat_name);
  api_rows_t rows = {0};
  api_error_t error;
  emitted[0] = why[0] = 0;
  if (api_parse_rows(xml, strlen(xml), st->action, st->list, st->fields,
                     st->field_count, st->root_fields, st->root_field_count,
                     &rows, &error, why, sizeof(why)) != API_RESPONSE_OK)
    return -2;
  *left_out =
      stat_rows_of_instances(st, &rows, ids, id_count, why, sizeof(why));
  int status = (*left_out < 0)
                   ? -1
                   : stat_points(st, &rows, START + 60, START + 60, 60, collect,
                                 NULL, why, sizeof(why));
  api_rows_clear(&rows);
  return status;
}

DEF_TEST(capacity_in_the_units_it_measures) {
  const char *id[] = {"ddoscoo-cn-a"};
  int left_out;
  CHECK_ZERO(answer_points(
      "capacity",
      "<DescribeInstanceSpecsResponse><RequestId>r</RequestId>"
      "<InstanceSpecs><InstanceId>ddoscoo-cn-a</InstanceId>"
      "<BaseBandwidth>30</BaseBandwidth><ElasticBandwidth>300"
      "</ElasticBandwidth><BandwidthMbps>100</BandwidthMbps><ElasticBw>300"
      "</ElasticBw><RealLimitBw>0</RealLimitBw><QpsLimit>3000</QpsLimit>"
      "<ElasticQps>10</ElasticQps><ConnLimit>100000</ConnLimit><CpsLimit>5000"
      "</CpsLimit><PortLimit>50</PortLimit><DomainLimit>50</DomainLimit>"
      "<SiteLimit>5</SiteLimit><DefenseCount>-1</DefenseCount>"
      "<FunctionVersion>default</FunctionVersion></InstanceSpecs>"
      "</DescribeInstanceSpecsResponse>",
      id, 1, &left_out));
  EXPECT_EQ_INT(0, left_out);
  EXPECT_EQ_STR("1796205600 gauge-protection_base_bps=3e+10\n"
                "1796205600 gauge-protection_elastic_bps=3e+11\n"
                "1796205600 gauge-clean_bps_limit=1e+08\n"
                "1796205600 gauge-clean_elastic_bps_limit=3e+08\n"
                "1796205600 operations_per_second-qps_limit=3000\n"
                "1796205600 operations_per_second-qps_elastic_limit=10\n"
                "1796205600 current_connections-concurrent_limit=100000\n"
                "1796205600 operations_per_second-new_connections_limit=5000\n"
                "1796205600 count-port_limit=50\n"
                "1796205600 count-domain_limit=50\n"
                "1796205600 count-site_limit=5\n",
                emitted);
  /* A rate limit and a number of mitigations: values then. */
  CHECK_ZERO(answer_points(
      "capacity",
      "<DescribeInstanceSpecsResponse><InstanceSpecs><InstanceId>ddoscoo-cn-a"
      "</InstanceId><RealLimitBw>2048</RealLimitBw><DefenseCount>2"
      "</DefenseCount></InstanceSpecs></DescribeInstanceSpecsResponse>",
      id, 1, &left_out));
  EXPECT_EQ_STR("1796205600 gauge-clean_rate_limit_bps=2.048e+09\n"
                "1796205600 count-advanced_mitigations_limit=2\n",
                emitted);
  /* Any other negative number is no count. */
  EXPECT_EQ_INT(-1, answer_points("capacity",
                                  "<DescribeInstanceSpecsResponse>"
                                  "<InstanceSpecs><InstanceId>ddoscoo-cn-a"
                                  "</InstanceId><DefenseCount>-2</DefenseCount>"
                                  "</InstanceSpecs>"
                                  "</DescribeInstanceSpecsResponse>",
                                  id, 1, &left_out));
  OK(strstr(why, "DefenseCount") != NULL && emitted[0] == 0);
  return 0;
}

DEF_TEST(rows_of_other_instances_are_refused) {
  const char *id[] = {"ddoscoo-cn-a"};
  int left_out;
  CHECK_ZERO(answer_points(
      "usage",
      "<DescribeInstanceStatisticsResponse>"
      "<InstanceStatistics><InstanceId>ddoscoo-cn-b</InstanceId><PortUsage>9"
      "</PortUsage></InstanceStatistics>"
      "<InstanceStatistics><InstanceId>ddoscoo-cn-a</InstanceId><PortUsage>2"
      "</PortUsage><DomainUsage>1</DomainUsage><SiteUsage>1</SiteUsage>"
      "</InstanceStatistics></DescribeInstanceStatisticsResponse>",
      id, 1, &left_out));
  EXPECT_EQ_INT(1, left_out);
  OK(strstr(why, "ddoscoo-cn-b") != NULL);
  EXPECT_EQ_STR("1796205600 count-port_usage=2\n"
                "1796205600 count-domain_usage=1\n"
                "1796205600 count-site_usage=1\n",
                emitted);
  /* One instance answered twice: no answer to trust. */
  EXPECT_EQ_INT(
      -1, answer_points("usage",
                        "<DescribeInstanceStatisticsResponse>"
                        "<InstanceStatistics><InstanceId>ddoscoo-cn-a"
                        "</InstanceId><PortUsage>2</PortUsage>"
                        "</InstanceStatistics><InstanceStatistics>"
                        "<InstanceId>ddoscoo-cn-a</InstanceId><PortUsage>3"
                        "</PortUsage></InstanceStatistics>"
                        "</DescribeInstanceStatisticsResponse>",
                        id, 1, &left_out));
  OK(strstr(why, "answered twice") != NULL && emitted[0] == 0);
  return 0;
}

DEF_TEST(quotas_of_the_account) {
  int left_out;
  CHECK_ZERO(answer_points(
      "advanced_mitigations",
      "<DescribeDefenseCountStatisticsResponse><RequestId>r</RequestId>"
      "<DefenseCountStatistics><FlowPackCountRemain>0</FlowPackCountRemain>"
      "<MaxUsableDefenseCountCurrentMonth>20"
      "</MaxUsableDefenseCountCurrentMonth>"
      "<DefenseCountTotalUsageOfCurrentMonth>3"
      "</DefenseCountTotalUsageOfCurrentMonth><SecHighSpeedCountRemain>1"
      "</SecHighSpeedCountRemain></DefenseCountStatistics>"
      "</DescribeDefenseCountStatisticsResponse>",
      NULL, 0, &left_out));
  EXPECT_EQ_STR("1796205600 count-advanced_mitigations_month_limit=20\n"
                "1796205600 count-advanced_mitigations_month_used=3\n"
                "1796205600 count-advanced_mitigations_pack_left=0\n"
                "1796205600 count-advanced_mitigations_sec_cma_left=1\n"
                "1796205600 count-advanced_mitigations_left=17\n",
                emitted);
  CHECK_ZERO(answer_points("blackhole_releases",
                           "<DescribeUnBlackholeCountResponse><TotalCount>5"
                           "</TotalCount><RequestId>r</RequestId><RemainCount>"
                           "4</RemainCount></DescribeUnBlackholeCountResponse>",
                           NULL, 0, &left_out));
  EXPECT_EQ_STR("1796205600 count-blackhole_releases_left=4\n"
                "1796205600 count-blackhole_releases_total=5\n",
                emitted);
  return 0;
}

DEF_TEST(expiry_in_seconds_left_and_its_news) {
  const char *ids[] = {"ddoscoo-cn-a", "ddoscoo-cn-b"};
  int left_out;
  /* a: 10 days and 5 s after the window (ms, the fraction dropped); b:
   * expired an hour before, in debt, stopped forwarding. */
  CHECK_ZERO(answer_points(
      "expiry",
      "<DescribeInstancesResponse><RequestId>r</RequestId><TotalCount>2"
      "</TotalCount><Instances><InstanceId>ddoscoo-cn-a</InstanceId>"
      "<ExpireTime>1797069605999</ExpireTime><Status>1</Status><Enabled>1"
      "</Enabled><DebtStatus>0</DebtStatus><Edition>9</Edition></Instances>"
      "<Instances><DebtStatus>1</DebtStatus><InstanceId>ddoscoo-cn-b"
      "</InstanceId><ExpireTime>1796202000000</ExpireTime><Status>2</Status>"
      "<Enabled>0</Enabled></Instances></DescribeInstancesResponse>",
      ids, 2, &left_out));
  EXPECT_EQ_INT(0, left_out);
  EXPECT_EQ_STR("1796205600 timeleft-expiry=864005\n"
                "1796205600 gauge-instance_status=1\n"
                "1796205600 gauge-enabled=1\n"
                "1796205600 gauge-debt_status=0\n"
                "1796205600 timeleft-expiry=0\n"
                "1796205600 gauge-instance_status=2\n"
                "1796205600 gauge-enabled=0\n"
                "1796205600 gauge-debt_status=1\n",
                emitted);
  long long w = 14 * 86400, f = 3 * 86400;
  stat_expiry_t e = {.expire = 1000000};
  EXPECT_EQ_INT(STAT_EXPIRY_OK, stat_expiry_level(&e, 1000000 - w - 1, w, f));
  EXPECT_EQ_INT(STAT_EXPIRY_WARNING, stat_expiry_level(&e, 1000000 - w, w, f));
  EXPECT_EQ_INT(STAT_EXPIRY_FAILURE, stat_expiry_level(&e, 1000000 - f, w, f));
  EXPECT_EQ_INT(STAT_EXPIRY_EXPIRED, stat_expiry_level(&e, 1000000, w, f));
  e.expired = true; /* Status 2 before its ExpireTime */
  EXPECT_EQ_INT(STAT_EXPIRY_EXPIRED, stat_expiry_level(&e, 0, w, f));
  /* News once per change; nothing for an instance first seen fine. */
  bool news;
  EXPECT_EQ_INT(1, stat_mark_step(0, 1, &news));
  OK(!news);
  EXPECT_EQ_INT(2, stat_mark_step(1, 2, &news));
  OK(news);
  EXPECT_EQ_INT(2, stat_mark_step(2, 2, &news));
  OK(!news);
  EXPECT_EQ_INT(4, stat_mark_step(0, 4, &news));
  OK(news);
  EXPECT_EQ_INT(1, stat_mark_step(4, 1, &news));
  OK(news);
  return 0;
}

static char changes[512];

static void change(void *ctx, const char *rule, const char *address,
                   bool abnormal) {
  (void)ctx;
  size_t n = strlen(changes);
  snprintf(changes + n, sizeof(changes) - n, "%s%s%s=%s\n", rule,
           address ? " " : "", address ? address : "",
           abnormal ? "abnormal" : "normal");
}

DEF_TEST(origin_health_per_rule_and_server) {
  const char *id[] = {"ddoscoo-cn-a"};
  int left_out;
  const char *answer =
      "<DescribeHealthCheckStatusResponse><RequestId>r</RequestId>"
      "<HealthCheckStatus><InstanceId>ddoscoo-cn-a</InstanceId><Protocol>tcp"
      "</Protocol><FrontendPort>80</FrontendPort><Status>abnormal</Status>"
      "<RealServerStatusList><Address>192.0.2.1</Address><Status>normal"
      "</Status></RealServerStatusList><RealServerStatusList><Address>"
      "192.0.2.2</Address><Status>abnormal</Status></RealServerStatusList>"
      "</HealthCheckStatus><HealthCheckStatus><InstanceId>ddoscoo-cn-a"
      "</InstanceId><Protocol>udp</Protocol><FrontendPort>53</FrontendPort>"
      "<Status>normal</Status></HealthCheckStatus>"
      "</DescribeHealthCheckStatusResponse>";
  CHECK_ZERO(answer_points("health", answer, id, 1, &left_out));
  EXPECT_EQ_STR("1796205600 gauge-rule_normal_tcp_80=0\n"
                "1796205600 count-abnormal_servers_tcp_80=1\n"
                "1796205600 gauge-rule_normal_udp_53=1\n"
                "1796205600 count-abnormal_servers_udp_53=0\n"
                "1796205600 count-abnormal_rules=1\n",
                emitted);
  /* Each rule and each server, for the notifications. */
  const statistic_t *st = statistic_find("health");
  api_rows_t rows;
  api_error_t error;
  CHECK_ZERO((int)api_parse_rows(answer, strlen(answer), st->action, st->list,
                                 st->fields, st->field_count, NULL, 0, &rows,
                                 &error, why, sizeof(why)));
  changes[0] = 0;
  stat_health_each(&rows, change, NULL);
  api_rows_clear(&rows);
  EXPECT_EQ_STR("tcp_80=abnormal\ntcp_80 192.0.2.1=normal\n"
                "tcp_80 192.0.2.2=abnormal\nudp_53=normal\n",
                changes);
  /* A status of neither kind, or a rule twice: no answer to trust. */
  EXPECT_EQ_INT(-1, answer_points("health",
                                  "<DescribeHealthCheckStatusResponse>"
                                  "<HealthCheckStatus><InstanceId>ddoscoo-cn-a"
                                  "</InstanceId><Protocol>tcp</Protocol>"
                                  "<FrontendPort>80</FrontendPort><Status>ok"
                                  "</Status></HealthCheckStatus>"
                                  "</DescribeHealthCheckStatusResponse>",
                                  id, 1, &left_out));
  EXPECT_EQ_INT(
      -1, answer_points("health",
                        "<DescribeHealthCheckStatusResponse>"
                        "<HealthCheckStatus><InstanceId>ddoscoo-cn-a"
                        "</InstanceId><Protocol>tcp</Protocol><FrontendPort>80"
                        "</FrontendPort><Status>normal</Status>"
                        "</HealthCheckStatus><HealthCheckStatus><InstanceId>"
                        "ddoscoo-cn-a</InstanceId><Protocol>tcp</Protocol>"
                        "<FrontendPort>80</FrontendPort><Status>normal</Status>"
                        "</HealthCheckStatus>"
                        "</DescribeHealthCheckStatusResponse>",
                        id, 1, &left_out));
  OK(strstr(why, "twice") != NULL);
  return 0;
}

DEF_TEST(health_changes_are_news_once) {
  bool news;
  /* First seen normal: nothing to say; abnormal: news. */
  EXPECT_EQ_INT(STAT_HEALTH_NORMAL, stat_health_step(0, false, &news));
  OK(!news);
  EXPECT_EQ_INT(STAT_HEALTH_ABNORMAL, stat_health_step(0, true, &news));
  OK(news);
  /* Down, still down, back, still back: two notifications. */
  int mark = STAT_HEALTH_NORMAL, told = 0;
  bool seen[] = {true, true, false, false};
  for (size_t i = 0; i < 4; i++) {
    mark = stat_health_step(mark, seen[i], &news);
    told += news;
  }
  EXPECT_EQ_INT(2, told);
  EXPECT_EQ_INT(STAT_HEALTH_NORMAL, mark);
  return 0;
}

int main(void) {
  RUN_TEST(origin_spellings);
  traffic = statistic_find("traffic");
  RUN_TEST(table);
  RUN_TEST(web_statistics);
  RUN_TEST(domain_bps_points);
  RUN_TEST(qps_points);
  RUN_TEST(status_codes_absent_give_no_value);
  RUN_TEST(rows_by_time_and_index);
  RUN_TEST(rows_outside_the_range_are_refused);
  RUN_TEST(a_flat_answer_is_its_window);
  RUN_TEST(blackhole_per_ip_and_count);
  RUN_TEST(ip_names);
  RUN_TEST(text_names);
  RUN_TEST(blackhole_refuses_what_is_no_ip);
  RUN_TEST(port_peaks_per_port);
  RUN_TEST(port_peaks_refuse_what_is_no_port);
  RUN_TEST(generic_points_are_the_mapped_fields);
  RUN_TEST(cc_events_of_instances_per_window);
  RUN_TEST(capacity_in_the_units_it_measures);
  RUN_TEST(rows_of_other_instances_are_refused);
  RUN_TEST(quotas_of_the_account);
  RUN_TEST(origin_health_per_rule_and_server);
  RUN_TEST(health_changes_are_news_once);
  RUN_TEST(expiry_in_seconds_left_and_its_news);
  RUN_TEST(events_per_window);
  RUN_TEST(events_beyond_one_page_count_from_all_pages);
  RUN_TEST(events_are_notified_once_each_way);
  RUN_TEST(event_names);
  END_TEST;
}
