/**
 * collectd-ddoscoo - tests/unit/test_instance_facts.c
 * SPDX-License-Identifier: MIT
 *
 * Requests of several instances: how a statistic's instances are split
 * into chunks (and split further after a refusal), and whose each row of
 * an answer is, by its InstanceId or by its Ip through the instance facts
 * (never guessed); and the facts' own answers, DescribeInstanceDetails'
 * nested EipInfos.
 */
#include "instance_facts.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

DEF_TEST(instances_are_split_into_chunks_of_the_limit) {
  size_t first[300];
  EXPECT_EQ_INT(3, (int)facts_chunks(250, 100, NULL, first));
  EXPECT_EQ_INT(0, (int)first[0]);
  EXPECT_EQ_INT(100, (int)first[1]);
  EXPECT_EQ_INT(200, (int)first[2]);
  EXPECT_EQ_INT(13, (int)facts_chunks(250, 20, NULL, first));
  EXPECT_EQ_INT(240, (int)first[12]);
  EXPECT_EQ_INT(1, (int)facts_chunks(1, 100, NULL, first));
  EXPECT_EQ_INT(0, (int)facts_chunks(0, 100, NULL, first));
  /* Without the facts: one instance a chunk. */
  EXPECT_EQ_INT(5, (int)facts_chunks(5, 1, NULL, first));
  return 0;
}

DEF_TEST(a_split_chunk_leaves_its_neighbours_as_they_were) {
  /* 60 instances of chunks of 20; the second chunk (20..39) was refused
   * and its members may share chunks of 10 only. */
  size_t cap[60] = {0}, first[60];
  for (size_t i = 20; i < 40; i++)
    cap[i] = 10;
  EXPECT_EQ_INT(4, (int)facts_chunks(60, 20, cap, first));
  EXPECT_EQ_INT(0, (int)first[0]);
  EXPECT_EQ_INT(20, (int)first[1]);
  EXPECT_EQ_INT(30, (int)first[2]);
  EXPECT_EQ_INT(40, (int)first[3]);
  /* Halved again down to one: the refused instance (25) alone, the half
   * that answered grows back (caps 2, 4 ...), never with it. */
  for (size_t i = 20; i < 40; i++)
    cap[i] = (i < 25) ? 4 : (i == 25) ? 1 : 8;
  size_t n = facts_chunks(60, 20, cap, first);
  EXPECT_EQ_INT(7, (int)n);
  size_t expect[] = {0, 20, 24, 25, 26, 34, 40};
  for (size_t k = 0; k < n; k++)
    EXPECT_EQ_INT((int)expect[k], (int)first[k]);
  /* Grown back to the limit (cap 0 or >= max): one chunk again. */
  for (size_t i = 20; i < 40; i++)
    cap[i] = (i == 25) ? 1 : 20;
  EXPECT_EQ_INT(5, (int)facts_chunks(60, 20, cap, first));
  return 0;
}

/* A statistic that attributes by Ip: blackhole, rows of its fields (Ip
 * first, BlackStatus second). */
static const statistic_t *by_ip(void) { return statistic_find("blackhole"); }

static void rows_of(api_rows_t *rows, const char *const *ips, size_t n) {
  static api_value_t values[32];
  for (size_t r = 0; r < n; r++) {
    values[2 * r] = (api_value_t){.present = true, .text = ips[r]};
    values[2 * r + 1] = (api_value_t){.present = true, .text = "normal"};
  }
  *rows = (api_rows_t){.field_count = 2, .values = values, .count = n};
}

DEF_TEST(rows_go_to_the_instance_of_their_ip) {
  instance_facts_t f = {0};
  OK(facts_add_ip(&f, "i-a", "203.0.113.1") == 0);
  OK(facts_add_ip(&f, "i-b", "203.0.113.2") == 0);
  OK(facts_add_ip(&f, "i-b", "2001:DB8::0:1") == 0); /* a second IP */
  OK(facts_add_ip(&f, "i-c", "203.0.113.3") == 0);
  EXPECT_EQ_INT(1, facts_add_ip(&f, "i-c", "not an ip"));
  facts_done(&f);
  EXPECT_EQ_STR("i-b", facts_owner(&f, "2001:db8::1")); /* any spelling */
  EXPECT_EQ_STR("i-a", facts_owner(&f, "203.0.113.1"));
  OK(facts_owner(&f, "203.0.113.9") == NULL);
  OK(facts_find(&f, "i-c") != NULL);
  EXPECT_EQ_INT(-1, facts_find(&f, "i-c")->status); /* not answered */

  /* A request of i-a and i-b: an IP of each, an unknown IP, an IP of i-c
   * (not asked for) and no IP at all. */
  const char *ips[] = {"2001:db8::1", "203.0.113.1", "203.0.113.9",
                       "203.0.113.3", "a b"};
  api_rows_t rows;
  rows_of(&rows, ips, 5);
  const char *ids[] = {"i-a", "i-b"};
  size_t owner[5];
  facts_attribution_t note;
  facts_attribute(&f, by_ip(), &rows, ids, 2, owner, &note);
  EXPECT_EQ_INT(1, (int)owner[0]);
  EXPECT_EQ_INT(0, (int)owner[1]);
  OK(owner[2] == SIZE_MAX && owner[3] == SIZE_MAX && owner[4] == SIZE_MAX);
  EXPECT_EQ_INT(1, (int)note.unknown);
  EXPECT_EQ_STR("203.0.113.9", note.first_unknown);
  EXPECT_EQ_INT(1, (int)note.unusable);
  EXPECT_EQ_STR("203.0.113.3", note.first_unusable);
  EXPECT_EQ_INT(1, (int)note.not_ip);
  EXPECT_EQ_STR("a b", note.first_not_ip);

  /* Each instance's rows, in order. */
  api_rows_t mine;
  OK(facts_rows_of(&rows, owner, 1, &mine) == 0);
  EXPECT_EQ_INT(1, (int)mine.count);
  EXPECT_EQ_STR("2001:db8::1", mine.values[0].text);
  free(mine.values);
  OK(facts_rows_of(&rows, owner, 7, &mine) == 0);
  EXPECT_EQ_INT(0, (int)mine.count);

  /* A request of one instance: every row is its, the facts unasked. */
  instance_facts_t none = {0};
  facts_attribute(&none, by_ip(), &rows, ids, 1, owner, &note);
  for (size_t r = 0; r < 5; r++)
    EXPECT_EQ_INT(0, (int)owner[r]);
  EXPECT_EQ_INT(0, (int)(note.unknown + note.unusable + note.not_ip));
  facts_clear(&f);
  return 0;
}

DEF_TEST(rows_go_to_the_instance_they_name) {
  static const api_field_t fields[] = {{"InstanceId", API_FIELD_TEXT, true}};
  statistic_t stat = {.name = "specs",
                      .fields = fields,
                      .field_count = 1,
                      .attribution = STAT_BY_INSTANCE_ID,
                      .attribution_field = "InstanceId"};
  api_value_t values[] = {{.present = true, .text = "i-b"},
                          {.present = true, .text = "i-x"},
                          {.present = true, .text = "i-a"}};
  api_rows_t rows = {.field_count = 1, .values = values, .count = 3};
  const char *ids[] = {"i-a", "i-b"};
  size_t owner[3];
  facts_attribution_t note;
  instance_facts_t f = {0};
  facts_attribute(&f, &stat, &rows, ids, 2, owner, &note);
  EXPECT_EQ_INT(1, (int)owner[0]);
  OK(owner[1] == SIZE_MAX);
  EXPECT_EQ_INT(0, (int)owner[2]);
  EXPECT_EQ_INT(1, (int)note.unusable);
  EXPECT_EQ_STR("i-x", note.first_unusable);
  return 0;
}

DEF_TEST(instance_details_give_a_row_per_ip) {
  static const api_field_t outer[] = {{"InstanceId", API_FIELD_TEXT, true}};
  static const api_field_t inner[] = {{"Eip", API_FIELD_TEXT, false}};
  /* Repeated items, and the wrapper style; an instance without IPs. */
  const char *docs[] = {
      "<DescribeInstanceDetailsResponse><RequestId>r</RequestId>"
      "<InstanceDetails><Line>l</Line><InstanceId>i-a</InstanceId>"
      "<EipInfos><Eip>203.0.113.1</Eip><Status>normal</Status></EipInfos>"
      "<EipInfos><Eip>203.0.113.2</Eip></EipInfos></InstanceDetails>"
      "<InstanceDetails><InstanceId>i-b</InstanceId></InstanceDetails>"
      "<InstanceDetails><EipInfos><Eip>203.0.113.3</Eip></EipInfos>"
      "<InstanceId>i-c</InstanceId></InstanceDetails>"
      "</DescribeInstanceDetailsResponse>",
      "<DescribeInstanceDetailsResponse><RequestId>r</RequestId>"
      "<InstanceDetails><item><InstanceId>i-a</InstanceId><EipInfos><item>"
      "<Eip>203.0.113.1</Eip></item><item><Eip>203.0.113.2</Eip></item>"
      "</EipInfos></item><item><InstanceId>i-b</InstanceId><EipInfos/>"
      "</item><item><InstanceId>i-c</InstanceId><EipInfos><Eip>203.0.113.3"
      "</Eip></EipInfos></item></InstanceDetails>"
      "</DescribeInstanceDetailsResponse>",
  };
  for (size_t d = 0; d < 2; d++) {
    api_rows_t rows;
    api_error_t error;
    char why[256] = "";
    EXPECT_EQ_INT(API_RESPONSE_OK,
                  api_parse_nested_rows(
                      docs[d], strlen(docs[d]), "DescribeInstanceDetails",
                      "InstanceDetails", outer, 1, "EipInfos", inner, 1, &rows,
                      &error, why, sizeof(why)));
    EXPECT_EQ_INT(3, (int)rows.count);
    EXPECT_EQ_INT(2, (int)rows.field_count);
    const char *expect[][2] = {
        {"i-a", "203.0.113.1"}, {"i-a", "203.0.113.2"}, {"i-c", "203.0.113.3"}};
    for (size_t r = 0; r < 3 && r < rows.count; r++) {
      EXPECT_EQ_STR(expect[r][0], rows.values[2 * r].text);
      EXPECT_EQ_STR(expect[r][1], rows.values[2 * r + 1].text);
    }
    api_rows_clear(&rows);
  }
  /* An instance without its InstanceId: unusable. */
  const char *bad = "<DescribeInstanceDetailsResponse><InstanceDetails>"
                    "<EipInfos><Eip>203.0.113.1</Eip></EipInfos>"
                    "</InstanceDetails></DescribeInstanceDetailsResponse>";
  api_rows_t rows;
  api_error_t error;
  char why[256] = "";
  EXPECT_EQ_INT(
      API_RESPONSE_INVALID,
      api_parse_nested_rows(bad, strlen(bad), "DescribeInstanceDetails",
                            "InstanceDetails", outer, 1, "EipInfos", inner, 1,
                            &rows, &error, why, sizeof(why)));
  EXPECT_EQ_STR("<InstanceId> is missing", why);
  return 0;
}

/* A request naming no instance (the account's list): rows of the block's
 * instances by Ip, also with one instance; rows of the account's other
 * instances dropped without a note; unknown IPs noted as ever. */
DEF_TEST(account_rows_go_to_the_block_s_instances) {
  const statistic_t *cc = statistic_find("instance_cc_events");
  CHECK_NOT_NULL(cc);
  instance_facts_t f = {0};
  OK(facts_add_ip(&f, "i-a", "203.0.113.1") == 0);
  OK(facts_add_ip(&f, "i-b", "203.0.113.2") == 0);
  OK(facts_add_ip(&f, "i-other", "203.0.113.3") == 0);
  facts_done(&f);
  static api_value_t values[4 * 7];
  const char *ips[] = {"203.0.113.2", "203.0.113.3", "203.0.113.9",
                       "203.0.113.1"};
  for (size_t r = 0; r < 4; r++) {
    for (size_t c = 0; c < 7; c++)
      values[7 * r + c] = (api_value_t){.present = true, .text = ""};
    values[7 * r].text = "cc";
    values[7 * r + 1].text = ips[r];
  }
  api_rows_t rows = {.field_count = 7, .values = values, .count = 4};
  const char *ids[] = {"i-a", "i-b"};
  size_t owner[4];
  facts_attribution_t note;
  facts_attribute(&f, cc, &rows, ids, 2, owner, &note);
  EXPECT_EQ_INT(1, (int)owner[0]);
  OK(owner[1] == SIZE_MAX && owner[2] == SIZE_MAX);
  EXPECT_EQ_INT(0, (int)owner[3]);
  EXPECT_EQ_INT(1, (int)note.others);
  EXPECT_EQ_INT(0, (int)note.unusable);
  EXPECT_EQ_INT(1, (int)note.unknown);
  EXPECT_EQ_STR("203.0.113.9", note.first_unknown);
  /* A block of one instance: not every row is its. */
  facts_attribute(&f, cc, &rows, ids + 1, 1, owner, &note);
  OK(owner[0] == 0 && owner[1] == SIZE_MAX && owner[3] == SIZE_MAX);
  EXPECT_EQ_INT(2, (int)note.others);
  facts_clear(&f);
  return 0;
}

DEF_TEST(events_and_blackhole_name_many_instances) {
  const statistic_t *events = statistic_find("events");
  const statistic_t *blackhole = statistic_find("blackhole");
  EXPECT_EQ_INT(STAT_BY_IP, events->attribution);
  EXPECT_EQ_INT(100, (int)events->max_instances);
  EXPECT_EQ_STR("Ip", events->attribution_field);
  EXPECT_EQ_INT(STAT_BY_IP, blackhole->attribution);
  EXPECT_EQ_INT(20, (int)blackhole->max_instances);
  EXPECT_EQ_INT(STAT_OWN_ROWS, statistic_find("traffic")->attribution);
  return 0;
}

int main(void) {
  RUN_TEST(instances_are_split_into_chunks_of_the_limit);
  RUN_TEST(a_split_chunk_leaves_its_neighbours_as_they_were);
  RUN_TEST(rows_go_to_the_instance_of_their_ip);
  RUN_TEST(rows_go_to_the_instance_they_name);
  RUN_TEST(instance_details_give_a_row_per_ip);
  RUN_TEST(account_rows_go_to_the_block_s_instances);
  RUN_TEST(events_and_blackhole_name_many_instances);
  END_TEST;
}
