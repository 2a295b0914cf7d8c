/**
 * collectd-ddoscoo - src/api_response.c
 * SPDX-License-Identifier: MIT
 *
 * Response documents of the API as rows of typed fields; see
 * api_response.h.
 */
#include "api_response.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
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

/* A block of texts; blocks grow from TEXT_BLOCK_MIN to TEXT_BLOCK_MAX
 * bytes, so a short answer takes little and a long one few blocks. */
struct api_text_block_s {
  api_text_block_t *next;
  size_t used, size;
  char data[];
};
#define TEXT_BLOCK_MIN 1024
#define TEXT_BLOCK_MAX (64 * 1024)

static void texts_free(api_text_block_t **texts) {
  while (*texts != NULL) {
    api_text_block_t *next = (*texts)->next;
    free(*texts);
    *texts = next;
  }
}

/* A copy of src in texts, cut to API_TEXT_SIZE - 1 bytes, control
 * characters replaced (copy_printable); "" (not allocated) for an empty
 * src. NULL when out of memory. */
static char *keep_text(api_text_block_t **texts, const char *src) {
  static char empty[1];
  size_t len = strnlen(src, API_TEXT_SIZE - 1);
  if (len == 0)
    return empty;
  api_text_block_t *b = *texts;
  if (b == NULL || b->size - b->used < len + 1) {
    size_t size = (b == NULL) ? TEXT_BLOCK_MIN : 2 * b->size;
    if (size > TEXT_BLOCK_MAX)
      size = TEXT_BLOCK_MAX;
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
      return NULL;
    *b = (api_text_block_t){.next = *texts, .size = size};
    *texts = b;
  }
  char *text = b->data + b->used;
  copy_printable(text, len + 1, src);
  b->used += len + 1;
  return text;
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

/* Reads the children of parent named in fields into values (zeroed by the
 * caller), every field at most once; other elements are ignored (the API
 * may add some). */
static api_response_status_t read_values(xmlNodePtr parent,
                                         const api_field_t *fields,
                                         size_t count, api_value_t *values,
                                         api_text_block_t **texts, char *why,
                                         size_t why_size) {
  for (size_t i = 0; i < count; i++)
    values[i].text = "";
  for (xmlNodePtr n = parent->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;

    size_t i = 0;
    while (i < count && xmlStrcmp(n->name, (const xmlChar *)fields[i].name))
      i++;
    if (i == count)
      continue;
    const api_field_t *f = fields + i;
    api_value_t *v = values + i;
    /* Looking ahead, not at what was read: an empty optional count is
     * read as absent. */
    for (xmlNodePtr m = n->next; m != NULL; m = m->next)
      if (m->type == XML_ELEMENT_NODE && !xmlStrcmp(m->name, n->name)) {
        snprintf(why, why_size, "<%s> appears more than once", f->name);
        return API_RESPONSE_INVALID;
      }

    xmlChar *text = element_text(n);
    if (text == NULL) {
      snprintf(why, why_size, "<%s> holds more than text", f->name);
      return API_RESPONSE_INVALID;
    }
    const char *t = (const char *)text;
    bool ok = true;
    if (f->kind == API_FIELD_TEXT) {
      v->text = keep_text(texts, t);
      if (v->text == NULL) {
        v->text = "";
        xmlFree(text);
        snprintf(why, why_size, "out of memory");
        return API_RESPONSE_INVALID;
      }
      v->present = true;
    } else if (f->required || t[strspn(t, " \t\r\n")] != 0) {
      ok = parse_count(t, &v->count);
      v->present = ok;
    }
    if (!ok) {
      char shown[40];
      copy_printable(shown, sizeof(shown), t);
      snprintf(why, why_size, "<%s> is not a count: \"%s\"", f->name, shown);
    }
    xmlFree(text);
    if (!ok)
      return API_RESPONSE_INVALID;
  }

  for (size_t i = 0; i < count; i++) {
    if (!fields[i].required)
      continue;
    if (!values[i].present) {
      snprintf(why, why_size, "<%s> is missing", fields[i].name);
      return API_RESPONSE_INVALID;
    }
    if (fields[i].kind == API_FIELD_TEXT && values[i].text[0] == 0) {
      snprintf(why, why_size, "<%s> is empty", fields[i].name);
      return API_RESPONSE_INVALID;
    }
  }
  return API_RESPONSE_OK;
}

static void set_why_name(char *why, size_t why_size, const char *format,
                         const xmlChar *name) {
  char shown[64];
  copy_printable(shown, sizeof(shown), (const char *)name);
  snprintf(why, why_size, format, shown);
}

static api_response_status_t read_error(xmlNodePtr root, api_error_t *error,
                                        char *why, size_t why_size) {
  static const api_field_t fields[] = {
      {"Code", API_FIELD_TEXT, false},
      {"Message", API_FIELD_TEXT, false},
      {"RequestId", API_FIELD_TEXT, false},
  };
  api_value_t values[3] = {0};
  api_text_block_t *texts = NULL;

  error->code[0] = error->message[0] = error->request_id[0] = 0;
  api_response_status_t status = API_RESPONSE_INVALID;
  if (read_values(root, fields, 3, values, &texts, why, why_size) !=
      API_RESPONSE_OK) {
    /* why says it */
  } else if (values[0].text[0] == 0) {
    snprintf(why, why_size, "error document without <Code>");
  } else {
    snprintf(error->code, sizeof(error->code), "%s", values[0].text);
    snprintf(error->message, sizeof(error->message), "%s", values[1].text);
    snprintf(error->request_id, sizeof(error->request_id), "%s",
             values[2].text);
    status = API_RESPONSE_ERROR;
  }
  texts_free(&texts);
  return status;
}

/* What to read from an answer: a table, as api_parse_rows() takes it. */
typedef struct {
  const char *list; /* NULL: a flat answer */
  const api_field_t *fields;
  size_t field_count;
  const api_field_t *root_fields;
  size_t root_field_count;
} schema_t;

typedef struct {
  api_rows_t *rows;
  size_t capacity; /* rows values has room for */
} rows_builder_t;

/* Appends a zeroed row to the rows (*row: its values). Doubles the room,
 * so a long list costs a few reallocations, not one per row. */
static api_response_status_t add_row(rows_builder_t *b, const char *list,
                                     api_value_t **row, char *why,
                                     size_t why_size) {
  api_rows_t *rows = b->rows;
  size_t width = rows->field_count;
  if (rows->count >= API_MAX_LIST) {
    snprintf(why, why_size, "more than %d <%s> items", API_MAX_LIST,
             list != NULL ? list : "?");
    return API_RESPONSE_INVALID;
  }
  if (rows->count == b->capacity && width > 0) {
    size_t capacity = (b->capacity == 0) ? 8 : 2 * b->capacity;
    if (capacity > API_MAX_LIST)
      capacity = API_MAX_LIST;
    api_value_t *grown =
        realloc(rows->values, capacity * width * sizeof(*grown));
    if (grown == NULL) {
      snprintf(why, why_size, "out of memory");
      return API_RESPONSE_INVALID;
    }
    rows->values = grown;
    b->capacity = capacity;
  }
  /* Rows without fields are only counted. */
  *row = (width > 0) ? rows->values + rows->count * width : NULL;
  for (size_t f = 0; f < width; f++)
    (*row)[f] = (api_value_t){.text = ""};
  rows->count++;
  return API_RESPONSE_OK;
}

/* Whether e holds text other than white space between its elements. */
static bool holds_text(xmlNodePtr e) {
  for (xmlNodePtr n = e->children; n != NULL; n = n->next)
    if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
        n->content != NULL &&
        n->content[strspn((const char *)n->content, " \t\r\n")] != 0)
      return true;
  return false;
}

/* Whether the rows are the items' own texts (API_FIELD_SELF). */
static bool self_rows(const schema_t *schema) {
  return schema->field_count == 1 &&
         strcmp(schema->fields[0].name, API_FIELD_SELF) == 0;
}

/* Whether e holds one of the fields as a child (for rows of their own
 * text: whether it holds text, so it is a row, not a wrapper). A single
 * <list> holding nothing (<Domains/>, <Domains></Domains>, white space) is
 * an empty wrapper, an empty list: an account without web domains. */
static bool holds_field(xmlNodePtr e, const schema_t *schema) {
  if (self_rows(schema))
    return holds_text(e);
  for (xmlNodePtr n = e->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    for (size_t i = 0; i < schema->field_count; i++)
      if (xmlStrcmp(n->name, (const xmlChar *)schema->fields[i].name) == 0)
        return true;
  }
  return false;
}

/* A row that is an item's own text. */
static api_response_status_t read_self_row(rows_builder_t *b, xmlNodePtr e,
                                           const schema_t *schema, char *why,
                                           size_t why_size) {
  api_value_t *row;
  if (add_row(b, schema->list, &row, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  xmlChar *text = element_text(e);
  if (text == NULL) {
    set_why_name(why, why_size, "<%s> holds more than text", e->name);
    return API_RESPONSE_INVALID;
  }
  const char *t = (const char *)text;
  t += strspn(t, " \t\r\n");
  char *kept = keep_text(&b->rows->texts, t);
  xmlFree(text);
  if (kept == NULL) {
    snprintf(why, why_size, "out of memory");
    return API_RESPONSE_INVALID;
  }
  size_t n = strlen(kept);
  while (n > 0 && kept[n - 1] == ' ')
    kept[--n] = 0;
  row->text = kept;
  row->present = true;
  if (schema->fields[0].required && row->text[0] == 0) {
    set_why_name(why, why_size, "an empty <%s>", e->name);
    return API_RESPONSE_INVALID;
  }
  return API_RESPONSE_OK;
}

/* The fields of a row's own (before the first "List/Field"). */
static size_t own_fields(const schema_t *schema) {
  size_t n = 0;
  while (n < schema->field_count && strchr(schema->fields[n].name, '/') == NULL)
    n++;
  return n;
}

#define MAX_NESTED_FIELDS 8

static api_response_status_t read_list(rows_builder_t *b, xmlNodePtr root,
                                       const schema_t *schema, char *why,
                                       size_t why_size);

/* A row whose fields after the own ones are "List/Field": a row per item
 * of its nested <List>, each with the row's own fields and the item's
 * (a row without items: one, the item's fields absent). */
static api_response_status_t read_nested(rows_builder_t *b, xmlNodePtr e,
                                         const schema_t *schema, size_t own,
                                         char *why, size_t why_size) {
  const char *first = schema->fields[own].name;
  size_t prefix = (size_t)(strchr(first, '/') - first);
  char list[64];
  api_field_t sub[MAX_NESTED_FIELDS];
  size_t nested = schema->field_count - own;
  if (prefix >= sizeof(list) || nested > MAX_NESTED_FIELDS) {
    snprintf(why, why_size, "a nested list the parser cannot hold");
    return API_RESPONSE_INVALID;
  }
  memcpy(list, first, prefix);
  list[prefix] = 0;
  for (size_t i = 0; i < nested; i++) {
    sub[i] = schema->fields[own + i];
    sub[i].name = strchr(sub[i].name, '/') + 1;
  }
  schema_t items = {.list = list, .fields = sub, .field_count = nested};
  /* The row's own fields, once, then a copy per item. */
  api_value_t *row;
  if (add_row(b, schema->list, &row, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  size_t at = b->rows->count - 1, width = b->rows->field_count;
  api_response_status_t status =
      read_values(e, schema->fields, own, row, &b->rows->texts, why, why_size);
  for (size_t i = 0; status == API_RESPONSE_OK && i < nested; i++)
    row[own + i] = (api_value_t){.text = ""};
  if (status != API_RESPONSE_OK)
    return status;
  api_rows_t one = {.field_count = nested};
  rows_builder_t ib = {.rows = &one};
  status = read_list(&ib, e, &items, why, why_size);
  for (size_t k = 0; status == API_RESPONSE_OK && k < one.count; k++) {
    api_value_t *copy = b->rows->values + at * width;
    if (k > 0) {
      if (add_row(b, schema->list, &copy, why, why_size) != API_RESPONSE_OK) {
        status = API_RESPONSE_INVALID;
        break;
      }
      memcpy(copy, b->rows->values + at * width, own * sizeof(*copy));
    }
    memcpy(copy + own, one.values + k * nested, nested * sizeof(*copy));
  }
  /* The items' texts go with the rows. */
  api_text_block_t **tail = &one.texts;
  while (*tail != NULL)
    tail = &(*tail)->next;
  *tail = b->rows->texts;
  b->rows->texts = one.texts;
  free(one.values);
  return status;
}

static api_response_status_t read_row(rows_builder_t *b, xmlNodePtr e,
                                      const schema_t *schema, char *why,
                                      size_t why_size) {
  if (self_rows(schema))
    return read_self_row(b, e, schema, why, why_size);
  if (holds_text(e)) {
    set_why_name(why, why_size, "<%s> holds text where a row is expected",
                 e->name);
    return API_RESPONSE_INVALID;
  }
  size_t own = own_fields(schema);
  if (own < schema->field_count)
    return read_nested(b, e, schema, own, why, why_size);
  api_value_t *row;
  if (add_row(b, schema->list, &row, why, why_size) != API_RESPONSE_OK)
    return API_RESPONSE_INVALID;
  return read_values(e, schema->fields, schema->field_count, row,
                     &b->rows->texts, why, why_size);
}

static bool is_element(xmlNodePtr n, const char *name) {
  return n->type == XML_ELEMENT_NODE &&
         xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* The rows of the list: the one wrapper's items when there is a single
 * <list> that holds none of the fields itself, else every <list>. */
static api_response_status_t read_list(rows_builder_t *b, xmlNodePtr root,
                                       const schema_t *schema, char *why,
                                       size_t why_size) {
  xmlNodePtr first = NULL;
  size_t lists = 0;
  for (xmlNodePtr n = root->children; n != NULL; n = n->next)
    if (is_element(n, schema->list) && lists++ == 0)
      first = n;

  xmlNodePtr parent = root;
  const char *row_name = schema->list;
  if (lists == 1 && !holds_field(first, schema)) {
    if (holds_text(first)) {
      set_why_name(why, why_size, "<%s> holds text where rows are expected",
                   first->name);
      return API_RESPONSE_INVALID;
    }
    parent = first;
    row_name = NULL; /* items of any name */
  }
  for (xmlNodePtr n = parent->children; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE ||
        (row_name != NULL && !is_element(n, row_name)))
      continue;
    api_response_status_t status = read_row(b, n, schema, why, why_size);
    if (status != API_RESPONSE_OK)
      return status;
  }
  return API_RESPONSE_OK;
}

static api_response_status_t read_answer(xmlNodePtr root,
                                         const schema_t *schema,
                                         api_rows_t *rows, char *why,
                                         size_t why_size) {
  static const api_field_t request_id = {"RequestId", API_FIELD_TEXT, false};
  api_value_t id = {0};
  api_response_status_t status =
      read_values(root, &request_id, 1, &id, &rows->texts, why, why_size);
  if (status != API_RESPONSE_OK)
    return status;
  snprintf(rows->request_id, sizeof(rows->request_id), "%s", id.text);

  if (schema->root_field_count > 0) {
    rows->root = calloc(schema->root_field_count, sizeof(*rows->root));
    if (rows->root == NULL) {
      snprintf(why, why_size, "out of memory");
      return API_RESPONSE_INVALID;
    }
    status = read_values(root, schema->root_fields, schema->root_field_count,
                         rows->root, &rows->texts, why, why_size);
    if (status != API_RESPONSE_OK)
      return status;
  }

  rows_builder_t b = {.rows = rows};
  if (schema->list == NULL) {
    api_value_t *row;
    if (add_row(&b, NULL, &row, why, why_size) != API_RESPONSE_OK)
      return API_RESPONSE_INVALID;
    return read_values(root, schema->fields, schema->field_count, row,
                       &rows->texts, why, why_size);
  }
  status = read_list(&b, root, schema, why, why_size);
  /* The room doubled as rows came: no more than the rows now. */
  if (status == API_RESPONSE_OK && b.capacity > rows->count &&
      rows->count > 0) {
    api_value_t *fit =
        realloc(rows->values, rows->count * rows->field_count * sizeof(*fit));
    if (fit != NULL)
      rows->values = fit;
  }
  return status;
}

static bool is_answer_root(const xmlChar *name, const char *root_name) {
  if (root_name != NULL)
    return xmlStrcmp(name, (const xmlChar *)root_name) == 0;
  /* Every RPC operation answers <OperationResponse>. */
  static const char suffix[] = "Response";
  size_t len = strlen((const char *)name);
  return len > sizeof(suffix) - 1 &&
         strcmp((const char *)name + len - (sizeof(suffix) - 1), suffix) == 0;
}

/* Parses body; a root named root_name (NULL: any *Response) is read per
 * schema into rows, an <Error> into error. */
static api_response_status_t parse_answer(const char *body, size_t len,
                                          const char *root_name,
                                          const schema_t *schema,
                                          api_rows_t *rows, api_error_t *error,
                                          char *why, size_t why_size) {
  *rows = (api_rows_t){.field_count = schema->field_count};
  if (len == 0) {
    snprintf(why, why_size, "empty body");
    return API_RESPONSE_INVALID;
  }
  if (len > INT_MAX) {
    snprintf(why, why_size, "body too large");
    return API_RESPONSE_INVALID;
  }
  if (schema->field_count > SIZE_MAX / sizeof(api_value_t) / API_MAX_LIST) {
    snprintf(why, why_size, "too many fields");
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
  } else if (xmlStrcmp(root->name, (const xmlChar *)"Error") == 0) {
    status = read_error(root, error, why, why_size);
  } else if (is_answer_root(root->name, root_name)) {
    status = read_answer(root, schema, rows, why, why_size);
  } else {
    set_why_name(why, why_size, "unexpected root element <%s>", root->name);
  }

  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  if (status != API_RESPONSE_OK)
    api_rows_clear(rows);
  return status;
}

api_response_status_t
api_parse_rows(const char *body, size_t len, const char *action,
               const char *list, const api_field_t *fields, size_t field_count,
               const api_field_t *root_fields, size_t root_field_count,
               api_rows_t *rows, api_error_t *error, char *why,
               size_t why_size) {
  schema_t schema = {list, fields, field_count, root_fields, root_field_count};
  char root[API_TEXT_SIZE];
  if (action != NULL)
    snprintf(root, sizeof(root), "%sResponse", action);
  return parse_answer(body, len, action != NULL ? root : NULL, &schema, rows,
                      error, why, why_size);
}

api_response_status_t api_parse_nested_rows(
    const char *body, size_t len, const char *action, const char *list,
    const api_field_t *fields, size_t field_count, const char *inner_list,
    const api_field_t *inner_fields, size_t inner_field_count, api_rows_t *rows,
    api_error_t *error, char *why, size_t why_size) {
  /* The inner fields as "List/Field" (read_nested), and rows without an
   * item dropped. */
  api_field_t all[2 * MAX_NESTED_FIELDS];
  char names[MAX_NESTED_FIELDS][64];
  size_t n = field_count + inner_field_count;
  if (field_count > MAX_NESTED_FIELDS || inner_field_count == 0 ||
      inner_field_count > MAX_NESTED_FIELDS) {
    snprintf(why, why_size, "a nested list the parser cannot hold");
    *rows = (api_rows_t){0};
    return API_RESPONSE_INVALID;
  }
  memcpy(all, fields, field_count * sizeof(*all));
  for (size_t i = 0; i < inner_field_count; i++) {
    snprintf(names[i], sizeof(names[i]), "%s/%s", inner_list,
             inner_fields[i].name);
    all[field_count + i] = inner_fields[i];
    all[field_count + i].name = names[i];
  }
  api_response_status_t status = api_parse_rows(
      body, len, action, list, all, n, NULL, 0, rows, error, why, why_size);
  if (status != API_RESPONSE_OK)
    return status;
  size_t kept = 0;
  for (size_t r = 0; r < rows->count; r++) {
    const api_value_t *row = rows->values + r * n;
    bool item = false;
    for (size_t i = field_count; i < n; i++)
      item = item || row[i].present;
    if (item)
      memmove(rows->values + kept++ * n, row, n * sizeof(*row));
  }
  rows->count = kept;
  return API_RESPONSE_OK;
}

void api_rows_clear(api_rows_t *rows) {
  free(rows->values);
  free(rows->root);
  texts_free(&rows->texts);
  *rows = (api_rows_t){0};
}

/* The listings discovery reads: a table each, and a copy into structs. */

static const api_field_t instance_fields[] = {
    {"InstanceId", API_FIELD_TEXT, true},
    {"Remark", API_FIELD_TEXT, false},
};

api_response_status_t api_parse_instance_ids(const char *body, size_t len,
                                             api_instance_list_t *list,
                                             api_error_t *error, char *why,
                                             size_t why_size) {
  schema_t schema = {"InstanceIds", instance_fields, 2, NULL, 0};
  api_rows_t rows;
  *list = (api_instance_list_t){0};
  api_response_status_t status =
      parse_answer(body, len, "DescribeInstanceIdsResponse", &schema, &rows,
                   error, why, why_size);
  if (status != API_RESPONSE_OK)
    return status;
  if (rows.count > 0) {
    list->items = calloc(rows.count, sizeof(*list->items));
    if (list->items == NULL) {
      snprintf(why, why_size, "out of memory");
      api_rows_clear(&rows);
      return API_RESPONSE_INVALID;
    }
  }
  for (size_t r = 0; r < rows.count; r++) {
    const api_value_t *row = rows.values + r * rows.field_count;
    snprintf(list->items[r].id, sizeof(list->items[r].id), "%s", row[0].text);
    snprintf(list->items[r].remark, sizeof(list->items[r].remark), "%s",
             row[1].text);
  }
  list->count = rows.count;
  api_rows_clear(&rows);
  return API_RESPONSE_OK;
}

void api_instance_list_clear(api_instance_list_t *list) {
  free(list->items);
  *list = (api_instance_list_t){0};
}

static const api_field_t rule_fields[] = {
    {"FrontendPort", API_FIELD_COUNT, true},
    {"Protocol", API_FIELD_TEXT, false},
};
static const api_field_t rule_root_fields[] = {
    {"TotalCount", API_FIELD_COUNT, true},
};

api_response_status_t api_parse_network_rules(const char *body, size_t len,
                                              api_rule_list_t *list,
                                              api_error_t *error, char *why,
                                              size_t why_size) {
  schema_t schema = {"NetworkRules", rule_fields, 2, rule_root_fields, 1};
  api_rows_t rows;
  *list = (api_rule_list_t){0};
  api_response_status_t status =
      parse_answer(body, len, "DescribeNetworkRulesResponse", &schema, &rows,
                   error, why, why_size);
  if (status != API_RESPONSE_OK)
    return status;
  for (size_t r = 0; r < rows.count; r++) {
    uint64_t port = rows.values[r * rows.field_count].count;
    if (port < 1 || port > 65535) {
      snprintf(why, why_size, "<FrontendPort> %llu is not a port",
               (unsigned long long)port);
      api_rows_clear(&rows);
      return API_RESPONSE_INVALID;
    }
  }
  if (rows.count > 0) {
    list->items = calloc(rows.count, sizeof(*list->items));
    if (list->items == NULL) {
      snprintf(why, why_size, "out of memory");
      api_rows_clear(&rows);
      return API_RESPONSE_INVALID;
    }
  }
  for (size_t r = 0; r < rows.count; r++) {
    const api_value_t *row = rows.values + r * rows.field_count;
    list->items[r].frontend_port = (int)row[0].count;
    snprintf(list->items[r].protocol, sizeof(list->items[r].protocol), "%s",
             row[1].text);
  }
  list->count = rows.count;
  list->total_count = rows.root[0].count;
  api_rows_clear(&rows);
  return API_RESPONSE_OK;
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

/* Throttling: Throttling, Throttling.User, Throttling.Api, ... and
 * Rejected.Throttling, which the vendor's Terraform provider retries
 * next to them (aliyun/terraform-provider-alicloud, alicloud/errors.go,
 * NeedRetry: ServiceUnavailable, Rejected.Throttling, ^Throttling.*). */
bool api_error_is_throttling(const char *code) {
  return has_prefix(code, "Throttling") ||
         strcasecmp(code, "Rejected.Throttling") == 0;
}

/* An instance that does not exist: the Terraform provider's not-found
 * codes for ddoscoo (alicloud/service_alicloud_ddoscoo.go,
 * IsExpectedErrors(err, {"InstanceNotFound", "ddos_coop3301"})). */
static const char *const instance_gone[] = {"InstanceNotFound",
                                            "ddos_coop3301"};

api_error_class_t api_error_classify(const char *code, long http_status) {
  if (api_error_is_throttling(code) || has_prefix(code, "ServiceUnavailable") ||
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
  for (size_t i = 0; i < sizeof(instance_gone) / sizeof(instance_gone[0]); i++)
    if (strcasecmp(code, instance_gone[i]) == 0)
      return API_ERROR_GONE;
  if ((contains(code, "Instance") || contains(code, "Domain")) &&
      (contains(code, "NotFound") || contains(code, "NotExist")))
    return API_ERROR_GONE;
  if (http_status >= 500)
    return API_ERROR_TRANSIENT;
  return API_ERROR_REQUEST;
}

bool api_error_refuses(const api_error_t *error, long http_status,
                       const char *param) {
  if (http_status < 400 || http_status > 499)
    return false;
  return has_prefix(error->code, "InvalidParameter") ||
         contains(error->code, param) || contains(error->message, param);
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
    return "the instance does not exist (any more), or the domain has no "
           "web forwarding rule";
  case API_ERROR_REQUEST:
    break;
  }
  return "request rejected";
}
