/* pg_unsub.c — one-click unsubscribe tokens: signing and checking (see pg_unsub.h).
 *
 * base64url without padding through EVP_EncodeBlock/EVP_DecodeBlock and a character swap; the
 * HMAC is OpenSSL's. Nothing here knows of HTTP or e-mail. */
#include "pg_unsub.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define S_MAC_LEN 16
#define S_DOMAIN  "pregon-unsub-v1:"

/* base64url of in[0..len) into out (room 4 * ceil(len / 3) + 1); returns the length. */
static size_t s_b64url(const unsigned char *in, size_t len, char *out) {
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return (size_t)n;
}

/* Decodes base64url in[0..len) into out (room 3 * ceil(len / 4)); returns the length or -1. */
static long s_unb64url(const char *in, size_t len, unsigned char *out) {
    if (len % 4 == 1 || len > 4 * PG_UNSUB_FIELD_MAX * 2)
        return -1;
    char buf[4 * PG_UNSUB_FIELD_MAX * 2 + 4];
    size_t pad = (4 - len % 4) % 4;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return -1;
        buf[i] = c;
    }
    memset(buf + len, '=', pad);
    int n = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)(len + pad));
    if (n < 0)
        return -1;
    return (long)((size_t)n - pad);
}

static void s_mac(const void *key, size_t key_len, const unsigned char *payload, size_t len,
                  unsigned char mac[32]) {
    unsigned char msg[sizeof S_DOMAIN - 1 + 3 * PG_UNSUB_FIELD_MAX + 2];
    memcpy(msg, S_DOMAIN, sizeof S_DOMAIN - 1);
    memcpy(msg + sizeof S_DOMAIN - 1, payload, len);
    unsigned int mac_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, msg, sizeof S_DOMAIN - 1 + len, mac, &mac_len);
}

static bool s_field_ok(const char *s) {
    return s && strlen(s) <= PG_UNSUB_FIELD_MAX && !strchr(s, '\n');
}

int pg_unsub_token(const void *key, size_t key_len, const char *tenant, const char *contact,
                   const char *campaign, char *out, size_t out_len) {
    if (!key || !key_len || !s_field_ok(tenant) || !s_field_ok(contact) || !s_field_ok(campaign))
        return -1;
    unsigned char payload[3 * PG_UNSUB_FIELD_MAX + 2];
    int len = snprintf((char *)payload, sizeof payload, "%s\n%s\n%s", tenant, contact, campaign);
    if (len < 0 || (size_t)len >= sizeof payload)
        return -1;
    unsigned char mac[32];
    s_mac(key, key_len, payload, (size_t)len, mac);
    char tok[PG_UNSUB_TOKEN_MAX];
    size_t n = s_b64url(payload, (size_t)len, tok);
    tok[n++] = '.';
    n += s_b64url(mac, S_MAC_LEN, tok + n);
    if (n + 1 > out_len)
        return -1;
    memcpy(out, tok, n + 1);
    OPENSSL_cleanse(mac, sizeof mac);
    return (int)n;
}

int pg_unsub_verify(const void *key, size_t key_len, const char *token, pg_unsub_ref_t *ref) {
    memset(ref, 0, sizeof *ref);
    const char *dot = token ? strchr(token, '.') : NULL;
    if (!key || !key_len || !dot)
        return -1;
    unsigned char payload[4 * PG_UNSUB_FIELD_MAX * 2], got[64], mac[32];
    long plen = s_unb64url(token, (size_t)(dot - token), payload);
    long mlen = s_unb64url(dot + 1, strlen(dot + 1), got);
    if (plen <= 0 || plen > 3 * PG_UNSUB_FIELD_MAX + 2 || mlen != S_MAC_LEN)
        return -1;
    /* Only the canonical spelling: the last character's unused bits must be zero, so that no
     * second token names the same bytes. */
    char again[PG_UNSUB_TOKEN_MAX];
    size_t n = s_b64url(payload, (size_t)plen, again);
    if (n != (size_t)(dot - token) || memcmp(again, token, n) != 0 ||
        s_b64url(got, S_MAC_LEN, again) != strlen(dot + 1) || strcmp(again, dot + 1) != 0)
        return -1;
    s_mac(key, key_len, payload, (size_t)plen, mac);
    if (CRYPTO_memcmp(mac, got, S_MAC_LEN) != 0)
        return -1;
    /* Signed by us: the three fields, split at the two newlines. */
    const char *p = (const char *)payload, *end = p + plen;
    char *fields[3] = {ref->tenant, ref->contact, ref->campaign};
    for (int i = 0; i < 3; i++) {
        const char *nl = i < 2 ? memchr(p, '\n', (size_t)(end - p)) : end;
        if (!nl || nl - p > PG_UNSUB_FIELD_MAX || memchr(p, '\0', (size_t)(nl - p))) {
            memset(ref, 0, sizeof *ref);
            return -1;
        }
        memcpy(fields[i], p, (size_t)(nl - p));
        fields[i][nl - p] = '\0';
        p = nl + (i < 2);
    }
    return 0;
}
