/**
 * collectd-ddoscoo - src/api_request.h
 * SPDX-License-Identifier: MIT
 *
 * What one DescribePortConnsCount query asks for: the time window and the
 * operation's parameters. The signature adds its own. Pure: no collectd, no
 * network.
 */
#ifndef API_REQUEST_H
#define API_REQUEST_H 1

#include "rpc_sign.h"

#include <stddef.h>
#include <time.h>

#define API_VERSION "2020-01-01"
#define API_MAX_INSTANCE_IDS 100

typedef struct {
  const char *region_id;         /* NULL: not sent */
  const char *resource_group_id; /* NULL: not sent */
  const char *const *instance_ids;
  size_t instance_count;   /* 1 .. API_MAX_INSTANCE_IDS; 0 with a domain */
  const char *domain;      /* Domain; NULL: not sent */
  const char *fixed_param; /* a parameter of fixed value (QueryType), or */
  const char *fixed_value; /* NULL: not sent */
  const char *port;        /* NULL: all ports together */
  time_t start_time;       /* both 0: not sent (a state, not a history) */
  time_t end_time;
  int interval;    /* seconds per row (operations with rows); 0: not sent */
  int page_size;   /* PageSize (paged answers); 0: not sent */
  int page_number; /* PageNumber, with page_size: from 1; 0: 1 */
} api_request_t;

/* The end of the newest complete window: floor((now - delay) / window) *
 * window. window is a positive multiple of 60, so windows are whole minutes
 * and consecutive windows tile time. */
time_t api_window_end(time_t now, int window, int delay);

/* Adds a statistic's parameters to params: Format (XML), RegionId,
 * ResourceGroupId, Port, StartTime, EndTime, Interval, Domain, the fixed
 * parameter, InstanceIds.N (those set in req). Returns 0, or -1 for an
 * invalid request (neither instance nor domain, too many instances, empty
 * window, an empty value) or no memory; params is then cleared. */
int api_request_params(const api_request_t *req, rpc_params_t *params);

/* DescribeInstanceIds: Format, RegionId and ResourceGroupId (each NULL: not
 * sent). Returns 0 or -1. */
#define API_ACTION_INSTANCES "DescribeInstanceIds"
int api_instance_ids_params(const char *region_id,
                            const char *resource_group_id,
                            rpc_params_t *params);

/* DescribeNetworkRules of one instance, page page_number (from 1) of
 * page_size rules. Returns 0 or -1. */
#define API_ACTION_RULES "DescribeNetworkRules"
#define API_RULES_PAGE_SIZE 50
/* DescribeDDoSEvents: the page size siblings document as the largest. */
#define API_EVENTS_PAGE_SIZE 50
int api_network_rules_params(const char *region_id, const char *instance_id,
                             int page_number, int page_size,
                             rpc_params_t *params);

/* DescribeDomains: the account's web domains (those of instance_ids, if
 * count > 0). Returns 0 or -1. */
#define API_ACTION_DOMAINS "DescribeDomains"
int api_domains_params(const char *region_id, const char *resource_group_id,
                       const char *const *instance_ids, size_t count,
                       rpc_params_t *params);

/* The largest answer accepted to action, in bytes: the cap grows with what
 * an answer can list (API_MAX_LIST items of a listing operation); an
 * unknown action gets the smallest. */
size_t api_max_response(const char *action);
#define API_MAX_RESPONSE_DEFAULT (64 * 1024)

#endif /* API_REQUEST_H */
