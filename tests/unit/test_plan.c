/**
 * collectd-ddoscoo - tests/unit/test_plan.c
 * SPDX-License-Identifier: MIT
 *
 * A block's request plan: what fits runs at full resolution; what does not
 * is batched over time, asked at a lower resolution, or dropped, lowest
 * priority first, and said so.
 */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The default statistics of n instances of p ports each, in the default
 * priority order: events, blackhole, traffic, connections. */
static void block(plan_stat_t *s, size_t n, size_t p) {
  s[0] = (plan_stat_t){.name = "events", .series = n, .max_batch = 60};
  s[1] = (plan_stat_t){.name = "blackhole", .series = n, .max_batch = 0};
  s[2] = (plan_stat_t){.name = "traffic", .series = n, .max_batch = 60};
  s[3] = (plan_stat_t){.name = "connections", .series = n * p};
  for (size_t i = 0; i < 4; i++) {
    s[i].requests = (double)s[i].series;
    s[i].max_backfill = 60;
  }
}

/* The plan of 5 instances of 2 ports: everything every minute. */
#define SMALL_BLOCK_LINE                                                       \
  "25 requests a minute fit 514 (90 % of the 571 that fit, pace 10/s): "       \
  "events: 5 series, 5 a minute, every minute; blackhole: 5 series, 5 a "      \
  "minute, every minute; traffic: 5 series, 5 a minute, every minute; "        \
  "connections: 10 series, 10 a minute, every minute"

DEF_TEST(a_block_that_fits_runs_at_full_resolution) {
  plan_stat_t s[4];
  block(s, 5, 2);
  OK(!plan_make(s, 4, 571));
  for (size_t i = 0; i < 4; i++) {
    EXPECT_EQ_INT(1, s[i].cadence);
    OK(!s[i].thin);
  }
  EXPECT_EQ_DOUBLE(25, plan_cost(s, 4));
  char line[1024];
  plan_describe(s, 4, 571, 60, "pace 10/s", line, sizeof(line));
  EXPECT_EQ_STR(SMALL_BLOCK_LINE, line);
  return 0;
}

DEF_TEST(many_ports_lower_the_resolution_of_the_last_ones) {
  /* 20 x 50: 1,060 requests a minute, 514 planned of 571. */
  plan_stat_t s[4];
  block(s, 20, 50);
  OK(plan_make(s, 4, 571));
  for (size_t i = 0; i < 3; i++)
    EXPECT_EQ_INT(1, s[i].cadence);
  EXPECT_EQ_INT(5, s[3].cadence);
  OK(s[3].thin);
  EXPECT_EQ_INT(317, s[3].full); /* (513.9 - 60 - 200) / 0.8 */
  OK(plan_cost(s, 4) <= 571 * PLAN_USE);
  OK(plan_cost(s, 4) >= 571 * PLAN_USE - 1); /* and it is used */
  char line[1024];
  plan_describe(s, 4, 571, 60, "pace 10/s", line, sizeof(line));
  printf("  %s\n", line);
  OK(strstr(line, "1,060 requests a minute do not fit 514 (90 % of the 571 "
                  "that fit, pace 10/s), degraded by Priority: events: 20 "
                  "series, 20 a minute, every minute; ") == line);
  OK(strstr(line, "; connections: 1,000 series, 454 a minute, the first 317 "
                  "every minute, the other 683 every 5 minutes only") != NULL);

  /* Its series: the first 317 every minute, the others every fifth,
   * spread over the five. */
  sched_series_t w = {0};
  plan_series(s + 3, 316, &w);
  OK(!w.thin && w.cadence == 1 && !w.dropped);
  int phases[5] = {0}, wrong = 0;
  for (size_t j = 317; j < 1000; j++) {
    plan_series(s + 3, j, &w);
    wrong += !(w.thin && w.cadence == 5 && !w.dropped);
    phases[w.phase]++;
  }
  EXPECT_EQ_INT(0, wrong);
  for (size_t k = 0; k < 5; k++)
    OK(phases[k] >= 136 && phases[k] <= 137);
  return 0;
}

DEF_TEST(history_is_batched_over_time_rather_than_thinned) {
  /* 500 x 1 with events and blackhole asked for many instances at once
   * (5 and 25 requests): traffic is batched, connections thinned. */
  plan_stat_t s[4];
  block(s, 500, 1);
  s[0].series = 5, s[0].requests = 5;
  s[1].series = 25, s[1].requests = 25;
  OK(plan_make(s, 4, 571));
  EXPECT_EQ_INT(1, s[0].cadence);
  EXPECT_EQ_INT(1, s[1].cadence);
  EXPECT_EQ_INT(2, s[2].cadence); /* 250 of the 484 left */
  OK(!s[2].thin);
  EXPECT_EQ_INT(5, s[3].cadence);
  OK(s[3].thin);
  OK(plan_cost(s, 4) <= 571 * PLAN_USE);
  char line[1024];
  plan_describe(s, 4, 571, 60, "pace 10/s", line, sizeof(line));
  printf("  %s\n", line);
  OK(strstr(line, "; traffic: 500 series, 250 a minute, every minute, 2 at "
                  "a time (up to 1 minute late); ") != NULL);
  /* A batched series: every window, two at a time, half of them at odd
   * minutes. */
  sched_series_t w = {0};
  plan_series(s + 2, 7, &w);
  OK(!w.thin && w.cadence == 2 && w.phase == 1);
  return 0;
}

DEF_TEST(the_priority_order_decides_who_gives_way) {
  /* The same block, connections before traffic: connections take what
   * they can, traffic is batched as far as it goes. */
  plan_stat_t s[4];
  block(s, 20, 50);
  plan_stat_t t = s[2];
  s[2] = s[3], s[3] = t;
  OK(plan_make(s, 4, 571));
  EXPECT_EQ_STR("connections", s[2].name);
  OK(s[2].thin && s[2].cadence == 5);
  EXPECT_EQ_INT(341, s[2].full);   /* (513.9 - 40 - 20 / 60 - 200) / 0.8 */
  EXPECT_EQ_INT(30, s[3].cadence); /* traffic: what is left */
  OK(!s[3].thin);
  OK(plan_cost(s, 4) <= 571 * PLAN_USE);
  return 0;
}

DEF_TEST(what_cannot_be_afforded_is_dropped_and_said) {
  /* 500 x 1, every statistic a request per instance, 30 requests a minute
   * (27 planned): events take what they need to run at all, blackhole what
   * is left, traffic and connections nothing. */
  plan_stat_t s[4];
  block(s, 500, 1);
  OK(plan_make(s, 4, 30));
  OK(plan_cost(s, 4) <= 30 * PLAN_USE);
  EXPECT_EQ_INT(30, s[0].cadence); /* 17 of the 27 */
  OK(!s[0].thin);
  EXPECT_EQ_INT(60, s[1].cadence); /* the rest */
  OK(s[1].thin);
  EXPECT_EQ_INT(0, s[2].cadence);
  EXPECT_EQ_INT(0, s[3].cadence);
  sched_series_t w = {0};
  plan_series(s + 3, 0, &w);
  OK(w.dropped);
  char line[1024];
  plan_describe(s, 4, 30, 60, "pace 1/s", line, sizeof(line));
  printf("  %s\n", line);
  OK(strstr(line, "2,000 requests a minute do not fit 27 ") == line);
  OK(strstr(line, "; connections: 500 series, 0 a minute, not polled") != NULL);
  return 0;
}

DEF_TEST(a_batch_waits_no_longer_than_max_backfill) {
  plan_stat_t s[1] = {{.name = "traffic",
                       .series = 100,
                       .requests = 100,
                       .max_batch = 60,
                       .max_backfill = 10}};
  plan_make(s, 1, 20); /* 18 planned: 100 / 10 fits, 100 / 5 does not */
  EXPECT_EQ_INT(10, s[0].cadence);
  plan_make(s, 1, 5); /* 100 / 10 does not fit: dropped */
  EXPECT_EQ_INT(0, s[0].cadence);
  return 0;
}

DEF_TEST(a_statistic_of_five_minute_windows_costs_a_fifth_a_minute) {
  /* 5 domains: qps a request a minute each, domain_bps (windows of 300 s,
   * batched up to 60 of them, MaxBackfill 12 of them) a fifth. */
  plan_stat_t s[2] = {
      {.name = "qps", .max_batch = 60, .max_backfill = 60},
      {.name = "domain_bps",
       .max_batch = 60,
       .max_backfill = 12,
       .window = 300},
  };
  for (int d = 0; d < 5; d++) {
    plan_add_series(s + 0, 60);
    plan_add_series(s + 1, 60);
  }
  EXPECT_EQ_INT(5, (int)s[1].series);
  EXPECT_EQ_DOUBLE(5, s[0].requests);
  EXPECT_EQ_DOUBLE(1, s[1].requests);
  OK(!plan_make(s, 2, 571));
  EXPECT_EQ_DOUBLE(6, plan_cost(s, 2));
  char line[1024];
  plan_describe(s, 2, 571, 60, "pace 10/s", line, sizeof(line));
  EXPECT_EQ_STR("6 requests a minute fit 514 (90 % of the 571 that fit, "
                "pace 10/s): qps: 5 series, 5 a minute, every minute; "
                "domain_bps: 5 series, 1 a minute, every 5 minutes",
                line);

  /* 1,000 domains of domain_bps alone, 200 a minute, in 100 a minute:
   * batched, two of its windows a request, every 10 minutes. */
  plan_stat_t b = {
      .name = "domain_bps", .max_batch = 60, .max_backfill = 12, .window = 300};
  for (int d = 0; d < 1000; d++)
    plan_add_series(&b, 60);
  OK(fabs(b.requests - 200) < 1e-6);
  OK(plan_make(&b, 1, 100));
  EXPECT_EQ_INT(5, b.cadence); /* 200 / 2 = 100 > 90: the next, 5 */
  OK(!b.thin);
  OK(fabs(b.cost - 40) < 1e-6);
  plan_describe(&b, 1, 100, 60, "pace 1/s", line, sizeof(line));
  OK(strstr(line, "domain_bps: 1,000 series, 40 a minute, every 5 minutes, "
                  "5 at a time (up to 20 minutes late)") != NULL);
  /* At a Window of 300 s, a request a Window each. */
  plan_stat_t w = {.name = "domain_bps", .window = 300};
  plan_add_series(&w, 300);
  EXPECT_EQ_DOUBLE(1, w.requests);
  return 0;
}

/* The default statistics of n instances of p ports each, and
 * max_new_connections standing in for connections (a request per 100
 * instances), in the default priority order: events, blackhole,
 * max_new_connections, traffic, connections. */
#define PEAKS_NOTE "new connections of every port from DescribePortMaxConns"
static void block_with_peaks(plan_stat_t *s, size_t n, size_t p) {
  block(s, n, p);
  s[4] = s[3], s[3] = s[2];
  double chunks = (double)((n + 99) / 100);
  s[2] = (plan_stat_t){.name = "max_new_connections",
                       .series = (size_t)chunks,
                       .requests = chunks,
                       .max_batch = 0,
                       .max_backfill = 60,
                       .stands_in_for = "connections",
                       .note = PEAKS_NOTE};
}

DEF_TEST(a_small_block_asks_no_stand_in) {
  /* 5 x 2: connections fit, the stand-in costs nothing and is not said:
   * the plan and its line as without it. */
  plan_stat_t s[5];
  block_with_peaks(s, 5, 2);
  OK(!plan_make(s, 5, 571));
  OK(!s[2].standing_in);
  EXPECT_EQ_INT(0, s[2].cadence);
  EXPECT_EQ_DOUBLE(0, s[2].cost);
  EXPECT_EQ_DOUBLE(25, plan_cost(s, 5));
  EXPECT_EQ_DOUBLE(25, plan_needed(s, 5));
  for (size_t i = 0; i < 5; i++)
    if (i != 2)
      EXPECT_EQ_INT(1, s[i].cadence);
  sched_series_t w = {0};
  plan_series(s + 2, 0, &w);
  OK(w.dropped); /* no request */
  char line[1024];
  plan_describe(s, 5, 571, 60, "pace 10/s", line, sizeof(line));
  EXPECT_EQ_STR(SMALL_BLOCK_LINE, line);
  return 0;
}

DEF_TEST(many_ports_get_their_new_connections_from_one_request) {
  /* 20 x 50: connections thinned (1,000 requests a minute do not fit):
   * every port's new connections every minute for one request more, and
   * connections give way by that one. */
  plan_stat_t s[5];
  block_with_peaks(s, 20, 50);
  OK(plan_make(s, 5, 571));
  OK(s[2].standing_in);
  EXPECT_EQ_INT(1, s[2].cadence);
  EXPECT_EQ_DOUBLE(1, s[2].cost);
  EXPECT_EQ_INT(5, s[4].cadence);
  OK(s[4].thin);
  EXPECT_EQ_INT(316, s[4].full); /* 317 without it: one request less */
  OK(plan_cost(s, 5) <= 571 * PLAN_USE);
  sched_series_t w = {0};
  plan_series(s + 2, 0, &w);
  OK(!w.dropped && w.cadence == 1 && !w.thin);
  char line[1024];
  plan_describe(s, 5, 571, 60, "pace 10/s", line, sizeof(line));
  printf("  %s\n", line);
  OK(strstr(line, "1,061 requests a minute do not fit 514 ") == line);
  OK(strstr(line, "; blackhole: 20 series, 20 a minute, every minute; "
                  "max_new_connections: 1 series, 1 a minute, every minute, "
                  "standing in for the 1,000 connections series: " PEAKS_NOTE
                  "; traffic: ") != NULL);
  OK(strstr(line, "; connections: 1,000 series, 453 a minute, the first 316 "
                  "every minute, the other 684 every 5 minutes only") != NULL);
  return 0;
}

/* 500 x 1 with the stand-in, events and blackhole asked for 100 and 20
 * instances a request. */
static void hosting_block(plan_stat_t *s) {
  block_with_peaks(s, 500, 1);
  s[0].series = 5, s[0].requests = 5;
  s[1].series = 25, s[1].requests = 25;
}

DEF_TEST(many_instances_get_their_new_connections_a_request_per_100) {
  /* 500 x 1, events and blackhole of many instances a request: connections
   * thinned; every port's new connections every minute for 5 requests. */
  plan_stat_t s[5];
  hosting_block(s);
  OK(plan_make(s, 5, 571));
  OK(s[2].standing_in);
  EXPECT_EQ_INT(1, s[2].cadence);
  EXPECT_EQ_DOUBLE(5, s[2].cost);
  EXPECT_EQ_INT(2, s[3].cadence); /* traffic batched as without it */
  OK(s[4].thin && s[4].cadence == 5);
  OK(plan_cost(s, 5) <= 571 * PLAN_USE);
  char line[1024];
  plan_describe(s, 5, 571, 60, "pace 10/s", line, sizeof(line));
  printf("  %s\n", line);
  OK(strstr(line, "1,035 requests a minute do not fit 514 ") == line);
  OK(strstr(line, "max_new_connections: 5 series, 5 a minute, every minute, "
                  "standing in for the 500 connections series: ") != NULL);
  return 0;
}

DEF_TEST(a_stand_in_goes_before_what_gives_way) {
  /* 500 x 1 at 60 requests a minute (54 planned): connections once an
   * hour, the stand-in (before traffic and connections) every minute. */
  plan_stat_t s[5];
  hosting_block(s);
  OK(plan_make(s, 5, 60));
  OK(s[2].standing_in);
  OK(s[4].thin && s[4].cadence == 60);
  EXPECT_EQ_INT(1, s[2].cadence);
  OK(plan_cost(s, 5) <= 60 * PLAN_USE);
  return 0;
}

DEF_TEST(a_request_of_many_instances_is_said_so) {
  /* 500 instances' events in requests of 100, blackhole of 20: the line
   * counts the instances and the requests, not "5 series". */
  plan_stat_t s[2] = {
      {.name = "events", .max_batch = 60, .max_backfill = 60},
      {.name = "blackhole", .max_backfill = 60},
  };
  for (int c = 0; c < 5; c++)
    plan_add_series(s + 0, 60);
  for (int c = 0; c < 25; c++)
    plan_add_series(s + 1, 60);
  s[0].instances = 500, s[1].instances = 500;
  OK(!plan_make(s, 2, 571));
  char line[1024];
  plan_describe(s, 2, 571, 60, "pace 10/s", line, sizeof(line));
  EXPECT_EQ_STR("30 requests a minute fit 514 (90 % of the 571 that fit, "
                "pace 10/s): events: 500 instances in 5 requests, 5 a minute, "
                "every minute; blackhole: 500 instances in 25 requests, 25 a "
                "minute, every minute",
                line);
  /* One chunk: "1 request". */
  plan_stat_t one = {.name = "events", .max_backfill = 60};
  plan_add_series(&one, 60);
  one.instances = 20;
  OK(!plan_make(&one, 1, 571));
  plan_describe(&one, 1, 571, 60, "pace 10/s", line, sizeof(line));
  OK(strstr(line, "events: 20 instances in 1 request, 1 a minute, every "
                  "minute") != NULL);
  return 0;
}

int main(void) {
  RUN_TEST(a_block_that_fits_runs_at_full_resolution);
  RUN_TEST(many_ports_lower_the_resolution_of_the_last_ones);
  RUN_TEST(history_is_batched_over_time_rather_than_thinned);
  RUN_TEST(the_priority_order_decides_who_gives_way);
  RUN_TEST(what_cannot_be_afforded_is_dropped_and_said);
  RUN_TEST(a_batch_waits_no_longer_than_max_backfill);
  RUN_TEST(a_statistic_of_five_minute_windows_costs_a_fifth_a_minute);
  RUN_TEST(a_request_of_many_instances_is_said_so);
  RUN_TEST(a_small_block_asks_no_stand_in);
  RUN_TEST(many_ports_get_their_new_connections_from_one_request);
  RUN_TEST(many_instances_get_their_new_connections_a_request_per_100);
  RUN_TEST(a_stand_in_goes_before_what_gives_way);
  END_TEST;
}
