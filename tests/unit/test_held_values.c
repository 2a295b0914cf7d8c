/**
 * collectd-ddoscoo - tests/unit/test_held_values.c
 * SPDX-License-Identifier: MIT
 *
 * A series' fetched windows leave oldest first, a whole window at a time,
 * each value with its own name and time.
 */
#include "held_values.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

typedef struct {
  char got[1024];
} taken_t;

static void take(void *ctx, const held_value_t *v) {
  taken_t *t = ctx;
  size_t n = strlen(t->got);
  snprintf(t->got + n, sizeof(t->got) - n, "%s%lld %s-%s=%g", n ? "; " : "",
           (long long)v->end, v->type, v->type_instance, v->value);
}

/* Takes the oldest window; "" if none. */
static const char *take_one(held_values_t *h, taken_t *t) {
  t->got[0] = 0;
  held_take_oldest(h, take, t);
  return t->got;
}

DEF_TEST(a_catch_up_leaves_a_window_at_a_time) {
  held_values_t h = {0};
  /* An answer covering three windows, two values each. */
  for (time_t end = 60; end <= 180; end += 60) {
    OK(held_add(&h, end, "gauge", "in_bps", (double)end) == 0);
    OK(held_add(&h, end, "gauge", "out_bps", (double)end + 1) == 0);
  }
  EXPECT_EQ_INT(60, (int)held_oldest(&h));
  taken_t t;
  EXPECT_EQ_STR("60 gauge-in_bps=60; 60 gauge-out_bps=61", take_one(&h, &t));
  EXPECT_EQ_INT(120, (int)held_oldest(&h));
  EXPECT_EQ_STR("120 gauge-in_bps=120; 120 gauge-out_bps=121",
                take_one(&h, &t));
  /* The next answer arrives meanwhile. */
  OK(held_add(&h, 240, "gauge", "in_bps", 240) == 0);
  EXPECT_EQ_STR("180 gauge-in_bps=180; 180 gauge-out_bps=181",
                take_one(&h, &t));
  EXPECT_EQ_STR("240 gauge-in_bps=240", take_one(&h, &t));
  EXPECT_EQ_INT(0, (int)held_oldest(&h));
  EXPECT_EQ_INT(0, (int)held_take_oldest(&h, take, &t));
  EXPECT_EQ_INT(0, (int)h.count);
  OK(h.items == NULL); /* freed once empty */
  return 0;
}

DEF_TEST(the_oldest_leaves_first_whatever_the_order_kept) {
  held_values_t h = {0};
  OK(held_add(&h, 180, "count", "a", 3) == 0);
  OK(held_add(&h, 60, "count", "b", 1) == 0);
  OK(held_add(&h, 120, "count", "c", 2) == 0);
  OK(held_add(&h, 60, "count", "d", 4) == 0);
  taken_t t;
  EXPECT_EQ_STR("60 count-b=1; 60 count-d=4", take_one(&h, &t));
  EXPECT_EQ_STR("120 count-c=2", take_one(&h, &t));
  EXPECT_EQ_STR("180 count-a=3", take_one(&h, &t));
  held_clear(&h);
  return 0;
}

DEF_TEST(names_are_copied_and_cut_to_fit) {
  held_values_t h = {0};
  char name[300];
  memset(name, 'x', sizeof(name) - 1);
  name[sizeof(name) - 1] = 0;
  char ip[] = "203.0.113.7";
  OK(held_add(&h, 60, "bool", ip, 1) == 0);
  OK(held_add(&h, 60, "bool", name, 0) == 0);
  ip[0] = '9'; /* the answer's text is gone by the time it is dispatched */
  EXPECT_EQ_STR("203.0.113.7", h.items[0].type_instance);
  EXPECT_EQ_INT(HELD_NAME_SIZE - 1, (int)strlen(h.items[1].type_instance));
  held_clear(&h);
  return 0;
}

DEF_TEST(moving_leaves_the_source_empty) {
  held_values_t from = {0}, to = {0};
  OK(held_add(&from, 60, "count", "a", 1) == 0);
  held_move(&to, &from);
  EXPECT_EQ_INT(0, (int)from.count);
  OK(from.items == NULL);
  EXPECT_EQ_INT(60, (int)held_oldest(&to));
  held_clear(&to);
  held_clear(&from);
  return 0;
}

int main(void) {
  RUN_TEST(a_catch_up_leaves_a_window_at_a_time);
  RUN_TEST(the_oldest_leaves_first_whatever_the_order_kept);
  RUN_TEST(names_are_copied_and_cut_to_fit);
  RUN_TEST(moving_leaves_the_source_empty);
  END_TEST;
}
