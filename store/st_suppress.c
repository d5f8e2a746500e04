/* st_suppress.c — suppressions in Redis (model, layout and cost in st_suppress.h).
 *
 * Changes are calls of pregon.lua's pg_sup_add / pg_sup_del, one per shard a chunk of entries
 * must reach, pipelined through st_fn_pipeline; listing and checking are plain single-key reads
 * (SMEMBERS, HSCAN, HMGET). Nothing here logs. */
#include "st_suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries per chunk: a chunk is one call per shard it reaches, all pipelined. */
#define S_CHUNK 128
/* Arguments per entry of pg_sup_add / pg_sup_del (pregon.lua). */
#define S_NA 9

struct st_suppress {
    redisContext *redis;   /* borrowed */
    const st_keys_t *keys; /* borrowed */
    st_fn_t *fn;           /* borrowed */
    char err[256];
};

const char *st_sup_scope_name(st_sup_scope_t scope) {
    switch (scope) {
        case ST_SUP_CONTACT:
            return "contact";
        case ST_SUP_DEBTOR:
            return "debtor";
        case ST_SUP_DEBT:
            return "debt";
    }
    return NULL;
}

st_sup_scope_t st_sup_scope_parse(const char *name) {
    static const st_sup_scope_t all[] = {ST_SUP_CONTACT, ST_SUP_DEBTOR, ST_SUP_DEBT};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, st_sup_scope_name(all[i])) == 0)
            return all[i];
    return (st_sup_scope_t)0;
}

const char *st_sup_outcome_name(st_sup_outcome_t o) {
    static const char *const names[] = {"added",   "changed", "same",    "replaced", "kept",
                                        "removed", "absent",  "invalid", "failed"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

/* Printable, no control bytes (a why goes to the audit log and to terminals). */
static int s_printable(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int s_charset(const char *s, const char *extra) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
            return 0;
    return 1;
}

int st_sup_validate(const st_sup_t *s, bool adding, const char **reason) {
    const char *ch = s->channel ? s->channel : "*";
    const char *why = s->why ? s->why : "";
    *reason = NULL;
    if (!s->tenant || !*s->tenant || strlen(s->tenant) > ST_SUP_TENANT_MAX ||
        !s_printable(s->tenant))
        *reason = "tenant-invalid";
    else if (!st_sup_scope_name(s->scope))
        *reason = "scope-invalid";
    else if (!s->value || !*s->value || strlen(s->value) > ST_SUP_VALUE_MAX ||
             !s_printable(s->value))
        *reason = "value-invalid";
    else if (strcmp(ch, "*") != 0 && (!*ch || strlen(ch) > ST_SUP_CHANNEL_MAX ||
                                      !s_charset(ch, "") || strpbrk(ch, "0123456789")))
        *reason = "channel-invalid";
    else if ((adding || (s->rule && *s->rule)) &&
             (!s->rule || !*s->rule || strlen(s->rule) > ST_SUP_RULE_MAX ||
              !s_charset(s->rule, "._-")))
        *reason = "rule-invalid";
    else if (!s->who || !*s->who || strlen(s->who) > ST_SUP_WHO_MAX || !s_printable(s->who))
        *reason = "who-invalid";
    else if (strlen(why) > ST_SUP_WHY_MAX || !s_printable(why))
        *reason = "why-invalid";
    return *reason ? -1 : 0;
}

int st_sup_contact_normalize(const char *contact, char *buf, size_t len) {
    size_t n = strlen(contact);
    if (n >= len)
        return -1;
    int mail = strchr(contact, '@') != NULL;
    for (size_t i = 0; i <= n; i++)
        buf[i] =
            (char)(mail && contact[i] >= 'A' && contact[i] <= 'Z' ? contact[i] + 32 : contact[i]);
    return (int)n;
}

st_suppress_t *st_suppress_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn) {
    if (!redis || !keys || !fn)
        return NULL;
    st_suppress_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->keys = keys;
    self->fn = fn;
    return self;
}

void st_suppress_destroy(st_suppress_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *st_suppress_strerror(const st_suppress_t *self) {
    return self->err;
}

static void s_seterr(st_suppress_t *self, const char *what, const redisReply *r) {
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(self->err, sizeof self->err, "%s: %s", what, r->str);
    else if (self->redis->err)
        snprintf(self->err, sizeof self->err, "%s: %s", what, self->redis->errstr);
    else
        snprintf(self->err, sizeof self->err, "%s: unexpected reply", what);
}

/* --- changes ------------------------------------------------------------------------------- */

/* One entry of a chunk, validated and normalized. */
typedef struct {
    size_t i; /* index into the caller's arrays */
    char value[ST_SUP_VALUE_MAX + 1];
    char kind[2];
    int home;   /* its home shard */
    int failed; /* some call carrying it failed */
} s_entry_t;

/* Reads one entry's answer ("added", "kept:RULE", ...) into res. */
static void s_take(const redisReply *e, st_sup_result_t *res) {
    static const struct {
        const char *word;
        st_sup_outcome_t o;
    } words[] = {{"added", ST_SUP_ADDED},  {"changed", ST_SUP_CHANGED},
                 {"same", ST_SUP_SAME},    {"replaced:", ST_SUP_REPLACED},
                 {"kept:", ST_SUP_KEPT},   {"removed:", ST_SUP_REMOVED},
                 {"absent", ST_SUP_ABSENT}};
    res->outcome = ST_SUP_FAILED;
    res->rule[0] = '\0';
    if (!e || e->type != REDIS_REPLY_STRING)
        return;
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t l = strlen(words[w].word);
        if (strncmp(e->str, words[w].word, l) == 0 &&
            (words[w].word[l - 1] == ':' || e->str[l] == '\0')) {
            res->outcome = words[w].o;
            if (words[w].word[l - 1] == ':')
                snprintf(res->rule, sizeof res->rule, "%s", e->str + l);
            return;
        }
    }
}

/* Whether entry e goes to shard sh: a debtor one to its home shard only, the others to all. */
static int s_reaches(const s_entry_t *e, int sh) {
    return e->kind[0] != ST_SUP_DEBTOR || e->home == sh;
}

/* Writes shard sh's call over the entries of ent[0..m) that reach it into av (its key strings
 * into keybuf at *kb, each at most keylen bytes). Returns its argc, 0 when no entry reaches sh. */
static size_t s_shard_call(st_suppress_t *self, const char *name, const st_sup_t *s,
                           const s_entry_t *ent, size_t m, int sh, bool replace, const char *now_s,
                           const char **av, char *keybuf, size_t *kb, size_t keylen) {
    size_t cnt = 0;
    /* KEYS: the set of tenants, the audit stream, then the entries' hashes */
    char *numkeys = keybuf + *kb;
    *kb += 16;
    char *tk = keybuf + *kb;
    st_key_shared(self->keys, sh, "sp-tenants", tk, ST_KEY_MAX);
    *kb += strlen(tk) + 1;
    char *ak = keybuf + *kb;
    st_key_shared(self->keys, sh, "audit", ak, ST_KEY_MAX);
    *kb += strlen(ak) + 1;
    av[0] = "FCALL";
    av[1] = name;
    av[2] = numkeys;
    av[3] = tk;
    av[4] = ak;
    size_t a = 5;
    for (size_t k = 0; k < m; k++) {
        if (!s_reaches(&ent[k], sh))
            continue;
        int n = st_key_suppress(self->keys, sh, s[ent[k].i].tenant, keybuf + *kb, keylen);
        if (n < 0) /* cannot be: a valid tenant's key fits keylen */
            n = 0, keybuf[*kb] = '\0';
        av[a++] = keybuf + *kb;
        *kb += (size_t)n + 1;
        cnt++;
    }
    if (cnt == 0)
        return 0;
    snprintf(numkeys, 16, "%zu", 2 + cnt);
    av[a++] = now_s;
    for (size_t k = 0; k < m; k++) {
        if (!s_reaches(&ent[k], sh))
            continue;
        const st_sup_t *e = &s[ent[k].i];
        av[a++] = e->tenant;
        av[a++] = ent[k].kind;
        av[a++] = ent[k].value;
        av[a++] = e->channel ? e->channel : "*";
        av[a++] = e->rule ? e->rule : "";
        av[a++] = e->who;
        av[a++] = e->why ? e->why : "";
        av[a++] = ent[k].home == sh ? "1" : "0";
        av[a++] = replace ? "1" : "0";
    }
    return a;
}

/* The calls of one chunk: per shard the chunk reaches, its entries. Builds every call's
 * arguments, pipelines them, reads each entry's answer from its home shard's call. */
static int s_chunk(st_suppress_t *self, bool adding, const st_sup_t *s, s_entry_t *ent, size_t m,
                   bool replace, const char *now_s, st_sup_result_t *res) {
    const int shards = st_keys_shards(self->keys);
    const char *name = adding ? "pg_sup_add" : "pg_sup_del";
    /* calls: one per shard that some entry reaches; a contact/debt entry reaches them all */
    size_t per_call_max = 6 + m * (1 + S_NA);
    const char **argv = malloc((size_t)shards * per_call_max * sizeof *argv);
    size_t *argl = malloc((size_t)shards * per_call_max * sizeof *argl);
    int *argc = malloc((size_t)shards * sizeof *argc);
    size_t *at = malloc((size_t)shards * sizeof *at);
    int *shard_of = malloc((size_t)shards * sizeof *shard_of);
    redisReply **rs = calloc((size_t)shards, sizeof *rs);
    size_t keylen = strlen(st_keys_prefix(self->keys)) + 24 + 3 * ST_SUP_TENANT_MAX;
    char *keybuf = malloc((size_t)shards * (m * keylen + 2 * ST_KEY_MAX + 16));
    int rc = 0;
    if (!argv || !argl || !argc || !at || !shard_of || !rs || !keybuf) {
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    size_t calls = 0, used = 0, kb = 0;
    for (int sh = 0; sh < shards; sh++) {
        size_t first = used;
        const char **av = argv + used;
        size_t a = s_shard_call(self, name, s, ent, m, sh, replace, now_s, av, keybuf, &kb, keylen);
        if (a == 0)
            continue;
        for (size_t x = 0; x < a; x++)
            argl[first + x] = strlen(av[x]);
        at[calls] = first;
        argc[calls] = (int)a;
        shard_of[calls++] = sh;
        used += a;
    }
    if (st_fn_pipeline(self->fn, name, calls, argc, at, argv, argl, rs) < 0) {
        snprintf(self->err, sizeof self->err, "%s", st_fn_strerror(self->fn));
        rc = -1;
    }
    for (size_t k = 0; k < m; k++)
        res[ent[k].i].outcome = ST_SUP_FAILED;
    for (size_t c = 0; c < calls; c++) {
        const redisReply *r = rs[c];
        int sh = shard_of[c];
        size_t expect = (size_t)(argc[c] - 6) / (1 + S_NA);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != expect) {
            if (r)
                s_seterr(self, name, r);
            rc = -1;
            /* every entry this call carried failed, wherever its home */
            for (size_t k = 0; k < m; k++)
                if (s_reaches(&ent[k], sh))
                    ent[k].failed = 1;
            continue;
        }
        size_t j = 0;
        for (size_t k = 0; k < m; k++) {
            if (!s_reaches(&ent[k], sh))
                continue;
            if (ent[k].home == sh)
                s_take(r->element[j], &res[ent[k].i]);
            j++;
        }
    }
    /* an entry some call failed for is failed, even if its home shard answered */
    for (size_t k = 0; k < m; k++)
        if (ent[k].failed)
            res[ent[k].i].outcome = ST_SUP_FAILED;
    for (size_t c = 0; c < calls; c++)
        freeReplyObject(rs[c]);
done:
    free(argv), free(argl), free(argc), free(at), free(shard_of), free(rs), free(keybuf);
    return rc;
}

static int s_change(st_suppress_t *self, bool adding, const st_sup_t *s, size_t n, bool replace,
                    int64_t now_ms, st_sup_result_t *res) {
    self->err[0] = '\0';
    s_entry_t *ent = malloc(S_CHUNK * sizeof *ent);
    if (!ent) {
        snprintf(self->err, sizeof self->err, "out of memory");
        for (size_t i = 0; i < n; i++)
            res[i].outcome = ST_SUP_FAILED, res[i].rule[0] = '\0';
        return -1;
    }
    char now_s[32];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_ms);
    int rc = 0, invalid = 0;
    size_t m = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || m == S_CHUNK) {
            if (m && s_chunk(self, adding, s, ent, m, replace, now_s, res) < 0)
                rc = -1;
            m = 0;
            if (i == n)
                break;
        }
        const char *reason;
        res[i].rule[0] = '\0';
        if (st_sup_validate(&s[i], adding, &reason) < 0) {
            res[i].outcome = ST_SUP_INVALID;
            snprintf(res[i].rule, sizeof res[i].rule, "%s", reason);
            invalid = 1;
            continue;
        }
        s_entry_t *e = &ent[m++];
        e->i = i;
        e->kind[0] = (char)s[i].scope;
        e->kind[1] = '\0';
        if (s[i].scope == ST_SUP_CONTACT)
            st_sup_contact_normalize(s[i].value, e->value, sizeof e->value);
        else
            snprintf(e->value, sizeof e->value, "%s", s[i].value);
        e->home = st_keys_shard(self->keys, s[i].tenant, e->value);
        e->failed = 0;
    }
    free(ent);
    if (invalid && rc == 0 && n == 1)
        return -1;
    return rc;
}

int st_suppress_add(st_suppress_t *self, const st_sup_t *s, bool replace, int64_t now_ms,
                    st_sup_result_t *res) {
    return s_change(self, true, s, 1, replace, now_ms, res);
}

int st_suppress_remove(st_suppress_t *self, const st_sup_t *s, int64_t now_ms,
                       st_sup_result_t *res) {
    return s_change(self, false, s, 1, false, now_ms, res);
}

int st_suppress_add_batch(st_suppress_t *self, const st_sup_t *s, size_t n, bool replace,
                          int64_t now_ms, st_sup_result_t *res) {
    return s_change(self, true, s, n, replace, now_ms, res);
}

int st_suppress_remove_batch(st_suppress_t *self, const st_sup_t *s, size_t n, int64_t now_ms,
                             st_sup_result_t *res) {
    return s_change(self, false, s, n, false, now_ms, res);
}

/* --- reads --------------------------------------------------------------------------------- */

/* Reports one hash entry (field KIND|VALUE|CHANNEL, value RULE NUL AT NUL WHO NUL WHY). Returns
 * the callback's answer, 0 for an entry that is not one. */
static int s_emit(const char *tenant, const redisReply *f, const redisReply *v, int shard,
                  st_sup_each_fn each, void *arg) {
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len < 5 ||
        f->str[1] != '|')
        return 0;
    st_sup_scope_t scope = (st_sup_scope_t)f->str[0];
    if (!st_sup_scope_name(scope) || (shard != 0 && scope != ST_SUP_DEBTOR))
        return 0; /* contact and debt ones are listed from shard 0 alone */
    char field[ST_SUP_VALUE_MAX + ST_SUP_CHANNEL_MAX + 8];
    char body[ST_SUP_RULE_MAX + ST_SUP_WHO_MAX + ST_SUP_WHY_MAX + 40];
    if (f->len >= sizeof field || v->len >= sizeof body)
        return 0;
    memcpy(field, f->str, f->len + 1);
    memcpy(body, v->str, v->len);
    body[v->len] = '\0';
    char *bar = strrchr(field, '|');
    if (bar == field + 1)
        return 0;
    *bar = '\0';
    /* body: rule NUL at NUL who NUL why */
    const char *parts[4] = {"", "", "", ""};
    size_t p = 0, start = 0;
    for (size_t i = 0; i <= v->len && p < 4; i++)
        if (i == v->len || body[i] == '\0') {
            body[i] = '\0';
            parts[p++] = body + start;
            start = i + 1;
        }
    st_sup_entry_t e = {tenant,   scope,    field + 2, bar + 1,
                        parts[0], parts[2], parts[3],  strtoll(parts[1], NULL, 10)};
    return each(&e, arg);
}

/* Lists tenant's hash of one shard through HSCAN. Returns 0, 1 (stopped) or -1. */
static int s_list_hash(st_suppress_t *self, int shard, const char *tenant, st_sup_each_fn each,
                       void *arg) {
    char key[ST_KEY_MAX], cursor[32] = "0";
    if (st_key_suppress(self->keys, shard, tenant, key, sizeof key) < 0)
        return 0;
    do {
        redisReply *r = redisCommand(self->redis, "HSCAN %s %s COUNT 512", key, cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            s_seterr(self, "HSCAN", r);
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        int stop = 0;
        for (size_t i = 0; i + 1 < kv->elements && !stop; i += 2)
            stop = s_emit(tenant, kv->element[i], kv->element[i + 1], shard, each, arg);
        freeReplyObject(r);
        if (stop)
            return 1;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int st_suppress_list(st_suppress_t *self, const char *tenant, st_sup_each_fn each, void *arg) {
    self->err[0] = '\0';
    for (int sh = 0; sh < st_keys_shards(self->keys); sh++) {
        if (tenant) {
            int rc = s_list_hash(self, sh, tenant, each, arg);
            if (rc != 0)
                return rc;
            continue;
        }
        char tk[ST_KEY_MAX];
        st_key_shared(self->keys, sh, "sp-tenants", tk, sizeof tk);
        redisReply *r = redisCommand(self->redis, "SMEMBERS %s", tk);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            s_seterr(self, "SMEMBERS", r);
            freeReplyObject(r);
            return -1;
        }
        for (size_t i = 0; i < r->elements; i++) {
            int rc = r->element[i]->type == REDIS_REPLY_STRING
                         ? s_list_hash(self, sh, r->element[i]->str, each, arg)
                         : 0;
            if (rc != 0) {
                freeReplyObject(r);
                return rc;
            }
        }
        freeReplyObject(r);
    }
    return 0;
}

int st_suppress_check(st_suppress_t *self, const char *tenant, const char *debtor,
                      const char *channel, const char *contact, const char *debt, char *rule_buf,
                      size_t len) {
    static const char *const scope[6] = {"contact", "contact", "debtor", "debtor", "debt", "debt"};
    char key[ST_KEY_MAX], cp[ST_SUP_VALUE_MAX + 1] = "";
    self->err[0] = '\0';
    if (rule_buf && len)
        rule_buf[0] = '\0';
    contact = contact ? contact : "";
    debt = debt ? debt : "";
    if (st_sup_contact_normalize(contact, cp, sizeof cp) < 0)
        return 0; /* longer than any stored value: nothing can match */
    if (st_key_suppress(self->keys, st_keys_shard(self->keys, tenant, debtor), tenant, key,
                        sizeof key) < 0)
        return 0;
    /* the same six fields, in the same order, as pregon.lua's suppressed() */
    redisReply *r =
        redisCommand(self->redis, "HMGET %s c|%s|%s c|%s|* d|%s|%s d|%s|* b|%s|%s b|%s|*", key, cp,
                     channel, cp, debtor, channel, debtor, debt, channel, debt);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        s_seterr(self, "HMGET", r);
        freeReplyObject(r);
        return -1;
    }
    int found = 0;
    for (int i = 0; i < 6 && !found; i++) {
        const redisReply *v = r->element[i];
        if (v->type != REDIS_REPLY_STRING || (i < 2 && !*cp) || (i >= 4 && !*debt))
            continue;
        found = 1;
        if (rule_buf)
            snprintf(rule_buf, len, "suppressed.%s:%s", scope[i], v->str); /* up to the NUL */
    }
    freeReplyObject(r);
    return found;
}
