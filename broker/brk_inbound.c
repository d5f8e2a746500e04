/* brk_inbound.c — applying inbound events (see brk_inbound.h).
 *
 * Every Redis call touches one slot: the id map or the contact map first (their own shards),
 * then the debtor's shard. The order makes a retry safe: an opt-out is suppressed before the
 * event is recorded as applied, so a failure in between is finished by the provider's retry
 * (and a suppression added twice changes nothing). */
#include "brk_inbound.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_fallback.h"
#include "brk_retry.h"
#include "brk_store.h"
#include "brk_validate.h"
#include "pg_log.h"
#include "rl_history.h"
#include "rl_policy.h"
#include "st_fn.h"
#include "st_suppress.h"

#define EARLY_KEEP_MAX "16" /* fields of a map past which no early event is kept */
/* packed bytes past which an early event is not kept: pregon-hooks' default body limit. The
 * hooks socket takes frames up to 64 MB, and each of a map's 16 early events was kept whole. */
#define EARLY_BYTES_MAX (64 << 10)
#define DETAIL_MAX      160                  /* bytes of a debtor's text kept in the audit record */
#define MAX_TENANTS     32                   /* tenants one contact point's map may name */
#define BRK_WINDOW_MS   (24 * 3600 * 1000LL) /* Meta's customer service window */

struct brk_inbound {
    brk_redis_t *redis;
    const st_keys_t *keys;
    const brk_config_t *cfg;
    brk_events_t *events;
    brk_counters_t *n;
    brk_fallback_t *fallback; /* borrowed; NULL: no fallback */
    const brk_rules_t *rules; /* for voice retries; NULL = none */
    brk_line_end_fn line_end; /* a voice call ended: free its line; NULL = none */
    void *line_end_ctx;
};

void brk_inbound_set_line_end(brk_inbound_t *self, brk_line_end_fn fn, void *ctx) {
    self->line_end = fn;
    self->line_end_ctx = ctx;
}

/* The call of job jk (attempt) ended: its worker frees the line. The job's lease field l is
 * "worker NUL broker NUL nonce" (pregon.lua), kept after the report. Returns whether a
 * ReleaseLine went out. */
static bool s_line_end(brk_inbound_t *self, const char *jk, unsigned attempt, int64_t now_ms) {
    redisContext *c = self->line_end ? brk_redis_context(self->redis) : NULL;
    redisReply *l = c ? redisCommand(c, "HGET %s l", jk) : NULL;
    bool sent = false;
    if (l && l->type == REDIS_REPLY_STRING) {
        const char *worker = l->str, *end = l->str + l->len;
        const char *broker = memchr(worker, '\0', l->len);
        const char *nonce = broker ? memchr(broker + 1, '\0', (size_t)(end - broker - 1)) : NULL;
        char lease[ST_LEASE_MAX];
        if (nonce && st_lease_id(self->keys, jk, attempt, nonce + 1, lease, sizeof lease) >= 0)
            sent = self->line_end(self->line_end_ctx, worker, lease, now_ms);
    }
    if (l)
        freeReplyObject(l);
    return sent;
}

void brk_inbound_set_fallback(brk_inbound_t *self, brk_fallback_t *fallback) {
    self->fallback = fallback;
}

void brk_inbound_set_rules(brk_inbound_t *self, const brk_rules_t *rules) {
    self->rules = rules;
}

brk_inbound_t *brk_inbound_new(brk_redis_t *redis, const st_keys_t *keys, const brk_config_t *cfg,
                               brk_events_t *events, brk_counters_t *n) {
    brk_inbound_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_inbound_t){redis, keys, cfg, events, n, NULL};
    return self;
}

void brk_inbound_destroy(brk_inbound_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* A call of one function with NUL-terminated arguments (argv[0..1] are filled by st_fn). */
/* A call with arguments of the given lengths; a failure is logged, and a lost connection
 * dropped (brk_redis reconnects). */
static redisReply *s_call_argl(brk_inbound_t *self, const char *name, int argc, const char **argv,
                               size_t *argl) {
    st_fn_t *fn = brk_redis_fn(self->redis);
    redisReply *r = fn ? st_fn_call(fn, name, argc, argv, argl) : NULL;
    if (!r && fn) {
        redisContext *c = brk_redis_context(self->redis);
        pg_log("inbound event: %s: %s", name, st_fn_strerror(fn));
        if (c && c->err)
            brk_redis_drop(self->redis, "inbound event");
    }
    return r;
}

/* A call of one function with NUL-terminated arguments (argv[0..1] are filled by st_fn). */
static redisReply *s_call(brk_inbound_t *self, const char *name, int argc, const char **argv) {
    size_t argl[24];
    if (argc > 24)
        return NULL;
    for (int i = 0; i < argc; i++)
        argl[i] = argv[i] ? strlen(argv[i]) : 0;
    return s_call_argl(self, name, argc, argv, argl);
}

/* pg_lookup or pg_contacts on map `key`: the event goes along, packed, to be kept there when
 * the map does not lead anywhere yet (brk_index hands it back when the map is written). */
static redisReply *s_call_keeping(brk_inbound_t *self, const char *name, const char *key,
                                  const Pregon__InboundEvent *ev) {
    size_t plen = pregon__inbound_event__get_packed_size(ev);
    uint8_t *packed = malloc(plen + 1);
    if (!packed)
        return NULL;
    pregon__inbound_event__pack(ev, packed);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)self->cfg->hooks_early_ttl_s);
    const char *argv[] = {NULL, NULL,          "1", key, ev->event_id, (const char *)packed,
                          ttl,  EARLY_KEEP_MAX};
    size_t argl[] = {0,
                     0,
                     1,
                     strlen(key),
                     strlen(ev->event_id),
                     plen <= EARLY_BYTES_MAX ? plen : 0, /* '': not kept */
                     strlen(ttl),
                     strlen(EARLY_KEEP_MAX)};
    redisReply *r = s_call_argl(self, name, 8, argv, argl);
    free(packed);
    return r;
}

static const char *s_status_outcome(const char *status) {
    if (!strcmp(status, "delivered") || !strcmp(status, "read"))
        return "DELIVERED";
    if (!strcmp(status, "undelivered") || !strcmp(status, "failed"))
        return "FAILED";
    return NULL;
}

static const char *s_delivery(brk_inbound_t *self, const Pregon__InboundEvent *ev, int64_t now_ms,
                              char *detail, size_t dl) {
    const char *ch = rl_channel_name((rl_channel_t)ev->channel);
    const char *outcome = s_status_outcome(ev->status);
    bool voice = ev->channel == PREGON__CHANNEL__VOICE;
    /* a voice call's end: "failed" (busy, no answer...) or "completed" (after an answer:
     * DELIVERED came with it); either frees the worker's line */
    bool ended = voice && (!strcmp(ev->status, "completed") || !strcmp(ev->status, "failed"));
    if (!outcome && !ended) {
        snprintf(detail, dl, "status %.40s: nothing to apply", ev->status);
        return "ignored";
    }
    char key[ST_KEY_MAX];
    if (st_key_provider(self->keys, ch, ev->provider_id, key, sizeof key) < 0) {
        snprintf(detail, dl, "provider id too long");
        return "invalid";
    }
    redisReply *r = s_call_keeping(self, "pg_lookup", key, ev);
    if (!r)
        return "error";
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        freeReplyObject(r);
        snprintf(detail, dl, "no job has %s id %.64s yet (kept %llds)", ch, ev->provider_id,
                 (long long)self->cfg->hooks_early_ttl_s);
        return "unknown";
    }
    char lease[ST_LEASE_MAX], jk[ST_KEY_MAX];
    unsigned attempt = (unsigned)strtoul(r->element[1]->str, NULL, 10);
    int ok = st_lease_id(self->keys, r->element[0]->str, attempt, NULL, lease, sizeof lease);
    snprintf(jk, sizeof jk, "%s", r->element[0]->str);
    bool released = ended && ok >= 0 && s_line_end(self, jk, attempt, now_ms);
    if (!outcome) { /* completed: the job's outcome came with the answer */
        freeReplyObject(r);
        snprintf(detail, dl, "call ended%s", released ? ": its line released" : "");
        return "ignored";
    }
    /* an unanswered call: its payload (kept while the call lasts) for the retry rule */
    redisReply *payload = NULL;
    if (ok >= 0 && self->rules && !strcmp(outcome, "FAILED") && !strcmp(ch, "voice")) {
        redisContext *c = brk_redis_context(self->redis);
        payload = c ? redisCommand(c, "HGET %s p", r->element[0]->str) : NULL;
        if (payload && payload->type != REDIS_REPLY_STRING) {
            freeReplyObject(payload);
            payload = NULL;
        }
    }
    freeReplyObject(r);
    brk_store_t *store = brk_redis_store(self->redis);
    if (ok < 0 || !store) {
        if (payload)
            freeReplyObject(payload);
        return ok < 0 ? "invalid" : "error";
    }
    char why[96];
    snprintf(why, sizeof why, "webhook: %.40s", ev->status);
    brk_report_t rep = {lease, outcome, ev->provider_id, ev->error_code, why, 0};
    char state[1][BRK_STATE_LEN];
    if (brk_store_report_many(store, &rep, 1, now_ms, state) < 0 || !strcmp(state[0], "error")) {
        if (payload)
            freeReplyObject(payload);
        return "error";
    }
    snprintf(detail, dl, "%s", state[0]);
    bool failed = !strcmp(state[0], "failed") || !strcmp(state[0], "refused: failed -> FAILED");
    if (failed && ev->fallback_eligible && self->fallback) {
        /* applied now or before (the webhook again): a fallback lost with a pregond that died
         * in between is submitted then; brk_fallback is idempotent */
        char fb[200];
        if (brk_fallback_job(self->fallback, jk, BRK_FB_ELIGIBLE, now_ms, fb, sizeof fb) < 0)
            return "error";
        snprintf(detail, dl, "%s; %s", state[0], fb);
    }
    if (payload && !strcmp(state[0], "failed")) {
        char why_retry[200];
        if (brk_retry_call(self->cfg, self->redis, self->rules, payload->str, payload->len, now_ms,
                           why_retry, sizeof why_retry) > 0)
            pg_log("voice call %s %.40s: %s", ev->provider_id, ev->error_code, why_retry);
    }
    if (payload)
        freeReplyObject(payload);
    if (!strcmp(state[0], "delivered") || !strcmp(state[0], "failed")) {
        st_job_ref_t ref;
        if (st_job_key_parse(self->keys, jk, strlen(jk), &ref) == 0)
            brk_events_publish_inbound(self->events, ref.tenant, ref.debtor, ref.job_id, ev,
                                       state[0]);
        return "applied";
    }
    if (!strncmp(state[0], "refused: ", 9)) { /* "refused: delivered -> DELIVERED" */
        const char *to = strstr(state[0], "-> ");
        char from[24];
        snprintf(from, sizeof from, "%.*s", (int)strcspn(state[0] + 9, " "), state[0] + 9);
        if (to && !strcasecmp(from, to + 3))
            return "duplicate";
        return "refused";
    }
    return !strcmp(state[0], "gone") ? "unknown" : "refused";
}

/* One tenant's share of a debtor's event: checked, applied, recorded. */
typedef struct {
    char tenant[160], debtor[160], job[160], sender[96];
    int64_t at; /* when that job went to the contact point (ms), 0 = unknown */
} s_contacted_t;

static const char *s_kind_name(int kind) {
    switch (kind) {
        case PREGON__INBOUND_EVENT__KIND__REPLY:
            return "REPLY";
        case PREGON__INBOUND_EVENT__KIND__OPT_OUT:
            return "OPT_OUT";
        case PREGON__INBOUND_EVENT__KIND__OPT_IN:
            return "OPT_IN";
        case PREGON__INBOUND_EVENT__KIND__IVR_DIGITS:
            return "DIGITS";
        case PREGON__INBOUND_EVENT__KIND__CONVERSATION:
            return "CONVERSATION";
        case PREGON__INBOUND_EVENT__KIND__PAYMENT_CLAIMED:
            return "PAYMENT_CLAIMED";
        case PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER:
            return "WRONG_NUMBER";
        default:
            return NULL;
    }
}

/* 1 when the store has job `job` of tenant's debtor, 0 if not, -1 on error. */
static int s_job_exists(brk_inbound_t *self, const char *tenant, const char *debtor,
                        const char *job) {
    char key[ST_KEY_MAX];
    redisContext *c = brk_redis_context(self->redis);
    if (!job[0] || st_key_job(self->keys, tenant, debtor, job, key, sizeof key) < 0)
        return 0;
    redisReply *r = c ? redisCommand(c, "HEXISTS %s s", key) : NULL;
    if (!r) {
        if (c && c->err)
            brk_redis_drop(self->redis, "inbound event");
        return -1;
    }
    int found = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return found;
}

/* The tenants that contacted ev's contact point on its channel from ev's sender (an entry
 * without a sender, the worker's default, matches any). Returns how many, or -1 on error.
 * An event naming its debtor (e.g. voice) is believed only when it names a job of that
 * debtor the store has: the hooks socket has no CURVE yet, so whoever reaches it could
 * otherwise opt any debtor out by guessing a tenant and a debtor id; with no such job the
 * event is taken as naming only its contact point. */
static int s_contacted(brk_inbound_t *self, const Pregon__InboundEvent *ev, s_contacted_t *out,
                       int cap) {
    int named = ev->tenant[0] && ev->debtor_id[0]
                    ? s_job_exists(self, ev->tenant, ev->debtor_id, ev->job_id)
                    : 0;
    if (named < 0)
        return -1;
    if (named) {
        snprintf(out[0].tenant, sizeof out[0].tenant, "%s", ev->tenant);
        snprintf(out[0].debtor, sizeof out[0].debtor, "%s", ev->debtor_id);
        snprintf(out[0].job, sizeof out[0].job, "%s", ev->job_id);
        out[0].sender[0] = '\0';
        return 1;
    }
    const char *ch = rl_channel_name((rl_channel_t)ev->channel);
    char key[ST_KEY_MAX];
    if (!ev->contact[0] || st_key_contact(self->keys, ch, ev->contact, key, sizeof key) < 0)
        return 0;
    redisReply *r = s_call_keeping(self, "pg_contacts", key, ev);
    if (!r)
        return -1;
    int n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < cap; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        s_contacted_t *c = &out[n];
        const char *p = v->str, *end = v->str + v->len;
        char *dst[3] = {c->debtor, c->job, c->sender};
        size_t cap_of[3] = {sizeof c->debtor, sizeof c->job, sizeof c->sender};
        for (int k = 0; k < 3; k++) {
            size_t l = strnlen(p, (size_t)(end - p));
            snprintf(dst[k], cap_of[k], "%.*s", (int)l, p);
            p = p + l < end ? p + l + 1 : end;
        }
        c->at = p < end ? strtoll(p, NULL, 10) : 0;
        snprintf(c->tenant, sizeof c->tenant, "%s", f->str);
        if (c->sender[0] && ev->sender[0] && strcmp(c->sender, ev->sender) != 0)
            continue; /* that tenant wrote from another number: not its debtor's answer */
        n++;
    }
    freeReplyObject(r);
    return n;
}

/* 1 when the debtor's event was applied before, 0 if not, -1 on error. */
static int s_seen(brk_inbound_t *self, const s_contacted_t *c, const char *event_id) {
    char key[ST_KEY_MAX];
    if (st_key_events(self->keys, c->tenant, c->debtor, key, sizeof key) < 0)
        return -1;
    const char *argv[] = {NULL, NULL, "1", key, event_id};
    redisReply *r = s_call(self, "pg_seen", 5, argv);
    if (!r)
        return -1;
    int seen = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return seen;
}

/* Whether ev is a message the debtor wrote on a channel with a 24-hour service window: it
 * opens that window (Meta counts every message of the user, whatever it says). */
static bool s_opens_window(const Pregon__InboundEvent *ev) {
    if (ev->channel != PREGON__CHANNEL__WHATSAPP && ev->channel != PREGON__CHANNEL__MESSENGER)
        return false;
    switch (ev->kind) {
        case PREGON__INBOUND_EVENT__KIND__REPLY:
        case PREGON__INBOUND_EVENT__KIND__OPT_OUT:
        case PREGON__INBOUND_EVENT__KIND__OPT_IN:
        case PREGON__INBOUND_EVENT__KIND__PAYMENT_CLAIMED:
        case PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER:
            return true;
        default:
            return false;
    }
}

/* Records the event in the debtor's shard: "applied", "duplicate" or NULL on error. A message
 * on WhatsApp or Messenger opens the debtor's service window there in the same call. */
static const char *s_record(brk_inbound_t *self, const Pregon__InboundEvent *ev,
                            const s_contacted_t *c, const char *kind, int64_t now_ms) {
    char ak[ST_KEY_MAX], hk[ST_KEY_MAX], ek[ST_KEY_MAX], wk[ST_KEY_MAX], now[24], ttl[24], ref[16],
        text[256], wuntil[24], wttl[24];
    int shard = st_keys_shard(self->keys, c->tenant, c->debtor);
    if (st_key_shared(self->keys, shard, "audit", ak, sizeof ak) < 0 ||
        st_key_history(self->keys, c->tenant, c->debtor, hk, sizeof hk) < 0 ||
        st_key_events(self->keys, c->tenant, c->debtor, ek, sizeof ek) < 0)
        return NULL;
    bool window =
        s_opens_window(ev) && ev->contact[0] &&
        st_key_window(self->keys, c->tenant, c->debtor, rl_channel_name((rl_channel_t)ev->channel),
                      ev->contact, wk, sizeof wk) >= 0;
    snprintf(wuntil, sizeof wuntil, "%lld", (long long)(now_ms + BRK_WINDOW_MS));
    /* kept a while past its close: a clock a test shifts forward still finds it, closed */
    snprintf(wttl, sizeof wttl, "%lld", (long long)(BRK_WINDOW_MS + 3600 * 1000LL));
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)self->cfg->hooks_seen_ttl_s);
    if (c->job[0])
        snprintf(ref, sizeof ref, "%x", rl_job_ref(c->tenant, c->job));
    else
        ref[0] = '\0';
    const char *body = ev->digits[0] ? ev->digits : ev->text;
    snprintf(text, sizeof text, "%.*s", DETAIL_MAX, body);
    const char *argv[] = {NULL,
                          NULL,
                          window ? "4" : "3",
                          ak,
                          hk,
                          ek,
                          window ? wk : NULL, /* dropped below when there is no window */
                          now,
                          ttl,
                          ev->event_id,
                          kind,
                          c->tenant,
                          c->debtor,
                          rl_channel_name((rl_channel_t)ev->channel),
                          c->job,
                          ev->contact,
                          ref,
                          ev->provider,
                          text,
                          wuntil,
                          wttl};
    int argc = (int)(sizeof argv / sizeof *argv);
    if (!window) { /* no window key and no window arguments */
        memmove(&argv[6], &argv[7], (size_t)(argc - 7) * sizeof *argv);
        argc -= 3;
    }
    redisReply *r = s_call(self, "pg_inbound", argc, argv);
    if (!r)
        return NULL;
    const char *res = r->type == REDIS_REPLY_STRING && !strcmp(r->str, "duplicate") ? "duplicate"
                      : r->type == REDIS_REPLY_STRING                               ? "applied"
                                                                                    : NULL;
    freeReplyObject(r);
    return res;
}

/* Hook for what an opt-out or opt-in changes besides its record (suppressions). */
static int s_consent(brk_inbound_t *self, const Pregon__InboundEvent *ev, const s_contacted_t *c,
                     int64_t now_ms);

static int s_wrong_number(brk_inbound_t *self, const Pregon__InboundEvent *ev,
                          const s_contacted_t *c, int64_t now_ms, char *out, size_t ol);

static const char *s_from_debtor(brk_inbound_t *self, const Pregon__InboundEvent *ev,
                                 int64_t now_ms, char *detail, size_t dl) {
    const char *kind = s_kind_name(ev->kind);
    char fb[200] = "";
    s_contacted_t found[MAX_TENANTS];
    int n = s_contacted(self, ev, found, MAX_TENANTS);
    if (n < 0)
        return "error";
    if (n == 0) {
        snprintf(detail, dl, "nobody contacted that %s contact point (kept %llds)",
                 rl_channel_name((rl_channel_t)ev->channel),
                 (long long)self->cfg->hooks_early_ttl_s);
        return "unknown";
    }
    int applied = 0, duplicates = 0;
    for (int i = 0; i < n; i++) {
        int seen = s_seen(self, &found[i], ev->event_id);
        if (seen < 0)
            return "error";
        if (seen) {
            duplicates++;
            continue;
        }
        if (s_consent(self, ev, &found[i], now_ms) < 0)
            return "error";
        if (s_wrong_number(self, ev, &found[i], now_ms, fb, sizeof fb) < 0)
            return "error";
        const char *res = s_record(self, ev, &found[i], kind, now_ms);
        if (!res)
            return "error";
        if (!strcmp(res, "applied")) {
            applied++;
            brk_events_publish_inbound(self->events, found[i].tenant, found[i].debtor, found[i].job,
                                       ev, kind);
        } else {
            duplicates++;
        }
    }
    snprintf(detail, dl, "%s for %d tenant(s), %d already applied%s%s", kind, applied, duplicates,
             fb[0] ? "; " : "", fb);
    return applied ? "applied" : "duplicate";
}

/* A wrong-number answer: the job it answers falls back when it asks for it
 * (fallback_on_wrong_number; the suppression is s_consent's). Before the event is recorded, as
 * s_consent: a failure is finished by the provider's retry, and the fallback is idempotent. 0, or
 * -1 when Redis failed. */
static int s_wrong_number(brk_inbound_t *self, const Pregon__InboundEvent *ev,
                          const s_contacted_t *c, int64_t now_ms, char *out, size_t ol) {
    char jk[ST_KEY_MAX];
    if (ev->kind != PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER || !self->fallback || !c->job[0] ||
        st_key_job(self->keys, c->tenant, c->debtor, c->job, jk, sizeof jk) < 0)
        return 0;
    return brk_fallback_job(self->fallback, jk, BRK_FB_WRONG_NUMBER, now_ms, out, ol);
}

/* An opt-out suppresses the contact point for every debtor of the tenant (on the event's
 * channel, or on every channel with hooks.opt_out_every_channel); an opt-in lifts only a
 * suppression an opt-out made ("opt-out" rule: an operator's or a regulator's stays). 0, or -1
 * when Redis failed (the event is then not recorded: the provider's retry finishes it). */
static int s_consent(brk_inbound_t *self, const Pregon__InboundEvent *ev, const s_contacted_t *c,
                     int64_t now_ms) {
    bool wrong = ev->kind == PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER;
    bool out = ev->kind == PREGON__INBOUND_EVENT__KIND__OPT_OUT || wrong;
    if (!out && ev->kind != PREGON__INBOUND_EVENT__KIND__OPT_IN)
        return 0;
    st_suppress_t *sup =
        st_suppress_new(brk_redis_context(self->redis), self->keys, brk_redis_fn(self->redis));
    if (!sup)
        return -1;
    char contact[ST_SUP_VALUE_MAX + 1], who[ST_SUP_WHO_MAX + 1], why[ST_SUP_WHY_MAX + 1];
    if (st_sup_contact_normalize(ev->contact, contact, sizeof contact) < 0) {
        st_suppress_destroy(&sup);
        return 0; /* longer than any suppression can name: validation said so already */
    }
    snprintf(who, sizeof who, "hooks:%.50s", ev->provider[0] ? ev->provider : "unknown");
    if (wrong)
        snprintf(why, sizeof why, "wrong number \"%.80s\" for debtor %.40s (event %.100s)",
                 ev->text[0] ? ev->text : ev->digits, c->debtor, ev->event_id);
    else
        snprintf(why, sizeof why, "%s \"%.80s\" (event %.100s)", out ? "opt-out" : "opt-in",
                 ev->text, ev->event_id);
    /* a wrong number is not the debtor's on any channel: suppressed on every one, for every
     * debtor of the tenant (whoever answers it is not the one the tenant looks for) */
    st_sup_t s = {c->tenant,
                  ST_SUP_CONTACT,
                  contact,
                  wrong || self->cfg->hooks_opt_out_every_channel
                      ? "*"
                      : rl_channel_name((rl_channel_t)ev->channel),
                  wrong ? "wrong-number" : "opt-out",
                  who,
                  why};
    st_sup_result_t res;
    int rc = out ? st_suppress_add(sup, &s, false, now_ms, &res)
                 : st_suppress_remove(sup, &s, now_ms, &res);
    if (rc < 0 && res.outcome == ST_SUP_INVALID) {
        pg_log("inbound %s for %s: not a suppression (%s)", out ? "opt-out" : "opt-in", c->tenant,
               res.rule);
        rc = 0;
    } else if (rc < 0) {
        pg_log("inbound %s for %s: %s", out ? "opt-out" : "opt-in", c->tenant,
               st_suppress_strerror(sup));
    }
    st_suppress_destroy(&sup);
    return rc;
}

/* The provider id of tenant's job `job` of debtor into pid ("" when it has none yet). 0, or -1
 * on error. */
static int s_job_pid(brk_inbound_t *self, const s_contacted_t *c, char *pid, size_t len) {
    char key[ST_KEY_MAX];
    redisContext *ctx = brk_redis_context(self->redis);
    pid[0] = '\0';
    if (st_key_job(self->keys, c->tenant, c->debtor, c->job, key, sizeof key) < 0)
        return 0;
    redisReply *r = ctx ? redisCommand(ctx, "HGET %s pid", key) : NULL;
    if (!r) {
        if (ctx && ctx->err)
            brk_redis_drop(self->redis, "inbound event");
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING)
        snprintf(pid, len, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    return 0;
}

/* A delivery status naming a contact point instead of a message: Messenger's read receipts,
 * and its deliveries without mids, say "everything sent to this PSID before the watermark"
 * (ev->at; 0 = whenever). Applied, as s_delivery does, to the job each tenant last sent to
 * that contact point on the channel (its contact map), when that job went out before the
 * watermark and has a provider id. */
static const char *s_delivery_by_contact(brk_inbound_t *self, const Pregon__InboundEvent *ev,
                                         int64_t now_ms, char *detail, size_t dl) {
    s_contacted_t found[MAX_TENANTS];
    int n = s_contacted(self, ev, found, MAX_TENANTS);
    if (n < 0)
        return "error";
    const char *res = "unknown";
    int applied = 0;
    snprintf(detail, dl, "no job sent to that %s contact point before %lld",
             rl_channel_name((rl_channel_t)ev->channel), (long long)ev->at);
    for (int i = 0; i < n; i++) {
        char pid[ST_KEY_MAX];
        if (!found[i].job[0] || (ev->at > 0 && found[i].at > ev->at))
            continue;
        if (s_job_pid(self, &found[i], pid, sizeof pid) < 0)
            return "error";
        if (!pid[0])
            continue;
        Pregon__InboundEvent one = *ev;
        one.provider_id = pid;
        const char *r = s_delivery(self, &one, now_ms, detail, dl);
        if (!strcmp(r, "error"))
            return r;
        applied += !strcmp(r, "applied");
        if (strcmp(res, "applied") != 0 && strcmp(r, "unknown") != 0)
            res = r;
    }
    return applied ? "applied" : res;
}

const char *brk_inbound_apply(brk_inbound_t *self, const Pregon__InboundEvent *ev, int64_t now_ms,
                              char *detail, size_t detail_len) {
    detail[0] = '\0';
    if (!brk_redis_ok(self->redis, now_ms)) {
        snprintf(detail, detail_len, "%s", brk_redis_busy_reason(self->redis));
        return "error";
    }
    if (!brk_val_repackable(&ev->base)) { /* parked early, it would not unpack again */
        snprintf(detail, detail_len, "an unknown field numbered 0 or past 2^29 - 1");
        return "invalid";
    }
    const char *ch = rl_channel_name((rl_channel_t)ev->channel);
    if (!ch || !strcmp(ch, "none") || !ev->event_id[0] || strlen(ev->event_id) > 200) {
        snprintf(detail, detail_len, "an event needs a channel and an event id (1..200 bytes)");
        return "invalid";
    }
    if (ev->kind == PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS && !ev->provider_id[0] &&
        ev->contact[0] && ev->status[0])
        return s_delivery_by_contact(self, ev, now_ms, detail, detail_len);
    if (ev->kind == PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS) {
        if (!ev->provider_id[0] || !ev->status[0]) {
            snprintf(detail, detail_len, "a delivery status needs provider_id and status");
            return "invalid";
        }
        return s_delivery(self, ev, now_ms, detail, detail_len);
    }
    if (!s_kind_name(ev->kind) || (!ev->contact[0] && !(ev->tenant[0] && ev->debtor_id[0]))) {
        snprintf(detail, detail_len, "unknown kind %d, or no contact point", (int)ev->kind);
        return "invalid";
    }
    return s_from_debtor(self, ev, now_ms, detail, detail_len);
}

void brk_inbound_early(void *ctx, const void *packed, size_t len, int64_t now_ms) {
    brk_inbound_t *self = ctx;
    Pregon__InboundEvent *ev = pregon__inbound_event__unpack(NULL, len, packed);
    if (!ev)
        return;
    char detail[160];
    const char *res = brk_inbound_apply(self, ev, now_ms, detail, sizeof detail);
    if (strcmp(res, "applied") != 0 && strcmp(res, "duplicate") != 0)
        pg_log("early event %s on %s: %s (%s)", ev->event_id,
               rl_channel_name((rl_channel_t)ev->channel), res, detail);
    pregon__inbound_event__free_unpacked(ev, NULL);
}
