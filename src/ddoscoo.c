/**
 * collectd-ddoscoo - src/ddoscoo.c
 * SPDX-License-Identifier: MIT
 *
 * collectd glue: the plugin's configuration, set-up and shutdown, and the
 * read callback each <Account> block registers.
 */
#include "account.h"

#include "utils/common/common.h"

#include "account_poll.h"
#include "account_series.h"
#include "api_request.h"
#include "dispatch.h"
#include "state_store.h"

#include <curl/curl.h>
#include <libxml/parser.h>

#define USER_AGENT "collectd-ddoscoo/" DDOSCOO_VERSION

/* How long a read may take: it ends, every request ended (each one's
 * timeout is cut to the deadline), a margin before its interval is over,
 * max(0.5 s, 5 %), so that collectd never finds it above its interval
 * (which it logs at every read: with a hung API, and the default Interval
 * and Timeout of 10 s, every 10 s); and within one Timeout so that
 * collectd's shutdown, which waits for running reads, is never held up
 * longer. What is left is done at the next read. */
static cdtime_t read_budget(cdtime_t interval, cdtime_t timeout) {
  cdtime_t margin = interval / 20;
  if (margin < MS_TO_CDTIME_T(500))
    margin = MS_TO_CDTIME_T(500);
  cdtime_t budget = (interval > 2 * margin) ? interval - margin : interval / 2;
  return (budget < timeout) ? budget : timeout;
}

static int ddoscoo_read(user_data_t *ud) {
  account_t *a = ud->data;
  cdtime_t start = cdtime();

  if (a->http == NULL) {
    http_options_t options = {
        .verify_peer = a->verify_peer,
        .verify_host = a->verify_host,
        .ca_cert = a->ca_cert,
        .proxy = a->proxy,
        .user_agent = USER_AGENT,
        .max_parallel = a->max_concurrent,
    };
    char err[256];
    a->http = http_client_create(&options, err, sizeof(err));
    if (a->http == NULL) {
      c_complain(LOG_ERR, &a->complaint,
                 PLUGIN_NAME " plugin: Account \"%s\": %s", a->name, err);
      return -1;
    }
  }

  time_t latest = api_window_end(time(NULL), a->window, a->delay);

  poll_result_t r = {0};
  account_series_new_read(a);
  account_poll(a, latest,
               start + read_budget(plugin_get_interval(), a->timeout), &r);

  if (r.skipped > 0)
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %zu windows were more than "
                        "MaxBackfill (%d) behind and are skipped.",
            a->name, r.skipped, a->max_backfill);
  state_store_write();
  dispatch_stats(a, r.latency_sum, r.latency_count);
  return 0;
}

/* collectd calls the configuration callback once per <Plugin ddoscoo>
 * block: the blocks started, by name, across all of them. */
static char **started_names;
static size_t started_count;
static int started_total; /* read callbacks registered */
static int failed_count;

static bool started_before(const char *name) {
  for (size_t i = 0; i < started_count; i++)
    if (strcmp(started_names[i], name) == 0)
      return true;
  return false;
}

static void note_started(const char *name) {
  char **grown =
      realloc(started_names, (started_count + 1) * sizeof(*started_names));
  if (grown == NULL)
    return;
  started_names = grown;
  if ((started_names[started_count] = strdup(name)) != NULL)
    started_count++;
}

static int ddoscoo_config(oconfig_item_t *ci) {
  int failed = 0;

  /* Still single-threaded here, and blocks may ask the ECS metadata service
   * for their credentials: the place for libcurl's global set-up. */
  static bool curl_ready;
  if (!curl_ready && curl_global_init(CURL_GLOBAL_SSL) != CURLE_OK) {
    ERROR(PLUGIN_NAME " plugin: curl_global_init failed; nothing to poll.");
    return 0;
  }
  curl_ready = true;

  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    if (strcasecmp("StateFile", child->key) == 0) {
      char *path = NULL;
      if (cf_util_get_string(child, &path) != 0 || path[0] == 0 ||
          state_store_configure(path) != 0)
        ERROR(PLUGIN_NAME " plugin: StateFile needs a file name; running "
                          "without one.");
      sfree(path);
      continue;
    }
    if (strcasecmp("Account", child->key) != 0) {
      ERROR(PLUGIN_NAME " plugin: unknown option \"%s\"; only StateFile and "
                        "<Account> blocks go here.",
            child->key);
      failed++;
      continue;
    }
    /* Two blocks of one name would share a read callback name, also from
     * two <Plugin> blocks. */
    bool duplicate = child->values_num == 1 &&
                     child->values[0].type == OCONFIG_TYPE_STRING &&
                     started_before(child->values[0].value.string);
    for (int j = 0; j < i && !duplicate; j++)
      duplicate = strcasecmp("Account", ci->children[j].key) == 0 &&
                  child->values_num == 1 && ci->children[j].values_num == 1 &&
                  child->values[0].type == OCONFIG_TYPE_STRING &&
                  ci->children[j].values[0].type == OCONFIG_TYPE_STRING &&
                  strcmp(child->values[0].value.string,
                         ci->children[j].values[0].value.string) == 0;
    if (duplicate) {
      ERROR(PLUGIN_NAME " plugin: a second <Account \"%s\"> block; only the "
                        "first is polled.",
            child->values[0].value.string);
      failed++;
      continue;
    }

    account_t *a = account_config(child);
    if (a == NULL) {
      failed++;
      continue;
    }
    char cb_name[DATA_MAX_NAME_LEN];
    ssnprintf(cb_name, sizeof(cb_name), PLUGIN_NAME "/%s", a->name);
    INFO(PLUGIN_NAME " plugin: Account \"%s\": %zu series from %s, "
                     "credentials from the %s, signature %s.",
         a->name, account_series_shown(a), a->url,
         credentials_describe(a->credentials),
         a->signature_version == 1 ? "1.0" : "V3");
    if (plugin_register_complex_read(
            /* group = */ NULL, cb_name, ddoscoo_read, a->interval,
            &(user_data_t){.data = a, .free_func = account_free}) == 0) {
      started_total++;
      note_started(child->values[0].value.string);
    } else {
      failed++;
    }
  }
  failed_count += failed;

  /* Never fail: collectd 5.12 refuses to start at all when a plugin's
   * configuration callback fails, which would stop every other plugin too.
   * Whether anything is polled is known once every <Plugin> block is
   * read: at init. */
  return 0;
}

static int ddoscoo_init(void) {
  if (started_total == 0)
    ERROR(PLUGIN_NAME " plugin: no <Account> block %s; nothing to poll.",
          failed_count ? "is valid" : "configured");
  /* Still single-threaded here: the place for libxml2's global set-up. */
  xmlInitParser();

  state_store_load();
  return 0;
}

static int ddoscoo_shutdown(void) {
  state_store_shutdown();
  for (size_t i = 0; i < started_count; i++)
    sfree(started_names[i]);
  sfree(started_names);
  started_count = 0;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, ddoscoo_config);
  plugin_register_init(PLUGIN_NAME, ddoscoo_init);
  plugin_register_shutdown(PLUGIN_NAME, ddoscoo_shutdown);
}
