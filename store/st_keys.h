/* st_keys.h — the Redis key layout: every key pregon uses is built here, and only here.
 *
 * A debtor's keys carry the hash tag of the debtor's shard, shard = CRC16(tenant ":" debtor)
 * mod S (CRC16 as Redis Cluster computes it), and every shared structure exists once per shard
 * with the same tag, so that each Redis call touches one slot and the layout runs unchanged on
 * one Redis or on a Redis Cluster:
 *   P:{sN}:h:T:D        hash    debtor history: v = version, c = records (rl_history.h)
 *   P:{sN}:j:T:D:J      hash    one job (fields in store/pregon.lua's header)
 *   P:{sN}:sp:T         hash    the suppressions of tenant T shard N must know (st_suppress.h):
 *                               field "KIND|VALUE|CHANNEL" (KIND c contact, d debtor, b debt;
 *                               CHANNEL a channel or "*"), value "RULE NUL AT NUL WHO NUL WHY".
 *                               Contact and debt ones are in every shard, debtor ones in the
 *                               debtor's shard only.
 *   P:{sN}:sp-tenants   set     the tenants having a P:{sN}:sp:T hash (listing every tenant)
 *   P:{sN}:q:CHANNEL    zset    ready queue of job keys by score (priority, then arrival)
 *   P:{sN}:deferred     zset    job keys by the instant they may be admitted again (s)
 *   P:{sN}:retry        zset    job keys by the instant they may be queued again (s)
 *   P:{sN}:leases       zset    job keys by lease expiry (ms)
 *   P:{sN}:audit        stream  one record per transition (schema in pregon.lua)
 *   P:{sN}:dataset      string  the dataset id pregond stamped (st_dataset)
 *   P:{sN}:pause        hash    the pauses in force, in every shard (store/pregon.lua)
 *   P:{sN}:paused       zset    jobs parked by a pause, by their queue score
 *   P:{sN}:due          hash    the sunrise wave: field "CHANNEL|HOUR" (hours since the epoch,
 *                               UTC) -> deferred jobs of the channel due in that hour, kept
 *                               with the deferred set by pregon.lua's due_move
 *   P:{sH}:budget:T     hash    what tenant T spent, per day, month and campaign (H: its home
 *                               shard, CRC16(T) mod S; broker/brk_budget.h)
 * T, D and J are escaped (':' '%' '{' '}' and bytes outside 0x21..0x7e become %XX), so a key
 * names exactly one (tenant, debtor, job) and never changes its own hash tag.
 * Lease ids handed to workers are built and read here too (with the nonce drawn by the caller:
 * this module stays pure); to everyone else they are opaque.
 * The key set is plain data after st_keys_new: any number of threads may read it. */
#ifndef ST_KEYS_H
#define ST_KEYS_H

#include <stddef.h>

typedef struct st_keys st_keys_t;

/* Longest key this module builds: ids are bounded at admission (brk_limits.h: tenant 64, debtor
 * and job 128 bytes), and escaping can triple them. */
#define ST_KEY_MAX 1024
/* Longest lease id. */
#define ST_LEASE_MAX 700

/* A layout with key prefix `prefix` (1..31 bytes, no '{') and `shards` shards (1..16384).
 * Returns NULL on invalid arguments or allocation failure. */
st_keys_t *st_keys_new(const char *prefix, int shards);
/* Destroys; accepts NULL; nulls the caller's pointer. */
void st_keys_destroy(st_keys_t **self_p);

int st_keys_shards(const st_keys_t *self);
const char *st_keys_prefix(const st_keys_t *self);

/* CRC16 (XMODEM, Redis Cluster's) of len bytes. */
unsigned st_crc16(const char *buf, size_t len);
/* The shard of a debtor. */
int st_keys_shard(const st_keys_t *self, const char *tenant, const char *debtor);
/* The Redis Cluster slot of a shard's keys (for tests and operators). */
int st_keys_slot(const st_keys_t *self, int shard);

/* Each writes a NUL-terminated key into buf and returns its length, or -1 if it does not fit. */
int st_key_history(const st_keys_t *self, const char *tenant, const char *debtor, char *buf,
                   size_t len);
int st_key_job(const st_keys_t *self, const char *tenant, const char *debtor, const char *job_id,
               char *buf, size_t len);
/* The budget hash of `tenant` (P:{sH}:budget:T, H = CRC16(tenant) mod S, its home shard):
 * what it spent per day, month and campaign (broker/brk_budget.h). */
int st_key_budget(const st_keys_t *self, const char *tenant, char *buf, size_t len);
/* The suppression hash of `tenant` in `shard` (P:{sN}:sp:T). */
int st_key_suppress(const st_keys_t *self, int shard, const char *tenant, char *buf, size_t len);
/* A debtor's three keys and one of its jobs' at once (the shard is computed once): the history,
 * job and suppression keys (the tenant's suppression hash in the debtor's shard) written one
 * after the other into buf, NUL-terminated each, pointed to by *hk, *jk and *sk. Returns the
 * bytes used, or -1 if they do not fit in len. */
int st_keys_job_set(const st_keys_t *self, const char *tenant, const char *debtor,
                    const char *job_id, char *buf, size_t len, char **hk, char **jk, char **sk,
                    int *shard);
/* Per-shard structures; `what` is one of "deferred", "due", "retry", "leases", "audit",
 * "dataset", "sp-tenants", "pause", "paused", or "q:CHANNEL" for a ready queue. */
int st_key_shared(const st_keys_t *self, int shard, const char *what, char *buf, size_t len);

/* The way back (webhooks). Each key lives in the shard its own two names hash to, so a lookup
 * needs nothing but what the provider sent:
 *   P:{sM}:pm:PROVIDER:ID   hash  a provider's message id -> its job: j = job key, a = attempt,
 *                                 "e:EVENT" = an event that came before the id was known
 *   P:{sK}:ct:CHANNEL:CP    hash  who contacted contact point CP on CHANNEL: field tenant ->
 *                                 "debtor NUL job NUL sender NUL at(ms)" (the latest job)
 *   P:{sN}:ev:T:D           hash  events applied to a debtor: event id -> at (ms), so a webhook
 *                                 the provider delivers twice is applied once
 *   P:{sN}:w:T:D:CH:CP      string the 24-hour service window of WhatsApp / Messenger: the
 *                                 instant (ms, pregond's clock) it closes, opened by a message
 *                                 from contact point CP on channel CH that the contact map
 *                                 attributed to debtor D of tenant T; expires by itself (PX)
 * M = shard of (PROVIDER, ID), K = shard of (CHANNEL, CP), N = the debtor's shard. */
int st_key_provider(const st_keys_t *self, const char *provider, const char *id, char *buf,
                    size_t len);
int st_key_contact(const st_keys_t *self, const char *channel, const char *contact, char *buf,
                   size_t len);
int st_key_events(const st_keys_t *self, const char *tenant, const char *debtor, char *buf,
                  size_t len);
/* The service window of (tenant, debtor) on channel `channel` ("whatsapp", "messenger") to
 * contact point `contact`, in the debtor's shard: admission (pg_admit) and dispatch (pg_lease)
 * read it in the same call as the job. */
int st_key_window(const st_keys_t *self, const char *tenant, const char *debtor,
                  const char *channel, const char *contact, char *buf, size_t len);

/* What a job key names; strings unescaped into the caller's storage. */
typedef struct {
    int shard;
    char tenant[160];
    char debtor[160];
    char job_id[160];
} st_job_ref_t;

/* Reads a job key built by st_key_job. Returns 0, or -1 if it is not one. */
int st_job_key_parse(const st_keys_t *self, const char *key, size_t key_len, st_job_ref_t *out);

/* A lease id names a job, its attempt and the lease's nonce: "ATTEMPT.NONCE/JOB_KEY", NONCE
 * ST_NONCE_HEX hex digits of random bits drawn when the lease was taken (store/pregon.lua keeps
 * it in the job hash, pg_report refuses a report whose nonce is not the current lease's), so a
 * lease id cannot be guessed from the job key and an attempt number taken again after a
 * hand-back names another lease. "ATTEMPT/JOB_KEY" (no nonce) is the broker's own form, for
 * what it applies on a job's attempt without a lease at hand (a provider's webhook): never
 * accepted from a worker. */
#define ST_NONCE_BYTES 8
#define ST_NONCE_HEX   (2 * ST_NONCE_BYTES)

/* The nonce text of ST_NONCE_BYTES random bytes: ST_NONCE_HEX lowercase hex digits and a NUL. */
void st_nonce_hex(const unsigned char bytes[ST_NONCE_BYTES], char out[ST_NONCE_HEX + 1]);

/* The lease id of attempt `attempt` of the job with key `job_key` and nonce `nonce` (ST_NONCE_HEX
 * hex digits, or "" / NULL for the broker's own form). Returns its length or -1. */
int st_lease_id(const st_keys_t *self, const char *job_key, unsigned attempt, const char *nonce,
                char *buf, size_t len);
/* Reads a lease id: the job key into key_buf, the attempt, and the nonce into nonce (a buffer of
 * ST_NONCE_HEX + 1; "" when the id has none; NULL: not wanted). Returns 0, or -1 if malformed. */
int st_lease_parse(const st_keys_t *self, const char *lease, char *key_buf, size_t key_len,
                   unsigned *attempt, char *nonce);

/* "TENANT/JOB (attempt N)" for a log line, from a lease id; the lease id itself, bounded, when
 * it is not one. Returns buf. */
const char *st_lease_describe(const st_keys_t *self, const char *lease, char *buf, size_t len);

#endif
