/* em_domains.c — warm-up counts, receiving-domain limits and backoff (see em_domains.h).
 *
 * Domains live in one chained hash table (FNV-1a, 256 chains), created on first sight and kept
 * until the table is destroyed; at most S_MAX_DOMAINS receiving domains are tracked (past that
 * an unknown domain gets the "*" limits without a node of its own, and no backoff). The state
 * file is jansson's: {"day": D, "counts": {"example.com": N, ...}}. */
#include "em_domains.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chw_shaper.h"

#define S_CHAINS      256
#define S_MAX_DOMAINS 65536
#define S_DAY_MS      86400000LL

typedef struct s_domain {
    struct s_domain *next;
    /* sending side (warm-up) */
    bool warm;
    int64_t start_day, initial, ceiling, count;
    /* receiving side */
    bool limited;
    double per_minute;
    int concurrency, inflight;
    chw_bucket_t bucket;
    bool bucket_set;
    int64_t backoff_until_ms;
    int backoff_level;
    char name[];
} s_domain_t;

struct em_domains {
    s_domain_t *chains[S_CHAINS];
    size_t n_domains;
    char *state_path;
    int64_t day; /* the UTC day the counts are of */
    int64_t backoff_base_ms, backoff_cap_ms;
    double any_per_minute;
    int any_concurrency;
    char save_error[256];
};

const char *em_verdict_name(em_verdict_t v) {
    switch (v) {
        case EM_GO:
            return "go";
        case EM_WARMUP_FULL:
            return "warmup-full";
        case EM_DOMAIN_BACKOFF:
            return "domain-backoff";
        case EM_DOMAIN_BUSY:
            return "domain-busy";
        case EM_DOMAIN_RATE:
            return "domain-rate";
    }
    return "?";
}

int64_t em_warmup_allowance(int64_t initial, int64_t ceiling, int64_t day) {
    if (day < 1)
        day = 1;
    int64_t a = initial;
    for (int64_t d = 1; d < day; d++) {
        if ((ceiling > 0 && a >= ceiling) || a > INT64_MAX / 2)
            break;
        a *= 2;
    }
    return ceiling > 0 && a > ceiling ? ceiling : a;
}

static uint32_t s_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)tolower((unsigned char)*s)) * 16777619u;
    return h;
}

/* The node of `name` (case-insensitive), created when `create`; NULL when absent or full. */
static s_domain_t *s_find(em_domains_t *self, const char *name, bool create) {
    uint32_t h = s_hash(name) % S_CHAINS;
    for (s_domain_t *d = self->chains[h]; d; d = d->next)
        if (strcasecmp(d->name, name) == 0)
            return d;
    if (!create || self->n_domains >= S_MAX_DOMAINS)
        return NULL;
    size_t len = strlen(name);
    s_domain_t *d = calloc(1, sizeof *d + len + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++)
        d->name[i] = (char)tolower((unsigned char)name[i]);
    d->next = self->chains[h];
    self->chains[h] = d;
    self->n_domains++;
    return d;
}

static void s_save(em_domains_t *self) {
    if (!self->state_path)
        return;
    json_t *counts = json_object(), *root = json_object();
    for (int i = 0; i < S_CHAINS; i++)
        for (s_domain_t *d = self->chains[i]; d; d = d->next)
            if (d->warm && d->count > 0)
                json_object_set_new(counts, d->name, json_integer(d->count));
    json_object_set_new(root, "day", json_integer(self->day));
    json_object_set_new(root, "counts", counts);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", self->state_path);
    if (json_dump_file(root, tmp, JSON_COMPACT) != 0 || rename(tmp, self->state_path) != 0)
        snprintf(self->save_error, sizeof self->save_error, "cannot write %.200s: %s",
                 self->state_path, strerror(errno));
    json_decref(root);
}

static int s_load(em_domains_t *self, char *err, size_t err_len) {
    json_error_t jerr;
    json_t *root = json_load_file(self->state_path, 0, &jerr);
    if (!root) {
        FILE *f = fopen(self->state_path, "r");
        if (!f && errno == ENOENT)
            return 0; /* first start */
        if (f)
            fclose(f);
        snprintf(err, err_len, "warm-up state %.200s: %.100s", self->state_path, jerr.text);
        return -1;
    }
    json_t *day = json_object_get(root, "day"), *counts = json_object_get(root, "counts");
    if (!json_is_integer(day) || !json_is_object(counts)) {
        snprintf(err, err_len, "warm-up state %.200s: no day or counts", self->state_path);
        json_decref(root);
        return -1;
    }
    self->day = json_integer_value(day);
    const char *name;
    json_t *v;
    json_object_foreach(counts, name, v) {
        s_domain_t *d = json_is_integer(v) ? s_find(self, name, true) : NULL;
        if (d)
            d->count = json_integer_value(v);
    }
    json_decref(root);
    return 0;
}

em_domains_t *em_domains_new(const char *state_path, int64_t backoff_base_ms,
                             int64_t backoff_cap_ms, char *err, size_t err_len) {
    em_domains_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->backoff_base_ms = backoff_base_ms > 0 ? backoff_base_ms : 60000;
    self->backoff_cap_ms =
        backoff_cap_ms >= self->backoff_base_ms ? backoff_cap_ms : self->backoff_base_ms;
    self->day = -1;
    if (state_path && *state_path) {
        self->state_path = strdup(state_path);
        if (!self->state_path || s_load(self, err, err_len) != 0) {
            if (!self->state_path)
                snprintf(err, err_len, "out of memory");
            em_domains_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void em_domains_destroy(em_domains_t **self_p) {
    if (!self_p || !*self_p)
        return;
    em_domains_t *self = *self_p;
    for (int i = 0; i < S_CHAINS; i++)
        for (s_domain_t *d = self->chains[i], *next; d; d = next) {
            next = d->next;
            free(d);
        }
    free(self->state_path);
    free(self);
    *self_p = NULL;
}

int em_domains_warmup(em_domains_t *self, const char *domain, int64_t start_day, int64_t initial,
                      int64_t ceiling) {
    s_domain_t *d = initial > 0 && domain && *domain ? s_find(self, domain, true) : NULL;
    if (!d)
        return -1;
    d->warm = true;
    d->start_day = start_day;
    d->initial = initial;
    d->ceiling = ceiling;
    return 0;
}

int em_domains_limit(em_domains_t *self, const char *domain, double per_minute, int concurrency) {
    if (!domain || !*domain)
        return -1;
    if (strcmp(domain, "*") == 0) {
        self->any_per_minute = per_minute;
        self->any_concurrency = concurrency;
        return 0;
    }
    s_domain_t *d = s_find(self, domain, true);
    if (!d)
        return -1;
    d->limited = true;
    d->per_minute = per_minute;
    d->concurrency = concurrency;
    d->bucket_set = false;
    return 0;
}

/* A new UTC day forgets yesterday's counts. */
static void s_roll(em_domains_t *self, int64_t now_ms) {
    int64_t today = now_ms / S_DAY_MS;
    if (today == self->day)
        return;
    bool had = self->day >= 0;
    self->day = today;
    for (int i = 0; i < S_CHAINS; i++)
        for (s_domain_t *d = self->chains[i]; d; d = d->next)
            d->count = 0;
    if (had)
        s_save(self);
}

static int64_t s_allowance(const s_domain_t *d, int64_t today) {
    return em_warmup_allowance(d->initial, d->ceiling, today - d->start_day + 1);
}

em_verdict_t em_domains_take(em_domains_t *self, const char *from_domain, const char *to_domain,
                             int64_t now_ms, int64_t *retry_at_ms) {
    s_roll(self, now_ms);
    s_domain_t *from = s_find(self, from_domain, false);
    if (from && from->warm && from->count >= s_allowance(from, self->day)) {
        *retry_at_ms = (self->day + 1) * S_DAY_MS;
        return EM_WARMUP_FULL;
    }
    s_domain_t *to = s_find(self, to_domain, true);
    if (to && to->backoff_until_ms > now_ms) {
        *retry_at_ms = to->backoff_until_ms;
        return EM_DOMAIN_BACKOFF;
    }
    double per_minute = to && to->limited ? to->per_minute : self->any_per_minute;
    int concurrency = to && to->limited ? to->concurrency : self->any_concurrency;
    if (to && concurrency > 0 && to->inflight >= concurrency) {
        *retry_at_ms = now_ms + 1000;
        return EM_DOMAIN_BUSY;
    }
    if (to && per_minute > 0) {
        if (!to->bucket_set) {
            double burst = per_minute / 6.0;
            chw_bucket_init(&to->bucket, per_minute / 60.0, burst < 1 ? 1 : burst, now_ms);
            to->bucket_set = true;
        }
        if (!chw_bucket_take(&to->bucket, now_ms)) {
            *retry_at_ms = now_ms + chw_bucket_wait_ms(&to->bucket, now_ms);
            return EM_DOMAIN_RATE;
        }
    }
    if (to)
        to->inflight++;
    if (from && from->warm) {
        from->count++;
        s_save(self);
    }
    return EM_GO;
}

void em_domains_done(em_domains_t *self, const char *from_domain, const char *to_domain,
                     bool refund, int64_t now_ms) {
    s_domain_t *to = s_find(self, to_domain, false);
    if (to && to->inflight > 0)
        to->inflight--;
    s_roll(self, now_ms);
    s_domain_t *from = refund ? s_find(self, from_domain, false) : NULL;
    if (from && from->warm && from->count > 0) {
        from->count--;
        s_save(self);
    }
}

int64_t em_domains_deferred(em_domains_t *self, const char *to_domain, int64_t min_ms,
                            int64_t now_ms) {
    s_domain_t *to = s_find(self, to_domain, true);
    int level = to ? to->backoff_level : 0;
    int64_t ms = self->backoff_base_ms;
    for (int i = 0; i < level && ms < self->backoff_cap_ms; i++)
        ms *= 2;
    if (ms > self->backoff_cap_ms)
        ms = self->backoff_cap_ms;
    if (ms < min_ms)
        ms = min_ms;
    if (to) {
        if (to->backoff_level < 30)
            to->backoff_level++;
        if (now_ms + ms > to->backoff_until_ms)
            to->backoff_until_ms = now_ms + ms;
    }
    return ms;
}

void em_domains_accepted(em_domains_t *self, const char *to_domain) {
    s_domain_t *to = s_find(self, to_domain, false);
    if (to)
        to->backoff_level = 0;
}

void em_domains_today(em_domains_t *self, const char *domain, int64_t now_ms, int64_t *count,
                      int64_t *allowance) {
    s_roll(self, now_ms);
    s_domain_t *d = s_find(self, domain, false);
    *count = d ? d->count : 0;
    *allowance = d && d->warm ? s_allowance(d, self->day) : -1;
}

const char *em_domains_save_error(em_domains_t *self) {
    return self->save_error;
}
