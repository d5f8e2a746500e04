/* brk_redis.c — connection, fail-closed state and the dataset stamp (see brk_redis.h). */
#include "brk_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_rauth.h"
#include "pg_log.h"
#include "pg_logsum.h"
#include "st_fn.h"

#define FINISHED_TTL_S (35LL * 86400)
#define RETRY_MS       1000
#define VERIFY_MS      1000
#define ADOPTED        "adopted-" /* prefix of a stamp written by pregonctl redis adopt */

typedef enum { S_DOWN, S_UP, S_WRONG_DATASET } s_state_t;
/* What the last "redis unavailable" line was about: each kind is said once, not per call or per
 * reconnect. An ACL refusal (a configuration fault that reconnecting does not cure, met by every
 * call that needs the missing permission) is logged once, then summed up once a minute while
 * it lasts (pg_logsum). */
typedef enum { F_NONE, F_NET, F_AUTH, F_DENIED } s_fault_t;

struct brk_redis {
    const brk_config_t *cfg; /* borrowed */
    const st_keys_t *keys;   /* borrowed */
    brk_counters_t *n;       /* borrowed */
    char broker_tag[128];
    redisContext *redis;
    st_fn_t *fn;
    rl_admit_t *admit;
    brk_store_t *store;
    s_state_t state;
    bool logged_down;
    s_fault_t logged;     /* the kind of fault last logged (F_NONE once "back" is said) */
    char logged_why[256]; /* its text, for F_AUTH: a different one is logged too */
    pg_logsum_t *denials; /* ACL refusals: the first logged, the rest summed up */
    char dataset[64];     /* the stamp this broker counts on; "" until the first connection */
    int64_t next_try_ms, next_verify_ms;
};

static void s_close(brk_redis_t *self) {
    rl_admit_destroy(&self->admit);
    brk_store_destroy(&self->store);
    st_fn_destroy(&self->fn);
    if (self->redis)
        redisFree(self->redis);
    self->redis = NULL;
}

/* Logs `why` unless this fault was said already (see s_fault_t). */
static void s_say(brk_redis_t *self, s_fault_t kind, const char *why) {
    if (kind == F_NET && self->logged == F_NET && self->state == S_DOWN)
        return;
    if (kind == F_AUTH && self->logged == kind && strncmp(self->logged_why, why, 255) == 0)
        return;
    if (kind == F_DENIED) {
        pg_logsum_event(self->denials, "refusals by the Redis ACL",
                        "redis refuses pregond a command (%s): the Redis ACL does not give "
                        "redis.user what pregond needs (deploy/users.acl) or no password is "
                        "configured; admitting nothing, answering BUSY until it does",
                        why);
        return;
    }
    if (kind == F_AUTH)
        pg_log("redis unavailable: %s; admitting nothing, answering BUSY until it accepts us", why);
    else
        pg_log("redis unavailable (%s): admitting nothing, answering BUSY until it is back", why);
    self->logged = kind;
    snprintf(self->logged_why, sizeof self->logged_why, "%s", why);
}

void brk_redis_drop(brk_redis_t *self, const char *why) {
    s_fault_t kind = brk_rauth_is_denied(why) ? F_DENIED : F_NET;
    s_say(self, kind, why);
    if (kind != F_DENIED) /* a refusal is no outage: no "back" line once the connection works */
        self->logged_down = true;
    self->state = S_DOWN;
    self->n->redis_errors++;
    s_close(self);
}

/* Reads every shard's stamp. Returns the common value in out ("" when no shard has one), or -1
 * with why when shards disagree or some lack it (a partial loss), or -2 on a Redis error. */
static int s_read_stamps(brk_redis_t *self, char *out, size_t len, char *why, size_t why_len) {
    const int shards = st_keys_shards(self->keys);
    for (int s = 0; s < shards; s++) {
        char k[ST_KEY_MAX];
        st_key_shared(self->keys, s, "dataset", k, sizeof k);
        redisAppendCommand(self->redis, "GET %s", k);
    }
    int missing = 0, rc = 0;
    out[0] = '\0';
    for (int s = 0; s < shards; s++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK)
            return -2;
        if (r->type == REDIS_REPLY_STRING) {
            if (!out[0])
                snprintf(out, len, "%.*s", (int)r->len, r->str);
            else if (strcmp(out, r->str) != 0 && rc == 0) {
                snprintf(why, why_len, "shards carry different dataset ids");
                rc = -1;
            }
        } else {
            missing++;
        }
        freeReplyObject(r);
    }
    if (rc == 0 && missing && missing < shards) {
        snprintf(why, why_len, "%d of %d shards lost their dataset id", missing, shards);
        rc = -1;
    }
    if (rc == 0 && missing == shards)
        out[0] = '\0';
    return rc;
}

static int s_write_stamps(brk_redis_t *self, const char *id) {
    const int shards = st_keys_shards(self->keys);
    for (int s = 0; s < shards; s++) {
        char k[ST_KEY_MAX];
        st_key_shared(self->keys, s, "dataset", k, sizeof k);
        redisAppendCommand(self->redis, "SET %s %s NX", k, id);
    }
    int rc = 0;
    for (int s = 0; s < shards; s++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK)
            return -1;
        if (r->type == REDIS_REPLY_ERROR)
            rc = -1;
        freeReplyObject(r);
    }
    return rc;
}

/* Decides whether the connected Redis holds this broker's dataset; stamps a fresh one. */
static s_state_t s_check_dataset(brk_redis_t *self) {
    char found[64], why[128] = "";
    int rc = s_read_stamps(self, found, sizeof found, why, sizeof why);
    if (rc == -2)
        return S_DOWN;
    if (rc == 0 && !found[0] && !self->dataset[0]) { /* first start on an empty Redis */
        char id[40];
        FILE *f = fopen("/dev/urandom", "rb");
        unsigned char raw[8] = {0};
        if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) {
            if (f)
                fclose(f);
            return S_DOWN;
        }
        fclose(f);
        snprintf(id, sizeof id, "ds-%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2],
                 raw[3], raw[4], raw[5], raw[6], raw[7]);
        if (s_write_stamps(self, id) < 0 ||
            s_read_stamps(self, found, sizeof found, why, sizeof why) != 0 || !found[0])
            return S_DOWN;
        pg_log("redis dataset stamped %s (first start on this Redis)", found);
    }
    if (rc == 0 && found[0] && !self->dataset[0]) {
        snprintf(self->dataset, sizeof self->dataset, "%s", found);
        return S_UP;
    }
    if (rc == 0 && found[0] && strcmp(found, self->dataset) == 0)
        return S_UP;
    if (rc == 0 && strncmp(found, ADOPTED, strlen(ADOPTED)) == 0) {
        pg_log("redis dataset %s adopted by an operator (was %s): admitting again", found,
               self->dataset);
        snprintf(self->dataset, sizeof self->dataset, "%s", found);
        return S_UP;
    }
    if (self->state != S_WRONG_DATASET)
        pg_log("REDIS DATASET CHANGED: expected %s, found %s%s%s; admitting nothing (BUSY "
               "redis-dataset-changed) until it is back or an operator runs `pregonctl redis "
               "adopt`",
               self->dataset[0] ? self->dataset : "(none)", found[0] ? found : "none",
               why[0] ? ": " : "", why);
    return S_WRONG_DATASET;
}

/* The sunrise wave's tally of every shard computed again from its deferred set (pregon.lua
 * pg_due_rebuild): once per connection, so an upgrade or a job deleted from outside leaves it
 * wrong no longer than until pregond next connects. 0, or -1 when Redis failed. */
static int s_rebuild_wave(brk_redis_t *self) {
    for (int s = 0; s < st_keys_shards(self->keys); s++) {
        char dk[ST_KEY_MAX], uk[ST_KEY_MAX];
        st_key_shared(self->keys, s, "deferred", dk, sizeof dk);
        st_key_shared(self->keys, s, "due", uk, sizeof uk);
        const char *argv[] = {"FCALL", "pg_due_rebuild", "2", dk, uk};
        size_t argl[] = {0, 0, 1, strlen(dk), strlen(uk)};
        redisReply *r = st_fn_call(self->fn, "pg_due_rebuild", 5, argv, argl);
        int ok = r && r->type == REDIS_REPLY_INTEGER;
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static void s_connect(brk_redis_t *self) {
    const brk_config_t *cfg = self->cfg;
    struct timeval tv = {2, 0};
    redisContext *c = NULL;
    char why[1536];
    brk_rauth_result_t auth = brk_rauth_connect(cfg, &tv, &c, why, sizeof why);
    if (auth != BRK_RAUTH_OK) { /* every reconnect authenticates again: a rotated file is read */
        s_say(self, auth == BRK_RAUTH_UNREACHABLE ? F_NET : F_AUTH, why);
        self->logged_down = true;
        self->state = S_DOWN;
        return;
    }
    self->redis = c;
    self->fn = st_fn_new(c);
    brk_store_opts_t o = {FINISHED_TTL_S, cfg->max_attempts, cfg->resend_unknown, self->broker_tag};
    self->admit = self->fn ? rl_admit_new(c, self->keys, self->fn) : NULL;
    self->store = self->fn ? brk_store_new(c, self->keys, self->fn, &o) : NULL;
    if (!self->admit || !self->store) {
        brk_redis_drop(self, "out of memory");
        return;
    }
    if (st_fn_ensure(self->fn) < 0) {
        brk_redis_drop(self, st_fn_strerror(self->fn));
        return;
    }
    s_state_t was = self->state;
    self->state = s_check_dataset(self);
    if (self->state == S_DOWN) {
        brk_redis_drop(self, self->redis && self->redis->err ? self->redis->errstr
                                                             : "dataset stamp not readable");
        return;
    }
    if (self->state == S_UP && s_rebuild_wave(self) < 0) {
        brk_redis_drop(self, self->redis->err ? self->redis->errstr : "pg_due_rebuild failed");
        return;
    }
    if (self->state == S_UP && (was != S_UP && self->logged_down))
        pg_log("redis is back (dataset %s): admitting again", self->dataset);
    if (self->state == S_UP) {
        self->logged_down = false;
        self->logged = F_NONE;
    }
}

brk_redis_t *brk_redis_new(const brk_config_t *cfg, const st_keys_t *keys, const char *broker_tag,
                           brk_counters_t *counters) {
    brk_redis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->keys = keys;
    self->n = counters;
    snprintf(self->broker_tag, sizeof self->broker_tag, "%s", broker_tag);
    self->state = S_DOWN;
    pg_logsum_config_t lc = {.interval_ms = 60000, .burst = 1};
    self->denials = pg_logsum_new(&lc);
    if (!self->denials) {
        free(self);
        return NULL;
    }
    s_connect(self);
    return self;
}

void brk_redis_destroy(brk_redis_t **self_p) {
    if (!self_p || !*self_p)
        return;
    s_close(*self_p);
    pg_logsum_destroy(&(*self_p)->denials);
    free(*self_p);
    *self_p = NULL;
}

bool brk_redis_ok(brk_redis_t *self, int64_t now_ms) {
    pg_logsum_tick(self->denials);
    if (self->state == S_UP && self->redis && !self->redis->err)
        return true;
    if (self->state == S_UP && self->redis)
        brk_redis_drop(self, self->redis->errstr);
    if (now_ms < self->next_try_ms)
        return false;
    self->next_try_ms = now_ms + RETRY_MS;
    if (self->state == S_WRONG_DATASET && self->redis && !self->redis->err) {
        self->state = s_check_dataset(self);
        if (self->state == S_UP)
            pg_log("redis dataset %s is back: admitting again", self->dataset);
        return self->state == S_UP;
    }
    s_close(self);
    s_connect(self);
    return self->state == S_UP;
}

void brk_redis_verify(brk_redis_t *self, int64_t now_ms) {
    if (self->state != S_UP || !self->redis || now_ms < self->next_verify_ms)
        return;
    self->next_verify_ms = now_ms + VERIFY_MS;
    self->state = s_check_dataset(self);
    if (self->state == S_DOWN)
        brk_redis_drop(self, self->redis && self->redis->err ? self->redis->errstr
                                                             : "dataset stamp not readable");
}

const char *brk_redis_busy_reason(const brk_redis_t *self) {
    return self->state == S_WRONG_DATASET ? "redis-dataset-changed" : "redis-unavailable";
}

rl_admit_t *brk_redis_admit(brk_redis_t *self) {
    return self->state == S_UP ? self->admit : NULL;
}

brk_store_t *brk_redis_store(brk_redis_t *self) {
    return self->state == S_UP ? self->store : NULL;
}

redisContext *brk_redis_context(brk_redis_t *self) {
    return self->state == S_UP ? self->redis : NULL;
}

st_fn_t *brk_redis_fn(brk_redis_t *self) {
    return self->state == S_UP ? self->fn : NULL;
}

const st_keys_t *brk_redis_keys(const brk_redis_t *self) {
    return self ? self->keys : NULL;
}
