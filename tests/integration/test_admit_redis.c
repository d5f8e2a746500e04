/* test_admit_redis.c — admission against a real redis-server (PG_REDIS_SOCK, see with_redis.sh).
 *
 * Checks the guarantees admission owns: caps never exceeded by concurrent submitters, a job id
 * admitted once whatever the concurrency, suppression, deferral and re-admission, caps within one
 * batch, and failing closed when Redis is gone. Prints "N passed, M failed". */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "rl_admit.h"
#include "rl_policyset.h"
#include "st_fn.h"
#include "st_keys.h"
#include "st_suppress.h"

#include "it_check.h"
#include "it_redis.h"

static const rl_policy_t *s_policy;
/* 2026-03-11 15:00 UTC = 10:00 in Bogota (a Wednesday, not a holiday). */
static const int64_t NOON = 1773241200;

static st_keys_t *s_keys; /* the layout every test uses: prefix pg, 16 shards */

/* An admitter with its own function caller on connection c (freed by s_admit_free). */
static rl_admit_t *s_admit_new(redisContext *c, st_fn_t **fn) {
    *fn = st_fn_new(c);
    return rl_admit_new(c, s_keys, *fn);
}
static void s_admit_free(rl_admit_t **adm, st_fn_t **fn) {
    rl_admit_destroy(adm);
    st_fn_destroy(fn);
}

/* Sum of integer replies of `cmd KEY` over every shard's structure `what`. */
static long long s_shared_sum(redisContext *c, const char *cmd, const char *what) {
    long long sum = 0;
    for (int s = 0; s < st_keys_shards(s_keys); s++) {
        char key[ST_KEY_MAX];
        st_key_shared(s_keys, s, what, key, sizeof key);
        redisReply *r = redisCommand(c, "%s %s", cmd, key);
        sum += r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);
    }
    return sum;
}

static const char *s_hkey(const char *debtor, char *buf) {
    st_key_history(s_keys, "acme", debtor, buf, ST_KEY_MAX);
    return buf;
}
static const char *s_jkey(const char *debtor, const char *job, char *buf) {
    st_key_job(s_keys, "acme", debtor, job, buf, ST_KEY_MAX);
    return buf;
}
static const char *s_dkey(const char *debtor, char *buf) {
    st_key_shared(s_keys, st_keys_shard(s_keys, "acme", debtor), "deferred", buf, ST_KEY_MAX);
    return buf;
}

static redisContext *s_connect(void);

/* Field f of the audit record of (debtor, job) whose "to" is `to`; "" if none. */
static void s_audit_field(const char *debtor, const char *job, const char *to, const char *f,
                          char *buf, size_t len) {
    char key[ST_KEY_MAX];
    st_key_shared(s_keys, st_keys_shard(s_keys, "acme", debtor), "audit", key, sizeof key);
    redisContext *c = s_connect();
    redisReply *r = redisCommand(c, "XRANGE %s - +", key);
    buf[0] = '\0';
    for (size_t e = 0; r && r->type == REDIS_REPLY_ARRAY && e < r->elements; e++) {
        const redisReply *kv = r->element[e]->element[1];
        const char *vjob = "", *vto = "", *vf = "";
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            const char *k = kv->element[i]->str, *v = kv->element[i + 1]->str;
            if (strcmp(k, "job") == 0)
                vjob = v;
            else if (strcmp(k, "to") == 0)
                vto = v;
            if (strcmp(k, f) == 0)
                vf = v;
        }
        if (strcmp(vjob, job) == 0 && strcmp(vto, to) == 0)
            snprintf(buf, len, "%s", vf);
    }
    freeReplyObject(r);
    redisFree(c);
}

static redisContext *s_connect(void) {
    return it_redis_connect();
}

static void s_flush(void) {
    redisContext *c = s_connect();
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    redisFree(c);
}

static void s_job(rl_admit_job_t *j, const char *debtor, const char *job_id) {
    memset(j, 0, sizeof *j);
    j->tenant = "acme";
    j->debtor = debtor;
    j->job_id = job_id;
    j->contact = "+573001112233";
    j->decide.policy = s_policy;
    j->decide.channel = RL_CH_SMS;
    j->decide.role = RL_ROLE_DEBTOR;
    j->decide.zones[0] = rl_zone_get("America/Bogota");
    j->decide.n_zones = 1;
    j->payload = "payload";
    j->payload_len = 7;
}

/* --- concurrent submitters never exceed a cap -------------------------------------------- */

#define DEBTORS   20
#define PER_BATCH 40
#define BATCHES   10
#define THREADS   4

static int s_counts[THREADS][7];

static void *s_submitter(void *arg) {
    int t = (int)(long)arg;
    redisContext *c = s_connect();
    st_fn_t *fn;
    rl_admit_t *adm = s_admit_new(c, &fn);
    static __thread char ids[PER_BATCH][64], debtors[PER_BATCH][32];
    rl_admit_job_t jobs[PER_BATCH];
    rl_admit_verdict_t out[PER_BATCH];
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER_BATCH; i++) {
            snprintf(ids[i], sizeof ids[i], "t%d-b%d-j%d", t, b, i);
            snprintf(debtors[i], sizeof debtors[i], "d%d", (i * 7 + b + t) % DEBTORS);
            s_job(&jobs[i], debtors[i], ids[i]);
        }
        rl_admit_batch(adm, jobs, PER_BATCH, NOON, out);
        for (int i = 0; i < PER_BATCH; i++)
            s_counts[t][out[i].code]++;
    }
    s_admit_free(&adm, &fn);
    redisFree(c);
    return NULL;
}

static void test_concurrent_caps(void) {
    s_flush();
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, s_submitter, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    int accepted = 0, deferred = 0, busy = 0;
    for (int t = 0; t < THREADS; t++) {
        accepted += s_counts[t][RL_V_ACCEPTED];
        deferred += s_counts[t][RL_V_DEFERRED];
        busy += s_counts[t][RL_V_BUSY];
    }
    /* cap: 3 per debtor per rolling day; 20 debtors; 1600 jobs submitted */
    CHECK(accepted == DEBTORS * 3, "accepted %d, want %d", accepted, DEBTORS * 3);
    CHECK(deferred + busy == THREADS * BATCHES * PER_BATCH - DEBTORS * 3, "deferred %d busy %d",
          deferred, busy);
    redisContext *c = s_connect();
    for (int d = 0; d < DEBTORS; d++) {
        char name[16], key[ST_KEY_MAX];
        snprintf(name, sizeof name, "d%d", d);
        redisReply *r = redisCommand(c, "HGET %s c", s_hkey(name, key));
        int records = 0;
        for (const char *p = r && r->str ? r->str : ""; *p; p++)
            records += *p == ';';
        CHECK(records == 3, "debtor d%d has %d contact records, want 3", d, records);
        freeReplyObject(r);
    }
    long long queued = s_shared_sum(c, "ZCARD", "q:sms");
    CHECK(queued == DEBTORS * 3, "ready queues hold %lld", queued);
    redisFree(c);
}

/* --- a job id is admitted once ----------------------------------------------------------- */

static int s_dup_counts[THREADS][7];

static void *s_duplicator(void *arg) {
    int t = (int)(long)arg;
    redisContext *c = s_connect();
    st_fn_t *fn;
    rl_admit_t *adm = s_admit_new(c, &fn);
    static __thread char ids[50][32], debtors[50][32];
    rl_admit_job_t jobs[50];
    rl_admit_verdict_t out[50];
    for (int i = 0; i < 50; i++) { /* same ids in every thread, distinct debtors: no cap */
        snprintf(ids[i], sizeof ids[i], "same-%d", i);
        snprintf(debtors[i], sizeof debtors[i], "u%d", i);
        s_job(&jobs[i], debtors[i], ids[i]);
    }
    rl_admit_batch(adm, jobs, 50, NOON, out);
    for (int i = 0; i < 50; i++)
        s_dup_counts[t][out[i].code]++;
    s_admit_free(&adm, &fn);
    redisFree(c);
    return NULL;
}

static void test_admitted_once(void) {
    s_flush();
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, s_duplicator, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    int accepted = 0, dup = 0;
    for (int t = 0; t < THREADS; t++) {
        accepted += s_dup_counts[t][RL_V_ACCEPTED];
        dup += s_dup_counts[t][RL_V_DUPLICATE];
    }
    CHECK(accepted == 50, "accepted %d of 50 distinct ids", accepted);
    CHECK(dup == 50 * (THREADS - 1), "duplicates %d", dup);
}

/* --- one batch: caps within the batch, duplicates within the batch ----------------------- */

static void test_single_batch(void) {
    s_flush();
    redisContext *c = s_connect();
    st_fn_t *fn;
    rl_admit_t *adm = s_admit_new(c, &fn);
    rl_admit_job_t jobs[6];
    rl_admit_verdict_t out[6];
    const char *ids[6] = {"a", "b", "a", "c", "d", "e"};
    for (int i = 0; i < 6; i++)
        s_job(&jobs[i], "solo", ids[i]);
    CHECK(rl_admit_batch(adm, jobs, 6, NOON, out) == 0, "batch failed: %s", rl_admit_strerror(adm));
    CHECK(out[0].code == RL_V_ACCEPTED, "a: %d", out[0].code);
    CHECK(out[1].code == RL_V_ACCEPTED, "b: %d", out[1].code);
    CHECK(out[2].code == RL_V_DUPLICATE && out[2].first == RL_V_ACCEPTED, "a again: %d first %d",
          out[2].code, out[2].first);
    CHECK(out[3].code == RL_V_ACCEPTED, "c: %d", out[3].code);
    CHECK(out[4].code == RL_V_DEFERRED && strcmp(out[4].rule, "test.cap") == 0 &&
              out[4].until == NOON + 86400,
          "d: %d %s until %lld", out[4].code, out[4].rule, (long long)out[4].until);
    CHECK(out[5].code == RL_V_DEFERRED, "e: %d", out[5].code);
    /* resubmitting a deferred job is a duplicate whose first verdict was DEFERRED */
    CHECK(rl_admit_batch(adm, &jobs[4], 1, NOON + 10, out) == 0, "resubmit");
    CHECK(out[0].code == RL_V_DUPLICATE && out[0].first == RL_V_DEFERRED, "d again: %d/%d",
          out[0].code, out[0].first);
    /* the deferred job comes due: re-admitted once */
    char k1[ST_KEY_MAX], k2[ST_KEY_MAX];
    redisReply *r = redisCommand(c, "ZSCORE %s %s", s_dkey("solo", k1), s_jkey("solo", "d", k2));
    CHECK(r && r->type == REDIS_REPLY_STRING && atoll(r->str) == NOON + 86400, "deferred score");
    freeReplyObject(r);
    jobs[4].readmit = 1;
    CHECK(rl_admit_batch(adm, &jobs[4], 1, NOON + 86400, out) == 0, "readmit");
    CHECK(out[0].code == RL_V_ACCEPTED, "readmitted d: %d %s", out[0].code, out[0].reason);
    CHECK(rl_admit_batch(adm, &jobs[4], 1, NOON + 86401, out) == 0, "readmit twice");
    CHECK(out[0].code == RL_V_DUPLICATE && out[0].stale, "second readmit: %d", out[0].code);
    r = redisCommand(c, "ZSCORE %s %s", s_dkey("solo", k1), s_jkey("solo", "d", k2));
    CHECK(r && r->type == REDIS_REPLY_NIL, "readmitted job left the deferred set");
    freeReplyObject(r);
    /* every decision is in the audit stream */
    long long records = s_shared_sum(c, "XLEN", "audit");
    CHECK(records == 8, "audit records %lld, want 8", records);
    /* the counters that decided are in the record: "c" was the 3rd of 3, "d" found 3 of 3 */
    char counters_c[96], counters_d[96];
    s_audit_field("solo", "c", "ACCEPTED", "counters", counters_c, sizeof counters_c);
    s_audit_field("solo", "d", "DEFERRED", "counters", counters_d, sizeof counters_d);
    CHECK(strncmp(counters_c, "3 of 3 in ", 10) == 0 && strstr(counters_c, "(test.cap)"),
          "counters of an accepted job: \"%s\"", counters_c);
    CHECK(strncmp(counters_d, "3 of 3 in ", 10) == 0, "counters of a deferred job: \"%s\"",
          counters_d);
    s_admit_free(&adm, &fn);
    redisFree(c);
}

/* --- suppression, quiet hours, invalid input --------------------------------------------- */

static void test_suppression_and_hours(void) {
    s_flush();
    redisContext *c = s_connect();
    st_fn_t *fn;
    rl_admit_t *adm = s_admit_new(c, &fn);
    st_suppress_t *sup = st_suppress_new(c, s_keys, fn);
    const st_sup_t sups[3] = {
        {"acme", ST_SUP_DEBTOR, "opted", "sms", "opt-out", "test", "STOP"},
        {"acme", ST_SUP_DEBTOR, "ceased", "*", "cease", "test", "letter"},
        {"acme", ST_SUP_CONTACT, "+573005550000", "*", "opt-out", "test", "STOP"}};
    st_sup_result_t sres[3];
    CHECK(st_suppress_add_batch(sup, sups, 3, false, NOON * 1000, sres) == 0, "suppress: %s",
          st_suppress_strerror(sup));
    st_suppress_destroy(&sup);
    rl_admit_job_t jobs[7];
    rl_admit_verdict_t out[7];
    s_job(&jobs[0], "opted", "s1");
    s_job(&jobs[1], "opted", "s2");
    jobs[1].decide.channel = RL_CH_EMAIL;
    s_job(&jobs[2], "ceased", "s3");
    s_job(&jobs[3], "night", "s4");
    s_job(&jobs[4], "bad", "s5");
    jobs[4].reject_rule = "job.fields";
    jobs[4].reject_reason = "bad-timezone";
    s_job(&jobs[5], "number", "s6"); /* this number opted out */
    jobs[5].contact = "+573005550000";
    s_job(&jobs[6], "number", "s7");
    jobs[6].contact = "+573009998877"; /* another number of the same debtor */
    /* 2026-03-11 03:00 UTC = 22:00 in Bogota the evening before: window closed until 06:00 */
    const int64_t night = NOON - 12 * 3600;
    CHECK(rl_admit_batch(adm, jobs, 7, night, out) == 0, "batch: %s", rl_admit_strerror(adm));
    CHECK(out[0].code == RL_V_REJECTED && strcmp(out[0].rule, "suppressed.debtor:opt-out") == 0,
          "opted-out sms: %d %s", out[0].code, out[0].rule);
    CHECK(out[1].code == RL_V_DEFERRED, "email to opted-out-of-sms debtor, at night: %d",
          out[1].code);
    CHECK(out[2].code == RL_V_REJECTED && strcmp(out[2].rule, "suppressed.debtor:cease") == 0,
          "ceased: %s", out[2].rule);
    CHECK(out[3].code == RL_V_DEFERRED && strcmp(out[3].rule, "test.hours") == 0 &&
              out[3].until == NOON - 4 * 3600,
          "night: %d %s %lld", out[3].code, out[3].rule, (long long)out[3].until);
    CHECK(out[4].code == RL_V_REJECTED && strcmp(out[4].reason, "bad-timezone") == 0,
          "invalid: %d %s", out[4].code, out[4].reason);
    CHECK(out[5].code == RL_V_REJECTED && strcmp(out[5].rule, "suppressed.contact:opt-out") == 0,
          "opted-out number: %d %s", out[5].code, out[5].rule);
    CHECK(out[6].code == RL_V_DEFERRED, "the debtor's other number: %d %s", out[6].code,
          out[6].rule);
    /* an invalid job leaves no state: the corrected job can be submitted under the same id */
    char jk[ST_KEY_MAX];
    redisReply *r = redisCommand(c, "EXISTS %s", s_jkey("bad", "s5", jk));
    CHECK(r && r->integer == 0, "invalid job stored");
    freeReplyObject(r);
    s_admit_free(&adm, &fn);
    redisFree(c);
}

/* --- Redis gone: fail closed ------------------------------------------------------------- */

static void test_fail_closed(void) {
    redisContext *victim = s_connect(), *killer = s_connect();
    redisReply *id = redisCommand(victim, "CLIENT ID");
    freeReplyObject(redisCommand(killer, "CLIENT KILL ID %lld", id->integer));
    freeReplyObject(id);
    st_fn_t *fn;
    rl_admit_t *adm = s_admit_new(victim, &fn);
    rl_admit_job_t job;
    rl_admit_verdict_t out;
    s_job(&job, "gone", "g1");
    int rc = rl_admit_batch(adm, &job, 1, NOON, &out);
    CHECK(rc == -1 && out.code == RL_V_BUSY && strcmp(out.reason, "redis-unavailable") == 0,
          "rc %d code %d reason %s", rc, out.code, out.reason);
    CHECK(rl_admit_strerror(adm)[0] != '\0', "an error message");
    s_admit_free(&adm, &fn);
    redisFree(victim);
    redisFree(killer);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a write to a dead Redis must be an error, not a death */
    rl_policy_t *p = it_test_policy();
    s_policy = p;
    s_keys = st_keys_new("pg", 16);
    test_concurrent_caps();
    test_admitted_once();
    test_single_batch();
    test_suppression_and_hours();
    test_fail_closed();
    rl_policy_destroy(&p);
    st_keys_destroy(&s_keys);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
