/**
 * collectd-ddoscoo - src/api_request.c
 *
 * DescribePortConnsCount request parameters; see api_request.h.
 */
#include "api_request.h"

#include <inttypes.h>
#include <stdio.h>

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
  if (req->instance_count < 1 || req->instance_count > API_MAX_INSTANCE_IDS ||
      req->start_time >= req->end_time)
    return -1;

  int status = 0;
  status |= rpc_params_add(params, "Format", "XML");
  if (req->region_id != NULL)
    status |= rpc_params_add(params, "RegionId", req->region_id);
  if (req->resource_group_id != NULL)
    status |= rpc_params_add(params, "ResourceGroupId", req->resource_group_id);
  if (req->port != NULL)
    status |= rpc_params_add(params, "Port", req->port);
  status |= add_time(params, "StartTime", req->start_time);
  status |= add_time(params, "EndTime", req->end_time);

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
