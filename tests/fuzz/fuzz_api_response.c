/**
 * collectd-ddoscoo - tests/fuzz/fuzz_api_response.c
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer target: arbitrary bytes as a response body, read by
 * api_parse_rows as DescribePortConnsCount (root checked), as a flat
 * answer with the same fields whatever the root, and as list answers
 * (DescribeDDoSEvents with a root Total, DescribePortFlowList with mostly
 * optional fields), in both list shapes the seeds hold. Besides what
 * AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer catch, it
 * checks what the plugin relies on and abort()s when that does not hold:
 *   - OK: every count is at most 2^53 (exact as a double gauge) and
 *     RequestId is NUL-terminated and free of control characters; rows:
 *     at most API_MAX_LIST (a flat answer: one), every required field
 *     present (a text: not empty), an absent value zero, every text
 *     NUL-terminated and free of control characters; the root-checked
 *     answer, when OK, is what the unchecked one read;
 *   - ERROR: Code is not empty; Code, Message and RequestId are
 *     NUL-terminated and free of control characters;
 *   - INVALID: why is a non-empty, NUL-terminated, printable line.
 *   - anything but OK: the rows are empty.
 * The structs and why are filled with a non-NUL pattern first, so a
 * string the parser forgot to terminate is seen.
 */
#include "api_response.h"
#include "sources.h"
#include "statistics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#define MAX_COUNT (UINT64_C(1) << 53)
#define POISON 0xA5

static void fail(const char *what, size_t size) {
  fprintf(stderr, "fuzz_api_response: %s (input of %zu bytes)\n", what, size);
  abort();
}

/* NUL-terminated within size, no control characters before the NUL. */
static int is_log_safe(const char *s, size_t size) {
  const char *end = memchr(s, 0, size);
  if (end == NULL)
    return 0;
  for (const unsigned char *p = (const unsigned char *)s;
       p < (const unsigned char *)end; p++)
    if (*p < 0x20 || *p == 0x7F)
      return 0;
  return 1;
}

static const api_field_t event_fields[] = {
    {"EventType", API_FIELD_TEXT, true},  {"Ip", API_FIELD_TEXT, true},
    {"Port", API_FIELD_TEXT, false},      {"Region", API_FIELD_TEXT, false},
    {"StartTime", API_FIELD_COUNT, true}, {"EndTime", API_FIELD_COUNT, false},
    {"Bps", API_FIELD_COUNT, false},      {"Pps", API_FIELD_COUNT, false},
};
static const api_field_t event_root_fields[] = {
    {"Total", API_FIELD_COUNT, true},
};

static const api_field_t name_fields[] = {
    {API_FIELD_SELF, API_FIELD_TEXT, true},
};
static const api_field_t flow_fields[] = {
    {"Time", API_FIELD_COUNT, true},       {"Index", API_FIELD_COUNT, false},
    {"InBps", API_FIELD_COUNT, false},     {"OutBps", API_FIELD_COUNT, false},
    {"InPps", API_FIELD_COUNT, false},     {"OutPps", API_FIELD_COUNT, false},
    {"AttackBps", API_FIELD_COUNT, false}, {"Region", API_FIELD_TEXT, false},
};
static const api_field_t flow_root_fields[] = {
    {"TotalCount", API_FIELD_COUNT, false},
    {"Note", API_FIELD_TEXT, false},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static void check_value(const api_field_t *f, const api_value_t *v,
                        size_t size) {
  if (v->text == NULL || !is_log_safe(v->text, API_TEXT_SIZE))
    fail("OK with a text unterminated or with control characters", size);
  if (f->kind == API_FIELD_COUNT && v->count > MAX_COUNT)
    fail("OK with a count above 2^53", size);
  if (f->kind == API_FIELD_COUNT && v->text[0] != 0)
    fail("OK with a text in a count", size);
  if (f->kind == API_FIELD_TEXT && v->count != 0)
    fail("OK with a count in a text", size);
  if (!v->present && (v->count != 0 || v->text[0] != 0))
    fail("OK with an absent value that is not zero", size);
  if (f->required && !v->present)
    fail("OK without a required field", size);
  if (f->required && f->kind == API_FIELD_TEXT && v->text[0] == 0)
    fail("OK with a required text empty", size);
}

/* api_parse_rows() with one table; returns its status, rows kept for the
 * caller to compare (free with api_rows_clear()). */
static api_response_status_t
parse_rows(const uint8_t *data, size_t size, const char *action,
           const char *list, const api_field_t *fields, size_t field_count,
           const api_field_t *root_fields, size_t root_field_count,
           api_rows_t *rows) {
  api_error_t error;
  char why[256];
  memset(rows, POISON, sizeof(*rows));
  memset(&error, POISON, sizeof(error));
  memset(why, POISON, sizeof(why));
  api_response_status_t status = api_parse_rows(
      (const char *)data, size, action, list, fields, field_count, root_fields,
      root_field_count, rows, &error, why, sizeof(why));
  if (status != API_RESPONSE_OK &&
      (rows->values != NULL || rows->count != 0 || rows->root != NULL))
    fail("not OK, but rows not empty", size);
  switch (status) {
  case API_RESPONSE_OK:
    if (rows->field_count != field_count)
      fail("OK with another field_count", size);
    if (rows->count > API_MAX_LIST || (list == NULL && rows->count != 1))
      fail("OK with a wrong number of rows", size);
    if (!is_log_safe(rows->request_id, sizeof(rows->request_id)))
      fail("OK with RequestId unterminated or with control characters", size);
    for (size_t r = 0; r < rows->count; r++)
      for (size_t f = 0; f < field_count; f++)
        check_value(fields + f, rows->values + r * field_count + f, size);
    if ((root_field_count > 0) != (rows->root != NULL))
      fail("OK with root values but no root fields, or the reverse", size);
    for (size_t f = 0; f < root_field_count; f++)
      check_value(root_fields + f, rows->root + f, size);
    break;
  case API_RESPONSE_ERROR:
    if (!is_log_safe(error.code, sizeof(error.code)) ||
        !is_log_safe(error.message, sizeof(error.message)) ||
        !is_log_safe(error.request_id, sizeof(error.request_id)))
      fail("ERROR with a field unterminated or with control characters", size);
    if (error.code[0] == 0)
      fail("ERROR with an empty Code", size);
    break;
  case API_RESPONSE_INVALID:
    if (!is_log_safe(why, sizeof(why)))
      fail("INVALID with why unterminated or with control characters", size);
    if (why[0] == 0)
      fail("INVALID with an empty why", size);
    break;
  default:
    fail("unknown status", size);
  }
  return status;
}

/* Values of stat_points: counted, each a number (never NaN or infinite). */
static size_t emitted;
static void count_value(void *ctx, time_t end, const char *type,
                        const char *type_instance, double value) {
  (void)ctx, (void)end, (void)type, (void)type_instance;
  if (value != value || value < 0 || value > 1e300)
    abort();
  emitted++;
}

/* A value of the expiry statistic: the seconds left are never negative,
 * nothing is NaN. */
static size_t fuzz_size;
static void check_expiry_value(void *ctx, time_t end, const char *type,
                               const char *type_instance, double value) {
  (void)ctx, (void)end, (void)type_instance;
  if (value != value || (strcmp(type, "timeleft") == 0 && value < 0))
    fail("an expiry value that is NaN or a negative time left", fuzz_size);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  xmlInitParser();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* data is exactly size bytes, not NUL-terminated: the parser must keep
   * to len (AddressSanitizer sees any read past it). */
  /* The table's DescribePortConnsCount, as the plugin reads it. */
  const statistic_t *c = statistic_find("connections");
  api_rows_t conns, flat;
  api_response_status_t status = parse_rows(
      data, size, c->action, NULL, c->fields, c->field_count, NULL, 0, &conns);
  api_response_status_t unchecked = parse_rows(
      data, size, NULL, NULL, c->fields, c->field_count, NULL, 0, &flat);
  /* Checking the root's name only ever refuses more. */
  if (status == API_RESPONSE_OK) {
    if (unchecked != API_RESPONSE_OK ||
        strcmp(conns.request_id, flat.request_id) != 0)
      fail("the root-checked and the unchecked answer disagree", size);
    for (size_t f = 0; f < c->field_count; f++)
      if (conns.values[f].count != flat.values[f].count)
        fail("the root-checked and the unchecked answer disagree", size);
  }
  if (status == API_RESPONSE_ERROR && unchecked != API_RESPONSE_ERROR)
    fail("the root-checked and the unchecked answer disagree on an error",
         size);
  api_rows_clear(&conns);
  api_rows_clear(&flat);

  api_rows_t rows;
  parse_rows(data, size, NULL, "DDoSEvents", event_fields,
             COUNT_OF(event_fields), event_root_fields,
             COUNT_OF(event_root_fields), &rows);
  api_rows_clear(&rows);
  /* DescribeDDosAllEventList (instance_cc_events): whatever the answer,
   * its values are a count of floods and finite peaks, or none at all. */
  const statistic_t *cc = statistic_find("instance_cc_events");
  if (parse_rows(data, size, NULL, cc->list, cc->fields, cc->field_count,
                 cc->root_fields, cc->root_field_count,
                 &rows) == API_RESPONSE_OK) {
    char why[256] = "";
    emitted = 0;
    if (stat_points(cc, &rows, 1796205660, 1796205780, 60, count_value, NULL,
                    why, sizeof(why)) == 0) {
      if (emitted != 3 * 3)
        fail("instance_cc_events: not three values a window", size);
    } else if (emitted != 0 || !is_log_safe(why, sizeof(why)) || !why[0]) {
      fail("instance_cc_events: refused with values or without a why", size);
    }
    for (size_t r = 0; r < rows.count; r++) {
      stat_event_t e;
      cc->event(&rows, r, &e);
      if (e.bps % 1000000 != 0 && e.bps != UINT64_MAX)
        fail("instance_cc_events: bit/s not a whole megabit", size);
    }
  }
  api_rows_clear(&rows);
  parse_rows(data, size, NULL, "PortFlowList", flow_fields,
             COUNT_OF(flow_fields), flow_root_fields,
             COUNT_OF(flow_root_fields), &rows);
  api_rows_clear(&rows);
  /* A list nested in each row (DescribeHealthCheckStatus' servers): a
   * row per nested item. */
  const statistic_t *h = statistic_find("health");
  parse_rows(data, size, NULL, h->list, h->fields, h->field_count, NULL, 0,
             &rows);
  api_rows_clear(&rows);
  /* DescribeInstances as the expiry statistic reads it: each row's term
   * a level of 1 to 4, its values checked. */
  const statistic_t *x = statistic_find("expiry");
  if (parse_rows(data, size, NULL, x->list, x->fields, x->field_count, NULL, 0,
                 &rows) == API_RESPONSE_OK) {
    for (size_t r = 0; r < rows.count; r++) {
      stat_expiry_t e;
      stat_expiry(&rows, r, &e);
      int level = stat_expiry_level(&e, 1796205600, 14 * 86400LL, 3 * 86400LL);
      if (level < STAT_EXPIRY_OK || level > STAT_EXPIRY_EXPIRED)
        fail("an expiry level out of range", size);
    }
    char why[256];
    fuzz_size = size;
    stat_points(x, &rows, 1796205600, 1796205600, 60, check_expiry_value, NULL,
                why, sizeof(why));
  }
  api_rows_clear(&rows);
  /* A list of names (DescribeDomains): every row a non-empty text. */
  if (parse_rows(data, size, NULL, "Domains", name_fields,
                 COUNT_OF(name_fields), NULL, 0, &rows) == API_RESPONSE_OK)
    for (size_t r = 0; r < rows.count; r++)
      if (rows.values[r].text[0] == 0)
        fail("OK with an empty name", size);
  api_rows_clear(&rows);
  /* DescribeWebReportTopIp and DescribeDDosEventSrcIp: whatever the
   * answer, at most SOURCES_MAX sources, each a canonical IP, its Isp
   * digits or "?", its AreaId lower-case letters and digits or "?", and
   * the text a notification shows log-safe. */
  const struct {
    const char *list;
    const api_field_t *fields;
    size_t count;
  } sources_ops[] = {
      {CC_TOP_IP_LIST, cc_source_fields, cc_source_field_count},
      {DDOS_SRC_IP_LIST, ddos_source_fields, ddos_source_field_count},
  };
  for (size_t op = 0; op < COUNT_OF(sources_ops); op++) {
    if (parse_rows(data, size, NULL, sources_ops[op].list,
                   sources_ops[op].fields, sources_ops[op].count, NULL, 0,
                   &rows) != API_RESPONSE_OK)
      continue;
    source_t src[SOURCES_MAX];
    sources_refused_t refused;
    size_t n = sources_pick(&rows, src, SOURCES_MAX, &refused);
    if (n > SOURCES_MAX || n > rows.count)
      fail("more sources than asked for or answered", size);
    for (size_t k = 0; k < n; k++) {
      unsigned char addr[16];
      if (inet_pton(strchr(src[k].ip, ':') ? AF_INET6 : AF_INET, src[k].ip,
                    addr) != 1)
        fail("a source that is no IP address", size);
      if ((strspn(src[k].area, "0123456789abcdefghijklmnopqrstuvwxyz") !=
               strlen(src[k].area) &&
           strcmp(src[k].area, "?") != 0) ||
          (strspn(src[k].isp, "0123456789") != strlen(src[k].isp) &&
           strcmp(src[k].isp, "?") != 0))
        fail("an AreaId or Isp that is no code nor \"?\"", size);
    }
    char text[256];
    sources_text(src, n, text, sizeof(text));
    if (!is_log_safe(text, sizeof(text)) ||
        !is_log_safe(refused.first, sizeof(refused.first)))
      fail("sources text unterminated or with control characters", size);
    api_rows_clear(&rows);
  }
  return 0;
}
