/* sb_store.c — bounded ring of request records plus counters (see sb_store.h).
 *
 * One mutex guards everything; the critical section of an insert is a pointer store and a few
 * counter bumps (the record is allocated and filled before taking the lock), which is cheap
 * next to an HTTP request. A record is a single allocation: the fixed part followed by its
 * strings. Queries serialise under the lock, bounded by their limit. */
#include "sb_store.h"

#include "sb_json.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    S_STR_PROVIDER,
    S_STR_METHOD,
    S_STR_PATH,
    S_STR_ACCOUNT,
    S_STR_TO,
    S_STR_FROM,
    S_STR_BODY,
    S_STR_SID,
    S_STR_PARAMS,
    S_STR_COUNT
};

typedef struct {
    uint64_t seq;
    int64_t arrival_ms;
    int status;
    int error_code;
    const char *str[S_STR_COUNT]; /* point into the same allocation, NULL when absent */
} s_rec_t;

typedef struct {
    int status;
    uint64_t count;
} s_status_count_t;

typedef struct {
    char *name;
    uint64_t total;
    s_status_count_t *statuses;
    size_t n_statuses;
} s_provider_count_t;

struct sb_store {
    pthread_mutex_t lock;
    s_rec_t **ring; /* capacity slots; ring[(head + i) % cap] is the i-th oldest */
    size_t cap;
    size_t head;
    size_t len;
    uint64_t next_seq;
    uint64_t received;
    uint64_t dropped;
    s_provider_count_t *providers;
    size_t n_providers;
};

sb_store_t *sb_store_new(size_t max_records) {
    if (max_records == 0)
        return NULL;
    sb_store_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    /* calloc'd but untouched pages cost no memory until records land in them. */
    self->ring = calloc(max_records, sizeof(*self->ring));
    if (!self->ring || pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self->ring);
        free(self);
        return NULL;
    }
    self->cap = max_records;
    self->next_seq = 1;
    return self;
}

static void s_clear_records(sb_store_t *self) {
    for (size_t i = 0; i < self->len; i++)
        free(self->ring[(self->head + i) % self->cap]);
    self->head = 0;
    self->len = 0;
}

static void s_clear_counters(sb_store_t *self) {
    for (size_t i = 0; i < self->n_providers; i++) {
        free(self->providers[i].name);
        free(self->providers[i].statuses);
    }
    free(self->providers);
    self->providers = NULL;
    self->n_providers = 0;
    self->received = 0;
    self->dropped = 0;
}

void sb_store_destroy(sb_store_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_store_t *self = *self_p;
    s_clear_records(self);
    s_clear_counters(self);
    free(self->ring);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static s_rec_t *s_rec_new(const sb_record_t *rec) {
    const char *src[S_STR_COUNT] = {rec->provider, rec->method, rec->path, rec->account,    rec->to,
                                    rec->from,     rec->body,   rec->sid,  rec->params_json};
    size_t lens[S_STR_COUNT], total = sizeof(s_rec_t);
    for (int i = 0; i < S_STR_COUNT; i++) {
        lens[i] = src[i] ? strlen(src[i]) + 1 : 0;
        total += lens[i];
    }
    s_rec_t *r = malloc(total);
    if (!r)
        return NULL;
    char *p = (char *)(r + 1);
    for (int i = 0; i < S_STR_COUNT; i++) {
        if (src[i]) {
            memcpy(p, src[i], lens[i]);
            r->str[i] = p;
            p += lens[i];
        } else {
            r->str[i] = NULL;
        }
    }
    r->arrival_ms = rec->arrival_ms;
    r->status = rec->status;
    r->error_code = rec->error_code;
    return r;
}

/* Bumps the (provider, status) counter; silently skips on out-of-memory (counters are a
 * diagnostic, never worth failing a request for). Caller holds the lock. */
static void s_count(sb_store_t *self, const char *provider, int status) {
    if (!provider)
        provider = "unknown";
    s_provider_count_t *pc = NULL;
    for (size_t i = 0; i < self->n_providers; i++) {
        if (strcmp(self->providers[i].name, provider) == 0) {
            pc = &self->providers[i];
            break;
        }
    }
    if (!pc) {
        s_provider_count_t *grown =
            realloc(self->providers, (self->n_providers + 1) * sizeof(*grown));
        if (!grown)
            return;
        self->providers = grown;
        pc = &grown[self->n_providers];
        *pc = (s_provider_count_t){0};
        if (!(pc->name = strdup(provider)))
            return;
        self->n_providers++;
    }
    pc->total++;
    for (size_t i = 0; i < pc->n_statuses; i++) {
        if (pc->statuses[i].status == status) {
            pc->statuses[i].count++;
            return;
        }
    }
    s_status_count_t *grown = realloc(pc->statuses, (pc->n_statuses + 1) * sizeof(*grown));
    if (!grown)
        return;
    pc->statuses = grown;
    grown[pc->n_statuses++] = (s_status_count_t){status, 1};
}

uint64_t sb_store_add(sb_store_t *self, const sb_record_t *rec) {
    s_rec_t *r = s_rec_new(rec);
    s_rec_t *evicted = NULL;
    uint64_t seq = 0;
    pthread_mutex_lock(&self->lock);
    self->received++;
    s_count(self, rec->provider, rec->status);
    if (r) {
        seq = r->seq = self->next_seq++;
        if (self->len == self->cap) {
            evicted = self->ring[self->head];
            self->ring[self->head] = r;
            self->head = (self->head + 1) % self->cap;
            self->dropped++;
        } else {
            self->ring[(self->head + self->len) % self->cap] = r;
            self->len++;
        }
    }
    pthread_mutex_unlock(&self->lock);
    free(evicted);
    return seq;
}

static void s_iso_time(int64_t ms, char out[32]) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* Stored strings come from clients and may be invalid UTF-8, which jansson refuses. */
static json_t *s_str_or_null(const char *s) {
    return sb_json_text(s, s ? strlen(s) : 0);
}

static json_t *s_rec_json(const s_rec_t *r) {
    char when[32];
    s_iso_time(r->arrival_ms, when);
    json_t *params = NULL;
    if (r->str[S_STR_PARAMS])
        params = json_loads(r->str[S_STR_PARAMS], 0, NULL);
    json_t *o = json_object();
    if (!o) {
        json_decref(params);
        return NULL;
    }
    int rc = 0;
    rc |= json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    rc |= json_object_set_new(o, "time", json_string(when));
    rc |= json_object_set_new(o, "arrival_ms", json_integer(r->arrival_ms));
    static const char *const keys[S_STR_PARAMS] = {"provider", "method", "path", "account",
                                                   "to",       "from",   "body", "sid"};
    for (int i = 0; i < S_STR_PARAMS; i++)
        rc |= json_object_set_new(o, keys[i], s_str_or_null(r->str[i]));
    rc |= json_object_set_new(o, "status", json_integer(r->status));
    rc |= json_object_set_new(o, "error_code",
                              r->error_code ? json_integer(r->error_code) : json_null());
    rc |= json_object_set_new(o, "params", params ? params : json_null());
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sb_store_query(sb_store_t *self, const char *provider, uint64_t since, size_t limit) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_mutex_lock(&self->lock);
    /* Sequence numbers increase along the ring: binary-search the first one > since. */
    size_t lo = 0, hi = self->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->ring[(self->head + mid) % self->cap]->seq <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool failed = false;
    for (size_t i = lo; i < self->len && json_array_size(arr) < limit; i++) {
        const s_rec_t *r = self->ring[(self->head + i) % self->cap];
        if (provider && (!r->str[S_STR_PROVIDER] || strcmp(r->str[S_STR_PROVIDER], provider)))
            continue;
        if (json_array_append_new(arr, s_rec_json(r)) != 0) {
            failed = true;
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
    if (failed) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *sb_store_stats(sb_store_t *self) {
    json_t *providers = json_object();
    pthread_mutex_lock(&self->lock);
    json_t *o =
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "received", (json_int_t)self->received, "stored",
                  (json_int_t)self->len, "dropped", (json_int_t)self->dropped, "last_seq",
                  (json_int_t)(self->next_seq - 1), "capacity", (json_int_t)self->cap);
    int rc = (o && providers) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < self->n_providers; i++) {
        const s_provider_count_t *pc = &self->providers[i];
        json_t *statuses = json_object();
        rc |= statuses ? 0 : -1;
        for (size_t k = 0; rc == 0 && k < pc->n_statuses; k++) {
            char key[16];
            if (pc->statuses[k].status == 0)
                snprintf(key, sizeof key, "timeout");
            else
                snprintf(key, sizeof key, "%d", pc->statuses[k].status);
            rc |=
                json_object_set_new(statuses, key, json_integer((json_int_t)pc->statuses[k].count));
        }
        rc |= json_object_set_new(
            providers, pc->name,
            json_pack("{s:I, s:o}", "total", (json_int_t)pc->total, "status", statuses));
    }
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        json_decref(providers);
        json_decref(o);
        return NULL;
    }
    if (json_object_set_new(o, "providers", providers) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

uint64_t sb_store_count(sb_store_t *self, const char *provider) {
    pthread_mutex_lock(&self->lock);
    uint64_t n = provider ? 0 : self->received;
    for (size_t i = 0; provider && i < self->n_providers; i++)
        if (strcmp(self->providers[i].name, provider) == 0)
            n = self->providers[i].total;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void sb_store_reset(sb_store_t *self) {
    pthread_mutex_lock(&self->lock);
    s_clear_records(self);
    s_clear_counters(self);
    pthread_mutex_unlock(&self->lock);
}
