/**
 * collectd-ddoscoo - tests/unit/test_state_store.c
 * SPDX-License-Identifier: MIT
 *
 * The plugin-wide StateFile as the collectd glue uses it: series named in
 * UTF-8 are kept, a series that cannot be kept and a failed save are
 * logged, and no read waits for the disk. The glue is included, with a
 * mock of the few daemon functions it calls; fsync is swapped for one
 * that holds a writer in the middle of its file I/O.
 */
#include "state_store.c"

#include <pthread.h>
#include <sys/stat.h>

#include "testing.h"

/* The daemon, mocked: every log line and complaint goes to one buffer. */
static char logged[8192];
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_v(const char *format, va_list ap) {
  pthread_mutex_lock(&logged_lock);
  size_t n = strlen(logged);
  vsnprintf(logged + n, sizeof(logged) - n, format, ap);
  n = strlen(logged);
  snprintf(logged + n, sizeof(logged) - n, "\n");
  pthread_mutex_unlock(&logged_lock);
}

void plugin_log(int level, const char *format, ...) {
  (void)level;
  va_list ap;
  va_start(ap, format);
  log_v(format, ap);
  va_end(ap);
}

void c_complain(int level, c_complain_t *c, const char *format, ...) {
  (void)level;
  c->interval = 1;
  va_list ap;
  va_start(ap, format);
  log_v(format, ap);
  va_end(ap);
}

void c_do_release(int level, c_complain_t *c, const char *format, ...) {
  (void)level;
  c->interval = 0;
  va_list ap;
  va_start(ap, format);
  log_v(format, ap);
  va_end(ap);
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

/* fsync, swapped: once armed, the first call (a writer's, in the middle of
 * its file I/O) waits up to five seconds for the other thread's turn. */
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t io_cond = PTHREAD_COND_INITIALIZER;
static bool io_armed, io_entered, other_done, other_done_in_time;

int fsync(int fd) {
  (void)fd;
  pthread_mutex_lock(&io_lock);
  if (io_armed) {
    io_armed = false;
    io_entered = true;
    pthread_cond_broadcast(&io_cond);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    while (!other_done &&
           pthread_cond_timedwait(&io_cond, &io_lock, &deadline) == 0)
      ;
    other_done_in_time = other_done;
  }
  pthread_mutex_unlock(&io_lock);
  return 0;
}

static char dir[] = "/tmp/ddoscoo-store-XXXXXX";
static char path[256];

static char *read_file(const char *name) {
  static char buf[4096];
  buf[0] = 0;
  FILE *fh = fopen(name, "r");
  if (fh != NULL) {
    buf[fread(buf, 1, sizeof(buf) - 1, fh)] = 0;
    fclose(fh);
  }
  return buf;
}

static account_t account = {.name = "prod", .window = 60};

static series_t series(const char *plugin_instance, time_t last_end) {
  series_t s = {.stat = statistic_find("connections"), .w.last_end = last_end};
  snprintf(s.plugin_instance, sizeof(s.plugin_instance), "%s", plugin_instance);
  return s;
}

/* As at collectd's start with StateFile dir/name; fresh: without a file
 * from before. */
static int start(const char *name, bool fresh) {
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (fresh)
    unlink(path);
  logged[0] = 0;
  if (state_store_configure(path) != 0)
    return -1;
  state_store_load();
  return 0;
}

DEF_TEST(utf8_series_are_kept) {
  CHECK_ZERO(start("state", true));
  series_t s = series("网站_80", 1796205600);
  state_store_remember(&account, &s);
  state_store_write();
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n1796205600\tprod/网站_80\n",
                read_file(path));
  struct stat sb;
  CHECK_ZERO(stat(path, &sb));
  EXPECT_EQ_INT(0600, sb.st_mode & 07777);
  state_store_shutdown();

  /* After a restart, the series carries on from there. */
  CHECK_ZERO(start("state", false));
  OK(strstr(logged, "1 series known") != NULL);
  series_t again = series("网站_80", 0);
  state_store_restore(&account, &again, 1796205720);
  EXPECT_EQ_UINT64(1796205600, again.w.last_end);
  state_store_shutdown();
  return 0;
}

/* Marks of events over long ago go; the block's others, its series and
 * other blocks' marks stay. */
DEF_TEST(old_event_marks_are_forgotten) {
  CHECK_ZERO(start("state", true));
  series_t s = series("ddoscoo-cn-1", 1796205600);
  state_store_remember(&account, &s);
  state_store_set_mark("prod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000",
                       1796000000); /* over then */
  state_store_set_mark(
      "prod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1796200000",
      1796205000); /* over later */
  state_store_set_mark("prod/ddoscoo-cn-1/event/blackhole/203.0.113.1//1000",
                       1); /* still running */
  state_store_set_mark("other/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000",
                       1796000000);
  state_store_forget_marks("prod", 1796100000);
  EXPECT_EQ_UINT64(
      0,
      state_store_mark("prod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000"));
  EXPECT_EQ_UINT64(1796205000,
                   state_store_mark("prod/ddoscoo-cn-1/event/defense/"
                                    "203.0.113.1/80/1796200000"));
  EXPECT_EQ_UINT64(
      1,
      state_store_mark("prod/ddoscoo-cn-1/event/blackhole/203.0.113.1//1000"));
  EXPECT_EQ_UINT64(
      1796000000,
      state_store_mark("other/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000"));
  EXPECT_EQ_UINT64(1796205600, state_store_mark("prod/ddoscoo-cn-1"));
  state_store_write();
  const char *file = read_file(path);
  OK(strstr(file, "\tprod/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000\n") ==
     NULL);
  OK(strstr(file, "\tother/ddoscoo-cn-1/event/defense/203.0.113.1/80/1000\n") !=
     NULL);
  state_store_shutdown();
  return 0;
}

/* A series whose name the file cannot take as it is (a C1 control) is
 * kept under an escaped one, found again after a restart. */
DEF_TEST(a_series_with_a_control_character_is_kept) {
  CHECK_ZERO(start("state", true));
  series_t s = series("web\xC2\x85", 1796205600);
  state_store_remember(&account, &s);
  state_store_write();
  OK(strstr(read_file(path), "\tprod/web\\xc2\\x85~") != NULL);
  OK(strstr(logged, "cannot be kept") == NULL);
  state_store_shutdown();

  CHECK_ZERO(start("state", false));
  series_t again = series("web\xC2\x85", 0);
  state_store_restore(&account, &again, 1796205720);
  EXPECT_EQ_UINT64(1796205600, again.w.last_end);
  state_store_shutdown();
  return 0;
}

/* The mark of an event with a long remark and an IPv6 Ip (a key over 255
 * bytes) is kept, across a restart: the event is notified once. */
DEF_TEST(long_event_marks_are_kept) {
  /* The longest block name, a remark as long as plugin_instance takes. */
  char block[65] = "";
  memset(block, 'b', 64);
  char key[STATE_STORE_KEY_SIZE];
  snprintf(key, sizeof(key), "%s/", block);
  for (int i = 0; i < 14; i++)
    strcat(key, "长备注");
  strcat(key, "/event/defense/2001:0db8:ffff:ffff:ffff:ffff:ffff:0001/443/"
              "1796205600");
  OK(strlen(key) > 255);
  CHECK_ZERO(start("state", true));
  state_store_set_mark(key, 1);
  EXPECT_EQ_UINT64(1, state_store_mark(key));
  state_store_set_mark(key, 1796205900);
  EXPECT_EQ_UINT64(1796205900, state_store_mark(key));
  state_store_write();
  state_store_shutdown();

  CHECK_ZERO(start("state", false));
  OK(strstr(logged, "1 series known") != NULL);
  EXPECT_EQ_UINT64(1796205900, state_store_mark(key));
  /* Once over long enough, it goes like any other. */
  state_store_forget_marks(block, 1796206000);
  EXPECT_EQ_UINT64(0, state_store_mark(key));
  state_store_shutdown();
  return 0;
}

/* A mark that cannot be kept (the file full) is said, once an interval. */
DEF_TEST(a_mark_not_kept_is_logged) {
  CHECK_ZERO(start("state", true));
  char key[64];
  for (int i = 0; i < STATE_MAX_ENTRIES; i++) {
    snprintf(key, sizeof(key), "prod/a/event/defense/ip/80/%d", i);
    state_store_set_mark(key, 1);
  }
  OK(strstr(logged, "cannot be kept") == NULL);
  state_store_set_mark("prod/a/event/defense/ip/80/x", 1);
  printf("# %s", logged);
  OK(strstr(logged, path) != NULL);
  OK(strstr(logged, "the mark \"prod/a/event/defense/ip/80/x\" of a "
                    "notified attack event cannot be kept (the file is "
                    "full)") != NULL);
  state_store_shutdown();
  return 0;
}

/* Another process has the StateFile: this one runs without it and says
 * so, and never writes the file. */
DEF_TEST(a_state_file_in_use_is_not_used) {
  char other_path[300];
  snprintf(other_path, sizeof(other_path), "%s/state", dir);
  unlink(other_path);
  int other;
  char why[256];
  CHECK_ZERO(state_file_lock(other_path, &other, why, sizeof(why)));
  CHECK_ZERO(start("state", true));
  printf("# %s", logged);
  OK(strstr(logged, "StateFile \"") != NULL);
  OK(strstr(logged, "\" is in use by another collectd") != NULL);
  OK(strstr(logged, "running without a StateFile") != NULL);
  series_t s = series("a_80", 1796205600);
  state_store_remember(&account, &s);
  state_store_write();
  struct stat sb;
  OK(stat(other_path, &sb) != 0);
  state_store_shutdown();
  close(other);

  /* Once the other is gone, the file is ours. */
  CHECK_ZERO(start("state", true));
  OK(strstr(logged, "in use") == NULL);
  state_store_remember(&account, &s);
  state_store_write();
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n1796205600\tprod/a_80\n",
                read_file(path));
  state_store_shutdown();
  return 0;
}

DEF_TEST(a_failed_save_is_logged_and_retried) {
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  CHECK_ZERO(start("sub/state", true));
  series_t s = series("a_80", 1796205600);
  state_store_remember(&account, &s);
  state_store_write();
  printf("# %s", logged);
  OK(strstr(logged, "StateFile \"") != NULL);
  OK(strstr(logged, sub) != NULL);
  OK(strstr(logged, "not saved (1 series)") != NULL);

  /* Still to be saved: the next write, once it can, does. */
  CHECK_ZERO(mkdir(sub, 0700));
  logged[0] = 0;
  state_store_write();
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n1796205600\tprod/a_80\n",
                read_file(path));
  OK(strstr(logged, "written again") != NULL);
  state_store_shutdown();
  unlink(path);
  rmdir(sub);
  return 0;
}

/* While a writer is in its file I/O, another block's read notes its
 * window and asks for a write of its own. */
static void *other_block(void *arg) {
  (void)arg;
  pthread_mutex_lock(&io_lock);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  while (!io_entered &&
         pthread_cond_timedwait(&io_cond, &io_lock, &deadline) == 0)
    ;
  pthread_mutex_unlock(&io_lock);

  series_t s = series("b_80", 1796205660);
  state_store_remember(&account, &s);
  state_store_write();

  pthread_mutex_lock(&io_lock);
  other_done = true;
  pthread_cond_broadcast(&io_cond);
  pthread_mutex_unlock(&io_lock);
  return NULL;
}

DEF_TEST(reads_do_not_wait_for_the_disk) {
  CHECK_ZERO(start("state", true));
  series_t a = series("a_80", 1796205600);
  state_store_remember(&account, &a);
  io_armed = true;
  pthread_t t;
  CHECK_ZERO(pthread_create(&t, NULL, other_block, NULL));
  state_store_write();
  pthread_join(t, NULL);
  OK(io_entered);
  OK(other_done_in_time);

  /* What was written is one whole snapshot; the newer one is next, and
   * nothing older takes its place. */
  const char *first = read_file(path);
  OK(strcmp(first, "# collectd-ddoscoo state 1\n1796205600\tprod/a_80\n") ==
         0 ||
     strcmp(first, "# collectd-ddoscoo state 1\n1796205600\tprod/a_80\n"
                   "1796205660\tprod/b_80\n") == 0);
  state_store_write();
  EXPECT_EQ_STR("# collectd-ddoscoo state 1\n1796205600\tprod/a_80\n"
                "1796205660\tprod/b_80\n",
                read_file(path));
  state_store_shutdown();
  return 0;
}

int main(void) {
  if (mkdtemp(dir) == NULL)
    return 1;
  RUN_TEST(utf8_series_are_kept);
  RUN_TEST(old_event_marks_are_forgotten);
  RUN_TEST(a_series_with_a_control_character_is_kept);
  RUN_TEST(long_event_marks_are_kept);
  RUN_TEST(a_mark_not_kept_is_logged);
  RUN_TEST(a_state_file_in_use_is_not_used);
  RUN_TEST(a_failed_save_is_logged_and_retried);
  RUN_TEST(reads_do_not_wait_for_the_disk);
  snprintf(path, sizeof(path), "%s/state", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/state.lock", dir);
  unlink(path);
  rmdir(dir);
  END_TEST;
}
