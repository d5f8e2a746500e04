/* st_suppress.h — suppressions: what must never be contacted, per tenant, in Redis.
 *
 * A suppression blocks, for one tenant, by what it names (its scope):
 *   contact  a contact point (E.164 phone, e-mail address lowercased, Messenger PSID), whatever
 *            debtor a job names;
 *   debtor   a debtor (channel "*": cease-communication, every channel; or one channel);
 *   debt     a debt id, whatever debtor a job names (channel "*": cease-communication on it).
 * Each has a channel (a channel name, or "*" for every channel), a rule (a short id: "opt-out"
 * set by a STOP keyword, "cease", "regulator-dnc", "operator", ...), who set it, why and when.
 * A job is suppressed when its tenant has a suppression naming its contact, its debtor or its
 * debt on its channel or "*"; its verdict is REJECTED, reason "suppressed", rule
 * "suppressed.SCOPE:RULE" (e.g. "suppressed.contact:opt-out"). Admission (pg_admit) and
 * dispatch (pg_lease: a queued job goes queued -> REJECTED and is never handed out) both check
 * with one HMGET of the six fields that could match (store/pregon.lua).
 *
 * Layout (store/st_keys.h): one hash per tenant and shard, P:{sN}:sp:T, field KIND|VALUE|CHANNEL
 * (KIND c, d or b), value RULE NUL AT NUL WHO NUL WHY. A job's admission and lease touch only its
 * debtor's shard, so a contact or debt suppression is written into every shard (S copies, one
 * Function call per shard), a debtor suppression into its debtor's shard only. Each change is
 * audited once, in the audit stream of its home shard, CRC16(tenant ":" value) mod S (for a
 * debtor suppression, the debtor's own shard), with who and why (pregon.lua's header).
 *
 * Memory: one hash field and value per copy: the field (3 + len(value) + len(channel) bytes),
 * the value (len(rule) + len(who) + len(why) + 16 bytes) and Redis's per-entry overhead (a few
 * bytes while the hash is a listpack, up to 128 entries; ~40 B once it is a hash table).
 * Measured (test_suppress): 82 B per copy for a 13-digit phone, rule "regulator-dnc", who 10 B,
 * why 16 B. A contact or debt suppression costs S copies (S = 16: ~1.3 KiB; a regulator's list
 * of 1 million numbers on 16 shards: ~1.3 GB; on 256 shards, ~21 GB: keep the why short), a
 * debtor one a single copy.
 *
 * A change that failed part-way (Redis lost) may have reached some shards only: repeat it; an
 * add or remove repeated changes nothing more and is audited once. Synchronous hiredis on a
 * borrowed connection, with the caller's st_fn_t; not thread-safe (one per connection). */
#ifndef ST_SUPPRESS_H
#define ST_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "st_fn.h"
#include "st_keys.h"

/* Bounds of the texts (bytes), checked by st_sup_validate. */
#define ST_SUP_TENANT_MAX  64
#define ST_SUP_VALUE_MAX   128
#define ST_SUP_CHANNEL_MAX 16 /* [a-z]+ or "*" */
#define ST_SUP_RULE_MAX    32 /* [a-z0-9._-]+ */
#define ST_SUP_WHO_MAX     64
#define ST_SUP_WHY_MAX     256
/* Longest verdict rule: "suppressed.contact:" and a rule. */
#define ST_SUP_VERDICT_MAX (19 + ST_SUP_RULE_MAX)

/* What a suppression names; the letter is its KIND in the hash field. */
typedef enum {
    ST_SUP_CONTACT = 'c',
    ST_SUP_DEBTOR = 'd',
    ST_SUP_DEBT = 'b',
} st_sup_scope_t;

/* "contact", "debtor", "debt"; NULL for anything else. */
const char *st_sup_scope_name(st_sup_scope_t scope);
/* The scope named `name`; 0 if none. */
st_sup_scope_t st_sup_scope_parse(const char *name);

/* A suppression to add, or the selector of one to remove. Borrowed strings. */
typedef struct {
    const char *tenant;
    st_sup_scope_t scope;
    const char *value;   /* the contact point, debtor id or debt id */
    const char *channel; /* a channel name or "*"; NULL means "*" */
    const char *rule;    /* add: its rule; remove: remove only if this is its rule (NULL any) */
    const char *who;     /* who made the change ("ops:ana", "hooks:twilio-sms") */
    const char *why;     /* why (free text; NULL means "") */
} st_sup_t;

/* Checks the bounds and characters of s (for an add when `adding`: a rule is required).
 * Returns 0, or -1 with *reason set to a static text ("tenant-missing", "rule-invalid", ...). */
int st_sup_validate(const st_sup_t *s, bool adding, const char **reason);

/* A contact point as suppressions store it: ASCII letters lowercased when it is an e-mail
 * address (has an '@'), unchanged otherwise. Returns its length, or -1 if it does not fit. */
int st_sup_contact_normalize(const char *contact, char *buf, size_t len);

/* What became of one entry of a change. */
typedef enum {
    ST_SUP_ADDED,    /* add: there was none */
    ST_SUP_CHANGED,  /* add: same rule, another who or why (audited) */
    ST_SUP_SAME,     /* add: identical: nothing written, nothing audited */
    ST_SUP_REPLACED, /* add with replace: another rule was replaced (result.rule) */
    ST_SUP_KEPT,     /* add without replace, or remove with a rule: another rule (result.rule)
                        is in force and stays */
    ST_SUP_REMOVED,  /* remove: it was removed (its rule in result.rule) */
    ST_SUP_ABSENT,   /* remove: there was none */
    ST_SUP_INVALID,  /* refused by st_sup_validate (result.rule holds the reason); not sent */
    ST_SUP_FAILED,   /* Redis failed: st_suppress_strerror; repeat the change */
} st_sup_outcome_t;

/* The name of an outcome ("added", ...). */
const char *st_sup_outcome_name(st_sup_outcome_t outcome);

typedef struct {
    st_sup_outcome_t outcome;
    char rule[ST_SUP_RULE_MAX + 1]; /* the rule concerned (see the outcomes); or the reason */
} st_sup_result_t;

typedef struct st_suppress st_suppress_t;

/* A suppression store on a borrowed connection, key layout and function caller (all three must
 * outlive it; `fn` must be on `redis`). Returns NULL on allocation failure. */
st_suppress_t *st_suppress_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn);
/* Destroys; accepts NULL; nulls the caller's pointer. */
void st_suppress_destroy(st_suppress_t **self_p);

/* Adds one suppression at now_ms. An existing one with another rule is kept (ST_SUP_KEPT)
 * unless `replace`: a STOP keyword never overwrites an operator's or a regulator's suppression.
 * Returns 0 with *res set, or -1 (invalid: res->outcome ST_SUP_INVALID; Redis failed:
 * ST_SUP_FAILED, st_suppress_strerror).
 * pregond's inbound STOP: {tenant, ST_SUP_CONTACT, contact, channel, "opt-out",
 * "hooks:twilio-sms", "keyword STOP"}, replace false. */
int st_suppress_add(st_suppress_t *self, const st_sup_t *s, bool replace, int64_t now_ms,
                    st_sup_result_t *res);

/* Removes the suppression s selects (tenant, scope, value, channel), only if its rule is
 * s->rule when that is set (ST_SUP_KEPT otherwise). who and why are audited.
 * pregond's inbound START: s->rule "opt-out": an operator's or regulator's suppression stays.
 * Returns 0 with *res set, or -1 as st_suppress_add. */
int st_suppress_remove(st_suppress_t *self, const st_sup_t *s, int64_t now_ms,
                       st_sup_result_t *res);

/* Adds s[0..n) (an import), pipelined: per chunk of entries, one call per shard. Invalid entries
 * are skipped (ST_SUP_INVALID). res[0..n) receives each entry's outcome. Returns 0, or -1 if
 * Redis failed for some entry (ST_SUP_FAILED; the others are applied). */
int st_suppress_add_batch(st_suppress_t *self, const st_sup_t *s, size_t n, bool replace,
                          int64_t now_ms, st_sup_result_t *res);
/* Removes s[0..n) as st_suppress_remove would, pipelined as st_suppress_add_batch. */
int st_suppress_remove_batch(st_suppress_t *self, const st_sup_t *s, size_t n, int64_t now_ms,
                             st_sup_result_t *res);

/* One stored suppression, as listed. Valid only during the callback. */
typedef struct {
    const char *tenant;
    st_sup_scope_t scope;
    const char *value;
    const char *channel;
    const char *rule;
    const char *who;
    const char *why;
    int64_t at_ms;
} st_sup_entry_t;

/* Called once per suppression; a nonzero return stops the listing. */
typedef int (*st_sup_each_fn)(const st_sup_entry_t *e, void *arg);

/* Lists the suppressions of `tenant` (NULL: of every tenant): contact and debt ones from shard
 * 0 (every shard holds them), debtor ones from every shard. In no particular order. Returns 0,
 * 1 if `each` stopped it, or -1 if Redis failed. */
int st_suppress_list(st_suppress_t *self, const char *tenant, st_sup_each_fn each, void *arg);

/* Whether a job of `tenant` for `debtor` on `channel` to `contact` about `debt` (NULL or "" for
 * none) is suppressed now, as admission would find: 1 with the verdict rule in rule_buf, 0, or
 * -1 if Redis failed. One HMGET in the debtor's shard. */
int st_suppress_check(st_suppress_t *self, const char *tenant, const char *debtor,
                      const char *channel, const char *contact, const char *debt, char *rule_buf,
                      size_t len);

/* The last error, "" if none. */
const char *st_suppress_strerror(const st_suppress_t *self);

#endif
