/* api_front.c — per-thread DEALER sockets to pregond's frontend (see api_front.h). */
#include "api_front.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pc_job.h"
#include "pg_curve.h"

#define MAX_SOCKETS 256

struct api_front {
    api_front_config_t cfg;
    void *ctx;
    pthread_mutex_t mu;
    void *sockets[MAX_SOCKETS]; /* every thread's, closed at destroy */
    size_t n_sockets;
    unsigned long next_id;
};

static __thread void *tl_sock;
static __thread api_front_t *tl_owner;

static char *s_dup(const char *s) {
    return s ? strdup(s) : NULL;
}

api_front_t *api_front_new(const api_front_config_t *cfg, char *err, size_t errlen) {
    pg_curve_t *probe = pg_curve_load(cfg->key_file, cfg->broker_key_file, err, errlen);
    if (!probe && err[0])
        return NULL;
    pg_curve_destroy(&probe);
    api_front_t *self = calloc(1, sizeof *self);
    self->cfg = *cfg;
    self->cfg.endpoint = s_dup(cfg->endpoint);
    self->cfg.key_file = s_dup(cfg->key_file);
    self->cfg.broker_key_file = s_dup(cfg->broker_key_file);
    self->ctx = zmq_ctx_new();
    pthread_mutex_init(&self->mu, NULL);
    return self;
}

void api_front_destroy(api_front_t **self_p) {
    if (!self_p || !*self_p)
        return;
    api_front_t *self = *self_p;
    for (size_t i = 0; i < self->n_sockets; i++)
        zmq_close(self->sockets[i]);
    zmq_ctx_term(self->ctx);
    free((char *)self->cfg.endpoint);
    free((char *)self->cfg.key_file);
    free((char *)self->cfg.broker_key_file);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/* This thread's socket, made and connected on first use; NULL with err. */
static void *s_socket(api_front_t *self, char *err, size_t errlen) {
    if (tl_sock && tl_owner == self)
        return tl_sock;
    pthread_mutex_lock(&self->mu);
    int room = self->n_sockets < MAX_SOCKETS;
    pthread_mutex_unlock(&self->mu);
    if (!room) {
        snprintf(err, errlen, "too many threads");
        return NULL;
    }
    pg_curve_t *curve = pg_curve_load(self->cfg.key_file, self->cfg.broker_key_file, err, errlen);
    void *s = zmq_socket(self->ctx, ZMQ_DEALER);
    int linger = 0, hwm = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &self->cfg.timeout_ms, sizeof self->cfg.timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    int rc = pg_curve_apply(curve, s, err, errlen);
    pg_curve_destroy(&curve);
    if (rc != 0 || zmq_connect(s, self->cfg.endpoint) != 0) {
        if (rc == 0)
            snprintf(err, errlen, "connect %s: %s", self->cfg.endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    pthread_mutex_lock(&self->mu);
    self->sockets[self->n_sockets++] = s;
    pthread_mutex_unlock(&self->mu);
    tl_sock = s;
    tl_owner = self;
    return s;
}

static int64_t s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    char id[48];
    size_t first, n;            /* the jobs of the request it holds */
    Pregon__SubmitReply *reply; /* once answered */
} s_batch_t;

static int s_send(void *sock, const char *id, Pregon__SendRequest **jobs, size_t n) {
    Pregon__SubmitBatch b = PREGON__SUBMIT_BATCH__INIT;
    b.batch_id = (char *)id;
    b.jobs = jobs;
    b.n_jobs = n;
    size_t len = pregon__submit_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len ? len : 1);
    pregon__submit_batch__pack(&b, buf);
    int rc = zmq_send(sock, buf, len, 0) < 0 ? -1 : 0;
    free(buf);
    return rc;
}

/* Cuts the sendable jobs into batches and sends them; returns how many batches, -1 on error.
 * sendable[i] marks the jobs small enough to send. */
static long s_send_all(api_front_t *self, void *sock, Pregon__SendRequest **jobs, size_t n,
                       const unsigned char *sendable, s_batch_t **out, char *err, size_t errlen) {
    s_batch_t *b = calloc(n ? n : 1, sizeof *b);
    Pregon__SendRequest **part = calloc(n ? n : 1, sizeof *part);
    long nb = 0;
    size_t i = 0;
    pthread_mutex_lock(&self->mu);
    unsigned long base = self->next_id;
    self->next_id += n + 1;
    pthread_mutex_unlock(&self->mu);
    while (i < n) {
        size_t k = 0, bytes = 0, first = i;
        for (; i < n && k < self->cfg.batch; i++) {
            if (!sendable[i])
                continue;
            size_t len = pregon__send_request__get_packed_size(jobs[i]) + 8;
            if (k > 0 && bytes + len + 64 > self->cfg.max_frame)
                break;
            part[k++] = jobs[i];
            bytes += len;
        }
        if (k == 0)
            continue;
        snprintf(b[nb].id, sizeof b[nb].id, "api-%lu", base + (unsigned long)nb);
        b[nb].first = first;
        b[nb].n = i - first;
        if (s_send(sock, b[nb].id, part, k) < 0) {
            snprintf(err, errlen, "cannot send to pregond: %s", zmq_strerror(zmq_errno()));
            nb = -1;
            break;
        }
        nb++;
    }
    free(part);
    *out = b;
    return nb;
}

/* Awaits a reply to every batch; -1 with err on a timeout or a refused batch. */
static int s_receive(api_front_t *self, void *sock, s_batch_t *b, long nb, char *err,
                     size_t errlen) {
    int64_t deadline = s_mono_ms() + self->cfg.timeout_ms;
    long pending = nb;
    while (pending > 0) {
        int64_t left = deadline - s_mono_ms();
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, (long)left) <= 0) {
            snprintf(err, errlen, "no answer from pregond within %d ms", self->cfg.timeout_ms);
            return -1;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        Pregon__SubmitReply *r =
            pregon__submit_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        long at = -1;
        for (long k = 0; r && k < nb && at < 0; k++)
            if (!b[k].reply && strcmp(b[k].id, r->batch_id) == 0)
                at = k;
        if (at < 0) { /* a late reply to an earlier request of this thread */
            if (r)
                pregon__submit_reply__free_unpacked(r, NULL);
            continue;
        }
        b[at].reply = r;
        pending--;
        if (r->error && *r->error) {
            snprintf(err, errlen, "pregond refused a batch: %s (%s)", r->error,
                     r->error_detail ? r->error_detail : "");
            return -1;
        }
    }
    return 0;
}

int api_front_submit(api_front_t *self, Pregon__SendRequest **jobs, size_t n, json_t *verdicts,
                     char *err, size_t errlen) {
    void *sock = s_socket(self, err, errlen);
    if (!sock)
        return -1;
    unsigned char *sendable = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++)
        sendable[i] = pregon__send_request__get_packed_size(jobs[i]) <= pc_job_max_bytes();
    s_batch_t *b = NULL;
    long nb = s_send_all(self, sock, jobs, n, sendable, &b, err, errlen);
    int rc = nb < 0 ? -1 : s_receive(self, sock, b, nb, err, errlen);
    for (long k = 0; rc == 0 && k < nb; k++) /* the order of the request */
        if (b[k].reply->n_verdicts != (size_t)0 && b[k].reply->n_verdicts > b[k].n) {
            snprintf(err, errlen, "pregond answered more verdicts than jobs");
            rc = -1;
        }
    long k = 0;
    size_t used = 0; /* verdicts of batch k taken */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!sendable[i]) {
            json_array_append_new(
                verdicts, pc_job_local_verdict(jobs[i]->job_id, "job.fields", "job-too-large"));
            continue;
        }
        while (k < nb && used == b[k].reply->n_verdicts)
            k++, used = 0;
        if (k >= nb) {
            snprintf(err, errlen, "pregond answered fewer verdicts than jobs");
            rc = -1;
            break;
        }
        json_array_append_new(verdicts, pc_job_verdict_json(b[k].reply->verdicts[used++]));
    }
    if (rc != 0)
        json_array_clear(verdicts);
    for (long j = 0; j < (nb > 0 ? nb : 0); j++)
        if (b[j].reply)
            pregon__submit_reply__free_unpacked(b[j].reply, NULL);
    free(b);
    free(sendable);
    return rc;
}
