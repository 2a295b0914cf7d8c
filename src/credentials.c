/**
 * collectd-ddoscoo - src/credentials.c
 * SPDX-License-Identifier: MIT
 *
 * Credential sources and renewal; see credentials.h.
 */
#include "credentials.h"

#include "credentials_file.h"
#include "ecs_metadata.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Renewals are tried no more often than this (less when the keys are about
 * to expire); a refusal by the API is answered sooner. */
#define RETRY_REFRESH 60
#define RETRY_REJECTED 10

typedef enum { SOURCE_STATIC, SOURCE_FILE, SOURCE_RAM_ROLE } source_t;

struct credentials_s {
  source_t source;
  char description[512];
  profile_t keys; /* current keys (a PROFILE_STS or PROFILE_ACCESS_KEY) */
  bool have_keys;
  unsigned generation; /* of keys */

  /* SOURCE_FILE */
  char *path;
  char *profile;
  struct stat seen; /* the file as last read */

  /* SOURCE_RAM_ROLE */
  char *role;
  char *metadata_url;
  long metadata_timeout_ms;
  time_t expiration;
  time_t last_attempt;  /* to renew the keys */
  char last_error[512]; /* of the last attempt */
};

void credentials_close(credentials_t *c) {
  if (c == NULL)
    return;
  profile_clear(&c->keys);
  free(c->path);
  free(c->profile);
  free(c->role);
  free(c->metadata_url);
  free(c);
}

const char *credentials_describe(const credentials_t *c) {
  return c->description;
}

bool credentials_renewable(const credentials_t *c) {
  return c->source != SOURCE_STATIC;
}

/* id, secret and token (may be NULL), named by names[0..2] for the log. */
static int set_static(credentials_t *c, const char *id, const char *secret,
                      const char *token, const char *const names[3], char *why,
                      size_t why_size) {
  const char *values[] = {id, secret, token};
  for (size_t i = 0; i < 3; i++)
    if (values[i] != NULL && !credentials_text_ok(values[i])) {
      /* It would split the request's headers; never shown. */
      snprintf(why, why_size, "%s holds a control character", names[i]);
      return -1;
    }
  c->source = SOURCE_STATIC;
  c->keys.type = (token != NULL) ? PROFILE_STS : PROFILE_ACCESS_KEY;
  c->keys.access_key_id = strdup(id);
  c->keys.access_key_secret = strdup(secret);
  c->keys.security_token = (token != NULL) ? strdup(token) : NULL;
  c->have_keys = true;
  c->generation++;
  if (c->keys.access_key_id == NULL || c->keys.access_key_secret == NULL ||
      (token != NULL && c->keys.security_token == NULL)) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  return 0;
}

static int set_ram_role(credentials_t *c, const char *role) {
  c->source = SOURCE_RAM_ROLE;
  c->role = strdup(role);
  snprintf(c->description, sizeof(c->description), "ECS RAM role %s", role);
  return (c->role == NULL) ? -1 : 0;
}

/* Reads path's profile into c. A profile of type ecs_ram_role makes c a
 * RAM role source. */
static int load_file(credentials_t *c, char *why, size_t why_size) {
  profile_t p;
  struct stat st;
  if (stat(c->path, &st) != 0) {
    snprintf(why, why_size, "cannot open %s: %s", c->path, strerror(errno));
    return -1;
  }
  if (credentials_file_read(c->path, c->profile, &p, why, why_size) != 0)
    return -1;
  if (p.type == PROFILE_ECS_RAM_ROLE) {
    int status = set_ram_role(c, p.role_name);
    snprintf(c->description, sizeof(c->description),
             "ECS RAM role %s (credentials file %s, profile %s)", p.role_name,
             c->path, c->profile);
    profile_clear(&p);
    return status;
  }
  profile_clear(&c->keys);
  c->keys = p;
  c->have_keys = true;
  c->generation++;
  c->seen = st;
  return 0;
}

static int open_file(credentials_t *c, const char *path, const char *profile,
                     char *warning, size_t warning_size, char *why,
                     size_t why_size) {
  c->source = SOURCE_FILE;
  c->path = strdup(path);
  c->profile = strdup(profile != NULL ? profile : "default");
  if (c->path == NULL || c->profile == NULL) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  snprintf(c->description, sizeof(c->description),
           "credentials file %s, profile %s", c->path, c->profile);
  if (load_file(c, why, why_size) != 0)
    return -1;
  struct stat st;
  if (warning != NULL && stat(path, &st) == 0 && (st.st_mode & 077) != 0)
    snprintf(warning, warning_size,
             "credentials file %s can be read by group or others (mode "
             "%03o); chmod 600 it",
             path, (unsigned)(st.st_mode & 0777));
  return 0;
}

/* ~/.alibabacloud/credentials, or ALIBABA_CLOUD_CREDENTIALS_FILE; HOME may
 * be unset for a daemon: then the password database says where home is. */
static int default_file(char *buf, size_t size) {
  const char *env = getenv("ALIBABA_CLOUD_CREDENTIALS_FILE");
  if (env != NULL && env[0] != 0)
    return (snprintf(buf, size, "%s", env) < (int)size) ? 0 : -1;

  const char *home = getenv("HOME");
  struct passwd pw, *result = NULL;
  char pwbuf[4096];
  if ((home == NULL || home[0] == 0) &&
      getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &result) == 0 &&
      result != NULL)
    home = pw.pw_dir;
  if (home == NULL || home[0] == 0)
    return -1;
  return (snprintf(buf, size, "%s/.alibabacloud/credentials", home) < (int)size)
             ? 0
             : -1;
}

static int renew_ram_role(credentials_t *c, char *why, size_t why_size) {
  profile_t keys;
  time_t expiration;
  if (ecs_metadata_fetch(c->metadata_url, c->role, c->metadata_timeout_ms, NULL,
                         &keys, &expiration, why, why_size) != 0)
    return -1;
  profile_clear(&c->keys);
  c->keys = keys;
  c->have_keys = true;
  c->generation++;
  c->expiration = expiration;
  return 0;
}

/* The machine's credentials, in the SDKs' order. */
static int open_machine(credentials_t *c, char *warning, size_t warning_size,
                        char *why, size_t why_size) {
  const char *id = getenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
  const char *secret = getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
  const char *token = getenv("ALIBABA_CLOUD_SECURITY_TOKEN");
  if (id != NULL && id[0] != 0 && secret != NULL && secret[0] != 0) {
    static const char *const names[] = {"ALIBABA_CLOUD_ACCESS_KEY_ID",
                                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                                        "ALIBABA_CLOUD_SECURITY_TOKEN"};
    snprintf(c->description, sizeof(c->description), "environment");
    return set_static(c, id, secret, (token && token[0]) ? token : NULL, names,
                      why, why_size);
  }

  char path[4096];
  char file_error[512] = "";
  if (default_file(path, sizeof(path)) == 0 && access(path, F_OK) == 0) {
    const char *profile = getenv("ALIBABA_CLOUD_PROFILE");
    if (open_file(c, path, (profile && profile[0]) ? profile : NULL, warning,
                  warning_size, file_error, sizeof(file_error)) == 0)
      return 0;
    /* Not usable: the search goes on, and the reason is kept for later. */
    free(c->path);
    free(c->profile);
    c->path = c->profile = NULL;
  }

  char metadata_error[512];
  char *role = NULL;
  profile_t keys;
  time_t expiration;
  if (ecs_metadata_fetch(c->metadata_url, NULL, c->metadata_timeout_ms, &role,
                         &keys, &expiration, metadata_error,
                         sizeof(metadata_error)) == 0) {
    int status = set_ram_role(c, role);
    free(role);
    c->keys = keys;
    c->have_keys = true;
    c->generation++;
    c->expiration = expiration;
    c->last_attempt = time(NULL);
    return status;
  }

  snprintf(why, why_size,
           "no credentials: none in the block, no "
           "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
           "in collectd's environment, %s%s, and no ECS RAM role (%s)",
           file_error[0] ? "the credentials file is unusable: " : "no ",
           file_error[0] ? file_error : "credentials file", metadata_error);
  return -1;
}

credentials_t *credentials_open(const credentials_options_t *o, char *warning,
                                size_t warning_size, char *why,
                                size_t why_size) {
  credentials_t *c = calloc(1, sizeof(*c));
  if (warning != NULL && warning_size > 0)
    warning[0] = 0;
  /* Every source below may lead to the metadata service: the machine's
   * search as well as a profile of type ecs_ram_role. */
  if (c == NULL || (c->metadata_url = strdup(o->metadata_url != NULL
                                                 ? o->metadata_url
                                                 : ECS_METADATA_URL)) == NULL) {
    snprintf(why, why_size, "out of memory");
    free(c);
    return NULL;
  }
  c->metadata_timeout_ms = o->metadata_timeout_ms;

  int status;
  if (o->access_key_id != NULL) {
    static const char *const names[] = {"AccessKeyId", "AccessKeySecret",
                                        "SecurityToken"};
    snprintf(c->description, sizeof(c->description), "configuration");
    status = set_static(c, o->access_key_id, o->access_key_secret,
                        o->security_token, names, why, why_size);
  } else if (o->credentials_file != NULL) {
    status = open_file(c, o->credentials_file, o->profile, warning,
                       warning_size, why, why_size);
    if (status != 0) { /* the option, for the log */
      char reason[512];
      snprintf(reason, sizeof(reason), "%s", why);
      snprintf(why, why_size, "CredentialsFile: %s", reason);
    }
  } else if (o->ram_role != NULL) {
    status = set_ram_role(c, o->ram_role); /* keys at the first read */
  } else {
    status = open_machine(c, warning, warning_size, why, why_size);
  }
  if (status != 0) {
    credentials_close(c);
    return NULL;
  }
  return c;
}

int credentials_get(credentials_t *c, time_t now, bool rejected,
                    access_key_t *key, char *why, size_t why_size) {
  if (c->source == SOURCE_FILE) {
    struct stat st;
    bool changed = stat(c->path, &st) != 0 || st.st_mtime != c->seen.st_mtime ||
                   st.st_size != c->seen.st_size || st.st_ino != c->seen.st_ino;
    /* Refused keys: the file may have been rewritten within the second
     * (same size, same mtime), so it is read again, now and then. */
    bool recheck = rejected && now >= c->last_attempt + RETRY_REJECTED;
    if (changed || recheck) {
      c->last_attempt = now;
      if (load_file(c, why, why_size) != 0)
        return -1;
    }
  } else if (c->source == SOURCE_RAM_ROLE) {
    bool due = !c->have_keys || rejected ||
               now >= c->expiration - CREDENTIALS_REFRESH_AHEAD;
    /* Keys close to expiry are asked for more often: the service hands
     * out new ones only some time before the old ones expire. */
    time_t gap = rejected ? RETRY_REJECTED : RETRY_REFRESH;
    if (c->have_keys && c->expiration - now < 4 * gap)
      gap = (c->expiration - now > 4) ? (c->expiration - now) / 4 : 1;
    if (due && (c->last_attempt == 0 || now >= c->last_attempt + gap)) {
      c->last_attempt = now;
      if (renew_ram_role(c, c->last_error, sizeof(c->last_error)) == 0)
        c->last_error[0] = 0;
    }
    /* Keys that are still valid serve until they expire. */
    if (!c->have_keys || now >= c->expiration) {
      snprintf(why, why_size, "no valid keys for the RAM role: %s",
               c->last_error[0] ? c->last_error : "they expired");
      return -1;
    }
  }

  key->access_key_id = c->keys.access_key_id;
  key->access_key_secret = c->keys.access_key_secret;
  key->security_token = c->keys.security_token;
  key->generation = c->generation;
  return 0;
}
