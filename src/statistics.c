/**
 * collectd-ddoscoo - src/statistics.c
 * SPDX-License-Identifier: MIT
 *
 * The table of statistics; see statistics.h. Operations, parameters and
 * fields: the official SDK's models (alibabacloud-go/ddoscoo-20200101) and
 * the API reference, summed up in doc/api-operations.md.
 */
#include "statistics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* DescribePortConnsCount: one window, a flat answer. */
static const api_field_t connections_fields[] = {
    {"Conns", API_FIELD_COUNT, true},
    {"ActConns", API_FIELD_COUNT, true},
    {"InActConns", API_FIELD_COUNT, true},
    {"Cps", API_FIELD_COUNT, true},
};
static const stat_value_t connections_values[] = {
    {"Conns", "current_connections", "concurrent"},
    {"ActConns", "current_connections", "active"},
    {"InActConns", "current_connections", "inactive"},
    {"Cps", "operations_per_second", "new_connections"},
};

/* DescribePortFlowList: a row per Interval bucket. bit/s go into "gauge",
 * not "bitrate": the stock bitrate type stops at 2^32 - 1 (4.29 Gbit/s),
 * and rrdtool stores anything above a data source's maximum as unknown. */
static const api_field_t traffic_fields[] = {
    {"Time", API_FIELD_COUNT, false},     {"Index", API_FIELD_COUNT, false},
    {"InBps", API_FIELD_COUNT, true},     {"OutBps", API_FIELD_COUNT, true},
    {"AttackBps", API_FIELD_COUNT, true}, {"InPps", API_FIELD_COUNT, true},
    {"OutPps", API_FIELD_COUNT, true},    {"AttackPps", API_FIELD_COUNT, true},
};
static const stat_value_t traffic_values[] = {
    {"InBps", "gauge", "in_bps"},
    {"OutBps", "gauge", "out_bps"},
    {"AttackBps", "gauge", "attack_bps"},
    {"InPps", "operations_per_second", "in_packets"},
    {"OutPps", "operations_per_second", "out_packets"},
    {"AttackPps", "operations_per_second", "attack_packets"},
};

/* DescribeBlackholeStatus: a row per IP of the instances, no instance ID
 * (the instance facts map each IP to its instance), no time: the state
 * when asked. */
static const api_field_t blackhole_fields[] = {
    {"Ip", API_FIELD_TEXT, true},
    {"BlackStatus", API_FIELD_TEXT, true},
    {"StartTime", API_FIELD_COUNT, false},
    {"EndTime", API_FIELD_COUNT, false},
};
static const stat_value_t blackhole_values[] = {
    {"BlackStatus", "bool", "<Ip>"}, /* 1 while the IP is blackholed */
    {"BlackStatus", "count", "blackholed_ips"},
};

static int blackhole_points(const statistic_t *stat, const api_rows_t *rows,
                            time_t first_end, time_t last_end, int window,
                            stat_emit_t emit, void *ctx, char *why,
                            size_t why_size);

/* DescribeDDoSEvents: a row per event of the instances (no instance ID:
 * its Ip says whose, through the instance facts),
 * in an order the docs do not give, paged; Port empty and Region absent on
 * blackholes (the docs' own example). */
static const api_field_t event_fields[] = {
    {"EventType", API_FIELD_TEXT, true}, {"Ip", API_FIELD_TEXT, false},
    {"Port", API_FIELD_TEXT, false},     {"StartTime", API_FIELD_COUNT, true},
    {"EndTime", API_FIELD_COUNT, false}, {"Bps", API_FIELD_COUNT, false},
    {"Pps", API_FIELD_COUNT, false},
};
enum { EV_TYPE, EV_IP, EV_PORT, EV_START, EV_END, EV_BPS, EV_PPS };
static const api_field_t event_root_fields[] = {
    {"Total", API_FIELD_COUNT, false},
};
static const stat_value_t event_values[] = {
    {"EventType", "count", "mitigation_events"},
    {"EventType", "count", "blackhole_events"},
    {"Bps", "gauge", "event_peak_bps"},
    {"Pps", "operations_per_second", "event_peak_packets"},
};

static int events_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size);

/* DescribePortMaxConns: a row per IP and port of the instances asked (no
 * instance ID: its Ip says whose, through the instance facts), Cps the
 * peak new connections per second of the range asked. A port's value is
 * the sum of its IPs' peaks (port_peak_points). */
static const api_field_t port_peak_fields[] = {
    {"Ip", API_FIELD_TEXT, true},
    {"Port", API_FIELD_TEXT, true},
    {"Cps", API_FIELD_COUNT, true},
};
static const stat_value_t port_peak_values[] = {
    /* in the port's series (per_port) */
    {"Cps", "operations_per_second", "max_new_connections"},
};

static int port_peak_points(const statistic_t *stat, const api_rows_t *rows,
                            time_t first_end, time_t last_end, int window,
                            stat_emit_t emit, void *ctx, char *why,
                            size_t why_size);

/* DescribeDomainQPSList: a row per Interval bucket of one domain (Domain;
 * without it, all domains together). Requests per second are gauges; the
 * requests and cache hits of a bucket are counts of that bucket (a gauge
 * of the minute, not a counter). */
static const api_field_t qps_fields[] = {
    {"Time", API_FIELD_COUNT, false},
    {"Index", API_FIELD_COUNT, false},
    {"TotalQps", API_FIELD_COUNT, true},
    {"AttackQps", API_FIELD_COUNT, true},
    {"MaxQps", API_FIELD_COUNT, true},
    {"MaxNormalQps", API_FIELD_COUNT, true},
    {"MaxAttackQps", API_FIELD_COUNT, true},
    {"CacheHits", API_FIELD_COUNT, true},
    {"TotalCount", API_FIELD_COUNT, true},
};
static const stat_value_t qps_values[] = {
    {"TotalQps", "operations_per_second", "total"},
    {"AttackQps", "operations_per_second", "attack"},
    {"MaxQps", "operations_per_second", "peak_total"},
    {"MaxNormalQps", "operations_per_second", "peak_normal"},
    {"MaxAttackQps", "operations_per_second", "peak_attack"},
    {"CacheHits", "count", "cache_hits"},
    {"TotalCount", "count", "requests"},
};

/* DescribeDomainStatusCodeList: a row per Interval bucket of one domain,
 * the responses of each class and of some codes. Asked twice: QueryType
 * "gf", the answers of Anti-DDoS (the edge), and "upstrem" (so spelled by
 * the SDK and the English reference), the origin's. The classes are
 * required; a code an answer leaves out (410 and 499 are undocumented)
 * gives no value. */
static const api_field_t status_code_fields[] = {
    {"Time", API_FIELD_COUNT, false},
    {"Index", API_FIELD_COUNT, false},
    {"Status2XX", API_FIELD_COUNT, true},
    {"Status3XX", API_FIELD_COUNT, true},
    {"Status4XX", API_FIELD_COUNT, true},
    {"Status5XX", API_FIELD_COUNT, true},
    {"Status200", API_FIELD_COUNT, false},
    {"Status403", API_FIELD_COUNT, false},
    {"Status404", API_FIELD_COUNT, false},
    {"Status405", API_FIELD_COUNT, false},
    {"Status410", API_FIELD_COUNT, false},
    {"Status499", API_FIELD_COUNT, false},
    {"Status501", API_FIELD_COUNT, false},
    {"Status502", API_FIELD_COUNT, false},
    {"Status503", API_FIELD_COUNT, false},
    {"Status504", API_FIELD_COUNT, false},
};
static const stat_value_t status_code_values[] = {
    {"Status2XX", "count", "2xx"}, {"Status3XX", "count", "3xx"},
    {"Status4XX", "count", "4xx"}, {"Status5XX", "count", "5xx"},
    {"Status200", "count", "200"}, {"Status403", "count", "403"},
    {"Status404", "count", "404"}, {"Status405", "count", "405"},
    {"Status410", "count", "410"}, {"Status499", "count", "499"},
    {"Status501", "count", "501"}, {"Status502", "count", "502"},
    {"Status503", "count", "503"}, {"Status504", "count", "504"},
};
/* The origin's QueryType: "upstrem" in the SDKs' models and the English
 * reference, "upstream" in the vendor's Chinese metadata; the one the
 * service refuses is not asked again (doc/api-operations.md). */
static const stat_variant_t status_code_variants[] = {
    {.param = "QueryType", .value = "gf", .prefix = "edge_"},
    {.param = "QueryType",
     .value = "upstrem",
     .prefix = "origin_",
     .alt_value = "upstream"},
};

/* DescribeDomainBps: a row per 5-minute bucket of one domain (Index, no
 * Time), its inbound and outbound bit/s; "gauge" as traffic's, for the same
 * reason, under names of their own: an instance's in_bps (traffic) and a
 * domain's are not one measure, and dashboards pick instances by in_bps. */
static const api_field_t domain_bps_fields[] = {
    {"Index", API_FIELD_COUNT, true},
    {"InBps", API_FIELD_COUNT, true},
    {"OutBps", API_FIELD_COUNT, true},
};
static const stat_value_t domain_bps_values[] = {
    {"InBps", "gauge", "domain_in_bps"},
    {"OutBps", "gauge", "domain_out_bps"},
};

/* DescribeDomainAttackEvents: a row per HTTP flood (CC attack) on one
 * domain (Domain), paged like DDoSEvents but counted by TotalCount; EndTime
 * of a flood still under way: not documented, taken as for DDoSEvents (0,
 * absent, or its planned end). Domain, the attacked domain, is the one
 * asked: not read. */
static const api_field_t cc_event_fields[] = {
    {"StartTime", API_FIELD_COUNT, true},
    {"EndTime", API_FIELD_COUNT, false},
    {"MaxQps", API_FIELD_COUNT, false},
};
enum { CC_START, CC_END, CC_MAX_QPS };
static const api_field_t cc_event_root_fields[] = {
    {"TotalCount", API_FIELD_COUNT, false},
};
static const stat_value_t cc_event_values[] = {
    {"StartTime", "count", "cc_events"},
    {"MaxQps", "operations_per_second", "cc_peak_qps"},
};

static int cc_points(const statistic_t *stat, const api_rows_t *rows,
                     time_t first_end, time_t last_end, int window,
                     stat_emit_t emit, void *ctx, char *why, size_t why_size);

/* DescribeDDosAllEventList: the attack events of the whole account (the
 * request names no instance), EventType cc, a row per connection flood
 * (CC) on an IP of an instance: Ip says whose, through the instance facts.
 * Paged like DDoSEvents, counted by Total. Mbps is Mbit/s, not bit/s. Area
 * (where the attack comes from) is not read. */
static const api_field_t all_event_fields[] = {
    {"EventType", API_FIELD_TEXT, true}, {"Ip", API_FIELD_TEXT, false},
    {"Port", API_FIELD_TEXT, false},     {"StartTime", API_FIELD_COUNT, true},
    {"EndTime", API_FIELD_COUNT, false}, {"Mbps", API_FIELD_COUNT, false},
    {"Pps", API_FIELD_COUNT, false},
};
enum { AE_TYPE, AE_IP, AE_PORT, AE_START, AE_END, AE_MBPS, AE_PPS };
static const stat_value_t all_event_values[] = {
    {"EventType", "count", "cc_instance_events"},
    {"Mbps", "gauge", "cc_instance_peak_bps"},
    {"Pps", "operations_per_second", "cc_instance_peak_packets"},
};

static int all_events_points(const statistic_t *stat, const api_rows_t *rows,
                             time_t first_end, time_t last_end, int window,
                             stat_emit_t emit, void *ctx, char *why,
                             size_t why_size);

/* DescribeInstanceSpecs: a row per instance asked (InstanceId), what its
 * plan protects and allows. Bandwidths in bit/s (Gbit/s and Mbit/s in the
 * answer), "gauge" as traffic's; RealLimitBw 0 is no limit, DefenseCount
 * -1 unlimited: no value. */
static const api_field_t capacity_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"BaseBandwidth", API_FIELD_COUNT, false},
    {"ElasticBandwidth", API_FIELD_COUNT, false},
    {"BandwidthMbps", API_FIELD_COUNT, false},
    {"ElasticBw", API_FIELD_COUNT, false},
    {"RealLimitBw", API_FIELD_COUNT, false},
    {"QpsLimit", API_FIELD_COUNT, false},
    {"ElasticQps", API_FIELD_COUNT, false},
    {"ConnLimit", API_FIELD_COUNT, false},
    {"CpsLimit", API_FIELD_COUNT, false},
    {"PortLimit", API_FIELD_COUNT, false},
    {"DomainLimit", API_FIELD_COUNT, false},
    {"SiteLimit", API_FIELD_COUNT, false},
    {"DefenseCount", API_FIELD_TEXT, false},
};
static const stat_value_t capacity_values[] = {
    {"BaseBandwidth", "gauge", "protection_base_bps"},
    {"ElasticBandwidth", "gauge", "protection_elastic_bps"},
    {"BandwidthMbps", "gauge", "clean_bps_limit"},
    {"ElasticBw", "gauge", "clean_elastic_bps_limit"},
    {"RealLimitBw", "gauge", "clean_rate_limit_bps"},
    {"QpsLimit", "operations_per_second", "qps_limit"},
    {"ElasticQps", "operations_per_second", "qps_elastic_limit"},
    {"ConnLimit", "current_connections", "concurrent_limit"},
    {"CpsLimit", "operations_per_second", "new_connections_limit"},
    {"PortLimit", "count", "port_limit"},
    {"DomainLimit", "count", "domain_limit"},
    {"SiteLimit", "count", "site_limit"},
    {"DefenseCount", "count", "advanced_mitigations_limit"},
};
static const stat_unit_t capacity_units[] = {
    {1e9, 0},
    {1e9, 0},
    {1e6, 0},
    {1e6, 0},
    {1e6, STAT_NONE_ZERO},
    {0, 0},
    {0, 0},
    {0, 0},
    {0, 0},
    {0, 0},
    {0, 0},
    {0, 0},
    {0, STAT_NONE_MINUS_ONE},
};

/* DescribeInstanceStatistics: a row per instance asked, what it uses of
 * the limits above. */
static const api_field_t usage_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"PortUsage", API_FIELD_COUNT, false},
    {"DomainUsage", API_FIELD_COUNT, false},
    {"SiteUsage", API_FIELD_COUNT, false},
    {"DefenseCountUsage", API_FIELD_COUNT, false},
};
static const stat_value_t usage_values[] = {
    {"PortUsage", "count", "port_usage"},
    {"DomainUsage", "count", "domain_usage"},
    {"SiteUsage", "count", "site_usage"},
    {"DefenseCountUsage", "count", "advanced_mitigations_used"},
};

/* DescribeDefenseCountStatistics: the account's advanced mitigations of
 * this calendar month (one struct, DefenseCountStatistics), and what is
 * left of them. */
static const api_field_t mitigations_fields[] = {
    {"MaxUsableDefenseCountCurrentMonth", API_FIELD_COUNT, true},
    {"DefenseCountTotalUsageOfCurrentMonth", API_FIELD_COUNT, true},
    {"FlowPackCountRemain", API_FIELD_COUNT, false},
    {"SecHighSpeedCountRemain", API_FIELD_COUNT, false},
};
static const stat_value_t mitigations_values[] = {
    {"MaxUsableDefenseCountCurrentMonth", "count",
     "advanced_mitigations_month_limit"},
    {"DefenseCountTotalUsageOfCurrentMonth", "count",
     "advanced_mitigations_month_used"},
    {"FlowPackCountRemain", "count", "advanced_mitigations_pack_left"},
    {"SecHighSpeedCountRemain", "count", "advanced_mitigations_sec_cma_left"},
    /* the limit less those used */
    {"MaxUsableDefenseCountCurrentMonth", "count", "advanced_mitigations_left"},
};

static int mitigations_points(const statistic_t *stat, const api_rows_t *rows,
                              time_t first_end, time_t last_end, int window,
                              stat_emit_t emit, void *ctx, char *why,
                              size_t why_size);

/* DescribeUnBlackholeCount: the account's blackhole releases, flat. */
static const api_field_t releases_fields[] = {
    {"RemainCount", API_FIELD_COUNT, true},
    {"TotalCount", API_FIELD_COUNT, false},
};
static const stat_value_t releases_values[] = {
    {"RemainCount", "count", "blackhole_releases_left"},
    {"TotalCount", "count", "blackhole_releases_total"},
};

/* DescribeHealthCheckStatus: a row per forwarding rule of the NetworkRules
 * asked, and in it a RealServerStatusList item per origin server: a row
 * per server here (api_parse_rows' nested fields). Per rule 1 (normal) or
 * 0, and its servers abnormal; how many rules are abnormal. */
static const api_field_t health_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"Protocol", API_FIELD_TEXT, true},
    {"FrontendPort", API_FIELD_COUNT, true},
    {"Status", API_FIELD_TEXT, true},
    {"RealServerStatusList/Address", API_FIELD_TEXT, false},
    {"RealServerStatusList/Status", API_FIELD_TEXT, false},
};
enum { HC_ID, HC_PROTOCOL, HC_PORT, HC_STATUS, HC_ADDRESS, HC_SERVER_STATUS };
static const stat_value_t health_values[] = {
    /* gauge, not bool: a bool of 1 is a blackholed IP to the alerts */
    {"Status", "gauge", "<rule_normal_Protocol_FrontendPort>"},
    {"RealServerStatusList/Status", "count",
     "<abnormal_servers_Protocol_FrontendPort>"},
    {"Status", "count", "abnormal_rules"},
};

static int health_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size);

/* DescribeInstances: a row per instance asked (InstanceId), when it
 * expires (ExpireTime, ms), whether it is expired (Status 2; 1 normal),
 * forwards (Enabled 1; 0 stopped) and owes (DebtStatus: 0 none). The
 * seconds until it expires, 0 once it has ("timeleft" stops at 0). */
static const api_field_t expiry_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"ExpireTime", API_FIELD_COUNT, true},
    {"Status", API_FIELD_COUNT, true},
    {"Enabled", API_FIELD_COUNT, false},
    {"DebtStatus", API_FIELD_COUNT, false},
};
enum { EX_ID, EX_EXPIRE, EX_STATUS, EX_ENABLED, EX_DEBT };
static const stat_value_t expiry_values[] = {
    {"ExpireTime", "timeleft", "expiry"},
    {"Status", "gauge", "instance_status"},
    {"Enabled", "gauge", "enabled"},
    {"DebtStatus", "gauge", "debt_status"},
};

static int expiry_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size);

const statistic_t statistics[] = {
    {
        .name = "connections",
        .action = "DescribePortConnsCount",
        .takes = API_TAKES_RESOURCE_GROUP | API_TAKES_PORT,
        .scope = SCOPE_PORT,
        .fields = connections_fields,
        .field_count = COUNT_OF(connections_fields),
        .values = connections_values,
        .value_count = COUNT_OF(connections_values),
        .max_response = 64 * 1024, /* four numbers and a RequestId */
        .max_instances = 100,
        .state_suffix = "",
    },
    {
        .name = "traffic",
        .action = "DescribePortFlowList",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_INSTANCE,
        /* The longest range for which the reference recommends Interval 60. */
        .batch_seconds = 3600,
        .takes_interval = true,
        .list = "PortFlowList",
        .time_field = "Time",
        .index_field = "Index",
        .fields = traffic_fields,
        .field_count = COUNT_OF(traffic_fields),
        .values = traffic_values,
        .value_count = COUNT_OF(traffic_values),
        /* An hour of rows, one per source region on Premium (six). */
        .max_response = 1024 * 1024,
        .max_instances = 100,
        .state_suffix = "/traffic",
    },
    {
        .name = "blackhole",
        .action = "DescribeBlackholeStatus",
        .takes = 0, /* InstanceIds alone, no ResourceGroupId */
        .scope = SCOPE_INSTANCE,
        .list = "BlackholeStatus",
        .fields = blackhole_fields,
        .field_count = COUNT_OF(blackhole_fields),
        .values = blackhole_values,
        .value_count = COUNT_OF(blackhole_values),
        .max_response = 1024 * 1024, /* a row per IP */
        .max_instances = 20,         /* InstanceIds: maxItems 20 */
        .attribution = STAT_BY_IP,   /* a row per IP, no instance ID */
        .attribution_field = "Ip",
        .timeless = true,
        .points = blackhole_points,
        .state_suffix = "/blackhole",
    },
    {
        .name = "events",
        .action = "DescribeDDoSEvents",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_INSTANCE,
        .batch_seconds = 3600,
        .lookback = 86400, /* events of the last day that still run */
        .list = "DDoSEvents",
        .fields = event_fields,
        .field_count = COUNT_OF(event_fields),
        .root_fields = event_root_fields,
        .root_field_count = COUNT_OF(event_root_fields),
        .values = event_values,
        .value_count = COUNT_OF(event_values),
        .max_response = 1024 * 1024, /* a page of events (50) */
        .max_instances = 100,        /* InstanceIds: maxItems 100 */
        .attribution = STAT_BY_IP,   /* events carry Ip, no instance ID */
        .attribution_field = "Ip",
        .points = events_points,
        .state_suffix = "/events",
    },
    {
        .name = "max_new_connections",
        .action = "DescribePortMaxConns",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_INSTANCE,
        .list = "PortMaxConns",
        .fields = port_peak_fields,
        .field_count = COUNT_OF(port_peak_fields),
        .values = port_peak_values,
        .value_count = COUNT_OF(port_peak_values),
        /* A row per IP and port: 100 instances of 50 ports are ~400 KB. */
        .max_response = 2 * 1024 * 1024,
        .max_instances = 100,      /* InstanceIds: maxItems 100 */
        .attribution = STAT_BY_IP, /* a row per IP and port, no instance ID */
        .attribution_field = "Ip",
        .points = port_peak_points,
        .per_port = true,
        .state_suffix = "/max_new_connections",
    },
    {
        .name = "qps",
        .action = "DescribeDomainQPSList",
        .takes = API_TAKES_RESOURCE_GROUP | API_TAKES_DOMAIN,
        .scope = SCOPE_DOMAIN,
        .batch_seconds = 3600, /* as traffic: Interval 60 up to an hour */
        .takes_interval = true,
        .list = "DomainQPSList",
        .time_field = "Time",
        .index_field = "Index",
        .fields = qps_fields,
        .field_count = COUNT_OF(qps_fields),
        .values = qps_values,
        .value_count = COUNT_OF(qps_values),
        .max_response = 1024 * 1024, /* an hour of rows, ~400 bytes each */
        .state_suffix = "/qps",
    },
    {
        .name = "status_codes",
        .action = "DescribeDomainStatusCodeList",
        .takes = API_TAKES_RESOURCE_GROUP | API_TAKES_DOMAIN,
        .scope = SCOPE_DOMAIN,
        .batch_seconds = 3600,
        .takes_interval = true,
        .list = "StatusCodeList",
        .time_field = "Time",
        .index_field = "Index",
        .fields = status_code_fields,
        .field_count = COUNT_OF(status_code_fields),
        .values = status_code_values,
        .value_count = COUNT_OF(status_code_values),
        .max_response = 1024 * 1024, /* an hour of rows, ~600 bytes each */
        .state_suffix = "/status_codes",
        .variants = status_code_variants,
        .variant_count = COUNT_OF(status_code_variants),
    },
    {
        .name = "domain_bps",
        .action = "DescribeDomainBps",
        /* Region, the domain's service region, is required: the block's
         * (api_service_region); no ResourceGroupId in the model. */
        .takes = API_TAKES_DOMAIN | API_TAKES_REGION,
        .scope = SCOPE_DOMAIN,
        .window = 300, /* Interval: 300 s at the finest */
        /* Interval 300 takes a range under 3 days: STAT_MAX_BATCH windows,
         * five hours. */
        .batch_seconds = STAT_MAX_BATCH * 300,
        .takes_interval = true,
        .list = "DomainBps",
        .index_field = "Index",
        .fields = domain_bps_fields,
        .field_count = COUNT_OF(domain_bps_fields),
        .values = domain_bps_values,
        .value_count = COUNT_OF(domain_bps_values),
        .max_response = 256 * 1024, /* 60 rows of ~100 bytes */
        .state_suffix = "/domain_bps",
    },
    {
        .name = "cc_events",
        .action = "DescribeDomainAttackEvents",
        .takes = API_TAKES_RESOURCE_GROUP | API_TAKES_DOMAIN,
        .scope = SCOPE_DOMAIN,
        .batch_seconds = 3600,
        .lookback = 86400, /* floods of the last day that still run */
        .list = "DomainAttackEvents",
        .fields = cc_event_fields,
        .field_count = COUNT_OF(cc_event_fields),
        .root_fields = cc_event_root_fields,
        .root_field_count = COUNT_OF(cc_event_root_fields),
        .values = cc_event_values,
        .value_count = COUNT_OF(cc_event_values),
        .max_response = 1024 * 1024, /* a page of floods (50) */
        .points = cc_points,
        .state_suffix = "/cc_events",
    },
    {
        .name = "instance_cc_events",
        .action = "DescribeDDosAllEventList",
        .takes = 0, /* no ResourceGroupId, no InstanceIds */
        .scope = SCOPE_INSTANCE,
        .batch_seconds = 3600,
        .lookback = 86400, /* floods of the last day that still run */
        .list = "AttackEvents",
        .fields = all_event_fields,
        .field_count = COUNT_OF(all_event_fields),
        .root_fields = event_root_fields, /* Total */
        .root_field_count = COUNT_OF(event_root_fields),
        .values = all_event_values,
        .value_count = COUNT_OF(all_event_values),
        .max_response = 1024 * 1024, /* a page of events (50) */
        .max_instances = SIZE_MAX,   /* names none: every instance at once */
        .attribution = STAT_ACCOUNT_BY_IP,
        .attribution_field = "Ip",
        .points = all_events_points,
        .state_suffix = "/instance_cc_events",
        /* One type a request: a web-cc event's Ip is its domain, no IP to
         * attribute (cc_events has the domains' floods). */
        .fixed_param = "EventType",
        .fixed_value = "cc",
        .event = stat_all_event,
    },
    {
        .name = "capacity",
        .action = "DescribeInstanceSpecs",
        .takes = 0, /* InstanceIds alone (required, maxItems 100) */
        .scope = SCOPE_INSTANCE,
        .list = "InstanceSpecs",
        .fields = capacity_fields,
        .field_count = COUNT_OF(capacity_fields),
        .values = capacity_values,
        .value_count = COUNT_OF(capacity_values),
        .units = capacity_units,
        .max_response = 64 * 1024, /* a row of numbers */
        .max_instances = 100,
        .attribution = STAT_BY_INSTANCE_ID, /* a row per instance asked */
        .attribution_field = "InstanceId",
        .timeless = true,
        .slow = true,
        .instance_field = "InstanceId",
        .state_suffix = "/capacity",
    },
    {
        .name = "usage",
        .action = "DescribeInstanceStatistics",
        .takes = 0, /* InstanceIds alone (required, maxItems 100) */
        .scope = SCOPE_INSTANCE,
        .list = "InstanceStatistics",
        .fields = usage_fields,
        .field_count = COUNT_OF(usage_fields),
        .values = usage_values,
        .value_count = COUNT_OF(usage_values),
        .max_response = 64 * 1024,
        .max_instances = 100,
        .attribution = STAT_BY_INSTANCE_ID, /* a row per instance asked */
        .attribution_field = "InstanceId",
        .timeless = true,
        .slow = true,
        .instance_field = "InstanceId",
        .state_suffix = "/usage",
    },
    {
        .name = "advanced_mitigations",
        .action = "DescribeDefenseCountStatistics",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_ACCOUNT,
        .list = "DefenseCountStatistics", /* one struct: one row */
        .fields = mitigations_fields,
        .field_count = COUNT_OF(mitigations_fields),
        .values = mitigations_values,
        .value_count = COUNT_OF(mitigations_values),
        .max_response = 64 * 1024,
        .timeless = true,
        .slow = true,
        .points = mitigations_points,
        .state_suffix = "/advanced_mitigations",
    },
    {
        .name = "blackhole_releases",
        .action = "DescribeUnBlackholeCount",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_ACCOUNT,
        .fields = releases_fields,
        .field_count = COUNT_OF(releases_fields),
        .values = releases_values,
        .value_count = COUNT_OF(releases_values),
        .max_response = 64 * 1024,
        .timeless = true,
        .slow = true,
        .state_suffix = "/blackhole_releases",
    },
    {
        .name = "health",
        .action = "DescribeHealthCheckStatus",
        .takes = 0, /* NetworkRules alone (required) */
        .scope = SCOPE_INSTANCE,
        .list = "HealthCheckStatus",
        .fields = health_fields,
        .field_count = COUNT_OF(health_fields),
        .values = health_values,
        .value_count = COUNT_OF(health_values),
        .max_response = 1024 * 1024, /* a row per rule and origin server */
        .max_instances = 1,
        .timeless = true,
        .slow = true,
        .takes_rules = true,
        .instance_field = "InstanceId",
        .points = health_points,
        .state_suffix = "/health",
    },
    {
        .name = "expiry",
        .action = "DescribeInstances",
        .takes = API_TAKES_RESOURCE_GROUP,
        .scope = SCOPE_INSTANCE,
        .list = "Instances",
        .fields = expiry_fields,
        .field_count = COUNT_OF(expiry_fields),
        .values = expiry_values,
        .value_count = COUNT_OF(expiry_values),
        .max_response = 1024 * 1024, /* 50 instances of ~700 bytes */
        /* InstanceIds: up to 200 (API reference), 100 here; PageSize 1 to
         * 50: as many instances a request as one page holds. */
        .max_instances = 50,
        .page_size = 50,
        .attribution = STAT_BY_INSTANCE_ID, /* a row per instance asked */
        .attribution_field = "InstanceId",
        .timeless = true,
        .slow = true,
        .instance_field = "InstanceId",
        .points = expiry_points,
        .notifies_expiry = true,
        .state_suffix = "/expiry",
    },
};
const size_t statistics_count = COUNT_OF(statistics);

const statistic_t *statistic_find(const char *name) {
  for (size_t i = 0; i < statistics_count; i++)
    if (strcasecmp(statistics[i].name, name) == 0)
      return statistics + i;
  return NULL;
}

const statistic_t *statistic_of_action(const char *action) {
  for (size_t i = 0; i < statistics_count; i++)
    if (strcmp(statistics[i].action, action) == 0)
      return statistics + i;
  return NULL;
}

/* The index of the field named name, or -1. */
static int field_index(const statistic_t *stat, const char *name) {
  for (size_t f = 0; name != NULL && f < stat->field_count; f++)
    if (strcmp(stat->fields[f].name, name) == 0)
      return (int)f;
  return -1;
}

/* Value v of a row, field f holding it: the count (or, for a text field,
 * an integer), NAN where it means none, in the value's unit. Returns 0, or
 * -1 with why for a text that is no integer, or negative other than a -1
 * that means none. */
static int value_of(const statistic_t *stat, size_t v, int f,
                    const api_value_t *field, double *x, char *why,
                    size_t why_size) {
  const stat_value_t *sv = stat->values + v;
  stat_unit_t unit = stat->units ? stat->units[v] : (stat_unit_t){0, 0};
  if (stat->fields[f].kind == API_FIELD_TEXT) {
    const char *t = field->text;
    size_t digits = strspn(t + (t[0] == '-'), "0123456789");
    if (digits == 0 || digits > 15 || t[(t[0] == '-') + digits] != 0 ||
        (t[0] == '-' &&
         !((unit.none & STAT_NONE_MINUS_ONE) && strcmp(t, "-1") == 0))) {
      char shown[48];
      stat_escape(t, shown, sizeof(shown));
      snprintf(why, why_size, "<%s> is \"%s\", neither a count nor -1",
               sv->field, shown);
      return -1;
    }
    if (t[0] == '-') {
      *x = NAN; /* unlimited */
      return 0;
    }
    *x = strtod(t, NULL);
  } else {
    *x = (double)field->count;
  }
  if ((unit.none & STAT_NONE_ZERO) && *x == 0)
    *x = NAN;
  else if (unit.scale != 0)
    *x *= unit.scale;
  return 0;
}

int stat_windows(const statistic_t *stat, const api_rows_t *rows,
                 time_t first_end, time_t last_end, int window, double *values,
                 bool *seen, char *why, size_t why_size) {
  size_t windows = (size_t)((last_end - first_end) / window) + 1;
  for (size_t i = 0; i < windows * stat->value_count; i++)
    values[i] = NAN;
  memset(seen, 0, windows * sizeof(*seen));
  int time_f = field_index(stat, stat->time_field);
  int index_f = field_index(stat, stat->index_field);
  int value_f[STAT_MAX_VALUES];
  for (size_t v = 0; v < stat->value_count; v++)
    value_f[v] = field_index(stat, stat->values[v].field);
  time_t start = first_end - window; /* the request's StartTime */

  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    size_t k = 0;
    if (stat->list != NULL && time_f < 0 && index_f < 0) {
      k = windows - 1; /* a state: the newest window */
    } else if (stat->list != NULL) {
      /* Time, the bucket's start, or else Index, buckets from StartTime. */
      uint64_t offset;
      if (time_f >= 0 && row[time_f].present) {
        if (row[time_f].count < (uint64_t)start) {
          snprintf(why, why_size, "a row's Time %llu is before StartTime %lld",
                   (unsigned long long)row[time_f].count, (long long)start);
          return -1;
        }
        offset = row[time_f].count - (uint64_t)start;
      } else if (index_f >= 0 && row[index_f].present) {
        offset = row[index_f].count * (uint64_t)window;
      } else {
        snprintf(why, why_size, "a row has neither %s nor %s",
                 stat->time_field ? stat->time_field : "Time",
                 stat->index_field ? stat->index_field : "Index");
        return -1;
      }
      if (offset % (uint64_t)window != 0 ||
          offset / (uint64_t)window >= windows) {
        snprintf(
            why, why_size,
            "a row %llu s after StartTime %lld is not a bucket of the %d s "
            "windows asked for",
            (unsigned long long)offset, (long long)start, window);
        return -1;
      }
      k = (size_t)(offset / (uint64_t)window);
    }
    seen[k] = true;
    for (size_t v = 0; v < stat->value_count; v++) {
      int f = value_f[v];
      double *sum = values + k * stat->value_count + v, x;
      if (f < 0 || !row[f].present)
        continue;
      if (value_of(stat, v, f, row + f, &x, why, why_size) != 0)
        return -1;
      if (!isnan(x))
        *sum = isnan(*sum) ? x : *sum + x;
    }
  }
  return 0;
}

bool stat_named_by_answer(const statistic_t *stat, const char *type) {
  for (size_t v = 0; v < stat->value_count; v++)
    if ((stat->per_port || stat->values[v].type_instance[0] == '<') &&
        strcmp(stat->values[v].type, type) == 0)
      return true;
  return false;
}

bool stat_ip_name(const char *ip, char *out, size_t size) {
  unsigned char addr[16];
  char text[INET6_ADDRSTRLEN];
  int family = (strchr(ip, ':') != NULL) ? AF_INET6 : AF_INET;
  if (size > 0)
    out[0] = 0;
  if (inet_pton(family, ip, addr) != 1 ||
      inet_ntop(family, addr, text, sizeof(text)) == NULL ||
      strlen(text) >= size)
    return false;
  for (char *c = text; *c != 0; c++)
    if (*c == ':')
      *c = '_';
  memcpy(out, text, strlen(text) + 1);
  return true;
}

/* The length of the well-formed UTF-8 character at s (lead byte >= 0x80),
 * its code point in *cp; 0 if malformed (overlong, a surrogate, beyond
 * U+10FFFF, cut short). */
static size_t utf8_char(const unsigned char *s, unsigned *cp) {
  size_t len = (s[0] >= 0xF0) ? 4 : (s[0] >= 0xE0) ? 3 : (s[0] >= 0xC2) ? 2 : 0;
  if (len == 0 || s[0] > 0xF4)
    return 0;
  unsigned c = s[0] & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < least[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return len;
}

/* Code points that show as nothing, or break a line: spaces, controls,
 * format characters, noncharacters. */
static bool utf8_invisible(unsigned c) {
  static const unsigned ranges[][2] = {
      {0x80, 0xA0},       {0xAD, 0xAD},        {0x34F, 0x34F},
      {0x61C, 0x61C},     {0x115F, 0x1160},    {0x1680, 0x1680},
      {0x180B, 0x180E},   {0x2000, 0x200F},    {0x2028, 0x202F},
      {0x205F, 0x206F},   {0x3000, 0x3000},    {0x3164, 0x3164},
      {0xFDD0, 0xFDEF},   {0xFE00, 0xFE0F},    {0xFEFF, 0xFEFF},
      {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFFF},    {0x1D173, 0x1D17A},
      {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF},
  };
  if ((c & 0xFFFE) == 0xFFFE)
    return true;
  for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
    if (c >= ranges[i][0] && c <= ranges[i][1])
      return true;
  return false;
}

void stat_text_name(const char *text, char *out, size_t size, bool *cut) {
  size_t n = 0;
  *cut = false;
  if (size == 0)
    return;
  for (const unsigned char *r = (const unsigned char *)text; *r != 0;) {
    unsigned cp = 0;
    size_t len = (*r >= 0x80) ? utf8_char(r, &cp) : 1;
    bool keep = (len == 1)
                    ? (isalnum(*r) && *r < 0x80) || *r == '_' || *r == '-'
                    : len > 1 && !utf8_invisible(cp);
    size_t take = keep ? len : 1;
    if (n + take + 1 > size) {
      *cut = true;
      break;
    }
    if (keep)
      memcpy(out + n, r, len);
    else
      out[n] = '_';
    n += take;
    r += (len > 0) ? len : 1;
  }
  out[n] = 0;
  /* Nothing but underscores says nothing. */
  if (strspn(out, "_") == n)
    out[0] = 0;
}

/* The escaped form of c: itself, or \xHH. */
static const char *escape_char(unsigned char c, char one[5]) {
  if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
    one[0] = (char)c, one[1] = 0;
  else
    snprintf(one, 5, "\\x%02X", c);
  return one;
}

void stat_escape(const char *text, char *out, size_t size) {
  if (size == 0)
    return;
  char one[5];
  size_t full = 0;
  for (const unsigned char *t = (const unsigned char *)text; *t != 0; t++)
    full += strlen(escape_char(*t, one));
  /* All of it, or what fits with "...". */
  size_t room = (full < size) ? size - 1 : (size > 4 ? size - 4 : 0);
  size_t n = 0;
  for (const unsigned char *t = (const unsigned char *)text; *t != 0; t++) {
    escape_char(*t, one);
    if (n + strlen(one) > room)
      break;
    memcpy(out + n, one, strlen(one));
    n += strlen(one);
  }
  out[n] = 0;
  if (full >= size)
    snprintf(out + n, size - n, "...");
}

static int name_compare(const void *a, const void *b) { return strcmp(a, b); }

/* Per IP 1 (blackholed) or 0, and how many are; at the newest window. An
 * IP answered twice, or a status other than the two documented, is no
 * answer to trust. A row whose Ip is no IP address is left out (noted in
 * why): its name would become a series. */
static int blackhole_points(const statistic_t *stat, const api_rows_t *rows,
                            time_t first_end, time_t last_end, int window,
                            stat_emit_t emit, void *ctx, char *why,
                            size_t why_size) {
  (void)first_end, (void)window;
  int ip_f = field_index(stat, "Ip"),
      status_f = field_index(stat, "BlackStatus");
  typedef char name_t[INET6_ADDRSTRLEN];
  name_t *names = calloc(rows->count + 1, sizeof(*names));
  if (names == NULL) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  size_t refused = 0;
  const char *first_refused = NULL;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    const char *status = row[status_f].text;
    if (strcmp(status, "blackhole") != 0 && strcmp(status, "normal") != 0) {
      char shown[96], shown_status[64];
      stat_escape(row[ip_f].text, shown, sizeof(shown));
      stat_escape(status, shown_status, sizeof(shown_status));
      snprintf(why, why_size,
               "BlackStatus \"%s\" of \"%s\" is neither "
               "\"blackhole\" nor \"normal\"",
               shown_status, shown);
      free(names);
      return -1;
    }
    if (!stat_ip_name(row[ip_f].text, names[r], sizeof(names[r])) &&
        refused++ == 0)
      first_refused = row[ip_f].text;
  }
  /* Sorted, an IP answered twice is next to itself: a hostile answer of
   * thousands of rows costs n log n, not n^2. */
  name_t *sorted = malloc((rows->count + 1) * sizeof(*sorted));
  if (sorted == NULL) {
    snprintf(why, why_size, "out of memory");
    free(names);
    return -1;
  }
  memcpy(sorted, names, rows->count * sizeof(*sorted));
  qsort(sorted, rows->count, sizeof(*sorted), name_compare);
  for (size_t r = 1; r < rows->count; r++)
    if (sorted[r][0] != 0 && strcmp(sorted[r - 1], sorted[r]) == 0) {
      char shown[96];
      stat_escape(sorted[r], shown, sizeof(shown));
      snprintf(why, why_size, "Ip %s is answered twice", shown);
      free(sorted);
      free(names);
      return -1;
    }
  free(sorted);
  unsigned blackholed = 0;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    if (names[r][0] == 0)
      continue;
    bool on = strcmp(row[status_f].text, "blackhole") == 0;
    blackholed += on;
    emit(ctx, last_end, stat->values[0].type, names[r], on ? 1 : 0);
  }
  emit(ctx, last_end, stat->values[1].type, stat->values[1].type_instance,
       blackholed);
  free(names);
  if (refused > 0) {
    char shown[96];
    stat_escape(first_refused, shown, sizeof(shown));
    snprintf(why, why_size,
             "left out %zu of %zu rows whose Ip is no IPv4 or IPv6 address, "
             "the first \"%s\"",
             refused, rows->count, shown);
  }
  return 0;
}

/* A Port of an answer as a port number, 1 to 65535 in decimal digits; 0
 * for anything else. */
static unsigned port_number(const char *text) {
  size_t digits = strspn(text, "0123456789");
  if (digits == 0 || digits > 5 || text[digits] != 0)
    return 0;
  unsigned long n = strtoul(text, NULL, 10);
  return (n >= 1 && n <= 65535) ? (unsigned)n : 0;
}

typedef struct {
  unsigned port;
  char ip[INET6_ADDRSTRLEN]; /* stat_ip_name's */
  double cps;
} port_peak_t;

static int port_peak_compare(const void *x, const void *y) {
  const port_peak_t *a = x, *b = y;
  if (a->port != b->port)
    return (a->port > b->port) - (a->port < b->port);
  return strcmp(a->ip, b->ip);
}

/* Per port, the sum of its IPs' peaks, at the newest window: an instance
 * with several IPs answers a port once for each, and the sum is never
 * below the port's own peak (the IPs' peaks need not fall in the same
 * second, so it may be above). An IP and port answered twice is no answer
 * to trust. A row whose Ip is no IP address or whose Port is no port is
 * left out (noted in why): its port would name a series. */
static int port_peak_points(const statistic_t *stat, const api_rows_t *rows,
                            time_t first_end, time_t last_end, int window,
                            stat_emit_t emit, void *ctx, char *why,
                            size_t why_size) {
  (void)first_end, (void)window;
  int ip_f = field_index(stat, "Ip"), port_f = field_index(stat, "Port"),
      cps_f = field_index(stat, "Cps");
  port_peak_t *peaks = calloc(rows->count + 1, sizeof(*peaks));
  if (peaks == NULL) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  size_t n = 0, refused = 0;
  const api_value_t *first_refused = NULL;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    port_peak_t *p = peaks + n;
    p->port = port_number(row[port_f].text);
    if (p->port == 0 || !stat_ip_name(row[ip_f].text, p->ip, sizeof(p->ip))) {
      if (refused++ == 0)
        first_refused = row;
      continue;
    }
    p->cps = (double)row[cps_f].count;
    n++;
  }
  /* Sorted, an IP and port answered twice is next to itself. */
  qsort(peaks, n, sizeof(*peaks), port_peak_compare);
  for (size_t k = 1; k < n; k++)
    if (port_peak_compare(peaks + k - 1, peaks + k) == 0) {
      char shown[96];
      stat_escape(peaks[k].ip, shown, sizeof(shown));
      snprintf(why, why_size, "Ip %s, Port %u is answered twice", shown,
               peaks[k].port);
      free(peaks);
      return -1;
    }
  for (size_t k = 0; k < n;) {
    double sum = 0;
    size_t j = k;
    for (; j < n && peaks[j].port == peaks[k].port; j++)
      sum += peaks[j].cps;
    char name[8];
    snprintf(name, sizeof(name), "%u", peaks[k].port);
    emit(ctx, last_end, stat->values[0].type, name, sum);
    k = j;
  }
  free(peaks);
  if (refused > 0) {
    char ip[96], port[48];
    stat_escape(first_refused[ip_f].text, ip, sizeof(ip));
    stat_escape(first_refused[port_f].text, port, sizeof(port));
    snprintf(why, why_size,
             "left out %zu of %zu rows whose Ip is no IPv4 or IPv6 address or "
             "whose Port is no port from 1 to 65535, the first Ip \"%s\", "
             "Port \"%s\"",
             refused, rows->count, ip, port);
  }
  return 0;
}

stat_pages_t stat_next_page(uint64_t total, int page, int page_size,
                            size_t page_rows) {
  if (page_rows == 0 || page_size <= 0 ||
      (uint64_t)page * (uint64_t)page_size >= total)
    return STAT_PAGES_DONE;
  return (page >= STAT_MAX_PAGES) ? STAT_PAGES_CAPPED : STAT_PAGES_MORE;
}

static bool same_row(const api_value_t *a, const api_value_t *b, size_t n) {
  for (size_t f = 0; f < n; f++)
    if (a[f].present != b[f].present || a[f].count != b[f].count ||
        strcmp(a[f].text, b[f].text) != 0)
      return false;
  return true;
}

int stat_rows_append(api_rows_t *all, api_rows_t *page) {
  if (all->values == NULL && all->root == NULL) {
    *all = *page;
    *page = (api_rows_t){0};
    return 0;
  }
  size_t n = all->field_count;
  if (page->count > 0 && page->field_count != n)
    return -1;
  if (page->count > 0) {
    api_value_t *values =
        realloc(all->values, (all->count + page->count) * n * sizeof(*values));
    if (values == NULL)
      return -1;
    all->values = values;
  }
  size_t before = all->count;
  for (size_t r = 0; r < page->count; r++) {
    const api_value_t *row = page->values + r * n;
    bool seen = false;
    for (size_t k = 0; k < before && !seen; k++)
      seen = same_row(all->values + k * n, row, n);
    if (!seen)
      memcpy(all->values + n * all->count++, row, n * sizeof(*row));
  }
  if (page->root != NULL) {
    free(all->root);
    all->root = page->root;
    page->root = NULL;
  }
  free(page->values);
  *page = (api_rows_t){0};
  return 0;
}

void stat_event(const api_rows_t *rows, size_t r, stat_event_t *e) {
  const api_value_t *row = rows->values + r * rows->field_count;
  *e = (stat_event_t){
      .type = row[EV_TYPE].text,
      .ip = row[EV_IP].text,
      .port = row[EV_PORT].text,
      .start = (time_t)row[EV_START].count,
      .end = row[EV_END].present ? (time_t)row[EV_END].count : 0,
      .bps = row[EV_BPS].count,
      .pps = row[EV_PPS].count,
  };
}

bool stat_event_names_ok(const stat_event_t *e) {
  char ip[INET6_ADDRSTRLEN];
  size_t digits = strspn(e->port, "0123456789");
  return (e->ip[0] == 0 || stat_ip_name(e->ip, ip, sizeof(ip))) &&
         (e->port[0] == 0 || (digits == strlen(e->port) && digits <= 5 &&
                              atoi(e->port) >= 1 && atoi(e->port) <= 65535));
}

/* Per window: mitigation and blackhole events under way at some time in
 * it, and the largest attack among them. */
static int events_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size) {
  for (size_t r = 0; r < rows->count; r++) {
    stat_event_t e;
    stat_event(rows, r, &e);
    if (strcmp(e.type, "defense") != 0 && strcmp(e.type, "blackhole") != 0) {
      snprintf(why, why_size,
               "EventType \"%s\" is neither \"defense\" nor \"blackhole\"",
               e.type);
      return -1;
    }
    if (e.end != 0 && e.end < e.start) {
      snprintf(why, why_size, "an event of %s ends before it starts", e.ip);
      return -1;
    }
  }
  for (time_t end = first_end; end <= last_end; end += window) {
    double mitigation = 0, blackhole = 0, bps = 0, pps = 0;
    for (size_t r = 0; r < rows->count; r++) {
      stat_event_t e;
      stat_event(rows, r, &e);
      if (e.start >= end || (e.end != 0 && e.end <= end - window))
        continue; /* not under way in this window */
      if (strcmp(e.type, "defense") == 0)
        mitigation++;
      else
        blackhole++;
      if ((double)e.bps > bps)
        bps = (double)e.bps;
      if ((double)e.pps > pps)
        pps = (double)e.pps;
    }
    const stat_value_t *v = stat->values;
    emit(ctx, end, v[0].type, v[0].type_instance, mitigation);
    emit(ctx, end, v[1].type, v[1].type_instance, blackhole);
    emit(ctx, end, v[2].type, v[2].type_instance, bps);
    emit(ctx, end, v[3].type, v[3].type_instance, pps);
  }
  return 0;
}

int stat_event_notify(
    const stat_event_t *e, int notified, time_t since, time_t now,
    void (*notify)(void *ctx, const stat_event_t *e, bool started), void *ctx) {
  bool over = e->end != 0 && e->end <= now;
  if (notified == 0 && over && e->end < since)
    return 2; /* long over when first seen: history, not news */
  if (notified < 1)
    notify(ctx, e, true);
  if (over && notified < 2) {
    notify(ctx, e, false);
    return 2;
  }
  return (notified > 1) ? notified : 1;
}

int stat_points(const statistic_t *stat, const api_rows_t *rows,
                time_t first_end, time_t last_end, int window, stat_emit_t emit,
                void *ctx, char *why, size_t why_size) {
  if (stat->points != NULL)
    return stat->points(stat, rows, first_end, last_end, window, emit, ctx, why,
                        why_size);
  double values[STAT_MAX_BATCH * STAT_MAX_VALUES];
  bool seen[STAT_MAX_BATCH];
  if (stat_windows(stat, rows, first_end, last_end, window, values, seen, why,
                   why_size) != 0)
    return -1;
  size_t windows = (size_t)((last_end - first_end) / window) + 1;
  for (size_t k = 0; k < windows; k++)
    for (size_t v = 0; seen[k] && v < stat->value_count; v++)
      if (!isnan(values[k * stat->value_count + v]))
        emit(ctx, first_end + (time_t)k * window, stat->values[v].type,
             stat->values[v].type_instance, values[k * stat->value_count + v]);
  return 0;
}

int stat_rows_of_instances(const statistic_t *stat, api_rows_t *rows,
                           const char *const *ids, size_t id_count, char *why,
                           size_t why_size) {
  int id_f = field_index(stat, stat->instance_field);
  if (id_f < 0)
    return 0;
  size_t kept = 0, left_out = 0, n = rows->field_count;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * n;
    const char *id = row[id_f].text;
    bool asked = false;
    for (size_t i = 0; i < id_count && !asked; i++)
      asked = strcmp(ids[i], id) == 0;
    if (!asked) {
      if (left_out++ == 0) {
        char shown[96];
        stat_escape(id, shown, sizeof(shown));
        snprintf(why, why_size,
                 "a row of %s \"%s\", an instance the request did not name",
                 stat->instance_field, shown);
      }
      continue;
    }
    /* Mapped fields (no points of its own) are a row per instance: a
     * second would be added to the first. */
    for (size_t k = 0; stat->points == NULL && k < kept; k++)
      if (strcmp(rows->values[k * n + id_f].text, id) == 0) {
        char shown[96];
        stat_escape(id, shown, sizeof(shown));
        snprintf(why, why_size, "%s \"%s\" is answered twice",
                 stat->instance_field, shown);
        return -1;
      }
    if (kept != r)
      memcpy(rows->values + kept * n, row, n * sizeof(*row));
    kept++;
  }
  rows->count = kept;
  return (int)left_out;
}

/* The month's advanced mitigations: the fields, and what is left of them
 * (the limit less those used, not below 0). */
static int mitigations_points(const statistic_t *stat, const api_rows_t *rows,
                              time_t first_end, time_t last_end, int window,
                              stat_emit_t emit, void *ctx, char *why,
                              size_t why_size) {
  (void)first_end, (void)window;
  if (rows->count != 1) {
    snprintf(why, why_size, "%zu <%s> where one is expected", rows->count,
             stat->list);
    return -1;
  }
  const api_value_t *row = rows->values;
  for (size_t v = 0; v + 1 < stat->value_count; v++) {
    int f = field_index(stat, stat->values[v].field);
    if (f >= 0 && row[f].present)
      emit(ctx, last_end, stat->values[v].type, stat->values[v].type_instance,
           (double)row[f].count);
  }
  double limit = (double)row[0].count, used = (double)row[1].count;
  const stat_value_t *left = stat->values + stat->value_count - 1;
  emit(ctx, last_end, left->type, left->type_instance,
       used < limit ? limit - used : 0);
  return 0;
}

/* Row r's rule, "tcp_80", or false (why) for a Protocol or FrontendPort
 * that is none. */
static bool rule_name(const api_value_t *row, char *out, size_t size, char *why,
                      size_t why_size) {
  const char *p = row[HC_PROTOCOL].text;
  uint64_t port = row[HC_PORT].count;
  if ((strcmp(p, "tcp") != 0 && strcmp(p, "udp") != 0) || port < 1 ||
      port > 65535) {
    char shown[48];
    stat_escape(p, shown, sizeof(shown));
    snprintf(why, why_size, "a rule of Protocol \"%s\", FrontendPort %llu",
             shown, (unsigned long long)port);
    return false;
  }
  snprintf(out, size, "%s_%u", p, (unsigned)port);
  return true;
}

/* Whether a Status is "abnormal" (*abnormal) or "normal"; false for
 * anything else. */
static bool health_status(const char *status, bool *abnormal) {
  *abnormal = strcmp(status, "abnormal") == 0;
  return *abnormal || strcmp(status, "normal") == 0;
}

/* Whether row r, of the rule of row r - 1, is another of its servers (a
 * nested item flattened): both have one, the rule's Status is the same,
 * and its Address is none of the rule's rows before. */
static bool same_rule_again(const api_rows_t *rows, size_t r) {
  size_t n = rows->field_count;
  const api_value_t *row = rows->values + r * n;
  for (size_t k = r; k-- > 0;) {
    const api_value_t *o = rows->values + k * n;
    if (o[HC_PORT].count != row[HC_PORT].count ||
        strcmp(o[HC_PROTOCOL].text, row[HC_PROTOCOL].text) != 0)
      break;
    if (!o[HC_ADDRESS].present || !row[HC_ADDRESS].present ||
        strcmp(o[HC_STATUS].text, row[HC_STATUS].text) != 0 ||
        strcmp(o[HC_ADDRESS].text, row[HC_ADDRESS].text) == 0)
      return false;
  }
  return true;
}

/* Checks a health answer: rules named as rules are, each once (its rows
 * together, as nested items flatten), statuses of the two documented. */
static int health_check(const api_rows_t *rows, char *why, size_t why_size) {
  typedef char rule_t[16];
  rule_t *seen = calloc(rows->count + 1, sizeof(*seen));
  if (seen == NULL) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  size_t rules = 0;
  int status = 0;
  for (size_t r = 0; r < rows->count && status == 0; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    rule_t name;
    bool abnormal;
    if (!rule_name(row, name, sizeof(name), why, why_size)) {
      status = -1;
    } else if (!health_status(row[HC_STATUS].text, &abnormal) ||
               (row[HC_SERVER_STATUS].present &&
                !health_status(row[HC_SERVER_STATUS].text, &abnormal))) {
      snprintf(why, why_size,
               "a Status of rule %s is neither \"normal\" nor "
               "\"abnormal\"",
               name);
      status = -1;
    } else if (rules == 0 || strcmp(seen[rules - 1], name) != 0) {
      memcpy(seen[rules++], name, sizeof(name));
    } else if (!same_rule_again(rows, r)) {
      snprintf(why, why_size, "rule %s is answered twice", name);
      status = -1;
    }
  }
  if (status == 0) {
    qsort(seen, rules, sizeof(*seen), name_compare);
    for (size_t k = 1; k < rules && status == 0; k++)
      if (strcmp(seen[k - 1], seen[k]) == 0) {
        snprintf(why, why_size, "rule %s is answered twice", seen[k]);
        status = -1;
      }
  }
  free(seen);
  return status;
}

void stat_health_each(const api_rows_t *rows,
                      void (*each)(void *ctx, const char *rule,
                                   const char *address, bool abnormal),
                      void *ctx) {
  char why[8];
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    const api_value_t *prev = r ? row - rows->field_count : NULL;
    char name[16], address[STAT_ADDRESS_SIZE];
    bool abnormal, cut;
    if (!rule_name(row, name, sizeof(name), why, sizeof(why)))
      continue;
    if (prev == NULL || prev[HC_PORT].count != row[HC_PORT].count ||
        strcmp(prev[HC_PROTOCOL].text, row[HC_PROTOCOL].text) != 0) {
      health_status(row[HC_STATUS].text, &abnormal);
      each(ctx, name, NULL, abnormal);
    }
    if (!row[HC_ADDRESS].present || !row[HC_SERVER_STATUS].present)
      continue;
    if (!stat_ip_name(row[HC_ADDRESS].text, address, sizeof(address)))
      stat_text_name(row[HC_ADDRESS].text, address, sizeof(address), &cut);
    if (address[0] == 0)
      continue;
    health_status(row[HC_SERVER_STATUS].text, &abnormal);
    each(ctx, name, address, abnormal);
  }
}

int stat_health_step(int mark, bool abnormal, bool *notify) {
  int now = abnormal ? STAT_HEALTH_ABNORMAL : STAT_HEALTH_NORMAL;
  /* News: a change, or abnormal when first seen; normal when first seen
   * is how things should be. */
  *notify = (mark != now) && (mark != 0 || abnormal);
  return now;
}

/* Per rule 1 or 0 and its servers abnormal, how many rules are abnormal;
 * at the newest window. */
static int health_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size) {
  (void)first_end, (void)window;
  if (health_check(rows, why, why_size) != 0)
    return -1;
  unsigned abnormal_rules = 0;
  for (size_t r = 0; r < rows->count;) {
    const api_value_t *row = rows->values + r * rows->field_count;
    char name[16], ti[64];
    bool abnormal;
    rule_name(row, name, sizeof(name), why, why_size);
    health_status(row[HC_STATUS].text, &abnormal);
    abnormal_rules += abnormal;
    unsigned servers = 0;
    size_t k = r;
    for (; k < rows->count; k++) {
      const api_value_t *o = rows->values + k * rows->field_count;
      bool down;
      if (o[HC_PORT].count != row[HC_PORT].count ||
          strcmp(o[HC_PROTOCOL].text, row[HC_PROTOCOL].text) != 0)
        break;
      if (o[HC_SERVER_STATUS].present &&
          health_status(o[HC_SERVER_STATUS].text, &down))
        servers += down;
    }
    snprintf(ti, sizeof(ti), "rule_normal_%s", name);
    emit(ctx, last_end, stat->values[0].type, ti, abnormal ? 0 : 1);
    snprintf(ti, sizeof(ti), "abnormal_servers_%s", name);
    emit(ctx, last_end, stat->values[1].type, ti, servers);
    r = k;
  }
  emit(ctx, last_end, stat->values[2].type, stat->values[2].type_instance,
       abnormal_rules);
  why[0] = 0;
  return 0;
}

stat_spelling_step_t stat_spelling_refused(stat_spelling_t *sp,
                                           bool asked_alt) {
  if (asked_alt != sp->alt)
    return STAT_SPELLING_AGAIN;
  if (sp->settled)
    return STAT_SPELLING_KEEP;
  if (!sp->alt) {
    sp->alt = true;
    return STAT_SPELLING_SWITCHED;
  }
  /* Both refused: not a question of spelling; back to the first, for
   * good. */
  sp->alt = false;
  sp->settled = true;
  return STAT_SPELLING_KEEP;
}

void stat_spelling_answered(stat_spelling_t *sp, bool asked_alt) {
  if (asked_alt == sp->alt)
    sp->settled = true;
}

void statistics_names(char *buf, size_t size) {
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < statistics_count && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "",
                             statistics[i].name);
}

void stat_cc_event(const api_rows_t *rows, size_t r, stat_event_t *e) {
  const api_value_t *row = rows->values + r * rows->field_count;
  *e = (stat_event_t){
      .type = "cc",
      .ip = "",
      .port = "",
      .start = (time_t)row[CC_START].count,
      .end = row[CC_END].present ? (time_t)row[CC_END].count : 0,
      .qps = row[CC_MAX_QPS].count,
  };
}

/* Per window: the HTTP floods on the domain under way at some time in it,
 * and the highest peak QPS among them (0 without any). */
static int cc_points(const statistic_t *stat, const api_rows_t *rows,
                     time_t first_end, time_t last_end, int window,
                     stat_emit_t emit, void *ctx, char *why, size_t why_size) {
  for (size_t r = 0; r < rows->count; r++) {
    stat_event_t e;
    stat_cc_event(rows, r, &e);
    if (e.end != 0 && e.end < e.start) {
      snprintf(why, why_size,
               "a flood that started at %lld ends before it starts, at %lld",
               (long long)e.start, (long long)e.end);
      return -1;
    }
  }
  for (time_t end = first_end; end <= last_end; end += window) {
    double floods = 0, qps = 0;
    for (size_t r = 0; r < rows->count; r++) {
      stat_event_t e;
      stat_cc_event(rows, r, &e);
      if (e.start >= end || (e.end != 0 && e.end <= end - window))
        continue; /* not under way in this window */
      floods++;
      if ((double)e.qps > qps)
        qps = (double)e.qps;
    }
    emit(ctx, end, stat->values[0].type, stat->values[0].type_instance, floods);
    emit(ctx, end, stat->values[1].type, stat->values[1].type_instance, qps);
  }
  return 0;
}

void stat_all_event(const api_rows_t *rows, size_t r, stat_event_t *e) {
  const api_value_t *row = rows->values + r * rows->field_count;
  uint64_t mbps = row[AE_MBPS].count;
  *e = (stat_event_t){
      .type = row[AE_TYPE].text,
      .ip = row[AE_IP].text,
      .port = row[AE_PORT].text,
      .start = (time_t)row[AE_START].count,
      .end = row[AE_END].present ? (time_t)row[AE_END].count : 0,
      /* Mbit/s as bit/s, saturated rather than wrapped. */
      .bps = (mbps > UINT64_MAX / 1000000) ? UINT64_MAX : mbps * 1000000,
      .pps = row[AE_PPS].count,
  };
}

/* Per window: the connection floods (CC) on the instance under way at some
 * time in it, and the largest among them. */
static int all_events_points(const statistic_t *stat, const api_rows_t *rows,
                             time_t first_end, time_t last_end, int window,
                             stat_emit_t emit, void *ctx, char *why,
                             size_t why_size) {
  for (size_t r = 0; r < rows->count; r++) {
    stat_event_t e;
    stat_all_event(rows, r, &e);
    if (strcmp(e.type, stat->fixed_value) != 0) {
      char shown[64];
      stat_escape(e.type, shown, sizeof(shown));
      snprintf(why, why_size, "EventType \"%s\" is not the \"%s\" asked", shown,
               stat->fixed_value);
      return -1;
    }
    if (e.end != 0 && e.end < e.start) {
      char shown[96];
      stat_escape(e.ip, shown, sizeof(shown));
      snprintf(why, why_size, "an event of %s ends before it starts", shown);
      return -1;
    }
  }
  for (time_t end = first_end; end <= last_end; end += window) {
    double floods = 0, bps = 0, pps = 0;
    for (size_t r = 0; r < rows->count; r++) {
      stat_event_t e;
      stat_all_event(rows, r, &e);
      if (e.start >= end || (e.end != 0 && e.end <= end - window))
        continue; /* not under way in this window */
      floods++;
      if ((double)e.bps > bps)
        bps = (double)e.bps;
      if ((double)e.pps > pps)
        pps = (double)e.pps;
    }
    const stat_value_t *v = stat->values;
    emit(ctx, end, v[0].type, v[0].type_instance, floods);
    emit(ctx, end, v[1].type, v[1].type_instance, bps);
    emit(ctx, end, v[2].type, v[2].type_instance, pps);
  }
  return 0;
}

void stat_expiry(const api_rows_t *rows, size_t r, stat_expiry_t *e) {
  const api_value_t *row = rows->values + r * rows->field_count;
  e->instance_id = row[EX_ID].present ? row[EX_ID].text : "";
  e->expire = (time_t)(row[EX_EXPIRE].count / 1000);
  e->expired = row[EX_STATUS].count == 2;
  e->in_debt = row[EX_DEBT].present && row[EX_DEBT].count != 0;
}

int stat_expiry_level(const stat_expiry_t *e, time_t now, long long warning,
                      long long failure) {
  long long left = (long long)e->expire - (long long)now;
  if (e->expired || left <= 0)
    return STAT_EXPIRY_EXPIRED;
  if (left <= failure)
    return STAT_EXPIRY_FAILURE;
  return (left <= warning) ? STAT_EXPIRY_WARNING : STAT_EXPIRY_OK;
}

int stat_mark_step(int mark, int level, bool *notify) {
  /* First seen as it should be (1): nothing to say. */
  *notify = level != mark && !(mark == 0 && level == 1);
  return level;
}

static int expiry_points(const statistic_t *stat, const api_rows_t *rows,
                         time_t first_end, time_t last_end, int window,
                         stat_emit_t emit, void *ctx, char *why,
                         size_t why_size) {
  (void)first_end, (void)window, (void)why, (void)why_size;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * rows->field_count;
    long long left = (long long)(row[EX_EXPIRE].count / 1000) - last_end;
    emit(ctx, last_end, stat->values[0].type, stat->values[0].type_instance,
         left > 0 ? (double)left : 0.0);
    for (size_t v = 1; v < stat->value_count; v++)
      if (row[EX_STATUS + v - 1].present)
        emit(ctx, last_end, stat->values[v].type, stat->values[v].type_instance,
             (double)row[EX_STATUS + v - 1].count);
  }
  return 0;
}
