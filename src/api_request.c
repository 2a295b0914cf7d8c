/**
 * collectd-ddoscoo - src/api_request.c
 * SPDX-License-Identifier: MIT
 *
 * DescribePortConnsCount request parameters; see api_request.h.
 */
#include "api_request.h"

#include "statistics.h"

#include <inttypes.h>
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

static int add_time(rpc_params_t *params, const char *name, time_t t) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%" PRIdMAX, (intmax_t)t);
  return rpc_params_add(params, name, buf);
}

int api_request_params(const api_request_t *req, rpc_params_t *params) {
  bool timeless = req->start_time == 0 && req->end_time == 0;
  if ((req->instance_count < 1 && req->domain == NULL) ||
      req->instance_count > API_MAX_INSTANCE_IDS ||
      (!timeless && req->start_time >= req->end_time) ||
      (req->domain != NULL && req->domain[0] == 0) ||
      ((req->fixed_param == NULL) != (req->fixed_value == NULL)))
    return -1;

  int status = 0;
  status |= rpc_params_add(params, "Format", "XML");
  if (req->region_id != NULL)
    status |= rpc_params_add(params, "RegionId", req->region_id);
  if (req->resource_group_id != NULL)
    status |= rpc_params_add(params, "ResourceGroupId", req->resource_group_id);
  if (req->port != NULL)
    status |= rpc_params_add(params, "Port", req->port);
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
  if (req->domain != NULL)
    status |= rpc_params_add(params, "Domain", req->domain);
  if (req->fixed_param != NULL)
    status |= rpc_params_add(params, req->fixed_param, req->fixed_value);

  for (size_t i = 0; i < req->instance_count; i++) {
    char name[48];
    snprintf(name, sizeof(name), "InstanceIds.%zu", i + 1);
    status |= rpc_params_add(params, name, req->instance_ids[i]);
  }

  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_instance_ids_params(const char *region_id,
                            const char *resource_group_id,
                            rpc_params_t *params) {
  int status = rpc_params_add(params, "Format", "XML");
  if (region_id != NULL)
    status |= rpc_params_add(params, "RegionId", region_id);
  if (resource_group_id != NULL)
    status |= rpc_params_add(params, "ResourceGroupId", resource_group_id);
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_domains_params(const char *region_id, const char *resource_group_id,
                       const char *const *instance_ids, size_t count,
                       rpc_params_t *params) {
  int status = api_instance_ids_params(region_id, resource_group_id, params);
  if (status != 0 || count > API_MAX_INSTANCE_IDS) {
    rpc_params_clear(params);
    return -1;
  }
  for (size_t i = 0; i < count; i++) {
    char name[48];
    snprintf(name, sizeof(name), "InstanceIds.%zu", i + 1);
    status |= rpc_params_add(params, name, instance_ids[i]);
  }
  if (status != 0) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

int api_network_rules_params(const char *region_id, const char *instance_id,
                             int page_number, int page_size,
                             rpc_params_t *params) {
  char page[16], size[16];
  snprintf(page, sizeof(page), "%d", page_number);
  snprintf(size, sizeof(size), "%d", page_size);
  int status = rpc_params_add(params, "Format", "XML");
  if (region_id != NULL)
    status |= rpc_params_add(params, "RegionId", region_id);
  status |= rpc_params_add(params, "InstanceId", instance_id);
  status |= rpc_params_add(params, "PageNumber", page);
  status |= rpc_params_add(params, "PageSize", size);
  if (status != 0 || page_number < 1 || page_size < 1) {
    rpc_params_clear(params);
    return -1;
  }
  return 0;
}

/* How large an answer of the listing operations may be (the statistics'
 * are in their table). */
static const struct {
  const char *action;
  size_t max_response;
} response_caps[] = {
    /* Every instance of the account on one page, a few hundred bytes each:
     * room for far more than an account has, and for API_MAX_LIST. */
    {API_ACTION_INSTANCES, 4 * 1024 * 1024},
    /* API_RULES_PAGE_SIZE rules, each with its list of real servers. */
    {API_ACTION_RULES, 1024 * 1024},
    /* Every web domain of the account in one answer, unpaged: up to
     * API_MAX_LIST names of at most 253 characters. */
    {API_ACTION_DOMAINS, 4 * 1024 * 1024},
};

size_t api_max_response(const char *action) {
  const statistic_t *stat = statistic_of_action(action);
  if (stat != NULL)
    return stat->max_response;
  size_t n = sizeof(response_caps) / sizeof(response_caps[0]);
  for (size_t i = 0; i < n; i++)
    if (strcmp(action, response_caps[i].action) == 0)
      return response_caps[i].max_response;
  return API_MAX_RESPONSE_DEFAULT;
}
