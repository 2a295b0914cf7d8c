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

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define API_VERSION "2020-01-01"
#define API_MAX_INSTANCE_IDS 100

/* The optional parameters an operation takes, one bit each, as its request
 * model in the SDK (alibabacloud-go/ddoscoo-20200101) has them: an optional
 * parameter is sent only if it is set and the operation takes it, so a
 * block's ResourceGroupId is not sent to an operation without one
 * (DescribeBlackholeStatus, DescribeNetworkRules). doc/api-operations.md
 * has the table. */
#define API_TAKES_RESOURCE_GROUP 0x1u /* ResourceGroupId */
#define API_TAKES_PORT 0x2u           /* Port */
#define API_TAKES_DOMAIN 0x4u         /* Domain */
#define API_TAKES_REGION 0x8u         /* Region: cn or cn-hongkong */

typedef struct {
  unsigned takes;                /* API_TAKES_*: what the operation takes */
  const char *region_id;         /* NULL: not sent */
  const char *resource_group_id; /* NULL or not taken: not sent */
  const char *const *instance_ids;
  size_t instance_count;   /* 1 .. API_MAX_INSTANCE_IDS; 0 with a domain */
  const char *domain;      /* Domain; NULL (or not taken): not sent */
  const char *region;      /* Region; NULL (or not taken): not sent */
  const char *fixed_param; /* a parameter of fixed value (QueryType), or */
  const char *fixed_value; /* NULL: not sent */
  const char *port;        /* NULL (or not taken): all ports together */
  time_t start_time;       /* both 0: not sent (a state, not a history) */
  time_t end_time;
  int interval;    /* seconds per row (operations with rows); 0: not sent */
  int page_size;   /* PageSize (paged answers); 0: not sent */
  int page_number; /* PageNumber, with page_size: from 1; 0: 1 */
  /* The whole account's: neither instances nor a domain (a statistic of
   * SCOPE_ACCOUNT, or of STAT_ACCOUNT_BY_IP). */
  bool account;
  /* NetworkRules (a JSON text); NULL: not sent. */
  const char *network_rules;
} api_request_t;

/* The end of the newest complete window: floor((now - delay) / window) *
 * window. window is a positive multiple of 60, so windows are whole minutes
 * and consecutive windows tile time. */
time_t api_window_end(time_t now, int window, int delay);

/* The Region of web operations (DescribeDomainBps) for a block's
 * RegionId: "cn" for a mainland region (cn-*), "cn-hongkong" for
 * cn-hongkong and any region outside the mainland (ap-southeast-1); NULL
 * (no RegionId) is the default cn-hangzhou. */
const char *api_service_region(const char *region_id);

/* Adds a statistic's parameters to params: Format (XML), RegionId,
 * ResourceGroupId, Port, StartTime, EndTime, Interval, Domain, the fixed
 * parameter, InstanceIds.N (those set in req; the optional ones only if
 * req->takes has them). Returns 0, or -1 for an invalid request (neither
 * instance nor domain, too many instances, empty window, an empty value)
 * or no memory; params is then cleared. */
int api_request_params(const api_request_t *req, rpc_params_t *params);

/* DescribeInstanceIds: Format, RegionId and ResourceGroupId (each NULL: not
 * sent; the optional ones as the operation takes them). Returns 0 or -1. */
#define API_ACTION_INSTANCES "DescribeInstanceIds"
int api_instance_ids_params(const char *region_id,
                            const char *resource_group_id,
                            rpc_params_t *params);

/* DescribeNetworkRules of one instance, page page_number (from 1) of
 * page_size rules; resource_group_id as for the others (the operation takes
 * none: never sent). Returns 0 or -1. */
#define API_ACTION_RULES "DescribeNetworkRules"
#define API_RULES_PAGE_SIZE 50
/* DescribeDDoSEvents: the page size siblings document as the largest. */
#define API_EVENTS_PAGE_SIZE 50
int api_network_rules_params(const char *region_id,
                             const char *resource_group_id,
                             const char *instance_id, int page_number,
                             int page_size, rpc_params_t *params);

/* DescribeDomains: the account's web domains (those of instance_ids, if
 * count > 0). Returns 0 or -1. */
#define API_ACTION_DOMAINS "DescribeDomains"

/* The instance facts (instance_facts.h): DescribeInstances, of the listed
 * instance_ids (1 .. API_MAX_INSTANCE_IDS, or 0: the account's every
 * instance), page page_number of API_FACTS_PAGE_SIZE; and
 * DescribeInstanceDetails (page_size 0: no paging) of the listed (1 ..).
 * Returns 0 or -1. */
#define API_ACTION_FACTS "DescribeInstances"
#define API_ACTION_DETAILS "DescribeInstanceDetails"
#define API_FACTS_PAGE_SIZE 50
int api_facts_params(const char *action, const char *region_id,
                     const char *resource_group_id,
                     const char *const *instance_ids, size_t count,
                     int page_number, int page_size, rpc_params_t *params);
int api_domains_params(const char *region_id, const char *resource_group_id,
                       const char *const *instance_ids, size_t count,
                       rpc_params_t *params);

/* DescribeWebReportTopIp: the top source IPs of an HTTP flood on a
 * domain (sources.h builds its parameters). */
#define API_ACTION_TOP_IP "DescribeWebReportTopIp"

/* DescribeDDosEventSrcIp: the top source IPs of a volumetric event
 * (sources.h builds its parameters). */
#define API_ACTION_SRC_IP "DescribeDDosEventSrcIp"

/* The optional parameters action takes (API_TAKES_*): the statistics'
 * from their table, the listing operations' from their own; 0 for an
 * unknown action. */
unsigned api_operation_takes(const char *action);

/* The largest answer accepted to action, in bytes: the cap grows with what
 * an answer can list (API_MAX_LIST items of a listing operation); an
 * unknown action gets the smallest. */
size_t api_max_response(const char *action);
#define API_MAX_RESPONSE_DEFAULT (64 * 1024)

#endif /* API_REQUEST_H */
