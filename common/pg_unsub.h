/* pg_unsub.h — the one-click unsubscribe token (RFC 8058) pregon-email writes into each message's
 * List-Unsubscribe URL and pregon-hooks checks when the mailbox provider (or the debtor) calls it.
 *
 * The URL must identify the subscription by itself (the provider's POST carries no cookie), so
 * the token is a signed reference to (tenant, contact, campaign):
 *     base64url(payload) "." base64url(first 16 bytes of HMAC-SHA256(key, "pregon-unsub-v1:"
 * payload)) with payload = tenant "\n" contact "\n" campaign. It cannot be forged or enumerated
 * without the key that the two processes share; it is not encrypted (the address is the recipient's
 * own). On libcrypto; pure functions, no shared state: thread-safe. */
#ifndef PG_UNSUB_H
#define PG_UNSUB_H

#include <stddef.h>

/* Longest tenant, contact or campaign a token carries (bytes). */
#define PG_UNSUB_FIELD_MAX 256
/* Room a token needs, NUL included. */
#define PG_UNSUB_TOKEN_MAX (4 * (3 * PG_UNSUB_FIELD_MAX + 2) / 3 + 4 + 24)

/* The three fields a token names (NUL-terminated copies). */
typedef struct {
    char tenant[PG_UNSUB_FIELD_MAX + 1];
    char contact[PG_UNSUB_FIELD_MAX + 1];
    char campaign[PG_UNSUB_FIELD_MAX + 1];
} pg_unsub_ref_t;

/* Writes the token of (tenant, contact, campaign) signed with key[0..key_len) into out
 * (out_len >= PG_UNSUB_TOKEN_MAX is always enough). Returns the token's length, or -1 when a
 * field is too long or holds a newline, the key is empty, or out is too small. */
int pg_unsub_token(const void *key, size_t key_len, const char *tenant, const char *contact,
                   const char *campaign, char *out, size_t out_len);

/* Checks token against key and fills *ref. Returns 0, or -1 when it is malformed or its HMAC
 * does not match (compared in constant time); *ref is then zeroed. */
int pg_unsub_verify(const void *key, size_t key_len, const char *token, pg_unsub_ref_t *ref);

#endif
