/* hk_meta.h — what the two Meta modules of pregon-hooks (WhatsApp Cloud, Messenger) share: the
 * app secret and verify token they hold, the GET hub.challenge subscription check, and reading
 * a JSON string or number field of a Graph webhook.
 *
 * The keys are owned copies, wiped (OPENSSL_cleanse) when released. The check answers the
 * challenge only for hub.mode "subscribe" and the right verify token (compared in constant
 * time); otherwise HK_REFUSE "bad-verify-token". Read-only after set-up: any thread. */
#ifndef HK_META_H
#define HK_META_H

#include <jansson.h>
#include <stddef.h>

#include "hk_module.h"

typedef struct {
    char *app_secret;   /* NULL: every POST refused */
    char *verify_token; /* NULL: every GET refused */
} hk_meta_keys_t;

/* Copies both ("" or NULL: none). Returns 0, or -1 when out of memory (nothing kept). */
int hk_meta_keys_set(hk_meta_keys_t *k, const char *app_secret, const char *verify_token);

/* Wipes and frees both; the struct is left empty. */
void hk_meta_keys_release(hk_meta_keys_t *k);

/* The GET subscription check: the challenge as a text/plain answer, HK_REFUSE on a wrong mode or
 * token, HK_INVALID without a challenge (or one over 1024 bytes). */
hk_verdict_t hk_meta_challenge(const hk_meta_keys_t *k, const hk_request_t *req, hk_result_t *res);

/* The string value of o[key] (an integer is printed into buf), or NULL. */
const char *hk_meta_str(const json_t *o, const char *key, char *buf, size_t len);

#endif
