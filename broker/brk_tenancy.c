/* brk_tenancy.c — tenant binding of submissions and event subscriptions (see brk_tenancy.h).
 *
 * Whether a key may name a tenant is brk_identity_may_tenant's answer (brk_auth.c); this file
 * only applies it to a batch and to subscription prefixes. */
#include "brk_tenancy.h"

#include <stdio.h>
#include <string.h>

#include "brk_limits.h"

int brk_tenancy_topic(char *buf, size_t len, const char *tenant, const char *type) {
    int n = snprintf(buf, len, "%s%c%s", tenant ? tenant : "", BRK_TOPIC_SEP, type ? type : "");
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* A key that may name tenants at all: a client key (the anonymous one is every role). */
static bool s_client(const brk_identity_t *id) {
    return id && (id->roles & BRK_ROLE_CLIENT);
}

size_t brk_tenancy_split(const brk_identity_t *id, Pregon__SendRequest *const *reqs, size_t n,
                         size_t *allowed, rl_admit_verdict_t *verdicts) {
    size_t m = 0;
    if (!s_client(id))
        id = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *tenant = reqs[i]->tenant ? reqs[i]->tenant : "";
        if (id && brk_identity_may_tenant(id, tenant)) {
            allowed[m++] = i;
            continue;
        }
        memset(&verdicts[i], 0, sizeof verdicts[i]);
        verdicts[i].code = RL_V_REJECTED;
        snprintf(verdicts[i].rule, sizeof verdicts[i].rule, "%s", BRK_TENANT_RULE);
        snprintf(verdicts[i].reason, sizeof verdicts[i].reason, "%s", BRK_TENANT_WHY);
    }
    return m;
}

brk_sub_t brk_tenancy_subscription(const brk_identity_t *id, const void *topic, size_t len,
                                   brk_sub_fn fn, void *ctx) {
    if (!s_client(id))
        return BRK_SUB_REFUSED;
    if (id->any_tenant) {
        fn(topic, len, ctx);
        return BRK_SUB_AS_IS;
    }
    const char *t = topic;
    const char *sep = memchr(t, BRK_TOPIC_SEP, len);
    if (sep) { /* names one tenant: "T\x1f..." */
        size_t tl = (size_t)(sep - t);
        char tenant[BRK_LIM_TENANT + 1];
        if (tl == 0 || tl > BRK_LIM_TENANT || memchr(t, '\0', tl))
            return BRK_SUB_REFUSED;
        memcpy(tenant, t, tl);
        tenant[tl] = '\0';
        if (!brk_identity_may_tenant(id, tenant))
            return BRK_SUB_REFUSED;
        fn(topic, len, ctx);
        return BRK_SUB_AS_IS;
    }
    /* shorter than a tenant's prefix: every tenant of the key that extends it */
    size_t applied = 0;
    for (size_t i = 0; i < id->n_tenants; i++) {
        const char *tn = id->tenants[i];
        size_t tl = strnlen(tn, sizeof id->tenants[i]);
        char prefix[sizeof id->tenants[i] + 1];
        if (tl == 0 || tl >= sizeof id->tenants[i] || tl < len || memcmp(tn, t, len) != 0)
            continue;
        memcpy(prefix, tn, tl);
        prefix[tl] = BRK_TOPIC_SEP;
        fn(prefix, tl + 1, ctx);
        applied++;
    }
    return applied ? BRK_SUB_NARROWED : BRK_SUB_REFUSED;
}
