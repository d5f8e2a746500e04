/* test_suppress.c — suppressions (store/st_suppress.h) against a real redis-server
 * (PG_REDIS_SOCK, see with_redis.sh; the cluster.suppress entry runs it on a cluster node).
 *
 * Checks that a contact-point suppression blocks every debtor of its tenant and no other
 * tenant's; that debtor, debtor-channel, debt and cease suppressions block what they name and
 * nothing else; that jobs already queued are checked again at dispatch (queued -> REJECTED with
 * the rule, audited, never leased), retries included; that removing restores, remove-if-rule
 * keeps another rule's suppression and an opt-out never overwrites one; that each change is
 * audited once; that listing sees each suppression once; and the batched add of an import.
 * Prints "N passed, M failed". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "brk_store.h"
#include "rl_admit.h"
#include "rl_policyset.h"
#include "st_fn.h"
#include "st_keys.h"
#include "st_suppress.h"

#include "it_check.h"
#include "it_redis.h"

static const rl_policy_t *s_policy;
static redisContext *s_c;
static st_keys_t *s_keys;
static st_fn_t *s_fn;
static rl_admit_t *s_adm;
static st_suppress_t *s_sup;
static brk_store_t *s_store;
/* 2026-03-11 15:00 UTC = 10:00 in Bogota (a Wednesday, not a holiday). */
static const int64_t NOON = 1773241200;

static void s_flush(void) {
    freeReplyObject(redisCommand(s_c, "FLUSHALL"));
}

static void s_job(rl_admit_job_t *j, const char *tenant, const char *debtor, const char *job_id,
                  const char *contact, rl_channel_t ch, const char *debt) {
    memset(j, 0, sizeof *j);
    j->tenant = tenant;
    j->debtor = debtor;
    j->job_id = job_id;
    j->contact = contact;
    j->debt_id = debt;
    j->campaign = "c1";
    j->decide.policy = s_policy;
    j->decide.channel = ch;
    j->decide.role = RL_ROLE_DEBTOR;
    j->decide.zones[0] = rl_zone_get("America/Bogota");
    j->decide.n_zones = 1;
    j->payload = "payload";
    j->payload_len = 7;
}

/* Admits one job at NOON; its verdict. */
static rl_admit_verdict_t s_admit1(const char *tenant, const char *debtor, const char *job_id,
                                   const char *contact, rl_channel_t ch, const char *debt) {
    rl_admit_job_t j;
    rl_admit_verdict_t v;
    s_job(&j, tenant, debtor, job_id, contact, ch, debt);
    if (rl_admit_batch(s_adm, &j, 1, NOON, &v) < 0)
        fprintf(stderr, "admit: %s\n", rl_admit_strerror(s_adm));
    return v;
}

static int s_add(const char *tenant, st_sup_scope_t scope, const char *value, const char *ch,
                 const char *rule, const char *who, bool replace, st_sup_result_t *res) {
    st_sup_t s = {tenant, scope, value, ch, rule, who, "test"};
    st_sup_result_t r;
    int rc = st_suppress_add(s_sup, &s, replace, NOON * 1000, res ? res : &r);
    if (rc < 0)
        fprintf(stderr, "add: %s\n", st_suppress_strerror(s_sup));
    return rc;
}

static const char *s_state(const char *tenant, const char *debtor, const char *job, char *buf,
                           size_t len) {
    char jk[ST_KEY_MAX];
    st_key_job(s_keys, tenant, debtor, job, jk, sizeof jk);
    redisReply *r = redisCommand(s_c, "HMGET %s s r p", jk);
    snprintf(buf, len, "%s/%s/%s",
             r && r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : "none",
             r && r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "",
             r && r->element[2]->type == REDIS_REPLY_STRING ? "payload" : "no-payload");
    freeReplyObject(r);
    return buf;
}

/* The number of records in a debtor's contact history. */
static int s_history_len(const char *tenant, const char *debtor) {
    char hk[ST_KEY_MAX];
    st_key_history(s_keys, tenant, debtor, hk, sizeof hk);
    redisReply *r = redisCommand(s_c, "HGET %s c", hk);
    int n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_STRING && i < r->len; i++)
        n += r->str[i] == ';';
    freeReplyObject(r);
    return n;
}

/* Audit records over every shard whose field `f` is `v` (and, when job is set, about it). */
static int s_audit_count(const char *f, const char *v, const char *job, char *last_rule,
                         char *last_detail) {
    int n = 0;
    for (int s = 0; s < st_keys_shards(s_keys); s++) {
        char k[ST_KEY_MAX];
        st_key_shared(s_keys, s, "audit", k, sizeof k);
        redisReply *r = redisCommand(s_c, "XRANGE %s - +", k);
        for (size_t e = 0; r && r->type == REDIS_REPLY_ARRAY && e < r->elements; e++) {
            const redisReply *kv = r->element[e]->element[1];
            const char *fv = NULL, *jv = "", *rule = "", *detail = "";
            for (size_t i = 0; i + 1 < kv->elements; i += 2) {
                const char *name = kv->element[i]->str, *val = kv->element[i + 1]->str;
                if (strcmp(name, f) == 0)
                    fv = val;
                if (strcmp(name, "job") == 0)
                    jv = val;
                if (strcmp(name, "rule") == 0)
                    rule = val;
                if (strcmp(name, "detail") == 0)
                    detail = val;
            }
            if (fv && strcmp(fv, v) == 0 && (!job || strcmp(jv, job) == 0)) {
                n++;
                if (last_rule)
                    snprintf(last_rule, 64, "%s", rule);
                if (last_detail)
                    snprintf(last_detail, 64, "%s", detail);
            }
        }
        freeReplyObject(r);
    }
    return n;
}

/* Leases every ready job of channel ch; how many. */
static size_t s_lease_all(rl_channel_t ch) {
    size_t got = 0;
    for (int round = 0; round < 8; round++) { /* rejected jobs make a round come back short */
        brk_leased_t *l = NULL;
        size_t m = 0;
        if (brk_store_lease(s_store, ch, 100, NOON * 1000 + 60000, NOON * 1000, "w#1", NULL, &l,
                            &m) < 0) {
            fprintf(stderr, "lease: %s\n", brk_store_strerror(s_store));
            break;
        }
        got += m;
        brk_store_leased_free(l, m);
    }
    return got;
}

/* --- a contact point, for every debtor of its tenant --------------------------------------- */

static void test_contact_every_debtor(void) {
    s_flush();
    /* two debtors of acme in different shards, and another tenant */
    CHECK(st_keys_shard(s_keys, "acme", "d1") != st_keys_shard(s_keys, "acme", "d2"),
          "the test wants d1 and d2 in two shards");
    CHECK(s_add("acme", ST_SUP_CONTACT, "+573001112233", "*", "opt-out", "hooks:twilio-sms", false,
                NULL) == 0,
          "add");
    rl_admit_verdict_t a = s_admit1("acme", "d1", "j1", "+573001112233", RL_CH_SMS, "L1");
    rl_admit_verdict_t b = s_admit1("acme", "d2", "j2", "+573001112233", RL_CH_VOICE, "L2");
    rl_admit_verdict_t o = s_admit1("other", "d1", "j3", "+573001112233", RL_CH_SMS, "L1");
    rl_admit_verdict_t n = s_admit1("acme", "d3", "j4", "+573009998877", RL_CH_SMS, "L1");
    CHECK(a.code == RL_V_REJECTED && strcmp(a.rule, "suppressed.contact:opt-out") == 0 &&
              strcmp(a.reason, "suppressed") == 0,
          "debtor d1: %s %s %s", rl_vcode_name(a.code), a.rule, a.reason);
    CHECK(b.code == RL_V_REJECTED && strcmp(b.rule, "suppressed.contact:opt-out") == 0,
          "debtor d2 (another shard, another channel): %s %s", rl_vcode_name(b.code), b.rule);
    CHECK(o.code == RL_V_ACCEPTED, "another tenant: %s %s", rl_vcode_name(o.code), o.rule);
    CHECK(n.code == RL_V_ACCEPTED, "another number: %s %s", rl_vcode_name(n.code), n.rule);
    /* e-mail addresses match whatever their case */
    CHECK(s_add("acme", ST_SUP_CONTACT, "Ana@Example.com", "email", "opt-out", "t", false, NULL) ==
              0,
          "add e-mail");
    rl_admit_verdict_t e = s_admit1("acme", "d5", "j5", "ana@EXAMPLE.com", RL_CH_EMAIL, NULL);
    rl_admit_verdict_t es = s_admit1("acme", "d5", "j6", "+573007770000", RL_CH_SMS, NULL);
    CHECK(e.code == RL_V_REJECTED && strcmp(e.rule, "suppressed.contact:opt-out") == 0,
          "e-mail in another case: %s %s", rl_vcode_name(e.code), e.rule);
    CHECK(es.code == RL_V_ACCEPTED, "the same debtor by sms: %s", rl_vcode_name(es.code));
    /* the rejection is audited with the rule */
    char rule[64] = "";
    CHECK(s_audit_count("to", "REJECTED", "j2", rule, NULL) == 1 &&
              strcmp(rule, "suppressed.contact:opt-out") == 0,
          "j2's REJECTED record, rule %s", rule);
    /* each change audited once, over every shard */
    CHECK(s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL) == 2, "2 SUPPRESSED records: %d",
          s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL));
    char sup_rule[64];
    CHECK(st_suppress_check(s_sup, "acme", "d9", "sms", "+573001112233", NULL, sup_rule,
                            sizeof sup_rule) == 1 &&
              strcmp(sup_rule, "suppressed.contact:opt-out") == 0,
          "check: %s", sup_rule);
}

/* --- debtor, debtor's channel, debt, cease ----------------------------------------------- */

static void test_scopes(void) {
    s_flush();
    s_add("acme", ST_SUP_DEBTOR, "dc", "sms", "opt-out", "t", false, NULL);
    s_add("acme", ST_SUP_DEBTOR, "dx", "*", "cease", "t", false, NULL);
    s_add("acme", ST_SUP_DEBT, "L7", "*", "cease", "t", false, NULL);
    s_add("acme", ST_SUP_DEBT, "L8", "voice", "operator", "t", false, NULL);
    struct {
        const char *debtor, *job, *contact;
        rl_channel_t ch;
        const char *debt;
        int want;
        const char *rule;
    } cases[] = {
        {"dc", "k1", "+573000000001", RL_CH_SMS, "L1", RL_V_REJECTED, "suppressed.debtor:opt-out"},
        {"dc", "k2", "a@b.co", RL_CH_EMAIL, "L1", RL_V_ACCEPTED, ""},
        {"dx", "k3", "+573000000002", RL_CH_SMS, "L1", RL_V_REJECTED, "suppressed.debtor:cease"},
        {"dx", "k4", "c@d.co", RL_CH_EMAIL, "L1", RL_V_REJECTED, "suppressed.debtor:cease"},
        {"e1", "k5", "+573000000003", RL_CH_SMS, "L7", RL_V_REJECTED, "suppressed.debt:cease"},
        {"e2", "k6", "+573000000004", RL_CH_WHATSAPP, "L7", RL_V_REJECTED, "suppressed.debt:cease"},
        {"e3", "k7", "+573000000005", RL_CH_SMS, "L8", RL_V_ACCEPTED, ""},
        {"e3", "k8", "+573000000005", RL_CH_VOICE, "L8", RL_V_REJECTED, "suppressed.debt:operator"},
        {"e4", "k9", "+573000000006", RL_CH_SMS, NULL, RL_V_ACCEPTED, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rl_admit_verdict_t v = s_admit1("acme", cases[i].debtor, cases[i].job, cases[i].contact,
                                        cases[i].ch, cases[i].debt);
        CHECK((int)v.code == cases[i].want && strcmp(v.rule, cases[i].rule) == 0,
              "%s (%s on %s, debt %s): %s %s, want %s %s", cases[i].job, cases[i].debtor,
              rl_channel_name(cases[i].ch), cases[i].debt ? cases[i].debt : "-",
              rl_vcode_name(v.code), v.rule, rl_vcode_name(cases[i].want), cases[i].rule);
    }
    /* debtor ones live in the debtor's shard only: one key for dc and dx's tenant hash each */
    int holders = 0;
    for (int s = 0; s < st_keys_shards(s_keys); s++) {
        char k[ST_KEY_MAX];
        st_key_suppress(s_keys, s, "acme", k, sizeof k);
        redisReply *r = redisCommand(s_c, "HEXISTS %s d|dc|sms", k);
        holders += r && r->integer == 1;
        freeReplyObject(r);
    }
    CHECK(holders == 1, "a debtor suppression in %d shards, want 1", holders);
}

/* --- the scenario: 5 queued, 3 suppressed after queuing ----------------------------- */

static void test_queued_then_suppressed(void) {
    s_flush();
    char debtors[5][8], jobs[5][8], phones[5][16], st[64];
    for (int i = 0; i < 5; i++) {
        snprintf(debtors[i], sizeof debtors[i], "q%d", i);
        snprintf(jobs[i], sizeof jobs[i], "qj%d", i);
        snprintf(phones[i], sizeof phones[i], "+57300100000%d", i);
        rl_admit_verdict_t v =
            s_admit1("acme", debtors[i], jobs[i], phones[i], RL_CH_SMS, i == 2 ? "LQ" : "L0");
        CHECK(v.code == RL_V_ACCEPTED, "queued %s: %s", jobs[i], rl_vcode_name(v.code));
    }
    /* after queuing: job 0 by its contact, job 1 by its debtor, job 2 by its debt */
    s_add("acme", ST_SUP_CONTACT, phones[0], "sms", "opt-out", "hooks:twilio-sms", false, NULL);
    s_add("acme", ST_SUP_DEBTOR, debtors[1], "*", "cease", "ops", false, NULL);
    s_add("acme", ST_SUP_DEBT, "LQ", "*", "cease", "ops", false, NULL);
    size_t sent = s_lease_all(RL_CH_SMS);
    CHECK(sent == 2, "%zu leased, want 2", sent);
    static const char *const want[5] = {"rejected/suppressed.contact:opt-out/no-payload",
                                        "rejected/suppressed.debtor:cease/no-payload",
                                        "rejected/suppressed.debt:cease/no-payload",
                                        "dispatched//payload", "dispatched//payload"};
    for (int i = 0; i < 5; i++) {
        s_state("acme", debtors[i], jobs[i], st, sizeof st);
        CHECK(strcmp(st, want[i]) == 0, "%s: %s, want %s", jobs[i], st, want[i]);
    }
    for (int i = 0; i < 3; i++) {
        char rule[64] = "", detail[64] = "";
        int n = s_audit_count("to", "REJECTED", jobs[i], rule, detail);
        CHECK(n == 1 && strncmp(rule, "suppressed.", 11) == 0 &&
                  strcmp(detail, "dispatch re-check") == 0,
              "%s: %d REJECTED records, rule %s detail %s", jobs[i], n, rule, detail);
        CHECK(s_audit_count("to", "DISPATCHED", jobs[i], NULL, NULL) == 0, "%s was dispatched",
              jobs[i]);
    }
    CHECK(brk_store_queue_len(s_store, RL_CH_SMS) == 0, "the queue is empty");
    /* a job never attempted leaves no contact in its debtor's history (caps count contacts) */
    for (int i = 0; i < 5; i++)
        CHECK(s_history_len("acme", debtors[i]) == (i < 3 ? 0 : 1), "%s: %d history records",
              debtors[i], s_history_len("acme", debtors[i]));
    /* a rejected job is a finished one: submitted again, it is a duplicate */
    rl_admit_verdict_t d = s_admit1("acme", debtors[0], jobs[0], phones[0], RL_CH_SMS, "L0");
    CHECK(d.code == RL_V_DUPLICATE && d.first == RL_V_ACCEPTED, "resubmitted: %s first %s",
          rl_vcode_name(d.code), rl_vcode_name(d.first));
}

/* --- a job in retry, suppressed meanwhile --------------------------------------------------- */

static void test_retry_then_suppressed(void) {
    s_flush();
    rl_admit_verdict_t v = s_admit1("acme", "r1", "rj1", "+573002220000", RL_CH_SMS, "L0");
    CHECK(v.code == RL_V_ACCEPTED, "accepted: %s", rl_vcode_name(v.code));
    brk_leased_t *l = NULL;
    size_t m = 0;
    for (int round = 0; round < 8 && m == 0; round++) /* the lease visits shards round-robin */
        brk_store_lease(s_store, RL_CH_SMS, 10, NOON * 1000 + 60000, NOON * 1000, "w#1", NULL, &l,
                        &m);
    CHECK(m == 1, "leased %zu", m);
    if (m == 1) {
        brk_report_t rep = {l[0].lease_id, "RETRY", "", "503", "", NOON + 10};
        char states[1][BRK_STATE_LEN];
        brk_store_report_many(s_store, &rep, 1, NOON * 1000 + 1000, states);
        CHECK(strcmp(states[0], "retry") == 0, "report: %s", states[0]);
    }
    brk_store_leased_free(l, m);
    s_add("acme", ST_SUP_CONTACT, "+573002220000", "*", "opt-out", "hooks:twilio-sms", false, NULL);
    int full = 0;
    CHECK(brk_store_release_retries(s_store, (NOON + 20) * 1000, 100, &full) == 1,
          "released to the queue");
    CHECK(s_lease_all(RL_CH_SMS) == 0, "a suppressed retry was leased");
    char st[64];
    s_state("acme", "r1", "rj1", st, sizeof st);
    CHECK(strcmp(st, "rejected/suppressed.contact:opt-out/no-payload") == 0, "retry: %s", st);
    CHECK(s_history_len("acme", "r1") == 1, "an attempted job's contact stays in the history");
}

/* --- remove, remove-if-rule, an opt-out never overwrites ----------------------------------- */

static void test_remove(void) {
    s_flush();
    st_sup_result_t res;
    s_add("acme", ST_SUP_CONTACT, "+573003330000", "sms", "opt-out", "hooks:twilio-sms", false,
          NULL);
    rl_admit_verdict_t v = s_admit1("acme", "m1", "mj1", "+573003330000", RL_CH_SMS, NULL);
    CHECK(v.code == RL_V_REJECTED, "suppressed: %s", rl_vcode_name(v.code));
    /* START: removes an opt-out */
    st_sup_t start = {"acme",    ST_SUP_CONTACT,     "+573003330000", "sms",
                      "opt-out", "hooks:twilio-sms", "keyword START"};
    CHECK(st_suppress_remove(s_sup, &start, NOON * 1000, &res) == 0 &&
              res.outcome == ST_SUP_REMOVED && strcmp(res.rule, "opt-out") == 0,
          "START: %s %s", st_sup_outcome_name(res.outcome), res.rule);
    v = s_admit1("acme", "m1", "mj2", "+573003330000", RL_CH_SMS, NULL);
    CHECK(v.code == RL_V_ACCEPTED, "after remove: %s %s", rl_vcode_name(v.code), v.rule);
    CHECK(st_suppress_remove(s_sup, &start, NOON * 1000, &res) == 0 && res.outcome == ST_SUP_ABSENT,
          "again: %s", st_sup_outcome_name(res.outcome));
    /* an operator's suppression: START leaves it, STOP does not overwrite it */
    s_add("acme", ST_SUP_CONTACT, "+573003330000", "sms", "operator", "ops:ana", false, NULL);
    CHECK(st_suppress_remove(s_sup, &start, NOON * 1000, &res) == 0 && res.outcome == ST_SUP_KEPT &&
              strcmp(res.rule, "operator") == 0,
          "START on the operator's: %s %s", st_sup_outcome_name(res.outcome), res.rule);
    CHECK(s_add("acme", ST_SUP_CONTACT, "+573003330000", "sms", "opt-out", "hooks:twilio-sms",
                false, &res) == 0 &&
              res.outcome == ST_SUP_KEPT && strcmp(res.rule, "operator") == 0,
          "STOP on the operator's: %s %s", st_sup_outcome_name(res.outcome), res.rule);
    v = s_admit1("acme", "m1", "mj3", "+573003330000", RL_CH_SMS, NULL);
    CHECK(v.code == RL_V_REJECTED && strcmp(v.rule, "suppressed.contact:operator") == 0,
          "the operator's stays: %s %s", rl_vcode_name(v.code), v.rule);
    /* the same add again changes nothing and is not audited again */
    int before = s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL);
    CHECK(s_add("acme", ST_SUP_CONTACT, "+573003330000", "sms", "operator", "ops:ana", false,
                &res) == 0 &&
              res.outcome == ST_SUP_SAME,
          "same: %s", st_sup_outcome_name(res.outcome));
    CHECK(s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL) == before, "a repeat was audited");
    CHECK(s_add("acme", ST_SUP_CONTACT, "+573003330000", "sms", "regulator-dnc", "ops:ana", true,
                &res) == 0 &&
              res.outcome == ST_SUP_REPLACED && strcmp(res.rule, "operator") == 0,
          "replace: %s %s", st_sup_outcome_name(res.outcome), res.rule);
    /* a remove without a rule removes whatever rule; audited once */
    st_sup_t any = {"acme", ST_SUP_CONTACT, "+573003330000", "sms", NULL, "ops:ana", "mistake"};
    CHECK(st_suppress_remove(s_sup, &any, NOON * 1000, &res) == 0 &&
              res.outcome == ST_SUP_REMOVED && strcmp(res.rule, "regulator-dnc") == 0,
          "remove any: %s %s", st_sup_outcome_name(res.outcome), res.rule);
    CHECK(s_audit_count("to", "UNSUPPRESSED", NULL, NULL, NULL) == 2, "UNSUPPRESSED records: %d",
          s_audit_count("to", "UNSUPPRESSED", NULL, NULL, NULL));
    /* nothing left anywhere: every shard's copy is gone with its hash and tenant entry */
    redisReply *r = redisCommand(s_c, "DBSIZE");
    long long keys_left = r ? r->integer : -1;
    freeReplyObject(r);
    int sp_left = 0;
    for (int s = 0; s < st_keys_shards(s_keys); s++) {
        char k[ST_KEY_MAX];
        st_key_suppress(s_keys, s, "acme", k, sizeof k);
        r = redisCommand(s_c, "EXISTS %s", k);
        sp_left += r && r->integer;
        freeReplyObject(r);
        st_key_shared(s_keys, s, "sp-tenants", k, sizeof k);
        r = redisCommand(s_c, "EXISTS %s", k);
        sp_left += r && r->integer;
        freeReplyObject(r);
    }
    CHECK(sp_left == 0, "%d suppression keys left (of %lld keys)", sp_left, keys_left);
    /* invalid input is refused before Redis */
    st_sup_t bad = {"acme", ST_SUP_CONTACT, "+573003330000", "sms", "Bad Rule", "ops", ""};
    CHECK(st_suppress_add(s_sup, &bad, false, NOON * 1000, &res) < 0 &&
              res.outcome == ST_SUP_INVALID && strcmp(res.rule, "rule-invalid") == 0,
          "invalid: %s %s", st_sup_outcome_name(res.outcome), res.rule);
}

/* --- listing and the batched add ------------------------------------------------------------ */

typedef struct {
    int n, contacts, debtors, debts, acme;
    char who[64];
} s_count_t;

static int s_count(const st_sup_entry_t *e, void *arg) {
    s_count_t *c = arg;
    c->n++;
    c->contacts += e->scope == ST_SUP_CONTACT;
    c->debtors += e->scope == ST_SUP_DEBTOR;
    c->debts += e->scope == ST_SUP_DEBT;
    c->acme += strcmp(e->tenant, "acme") == 0;
    snprintf(c->who, sizeof c->who, "%s", e->who);
    return 0;
}

static void test_batch_and_list(void) {
    s_flush();
    enum { N = 1000 };
    static char values[N][32];
    static st_sup_t s[N + 1];
    static st_sup_result_t res[N + 1];
    for (int i = 0; i < N; i++) {
        st_sup_scope_t scope = i % 10 == 0   ? ST_SUP_DEBTOR
                               : i % 10 == 1 ? ST_SUP_DEBT
                                             : ST_SUP_CONTACT;
        if (scope == ST_SUP_CONTACT)
            snprintf(values[i], sizeof values[i], "+5730%08d", i);
        else
            snprintf(values[i], sizeof values[i], "v%d", i);
        s[i] = (st_sup_t){i % 2 ? "acme" : "beta", scope,        values[i],         "*",
                          "regulator-dnc",         "ops:import", "registry 2026-03"};
    }
    s[N] = (st_sup_t){"acme", ST_SUP_CONTACT, "+1", "*", "regulator-dnc", "", ""}; /* invalid */
    CHECK(st_suppress_add_batch(s_sup, s, N + 1, false, NOON * 1000, res) == 0, "batch: %s",
          st_suppress_strerror(s_sup));
    int added = 0;
    for (int i = 0; i < N; i++)
        added += res[i].outcome == ST_SUP_ADDED;
    CHECK(added == N, "%d added, want %d", added, N);
    CHECK(res[N].outcome == ST_SUP_INVALID, "the invalid entry: %s",
          st_sup_outcome_name(res[N].outcome));
    CHECK(s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL) == N, "audited: %d",
          s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL));
    s_count_t all = {0}, acme = {0};
    CHECK(st_suppress_list(s_sup, NULL, s_count, &all) == 0, "list: %s",
          st_suppress_strerror(s_sup));
    CHECK(all.n == N && all.debtors == N / 10 && all.debts == N / 10 && all.acme == N / 2,
          "listed %d (debtors %d, debts %d, acme %d)", all.n, all.debtors, all.debts, all.acme);
    CHECK(st_suppress_list(s_sup, "acme", s_count, &acme) == 0 && acme.n == N / 2 &&
              strcmp(acme.who, "ops:import") == 0,
          "acme listed %d, who %s", acme.n, acme.who);
    /* every contact and debt suppression is in every shard, each debtor one in one */
    long long fields = 0, bytes = 0;
    for (int sh = 0; sh < st_keys_shards(s_keys); sh++) {
        const char *tenants[2] = {"acme", "beta"};
        for (int t = 0; t < 2; t++) {
            char k[ST_KEY_MAX];
            st_key_suppress(s_keys, sh, tenants[t], k, sizeof k);
            redisReply *r = redisCommand(s_c, "HLEN %s", k);
            fields += r ? r->integer : 0;
            freeReplyObject(r);
            r = redisCommand(s_c, "MEMORY USAGE %s SAMPLES 0", k);
            bytes += r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
            freeReplyObject(r);
        }
    }
    long long want = (long long)(N - N / 10) * st_keys_shards(s_keys) + N / 10;
    CHECK(fields == want, "%lld fields over the shards, want %lld", fields, want);
    printf("memory: %lld bytes for %lld copies = %.0f bytes per copy\n", bytes, fields,
           (double)bytes / (double)(fields ? fields : 1));
    /* repeated: nothing changes, nothing audited */
    CHECK(st_suppress_add_batch(s_sup, s, N, false, NOON * 1000, res) == 0 &&
              res[0].outcome == ST_SUP_SAME && res[N - 1].outcome == ST_SUP_SAME,
          "repeat: %s", st_sup_outcome_name(res[0].outcome));
    CHECK(s_audit_count("to", "SUPPRESSED", NULL, NULL, NULL) == N, "a repeat was audited");
    /* and they block admission */
    rl_admit_verdict_t v = s_admit1("acme", "someone", "b1", values[3], RL_CH_SMS, NULL);
    CHECK(v.code == RL_V_REJECTED && strcmp(v.rule, "suppressed.contact:regulator-dnc") == 0,
          "imported number: %s %s", rl_vcode_name(v.code), v.rule);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    rl_policy_t *p = it_test_policy();
    s_policy = p;
    s_c = it_redis_connect();
    s_keys = st_keys_new("pg", 16);
    s_fn = st_fn_new(s_c);
    s_adm = rl_admit_new(s_c, s_keys, s_fn);
    s_sup = st_suppress_new(s_c, s_keys, s_fn);
    brk_store_opts_t o = {86400, 5, 0, "pregond#test"};
    s_store = brk_store_new(s_c, s_keys, s_fn, &o);
    test_contact_every_debtor();
    test_scopes();
    test_queued_then_suppressed();
    test_retry_then_suppressed();
    test_remove();
    test_batch_and_list();
    brk_store_destroy(&s_store);
    st_suppress_destroy(&s_sup);
    rl_admit_destroy(&s_adm);
    st_fn_destroy(&s_fn);
    st_keys_destroy(&s_keys);
    redisFree(s_c);
    rl_policy_destroy(&p);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
