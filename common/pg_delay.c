/* pg_delay.c — binary min-heap of (due time, callback) served by one thread (see pg_delay.h).
 *
 * Times are CLOCK_MONOTONIC milliseconds; the condition variable waits on the same clock. Entries
 * with the same due time run in scheduling order (a sequence number breaks ties). Callbacks run
 * without the lock held, so they may schedule again. */
#include "pg_delay.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    uint64_t due_ms;
    uint64_t seq;
    pg_delay_fn fn;
    void *arg;
} s_entry_t;

struct pg_delay {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool thread_started;
    bool stopping;
    bool stopped;
    s_entry_t *heap;
    size_t len;
    size_t cap;
    uint64_t next_seq;
};

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool s_before(const s_entry_t *a, const s_entry_t *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void s_swap(s_entry_t *a, s_entry_t *b) {
    s_entry_t t = *a;
    *a = *b;
    *b = t;
}

static void s_sift_up(s_entry_t *h, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(&h[i], &h[parent]))
            break;
        s_swap(&h[i], &h[parent]);
        i = parent;
    }
}

static void s_sift_down(s_entry_t *h, size_t len, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && s_before(&h[l], &h[m]))
            m = l;
        if (r < len && s_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        s_swap(&h[i], &h[m]);
        i = m;
    }
}

static s_entry_t s_pop(pg_delay_t *self) {
    s_entry_t top = self->heap[0];
    self->heap[0] = self->heap[--self->len];
    s_sift_down(self->heap, self->len, 0);
    return top;
}

static void *s_run(void *arg) {
    pg_delay_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        if (self->len == 0) {
            pthread_cond_wait(&self->wake, &self->lock);
            continue;
        }
        uint64_t now = s_now_ms();
        if (self->heap[0].due_ms > now) {
            uint64_t due = self->heap[0].due_ms;
            struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};
            pthread_cond_timedwait(&self->wake, &self->lock, &ts);
            continue;
        }
        s_entry_t e = s_pop(self);
        pthread_mutex_unlock(&self->lock);
        e.fn(e.arg, false);
        pthread_mutex_lock(&self->lock);
    }
    /* Stopping: cancel whatever is left, in due order. */
    while (self->len > 0) {
        s_entry_t e = s_pop(self);
        pthread_mutex_unlock(&self->lock);
        e.fn(e.arg, true);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

pg_delay_t *pg_delay_new(void) {
    pg_delay_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(self);
        return NULL;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(self);
        return NULL;
    }
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        pthread_cond_destroy(&self->wake);
        free(self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        pg_delay_destroy(&self);
        return NULL;
    }
    self->thread_started = true;
    return self;
}

int pg_delay_schedule(pg_delay_t *self, unsigned delay_ms, pg_delay_fn fn, void *arg) {
    pthread_mutex_lock(&self->lock);
    if (self->stopping) {
        pthread_mutex_unlock(&self->lock);
        return -1;
    }
    if (self->len == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        s_entry_t *h = realloc(self->heap, cap * sizeof(*h));
        if (!h) {
            pthread_mutex_unlock(&self->lock);
            return -1;
        }
        self->heap = h;
        self->cap = cap;
    }
    self->heap[self->len] = (s_entry_t){s_now_ms() + delay_ms, self->next_seq++, fn, arg};
    s_sift_up(self->heap, self->len++);
    /* Wake the thread only when the earliest deadline changed. */
    if (self->heap[0].seq == self->next_seq - 1)
        pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

void pg_delay_stop(pg_delay_t *self) {
    pthread_mutex_lock(&self->lock);
    bool join = self->thread_started && !self->stopped;
    self->stopping = true;
    self->stopped = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    if (join)
        pthread_join(self->thread, NULL);
}

unsigned pg_delay_pending(pg_delay_t *self) {
    pthread_mutex_lock(&self->lock);
    unsigned n = (unsigned)self->len;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void pg_delay_destroy(pg_delay_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_delay_t *self = *self_p;
    pg_delay_stop(self);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self->heap);
    free(self);
    *self_p = NULL;
}
