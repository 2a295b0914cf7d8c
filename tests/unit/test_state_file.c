/**
 * collectd-ddoscoo - tests/unit/test_state_file.c
 * SPDX-License-Identifier: MIT
 *
 * The StateFile: round trip, first start, and files that must be ignored.
 */
#include "state_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

static char dir[] = "/tmp/ddoscoo-state-XXXXXX";
static char path[256];
static char why[256];

static void write_file(const char *content) {
  FILE *fh = fopen(path, "w");
  fputs(content, fh);
  fclose(fh);
}

DEF_TEST(round_trip) {
  state_t st = STATE_INIT;
  CHECK_ZERO(state_set(&st, "prod/ddoscoo-cn-a_80", 1796205600));
  CHECK_ZERO(state_set(&st, "edge/edge", 1796205540));
  CHECK_ZERO(state_set(&st, "prod/ddoscoo-cn-a_80", 1796205660));
  EXPECT_EQ_UINT64(2, st.count);
  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  state_clear(&st);

  char tmp[300];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  OK(access(tmp, F_OK) != 0); /* renamed into place */

  CHECK_ZERO(state_load(&st, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(2, st.count);
  EXPECT_EQ_UINT64(1796205660, state_get(&st, "prod/ddoscoo-cn-a_80"));
  EXPECT_EQ_UINT64(1796205540, state_get(&st, "edge/edge"));
  EXPECT_EQ_UINT64(0, state_get(&st, "prod/other"));
  state_clear(&st);
  return 0;
}

DEF_TEST(first_start) {
  state_t st = STATE_INIT;
  unlink(path);
  CHECK_ZERO(state_load(&st, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(0, st.count);
  return 0;
}

DEF_TEST(ignored_files) {
  struct {
    const char *content;
    const char *why;
  } cases[] = {
      {"", "not a collectd-ddoscoo state file"},
      {"epoch,value\n1,2\n", "not a collectd-ddoscoo state file"},
      {"# collectd-ddoscoo state 2\n", "not a collectd-ddoscoo state file"},
      {"# collectd-ddoscoo state 1\n1796205600\tok/a\nx\tb/c\n",
       "line 3 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600\tok/a\n-60\tb/c\n",
       "line 3 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600 b/c\n", "line 2 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600\tb c\n", "line 2 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600\t\n", "line 2 is malformed"},
      /* Cut short by a crash of whoever wrote it. */
      {"# collectd-ddoscoo state 1\n1796205600\tb/c", "line 2 is malformed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    state_t st = STATE_INIT;
    state_set(&st, "left/over", 60);
    write_file(cases[i].content);
    why[0] = 0;
    OK(state_load(&st, path, why, sizeof(why)) != 0);
    EXPECT_EQ_STR(cases[i].why, why);
    EXPECT_EQ_UINT64(0, st.count); /* nothing half-loaded */
  }
  return 0;
}

DEF_TEST(bad_keys) {
  state_t st = STATE_INIT;
  char long_key[STATE_MAX_KEY + 1];
  memset(long_key, 'a', sizeof(long_key) - 1);
  long_key[sizeof(long_key) - 1] = 0;
  OK(state_set(&st, long_key, 60) != 0);
  OK(state_set(&st, "", 60) != 0);
  OK(state_set(&st, "a\nb", 60) != 0);
  EXPECT_EQ_UINT64(0, st.count);
  return 0;
}

DEF_TEST(unwritable) {
  state_t st = STATE_INIT;
  CHECK_ZERO(state_set(&st, "a/b", 60));
  OK(state_save(&st, "/nonexistent-dir/state", why, sizeof(why)) != 0);
  OK(strstr(why, "/nonexistent-dir/state.tmp") != NULL);
  state_clear(&st);
  return 0;
}

int main(void) {
  if (mkdtemp(dir) == NULL)
    return 1;
  snprintf(path, sizeof(path), "%s/state", dir);
  RUN_TEST(round_trip);
  RUN_TEST(first_start);
  RUN_TEST(ignored_files);
  RUN_TEST(bad_keys);
  RUN_TEST(unwritable);
  unlink(path);
  rmdir(dir);
  END_TEST;
}
