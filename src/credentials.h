/**
 * collectd-ddoscoo - src/credentials.h
 * SPDX-License-Identifier: MIT
 *
 * Where a block's keys come from, and keeping them fresh: the block's own
 * options (keys, a credentials file profile or an ECS RAM role), else the
 * machine's (environment, default credentials file, ECS RAM role), as the
 * official SDKs look for them. No collectd dependency; one block's read
 * callback uses one provider, so it needs no lock.
 */
#ifndef CREDENTIALS_H
#define CREDENTIALS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Temporary keys are renewed this long before they expire, as the SDKs do. */
#define CREDENTIALS_REFRESH_AHEAD (15 * 60)

typedef struct {
  /* At most one of these three groups; none: look on the machine. */
  const char *access_key_id; /* with access_key_secret, security_token */
  const char *access_key_secret;
  const char *security_token;
  const char *credentials_file; /* with profile (NULL: "default") */
  const char *profile;
  const char *ram_role;

  const char *metadata_url; /* the ECS metadata service */
  long metadata_timeout_ms;
} credentials_options_t;

typedef struct {
  const char *access_key_id;
  const char *access_key_secret;
  const char *security_token; /* NULL for long-term keys */
  unsigned generation;        /* grows whenever the keys change */
} access_key_t;

typedef struct credentials_s credentials_t;

/* Settles the source. Returns NULL with the reason in why when there is no
 * usable source. *warning (may be NULL) receives a note worth logging, e.g.
 * a credentials file others can read; "" if none. */
credentials_t *credentials_open(const credentials_options_t *options,
                                char *warning, size_t warning_size, char *why,
                                size_t why_size);
void credentials_close(credentials_t *c);

/* Where the keys come from, for the log, e.g. "ECS RAM role reader". */
const char *credentials_describe(const credentials_t *c);

/* The keys to sign with at `now` (valid until the next call). Keys of a RAM
 * role are renewed CREDENTIALS_REFRESH_AHEAD before they expire, those of a
 * credentials file when the file changes. `rejected`: the API refused the
 * keys last handed out: a RAM role asks for new ones, a credentials file is
 * read again (each at most every few seconds). Returns 0, or -1 with the
 * reason in why. */
int credentials_get(credentials_t *c, time_t now, bool rejected,
                    access_key_t *key, char *why, size_t why_size);

/* Whether credentials_get() can ever hand out other keys. */
bool credentials_renewable(const credentials_t *c);

#endif /* CREDENTIALS_H */
