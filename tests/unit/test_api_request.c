/**
 * collectd-ddoscoo - tests/unit/test_api_request.c
 * SPDX-License-Identifier: MIT
 *
 * Time windows and DescribePortConnsCount parameters.
 */
#include "api_request.h"

#include "statistics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

static const char *param(const rpc_params_t *p, const char *name) {
  for (size_t i = 0; i < p->count; i++)
    if (strcmp(p->items[i].name, name) == 0)
      return p->items[i].value;
  return NULL;
}

DEF_TEST(window_end) {
  /* 1796205600 is 2026-12-02T10:00:00Z */
  time_t t0 = 1796205600;
  EXPECT_EQ_UINT64(t0 - 60, api_window_end(t0, 60, 60));
  EXPECT_EQ_UINT64(t0 - 60, api_window_end(t0 + 59, 60, 60));
  EXPECT_EQ_UINT64(t0, api_window_end(t0 + 60, 60, 60));
  EXPECT_EQ_UINT64(t0, api_window_end(t0 + 30, 60, 0));
  EXPECT_EQ_UINT64(t0, api_window_end(t0 + 299, 300, 0));
  EXPECT_EQ_UINT64(t0 - 300, api_window_end(t0 - 1, 300, 0));
  EXPECT_EQ_UINT64(t0, api_window_end(t0 + 300, 300, 300));
  /* Negative times floor, not truncate. */
  EXPECT_EQ_INT(-60, (int)api_window_end(-1, 60, 0));
  return 0;
}

/* Consecutive windows tile time: each read's window either is the last
 * one or starts where it ended. */
DEF_TEST(windows_tile) {
  time_t last = 0;
  int changes = 0;
  for (time_t now = 1796205600; now < 1796205600 + 3600; now += 7) {
    time_t end = api_window_end(now, 60, 45);
    OK(end % 60 == 0);
    OK(end <= now - 45 && end > now - 45 - 60);
    if (last != 0 && end != last) {
      EXPECT_EQ_UINT64(last + 60, end);
      changes++;
    }
    last = end;
  }
  EXPECT_EQ_INT(60, changes);
  return 0;
}

DEF_TEST(params) {
  const char *ids[] = {"ddoscoo-cn-a", "ddoscoo-cn-b"};
  api_request_t req = {
      .takes = API_TAKES_RESOURCE_GROUP | API_TAKES_PORT,
      .region_id = "ap-southeast-1",
      .instance_ids = ids,
      .instance_count = 2,
      .port = "443",
      .start_time = 1796205540,
      .end_time = 1796205600,
  };
  rpc_params_t p = RPC_PARAMS_INIT;
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("XML", param(&p, "Format"));
  EXPECT_EQ_STR("ap-southeast-1", param(&p, "RegionId"));
  EXPECT_EQ_STR("443", param(&p, "Port"));
  EXPECT_EQ_STR("1796205540", param(&p, "StartTime"));
  EXPECT_EQ_STR("1796205600", param(&p, "EndTime"));
  EXPECT_EQ_STR("ddoscoo-cn-a", param(&p, "InstanceIds.1"));
  EXPECT_EQ_STR("ddoscoo-cn-b", param(&p, "InstanceIds.2"));
  OK(param(&p, "ResourceGroupId") == NULL);
  OK(param(&p, "Action") == NULL); /* the signature's business */
  EXPECT_EQ_UINT64(7, p.count);

  /* With the common parameters of signature 1.0. */
  CHECK_ZERO(rpc_common_params_v1(&p, "DescribePortConnsCount", API_VERSION,
                                  "LTAIkey", NULL, 1796205665, "abc"));
  EXPECT_EQ_STR("DescribePortConnsCount", param(&p, "Action"));
  EXPECT_EQ_STR("2020-01-01", param(&p, "Version"));
  EXPECT_EQ_STR("LTAIkey", param(&p, "AccessKeyId"));
  EXPECT_EQ_STR("HMAC-SHA1", param(&p, "SignatureMethod"));
  EXPECT_EQ_STR("1.0", param(&p, "SignatureVersion"));
  EXPECT_EQ_STR("abc", param(&p, "SignatureNonce"));
  EXPECT_EQ_STR("2026-12-02T10:01:05Z", param(&p, "Timestamp"));
  OK(param(&p, "SecurityToken") == NULL);
  OK(param(&p, "Signature") == NULL);
  EXPECT_EQ_UINT64(14, p.count);
  rpc_params_clear(&p);

  /* Optional parameters appear only when set; all ports: no Port. */
  req.resource_group_id = "rg-123";
  req.region_id = NULL;
  req.port = NULL;
  req.instance_count = 1;
  CHECK_ZERO(api_request_params(&req, &p));
  CHECK_ZERO(rpc_common_params_v1(&p, "DescribePortConnsCount", API_VERSION,
                                  "STS.key", "sts-token", 1796205665, "abc"));
  EXPECT_EQ_STR("sts-token", param(&p, "SecurityToken"));
  EXPECT_EQ_STR("rg-123", param(&p, "ResourceGroupId"));
  OK(param(&p, "RegionId") == NULL);
  OK(param(&p, "Port") == NULL);
  OK(param(&p, "InstanceIds.2") == NULL);
  rpc_params_clear(&p);

  /* A paged answer: page 1 unless another is asked. */
  req.page_size = API_EVENTS_PAGE_SIZE;
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("1", param(&p, "PageNumber"));
  EXPECT_EQ_STR("50", param(&p, "PageSize"));
  rpc_params_clear(&p);
  req.page_number = 3;
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("3", param(&p, "PageNumber"));
  rpc_params_clear(&p);
  return 0;
}

DEF_TEST(invalid_requests) {
  const char *ids[API_MAX_INSTANCE_IDS + 1];
  for (size_t i = 0; i <= API_MAX_INSTANCE_IDS; i++)
    ids[i] = "ddoscoo-cn-x";
  api_request_t req = {
      .instance_ids = ids,
      .instance_count = API_MAX_INSTANCE_IDS,
      .start_time = 0,
      .end_time = 60,
  };
  rpc_params_t p = RPC_PARAMS_INIT;
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("ddoscoo-cn-x", param(&p, "InstanceIds.100"));
  rpc_params_clear(&p);

  req.instance_count = API_MAX_INSTANCE_IDS + 1;
  OK(api_request_params(&req, &p) != 0);
  req.instance_count = 0;
  OK(api_request_params(&req, &p) != 0);
  req.instance_count = 1;
  req.start_time = 60;
  OK(api_request_params(&req, &p) != 0);
  req.start_time = 0;
  /* The whole account's: neither instances nor a domain, and no time. */
  req.account = true;
  OK(api_request_params(&req, &p) != 0); /* an instance too */
  req.instance_count = 0;
  req.end_time = 0;
  CHECK_ZERO(api_request_params(&req, &p));
  OK(param(&p, "InstanceIds.1") == NULL && param(&p, "StartTime") == NULL);
  rpc_params_clear(&p);
  req.account = false;
  req.instance_count = 1;
  req.end_time = 60;
  req.port = ""; /* never sent empty */
  OK(api_request_params(&req, &p) != 0);
  EXPECT_EQ_UINT64(0, p.count);
  OK(rpc_common_params_v1(&p, "DescribePortConnsCount", API_VERSION, "id", "",
                          0, "n") != 0);
  rpc_params_clear(&p);
  return 0;
}

DEF_TEST(list_params) {
  rpc_params_t p = RPC_PARAMS_INIT;
  CHECK_ZERO(api_instance_ids_params("ap-southeast-1", NULL, &p));
  EXPECT_EQ_STR("XML", param(&p, "Format"));
  EXPECT_EQ_STR("ap-southeast-1", param(&p, "RegionId"));
  OK(param(&p, "ResourceGroupId") == NULL);
  rpc_params_clear(&p);
  CHECK_ZERO(api_instance_ids_params(NULL, "rg-1", &p));
  EXPECT_EQ_STR("rg-1", param(&p, "ResourceGroupId"));
  rpc_params_clear(&p);

  CHECK_ZERO(api_network_rules_params("cn-hangzhou", "rg-1", "ddoscoo-cn-a", 3,
                                      API_RULES_PAGE_SIZE, &p));
  EXPECT_EQ_STR("ddoscoo-cn-a", param(&p, "InstanceId"));
  /* Its request model has no ResourceGroupId. */
  OK(param(&p, "ResourceGroupId") == NULL);
  EXPECT_EQ_STR("3", param(&p, "PageNumber"));
  EXPECT_EQ_STR("50", param(&p, "PageSize"));
  rpc_params_clear(&p);
  OK(api_network_rules_params(NULL, NULL, "i", 0, 50, &p) != 0);
  OK(api_network_rules_params(NULL, NULL, "", 1, 50, &p) != 0);
  EXPECT_EQ_UINT64(0, p.count);
  return 0;
}

/* The web statistics: a Domain and a fixed parameter, no InstanceIds. */
DEF_TEST(web_params) {
  rpc_params_t p = RPC_PARAMS_INIT;
  api_request_t req = {.takes = API_TAKES_DOMAIN,
                       .domain = "www.example.com",
                       .fixed_param = "QueryType",
                       .fixed_value = "upstrem",
                       .start_time = 1796205540,
                       .end_time = 1796209140,
                       .interval = 60};
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("www.example.com", param(&p, "Domain"));
  EXPECT_EQ_STR("upstrem", param(&p, "QueryType"));
  EXPECT_EQ_STR("60", param(&p, "Interval"));
  OK(param(&p, "InstanceIds.1") == NULL);
  rpc_params_clear(&p);
  req.domain = NULL; /* neither instance nor domain */
  OK(api_request_params(&req, &p) != 0);
  req.domain = "";
  OK(api_request_params(&req, &p) != 0);
  req.domain = "a.example";
  req.fixed_value = NULL; /* a name without its value */
  OK(api_request_params(&req, &p) != 0);
  EXPECT_EQ_UINT64(0, p.count);

  const char *ids[] = {"ddoscoo-cn-a", "ddoscoo-cn-b"};
  CHECK_ZERO(api_domains_params("cn-hangzhou", NULL, ids, 2, &p));
  EXPECT_EQ_STR("ddoscoo-cn-b", param(&p, "InstanceIds.2"));
  rpc_params_clear(&p);
  CHECK_ZERO(api_domains_params(NULL, "rg-1", NULL, 0, &p));
  OK(param(&p, "InstanceIds.1") == NULL);
  EXPECT_EQ_STR("rg-1", param(&p, "ResourceGroupId"));
  rpc_params_clear(&p);
  OK(api_max_response(API_ACTION_DOMAINS) >= 4 * 1024 * 1024);
  return 0;
}

/* DescribeDomainBps: Region, the domains' service region, derived from the
 * block's RegionId; sent to it alone, Interval its 300 s. */
DEF_TEST(domain_bps_params) {
  EXPECT_EQ_STR("cn", api_service_region(NULL)); /* cn-hangzhou */
  EXPECT_EQ_STR("cn", api_service_region("cn-hangzhou"));
  EXPECT_EQ_STR("cn", api_service_region("cn-shanghai"));
  EXPECT_EQ_STR("cn-hongkong", api_service_region("cn-hongkong"));
  EXPECT_EQ_STR("cn-hongkong", api_service_region("ap-southeast-1"));
  EXPECT_EQ_STR("cn-hongkong", api_service_region("eu-central-1"));

  const statistic_t *bps = statistic_find("domain_bps");
  OK(bps != NULL);
  EXPECT_EQ_STR("DescribeDomainBps", bps->action);
  EXPECT_EQ_INT(300, bps->window);
  OK(api_operation_takes("DescribeDomainBps") ==
     (API_TAKES_DOMAIN | API_TAKES_REGION)); /* no ResourceGroupId */
  rpc_params_t p = RPC_PARAMS_INIT;
  api_request_t req = {.takes = bps->takes,
                       .region_id = "ap-southeast-1",
                       .resource_group_id = "rg-1",
                       .domain = "www.example.com",
                       .region = api_service_region("ap-southeast-1"),
                       .start_time = 1796205300,
                       .end_time = 1796206200,
                       .interval = 300};
  CHECK_ZERO(api_request_params(&req, &p));
  EXPECT_EQ_STR("cn-hongkong", param(&p, "Region"));
  EXPECT_EQ_STR("ap-southeast-1", param(&p, "RegionId"));
  EXPECT_EQ_STR("300", param(&p, "Interval"));
  EXPECT_EQ_STR("www.example.com", param(&p, "Domain"));
  OK(param(&p, "ResourceGroupId") == NULL);
  rpc_params_clear(&p);
  /* Not to an operation without it. */
  req.takes = statistic_find("qps")->takes;
  CHECK_ZERO(api_request_params(&req, &p));
  OK(param(&p, "Region") == NULL);
  rpc_params_clear(&p);
  return 0;
}

/* A request of the whole account (DescribeDDosAllEventList) names no
 * instance, however many the block has, nor ResourceGroupId. */
DEF_TEST(account_wide_params) {
  rpc_params_t p = RPC_PARAMS_INIT;
  const statistic_t *cc = statistic_find("instance_cc_events");
  CHECK_NOT_NULL(cc);
  char *ids[300];
  for (size_t i = 0; i < 300; i++)
    ids[i] = "ddoscoo-cn-a";
  api_request_t req = {.takes = cc->takes,
                       .resource_group_id = "rg-1",
                       .account = true,
                       .fixed_param = cc->fixed_param,
                       .fixed_value = cc->fixed_value,
                       .start_time = 1796119140,
                       .end_time = 1796209140,
                       .page_size = API_EVENTS_PAGE_SIZE,
                       .page_number = 2};
  CHECK_ZERO(api_request_params(&req, &p));
  OK(param(&p, "InstanceIds.1") == NULL);
  OK(param(&p, "ResourceGroupId") == NULL);
  EXPECT_EQ_STR("cc", param(&p, "EventType"));
  EXPECT_EQ_STR("1796119140", param(&p, "StartTime")); /* seconds */
  EXPECT_EQ_STR("1796209140", param(&p, "EndTime"));
  EXPECT_EQ_STR("2", param(&p, "PageNumber"));
  EXPECT_EQ_STR("50", param(&p, "PageSize"));
  rpc_params_clear(&p);
  /* The account's, naming instances: refused. */
  req.instance_ids = (const char *const *)ids;
  req.instance_count = 1;
  OK(api_request_params(&req, &p) != 0);
  EXPECT_EQ_UINT64(0, p.count);
  req.account = false; /* 300 InstanceIds: too many */
  req.instance_count = 300;
  OK(api_request_params(&req, &p) != 0);
  return 0;
}

/* Each statistic's request names only what its operation's request model
 * has (SDK models, doc/api-operations.md): ResourceGroupId, when the block
 * has one, goes to every operation but DescribeBlackholeStatus and
 * DescribeNetworkRules; Port only to DescribePortConnsCount. */
DEF_TEST(only_documented_parameters) {
  static const struct {
    const char *action;
    bool resource_group, port, domain;
  } models[] = {
      {"DescribePortConnsCount", true, true, false},
      {"DescribePortFlowList", true, false, false},
      {"DescribeBlackholeStatus", false, false, false},
      {"DescribeDDoSEvents", true, false, false},
      {"DescribePortMaxConns", true, false, false},
      {"DescribeDomainQPSList", true, false, true},
      {"DescribeDomainStatusCodeList", true, false, true},
      {"DescribeDomainBps", false, false, true}, /* and Region */
      {"DescribeDomainAttackEvents", true, false, true},
      {"DescribeDDosAllEventList", false, false, false},
      {"DescribeInstanceSpecs", false, false, false},
      {"DescribeInstanceStatistics", false, false, false},
      {"DescribeDefenseCountStatistics", true, false, false},
      {"DescribeUnBlackholeCount", true, false, false},
      {"DescribeHealthCheckStatus", false, false, false},
      {"DescribeInstances", true, false, false}, /* expiry, and the facts */
      {API_ACTION_INSTANCES, true, false, false},
      {API_ACTION_RULES, false, false, false},
      {API_ACTION_DOMAINS, true, false, false},
  };
  size_t n = sizeof(models) / sizeof(models[0]);
  EXPECT_EQ_UINT64(statistics_count + 3, n);
  const char *ids[] = {"ddoscoo-cn-a"};
  for (size_t i = 0; i < n; i++) {
    printf("# %s\n", models[i].action);
    const statistic_t *stat = statistic_of_action(models[i].action);
    rpc_params_t p = RPC_PARAMS_INIT;
    if (stat != NULL) {
      bool web = stat->scope == SCOPE_DOMAIN;
      bool account = stat->scope == SCOPE_ACCOUNT ||
                     stat->attribution == STAT_ACCOUNT_BY_IP,
           rules = stat->takes_rules;
      api_request_t req = {
          .takes = stat->takes,
          .resource_group_id = "rg-1",
          .instance_ids = (web || account || rules) ? NULL : ids,
          .instance_count = (web || account || rules) ? 0 : 1,
          .account = account,
          .network_rules = rules ? "[]" : NULL,
          .domain = web ? "www.example.com" : NULL,
          .port = stat->scope == SCOPE_PORT ? "80" : NULL,
          .start_time = 1796205540,
          .end_time = 1796205600,
      };
      CHECK_ZERO(api_request_params(&req, &p));
    } else if (strcmp(models[i].action, API_ACTION_INSTANCES) == 0) {
      CHECK_ZERO(api_instance_ids_params(NULL, "rg-1", &p));
    } else if (strcmp(models[i].action, API_ACTION_RULES) == 0) {
      CHECK_ZERO(api_network_rules_params(NULL, "rg-1", "ddoscoo-cn-a", 1,
                                          API_RULES_PAGE_SIZE, &p));
    } else {
      CHECK_ZERO(api_domains_params(NULL, "rg-1", ids, 1, &p));
    }
    bool resource_group = param(&p, "ResourceGroupId") != NULL,
         port = param(&p, "Port") != NULL, domain = param(&p, "Domain") != NULL;
    EXPECT_EQ_INT(models[i].resource_group, resource_group);
    EXPECT_EQ_INT(models[i].port, port);
    EXPECT_EQ_INT(models[i].domain, domain);
    rpc_params_clear(&p);
  }
  return 0;
}

int main(void) {
  RUN_TEST(only_documented_parameters);
  RUN_TEST(web_params);
  RUN_TEST(domain_bps_params);
  RUN_TEST(account_wide_params);
  RUN_TEST(window_end);
  RUN_TEST(windows_tile);
  RUN_TEST(params);
  RUN_TEST(invalid_requests);
  RUN_TEST(list_params);
  END_TEST;
}
