/**
 * collectd-ddoscoo - src/ecs_metadata.h
 * SPDX-License-Identifier: MIT
 *
 * Temporary keys of an ECS instance's RAM role, from the instance metadata
 * service (token-protected requests first, plain ones as the fallback).
 * No collectd dependency.
 */
#ifndef ECS_METADATA_H
#define ECS_METADATA_H 1

#include "credentials_file.h"

#include <stddef.h>
#include <time.h>

#define ECS_METADATA_URL "http://100.100.100.200"

/* Fetches the keys of `role` (NULL: the role the service names; *role_out,
 * if not NULL, then receives a malloc'ed copy). Each request gives up after
 * timeout_ms. On success keys is a PROFILE_STS profile and *expiration its
 * Expiration. Returns 0, or -1 with the reason in why (never a secret). */
int ecs_metadata_fetch(const char *base_url, const char *role, long timeout_ms,
                       char **role_out, profile_t *keys, time_t *expiration,
                       char *why, size_t why_size);

/* The credentials document, {"Code": "Success", "AccessKeyId": ...,
 * "AccessKeySecret": ..., "SecurityToken": ..., "Expiration":
 * "2026-11-27T20:41:00Z", ...}. Keys with a control character (decoded
 * from an escape) are refused. Returns 0, or -1 with the reason in why. */
int ecs_metadata_parse(const char *json, size_t len, profile_t *keys,
                       time_t *expiration, char *why, size_t why_size);

#endif /* ECS_METADATA_H */
