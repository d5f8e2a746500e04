/* api_tokens.h — pregon-api's bearer tokens: who a request is, which tenants it may see and
 * submit for, and how fast it may go.
 *
 * The token file holds no token, only SHA-256 hashes: one line per token,
 * `HASH TENANT[,TENANT...] [NAME]` (HASH 64 lowercase hex digits of SHA-256(token); TENANT a
 * tenant id or `*` for every tenant; NAME a label for logs, default the hash's first 8 digits);
 * blank lines and `#` comments are skipped. `pregon-api --hash-token` prints the hash of a token
 * read from stdin. A request's token is hashed and looked up (hashes compared in constant time);
 * a token is never logged. Each token has a request bucket (rate per second, burst), shared by
 * every thread: the table is read-only after load, the buckets behind one mutex. */
#ifndef API_TOKENS_H
#define API_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api_tokens api_tokens_t;

/* One token's grant: borrowed from the table, valid as long as it. */
typedef struct api_token api_token_t;

/* Loads the file; NULL with the reason (and line) in err. rate: requests per second per token
 * (burst 2 * rate; 0: unlimited). */
api_tokens_t *api_tokens_load(const char *path, double rate, char *err, size_t errlen);
void api_tokens_destroy(api_tokens_t **self_p);

/* The lowercase hex SHA-256 of token (65 bytes with the NUL). */
void api_tokens_hash(const char *token, char out[65]);

/* The grant of a presented token, NULL when it is not in the table. */
const api_token_t *api_tokens_find(const api_tokens_t *self, const char *token);

/* True when t may see and submit for tenant. */
bool api_token_allows(const api_token_t *t, const char *tenant);

/* The token's tenants ("*" for all), its label. */
size_t api_token_n_tenants(const api_token_t *t);
const char *api_token_tenant(const api_token_t *t, size_t i);
const char *api_token_name(const api_token_t *t);

/* Takes one request from t's bucket at now_ms: true, or false with *retry_after_s set. */
bool api_tokens_take(api_tokens_t *self, const api_token_t *t, int64_t now_ms, int *retry_after_s);

#endif
