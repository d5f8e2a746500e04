/* test_tenancy.c — cmocka tests of brk_tenancy: event topics, which jobs of a batch a key may
 * submit (the others REJECTED tenant-forbidden, the allowed ones left to admission), and which
 * prefixes a subscription becomes for a key bound to some tenants, to every tenant, to none, or
 * for a key that is not a client key.
 *
 * Identities are built here as brk_auth.h describes them (fake keys, no socket); whether a key
 * may name a tenant is brk_auth.c's brk_identity_may_tenant, linked as pregond links it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "brk_tenancy.h"

/* A key bound to tenants acme and acme2 (a prefix of each other: prefix matching must tell
 * them apart), one bound to beta, one to every tenant. */
static char s_ab[2][64] = {"acme", "acme2"};
static char s_b[1][64] = {"beta"};
static const brk_identity_t s_key_a = {
    .name = "client-a", .roles = BRK_ROLE_CLIENT, .n_tenants = 2, .tenants = s_ab};
static const brk_identity_t s_key_b = {
    .name = "client-b", .roles = BRK_ROLE_CLIENT, .n_tenants = 1, .tenants = s_b};
static const brk_identity_t s_key_all = {
    .name = "ops", .roles = BRK_ROLE_CLIENT, .any_tenant = true};
static const brk_identity_t s_key_none = {.name = "nobody", .roles = BRK_ROLE_CLIENT};
/* a worker key, even one that says every tenant: not a client, may name none */
static const brk_identity_t s_key_worker = {
    .name = "sms-1", .roles = BRK_ROLE_WORKER, .any_tenant = true, .channels = ~0u};

/* ---------------------------------------------------------------------------------------------
 * Topics */

static void test_topic(void **state) {
    (void)state;
    char buf[BRK_TOPIC_MAX];
    assert_int_equal(brk_tenancy_topic(buf, sizeof buf, "acme", "verdict"), 12);
    assert_memory_equal(buf, "acme\x1fverdict", 13);
    assert_int_equal(brk_tenancy_topic(buf, sizeof buf, NULL, "halt"), 5);
    assert_memory_equal(buf, "\x1fhalt", 6);
    assert_int_equal(brk_tenancy_topic(buf, sizeof buf, "", "report"), 7);
    assert_memory_equal(buf, "\x1freport", 8);
    char tiny[8];
    assert_int_equal(brk_tenancy_topic(tiny, sizeof tiny, "acme", "verdict"), -1);
    /* the longest tenant (64 bytes) and the longest type fit */
    char t64[65];
    memset(t64, 't', 64);
    t64[64] = '\0';
    assert_int_equal(brk_tenancy_topic(buf, sizeof buf, t64, "verdict"), 72);
}

/* ---------------------------------------------------------------------------------------------
 * Submissions */

typedef struct {
    Pregon__SendRequest reqs[6];
    Pregon__SendRequest *ptrs[6];
} s_batch_t;

static void s_batch(s_batch_t *b, const char *const *tenants, size_t n) {
    for (size_t i = 0; i < n; i++) {
        pregon__send_request__init(&b->reqs[i]);
        b->reqs[i].tenant = (char *)tenants[i];
        b->reqs[i].job_id = "job-1";
        b->ptrs[i] = &b->reqs[i];
    }
}

static void s_assert_forbidden(const rl_admit_verdict_t *v) {
    assert_int_equal(v->code, RL_V_REJECTED);
    assert_string_equal(v->rule, "auth.tenant");
    assert_string_equal(v->reason, "tenant-forbidden");
}

static void test_split(void **state) {
    (void)state;
    /* "" is protobuf-c's unset string; "acme:x" an invalid tenant (bad-tenant for a '*' key) */
    const char *tenants[6] = {"acme", "beta", "acme2", "acm", "", "acme:x"};
    s_batch_t b;
    s_batch(&b, tenants, 6);
    size_t allowed[6];
    rl_admit_verdict_t v[6];
    memset(v, 0x5a, sizeof v); /* what admission would have written: left alone when allowed */
    size_t m = brk_tenancy_split(&s_key_a, b.ptrs, 6, allowed, v);
    assert_int_equal(m, 2);
    assert_int_equal(allowed[0], 0);
    assert_int_equal(allowed[1], 2);
    for (size_t i = 1; i < 6; i++)
        if (i != 2)
            s_assert_forbidden(&v[i]);
    assert_int_equal(((unsigned char *)&v[0])[0], 0x5a);
    assert_int_equal(((unsigned char *)&v[2])[0], 0x5a);

    m = brk_tenancy_split(&s_key_b, b.ptrs, 6, allowed, v);
    assert_int_equal(m, 1);
    assert_int_equal(allowed[0], 1);
    s_assert_forbidden(&v[0]);

    /* every tenant: every job goes to admission, which validates the tenant's form */
    m = brk_tenancy_split(&s_key_all, b.ptrs, 6, allowed, v);
    assert_int_equal(m, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(allowed[i], i);

    /* a key bound to nothing, and a key removed since it connected (NULL): nothing */
    assert_int_equal(brk_tenancy_split(&s_key_none, b.ptrs, 6, allowed, v), 0);
    assert_int_equal(brk_tenancy_split(&s_key_worker, b.ptrs, 6, allowed, v), 0);
    memset(v, 0, sizeof v);
    assert_int_equal(brk_tenancy_split(NULL, b.ptrs, 6, allowed, v), 0);
    for (size_t i = 0; i < 6; i++)
        s_assert_forbidden(&v[i]);
    /* an empty batch */
    assert_int_equal(brk_tenancy_split(&s_key_a, b.ptrs, 0, allowed, v), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Subscriptions */

typedef struct {
    char got[8][BRK_TOPIC_MAX];
    size_t len[8];
    int n;
} s_applied_t;

static void s_collect(const void *prefix, size_t len, void *ctx) {
    s_applied_t *a = ctx;
    assert_true(a->n < 8 && len <= BRK_TOPIC_MAX);
    memcpy(a->got[a->n], prefix, len);
    a->len[a->n++] = len;
}

/* Decides topic[0..len) for id and checks the result and the prefixes applied, in order. */
static void s_sub(const brk_identity_t *id, const char *topic, size_t len, brk_sub_t want, int n,
                  const char *const *prefixes) {
    s_applied_t a = {.n = 0};
    assert_int_equal(brk_tenancy_subscription(id, topic, len, s_collect, &a), want);
    assert_int_equal(a.n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(a.len[i], strlen(prefixes[i]));
        assert_memory_equal(a.got[i], prefixes[i], a.len[i]);
    }
}

#define S(lit) lit, sizeof lit - 1

static void test_subscription_bound(void **state) {
    (void)state;
    const char *both[] = {"acme\x1f", "acme2\x1f"}, *two[] = {"acme2\x1f"};
    /* everything, and prefixes short of a tenant: narrowed to each tenant of the key they cover */
    s_sub(&s_key_a, S(""), BRK_SUB_NARROWED, 2, both);
    s_sub(&s_key_a, S("ac"), BRK_SUB_NARROWED, 2, both);
    s_sub(&s_key_a, S("acme"), BRK_SUB_NARROWED, 2, both);
    s_sub(&s_key_a, S("acme2"), BRK_SUB_NARROWED, 1, two);
    /* one of its tenants, whole or with a type: as it is */
    const char *a1[] = {"acme\x1f"}, *a2[] = {"acme\x1fverdict"}, *a3[] = {"acme2\x1fre"};
    s_sub(&s_key_a, S("acme\x1f"), BRK_SUB_AS_IS, 1, a1);
    s_sub(&s_key_a, S("acme\x1fverdict"), BRK_SUB_AS_IS, 1, a2);
    s_sub(&s_key_a, S("acme2\x1fre"), BRK_SUB_AS_IS, 1, a3);
    /* another tenant, whole, with a type, or as a prefix; tenant-less events; old-style topics
     * (the event type first) */
    s_sub(&s_key_a, S("beta\x1f"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("beta\x1fverdict"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("b"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("acme3"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("acm\x1f"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("\x1f"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("\x1fhalt"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("verdict"), BRK_SUB_REFUSED, 0, NULL);
    /* bytes a C string would cut: a NUL inside the tenant, or after a tenant's prefix */
    s_sub(&s_key_a, S("acme\0\x1f"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("acme\0"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_a, S("beta\0acme\x1f"), BRK_SUB_REFUSED, 0, NULL);
    /* a tenant longer than any (65 bytes) before the separator */
    char t65[80];
    memset(t65, 'a', 65);
    t65[65] = '\x1f';
    s_sub(&s_key_a, t65, 66, BRK_SUB_REFUSED, 0, NULL);

    const char *b1[] = {"beta\x1f"};
    s_sub(&s_key_b, S(""), BRK_SUB_NARROWED, 1, b1);
    s_sub(&s_key_b, S("acme\x1f"), BRK_SUB_REFUSED, 0, NULL);
}

static void test_subscription_all_none(void **state) {
    (void)state;
    /* a key for every tenant: whatever it asks, tenant-less events included */
    const char *all[] = {""}, *halt[] = {"\x1fhalt"}, *beta[] = {"beta\x1f"}, *odd[] = {"x"};
    s_sub(&s_key_all, S(""), BRK_SUB_AS_IS, 1, all);
    s_sub(&s_key_all, S("\x1fhalt"), BRK_SUB_AS_IS, 1, halt);
    s_sub(&s_key_all, S("beta\x1f"), BRK_SUB_AS_IS, 1, beta);
    s_sub(&s_key_all, S("x"), BRK_SUB_AS_IS, 1, odd);
    /* bound to no tenant, or no longer known: nothing at all */
    s_sub(&s_key_none, S(""), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_none, S("acme\x1f"), BRK_SUB_REFUSED, 0, NULL);
    s_sub(&s_key_worker, S(""), BRK_SUB_REFUSED, 0, NULL);
    s_sub(NULL, S(""), BRK_SUB_REFUSED, 0, NULL);
    s_sub(NULL, S("acme\x1f"), BRK_SUB_REFUSED, 0, NULL);
}

/* Every prefix a subscription of a bound key becomes matches only topics of its tenants: for
 * each topic of a set of tenants and types, and each subscription among a set of candidates,
 * a topic that an applied prefix matches is one of the key's tenants. */
static void test_subscription_never_leaks(void **state) {
    (void)state;
    const char *tenants[] = {"acme", "acme2", "acm", "beta", "a", ""};
    const char *types[] = {"verdict", "report", "halt", ""};
    const char *subs[] = {"",        "a",    "ac",   "acm",        "acme",    "acme2", "acme\x1f",
                          "acm\x1f", "beta", "\x1f", "acme2\x1fv", "verdict", "a\x1f", "acme\x1fx"};
    for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++) {
        s_applied_t a = {.n = 0};
        brk_tenancy_subscription(&s_key_a, subs[s], strlen(subs[s]), s_collect, &a);
        for (size_t t = 0; t < sizeof tenants / sizeof tenants[0]; t++)
            for (size_t y = 0; y < sizeof types / sizeof types[0]; y++) {
                char topic[BRK_TOPIC_MAX];
                int len = brk_tenancy_topic(topic, sizeof topic, tenants[t], types[y]);
                assert_true(len > 0);
                bool mine = !strcmp(tenants[t], "acme") || !strcmp(tenants[t], "acme2");
                for (int i = 0; i < a.n; i++)
                    if ((size_t)len >= a.len[i] && !memcmp(topic, a.got[i], a.len[i]) && !mine)
                        fail_msg("subscription \"%s\" lets client-a read tenant \"%s\"", subs[s],
                                 tenants[t]);
            }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_subscription_bound),
        cmocka_unit_test(test_subscription_all_none),
        cmocka_unit_test(test_subscription_never_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
