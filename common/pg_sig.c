/* pg_sig.c — provider webhook signatures (see pg_sig.h), on OpenSSL's libcrypto.
 *
 * The signed string is built in one buffer, then HMAC'd with the one-shot HMAC() (not deprecated
 * in OpenSSL 3) and base64-encoded with EVP_EncodeBlock (no line breaks). Verifying recomputes
 * and compares: the expected Twilio signature as text (its length, 28, is public), Meta's as the
 * 32 digest bytes after decoding the header's hex. */
#include "pg_sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_META_PREFIX     "sha256="
#define S_META_PREFIX_LEN 7
#define S_SHA256_LEN      32

typedef struct {
    const char *name;
    const char *value;
    size_t value_len;
} s_pair_t;

static int s_pair_cmp(const void *a, const void *b) {
    const s_pair_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    size_t n = x->value_len < y->value_len ? x->value_len : y->value_len;
    c = memcmp(x->value, y->value, n);
    if (c)
        return c;
    return (x->value_len > y->value_len) - (x->value_len < y->value_len);
}

/* The string Twilio signs: url, then every field's name and value in sorted order. You own the
 * result (free()); *len gets its length. NULL when out of memory. */
static unsigned char *s_twilio_message(const char *url, const pg_form_t *fields, size_t *len) {
    size_t n = fields ? pg_form_count(fields) : 0;
    s_pair_t *pairs = calloc(n ? n : 1, sizeof(*pairs));
    if (!pairs)
        return NULL;
    size_t url_len = strlen(url), total = url_len;
    for (size_t i = 0; i < n; i++) {
        pairs[i] = (s_pair_t){pg_form_name(fields, i), pg_form_value(fields, i),
                              pg_form_value_len(fields, i)};
        total += strlen(pairs[i].name) + pairs[i].value_len;
    }
    qsort(pairs, n, sizeof(*pairs), s_pair_cmp);
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg) {
        free(pairs);
        return NULL;
    }
    memcpy(msg, url, url_len);
    size_t pos = url_len;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(pairs[i].name);
        memcpy(msg + pos, pairs[i].name, nl);
        pos += nl;
        memcpy(msg + pos, pairs[i].value, pairs[i].value_len);
        pos += pairs[i].value_len;
    }
    free(pairs);
    *len = pos;
    return msg;
}

int pg_sig_twilio(const char *token, const char *url, const pg_form_t *fields, char *out,
                  size_t out_size) {
    if (out_size < PG_SIG_TWILIO_SIZE)
        return -1;
    size_t len = 0;
    unsigned char *msg = s_twilio_message(url, fields, &len);
    if (!msg)
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    unsigned char *ok = HMAC(EVP_sha1(), token, (int)strlen(token), msg, len, mac, &mac_len);
    free(msg);
    if (!ok || mac_len != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return 0;
}

bool pg_sig_twilio_verify(const char *token, const char *url, const pg_form_t *fields,
                          const char *signature) {
    char want[PG_SIG_TWILIO_SIZE];
    if (!signature || strlen(signature) != PG_SIG_TWILIO_SIZE - 1 ||
        pg_sig_twilio(token, url, fields, want, sizeof want) != 0)
        return false;
    return CRYPTO_memcmp(want, signature, PG_SIG_TWILIO_SIZE - 1) == 0;
}

/* HMAC-SHA256(secret, body) into mac (32 bytes). Returns 0 or -1. */
static int s_meta_mac(const char *secret, const void *body, size_t len,
                      unsigned char mac[S_SHA256_LEN]) {
    unsigned int mac_len = 0;
    static const unsigned char empty[1] = {0};
    unsigned char *ok = HMAC(EVP_sha256(), secret, (int)strlen(secret),
                             body ? (const unsigned char *)body : empty, len, mac, &mac_len);
    return ok && mac_len == S_SHA256_LEN ? 0 : -1;
}

int pg_sig_meta(const char *secret, const void *body, size_t len, char *out, size_t out_size) {
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[S_SHA256_LEN];
    if (out_size < PG_SIG_META_SIZE || s_meta_mac(secret, body, len, mac) != 0)
        return -1;
    memcpy(out, S_META_PREFIX, S_META_PREFIX_LEN);
    for (size_t i = 0; i < S_SHA256_LEN; i++) {
        out[S_META_PREFIX_LEN + 2 * i] = hex[mac[i] >> 4];
        out[S_META_PREFIX_LEN + 2 * i + 1] = hex[mac[i] & 15];
    }
    out[S_META_PREFIX_LEN + 2 * S_SHA256_LEN] = '\0';
    return 0;
}

/* Value of hex digit c, or -1. */
static int s_hex(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool pg_sig_meta_verify(const char *secret, const void *body, size_t len, const char *header) {
    if (!header || strlen(header) != S_META_PREFIX_LEN + 2 * S_SHA256_LEN ||
        strncasecmp(header, S_META_PREFIX, S_META_PREFIX_LEN) != 0)
        return false;
    unsigned char got[S_SHA256_LEN], want[S_SHA256_LEN];
    const char *h = header + S_META_PREFIX_LEN;
    for (size_t i = 0; i < S_SHA256_LEN; i++) {
        int hi = s_hex(h[2 * i]), lo = s_hex(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    if (s_meta_mac(secret, body, len, want) != 0)
        return false;
    return CRYPTO_memcmp(got, want, S_SHA256_LEN) == 0;
}
