/**
 * collectd-ddoscoo - src/api_response.c
 * SPDX-License-Identifier: MIT
 *
 * DescribePortConnsCount response documents; see api_response.h.
 */
#include "api_response.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Gauges are doubles: beyond 2^53 a count would no longer be exact. */
#define API_MAX_COUNT (UINT64_C(1) << 53)

/* Copies src into dst, cut to fit, with control characters (a message can
 * hold newlines) replaced so the text stays on one log line. */
static void copy_printable(char *dst, size_t dst_size, const char *src) {
  size_t i = 0;
  for (; src[i] != 0 && i + 1 < dst_size; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
  }
  dst[i] = 0;
}

/* The text of an element that holds nothing but text, or NULL for one that
 * holds elements, entity references or anything else. Free with xmlFree. */
static xmlChar *element_text(xmlNodePtr element) {
  for (xmlNodePtr n = element->children; n != NULL; n = n->next)
    if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
      return NULL;
  xmlChar *text = xmlNodeGetContent(element);
  return (text != NULL) ? text : xmlStrdup((const xmlChar *)"");
}

/* A count: decimal digits only (surrounding white space allowed), at most
 * API_MAX_COUNT. */
static bool parse_count(const char *text, uint64_t *value) {
  const char *s = text + strspn(text, " \t\r\n");
  size_t digits = strspn(s, "0123456789");
  if (digits == 0 || digits > 16 || s[digits + strspn(s + digits, " \t\r\n")])
    return false;

  uint64_t v = 0;
  for (size_t i = 0; i < digits; i++)
    v = 10 * v + (uint64_t)(s[i] - '0');
  if (v > API_MAX_COUNT)
    return false;
  *value = v;
  return true;
}

/* libxml2 reports a few problems (input that does not convert from the
 * declared encoding, for one) without the parser context, to the thread's
 * generic error handler, which prints to stderr whatever XML_PARSE_NOERROR
 * says. The parser's last error names them all the same. */
static void ignore_error(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

typedef struct {
  const char *name;
  uint64_t *value; /* NULL: a string field */
  char *text;
  bool seen;
} field_t;

/* Reads the children of root named in fields (every field at most once; other
 * elements are ignored, the API may add some). */
static api_response_status_t read_fields(xmlNodePtr root, field_t *fields,
                                         size_t count, char *why,
                                         size_t why_size) {
  for (xmlNodePtr n = root->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;

    field_t *f = NULL;
    for (size_t i = 0; i < count && f == NULL; i++)
      if (xmlStrcmp(n->name, (const xmlChar *)fields[i].name) == 0)
        f = fields + i;
    if (f == NULL)
      continue;
    if (f->seen) {
      snprintf(why, why_size, "<%s> appears more than once", f->name);
      return API_RESPONSE_INVALID;
    }
    f->seen = true;

    xmlChar *text = element_text(n);
    if (text == NULL) {
      snprintf(why, why_size, "<%s> holds more than text", f->name);
      return API_RESPONSE_INVALID;
    }
    bool ok = true;
    if (f->value != NULL)
      ok = parse_count((const char *)text, f->value);
    else
      copy_printable(f->text, API_TEXT_SIZE, (const char *)text);
    if (!ok) {
      char shown[40];
      copy_printable(shown, sizeof(shown), (const char *)text);
      snprintf(why, why_size, "<%s> is not a count: \"%s\"", f->name, shown);
    }
    xmlFree(text);
    if (!ok)
      return API_RESPONSE_INVALID;
  }
  return API_RESPONSE_OK;
}

static api_response_status_t read_success(xmlNodePtr root,
                                          api_port_conns_t *conns, char *why,
                                          size_t why_size) {
  field_t fields[] = {
      {"Conns", &conns->conns, NULL, false},
      {"ActConns", &conns->act_conns, NULL, false},
      {"InActConns", &conns->inact_conns, NULL, false},
      {"Cps", &conns->cps, NULL, false},
      {"RequestId", NULL, conns->request_id, false},
  };
  size_t count = sizeof(fields) / sizeof(fields[0]);

  conns->request_id[0] = 0;
  api_response_status_t status =
      read_fields(root, fields, count, why, why_size);
  if (status != API_RESPONSE_OK)
    return status;
  /* RequestId only names the request; every number must be there. */
  for (size_t i = 0; i < count; i++) {
    if (fields[i].value != NULL && !fields[i].seen) {
      snprintf(why, why_size, "<%s> is missing", fields[i].name);
      return API_RESPONSE_INVALID;
    }
  }
  return API_RESPONSE_OK;
}

static api_response_status_t read_error(xmlNodePtr root, api_error_t *error,
                                        char *why, size_t why_size) {
  field_t fields[] = {
      {"Code", NULL, error->code, false},
      {"Message", NULL, error->message, false},
      {"RequestId", NULL, error->request_id, false},
  };

  error->code[0] = error->message[0] = error->request_id[0] = 0;
  if (read_fields(root, fields, 3, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  if (error->code[0] == 0) {
    snprintf(why, why_size, "error document without <Code>");
    return API_RESPONSE_INVALID;
  }
  return API_RESPONSE_ERROR;
}

typedef api_response_status_t (*read_root_t)(xmlNodePtr root, void *out,
                                             char *why, size_t why_size);

/* Parses body; a root named root_name goes to read, an <Error> to
 * read_error. */
static api_response_status_t parse_response(const char *body, size_t len,
                                            const char *root_name,
                                            read_root_t read, void *out,
                                            api_error_t *error, char *why,
                                            size_t why_size) {
  if (len == 0) {
    snprintf(why, why_size, "empty body");
    return API_RESPONSE_INVALID;
  }
  if (len > INT_MAX) {
    snprintf(why, why_size, "body too large");
    return API_RESPONSE_INVALID;
  }

  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (ctxt == NULL) {
    snprintf(why, why_size, "out of memory");
    return API_RESPONSE_INVALID;
  }
  /* No XML_PARSE_NOENT, DTDLOAD or HUGE: entities stay unexpanded, nothing
   * is fetched, and libxml2's own amplification limits stay in force. */
  xmlGenericErrorFunc saved_handler = xmlGenericError;
  void *saved_context = xmlGenericErrorContext;
  xmlSetGenericErrorFunc(NULL, ignore_error);
  xmlDocPtr doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR |
                                        XML_PARSE_NOWARNING);
  xmlSetGenericErrorFunc(saved_context, saved_handler);

  api_response_status_t status = API_RESPONSE_INVALID;
  xmlNodePtr root = (doc != NULL) ? xmlDocGetRootElement(doc) : NULL;
  if (doc == NULL) {
    xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
    char msg[128];
    copy_printable(msg, sizeof(msg),
                   (e != NULL && e->message != NULL) ? e->message : "?");
    /* libxml2's messages end in a newline, now a space. */
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
      msg[--n] = 0;
    snprintf(why, why_size, "not well-formed XML (line %d: %s)",
             (e != NULL) ? e->line : 0, msg);
  } else if (doc->intSubset != NULL) {
    /* The API never sends one; only an attacker's entities could be in it. */
    snprintf(why, why_size, "document has a DTD");
  } else if (root == NULL) {
    snprintf(why, why_size, "document has no root element");
  } else if (xmlStrcmp(root->name, (const xmlChar *)root_name) == 0) {
    status = read(root, out, why, why_size);
  } else if (xmlStrcmp(root->name, (const xmlChar *)"Error") == 0) {
    status = read_error(root, error, why, why_size);
  } else {
    char name[64];
    copy_printable(name, sizeof(name), (const char *)root->name);
    snprintf(why, why_size, "unexpected root element <%s>", name);
  }

  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  return status;
}

static api_response_status_t read_port_conns(xmlNodePtr root, void *out,
                                             char *why, size_t why_size) {
  return read_success(root, out, why, why_size);
}

api_response_status_t api_parse_port_conns(const char *body, size_t len,
                                           api_port_conns_t *conns,
                                           api_error_t *error, char *why,
                                           size_t why_size) {
  return parse_response(body, len, "DescribePortConnsCountResponse",
                        read_port_conns, conns, error, why, why_size);
}

/* Lists ------------------------------------------------------------------
 * How lists nest in the XML answers is not documented: items come as
 * repeated elements named after the list, or inside a wrapper. An item is
 * therefore any element, down to a few levels, with a child named
 * `marker`; items are not searched further. */

#define MAX_LIST_DEPTH 3

typedef api_response_status_t (*read_item_t)(xmlNodePtr item, void *out,
                                             char *why, size_t why_size);

static bool has_child(xmlNodePtr e, const char *name) {
  for (xmlNodePtr n = e->children; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE &&
        xmlStrcmp(n->name, (const xmlChar *)name) == 0)
      return true;
  return false;
}

static api_response_status_t read_items(xmlNodePtr parent, int depth,
                                        const char *marker, read_item_t read,
                                        void *out, char *why, size_t why_size) {
  for (xmlNodePtr n = parent->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    api_response_status_t status = API_RESPONSE_OK;
    if (has_child(n, marker))
      status = read(n, out, why, why_size);
    else if (depth < MAX_LIST_DEPTH)
      status = read_items(n, depth + 1, marker, read, out, why, why_size);
    if (status != API_RESPONSE_OK)
      return status;
  }
  return API_RESPONSE_OK;
}

/* Grows a list by one zeroed item. */
static void *list_append(void **items, size_t *count, size_t item_size,
                         char *why, size_t why_size) {
  if (*count >= API_MAX_LIST) {
    snprintf(why, why_size, "more than %d items", API_MAX_LIST);
    return NULL;
  }
  char *grown = realloc(*items, (*count + 1) * item_size);
  if (grown == NULL) {
    snprintf(why, why_size, "out of memory");
    return NULL;
  }
  *items = grown;
  memset(grown + *count * item_size, 0, item_size);
  return grown + (*count)++ * item_size;
}

static api_response_status_t read_instance(xmlNodePtr item, void *out,
                                           char *why, size_t why_size) {
  api_instance_list_t *list = out;
  api_instance_t *inst = list_append((void **)&list->items, &list->count,
                                     sizeof(*inst), why, why_size);
  if (inst == NULL)
    return API_RESPONSE_INVALID;
  field_t fields[] = {
      {"InstanceId", NULL, inst->id, false},
      {"Remark", NULL, inst->remark, false},
  };
  if (read_fields(item, fields, 2, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  if (inst->id[0] == 0) {
    snprintf(why, why_size, "an instance without <InstanceId>");
    return API_RESPONSE_INVALID;
  }
  return API_RESPONSE_OK;
}

static api_response_status_t read_instance_list(xmlNodePtr root, void *out,
                                                char *why, size_t why_size) {
  return read_items(root, 1, "InstanceId", read_instance, out, why, why_size);
}

api_response_status_t api_parse_instance_ids(const char *body, size_t len,
                                             api_instance_list_t *list,
                                             api_error_t *error, char *why,
                                             size_t why_size) {
  *list = (api_instance_list_t){0};
  api_response_status_t status =
      parse_response(body, len, "DescribeInstanceIdsResponse",
                     read_instance_list, list, error, why, why_size);
  if (status != API_RESPONSE_OK)
    api_instance_list_clear(list);
  return status;
}

void api_instance_list_clear(api_instance_list_t *list) {
  free(list->items);
  *list = (api_instance_list_t){0};
}

static api_response_status_t read_rule(xmlNodePtr item, void *out, char *why,
                                       size_t why_size) {
  api_rule_list_t *list = out;
  api_rule_t *rule = list_append((void **)&list->items, &list->count,
                                 sizeof(*rule), why, why_size);
  if (rule == NULL)
    return API_RESPONSE_INVALID;
  uint64_t port = 0;
  field_t fields[] = {
      {"FrontendPort", &port, NULL, false},
      {"Protocol", NULL, rule->protocol, false},
  };
  if (read_fields(item, fields, 2, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  if (port < 1 || port > 65535) {
    snprintf(why, why_size, "<FrontendPort> %llu is not a port",
             (unsigned long long)port);
    return API_RESPONSE_INVALID;
  }
  rule->frontend_port = (int)port;
  return API_RESPONSE_OK;
}

static api_response_status_t read_rule_list(xmlNodePtr root, void *out,
                                            char *why, size_t why_size) {
  api_rule_list_t *list = out;
  uint64_t total = 0;
  field_t fields[] = {{"TotalCount", &total, NULL, false}};
  if (read_fields(root, fields, 1, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  if (!fields[0].seen) {
    snprintf(why, why_size, "<TotalCount> is missing");
    return API_RESPONSE_INVALID;
  }
  list->total_count = total;
  return read_items(root, 1, "FrontendPort", read_rule, out, why, why_size);
}

api_response_status_t api_parse_network_rules(const char *body, size_t len,
                                              api_rule_list_t *list,
                                              api_error_t *error, char *why,
                                              size_t why_size) {
  *list = (api_rule_list_t){0};
  api_response_status_t status =
      parse_response(body, len, "DescribeNetworkRulesResponse", read_rule_list,
                     list, error, why, why_size);
  if (status != API_RESPONSE_OK)
    api_rule_list_clear(list);
  return status;
}

void api_rule_list_clear(api_rule_list_t *list) {
  free(list->items);
  *list = (api_rule_list_t){0};
}

api_response_status_t api_server_failure(api_response_status_t parsed,
                                         long http_status,
                                         const char *content_type, size_t len,
                                         api_error_t *error) {
  if (parsed != API_RESPONSE_INVALID || http_status < 500 || http_status > 599)
    return parsed;
  char type[64];
  copy_printable(type, sizeof(type),
                 (content_type != NULL && content_type[0] != 0)
                     ? content_type
                     : "no Content-Type");
  snprintf(error->code, sizeof(error->code), "HTTP%ld", http_status);
  if (len == 0)
    snprintf(error->message, sizeof(error->message),
             "HTTP %ld answered with an empty body (%s), no API document",
             http_status, type);
  else
    snprintf(error->message, sizeof(error->message),
             "HTTP %ld answered with %zu bytes of %s, no API document",
             http_status, len, type);
  error->request_id[0] = 0;
  return API_RESPONSE_ERROR;
}

static bool has_prefix(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether s contains word, ignoring case. */
static bool contains(const char *s, const char *word) {
  for (; *s != 0; s++)
    if (has_prefix(s, word))
      return true;
  return false;
}

api_error_class_t api_error_classify(const char *code, long http_status) {
  if (has_prefix(code, "Throttling") ||
      has_prefix(code, "ServiceUnavailable") ||
      has_prefix(code, "InternalError") || has_prefix(code, "UnknownError"))
    return API_ERROR_TRANSIENT;
  if (has_prefix(code, "InvalidTimeStamp.Expired"))
    return API_ERROR_CLOCK;
  if (has_prefix(code, "SignatureDoesNotMatch") ||
      has_prefix(code, "IncompleteSignature") ||
      has_prefix(code, "InvalidAccessKeyId") ||
      has_prefix(code, "InvalidSecurityToken"))
    return API_ERROR_CREDENTIALS;
  if (has_prefix(code, "Forbidden") || has_prefix(code, "NoPermission"))
    return API_ERROR_PERMISSION;
  /* The reference lists no code for a deleted instance; the product's
   * sibling APIs say InvalidInstance.NotFound, InstanceNotFound or
   * Instance.NotExist: any code naming an instance not found or not
   * existing. */
  if (contains(code, "Instance") &&
      (contains(code, "NotFound") || contains(code, "NotExist")))
    return API_ERROR_GONE;
  if (http_status >= 500)
    return API_ERROR_TRANSIENT;
  return API_ERROR_REQUEST;
}

const char *api_error_explain(api_error_class_t error_class) {
  switch (error_class) {
  case API_ERROR_TRANSIENT:
    return "transient, will retry";
  case API_ERROR_CLOCK:
    return "the host clock is more than 15 minutes off, fix it (NTP)";
  case API_ERROR_CREDENTIALS:
    return "credentials rejected, check AccessKeyId, AccessKeySecret and "
           "SecurityToken";
  case API_ERROR_PERMISSION:
    return "permission denied: the key's RAM policy does not allow this "
           "yundun-ddoscoo action (see ram-policy.json)";
  case API_ERROR_GONE:
    return "the instance does not exist (any more)";
  case API_ERROR_REQUEST:
    break;
  }
  return "request rejected";
}
