/**
 * collectd-ddoscoo - tests/unit/test_dispatch.c
 * SPDX-License-Identifier: MIT
 *
 * A block's health per statistic as the collectd glue dispatches and logs
 * it: each statistic's counters and age (the series furthest behind), and
 * the first answer or refusal of each statistic said once. The glue is
 * included, with a mock of the few daemon functions it calls and a clock
 * the tests set.
 */
#include "dispatch.c"

#include "testing.h"

/* The daemon, mocked: log lines into one buffer, values into a list. */
static char logged[8192];
static cdtime_t clock_now;

void plugin_log(int level, const char *format, ...) {
  (void)level;
  size_t n = strlen(logged);
  va_list ap;
  va_start(ap, format);
  vsnprintf(logged + n, sizeof(logged) - n, format, ap);
  va_end(ap);
  n = strlen(logged);
  snprintf(logged + n, sizeof(logged) - n, "\n");
}

int ssnprintf(char *str, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(str, size, format, ap);
  va_end(ap);
  return n;
}

char *sstrncpy(char *dest, const char *src, size_t n) {
  snprintf(dest, n, "%s", src);
  return dest;
}

cdtime_t cdtime(void) { return clock_now; }

typedef struct {
  char name[3 * DATA_MAX_NAME_LEN]; /* plugin_instance/type-type_instance */
  value_t value;
} dispatched_t;
static dispatched_t dispatched[64];
static size_t dispatched_count;

int plugin_dispatch_values(value_list_t const *vl) {
  if (dispatched_count < STATIC_ARRAY_SIZE(dispatched)) {
    dispatched_t *d = dispatched + dispatched_count++;
    snprintf(d->name, sizeof(d->name), "%s/%s-%s", vl->plugin_instance,
             vl->type, vl->type_instance);
    d->value = vl->values[0];
  }
  return 0;
}

static const value_t *value_of(const char *name) {
  for (size_t i = 0; i < dispatched_count; i++)
    if (strcmp(dispatched[i].name, name) == 0)
      return &dispatched[i].value;
  return NULL;
}

/* Block "prod" polling connections (two series: two ports) and traffic
 * (one series); status_codes is not polled. */
static series_t series_list[3];
static account_t block = {.name = "prod", .self_monitoring = true};

static void setup(void) {
  logged[0] = 0;
  dispatched_count = 0;
  memset(&block.stats, 0, sizeof(block.stats));
  block.stats_time = 0;
  block.statistics[0] = statistic_find("connections");
  block.statistics[1] = statistic_find("traffic");
  block.statistics_count = 2;
  block.instance_count = 2;
  block.domain_count = 0;
  memset(series_list, 0, sizeof(series_list));
  series_list[0].stat = series_list[1].stat = block.statistics[0];
  series_list[2].stat = block.statistics[1];
  block.series = series_list;
  block.series_count = STATIC_ARRAY_SIZE(series_list);
}

DEF_TEST(the_age_is_of_the_series_furthest_behind) {
  setup();
  const statistic_t *conns = block.statistics[0];
  const statistic_t *traffic = block.statistics[1];
  cdtime_t now = TIME_T_TO_CDTIME_T(100000);
  /* Not polled yet: no age. */
  EXPECT_EQ_DOUBLE(-1, statistic_age(&block, conns, now));
  /* Polled, nothing stored yet: from the window before its first. */
  series_list[0].age_since = series_list[1].age_since = 99820;
  series_list[2].age_since = 99820;
  EXPECT_EQ_DOUBLE(180, statistic_age(&block, conns, now));
  /* One port stored 99880, the other nothing: still 180 behind. */
  series_list[0].w.last_end = 99880;
  EXPECT_EQ_DOUBLE(180, statistic_age(&block, conns, now));
  /* Both stored: the older of the two newest windows. */
  series_list[1].w.last_end = 99940;
  EXPECT_EQ_DOUBLE(120, statistic_age(&block, conns, now));
  /* Traffic's series are its own. */
  series_list[2].w.last_end = 99940;
  EXPECT_EQ_DOUBLE(60, statistic_age(&block, traffic, now));
  /* A statistic the block has no series of. */
  EXPECT_EQ_DOUBLE(-1,
                   statistic_age(&block, statistic_find("status_codes"), now));
  return 0;
}

DEF_TEST(each_statistic_has_its_counters_and_age) {
  setup();
  series_list[0].w.last_end = 99880;
  series_list[1].w.last_end = 99940;
  series_list[2].age_since = 96400; /* refused since an hour */
  block.stats.requests = 10;
  block.stats.failed = 4;
  dispatch_health(&block, block.statistics[0])->sent = 6;
  stat_health_t *traffic = dispatch_health(&block, block.statistics[1]);
  traffic->sent = 4;
  traffic->refused = 3;
  traffic->throttled = 1;
  EXPECT_EQ_PTR(NULL, dispatch_health(&block, statistic_find("qps")));
  clock_now = TIME_T_TO_CDTIME_T(100000);
  dispatch_stats(&block, 0, 0);

  /* The block's own, as before. */
  EXPECT_EQ_UINT64(10, value_of("prod-api/total_requests-sent")->derive);
  EXPECT_EQ_UINT64(4, value_of("prod-api/total_requests-failed")->derive);
  /* Each statistic's. */
  EXPECT_EQ_UINT64(
      6, value_of("prod-api/total_requests-connections-sent")->derive);
  EXPECT_EQ_UINT64(
      0, value_of("prod-api/total_requests-connections-refused")->derive);
  EXPECT_EQ_UINT64(4, value_of("prod-api/total_requests-traffic-sent")->derive);
  EXPECT_EQ_UINT64(3,
                   value_of("prod-api/total_requests-traffic-refused")->derive);
  EXPECT_EQ_UINT64(
      1, value_of("prod-api/total_requests-traffic-throttled")->derive);
  EXPECT_EQ_DOUBLE(120, value_of("prod-api/duration-connections-age")->gauge);
  EXPECT_EQ_DOUBLE(3600, value_of("prod-api/duration-traffic-age")->gauge);
  /* 4 of the block (no response_time: the read sent nothing), 4 of each
   * of its two statistics, no other. */
  EXPECT_EQ_INT(12, (int)dispatched_count);
  EXPECT_EQ_INT(1, (value_of("prod-api/response_time-") == NULL));
  return 0;
}

DEF_TEST(first_contact_is_said_once_per_statistic) {
  setup();
  api_error_t denied = {.code = "Forbidden.RAM"};
  api_error_t rejected = {.code = "InvalidParameter"};
  /* connections answers, for both ports: one line. */
  dispatch_answered(&block, series_list + 0);
  dispatch_answered(&block, series_list + 1);
  EXPECT_EQ_STR("ddoscoo plugin: Account \"prod\": connections: "
                "DescribePortConnsCount answered for 2 instances.\n",
                logged);
  /* A later refusal is counted, and the error line (not ours) says it. */
  logged[0] = 0;
  dispatch_refused(&block, series_list + 0, API_ERROR_REQUEST, &rejected);
  EXPECT_EQ_STR("", logged);
  EXPECT_EQ_UINT64(1, block.stats.of[0].refused);

  /* traffic is refused, minute after minute: one line, every one counted. */
  for (int i = 0; i < 3; i++)
    dispatch_refused(&block, series_list + 2, API_ERROR_PERMISSION, &denied);
  EXPECT_EQ_STR("ddoscoo plugin: Account \"prod\": traffic: permission "
                "denied, add yundun-ddoscoo:DescribePortFlowList to the key's "
                "RAM policy.\n",
                logged);
  EXPECT_EQ_UINT64(3, block.stats.of[1].refused);
  /* Then it answers: said once more, then never again. */
  logged[0] = 0;
  block.instance_count = 1;
  dispatch_answered(&block, series_list + 2);
  dispatch_answered(&block, series_list + 2);
  dispatch_refused(&block, series_list + 2, API_ERROR_PERMISSION, &denied);
  dispatch_answered(&block, series_list + 2);
  EXPECT_EQ_STR("ddoscoo plugin: Account \"prod\": traffic: "
                "DescribePortFlowList answers now for 1 instance.\n",
                logged);

  /* A rejected request of a web statistic names the code. */
  logged[0] = 0;
  series_t web = {.stat = statistic_find("qps")};
  block.statistics[2] = web.stat;
  block.statistics_count = 3;
  block.domain_count = 3;
  dispatch_refused(&block, &web, API_ERROR_REQUEST, &rejected);
  dispatch_answered(&block, &web);
  EXPECT_EQ_STR("ddoscoo plugin: Account \"prod\": qps: DescribeDomainQPSList "
                "refused: InvalidParameter (request rejected).\n"
                "ddoscoo plugin: Account \"prod\": qps: DescribeDomainQPSList "
                "answers now for 3 domains.\n",
                logged);
  return 0;
}

int main(void) {
  RUN_TEST(the_age_is_of_the_series_furthest_behind);
  RUN_TEST(each_statistic_has_its_counters_and_age);
  RUN_TEST(first_contact_is_said_once_per_statistic);
  END_TEST;
}
