/* bench_store.c — what each state-machine function costs Redis, per job: admission (pg_admit),
 * leasing (pg_lease) and reporting SENT (pg_report), measured from Redis's own account of the
 * time it spent in FCALL (INFO commandstats), so client and socket costs are left out.
 * Usage: bench_store REDIS_SOCK [JOBS] [window]. Prints one line per phase. Flushes the
 * database. "window": every job needs the 24-hour service window (rl_admit_job_t.window), open
 * for each debtor beforehand: what the window's check costs admission and lease, against a run
 * without (run both in one go and compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "brk_store.h"
#include "rl_admit.h"
#include "rl_policyset.h"
#include "st_fn.h"
#include "st_keys.h"

/* Microseconds Redis has spent in FCALL so far, and how many calls. */
static double s_fcall_usec(redisContext *c, long long *calls) {
    redisReply *r = redisCommand(c, "INFO commandstats");
    double usec = 0;
    *calls = 0;
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_fcall:") : NULL;
    if (p)
        sscanf(p, "cmdstat_fcall:calls=%lld,usec=%lf", calls, &usec);
    freeReplyObject(r);
    return usec;
}

static void s_phase(const char *name, redisContext *c, double *usec0, long long *calls0,
                    size_t jobs) {
    long long calls;
    double usec = s_fcall_usec(c, &calls);
    printf("%-8s %8.2f us of Redis per job  (%lld calls, %.1f jobs per call)\n", name,
           (usec - *usec0) / (double)jobs, calls - *calls0,
           (double)jobs / (double)(calls - *calls0 ? calls - *calls0 : 1));
    *usec0 = usec;
    *calls0 = calls;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store REDIS_SOCK [JOBS]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 20000;
    int windowed = argc > 3 && strcmp(argv[3], "window") == 0;
    redisContext *c = redisConnectUnix(argv[1]);
    if (!c || c->err)
        return 1;
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    char err[512];
    rl_policyset_t *set = rl_policyset_load(PG_SOURCE_DIR "/tests/bench/policies", err, sizeof err);
    if (!set) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    st_keys_t *keys = st_keys_new("pg", 16);
    st_fn_t *fn = st_fn_new(c);
    rl_admit_t *adm = rl_admit_new(c, keys, fn);
    brk_store_opts_t o = {86400, 5, 0, "pregond#bench"};
    brk_store_t *store = brk_store_new(c, keys, fn, &o);
    st_fn_ensure(fn);
    const int64_t now = 1773237600; /* 2026-03-11T10:00:00-04:00: inside BENCH's window */
    rl_admit_job_t *jobs = calloc(n, sizeof *jobs);
    rl_admit_verdict_t *out = calloc(n, sizeof *out);
    char(*ids)[32] = calloc(n, sizeof *ids), (*debtors)[32] = calloc(n, sizeof *debtors);
    char payload[300];
    memset(payload, 'p', sizeof payload);
    rl_job_fields_t f = {.jurisdiction = "BENCH",
                         .time_zone = "America/Mexico_City",
                         .channel_num = 1,
                         .role_num = 1};
    rl_job_t decide;
    const char *reason, *detail;
    if (rl_job_resolve(set, &f, &decide, &reason, &detail) < 0) {
        fprintf(stderr, "resolve: %s\n", reason);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "job-%zu", i);
        snprintf(debtors[i], sizeof debtors[i], "d-%zu", i);
        jobs[i] = (rl_admit_job_t){.tenant = "bench",
                                   .debtor = debtors[i],
                                   .job_id = ids[i],
                                   .contact = "+525510012345",
                                   .debt_id = "L1",
                                   .campaign = "bench",
                                   .decide = decide,
                                   .payload = payload,
                                   .payload_len = sizeof payload,
                                   .queue_score = (double)i,
                                   .window = windowed};
        if (windowed) { /* the debtor wrote: its window is open */
            char wk[ST_KEY_MAX];
            st_key_window(keys, "bench", debtors[i], "sms", "+525510012345", wk, sizeof wk);
            redisAppendCommand(c, "SET %s %lld", wk, (long long)(now + 86400) * 1000);
        }
    }
    for (size_t i = 0; windowed && i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) == REDIS_OK)
            freeReplyObject(r);
    }
    long long calls0;
    double usec0 = s_fcall_usec(c, &calls0);
    for (size_t i = 0; i < n; i += 1000)
        rl_admit_batch(adm, jobs + i, n - i < 1000 ? n - i : 1000, now, out + i);
    s_phase("admit", c, &usec0, &calls0, n);
    char(*leases)[ST_LEASE_MAX] = calloc(n, sizeof *leases);
    size_t got = 0;
    while (got < n) {
        brk_leased_t *l;
        size_t m;
        if (brk_store_lease(store, RL_CH_SMS, 512, now * 1000 + 30000, now * 1000, "anonymous/w#1",
                            NULL, &l, &m) < 0 ||
            m == 0)
            break;
        for (size_t k = 0; k < m && got < n; k++)
            snprintf(leases[got++], ST_LEASE_MAX, "%s", l[k].lease_id);
        brk_store_leased_free(l, m);
    }
    s_phase("lease", c, &usec0, &calls0, got);
    brk_report_t *reps = calloc(256, sizeof *reps);
    char(*states)[BRK_STATE_LEN] = calloc(256, sizeof *states);
    for (size_t i = 0; i < got; i += 256) {
        size_t m = got - i < 256 ? got - i : 256;
        for (size_t k = 0; k < m; k++)
            reps[k] = (brk_report_t){leases[i + k], "SENT", "SM0123456789abcdef", "", "", 0,
                                     "anonymous/w#"}; /* a worker's: nonce and holder checked */
        brk_store_report_many(store, reps, m, now * 1000 + 100, states);
    }
    s_phase("report", c, &usec0, &calls0, got);
    brk_store_destroy(&store);
    rl_admit_destroy(&adm);
    st_fn_destroy(&fn);
    st_keys_destroy(&keys);
    rl_policyset_destroy(&set);
    redisFree(c);
    free(jobs), free(out), free(ids), free(debtors), free(leases), free(reps), free(states);
    return 0;
}
