/* pc_metrics.c — fetching and reading a /metrics text (pc_metrics.h). */
#include "pc_metrics.h"

#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pc_metrics {
    pc_sample_t *s;
    size_t n, cap, skipped;
};

static void s_sample_free(pc_sample_t *s) {
    free(s->name);
    for (size_t i = 0; i < s->n_labels; i++)
        free(s->keys[i]), free(s->values[i]);
}

void pc_metrics_destroy(pc_metrics_t **self_p) {
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        s_sample_free(&(*self_p)->s[i]);
    free((*self_p)->s);
    free(*self_p);
    *self_p = NULL;
}

static char *s_dup(const char *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static bool s_name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* One sample line [p, end) into out. Returns false when it is not one. */
static bool s_line(const char *p, const char *end, pc_sample_t *out) {
    memset(out, 0, sizeof *out);
    const char *q = p;
    while (q < end && s_name_char(*q, q == p))
        q++;
    if (q == p)
        return false;
    out->name = s_dup(p, (size_t)(q - p));
    if (q < end && *q == '{') {
        q++;
        while (q < end && *q != '}') {
            const char *k = q;
            while (q < end && s_name_char(*q, q == k))
                q++;
            if (q == k || q + 1 >= end || q[0] != '=' || q[1] != '"' ||
                out->n_labels == PC_METRICS_MAX_LABELS)
                return false;
            size_t klen = (size_t)(q - k);
            q += 2;
            char *v = malloc((size_t)(end - q) + 1);
            size_t vl = 0;
            if (!v)
                return false;
            while (q < end && *q != '"') {
                if (*q == '\\' && q + 1 < end) {
                    q++;
                    v[vl++] = *q == 'n' ? '\n' : *q;
                } else {
                    v[vl++] = *q;
                }
                q++;
            }
            v[vl] = '\0';
            out->keys[out->n_labels] = s_dup(k, klen);
            out->values[out->n_labels++] = v;
            if (q >= end)
                return false;
            q++; /* the closing quote */
            if (q < end && *q == ',')
                q++;
        }
        if (q >= end)
            return false;
        q++; /* } */
    }
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    char num[64];
    size_t nl = 0;
    while (q < end && *q != ' ' && nl + 1 < sizeof num)
        num[nl++] = *q++;
    num[nl] = '\0';
    if (!nl)
        return false;
    char *stop;
    out->value = strcmp(num, "+Inf") == 0   ? INFINITY
                 : strcmp(num, "-Inf") == 0 ? -INFINITY
                                            : strtod(num, &stop);
    if (strcmp(num, "+Inf") != 0 && strcmp(num, "-Inf") != 0 && *stop)
        return false;
    return out->name != NULL;
}

pc_metrics_t *pc_metrics_parse(const char *text, size_t len) {
    pc_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && *p != '#') {
            if (self->n == self->cap) {
                size_t cap = self->cap ? self->cap * 2 : 256;
                pc_sample_t *s = realloc(self->s, cap * sizeof *s);
                if (!s) {
                    pc_metrics_destroy(&self);
                    return NULL;
                }
                self->s = s;
                self->cap = cap;
            }
            pc_sample_t *s = &self->s[self->n];
            if (s_line(p, le, s))
                self->n++;
            else {
                s_sample_free(s);
                self->skipped++;
            }
        }
        p = le + 1;
    }
    return self;
}

typedef struct {
    char *buf;
    size_t len, cap;
} s_body_t;

static size_t s_write(char *data, size_t size, size_t n, void *ctx) {
    s_body_t *b = ctx;
    size_t k = size * n;
    if (b->len + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + k + 1)
            cap *= 2;
        if (cap > (64u << 20))
            return 0; /* a metrics text this big is not pregond's */
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, k);
    b->len += k;
    b->buf[b->len] = '\0';
    return k;
}

pc_metrics_t *pc_metrics_fetch(const char *base_url, char *err, size_t errlen) {
    char url[600];
    snprintf(url, sizeof url, "%s/metrics", base_url);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s_body_t b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    pc_metrics_t *m = NULL;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(err, errlen, "HTTP %ld from %s", status, url);
    else if (!(m = pc_metrics_parse(b.buf ? b.buf : "", b.len)))
        snprintf(err, errlen, "out of memory");
    free(b.buf);
    return m;
}

size_t pc_metrics_count(const pc_metrics_t *self) {
    return self ? self->n : 0;
}

const pc_sample_t *pc_metrics_at(const pc_metrics_t *self, size_t i) {
    return self && i < self->n ? &self->s[i] : NULL;
}

size_t pc_metrics_skipped(const pc_metrics_t *self) {
    return self ? self->skipped : 0;
}

const char *pc_sample_label(const pc_sample_t *s, const char *key) {
    for (size_t i = 0; s && i < s->n_labels; i++)
        if (strcmp(s->keys[i], key) == 0)
            return s->values[i];
    return NULL;
}

double pc_metrics_sum(const pc_metrics_t *self, const char *name, ...) {
    const char *want[16];
    size_t nw = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *a; nw < 16 && (a = va_arg(ap, const char *)) != NULL;)
        want[nw++] = a;
    va_end(ap);
    double sum = 0;
    for (size_t i = 0; self && i < self->n; i++) {
        const pc_sample_t *s = &self->s[i];
        if (strcmp(s->name, name) != 0)
            continue;
        bool match = true;
        for (size_t k = 0; match && k + 1 < nw; k += 2) {
            const char *v = pc_sample_label(s, want[k]);
            match = v && strcmp(v, want[k + 1]) == 0;
        }
        if (match)
            sum += s->value;
    }
    return sum;
}
