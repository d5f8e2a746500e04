/* pg_callsig.h — the signature of a voice call's own URLs, shared by pregon-voice (which mints
 * them into Calls.json's Url and StatusCallback) and pregon-hooks (which serves them).
 *
 * A call's URLs name its job: tenant, job id and lease id (the lease id carries a random nonce,
 * so it is unguessable). The token is hex(HMAC-SHA256(key, len:tenant|len:job|len:lease)), with
 * a key only the two processes hold (a secret file): a URL nobody minted is refused before
 * pregond is asked anything, and one URL cannot be turned into another job's by editing its
 * query. Twilio's X-Twilio-Signature is checked besides (pg_sig.h). Pure; thread-safe. */
#ifndef PG_CALLSIG_H
#define PG_CALLSIG_H

#include <stdbool.h>
#include <stddef.h>

/* 64 hex digits and the NUL. */
#define PG_CALLSIG_SIZE 65

/* Writes the token of (tenant, job, lease) under key into out (out_size >= PG_CALLSIG_SIZE).
 * Returns 0, or -1 when out_size is too small, memory runs out or an argument is NULL. */
int pg_callsig(const char *key, const char *tenant, const char *job, const char *lease, char *out,
               size_t out_size);

/* True when token (may be NULL) is the token of (tenant, job, lease) under key; constant time. */
bool pg_callsig_verify(const char *key, const char *tenant, const char *job, const char *lease,
                       const char *token);

#endif
