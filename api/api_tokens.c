/* api_tokens.c — the token table and its rate buckets (see api_tokens.h). */
#include "api_tokens.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MAX_TENANTS 64

struct api_token {
    unsigned char hash[32];
    char name[64];
    char *tenants[MAX_TENANTS];
    size_t n_tenants;
    bool all;
    double tokens; /* the bucket, under the table's mutex */
    int64_t last_ms;
};

struct api_tokens {
    api_token_t *t;
    size_t n;
    double rate;
    pthread_mutex_t mu;
};

static void s_sha256(const char *s, unsigned char out[32]) {
    unsigned int len = 32;
    EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL);
}

void api_tokens_hash(const char *token, char out[65]) {
    unsigned char h[32];
    s_sha256(token, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int s_hex(const char *hex, unsigned char out[32]) {
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    return 0;
}

/* Parses "HASH TENANTS [NAME]" into t; -1 with the reason in err. */
static int s_line(char *line, api_token_t *t, char *err, size_t errlen) {
    char *save = NULL, *hash = strtok_r(line, " \t\r\n", &save),
         *tenants = strtok_r(NULL, " \t\r\n", &save), *name = strtok_r(NULL, " \t\r\n", &save);
    if (!hash || !tenants || s_hex(hash, t->hash) < 0) {
        snprintf(err, errlen, "want `SHA256-HEX TENANT[,TENANT...] [NAME]`");
        return -1;
    }
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    if (!name)
        snprintf(t->name, sizeof t->name, "%.8s", hash);
    for (char *s2 = NULL, *tn = strtok_r(tenants, ",", &s2); tn; tn = strtok_r(NULL, ",", &s2)) {
        if (t->n_tenants == MAX_TENANTS) {
            snprintf(err, errlen, "more than %d tenants", MAX_TENANTS);
            return -1;
        }
        t->all |= strcmp(tn, "*") == 0;
        t->tenants[t->n_tenants++] = strdup(tn);
    }
    return 0;
}

api_tokens_t *api_tokens_load(const char *path, double rate, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    api_tokens_t *self = calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->rate = rate;
    char *line = NULL, why[160];
    size_t cap = 0, alloc = 0;
    long lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        const char *p = line + strspn(line, " \t\r\n");
        if (!*p || *p == '#')
            continue;
        if (self->n == alloc) {
            alloc = alloc ? 2 * alloc : 16;
            self->t = realloc(self->t, alloc * sizeof *self->t);
        }
        api_token_t *t = &self->t[self->n];
        memset(t, 0, sizeof *t);
        self->n++;
        if (s_line(line, t, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%ld: %s", path, lineno, why);
            free(line);
            fclose(f);
            api_tokens_destroy(&self);
            return NULL;
        }
        t->tokens = 2 * rate;
    }
    free(line);
    fclose(f);
    return self;
}

void api_tokens_destroy(api_tokens_t **self_p) {
    if (!self_p || !*self_p)
        return;
    api_tokens_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        for (size_t k = 0; k < self->t[i].n_tenants; k++)
            free(self->t[i].tenants[k]);
    free(self->t);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

const api_token_t *api_tokens_find(const api_tokens_t *self, const char *token) {
    unsigned char h[32];
    s_sha256(token, h);
    const api_token_t *found = NULL;
    for (size_t i = 0; i < self->n; i++) /* every entry compared: the time says nothing */
        if (CRYPTO_memcmp(h, self->t[i].hash, 32) == 0)
            found = &self->t[i];
    return found;
}

bool api_token_allows(const api_token_t *t, const char *tenant) {
    if (t->all)
        return true;
    for (size_t i = 0; tenant && i < t->n_tenants; i++)
        if (strcmp(t->tenants[i], tenant) == 0)
            return true;
    return false;
}

size_t api_token_n_tenants(const api_token_t *t) {
    return t->n_tenants;
}
const char *api_token_tenant(const api_token_t *t, size_t i) {
    return i < t->n_tenants ? t->tenants[i] : NULL;
}
const char *api_token_name(const api_token_t *t) {
    return t->name;
}

bool api_tokens_take(api_tokens_t *self, const api_token_t *t, int64_t now_ms, int *retry_after_s) {
    if (self->rate <= 0)
        return true;
    api_token_t *m = (api_token_t *)t; /* the bucket is the only mutable part, under mu */
    pthread_mutex_lock(&self->mu);
    if (m->last_ms) {
        m->tokens += (double)(now_ms - m->last_ms) * self->rate / 1000.0;
        if (m->tokens > 2 * self->rate)
            m->tokens = 2 * self->rate;
    }
    m->last_ms = now_ms;
    bool ok = m->tokens >= 1.0;
    if (ok)
        m->tokens -= 1.0;
    else
        *retry_after_s = (int)((1.0 - m->tokens) / self->rate) + 1;
    pthread_mutex_unlock(&self->mu);
    return ok;
}
