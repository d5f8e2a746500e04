/* pc_ops.c — the operator's levers: `pregonctl pause|resume|pauses|jobs`.
 *
 *   pause   --tenant T [--campaign C] [--channel CH] --who W --why TEXT
 *   resume  the same selectors --who W --why TEXT
 *   pauses  [--tenant T]: every pause in force, with who, when and why
 *   jobs show   --tenant T --debtor D --job J: the job's state and fields, and its audit
 *               records (every transition, verdict and attempt) from its shard's stream
 *   jobs cancel --tenant T (--debtor D --job J | --campaign C) --who W --why TEXT: every job of
 *               it not dispatched yet (queued, deferred, waiting for a retry, parked by a pause)
 *               CANCELLED, its never-attempted reservation given back. A campaign is paused for
 *               the sweep (nothing of it is dispatched meanwhile) and the pause lifted after,
 *               unless it was paused before; jobs already in flight finish.
 * A pause is one field in every shard's pause hash (store/pregon.lua "Pauses"), its audit record
 * in the tenant's home shard; dispatch parks what it finds paused, pregond sends parked jobs
 * back to admission once their pause is gone. Cancelling writes jobs, which the read-mostly
 * `pregonctl` Redis user may not: levers run as `pregon-operator` (deploy/users.acl).
 * Exit: 0 done, 1 failed (or nothing matched for cancel), 2 usage, 3 Redis unreachable. */
#include "pc_ops.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "pc_redis.h"
#include "pg_log.h"
#include "st_fn.h"
#include "st_keys.h"

#define S_CHUNK 500 /* members read per ZRANGE and jobs per pg_cancel call */

typedef struct {
    const char *tenant, *campaign, *channel, *debtor, *job, *who, *why;
} s_opts_t;

typedef pc_conn_t s_conn_t;

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregonctl pause|resume --tenant T [--campaign C] [--channel CH] --who W "
            "--why TEXT\n"
            "       pregonctl pauses [--tenant T]\n"
            "       pregonctl jobs show --tenant T --debtor D --job J\n"
            "       pregonctl jobs cancel --tenant T (--debtor D --job J | --campaign C) --who W "
            "--why TEXT\n"
            "  connection: [--config pregon.yaml] [--redis HOST:PORT | --redis-socket PATH]\n"
            "              [--prefix pg] [--shards 16]\n" PC_REDIS_CREDENTIAL_USAGE
            "  pause, resume and cancel change jobs: run them as the pregon-operator user.\n");
}

static long long s_now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void s_close(s_conn_t *c) {
    pc_conn_close(c);
}

static int s_open(const brk_config_t *cfg, s_conn_t *out) {
    return pc_conn_open(cfg, out);
}

/* --- pause, resume, pauses ------------------------------------------------------------------ */

/* Sets or lifts one pause in every shard. Returns 0, or 1 after printing why not. */
static int s_pause(s_conn_t *c, const s_opts_t *o, bool pausing) {
    int shards = st_keys_shards(c->keys);
    int home = (int)(st_crc16(o->tenant, strlen(o->tenant)) % (unsigned)shards);
    char now[32];
    snprintf(now, sizeof now, "%lld", s_now_ms());
    long long changed = 0;
    for (int s = 0; s < shards; s++) {
        char pk[ST_KEY_MAX], ak[ST_KEY_MAX];
        st_key_shared(c->keys, s, "pause", pk, sizeof pk);
        st_key_shared(c->keys, s, "audit", ak, sizeof ak);
        const char *argv[] = {NULL,
                              NULL,
                              "2",
                              pk,
                              ak,
                              pausing ? "pause" : "resume",
                              o->tenant,
                              o->campaign ? o->campaign : "",
                              o->channel ? o->channel : "",
                              o->who,
                              o->why,
                              now,
                              s == home ? "1" : "0"};
        size_t argl[13];
        for (int i = 0; i < 13; i++)
            argl[i] = (size_t)-1;
        redisReply *r = st_fn_call(c->fn, "pg_pause", 13, argv, argl);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "pregonctl: pg_pause on shard %d: %s\n", s,
                    r && r->type == REDIS_REPLY_ERROR ? r->str : st_fn_strerror(c->fn));
            freeReplyObject(r);
            return 1;
        }
        changed += r->integer;
        freeReplyObject(r);
    }
    printf("%s tenant %s, campaign %s, channel %s%s\n", pausing ? "paused" : "resumed", o->tenant,
           o->campaign ? o->campaign : "*", o->channel ? o->channel : "*",
           changed ? ""
                   : (pausing ? " (it was paused already: who and why updated)"
                              : " (it was not paused)"));
    return 0;
}

/* Every pause in force (they are alike in every shard: shard 0's are listed). */
static int s_pauses(s_conn_t *c, const s_opts_t *o) {
    char pk[ST_KEY_MAX];
    st_key_shared(c->keys, 0, "pause", pk, sizeof pk);
    redisReply *r = redisCommand(c->c, "HGETALL %s", pk);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "pregonctl: HGETALL %s: %s\n", pk,
                r && r->type == REDIS_REPLY_ERROR ? r->str : c->c->errstr);
        freeReplyObject(r);
        return 1;
    }
    printf("%-20s %-20s %-10s %-20s %-16s %s\n", "tenant", "campaign", "channel", "since (UTC)",
           "who", "why");
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        char tn[256] = "", cm[256] = "", ch[64] = "", who[256] = "", why[512] = "", at[32] = "";
        const char *p = f->str, *end = f->str + f->len;
        snprintf(tn, sizeof tn, "%s", p);
        p += strlen(p) + 1;
        if (p < end)
            snprintf(cm, sizeof cm, "%s", p), p += strlen(p) + 1;
        if (p < end)
            snprintf(ch, sizeof ch, "%s", p);
        p = v->str, end = v->str + v->len;
        snprintf(who, sizeof who, "%s", p);
        p += strlen(p) + 1;
        if (p < end)
            snprintf(why, sizeof why, "%s", p), p += strlen(p) + 1;
        if (p < end) {
            time_t t = (time_t)(atoll(p) / 1000);
            strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S", gmtime(&t));
        }
        if (o->tenant && strcmp(o->tenant, tn) != 0)
            continue;
        printf("%-20s %-20s %-10s %-20s %-16s %s\n", pg_log_quoted(tn, 60).s,
               cm[0] ? pg_log_quoted(cm, 60).s : "*", ch[0] ? ch : "*", at,
               pg_log_quoted(who, 60).s, pg_log_quoted(why, 200).s);
    }
    freeReplyObject(r);
    return 0;
}

/* --- jobs show -------------------------------------------------------------------------------- */

static int s_show(s_conn_t *c, const s_opts_t *o) {
    char jk[ST_KEY_MAX];
    if (st_key_job(c->keys, o->tenant, o->debtor, o->job, jk, sizeof jk) < 0) {
        fprintf(stderr, "pregonctl: ids too long\n");
        return 2;
    }
    redisReply *r = redisCommand(c->c, "HGETALL %s", jk);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        fprintf(stderr,
                "pregonctl: no job %s of tenant %s, debtor %s (never admitted, or gone "
                "after its TTL)\n",
                pg_log_quoted(o->job, 128).s, pg_log_quoted(o->tenant, 64).s,
                pg_log_quoted(o->debtor, 128).s);
        freeReplyObject(r);
        return 1;
    }
    printf("job %s (key %s)\n", o->job, jk);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        const redisReply *v = r->element[i + 1];
        if (strcmp(f, "p") == 0) {
            printf("  %-4s (payload, %zu bytes)\n", f, v->len);
        } else if (strcmp(f, "x") == 0 || strcmp(f, "l") == 0) {
            char buf[1024];
            size_t n = v->len < sizeof buf - 1 ? v->len : sizeof buf - 1;
            for (size_t k = 0; k < n; k++)
                buf[k] = v->str[k] ? v->str[k] : '|';
            buf[n] = '\0';
            printf("  %-4s %s\n", f, pg_log_quoted(buf, 400).s);
        } else {
            printf("  %-4s %s\n", f, pg_log_quoted(v->str, 400).s);
        }
    }
    freeReplyObject(r);
    /* its audit records: the shard's stream, read in chunks, filtered */
    int shard = st_keys_shard(c->keys, o->tenant, o->debtor);
    char ak[ST_KEY_MAX], start[64] = "-";
    st_key_shared(c->keys, shard, "audit", ak, sizeof ak);
    printf("history (audit stream %s):\n", ak);
    for (;;) {
        r = redisCommand(c->c, "XRANGE %s %s + COUNT 5000", ak, start);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
            break;
        for (size_t e = 0; e < r->elements; e++) {
            const redisReply *id = r->element[e]->element[0], *kv = r->element[e]->element[1];
            const char *job = "", *tn = "";
            for (size_t k = 0; k + 1 < kv->elements; k += 2) {
                if (strcmp(kv->element[k]->str, "job") == 0)
                    job = kv->element[k + 1]->str;
                else if (strcmp(kv->element[k]->str, "tenant") == 0)
                    tn = kv->element[k + 1]->str;
            }
            if (strcmp(job, o->job) != 0 || strcmp(tn, o->tenant) != 0)
                continue;
            printf("  %s", id->str);
            for (size_t k = 0; k + 1 < kv->elements; k += 2)
                if (kv->element[k + 1]->len && strcmp(kv->element[k]->str, "job") != 0 &&
                    strcmp(kv->element[k]->str, "tenant") != 0)
                    printf(" %s=%s", kv->element[k]->str,
                           pg_log_quoted(kv->element[k + 1]->str, 120).s);
            printf("\n");
        }
        snprintf(start, sizeof start, "(%s", r->element[r->elements - 1]->element[0]->str);
        freeReplyObject(r);
    }
    freeReplyObject(r);
    return 0;
}

/* --- jobs cancel ------------------------------------------------------------------------------ */

typedef struct {
    long long cancelled, refused, gone;
} s_tally_t;

/* pg_cancel on n job keys of one shard (their queues given). */
static int s_cancel_keys(s_conn_t *c, int shard, char **jks, char **qks, size_t n,
                         const s_opts_t *o, s_tally_t *t) {
    if (!n)
        return 0;
    char ak[ST_KEY_MAX], dk[ST_KEY_MAX], rk[ST_KEY_MAX], nk[16], now[32];
    st_key_shared(c->keys, shard, "audit", ak, sizeof ak);
    st_key_shared(c->keys, shard, "deferred", dk, sizeof dk);
    st_key_shared(c->keys, shard, "retry", rk, sizeof rk);
    snprintf(nk, sizeof nk, "%zu", 3 + 2 * n);
    snprintf(now, sizeof now, "%lld", s_now_ms());
    size_t argc = 3 + 3 + 2 * n + 4;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *argl = calloc(argc, sizeof *argl);
    if (!argv || !argl) {
        free(argv), free(argl);
        return 1;
    }
    size_t a = 2;
    argv[a++] = nk;
    argv[a++] = ak;
    argv[a++] = dk;
    argv[a++] = rk;
    for (size_t i = 0; i < n; i++) {
        argv[a++] = jks[i];
        argv[a++] = qks[i];
    }
    argv[a++] = now;
    argv[a++] = "2592000"; /* finished jobs are kept 30 days, as pregond's default */
    argv[a++] = o->who;
    argv[a++] = o->why;
    for (size_t i = 0; i < argc; i++)
        argl[i] = (size_t)-1;
    redisReply *r = st_fn_call(c->fn, "pg_cancel", (int)argc, argv, argl);
    free(argv), free(argl);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "pregonctl: pg_cancel: %s\n",
                r && r->type == REDIS_REPLY_ERROR ? r->str : st_fn_strerror(c->fn));
        freeReplyObject(r);
        return 1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *s = r->element[i]->str ? r->element[i]->str : "";
        if (strcmp(s, "cancelled") == 0)
            t->cancelled++;
        else if (strcmp(s, "gone") == 0)
            t->gone++;
        else
            t->refused++;
    }
    freeReplyObject(r);
    return 0;
}

/* The jobs of tenant/campaign in one of a shard's sets, cancelled S_CHUNK at a time. */
static int s_sweep_set(s_conn_t *c, int shard, const char *set, const s_opts_t *o, s_tally_t *t) {
    long long from = 0;
    for (;;) {
        redisReply *m = redisCommand(c->c, "ZRANGE %s %lld %lld", set, from, from + S_CHUNK - 1);
        if (!m || m->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(m);
            return 1;
        }
        if (m->elements == 0) {
            freeReplyObject(m);
            return 0;
        }
        for (size_t i = 0; i < m->elements; i++)
            redisAppendCommand(c->c, "HMGET %s tn ch x", m->element[i]->str);
        char *jks[S_CHUNK], *qks[S_CHUNK], qbuf[S_CHUNK][96];
        size_t n = 0;
        for (size_t i = 0; i < m->elements; i++) {
            redisReply *v = NULL;
            if (redisGetReply(c->c, (void **)&v) != REDIS_OK) {
                freeReplyObject(m);
                return 1;
            }
            if (v && v->type == REDIS_REPLY_ARRAY && v->elements == 3 && v->element[0]->str &&
                strcmp(v->element[0]->str, o->tenant) == 0 && v->element[2]->str) {
                const char *x = v->element[2]->str; /* debt NUL campaign NUL ... */
                const char *cm = x + strlen(x) + 1;
                if ((size_t)(cm - x) <= v->element[2]->len && strcmp(cm, o->campaign) == 0) {
                    char what[48];
                    snprintf(what, sizeof what, "q:%s",
                             v->element[1]->str ? v->element[1]->str : "sms");
                    st_key_shared(c->keys, shard, what, qbuf[n], sizeof qbuf[n]);
                    jks[n] = m->element[i]->str;
                    qks[n] = qbuf[n];
                    n++;
                }
            }
            freeReplyObject(v);
        }
        long long before = t->cancelled;
        int rc = s_cancel_keys(c, shard, jks, qks, n, o, t);
        long long gone_from_set = t->cancelled - before;
        from += (long long)m->elements - gone_from_set; /* cancelled members left the set */
        freeReplyObject(m);
        if (rc)
            return rc;
    }
}

static int s_cancel(s_conn_t *c, const s_opts_t *o) {
    s_tally_t t = {0};
    if (o->job) {
        char jk[ST_KEY_MAX], q[ST_KEY_MAX];
        st_key_job(c->keys, o->tenant, o->debtor, o->job, jk, sizeof jk);
        redisReply *ch = redisCommand(c->c, "HGET %s ch", jk);
        char what[48];
        snprintf(what, sizeof what, "q:%s", ch && ch->str ? ch->str : "sms");
        freeReplyObject(ch);
        st_key_shared(c->keys, st_keys_shard(c->keys, o->tenant, o->debtor), what, q, sizeof q);
        char *jks[1] = {jk}, *qks[1] = {q};
        if (s_cancel_keys(c, st_keys_shard(c->keys, o->tenant, o->debtor), jks, qks, 1, o, &t))
            return 1;
    } else {
        /* paused for the sweep: what dispatch would take meanwhile is parked, then swept */
        char pk[ST_KEY_MAX];
        st_key_shared(c->keys, 0, "pause", pk, sizeof pk);
        char field[600];
        int fl = snprintf(field, sizeof field, "%s%c%s%c", o->tenant, 0, o->campaign, 0);
        redisReply *was = redisCommand(c->c, "HEXISTS %s %b", pk, field, (size_t)fl);
        bool paused_before = was && was->type == REDIS_REPLY_INTEGER && was->integer == 1;
        freeReplyObject(was);
        s_opts_t po = *o;
        po.channel = NULL;
        if (!paused_before && s_pause(c, &po, true) != 0)
            return 1;
        static const char *const sets[] = {"q:sms",       "q:whatsapp", "q:voice", "q:email",
                                           "q:messenger", "deferred",   "retry",   "paused"};
        int rc = 0;
        /* dispatch pops queues meanwhile (other campaigns' jobs shift the indexes read): a job
         * passed over is parked by the pause; passes go on until one cancels nothing */
        for (int pass = 0, more = 1; pass < 4 && more && rc == 0; pass++) {
            long long before = t.cancelled;
            for (int s = 0; s < st_keys_shards(c->keys) && rc == 0; s++)
                for (size_t k = 0; k < sizeof sets / sizeof sets[0] && rc == 0; k++) {
                    char set[ST_KEY_MAX];
                    st_key_shared(c->keys, s, sets[k], set, sizeof set);
                    rc = s_sweep_set(c, s, set, o, &t);
                }
            more = t.cancelled > before;
        }
        if (!paused_before && s_pause(c, &po, false) != 0)
            rc = 1;
        if (rc)
            return 1;
    }
    printf("cancelled %lld, refused %lld (dispatched or finished already), gone %lld\n",
           t.cancelled, t.refused, t.gone);
    return t.cancelled || (!o->job && !t.refused) ? 0 : 1;
}

/* --- main ------------------------------------------------------------------------------------- */

/* Over 100 lines only for the option table and its switch, one case per flag. */
int pc_ops_main(int argc, char **argv) {
    static const struct option opts[] = {{"tenant", required_argument, NULL, 't'},
                                         {"campaign", required_argument, NULL, 'C'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"debtor", required_argument, NULL, 'd'},
                                         {"job", required_argument, NULL, 'j'},
                                         {"who", required_argument, NULL, 'w'},
                                         {"why", required_argument, NULL, 'y'},
                                         {"reason", required_argument, NULL, 'y'},
                                         {"config", required_argument, NULL, PC_REDIS_OPT_CONFIG},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    bool jobs = strcmp(cmd, "jobs") == 0;
    if ((jobs && argc < 2) || (argc >= 2 && strcmp(argv[1], "--help") == 0)) {
        s_usage(jobs && argc < 2 ? stderr : stdout);
        return jobs && argc < 2 ? 2 : 0;
    }
    const char *sub = jobs ? argv[1] : cmd;
    int shift = jobs ? 1 : 0;
    static brk_config_t cfg;
    if (pc_redis_defaults(&cfg) < 0) /* $PREGON_CONFIG, the installed file, else defaults */
        return 2;
    s_opts_t o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - shift, argv + shift, "h", opts, NULL)) != -1) {
        int taken = pc_redis_take(&cfg, c, optarg); /* --config, --redis... */
        if (taken < 0)
            return 2;
        if (taken)
            continue;
        switch (c) {
            case 't':
                o.tenant = optarg;
                break;
            case 'C':
                o.campaign = optarg;
                break;
            case 'c':
                o.channel = optarg;
                break;
            case 'd':
                o.debtor = optarg;
                break;
            case 'j':
                o.job = optarg;
                break;
            case 'w':
                o.who = optarg;
                break;
            case 'y':
                o.why = optarg;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    bool show = strcmp(sub, "show") == 0, cancel = strcmp(sub, "cancel") == 0;
    bool pause = strcmp(sub, "pause") == 0, resume = strcmp(sub, "resume") == 0;
    bool list = strcmp(sub, "pauses") == 0;
    if (!show && !cancel && !pause && !resume && !list) {
        fprintf(stderr, "pregonctl: unknown command %s\n", pg_log_quoted(sub, 40).s);
        s_usage(stderr);
        return 2;
    }
    const char *missing = NULL;
    if (!list && !o.tenant)
        missing = "--tenant";
    else if ((pause || resume || cancel) && (!o.who || !o.why))
        missing = "--who and --why (who acts, and why: both go into the audit record)";
    else if (show && (!o.debtor || !o.job))
        missing = "--debtor and --job";
    else if (cancel && !((o.debtor && o.job && !o.campaign) || (o.campaign && !o.job)))
        missing = "either --debtor and --job, or --campaign";
    else if ((pause || resume) && o.channel &&
             strspn(o.channel, "abcdefghijklmnopqrstuvwxyz") != strlen(o.channel))
        missing = "--channel as a channel name (sms, whatsapp, voice, email, messenger)";
    if (!missing &&
        ((o.who && strlen(o.who) > 128) || (o.why && strlen(o.why) > 1024) ||
         (o.campaign && strlen(o.campaign) > 128) || (o.tenant && strlen(o.tenant) > 64)))
        missing = "--who up to 128 bytes, --why up to 1024, --tenant 64 and --campaign 128 "
                  "(what the audit record and the pause hold) as";
    if (missing) {
        fprintf(stderr, "pregonctl: %s %s: %s required\n", cmd, jobs ? sub : "", missing);
        return 2;
    }
    s_conn_t conn;
    int rc = s_open(&cfg, &conn);
    if (rc)
        return rc;
    rc = show     ? s_show(&conn, &o)
         : cancel ? s_cancel(&conn, &o)
         : list   ? s_pauses(&conn, &o)
                  : s_pause(&conn, &o, pause);
    s_close(&conn);
    return rc;
}
