/* st_keys.c — the key layout (see st_keys.h): shard tags, escaping, lease ids. No I/O. */
#include "st_keys.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_keys {
    char prefix[32];
    int shards;
};

st_keys_t *st_keys_new(const char *prefix, int shards) {
    if (!prefix || !*prefix || strlen(prefix) >= 32 || strchr(prefix, '{') || shards < 1 ||
        shards > 16384)
        return NULL;
    st_keys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->prefix, sizeof self->prefix, "%s", prefix);
    self->shards = shards;
    return self;
}

void st_keys_destroy(st_keys_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int st_keys_shards(const st_keys_t *self) {
    return self->shards;
}

const char *st_keys_prefix(const st_keys_t *self) {
    return self->prefix;
}

/* CRC16 XMODEM (polynomial 0x1021), a byte at a time through a table built once. */
static uint16_t s_crc_table[256];
static pthread_once_t s_crc_once = PTHREAD_ONCE_INIT;

static void s_crc_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        unsigned crc = i << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
        s_crc_table[i] = (uint16_t)crc;
    }
}

static unsigned s_crc_step(unsigned crc, const char *s) {
    for (; *s; s++)
        crc = ((crc << 8) ^ s_crc_table[((crc >> 8) ^ (unsigned char)*s) & 0xff]) & 0xffff;
    return crc;
}

unsigned st_crc16(const char *buf, size_t len) {
    pthread_once(&s_crc_once, s_crc_init);
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = ((crc << 8) ^ s_crc_table[((crc >> 8) ^ (unsigned char)buf[i]) & 0xff]) & 0xffff;
    return crc;
}

int st_keys_shard(const st_keys_t *self, const char *tenant, const char *debtor) {
    /* CRC16 over "tenant:debtor" without building the string */
    pthread_once(&s_crc_once, s_crc_init);
    unsigned crc = s_crc_step(0, tenant ? tenant : "");
    crc = s_crc_step(crc, ":");
    crc = s_crc_step(crc, debtor ? debtor : "");
    return (int)(crc % (unsigned)self->shards);
}

int st_keys_slot(const st_keys_t *self, int shard) {
    (void)self;
    char tag[16];
    int n = snprintf(tag, sizeof tag, "s%d", shard);
    return (int)(st_crc16(tag, (size_t)n) & 16383);
}

/* Appends s escaped at buf[*at]; false when it does not fit. */
static int s_esc(char *buf, size_t len, size_t *at, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = c > 0x20 && c < 0x7f && c != ':' && c != '%' && c != '{' && c != '}';
        size_t need = plain ? 1 : 3;
        if (*at + need >= len)
            return 0;
        if (plain) {
            buf[(*at)++] = (char)c;
        } else {
            buf[(*at)++] = '%';
            buf[(*at)++] = hex[c >> 4];
            buf[(*at)++] = hex[c & 15];
        }
    }
    buf[*at] = '\0';
    return 1;
}

/* "P:{sN}:kind:" then the escaped parts separated by ':'. */
static int s_debtor_key(const st_keys_t *self, const char *kind, const char *tenant,
                        const char *debtor, const char *job_id, char *buf, size_t len) {
    int shard = st_keys_shard(self, tenant, debtor);
    int n = snprintf(buf, len, "%s:{s%d}:%s:", self->prefix, shard, kind);
    if (n < 0 || (size_t)n >= len)
        return -1;
    size_t at = (size_t)n;
    if (!s_esc(buf, len, &at, tenant ? tenant : "") || at + 1 >= len)
        return -1;
    buf[at++] = ':';
    if (!s_esc(buf, len, &at, debtor ? debtor : ""))
        return -1;
    if (job_id) {
        if (at + 1 >= len)
            return -1;
        buf[at++] = ':';
        if (!s_esc(buf, len, &at, job_id))
            return -1;
    }
    buf[at] = '\0';
    return (int)at;
}

/* "P:{sN}:" into buf; its length, or -1. */
static int s_head(const st_keys_t *self, int shard, char *buf, size_t len) {
    size_t pl = strlen(self->prefix);
    char num[12];
    int nl = 0;
    unsigned v = (unsigned)shard;
    do {
        num[nl++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (pl + 5 + (size_t)nl >= len)
        return -1;
    memcpy(buf, self->prefix, pl);
    size_t at = pl;
    buf[at++] = ':';
    buf[at++] = '{';
    buf[at++] = 's';
    while (nl)
        buf[at++] = num[--nl];
    buf[at++] = '}';
    buf[at++] = ':';
    buf[at] = '\0';
    return (int)at;
}

/* buf[*at..] = head kind ":" T [":" D [":" J]] NUL; false when it does not fit. */
static int s_one(const char *head, size_t hl, const char *kind, const char *tenant,
                 const char *debtor, const char *job_id, char *buf, size_t len, size_t *at) {
    size_t kl = strlen(kind);
    if (*at + hl + kl + 2 >= len)
        return 0;
    memcpy(buf + *at, head, hl);
    *at += hl;
    memcpy(buf + *at, kind, kl);
    *at += kl;
    buf[(*at)++] = ':';
    if (!s_esc(buf, len, at, tenant))
        return 0;
    if (debtor) {
        if (*at + 1 >= len)
            return 0;
        buf[(*at)++] = ':';
        if (!s_esc(buf, len, at, debtor))
            return 0;
    }
    if (job_id) {
        if (*at + 1 >= len)
            return 0;
        buf[(*at)++] = ':';
        if (!s_esc(buf, len, at, job_id))
            return 0;
    }
    (*at)++; /* past the NUL s_esc wrote */
    return 1;
}

int st_keys_job_set(const st_keys_t *self, const char *tenant, const char *debtor,
                    const char *job_id, char *buf, size_t len, char **hk, char **jk, char **sk,
                    int *shard) {
    char head[64];
    tenant = tenant ? tenant : "";
    debtor = debtor ? debtor : "";
    *shard = st_keys_shard(self, tenant, debtor);
    int hl = s_head(self, *shard, head, sizeof head);
    size_t at = 0;
    if (hl < 0)
        return -1;
    *hk = buf;
    if (!s_one(head, (size_t)hl, "h", tenant, debtor, NULL, buf, len, &at))
        return -1;
    *jk = buf + at;
    if (!s_one(head, (size_t)hl, "j", tenant, debtor, job_id ? job_id : "", buf, len, &at))
        return -1;
    *sk = buf + at;
    if (!s_one(head, (size_t)hl, "sp", tenant, NULL, NULL, buf, len, &at))
        return -1;
    return (int)at;
}

int st_key_history(const st_keys_t *self, const char *tenant, const char *debtor, char *buf,
                   size_t len) {
    return s_debtor_key(self, "h", tenant, debtor, NULL, buf, len);
}

int st_key_job(const st_keys_t *self, const char *tenant, const char *debtor, const char *job_id,
               char *buf, size_t len) {
    return s_debtor_key(self, "j", tenant, debtor, job_id ? job_id : "", buf, len);
}

int st_key_suppress(const st_keys_t *self, int shard, const char *tenant, char *buf, size_t len) {
    char head[64];
    if (shard < 0 || shard >= self->shards)
        return -1;
    int hl = s_head(self, shard, head, sizeof head);
    size_t at = 0;
    if (hl < 0 || len == 0 ||
        !s_one(head, (size_t)hl, "sp", tenant ? tenant : "", NULL, NULL, buf, len, &at))
        return -1;
    return (int)at - 1;
}

int st_key_provider(const st_keys_t *self, const char *provider, const char *id, char *buf,
                    size_t len) {
    return s_debtor_key(self, "pm", provider, id, NULL, buf, len);
}

int st_key_contact(const st_keys_t *self, const char *channel, const char *contact, char *buf,
                   size_t len) {
    return s_debtor_key(self, "ct", channel, contact, NULL, buf, len);
}

int st_key_events(const st_keys_t *self, const char *tenant, const char *debtor, char *buf,
                  size_t len) {
    return s_debtor_key(self, "ev", tenant, debtor, NULL, buf, len);
}

int st_key_window(const st_keys_t *self, const char *tenant, const char *debtor,
                  const char *channel, const char *contact, char *buf, size_t len) {
    int n = s_debtor_key(self, "w", tenant, debtor, NULL, buf, len);
    if (n < 0)
        return -1;
    size_t at = (size_t)n;
    const char *parts[2] = {channel ? channel : "", contact ? contact : ""};
    for (int i = 0; i < 2; i++) {
        if (at + 1 >= len)
            return -1;
        buf[at++] = ':';
        if (!s_esc(buf, len, &at, parts[i]))
            return -1;
    }
    return (int)at;
}

int st_key_shared(const st_keys_t *self, int shard, const char *what, char *buf, size_t len) {
    if (shard < 0 || shard >= self->shards)
        return -1;
    int n = snprintf(buf, len, "%s:{s%d}:%s", self->prefix, shard, what);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static int s_unhex(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Unescapes [s, end) into out (cap bytes); -1 if malformed or too long. */
static int s_unesc(const char *s, const char *end, char *out, size_t cap) {
    size_t o = 0;
    while (s < end) {
        char c = *s++;
        if (c == '%') {
            if (end - s < 2 || s_unhex(s[0]) < 0 || s_unhex(s[1]) < 0)
                return -1;
            c = (char)(s_unhex(s[0]) * 16 + s_unhex(s[1]));
            s += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int st_job_key_parse(const st_keys_t *self, const char *key, size_t key_len, st_job_ref_t *out) {
    size_t pl = strlen(self->prefix);
    const char *end = key + key_len;
    if (key_len < pl + 5 || memcmp(key, self->prefix, pl) != 0 || memcmp(key + pl, ":{s", 3) != 0)
        return -1;
    const char *p = key + pl + 3, *num_end = p;
    long shard = 0;
    /* decimal digits only, no leading zero: the tag must be the one st_key_job writes */
    while (num_end < end && *num_end >= '0' && *num_end <= '9' && num_end - p < 6)
        shard = shard * 10 + (*num_end++ - '0');
    if (num_end == p || (*p == '0' && num_end - p > 1) || shard >= self->shards ||
        end - num_end < 4 || memcmp(num_end, "}:j:", 4) != 0)
        return -1;
    p = num_end + 4;
    const char *c1 = memchr(p, ':', (size_t)(end - p));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
    if (!c1 || !c2 || memchr(c2 + 1, ':', (size_t)(end - c2 - 1)))
        return -1;
    out->shard = (int)shard;
    if (s_unesc(p, c1, out->tenant, sizeof out->tenant) < 0 ||
        s_unesc(c1 + 1, c2, out->debtor, sizeof out->debtor) < 0 ||
        s_unesc(c2 + 1, end, out->job_id, sizeof out->job_id) < 0)
        return -1;
    /* the shard in the key must be the debtor's: a forged key never reaches another slot */
    return st_keys_shard(self, out->tenant, out->debtor) == out->shard ? 0 : -1;
}

void st_nonce_hex(const unsigned char bytes[ST_NONCE_BYTES], char out[ST_NONCE_HEX + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < ST_NONCE_BYTES; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[ST_NONCE_HEX] = '\0';
}

int st_lease_id(const st_keys_t *self, const char *job_key, unsigned attempt, const char *nonce,
                char *buf, size_t len) {
    (void)self;
    int n = nonce && nonce[0] ? snprintf(buf, len, "%u.%s/%s", attempt, nonce, job_key)
                              : snprintf(buf, len, "%u/%s", attempt, job_key);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static bool s_is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int st_lease_parse(const st_keys_t *self, const char *lease, char *key_buf, size_t key_len,
                   unsigned *attempt, char *nonce) {
    const char *slash = lease ? strchr(lease, '/') : NULL;
    if (!slash || slash == lease)
        return -1;
    const char *dot = memchr(lease, '.', (size_t)(slash - lease));
    const char *digits_end = dot ? dot : slash;
    if (digits_end == lease || digits_end - lease > 9)
        return -1;
    unsigned a = 0;
    for (const char *p = lease; p < digits_end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        a = a * 10 + (unsigned)(*p - '0');
    }
    if (dot) { /* exactly ST_NONCE_HEX lowercase hex digits */
        if (slash - dot - 1 != ST_NONCE_HEX)
            return -1;
        for (const char *p = dot + 1; p < slash; p++)
            if (!s_is_hex(*p))
                return -1;
    }
    size_t kl = strlen(slash + 1);
    st_job_ref_t ref;
    if (a == 0 || kl >= key_len || st_job_key_parse(self, slash + 1, kl, &ref) < 0)
        return -1;
    memcpy(key_buf, slash + 1, kl + 1);
    *attempt = a;
    if (nonce) {
        if (dot)
            memcpy(nonce, dot + 1, ST_NONCE_HEX);
        nonce[dot ? ST_NONCE_HEX : 0] = '\0';
    }
    return 0;
}

const char *st_lease_describe(const st_keys_t *self, const char *lease, char *buf, size_t len) {
    char key[ST_KEY_MAX];
    unsigned attempt;
    st_job_ref_t ref;
    if (st_lease_parse(self, lease, key, sizeof key, &attempt, NULL) == 0 &&
        st_job_key_parse(self, key, strlen(key), &ref) == 0)
        snprintf(buf, len, "%s/%s (attempt %u)", ref.tenant, ref.job_id, attempt);
    else
        snprintf(buf, len, "%.64s", lease ? lease : "");
    return buf;
}
