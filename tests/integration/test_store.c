/* test_store.c — the job state machine (store/pregon.lua) against a real redis-server.
 *
 * For every state a job can be in and every transition label, sets a job in that state and asks
 * the library for that transition through the function that makes it: an allowed one must leave
 * the job in the table's target state with exactly one new audit record (from, to, schema v1);
 * a refused one must leave the job as it was and write nothing. Also checks that the library's
 * table (FCALL_RO pg_table) is the C mirror's (store/st_state.h), field for field, and that an
 * audit record has the schema's fields in order. PG_REDIS_SOCK: see with_redis.sh.
 * Prints "N passed, M failed". */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "st_fn.h"
#include "st_keys.h"
#include "st_state.h"
#include "st_suppress.h"

#include "it_check.h"
#include "it_redis.h"

static redisContext *s_c;
static st_keys_t *s_keys;
static st_fn_t *s_fn;
static const char *const NOW = "1773241200000";

/* The keys of one test job: tenant "t", a debtor of its own. */
typedef struct {
    char debtor[32], job[32];
    int shard;
    char jk[ST_KEY_MAX], hk[ST_KEY_MAX], sk[ST_KEY_MAX];
    char q[ST_KEY_MAX], leases[ST_KEY_MAX], audit[ST_KEY_MAX], deferred[ST_KEY_MAX],
        retry[ST_KEY_MAX];
    char qs[5][ST_KEY_MAX]; /* every channel's queue, as pg_release takes them */
} s_job_t;

static void s_job(s_job_t *j, int n) {
    memset(j, 0, sizeof *j);
    snprintf(j->debtor, sizeof j->debtor, "d%d", n);
    snprintf(j->job, sizeof j->job, "j%d", n);
    j->shard = st_keys_shard(s_keys, "t", j->debtor);
    st_key_job(s_keys, "t", j->debtor, j->job, j->jk, sizeof j->jk);
    st_key_history(s_keys, "t", j->debtor, j->hk, sizeof j->hk);
    st_key_suppress(s_keys, j->shard, "t", j->sk, sizeof j->sk);
    st_key_shared(s_keys, j->shard, "q:sms", j->q, sizeof j->q);
    st_key_shared(s_keys, j->shard, "leases", j->leases, sizeof j->leases);
    st_key_shared(s_keys, j->shard, "audit", j->audit, sizeof j->audit);
    st_key_shared(s_keys, j->shard, "deferred", j->deferred, sizeof j->deferred);
    st_key_shared(s_keys, j->shard, "retry", j->retry, sizeof j->retry);
    static const char *const ch[5] = {"q:sms", "q:whatsapp", "q:voice", "q:email", "q:messenger"};
    for (int i = 0; i < 5; i++)
        st_key_shared(s_keys, j->shard, ch[i], j->qs[i], sizeof j->qs[i]);
}

static void s_cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(s_c, fmt, ap);
    va_end(ap);
    freeReplyObject(r);
}

/* Puts j in `state` (ST_NEW: nothing stored) with attempt 1, indexed where that state is. */
static void s_set_state(const s_job_t *j, st_state_t state) {
    if (state == ST_NEW)
        return;
    static const char x[] = "\0\0+573001112233\0UTC\0"
                            "0"; /* debt campaign contact zone off */
    s_cmd("HSET %s s %s att 1 p payload id %s tn t db %s ch sms x %b qs 5", j->jk,
          st_state_names[state], j->job, j->debtor, x, sizeof x - 1);
    if (state == ST_QUEUED)
        s_cmd("ZADD %s 5 %s", j->q, j->jk);
    else if (state == ST_DEFERRED)
        s_cmd("ZADD %s 1 %s", j->deferred, j->jk);
    else if (state == ST_DISPATCHED)
        s_cmd("ZADD %s 99999999999999 %s", j->leases, j->jk);
    else if (state == ST_RETRY)
        s_cmd("ZADD %s 1 %s", j->retry, j->jk);
}

/* The job's stored state ("new" when absent). */
static void s_state_of(const s_job_t *j, char *buf, size_t len) {
    redisReply *r = redisCommand(s_c, "HGET %s s", j->jk);
    snprintf(buf, len, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "new");
    freeReplyObject(r);
}

/* Field `f` of an audit record (the flat field/value array kv), or "". */
static const char *s_field(const redisReply *kv, const char *f) {
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (strcmp(kv->element[i]->str, f) == 0)
            return kv->element[i + 1]->str;
    return "";
}

/* How many audit records of the shard are about job j; the last one's field `f` into buf. */
static long long s_audit_of(const s_job_t *j, const char *f, char *buf, size_t len) {
    long long n = 0;
    if (buf)
        buf[0] = '\0';
    redisReply *r = redisCommand(s_c, "XRANGE %s - +", j->audit);
    for (size_t e = 0; r && r->type == REDIS_REPLY_ARRAY && e < r->elements; e++) {
        const redisReply *kv = r->element[e]->element[1];
        if (strcmp(s_field(kv, "job"), j->job) != 0)
            continue;
        n++;
        if (buf)
            snprintf(buf, len, "%s", s_field(kv, f));
    }
    freeReplyObject(r);
    return n;
}

static void s_last_audit(const s_job_t *j, const char *f, char *buf, size_t len) {
    s_audit_of(j, f, buf, len);
}

static redisReply *s_fcall(const char *name, int argc, const char **argv) {
    size_t argl[64];
    for (int i = 0; i < argc; i++)
        argl[i] = (size_t)-1;
    return st_fn_call(s_fn, name, argc, argv, argl);
}

/* Asks for transition t of job j through the function that makes it: REJECTED of a job that is
 * neither new nor deferred is asked of pg_lease, with the debtor under cease-communication. */
static void s_attempt(const s_job_t *j, st_state_t from, st_transition_t t) {
    redisReply *r = NULL;
    bool at_lease = t == ST_T_REJECTED && from != ST_NEW && from != ST_DEFERRED;
    if (t <= ST_T_EXPIRED && !at_lease) { /* admission: a new job, or a deferred one coming due */
        const char action[2] = {"ADRE"[t - ST_T_ACCEPTED], 0};
        const char *readmit = from == ST_NEW ? "0" : "1";
        const char *argv[] = {NULL,
                              NULL,
                              "6",
                              j->audit,
                              j->deferred,
                              j->hk,
                              j->jk,
                              j->sk,
                              j->q,
                              NOW,
                              "100",
                              "100",
                              j->job,
                              "t",
                              j->debtor,
                              readmit,
                              "0",
                              action,
                              "1773244800",
                              "r.rule",
                              "reason",
                              "1773241200,1,0,1,1;",
                              "payload",
                              "sms",
                              "+573001112233",
                              "5",
                              "x",
                              ""};
        static const char x[] = "\0\0+573001112233\0UTC\0"
                                "0"; /* debt campaign contact zone offset, as rl_admit packs it */
        size_t argl[28];
        for (int i = 0; i < 28; i++)
            argl[i] = (size_t)-1;
        argv[26] = x;
        argl[26] = sizeof x - 1;
        r = st_fn_call(s_fn, "pg_admit", 28, argv, argl);
    } else if (t == ST_T_DISPATCHED || at_lease) {
        static const char body[] = "cease\0"
                                   "1\0ops\0test";
        if (at_lease)
            s_cmd("HSET %s d|%s|* %b", j->sk, j->debtor, body, sizeof body - 1);
        s_cmd("ZADD %s 5 %s", j->q, j->jk); /* whatever its state, the queue names it */
        const char *argv[] = {NULL, NULL,  "3",   j->q, j->leases, j->audit, "10", "99999999999999",
                              NOW,  "w#1", "b#1", "100"};
        r = s_fcall("pg_lease", 12, argv);
        if (at_lease)
            s_cmd("DEL %s", j->sk);
    } else if (t == ST_T_QUEUED) {
        s_cmd("ZADD %s 1 %s", j->retry, j->jk);
        const char *argv[] = {NULL,         NULL,     "7",      j->retry, j->audit,
                              j->qs[0],     j->qs[1], j->qs[2], j->qs[3], j->qs[4],
                              "1773241200", "100",    NOW};
        r = s_fcall("pg_release", 13, argv);
    } else if (t == ST_T_PAUSED) { /* dispatch finds the job's tenant paused: parked */
        char pk[256], pz[256];
        snprintf(pk, sizeof pk, "%.*spause", (int)(strlen(j->audit) - 5), j->audit);
        snprintf(pz, sizeof pz, "%.*spaused", (int)(strlen(j->audit) - 5), j->audit);
        static const char field[] = "t\0\0", value[] = "ops\0test\0"
                                                       "1773241200000";
        s_cmd("HSET %s %b %b", pk, field, sizeof field - 1, value, sizeof value - 1);
        s_cmd("ZADD %s 5 %s", j->q, j->jk);
        const char *argv[] = {NULL,     NULL,  "5",   j->q, j->leases,
                              j->audit, pk,    pz,    "10", "99999999999999",
                              NOW,      "w#1", "b#1", "100"};
        r = s_fcall("pg_lease", 14, argv);
        s_cmd("DEL %s %s", pk, pz);
    } else if (t == ST_T_CANCELLED) {
        const char *argv[] = {NULL,  NULL, "5", j->audit, j->deferred, j->retry,
                              j->jk, j->q, NOW, "100",    "ops@test",  "test"};
        r = s_fcall("pg_cancel", 12, argv);
    } else { /* a report */
        static const char *const outcome[] = {
            [ST_T_SENT] = "SENT",      [ST_T_DELIVERED] = "DELIVERED",  [ST_T_FAILED] = "FAILED",
            [ST_T_RETRY] = "RETRY",    [ST_T_HANDED_BACK] = "HANDBACK", [ST_T_SKIPPED] = "SKIPPED",
            [ST_T_UNKNOWN] = "UNKNOWN"};
        const char *argv[] = {NULL,  NULL,  "6", j->leases, j->retry,     j->audit, j->deferred,
                              j->jk, j->hk, NOW, "100",     "5",          ",",      outcome[t],
                              "1",   "SMx", "",  "detail",  "1773241300", "1"};
        r = s_fcall("pg_report", 20, argv);
    }
    if (!r)
        fprintf(stderr, "call for %s from %s: %s\n", st_rules[t].label, st_state_names[from],
                st_fn_strerror(s_fn));
    freeReplyObject(r);
}

/* Every state x every transition. */
static void test_every_transition(void) {
    int n = 0;
    for (int from = 0; from < ST_STATE_COUNT; from++) {
        for (int t = 0; t < ST_TRANSITION_COUNT; t++) {
            s_job_t j;
            s_job(&j, n++);
            /* the shard's shared structures hold this job alone */
            s_cmd("DEL %s %s %s %s", j.q, j.leases, j.retry, j.deferred);
            s_set_state(&j, (st_state_t)from);
            long long before = s_audit_of(&j, "to", NULL, 0);
            s_attempt(&j, (st_state_t)from, (st_transition_t)t);
            long long after = s_audit_of(&j, "to", NULL, 0);
            char now_state[32], a_from[32], a_to[32];
            s_state_of(&j, now_state, sizeof now_state);
            const st_rule_t *rule = &st_rules[t];
            bool allowed = rule->from & ST_BIT(from);
            if (allowed) {
                s_last_audit(&j, "from", a_from, sizeof a_from);
                s_last_audit(&j, "to", a_to, sizeof a_to);
                CHECK(strcmp(now_state, st_state_names[rule->to]) == 0,
                      "%s -> %s: state %s, want %s", st_state_names[from], rule->label, now_state,
                      st_state_names[rule->to]);
                CHECK(after == before + 1, "%s -> %s: %lld audit records, want 1",
                      st_state_names[from], rule->label, after - before);
                CHECK(strcmp(a_from, st_state_names[from]) == 0 && strcmp(a_to, rule->label) == 0,
                      "%s -> %s: audit record says %s -> %s", st_state_names[from], rule->label,
                      a_from, a_to);
            } else {
                CHECK(strcmp(now_state, st_state_names[from]) == 0,
                      "refused %s -> %s: state changed to %s", st_state_names[from], rule->label,
                      now_state);
                CHECK(after == before, "refused %s -> %s: %lld audit records written",
                      st_state_names[from], rule->label, after - before);
            }
        }
    }
}

/* The library's table is the C mirror's. */
static void test_table_mirrors_c(void) {
    redisReply *r = redisCommand(s_c, "FCALL_RO pg_table 0");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == ST_TRANSITION_COUNT,
          "pg_table: %zu rows, want %d", r ? r->elements : 0, ST_TRANSITION_COUNT);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *row = r->element[i];
        int t = -1;
        for (int k = 0; k < ST_TRANSITION_COUNT; k++)
            if (strcmp(st_rules[k].label, row->element[0]->str) == 0)
                t = k;
        CHECK(t >= 0, "label %s of the library is not in st_state.h", row->element[0]->str);
        if (t < 0)
            continue;
        CHECK(st_state_parse(row->element[1]->str) == (int)st_rules[t].to, "%s enters %s in Lua",
              st_rules[t].label, row->element[1]->str);
        unsigned from = 0;
        for (size_t f = 2; f < row->elements; f++)
            from |= ST_BIT(st_state_parse(row->element[f]->str));
        CHECK(from == st_rules[t].from, "%s: the states it may leave differ", st_rules[t].label);
    }
    freeReplyObject(r);
}

/* The fields of the last audit record of job j, in order, as "a b c". */
static void s_fields_of(const s_job_t *j, char *buf, size_t len) {
    buf[0] = '\0';
    redisReply *r = redisCommand(s_c, "XREVRANGE %s + - COUNT 1", j->audit);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        const redisReply *kv = r->element[0]->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "",
                     kv->element[i]->str);
    }
    freeReplyObject(r);
}

/* Audit records: schema v2's fields in order, for each kind of record (pregon.lua's header). */
static void test_audit_schema(void) {
    static const char *const decision = "v at job tenant debtor channel from to attempt debt "
                                        "campaign contact rule reason until pid pcode local zone "
                                        "counters detail template jurisdiction";
    static const char *const dispatch = "v at job tenant debtor channel from to attempt debt "
                                        "campaign contact local zone template jurisdiction";
    static const char *const outcome =
        "v at job tenant debtor channel from to attempt reason until pid pcode detail debt "
        "campaign contact local zone template jurisdiction";
    s_job_t j;
    s_job(&j, 9999);
    s_cmd("DEL %s %s", j.audit, j.q);
    char fields[1024], v[8], local[40], zone[40], contact[40];
    s_attempt(&j, ST_NEW, ST_T_ACCEPTED);
    s_fields_of(&j, fields, sizeof fields);
    CHECK(strcmp(fields, decision) == 0, "a decision record has fields: %s", fields);
    s_last_audit(&j, "v", v, sizeof v);
    s_last_audit(&j, "local", local, sizeof local);
    s_last_audit(&j, "zone", zone, sizeof zone);
    s_last_audit(&j, "contact", contact, sizeof contact);
    CHECK(strcmp(v, "2") == 0, "schema version %s", v);
    CHECK(strcmp(local, "2026-03-11T15:00:00+00:00") == 0, "local time %s", local);
    CHECK(strcmp(zone, "UTC") == 0 && strcmp(contact, "+573001112233") == 0, "zone %s contact %s",
          zone, contact);
    s_attempt(&j, ST_QUEUED, ST_T_DISPATCHED);
    s_fields_of(&j, fields, sizeof fields);
    CHECK(strcmp(fields, dispatch) == 0, "a DISPATCHED record has fields: %s", fields);
    s_last_audit(&j, "contact", contact, sizeof contact);
    s_last_audit(&j, "local", local, sizeof local);
    CHECK(strcmp(contact, "+573001112233") == 0 && strcmp(local, "2026-03-11T15:00:00+00:00") == 0,
          "the DISPATCHED record names the contact (%s) and the local time (%s)", contact, local);
    s_attempt(&j, ST_DISPATCHED, ST_T_SENT);
    s_fields_of(&j, fields, sizeof fields);
    CHECK(strcmp(fields, outcome) == 0, "an outcome record has fields: %s", fields);
    s_last_audit(&j, "contact", contact, sizeof contact); /* v2: the job's context */
    CHECK(strcmp(contact, "+573001112233") == 0, "the SENT record names the contact (%s)", contact);
    /* a queued job rejected at dispatch: a decision record, with the rule */
    s_job_t q;
    s_job(&q, 9998);
    s_set_state(&q, ST_QUEUED);
    s_attempt(&q, ST_QUEUED, ST_T_REJECTED);
    s_fields_of(&q, fields, sizeof fields);
    CHECK(strcmp(fields, decision) == 0, "a REJECTED-at-dispatch record has fields: %s", fields);
    char rule[64], detail[64];
    s_last_audit(&q, "rule", rule, sizeof rule);
    s_last_audit(&q, "detail", detail, sizeof detail);
    CHECK(strcmp(rule, "suppressed.debtor:cease") == 0 && strcmp(detail, "dispatch re-check") == 0,
          "rejected at dispatch: rule %s detail %s", rule, detail);
    /* a suppression change (a debtor's: audited in the debtor's shard, j's) */
    static const char *const change = "v at job tenant debtor channel from to attempt scope value "
                                      "rule who why detail";
    st_suppress_t *sup = st_suppress_new(s_c, s_keys, s_fn);
    st_sup_t one = {"t", ST_SUP_DEBTOR, j.debtor, "sms", "operator", "ops@test", "asked"};
    st_sup_result_t res;
    CHECK(st_suppress_add(sup, &one, false, 1773241200000, &res) == 0 &&
              res.outcome == ST_SUP_ADDED,
          "add: %s %s", st_sup_outcome_name(res.outcome), st_suppress_strerror(sup));
    s_fields_of(&j, fields, sizeof fields);
    CHECK(strcmp(fields, change) == 0, "a suppression record has fields: %s", fields);
    st_suppress_destroy(&sup);
}

int main(void) {
    s_c = it_redis_connect();
    s_keys = st_keys_new("pg", 16);
    s_fn = st_fn_new(s_c);
    CHECK(it_redis_fresh(s_c, s_fn) == 0, "an empty Redis with the library loaded");
    test_table_mirrors_c();
    test_every_transition();
    test_audit_schema();
    st_fn_destroy(&s_fn);
    st_keys_destroy(&s_keys);
    redisFree(s_c);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
