/**
 * collectd-ddoscoo - tests/fuzz/fuzz_api_response.c
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer target: arbitrary bytes as a DescribePortConnsCount response
 * body. Besides what AddressSanitizer, UndefinedBehaviorSanitizer and
 * LeakSanitizer catch, it checks what the plugin relies on and abort()s
 * when that does not hold:
 *   - OK: every count is at most 2^53 (exact as a double gauge) and
 *     RequestId is NUL-terminated and free of control characters;
 *   - ERROR: Code is not empty; Code, Message and RequestId are
 *     NUL-terminated and free of control characters;
 *   - INVALID: why is a non-empty, NUL-terminated, printable line.
 * The structs and why are filled with a non-NUL pattern first, so a
 * string the parser forgot to terminate is seen.
 */
#include "api_response.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#define MAX_COUNT (UINT64_C(1) << 53)
#define POISON 0xA5

static void fail(const char *what, size_t size) {
  fprintf(stderr, "fuzz_api_response: %s (input of %zu bytes)\n", what, size);
  abort();
}

/* NUL-terminated within size, no control characters before the NUL. */
static int is_log_safe(const char *s, size_t size) {
  const char *end = memchr(s, 0, size);
  if (end == NULL)
    return 0;
  for (const unsigned char *p = (const unsigned char *)s;
       p < (const unsigned char *)end; p++)
    if (*p < 0x20 || *p == 0x7F)
      return 0;
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  xmlInitParser();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  api_port_conns_t conns;
  api_error_t error;
  char why[256];
  memset(&conns, POISON, sizeof(conns));
  memset(&error, POISON, sizeof(error));
  memset(why, POISON, sizeof(why));

  /* data is exactly size bytes, not NUL-terminated: the parser must keep
   * to len (AddressSanitizer sees any read past it). */
  api_response_status_t status = api_parse_port_conns(
      (const char *)data, size, &conns, &error, why, sizeof(why));

  switch (status) {
  case API_RESPONSE_OK:
    if (conns.conns > MAX_COUNT || conns.act_conns > MAX_COUNT ||
        conns.inact_conns > MAX_COUNT || conns.cps > MAX_COUNT)
      fail("OK with a count above 2^53", size);
    if (!is_log_safe(conns.request_id, sizeof(conns.request_id)))
      fail("OK with RequestId unterminated or with control characters", size);
    break;
  case API_RESPONSE_ERROR:
    if (!is_log_safe(error.code, sizeof(error.code)) ||
        !is_log_safe(error.message, sizeof(error.message)) ||
        !is_log_safe(error.request_id, sizeof(error.request_id)))
      fail("ERROR with a field unterminated or with control characters", size);
    if (error.code[0] == 0)
      fail("ERROR with an empty Code", size);
    break;
  case API_RESPONSE_INVALID:
    if (!is_log_safe(why, sizeof(why)))
      fail("INVALID with why unterminated or with control characters", size);
    if (why[0] == 0)
      fail("INVALID with an empty why", size);
    break;
  default:
    fail("unknown status", size);
  }
  return 0;
}
