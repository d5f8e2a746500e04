/* test_lease_trust.c — who may report on a lease (issue 9), against a real redis-server
 * (PG_REDIS_SOCK, see with_redis.sh; the cluster.lease_trust entry runs it on a cluster node).
 *
 * Through brk_store with an injected random source: a lease id carries the nonce drawn for it
 * ("ATTEMPT.NONCE/KEY"); a worker's report naming no nonce, another nonce, or the same attempt
 * number of a previous lease (after a hand-back) is "wrong-lease" and changes nothing; the right
 * lease id from another worker is "not-holder"; the holder's is applied whatever its process
 * incarnation (a restarted worker's journal); the broker's own reports (holder NULL: webhooks,
 * nonce-less form) still apply; expired leases are handed out with their nonce. Every refused
 * report leaves no audit record. Prints "N passed, M failed". */
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

#include "it_check.h"
#include "it_redis.h"

static const rl_policy_t *s_policy;
static redisContext *s_c;
static st_keys_t *s_keys;
static st_fn_t *s_fn;
static rl_admit_t *s_adm;
static brk_store_t *s_store;
static const int64_t NOON = 1773241200; /* 2026-03-11 15:00 UTC: 10:00 in Bogota */

/* The injected random source: each call gives bytes s_base, s_base + 1, ..., so the nonce of a
 * lease taken alone is known (a lease visits empty shards first: each call starts afresh). */
static unsigned char s_base = 1;
static int s_random(void *ctx, void *buf, size_t len) {
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(s_base + i);
    return 0;
}

static void s_admit1(const char *debtor, const char *job_id) {
    rl_admit_job_t j;
    rl_admit_verdict_t v;
    memset(&j, 0, sizeof j);
    j.tenant = "acme";
    j.debtor = debtor;
    j.job_id = job_id;
    j.contact = "+573001112233";
    j.campaign = "c1";
    j.decide.policy = s_policy;
    j.decide.channel = RL_CH_SMS;
    j.decide.role = RL_ROLE_DEBTOR;
    j.decide.zones[0] = rl_zone_get("America/Bogota");
    j.decide.n_zones = 1;
    j.payload = "payload";
    j.payload_len = 7;
    CHECK(rl_admit_batch(s_adm, &j, 1, NOON, &v) == 0 && v.code == RL_V_ACCEPTED, "admitted: %s",
          rl_vcode_name(v.code));
}

/* Leases the one queued job to worker tag `tag`: its lease id into buf; false if none. */
static bool s_lease1(const char *tag, int64_t now_ms, char *buf, size_t len) {
    brk_leased_t *l = NULL;
    size_t m = 0;
    for (int round = 0; round < 16 && m == 0; round++) /* shards are visited round-robin */
        brk_store_lease(s_store, RL_CH_SMS, 1, now_ms + 60000, now_ms, tag, NULL, &l, &m);
    if (m == 1)
        snprintf(buf, len, "%s", l[0].lease_id);
    brk_store_leased_free(l, m);
    return m == 1;
}

static const char *s_report(const char *lease, const char *outcome, const char *holder,
                            int64_t now_ms) {
    static char states[1][BRK_STATE_LEN];
    brk_report_t rep = {lease, outcome, "SM1", "", "test", now_ms / 1000, holder};
    if (brk_store_report_many(s_store, &rep, 1, now_ms, states) < 0)
        return "call failed";
    return states[0];
}

static long long s_audit_len(int shard) {
    char k[ST_KEY_MAX];
    st_key_shared(s_keys, shard, "audit", k, sizeof k);
    redisReply *r = redisCommand(s_c, "XLEN %s", k);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

static void s_field(const char *jk, const char *f, char *buf, size_t len) {
    redisReply *r = redisCommand(s_c, "HGET %s %s", jk, f);
    snprintf(buf, len, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "(nil)");
    freeReplyObject(r);
}

static void test_lease_trust(void) {
    freeReplyObject(redisCommand(s_c, "FLUSHALL"));
    it_redis_fresh(s_c, s_fn);
    s_admit1("d1", "j1");
    char jk[ST_KEY_MAX], lease[ST_LEASE_MAX], want[ST_KEY_MAX + 32], st[64], guess[ST_KEY_MAX + 32];
    st_key_job(s_keys, "acme", "d1", "j1", jk, sizeof jk);
    int shard = st_keys_shard(s_keys, "acme", "d1");
    const char *holder = "anonymous/w1#", *tag = "anonymous/w1#inc-a";
    int64_t t = NOON * 1000;
    s_base = 1;
    CHECK(s_lease1(tag, t, lease, sizeof lease), "leased");
    snprintf(want, sizeof want, "1.0102030405060708/%s", jk);
    CHECK(strcmp(lease, want) == 0, "lease id %s, want %s", lease, want);
    long long audit0 = s_audit_len(shard);

    /* guessed and forged: the old predictable form, another nonce */
    snprintf(guess, sizeof guess, "1/%s", jk);
    const char *r = s_report(guess, "RETRY", holder, t + 10);
    CHECK(strcmp(r, "wrong-lease") == 0, "nonce-less lease id from a worker: %s", r);
    snprintf(guess, sizeof guess, "1.0102030405060709/%s", jk);
    r = s_report(guess, "SKIPPED", holder, t + 20);
    CHECK(strcmp(r, "wrong-lease") == 0, "another nonce: %s", r);
    /* the right lease id from another worker */
    r = s_report(lease, "CONFIG_ERROR", "anonymous/w2#", t + 30);
    CHECK(strcmp(r, "not-holder") == 0, "another worker: %s", r);
    r = s_report(lease, "DELIVERED", "other-key/w1#", t + 40);
    CHECK(strcmp(r, "not-holder") == 0, "the same worker id under another key: %s", r);
    s_field(jk, "s", st, sizeof st);
    CHECK(strcmp(st, "dispatched") == 0, "a refused report changed the job: %s", st);
    CHECK(s_audit_len(shard) == audit0, "a refused report was audited");

    /* the holder (its incarnation is not compared): handed back, attempt given back */
    r = s_report(lease, "HANDBACK", holder, t + 50);
    CHECK(strcmp(r, "retry") == 0, "the holder's hand-back: %s", r);
    int full = 0;
    CHECK(brk_store_release_retries(s_store, t + 5000, 10, &full) == 1, "released");
    char lease2[ST_LEASE_MAX], want2[ST_KEY_MAX + 32];
    s_base = 0x41;
    CHECK(s_lease1("anonymous/w1#inc-b", t + 6000, lease2, sizeof lease2), "leased again");
    snprintf(want2, sizeof want2, "1.4142434445464748/%s", jk);
    CHECK(strcmp(lease2, want2) == 0, "attempt 1 again, another nonce: %s", lease2);
    /* the previous lease of the same attempt number names no current lease */
    r = s_report(lease, "RETRY", holder, t + 6100);
    CHECK(strcmp(r, "wrong-lease") == 0, "the previous lease after a hand-back: %s", r);
    /* a restarted holder (new incarnation) reports the current lease: applied */
    r = s_report(lease2, "SENT", holder, t + 6200);
    CHECK(strcmp(r, "sent") == 0, "the holder's SENT: %s", r);
    /* after SENT: another worker's DELIVERED refused, a webhook's (the broker's own) applied */
    r = s_report(lease2, "DELIVERED", "anonymous/w2#", t + 6300);
    CHECK(strcmp(r, "not-holder") == 0, "another worker's DELIVERED: %s", r);
    snprintf(guess, sizeof guess, "1/%s", jk);
    r = s_report(guess, "DELIVERED", NULL, t + 6400);
    CHECK(strcmp(r, "delivered") == 0, "a webhook's DELIVERED: %s", r);

    /* an expired lease comes back with its nonce (the broker's UNKNOWN names that lease) */
    s_admit1("d2", "j2");
    char lease3[ST_LEASE_MAX];
    CHECK(s_lease1(tag, t + 7000, lease3, sizeof lease3), "leased j2");
    brk_leased_t *exp = NULL;
    size_t n = 0;
    for (int round = 0; round < 16 && n == 0; round++)
        brk_store_expired_leases(s_store, t + 7000 + 61000, 10, &exp, &n);
    CHECK(n == 1 && strcmp(exp[0].lease_id, lease3) == 0, "expired lease id %s, want %s",
          n ? exp[0].lease_id : "none", lease3);
    if (n == 1) {
        r = s_report(exp[0].lease_id, "UNKNOWN", NULL, t + 70000);
        CHECK(strcmp(r, "unknown") == 0, "the expiry's UNKNOWN: %s", r);
    }
    brk_store_leased_free(exp, n);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    rl_policy_t *p = it_test_policy();
    s_policy = p;
    s_c = it_redis_connect();
    s_keys = st_keys_new("pg", 16);
    s_fn = st_fn_new(s_c);
    s_adm = rl_admit_new(s_c, s_keys, s_fn);
    brk_store_opts_t o = {86400, 5, 0, "pregond#test", s_random, NULL};
    s_store = brk_store_new(s_c, s_keys, s_fn, &o);
    test_lease_trust();
    brk_store_destroy(&s_store);
    rl_admit_destroy(&s_adm);
    st_fn_destroy(&s_fn);
    st_keys_destroy(&s_keys);
    redisFree(s_c);
    rl_policy_destroy(&p);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
