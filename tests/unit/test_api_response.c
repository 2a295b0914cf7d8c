/**
 * collectd-ddoscoo - tests/unit/test_api_response.c
 * SPDX-License-Identifier: MIT
 *
 * Response documents: success, API errors, and everything that must be
 * refused rather than turned into numbers.
 */
#include "api_response.h"

#include "api_request.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

static char why[256];
static api_port_conns_t conns;
static api_error_t error;

static api_response_status_t parse(const char *doc) {
  why[0] = 0;
  memset(&conns, 0, sizeof(conns));
  memset(&error, 0, sizeof(error));
  return api_parse_port_conns(doc, strlen(doc), &conns, &error, why,
                              sizeof(why));
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
    api_response_status_t status =
        api_parse_port_conns(doc, n, &conns, &error, why, sizeof(why));
    if (status != API_RESPONSE_INVALID) {
      printf("# prefix of %zu bytes accepted\n", n);
      return -1;
    }
  }
  EXPECT_EQ_INT(API_RESPONSE_OK, api_parse_port_conns(doc, len, &conns, &error,
                                                      why, sizeof(why)));
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
  api_response_status_t first = api_parse_port_conns(
      euc_jp, sizeof(euc_jp) - 1, &conns, &error, why, sizeof(why));
  api_response_status_t second = api_parse_port_conns(
      ucs4, sizeof(ucs4) - 1, &conns, &error, why, sizeof(why));
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
  OK(thousand > api_max_response(API_ACTION));

  api_instance_list_t list;
  EXPECT_EQ_INT(API_RESPONSE_OK, api_parse_instance_ids(doc, len, &list, &error,
                                                        why, sizeof(why)));
  EXPECT_EQ_INT(API_MAX_LIST, (int)list.count);
  EXPECT_EQ_STR("ddoscoo-cn-001234", list.items[1234].id);
  api_instance_list_clear(&list);
  free(doc);

  /* Unknown operations get the smallest cap. */
  EXPECT_EQ_INT((int)api_max_response(API_ACTION),
                (int)api_max_response("DescribeSomethingElse"));
  OK(api_max_response(API_ACTION_RULES) > api_max_response(API_ACTION));
  return 0;
}

int main(void) {
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
  END_TEST;
}
