/* bench_admit.c — admission throughput of rl_admit_batch against a real redis-server.
 *
 * Usage: bench_admit SOCKET [JOBS]. Submits JOBS jobs (default 200,000) of random debtors among
 * 100,000 under the US preset, at 10:00 in New York so the window is open, in batches of 100, 500
 * and 1000: first over one connection, then split over 2 threads with a connection each. The
 * database is flushed before every run. Prints one "RESULT" line per run (jobs/s, p50/p99 batch
 * latency, verdict counts, retries, and the ready-queue size as a cross-check). Run it through
 * bench_admit.sh, which starts the server and compares with redis-benchmark. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "rl_admit.h"
#include "st_fn.h"
#include "st_keys.h"
#include "rl_date.h"
#include "rl_policyset.h"

#define DEFAULT_JOBS 200000
#define DEBTORS      100000
#define MAX_THREADS  2
#define ID_LEN       32

static const char *s_sock;
static const rl_policy_t *s_policy;
static const rl_zone_t *s_zone;
static int64_t s_now;
/* A serialized SendRequest is about this size; bench_admit.sh sends the same 120 bytes. */
#define PAYLOAD_LEN 120
static char s_payload[PAYLOAD_LEN + 1];

typedef struct {
    char debtor[ID_LEN];
    char job_id[ID_LEN];
    rl_channel_t channel;
    uint64_t debt;
} s_spec_t;

typedef struct {
    const s_spec_t *specs;
    size_t n;
    size_t batch;
    double *lat; /* one per batch, seconds */
    size_t n_lat;
    size_t codes[7];
    uint64_t retries;
    int failed;
} s_worker_t;

static uint64_t s_rng = 0x2545f4914f6cdd1dULL;
static uint64_t s_rand(void) {
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ULL;
}

static double s_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static redisContext *s_connect(void) {
    redisContext *c = redisConnectUnix(s_sock);
    if (!c || c->err) {
        fprintf(stderr, "bench_admit: cannot connect to %s: %s\n", s_sock,
                c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

static long long s_integer(redisContext *c, const char *cmd) {
    redisReply *r = redisCommand(c, cmd);
    long long v = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

static void *s_worker(void *arg) {
    s_worker_t *w = arg;
    redisContext *c = s_connect();
    st_keys_t *keys = st_keys_new("pg", 16);
    st_fn_t *fn = st_fn_new(c);
    rl_admit_t *adm = rl_admit_new(c, keys, fn);
    rl_admit_job_t *jobs = calloc(w->batch, sizeof *jobs);
    rl_admit_verdict_t *out = calloc(w->batch, sizeof *out);
    if (!adm || !jobs || !out) {
        w->failed = 1;
        return NULL;
    }
    for (size_t i0 = 0; i0 < w->n; i0 += w->batch) {
        size_t m = w->n - i0 < w->batch ? w->n - i0 : w->batch;
        for (size_t k = 0; k < m; k++) {
            const s_spec_t *s = &w->specs[i0 + k];
            rl_admit_job_t *j = &jobs[k];
            memset(j, 0, sizeof *j);
            j->tenant = "acme";
            j->debtor = s->debtor;
            j->job_id = s->job_id;
            j->contact = "+15550000000";
            j->decide.policy = s_policy;
            j->decide.channel = s->channel;
            j->decide.role = RL_ROLE_DEBTOR;
            j->decide.debt = s->debt;
            j->decide.zones[0] = s_zone;
            j->decide.n_zones = 1;
            j->payload = s_payload;
            j->payload_len = PAYLOAD_LEN;
            j->queue_score = (double)s_now;
        }
        double t0 = s_mono();
        if (rl_admit_batch(adm, jobs, m, s_now, out) < 0) {
            fprintf(stderr, "bench_admit: %s\n", rl_admit_strerror(adm));
            w->failed = 1;
            break;
        }
        w->lat[w->n_lat++] = s_mono() - t0;
        for (size_t k = 0; k < m; k++)
            w->codes[out[k].code <= 6 ? out[k].code : 0]++;
    }
    w->retries = rl_admit_retries(adm);
    free(jobs);
    free(out);
    rl_admit_destroy(&adm);
    st_fn_destroy(&fn);
    st_keys_destroy(&keys);
    redisFree(c);
    return NULL;
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run: FLUSHALL, then `threads` workers share specs[0..n) in batches of `batch`. */
static int s_run(s_spec_t *specs, size_t n, size_t batch, int threads) {
    static int run_no;
    run_no++;
    for (size_t i = 0; i < n; i++) /* fresh job ids: a run never sees another run's jobs */
        snprintf(specs[i].job_id, sizeof specs[i].job_id, "r%d-j%zu", run_no, i);
    redisContext *c = s_connect();
    freeReplyObject(redisCommand(c, "FLUSHALL"));

    s_worker_t w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    memset(w, 0, sizeof w);
    size_t per = n / (size_t)threads;
    for (int t = 0; t < threads; t++) {
        w[t].specs = specs + (size_t)t * per;
        w[t].n = t == threads - 1 ? n - (size_t)t * per : per;
        w[t].batch = batch;
        w[t].lat = malloc((w[t].n / batch + 1) * sizeof(double));
    }
    double t0 = s_mono();
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, s_worker, &w[t]);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double el = s_mono() - t0;

    size_t n_lat = 0, codes[7] = {0};
    uint64_t retries = 0;
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        n_lat += w[t].n_lat;
        retries += w[t].retries;
        failed |= w[t].failed;
        for (int k = 0; k < 7; k++)
            codes[k] += w[t].codes[k];
    }
    double *lat = malloc((n_lat + 1) * sizeof *lat);
    size_t q = 0;
    for (int t = 0; t < threads; t++) {
        memcpy(lat + q, w[t].lat, w[t].n_lat * sizeof *lat);
        q += w[t].n_lat;
        free(w[t].lat);
    }
    qsort(lat, n_lat, sizeof *lat, s_cmp_double);
    double p50 = n_lat ? lat[(n_lat - 1) / 2] : 0, p99 = n_lat ? lat[(n_lat - 1) * 99 / 100] : 0;
    free(lat);
    long long queued = 0;
    for (int sh = 0; sh < 16; sh++)
        for (int ch = RL_CH_SMS; ch <= RL_CH_MESSENGER; ch++) {
            char cmd[96];
            snprintf(cmd, sizeof cmd, "ZCARD pg:{s%d}:q:%s", sh, rl_channel_name((rl_channel_t)ch));
            queued += s_integer(c, cmd);
        }
    redisFree(c);
    printf("RESULT threads=%d batch=%zu jobs=%zu seconds=%.3f jobs_per_s=%.0f p50_ms=%.2f "
           "p99_ms=%.2f accepted=%zu deferred=%zu busy=%zu other=%zu retries=%llu queued=%lld\n",
           threads, batch, n, el, (double)n / el, p50 * 1e3, p99 * 1e3, codes[RL_V_ACCEPTED],
           codes[RL_V_DEFERRED], codes[RL_V_BUSY],
           n - codes[RL_V_ACCEPTED] - codes[RL_V_DEFERRED] - codes[RL_V_BUSY],
           (unsigned long long)retries, queued);
    fflush(stdout);
    return failed ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_admit SOCKET [JOBS]\n");
        return 2;
    }
    s_sock = argv[1];
    memset(s_payload, 'p', PAYLOAD_LEN);
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : DEFAULT_JOBS;
    if (n == 0)
        n = DEFAULT_JOBS;
    char err[1024];
    rl_policyset_t *set = rl_policyset_load(PG_SOURCE_DIR "/deploy/policies", err, sizeof err);
    if (!set) {
        fprintf(stderr, "bench_admit: %s\n", err);
        return 1;
    }
    s_policy = rl_policyset_get(set, "US");
    s_zone = rl_zone_get("America/New_York");
    if (!s_policy || !s_zone) {
        fprintf(stderr, "bench_admit: US preset or America/New_York missing\n");
        return 1;
    }
    /* Wednesday 2026-03-11 10:00 in New York (EDT): inside us.hours */
    s_now = rl_zone_from_local(s_zone, rl_days_from_civil(2026, 3, 11), 10 * 3600);

    static const rl_channel_t chans[] = {RL_CH_SMS, RL_CH_VOICE, RL_CH_EMAIL, RL_CH_WHATSAPP};
    s_spec_t *specs = calloc(n, sizeof *specs);
    if (!specs)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s_rand() % DEBTORS);
        char loan[ID_LEN];
        snprintf(specs[i].debtor, sizeof specs[i].debtor, "d%06u", d);
        snprintf(loan, sizeof loan, "loan-%06u", d);
        specs[i].debt = rl_debt_hash(loan);
        specs[i].channel = chans[s_rand() % 4];
    }
    printf("bench_admit: %zu jobs, %d debtors, US preset, now %lld (10:00 America/New_York)\n", n,
           DEBTORS, (long long)s_now);
    static const size_t batches[] = {100, 500, 1000};
    int rc = 0;
    for (int threads = 1; threads <= MAX_THREADS; threads++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
            rc |= s_run(specs, n, batches[b], threads);
    free(specs);
    rl_policyset_destroy(&set);
    return rc ? 1 : 0;
}
