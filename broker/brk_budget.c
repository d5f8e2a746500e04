/* brk_budget.c — the budgets file and money (see brk_budget.h). Strict like every pregon loader:
 * an unknown key, channel or amount is an error naming its line, never silently ignored (a
 * typo in a budget is money spent). */
#include "brk_budget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "pg_channel.h"
#include "pg_yaml.h"

#define S_MAX_FILE (1u << 20)

typedef struct {
    char *name;
    int64_t daily, monthly, total;
} s_campaign_t;

typedef struct {
    char *name;
    int64_t cost[PG_CH_COUNT]; /* -1: the default's */
    int64_t daily, monthly;
    s_campaign_t *campaigns;
    size_t n_campaigns;
    s_campaign_t fallback; /* campaign_default (name NULL) */
    int on_exceed;         /* BRK_BUDGET_REJECT / _DEFER; -1: the file's */
} s_tenant_t;

struct brk_budgets {
    int64_t cost[PG_CH_COUNT]; /* -1: none */
    int on_exceed;             /* BRK_BUDGET_REJECT (the default) or BRK_BUDGET_DEFER */
    s_tenant_t *tenants;
    size_t n_tenants;
};

int brk_money_parse(const char *s, int64_t *out) {
    if (!s || !*s)
        return -1;
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > 999999999999LL / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
            if (fdigits == 6)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (!fdigits)
            return -1;
    }
    if (*p || !digits || whole >= 1000000000000LL)
        return -1;
    for (int k = fdigits; k < 6; k++)
        frac *= 10;
    *out = whole * 1000000 + frac;
    return 0;
}

const char *brk_money_format(int64_t micros, char *buf, size_t len) {
    int64_t whole = micros / 1000000, frac = micros % 1000000;
    if (frac < 0)
        frac = -frac;
    if (!frac) {
        snprintf(buf, len, "%lld", (long long)whole);
        return buf;
    }
    char f[8];
    snprintf(f, sizeof f, "%06lld", (long long)frac);
    for (int k = 5; k > 0 && f[k] == '0'; k--)
        f[k] = '\0';
    snprintf(buf, len, "%s%lld.%s", micros < 0 && whole == 0 ? "-" : "", (long long)whole, f);
    return buf;
}

static void s_offset_pos(const char *buf, size_t len, size_t offset, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 1,
    .string_noun = "a non-empty string",
    .offset_pos = s_offset_pos,
    .empty_msg = "empty budgets file (expected a mapping with \"costs\" and \"tenants\")",
    .file_noun = "a budgets file",
};

static int s_money(pg_yaml_t *y, yaml_node_t *n, const char *what, int64_t *out) {
    const char *t;
    if (pg_yaml_text(y, n, what, &t) != 0)
        return -1;
    if (brk_money_parse(t, out) != 0)
        return pg_yaml_fail(y, n,
                            "%s must be an amount like 12 or 0.05 (at most 6 decimals), "
                            "not \"%s\"",
                            what, t);
    return 0;
}

/* costs: {CHANNEL: AMOUNT, ...} into cost[] */
static int s_costs(pg_yaml_t *y, yaml_node_t *map, int64_t *cost) {
    if (pg_yaml_expect(y, map, YAML_MAPPING_NODE, "costs") != 0)
        return -1;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = pg_yaml_node(y, pr->key), *v = pg_yaml_node(y, pr->value);
        const char *name;
        if (pg_yaml_text(y, k, "a channel", &name) != 0)
            return -1;
        pg_channel_t ch = pg_channel_parse(name);
        if (ch == PG_CH_NONE)
            return pg_yaml_fail(y, k,
                                "unknown channel \"%s\" (sms, whatsapp, voice, email, "
                                "messenger)",
                                name);
        if (s_money(y, v, "a cost", &cost[ch]) != 0)
            return -1;
    }
    return 0;
}

/* on_exceed: reject | defer */
static int s_on_exceed(pg_yaml_t *y, yaml_node_t *n, int *out) {
    const char *t;
    if (pg_yaml_text(y, n, "on_exceed", &t) != 0)
        return -1;
    if (strcmp(t, "reject") == 0)
        *out = BRK_BUDGET_REJECT;
    else if (strcmp(t, "defer") == 0)
        *out = BRK_BUDGET_DEFER;
    else
        return pg_yaml_fail(y, n, "on_exceed must be reject or defer, not \"%s\"", t);
    return 0;
}

/* {daily, monthly, total} of a campaign */
static int s_campaign(pg_yaml_t *y, yaml_node_t *map, s_campaign_t *c) {
    static const char *const keys[] = {"daily", "monthly", "total", NULL};
    pg_yaml_slot_t sl[3] = {{0}};
    if (pg_yaml_fields(y, map, "a campaign budget", keys, sl) != 0)
        return -1;
    int64_t *dst[3] = {&c->daily, &c->monthly, &c->total};
    for (int i = 0; i < 3; i++)
        if (sl[i].val && s_money(y, sl[i].val, keys[i], dst[i]) != 0)
            return -1;
    return 0;
}

static char *s_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int s_tenant(pg_yaml_t *y, const char *name, yaml_node_t *map, s_tenant_t *t) {
    static const char *const keys[] = {
        "costs", "daily", "monthly", "campaigns", "campaign_default", "on_exceed", NULL};
    pg_yaml_slot_t sl[6] = {{0}};
    if (pg_yaml_fields(y, map, "a tenant's budgets", keys, sl) != 0)
        return -1;
    t->on_exceed = -1;
    if (sl[5].val && s_on_exceed(y, sl[5].val, &t->on_exceed) != 0)
        return -1;
    t->name = s_dup(name);
    for (int c = 0; c < PG_CH_COUNT; c++)
        t->cost[c] = -1;
    if (!t->name || (sl[0].val && s_costs(y, sl[0].val, t->cost) != 0) ||
        (sl[1].val && s_money(y, sl[1].val, "daily", &t->daily) != 0) ||
        (sl[2].val && s_money(y, sl[2].val, "monthly", &t->monthly) != 0) ||
        (sl[4].val && s_campaign(y, sl[4].val, &t->fallback) != 0))
        return -1;
    yaml_node_t *cm = sl[3].val;
    if (!cm)
        return 0;
    if (pg_yaml_expect(y, cm, YAML_MAPPING_NODE, "campaigns") != 0)
        return -1;
    size_t n = (size_t)(cm->data.mapping.pairs.top - cm->data.mapping.pairs.start);
    t->campaigns = calloc(n ? n : 1, sizeof *t->campaigns);
    if (!t->campaigns)
        return pg_yaml_fail(y, cm, "out of memory");
    for (yaml_node_pair_t *pr = cm->data.mapping.pairs.start; pr < cm->data.mapping.pairs.top;
         pr++) {
        const char *cn;
        s_campaign_t *c = &t->campaigns[t->n_campaigns];
        if (pg_yaml_text(y, pg_yaml_node(y, pr->key), "a campaign", &cn) != 0 ||
            s_campaign(y, pg_yaml_node(y, pr->value), c) != 0)
            return -1;
        if (!(c->name = s_dup(cn)))
            return pg_yaml_fail(y, cm, "out of memory");
        t->n_campaigns++;
    }
    return 0;
}

static int s_parse(pg_yaml_t *y, brk_budgets_t *b) {
    yaml_node_t *root = pg_yaml_load(y);
    if (!root)
        return -1;
    static const char *const keys[] = {"costs", "tenants", "on_exceed", NULL};
    pg_yaml_slot_t sl[3] = {{0}};
    if (pg_yaml_fields(y, root, "the budgets file", keys, sl) != 0 ||
        (sl[0].val && s_costs(y, sl[0].val, b->cost) != 0) ||
        (sl[2].val && s_on_exceed(y, sl[2].val, &b->on_exceed) != 0))
        return -1;
    yaml_node_t *tn = sl[1].val;
    if (!tn)
        return 0;
    if (pg_yaml_expect(y, tn, YAML_MAPPING_NODE, "tenants") != 0)
        return -1;
    size_t n = (size_t)(tn->data.mapping.pairs.top - tn->data.mapping.pairs.start);
    b->tenants = calloc(n ? n : 1, sizeof *b->tenants);
    if (!b->tenants)
        return pg_yaml_fail(y, tn, "out of memory");
    for (yaml_node_pair_t *pr = tn->data.mapping.pairs.start; pr < tn->data.mapping.pairs.top;
         pr++) {
        const char *name;
        if (pg_yaml_text(y, pg_yaml_node(y, pr->key), "a tenant", &name) != 0 ||
            s_tenant(y, name, pg_yaml_node(y, pr->value), &b->tenants[b->n_tenants++]) != 0)
            return -1;
    }
    return 0;
}

brk_budgets_t *brk_budgets_load(const char *path, char *err, size_t errlen) {
    brk_budgets_t *b = calloc(1, sizeof *b);
    if (!b) {
        pg_yaml_write_err(err, errlen, "out of memory");
        return NULL;
    }
    for (int c = 0; c < PG_CH_COUNT; c++)
        b->cost[c] = -1;
    if (!path || !*path)
        return b;
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, S_MAX_FILE, &buf, &len);
    if (e != 0) {
        pg_yaml_write_err(err, errlen, "%s: cannot open: %s", path,
                          e == EFBIG ? "file larger than 1 MiB" : strerror(e));
        brk_budgets_destroy(&b);
        return NULL;
    }
    pg_yaml_t y = {
        .dialect = &s_dialect, .path = path, .buf = buf, .len = len, .err = err, .err_len = errlen};
    int rc = s_parse(&y, b);
    pg_yaml_release(&y);
    free(buf);
    if (rc != 0)
        brk_budgets_destroy(&b);
    return b;
}

void brk_budgets_destroy(brk_budgets_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_budgets_t *b = *self_p;
    for (size_t i = 0; i < b->n_tenants; i++) {
        for (size_t k = 0; k < b->tenants[i].n_campaigns; k++)
            free(b->tenants[i].campaigns[k].name);
        free(b->tenants[i].campaigns);
        free(b->tenants[i].name);
    }
    free(b->tenants);
    free(b);
    *self_p = NULL;
}

static const s_tenant_t *s_find(const brk_budgets_t *self, const char *tenant) {
    for (size_t i = 0; self && tenant && i < self->n_tenants; i++)
        if (strcmp(self->tenants[i].name, tenant) == 0)
            return &self->tenants[i];
    return NULL;
}

int64_t brk_budget_cost(const brk_budgets_t *self, const char *tenant, int channel) {
    const s_tenant_t *t = s_find(self, tenant);
    if (!t || channel <= 0 || channel >= PG_CH_COUNT)
        return -1;
    return t->cost[channel] >= 0 ? t->cost[channel] : self->cost[channel];
}

int brk_budget_on_exceed(const brk_budgets_t *self, const char *tenant) {
    const s_tenant_t *t = s_find(self, tenant);
    if (t && t->on_exceed >= 0)
        return t->on_exceed;
    return self ? self->on_exceed : BRK_BUDGET_REJECT;
}

int64_t brk_budget_next_period(const char *rule, int64_t now_s) {
    size_t n = rule ? strlen(rule) : 0;
    bool daily = n > 6 && strcmp(rule + n - 6, ".daily") == 0;
    bool monthly = n > 8 && strcmp(rule + n - 8, ".monthly") == 0;
    if (!daily && !monthly)
        return 0; /* a total budget has no next period */
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (daily) {
        tm.tm_mday += 1;
    } else {
        tm.tm_mday = 1;
        tm.tm_mon += 1;
    }
    return (int64_t)timegm(&tm); /* normalizes the day and month past their ends */
}

void brk_budget_limits(const brk_budgets_t *self, const char *tenant, const char *campaign,
                       brk_budget_limits_t *out) {
    memset(out, 0, sizeof *out);
    const s_tenant_t *t = s_find(self, tenant);
    if (!t)
        return;
    out->tenant_daily = t->daily;
    out->tenant_monthly = t->monthly;
    const s_campaign_t *c = &t->fallback;
    for (size_t i = 0; campaign && i < t->n_campaigns; i++)
        if (strcmp(t->campaigns[i].name, campaign) == 0)
            c = &t->campaigns[i];
    out->campaign_daily = c->daily;
    out->campaign_monthly = c->monthly;
    out->campaign_total = c->total;
}

size_t brk_budgets_tenants(const brk_budgets_t *self) {
    return self ? self->n_tenants : 0;
}

const char *brk_budgets_tenant(const brk_budgets_t *self, size_t i) {
    return self && i < self->n_tenants ? self->tenants[i].name : NULL;
}

size_t brk_budgets_campaigns(const brk_budgets_t *self, size_t tenant) {
    return self && tenant < self->n_tenants ? self->tenants[tenant].n_campaigns : 0;
}

const char *brk_budgets_campaign(const brk_budgets_t *self, size_t tenant, size_t i) {
    return self && tenant < self->n_tenants && i < self->tenants[tenant].n_campaigns
               ? self->tenants[tenant].campaigns[i].name
               : NULL;
}
