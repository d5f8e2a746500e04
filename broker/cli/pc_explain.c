/* pc_explain.c — `pregonctl explain`: may this debtor be contacted on this channel now, and if
 * not, which rule forbids it and until when? Reads the live contact history and suppressions
 * from Redis and runs the same decision admission runs (rl_decide), with the counters behind it;
 * changes nothing. */
#include "pc_explain.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "pc_redis.h"
#include "pc_time.h"
#include "pg_log.h"
#include "rl_admit.h"
#include "rl_history.h"
#include "st_keys.h"
#include "st_suppress.h"
#include "rl_policyset.h"

static void s_usage(FILE *to) {
    fprintf(
        to,
        "usage: pregonctl explain --tenant T --debtor D --channel CH --jurisdiction J --tz ZONE\n"
        "                         [--debt ID] [--contact C] [--role R] [--at RFC3339] [--json]\n"
        "                         [--config pregon.yaml] [--redis HOST:PORT | --redis-socket "
        "PATH]\n"
        "                         [--prefix pg] [--shards 16] [--policies "
        "DIR]\n" PC_REDIS_CREDENTIAL_USAGE
        "  Says whether the debtor may be contacted on CH now (or --at), from the live\n"
        "  contact history in Redis; if not, the rule that forbids it and until when.\n");
}

static const char *s_flags(unsigned f) {
    if (f & RL_REC_CONVERSATION)
        return "conversation";
    if (f & RL_REC_FAILED)
        return "failed";
    if (f & RL_REC_DELIVERED)
        return "delivered";
    return "outcome unknown";
}

/* The contact history of the debtor as JSON records, oldest first. */
static json_t *s_history(const rl_contact_t *hist, int n, const rl_zone_t *zone) {
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        char when[40];
        pc_time_format(hist[i].at, zone, when, sizeof when);
        json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s}", "at", when, "at_unix",
                                              (json_int_t)hist[i].at, "channel",
                                              rl_channel_name((rl_channel_t)hist[i].channel),
                                              "outcome", s_flags(hist[i].flags)));
    }
    return list;
}

/* The suppression admission would find: 1 with its rule in buf, 0 none, -1 unreadable. */
static int s_suppressed(redisContext *rc, const st_keys_t *keys, const pc_explain_query_t *q,
                        char *buf, size_t len, char *err, size_t errlen) {
    st_fn_t *fn = st_fn_new(rc);
    st_suppress_t *sup = fn ? st_suppress_new(rc, keys, fn) : NULL;
    int got = sup ? st_suppress_check(sup, q->tenant, q->debtor, q->channel, q->contact, q->debt,
                                      buf, len)
                  : -1;
    if (got < 0)
        snprintf(err, errlen, "cannot read suppressions: %s",
                 sup ? st_suppress_strerror(sup) : "no memory");
    st_suppress_destroy(&sup);
    st_fn_destroy(&fn);
    return got;
}

int pc_explain_decide(redisContext *rc, const st_keys_t *keys, const rl_policyset_t *set,
                      const pc_explain_query_t *q, json_t **out, char *err, size_t errlen) {
    *out = NULL;
    rl_job_fields_t f = {.jurisdiction = q->jurisdiction,
                         .time_zone = q->tz,
                         .channel = q->channel,
                         .role = q->role ? q->role : "debtor",
                         .debt_id = q->debt};
    rl_job_t job;
    const char *reason, *detail;
    if (rl_job_resolve(set, &f, &job, &reason, &detail) < 0) {
        snprintf(err, errlen, "%s: \"%s\"", reason, detail ? detail : "");
        return 2;
    }
    char hk[ST_KEY_MAX] = "", sup_buf[ST_SUP_VERDICT_MAX + 1];
    st_key_history(keys, q->tenant, q->debtor, hk, sizeof hk);
    int suppressed = s_suppressed(rc, keys, q, sup_buf, sizeof sup_buf, err, errlen);
    if (suppressed < 0)
        return 3;
    static __thread rl_contact_t hist[RL_MAX_HISTORY];
    int n = 0;
    redisReply *r = redisCommand(rc, "HGET %s c", hk);
    if (!r) {
        snprintf(err, errlen, "Redis: %s", rc->errstr);
        return 3;
    }
    if (r->type == REDIS_REPLY_STRING)
        n = rl_history_decode(r->str, r->len, hist, NULL, RL_MAX_HISTORY);
    freeReplyObject(r);
    if (n < 0)
        n = 0;
    rl_verdict_t v;
    rl_decide(&job, hist, (size_t)n, q->at, &v);
    const char *sup_rule = suppressed == 1 ? sup_buf : NULL;
    char local[40], until[40] = "";
    pc_time_format(q->at, job.zones[0], local, sizeof local);
    if (v.outcome == RL_DEFER || v.outcome == RL_EXPIRE)
        pc_time_format(v.until, job.zones[0], until, sizeof until);
    const char *verdict = sup_rule                ? "REJECTED"
                          : v.outcome == RL_ALLOW ? "ALLOWED"
                          : v.outcome == RL_DEFER ? "DEFERRED"
                                                  : "REJECTED";
    char counters[RL_COUNTERS_TEXT_MAX] = ""; /* a suppression is decided by no counter */
    if (!sup_rule)
        rl_verdict_counters(&v, counters, sizeof counters);
    json_t *o = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:i, s:s?, s:s?}", "verdict", verdict, "local", local, "rule",
        sup_rule ? sup_rule : v.rule, "reason", sup_rule ? "suppressed" : v.reason, "until",
        *until && !sup_rule ? until : NULL, "contacts", n, "counters", *counters ? counters : NULL,
        "counters_rule", *counters ? v.counters.rule : NULL);
    json_object_set_new(o, "history", s_history(hist, n, job.zones[0]));
    *out = o;
    return 0;
}

static void s_print_json(json_t *o) {
    json_t *copy = json_deep_copy(o);
    json_object_del(copy, "history"); /* --json keeps its one-line form */
    char *text = json_dumps(copy, JSON_PRESERVE_ORDER | JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(copy);
}

static const char *s_str(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void s_print_text(const pc_explain_query_t *q, const json_t *o) {
    const char *verdict = s_str(o, "verdict"), *reason = s_str(o, "reason");
    printf("debtor %s/%s on %s under %s, at %s (debtor local time)\n", q->tenant, q->debtor,
           q->channel, q->jurisdiction, s_str(o, "local"));
    if (strcmp(reason, "suppressed") == 0)
        printf("  NOT ALLOWED: suppressed (%s) — never contacted on this channel\n",
               s_str(o, "rule"));
    else if (strcmp(verdict, "ALLOWED") == 0)
        printf("  ALLOWED now\n");
    else if (strcmp(verdict, "DEFERRED") == 0)
        printf("  NOT YET: rule %s (%s) — allowed from %s\n", s_str(o, "rule"), reason,
               s_str(o, "until"));
    else
        printf("  NOT ALLOWED: rule %s (%s)\n", s_str(o, "rule"), reason);
    if (*s_str(o, "counters"))
        printf("  counters: %s (%s)\n", s_str(o, "counters"), s_str(o, "counters_rule"));
    json_t *h = json_object_get(o, "history");
    size_t n = json_array_size(h), i;
    json_t *e;
    printf("  contact history in Redis (%zu record%s, oldest first):\n", n, n == 1 ? "" : "s");
    json_array_foreach(h, i, e) {
        printf("    %s  %-9s %s\n", s_str(e, "at"), s_str(e, "channel"), s_str(e, "outcome"));
    }
}

int pc_explain_main(int argc, char **argv) {
    static const struct option opts[] = {{"tenant", required_argument, NULL, 't'},
                                         {"debtor", required_argument, NULL, 'd'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"jurisdiction", required_argument, NULL, 'j'},
                                         {"tz", required_argument, NULL, 'z'},
                                         {"debt", required_argument, NULL, 'D'},
                                         {"contact", required_argument, NULL, 'C'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"at", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         {"config", required_argument, NULL, PC_REDIS_OPT_CONFIG},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"policies", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *tenant = NULL, *debtor = NULL, *channel = NULL, *jur = NULL, *tz = NULL;
    const char *debt = NULL, *contact = NULL, *role = "debtor", *at = NULL;
    const char *policies = "deploy/policies";
    int json = 0, c;
    static brk_config_t cfg;
    char err[2048];
    if (pc_redis_defaults(&cfg) < 0) /* $PREGON_CONFIG, the installed file, else defaults */
        return 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int taken = pc_redis_take(&cfg, c, optarg); /* --config, --redis... */
        if (taken < 0)
            return 2;
        if (taken)
            continue;
        switch (c) {
            case 't':
                tenant = optarg;
                break;
            case 'd':
                debtor = optarg;
                break;
            case 'c':
                channel = optarg;
                break;
            case 'j':
                jur = optarg;
                break;
            case 'z':
                tz = optarg;
                break;
            case 'D':
                debt = optarg;
                break;
            case 'C':
                contact = optarg;
                break;
            case 'r':
                role = optarg;
                break;
            case 'a':
                at = optarg;
                break;
            case 'J':
                json = 1;
                break;
            case 'P':
                policies = optarg;
                break;
            case 'h':
                s_usage(stdout);
                return 0;
            default:
                s_usage(stderr);
                return 2;
        }
    }
    if (!tenant || !debtor || !channel || !jur || !tz || optind != argc) {
        s_usage(stderr);
        return 2;
    }
    pc_explain_query_t q = {tenant, debtor, channel, jur, tz, debt, contact, role, time(NULL)};
    if (at && pc_time_parse(at, &q.at) < 0) {
        fprintf(stderr, "pregonctl: --at must be RFC 3339 with an offset\n");
        return 2;
    }
    rl_policyset_t *set = rl_policyset_load(policies, err, sizeof err);
    if (!set) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
        return 2;
    }
    st_keys_t *keys = st_keys_new(cfg.redis_prefix, cfg.shards);
    if (!keys) {
        fprintf(stderr, "pregonctl: --prefix must be 1..31 bytes and --shards 1..16384\n");
        rl_policyset_destroy(&set);
        return 2;
    }
    redisContext *rc = NULL;
    int crc = pc_redis_connect(&cfg, &rc);
    json_t *o = NULL;
    if (!crc && (crc = pc_explain_decide(rc, keys, set, &q, &o, err, sizeof err)) != 0)
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
    if (o && json)
        s_print_json(o);
    else if (o)
        s_print_text(&q, o);
    json_decref(o);
    if (rc)
        redisFree(rc);
    st_keys_destroy(&keys);
    rl_policyset_destroy(&set);
    return crc;
}
