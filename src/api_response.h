/**
 * collectd-ddoscoo - src/api_response.h
 * SPDX-License-Identifier: MIT
 *
 * Reads response documents (XML, libxml2) into rows of typed fields or an
 * API error, and classifies API error codes. One parser serves every
 * operation: the caller names the fields it wants (a table), the parser
 * never names an operation. Pure: no collectd, no network.
 */
#ifndef API_RESPONSE_H
#define API_RESPONSE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_TEXT_SIZE 256

typedef struct {
  char code[API_TEXT_SIZE];
  char message[API_TEXT_SIZE];
  char request_id[API_TEXT_SIZE];
} api_error_t;

typedef enum {
  API_RESPONSE_OK,      /* the rows (or struct) are filled in */
  API_RESPONSE_ERROR,   /* the service answered an <Error>: *error */
  API_RESPONSE_INVALID, /* anything else; why says what was wrong */
} api_response_status_t;

#define API_MAX_LIST 10000

typedef enum { API_FIELD_COUNT, API_FIELD_TEXT } api_field_kind_t;

/* A field of a row: its element name, what it holds, whether an answer
 * without it is unusable. A list's only field named API_FIELD_SELF is the
 * item's own text: a list of names (<Domains>a</Domains><Domains>b</Domains>
 * or <Domains><Domain>a</Domain>...</Domains>). */
#define API_FIELD_SELF "."
typedef struct {
  const char *name;
  api_field_kind_t kind;
  bool required;
} api_field_t;

typedef struct {
  bool present;
  uint64_t count; /* API_FIELD_COUNT */
  /* API_FIELD_TEXT: printable, at most API_TEXT_SIZE - 1 bytes (cut to
   * fit); "" when absent. Held by the rows' texts, valid until
   * api_rows_clear(). */
  const char *text;
} api_value_t;

/* Where the texts of the rows are kept: blocks of them, allocated only for
 * texts present, so the rows hold a small multiple of the answer. */
typedef struct api_text_block_s api_text_block_t;

typedef struct {
  size_t field_count;
  api_value_t *values; /* row r, field f: values[r * field_count + f] */
  size_t count;        /* rows */
  api_value_t *root;   /* the root's own fields (root_fields), in order */
  char request_id[API_TEXT_SIZE];
  api_text_block_t *texts; /* what the values' texts point into */
} api_rows_t;

/* Parses an answer into rows. list names the row element: rows repeated
 * directly under the root (<List>..fields..</List><List>..</List>) or one
 * wrapper holding item elements of any name (<List><item>..</item></List>);
 * NULL: the root itself is the one row (a flat answer). root_fields are
 * read from the root (e.g. Total, TotalCount). An <Error> document is
 * API_RESPONSE_ERROR with *error filled in; any other root must be
 * <actionResponse> (action NULL: any *Response). Counts are decimal digits up
 * to 2^53; a required field missing, any field twice in one row, a count that
 * is not one, more than API_MAX_LIST rows: API_RESPONSE_INVALID with why.
 * An optional field may be absent (present false) or empty (a text "", but
 * an empty count is absent). Fields named "List/Field", after the row's
 * own, are of a list nested in each row (in either shape): a row per
 * nested item, each with the row's own fields; a row without items is one
 * row, those fields absent. On anything but API_RESPONSE_OK rows is
 * empty. Free with api_rows_clear().
 *
 * Also API_RESPONSE_INVALID: a root not named *Response (a gateway's HTML
 * page), a required text that is empty, a field holding elements, a row
 * holding text. A single <List> holding one of the fields directly is one
 * row, else a wrapper; zero <List> elements, or a single one holding
 * nothing (<List/>, <List></List>, white space), are zero rows (the API's
 * XML examples omit empty lists). Unknown elements are ignored (the API adds
 * fields). Texts are cut to fit and have control characters replaced, so
 * they are safe for one log line; RequestId of the root goes to
 * request_id. Never touches the network or expands entities; a document
 * with a DTD is refused. Call xmlInitParser() once before using it from
 * several threads. */
api_response_status_t
api_parse_rows(const char *body, size_t len, const char *action,
               const char *list, const api_field_t *fields, size_t field_count,
               const api_field_t *root_fields, size_t root_field_count,
               api_rows_t *rows, api_error_t *error, char *why,
               size_t why_size);
void api_rows_clear(api_rows_t *rows);

/* As api_parse_rows() (no root fields), for rows that hold a list of their
 * own (DescribeInstanceDetails: InstanceDetails, each with EipInfos): a row
 * per item of an inner list, its fields the outer row's (field_count)
 * followed by the item's (inner_field_count). A row whose inner list is
 * empty or absent gives no row. */
api_response_status_t api_parse_nested_rows(
    const char *body, size_t len, const char *action, const char *list,
    const api_field_t *fields, size_t field_count, const char *inner_list,
    const api_field_t *inner_fields, size_t inner_field_count, api_rows_t *rows,
    api_error_t *error, char *why, size_t why_size);

/* The listings discovery reads: api_parse_rows() with the operation's
 * table, checking the root's name too, copied into structs. */

/* DescribeInstanceIds: the account's instances. */
typedef struct {
  char id[API_TEXT_SIZE];
  char remark[API_TEXT_SIZE];
} api_instance_t;

typedef struct {
  api_instance_t *items;
  size_t count;
} api_instance_list_t;

/* DescribeNetworkRules: one page of an instance's forwarding rules. */
typedef struct {
  char protocol[API_TEXT_SIZE];
  int frontend_port;
} api_rule_t;

typedef struct {
  api_rule_t *items;
  size_t count;
  uint64_t total_count; /* rules on all pages */
} api_rule_list_t;

/* The listing operations; list items come as repeated elements or in a
 * wrapper element (the nesting is not documented). On anything but
 * API_RESPONSE_OK the list is empty. Free with *_clear(). */
api_response_status_t api_parse_instance_ids(const char *body, size_t len,
                                             api_instance_list_t *list,
                                             api_error_t *error, char *why,
                                             size_t why_size);
void api_instance_list_clear(api_instance_list_t *list);

api_response_status_t api_parse_network_rules(const char *body, size_t len,
                                              api_rule_list_t *list,
                                              api_error_t *error, char *why,
                                              size_t why_size);
void api_rule_list_clear(api_rule_list_t *list);

/* An answer that holds no API document, sent with an HTTP 5xx status: what
 * a gateway or load balancer in front of the API serves when the service
 * behind it is down or overloaded (an HTML "502 Bad Gateway" page, plain
 * text, an empty 503). That is as transient as ServiceUnavailable, not a
 * broken answer. Callers pass what api_parse_*() returned, with the
 * answer's HTTP status, Content-Type (NULL: none) and body length:
 *
 *   parsed = api_parse_rows(body, len, action, list, fields, n, NULL, 0,
 *                           &rows, &error, why, size);
 *   parsed = api_server_failure(parsed, http_status, content_type, len,
 *                               &error);
 *
 * API_RESPONSE_INVALID with a status of 500 to 599 becomes
 * API_RESPONSE_ERROR with an error made up from the HTTP status:
 * error->code "HTTP<status>" (e.g. "HTTP502"; never a code of the API,
 * which are words), which api_error_classify() calls API_ERROR_TRANSIENT;
 * error->message naming the status, the content type and the size; and
 * an empty error->request_id. Anything else is returned as it was. */
api_response_status_t api_server_failure(api_response_status_t parsed,
                                         long http_status,
                                         const char *content_type, size_t len,
                                         api_error_t *error);

typedef enum {
  API_ERROR_TRANSIENT,   /* throttling, server side trouble: try again */
  API_ERROR_CLOCK,       /* the host clock is too far off */
  API_ERROR_CREDENTIALS, /* key unknown or disabled, signature rejected */
  API_ERROR_PERMISSION,  /* the key may not call this action */
  API_ERROR_REQUEST,     /* the request itself was rejected */
  API_ERROR_GONE,        /* an instance of the request does not exist */
} api_error_class_t;

/* Classifies an error by its Code; http_status only decides for codes
 * this function does not know (5xx: transient, as are the codes made up by
 * api_server_failure()). */
api_error_class_t api_error_classify(const char *code, long http_status);

/* Whether code says the caller is throttled (a kind of
 * API_ERROR_TRANSIENT): counted, and backed off as throttling. */
bool api_error_is_throttling(const char *code);

/* Whether an error refuses the value of param (e.g. QueryType): a 4xx
 * whose code is InvalidParameter-like (InvalidParameter,
 * InvalidParameter.*) or whose code or message names param. */
bool api_error_refuses(const api_error_t *error, long http_status,
                       const char *param);

/* What the class means for the user, for the log line. */
const char *api_error_explain(api_error_class_t error_class);

#endif /* API_RESPONSE_H */
