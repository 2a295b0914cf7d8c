#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Alibaba Cloud Anti-DDoS (ddoscoo) API simulator for end-to-end tests.

It stands in for the real RPC endpoint of ``DescribePortConnsCount``
(version 2020-01-01), of the listing operations ``DescribeInstanceIds``
and ``DescribeNetworkRules`` (for instance and port discovery), and of the
attack statistics ``DescribePortFlowList``, ``DescribeBlackholeStatus`` and
``DescribeDDoSEvents`` (doc/api-operations.md has their facts), and checks
every request at least as strictly as the real service: strict URL decoding, signature version 1.0 (HMAC-SHA1) and
V3 (ACS3-HMAC-SHA256, in the Authorization header), timestamp window, nonce
reuse, STS tokens, key expiry and every operation parameter.
It can also misbehave on purpose ("faults") so the plugin's error handling
can be exercised, and it writes one JSON line per request to a log file so
tests can see exactly what the plugin sent.

With --metadata-port-file it also runs an ECS instance metadata service
(the RAM role credential endpoints, optionally with session tokens) on a
second loopback port; every credential set it hands out is registered as a
temporary API key that expires at its Expiration.

The code is deliberately written from the vendor's public sources only (the
operations' API reference pages, the official Go SDK's models and the RPC
signing rules), never from the plugin's C code, so that a misunderstanding
in the plugin is not silently mirrored here.

Usage:
    /usr/bin/python3 ddoscoo_sim.py --config scenario.json --log requests.jsonl \
        [--port 0] [--port-file F] [--bind 127.0.0.1] \
        [--tls-cert cert.pem --tls-key key.pem] [--verbose] \
        [--metadata-port-file F] [--metadata-port 0] \
        [--quota-rps N [--quota-per account|operation]]

Control endpoints on the API port (plain JSON, never logged with secrets):
    GET  /_sim/health                  "ok"
    GET/POST /_sim/faults              replace the faults map
    GET/POST /_sim/keys                add/replace keys {"id": {"secret", "token", "expires"}}
                                       (GET lists ids, token presence, expiry; no secrets)
    GET/POST /_sim/metadata            change the metadata section (mode, role, ...)
    GET/POST /_sim/instances           change what the listing operations see, atomically:
                                       {"add": [id, ...], "remove": [id, ...],
                                        "remarks"|"editions"|"resource_groups"|
                                        "instance_regions": {id: value},
                                        "rules": {id: [rule, ...]}}  (a rules list replaces
                                       that instance's rules; a removed instance is gone for
                                       every operation). GET shows the current inventory.
    GET/POST /_sim/list_faults         replace the list faults map {action: fault}, action
                                       one of the listing operations or the three attack
                                       statistics operations
    GET/POST /_sim/quota               the account's API quota (see "quota" below)
    GET/POST /_sim/domains             change the web domains: {"add": {name: [instance
                                       ids]}, "remove": [name, ...]}; GET shows them
    GET/POST /_sim/attack              replace the "attack" section (see below); "now+N"
                                       counts from the simulator's clock at the POST.
                                       GET shows it with absolute times, and "now".

A fault is {"mode": m, "count"?: n (answers, then it clears), "seconds"?: s (hang),
"retry_after_ms"?: ms (throttle: x-acs-retry-after), "headers"?: {name: value}} with
headers, for API error modes and the gateway modes "html" (nginx's 502 page) and
"empty503" (a 503 with no body), among x-acs-retry-after, x-ratelimit-user-api and
x-ratelimit-user ("Limit:n,Remain:n,TimeLeft:ms,Reset:ms"), sent as given.

Listing operations:
    DescribeInstanceIds   optional ResourceGroupId, Edition, InstanceIds.N (filters);
                          lists the instances of the request's RegionId (default
                          cn-hangzhou): RequestId and InstanceIds items {InstanceId,
                          Edition, Remark, IpMode "fnat", IpVersion "Ipv4"}.
    DescribeNetworkRules  InstanceId, PageNumber >= 1, PageSize 1..50, optional
                          ForwardProtocol tcp|udp, FrontendPort: RequestId, TotalCount and
                          NetworkRules items {InstanceId, Protocol, FrontendPort,
                          BackendPort, RealServers [ip, ...], Remark, IsAutoCreate false}.
    DescribeInstances     PageNumber >= 1, PageSize 1..50, optional InstanceIds.N
                          (1..100), ResourceGroupId, Edition, Enabled 0|1, Ip, Remark
                          (a part of it), ExpireStartTime/ExpireEndTime (ms) filters:
                          RequestId, TotalCount and Instances items {InstanceId, Ip (the
                          first listed IP), Remark, Edition, Status 1, Enabled 1,
                          DebtStatus 0, ExpireTime, CreateTime (ms), IpMode, IpVersion,
                          IsFirstOpenBw 0, IsFirstOpenQps 0}, the SDK model's fields;
                          the attack section's "expiry" {id: {"expires" (time spec),
                          Status, Enabled, DebtStatus}} sets an instance's term.
    DescribeInstanceDetails InstanceIds.N (1..100, each an instance of the region, else
                          InvalidInstance.NotFound): RequestId and InstanceDetails items
                          {InstanceId, Line, EipInfos [{Eip, Status (normal, defense or
                          blackhole, by the attack section), IpMode, IpVersion,
                          CertConfigured, TlsVersion, Ssl13Enabled, FunctionVersion}]}: an
                          instance's IPs are its "instance_ips" (several possible), its
                          attacks' and "many_ips" addresses, but "unlisted_ips".
    In XML a list is rendered per the scenario's "list_style":
      "repeated" (default)  <InstanceIds>..fields..</InstanceIds><InstanceIds>..</InstanceIds>
                            directly under the root (nothing when the list is empty);
      "wrapper"             <InstanceIds><item>..fields..</item><item>..</item></InstanceIds>
                            (<InstanceIds></InstanceIds> when empty).
    "empty_list" overrides how an empty list is written, in either style: "absent"
    (no element), "open_close" (<InstanceIds></InstanceIds>), "self_closing"
    (<InstanceIds/>).
    RealServers inside a rule follows the same style. Child order is shuffled per
    request at every level except the order of the items.
    With "list_rate_limit": N, more than N accepted listing calls (both operations
    together) per AccessKeyId in any 1 s window: Throttling.User (400) for the excess.

An account's API quota (every operation; the vendor documents none for ours, and
whether its limits count per account or per account and operation is not said, so
both readings are here): "quota": {"rps": N, "per": "account" | "operation",
"hints"?: false} (or --quota-rps N [--quota-per account|operation]; GET/POST
/_sim/quota changes it at run time, {} or null: none). A verified request beyond N
accepted ones within 1 s of its arrival (the kernel's time stamp, as logged) from
the same AccessKeyId (and, for "operation", of the same Action) is answered 400
Throttling.User "Request was denied due to user flow control." (the code and
status the gateway answers, developer.aliyun.com/ask/128391) and not counted; with
"hints": true the answer also has x-ratelimit-user (per account) or
x-ratelimit-user-api (per operation) "Limit:N,Remain:0,TimeLeft:ms,Reset:ms".

Attack statistics (answered like the listing operations: list styles, shuffled
fields, latency, "list_faults"; instances must exist in the request's RegionId,
default cn-hangzhou):
    DescribePortFlowList     InstanceIds.N (1..100), StartTime, EndTime (whole minutes,
                             EndTime not in the future, range at most 31 days),
                             Interval (a multiple of 60, at most the range, at least the
                             docs' recommended minimum for the range: 60 up to 1 h, 600 up
                             to 6 h, 1800 up to 24 h, 3600 up to 7 d, 14400 up to 15 d,
                             then 43200), optional ResourceGroupId: RequestId and
                             PortFlowList items {Index, Time, Region, InBps, OutBps, InPps,
                             OutPps, AttackBps, AttackPps, Sla*Drop* (0)} as flow_for gives.
    DescribeBlackholeStatus  InstanceIds.N (1..20), nothing else: RequestId and
                             BlackholeStatus items {Ip, BlackStatus, StartTime, EndTime}.
    DescribeDDoSEvents       InstanceIds.N (1..100), StartTime, PageNumber >= 1, PageSize
                             1..50, optional EndTime (default now), ResourceGroupId:
                             RequestId, Total and the page's DDoSEvents items {EventType,
                             Ip, Port, Region, StartTime, EndTime, Bps, Pps}.
    DescribePortMaxConns     InstanceIds.N (1..100), StartTime, EndTime (whole minutes,
                             EndTime not in the future, range at most 1 day), optional
                             ResourceGroupId: RequestId and PortMaxConns items {Ip, Port
                             (text), Cps}: per instance, port of its forwarding rules
                             ("rules") and IP, the peak new connections per second
                             (port_max_for; their sum over a port's IPs is at least what
                             DescribePortConnsCount answers as its Cps).
    DescribeDDosEventSrcIp   EventType (defense or blackhole), Ip, StartTime (seconds),
                             Range (1..100), all required, nothing else: RequestId and
                             Ips items {SrcIp, AreaId, Isp}: the "sources" of the attack
                             whose event it is ([{"ip", "area_id", "isp", "count"}], any
                             text: hostile answers), most count first, cut at Range.
    The scenario's "attack" section scripts what they report (check_attack has the
    keys): e.g. {"attacks": [{"instance": id, "ip": "203.0.113.10", "port": 80,
    "start": "now-600", "end": "now+600", "peak_bps": 40000000000, "peak_pps": 5000000,
    "blackhole_from": "now-60", "blackhole_to": "now+300", "sources": [...]}]}: traffic
    ramps up to the peak from start, a "defense" event runs from start to end, the IP is blackholed
    (its traffic gone, a "blackhole" event) in between. Times are epoch seconds or
    "now", "now+N", "now-N". Without attacks every instance shows only its smooth
    legitimate traffic (baseline_for), deterministic for every past minute.
    DescribePortConnsCount follows the section too (values_for, minute_conns): an
    attack's port, and the instance's total, gain connections with the attack.

Web statistics (doc/api-operations.md; the scenario's "domains": {name: [instance
ids]}, the instances whose rules name the domain):
    DescribeDomains               optional InstanceIds.N (1..100), ResourceGroupId:
                                  RequestId and Domains (names: the items are text), those
                                  of the instances or all, in listing order.
    DescribeDomainQPSList         StartTime, EndTime, Interval (as DescribePortFlowList),
                                  optional Domain (without: all domains added up),
                                  ResourceGroupId: RequestId and DomainQPSList items
                                  {Index, Time, TotalQps, AttackQps, MaxQps, MaxNormalQps,
                                  MaxAttackQps, CacheHits, TotalCount}.
    DescribeDomainStatusCodeList  StartTime, Interval, QueryType (exactly "gf" or
                                  "upstrem"; the scenario's "origin_query_type":
                                  "upstream" takes that spelling instead, the
                                  vendor's Chinese metadata's), optional EndTime (default: the current
                                  minute), Domain, ResourceGroupId: RequestId and
                                  StatusCodeList items {Index, Time, Status200, Status2XX,
                                  Status3XX, Status403, Status404, Status405, Status410,
                                  Status499, Status4XX, Status501..Status504, Status5XX}.
    A Domain not among the domains: 400 InvalidDomain.NotFound (the sources name no
    code; a choice). Values: web_for / minute_web; an HTTP flood is scripted in the
    attack section as "floods": [{"domain", "start", "end"?, "peak_qps",
    "ramp_seconds"? (120)}]: attack QPS ramps up to the peak, the edge ("gf") blocks
    95 % of it (403) and keeps its 5xx, the origin ("upstrem") fails (5xx) a share of
    what it gets that grows to 60 % with the flood.
    DescribeDomainAttackEvents    StartTime, EndTime, PageNumber, PageSize (1..50), optional
                                  Domain, ResourceGroupId: RequestId, TotalCount and
                                  DomainAttackEvents items {Domain, StartTime, EndTime, MaxQps}:
                                  a flood each ("floods"), MaxQps its peak_qps, newest first.
    DescribeWebReportTopIp        StartTime, EndTime, Interval (300, 3600, 86400 as the span
                                  allows: under 3 days all, under 31 days 3600 or 86400,
                                  else 86400), QueryType (visit or block), optional Domain,
                                  Top (1..100, default 10): RequestId and DataList items
                                  {SourceIp, AreaId, Isp, Count}: the "sources" of the floods
                                  in the range, a flood's [{"ip", "area_id", "isp", "count"}]
                                  (any text: hostile answers), "visit" also two ordinary
                                  visitors; most Count first.
    DescribeDomainBps             StartTime, EndTime (whole minutes), Interval (300, 3600,
                                  86400 as the span allows, as DescribeWebReportTopIp),
                                  Region (exactly "cn" or "cn-hongkong"), optional Domain
                                  (no ResourceGroupId): RequestId and DomainBps items
                                  {InBps, OutBps, Index} (no Time), the busiest minute of
                                  each bucket (domain_bps_for / minute_bps: the requests
                                  of minute_web at 800 bytes in, 12000 out, 300 for a
                                  blocked one; a flood raises InBps). A domain's region:
                                  the scenario's "domain_regions" (default "cn"); asked in
                                  the other region it is answered 0 in every bucket (that
                                  region's service carries none of its traffic: a choice,
                                  the sources are silent), and without Domain only the
                                  region's domains are added up.

Importable pieces (used by the tests of the plugin and of this simulator):
    percent_encode(s)                  RFC 3986 encoding used by signing
    canonical_query(params)            sorted, encoded "k=v&k=v" string
    sign_v1(method, params, secret)    -> (string_to_sign, signature)
    sign_v3(method, query_params, headers, body, secret[, signed_headers])
                                       -> (canonical_request, string_to_sign, signature)
    values_for(ids, port, start, end[, attack])
                                       -> {"Conns", "ActConns", "InActConns", "Cps"}
    check_attack(section, now)         validated "attack" section, times resolved
    flow_for(ids, start, end[, interval, section, region_id, now])
                                       -> PortFlowList rows (dicts), as answered
    blackhole_for(ids, now[, section]) -> BlackholeStatus items
    port_max_for(ids, start, end, ports[, section])
                                       -> PortMaxConns items; port_max_of(id, port,
                                          start, end[, section]): their sum for a port
    events_for(ids, start, end, now[, section, region_id])
                                       -> every selected DDoSEvents item, newest first
                                          (or "event_order": "scrambled")
    baseline_for(id, minute), minute_flow(id, minute, section), default_ip(id)
    minute_conns(id, port, minute, section)
                                       -> one instance's connections in one minute
    web_for(action, domains, start, end[, interval, section, query_type, now])
                                       -> DomainQPSList / StatusCodeList rows
    minute_web(domain, minute, section), domain_qps(domain, minute)
    parse_urlencoded(raw_bytes)        strict query/form decoder
    load_config(path_or_dict)          validated scenario
    SimState, SimServer, Handler       the server itself
    main(argv)                         the CLI
"""

import argparse
import base64
import copy
import datetime
import hashlib
import hmac
import io
import ipaddress
import json
import math
import os
import random
import re
import secrets
import string
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

API_VERSION = "2020-01-01"
ACTION = "DescribePortConnsCount"
HOST_ID = "ddoscoo.aliyuncs.com"
DEFAULT_REGIONS = ["cn-hangzhou", "ap-southeast-1"]

MAX_CLOCK_SKEW = 15 * 60        # documented Timestamp window, either way
MAX_RANGE = 86400               # longest [StartTime, EndTime] we accept
MAX_INSTANCES = 100             # documented InstanceIds.N limit
MAX_BODY = 1 << 20              # refuse absurd form bodies
HANG_DEFAULT_SECONDS = 30
OVERSIZE_PADDING = 2 * 1024 * 1024

REQUIRED_COMMON = ("Action", "Version", "AccessKeyId", "SignatureMethod",
                   "SignatureVersion", "SignatureNonce", "Timestamp", "Signature")
OPTIONAL_COMMON = ("Format", "RegionId", "SecurityToken")
OPERATION_PARAMS = ("StartTime", "EndTime", "ResourceGroupId", "Port")
KNOWN_PARAMS = frozenset(REQUIRED_COMMON + OPTIONAL_COMMON + OPERATION_PARAMS)
# InstanceIds.N: N is a positive decimal without leading zeros; anything else
# ("InstanceIds.0", "InstanceIds.01", "InstanceIds") is an unknown parameter.
INSTANCE_PARAM_RE = re.compile(r"InstanceIds\.([1-9][0-9]*)", re.ASCII)

TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
UNSIGNED_RE = re.compile(r"0|[1-9][0-9]{0,18}", re.ASCII)
PORT_RE = re.compile(r"[1-9][0-9]{0,4}", re.ASCII)

# Error faults answer with a well-formed API error; payload faults break the
# response itself in one particular way.
ERROR_FAULTS = {
    "throttle": (400, "Throttling.User", "Request was denied due to user flow control."),
    "http500": (500, "InternalError",
                "The request processing has failed due to some unknown error, exception or failure."),
    "http503": (503, "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server."),
    "auth": (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
    "forbidden": (403, "Forbidden.RAM",
                  "User not authorized to operate on the specified resource."),
    "clock": (400, "InvalidTimeStamp.Expired",
              "Specified time stamp or date value is expired."),
    # What the API answers a request whose nonce it has seen before (e.g.
    # one a proxy sent twice); here for a fresh nonce too.
    "nonce_used": (400, "SignatureNonceUsed", "Specified signature nonce was used already."),
    # A parameter's value refused, here DescribeDomainBps's Region (what the
    # service answers for a Region that is not the domain's: not documented).
    "region": (400, "InvalidParameter", "The specified parameter Region is invalid."),
}
PAYLOAD_FAULTS = frozenset({
    "hang", "garbage", "empty", "html", "empty503", "json", "truncated", "reset", "oversize",
    "entities", "xxe", "xxe_net", "wrongroot", "missing", "nonnumeric",
    "negative", "huge", "duplicate", "hangup",
})
# Answers of a gateway in front of the API rather than of the API itself:
# "html" is nginx's 502 page, "empty503" a 503 with no body and no type.
GATEWAY_FAULTS = frozenset({"html", "empty503"})
# Headers a fault may add to an error or gateway answer ("headers"): the
# API's throttling hints, in whatever spelling and with whatever value the
# test wants, garbage included.
FAULT_HEADERS = frozenset({"x-acs-retry-after", "x-ratelimit-user-api", "x-ratelimit-user"})
FAULT_MODES = frozenset(ERROR_FAULTS) | PAYLOAD_FAULTS

# Signature V3 (ACS3-HMAC-SHA256).
V3_ALGORITHM = "ACS3-HMAC-SHA256"
# Exactly what the SDKs send: no spaces around ',' or '='; the signature is
# lower-case hex. Anything else is refused rather than guessed at.
V3_AUTH_RE = re.compile(r"ACS3-HMAC-SHA256 Credential=([^,;=\s]+),SignedHeaders=([^,=\s]+),"
                        r"Signature=([0-9a-f]{64})", re.ASCII)
V3_REQUIRED_HEADERS = ("host", "x-acs-action", "x-acs-version", "x-acs-date",
                       "x-acs-signature-nonce", "x-acs-content-sha256")
# V1 common parameters; in a V3 request they travel as headers (or not at
# all) and must not appear as parameters.
V1_ONLY_PARAMS = frozenset(("Action", "Version", "AccessKeyId", "SignatureMethod",
                            "SignatureVersion", "SignatureNonce", "Timestamp", "Signature",
                            "SecurityToken"))
V3_KNOWN_PARAMS = frozenset(("Format", "RegionId") + OPERATION_PARAMS)

# The listing operations of the same product and version. Each operation's
# own parameters (beyond the common ones) and whether it takes InstanceIds.N.
LIST_INSTANCES = "DescribeInstanceIds"
LIST_RULES = "DescribeNetworkRules"
LIST_DOMAINS = "DescribeDomains"
# What is known of instances (see the section "Instance facts").
FACTS_INSTANCES = "DescribeInstances"
FACTS_DETAILS = "DescribeInstanceDetails"
LIST_ACTIONS = (LIST_INSTANCES, LIST_RULES, LIST_DOMAINS, FACTS_INSTANCES, FACTS_DETAILS)
# The statistics of an attack (see the section "Attack statistics").
FLOW_ACTION = "DescribePortFlowList"
BLACKHOLE_ACTION = "DescribeBlackholeStatus"
EVENTS_ACTION = "DescribeDDoSEvents"
# The web statistics (see the section "Web statistics"): per domain.
QPS_ACTION = "DescribeDomainQPSList"
CODES_ACTION = "DescribeDomainStatusCodeList"
WEB_ACTIONS = (QPS_ACTION, CODES_ACTION)
# Per domain bandwidth in 5-minute buckets (see "Domain bandwidth").
BPS_ACTION = "DescribeDomainBps"
BPS_REGIONS = ("cn", "cn-hongkong")
# HTTP floods on a domain and who is attacking (see "HTTP floods").
CC_EVENTS_ACTION = "DescribeDomainAttackEvents"
TOP_IP_ACTION = "DescribeWebReportTopIp"
CC_ACTIONS = (CC_EVENTS_ACTION, TOP_IP_ACTION)
# The attack events of the whole account, no instance named (see "All events").
ALL_EVENTS_ACTION = "DescribeDDosAllEventList"
# The plan and its state (see the section "Plans, quotas and origin
# health"): asked every few minutes.
SPECS_ACTION = "DescribeInstanceSpecs"
INSTANCE_STATS_ACTION = "DescribeInstanceStatistics"
HEALTH_ACTION = "DescribeHealthCheckStatus"
DEFENSE_COUNT_ACTION = "DescribeDefenseCountStatistics"
UNBLACKHOLE_ACTION = "DescribeUnBlackholeCount"
PLAN_ACTIONS = (SPECS_ACTION, INSTANCE_STATS_ACTION, HEALTH_ACTION, DEFENSE_COUNT_ACTION,
                UNBLACKHOLE_ACTION)
# Who is attacking in a volumetric event (see "Attack statistics").
SRC_IP_ACTION = "DescribeDDosEventSrcIp"
# The peak new connections of every port of the instances (port_max_for).
PORT_MAX_ACTION = "DescribePortMaxConns"
STAT_ACTIONS = (FLOW_ACTION, BLACKHOLE_ACTION, EVENTS_ACTION) + WEB_ACTIONS + CC_ACTIONS + \
    PLAN_ACTIONS + (SRC_IP_ACTION, ALL_EVENTS_ACTION, BPS_ACTION, PORT_MAX_ACTION)
OPERATIONS = {
    ACTION: OPERATION_PARAMS,
    LIST_INSTANCES: ("ResourceGroupId", "Edition"),
    LIST_RULES: ("InstanceId", "PageNumber", "PageSize", "ForwardProtocol", "FrontendPort"),
    FLOW_ACTION: ("StartTime", "EndTime", "Interval", "ResourceGroupId"),
    BLACKHOLE_ACTION: (),
    EVENTS_ACTION: ("StartTime", "EndTime", "PageNumber", "PageSize", "ResourceGroupId"),
    LIST_DOMAINS: ("ResourceGroupId",),
    FACTS_INSTANCES: ("ResourceGroupId", "PageNumber", "PageSize", "Ip", "Remark", "Edition",
                      "Enabled", "ExpireStartTime", "ExpireEndTime"),
    FACTS_DETAILS: (),
    QPS_ACTION: ("StartTime", "EndTime", "Interval", "Domain", "ResourceGroupId"),
    CODES_ACTION: ("StartTime", "EndTime", "Interval", "Domain", "QueryType", "ResourceGroupId"),
    CC_EVENTS_ACTION: ("StartTime", "EndTime", "Domain", "PageNumber", "PageSize",
                       "ResourceGroupId"),
    TOP_IP_ACTION: ("StartTime", "EndTime", "Interval", "QueryType", "Domain", "Top"),
    BPS_ACTION: ("StartTime", "EndTime", "Interval", "Region", "Domain"),
    SPECS_ACTION: (),
    INSTANCE_STATS_ACTION: (),
    HEALTH_ACTION: ("NetworkRules",),
    DEFENSE_COUNT_ACTION: ("ResourceGroupId",),
    UNBLACKHOLE_ACTION: ("ResourceGroupId",),
    SRC_IP_ACTION: ("EventType", "Ip", "StartTime", "Range"),
    ALL_EVENTS_ACTION: ("EventType", "StartTime", "EndTime", "PageNumber", "PageSize"),
    PORT_MAX_ACTION: ("StartTime", "EndTime", "ResourceGroupId"),
}
INSTANCE_LIST_ACTIONS = frozenset((ACTION, LIST_INSTANCES, LIST_DOMAINS, FLOW_ACTION,
                                   BLACKHOLE_ACTION, EVENTS_ACTION, FACTS_INSTANCES,
                                   FACTS_DETAILS, SPECS_ACTION, INSTANCE_STATS_ACTION,
                                   PORT_MAX_ACTION))
ALL_OPERATION_PARAMS = frozenset(n for names in OPERATIONS.values() for n in names)
DEFAULT_REGION = "cn-hangzhou"          # a request without RegionId
DEFAULT_RESOURCE_GROUP = "rg-default"   # instances not in "resource_groups"
DEFAULT_EDITION = 9
MAX_PAGE_SIZE = 50
LIST_STYLES = ("repeated", "wrapper")
# How an empty list is written in XML ("empty_list"): no element at all,
# <Name></Name>, or <Name/>. The vendor's examples show none; each occurs
# in Alibaba Cloud's XML answers.
EMPTY_LIST_XML = {"absent": "", "open_close": "<%(name)s></%(name)s>",
                  "self_closing": "<%(name)s/>"}
EMPTY_LISTS = tuple(EMPTY_LIST_XML)
# The spellings of the origin's QueryType (DescribeDomainStatusCodeList):
# "upstrem" in the SDKs and the English reference, "upstream" in the
# vendor's Chinese metadata. "origin_query_type" says which one the
# simulated service takes (the other is refused as an invalid value).
ORIGIN_QUERY_TYPES = ("upstrem", "upstream")
WRAPPER_ITEM = "item"
THROTTLE_MESSAGE = "Request was denied due to user flow control."
# Faults a listing operation can be given ("list_faults"): the API errors
# and the payload faults that do not depend on DescribePortConnsCount's fields.
LIST_FAULT_MODES = frozenset(ERROR_FAULTS) | frozenset({
    "hang", "garbage", "empty", "html", "empty503", "json", "truncated", "reset", "oversize",
    "entities", "xxe", "xxe_net", "wrongroot",
})
HEADER_TOKEN_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+", re.ASCII)
SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)

# ECS instance metadata service.
MD_TOKEN_PATH = "/latest/api/token"
MD_CRED_PREFIX = "/latest/meta-data/ram/security-credentials/"
MD_TOKEN_HEADER = "X-aliyun-ecs-metadata-token"
MD_TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"
MD_MAX_TTL = 21600
MD_MODES = frozenset({"ok", "down", "garbage", "no_token_api", "bad_code", "hang"})
MD_DEFAULTS = {"role": "ddoscoo-reader", "lifetime_seconds": 3600, "require_token": False,
               "mode": "ok", "hang_seconds": 5}
MD_ROLE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)

XML_DECL = "<?xml version='1.0' encoding='UTF-8'?>"
XML_CTYPE = "text/xml;charset=UTF-8"
JSON_CTYPE = "application/json;charset=utf-8"


# ---------------------------------------------------------------------------
# Signing (signature version 1.0), pure functions
# ---------------------------------------------------------------------------

def percent_encode(value):
    """RFC 3986 percent-encoding of the UTF-8 bytes of ``value``.

    Only A-Z a-z 0-9 - _ . ~ stay literal; hex digits are upper case, space
    becomes %20 (never '+'), '*' becomes %2A. urllib's quote() with an empty
    safe set does exactly this.
    """
    return quote(str(value), safe="")


def canonical_query(params):
    """The canonicalized query string: encoded pairs sorted by encoded name.

    Sorting the *encoded* names compares plain ASCII, which is the byte
    order the documentation asks for. ``Signature`` is never part of it.
    """
    pairs = [(percent_encode(k), percent_encode(v))
             for k, v in params.items() if k != "Signature"]
    pairs.sort()
    return "&".join(k + "=" + v for k, v in pairs)


def sign_v1(method, params, secret):
    """Return (string_to_sign, signature) for signature version 1.0.

    ``method`` is the HTTP method actually used ("GET"/"POST"; the SDK's own
    test vector uses ""), ``params`` a dict of decoded names and values,
    ``secret`` the AccessKeySecret (the HMAC key is secret + "&").
    """
    string_to_sign = method + "&" + percent_encode("/") + "&" + percent_encode(canonical_query(params))
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1)
    return string_to_sign, base64.b64encode(mac.digest()).decode("ascii")


# ---------------------------------------------------------------------------
# Signing (signature V3, ACS3-HMAC-SHA256), pure functions
# ---------------------------------------------------------------------------

def hex_sha256(data):
    """Lower-case hex SHA-256 of bytes (str is taken as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_query_v3(query_params):
    """V3 canonical query string: decoded names and values (a dict or a
    list of pairs) encoded as in version 1.0, sorted, "name=value" joined
    with '&'; a parameter without value is "name="; nothing is left out."""
    items = query_params.items() if isinstance(query_params, dict) else query_params
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in items)
    return "&".join(k + "=" + v for k, v in pairs)


def sign_v3(method, query_params, headers, body, secret, signed_headers=None):
    """Return (canonical_request, string_to_sign, signature) for V3.

    ``headers`` maps header names (any case) to values; all of them are
    signed unless ``signed_headers`` (lower-case names, in the order they
    are to appear) says otherwise. ``body`` is the request body as sent
    (bytes; str is taken as UTF-8). The signature is lower-case hex of
    HMAC-SHA256 keyed with the AccessKeySecret itself.
    """
    lower = {}
    for name, value in headers.items():
        lower[name.lower()] = str(value).strip()
    names = sorted(lower) if signed_headers is None else list(signed_headers)
    canonical_headers = "".join("%s:%s\n" % (n, lower[n]) for n in names)
    canonical_request = "\n".join([method, "/", canonical_query_v3(query_params),
                                   canonical_headers, ";".join(names), hex_sha256(body)])
    string_to_sign = V3_ALGORITHM + "\n" + hex_sha256(canonical_request)
    signature = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    return canonical_request, string_to_sign, signature


# ---------------------------------------------------------------------------
# Deterministic metric values
# ---------------------------------------------------------------------------

def values_for(instance_ids, port, start_time, end_time, attack=None):
    """Values the simulator reports for one DescribePortConnsCount query,
    as a dict {"Conns", "ActConns", "InActConns", "Cps"}.

    Each instance has connections in every minute (minute_conns): a smooth
    baseline that follows its legitimate traffic (baseline_for) over the
    day, with a little noise, and on top of it the connections of any
    attack on it (on ``port``, or on any port when ``port`` is None) from
    ``attack``, a section as check_attack returns it (None: no attack).
    A query answers, per instance, the minute of [start_time, end_time)
    with the most concurrent connections (and the highest Cps of them
    all), added up over the instances. Deterministic: a test predicts
    exactly what the plugin should have stored. Always
    ActConns + InActConns <= Conns.
    """
    section = attack if attack is not None else check_attack({}, 0)
    port = None if port is None else str(port)
    start, end = int(start_time), int(end_time)
    minutes = range(start - start % 60, end, 60) or [start - start % 60]
    total = dict.fromkeys(CONNS_FIELDS, 0)
    for iid in instance_ids:
        per_minute = [minute_conns(str(iid), port, m, section) for m in minutes]
        busiest = max(per_minute, key=lambda v: v["Conns"])
        for k in ("Conns", "ActConns", "InActConns"):
            total[k] += busiest[k]
        total["Cps"] += max(v["Cps"] for v in per_minute)
    return total


CONNS_FIELDS = ("Conns", "ActConns", "InActConns", "Cps")
# What an attack's packets become: new connections per second per packet
# per second (most are dropped before they open one), and how many seconds
# each lingers half-open (inactive).
ATTACK_CPS_PER_PPS = 0.01
ATTACK_CONN_SECONDS = 4


def _unit(*parts):
    """A stable number in [0, 1) for the parts."""
    d = hashlib.sha256(":".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(d[:8], "big") / 2.0 ** 64


def minute_conns(iid, port, minute, section):
    """The connections of one instance (one port of it, or all with port
    None) in one minute. Legitimate ones: the instance's inbound traffic
    over 8..16 kbit/s a connection, a stable share of it per port
    (20..80 %), +-2 % of noise; 55..85 % active, most of the rest inactive,
    each living 20..90 s (Cps, +-5 %). A blackholed IP's share never
    arrives. An attack adds peak_pps x level / 100 new connections per
    second, each half-open for 4 s: 85 % of them inactive, 5 % active."""
    f = _fractions("conns", iid, 4)
    ips = instance_ips(iid, section)
    mine = [a for a in section["attacks"] if a["instance"] == iid]
    dark = {a["ip"] for a in mine if a["blackhole_from"] is not None
            and a["blackhole_from"] <= minute < a["blackhole_to"]}
    lit = (len(ips) - len(dark)) / len(ips)
    share = 1.0 if port is None else 0.2 + 0.6 * _unit("conns-port", iid, port)
    noise = 1 + 0.04 * (_unit("conns-noise", iid, port, minute) - 0.5)
    conns = int(baseline_for(iid, minute)["InBps"] / (8e3 + 8e3 * f[0])
                * share * noise * lit)
    act = int(conns * (0.55 + 0.3 * f[1]))
    inact = int((conns - act) * (0.8 + 0.15 * f[2]))
    cps_noise = 1 + 0.1 * (_unit("cps-noise", iid, port, minute) - 0.5)
    cps = int(conns / (20 + 70 * f[3]) * cps_noise)
    for a in mine:
        if a["ip"] in dark or (port is not None and port != str(a["port"])):
            continue
        new = int(a["peak_pps"] * attack_level(a, minute) * ATTACK_CPS_PER_PPS)
        half_open = new * ATTACK_CONN_SECONDS
        conns += half_open
        act += half_open // 20
        inact += half_open * 17 // 20
        cps += new
    return {"Conns": conns, "ActConns": act, "InActConns": inact, "Cps": cps}


# ---------------------------------------------------------------------------
# Strict URL / form decoding
# ---------------------------------------------------------------------------

class DecodeError(ValueError):
    pass


# Characters RFC 3986 allows literally in a query component (plus '%' for
# escapes). Raw non-ASCII bytes, spaces, quotes, '#', '[', ']' and friends
# must arrive percent-encoded; a client that sends them raw is broken.
_RAW_OK = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                    b"-._~!$'()*,;:@/?+=")
_HEX = frozenset(b"0123456789ABCDEFabcdef")


def _unescape(raw):
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # '%'
            h = raw[i + 1:i + 3]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise DecodeError("malformed percent-escape in %r" % raw.decode("latin-1"))
            out.append(int(h, 16))
            i += 3
        elif c == 0x2B:  # '+': space, as in form encoding
            out.append(0x20)
            i += 1
        elif c in _RAW_OK:
            out.append(c)
            i += 1
        else:
            raise DecodeError("character %r must be percent-encoded" % chr(c))
    try:
        return out.decode("utf-8")  # strict: invalid UTF-8 is an error
    except UnicodeDecodeError:
        raise DecodeError("invalid UTF-8 in %r" % raw.decode("latin-1")) from None


def parse_urlencoded(raw):
    """Decode a query string or form body (bytes) into a list of (name, value).

    Strict: empty segments ("a=1&&b=2"), empty names, malformed escapes,
    raw characters that need escaping and invalid UTF-8 raise DecodeError.
    A segment without '=' yields an empty value (rejected later, by name).
    """
    if not raw:
        return []
    pairs = []
    for piece in raw.split(b"&"):
        if not piece:
            raise DecodeError("empty parameter segment")
        name, _, value = piece.partition(b"=")
        if not name:
            raise DecodeError("parameter with an empty name")
        pairs.append((_unescape(name), _unescape(value)))
    return pairs


# ---------------------------------------------------------------------------
# Configuration and shared state
# ---------------------------------------------------------------------------

class ConfigError(ValueError):
    pass


def _check_fault(iid, spec):
    if not isinstance(iid, str) or not iid:
        raise ConfigError("fault instance ids must be non-empty strings")
    if not isinstance(spec, dict) or spec.get("mode") not in FAULT_MODES:
        raise ConfigError("fault for %r: mode must be one of %s" % (iid, ", ".join(sorted(FAULT_MODES))))
    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ConfigError("fault for %r: count must be a non-negative integer" % iid)
    secs = spec.get("seconds")
    if secs is not None and (not isinstance(secs, (int, float)) or isinstance(secs, bool) or secs < 0):
        raise ConfigError("fault for %r: seconds must be a non-negative number" % iid)
    ms = spec.get("retry_after_ms")
    if ms is not None and (not isinstance(ms, int) or isinstance(ms, bool) or ms < 0):
        raise ConfigError("fault for %r: retry_after_ms must be a non-negative integer" % iid)
    headers = spec.get("headers")
    if headers is not None:
        if (not isinstance(headers, dict) or
                spec["mode"] not in set(ERROR_FAULTS) | GATEWAY_FAULTS):
            raise ConfigError("fault for %r: headers is an object, for API error and gateway "
                              "faults" % iid)
        for name, value in headers.items():
            if name.lower() not in FAULT_HEADERS or not isinstance(value, str) or \
                    any(c in value for c in "\r\n"):
                raise ConfigError("fault for %r: headers are %s, with one-line string values"
                                  % (iid, ", ".join(sorted(FAULT_HEADERS))))


def check_faults(faults):
    """Validate a faults map; return a private deep copy (counts get mutated)."""
    if not isinstance(faults, dict):
        raise ConfigError("faults must be a JSON object")
    for iid, spec in faults.items():
        _check_fault(iid, spec)
    return copy.deepcopy(faults)


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_keys(keys):
    """Validate a keys map {id: {"secret", "token"?, "expires"?}}; return a copy.

    "expires" is epoch seconds (simulator clock); from then on the key is
    refused (InvalidSecurityToken.Expired with a token, else
    InvalidAccessKeyId.Inactive). null or absent: never expires."""
    if not isinstance(keys, dict):
        raise ConfigError("keys must be a JSON object")
    for kid, k in keys.items():
        if not kid or not isinstance(k, dict) or not isinstance(k.get("secret"), str) or not k["secret"]:
            raise ConfigError("key %r needs a non-empty string secret" % kid)
        if "token" in k and (not isinstance(k["token"], str) or not k["token"]):
            raise ConfigError("key %r: token must be a non-empty string" % kid)
        if k.get("expires") is not None and not _is_number(k["expires"]):
            raise ConfigError("key %r: expires must be a number (epoch seconds)" % kid)
    return copy.deepcopy(keys)


def check_metadata(spec, base=None):
    """Validate (part of) a metadata section; return it merged over ``base``
    (the defaults when None)."""
    if not isinstance(spec, dict):
        raise ConfigError("metadata must be a JSON object")
    out = dict(MD_DEFAULTS if base is None else base)
    for name, value in spec.items():
        if name == "role":
            if not isinstance(value, str) or not MD_ROLE_RE.fullmatch(value):
                raise ConfigError("metadata.role must be 1-64 of A-Z a-z 0-9 . _ -")
        elif name == "lifetime_seconds":
            if not _is_number(value) or value < 3:
                raise ConfigError("metadata.lifetime_seconds must be a number >= 3")
        elif name == "require_token":
            if not isinstance(value, bool):
                raise ConfigError("metadata.require_token must be true or false")
        elif name == "mode":
            if value not in MD_MODES:
                raise ConfigError("metadata.mode must be one of %s" % ", ".join(sorted(MD_MODES)))
        elif name == "hang_seconds":
            if not _is_number(value) or value < 0:
                raise ConfigError("metadata.hang_seconds must be a non-negative number")
        else:
            raise ConfigError("metadata: unknown key %r" % name)
        out[name] = value
    return out


_XML_BAD_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _check_text(what, value, empty_ok=True):
    """A string that can be put in an XML document."""
    if not isinstance(value, str) or (not value and not empty_ok):
        raise ConfigError("%s must be a%s string" % (what, "" if empty_ok else " non-empty"))
    if _XML_BAD_CHARS_RE.search(value):
        raise ConfigError("%s holds a character XML 1.0 cannot carry" % what)


def _check_id_map(name, spec, check_value):
    """{instance id: value}; returns a copy."""
    if not isinstance(spec, dict):
        raise ConfigError("%s must be a JSON object {instance id: ...}" % name)
    for iid, value in spec.items():
        if not iid:
            raise ConfigError("%s: instance ids must be non-empty strings" % name)
        check_value("%s[%r]" % (name, iid), value)
    return copy.deepcopy(spec)


def _check_edition(what, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError("%s must be a non-negative integer" % what)


def _port_number(x):
    return isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 65535


RULE_KEYS = frozenset({"protocol", "frontend_port", "backend_port", "real_servers", "remark"})


def check_rules(rules):
    """Validate {instance id: [rule, ...]}; return it normalized: every rule
    as {"protocol", "frontend_port", "backend_port", "real_servers", "remark"}
    ("real_servers" defaults to ["192.0.2.1"], "remark" to "")."""
    if not isinstance(rules, dict):
        raise ConfigError("rules must be a JSON object {instance id: [rule, ...]}")
    out = {}
    for iid, lst in rules.items():
        if not iid or not isinstance(lst, list):
            raise ConfigError("rules[%r] must be a list of rules" % iid)
        seen = set()
        norm = []
        for i, r in enumerate(lst):
            what = "rules[%r][%d]" % (iid, i)
            if not isinstance(r, dict) or set(r) - RULE_KEYS:
                raise ConfigError("%s must be an object with keys among %s" %
                                  (what, ", ".join(sorted(RULE_KEYS))))
            if r.get("protocol") not in ("tcp", "udp"):
                raise ConfigError("%s.protocol must be \"tcp\" or \"udp\"" % what)
            for k in ("frontend_port", "backend_port"):
                if not _port_number(r.get(k)):
                    raise ConfigError("%s.%s must be an integer 1..65535" % (what, k))
            servers = r.get("real_servers", ["192.0.2.1"])
            if not isinstance(servers, list) or not servers:
                raise ConfigError("%s.real_servers must be a non-empty list" % what)
            for srv in servers:
                _check_text(what + ".real_servers[]", srv, empty_ok=False)
            remark = r.get("remark", "")
            _check_text(what + ".remark", remark)
            key = (r["protocol"], r["frontend_port"])
            if key in seen:
                raise ConfigError("%s: a second %s rule for frontend port %d" % (what, key[0], key[1]))
            seen.add(key)
            norm.append({"protocol": r["protocol"], "frontend_port": r["frontend_port"],
                         "backend_port": r["backend_port"], "real_servers": list(servers),
                         "remark": remark})
        out[iid] = norm
    return out


def check_list_faults(spec):
    """Validate {"DescribeInstanceIds"|"DescribeNetworkRules": fault}; a copy."""
    if not isinstance(spec, dict):
        raise ConfigError("list_faults must be a JSON object {action: fault}")
    for action, fault in spec.items():
        if action not in LIST_ACTIONS + STAT_ACTIONS:
            raise ConfigError("list_faults: %r is not one of %s" %
                              (action, ", ".join(LIST_ACTIONS + STAT_ACTIONS)))
        _check_fault(action, fault)
        if fault["mode"] not in LIST_FAULT_MODES:
            raise ConfigError("list_faults[%r]: mode must be one of %s" %
                              (action, ", ".join(sorted(LIST_FAULT_MODES))))
    return copy.deepcopy(spec)


def check_inventory(spec, regions):
    """The instance attributes used by the listing operations, as given in a
    scenario or in a POST /_sim/instances body: "remarks", "editions",
    "resource_groups", "instance_regions" (maps by instance id) and "rules".
    Returns the validated copies of the keys that are present."""
    out = {}
    if "remarks" in spec:
        out["remarks"] = _check_id_map("remarks", spec["remarks"], _check_text)
    if "editions" in spec:
        out["editions"] = _check_id_map("editions", spec["editions"], _check_edition)
    if "resource_groups" in spec:
        out["resource_groups"] = _check_id_map(
            "resource_groups", spec["resource_groups"],
            lambda what, v: _check_text(what, v, empty_ok=False))

    def region(what, v):
        if v not in regions:
            raise ConfigError("%s must be one of the regions %s" % (what, sorted(regions)))
    if "instance_regions" in spec:
        out["instance_regions"] = _check_id_map("instance_regions", spec["instance_regions"], region)
    if "rules" in spec:
        out["rules"] = check_rules(spec["rules"])
    return out


INSTANCE_CHANGE_KEYS = frozenset({"add", "remove", "remarks", "editions", "resource_groups",
                                  "instance_regions", "rules"})


def check_instance_changes(spec, regions):
    """Validate a POST /_sim/instances body; return it normalized."""
    if not isinstance(spec, dict):
        raise ConfigError("the body must be a JSON object")
    unknown = set(spec) - INSTANCE_CHANGE_KEYS
    if unknown:
        raise ConfigError("unknown keys %s (known: %s)" % (sorted(unknown),
                                                          ", ".join(sorted(INSTANCE_CHANGE_KEYS))))
    out = check_inventory(spec, regions)
    for name in ("add", "remove"):
        lst = spec.get(name, [])
        if not isinstance(lst, list) or not all(isinstance(x, str) and x for x in lst):
            raise ConfigError("%s must be a list of non-empty strings" % name)
        out[name] = list(lst)
    both = set(out["add"]) & set(out["remove"])
    if both:
        raise ConfigError("instances both added and removed: %s" % sorted(both))
    return out


def check_domains(spec):
    """The scenario's "domains": {name: [instance ids]} (a list of names:
    no instances); a copy."""
    if isinstance(spec, list):
        spec = {d: [] for d in spec}
    if not isinstance(spec, dict):
        raise ConfigError("domains must be an object {name: [instance ids]} or a list of names")
    out = {}
    for d, owners in spec.items():
        _check_text("domains", d, empty_ok=False)
        if not isinstance(owners, list) or not all(isinstance(x, str) and x for x in owners):
            raise ConfigError("domains[%r] must be a list of instance ids" % d)
        out[d] = list(owners)
    return out


def check_domain_regions(spec):
    """The scenario's "domain_regions": {name: "cn" | "cn-hongkong"}; a copy."""
    if not isinstance(spec, dict) or not all(
            isinstance(d, str) and d and r in BPS_REGIONS for d, r in spec.items()):
        raise ConfigError("domain_regions must be an object {domain: %s}"
                          % " | ".join('"%s"' % r for r in BPS_REGIONS))
    return dict(spec)


def check_domain_changes(spec):
    if not isinstance(spec, dict) or set(spec) - {"add", "remove"}:
        raise ConfigError('the body must be {"add": {name: [ids]}, "remove": [names]}')
    remove = spec.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(x, str) and x for x in remove):
        raise ConfigError("remove must be a list of names")
    return {"add": check_domains(spec.get("add", {})), "remove": list(remove)}


QUOTA_PER = ("account", "operation")


def check_quota(spec):
    """The "quota" section: None (no quota) or {"rps": N >= 1, "per":
    "account" | "operation" (default "account"), "hints": bool}."""
    if spec is None or spec == {}:
        return None
    if not isinstance(spec, dict) or set(spec) - {"rps", "per", "hints"}:
        raise ConfigError('quota must be an object with "rps", "per", "hints"')
    rps = spec.get("rps")
    if not isinstance(rps, int) or isinstance(rps, bool) or rps < 1:
        raise ConfigError("quota.rps must be a positive integer")
    per = spec.get("per", "account")
    if per not in QUOTA_PER:
        raise ConfigError("quota.per must be one of %s" % ", ".join(QUOTA_PER))
    hints = spec.get("hints", False)
    if not isinstance(hints, bool):
        raise ConfigError("quota.hints must be true or false")
    return {"rps": rps, "per": per, "hints": hints}


def load_config(source):
    """Load and validate a scenario from a path or an already-parsed dict.

    Beyond the documented keys, an optional "clock_offset_seconds" shifts
    the simulator's notion of "now" (to test a skewed server clock), and an
    optional "metadata" section configures the ECS metadata service (with
    it, "keys" may be empty: the metadata service issues them), and an
    optional "latency_ms" delays every verified API answer (a distant
    service, for tests of concurrency).

    For the listing operations: "list_style" ("repeated" or "wrapper"),
    "empty_list" (null, "absent", "open_close" or "self_closing"),
    "list_rate_limit" (positive integer or null), "list_faults"
    ({action: fault}), and per instance id "remarks" (string, default ""),
    "editions" (integer, default 9), "resource_groups" (string, default
    "rg-default"), "instance_regions" (one of "regions", default
    cn-hangzhou) and "rules" ([{"protocol": "tcp"|"udp", "frontend_port",
    "backend_port", "real_servers"?: [ip, ...] (default ["192.0.2.1"]),
    "remark"?: ""}, ...], default none).

    For the attack statistics: "attack" (see check_attack); its relative
    times ("now+N") count from the simulator's clock at loading.

    For the web statistics: "domains" and "origin_query_type" ("upstrem",
    the default, or "upstream": the one origin QueryType taken), and
    "domain_regions" ({domain: "cn" | "cn-hongkong"}, default "cn": the
    service region DescribeDomainBps's Region must name).
    """
    if isinstance(source, dict):
        cfg = source
    else:
        with open(source, encoding="utf-8") as f:
            cfg = json.load(f)
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    keys = cfg.get("keys")
    if not isinstance(keys, dict) or (not keys and "metadata" not in cfg):
        raise ConfigError("config.keys must be a non-empty object")
    keys = check_keys(keys)
    metadata = check_metadata(cfg.get("metadata", {}))
    instances = cfg.get("instances", [])
    regions = cfg.get("regions", DEFAULT_REGIONS)
    for name, lst in (("instances", instances), ("regions", regions)):
        if not isinstance(lst, list) or not all(isinstance(x, str) and x for x in lst):
            raise ConfigError("config.%s must be a list of non-empty strings" % name)
    latency = cfg.get("latency_ms", 0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
        raise ConfigError("latency_ms must be a non-negative number")
    offset = cfg.get("clock_offset_seconds", 0)
    if not isinstance(offset, (int, float)) or isinstance(offset, bool):
        raise ConfigError("clock_offset_seconds must be a number")
    list_style = cfg.get("list_style", "repeated")
    if list_style not in LIST_STYLES:
        raise ConfigError("list_style must be one of %s" % ", ".join(LIST_STYLES))
    empty_list = cfg.get("empty_list")
    if empty_list is not None and empty_list not in EMPTY_LISTS:
        raise ConfigError("empty_list must be one of %s" % ", ".join(EMPTY_LISTS))
    origin_query_type = cfg.get("origin_query_type", "upstrem")
    if origin_query_type not in ORIGIN_QUERY_TYPES:
        raise ConfigError("origin_query_type must be one of %s" % ", ".join(ORIGIN_QUERY_TYPES))
    rate = cfg.get("list_rate_limit")
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < 1):
        raise ConfigError("list_rate_limit must be a positive integer or null")
    quota = check_quota(cfg.get("quota"))
    inventory = check_inventory(cfg, regions)
    attack = check_attack(cfg.get("attack", {}), time.time() + offset)
    return {
        "metadata": metadata,
        "keys": keys,
        "instances": list(instances),
        "regions": list(regions),
        "faults": check_faults(cfg.get("faults", {})),
        "clock_offset_seconds": offset,
        "latency_ms": latency,
        "list_style": list_style,
        "empty_list": empty_list,
        "origin_query_type": origin_query_type,
        "list_faults": check_list_faults(cfg.get("list_faults", {})),
        "list_rate_limit": rate,
        "quota": quota,
        "remarks": inventory.get("remarks", {}),
        "editions": inventory.get("editions", {}),
        "resource_groups": inventory.get("resource_groups", {}),
        "instance_regions": inventory.get("instance_regions", {}),
        "rules": inventory.get("rules", {}),
        "attack": attack,
        "domains": check_domains(cfg.get("domains", {})),
        "domain_regions": check_domain_regions(cfg.get("domain_regions", {})),
    }


class SimState:
    """Everything request threads share, each piece behind its own lock."""

    def __init__(self, config, log_path=None):
        cfg = load_config(config)
        self.keys = cfg["keys"]
        self.regions = frozenset(cfg["regions"])
        self.clock_offset = cfg["clock_offset_seconds"]
        self.latency = cfg["latency_ms"] / 1000.0
        self._lock = threading.Lock()
        # Instances named in faults exist too (also ones added at run time:
        # a fault on an instance that "does not exist" could never fire).
        self._instances = set(cfg["instances"]) | set(cfg["faults"])
        self._faults = cfg["faults"]
        # What DescribeInstanceIds lists (in this order): the scenario's
        # instances and those added at run time, never fault-only ones.
        self._listed = dict.fromkeys(cfg["instances"])
        self._inventory = {name: cfg[name] for name in
                           ("remarks", "editions", "resource_groups", "instance_regions", "rules")}
        # Web domains (DescribeDomains), in listing order: {name: [instance ids]}.
        self._domains = dict(cfg["domains"])
        self.domain_regions = cfg["domain_regions"]
        self.list_style = cfg["list_style"]
        self.empty_list = cfg["empty_list"]
        self.origin_query_type = cfg["origin_query_type"]
        self._list_faults = cfg["list_faults"]
        self.list_rate_limit = cfg["list_rate_limit"]
        self._list_calls = {}     # AccessKeyId -> monotonic times of accepted list calls
        self._quota = cfg["quota"]
        self._quota_calls = {}    # AccessKeyId or (id, Action) -> accepted arrival times
        self._nonces = set()
        self._log_lock = threading.Lock()
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.stopping = threading.Event()
        # Metadata service: its own lock (a "hang" must not block the API).
        self._md_lock = threading.Lock()
        self._md_cfg = cfg["metadata"]
        self._md_tokens = {}      # session token -> expiry (simulator clock)
        self._md_creds = None     # the credential set currently handed out
        # The attack statistics: the resolved "attack" section.
        self._attack_lock = threading.Lock()
        self._attack = cfg["attack"]

    def now(self):
        return time.time() + self.clock_offset

    # -- keys ----------------------------------------------------------------

    def get_key(self, kid):
        """A copy of key ``kid`` ({"secret", "token"?, "expires"?}) or None."""
        with self._lock:
            k = self.keys.get(kid)
            return dict(k) if k is not None else None

    def add_keys(self, keys):
        """Add or replace keys at run time (validated like the scenario's)."""
        keys = check_keys(keys)
        with self._lock:
            self.keys.update(keys)

    def list_keys(self):
        """Ids with token presence and expiry; never secrets or tokens."""
        with self._lock:
            return {kid: {"token": "token" in k, "expires": k.get("expires")}
                    for kid, k in self.keys.items()}

    # -- metadata service ----------------------------------------------------

    def md_config(self):
        with self._md_lock:
            return dict(self._md_cfg)

    def md_update(self, spec):
        with self._md_lock:
            self._md_cfg = check_metadata(spec, self._md_cfg)
            return dict(self._md_cfg)

    def md_new_token(self, ttl):
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self._md_lock:
            for old in [k for k, exp in self._md_tokens.items() if exp <= now]:
                del self._md_tokens[old]
            self._md_tokens[token] = now + ttl
        return token

    def md_token_live(self, token):
        with self._md_lock:
            exp = self._md_tokens.get(token)
        return exp is not None and self.now() < exp

    def md_credentials(self):
        """The credential set to hand out now, issuing (and registering as
        an API key) a new one when there is none or the current one is
        within lifetime/3 of its Expiration. Returns (creds, issued_new)."""
        with self._md_lock:
            now = self.now()
            cur = self._md_creds
            lifetime = self._md_cfg["lifetime_seconds"]
            if cur is not None and now < cur["expires"] - cur["lifetime"] / 3.0:
                return dict(cur), False
            alnum = string.ascii_letters + string.digits
            cur = {
                "AccessKeyId": "STS." + "".join(secrets.choice(alnum) for _ in range(28)),
                "AccessKeySecret": "".join(secrets.choice(alnum) for _ in range(44)),
                # Real STS tokens are long base64 text, '+', '/' and '=' included.
                "SecurityToken": "CAIS" + base64.b64encode(os.urandom(240)).decode("ascii"),
                "expires": int(now) + int(math.ceil(lifetime)),
                "updated": int(now),
                "lifetime": lifetime,
            }
            self._md_creds = cur
            self.add_keys({cur["AccessKeyId"]: {"secret": cur["AccessKeySecret"],
                                                "token": cur["SecurityToken"],
                                                "expires": cur["expires"]}})
            return dict(cur), True

    def md_status(self):
        """Config plus the current set's id and expiry (no secrets)."""
        with self._md_lock:
            out = dict(self._md_cfg)
            cur = self._md_creds
            out["current_access_key_id"] = cur["AccessKeyId"] if cur else None
            out["current_expires"] = cur["expires"] if cur else None
            return out

    def instance_exists(self, iid):
        with self._lock:
            return iid in self._instances

    def claim_nonce(self, nonce):
        """Record a nonce; False if it was seen before (any key)."""
        with self._lock:
            if nonce in self._nonces:
                return False
            self._nonces.add(nonce)
            return True

    def set_faults(self, faults):
        faults = check_faults(faults)
        with self._lock:
            self._faults = faults
            self._instances.update(faults)

    def get_faults(self):
        with self._lock:
            return copy.deepcopy(self._faults)

    def take_fault(self, instance_ids):
        """The fault for the first faulty instance in request order, or None.

        A fault with a count is consumed here, so concurrent requests never
        get more than ``count`` faulty answers between them.
        """
        with self._lock:
            for iid in instance_ids:
                spec = self._faults.get(iid)
                if spec is None:
                    continue
                remaining = spec.get("count")
                if remaining is None:
                    return dict(spec)
                if remaining > 0:
                    spec["count"] = remaining - 1
                    return dict(spec)
        return None

    # -- listing operations --------------------------------------------------

    def _region_of(self, iid):
        return self._inventory["instance_regions"].get(iid, DEFAULT_REGION)

    def list_instances(self, region, resource_group=None, edition=None, ids=None):
        """DescribeInstanceIds' items, in listing order, filtered."""
        inv = self._inventory
        out = []
        with self._lock:
            for iid in self._listed:
                ed = inv["editions"].get(iid, DEFAULT_EDITION)
                if (self._region_of(iid) != region
                        or (resource_group is not None and
                            inv["resource_groups"].get(iid, DEFAULT_RESOURCE_GROUP) != resource_group)
                        or (edition is not None and ed != edition)
                        or (ids is not None and iid not in ids)):
                    continue
                out.append({"InstanceId": iid, "Edition": ed,
                            "Remark": inv["remarks"].get(iid, ""),
                            "IpMode": "fnat", "IpVersion": "Ipv4"})
        return out

    def describe_instances(self, region, resource_group=None, ids=None):
        """DescribeInstances' items (every field of the SDK's model), in
        listing order, of the region (and resource group, and ids)."""
        inv = self._inventory
        section = self.attack_section()
        out = []
        with self._lock:
            for iid in self._listed:
                if (self._region_of(iid) != region
                        or (resource_group is not None and
                            inv["resource_groups"].get(iid, DEFAULT_RESOURCE_GROUP) != resource_group)
                        or (ids is not None and iid not in ids)):
                    continue
                ips = listed_ips(iid, section)
                out.append({"InstanceId": iid, "Ip": ips[0] if ips else "",
                            "Remark": inv["remarks"].get(iid, ""),
                            "Edition": inv["editions"].get(iid, DEFAULT_EDITION),
                            "Status": 1, "Enabled": 1, "DebtStatus": 0,
                            "ExpireTime": INSTANCE_EXPIRE_MS, "CreateTime": INSTANCE_CREATE_MS,
                            "IpMode": "fnat", "IpVersion": "Ipv6" if ips and ":" in ips[0]
                            else "Ipv4", "IsFirstOpenBw": 0, "IsFirstOpenQps": 0})
                out[-1].update(section.get("expiry", {}).get(iid, {}))
        return out

    def network_rules(self, iid, region, protocol=None, frontend_port=None):
        """The rules of instance ``iid`` (copies, filtered), or None when
        there is no such instance in ``region``."""
        with self._lock:
            if iid not in self._instances or self._region_of(iid) != region:
                return None
            return [copy.deepcopy(r) for r in self._inventory["rules"].get(iid, [])
                    if (protocol is None or r["protocol"] == protocol)
                    and (frontend_port is None or r["frontend_port"] == frontend_port)]

    def list_domains(self, ids=None):
        """The web domains, in listing order: all, or those with a rule on
        one of the instances ``ids``."""
        with self._lock:
            return [d for d, owners in self._domains.items()
                    if ids is None or set(owners) & ids]

    def change_domains(self, spec):
        """POST /_sim/domains: {"add": {name: [instance ids]}, "remove": [names]}."""
        spec = check_domain_changes(spec)
        with self._lock:
            for d in spec["remove"]:
                self._domains.pop(d, None)
            self._domains.update(spec["add"])

    def domains(self):
        with self._lock:
            return dict(self._domains)

    def change_instances(self, spec):
        """Apply a POST /_sim/instances body atomically (all or nothing)."""
        spec = check_instance_changes(spec, self.regions)
        with self._lock:
            gone = [iid for iid in spec["remove"] if iid not in self._instances]
            if gone:
                raise ConfigError("cannot remove unknown instances %s" % sorted(gone))
            for iid in spec["remove"]:
                self._instances.discard(iid)
                self._listed.pop(iid, None)
            for iid in spec["add"]:
                self._instances.add(iid)
                self._listed.setdefault(iid)
            for name in ("remarks", "editions", "resource_groups", "instance_regions", "rules"):
                # Merged per instance; a rules list replaces that instance's rules.
                self._inventory[name].update(spec.get(name, {}))

    def inventory(self):
        """What the listing operations work from (GET /_sim/instances)."""
        with self._lock:
            out = copy.deepcopy(self._inventory)
            out["instances"] = list(self._listed)
            out["existing"] = sorted(self._instances)
            out["list_style"] = self.list_style
            out["list_rate_limit"] = self.list_rate_limit
            return out

    def set_list_faults(self, spec):
        spec = check_list_faults(spec)
        with self._lock:
            self._list_faults = spec

    def get_list_faults(self):
        with self._lock:
            return copy.deepcopy(self._list_faults)

    def take_list_fault(self, action):
        """The fault for a listing action, or None; a count is consumed."""
        with self._lock:
            spec = self._list_faults.get(action)
            if spec is None:
                return None
            remaining = spec.get("count")
            if remaining is None:
                return dict(spec)
            if remaining > 0:
                spec["count"] = remaining - 1
                return dict(spec)
        return None

    def take_list_slot(self, kid):
        """Flow control of the listing operations: False if ``kid`` already
        had list_rate_limit accepted list calls in the last second (this
        one is then refused and not counted)."""
        limit = self.list_rate_limit
        if limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            calls = [c for c in self._list_calls.get(kid, ()) if c > now - 1.0]
            ok = len(calls) < limit
            if ok:
                calls.append(now)
            self._list_calls[kid] = calls
            return ok

    def set_quota(self, spec):
        spec = check_quota(spec)
        with self._lock:
            self._quota = spec
            self._quota_calls = {}

    def get_quota(self):
        with self._lock:
            return dict(self._quota) if self._quota else {}

    def take_quota_slot(self, kid, action, t):
        """The account's quota: None if the request arriving at ``t`` (epoch
        seconds) is within it (then it is counted), else the headers of the
        throttled answer (a list, empty without "hints")."""
        with self._lock:
            q = self._quota
            if q is None:
                return None
            key = kid if q["per"] == "account" else (kid, action)
            calls = [c for c in self._quota_calls.get(key, ()) if c > t - 1.0]
            if len(calls) < q["rps"]:
                calls.append(t)
                self._quota_calls[key] = calls
                return None
            self._quota_calls[key] = calls
            if not q["hints"]:
                return []
            left = max(0, int((min(calls) + 1.0 - t) * 1000) + 1)
            name = "x-ratelimit-user" if q["per"] == "account" else "x-ratelimit-user-api"
            return [(name, "Limit:%d,Remain:0,TimeLeft:%d,Reset:%d"
                     % (q["rps"], left, int((t + left / 1000.0) * 1000)))]

    # -- attack statistics ---------------------------------------------------

    def instance_in_region(self, iid, region):
        with self._lock:
            return iid in self._instances and self._region_of(iid) == region

    def set_attack(self, spec):
        """Replace the "attack" section (POST /_sim/attack); relative times
        ("now+N") count from the simulator's clock now."""
        spec = check_attack(spec, self.now())
        with self._attack_lock:
            self._attack = spec

    def get_attack(self):
        """The section as in force, times absolute (GET /_sim/attack)."""
        with self._attack_lock:
            out = copy.deepcopy(self._attack)
        out["now"] = self.now()
        return out

    def attack_section(self):
        with self._attack_lock:
            return copy.deepcopy(self._attack)

    def log(self, entry):
        if self._log is None:
            return
        line = json.dumps(entry, ensure_ascii=False, sort_keys=False)
        with self._log_lock:
            self._log.write(line + "\n")
            self._log.flush()

    def close(self):
        with self._log_lock:
            if self._log is not None:
                self._log.close()
                self._log = None


# ---------------------------------------------------------------------------
# Request verification
# ---------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _missing(name):
    return ApiError(400, "MissingParameter",
                    'The input parameter "%s" that is mandatory for processing this request is not supplied.' % name)


def _invalid(name, why=""):
    msg = 'The specified parameter "%s" is not valid.' % name
    return ApiError(400, "InvalidParameter", msg + (" " + why if why else ""))


def merge_params(pairs):
    """Pairs -> dict; a name given twice (even across query and body) is an error."""
    params = {}
    for name, value in pairs:
        if name in params:
            raise _invalid(name, "The parameter is specified more than once.")
        params[name] = value
    return params


def _is_operation_param(name, action):
    """Is ``name`` a parameter of ``action`` (beyond the common ones)? For
    an action this API does not have, any operation's parameter is, so the
    request gets as far as InvalidAction.NotFound."""
    if action in OPERATIONS:
        names, takes_list = OPERATIONS[action], action in INSTANCE_LIST_ACTIONS
    else:
        names, takes_list = ALL_OPERATION_PARAMS, True
    return name in names or (takes_list and INSTANCE_PARAM_RE.fullmatch(name) is not None)


def _is_known(name, action=ACTION):
    return name in REQUIRED_COMMON or name in OPTIONAL_COMMON or _is_operation_param(name, action)


def _parse_timestamp(ts):
    if not TIMESTAMP_RE.fullmatch(ts):
        return None
    try:
        dt = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:  # e.g. month 13 or second 60
        return None
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def verify_request(method, params, state):
    """Check one API request; return (instance_ids, port, start, end).

    Raises ApiError for the first failure, in the documented order (the
    order matters: e.g. a stale request must not consume its nonce).
    """
    # Presence, emptiness and unknown names, before looking at any value.
    for name in REQUIRED_COMMON:
        if name not in params:
            raise _missing(name)
    for name in sorted(params):
        if params[name] == "":
            raise _invalid(name, "The parameter must not be empty.")
    for name in sorted(params):
        if not _is_known(name, params["Action"]):
            raise _invalid(name, "The parameter is not recognized by this API.")

    if params["SignatureMethod"] != "HMAC-SHA1":
        raise _invalid("SignatureMethod", "Only HMAC-SHA1 is supported.")
    if params["SignatureVersion"] != "1.0":
        raise ApiError(400, "IncompleteSignature",
                       "The request signature does not conform to Aliyun standards. "
                       "SignatureVersion must be 1.0.")

    _check_timestamp(params["Timestamp"], state)
    key = _live_key(params["AccessKeyId"], state)

    string_to_sign, expected = sign_v1(method, params, key["secret"])
    if not hmac.compare_digest(expected.encode("utf-8"), params["Signature"].encode("utf-8")):
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature does not match our calculation. "
                       "server string to sign is:" + string_to_sign)

    # Only a correctly signed request consumes its nonce, so a forged
    # request cannot burn nonces of a legitimate client.
    _claim_nonce(params["SignatureNonce"], state)
    _check_token(key, params.get("SecurityToken"))
    _check_api(params["Action"], params["Version"], params, state)
    return _verify_operation(params, state, params["Action"])


def _check_timestamp(ts_text, state):
    ts = _parse_timestamp(ts_text)
    if ts is None:
        raise ApiError(400, "InvalidTimeStamp.Format",
                       "Specified time stamp or date value is not well formatted. "
                       "Expected YYYY-MM-DDThh:mm:ssZ in UTC.")
    if abs(ts - state.now()) > MAX_CLOCK_SKEW:
        raise ApiError(400, "InvalidTimeStamp.Expired",
                       "Specified time stamp or date value is expired.")


def _live_key(kid, state):
    """The key record, or NotFound; an expired key is refused here."""
    key = state.get_key(kid)
    if key is None:
        raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    expires = key.get("expires")
    if expires is not None and state.now() >= expires:
        if "token" in key:
            raise ApiError(400, "InvalidSecurityToken.Expired",
                           "Specified SecurityToken is expired.")
        raise ApiError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
    return key


def _claim_nonce(nonce, state):
    if not state.claim_nonce(nonce):
        raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


def _check_token(key, sent_token):
    expected_token = key.get("token")
    if expected_token is None and sent_token is not None:
        raise ApiError(400, "InvalidSecurityToken.Malformed",
                       "The security token is not valid for a permanent access key.")
    if expected_token is not None and sent_token is None:
        raise ApiError(400, "InvalidSecurityToken.Missing",
                       "The access key is temporary (STS) and requires a SecurityToken.")
    if expected_token is not None and not hmac.compare_digest(
            expected_token.encode("utf-8"), sent_token.encode("utf-8")):
        raise ApiError(400, "InvalidSecurityToken.Mismatch",
                       "The security token does not match the access key.")


def _check_api(action, version, params, state):
    if version != API_VERSION:
        raise ApiError(400, "InvalidVersion", 'Specified parameter Version is not valid.')
    if action not in OPERATIONS:
        raise ApiError(404, "InvalidAction.NotFound",
                       "Specified api is not found, please check your url and method.")
    if params.get("Format", "JSON") not in ("XML", "JSON"):
        raise _invalid("Format", "Valid values: XML, JSON.")
    if "RegionId" in params and params["RegionId"] not in state.regions:
        raise ApiError(400, "InvalidRegionId", "The specified region does not exist.")


def _incomplete_v3(why):
    return ApiError(400, "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards. " + why)


def _escape_v3(text):
    """CanonicalRequest/StringToSign shown on one line: '\\' and newlines escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def parse_v3_authorization(value):
    """Authorization header -> (access_key_id, [signed header names], signature)."""
    m = V3_AUTH_RE.fullmatch(value)
    if m is None:
        raise _incomplete_v3("Expected exactly 'ACS3-HMAC-SHA256 Credential=<AccessKeyId>,"
                             "SignedHeaders=<h1;h2;...>,Signature=<64 lower-case hex digits>'.")
    return m.group(1), m.group(2).split(";"), m.group(3)


def verify_request_v3(method, query_params, params, headers, body, state, info=None):
    """Check one V3 (ACS3-HMAC-SHA256) request; return (ids, port, start, end).

    ``query_params`` are the decoded query-string parameters alone (what is
    signed), ``params`` those merged with a form body's (what the operation
    reads), ``headers`` maps lower-case names to lists of values, ``body``
    is the body as received. ``info`` (a dict) receives "access_key_id"
    once the Authorization header is parsed. Same order idea as V1:
    syntax, clock, key, signature, nonce, token, then the operation.
    """
    if info is None:
        info = {}
    auths = headers.get("authorization", [])
    if len(auths) != 1:
        raise _incomplete_v3("Exactly one Authorization header is required.")
    kid, signed, signature = parse_v3_authorization(auths[0])
    info["access_key_id"] = kid

    for name in sorted(params):
        if name in V1_ONLY_PARAMS:
            raise _invalid(name, "A signature V3 request carries no %s parameter "
                           "(Action, Version, the token and the signature travel in headers)." % name)
    for name in sorted(params):
        if params[name] == "":
            raise _invalid(name, "The parameter must not be empty.")
    sent_action = headers.get("x-acs-action", [""])[0].strip()
    for name in sorted(params):
        if name not in ("Format", "RegionId") and not _is_operation_param(name, sent_action):
            raise _invalid(name, "The parameter is not recognized by this API.")

    for name in sorted(headers):
        if name != "authorization" and len(headers[name]) > 1 and (
                name.startswith("x-acs-") or name in ("host", "content-type")):
            raise _invalid(name, "The header is sent more than once.")
    for name in V3_REQUIRED_HEADERS:
        if name not in headers:
            raise _missing(name)
    for name in sorted(headers):
        if (name.startswith("x-acs-") or name in V3_REQUIRED_HEADERS) and not headers[name][0].strip():
            raise _invalid(name, "The header must not be empty.")

    # SignedHeaders: lower-case tokens, strictly sorted, covering host,
    # content-type (if sent) and every x-acs-* header; each one present.
    for name in signed:
        if not HEADER_TOKEN_RE.fullmatch(name):
            raise _incomplete_v3("SignedHeaders must be lower-case header names separated by "
                                 "';' (got %r)." % name)
    if signed != sorted(set(signed)):
        raise _incomplete_v3("SignedHeaders must be sorted, without duplicates.")
    if "authorization" in signed:
        raise _incomplete_v3("The Authorization header cannot be signed.")
    must_sign = {"host"} | {n for n in headers if n.startswith("x-acs-") or n == "content-type"}
    for name in sorted(must_sign):
        if name not in signed:
            raise _incomplete_v3("Header %s must be in SignedHeaders." % name)
    for name in signed:
        if name not in headers:
            raise _incomplete_v3("Signed header %s is not in the request." % name)

    _check_timestamp(headers["x-acs-date"][0].strip(), state)

    sent_hash = headers["x-acs-content-sha256"][0].strip()
    real_hash = hex_sha256(body)
    if not SHA256_HEX_RE.fullmatch(sent_hash) or sent_hash != real_hash:
        raise _invalid("x-acs-content-sha256", "ContentSha256Mismatch: it must be the lower-case "
                       "hex SHA-256 of the request body as sent; the server computed %s." % real_hash)

    key = _live_key(kid, state)
    canonical, string_to_sign, expected = sign_v3(
        method, query_params, {n: headers[n][0] for n in signed}, body, key["secret"], signed)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature does not match our calculation. "
                       "server canonical request is:" + _escape_v3(canonical) +
                       " server string to sign is:" + _escape_v3(string_to_sign))

    _claim_nonce(headers["x-acs-signature-nonce"][0].strip(), state)
    token = headers.get("x-acs-security-token")
    _check_token(key, None if token is None else token[0].strip())
    action = headers["x-acs-action"][0].strip()
    _check_api(action, headers["x-acs-version"][0].strip(), params, state)
    return _verify_operation(params, state, action)


def _verify_operation(params, state, action=ACTION):
    """The operation's own checks, once the request is authentic. For
    DescribePortConnsCount: (instance_ids, port, start, end); for the
    listing operations a dict (see _verify_instance_ids and
    _verify_network_rules)."""
    if action == LIST_INSTANCES:
        return _verify_instance_ids(params, state)
    if action == LIST_RULES:
        return _verify_network_rules(params, state)
    if action == LIST_DOMAINS:
        return _verify_domains(params, state)
    if action == FACTS_INSTANCES:
        return _verify_describe_instances(params, state)
    if action == FACTS_DETAILS:
        return _verify_instance_details(params, state)
    if action in WEB_ACTIONS:
        return _verify_web_operation(params, state, action)
    if action in CC_ACTIONS:
        return _verify_cc_operation(params, state, action)
    if action == SRC_IP_ACTION:
        return _verify_src_ip(params, state)
    if action == ALL_EVENTS_ACTION:
        return _verify_all_events(params, state)
    if action == BPS_ACTION:
        return _verify_domain_bps(params, state)
    if action in STAT_ACTIONS:
        return _verify_stat_operation(params, state, action)
    return _verify_port_conns(params, state)


def _instance_id_list(params, required):
    """InstanceIds.1..N in order, or None when absent and not required."""
    indices = {}
    for name, value in params.items():
        m = INSTANCE_PARAM_RE.fullmatch(name)
        if m:
            indices[int(m.group(1))] = value
    if not indices:
        if required:
            raise _missing("InstanceIds.1")
        return None
    if len(indices) > MAX_INSTANCES:
        raise _invalid("InstanceIds", "At most %d instances are allowed." % MAX_INSTANCES)
    for n in range(1, len(indices) + 1):
        if n not in indices:  # a gap: the list is not 1..N
            raise _invalid("InstanceIds.%d" % n, "InstanceIds.N must be numbered 1..N without gaps.")
    return [indices[n] for n in range(1, len(indices) + 1)]


def _verify_instance_ids(params, state):
    """DescribeInstanceIds: optional ResourceGroupId, Edition, InstanceIds.N.
    Returns {"region", "instances": [item dicts]}."""
    edition = params.get("Edition")
    if edition is not None:
        if not UNSIGNED_RE.fullmatch(edition):
            raise _invalid("Edition", "It must be a non-negative integer.")
        edition = int(edition)
    ids = _instance_id_list(params, required=False)
    region = params.get("RegionId", DEFAULT_REGION)
    items = state.list_instances(region, params.get("ResourceGroupId"), edition,
                                 None if ids is None else set(ids))
    return {"region": region, "instances": items}


def _verify_describe_instances(params, state):
    """DescribeInstances: PageNumber (>= 1), PageSize (1..50), optional
    InstanceIds.N (1..100), ResourceGroupId, Edition, Enabled, Ip, Remark
    (a part of it), ExpireStartTime/ExpireEndTime (ms) filters. Returns
    {"total_count", "instances": [the page's item dicts]}."""
    for name in ("PageNumber", "PageSize"):
        if name not in params:
            raise _missing(name)
    number, size = params["PageNumber"], params["PageSize"]
    if not UNSIGNED_RE.fullmatch(number) or int(number) < 1:
        raise _invalid("PageNumber", "It must be an integer from 1.")
    if not UNSIGNED_RE.fullmatch(size) or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise _invalid("PageSize", "It must be an integer from 1 to %d." % MAX_PAGE_SIZE)
    numbers = {}
    for name in ("Edition", "Enabled", "ExpireStartTime", "ExpireEndTime"):
        if name in params:
            if not UNSIGNED_RE.fullmatch(params[name]):
                raise _invalid(name, "It must be a non-negative integer.")
            numbers[name] = int(params[name])
    if "Enabled" in numbers and numbers["Enabled"] not in (0, 1):
        raise _invalid("Enabled", "Valid values: 0, 1.")
    ids = _instance_id_list(params, required=False)
    region = params.get("RegionId", DEFAULT_REGION)
    items = state.describe_instances(region, params.get("ResourceGroupId"),
                                     None if ids is None else set(ids))
    section = state.attack_section()
    out = []
    for it in items:
        if ("Edition" in numbers and it["Edition"] != numbers["Edition"]
                or "Enabled" in numbers and it["Enabled"] != numbers["Enabled"]
                or "ExpireStartTime" in numbers and it["ExpireTime"] < numbers["ExpireStartTime"]
                or "ExpireEndTime" in numbers and it["ExpireTime"] > numbers["ExpireEndTime"]
                or "Remark" in params and params["Remark"] not in it["Remark"]
                or "Ip" in params and params["Ip"] not in listed_ips(it["InstanceId"], section)):
            continue
        out.append(it)
    first = (int(number) - 1) * int(size)
    return {"total_count": len(out), "instances": out[first:first + int(size)]}


def _verify_instance_details(params, state):
    """DescribeInstanceDetails: InstanceIds.N (1..100), each an instance of
    the region. Returns {"details": [{"InstanceId", "Line", "EipInfos": [...]}]},
    in request order."""
    ids = _instance_id_list(params, required=True)
    region = params.get("RegionId", DEFAULT_REGION)
    for iid in ids:
        if not state.instance_in_region(iid, region):
            raise ApiError(400, "InvalidInstance.NotFound",
                           "The specified instance does not exist: %s" % iid)
    section = state.attack_section()
    details = []
    for iid in dict.fromkeys(ids):
        eips = [{"Eip": ip, "Status": eip_status(iid, ip, section, state.now()),
                 "IpMode": "fnat", "IpVersion": "Ipv6" if ":" in ip else "Ipv4",
                 "CertConfigured": False, "TlsVersion": "tls1.2", "Ssl13Enabled": False,
                 "FunctionVersion": "default"}
                for ip in listed_ips(iid, section)]
        details.append({"InstanceId": iid, "Line": "coop-line-001", "EipInfos": eips})
    return {"details": details}


def _verify_domains(params, state):
    """DescribeDomains: optional InstanceIds.N (1..100), ResourceGroupId.
    Returns {"domains": [names]}: those with a rule on one of the instances,
    or all of the account's."""
    ids = _instance_id_list(params, required=False)
    region = params.get("RegionId", DEFAULT_REGION)
    for iid in ids or ():
        if not state.instance_in_region(iid, region):
            raise ApiError(400, "InvalidInstance.NotFound",
                           "The specified instance does not exist: %s" % iid)
    return {"domains": state.list_domains(None if ids is None else set(ids))}


def _verify_network_rules(params, state):
    """DescribeNetworkRules: InstanceId, PageNumber (>= 1), PageSize
    (1..50), optional ForwardProtocol (tcp|udp) and FrontendPort.
    Returns {"instance_id", "total_count", "rules": [the page's rule dicts]}."""
    for name in ("InstanceId", "PageNumber", "PageSize"):
        if name not in params:
            raise _missing(name)
    number, size = params["PageNumber"], params["PageSize"]
    if not UNSIGNED_RE.fullmatch(number) or int(number) < 1:
        raise _invalid("PageNumber", "It must be an integer from 1.")
    if not UNSIGNED_RE.fullmatch(size) or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise _invalid("PageSize", "It must be an integer from 1 to %d." % MAX_PAGE_SIZE)
    protocol = params.get("ForwardProtocol")
    if protocol is not None and protocol not in ("tcp", "udp"):
        raise _invalid("ForwardProtocol", "Valid values: tcp, udp.")
    port = params.get("FrontendPort")
    if port is not None:
        if not (PORT_RE.fullmatch(port) and int(port) <= 65535):
            raise _invalid("FrontendPort", "It must be a port number from 1 to 65535.")
        port = int(port)
    iid = params["InstanceId"]
    rules = state.network_rules(iid, params.get("RegionId", DEFAULT_REGION), protocol, port)
    if rules is None:
        raise ApiError(400, "InvalidInstance.NotFound",
                       "The specified instance does not exist: %s" % iid)
    first = (int(number) - 1) * int(size)
    return {"instance_id": iid, "total_count": len(rules),
            "rules": rules[first:first + int(size)]}


def _verify_port_conns(params, state):
    times = {}
    for name in ("StartTime", "EndTime"):
        if name not in params:
            raise _missing(name)
    for name in ("StartTime", "EndTime"):
        if not UNSIGNED_RE.fullmatch(params[name]):
            raise _invalid(name, "It must be a UNIX timestamp in seconds.")
        times[name] = int(params[name])
    for name in ("StartTime", "EndTime"):
        if times[name] % 60:
            raise _invalid(name, "The timestamp must be accurate to the minute.")
    start, end = times["StartTime"], times["EndTime"]
    if start >= end:
        raise _invalid("StartTime", "StartTime must be earlier than EndTime.")
    if end > math.ceil(state.now() / 60) * 60:
        raise _invalid("EndTime", "EndTime must not be in the future.")
    if end - start > MAX_RANGE:
        raise _invalid("EndTime", "The time range must not exceed %d seconds." % MAX_RANGE)

    instance_ids = _instance_id_list(params, required=True)
    for iid in instance_ids:
        if not state.instance_exists(iid):
            raise ApiError(400, "InvalidInstance.NotFound",
                           "The specified instance does not exist: %s" % iid)

    port = params.get("Port")
    if port is not None and not (PORT_RE.fullmatch(port) and int(port) <= 65535):
        raise _invalid("Port", "It must be a port number from 1 to 65535.")
    return instance_ids, port, start, end


# ---------------------------------------------------------------------------
# Response documents
# ---------------------------------------------------------------------------

def error_body(code, message, request_id, fmt):
    recommend = "https://next.api.aliyun.com/troubleshoot?q=" + code
    if fmt == "JSON":
        doc = {"RequestId": request_id, "HostId": HOST_ID, "Code": code,
               "Message": message, "Recommend": recommend}
        return json.dumps(doc).encode("utf-8"), JSON_CTYPE
    xml = (XML_DECL + "<Error><RequestId>%s</RequestId><HostId>%s</HostId><Code>%s</Code>"
           "<Message>%s</Message><Recommend><![CDATA[%s]]></Recommend></Error>") % (
        request_id, HOST_ID, xml_escape(code), xml_escape(message), recommend)
    return xml.encode("utf-8"), XML_CTYPE


def success_fields(values, request_id, seed):
    """Child elements in a per-request shuffled order (clients must not
    depend on the order; seeding from the request keeps reruns stable)."""
    fields = [("Conns", values["Conns"]), ("RequestId", request_id), ("Cps", values["Cps"]),
              ("ActConns", values["ActConns"]), ("InActConns", values["InActConns"])]
    random.Random(seed).shuffle(fields)
    return fields


def fields_xml(fields, root="DescribePortConnsCountResponse", prolog=XML_DECL):
    inner = "".join("<%s>%s</%s>" % (k, v, k) for k, v in fields)
    return prolog + "<%s>%s</%s>" % (root, inner, root)


def fields_json(fields):
    return json.dumps(dict(fields))


# Listing responses. A document is described as a list of (name, value)
# pairs; a value is a str/int/bool scalar, or a list (of scalars, or of
# items, each a list of pairs). How a list becomes XML is the list style:
#   repeated:  <Name>item 1</Name><Name>item 2</Name>   (no element when empty)
#   wrapper:   <Name><item>item 1</item><item>item 2</item></Name>
# where "item n" is the text of a scalar or the item's fields as elements.

def _xml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_escape(str(value))


def _xml_value(value, style, empty=None):
    if isinstance(value, list):   # an item: its fields
        return "".join(_xml_field(k, v, style, empty) for k, v in value)
    return _xml_scalar(value)


def _xml_field(name, value, style, empty=None):
    if isinstance(value, ListValue):
        if not value and empty is not None:
            return EMPTY_LIST_XML[empty] % {"name": name}
        if style == "wrapper":
            inner = "".join("<%s>%s</%s>" % (WRAPPER_ITEM, _xml_value(v, style, empty),
                                             WRAPPER_ITEM) for v in value)
            return "<%s>%s</%s>" % (name, inner, name)
        return "".join("<%s>%s</%s>" % (name, _xml_value(v, style, empty), name)
                       for v in value)
    return "<%s>%s</%s>" % (name, _xml_value(value, style, empty), name)


class ListValue(list):
    """A list field (as opposed to an item, which is a plain list of pairs)."""


def list_xml(fields, root, style, prolog=XML_DECL, empty=None):
    """The XML document of a listing response in list style ``style``; an
    empty list as ``empty`` has it (EMPTY_LISTS; None: as the style has
    it, nothing when repeated, <Name></Name> when wrapped)."""
    return prolog + "<%s>%s</%s>" % (
        root, "".join(_xml_field(k, v, style, empty) for k, v in fields), root)


def _json_value(value):
    if isinstance(value, ListValue):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return {k: _json_value(v) for k, v in value}
    return value


def list_json(fields):
    return json.dumps({k: _json_value(v) for k, v in fields})


def list_fields(action, result, request_id, seed):
    """The (name, value) pairs of a listing response. The order of the
    top-level fields and of each item's fields is shuffled per request
    (seeded, as for DescribePortConnsCount); items keep listing order."""
    rng = random.Random(seed)

    def shuffled(pairs):
        pairs = list(pairs)
        rng.shuffle(pairs)
        return pairs
    if action == LIST_INSTANCES:
        items = ListValue(shuffled(i.items()) for i in result["instances"])
        return shuffled([("RequestId", request_id), ("InstanceIds", items)])
    if action == LIST_DOMAINS:
        return shuffled([("RequestId", request_id), ("Domains", ListValue(result["domains"]))])
    if action == FACTS_INSTANCES:
        items = ListValue(shuffled(i.items()) for i in result["instances"])
        return shuffled([("RequestId", request_id), ("TotalCount", result["total_count"]),
                         ("Instances", items)])
    if action == FACTS_DETAILS:
        items = ListValue(shuffled(
            [("InstanceId", d["InstanceId"]), ("Line", d["Line"]),
             ("EipInfos", ListValue(shuffled(e.items()) for e in d["EipInfos"]))])
            for d in result["details"])
        return shuffled([("RequestId", request_id), ("InstanceDetails", items)])
    items = ListValue(shuffled([
        ("InstanceId", result["instance_id"]), ("Protocol", r["protocol"]),
        ("FrontendPort", r["frontend_port"]), ("BackendPort", r["backend_port"]),
        ("RealServers", ListValue(r["real_servers"])), ("Remark", r["remark"]),
        ("IsAutoCreate", False)]) for r in result["rules"])
    return shuffled([("RequestId", request_id), ("TotalCount", result["total_count"]),
                     ("NetworkRules", items)])


def list_summary(action, result):
    """What the log line of a listing answer records of it."""
    if action == LIST_INSTANCES:
        return {"listed": [i["InstanceId"] for i in result["instances"]]}
    if action == LIST_DOMAINS:
        return {"listed": list(result["domains"])}
    if action == FACTS_INSTANCES:
        return {"listed": [i["InstanceId"] for i in result["instances"]],
                "total_count": result["total_count"]}
    if action == FACTS_DETAILS:
        return {"listed": ["%s:%s" % (d["InstanceId"], e["Eip"]) for d in result["details"]
                           for e in d["EipInfos"]]}
    return {"listed": ["%s:%d" % (r["protocol"], r["frontend_port"]) for r in result["rules"]],
            "total_count": result["total_count"]}


NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")
GATEWAY_STATUS = {"html": 502, "empty503": 503}
NGINX_PLAIN_ON_TLS = ("<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title>"
                      "</head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
                      "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
                      "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def fault_headers(fault):
    """The extra response headers of a fault: "retry_after_ms" as
    x-acs-retry-after (throttle only), then "headers" as given."""
    out = []
    if fault["mode"] == "throttle" and fault.get("retry_after_ms") is not None:
        out.append(("x-acs-retry-after", str(fault["retry_after_ms"])))
    out.extend((fault.get("headers") or {}).items())
    return out


def _hostile_dtd(mode, root, xxe_url):
    if mode == "entities":
        # The classic "billion laughs": 10^9 copies of "lol" if expanded.
        ents = ['<!ENTITY lol "lol">']
        ents.append('<!ENTITY lol1 "%s">' % ("&lol;" * 10))
        for i in range(2, 10):
            ents.append('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10))
        dtd = "<!DOCTYPE %s [\n %s\n]>\n" % (root, "\n ".join(ents))
    elif mode == "xxe":
        dtd = '<!DOCTYPE %s [\n <!ENTITY xxe SYSTEM "file:///etc/hostname">\n]>\n' % root
    else:  # xxe_net
        dtd = '<!DOCTYPE %s [\n <!ENTITY xxe SYSTEM "%s">\n]>\n' % (root, xxe_url)
    return dtd


def hostile_document(mode, fields, xxe_url):
    """XML documents that a safe parser must refuse (entity expansion, XXE)."""
    root = "DescribePortConnsCountResponse"
    rest = [(k, v) for k, v in fields if k != "Conns"]
    dtd = _hostile_dtd(mode, root, xxe_url)
    ref = "&lol9;" if mode == "entities" else "&xxe;"
    body = "".join("<%s>%s</%s>" % (k, v, k) for k, v in rest)
    return '<?xml version="1.0" encoding="UTF-8"?>\n%s<%s><Conns>%s</Conns>%s</%s>' % (
        dtd, root, ref, body, root)


# ---------------------------------------------------------------------------
# Attack statistics: DescribePortFlowList, DescribeBlackholeStatus and
# DescribeDDoSEvents. What the vendor's sources say, and what this
# simulator chose where they are silent: doc/api-operations.md.
# ---------------------------------------------------------------------------

MAX_STAT_RANGE = 31 * 86400     # longest DescribePortFlowList range (sources silent)
MAX_BLACKHOLE_INSTANCES = 20    # DescribeBlackholeStatus InstanceIds: maxItems 20
MAX_EVENT_PAGE_SIZE = 50        # sources silent; sibling operations document 50
# The smallest Interval the docs recommend for a range of at most so many
# seconds (None: longer ranges).
INTERVAL_MINIMUMS = ((3600, 60), (6 * 3600, 600), (86400, 1800), (7 * 86400, 3600),
                     (15 * 86400, 14400), (None, 43200))
PREMIUM_REGION = "ap-southeast-1"  # only its answers name regions other than "cn"
FLOW_FIELDS = ("InBps", "OutBps", "InPps", "OutPps", "AttackBps", "AttackPps")
SLA_FIELDS = ("SlaBpsDropBps", "SlaBpsDropPps", "SlaPpsDropBps", "SlaPpsDropPps",
              "SlaCpsDropBps", "SlaCpsDropPps", "SlaConnDropBps", "SlaConnDropPps")
STAT_LIST_NAMES = {FLOW_ACTION: "PortFlowList", BLACKHOLE_ACTION: "BlackholeStatus",
                   EVENTS_ACTION: "DDoSEvents", QPS_ACTION: "DomainQPSList",
                   CODES_ACTION: "StatusCodeList", CC_EVENTS_ACTION: "DomainAttackEvents",
                   TOP_IP_ACTION: "DataList", SRC_IP_ACTION: "Ips",
                   ALL_EVENTS_ACTION: "AttackEvents", BPS_ACTION: "DomainBps",
                   PORT_MAX_ACTION: "PortMaxConns"}
# DescribeDDosAllEventList's EventType values (SDK model and vendor metadata);
# several, comma-separated, or none: all.
ALL_EVENT_TYPES = ("web-cc", "cc", "defense", "blackhole")
CC_ATTACK_KEYS = frozenset({"instance", "ip", "port", "start", "end", "peak_mbps", "peak_pps",
                            "area"})
ONGOING_END_TIMES = ("zero", "absent", "future")
EVENT_SELECTIONS = ("overlap", "start")
# The order of DDoSEvents items, which the sources do not give: newest first,
# or "scrambled", a stable order neither by time nor by anything else.
EVENT_ORDERS = ("newest", "scrambled")
ATTACK_DEFAULTS = {"attacks": [], "ongoing_end_time": "zero", "event_selection": "overlap",
                   "event_order": "newest",
                   "flow_regions": ["cn"], "instance_ips": {}, "flow_delay_seconds": 0,
                   "floods": [], "hostile_ips": {}, "many_ips": {},
                   "unlisted_ips": [], "forbidden_instances": [], "cc_attacks": [],
                   "plans": {}, "usage": {}, "account_quotas": {}, "origin_down": [],
                   "expiry": {}}
MAX_HOSTILE_TEXT = 4096         # characters of one hostile "Ip"
MAX_MANY_IPS = 100000
FLOOD_KEYS = frozenset({"domain", "start", "end", "peak_qps", "ramp_seconds", "sources"})
SOURCE_KEYS = frozenset({"ip", "area_id", "isp", "count"})
ATTACK_KEYS = frozenset({"instance", "ip", "port", "start", "end", "peak_bps", "peak_pps",
                         "ramp_seconds", "blackhole_from", "blackhole_to", "region",
                         "sources"})
MAX_PEAK = 10 ** 15             # 1 Pbit/s: sums of many attacks stay far below 2^63
FUTURE_END_SECONDS = 3600       # "future": an open-ended event's EndTime, past now
TIME_SPEC_RE = re.compile(r"now(?:([+-])([0-9]{1,10}))?", re.ASCII)


def _time_spec(what, value, now, null_ok=False):
    """Epoch seconds from an integer, or from "now", "now+N", "now-N"
    (N seconds from ``now``, the simulator's clock when the section is
    loaded)."""
    if value is None and null_ok:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 40:
        return value
    if isinstance(value, str):
        m = TIME_SPEC_RE.fullmatch(value)
        if m:
            offset = int(m.group(2) or 0)
            return int(now) + (-offset if m.group(1) == "-" else offset)
    raise ConfigError('%s must be epoch seconds or "now", "now+N", "now-N"%s' %
                      (what, " or null" if null_ok else ""))


def _check_ip(what, value):
    if not isinstance(value, str):
        raise ConfigError("%s must be an IP address (a string)" % what)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError("%s: %r is not an IP address" % (what, value)) from None


def _count(what, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("%s must be an integer from %d to %d" % (what, low, high))
    return value


def default_ip(iid):
    """The address of an instance without "instance_ips": a stable pick
    from 198.18.0.0/15 (RFC 2544), so instances are told apart by IP."""
    n = int.from_bytes(hashlib.sha256(("ip:" + iid).encode("utf-8")).digest()[:4], "big")
    x = n % 512
    return "198.%d.%d.%d" % (18 + x // 256, x % 256, 1 + (n >> 9) % 254)


# Instance facts (DescribeInstances, DescribeInstanceDetails): every
# instance was created and expires at these times (ms), is "normal" (Status
# 1), forwards (Enabled 1) and owes nothing (DebtStatus 0).
INSTANCE_CREATE_MS = 1600000000000
INSTANCE_EXPIRE_MS = 1900000000000


def listed_ips(iid, section):
    """The IPs the instance facts list of an instance: its IPs, but those of
    "unlisted_ips" (an address the listing does not know yet)."""
    hidden = set(section.get("unlisted_ips", ()))
    many = ["10.%d.%d.%d" % (n >> 16 & 255, n >> 8 & 255, n & 255)
            for n in range(section.get("many_ips", {}).get(iid, 0))]
    return [ip for ip in instance_ips(iid, section) + many if ip not in hidden]


def eip_status(iid, ip, section, now):
    """An EipInfos Status: "blackhole" while a blackhole of the IP is on,
    "defense" while an attack on it runs, else "normal"."""
    status = "normal"
    for a in section["attacks"]:
        if a["instance"] != iid or a["ip"] != ip:
            continue
        if a["blackhole_from"] is not None and a["blackhole_from"] <= now < a["blackhole_to"]:
            return "blackhole"
        if a["start"] <= now and (a["end"] is None or now < a["end"]):
            status = "defense"
    return status


def instance_ips(iid, section):
    """The IPs of an instance: its "instance_ips" (or default_ip), then
    any attack's IP on it that is not among them."""
    ips = list(section["instance_ips"].get(iid) or [default_ip(iid)])
    for a in section["attacks"]:
        if a["instance"] == iid and a["ip"] not in ips:
            ips.append(a["ip"])
    return ips


def _check_one_attack(what, a, now, section):
    if not isinstance(a, dict) or set(a) - ATTACK_KEYS:
        raise ConfigError("%s must be an object with keys among %s" %
                          (what, ", ".join(sorted(ATTACK_KEYS))))
    for name in ("instance", "start", "peak_bps", "peak_pps"):
        if name not in a:
            raise ConfigError("%s.%s is required" % (what, name))
    _check_text(what + ".instance", a["instance"], empty_ok=False)
    out = {"instance": a["instance"]}
    if a.get("ip") is not None:
        _check_ip(what + ".ip", a["ip"])
    port = a.get("port", 80)
    if not _port_number(port):
        raise ConfigError("%s.port must be an integer 1..65535" % what)
    out["port"] = port
    out["start"] = _time_spec(what + ".start", a["start"], now)
    out["end"] = _time_spec(what + ".end", a.get("end"), now, null_ok=True)
    if out["end"] is not None and out["end"] <= out["start"]:
        raise ConfigError("%s: end must be later than start" % what)
    for name in ("peak_bps", "peak_pps"):
        out[name] = _count("%s.%s" % (what, name), a[name], 1, MAX_PEAK)
    out["ramp_seconds"] = _count(what + ".ramp_seconds", a.get("ramp_seconds", 120), 0, 86400)
    has_from, has_to = a.get("blackhole_from") is not None, a.get("blackhole_to") is not None
    if has_from != has_to:
        raise ConfigError("%s: blackhole_from and blackhole_to go together" % what)
    out["blackhole_from"] = out["blackhole_to"] = None
    if has_from:
        out["blackhole_from"] = _time_spec(what + ".blackhole_from", a["blackhole_from"], now)
        out["blackhole_to"] = _time_spec(what + ".blackhole_to", a["blackhole_to"], now)
        if out["blackhole_from"] < out["start"] or out["blackhole_to"] <= out["blackhole_from"]:
            raise ConfigError("%s: the blackhole must begin at or after start and end after "
                              "it begins" % what)
    region = a.get("region", "cn")
    _check_text(what + ".region", region, empty_ok=False)
    out["region"] = region
    # Without an ip the attack hits the instance's first IP.
    out["ip"] = a["ip"] if a.get("ip") is not None else instance_ips(a["instance"], section)[0]
    # Who is attacking (DescribeDDosEventSrcIp), as a flood's sources: the
    # count ranks them (most attack traffic first) and is not answered.
    out["sources"] = _check_sources(what + ".sources", a.get("sources", []))
    return out


def _check_sources(what, sources):
    """A flood's sources: [{"ip", "area_id", "isp", "count"}], each text as
    DescribeWebReportTopIp answers it (anything, to script hostile
    answers; "ip" may be no IP address at all), count 1..10^12."""
    if not isinstance(sources, list):
        raise ConfigError("%s must be a list" % what)
    out = []
    for i, src in enumerate(sources):
        w = "%s[%d]" % (what, i)
        if not isinstance(src, dict) or set(src) != SOURCE_KEYS:
            raise ConfigError("%s must be an object with ip, area_id, isp, count" % w)
        for k in ("ip", "area_id", "isp"):
            _check_text("%s.%s" % (w, k), src[k], empty_ok=False)
            if len(src[k]) > MAX_HOSTILE_TEXT:
                raise ConfigError("%s.%s: at most %d characters" % (w, k, MAX_HOSTILE_TEXT))
        out.append(dict(src, count=_count(w + ".count", src["count"], 1, 10 ** 12)))
    return out


def check_attack(spec, now):
    """Validate the scenario's "attack" section (or a POST /_sim/attack
    body); return it complete, every time resolved to epoch seconds:

        {"attacks": [{"instance", "ip"?, "port"? (80), "start", "end"? (null:
                      open-ended), "peak_bps", "peak_pps", "ramp_seconds"? (120),
                      "blackhole_from"?, "blackhole_to"?, "region"? ("cn")}, ...],
         "ongoing_end_time": "zero" | "absent" | "future",
         "event_selection": "overlap" | "start",
         "event_order": "newest" | "scrambled",
         "flow_regions": ["cn", ...]   (rows per Time for RegionId ap-southeast-1),
         "instance_ips": {instance id: [ip, ...]},
         "hostile_ips": {instance id: [any text, ...]}  (more BlackholeStatus rows,
                       "normal", whose Ip is that text: a hostile answer),
         "many_ips": {instance id: N}  (N more rows, "normal", 10.0.0.0 on),
         "unlisted_ips": [ip, ...]     (IPs DescribeInstances and
                       DescribeInstanceDetails leave out: not known yet),
         "forbidden_instances": [id, ...] (the key may not read them: a
                       statistic's request naming one is refused whole, 403
                       Forbidden.RAM),
         "flow_delay_seconds": N,      (a bucket is answered N s after it ends)
         "cc_attacks": [{"instance", "ip"? (its first), "port"? (80), "start",
                        "end"? (null: open-ended), "peak_mbps", "peak_pps",
                        "area"? ("cn")}, ...]  (connection floods, EventType "cc"
                       of DescribeDDosAllEventList only)}
    """
    if not isinstance(spec, dict):
        raise ConfigError("attack must be a JSON object")
    unknown = set(spec) - set(ATTACK_DEFAULTS)
    if unknown:
        raise ConfigError("attack: unknown keys %s (known: %s)" %
                          (sorted(unknown), ", ".join(sorted(ATTACK_DEFAULTS))))
    out = copy.deepcopy(ATTACK_DEFAULTS)
    for name, choices in (("ongoing_end_time", ONGOING_END_TIMES),
                          ("event_selection", EVENT_SELECTIONS),
                          ("event_order", EVENT_ORDERS)):
        if name in spec:
            if spec[name] not in choices:
                raise ConfigError("attack.%s must be one of %s" % (name, ", ".join(choices)))
            out[name] = spec[name]
    if "flow_regions" in spec:
        regions = spec["flow_regions"]
        if (not isinstance(regions, list) or not regions
                or len(set(map(str, regions))) != len(regions)):
            raise ConfigError("attack.flow_regions must be a non-empty list of distinct names")
        for r in regions:
            _check_text("attack.flow_regions[]", r, empty_ok=False)
        out["flow_regions"] = list(regions)
    if "instance_ips" in spec:
        def ip_list(what, lst):
            if not isinstance(lst, list) or not lst or len(set(map(str, lst))) != len(lst):
                raise ConfigError("%s must be a non-empty list of distinct IP addresses" % what)
            for ip in lst:
                _check_ip(what + "[]", ip)
        out["instance_ips"] = _check_id_map("attack.instance_ips", spec["instance_ips"], ip_list)
    if "hostile_ips" in spec:
        # Hostile answers: any text as an "Ip" (spaces, U+0085, 300
        # characters...), answered "normal" after the instance's IPs.
        def texts(what, lst):
            if not isinstance(lst, list):
                raise ConfigError("%s must be a list of strings" % what)
            for t in lst:
                _check_text(what + "[]", t)
                if len(t) > MAX_HOSTILE_TEXT:
                    raise ConfigError("%s[]: at most %d characters" % (what, MAX_HOSTILE_TEXT))
        out["hostile_ips"] = _check_id_map("attack.hostile_ips", spec["hostile_ips"], texts)
    if "many_ips" in spec:
        # N more distinct IPv4 addresses of an instance (10.0.0.0/8), "normal".
        out["many_ips"] = _check_id_map(
            "attack.many_ips", spec["many_ips"],
            lambda what, n: _count(what, n, 0, MAX_MANY_IPS))
    if "unlisted_ips" in spec:
        # IPs the answers name that DescribeInstances/DescribeInstanceDetails
        # do not list (yet).
        if not isinstance(spec["unlisted_ips"], list):
            raise ConfigError("attack.unlisted_ips must be a list of IP addresses")
        for ip in spec["unlisted_ips"]:
            _check_ip("attack.unlisted_ips[]", ip)
        out["unlisted_ips"] = list(spec["unlisted_ips"])
    if "forbidden_instances" in spec:
        # Instances the key may not read: a statistic's request naming one
        # of them is refused whole (403 Forbidden.RAM).
        lst = spec["forbidden_instances"]
        if not isinstance(lst, list):
            raise ConfigError("attack.forbidden_instances must be a list of instance ids")
        for iid in lst:
            _check_text("attack.forbidden_instances[]", iid, empty_ok=False)
        out["forbidden_instances"] = list(lst)
    if "flow_delay_seconds" in spec:
        out["flow_delay_seconds"] = _count("attack.flow_delay_seconds",
                                           spec["flow_delay_seconds"], 0, 86400)
    check_plan_keys(spec, out, now)
    attacks = spec.get("attacks", [])
    if not isinstance(attacks, list):
        raise ConfigError("attack.attacks must be a list")
    for i, a in enumerate(attacks):
        out["attacks"].append(_check_one_attack("attack.attacks[%d]" % i, a, now, out))
    cc_attacks = spec.get("cc_attacks", [])
    if not isinstance(cc_attacks, list):
        raise ConfigError("attack.cc_attacks must be a list")
    for i, c in enumerate(cc_attacks):
        what = "attack.cc_attacks[%d]" % i
        if not isinstance(c, dict) or set(c) - CC_ATTACK_KEYS or not {
                "instance", "start", "peak_mbps", "peak_pps"} <= set(c):
            raise ConfigError("%s must be an object with instance, start, peak_mbps, peak_pps "
                              "and optionally ip, port, end, area" % what)
        _check_text(what + ".instance", c["instance"], empty_ok=False)
        if c.get("ip") is not None:
            _check_ip(what + ".ip", c["ip"])
        if not _port_number(c.get("port", 80)):
            raise ConfigError("%s.port must be an integer 1..65535" % what)
        cc = {"instance": c["instance"], "port": c.get("port", 80),
              "start": _time_spec(what + ".start", c["start"], now),
              "end": _time_spec(what + ".end", c.get("end"), now, null_ok=True),
              "peak_mbps": _count(what + ".peak_mbps", c["peak_mbps"], 0, MAX_PEAK // 10 ** 6),
              "peak_pps": _count(what + ".peak_pps", c["peak_pps"], 0, MAX_PEAK),
              "area": c.get("area", "cn")}
        _check_text(what + ".area", cc["area"], empty_ok=False)
        if cc["end"] is not None and cc["end"] <= cc["start"]:
            raise ConfigError("%s: end must be later than start" % what)
        cc["ip"] = c["ip"] if c.get("ip") is not None else instance_ips(c["instance"], out)[0]
        out["cc_attacks"].append(cc)
    floods = spec.get("floods", [])
    if not isinstance(floods, list):
        raise ConfigError("attack.floods must be a list")
    for i, f in enumerate(floods):
        what = "attack.floods[%d]" % i
        if not isinstance(f, dict) or set(f) - FLOOD_KEYS or not {"domain", "start",
                                                                  "peak_qps"} <= set(f):
            raise ConfigError("%s must be an object with domain, start, peak_qps and "
                              "optionally end, ramp_seconds, sources" % what)
        _check_text(what + ".domain", f["domain"], empty_ok=False)
        flood = {"domain": f["domain"], "start": _time_spec(what + ".start", f["start"], now),
                 "end": _time_spec(what + ".end", f.get("end"), now, null_ok=True),
                 "peak_qps": _count(what + ".peak_qps", f["peak_qps"], 1, 10 ** 9),
                 "ramp_seconds": _count(what + ".ramp_seconds", f.get("ramp_seconds", 120),
                                        0, 86400)}
        if flood["end"] is not None and flood["end"] <= flood["start"]:
            raise ConfigError("%s: end must be later than start" % what)
        flood["sources"] = _check_sources(what + ".sources", f.get("sources", []))
        out["floods"].append(flood)
    return out


# Traffic: pure functions of (instance, minute) and the section.

def _fractions(label, iid, n):
    """n stable numbers in [0, 1) for an instance."""
    d = hashlib.sha256(("%s:%s" % (label, iid)).encode("utf-8")).digest()
    return [int.from_bytes(d[4 * i:4 * i + 4], "big") / 2.0 ** 32 for i in range(n)]


def baseline_for(iid, minute):
    """Legitimate traffic of an instance in one minute (epoch seconds):
    a daily swell, an hourly one and a slight ripple around a per-instance
    mean of 50..800 Mbit/s inbound; neighbouring minutes differ little."""
    f = _fractions("baseline", iid, 6)
    mean_bps = 50e6 + f[0] * 750e6
    packet_bits = 8 * (400 + f[3] * 800)
    out_ratio = 0.3 + f[4] * 0.6
    t = float(minute)
    level = (1.0 + 0.35 * math.sin(2 * math.pi * (t / 86400 + f[1]))
             + 0.05 * math.sin(2 * math.pi * (t / 3600 + f[2]))
             + 0.01 * math.sin(2 * math.pi * (t / 900 + f[5])))
    in_bps = mean_bps * level
    in_pps = in_bps / packet_bits
    return {"InBps": int(in_bps), "OutBps": int(in_bps * out_ratio),
            "InPps": int(in_pps), "OutPps": int(in_pps * out_ratio * 1.1)}


def attack_level(attack, t):
    """How much of its peak an attack sends at time t, 0..1: a smooth ramp
    over ramp_seconds after start and before end, a plateau that wavers
    between 96 and 100 % in between."""
    start, end, ramp = attack["start"], attack["end"], attack["ramp_seconds"]
    if t < start or (end is not None and t >= end):
        return 0.0
    up = 1.0 if ramp == 0 else min(1.0, (t - start) / ramp)
    down = 1.0 if end is None or ramp == 0 else min(1.0, (end - t) / ramp)
    x = min(up, down)
    return x * x * (3 - 2 * x) * (0.98 + 0.02 * math.sin(2 * math.pi * t / 300))


def minute_flow(iid, minute, section):
    """The six traffic values of one instance in one minute. Attack
    traffic is part of the inbound traffic; while an IP is blackholed its
    traffic (its share of the legitimate traffic and any attack on it)
    never reaches the instance."""
    ips = instance_ips(iid, section)
    mine = [a for a in section["attacks"] if a["instance"] == iid]
    dark = {a["ip"] for a in mine if a["blackhole_from"] is not None
            and a["blackhole_from"] <= minute < a["blackhole_to"]}
    lit = len(ips) - len(dark)
    vals = {k: v * lit // len(ips) for k, v in baseline_for(iid, minute).items()}
    bps = pps = 0
    for a in mine:
        if a["ip"] not in dark:
            level = attack_level(a, minute)
            bps += int(a["peak_bps"] * level)
            pps += int(a["peak_pps"] * level)
    vals["AttackBps"], vals["AttackPps"] = bps, pps
    vals["InBps"] += bps
    vals["InPps"] += pps
    return vals


def _split(total, n):
    """Split integer values over n regions by weights n, n-1, .., 1; the
    parts add up exactly to the total."""
    weight_sum = n * (n + 1) // 2
    parts = [{k: v * (n - j) // weight_sum for k, v in total.items()} for j in range(n)]
    for k, v in total.items():
        parts[0][k] += v - sum(p[k] for p in parts)
    return parts


def flow_for(instance_ids, start, end, interval=60, attack=None, region_id=DEFAULT_REGION,
             now=None):
    """The PortFlowList rows of a DescribePortFlowList query, in order.

    ``attack`` is a section as check_attack returns it (None: no attack).
    A bucket starts every ``interval`` seconds from ``start`` (the last
    one may be cut short by ``end``); each field is the maximum of its
    per-minute values in the bucket, summed over the instances. With
    ``now``, buckets that end after now - flow_delay_seconds are left out.
    For RegionId ap-southeast-1 each bucket is one row per region of
    "flow_regions" (the values split between them), else one "cn" row.
    Rows: {"Index", "Time", "Region", the six FLOW_FIELDS, the Sla* fields (0)}.
    """
    section = attack if attack is not None else check_attack({}, 0)
    regions = section["flow_regions"] if region_id == PREMIUM_REGION else ["cn"]
    rows = []
    for index, bucket in enumerate(range(start, end, interval)):
        bucket_end = min(bucket + interval, end)
        if now is not None and bucket_end > now - section["flow_delay_seconds"]:
            break
        total = dict.fromkeys(FLOW_FIELDS, 0)
        for iid in instance_ids:
            minutes = [minute_flow(iid, m, section) for m in range(bucket, bucket_end, 60)]
            for k in FLOW_FIELDS:
                total[k] += max(v[k] for v in minutes)
        for region, part in zip(regions, _split(total, len(regions))):
            row = {"Index": index, "Time": bucket, "Region": region}
            row.update(part)
            row.update(dict.fromkeys(SLA_FIELDS, 0))
            rows.append(row)
    return rows


def _overlaps(begin, finish, start, end, now):
    """Whether an event of [begin, finish) (finish None: open-ended), one
    still running lasting until now, overlaps [start, end)."""
    running = finish is None or finish > now
    return begin < end and (now if running else finish) > start


def _selected(section, begin, finish, start, end, now):
    """Whether a query of [start, end) selects an event of [begin, finish)
    that began by now ("event_selection"): "overlap" or "start"."""
    if section["event_selection"] == "overlap":
        return _overlaps(begin, finish, start, end, now)
    return start <= begin < end


def _set_end_time(ev, finish, now, section):
    """ev's EndTime: its end once over; while it runs, as
    "ongoing_end_time" says (0, a time ahead, or none)."""
    if finish is not None and finish <= now:
        ev["EndTime"] = finish
    elif section["ongoing_end_time"] == "zero":
        ev["EndTime"] = 0
    elif section["ongoing_end_time"] == "future":
        ev["EndTime"] = finish if finish is not None else \
            int(now) // 60 * 60 + 60 + FUTURE_END_SECONDS


def events_for(instance_ids, start, end, now, attack=None, region_id=DEFAULT_REGION):
    """Every DDoSEvents item a DescribeDDoSEvents query selects, newest
    first (StartTime descending), or with "event_order" "scrambled" in a
    stable order by a hash of each item. Each attack that has begun by ``now``
    is a "defense" event over [start, end); its blackhole, once begun, a
    "blackhole" event (Port empty, as in the docs' XML example). Bps/Pps
    are the attack's peaks. Selection ("event_selection"): "overlap" takes
    events overlapping [start, end) (a running event lasts until now),
    "start" those that begin in it. A running event's EndTime follows
    "ongoing_end_time": 0, absent, or its planned end ("future"; the
    minute after now plus FUTURE_END_SECONDS when open-ended)."""
    section = attack if attack is not None else check_attack({}, 0)
    wanted = set(instance_ids)
    events = []
    for a in section["attacks"]:
        if a["instance"] not in wanted:
            continue
        spans = [("defense", a["start"], a["end"], str(a["port"]))]
        if a["blackhole_from"] is not None:
            spans.append(("blackhole", a["blackhole_from"], a["blackhole_to"], ""))
        for kind, begin, finish, port in spans:
            if begin > now:
                continue
            if not _selected(section, begin, finish, start, end, now):
                continue
            ev = {"EventType": kind, "Ip": a["ip"], "Port": port,
                  "Region": a["region"] if region_id == PREMIUM_REGION else "cn",
                  "StartTime": begin, "Bps": a["peak_bps"], "Pps": a["peak_pps"]}
            _set_end_time(ev, finish, now, section)
            events.append(ev)
    events.sort(key=lambda ev: (-ev["StartTime"], ev["EventType"], ev["Ip"]))
    if section["event_order"] == "scrambled":
        events.sort(key=lambda ev: hashlib.sha256(("%s/%s/%s/%d" % (
            ev["EventType"], ev["Ip"], ev["Port"], ev["StartTime"])).encode()).digest())
    return events


def port_max_for(instance_ids, start, end, ports, attack=None):
    """The PortMaxConns items of a DescribePortMaxConns query: per instance
    (in request order), per port of its forwarding rules (``ports``: {id:
    [port, ...]}, ascending) and per IP of it, the peak new connections per
    second in [start, end). Each minute's Cps of the port (what
    DescribePortConnsCount answers for the instance, that port and that
    minute, minute_conns) is shared among the instance's IPs (by weights
    n, n-1, .., 1), and each IP's peak is its share plus a burst of 10..50 %
    of it: the peaks of a port's IPs add up to at least its Cps. Over
    several minutes, the highest minute's."""
    section = attack if attack is not None else check_attack({}, 0)
    minutes = range(start - start % 60, end, 60) or [start - start % 60]
    rows = []
    for iid in instance_ids:
        ips = instance_ips(iid, section)
        for port in ports.get(iid, ()):
            peaks = [0] * len(ips)
            for m in minutes:
                cps = minute_conns(iid, str(port), m, section)["Cps"]
                shares = _split({"Cps": cps}, len(ips))
                for k, ip in enumerate(ips):
                    share = shares[k]["Cps"]
                    burst = int(share * (0.1 + 0.4 * _unit("cps-peak", iid, ip, port, m)))
                    peaks[k] = max(peaks[k], share + burst)
            rows.extend({"Ip": ip, "Port": str(port), "Cps": peaks[k]}
                        for k, ip in enumerate(ips))
    return rows


def port_max_of(iid, port, start, end, attack=None):
    """What the plugin stores of one port of an instance for [start, end):
    the sum of its IPs' peaks (port_max_for)."""
    return sum(r["Cps"] for r in port_max_for([iid], start, end, {iid: [port]}, attack))


def blackhole_for(instance_ids, now, attack=None):
    """The BlackholeStatus items: one per IP of each instance, in request
    order. "blackhole" with the window's StartTime/EndTime while a
    blackhole is on; afterwards "normal" with the latest window's times;
    "normal" with 0 and 0 for an IP never blackholed."""
    section = attack if attack is not None else check_attack({}, 0)
    rows = []
    for iid in instance_ids:
        for ip in instance_ips(iid, section):
            windows = [(a["blackhole_from"], a["blackhole_to"]) for a in section["attacks"]
                       if a["instance"] == iid and a["ip"] == ip
                       and a["blackhole_from"] is not None and a["blackhole_from"] <= now]
            active = [w for w in windows if now < w[1]]
            if active:
                status, (begin, finish) = "blackhole", max(active)
            elif windows:
                status, (begin, finish) = "normal", max(windows, key=lambda w: w[1])
            else:
                status, begin, finish = "normal", 0, 0
            rows.append({"Ip": ip, "BlackStatus": status, "StartTime": begin,
                         "EndTime": finish})
        for text in section.get("hostile_ips", {}).get(iid, []):
            rows.append({"Ip": text, "BlackStatus": "normal", "StartTime": 0, "EndTime": 0})
        for n in range(section.get("many_ips", {}).get(iid, 0)):
            rows.append({"Ip": "10.%d.%d.%d" % (n >> 16 & 255, n >> 8 & 255, n & 255),
                         "BlackStatus": "normal", "StartTime": 0, "EndTime": 0})
    return rows


# ---------------------------------------------------------------------------
# Plans, quotas and origin health: pure functions of the section
# ---------------------------------------------------------------------------
# DescribeInstanceSpecs and DescribeInstanceStatistics (InstanceIds.N,
# required, maxItems 100: a row per instance, InstanceId in each),
# DescribeHealthCheckStatus (NetworkRules, required: a JSON string of
# [{"InstanceId", "Protocol", "FrontendPort"}]), DescribeDefenseCountStatistics
# (a struct) and DescribeUnBlackholeCount (flat), optional ResourceGroupId:
# the SDK's models (alibabacloud-go/ddoscoo-20200101) and the API metadata.
# An instance's plan is the vendor's example unless "plans" says otherwise;
# DefenseCount and DefenseCountUsage are answered only for RegionId
# ap-southeast-1, as the reference says.

SPEC_DEFAULTS = {"BaseBandwidth": 30, "ElasticBandwidth": 30, "BandwidthMbps": 100,
                 "ElasticBw": 300, "RealLimitBw": 0, "QpsLimit": 3000, "ElasticQps": 10,
                 "ConnLimit": 100000, "CpsLimit": 5000, "PortLimit": 50, "DomainLimit": 50,
                 "SiteLimit": 5, "DefenseCount": 2, "FunctionVersion": "default",
                 "ElasticBwModel": "day", "ElasticQpsMode": "day"}
USAGE_FIELDS = ("PortUsage", "DomainUsage", "SiteUsage", "DefenseCountUsage")
ACCOUNT_QUOTA_DEFAULTS = {"MaxUsableDefenseCountCurrentMonth": 20,
                          "DefenseCountTotalUsageOfCurrentMonth": 0, "FlowPackCountRemain": 0,
                          "SecHighSpeedCountRemain": 0, "TotalCount": 5, "RemainCount": 5}
PREMIUM_ONLY_FIELDS = ("DefenseCount", "DefenseCountUsage")
# "expiry": an instance's term as DescribeInstances answers it: "expires"
# (a time spec, seconds; ExpireTime is its milliseconds), Status (1 normal,
# 2 expired), Enabled (1 forwarding, 0 stopped), DebtStatus (0 none, 1 in
# debt): an instance expiring soon, expired, in debt, renewed.
TERM_KEYS = {"expires": None, "Status": (1, 2), "Enabled": (0, 1), "DebtStatus": (0, 1)}
ORIGIN_DOWN_KEYS = frozenset({"instance", "protocol", "frontend_port", "address", "start", "end"})
MAX_HEALTH_RULES = 1000        # the sources give none; a bound on a test's JSON


def check_plan_keys(spec, out, now):
    """The section's "plans" ({instance id: {DescribeInstanceSpecs field:
    value}}: integers, -1 allowed for DefenseCount; the text fields as
    text), "usage" ({instance id: {PortUsage...: integer}}; PortUsage
    defaults to the instance's rules), "account_quotas" ({field of
    DescribeDefenseCountStatistics or DescribeUnBlackholeCount: integer})
    and "origin_down" ([{"instance", "frontend_port", "protocol"? ("tcp"),
    "address"? (null: every real server), "start", "end"? (null: open)}]:
    real servers failing their health checks) and "expiry" ({instance id:
    {"expires", "Status", "Enabled", "DebtStatus"}}, TERM_KEYS), into out."""
    def plan(what, p):
        if not isinstance(p, dict) or set(p) - set(SPEC_DEFAULTS):
            raise ConfigError("%s must be an object of %s" % (what, ", ".join(SPEC_DEFAULTS)))
        for k, v in p.items():
            if isinstance(SPEC_DEFAULTS[k], str):
                _check_text("%s.%s" % (what, k), v, empty_ok=False)
            else:
                _count("%s.%s" % (what, k), v, -1 if k == "DefenseCount" else 0, 2 ** 31 - 1)
    def usage(what, u):
        if not isinstance(u, dict) or set(u) - set(USAGE_FIELDS):
            raise ConfigError("%s must be an object of %s" % (what, ", ".join(USAGE_FIELDS)))
        for k, v in u.items():
            _count("%s.%s" % (what, k), v, 0, 2 ** 31 - 1)
    def term(what, t):
        if not isinstance(t, dict) or set(t) - set(TERM_KEYS):
            raise ConfigError("%s must be an object of %s" % (what, ", ".join(TERM_KEYS)))
        out_t = {}
        for k, v in t.items():
            if k == "expires":
                out_t["ExpireTime"] = _time_spec(what + ".expires", v, now) * 1000
            else:
                out_t[k] = _count("%s.%s" % (what, k), v, *TERM_KEYS[k])
        return out_t
    if "expiry" in spec:
        _check_id_map("attack.expiry", spec["expiry"], term)
        out["expiry"] = {iid: term("attack.expiry[%r]" % iid, t)
                         for iid, t in spec["expiry"].items()}
    if "plans" in spec:
        out["plans"] = _check_id_map("attack.plans", spec["plans"], plan)
    if "usage" in spec:
        out["usage"] = _check_id_map("attack.usage", spec["usage"], usage)
    if "account_quotas" in spec:
        q = spec["account_quotas"]
        if not isinstance(q, dict) or set(q) - set(ACCOUNT_QUOTA_DEFAULTS):
            raise ConfigError("attack.account_quotas must be an object of %s"
                              % ", ".join(ACCOUNT_QUOTA_DEFAULTS))
        for k, v in q.items():
            _count("attack.account_quotas." + k, v, 0, 2 ** 31 - 1)
        out["account_quotas"] = dict(q)
    downs = spec.get("origin_down", [])
    if not isinstance(downs, list):
        raise ConfigError("attack.origin_down must be a list")
    out["origin_down"] = []
    for i, d in enumerate(downs):
        what = "attack.origin_down[%d]" % i
        if not isinstance(d, dict) or set(d) - ORIGIN_DOWN_KEYS or not {
                "instance", "frontend_port", "start"} <= set(d):
            raise ConfigError("%s must be an object with instance, frontend_port, start and "
                              "optionally protocol, address, end" % what)
        _check_text(what + ".instance", d["instance"], empty_ok=False)
        protocol = d.get("protocol", "tcp")
        if protocol not in ("tcp", "udp"):
            raise ConfigError(what + ".protocol must be tcp or udp")
        down = {"instance": d["instance"], "protocol": protocol,
                "frontend_port": _count(what + ".frontend_port", d["frontend_port"], 1, 65535),
                "address": d.get("address"),
                "start": _time_spec(what + ".start", d["start"], now),
                "end": _time_spec(what + ".end", d.get("end"), now, null_ok=True)}
        if down["address"] is not None:
            _check_text(what + ".address", down["address"], empty_ok=False)
        out["origin_down"].append(down)


def _network_rules_param(text):
    """NetworkRules: a JSON array of {"InstanceId": text, "Protocol": "tcp" |
    "udp", "FrontendPort": 1..65535}, each required, nothing else."""
    try:
        rules = json.loads(text)
    except ValueError:
        raise _invalid("NetworkRules", "It must be a JSON array of rules.")
    if not isinstance(rules, list) or not rules or len(rules) > MAX_HEALTH_RULES:
        raise _invalid("NetworkRules", "It must be a non-empty JSON array of rules.")
    out = []
    for r in rules:
        if (not isinstance(r, dict) or set(r) != {"InstanceId", "Protocol", "FrontendPort"}
                or not isinstance(r["InstanceId"], str) or not r["InstanceId"]
                or r["Protocol"] not in ("tcp", "udp")
                or not isinstance(r["FrontendPort"], int) or isinstance(r["FrontendPort"], bool)
                or not 1 <= r["FrontendPort"] <= 65535):
            raise _invalid("NetworkRules", "Each rule needs InstanceId, Protocol (tcp or udp) "
                           "and FrontendPort (1 to 65535), and nothing else.")
        out.append((r["InstanceId"], r["Protocol"], r["FrontendPort"]))
    return out


def verify_plan_operation(params, state, action):
    """The checks of the plan operations. Returns {"action", "region",
    "instance_ids" (SPECS, STATS), "rules" (HEALTH, with each rule's real
    servers, None for a rule the instance does not have)}."""
    region = params.get("RegionId", DEFAULT_REGION)
    out = {"action": action, "region": region}
    if action in (SPECS_ACTION, INSTANCE_STATS_ACTION):
        ids = _instance_id_list(params, required=True)
        for iid in ids:
            if not state.instance_in_region(iid, region):
                raise ApiError(400, "InvalidInstance.NotFound",
                               "The specified instance does not exist: %s" % iid)
        out["instance_ids"] = ids
        out["rule_counts"] = {iid: len(state.network_rules(iid, region) or []) for iid in ids}
    elif action == HEALTH_ACTION:
        if "NetworkRules" not in params:
            raise _missing("NetworkRules")
        rules = []
        for iid, protocol, port in _network_rules_param(params["NetworkRules"]):
            found = state.network_rules(iid, region, protocol, port)
            if found is None:
                raise ApiError(400, "InvalidInstance.NotFound",
                               "The specified instance does not exist: %s" % iid)
            rules.append((iid, protocol, port, found[0]["real_servers"] if found else None))
        out["rules"] = rules
    return out


def _server_down(section, iid, protocol, port, address, now):
    return any(d["instance"] == iid and d["protocol"] == protocol
               and d["frontend_port"] == port
               and d["address"] in (None, address)
               and d["start"] <= now and (d["end"] is None or now < d["end"])
               for d in section.get("origin_down", []))


def plan_answer(query, section, now):
    """What a verified plan query is answered at ``now``: {"rows": [...]}
    (SPECS, STATS, HEALTH) or {"fields": {...}} (the account's)."""
    action, premium = query["action"], query["region"] == PREMIUM_REGION
    if action == SPECS_ACTION:
        rows = []
        for iid in query["instance_ids"]:
            spec = dict(SPEC_DEFAULTS, **section.get("plans", {}).get(iid, {}))
            row = {"InstanceId": iid}
            row.update((k, v) for k, v in spec.items()
                       if premium or k not in PREMIUM_ONLY_FIELDS)
            rows.append(row)
        return {"rows": rows}
    if action == INSTANCE_STATS_ACTION:
        rows = []
        for iid in query["instance_ids"]:
            usage = {"PortUsage": query["rule_counts"][iid], "DomainUsage": 0, "SiteUsage": 0,
                     "DefenseCountUsage": 0}
            usage.update(section.get("usage", {}).get(iid, {}))
            row = {"InstanceId": iid}
            row.update((k, v) for k, v in usage.items()
                       if premium or k not in PREMIUM_ONLY_FIELDS)
            rows.append(row)
        return {"rows": rows}
    if action == HEALTH_ACTION:
        rows = []
        for iid, protocol, port, servers in query["rules"]:
            if servers is None:
                continue  # no such rule: nothing to say of it
            statuses = [(a, "abnormal" if _server_down(section, iid, protocol, port, a, now)
                         else "normal") for a in servers]
            rows.append({"InstanceId": iid, "Protocol": protocol, "FrontendPort": port,
                         "Status": "abnormal" if any(st == "abnormal" for _, st in statuses)
                         else "normal",
                         "RealServerStatusList": ListValue(
                             [("Address", a), ("Status", st)] for a, st in statuses)})
        return {"rows": rows}
    quotas = dict(ACCOUNT_QUOTA_DEFAULTS, **section.get("account_quotas", {}))
    names = (("TotalCount", "RemainCount") if action == UNBLACKHOLE_ACTION else
             tuple(k for k in ACCOUNT_QUOTA_DEFAULTS if k not in ("TotalCount", "RemainCount")))
    return {"fields": {k: quotas[k] for k in names}}


PLAN_LIST_NAMES = {SPECS_ACTION: "InstanceSpecs", INSTANCE_STATS_ACTION: "InstanceStatistics",
                   HEALTH_ACTION: "HealthCheckStatus"}


def plan_fields(action, answer, request_id, shuffled):
    """The answer's (name, value) pairs: a list of rows, a struct
    (DefenseCountStatistics) or the root's own fields."""
    top = [("RequestId", request_id)]
    if action in PLAN_LIST_NAMES:
        top.append((PLAN_LIST_NAMES[action],
                    ListValue(shuffled(row.items()) for row in answer["rows"])))
    elif action == DEFENSE_COUNT_ACTION:
        top.append(("DefenseCountStatistics", shuffled(answer["fields"].items())))
    else:
        top += list(answer["fields"].items())
    return shuffled(top)


def plan_summary(action, answer):
    if action == HEALTH_ACTION:
        return {"listed": ["%s:%s/%d:%s" % (r["InstanceId"], r["Protocol"], r["FrontendPort"],
                                            r["Status"]) for r in answer["rows"]]}
    if "rows" in answer:
        return {"listed": [r["InstanceId"] for r in answer["rows"]]}
    return {"fields": answer["fields"]}


# Web statistics: pure functions of (domain, minute) and the section.

QPS_FIELDS = ("TotalQps", "AttackQps", "MaxQps", "MaxNormalQps", "MaxAttackQps")
COUNT_FIELDS = ("CacheHits", "TotalCount")
CODE_FIELDS = ("Status200", "Status2XX", "Status3XX", "Status403", "Status404", "Status405",
               "Status410", "Status499", "Status4XX", "Status501", "Status502", "Status503",
               "Status504", "Status5XX")
QUERY_TYPES = ("gf", "upstrem")   # so spelled by the SDK and the English reference


def domain_qps(domain, minute):
    """Legitimate requests per second of a domain in one minute: a daily
    and an hourly swell around a per-domain mean of 50..500."""
    f = _fractions("web", domain, 3)
    t = float(minute)
    level = (1.0 + 0.3 * math.sin(2 * math.pi * (t / 86400 + f[1]))
             + 0.05 * math.sin(2 * math.pi * (t / 3600 + f[2])))
    return int((50 + f[0] * 450) * level)


def minute_web(domain, minute, section):
    """Everything the two web operations report of one domain in one
    minute: the QPS fields, and the codes at the edge ("gf") and at the
    origin ("upstrem"). An HTTP flood ("floods") adds attack requests;
    the edge blocks 95 % of them (403) and forwards the rest; the origin,
    overloaded, fails (5xx) a share of what reaches it that grows with the
    flood, while the edge's own 5xx stay as they were."""
    normal = domain_qps(domain, minute)
    attack = level = 0
    for fl in section["floods"]:
        if fl["domain"] == domain:
            x = attack_level(fl, minute)
            attack += int(fl["peak_qps"] * x)
            level = max(level, x)
    out = {"TotalQps": normal + attack, "AttackQps": attack,
           "MaxNormalQps": normal + normal // 8, "MaxAttackQps": attack + attack // 20}
    out["MaxQps"] = out["MaxNormalQps"] + out["MaxAttackQps"]
    normal_n, attack_n = normal * 60, attack * 60
    out["TotalCount"] = normal_n + attack_n
    out["CacheHits"] = normal_n // 5
    blocked = attack_n * 95 // 100
    leaked = attack_n - blocked
    edge = {"Status3XX": normal_n // 20, "Status403": blocked, "Status404": normal_n // 50,
            "Status405": 0, "Status410": 0, "Status499": normal_n // 500,
            "Status501": 0, "Status502": normal_n // 1000, "Status503": 0, "Status504": 0}
    forwarded = normal_n - out["CacheHits"] + leaked
    failed = int(forwarded * 0.6 * level)
    origin = {"Status3XX": forwarded // 20, "Status403": 0, "Status404": forwarded // 50,
              "Status405": 0, "Status410": 0, "Status499": 0, "Status501": 0,
              "Status502": failed // 4, "Status503": failed // 2,
              "Status504": failed - failed // 4 - failed // 2}
    for codes, total in ((edge, normal_n + attack_n), (origin, forwarded)):
        codes["Status4XX"] = sum(codes[k] for k in ("Status403", "Status404", "Status405",
                                                    "Status410", "Status499"))
        codes["Status5XX"] = sum(codes[k] for k in ("Status501", "Status502", "Status503",
                                                    "Status504"))
        codes["Status2XX"] = max(0, total - codes["Status3XX"] - codes["Status4XX"]
                                 - codes["Status5XX"])
        codes["Status200"] = codes["Status2XX"] * 9 // 10
    out["gf"], out["upstrem"] = edge, origin
    out["upstream"] = origin  # the other spelling (ORIGIN_QUERY_TYPES)
    return out


def web_for(action, domains, start, end, interval=60, attack=None, query_type=None, now=None):
    """The rows of a DescribeDomainQPSList (or, with query_type,
    DescribeDomainStatusCodeList) query: a bucket every interval from
    start (Time its start, Index from 0), several domains added up per
    Time. The *Qps fields are the maximum of the bucket's minutes, the
    counts their sum. Buckets that have not ended by now are left out."""
    section = attack if attack is not None else check_attack({}, 0)
    rows = []
    for index, bucket in enumerate(range(start, end, interval)):
        bucket_end = min(bucket + interval, end)
        if now is not None and bucket_end > now - section["flow_delay_seconds"]:
            break
        row = {"Index": index, "Time": bucket}
        fields = CODE_FIELDS if action == CODES_ACTION else QPS_FIELDS + COUNT_FIELDS
        row.update(dict.fromkeys(fields, 0))
        for d in domains:
            minutes = [minute_web(d, m, section) for m in range(bucket, bucket_end, 60)]
            for k in fields:
                if action == CODES_ACTION:
                    row[k] += sum(v[query_type][k] for v in minutes)
                elif k in QPS_FIELDS:
                    row[k] += max(v[k] for v in minutes)
                else:
                    row[k] += sum(v[k] for v in minutes)
        rows.append(row)
    return rows


def _verify_web_operation(params, state, action):
    """DescribeDomainQPSList (StartTime, EndTime, Interval, optional
    Domain) and DescribeDomainStatusCodeList (StartTime, Interval,
    QueryType gf|upstrem, optional EndTime, Domain); presence, times,
    Interval, QueryType, the domain. Returns {"action", "start", "end",
    "interval", "domains", "query_type"?}."""
    required = ("StartTime", "EndTime", "Interval") if action == QPS_ACTION else (
        "StartTime", "Interval", "QueryType")
    for name in required:
        if name not in params:
            raise _missing(name)
    now = state.now()
    start = _stat_time(params, "StartTime")
    end = _stat_time(params, "EndTime") if "EndTime" in params else int(now) // 60 * 60
    if start >= end:
        raise _invalid("StartTime", "StartTime must be earlier than EndTime.")
    if end > math.ceil(now / 60) * 60:
        raise _invalid("EndTime", "EndTime must not be in the future.")
    if end - start > MAX_STAT_RANGE:
        raise _invalid("EndTime", "The time range must not exceed %d seconds." % MAX_STAT_RANGE)
    out = {"action": action, "start": start, "end": end,
           "interval": _check_interval(params["Interval"], end - start)}
    if action == CODES_ACTION:
        valid = ("gf", state.origin_query_type)
        if params["QueryType"] not in valid:
            raise _invalid("QueryType", "Valid values: %s." % ", ".join(valid))
        out["query_type"] = params["QueryType"]
    out["domains"] = _asked_domains(params, state)
    return out


def _asked_domains(params, state):
    """The Domain asked, or every domain with a website rule; an unknown one
    is InvalidDomain.NotFound."""
    domain = params.get("Domain")
    known = state.list_domains(None)
    if domain is not None and domain not in known:
        raise ApiError(400, "InvalidDomain.NotFound",
                       "The specified domain does not exist or has no website rule: %s" % domain)
    return [domain] if domain is not None else known


def _stat_time(params, name):
    value = params[name]
    if not UNSIGNED_RE.fullmatch(value):
        raise _invalid(name, "It must be a UNIX timestamp in seconds.")
    if int(value) % 60:
        raise _invalid(name, "The timestamp must be accurate to the minute.")
    return int(value)


def _required_range(params, state, required):
    """The required parameters there, then StartTime and EndTime (both
    among them) whole minutes, in order, EndTime not in the future: (start,
    end)."""
    for name in required:
        if name not in params:
            raise _missing(name)
    start, end = _stat_time(params, "StartTime"), _stat_time(params, "EndTime")
    if start >= end:
        raise _invalid("StartTime", "StartTime must be earlier than EndTime.")
    if end > math.ceil(state.now() / 60) * 60:
        raise _invalid("EndTime", "EndTime must not be in the future.")
    return start, end


def _check_interval(text, span):
    """Interval: a positive multiple of 60, at most the range, at least
    the minimum the docs recommend for the range."""
    if not UNSIGNED_RE.fullmatch(text) or int(text) == 0 or int(text) % 60:
        raise _invalid("Interval", "It must be a positive multiple of 60 seconds.")
    interval = int(text)
    if interval > span:
        raise _invalid("Interval", "It must not exceed the time range (EndTime - StartTime).")
    minimum = next(low for top, low in INTERVAL_MINIMUMS if top is None or span <= top)
    if interval < minimum:
        raise _invalid("Interval", "For a time range of %d seconds it must be at least %d."
                       % (span, minimum))
    return interval


def _verify_stat_operation(params, state, action):
    """The checks of the three operations, in the order DescribePortConnsCount
    makes them: presence, times, the operation's own numbers, instances.
    Returns {"action", "region", "instance_ids", and per operation "start",
    "end" (None: DescribeDDoSEvents without EndTime), "interval",
    "page_number", "page_size"}."""
    if action in PLAN_ACTIONS:
        return verify_plan_operation(params, state, action)
    required = {FLOW_ACTION: ("StartTime", "EndTime", "Interval"), BLACKHOLE_ACTION: (),
                EVENTS_ACTION: ("StartTime", "PageNumber", "PageSize"),
                PORT_MAX_ACTION: ("StartTime", "EndTime")}[action]
    for name in required:
        if name not in params:
            raise _missing(name)
    out = {"action": action, "region": params.get("RegionId", DEFAULT_REGION)}
    if action != BLACKHOLE_ACTION:
        now = state.now()
        start = _stat_time(params, "StartTime")
        end = _stat_time(params, "EndTime") if "EndTime" in params else None
        if end is None and start >= now:
            raise _invalid("StartTime", "StartTime must be earlier than the current time.")
        if end is not None and start >= end:
            raise _invalid("StartTime", "StartTime must be earlier than EndTime.")
        if end is not None and end > math.ceil(now / 60) * 60:
            raise _invalid("EndTime", "EndTime must not be in the future.")
        out["start"], out["end"] = start, end
    if action == FLOW_ACTION:
        if end - start > MAX_STAT_RANGE:
            raise _invalid("EndTime", "The time range must not exceed %d seconds." % MAX_STAT_RANGE)
        out["interval"] = _check_interval(params["Interval"], end - start)
    if action == PORT_MAX_ACTION and end - start > MAX_RANGE:
        # The sources give no longest range: DescribePortConnsCount's here.
        raise _invalid("EndTime", "The time range must not exceed %d seconds." % MAX_RANGE)
    if action == EVENTS_ACTION:
        number, size = params["PageNumber"], params["PageSize"]
        if not UNSIGNED_RE.fullmatch(number) or int(number) < 1:
            raise _invalid("PageNumber", "It must be an integer from 1.")
        if not UNSIGNED_RE.fullmatch(size) or not 1 <= int(size) <= MAX_EVENT_PAGE_SIZE:
            raise _invalid("PageSize", "It must be an integer from 1 to %d." % MAX_EVENT_PAGE_SIZE)
        out["page_number"], out["page_size"] = int(number), int(size)
    ids = _instance_id_list(params, required=True)
    limit = MAX_BLACKHOLE_INSTANCES if action == BLACKHOLE_ACTION else MAX_INSTANCES
    if len(ids) > limit:
        raise _invalid("InstanceIds", "At most %d instances are allowed." % limit)
    for iid in ids:
        if not state.instance_in_region(iid, out["region"]):
            raise ApiError(400, "InvalidInstance.NotFound",
                           "The specified instance does not exist: %s" % iid)
    out["instance_ids"] = ids
    if action == PORT_MAX_ACTION:  # the ports of each one's forwarding rules
        out["ports"] = {iid: sorted({r["frontend_port"] for r in
                                     state.network_rules(iid, out["region"]) or ()})
                        for iid in ids}
    return out


# ---------------------------------------------------------------------------
# HTTP floods: DescribeDomainAttackEvents and DescribeWebReportTopIp. What
# the SDK's models say, and what this simulator chose where they are
# silent: doc/api-operations.md.
# ---------------------------------------------------------------------------

TOP_IP_INTERVALS = (300, 3600, 86400)
TOP_IP_QUERY_TYPES = ("visit", "block")
MAX_TOP = 100                   # sources silent: a choice
DEFAULT_TOP = 10                # sources silent: a choice
# Ordinary visitors of every domain (QueryType "visit" only): fewer
# requests than any scripted source.
VISITORS = ({"ip": "192.0.2.80", "area_id": "90998690", "isp": "100017", "count": 1},
            {"ip": "192.0.2.81", "area_id": "440000", "isp": "100026", "count": 1})


def _page(params, name, low, high):
    value = params[name]
    if not UNSIGNED_RE.fullmatch(value) or not low <= int(value) <= high:
        raise _invalid(name, "It must be an integer from %d to %d." % (low, high))
    return int(value)


def _verify_cc_operation(params, state, action):
    """DescribeDomainAttackEvents (StartTime, EndTime, PageNumber,
    PageSize; optional Domain, ResourceGroupId) and DescribeWebReportTopIp
    (StartTime, EndTime, Interval 300|3600|86400 as the span allows,
    QueryType visit|block; optional Domain, Top), as their SDK request
    models require. Returns {"action", "start", "end", "domains", ...}."""
    required = ("StartTime", "EndTime", "PageNumber", "PageSize") if action == CC_EVENTS_ACTION \
        else ("StartTime", "EndTime", "Interval", "QueryType")
    start, end = _required_range(params, state, required)
    out = {"action": action, "start": start, "end": end}
    if action == CC_EVENTS_ACTION:
        out["page_number"] = _page(params, "PageNumber", 1, 10 ** 6)
        out["page_size"] = _page(params, "PageSize", 1, MAX_EVENT_PAGE_SIZE)
    else:
        span = end - start
        allowed = TOP_IP_INTERVALS[0 if span < 3 * 86400 else 1 if span < 31 * 86400 else 2:]
        if params["Interval"] not in [str(i) for i in allowed]:
            raise _invalid("Interval", "For a time range of %d seconds valid values: %s."
                           % (span, ", ".join(map(str, allowed))))
        out["interval"] = int(params["Interval"])
        if params["QueryType"] not in TOP_IP_QUERY_TYPES:
            raise _invalid("QueryType", "Valid values: %s." % ", ".join(TOP_IP_QUERY_TYPES))
        out["query_type"] = params["QueryType"]
        out["top"] = _page(params, "Top", 1, MAX_TOP) if "Top" in params else DEFAULT_TOP
    out["domains"] = _asked_domains(params, state)
    return out


# ---------------------------------------------------------------------------
# Domain bandwidth: DescribeDomainBps (SDK model DescribeDomainBpsRequest:
# StartTime, EndTime (seconds, whole minutes), Interval (300, 3600 or 86400
# by span) and Region ("cn" or "cn-hongkong", the domain's service region)
# required, Domain optional; no ResourceGroupId, no InstanceIds). Answer:
# DomainBps items {InBps, OutBps (bit/s), Index}, no Time.
# Where the sources are silent, choices:
# - a bucket's InBps and OutBps are those of its busiest minute (as the
#   *Qps fields of DescribeDomainQPSList are maxima);
# - a domain asked in the other region (Region not its "domain_regions"):
#   that region's service carries none of its traffic, so every bucket is
#   answered with InBps and OutBps 0 (no error: a report of no traffic),
#   and without Domain only the domains of the region asked are added up;
# - Region other than exactly "cn" or "cn-hongkong": InvalidParameter
#   naming Region.
# ---------------------------------------------------------------------------

BPS_INTERVALS = (300, 3600, 86400)
REQUEST_BYTES = 800        # an ordinary or attack request, headers and all
RESPONSE_BYTES = 12000     # an answered request's response
BLOCKED_BYTES = 300        # the edge's 403 to an attack request


def minute_bps(domain, minute, section):
    """A domain's inbound and outbound bit/s in one minute, from what
    minute_web says of its requests: every request comes in; ordinary
    requests and the attack requests the edge lets through are answered in
    full, the blocked ones (95 %) with a short 403. An HTTP flood raises
    InBps with its QPS."""
    web = minute_web(domain, minute, section)
    normal, attack = web["TotalQps"] - web["AttackQps"], web["AttackQps"]
    blocked = attack * 95 // 100
    inbound = (normal + attack) * REQUEST_BYTES * 8
    outbound = ((normal + attack - blocked) * RESPONSE_BYTES + blocked * BLOCKED_BYTES) * 8
    return {"InBps": inbound, "OutBps": outbound}


def domain_bps_for(domains, start, end, interval=300, attack=None, now=None):
    """The rows of a DescribeDomainBps query for ``domains`` (those of the
    region asked; a pair (domain, False) for one asked in the other region
    counts 0): a bucket every interval from start, Index from 0, no Time;
    each field the maximum of the bucket's minutes, several domains added
    up. Buckets that have not ended by now are left out."""
    section = attack if attack is not None else check_attack({}, 0)
    rows = []
    for index, bucket in enumerate(range(start, end, interval)):
        bucket_end = min(bucket + interval, end)
        if now is not None and bucket_end > now - section["flow_delay_seconds"]:
            break
        row = {"Index": index, "InBps": 0, "OutBps": 0}
        for d in domains:
            if isinstance(d, tuple):
                continue  # asked in the other region: none of its traffic
            minutes = [minute_bps(d, m, section) for m in range(bucket, bucket_end, 60)]
            for k in ("InBps", "OutBps"):
                row[k] += max(v[k] for v in minutes)
        rows.append(row)
    return rows


def _verify_domain_bps(params, state):
    """Returns {"action", "start", "end", "interval", "region", "domains"}:
    the domains of the region asked (one asked in the other region as
    (domain, False): answered 0)."""
    start, end = _required_range(params, state, ("StartTime", "EndTime", "Interval", "Region"))
    span = end - start
    allowed = BPS_INTERVALS[0 if span < 3 * 86400 else 1 if span < 31 * 86400 else 2:]
    if params["Interval"] not in [str(i) for i in allowed]:
        raise _invalid("Interval", "For a time range of %d seconds valid values: %s."
                       % (span, ", ".join(map(str, allowed))))
    region = params["Region"]
    if region not in BPS_REGIONS:
        raise _invalid("Region", "Valid values: %s." % ", ".join(BPS_REGIONS))
    asked = _asked_domains(params, state)
    def of_region(d):
        return state.domain_regions.get(d, "cn") == region
    if "Domain" in params:
        domains = [d if of_region(d) else (d, False) for d in asked]
    else:
        domains = [d for d in asked if of_region(d)]
    return {"action": BPS_ACTION, "start": start, "end": end, "interval": int(params["Interval"]),
            "region": region, "domains": domains}


# ---------------------------------------------------------------------------
# All events: DescribeDDosAllEventList, the account's attack events in one
# list (SDK model DescribeDDosAllEventListRequest: StartTime, EndTime (Unix
# seconds), PageNumber, PageSize required, EventType optional, several
# comma-separated; no InstanceIds, no ResourceGroupId). PageSize's limit:
# sources silent, MAX_EVENT_PAGE_SIZE chosen as for DescribeDDoSEvents.
# ---------------------------------------------------------------------------

def _verify_all_events(params, state):
    """Returns {"action", "region", "start", "end", "types", "page_number",
    "page_size"}."""
    start, end = _required_range(params, state, ("StartTime", "EndTime", "PageNumber",
                                                 "PageSize"))
    types = ALL_EVENT_TYPES
    if "EventType" in params:
        types = tuple(params["EventType"].split(","))
        if any(t not in ALL_EVENT_TYPES for t in types) or len(set(types)) != len(types):
            raise _invalid("EventType", "Valid values: %s, several separated by commas."
                           % ", ".join(ALL_EVENT_TYPES))
    return {"action": ALL_EVENTS_ACTION, "region": params.get("RegionId", DEFAULT_REGION),
            "start": start, "end": end, "types": types,
            "page_number": _page(params, "PageNumber", 1, 10 ** 6),
            "page_size": _page(params, "PageSize", 1, MAX_EVENT_PAGE_SIZE)}


def all_events_for(types, start, end, now, attack=None, region_id=DEFAULT_REGION,
                   in_region=lambda iid: True):
    """Every AttackEvents item a DescribeDDosAllEventList query selects,
    newest first: of every instance of the region (in_region), none named:
    the "defense" and "blackhole" events DescribeDDoSEvents has (Mbps their
    Bps in whole Mbit/s, rounded down; no Region, an Area "cn"), the
    "cc_attacks" as "cc" events and the "floods" as "web-cc" events (Ip the
    domain, no Port: the vendor's metadata), overlapping [start, end) as
    "event_selection" says; a running event's EndTime as for DDoSEvents."""
    section = attack if attack is not None else check_attack({}, 0)
    spans = []
    for a in section["attacks"]:
        if not in_region(a["instance"]):
            continue
        spans.append(("defense", a["ip"], str(a["port"]), a["start"], a["end"],
                      a["peak_bps"] // 10 ** 6, a["peak_pps"], "cn"))
        if a["blackhole_from"] is not None:
            spans.append(("blackhole", a["ip"], "", a["blackhole_from"], a["blackhole_to"],
                          a["peak_bps"] // 10 ** 6, a["peak_pps"], "cn"))
    for c in section["cc_attacks"]:
        if in_region(c["instance"]):
            spans.append(("cc", c["ip"], str(c["port"]), c["start"], c["end"], c["peak_mbps"],
                          c["peak_pps"], c["area"]))
    for fl in section["floods"]:
        spans.append(("web-cc", fl["domain"], None, fl["start"], fl["end"], 0, 0, "cn"))
    events = []
    for kind, ip, port, begin, finish, mbps, pps, area in spans:
        if kind not in types or begin > now:
            continue
        if not _selected(section, begin, finish, start, end, now):
            continue
        ev = {"EventType": kind, "Ip": ip, "Area": area, "StartTime": begin, "Mbps": mbps,
              "Pps": pps}
        if port is not None:
            ev["Port"] = port
        _set_end_time(ev, finish, now, section)
        events.append(ev)
    events.sort(key=lambda ev: (-ev["StartTime"], ev["EventType"], ev["Ip"]))
    return events


def _floods_in(domains, start, end, now, section):
    """The floods on domains that began by now and overlap [start, end)
    (one still running lasts until now)."""
    for fl in section["floods"]:
        if fl["domain"] not in domains or fl["start"] > now:
            continue
        if _overlaps(fl["start"], fl["end"], start, end, now):
            yield fl


def cc_events_for(domains, start, end, now, attack=None):
    """Every DomainAttackEvents item a DescribeDomainAttackEvents query
    selects, newest first: one per flood ("floods") overlapping [start,
    end), MaxQps its peak_qps; a running flood's EndTime follows
    "ongoing_end_time" as DDoSEvents' do."""
    section = attack if attack is not None else check_attack({}, 0)
    events = []
    for fl in _floods_in(set(domains), start, end, now, section):
        ev = {"Domain": fl["domain"], "StartTime": fl["start"], "MaxQps": fl["peak_qps"]}
        _set_end_time(ev, fl["end"], now, section)
        events.append(ev)
    events.sort(key=lambda ev: (-ev["StartTime"], ev["Domain"]))
    return events


def top_ip_for(domains, start, end, query_type, top, now, attack=None):
    """The DataList of a DescribeWebReportTopIp query: the sources of the
    floods on domains overlapping [start, end) (their counts added up per
    SourceIp), for "visit" also the ordinary VISITORS; most Count first,
    at most top."""
    section = attack if attack is not None else check_attack({}, 0)
    counts, rows = {}, []
    sources = [src for fl in _floods_in(set(domains), start, end, now, section)
               for src in fl["sources"]]
    if query_type == "visit":
        sources += list(VISITORS)
    for src in sources:
        if src["ip"] in counts:
            counts[src["ip"]]["Count"] += src["count"]
            continue
        counts[src["ip"]] = {"SourceIp": src["ip"], "AreaId": src["area_id"],
                             "Isp": src["isp"], "Count": src["count"]}
        rows.append(counts[src["ip"]])
    rows.sort(key=lambda r: -r["Count"])
    return rows[:top]


def cc_answer(query, section, now):
    """{"rows"} (and "total" for DescribeDomainAttackEvents) of a verified
    query of one of the two operations."""
    if query["action"] == TOP_IP_ACTION:
        return {"rows": top_ip_for(query["domains"], query["start"], query["end"],
                                   query["query_type"], query["top"], now, section)}
    events = cc_events_for(query["domains"], query["start"], query["end"], now, section)
    first = (query["page_number"] - 1) * query["page_size"]
    return {"rows": events[first:first + query["page_size"]], "total": len(events)}


# ---------------------------------------------------------------------------
# DescribeDDosEventSrcIp: the sources of a volumetric event. What the SDK's
# model says, and what this simulator chose where it is silent:
# doc/api-operations.md.
# ---------------------------------------------------------------------------

SRC_IP_EVENT_TYPES = ("defense", "blackhole")
MAX_SRC_IP_RANGE = 100                 # sources silent: a choice


def _verify_src_ip(params, state):
    """DescribeDDosEventSrcIp: EventType (defense or blackhole), Ip (an IP
    address), StartTime (seconds, not in the future), Range (1..MAX_SRC_IP_RANGE),
    every one required by the SDK's request model. Returns {"action",
    "event_type", "ip", "start", "range"}."""
    for name in ("EventType", "Ip", "StartTime", "Range"):
        if name not in params:
            raise _missing(name)
    if params["EventType"] not in SRC_IP_EVENT_TYPES:
        raise _invalid("EventType", "Valid values: %s." % ", ".join(SRC_IP_EVENT_TYPES))
    try:
        ipaddress.ip_address(params["Ip"])
    except ValueError:
        raise _invalid("Ip", "It must be an IP address of an instance.") from None
    start = params["StartTime"]
    if not UNSIGNED_RE.fullmatch(start):
        raise _invalid("StartTime", "It must be a UNIX timestamp in seconds.")
    if int(start) > state.now():
        raise _invalid("StartTime", "StartTime must not be in the future.")
    return {"action": SRC_IP_ACTION, "event_type": params["EventType"],
            "ip": params["Ip"], "start": int(start),
            "range": _page(params, "Range", 1, MAX_SRC_IP_RANGE)}


def src_ip_for(event_type, ip, start, top, now, attack=None):
    """The Ips of a DescribeDDosEventSrcIp query: the "sources" of the
    attack whose event of that type (its "defense" from start, its
    "blackhole" from blackhole_from: the attack that caused it) on ip began
    at start, by now; most count first, at most top, {SrcIp, AreaId, Isp}.
    An event there is none of: no Ips (a choice)."""
    section = attack if attack is not None else check_attack({}, 0)
    sources = []
    for a in section["attacks"]:
        begin = a["start"] if event_type == "defense" else a["blackhole_from"]
        if a["ip"] == ip and begin == start and begin <= now:
            sources += a["sources"]
    ranked = sorted(sources, key=lambda src: -src["count"])
    return [{"SrcIp": src["ip"], "AreaId": src["area_id"], "Isp": src["isp"]}
            for src in ranked[:top]]


def stat_answer(query, section, now):
    """What a verified query (from _verify_stat_operation) is answered at
    ``now``: {"rows": [item dicts]} and, for DescribeDDoSEvents, "total"."""
    action = query["action"]
    if action in CC_ACTIONS:
        return cc_answer(query, section, now)
    if action in PLAN_ACTIONS:
        return plan_answer(query, section, now)
    if action == SRC_IP_ACTION:
        return {"rows": src_ip_for(query["event_type"], query["ip"], query["start"],
                                   query["range"], now, section)}
    if action == ALL_EVENTS_ACTION:
        in_region = query.get("in_region", lambda iid: True)
        events = all_events_for(query["types"], query["start"], query["end"], now, section,
                                query["region"], in_region)
        first = (query["page_number"] - 1) * query["page_size"]
        return {"rows": events[first:first + query["page_size"]], "total": len(events)}
    if action == BPS_ACTION:
        return {"rows": domain_bps_for(query["domains"], query["start"], query["end"],
                                       query["interval"], section, now)}
    if action in WEB_ACTIONS:
        return {"rows": web_for(action, query["domains"], query["start"], query["end"],
                                query["interval"], section, query.get("query_type"), now)}
    ids, region = query["instance_ids"], query["region"]
    if action == FLOW_ACTION:
        return {"rows": flow_for(ids, query["start"], query["end"], query["interval"], section,
                                 region, now)}
    if action == BLACKHOLE_ACTION:
        return {"rows": blackhole_for(ids, now, section)}
    if action == PORT_MAX_ACTION:
        return {"rows": port_max_for(ids, query["start"], query["end"], query["ports"],
                                     section)}
    end = query["end"] if query["end"] is not None else now
    events = events_for(ids, query["start"], end, now, section, region)
    first = (query["page_number"] - 1) * query["page_size"]
    return {"rows": events[first:first + query["page_size"]], "total": len(events)}


def stat_fields(action, answer, request_id, seed):
    """The (name, value) pairs of the answer: the list, RequestId and, for
    DescribeDDoSEvents, Total; every level's order shuffled per request,
    items in order."""
    rng = random.Random(seed)

    def shuffled(pairs):
        pairs = list(pairs)
        rng.shuffle(pairs)
        return pairs
    if action in PLAN_ACTIONS:
        return plan_fields(action, answer, request_id, shuffled)
    items = ListValue(shuffled(row.items()) for row in answer["rows"])
    top = [("RequestId", request_id), (STAT_LIST_NAMES[action], items)]
    if action in (EVENTS_ACTION, ALL_EVENTS_ACTION):
        top.append(("Total", answer["total"]))
    if action == CC_EVENTS_ACTION:
        top.append(("TotalCount", answer["total"]))
    return shuffled(top)


def stat_summary(action, answer):
    """What the log line of an answer records of it."""
    if action in PLAN_ACTIONS:
        return plan_summary(action, answer)
    rows = answer["rows"]
    if action == CC_EVENTS_ACTION:
        return {"listed": ["%s:%d" % (r["Domain"], r["StartTime"]) for r in rows],
                "total_count": answer["total"]}
    if action == TOP_IP_ACTION:
        return {"listed": [r["SourceIp"] for r in rows]}
    if action == SRC_IP_ACTION:
        return {"listed": [r["SrcIp"] for r in rows]}
    if action == BPS_ACTION:
        return {"listed": ["%d:%d/%d" % (r["Index"], r["InBps"], r["OutBps"]) for r in rows]}
    if action in (FLOW_ACTION,) + WEB_ACTIONS:
        return {"listed": ["%d/%s" % (r["Time"], r.get("Region", "-")) for r in rows]}
    if action == BLACKHOLE_ACTION:
        return {"listed": ["%s:%s" % (r["Ip"], r["BlackStatus"]) for r in rows]}
    if action == PORT_MAX_ACTION:
        return {"listed": ["%s:%s:%d" % (r["Ip"], r["Port"], r["Cps"]) for r in rows]}
    return {"listed": ["%s:%s:%d" % (r["EventType"], r["Ip"], r["StartTime"]) for r in rows],
            "total_count": answer["total"]}


# ---------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, state, ssl_context=None, verbose=False, handler=None):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.state = state
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(address, handler or Handler)

    def server_bind(self):
        # HTTPServer.server_bind() would do a reverse DNS lookup (getfqdn)
        # that can stall on hosts with odd resolver setups; we don't need it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        # The kernel stamps what arrives on the accepted connections (they
        # inherit the option): see Handler._arrival_time.
        self.socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    @property
    def port(self):
        return self.server_address[1]

    @property
    def scheme(self):
        return "https" if self.ssl_context else "http"

    def handle_error(self, request, client_address):
        # Clients hanging up mid-response (timeouts, fault tests) are normal.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)) and not self.verbose:
            return
        super().handle_error(request, client_address)


class Sender:
    """What both listeners share: reading a request's body, one complete
    answer with Content-Length (kept-alive connections), quiet logs."""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _read_body(self):
        """Read the request body; None means "unusable, close the connection"."""
        if self.headers.get("Transfer-Encoding"):
            return None
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        if not re.fullmatch(r"[0-9]{1,9}", cl, re.ASCII) or int(cl) > MAX_BODY:
            return None
        return self.rfile.read(int(cl))


    def _send(self, status, body, ctype, headers=(), close=False):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Handler(Sender, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like the real endpoint
    server_version = "Tengine"
    timeout = 30                    # idle keep-alive connections are dropped
    # http.server sends an answer's head and body in two writes; with
    # Nagle's algorithm the body then waits ~40 ms for the client's delayed
    # ACK on every kept-alive request, which no real endpoint does.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def date_time_string(self, timestamp=None):
        # The Date header shows the simulator's clock, offset included, as a
        # real server's shows its own.
        return super().date_time_string(self.server.state.now() if timestamp is None else timestamp)

    # -- connection setup: optional TLS, sniffed per connection --------------

    def setup(self):
        """With TLS configured, look at the first byte: a TLS handshake is
        wrapped; plain HTTP is served only for /_sim/* (so a parser that
        fetches the xxe_net URL is still caught) and gets nginx's "plain
        HTTP request was sent to HTTPS port" page for the API."""
        self.is_tls = False
        self._dead = False
        ctx = self.server.ssl_context
        if ctx is not None:
            self.request.settimeout(self.timeout)
            try:
                first = self.request.recv(1, socket.MSG_PEEK)
            except OSError:
                first = b""
            if first == b"\x16":
                try:
                    self.request = ctx.wrap_socket(self.request, server_side=True)
                    self.is_tls = True
                except (OSError, ValueError):
                    self._dead = True
        if self._dead:
            self.connection = self.request
            self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
            return
        super().setup()

    def handle(self):
        if not self._dead:
            super().handle()

    def handle_one_request(self):
        self._arrival = self._arrival_time()
        super().handle_one_request()

    def _arrival_time(self):
        """When the next request's first bytes reached this host, by the
        kernel's time stamp (a peek, so nothing is consumed): what the real
        service counts for its rate limits, also while this process is slow
        to get to the request on a busy machine. None over TLS."""
        if self.is_tls:
            return None
        try:
            _, ancillary, _, _ = self.connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
        except (OSError, ValueError):
            return None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("qq", data[:16])
                return sec + nsec / 1e9
        return None

    def finish(self):
        super().finish()
        if self.is_tls:
            # The server closes the original (now detached) socket only.
            try:
                self.connection.close()
            except OSError:
                pass

    # -- plumbing ------------------------------------------------------------


    def _log(self, method, path, params, status, code=None, fault=None, values=None,
             request_id=None, t=None, extra=None):
        # Always called *before* the response is sent: once a client has
        # its answer, the line describing it is already in the log file.
        shown = {k: ("***" if k == "SecurityToken" else v)
                 for k, v in params.items() if k != "Signature"}
        sigver = getattr(self, "_sigver", None)
        v3 = getattr(self, "_v3_info", None) or {}
        if sigver == "3" and "access_key_id" in v3:
            shown["AccessKeyId"] = v3["access_key_id"]
        entry = {
            "time": t if t is not None else time.time(),
            "method": method, "path": path, "params": shown, "status": status,
            "code": code, "fault": fault, "values": values, "request_id": request_id,
            "service": "api", "signature_version": sigver,
            # V1: the Action parameter; V3: the x-acs-action header; None
            # for control endpoints and requests not decoded that far.
            "action": getattr(self, "_action", None),
        }
        if extra:
            entry.update(extra)
        if sigver == "3":
            if v3.get("token_sent"):
                entry["security_token"] = "***"
            # The x-acs-* headers as sent (token masked): what was signed.
            entry["headers"] = v3.get("headers", {})
        self.server.state.log(entry)

    def _header_map(self):
        """Request headers as {lower-case name: [values in order]}."""
        out = {}
        for name, value in self.headers.items():
            out.setdefault(name.lower(), []).append(value)
        return out

    # -- methods -------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _unsupported(self):
        body = self._read_body()
        rid = str(uuid.uuid4()).upper()
        doc, ctype = error_body("UnsupportedHTTPMethod",
                                "Specified HTTP method is not supported.", rid, "XML")
        self._send(405, doc, ctype, [("Allow", "GET, POST")], close=body is None)

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _unsupported

    def _dispatch(self, method):
        t = getattr(self, "_arrival", None) or time.time()
        self._sigver, self._v3_info, self._action = None, None, None
        target = self.path.encode("latin-1")
        raw_path, _, query = target.partition(b"?")
        path = raw_path.decode("latin-1")
        if path.startswith("/_sim/"):
            return self._control(method, path, t)
        # A request whose Authorization header names the V3 algorithm is a
        # V3 request; anything else is checked as signature version 1.0.
        auth = self.headers.get_all("Authorization") or []
        v3 = any(a.startswith(V3_ALGORITHM) for a in auth)
        self._sigver = "3" if v3 else "1.0"
        if v3:
            hdrs = self._header_map()
            if hdrs.get("x-acs-action"):
                self._action = hdrs["x-acs-action"][0].strip()
            self._v3_info = {
                "token_sent": "x-acs-security-token" in hdrs,
                "headers": {n: ("***" if n == "x-acs-security-token" else vals[0])
                            for n, vals in sorted(hdrs.items()) if n.startswith("x-acs-")},
            }
            try:   # the key id for the log, even if the request fails early
                self._v3_info["access_key_id"] = parse_v3_authorization(auth[0])[0]
            except ApiError:
                pass
        body = self._read_body()
        rid = str(uuid.uuid4()).upper()
        if body is None:
            doc, ctype = error_body("InvalidParameter",
                                    "The request body must have a valid Content-Length "
                                    "(at most %d bytes, no Transfer-Encoding)." % MAX_BODY, rid, "XML")
            self._log(method, path, {}, 400, "InvalidParameter", request_id=rid, t=t)
            return self._send(400, doc, ctype, close=True)
        if self.server.ssl_context is not None and not self.is_tls:
            self._log(method, path, {}, 400, "PlainHttpOnTlsPort", t=t)
            return self._send(400, NGINX_PLAIN_ON_TLS.encode(), "text/html", close=True)
        if path != "/":
            doc, ctype = error_body("InvalidUri.NotFound", "Specified path is not found: " + path,
                                    rid, "XML")
            self._log(method, path, {}, 404, "InvalidUri.NotFound", request_id=rid, t=t)
            return self._send(404, doc, ctype)

        params = {}
        query_params = {}
        fmt = "XML"
        try:
            pairs = parse_urlencoded(query)
            query_params = merge_params(pairs)
            if method == "POST" and body:
                ctype = self.headers.get("Content-Type", "")
                media, _, rest = ctype.partition(";")
                charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", rest, re.I)
                if media.strip().lower() != "application/x-www-form-urlencoded" or (
                        charset and charset.group(1).lower() != "utf-8"):
                    raise _invalid("Content-Type", "A request body must be "
                                   "application/x-www-form-urlencoded in UTF-8.")
                pairs += parse_urlencoded(body)
            params = merge_params(pairs)
            if not v3:
                self._action = params.get("Action")
        except DecodeError as e:
            err = ApiError(400, "InvalidParameter", "The request could not be decoded: %s" % e)
            return self._api_error(err, method, params, rid, fmt, t)
        except ApiError as err:
            return self._api_error(err, method, params, rid, fmt, t)

        # Errors use the format the request asked for, as far as it is
        # readable; an invalid Format falls back to XML.
        fmt_param = params.get("Format")
        fmt = "JSON" if fmt_param in (None, "JSON") else "XML"
        try:
            if v3:
                result = verify_request_v3(
                    method, query_params, params, self._header_map(), body,
                    self.server.state, self._v3_info)
                nonce = self.headers["x-acs-signature-nonce"].strip()
                kid = self._v3_info["access_key_id"]
            else:
                result = verify_request(method, params, self.server.state)
                nonce = params["SignatureNonce"]
                kid = params["AccessKeyId"]
        except ApiError as err:
            return self._api_error(err, method, params, rid, fmt, t)
        throttled = self.server.state.take_quota_slot(kid, self._action, t)
        if throttled is not None:
            return self._api_error(ApiError(400, "Throttling.User", THROTTLE_MESSAGE),
                                   method, params, rid, fmt, t, fault="quota",
                                   headers=throttled)
        if self._action in STAT_ACTIONS:
            return self._stat_operation(self._action, result, nonce, method, params, rid, fmt, t)
        if self._action in LIST_ACTIONS:
            return self._list_operation(self._action, result, kid, nonce, method, params,
                                        rid, fmt, t)
        ids, port, start, end = result

        if self.server.state.latency > 0:
            # A verified request takes as long as a distant service would.
            self.server.state.stopping.wait(self.server.state.latency)
        values = values_for(ids, port, start, end, self.server.state.attack_section())
        seed = int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big")
        fields = success_fields(values, rid, seed)
        fault = self.server.state.take_fault(ids)
        if fault is not None:
            return self._fault(fault, method, params, rid, fmt, values, fields, t)
        self._log(method, path, params, 200, values=values, request_id=rid, t=t)
        self._success(fmt, fields, rid)

    def _api_error(self, err, method, params, rid, fmt, t, fault=None, headers=()):
        doc, ctype = error_body(err.code, err.message, rid, fmt)
        self._log(method, "/", params, err.status, err.code, fault=fault, request_id=rid, t=t)
        self._send(err.status, doc, ctype, [("x-acs-request-id", rid)] + list(headers))

    def _gateway(self, fault):
        """What a gateway in front of the API answers for it: no API
        document, no x-acs-request-id; the connection is closed."""
        if fault["mode"] == "html":
            return self._send(502, NGINX_502.encode(), "text/html", fault_headers(fault), close=True)
        return self._send(503, b"", None, fault_headers(fault), close=True)

    def _success(self, fmt, fields, rid):
        if fmt == "JSON":
            self._send(200, fields_json(fields).encode(), JSON_CTYPE, [("x-acs-request-id", rid)])
        else:
            self._send(200, fields_xml(fields).encode(), XML_CTYPE, [("x-acs-request-id", rid)])

    # -- faults --------------------------------------------------------------

    def _fault(self, fault, method, params, rid, fmt, values, fields, t):
        mode = fault["mode"]
        if mode in ERROR_FAULTS:
            status, code, message = ERROR_FAULTS[mode]
            return self._api_error(ApiError(status, code, message), method, params, rid, fmt, t,
                                   fault=mode, headers=fault_headers(fault))

        def log(status, vals=values):
            self._log(method, "/", params, status, fault=mode, values=vals, request_id=rid, t=t)

        hdr = [("x-acs-request-id", rid)]
        full_xml = fields_xml(fields).encode()
        if mode == "hang":
            # Sleep in small steps so SIGTERM is not held up by a hung request.
            deadline = time.monotonic() + fault.get("seconds", HANG_DEFAULT_SECONDS)
            while time.monotonic() < deadline and not self.server.state.stopping.is_set():
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            log(200)
            return self._success(fmt, fields, rid)
        if mode in GATEWAY_FAULTS:
            log(GATEWAY_STATUS[mode], None)
            return self._gateway(fault)
        if mode == "hangup":
            # The request was verified (its nonce is used up), then the
            # connection closes without a byte of answer: a server or
            # balancer dropping a kept-alive connection as a request arrives.
            log(None, None)
            self.close_connection = True
            return None
        log(200)
        if mode == "garbage":
            self._send(200, b"this is not xml", "text/plain", hdr)
        elif mode == "empty":
            self._send(200, b"", XML_CTYPE, hdr)
        elif mode == "json":
            self._send(200, fields_json(fields).encode(), JSON_CTYPE, hdr)
        elif mode == "truncated":
            # Promise the whole document, deliver half, hang up.
            self.send_response(200)
            self.send_header("Content-Type", XML_CTYPE)
            self.send_header("Content-Length", str(len(full_xml)))
            self.end_headers()
            self.wfile.write(full_xml[:len(full_xml) // 2])
            self.close_connection = True
        elif mode == "reset":
            self.send_response(200)
            self.send_header("Content-Type", XML_CTYPE)
            self.send_header("Content-Length", str(len(full_xml)))
            self.end_headers()
            self.wfile.write(full_xml[:16])
            time.sleep(0.05)  # let the bytes leave before the RST
            self._reset_connection()
        elif mode == "oversize":
            inner = "".join("<%s>%s</%s>" % (k, v, k) for k, v in fields)
            pad = " " * OVERSIZE_PADDING
            doc = XML_DECL + "<DescribePortConnsCountResponse>" + pad + inner + pad[:1024] + \
                "</DescribePortConnsCountResponse>"
            self._send(200, doc.encode(), XML_CTYPE, hdr)
        elif mode in ("entities", "xxe", "xxe_net"):
            host = self.server.server_address[0]
            host = "[%s]" % host if ":" in host else host
            url = "%s://%s:%d/_sim/xxe" % (self.server.scheme, host, self.server.port)
            self._send(200, hostile_document(mode, fields, url).encode(), XML_CTYPE, hdr)
        elif mode == "wrongroot":
            self._send(200, fields_xml(fields, root="DescribeSomethingElseResponse").encode(),
                       XML_CTYPE, hdr)
        elif mode == "missing":
            self._send(200, fields_xml([f for f in fields if f[0] != "Cps"]).encode(), XML_CTYPE, hdr)
        elif mode in ("nonnumeric", "negative", "huge"):
            bad = {"nonnumeric": "12abc", "negative": "-5", "huge": "99999999999999999999999"}[mode]
            doc = fields_xml([(k, bad if k == "Conns" else v) for k, v in fields])
            self._send(200, doc.encode(), XML_CTYPE, hdr)
        elif mode == "duplicate":
            doc = fields_xml(fields + [("Conns", values["Conns"] + 1)])
            self._send(200, doc.encode(), XML_CTYPE, hdr)

    # -- listing operations ----------------------------------------------------

    def _list_operation(self, action, result, kid, nonce, method, params, rid, fmt, t):
        """Answer a verified DescribeInstanceIds / DescribeNetworkRules:
        flow control first, then latency, a list fault if one is due, else
        the list in the simulator's list style."""
        state = self.server.state
        if not state.take_list_slot(kid):
            return self._api_error(ApiError(400, "Throttling.User", THROTTLE_MESSAGE),
                                   method, params, rid, fmt, t, fault="rate_limit")
        if state.latency > 0:
            state.stopping.wait(state.latency)
        seed = int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big")
        fields = list_fields(action, result, rid, seed)
        self._list_answer(action, fields, list_summary(action, result),
                          method, params, rid, fmt, t)

    def _list_answer(self, action, fields, summary, method, params, rid, fmt, t):
        """A list answer, or the fault the scenario has for the operation."""
        root = action + "Response"
        fault = self.server.state.take_list_fault(action)
        if fault is not None:
            return self._list_fault(fault, root, fields, summary, method, params, rid, fmt, t)
        self._log(method, "/", params, 200, request_id=rid, t=t, extra=summary)
        self._list_success(fmt, root, fields, rid)

    def _list_success(self, fmt, root, fields, rid):
        hdr = [("x-acs-request-id", rid)]
        if fmt == "JSON":
            return self._send(200, list_json(fields).encode(), JSON_CTYPE, hdr)
        doc = list_xml(fields, root, self.server.state.list_style,
                       empty=self.server.state.empty_list)
        self._send(200, doc.encode("utf-8"), XML_CTYPE, hdr)

    def _list_fault(self, fault, root, fields, summary, method, params, rid, fmt, t):
        mode = fault["mode"]
        if mode in ERROR_FAULTS:
            status, code, message = ERROR_FAULTS[mode]
            return self._api_error(ApiError(status, code, message), method, params, rid, fmt, t,
                                   fault=mode, headers=fault_headers(fault))
        style = self.server.state.list_style
        hdr = [("x-acs-request-id", rid)]
        full_xml = list_xml(fields, root, style, empty=self.server.state.empty_list).encode("utf-8")

        def log(status, listed=True):
            self._log(method, "/", params, status, fault=mode, request_id=rid, t=t,
                      extra=summary if listed else None)
        if mode == "hang":
            deadline = time.monotonic() + fault.get("seconds", HANG_DEFAULT_SECONDS)
            while time.monotonic() < deadline and not self.server.state.stopping.is_set():
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            log(200)
            return self._list_success(fmt, root, fields, rid)
        if mode in GATEWAY_FAULTS:
            log(GATEWAY_STATUS[mode], listed=False)
            return self._gateway(fault)
        log(200)
        if mode == "garbage":
            self._send(200, b"this is not xml", "text/plain", hdr)
        elif mode == "empty":
            self._send(200, b"", XML_CTYPE, hdr)
        elif mode == "json":
            self._send(200, list_json(fields).encode(), JSON_CTYPE, hdr)
        elif mode in ("truncated", "reset"):
            # Promise the whole document, deliver part of it, hang up.
            self.send_response(200)
            self.send_header("Content-Type", XML_CTYPE)
            self.send_header("Content-Length", str(len(full_xml)))
            self.end_headers()
            if mode == "truncated":
                self.wfile.write(full_xml[:len(full_xml) // 2])
                self.close_connection = True
            else:
                self.wfile.write(full_xml[:16])
                time.sleep(0.05)  # let the bytes leave before the RST
                self._reset_connection()
        elif mode == "oversize":
            pad = " " * OVERSIZE_PADDING
            inner = list_xml(fields, root, style, prolog="")[len(root) + 2:-(len(root) + 3)]
            doc = XML_DECL + "<%s>%s%s%s</%s>" % (root, pad, inner, pad[:1024], root)
            self._send(200, doc.encode("utf-8"), XML_CTYPE, hdr)
        elif mode in ("entities", "xxe", "xxe_net"):
            host = self.server.server_address[0]
            host = "[%s]" % host if ":" in host else host
            url = "%s://%s:%d/_sim/xxe" % (self.server.scheme, host, self.server.port)
            # The entity stands where the RequestId's text would be.
            ref = "&lol9;" if mode == "entities" else "&xxe;"
            body = list_xml([(k, ref if k == "RequestId" else v) for k, v in fields], root, style,
                            prolog="")
            body = body.replace(xml_escape(ref), ref)
            doc = '<?xml version="1.0" encoding="UTF-8"?>\n' + _hostile_dtd(mode, root, url) + body
            self._send(200, doc.encode("utf-8"), XML_CTYPE, hdr)
        elif mode == "wrongroot":
            self._send(200, list_xml(fields, "DescribeSomethingElseResponse", style).encode("utf-8"),
                       XML_CTYPE, hdr)

    # -- attack statistics -----------------------------------------------------

    def _stat_operation(self, action, query, nonce, method, params, rid, fmt, t):
        """Answer a verified DescribePortFlowList / DescribeBlackholeStatus /
        DescribeDDoSEvents: latency, then a list fault if one is due (the
        "list_faults" map), else the list in the simulator's list style."""
        state = self.server.state
        if state.latency > 0:
            state.stopping.wait(state.latency)
        section = state.attack_section()
        forbidden = set(section["forbidden_instances"]) & set(query.get("instance_ids") or ())
        if forbidden:
            status, code, message = ERROR_FAULTS["forbidden"]
            return self._api_error(ApiError(status, code, message), method, params, rid, fmt, t,
                                   fault="forbidden_instance")
        if action == ALL_EVENTS_ACTION:
            query["in_region"] = lambda iid: state.instance_in_region(iid, query["region"])
        answer = stat_answer(query, section, state.now())
        seed = int.from_bytes(hashlib.sha256(nonce.encode()).digest()[:8], "big")
        fields = stat_fields(action, answer, rid, seed)
        self._list_answer(action, fields, stat_summary(action, answer),
                          method, params, rid, fmt, t)

    def _reset_connection(self):
        """Abort the TCP connection with RST (SO_LINGER 0, then close).

        The buffered reader holds a reference that would defer the real
        close, so it goes first; dummy streams replace both so the base
        class's later flush/close calls are harmless."""
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()
        self.wfile.close()
        sock.close()
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.close_connection = True

    # -- control endpoints ---------------------------------------------------

    def _control(self, method, path, t):
        body = self._read_body()
        if body is None:
            self._send(400, b"bad body\n", "text/plain", close=True)
            return
        state = self.server.state
        if path == "/_sim/health" and method == "GET":
            # Not logged: harnesses may poll it.
            return self._send(200, b"ok", "text/plain")
        if path == "/_sim/xxe":
            # Reaching this means some XML parser resolved an external
            # entity from a response. It must never happen; log it loudly.
            self._log(method, path, {}, 200, code="XXE_FETCHED", t=t)
            sys.stderr.write("ddoscoo_sim: WARNING: /_sim/xxe was fetched (XXE)\n")
            sys.stderr.flush()
            return self._send(200, b"XXE-FETCHED", "text/plain")
        m = re.fullmatch(r"/_sim/static/([A-Za-z0-9._-]{1,64})\.xml", path)
        if m and method == "GET":
            # Unauthenticated, for benchmarks against collectd's curl_xml,
            # which cannot sign: the success document of the newest whole
            # minute, as large as a signed answer, after the same latency.
            if state.latency > 0:
                state.stopping.wait(state.latency)
            end = int(state.now()) // 60 * 60
            values = values_for([m.group(1)], None, end - 60, end, state.attack_section())
            rid = str(uuid.uuid4()).upper()
            self._log(method, path, {}, 200, values=values, request_id=rid, t=t)
            return self._send(200, fields_xml(success_fields(values, rid, end)).encode(),
                              XML_CTYPE)
        # Run-time changes: POST replaces or merges (bodies may hold
        # secrets, so they are never logged or echoed), GET shows.
        setters = {"/_sim/faults": (state.set_faults, "faults"),
                   "/_sim/keys": (state.add_keys, "keys"),
                   "/_sim/metadata": (state.md_update, "metadata"),
                   "/_sim/instances": (state.change_instances, "instances"),
                   "/_sim/list_faults": (state.set_list_faults, "list faults"),
                   "/_sim/attack": (state.set_attack, "attack"),
                   "/_sim/domains": (state.change_domains, "domains"),
                   "/_sim/quota": (state.set_quota, "quota")}
        getters = {"/_sim/faults": state.get_faults, "/_sim/keys": state.list_keys,
                   "/_sim/instances": state.inventory,
                   "/_sim/list_faults": state.get_list_faults,
                   "/_sim/attack": state.get_attack, "/_sim/domains": state.domains,
                   "/_sim/quota": state.get_quota}
        if path in setters and method == "POST":
            setter, what = setters[path]
            try:
                setter(json.loads(body.decode("utf-8")))
            except (ValueError, ConfigError) as e:
                code = "Bad" + "".join(w.capitalize() for w in what.split())
                self._log(method, path, {}, 400, code=code, t=t)
                return self._send(400, ("bad %s: %s\n" % (what, e)).encode(), "text/plain")
            self._log(method, path, {}, 200, t=t)
            return self._send(200, b"ok", "text/plain")
        if path in getters and method == "GET":
            return self._send(200, json.dumps(getters[path]()).encode(), "application/json")
        if path == "/_sim/metadata" and method == "GET":
            return self._send(200, json.dumps(state.md_status()).encode(), "application/json")
        self._send(404, b"no such control endpoint\n", "text/plain")


# ---------------------------------------------------------------------------
# ECS instance metadata service (RAM role credentials)
# ---------------------------------------------------------------------------

def _utc(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class MetadataHandler(Sender, BaseHTTPRequestHandler):
    """http://100.100.100.200 as far as RAM role credentials go:

        PUT /latest/api/token  (X-aliyun-ecs-metadata-token-ttl-seconds: 1..21600)
        GET /latest/meta-data/ram/security-credentials/        -> role name
        GET /latest/meta-data/ram/security-credentials/<role>  -> JSON credentials

    A session token, when sent (X-aliyun-ecs-metadata-token), must be live;
    with require_token it must be sent. Misbehaviour is chosen by "mode".
    """

    disable_nagle_algorithm = True  # as Handler's
    protocol_version = "HTTP/1.1"
    server_version = "Tengine"
    timeout = 30

    def version_string(self):
        return self.server_version

    def date_time_string(self, timestamp=None):
        return super().date_time_string(self.server.state.now() if timestamp is None else timestamp)


    def _answer(self, status, body, ctype="text/plain", headers=(), close=False, **log):
        if isinstance(body, str):
            body = body.encode("utf-8")
        # Log first (as the API side does); never a token or a secret.
        entry = {
            "time": self._t, "service": "metadata", "method": self.command,
            "path": self._path, "status": status, "token_header": self._token_sent,
            "mode": self._mode, "params": {}, "code": None, "fault": None, "values": None,
            "request_id": None, "signature_version": None, "action": None,
        }
        entry.update(log)
        self.server.state.log(entry)
        self._send(status, body, ctype, headers, close)

    def _handle(self):
        state = self.server.state
        self._t = time.time()
        self._path = self.path.partition("?")[0]
        token_hdrs = self.headers.get_all(MD_TOKEN_HEADER) or []
        self._token_sent = bool(token_hdrs)
        cfg = state.md_config()
        self._mode = mode = cfg["mode"]
        body = self._read_body()
        if body is None:
            return self._answer(400, "Bad Request\n", close=True, code="BadBody")
        if mode == "down":
            return self._answer(500, "Internal Server Error\n", fault="down")
        if mode == "hang":
            # Small steps, so SIGTERM is not held up by a hung request.
            deadline = time.monotonic() + cfg["hang_seconds"]
            while time.monotonic() < deadline and not state.stopping.is_set():
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        fault = "hang" if mode == "hang" else None

        if self._path == MD_TOKEN_PATH:
            if self.command != "PUT":
                return self._answer(405, "Method Not Allowed\n", headers=[("Allow", "PUT")],
                                    fault=fault)
            if mode == "no_token_api":
                return self._answer(404, "Not Found\n", fault="no_token_api")
            ttls = self.headers.get_all(MD_TTL_HEADER) or []
            ttl = ttls[0].strip() if len(ttls) == 1 else ""
            if not re.fullmatch(r"[1-9][0-9]{0,4}", ttl, re.ASCII) or int(ttl) > MD_MAX_TTL:
                return self._answer(400, "Bad Request: %s must be 1..%d\n" % (MD_TTL_HEADER, MD_MAX_TTL),
                                    code="BadTtl", fault=fault)
            token = state.md_new_token(int(ttl))
            return self._answer(200, token, ttl=int(ttl), fault=fault)

        if self.command != "GET":
            return self._answer(405, "Method Not Allowed\n", headers=[("Allow", "GET")],
                                fault=fault)
        if token_hdrs:
            if len(token_hdrs) != 1 or not state.md_token_live(token_hdrs[0].strip()):
                return self._answer(401, "Unauthorized\n", code="InvalidToken", fault=fault)
        elif cfg["require_token"]:
            return self._answer(401, "Unauthorized\n", code="TokenRequired", fault=fault)

        if self._path == MD_CRED_PREFIX:
            return self._answer(200, cfg["role"], fault=fault)
        if self._path.startswith(MD_CRED_PREFIX):
            role = self._path[len(MD_CRED_PREFIX):]
            if role != cfg["role"]:
                return self._answer(404, "Not Found\n", code="NoSuchRole", fault=fault)
            if mode == "garbage":
                return self._answer(200, "this is not json", fault="garbage")
            if mode == "bad_code":
                doc = {"Code": "Failed", "Message": "The role is not attached or is being "
                       "updated.", "LastUpdated": _utc(state.now())}
                return self._answer(200, json.dumps(doc), fault="bad_code")
            creds, new = state.md_credentials()
            doc = {
                "AccessKeyId": creds["AccessKeyId"],
                "AccessKeySecret": creds["AccessKeySecret"],
                "Expiration": _utc(creds["expires"]),
                "SecurityToken": creds["SecurityToken"],
                "LastUpdated": _utc(creds["updated"]),
                "Code": "Success",
            }
            return self._answer(200, json.dumps(doc, indent=2), fault=fault,
                                access_key_id=creds["AccessKeyId"], issued=new)
        return self._answer(404, "Not Found\n", fault=fault)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def _write_port_file(path, port):
    # Write-then-rename so a waiting harness never reads a partial number.
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def _on_lo(host):
    """Whether host is an address of the loopback interface: 100.100.100.200
    put there inside a test's own network namespace (unshare -n) is."""
    try:
        out = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(f.split("/")[0] == host for line in out.splitlines()
               for f in line.split()[3:4])


def _loopback(host):
    if host == "localhost":
        return "127.0.0.1"
    try:
        return host if ipaddress.ip_address(host).is_loopback or _on_lo(host) else None
    except ValueError:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description="Alibaba Cloud ddoscoo API simulator")
    ap.add_argument("--config", required=True, help="scenario JSON file")
    ap.add_argument("--log", required=True, help="request log (JSON lines, appended)")
    ap.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    ap.add_argument("--port-file", help="write the listening port here (atomically)")
    ap.add_argument("--bind", default="127.0.0.1", help="loopback address to listen on")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--verbose", action="store_true", help="access log on stderr")
    ap.add_argument("--metadata-port-file",
                    help="also run the ECS metadata service; write its port here (atomically)")
    ap.add_argument("--metadata-port", type=int, default=None,
                    help="metadata service TCP port (default 0 = pick a free one); "
                         "enables it like --metadata-port-file")
    ap.add_argument("--metadata-bind", help="its address (default: --bind), e.g. "
                    "100.100.100.200 on lo in a network namespace")
    ap.add_argument("--quota-rps", type=int, help="the account's API quota, requests a "
                    "second (overrides the scenario's \"quota\")")
    ap.add_argument("--quota-per", choices=QUOTA_PER, default="account",
                    help="with --quota-rps: per account, or per account and operation")
    args = ap.parse_args(argv)

    host = _loopback(args.bind)
    md_host = _loopback(args.metadata_bind or args.bind)
    if host is None or md_host is None:
        ap.error("refusing to bind %r: only loopback addresses are allowed"
                 % (args.bind if host is None else args.metadata_bind))
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    try:
        state = SimState(args.config, args.log)
        if args.quota_rps is not None:
            state.set_quota({"rps": args.quota_rps, "per": args.quota_per})
    except (OSError, ValueError) as e:
        ap.error("bad config: %s" % e)

    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)

    server = SimServer((host, args.port), state, ctx, args.verbose)
    md_server = None
    if args.metadata_port_file or args.metadata_port is not None:
        md_server = SimServer((md_host, args.metadata_port or 0), state, None, args.verbose,
                              handler=MetadataHandler)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    if md_server is not None:
        threading.Thread(target=md_server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        # Before the API's port file: a harness waiting for that one finds
        # this one in place too.
        if args.metadata_port_file:
            _write_port_file(args.metadata_port_file, md_server.port)
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    shown = "[%s]" % host if ":" in host else host
    print("listening on %s://%s:%d" % (server.scheme, shown, server.port), flush=True)
    if md_server is not None:
        md_shown = "[%s]" % md_host if ":" in md_host else md_host
        print("metadata listening on http://%s:%d" % (md_shown, md_server.port), flush=True)

    while not stop.wait(0.2):
        pass
    state.stopping.set()   # wakes "hang" faults
    server.shutdown()
    server.server_close()
    if md_server is not None:
        md_server.shutdown()
        md_server.server_close()
    state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
