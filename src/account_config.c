/**
 * collectd-ddoscoo - src/account_config.c
 * SPDX-License-Identifier: MIT
 *
 * <Account> blocks: options, defaults, validation and the series list.
 */
#include "account.h"

#include "utils/common/common.h"

#include "account_series.h"
#include "api_request.h"
#include "discovery.h"
#include "event_sources.h"

#include <openssl/crypto.h>

#define MAX_ID_LEN 64
#define MAX_WINDOW 86400
/* A day of minutes. */
#define MAX_BACKFILL 1440
#define MAX_CONCURRENT 64
#define MAX_RPS 1000
/* A host outside ECS must not wait long for the metadata service. */
#define METADATA_TIMEOUT_MS 1000
/* A read stops starting requests when less than 100 ms of it are left, and
 * a request over TLS to a far region takes a good part of a second: below
 * these a block would time out or never ask at all, and say nothing. A
 * read lasts at most Interval and at most Timeout. */
#define MIN_TIMEOUT 1.0  /* seconds */
#define MIN_INTERVAL 1.0 /* seconds */

static void free_secret(char *s) {
  if (s != NULL)
    OPENSSL_cleanse(s, strlen(s));
  sfree(s);
}

static void free_strings(char **list, size_t count) {
  for (size_t i = 0; list != NULL && i < count; i++)
    sfree(list[i]);
  sfree(list);
}

void account_free(void *arg) {
  account_t *a = arg;
  if (a == NULL)
    return;
  http_client_destroy(a->http);
  account_series_release(a); /* before its name goes */
  sfree(a->name);
  credentials_close(a->credentials);
  sfree(a->access_key_id);
  free_secret(a->access_key_secret);
  free_secret(a->security_token);
  sfree(a->credentials_file);
  sfree(a->profile);
  sfree(a->ram_role);
  sfree(a->metadata_url);
  sfree(a->url_authority);
  sfree(a->region_id);
  sfree(a->endpoint);
  sfree(a->url);
  sfree(a->resource_group_id);
  free_strings(a->instance_ids, a->instance_count);
  free_strings(a->instance_names, a->instance_count);
  free_strings(a->ports, a->port_count);
  free_strings(a->domains, a->domain_count);
  free_strings(a->listed_domains, a->listed_domain_count);
  discovery_destroy(a->discovery);
  account_free_rules(a);
  sfree(a->ca_cert);
  sfree(a->proxy);
  for (size_t i = 0; i < a->series_count; i++)
    held_clear(&a->series[i].held);
  sfree(a->series);
  event_sources_free(a);
  sched_free(&a->sched);
  sfree(a);
}

void account_free_rules(account_t *a) {
  for (size_t i = 0; a->rules != NULL && i < a->rules_of; i++)
    sfree(a->rules[i]);
  sfree(a->rules);
  sfree(a->rule_counts);
  a->rules_of = 0;
}

bool account_is_identifier(const char *s) {
  size_t len = strlen(s);
  return len > 0 && len <= MAX_ID_LEN &&
         strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") == len;
}

static bool contains(char *const *list, size_t count, const char *s) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(list[i], s) == 0)
      return true;
  return false;
}

static int append_unique(const account_t *a, const char *option, char ***list,
                         size_t *count, char *value) {
  if (contains(*list, *count, value)) {
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %s \"%s\" is listed twice; "
                        "polling it once.",
            a->name, option, value);
    sfree(value);
    return 0;
  }
  char **grown = realloc(*list, (*count + 1) * sizeof(**list));
  if (grown == NULL) {
    sfree(value);
    return ENOMEM;
  }
  grown[*count] = value;
  *list = grown;
  (*count)++;
  return 0;
}

static int config_instance_id(account_t *a, oconfig_item_t *ci) {
  char *id = NULL;
  if (cf_util_get_string(ci, &id) != 0)
    return -1;
  if (!account_is_identifier(id)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": InstanceId \"%s\" is not an "
                      "instance ID (letters, digits, '.', '_', '-'; at most "
                      "%d characters).",
          a->name, id, MAX_ID_LEN);
    sfree(id);
    return EINVAL;
  }
  return append_unique(a, "InstanceId", &a->instance_ids, &a->instance_count,
                       id);
}

bool account_is_domain(const char *s) {
  size_t len = strlen(s);
  if (strncmp(s, "*.", 2) == 0) /* a wildcard rule */
    s += 2, len -= 2;
  return len > 0 && len < DATA_MAX_NAME_LEN - 2 && s[0] != '.' && s[0] != '-' &&
         s[len - 1] != '.' && strstr(s, "..") == NULL &&
         strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789.-_") == len;
}

/* Domain "www.example.com" (a web domain as its forwarding rule names it;
 * kept in lower case) or "auto": the account's (DescribeDomains). */
static int config_domain(account_t *a, oconfig_item_t *ci) {
  char *domain = NULL;
  if (cf_util_get_string(ci, &domain) != 0)
    return -1;
  if (strcasecmp(domain, "auto") == 0) {
    a->domains_auto = true;
    sfree(domain);
    return 0;
  }
  for (char *c = domain; *c != 0; c++)
    *c = (char)tolower((unsigned char)*c);
  if (!account_is_domain(domain)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Domain \"%s\" is not a "
                      "domain name (letters, digits, '-', '_' and dots, "
                      "optionally after \"*.\"; at most %d characters), nor "
                      "\"auto\".",
          a->name, domain, DATA_MAX_NAME_LEN - 1);
    sfree(domain);
    return EINVAL;
  }
  a->domains_listed = true;
  return append_unique(a, "Domain", &a->domains, &a->domain_count, domain);
}

/* A port number, 1 to 65535, given as number or string, or "auto": the
 * instances' forwarded ports. Service names such as "http" are not
 * accepted: the API wants the number. */
/* Statistics "connections" "traffic" ...: one or more, each once. */
static int config_statistics(account_t *a, oconfig_item_t *ci) {
  a->statistics_count = 0;
  for (int i = 0; i < ci->values_num; i++) {
    const statistic_t *stat = (ci->values[i].type == OCONFIG_TYPE_STRING)
                                  ? statistic_find(ci->values[i].value.string)
                                  : NULL;
    if (stat == NULL) {
      char known[256];
      statistics_names(known, sizeof(known));
      ERROR(PLUGIN_NAME " plugin: Account \"%s\": Statistics takes one or "
                        "more of %s.",
            a->name, known);
      return EINVAL;
    }
    bool twice = false;
    for (size_t k = 0; k < a->statistics_count; k++)
      twice = twice || a->statistics[k] == stat;
    if (!twice && a->statistics_count < STATIC_ARRAY_SIZE(a->statistics))
      a->statistics[a->statistics_count++] = stat;
  }
  if (a->statistics_count == 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Statistics needs at least "
                      "one statistic.",
          a->name);
    return EINVAL;
  }
  return 0;
}

/* Priority "events" "blackhole" ...: who gives way last when the quota is
 * short (account_plan.h); each once. */
static int config_priority(account_t *a, oconfig_item_t *ci) {
  a->priority_count = 0;
  for (int i = 0; i < ci->values_num; i++) {
    const statistic_t *stat = (ci->values[i].type == OCONFIG_TYPE_STRING)
                                  ? statistic_find(ci->values[i].value.string)
                                  : NULL;
    bool twice = false;
    for (size_t k = 0; stat != NULL && k < a->priority_count; k++)
      twice = twice || a->priority[k] == stat;
    if (stat == NULL || twice) {
      char known[256];
      statistics_names(known, sizeof(known));
      ERROR(PLUGIN_NAME " plugin: Account \"%s\": Priority takes one or "
                        "more of %s, each once, most important first; "
                        "value %d is %s.",
            a->name, known, i + 1, twice ? "named twice" : "none of them");
      return EINVAL;
    }
    a->priority[a->priority_count++] = stat;
  }
  if (a->priority_count == 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Priority needs at least "
                      "one statistic.",
          a->name);
    return EINVAL;
  }
  return 0;
}

static int config_port(account_t *a, oconfig_item_t *ci) {
  char buf[16] = "";
  bool ok = false;

  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING &&
      strcasecmp(ci->values[0].value.string, "auto") == 0) {
    a->ports_auto = true;
    return 0;
  }
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_NUMBER) {
    double d = ci->values[0].value.number;
    ok = d >= 1 && d <= 65535 && d == (int)d;
    snprintf(buf, sizeof(buf), "%d", ok ? (int)d : 0);
  } else if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING) {
    const char *s = ci->values[0].value.string;
    size_t len = strlen(s);
    ok = len >= 1 && len <= 5 && strspn(s, "0123456789") == len &&
         s[0] != '0' && atoi(s) <= 65535;
    sstrncpy(buf, s, sizeof(buf));
  }
  if (!ok) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Port needs one port number "
                      "from 1 to 65535, or \"auto\"%s%s%s.",
          a->name, buf[0] ? ", not \"" : "", buf, buf[0] ? "\"" : "");
    return EINVAL;
  }
  char *port = strdup(buf);
  if (port == NULL)
    return ENOMEM;
  return append_unique(a, "Port", &a->ports, &a->port_count, port);
}

/* A whole number from min to max; unit, if any, names what it counts. */
static int config_int(account_t *a, oconfig_item_t *ci, int min, int max,
                      const char *unit, int *ret) {
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_NUMBER) {
    double d = ci->values[0].value.number;
    if (d >= min && d <= max && d == (int)d) {
      *ret = (int)d;
      return 0;
    }
  }
  ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s needs a whole number%s%s "
                    "from %d to %d.",
        a->name, ci->key, unit ? " of " : "", unit ? unit : "", min, max);
  return EINVAL;
}

static int config_positive_time(account_t *a, oconfig_item_t *ci,
                                cdtime_t *ret) {
  if (cf_util_get_cdtime(ci, ret) != 0 || *ret == 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s needs a positive number "
                      "of seconds.",
          a->name, ci->key);
    return EINVAL;
  }
  return 0;
}

/* A time of at least min seconds. */
static int config_time_at_least(account_t *a, oconfig_item_t *ci, double min,
                                cdtime_t *ret) {
  if (config_positive_time(a, ci, ret) != 0)
    return EINVAL;
  if (CDTIME_T_TO_DOUBLE(*ret) < min) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s %g is too short; the "
                      "minimum is %g s, below which no request can complete.",
          a->name, ci->key, CDTIME_T_TO_DOUBLE(*ret), min);
    return EINVAL;
  }
  return 0;
}

/* "1.0" (or 1) or "3" (or 3). */
static int config_signature_version(account_t *a, oconfig_item_t *ci) {
  int version = 0;
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING) {
    const char *v = ci->values[0].value.string;
    version = (strcmp(v, "1.0") == 0 || strcmp(v, "1") == 0) ? 1
              : (strcmp(v, "3") == 0)                        ? 3
                                                             : 0;
  } else if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_NUMBER) {
    double d = ci->values[0].value.number;
    version = (d == 1) ? 1 : (d == 3) ? 3 : 0;
  }
  if (version == 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": SignatureVersion is \"1.0\" "
                      "(HMAC-SHA1) or \"3\" (ACS3-HMAC-SHA256).",
          a->name);
    return EINVAL;
  }
  a->signature_version = version;
  return 0;
}

/* Returns 0, ENOENT for an unknown option, -1 from cf_util_*(), or
 * another errno value after logging what was wrong. */
static int option_value(account_t *a, oconfig_item_t *ci) {
  const char *key = ci->key;

  if (strcasecmp("AccessKeyId", key) == 0)
    return cf_util_get_string(ci, &a->access_key_id);
  if (strcasecmp("AccessKeySecret", key) == 0)
    return cf_util_get_string(ci, &a->access_key_secret);
  if (strcasecmp("SecurityToken", key) == 0)
    return cf_util_get_string(ci, &a->security_token);
  if (strcasecmp("CredentialsFile", key) == 0)
    return cf_util_get_string(ci, &a->credentials_file);
  if (strcasecmp("Profile", key) == 0)
    return cf_util_get_string(ci, &a->profile);
  if (strcasecmp("RamRole", key) == 0)
    return cf_util_get_string(ci, &a->ram_role);
  if (strcasecmp("MetadataURL", key) == 0)
    return cf_util_get_string(ci, &a->metadata_url);
  if (strcasecmp("SignatureVersion", key) == 0)
    return config_signature_version(a, ci);
  if (strcasecmp("RegionId", key) == 0)
    return cf_util_get_string(ci, &a->region_id);
  if (strcasecmp("Endpoint", key) == 0)
    return cf_util_get_string(ci, &a->endpoint);
  if (strcasecmp("ResourceGroupId", key) == 0)
    return cf_util_get_string(ci, &a->resource_group_id);
  if (strcasecmp("InstanceId", key) == 0)
    return config_instance_id(a, ci);
  if (strcasecmp("Port", key) == 0)
    return config_port(a, ci);
  if (strcasecmp("Domain", key) == 0)
    return config_domain(a, ci);
  if (strcasecmp("Statistics", key) == 0)
    return config_statistics(a, ci);
  if (strcasecmp("Priority", key) == 0)
    return config_priority(a, ci);
  if (strcasecmp("Aggregate", key) == 0)
    return cf_util_get_boolean(ci, &a->aggregate);
  if (strcasecmp("Interval", key) == 0)
    return config_time_at_least(a, ci, MIN_INTERVAL, &a->interval);
  if (strcasecmp("Window", key) == 0)
    return config_int(a, ci, 60, MAX_WINDOW, "seconds", &a->window);
  if (strcasecmp("Delay", key) == 0)
    return config_int(a, ci, 0, MAX_WINDOW, "seconds", &a->delay);
  if (strcasecmp("MaxBackfill", key) == 0)
    return config_int(a, ci, 1, MAX_BACKFILL, NULL, &a->max_backfill);
  if (strcasecmp("MaxConcurrentRequests", key) == 0)
    return config_int(a, ci, 1, MAX_CONCURRENT, NULL, &a->max_concurrent);
  if (strcasecmp("MaxRequestsPerSecond", key) == 0)
    return config_int(a, ci, 0, MAX_RPS, NULL, &a->max_rps);
  if (strcasecmp("StateInterval", key) == 0)
    return config_int(a, ci, 60, 86400, "seconds", &a->state_interval);
  if (strcasecmp("ExpiryWarningDays", key) == 0)
    return config_int(a, ci, 0, 3650, "days", &a->expiry_warning_days);
  if (strcasecmp("ExpiryFailureDays", key) == 0)
    return config_int(a, ci, 0, 3650, "days", &a->expiry_failure_days);
  if (strcasecmp("DiscoveryInterval", key) == 0)
    return config_positive_time(a, ci, &a->discovery_interval);
  if (strcasecmp("InstanceNames", key) == 0)
    return cf_util_get_boolean(ci, &a->instance_names_option);
  if (strcasecmp("SelfMonitoring", key) == 0)
    return cf_util_get_boolean(ci, &a->self_monitoring);
  if (strcasecmp("EventSources", key) == 0)
    return cf_util_get_boolean(ci, &a->event_sources);
  if (strcasecmp("Timeout", key) == 0)
    return config_time_at_least(a, ci, MIN_TIMEOUT, &a->timeout);
  if (strcasecmp("VerifyPeer", key) == 0)
    return cf_util_get_boolean(ci, &a->verify_peer);
  if (strcasecmp("VerifyHost", key) == 0)
    return cf_util_get_boolean(ci, &a->verify_host);
  if (strcasecmp("CACert", key) == 0)
    return cf_util_get_string(ci, &a->ca_cert);
  if (strcasecmp("Proxy", key) == 0)
    return cf_util_get_string(ci, &a->proxy);
  if (strcasecmp("Host", key) == 0)
    return cf_util_get_string_buffer(ci, a->host, sizeof(a->host));

  return ENOENT;
}

static int config_option(account_t *a, oconfig_item_t *ci) {
  int status = option_value(a, ci);
  if (status == ENOENT)
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": unknown option \"%s\".",
          a->name, ci->key);
  else if (status == -1) /* from cf_util_*(), which do not name the block */
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": option \"%s\" has an "
                      "invalid value.",
          a->name, ci->key);
  return status;
}

/* The block names at most one source; without one, the machine's are
 * looked for (see credentials.h). */
static int resolve_credentials(account_t *a) {
  bool keys = a->access_key_id != NULL || a->access_key_secret != NULL ||
              a->security_token != NULL;
  bool file = a->credentials_file != NULL || a->profile != NULL;
  bool role = a->ram_role != NULL;
  if (keys + file + role > 1) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": name one source of "
                      "credentials: AccessKeyId and AccessKeySecret, "
                      "CredentialsFile (and Profile), or RamRole.",
          a->name);
    return EINVAL;
  }
  if (keys && (a->access_key_id == NULL || a->access_key_secret == NULL)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s is set but %s is not.",
          a->name, a->access_key_id ? "AccessKeyId" : "AccessKeySecret",
          a->access_key_id ? "AccessKeySecret" : "AccessKeyId");
    return EINVAL;
  }
  if ((keys && (a->access_key_id[0] == 0 || a->access_key_secret[0] == 0 ||
                (a->security_token != NULL && a->security_token[0] == 0))) ||
      (a->credentials_file != NULL && a->credentials_file[0] == 0) ||
      (a->profile != NULL && a->profile[0] == 0) ||
      (role && a->ram_role[0] == 0)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": an empty AccessKeyId, "
                      "AccessKeySecret, SecurityToken, CredentialsFile, "
                      "Profile or RamRole.",
          a->name);
    return EINVAL;
  }
  if (a->profile != NULL && a->credentials_file == NULL) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Profile needs "
                      "CredentialsFile.",
          a->name);
    return EINVAL;
  }

  credentials_options_t options = {
      .access_key_id = a->access_key_id,
      .access_key_secret = a->access_key_secret,
      .security_token = a->security_token,
      .credentials_file = a->credentials_file,
      .profile = a->profile,
      .ram_role = a->ram_role,
      .metadata_url = a->metadata_url,
      .metadata_timeout_ms = METADATA_TIMEOUT_MS,
  };
  char warning[512], why[1536];
  a->credentials =
      credentials_open(&options, warning, sizeof(warning), why, sizeof(why));
  if (a->credentials == NULL) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": %s.", a->name, why);
    return EINVAL;
  }
  if (warning[0] != 0)
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %s.", a->name, warning);
  return 0;
}

/* MetadataURL: http://host[:port], nothing after. */
static int check_metadata_url(account_t *a) {
  if (a->metadata_url == NULL)
    return 0;
  size_t len = strlen(a->metadata_url);
  while (len > 0 && a->metadata_url[len - 1] == '/')
    a->metadata_url[--len] = 0;
  if (strncasecmp(a->metadata_url, "http://", 7) != 0 || len <= 7 ||
      strchr(a->metadata_url + 7, '/') != NULL) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": MetadataURL \"%s\" is not "
                      "of the form http://host[:port].",
          a->name, a->metadata_url);
    return EINVAL;
  }
  return 0;
}

/* The endpoint is scheme://host[:port] with an optional trailing '/': the
 * RPC signature covers the path "/" and nothing else. */
static int resolve_endpoint(account_t *a) {
  if (a->endpoint == NULL) {
    char buf[256];
    ssnprintf(buf, sizeof(buf), "https://ddoscoo.%s.aliyuncs.com",
              a->region_id);
    a->endpoint = strdup(buf);
    if (a->endpoint == NULL)
      return ENOMEM;
  }

  /* A user name and password would be logged with the endpoint, and sent
   * to it: not repeated here. */
  if (strchr(a->endpoint, '@') != NULL) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Endpoint holds a user name "
                      "or password (before '@'; not shown here). The API "
                      "takes keys from AccessKeyId and AccessKeySecret, a "
                      "CredentialsFile or a RamRole; Endpoint is of the form "
                      "https://host[:port].",
          a->name);
    return EINVAL;
  }

  const char *host = NULL;
  if (strncasecmp(a->endpoint, "https://", 8) == 0)
    host = a->endpoint + 8;
  else if (strncasecmp(a->endpoint, "http://", 7) == 0)
    host = a->endpoint + 7;
  size_t host_len = (host != NULL) ? strcspn(host, "/?#") : 0;
  /* A blank (a trailing one, say) would fail every request. */
  if (host != NULL && strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._:[]") < host_len) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Endpoint \"%s\" holds a "
                      "blank or another character a host name or port "
                      "cannot have.",
          a->name, a->endpoint);
    return EINVAL;
  }
  if (host == NULL || host_len == 0 ||
      (host[host_len] != 0 && strcmp(host + host_len, "/") != 0)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Endpoint \"%s\" is not of the "
                      "form https://host[:port].",
          a->name, a->endpoint);
    return EINVAL;
  }

  size_t len = (size_t)(host - a->endpoint) + host_len;
  a->url = malloc(len + 2);
  if (a->url == NULL)
    return ENOMEM;
  memcpy(a->url, a->endpoint, len);
  a->url[len] = '/';
  a->url[len + 1] = 0;
  a->url_authority = strndup(host, host_len);
  if (a->url_authority == NULL)
    return ENOMEM;
  return 0;
}

/* Where the plan degrades a statistic of Statistics, another one that
 * costs far fewer requests stands in for it (account_plan.c): one. */
static const struct {
  const char *stand_in, *stands_in_for;
} stand_ins[] = {
    /* every port of 100 instances a request, per port and minute */
    {"max_new_connections", "connections"},
};

/* The block's stand-in, if it polls what one stands in for, and not the
 * stand-in itself: at the end of its statistics. */
static void add_stand_in(account_t *a) {
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(stand_ins); i++) {
    const statistic_t *in = statistic_find(stand_ins[i].stand_in);
    const statistic_t *of = statistic_find(stand_ins[i].stands_in_for);
    bool has_in = false, has_of = false;
    for (size_t k = 0; k < a->statistics_count; k++) {
      has_in = has_in || a->statistics[k] == in;
      has_of = has_of || a->statistics[k] == of;
    }
    if (in == NULL || has_in || !has_of ||
        a->statistics_count == STATIC_ARRAY_SIZE(a->statistics))
      continue;
    a->statistics[a->statistics_count++] = in;
    a->stand_in = in;
    a->stands_in_for = of;
    return;
  }
}

/* The series of listed instances and ports now; anything to discover is
 * found at the first reads. */
static int build_series(account_t *a) {
  add_stand_in(a);
  for (size_t k = 0; k < a->statistics_count; k++)
    a->rules_wanted = a->rules_wanted || a->statistics[k]->takes_rules;
  if (a->discover_instances || a->ports_auto || a->domains_auto ||
      a->rules_wanted) {
    a->discovery = discovery_create();
    if (a->discovery == NULL)
      return ENOMEM;
  }
  /* account_set_domains() takes the list over; discovery adds to a copy. */
  char **domains = a->domains;
  size_t domain_count = a->domain_count;
  a->domains = NULL;
  a->domain_count = 0;
  if (domain_count > 0) {
    a->listed_domains = calloc(domain_count, sizeof(*a->listed_domains));
    if (a->listed_domains == NULL) {
      free_strings(domains, domain_count);
      return ENOMEM;
    }
    for (size_t i = 0; i < domain_count; i++) {
      if ((a->listed_domains[i] = strdup(domains[i])) == NULL) {
        free_strings(domains, domain_count);
        return ENOMEM;
      }
      a->listed_domain_count++;
    }
  }
  int status = account_set_domains(a, domains, domain_count, false);
  if (status != 0 || a->discover_instances)
    return status;
  /* account_set_instances() takes the list over. */
  char **ids = a->instance_ids;
  size_t count = a->instance_count;
  a->instance_ids = NULL;
  a->instance_count = 0;
  return account_set_instances(a, ids, NULL, count, NULL, NULL, false);
}

/* Web statistics go with Domain, and Domain with web statistics; web
 * statistics without Domain: the account's domains ("auto"). */
static int check_domains(account_t *a) {
  bool web = false, other = false;
  for (size_t k = 0; k < a->statistics_count; k++) {
    web = web || a->statistics[k]->scope == SCOPE_DOMAIN;
    other = other || a->statistics[k]->scope != SCOPE_DOMAIN;
  }
  if ((a->domains_listed || a->domains_auto) && !web) {
    char known[256] = "";
    for (size_t i = 0; i < statistics_count; i++)
      if (statistics[i].scope == SCOPE_DOMAIN)
        ssnprintf(known + strlen(known), sizeof(known) - strlen(known),
                  "%s\"%s\"", known[0] ? " or " : "", statistics[i].name);
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Domain is for the web "
                      "statistics; add %s to Statistics.",
          a->name, known);
    return EINVAL;
  }
  if (web && !a->domains_listed)
    a->domains_auto = true;
  /* Only web statistics: no instance to find. */
  a->discover_instances = a->instance_count == 0 && other;
  return 0;
}

/* libcurl reads CACert at each block's first request, in a read thread:
 * a FIFO would hold that thread, and collectd's shutdown, for good. A
 * regular file, opened without waiting. */
static int check_ca_cert(account_t *a) {
  int fd = open(a->ca_cert, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  struct stat sb;
  bool regular = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
  if (fd >= 0)
    close(fd);
  if (regular)
    return 0;
  if (fd < 0)
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": CACert \"%s\" cannot be "
                      "opened: %s.",
          a->name, a->ca_cert, STRERROR(err));
  else
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": CACert \"%s\" is not a "
                      "regular file.",
          a->name, a->ca_cert);
  return EINVAL;
}

static int account_validate(account_t *a) {
  if (a->region_id == NULL && (a->region_id = strdup("cn-hangzhou")) == NULL)
    return ENOMEM;
  size_t len = strlen(a->region_id);
  if (len == 0 || len > MAX_ID_LEN ||
      strspn(a->region_id, "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": RegionId \"%s\" is not a "
                      "region ID such as cn-hangzhou or ap-southeast-1.",
          a->name, a->region_id);
    return EINVAL;
  }
  if (check_domains(a) != 0)
    return EINVAL;
  if (a->expiry_failure_days > a->expiry_warning_days) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": ExpiryFailureDays %d is more "
                      "than ExpiryWarningDays %d; the failure comes after the "
                      "warning.",
          a->name, a->expiry_failure_days, a->expiry_warning_days);
    return EINVAL;
  }
  if (a->aggregate && a->instance_count > API_MAX_INSTANCE_IDS) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Aggregate takes at most %d "
                      "InstanceIds, the API's limit; %zu are given.",
          a->name, API_MAX_INSTANCE_IDS, a->instance_count);
    return EINVAL;
  }
  /* Without its own Interval the block reads at collectd's. */
  if (a->interval == 0 &&
      CDTIME_T_TO_DOUBLE(plugin_get_interval()) < MIN_INTERVAL) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": collectd's Interval %g is "
                      "too short for the block; the minimum is %g s, below "
                      "which no request can complete. Set Interval in the "
                      "block.",
          a->name, CDTIME_T_TO_DOUBLE(plugin_get_interval()), MIN_INTERVAL);
    return EINVAL;
  }
  if (a->window % 60 != 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": Window %d is not a multiple "
                      "of 60 seconds: the API counts in whole minutes.",
          a->name, a->window);
    return EINVAL;
  }
  if (a->resource_group_id != NULL && a->resource_group_id[0] == 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": ResourceGroupId is empty.",
          a->name);
    return EINVAL;
  }
  if ((a->ca_cert != NULL && a->ca_cert[0] == 0) ||
      (a->proxy != NULL && a->proxy[0] == 0)) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\": CACert or Proxy is empty.",
          a->name);
    return EINVAL;
  }
  if (a->ca_cert != NULL && check_ca_cert(a) != 0)
    return EINVAL;

  if (a->max_backfill == 0)
    a->max_backfill = (3600 + a->window - 1) / a->window; /* an hour */
  if (sched_init(&a->sched, a->window, a->max_backfill, a->max_concurrent,
                 a->max_rps) != 0)
    return ENOMEM;

  int status = check_metadata_url(a);
  if (status == 0)
    status = resolve_endpoint(a);
  if (status == 0)
    status = resolve_credentials(a);
  if (status == 0)
    status = build_series(a);
  return status;
}

account_t *account_config(oconfig_item_t *ci) {
  account_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->window = 60;
  a->delay = 60;
  a->timeout = TIME_T_TO_CDTIME_T(10);
  a->verify_peer = true;
  a->verify_host = true;
  a->self_monitoring = true;
  a->event_sources = true;
  a->signature_version = 1;
  a->max_concurrent = 4;
  a->max_rps = 10; /* the API's documented limit for its listing calls */
  a->discovery_interval = TIME_T_TO_CDTIME_T(600);
  a->state_interval = 600;     /* limits and quotas change at a purchase */
  a->expiry_warning_days = 14; /* time to renew */
  a->expiry_failure_days = 3;
  /* The essential picture of an attack; web domains are asked for. What
   * the plan allows and what is used of it, at a tenth of a request per
   * instance and minute (StateInterval), to measure the attack against;
   * the account's blackhole releases, six requests an hour. */
  static const char *const default_statistics[] = {
      "connections", "traffic", "blackhole",          "events",
      "capacity",    "usage",   "blackhole_releases", "expiry"};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(default_statistics); i++)
    a->statistics[a->statistics_count++] =
        statistic_find(default_statistics[i]);
  C_COMPLAIN_INIT(&a->complaint);
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(a->sources_complaint); i++) {
    C_COMPLAIN_INIT(&a->sources_complaint[i]);
    C_COMPLAIN_INIT(&a->sources_name_complaint[i]);
  }

  if (cf_util_get_string(ci, &a->name) != 0 ||
      !account_is_identifier(a->name)) {
    ERROR(PLUGIN_NAME " plugin: <Account> needs one name of letters, digits, "
                      "'.', '_' or '-' (at most %d characters).",
          MAX_ID_LEN);
    account_free(a);
    return NULL;
  }

  /* Every option is read, so that one start shows every mistake. */
  int errors = 0;
  for (int i = 0; i < ci->children_num; i++)
    if (config_option(a, ci->children + i) != 0)
      errors++;
  if (errors == 0 && account_validate(a) != 0)
    errors++;
  if (errors != 0) {
    ERROR(PLUGIN_NAME " plugin: Account \"%s\" has configuration errors "
                      "(above) and is not polled.",
          a->name);
    account_free(a);
    return NULL;
  }

  /* Checks turned off: anyone on the path could answer for the API. */
  if (strncasecmp(a->url, "https://", 8) == 0 &&
      (!a->verify_peer || !a->verify_host))
    WARNING(PLUGIN_NAME " plugin: Account \"%s\": %s%s%s false: the API's "
                        "certificate is not %s; anyone on the path can read "
                        "the requests (and any SecurityToken) and forge the "
                        "answers.",
            a->name, a->verify_peer ? "" : "VerifyPeer",
            (!a->verify_peer && !a->verify_host) ? " and " : "",
            a->verify_host ? "" : "VerifyHost",
            !a->verify_peer ? "verified" : "checked against the host name");
  if (strncasecmp(a->url, "http://", 7) == 0)
    NOTICE(PLUGIN_NAME " plugin: Account \"%s\": Endpoint \"%s\" is plain "
                       "HTTP; requests (and any SecurityToken) travel "
                       "unencrypted.",
           a->name, a->endpoint);
  return a;
}
