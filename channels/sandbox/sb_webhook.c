/* sb_webhook.c — callback delivery on a libcurl multi handle in one thread (see sb_webhook.h).
 *
 * Waiting jobs sit in a min-heap by due time under a mutex. The thread moves due jobs into the
 * multi handle (up to max_inflight), then sleeps in curl_multi_poll() until a transfer needs
 * attention, the next job falls due, or sb_webhook_post() wakes it with curl_multi_wakeup(). */
#include "sb_webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t due_ms;
    uint64_t seq;
    char *url;
    char *body;
    struct curl_slist *headers;
    int kind; /* index in kinds, -1 = none */
} s_job_t;

struct sb_webhook {
    sb_webhook_config_t cfg;
    pthread_mutex_t lock;
    pthread_t thread;
    bool started;
    bool stopping;
    CURLM *multi;
    s_job_t **heap;
    size_t len;
    uint64_t next_seq;
    unsigned inflight;
    CURL **active; /* the inflight easy handles, for cleanup at destroy */
    unsigned n_active;
    sb_webhook_stats_t stats;
    sb_webhook_kind_stats_t kinds[SB_WEBHOOK_MAX_KINDS];
    size_t n_kinds;
};

/* Index of kind's counters, added if new; -1 when kind is NULL or the table is full. Lock held. */
static int s_kind(sb_webhook_t *self, const char *kind) {
    if (!kind)
        return -1;
    for (size_t i = 0; i < self->n_kinds; i++) {
        if (strcmp(self->kinds[i].kind, kind) == 0)
            return (int)i;
    }
    if (self->n_kinds == SB_WEBHOOK_MAX_KINDS)
        return -1;
    self->kinds[self->n_kinds] = (sb_webhook_kind_stats_t){.kind = kind};
    return (int)self->n_kinds++;
}

/* Counts one outcome (a field of both stats structs) in all and for kind k. Lock held. */
#define S_COUNT(self, k, field)                                                                    \
    do {                                                                                           \
        (self)->stats.field++;                                                                     \
        if ((k) >= 0)                                                                              \
            (self)->kinds[(k)].field++;                                                            \
    } while (0)

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void s_job_free(s_job_t *job) {
    if (!job)
        return;
    free(job->url);
    free(job->body);
    curl_slist_free_all(job->headers);
    free(job);
}

static bool s_before(const s_job_t *a, const s_job_t *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void s_heap_push(sb_webhook_t *self, s_job_t *job) {
    size_t i = self->len++;
    self->heap[i] = job;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!s_before(self->heap[i], self->heap[p]))
            break;
        s_job_t *t = self->heap[i];
        self->heap[i] = self->heap[p];
        self->heap[p] = t;
        i = p;
    }
}

static s_job_t *s_heap_pop(sb_webhook_t *self) {
    s_job_t *top = self->heap[0];
    self->heap[0] = self->heap[--self->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->len && s_before(self->heap[l], self->heap[m]))
            m = l;
        if (r < self->len && s_before(self->heap[r], self->heap[m]))
            m = r;
        if (m == i)
            break;
        s_job_t *t = self->heap[i];
        self->heap[i] = self->heap[m];
        self->heap[m] = t;
        i = m;
    }
    return top;
}

static size_t s_discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* Creates the easy handle for job and adds it to the multi handle; job is owned by the handle
 * (CURLOPT_PRIVATE) from then on. Returns false when it could not start (job freed). */
static bool s_start(sb_webhook_t *self, s_job_t *job) {
    CURL *easy = curl_easy_init();
    if (!easy) {
        s_job_free(job);
        return false;
    }
    curl_easy_setopt(easy, CURLOPT_URL, job->url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, job->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pregon-sandbox/1 (TwilioProxy-compatible)");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)self->cfg.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        s_job_free(job);
        return false;
    }
    self->active[self->n_active++] = easy;
    self->inflight++;
    return true;
}

static void s_reap(sb_webhook_t *self) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        long code = 0;
        s_job_t *job = NULL;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&job);
        curl_multi_remove_handle(self->multi, easy);
        curl_easy_cleanup(easy);
        int kind = job ? job->kind : -1;
        s_job_free(job);
        pthread_mutex_lock(&self->lock);
        for (unsigned i = 0; i < self->n_active; i++) {
            if (self->active[i] == easy) {
                self->active[i] = self->active[--self->n_active];
                break;
            }
        }
        self->inflight--;
        if (result == CURLE_OK && code >= 200 && code < 300)
            S_COUNT(self, kind, sent);
        else
            S_COUNT(self, kind, failed);
        pthread_mutex_unlock(&self->lock);
    }
}

static void *s_run(void *arg) {
    sb_webhook_t *self = arg;
    for (;;) {
        int timeout_ms = 1000;
        pthread_mutex_lock(&self->lock);
        if (self->stopping) {
            pthread_mutex_unlock(&self->lock);
            break;
        }
        uint64_t now = s_now_ms();
        while (self->len > 0 && self->heap[0]->due_ms <= now &&
               self->inflight < self->cfg.max_inflight) {
            s_job_t *job = s_heap_pop(self);
            int kind = job->kind;
            if (!s_start(self, job))
                S_COUNT(self, kind, failed);
        }
        if (self->len > 0 && self->inflight < self->cfg.max_inflight) {
            uint64_t wait = self->heap[0]->due_ms - now;
            if (wait < (uint64_t)timeout_ms)
                timeout_ms = (int)wait;
        }
        pthread_mutex_unlock(&self->lock);
        int running = 0;
        curl_multi_poll(self->multi, NULL, 0, timeout_ms, NULL);
        curl_multi_perform(self->multi, &running);
        s_reap(self);
    }
    return NULL;
}

sb_webhook_t *sb_webhook_new(const sb_webhook_config_t *cfg) {
    if (!cfg || cfg->queue_max == 0 || cfg->max_inflight == 0)
        return NULL;
    sb_webhook_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->heap = calloc(cfg->queue_max, sizeof(*self->heap));
    self->active = calloc(cfg->max_inflight, sizeof(*self->active));
    self->multi = curl_multi_init();
    if (!self->heap || !self->active || !self->multi ||
        pthread_mutex_init(&self->lock, NULL) != 0) {
        if (self->multi)
            curl_multi_cleanup(self->multi);
        free(self->active);
        free(self->heap);
        free(self);
        return NULL;
    }
    curl_multi_setopt(self->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->max_inflight);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        sb_webhook_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void sb_webhook_destroy(sb_webhook_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_webhook_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_mutex_unlock(&self->lock);
    if (self->started) {
        curl_multi_wakeup(self->multi);
        pthread_join(self->thread, NULL);
    }
    /* The thread is gone: abandon transfers still in flight, then jobs still waiting. */
    for (unsigned i = 0; i < self->n_active; i++) {
        s_job_t *job = NULL;
        curl_easy_getinfo(self->active[i], CURLINFO_PRIVATE, (char **)&job);
        curl_multi_remove_handle(self->multi, self->active[i]);
        curl_easy_cleanup(self->active[i]);
        int kind = job ? job->kind : -1;
        s_job_free(job);
        S_COUNT(self, kind, dropped);
    }
    while (self->len > 0) {
        s_job_t *job = s_heap_pop(self);
        int kind = job->kind;
        s_job_free(job);
        S_COUNT(self, kind, dropped);
    }
    curl_multi_cleanup(self->multi);
    pthread_mutex_destroy(&self->lock);
    free(self->active);
    free(self->heap);
    free(self);
    *self_p = NULL;
}

int sb_webhook_post(sb_webhook_t *self, unsigned delay_ms, const char *url,
                    const char *content_type, const char *body, const char *header,
                    const char *kind) {
    s_job_t *job = calloc(1, sizeof(*job));
    char ctype[256];
    if (job) {
        job->url = strdup(url);
        job->body = strdup(body ? body : "");
        snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
        struct curl_slist *h = curl_slist_append(NULL, ctype);
        if (h && header) {
            struct curl_slist *h2 = curl_slist_append(h, header);
            if (!h2) {
                curl_slist_free_all(h);
                h = NULL;
            } else {
                h = h2;
            }
        }
        job->headers = h;
    }
    pthread_mutex_lock(&self->lock);
    int k = s_kind(self, kind);
    if (!job || !job->url || !job->body || !job->headers || self->stopping ||
        self->len == self->cfg.queue_max) {
        S_COUNT(self, k, dropped);
        pthread_mutex_unlock(&self->lock);
        s_job_free(job);
        return -1;
    }
    job->due_ms = s_now_ms() + delay_ms;
    job->seq = self->next_seq++;
    job->kind = k;
    s_heap_push(self, job);
    S_COUNT(self, k, queued);
    bool earliest = self->heap[0] == job;
    pthread_mutex_unlock(&self->lock);
    if (earliest)
        curl_multi_wakeup(self->multi);
    return 0;
}

void sb_webhook_stats(sb_webhook_t *self, sb_webhook_stats_t *out) {
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    out->pending = self->len + self->inflight;
    pthread_mutex_unlock(&self->lock);
}

size_t sb_webhook_kind_stats(sb_webhook_t *self, sb_webhook_kind_stats_t *out, size_t max) {
    pthread_mutex_lock(&self->lock);
    size_t n = self->n_kinds;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = self->kinds[i];
    pthread_mutex_unlock(&self->lock);
    return n;
}
