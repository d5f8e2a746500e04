/* sb_sig.c — provider webhook signatures (see sb_sig.h), on OpenSSL's libcrypto.
 *
 * The signed string is built in one buffer, then HMAC'd with the one-shot HMAC() (not deprecated
 * in OpenSSL 3) and base64-encoded with EVP_EncodeBlock (no line breaks). */
#include "sb_sig.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

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

int sb_sig_twilio(const char *token, const char *url, const sb_form_t *fields, char *out,
                  size_t out_size) {
    if (out_size < SB_SIG_TWILIO_SIZE)
        return -1;
    size_t n = fields ? sb_form_count(fields) : 0;
    s_pair_t *pairs = calloc(n ? n : 1, sizeof(*pairs));
    if (!pairs)
        return -1;
    size_t total = strlen(url);
    for (size_t i = 0; i < n; i++) {
        pairs[i] = (s_pair_t){sb_form_name(fields, i), sb_form_value(fields, i),
                              sb_form_value_len(fields, i)};
        total += strlen(pairs[i].name) + pairs[i].value_len;
    }
    qsort(pairs, n, sizeof(*pairs), s_pair_cmp);
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg) {
        free(pairs);
        return -1;
    }
    size_t pos = strlen(url);
    memcpy(msg, url, pos);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(pairs[i].name);
        memcpy(msg + pos, pairs[i].name, nl);
        pos += nl;
        memcpy(msg + pos, pairs[i].value, pairs[i].value_len);
        pos += pairs[i].value_len;
    }
    free(pairs);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    unsigned char *ok = HMAC(EVP_sha1(), token, (int)strlen(token), msg, pos, mac, &mac_len);
    free(msg);
    if (!ok || mac_len != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return 0;
}
