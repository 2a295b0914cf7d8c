/**
 * collectd-ddoscoo - tests/unit/test_state_file.c
 * SPDX-License-Identifier: MIT
 *
 * The StateFile: round trip, UTF-8 names, 100,000 series, first start,
 * files that must be ignored, and how the file is written: never through
 * a planted link, mode 0600, nothing left behind, writers side by side.
 */
#include "state_file.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

static char dir[] = "/tmp/ddoscoo-state-XXXXXX";
static char path[256];
static char why[256];

static void write_file(const char *name, const char *content) {
  FILE *fh = fopen(name, "w");
  fputs(content, fh);
  fclose(fh);
}

static char *read_file(const char *name) {
  static char buf[4096];
  FILE *fh = fopen(name, "r");
  if (fh == NULL)
    return "";
  size_t n = fread(buf, 1, sizeof(buf) - 1, fh);
  buf[n] = 0;
  fclose(fh);
  return buf;
}

/* The names in dir, but for the ones given: what a save left behind. */
static int strays(const char *keep1, const char *keep2, const char *keep3) {
  int n = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    const char *name = e->d_name;
    if (strcmp(name, ".") && strcmp(name, "..") && strcmp(name, keep1) &&
        strcmp(name, keep2) && strcmp(name, keep3)) {
      printf("# stray file %s\n", name);
      n++;
    }
  }
  closedir(d);
  return n;
}

DEF_TEST(round_trip) {
  state_t st = STATE_INIT;
  CHECK_ZERO(state_set(&st, "prod/ddoscoo-cn-a_80", 1796205600));
  CHECK_ZERO(state_set(&st, "edge/edge", 1796205540));
  CHECK_ZERO(state_set(&st, "prod/ddoscoo-cn-a_80", 1796205660));
  EXPECT_EQ_UINT64(2, st.count);
  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  state_clear(&st);
  /* Written in the order first set. */
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n"
                "1796205660\tprod/ddoscoo-cn-a_80\n"
                "1796205540\tedge/edge\n",
                read_file(path));
  EXPECT_EQ_INT(0, strays("state", "-", "-")); /* renamed into place */

  CHECK_ZERO(state_load(&st, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(2, st.count);
  EXPECT_EQ_UINT64(1796205660, state_get(&st, "prod/ddoscoo-cn-a_80"));
  EXPECT_EQ_UINT64(1796205540, state_get(&st, "edge/edge"));
  EXPECT_EQ_UINT64(0, state_get(&st, "prod/other"));
  state_clear(&st);
  return 0;
}

/* InstanceNames true names series by their remarks, in any language. */
DEF_TEST(utf8_keys) {
  const char *keys[] = {
      "prod/网站_80",          /* Chinese */
      "prod/ウェブ-api_443",   /* Japanese */
      "edge/Zürich_8080",      /* Latin-1 range */
      "edge/\xF0\x9F\x9A\x80", /* U+1F680, four bytes */
  };
  state_t st = STATE_INIT;
  for (size_t i = 0; i < 4; i++)
    EXPECT_EQ_INT(0, state_set(&st, keys[i], 1796205600 + 60 * (time_t)i));
  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  state_clear(&st);
  OK(strstr(read_file(path), "1796205600\tprod/网站_80\n") != NULL);

  CHECK_ZERO(state_load(&st, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(4, st.count);
  for (size_t i = 0; i < 4; i++)
    EXPECT_EQ_UINT64(1796205600 + 60 * i, state_get(&st, keys[i]));
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
      {"# collectd-ddoscoo state 1\n1796205600\t\n", "line 2 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600\tb/c\tx\n",
       "line 2 is malformed"},
      {"# collectd-ddoscoo state 1\n1796205600\tb/c\r\n",
       "line 2 is malformed"},
      /* Not UTF-8: GB 18030 bytes of a foreign tool, a cut character. */
      {"# collectd-ddoscoo state 1\n1796205600\tb/\xCD\xF8\xD5\xBE\n",
       "line 2 is malformed"},
      {"# collectd-ddoscoo state "
       "1\n1796205600\tok/网\n1796205600\tb/\xE7\xBD\n",
       "line 3 is malformed"},
      /* Cut short by a crash of whoever wrote it. */
      {"# collectd-ddoscoo state 1\n1796205600\tb/c", "line 2 is malformed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    state_t st = STATE_INIT;
    state_set(&st, "left/over", 60);
    write_file(path, cases[i].content);
    why[0] = 0;
    OK(state_load(&st, path, why, sizeof(why)) != 0);
    EXPECT_EQ_STR(cases[i].why, why);
    EXPECT_EQ_UINT64(0, st.count); /* nothing half-loaded */
    EXPECT_EQ_UINT64(0, state_get(&st, "ok/a"));
  }
  return 0;
}

DEF_TEST(bad_keys) {
  state_t st = STATE_INIT;
  char key[STATE_MAX_KEY + 1];
  memset(key, 'a', STATE_MAX_KEY - 1); /* 255 bytes: the longest */
  key[STATE_MAX_KEY - 1] = 0;
  EXPECT_EQ_INT(0, state_set(&st, key, 60));
  key[STATE_MAX_KEY - 1] = 'a';
  key[STATE_MAX_KEY] = 0;
  EXPECT_EQ_INT(EINVAL, state_set(&st, key, 60));
  /* A character across the limit does not fit either. */
  memcpy(key + STATE_MAX_KEY - 2, "\xC3\xBC", 3);
  EXPECT_EQ_INT(EINVAL, state_set(&st, key, 60));

  const char *bad[] = {
      "",
      "a\nb",
      "a\tb",
      "a\rb",
      "a\x7f",
      "a\xC2\x85",         /* U+0085, a C1 control */
      "a\x80",             /* a lone continuation byte */
      "a\xC0\xAF",         /* overlong "/" */
      "a\xE0\x80\xAF",     /* overlong "/" */
      "a\xED\xA0\x80",     /* a UTF-16 surrogate */
      "a\xF4\x90\x80\x80", /* beyond U+10FFFF */
      "a\xF5\x80\x80\x80",
      "a\xE7\xBD",         /* cut short */
      "a\xE7\xBD\x91\xBD", /* a continuation byte too many */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    EXPECT_EQ_INT(EINVAL, state_set(&st, bad[i], 60));
    EXPECT_EQ_UINT64(0, state_get(&st, bad[i]));
  }
  EXPECT_EQ_UINT64(1, st.count);
  state_clear(&st);
  return 0;
}

/* A key the file cannot take is kept under one it can, the same at every
 * start; the keys the file takes stay as they are, so an older file's
 * entries are still found. */
DEF_TEST(fitted_keys) {
  char fit[STATE_MAX_KEY], again[STATE_MAX_KEY];
  state_fit_key("prod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000", fit);
  EXPECT_EQ_STR("prod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000", fit);

  /* A long remark (plugin_instance) and a long IPv6 Ip, which differ only
   * at their very end: two keys, both kept, neither taken for the other. */
  char a[1024], b[1024];
  char remark[128] = "";
  for (int i = 0; i < 42; i++) /* 126 bytes */
    strcat(remark, "网");
  snprintf(a, sizeof(a),
           "prod/%s/event/defense/"
           "2001:0db8:0000:0000:0000:0000:0000:0001,2001:0db8:0000:0000:0000:"
           "0000:0000:0002,2001:0db8:0000:0000:0000:0000:0000:0003/80/"
           "1796205600",
           remark);
  snprintf(b, sizeof(b), "%s", a);
  b[strlen(b) - 1] = '1';
  OK(strlen(a) >= STATE_MAX_KEY);
  state_t st = STATE_INIT;
  state_fit_key(a, fit);
  printf("# %s\n", fit);
  OK(strlen(fit) < STATE_MAX_KEY);
  /* The block, plugin_instance and "event" stay readable at the start. */
  OK(strncmp(fit, a, 5 + strlen(remark) + 7) == 0);
  EXPECT_EQ_INT(0, state_set(&st, fit, 1796205660));
  state_fit_key(a, again);
  EXPECT_EQ_STR(fit, again);
  state_fit_key(b, again);
  OK(strcmp(fit, again) != 0);
  EXPECT_EQ_INT(0, state_set(&st, again, 1));
  EXPECT_EQ_UINT64(2, st.count);

  /* Control characters in Ip or Port, bytes that are not UTF-8: escaped,
   * the key stays one line of the file. */
  state_fit_key("prod/x/event/defense/203.0.113.1\n/8\t0/1000", fit);
  printf("# %s\n", fit);
  OK(strncmp(fit, "prod/x/event/defense/203.0.113.1\\x0a/8\\x090/1000~",
             strlen("prod/x/event/defense/203.0.113.1\\x0a/8\\x090/1000~")) ==
     0);
  EXPECT_EQ_INT(0, state_set(&st, fit, 1));
  const char *bad[] = {"", "a\xC2\x85", "a\x80", "a\xE7\xBD"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    state_fit_key(bad[i], fit);
    EXPECT_EQ_INT(0, state_set(&st, fit, 1));
  }
  /* The longest key the file takes is kept as it is. */
  char longest[STATE_MAX_KEY];
  memset(longest, 'a', STATE_MAX_KEY - 1);
  longest[STATE_MAX_KEY - 1] = 0;
  state_fit_key(longest, fit);
  EXPECT_EQ_STR(longest, fit);

  /* And through a restart. */
  state_fit_key(a, fit);
  char why_save[256];
  CHECK_ZERO(state_save(&st, path, why_save, sizeof(why_save)));
  state_t loaded = STATE_INIT;
  CHECK_ZERO(state_load(&loaded, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(1796205660, state_get(&loaded, fit));
  state_clear(&loaded);
  state_clear(&st);
  return 0;
}

/* A FIFO (or anything else but a regular file) named StateFile: refused at
 * once, never waited for. The alarm turns a hang into a failure. */
DEF_TEST(fifo_is_not_opened) {
  char fifo[300];
  snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
  CHECK_ZERO(mkfifo(fifo, 0600));
  alarm(5);
  state_t st = STATE_INIT;
  state_set(&st, "left/over", 60);
  EXPECT_EQ_INT(STATE_NOT_A_FILE, state_load(&st, fifo, why, sizeof(why)));
  EXPECT_EQ_STR("not a regular file", why);
  EXPECT_EQ_UINT64(0, st.count);
  EXPECT_EQ_INT(STATE_NOT_A_FILE, state_load(&st, dir, why, sizeof(why)));
  alarm(0);
  unlink(fifo);
  return 0;
}

/* One process at a time holds a StateFile's lock. */
DEF_TEST(lock) {
  int first, second;
  EXPECT_EQ_INT(0, state_file_lock(path, &first, why, sizeof(why)));
  OK(first >= 0);
  EXPECT_EQ_INT(EBUSY, state_file_lock(path, &second, why, sizeof(why)));
  EXPECT_EQ_INT(-1, second);
  OK(strstr(why, "state.lock is locked by another process") != NULL);
  close(first);
  EXPECT_EQ_INT(0, state_file_lock(path, &second, why, sizeof(why)));
  close(second);

  /* A lock file that is a FIFO: refused, not waited for. */
  char fifo[300], lock_path[300];
  snprintf(fifo, sizeof(fifo), "%s/f", dir);
  snprintf(lock_path, sizeof(lock_path), "%s/f.lock", dir);
  CHECK_ZERO(mkfifo(lock_path, 0600));
  alarm(5);
  EXPECT_EQ_INT(-1, state_file_lock(fifo, &first, why, sizeof(why)));
  alarm(0);
  OK(strstr(why, "is not a regular file") != NULL);
  unlink(lock_path);
  char state_lock_path[300];
  snprintf(state_lock_path, sizeof(state_lock_path), "%s.lock", path);
  unlink(state_lock_path);
  return 0;
}

/* As many series as the file holds: every one found, overwritten and
 * round-tripped, the order kept, and the bound kept. */
DEF_TEST(many_keys) {
  enum { N = STATE_MAX_ENTRIES };
  char key[64];
  state_t st = STATE_INIT;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), i % 2 ? "b%d/网站_%d" : "b%d/ddoscoo-cn-%d",
             i % 7, i);
    if (state_set(&st, key, 60 * (time_t)i) != 0) {
      OK1(false, key);
      return -1;
    }
  }
  EXPECT_EQ_UINT64(N, st.count);
  EXPECT_EQ_INT(ENOSPC, state_set(&st, "one/too-many", 60));
  EXPECT_EQ_UINT64(0, state_get(&st, "one/too-many"));

  int wrong = 0;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), i % 2 ? "b%d/网站_%d" : "b%d/ddoscoo-cn-%d",
             i % 7, i);
    wrong += state_get(&st, key) != 60 * (time_t)i;
    wrong += state_set(&st, key, 60 * (time_t)(N - i)) != 0; /* overwrite */
    snprintf(key, sizeof(key), "b%d/ddoscoo-cn-%d", i % 7 + 1, i);
    wrong += state_get(&st, key) != 0; /* a near miss */
  }
  EXPECT_EQ_INT(0, wrong);
  EXPECT_EQ_UINT64(N, st.count);

  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  state_clear(&st);
  const char *head = "# collectd-ddoscoo state 1\n6000000\tb0/ddoscoo-cn-0\n"
                     "5999940\tb1/网站_1\n5999880\tb2/ddoscoo-cn-2\n";
  OK(strncmp(read_file(path), head, strlen(head)) == 0);
  CHECK_ZERO(state_load(&st, path, why, sizeof(why)));
  EXPECT_EQ_UINT64(N, st.count);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), i % 2 ? "b%d/网站_%d" : "b%d/ddoscoo-cn-%d",
             i % 7, i);
    wrong += state_get(&st, key) != 60 * (time_t)(N - i);
  }
  EXPECT_EQ_INT(0, wrong);
  state_clear(&st);

  /* A file of more than STATE_MAX_ENTRIES is not ours: none of it. */
  FILE *fh = fopen(path, "a");
  fputs("60\tone/too-many\n", fh);
  fclose(fh);
  OK(state_load(&st, path, why, sizeof(why)) != 0);
  EXPECT_EQ_STR("too many entries", why);
  EXPECT_EQ_UINT64(0, st.count);
  return 0;
}

static bool odd_end(const state_entry_t *e, void *ctx) {
  (void)ctx;
  return e->end % 2 == 1;
}

/* Removing entries keeps the others, in order, and every one found. */
DEF_TEST(removal) {
  enum { N = 1000 };
  char key[64];
  state_t st = STATE_INIT;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "b/s%d", i);
    CHECK_ZERO(state_set(&st, key, i));
  }
  EXPECT_EQ_UINT64(N / 2, state_remove_if(&st, odd_end, NULL));
  EXPECT_EQ_UINT64(N / 2, st.count);
  int wrong = 0;
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "b/s%d", i);
    wrong += state_get(&st, key) != ((i % 2) ? 0 : i);
  }
  EXPECT_EQ_INT(0, wrong);
  EXPECT_EQ_STR("b/s2", st.entries[1].key);
  /* A removed key can be set again, and nothing else is lost. */
  CHECK_ZERO(state_set(&st, "b/s1", 7));
  EXPECT_EQ_UINT64(7, state_get(&st, "b/s1"));
  EXPECT_EQ_UINT64(998, state_get(&st, "b/s998"));
  EXPECT_EQ_UINT64(0, state_remove_if(&st, odd_end, NULL) - 1);
  state_clear(&st);
  return 0;
}

/* A link planted at the name a fixed-name writer would use is neither
 * followed nor put in the file's place; the file is the owner's alone. */
DEF_TEST(planted_link) {
  char link_path[300], precious[300];
  snprintf(link_path, sizeof(link_path), "%s.tmp", path);
  snprintf(precious, sizeof(precious), "%s/precious", dir);
  write_file(precious, "not yours\n");
  unlink(path);
  CHECK_ZERO(symlink(precious, link_path));

  mode_t old_umask = umask(022);
  state_t st = STATE_INIT;
  CHECK_ZERO(state_set(&st, "a/b", 60));
  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  umask(old_umask);
  state_clear(&st);

  EXPECT_EQ_STR("not yours\n", read_file(precious));
  struct stat sb;
  CHECK_ZERO(lstat(path, &sb));
  OK(S_ISREG(sb.st_mode));
  EXPECT_EQ_INT(0600, sb.st_mode & 07777);
  CHECK_ZERO(lstat(link_path, &sb));
  OK(S_ISLNK(sb.st_mode));
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n60\ta/b\n", read_file(path));
  EXPECT_EQ_INT(0, strays("state", "state.tmp", "precious"));

  /* An existing file of looser mode is replaced by one of 0600 too. */
  chmod(path, 0644);
  CHECK_ZERO(state_set(&st, "a/b", 120));
  CHECK_ZERO(state_save(&st, path, why, sizeof(why)));
  state_clear(&st);
  CHECK_ZERO(stat(path, &sb));
  EXPECT_EQ_INT(0600, sb.st_mode & 07777);

  unlink(link_path);
  unlink(precious);
  return 0;
}

DEF_TEST(failed_save_leaves_nothing) {
  state_t st = STATE_INIT;
  CHECK_ZERO(state_set(&st, "a/b", 60));
  OK(state_save(&st, "/nonexistent-dir/state", why, sizeof(why)) != 0);
  OK(strstr(why, "/nonexistent-dir/state") != NULL);

  /* The rename fails: the file is in the way as a directory. */
  unlink(path);
  CHECK_ZERO(mkdir(path, 0700));
  OK(state_save(&st, path, why, sizeof(why)) != 0);
  OK(strstr(why, "cannot rename") != NULL);
  EXPECT_EQ_INT(0, strays("state", "-", "-"));
  rmdir(path);
  state_clear(&st);
  return 0;
}

/* Two writers side by side, each its own snapshot, and a reader: every
 * save succeeds and the reader only ever sees one whole snapshot. */
typedef struct {
  time_t end;
  int failed;
  bool done;
} writer_t;

static void *writer(void *arg) {
  writer_t *w = arg;
  state_t st = STATE_INIT;
  char key[32], err[256];
  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof(key), "w/网站_%d", i);
    state_set(&st, key, w->end);
  }
  for (int i = 0; i < 50; i++)
    w->failed += state_save(&st, path, err, sizeof(err)) != 0;
  state_clear(&st);
  __atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
  return NULL;
}

DEF_TEST(concurrent_writers) {
  writer_t w[2] = {{60, 0, false}, {120, 0, false}};
  pthread_t t[2];
  unlink(path);
  for (int i = 0; i < 2; i++)
    CHECK_ZERO(pthread_create(t + i, NULL, writer, w + i));
  int torn = 0, loads = 0;
  while (!__atomic_load_n(&w[0].done, __ATOMIC_ACQUIRE) ||
         !__atomic_load_n(&w[1].done, __ATOMIC_ACQUIRE)) {
    state_t st = STATE_INIT;
    if (state_load(&st, path, why, sizeof(why)) != 0) {
      torn++;
      printf("# %s\n", why);
    } else if (st.count > 0) {
      loads++;
      time_t end = state_get(&st, "w/网站_0");
      for (int k = 0; k < 2000; k++) {
        char key[32];
        snprintf(key, sizeof(key), "w/网站_%d", k);
        torn += state_get(&st, key) != end;
      }
      torn += st.count != 2000 || (end != 60 && end != 120);
    }
    state_clear(&st);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  EXPECT_EQ_INT(0, w[0].failed + w[1].failed);
  EXPECT_EQ_INT(0, torn);
  printf("# %d whole snapshots read\n", loads);
  EXPECT_EQ_INT(0, strays("state", "-", "-"));
  return 0;
}

int main(void) {
  if (mkdtemp(dir) == NULL)
    return 1;
  snprintf(path, sizeof(path), "%s/state", dir);
  RUN_TEST(round_trip);
  RUN_TEST(utf8_keys);
  RUN_TEST(first_start);
  RUN_TEST(ignored_files);
  RUN_TEST(bad_keys);
  RUN_TEST(fitted_keys);
  RUN_TEST(fifo_is_not_opened);
  RUN_TEST(lock);
  RUN_TEST(many_keys);
  RUN_TEST(removal);
  RUN_TEST(planted_link);
  RUN_TEST(failed_save_leaves_nothing);
  RUN_TEST(concurrent_writers);
  unlink(path);
  rmdir(dir);
  END_TEST;
}
