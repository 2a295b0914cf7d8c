/**
 * collectd-ddoscoo - tests/unit/test_api_response.c
 * SPDX-License-Identifier: MIT
 *
 * Response documents: success, API errors, and everything that must be
 * refused rather than turned into numbers.
 */
#include "api_response.h"

#include "api_request.h"
#include "sources.h"
#include "statistics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <malloc.h>

#include "testing.h"

static char why[256];
static api_error_t error;
/* A DescribePortConnsCount answer as the plugin reads it (the connections
 * row of the statistics table). */
static struct {
  uint64_t conns, act_conns, inact_conns, cps;
  char request_id[API_TEXT_SIZE];
} conns;

static api_response_status_t parse_conns(const char *doc, size_t len) {
  const statistic_t *stat = statistic_find("connections");
  api_rows_t rows;
  why[0] = 0;
  memset(&conns, 0, sizeof(conns));
  memset(&error, 0, sizeof(error));
  api_response_status_t status = api_parse_rows(
      doc, len, stat->action, stat->list, stat->fields, stat->field_count, NULL,
      0, &rows, &error, why, sizeof(why));
  if (status == API_RESPONSE_OK) {
    conns.conns = rows.values[0].count;
    conns.act_conns = rows.values[1].count;
    conns.inact_conns = rows.values[2].count;
    conns.cps = rows.values[3].count;
    memcpy(conns.request_id, rows.request_id, sizeof(conns.request_id));
    api_rows_clear(&rows);
  }
  return status;
}

static api_response_status_t parse(const char *doc) {
  return parse_conns(doc, strlen(doc));
}

/* Refused, with a reason containing want. */
#define EXPECT_INVALID(doc, want)                                              \
  do {                                                                         \
    EXPECT_EQ_INT(API_RESPONSE_INVALID, parse(doc));                           \
    printf("# why: %s\n", why);                                                \
    OK(strstr(why, want) != NULL);                                             \
  } while (0)

DEF_TEST(success_in_any_order) {
  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse("<DescribePortConnsCountResponse>\n"
                      "\t<Conns>46340</Conns>\n"
                      "\t<RequestId>48859E14-A9FB-4100-99FF-AAB75CA46776"
                      "</RequestId>\n"
                      "\t<Cps>0</Cps>\n"
                      "\t<ActConns>159</ActConns>\n"
                      "\t<InActConns>121</InActConns>\n"
                      "</DescribePortConnsCountResponse>"));
  EXPECT_EQ_UINT64(46340, conns.conns);
  EXPECT_EQ_UINT64(159, conns.act_conns);
  EXPECT_EQ_UINT64(121, conns.inact_conns);
  EXPECT_EQ_UINT64(0, conns.cps);
  EXPECT_EQ_STR("48859E14-A9FB-4100-99FF-AAB75CA46776", conns.request_id);

  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse("<?xml version='1.0' encoding='UTF-8'?>"
                      "<DescribePortConnsCountResponse><InActConns> 7 "
                      "</InActConns><Cps><![CDATA[9]]></Cps><Unknown>x"
                      "</Unknown><ActConns>8</ActConns><Conns>9007199254740992"
                      "</Conns></DescribePortConnsCountResponse>"));
  EXPECT_EQ_UINT64(7, conns.inact_conns);
  EXPECT_EQ_UINT64(9, conns.cps);
  EXPECT_EQ_UINT64(8, conns.act_conns);
  EXPECT_EQ_UINT64(9007199254740992ULL, conns.conns);
  EXPECT_EQ_STR("", conns.request_id);
  return 0;
}

DEF_TEST(api_error) {
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                parse("<?xml version='1.0' encoding='UTF-8'?><Error>"
                      "<RequestId>7A2F-1</RequestId><HostId>ddoscoo.aliyuncs."
                      "com</HostId><Code>Throttling.User</Code><Message>"
                      "Request was denied due to user flow control.</Message>"
                      "<Recommend><![CDATA[https://x]]></Recommend></Error>"));
  EXPECT_EQ_STR("Throttling.User", error.code);
  EXPECT_EQ_STR("Request was denied due to user flow control.", error.message);
  EXPECT_EQ_STR("7A2F-1", error.request_id);

  /* Messages stay on one log line. */
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                parse("<Error><Code>X</Code><Message>two\nlines\t!</Message>"
                      "</Error>"));
  EXPECT_EQ_STR("two lines !", error.message);
  EXPECT_EQ_STR("", error.request_id);

  EXPECT_INVALID("<Error><Message>no code</Message></Error>", "<Code>");
  return 0;
}

DEF_TEST(bad_values) {
  const char *head = "<DescribePortConnsCountResponse><ActConns>1</ActConns>"
                     "<InActConns>1</InActConns><Cps>1</Cps>";
  const char *tail = "</DescribePortConnsCountResponse>";
  struct {
    const char *conns;
    const char *want;
  } cases[] = {
      {"", "<Conns> is missing"},
      {"<Conns>-5</Conns>", "\"-5\""},
      {"<Conns>12abc</Conns>", "\"12abc\""},
      {"<Conns></Conns>", "not a count"},
      {"<Conns>+5</Conns>", "not a count"},
      {"<Conns>1.5</Conns>", "not a count"},
      {"<Conns>0x10</Conns>", "not a count"},
      {"<Conns>1 2</Conns>", "not a count"},
      {"<Conns>99999999999999999999999</Conns>", "not a count"},
      {"<Conns>9007199254740993</Conns>", "not a count"},
      {"<Conns>1</Conns><Conns>2</Conns>", "more than once"},
      {"<Conns><b>1</b></Conns>", "more than text"},
      {"<Conns>1<!-- x --></Conns>", "more than text"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char doc[512];
    snprintf(doc, sizeof(doc), "%s%s%s", head, cases[i].conns, tail);
    EXPECT_INVALID(doc, cases[i].want);
  }
  return 0;
}

DEF_TEST(not_the_document) {
  EXPECT_INVALID("", "empty");
  EXPECT_INVALID("this is not xml", "not well-formed");
  EXPECT_INVALID("{\"Conns\": 1, \"ActConns\": 1}", "not well-formed");
  EXPECT_INVALID("<html><body><h1>502 Bad Gateway</h1></body></html>",
                 "unexpected root element <html>");
  EXPECT_INVALID("<DescribePortConnsCountResponse><Conns>46340</Conns><Req",
                 "not well-formed");
  EXPECT_INVALID("<DescribeSomethingElseResponse><Conns>1</Conns><ActConns>1"
                 "</ActConns><InActConns>1</InActConns><Cps>1</Cps>"
                 "</DescribeSomethingElseResponse>",
                 "<DescribeSomethingElseResponse>");
  return 0;
}

DEF_TEST(entities_are_refused) {
  /* Billion laughs. */
  EXPECT_INVALID(
      "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
      "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
      "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
      "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">"
      "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
      "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">"
      "<!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">]>"
      "<DescribePortConnsCountResponse><Conns>&i;</Conns><ActConns>1"
      "</ActConns><InActConns>1</InActConns><Cps>1</Cps>"
      "</DescribePortConnsCountResponse>",
      "");
  /* External entities: neither read nor fetched. */
  EXPECT_INVALID("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>"
                 "<DescribePortConnsCountResponse><Conns>&x;</Conns><ActConns>"
                 "1</ActConns><InActConns>1</InActConns><Cps>1</Cps>"
                 "</DescribePortConnsCountResponse>",
                 "DTD");
  EXPECT_INVALID("<!DOCTYPE r [<!ENTITY x \"5\">]>"
                 "<DescribePortConnsCountResponse><Conns>&x;</Conns><ActConns>"
                 "1</ActConns><InActConns>1</InActConns><Cps>1</Cps>"
                 "</DescribePortConnsCountResponse>",
                 "DTD");
  /* Undeclared entities are not well-formed. */
  EXPECT_INVALID("<DescribePortConnsCountResponse><Conns>&x;</Conns>"
                 "</DescribePortConnsCountResponse>",
                 "not well-formed");
  return 0;
}

DEF_TEST(truncated_everywhere) {
  const char *doc = "<?xml version='1.0' encoding='UTF-8'?>"
                    "<DescribePortConnsCountResponse><Conns>46340</Conns>"
                    "<RequestId>A</RequestId><Cps>0</Cps><ActConns>159"
                    "</ActConns><InActConns>121</InActConns>"
                    "</DescribePortConnsCountResponse>";
  size_t len = strlen(doc);
  /* Every proper prefix is refused; only the whole document parses. */
  for (size_t n = 0; n < len; n++) {
    api_response_status_t status = parse_conns(doc, n);
    if (status != API_RESPONSE_INVALID) {
      printf("# prefix of %zu bytes accepted\n", n);
      return -1;
    }
  }
  EXPECT_EQ_INT(API_RESPONSE_OK, parse_conns(doc, len));
  EXPECT_EQ_UINT64(46340, conns.conns);
  return 0;
}

/* Bytes that do not convert from the declared encoding: libxml2 reports
 * those past the parser context, to stderr (collectd's journal), once per
 * answer. Found by tests/fuzz/fuzz_api_response.c. */
DEF_TEST(quiet_on_encoding_errors) {
  static const char euc_jp[] = "<?xml version=\"1.0\" encoding=\"EUC-JP\"?>"
                               "<Error><Code>\xf8\xff\xff\xff</Code></Error>";
  static const char ucs4[] = "\x00\x00\x00<\xf8\xff\xff\xff";
  FILE *capture = tmpfile();
  CHECK_NOT_NULL(capture);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  OK(saved >= 0);
  OK(dup2(fileno(capture), STDERR_FILENO) >= 0);
  api_response_status_t first = parse_conns(euc_jp, sizeof(euc_jp) - 1);
  api_response_status_t second = parse_conns(ucs4, sizeof(ucs4) - 1);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);

  EXPECT_EQ_INT(API_RESPONSE_INVALID, first);
  EXPECT_EQ_INT(API_RESPONSE_INVALID, second);
  OK(fseek(capture, 0, SEEK_END) == 0);
  long written = ftell(capture);
  fclose(capture);
  EXPECT_EQ_INT(0, (int)written);
  return 0;
}

DEF_TEST(instance_lists_in_both_shapes) {
  const char *repeated =
      "<DescribeInstanceIdsResponse><RequestId>R</RequestId>"
      "<InstanceIds><InstanceId>ddoscoo-cn-a</InstanceId><Edition>9</Edition>"
      "<Remark>web front</Remark></InstanceIds>"
      "<InstanceIds><InstanceId>ddoscoo-cn-b</InstanceId><Remark/>"
      "</InstanceIds></DescribeInstanceIdsResponse>";
  const char *wrapped =
      "<DescribeInstanceIdsResponse><RequestId>R</RequestId><InstanceIds>"
      "<item><InstanceId>ddoscoo-cn-a</InstanceId><Remark>web front</Remark>"
      "</item><item><Edition>9</Edition><InstanceId>ddoscoo-cn-b</InstanceId>"
      "</item></InstanceIds></DescribeInstanceIdsResponse>";
  const char *docs[] = {repeated, wrapped};
  for (size_t i = 0; i < 2; i++) {
    api_instance_list_t list;
    EXPECT_EQ_INT(API_RESPONSE_OK,
                  api_parse_instance_ids(docs[i], strlen(docs[i]), &list,
                                         &error, why, sizeof(why)));
    EXPECT_EQ_UINT64(2, list.count);
    EXPECT_EQ_STR("ddoscoo-cn-a", list.items[0].id);
    EXPECT_EQ_STR("web front", list.items[0].remark);
    EXPECT_EQ_STR("ddoscoo-cn-b", list.items[1].id);
    EXPECT_EQ_STR("", list.items[1].remark);
    api_instance_list_clear(&list);
  }

  api_instance_list_t list;
  const char *empty = "<DescribeInstanceIdsResponse><RequestId>R</RequestId>"
                      "</DescribeInstanceIdsResponse>";
  EXPECT_EQ_INT(API_RESPONSE_OK,
                api_parse_instance_ids(empty, strlen(empty), &list, &error, why,
                                       sizeof(why)));
  EXPECT_EQ_UINT64(0, list.count);

  const char *bad = "<DescribeInstanceIdsResponse><InstanceIds><InstanceId>"
                    "<b>x</b></InstanceId></InstanceIds>"
                    "</DescribeInstanceIdsResponse>";
  EXPECT_EQ_INT(API_RESPONSE_INVALID,
                api_parse_instance_ids(bad, strlen(bad), &list, &error, why,
                                       sizeof(why)));
  OK(list.count == 0 && list.items == NULL);
  const char *err = "<Error><Code>Throttling.User</Code></Error>";
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                api_parse_instance_ids(err, strlen(err), &list, &error, why,
                                       sizeof(why)));
  EXPECT_EQ_STR("Throttling.User", error.code);
  /* Another operation's answer is not a list of instances. */
  const char *other = "<DescribeNetworkRulesResponse><TotalCount>0"
                      "</TotalCount></DescribeNetworkRulesResponse>";
  EXPECT_EQ_INT(API_RESPONSE_INVALID,
                api_parse_instance_ids(other, strlen(other), &list, &error, why,
                                       sizeof(why)));
  return 0;
}

DEF_TEST(rule_lists) {
  const char *repeated =
      "<DescribeNetworkRulesResponse><TotalCount>7</TotalCount>"
      "<NetworkRules><InstanceId>i</InstanceId><Protocol>tcp</Protocol>"
      "<FrontendPort>80</FrontendPort><BackendPort>8080</BackendPort>"
      "<RealServers>1.1.1.1</RealServers><RealServers>2.2.2.2</RealServers>"
      "</NetworkRules><NetworkRules><InstanceId>i</InstanceId><Protocol>udp"
      "</Protocol><FrontendPort>53</FrontendPort></NetworkRules>"
      "</DescribeNetworkRulesResponse>";
  const char *wrapped =
      "<DescribeNetworkRulesResponse><NetworkRules><item><FrontendPort>80"
      "</FrontendPort><Protocol>tcp</Protocol><RealServers><item>1.1.1.1"
      "</item></RealServers></item><item><Protocol>udp</Protocol>"
      "<FrontendPort>53</FrontendPort></item></NetworkRules><TotalCount>7"
      "</TotalCount></DescribeNetworkRulesResponse>";
  const char *docs[] = {repeated, wrapped};
  for (size_t i = 0; i < 2; i++) {
    api_rule_list_t list;
    EXPECT_EQ_INT(API_RESPONSE_OK,
                  api_parse_network_rules(docs[i], strlen(docs[i]), &list,
                                          &error, why, sizeof(why)));
    EXPECT_EQ_UINT64(7, list.total_count);
    EXPECT_EQ_UINT64(2, list.count);
    EXPECT_EQ_INT(80, list.items[0].frontend_port);
    EXPECT_EQ_STR("tcp", list.items[0].protocol);
    EXPECT_EQ_INT(53, list.items[1].frontend_port);
    EXPECT_EQ_STR("udp", list.items[1].protocol);
    api_rule_list_clear(&list);
  }

  struct {
    const char *doc;
    const char *why;
  } bad[] = {
      {"<DescribeNetworkRulesResponse><NetworkRules><FrontendPort>80"
       "</FrontendPort></NetworkRules></DescribeNetworkRulesResponse>",
       "<TotalCount> is missing"},
      {"<DescribeNetworkRulesResponse><TotalCount>1</TotalCount><NetworkRules>"
       "<FrontendPort>70000</FrontendPort></NetworkRules>"
       "</DescribeNetworkRulesResponse>",
       "not a port"},
      {"<DescribeNetworkRulesResponse><TotalCount>1</TotalCount><NetworkRules>"
       "<FrontendPort>http</FrontendPort></NetworkRules>"
       "</DescribeNetworkRulesResponse>",
       "<FrontendPort> is not a count"},
      {"<DescribeNetworkRulesResponse><TotalCount>x</TotalCount>"
       "</DescribeNetworkRulesResponse>",
       "<TotalCount> is not a count"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    api_rule_list_t list;
    EXPECT_EQ_INT(API_RESPONSE_INVALID,
                  api_parse_network_rules(bad[i].doc, strlen(bad[i].doc), &list,
                                          &error, why, sizeof(why)));
    printf("# why: %s\n", why);
    OK(strstr(why, bad[i].why) != NULL);
    OK(list.items == NULL);
  }
  return 0;
}

DEF_TEST(classify) {
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify("Throttling", 400));
  EXPECT_EQ_INT(API_ERROR_TRANSIENT,
                api_error_classify("Throttling.User", 400));
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify("Throttling.Api", 503));
  EXPECT_EQ_INT(API_ERROR_TRANSIENT,
                api_error_classify("ServiceUnavailable", 503));
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify("InternalError", 500));
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify("SomethingNew", 502));
  EXPECT_EQ_INT(API_ERROR_CLOCK,
                api_error_classify("InvalidTimeStamp.Expired", 400));
  EXPECT_EQ_INT(API_ERROR_REQUEST,
                api_error_classify("InvalidTimeStamp.Format", 400));
  EXPECT_EQ_INT(API_ERROR_CREDENTIALS,
                api_error_classify("SignatureDoesNotMatch", 400));
  EXPECT_EQ_INT(API_ERROR_CREDENTIALS,
                api_error_classify("IncompleteSignature", 400));
  EXPECT_EQ_INT(API_ERROR_CREDENTIALS,
                api_error_classify("InvalidAccessKeyId.NotFound", 404));
  EXPECT_EQ_INT(API_ERROR_CREDENTIALS,
                api_error_classify("InvalidAccessKeyId.Inactive", 400));
  EXPECT_EQ_INT(API_ERROR_PERMISSION, api_error_classify("Forbidden.RAM", 403));
  EXPECT_EQ_INT(API_ERROR_PERMISSION, api_error_classify("NoPermission", 403));
  EXPECT_EQ_INT(API_ERROR_REQUEST, api_error_classify("InvalidParameter", 400));
  EXPECT_EQ_INT(API_ERROR_REQUEST,
                api_error_classify("SignatureNonceUsed", 400));
  OK(strstr(api_error_explain(API_ERROR_CLOCK), "clock") != NULL);
  /* RAM actions are named yundun-ddoscoo:<Operation>; the policy to grant
   * them comes with the plugin. */
  OK(strstr(api_error_explain(API_ERROR_PERMISSION), "yundun-ddoscoo") != NULL);
  OK(strstr(api_error_explain(API_ERROR_PERMISSION), "ram-policy.json") !=
     NULL);
  return 0;
}

/* A gateway's page in place of the API's answer: a transient API error
 * named after the HTTP status, not an unusable answer. */
DEF_TEST(gateway_pages_are_transient) {
  const char *html = "<html>\r\n<head><title>502 Bad Gateway</title></head>"
                     "\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
                     "</center>\r\n</body>\r\n</html>\r\n";
  api_response_status_t parsed = parse(html);
  EXPECT_EQ_INT(API_RESPONSE_INVALID, parsed);
  EXPECT_EQ_INT(API_RESPONSE_ERROR, api_server_failure(parsed, 502, "text/html",
                                                       strlen(html), &error));
  EXPECT_EQ_STR("HTTP502", error.code);
  printf("# message: %s\n", error.message);
  OK(strstr(error.message, "HTTP 502") != NULL);
  OK(strstr(error.message, "text/html") != NULL);
  EXPECT_EQ_STR("", error.request_id);
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify(error.code, 502));

  /* An empty 503 without a Content-Type. */
  parsed = parse("");
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                api_server_failure(parsed, 503, NULL, 0, &error));
  EXPECT_EQ_STR("HTTP503", error.code);
  printf("# message: %s\n", error.message);
  OK(strstr(error.message, "HTTP 503") != NULL);
  OK(strstr(error.message, "empty") != NULL);
  OK(strstr(error.message, "no Content-Type") != NULL);
  EXPECT_EQ_INT(API_ERROR_TRANSIENT, api_error_classify(error.code, 503));

  /* Broken XML from a failing server, and a Content-Type that would break
   * the log line. */
  parsed = parse("<DescribePortConnsCountResponse><Conns>1");
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                api_server_failure(parsed, 500, "text/xml\nX: y", 40, &error));
  EXPECT_EQ_STR("HTTP500", error.code);
  OK(strchr(error.message, '\n') == NULL);

  /* The listing operations alike. */
  api_instance_list_t list;
  parsed = api_parse_instance_ids(html, strlen(html), &list, &error, why,
                                  sizeof(why));
  EXPECT_EQ_INT(API_RESPONSE_ERROR, api_server_failure(parsed, 504, "text/html",
                                                       strlen(html), &error));
  EXPECT_EQ_STR("HTTP504", error.code);
  EXPECT_EQ_INT(0, (int)list.count);

  /* Anything but a 5xx is no server failure: still unusable. */
  long statuses[] = {200, 404, 499, 600, 0};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    parsed = parse(html);
    snprintf(error.code, sizeof(error.code), "unchanged");
    EXPECT_EQ_INT(API_RESPONSE_INVALID,
                  api_server_failure(parsed, statuses[i], "text/html",
                                     strlen(html), &error));
    EXPECT_EQ_STR("unchanged", error.code);
  }

  /* The API's own documents keep their meaning, whatever the status. */
  const char *unavailable = "<Error><Code>ServiceUnavailable</Code><Message>"
                            "later</Message><RequestId>R1</RequestId></Error>";
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                api_server_failure(parse(unavailable), 503, "text/xml",
                                   strlen(unavailable), &error));
  EXPECT_EQ_STR("ServiceUnavailable", error.code);
  EXPECT_EQ_STR("R1", error.request_id);
  const char *ok = "<DescribePortConnsCountResponse><Conns>1</Conns><ActConns>"
                   "1</ActConns><InActConns>1</InActConns><Cps>1</Cps>"
                   "</DescribePortConnsCountResponse>";
  EXPECT_EQ_INT(API_RESPONSE_OK, api_server_failure(parse(ok), 500, "text/xml",
                                                    strlen(ok), &error));
  return 0;
}

/* The longest instance list the parser takes fits the size cap of
 * DescribeInstanceIds, and a thousand instances do not fit the cap of
 * DescribePortConnsCount. */
DEF_TEST(longest_instance_list_fits_its_cap) {
  const char *item = "<InstanceIds><Edition>9</Edition><IpVersion>Ipv4"
                     "</IpVersion><InstanceId>ddoscoo-cn-%06zu</InstanceId>"
                     "<Remark>shop front %zu (production)</Remark><IpMode>fnat"
                     "</IpMode></InstanceIds>";
  size_t size = 256 + API_MAX_LIST * (strlen(item) + 16);
  char *doc = malloc(size);
  OK(doc != NULL);
  size_t len = (size_t)snprintf(doc, size,
                                "<?xml version='1.0' encoding="
                                "'UTF-8'?><DescribeInstanceIds"
                                "Response><RequestId>R</RequestId>");
  size_t thousand = 0;
  for (size_t i = 0; i < API_MAX_LIST; i++) {
    len += (size_t)snprintf(doc + len, size - len, item, i, i);
    if (i + 1 == 1000)
      thousand = len;
  }
  len +=
      (size_t)snprintf(doc + len, size - len, "</DescribeInstanceIdsResponse>");
  printf("# %d instances: %zu bytes; 1000: %zu bytes\n", API_MAX_LIST, len,
         thousand);
  OK(len <= api_max_response(API_ACTION_INSTANCES));
  OK(thousand > api_max_response("DescribePortConnsCount"));

  api_instance_list_t list;
  EXPECT_EQ_INT(API_RESPONSE_OK, api_parse_instance_ids(doc, len, &list, &error,
                                                        why, sizeof(why)));
  EXPECT_EQ_INT(API_MAX_LIST, (int)list.count);
  EXPECT_EQ_STR("ddoscoo-cn-001234", list.items[1234].id);
  api_instance_list_clear(&list);
  free(doc);

  /* Unknown operations get the smallest cap. */
  EXPECT_EQ_INT((int)api_max_response("DescribePortConnsCount"),
                (int)api_max_response("DescribeSomethingElse"));
  OK(api_max_response(API_ACTION_RULES) >
     api_max_response("DescribePortConnsCount"));
  return 0;
}

/* api_parse_rows ---------------------------------------------------------- */

static api_rows_t rows;

static api_response_status_t parse_rows(const char *doc, size_t len,
                                        const char *list,
                                        const api_field_t *fields, size_t n,
                                        const api_field_t *root_fields,
                                        size_t root_n) {
  why[0] = 0;
  memset(&error, 0, sizeof(error));
  api_rows_clear(&rows);
  return api_parse_rows(doc, len, NULL, list, fields, n, root_fields, root_n,
                        &rows, &error, why, sizeof(why));
}

/* The value of row r, field f. */
static const api_value_t *cell(size_t r, size_t f) {
  return rows.values + r * rows.field_count + f;
}

#define EXPECT_ROWS_EMPTY()                                                    \
  OK(rows.values == NULL && rows.count == 0 && rows.root == NULL)

/* The statistics table's fields: DescribePortConnsCount (Conns,
 * ActConns, InActConns, Cps) and DescribeBlackholeStatus (Ip,
 * BlackStatus, StartTime, EndTime). */
#define CONNS_FIELDS (statistic_find("connections")->fields)
#define BLACKHOLE_FIELDS (statistic_find("blackhole")->fields)
#define BLACKHOLE(doc)                                                         \
  parse_rows(doc, strlen(doc), "BlackholeStatus", BLACKHOLE_FIELDS, 4, NULL, 0)

/* DescribeDDoSEvents */
static const api_field_t event_fields[] = {
    {"EventType", API_FIELD_TEXT, true},  {"Ip", API_FIELD_TEXT, true},
    {"Port", API_FIELD_TEXT, false},      {"Region", API_FIELD_TEXT, false},
    {"StartTime", API_FIELD_COUNT, true}, {"EndTime", API_FIELD_COUNT, false},
    {"Bps", API_FIELD_COUNT, false},      {"Pps", API_FIELD_COUNT, false},
};
static const api_field_t event_root_fields[] = {
    {"Total", API_FIELD_COUNT, true},
};
#define EVENTS(doc)                                                            \
  parse_rows(doc, strlen(doc), "DDoSEvents", event_fields, 8,                  \
             event_root_fields, 1)

/* Refused, with a reason containing want, and nothing left in rows. */
#define EXPECT_ROWS_INVALID(call, want)                                        \
  do {                                                                         \
    EXPECT_EQ_INT(API_RESPONSE_INVALID, call);                                 \
    printf("# why: %s\n", why);                                                \
    OK(strstr(why, want) != NULL);                                             \
    EXPECT_ROWS_EMPTY();                                                       \
  } while (0)

DEF_TEST(rows_flat) {
  const char *doc = "<?xml version='1.0' encoding='UTF-8'?>"
                    "<DescribePortConnsCountResponse><Cps>4</Cps><Extra><a>1"
                    "</a></Extra><RequestId>R-1</RequestId><Conns>1</Conns>"
                    "<InActConns>3</InActConns><ActConns>2</ActConns>"
                    "</DescribePortConnsCountResponse>";
  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse_rows(doc, strlen(doc), NULL, CONNS_FIELDS, 4, NULL, 0));
  EXPECT_EQ_UINT64(1, rows.count);
  EXPECT_EQ_UINT64(4, rows.field_count);
  for (size_t f = 0; f < 4; f++) {
    OK(cell(0, f)->present);
    EXPECT_EQ_UINT64(f + 1, cell(0, f)->count);
  }
  EXPECT_EQ_STR("R-1", rows.request_id);
  OK(rows.root == NULL);

  /* Root fields of a flat answer come from the same element. */
  const api_field_t total[] = {{"Conns", API_FIELD_COUNT, true},
                               {"Missing", API_FIELD_TEXT, false}};
  EXPECT_EQ_INT(API_RESPONSE_OK, parse_rows(doc, strlen(doc), NULL,
                                            CONNS_FIELDS + 3, 1, total, 2));
  EXPECT_EQ_UINT64(1, rows.root[0].count);
  OK(!rows.root[1].present);
  EXPECT_EQ_UINT64(4, cell(0, 0)->count);

  /* Any operation's answer; nothing else. */
  const char *other = "<DescribeSomethingResponse><Conns>1</Conns><ActConns>"
                      "2</ActConns><InActConns>3</InActConns><Cps>4</Cps>"
                      "</DescribeSomethingResponse>";
  EXPECT_EQ_INT(API_RESPONSE_OK, parse_rows(other, strlen(other), NULL,
                                            CONNS_FIELDS, 4, NULL, 0));
  const char *html = "<html><body><Conns>1</Conns></body></html>";
  EXPECT_ROWS_INVALID(
      parse_rows(html, strlen(html), "Conns", CONNS_FIELDS, 4, NULL, 0),
      "unexpected root element <html>");
  const char *bare = "<Response></Response>";
  EXPECT_ROWS_INVALID(
      parse_rows(bare, strlen(bare), "X", CONNS_FIELDS, 4, NULL, 0),
      "unexpected root element <Response>");
  EXPECT_ROWS_INVALID(parse_rows("", 0, "X", CONNS_FIELDS, 4, NULL, 0),
                      "empty body");

  const char *err = "<Error><RequestId>R-2</RequestId><Code>Throttling.User"
                    "</Code><Message>slow\ndown</Message></Error>";
  EXPECT_EQ_INT(API_RESPONSE_ERROR,
                parse_rows(err, strlen(err), "X", CONNS_FIELDS, 4, NULL, 0));
  EXPECT_EQ_STR("Throttling.User", error.code);
  EXPECT_EQ_STR("slow down", error.message);
  EXPECT_EQ_STR("R-2", error.request_id);
  EXPECT_ROWS_EMPTY();
  return 0;
}

DEF_TEST(rows_repeated_and_wrapped) {
  /* The same three rows: repeated, and wrapped in items of any name. */
  const char *docs[] = {
      "<DescribeBlackholeStatusResponse><RequestId>R</RequestId>"
      "<BlackholeStatus><Ip>198.18.0.1</Ip><BlackStatus>blackhole"
      "</BlackStatus><StartTime>1700000000</StartTime><EndTime>1700003600"
      "</EndTime></BlackholeStatus>\n  <BlackholeStatus><EndTime>0</EndTime>"
      "<BlackStatus>normal</BlackStatus><StartTime>0</StartTime><Ip>"
      "198.18.0.2</Ip><New><a>x</a></New></BlackholeStatus><Other>1</Other>"
      "<BlackholeStatus><Ip>198.18.0.3</Ip><BlackStatus>normal</BlackStatus>"
      "</BlackholeStatus></DescribeBlackholeStatusResponse>",
      "<DescribeBlackholeStatusResponse><BlackholeStatus>\n  <item><Ip>"
      "198.18.0.1</Ip><BlackStatus>blackhole</BlackStatus><StartTime>"
      "1700000000</StartTime><EndTime>1700003600</EndTime></item><!-- c -->"
      "<item><EndTime>0</EndTime><BlackStatus>normal</BlackStatus><StartTime>"
      "0</StartTime><Ip>198.18.0.2</Ip><New><a>x</a></New></item>\n  <row>"
      "<Ip>198.18.0.3</Ip><BlackStatus>normal</BlackStatus></row>"
      "</BlackholeStatus><RequestId>R</RequestId>"
      "</DescribeBlackholeStatusResponse>",
  };
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ_INT(API_RESPONSE_OK, BLACKHOLE(docs[i]));
    EXPECT_EQ_UINT64(3, rows.count);
    EXPECT_EQ_STR("R", rows.request_id);
    EXPECT_EQ_STR("198.18.0.1", cell(0, 0)->text);
    EXPECT_EQ_STR("blackhole", cell(0, 1)->text);
    EXPECT_EQ_UINT64(1700000000, cell(0, 2)->count);
    EXPECT_EQ_UINT64(1700003600, cell(0, 3)->count);
    EXPECT_EQ_STR("198.18.0.2", cell(1, 0)->text);
    EXPECT_EQ_STR("normal", cell(1, 1)->text);
    OK(cell(1, 2)->present && cell(1, 3)->present);
    EXPECT_EQ_UINT64(0, cell(1, 2)->count);
    EXPECT_EQ_STR("198.18.0.3", cell(2, 0)->text);
    OK(!cell(2, 2)->present && !cell(2, 3)->present);
  }

  /* One row: the list element holds the fields itself (and unknown
   * elements that hold elements); one item in a wrapper. */
  const char *one[] = {
      "<DescribeBlackholeStatusResponse><BlackholeStatus><Extra><item>1"
      "</item></Extra><Ip>198.18.0.9</Ip><BlackStatus>normal</BlackStatus>"
      "</BlackholeStatus></DescribeBlackholeStatusResponse>",
      "<DescribeBlackholeStatusResponse><BlackholeStatus><item><Ip>198.18.0.9"
      "</Ip><BlackStatus>normal</BlackStatus></item></BlackholeStatus>"
      "</DescribeBlackholeStatusResponse>",
  };
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ_INT(API_RESPONSE_OK, BLACKHOLE(one[i]));
    EXPECT_EQ_UINT64(1, rows.count);
    EXPECT_EQ_STR("198.18.0.9", cell(0, 0)->text);
  }

  /* A wrapper of items without the fields is not one row with nothing. */
  EXPECT_ROWS_INVALID(
      BLACKHOLE("<DescribeBlackholeStatusResponse><BlackholeStatus><item>"
                "<Addr>198.18.0.9</Addr></item></BlackholeStatus>"
                "</DescribeBlackholeStatusResponse>"),
      "<Ip> is missing");
  /* Lists of texts, where rows are expected. */
  EXPECT_ROWS_INVALID(
      BLACKHOLE("<DescribeBlackholeStatusResponse><BlackholeStatus>"
                "198.18.0.9</BlackholeStatus>"
                "</DescribeBlackholeStatusResponse>"),
      "<BlackholeStatus> holds text");
  EXPECT_ROWS_INVALID(
      BLACKHOLE("<DescribeBlackholeStatusResponse><BlackholeStatus><item>"
                "198.18.0.9</item></BlackholeStatus>"
                "</DescribeBlackholeStatusResponse>"),
      "<item> holds text");
  EXPECT_ROWS_INVALID(
      BLACKHOLE("<DescribeBlackholeStatusResponse><BlackholeStatus><Ip>1</Ip>"
                "<BlackStatus>normal</BlackStatus>x</BlackholeStatus>"
                "</DescribeBlackholeStatusResponse>"),
      "holds text");
  return 0;
}

DEF_TEST(rows_none) {
  const char *docs[] = {
      "<DescribeBlackholeStatusResponse><RequestId>R</RequestId>"
      "</DescribeBlackholeStatusResponse>",
      "<DescribeBlackholeStatusResponse><BlackholeStatus></BlackholeStatus>"
      "<RequestId>R</RequestId></DescribeBlackholeStatusResponse>",
      "<DescribeBlackholeStatusResponse><BlackholeStatus/><RequestId>R"
      "</RequestId></DescribeBlackholeStatusResponse>",
      "<DescribeBlackholeStatusResponse><BlackholeStatus>\n  <!-- none -->\n"
      "</BlackholeStatus><RequestId>R</RequestId>"
      "</DescribeBlackholeStatusResponse>",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    EXPECT_EQ_INT(API_RESPONSE_OK, BLACKHOLE(docs[i]));
    EXPECT_EQ_UINT64(0, rows.count);
    EXPECT_EQ_STR("R", rows.request_id);
  }
  return 0;
}

DEF_TEST(rows_required_and_optional) {
  const char *head = "<DescribeDDoSEventsResponse><Total>2</Total>"
                     "<DDoSEvents><EventType>defense</EventType><Ip>1.1.1.1"
                     "</Ip><StartTime>5</StartTime></DDoSEvents><DDoSEvents>";
  const char *tail = "</DDoSEvents></DescribeDDoSEventsResponse>";
  struct {
    const char *row;
    const char *want; /* NULL: OK */
  } cases[] = {
      {"<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime>", NULL},
      {"<EventType>x</EventType><StartTime>6</StartTime>", "<Ip> is missing"},
      {"<EventType>x</EventType><Ip/><StartTime>6</StartTime>",
       "<Ip> is empty"},
      {"<EventType>x</EventType><Ip>2</Ip><StartTime></StartTime>",
       "<StartTime> is not a count: \"\""},
      {"<EventType>x</EventType><Ip>2</Ip>", "<StartTime> is missing"},
      {"<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime><Bps>a"
       "</Bps>",
       "<Bps> is not a count: \"a\""},
      {"<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime><Port><p>1"
       "</p></Port>",
       "<Port> holds more than text"},
      {"<EventType>x</EventType><Ip>2</Ip><Ip>3</Ip><StartTime>6</StartTime>",
       "<Ip> appears more than once"},
      {"<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime><Port/>"
       "<Port>80</Port>",
       "<Port> appears more than once"},
      {"<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime><Bps/>"
       "<Bps/>",
       "<Bps> appears more than once"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char doc[1024];
    snprintf(doc, sizeof(doc), "%s%s%s", head, cases[i].row, tail);
    if (cases[i].want == NULL) {
      EXPECT_EQ_INT(API_RESPONSE_OK, EVENTS(doc));
      EXPECT_EQ_UINT64(2, rows.count);
    } else {
      EXPECT_ROWS_INVALID(EVENTS(doc), cases[i].want);
    }
  }

  /* Optional: absent, or empty (a text "", a count absent). */
  char doc[1024];
  snprintf(doc, sizeof(doc), "%s%s%s", head,
           "<EventType>x</EventType><Ip>2</Ip><StartTime>6</StartTime>"
           "<Port></Port><Bps/><Pps> </Pps>",
           tail);
  EXPECT_EQ_INT(API_RESPONSE_OK, EVENTS(doc));
  OK(cell(1, 2)->present);
  EXPECT_EQ_STR("", cell(1, 2)->text);
  OK(!cell(1, 3)->present);
  EXPECT_EQ_STR("", cell(1, 3)->text);
  OK(!cell(1, 5)->present);
  OK(!cell(1, 6)->present);
  OK(!cell(1, 7)->present);
  OK(!cell(0, 2)->present);

  /* The root's own fields alike. */
  const char *root_cases[][2] = {
      {"<DescribeDDoSEventsResponse></DescribeDDoSEventsResponse>",
       "<Total> is missing"},
      {"<DescribeDDoSEventsResponse><Total>1</Total><Total>1</Total>"
       "</DescribeDDoSEventsResponse>",
       "<Total> appears more than once"},
      {"<DescribeDDoSEventsResponse><Total><n>1</n></Total>"
       "</DescribeDDoSEventsResponse>",
       "<Total> holds more than text"},
      {"<DescribeDDoSEventsResponse><Total>1</Total><RequestId>a</RequestId>"
       "<RequestId>b</RequestId></DescribeDDoSEventsResponse>",
       "<RequestId> appears more than once"},
      {"<DescribeDDoSEventsResponse><Total>1</Total><RequestId><a/>"
       "</RequestId></DescribeDDoSEventsResponse>",
       "<RequestId> holds more than text"},
  };
  for (size_t i = 0; i < sizeof(root_cases) / sizeof(root_cases[0]); i++)
    EXPECT_ROWS_INVALID(EVENTS(root_cases[i][0]), root_cases[i][1]);
  return 0;
}

DEF_TEST(rows_counts) {
  const api_field_t fields[] = {{"InBps", API_FIELD_COUNT, true}};
  struct {
    const char *text;
    uint64_t want; /* 0: refused */
  } cases[] = {
      {"40000000000", 40000000000ULL},
      {" 9007199254740992\n", 9007199254740992ULL},
      {"9007199254740991", 9007199254740991ULL},
      {"<![CDATA[7]]>", 7},
      {"9007199254740993", 0},
      {"18446744073709551615", 0},
      {"18446744073709551616", 0},
      {"99999999999999999999999", 0},
      {"-1", 0},
      {"4e10", 0},
      {"40000000000.0", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char doc[256];
    snprintf(doc, sizeof(doc),
             "<DescribePortFlowListResponse><PortFlowList><InBps>%s</InBps>"
             "</PortFlowList></DescribePortFlowListResponse>",
             cases[i].text);
    if (cases[i].want == 0) {
      EXPECT_ROWS_INVALID(
          parse_rows(doc, strlen(doc), "PortFlowList", fields, 1, NULL, 0),
          "<InBps> is not a count");
    } else {
      EXPECT_EQ_INT(
          API_RESPONSE_OK,
          parse_rows(doc, strlen(doc), "PortFlowList", fields, 1, NULL, 0));
      EXPECT_EQ_UINT64(cases[i].want, cell(0, 0)->count);
    }
  }
  return 0;
}

DEF_TEST(rows_texts_are_printable) {
  char doc[1024];
  char long_ip[400];
  memset(long_ip, 'a', sizeof(long_ip) - 1);
  long_ip[sizeof(long_ip) - 1] = 0;
  snprintf(doc, sizeof(doc),
           "<DescribeBlackholeStatusResponse><RequestId>R\r\n1&#x9;\x7F"
           "</RequestId><BlackholeStatus><Ip>%s</Ip><BlackStatus>two\nlines"
           "\t&#13;!\x7F</BlackStatus></BlackholeStatus>"
           "</DescribeBlackholeStatusResponse>",
           long_ip);
  EXPECT_EQ_INT(API_RESPONSE_OK, BLACKHOLE(doc));
  /* XML turns \r\n into \n. */
  EXPECT_EQ_STR("R 1  ", rows.request_id);
  EXPECT_EQ_STR("two lines  ! ", cell(0, 1)->text);
  EXPECT_EQ_UINT64(API_TEXT_SIZE - 1, strlen(cell(0, 0)->text));
  OK(strspn(cell(0, 0)->text, "a") == API_TEXT_SIZE - 1);
  return 0;
}

/* The vendor's example answer: an empty Port, no Region. */
static const char ddos_events_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeDDoSEventsResponse>\n"
    "  <Total>2</Total>\n"
    "  <RequestId>F09D085E-3E22-4A23-8D4B-86F5F2E5D7B8</RequestId>\n"
    "  <DDoSEvents>\n"
    "    <EndTime>1582168740</EndTime>\n"
    "    <StartTime>1582168500</StartTime>\n"
    "    <EventType>defense</EventType>\n"
    "    <Ip>203.0.113.10</Ip>\n"
    "    <Port>80</Port>\n"
    "    <Bps>40000000000</Bps>\n"
    "    <Pps>5000000</Pps>\n"
    "  </DDoSEvents>\n"
    "  <DDoSEvents>\n"
    "    <EndTime>1582168740</EndTime>\n"
    "    <StartTime>1582168560</StartTime>\n"
    "    <EventType>blackhole</EventType>\n"
    "    <Ip>203.0.113.10</Ip>\n"
    "    <Port></Port>\n"
    "    <Bps>0</Bps>\n"
    "    <Pps>0</Pps>\n"
    "  </DDoSEvents>\n"
    "</DescribeDDoSEventsResponse>\n";

DEF_TEST(rows_ddos_events_example) {
  EXPECT_EQ_INT(API_RESPONSE_OK, EVENTS(ddos_events_doc));
  EXPECT_EQ_UINT64(2, rows.count);
  EXPECT_EQ_UINT64(8, rows.field_count);
  OK(rows.root[0].present);
  EXPECT_EQ_UINT64(2, rows.root[0].count);
  EXPECT_EQ_STR("F09D085E-3E22-4A23-8D4B-86F5F2E5D7B8", rows.request_id);
  EXPECT_EQ_STR("defense", cell(0, 0)->text);
  EXPECT_EQ_STR("203.0.113.10", cell(0, 1)->text);
  EXPECT_EQ_STR("80", cell(0, 2)->text);
  OK(!cell(0, 3)->present);
  EXPECT_EQ_UINT64(1582168500, cell(0, 4)->count);
  EXPECT_EQ_UINT64(1582168740, cell(0, 5)->count);
  EXPECT_EQ_UINT64(40000000000ULL, cell(0, 6)->count);
  EXPECT_EQ_UINT64(5000000, cell(0, 7)->count);
  EXPECT_EQ_STR("blackhole", cell(1, 0)->text);
  OK(cell(1, 2)->present);
  EXPECT_EQ_STR("", cell(1, 2)->text);
  OK(!cell(1, 3)->present);
  EXPECT_EQ_UINT64(1582168560, cell(1, 4)->count);
  return 0;
}

DEF_TEST(rows_truncated_everywhere) {
  size_t len = strlen(ddos_events_doc);
  /* Every proper prefix is refused (the last byte is a newline after the
   * root: without it the document is whole). */
  for (size_t n = 0; n + 1 < len; n++) {
    /* Rows full before, so "empty after" means something. */
    if (EVENTS(ddos_events_doc) != API_RESPONSE_OK)
      return -1;
    api_response_status_t status =
        parse_rows(ddos_events_doc, n, "DDoSEvents", event_fields, 8,
                   event_root_fields, 1);
    if (status != API_RESPONSE_INVALID || rows.values != NULL ||
        rows.count != 0 || rows.root != NULL) {
      printf("# prefix of %zu bytes accepted\n", n);
      return -1;
    }
  }
  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse_rows(ddos_events_doc, len - 1, "DDoSEvents", event_fields,
                           8, event_root_fields, 1));
  EXPECT_EQ_UINT64(2, rows.count);
  return 0;
}

/* API_MAX_LIST rows in either shape, not one more. */
DEF_TEST(rows_at_most_max_list) {
  const char *row = "<Ip>198.18.0.1</Ip><BlackStatus>normal</BlackStatus>";
  size_t size = 256 + (API_MAX_LIST + 1) * (strlen(row) + 64);
  char *doc = malloc(size);
  CHECK_NOT_NULL(doc);
  for (int wrapped = 0; wrapped < 2; wrapped++) {
    for (size_t n = API_MAX_LIST; n <= API_MAX_LIST + 1; n++) {
      size_t len = (size_t)snprintf(doc, size, "%s",
                                    "<DescribeBlackholeStatusResponse>");
      if (wrapped)
        len += (size_t)snprintf(doc + len, size - len, "<BlackholeStatus>");
      for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, size - len, "<%s>%s</%s>",
                                wrapped ? "item" : "BlackholeStatus", row,
                                wrapped ? "item" : "BlackholeStatus");
      if (wrapped)
        len += (size_t)snprintf(doc + len, size - len, "</BlackholeStatus>");
      len += (size_t)snprintf(doc + len, size - len,
                              "</DescribeBlackholeStatusResponse>");
      api_response_status_t status =
          parse_rows(doc, len, "BlackholeStatus", BLACKHOLE_FIELDS, 4, NULL, 0);
      if (n == API_MAX_LIST) {
        EXPECT_EQ_INT(API_RESPONSE_OK, status);
        EXPECT_EQ_UINT64(API_MAX_LIST, rows.count);
        EXPECT_EQ_STR("normal", cell(API_MAX_LIST - 1, 1)->text);
      } else {
        EXPECT_EQ_INT(API_RESPONSE_INVALID, status);
        printf("# why: %s\n", why);
        OK(strstr(why, "more than 10000 <BlackholeStatus> items") != NULL);
        EXPECT_ROWS_EMPTY();
      }
    }
  }
  free(doc);
  return 0;
}

/* The root names the action: another operation's answer is no answer. */
DEF_TEST(rows_root_names_the_action) {
  static const api_field_t f[] = {{"Conns", API_FIELD_COUNT, true}};
  const char *mine = "<DescribePortConnsCountResponse><Conns>5</Conns>"
                     "</DescribePortConnsCountResponse>";
  const char *other = "<DescribePortFlowListResponse><Conns>5</Conns>"
                      "</DescribePortFlowListResponse>";
  api_rows_t r;
  EXPECT_EQ_INT(API_RESPONSE_OK,
                api_parse_rows(mine, strlen(mine), "DescribePortConnsCount",
                               NULL, f, 1, NULL, 0, &r, &error, why,
                               sizeof(why)));
  api_rows_clear(&r);
  EXPECT_EQ_INT(API_RESPONSE_INVALID,
                api_parse_rows(other, strlen(other), "DescribePortConnsCount",
                               NULL, f, 1, NULL, 0, &r, &error, why,
                               sizeof(why)));
  OK(strstr(why, "unexpected root element <DescribePortFlowListResponse>") !=
     NULL);
  OK(r.count == 0 && r.values == NULL);
  return 0;
}

/* A list of names (DescribeDomains): the items' own texts, repeated under
 * the root or in a wrapper; an item holding elements, or an empty one, is
 * no name. */
DEF_TEST(rows_of_names) {
  static const api_field_t f[] = {{API_FIELD_SELF, API_FIELD_TEXT, true}};
  const char *repeated = "<DescribeDomainsResponse><RequestId>r</RequestId>"
                         "<Domains>www.example.com</Domains>"
                         "<Domains> shop.example.net\n</Domains>"
                         "</DescribeDomainsResponse>";
  const char *wrapped = "<DescribeDomainsResponse><Domains><Domain>a.example"
                        "</Domain><item>b.example</item></Domains>"
                        "<RequestId>r</RequestId></DescribeDomainsResponse>";
  const char *one = "<DescribeDomainsResponse><Domains>a.example</Domains>"
                    "</DescribeDomainsResponse>";
  EXPECT_EQ_INT(API_RESPONSE_OK, parse_rows(repeated, strlen(repeated),
                                            "Domains", f, 1, NULL, 0));
  EXPECT_EQ_UINT64(2, rows.count);
  EXPECT_EQ_STR("www.example.com", cell(0, 0)->text);
  EXPECT_EQ_STR("shop.example.net", cell(1, 0)->text); /* trimmed */
  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse_rows(wrapped, strlen(wrapped), "Domains", f, 1, NULL, 0));
  EXPECT_EQ_UINT64(2, rows.count);
  EXPECT_EQ_STR("b.example", cell(1, 0)->text);
  EXPECT_EQ_INT(API_RESPONSE_OK,
                parse_rows(one, strlen(one), "Domains", f, 1, NULL, 0));
  EXPECT_EQ_UINT64(1, rows.count);
  EXPECT_EQ_STR("a.example", cell(0, 0)->text);
  const char *bad[] = {
      "<DescribeDomainsResponse><Domains><Domain><x>a</x></Domain></Domains>"
      "</DescribeDomainsResponse>",
      "<DescribeDomainsResponse><Domains>a</Domains><Domains> </Domains>"
      "</DescribeDomainsResponse>",
      "<DescribeDomainsResponse><Domains>a<b>c</b></Domains>"
      "<Domains>d</Domains></DescribeDomainsResponse>",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    EXPECT_EQ_INT(API_RESPONSE_INVALID,
                  parse_rows(bad[i], strlen(bad[i]), "Domains", f, 1, NULL, 0));
    printf("# why: %s\n", why);
    EXPECT_ROWS_EMPTY();
  }
  return 0;
}

DEF_TEST(a_domain_not_found_is_gone) {
  EXPECT_EQ_INT(API_ERROR_GONE,
                api_error_classify("InvalidDomain.NotFound", 400));
  EXPECT_EQ_INT(API_ERROR_GONE, api_error_classify("Domain.NotExist", 400));
  EXPECT_EQ_INT(API_ERROR_REQUEST, api_error_classify("InvalidDomain", 400));
  return 0;
}

/* Every list shape, for every operation that answers a list: the items
 * repeated under the root (the vendor's XML examples), wrapped in one
 * element, a single item each way, and an empty list written each way
 * (<X/>, <X></X>, white space only, no element at all). An account with
 * no web domains, an instance without rules, a quiet minute: zero rows,
 * not an error. */
typedef struct {
  const char *action;
  const char *list;
  char item[512]; /* one item's content */
} list_op_t;

/* A field's content that parses: a count, or a text. */
static void item_of(const api_field_t *fields, size_t n, char *buf,
                    size_t size) {
  size_t used = 0;
  buf[0] = 0;
  for (size_t f = 0; f < n && used < size; f++)
    if (strchr(fields[f].name, '/') == NULL) /* not of a nested list */
      used += (size_t)snprintf(
          buf + used, size - used, "<%s>%s</%s>", fields[f].name,
          fields[f].kind == API_FIELD_COUNT ? "60" : "x", fields[f].name);
}

/* How many rows doc has to the operation's parser, or -1 if refused. */
static long list_rows(const list_op_t *op, const char *doc) {
  static const api_field_t names[] = {{API_FIELD_SELF, API_FIELD_TEXT, true}};
  const statistic_t *stat = statistic_of_action(op->action);
  size_t len = strlen(doc);
  long n = -1;
  why[0] = 0;
  if (stat != NULL) {
    api_rows_t r;
    if (api_parse_rows(doc, len, stat->action, stat->list, stat->fields,
                       stat->field_count, stat->root_fields,
                       stat->root_field_count, &r, &error, why,
                       sizeof(why)) == API_RESPONSE_OK)
      n = (long)r.count;
    api_rows_clear(&r);
  } else if (strcmp(op->action, API_ACTION_INSTANCES) == 0) {
    api_instance_list_t l;
    if (api_parse_instance_ids(doc, len, &l, &error, why, sizeof(why)) ==
        API_RESPONSE_OK)
      n = (long)l.count;
    api_instance_list_clear(&l);
  } else if (strcmp(op->action, API_ACTION_RULES) == 0) {
    api_rule_list_t l;
    if (api_parse_network_rules(doc, len, &l, &error, why, sizeof(why)) ==
        API_RESPONSE_OK)
      n = (long)l.count;
    api_rule_list_clear(&l);
  } else if (strcmp(op->action, API_ACTION_TOP_IP) == 0) {
    api_rows_t r;
    if (api_parse_rows(doc, len, op->action, op->list, cc_source_fields,
                       cc_source_field_count, NULL, 0, &r, &error, why,
                       sizeof(why)) == API_RESPONSE_OK)
      n = (long)r.count;
    api_rows_clear(&r);
  } else {
    api_rows_t r;
    if (api_parse_rows(doc, len, op->action, op->list, names, 1, NULL, 0, &r,
                       &error, why, sizeof(why)) == API_RESPONSE_OK)
      n = (long)r.count;
    api_rows_clear(&r);
  }
  return n;
}

DEF_TEST(every_list_shape) {
  list_op_t ops[32];
  size_t n = 0;
  for (size_t i = 0; i < statistics_count; i++) {
    if (statistics[i].list == NULL)
      continue;
    ops[n] = (list_op_t){statistics[i].action, statistics[i].list, ""};
    item_of(statistics[i].fields, statistics[i].field_count, ops[n].item,
            sizeof(ops[n].item));
    n++;
  }
  ops[n++] = (list_op_t){API_ACTION_INSTANCES, "InstanceIds",
                         "<InstanceId>ddoscoo-cn-a</InstanceId>"
                         "<Remark>r</Remark>"};
  ops[n++] = (list_op_t){API_ACTION_RULES, "NetworkRules",
                         "<FrontendPort>80</FrontendPort>"
                         "<Protocol>tcp</Protocol>"};
  ops[n++] = (list_op_t){API_ACTION_DOMAINS, "Domains", "www.example.com"};
  ops[n++] = (list_op_t){API_ACTION_TOP_IP, CC_TOP_IP_LIST,
                         "<SourceIp>198.51.100.7</SourceIp>"};
  /* traffic, blackhole, events, max_new_connections, qps, codes, domain_bps,
   * cc_events, instance_cc_events, capacity, usage, mitigations, health,
   * expiry */
  EXPECT_EQ_UINT64(14 + 4, n);

  for (size_t i = 0; i < n; i++) {
    const list_op_t *op = ops + i;
    const char *l = op->list, *it = op->item;
    /* DescribeNetworkRules' TotalCount is required. */
    const char *root_extra = strcmp(op->action, API_ACTION_RULES) == 0
                                 ? "<TotalCount>2</TotalCount>"
                                 : "";
    char shapes[9][2048];
    long want[9] = {2, 2, 1, 1, 0, 0, 0, 0, 0};
    snprintf(shapes[0], sizeof(shapes[0]), "<%s>%s</%s><%s>%s</%s>", l, it, l,
             l, it, l);
    snprintf(shapes[1], sizeof(shapes[1]),
             "<%s><item>%s</item><item>%s</item></%s>", l, it, it, l);
    snprintf(shapes[2], sizeof(shapes[2]), "<%s>%s</%s>", l, it, l);
    snprintf(shapes[3], sizeof(shapes[3]), "<%s><item>%s</item></%s>", l, it,
             l);
    snprintf(shapes[4], sizeof(shapes[4]), "<%s/>", l);
    snprintf(shapes[5], sizeof(shapes[5]), "<%s></%s>", l, l);
    snprintf(shapes[6], sizeof(shapes[6]), "<%s>\n  </%s>", l, l);
    snprintf(shapes[7], sizeof(shapes[7]), "<%s />", l);
    shapes[8][0] = 0; /* no element at all */
    for (size_t k = 0; k < 9; k++) {
      char doc[4096];
      snprintf(doc, sizeof(doc),
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?><%sResponse>"
               "<RequestId>R</RequestId>%s%s</%sResponse>",
               op->action, root_extra, shapes[k], op->action);
      long got = list_rows(op, doc);
      printf("# %s, shape %zu: %ld rows %s\n", op->action, k, got, why);
      EXPECT_EQ_INT((int)want[k], (int)got);
    }
  }
  return 0;
}

/* The codes the vendor's own tools handle (aliyun/terraform-provider-alicloud):
 * Rejected.Throttling is retried with the Throttling codes; InstanceNotFound
 * and ddos_coop3301 are its ddoscoo "not found". */
DEF_TEST(codes_of_the_vendors_tools) {
  EXPECT_EQ_INT(API_ERROR_TRANSIENT,
                api_error_classify("Rejected.Throttling", 400));
  EXPECT_EQ_INT(API_ERROR_GONE, api_error_classify("ddos_coop3301", 400));
  EXPECT_EQ_INT(API_ERROR_GONE, api_error_classify("InstanceNotFound", 400));
  EXPECT_EQ_INT(API_ERROR_REQUEST, api_error_classify("ddos_coop3302", 400));
  EXPECT_EQ_INT(API_ERROR_REQUEST, api_error_classify("Rejected", 400));
  return 0;
}

/* Throttling, said explicitly: what is counted and backed off as such. */
DEF_TEST(throttling_is_said) {
  OK(api_error_is_throttling("Rejected.Throttling"));
  OK(api_error_is_throttling("Throttling"));
  OK(api_error_is_throttling("Throttling.User"));
  OK(api_error_is_throttling("throttling.api"));
  OK(!api_error_is_throttling("ServiceUnavailable"));
  OK(!api_error_is_throttling("Rejected"));
  OK(!api_error_is_throttling("Rejected.ThrottlingX"));
  OK(!api_error_is_throttling("HTTP503"));
  return 0;
}

/* A refusal of a parameter's value: the origin's QueryType, asked in a
 * spelling the service does not take. */
DEF_TEST(refusals_of_a_value) {
  api_error_t e = {.code = "InvalidParameter",
                   .message = "The specified parameter is not valid."};
  OK(api_error_refuses(&e, 400, "QueryType"));
  snprintf(e.code, sizeof(e.code), "InvalidParameter.QueryType");
  OK(api_error_refuses(&e, 400, "QueryType"));
  snprintf(e.code, sizeof(e.code), "InvalidQueryType");
  OK(api_error_refuses(&e, 400, "QueryType"));
  snprintf(e.code, sizeof(e.code), "Bad.Request");
  snprintf(e.message, sizeof(e.message), "queryType upstrem is not valid");
  OK(api_error_refuses(&e, 404, "QueryType"));
  /* Not a 4xx, or naming nothing of it. */
  OK(!api_error_refuses(&e, 500, "QueryType"));
  snprintf(e.message, sizeof(e.message), "Specified time is not valid.");
  OK(!api_error_refuses(&e, 400, "QueryType"));
  snprintf(e.code, sizeof(e.code), "Throttling.User");
  OK(!api_error_refuses(&e, 400, "QueryType"));
  return 0;
}

/* Memory a parsed answer keeps: a small multiple of the answer, however
 * many fields its rows have or leave out (texts are not 256 bytes each).
 * Two answers of about 1 MB and 9,999 rows, as a broken or hostile API
 * could send for one window: status codes (counts, the required classes
 * only) and attack events (texts). The bytes are malloc's own count
 * (mallinfo2: the heap's and mmap's) of what the rows hold. */
static size_t kept_by(const char *stat_name, const char *body) {
  const statistic_t *stat = statistic_find(stat_name);
  api_rows_t rows;
  struct mallinfo2 before = mallinfo2();
  api_response_status_t status =
      api_parse_rows(body, strlen(body), stat->action, stat->list, stat->fields,
                     stat->field_count, stat->root_fields,
                     stat->root_field_count, &rows, &error, why, sizeof(why));
  struct mallinfo2 after = mallinfo2();
  bool ok = status == API_RESPONSE_OK && rows.count == 9999;
  if (!ok)
    printf("# %s: %d, %zu rows, %s\n", stat_name, (int)status, rows.count, why);
  api_rows_clear(&rows);
  /* In use from the heap, and in blocks of their own (mmap). */
  return ok ? (after.uordblks + after.hblkhd) -
                  (before.uordblks + before.hblkhd)
            : (size_t)-1;
}

DEF_TEST(memory_is_bounded_by_the_answer) {
  size_t size = 2 * 1024 * 1024;
  char *body = malloc(size);
  CHECK_NOT_NULL(body);

  size_t n = (size_t)snprintf(body, size,
                              "<DescribeDomainStatusCodeListResponse>"
                              "<RequestId>r</RequestId>");
  for (int r = 0; r < 9999; r++)
    n += (size_t)snprintf(body + n, size - n,
                          "<StatusCodeList>"
                          "<Status2XX>%d</Status2XX><Status3XX>1</Status3XX>"
                          "<Status4XX>2</Status4XX><Status5XX>3</Status5XX>"
                          "</StatusCodeList>",
                          r);
  snprintf(body + n, size - n, "</DescribeDomainStatusCodeListResponse>");
  size_t kept = kept_by("status_codes", body);
  printf("# status_codes: %zu bytes kept of an answer of %zu bytes\n", kept,
         strlen(body));
  OK(kept < 4 * strlen(body));

  n = (size_t)snprintf(body, size,
                       "<DescribeDDoSEventsResponse>"
                       "<RequestId>r</RequestId><Total>9999</Total>"
                       "<DDoSEvents>");
  for (int r = 0; r < 9999; r++)
    n += (size_t)snprintf(
        body + n, size - n,
        "<DDoSEvent><EventType>defense</EventType>"
        "<Ip>2001:db8::%x</Ip><Port>%d</Port><StartTime>%d</StartTime>"
        "<EndTime>0</EndTime></DDoSEvent>",
        r, 1 + r % 65535, 1796205600 + r);
  snprintf(body + n, size - n, "</DDoSEvents></DescribeDDoSEventsResponse>");
  kept = kept_by("events", body);
  printf("# events: %zu bytes kept of an answer of %zu bytes\n", kept,
         strlen(body));
  OK(kept < 4 * strlen(body));
  free(body);
  return 0;
}

/* A list nested in each row (DescribeHealthCheckStatus' servers): a row
 * per nested item with the row's own fields, in both shapes. */
DEF_TEST(rows_of_a_nested_list) {
  static const api_field_t fields[] = {
      {"Port", API_FIELD_COUNT, true},
      {"Status", API_FIELD_TEXT, true},
      {"Servers/Address", API_FIELD_TEXT, true},
      {"Servers/Status", API_FIELD_TEXT, false},
  };
  const char *shapes[] = {
      "<RResponse><Rule><Port>80</Port><Status>abnormal</Status>"
      "<Servers><Address>a</Address><Status>normal</Status></Servers>"
      "<Servers><Address>b</Address><Status>abnormal</Status></Servers>"
      "</Rule><Rule><Port>53</Port><Status>normal</Status></Rule></RResponse>",
      "<RResponse><Rule><Port>80</Port><Status>abnormal</Status><Servers>"
      "<item><Address>a</Address><Status>normal</Status></item>"
      "<item><Address>b</Address><Status>abnormal</Status></item>"
      "</Servers></Rule><Rule><Port>53</Port><Status>normal</Status>"
      "<Servers/></Rule></RResponse>",
  };
  for (size_t k = 0; k < 2; k++) {
    api_rows_t rows;
    CHECK_ZERO((int)api_parse_rows(shapes[k], strlen(shapes[k]), "R", "Rule",
                                   fields, 4, NULL, 0, &rows, &error, why,
                                   sizeof(why)));
    EXPECT_EQ_INT(3, (int)rows.count);
    const api_value_t *v = rows.values;
    EXPECT_EQ_INT(80, (int)v[0].count);
    EXPECT_EQ_STR("abnormal", v[1].text);
    EXPECT_EQ_STR("a", v[2].text);
    EXPECT_EQ_STR("normal", v[3].text);
    EXPECT_EQ_INT(80, (int)v[4].count); /* the rule's fields, copied */
    EXPECT_EQ_STR("abnormal", v[5].text);
    EXPECT_EQ_STR("b", v[6].text);
    EXPECT_EQ_STR("abnormal", v[7].text);
    EXPECT_EQ_INT(53, (int)v[8].count); /* no servers: one row */
    OK(!v[10].present && !v[11].present);
    api_rows_clear(&rows);
  }
  /* A nested item without its required field is no answer. */
  const char *bad =
      "<RResponse><Rule><Port>80</Port><Status>normal</Status>"
      "<Servers><Status>normal</Status></Servers></Rule></RResponse>";
  api_rows_t rows;
  EXPECT_EQ_INT(API_RESPONSE_INVALID,
                api_parse_rows(bad, strlen(bad), "R", "Rule", fields, 4, NULL,
                               0, &rows, &error, why, sizeof(why)));
  OK(strstr(why, "Address") != NULL);
  return 0;
}

int main(void) {
  RUN_TEST(refusals_of_a_value);
  RUN_TEST(codes_of_the_vendors_tools);
  RUN_TEST(throttling_is_said);
  RUN_TEST(every_list_shape);
  RUN_TEST(rows_of_a_nested_list);
  RUN_TEST(rows_of_names);
  RUN_TEST(a_domain_not_found_is_gone);
  RUN_TEST(success_in_any_order);
  RUN_TEST(api_error);
  RUN_TEST(bad_values);
  RUN_TEST(not_the_document);
  RUN_TEST(entities_are_refused);
  RUN_TEST(truncated_everywhere);
  RUN_TEST(quiet_on_encoding_errors);
  RUN_TEST(instance_lists_in_both_shapes);
  RUN_TEST(rule_lists);
  RUN_TEST(classify);
  RUN_TEST(gateway_pages_are_transient);
  RUN_TEST(longest_instance_list_fits_its_cap);
  RUN_TEST(rows_flat);
  RUN_TEST(rows_repeated_and_wrapped);
  RUN_TEST(rows_none);
  RUN_TEST(rows_required_and_optional);
  RUN_TEST(rows_counts);
  RUN_TEST(rows_texts_are_printable);
  RUN_TEST(rows_ddos_events_example);
  RUN_TEST(rows_truncated_everywhere);
  RUN_TEST(rows_at_most_max_list);
  RUN_TEST(rows_root_names_the_action);
  RUN_TEST(memory_is_bounded_by_the_answer);
  api_rows_clear(&rows);
  END_TEST;
}
