/**
 * collectd-ddoscoo - src/api_request.c
 * SPDX-License-Identifier: MIT
 *
 * DescribePortConnsCount request parameters; see api_request.h.
 */
#include "api_request.h"

#include "statistics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

time_t api_window_end(time_t now, int window, int delay) {
  time_t t = now - delay;
  /* Floor, not truncation toward zero, should the clock be near the epoch. */
  time_t end = (t / window) * window;
  if (end > t)
    end -= window;
  return end;
}

const char *api_service_region(const char *region_id) {
  if (region_id == NULL)
    return "cn";
  if (strncmp(region_id, "cn-", 3) == 0 &&
      strcmp(region_id, "cn-hongkong") != 0)
    return "cn";
  return "cn-hongkong";
}

static int add_time(rpc_params_t *params, const char *name, time_t t) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%" PRIdMAX, (intmax_t)t);
  return rpc_params_add(params, name, buf);
}

/* The optional parameters: the bit that says an operation takes one, its
 * name, where a request holds its value. */
static const struct {
  unsigned bit;
  const char *name;
  size_t offset;
} optional_params[] = {
    {API_TAKES_RESOURCE_GROUP, "ResourceGroupId",
     offsetof(api_request_t, resource_group_id)},
    {API_TAKES_PORT, "Port", offsetof(api_request_t, port)},
    {API_TAKES_DOMAIN, "Domain", offsetof(api_request_t, domain)},
    {API_TAKES_REGION, "Region", offsetof(api_request_t, region)},
};

/* InstanceIds.1 ... InstanceIds.count (the API's repeated list). */
static int add_instance_ids(rpc_params_t *params,
                            const char *const *instance_ids, size_t count) {
  int status = 0;
  for (size_t i = 0; i < count; i++) {
    char name[48];
    snprintf(name, sizeof(name), "InstanceIds.%zu", i + 1);
    status |= rpc_params_add(params, name, instance_ids[i]);
  }
  return status;
}

/* Adds the optional parameters set in req that its operation takes. */
static int add_optional(const api_request_t *req, rpc_params_t *params) {
  int status = 0;
  size_t n = sizeof(optional_params) / sizeof(optional_params[0]);
  for (size_t i = 0; i < n; i++) {
    const char *value =
        *(const char *const *)((const char *)req + optional_params[i].offset);
    if (value != NULL && value[0] == 0)
      status = -1; /* never sent empty, taken or not */
    else if (value != NULL && (req->takes & optional_params[i].bit) != 0)
      status |= rpc_params_add(params, optional_params[i].name, value);
  }
  return status;
}

int api_request_params(const api_request_t *req, rpc_params_t *params) {
  bool timeless = req->start_time == 0 && req->end_time == 0;
  if ((req->instance_count < 1 && req->domain == NULL && !req->account &&
       req->network_rules == NULL) ||
      (req->network_rules != NULL && req->network_rules[0] == 0) ||
      (req->account && (req->instance_count > 0 || req->domain != NULL)) ||
      req->instance_count > API_MAX_INSTANCE_IDS ||
      (!timeless && req->start_time >= req->end_time) ||
      (req->domain != NULL && req->domain[0] == 0) ||
      ((req->fixed_param == NULL) != (req->fixed_value == NULL)))
    return -1;

  int status = 0;
  status |= rpc_params_add(params, "Format", "XML");
  if (req->region_id != NULL)
    status |= rpc_params_add(params, "RegionId", req->region_id);
  status |= add_optional(req, params);
  if (!timeless) {
    status |= add_time(params, "StartTime", req->start_time);
    status |= add_time(params, "EndTime", req->end_time);
  }
  if (req->interval > 0)
    status |= add_time(params, "Interval", req->interval);
  if (req->page_size > 0) {
    status |= add_time(params, "PageNumber",
                       req->page_number > 0 ? req->page_number : 1);
    status |= add_time(params, "PageSize", req->page_size);
  }
  if (req->fixed_param != NULL)
    status |= rpc_params_add(params, req->fixed_param, req->fixed_value);
  if (req->network_rules != NULL)
    status |= rpc_params_add(params, "NetworkRules", req->network_rules);

  status |= add_instance_ids(params, req->instance_ids, req->instance_count);

  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

/* Format, RegionId and the optional parameters action takes. */
static int listing_params(const char *action, const char *region_id,
                          const char *resource_group_id, rpc_params_t *params) {
  api_request_t req = {.takes = api_operation_takes(action),
                       .resource_group_id = resource_group_id};
  int status = rpc_params_add(params, "Format", "XML");
  if (region_id != NULL)
    status |= rpc_params_add(params, "RegionId", region_id);
  status |= add_optional(&req, params);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_instance_ids_params(const char *region_id,
                            const char *resource_group_id,
                            rpc_params_t *params) {
  return listing_params(API_ACTION_INSTANCES, region_id, resource_group_id,
                        params);
}

int api_domains_params(const char *region_id, const char *resource_group_id,
                       const char *const *instance_ids, size_t count,
                       rpc_params_t *params) {
  int status =
      listing_params(API_ACTION_DOMAINS, region_id, resource_group_id, params);
  if (status != 0 || count > API_MAX_INSTANCE_IDS) {
    rpc_params_clear(params);
    return -1;
  }
  status |= add_instance_ids(params, instance_ids, count);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_facts_params(const char *action, const char *region_id,
                     const char *resource_group_id,
                     const char *const *instance_ids, size_t count,
                     int page_number, int page_size, rpc_params_t *params) {
  int status = listing_params(action, region_id, resource_group_id, params);
  /* DescribeInstances alone may name none: the account's every instance. */
  if (status != 0 || (count < 1 && page_size == 0) ||
      count > API_MAX_INSTANCE_IDS) {
    rpc_params_clear(params);
    return -1;
  }
  if (page_size > 0) {
    char page[16], size[16];
    snprintf(page, sizeof(page), "%d", page_number);
    snprintf(size, sizeof(size), "%d", page_size);
    status |= rpc_params_add(params, "PageNumber", page);
    status |= rpc_params_add(params, "PageSize", size);
  }
  status |= add_instance_ids(params, instance_ids, count);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_network_rules_params(const char *region_id,
                             const char *resource_group_id,
                             const char *instance_id, int page_number,
                             int page_size, rpc_params_t *params) {
  char page[16], size[16];
  snprintf(page, sizeof(page), "%d", page_number);
  snprintf(size, sizeof(size), "%d", page_size);
  int status =
      listing_params(API_ACTION_RULES, region_id, resource_group_id, params);
  status |= rpc_params_add(params, "InstanceId", instance_id);
  status |= rpc_params_add(params, "PageNumber", page);
  status |= rpc_params_add(params, "PageSize", size);
  if (status != 0 || page_number < 1 || page_size < 1) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

/* The listing operations (the statistics are in their table): the
 * optional parameters each takes of those the plugin sets (SDK request
 * models: DescribeInstanceIds and DescribeDomains have ResourceGroupId,
 * DescribeNetworkRules has not), and how large an answer may be. */
static const struct {
  const char *action;
  unsigned takes;
  size_t max_response;
} listings[] = {
    /* Every instance of the account on one page, a few hundred bytes each:
     * room for far more than an account has, and for API_MAX_LIST. */
    {API_ACTION_INSTANCES, API_TAKES_RESOURCE_GROUP, 4 * 1024 * 1024},
    /* API_RULES_PAGE_SIZE rules, each with its list of real servers. */
    {API_ACTION_RULES, 0, 1024 * 1024},
    /* Every web domain of the account in one answer, unpaged: up to
     * API_MAX_LIST names of at most 253 characters. */
    {API_ACTION_DOMAINS, API_TAKES_RESOURCE_GROUP, 4 * 1024 * 1024},
    /* API_FACTS_PAGE_SIZE instances of ~700 bytes each (ResourceGroupId:
     * the SDK's request model has it). */
    {API_ACTION_FACTS, API_TAKES_RESOURCE_GROUP, 1024 * 1024},
    /* 100 instances, each with its IPs (no ResourceGroupId in the model). */
    {API_ACTION_DETAILS, 0, 4 * 1024 * 1024},
};
#define LISTINGS (sizeof(listings) / sizeof(listings[0]))

unsigned api_operation_takes(const char *action) {
  const statistic_t *stat = statistic_of_action(action);
  if (stat != NULL)
    return stat->takes;
  for (size_t i = 0; i < LISTINGS; i++)
    if (strcmp(action, listings[i].action) == 0)
      return listings[i].takes;
  return 0;
}

size_t api_max_response(const char *action) {
  const statistic_t *stat = statistic_of_action(action);
  if (stat != NULL)
    return stat->max_response;
  for (size_t i = 0; i < LISTINGS; i++)
    if (strcmp(action, listings[i].action) == 0)
      return listings[i].max_response;
  return API_MAX_RESPONSE_DEFAULT;
}
