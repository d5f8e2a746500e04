/* pg_sig.h — provider webhook signatures: computing them (the sandbox signs what it sends) and
 * verifying them (pregon-hooks refuses what is not signed by the provider).
 *
 *   Twilio  X-Twilio-Signature = base64(HMAC-SHA1(AuthToken, URL + the POST fields sorted by
 *           name, each as name followed by value)). The URL is the one the provider was given
 *           (scheme, host, path and query), which a server behind a proxy must rebuild from its
 *           configured public base URL plus the request's path and raw query (pg_http).
 *   Meta    X-Hub-Signature-256 = "sha256=" + hex(HMAC-SHA256(AppSecret, raw body)), used by
 *           WhatsApp Cloud and Messenger.
 * On OpenSSL's libcrypto. Verification compares in constant time (CRYPTO_memcmp) and refuses a
 * missing or malformed header. Pure functions without shared state: thread-safe. */
#ifndef PG_SIG_H
#define PG_SIG_H

#include "pg_form.h"

#include <stdbool.h>
#include <stddef.h>

/* Size of the buffer pg_sig_twilio() needs: 28 base64 characters and the NUL. */
#define PG_SIG_TWILIO_SIZE 29

/* Size of the buffer pg_sig_meta() needs: "sha256=", 64 hex digits and the NUL. */
#define PG_SIG_META_SIZE 72

/* Computes Twilio's signature of a form POST to url, signed with token, into out
 * (out_size >= PG_SIG_TWILIO_SIZE). fields may be NULL (no POST fields, e.g. a GET). Fields are
 * sorted by name, then by value for repeated names, byte-wise. Returns 0, or -1 when out_size
 * is too small or memory runs out. */
int pg_sig_twilio(const char *token, const char *url, const pg_form_t *fields, char *out,
                  size_t out_size);

/* True when signature (the X-Twilio-Signature header, may be NULL) is Twilio's signature of
 * fields posted to url with token. Constant time in the signature's bytes. False when the
 * header is absent, malformed, or memory runs out. */
bool pg_sig_twilio_verify(const char *token, const char *url, const pg_form_t *fields,
                          const char *signature);

/* Computes Meta's X-Hub-Signature-256 value of body[0..len) with secret into out
 * (out_size >= PG_SIG_META_SIZE): "sha256=" and 64 lowercase hex digits. body may be NULL when
 * len is 0. Returns 0, or -1 when out_size is too small. */
int pg_sig_meta(const char *secret, const void *body, size_t len, char *out, size_t out_size);

/* True when header (the X-Hub-Signature-256 value, may be NULL) is "sha256=" followed by the 64
 * hex digits (either case) of HMAC-SHA256(secret, body). Constant time in the digest. */
bool pg_sig_meta_verify(const char *secret, const void *body, size_t len, const char *header);

#endif
