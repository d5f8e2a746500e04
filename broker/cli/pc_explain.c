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
                                         {"config", required_argument, NULL, 'K'},
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
            case 'K':
                if (pc_redis_config(&cfg, optarg) < 0)
                    return 2;
                break;
            case 'R':
            case 'S':
            case 'p':
            case 'N':
            case PC_REDIS_OPT_USER:
            case PC_REDIS_OPT_PASSFILE:
                pc_redis_option(&cfg, c, optarg);
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
    int64_t now = time(NULL);
    if (at && pc_time_parse(at, &now) < 0) {
        fprintf(stderr, "pregonctl: --at must be RFC 3339 with an offset\n");
        return 2;
    }
    rl_policyset_t *set = rl_policyset_load(policies, err, sizeof err);
    if (!set) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
        return 2;
    }
    rl_job_fields_t f = {
        .jurisdiction = jur, .time_zone = tz, .channel = channel, .role = role, .debt_id = debt};
    rl_job_t job;
    const char *reason, *detail;
    if (rl_job_resolve(set, &f, &job, &reason, &detail) < 0) {
        fprintf(stderr, "pregonctl: %s: \"%s\"\n", reason,
                pg_log_quoted(detail, PG_LOG_QUOTED_MAX).s);
        rl_policyset_destroy(&set);
        return 2;
    }
    redisContext *rc = NULL;
    int crc = pc_redis_connect(&cfg, &rc);
    if (crc) {
        rl_policyset_destroy(&set);
        return crc;
    }
    st_keys_t *keys = st_keys_new(cfg.redis_prefix, cfg.shards);
    char hk[ST_KEY_MAX] = "";
    if (!keys) {
        fprintf(stderr, "pregonctl: --prefix must be 1..31 bytes and --shards 1..16384\n");
        redisFree(rc);
        rl_policyset_destroy(&set);
        return 2;
    }
    st_key_history(keys, tenant, debtor, hk, sizeof hk);
    /* the suppressions admission and dispatch would find (store/st_suppress.h) */
    char sup_buf[ST_SUP_VERDICT_MAX + 1];
    st_fn_t *fn = st_fn_new(rc);
    st_suppress_t *sup = fn ? st_suppress_new(rc, keys, fn) : NULL;
    int suppressed = sup ? st_suppress_check(sup, tenant, debtor, channel, contact, debt, sup_buf,
                                             sizeof sup_buf)
                         : -1;
    if (suppressed < 0)
        fprintf(stderr, "pregonctl: cannot read suppressions: %s\n",
                sup ? pg_log_quoted(st_suppress_strerror(sup), PG_LOG_QUOTED_MAX).s : "no memory");
    st_suppress_destroy(&sup);
    st_fn_destroy(&fn);
    st_keys_destroy(&keys);
    static rl_contact_t hist[RL_MAX_HISTORY];
    int n = 0;
    redisReply *r = redisCommand(rc, "HGET %s c", hk);
    if (r && r->type == REDIS_REPLY_STRING)
        n = rl_history_decode(r->str, r->len, hist, NULL, RL_MAX_HISTORY);
    if (r)
        freeReplyObject(r);
    if (n < 0)
        n = 0;

    rl_verdict_t v;
    rl_decide(&job, hist, (size_t)n, now, &v);
    const char *sup_rule = suppressed == 1 ? sup_buf : NULL;
    char local[40], until[40] = "";
    pc_time_format(now, job.zones[0], local, sizeof local);
    if (v.outcome == RL_DEFER || v.outcome == RL_EXPIRE)
        pc_time_format(v.until, job.zones[0], until, sizeof until);
    const char *verdict = sup_rule                ? "REJECTED"
                          : v.outcome == RL_ALLOW ? "ALLOWED"
                          : v.outcome == RL_DEFER ? "DEFERRED"
                                                  : "REJECTED";
    const char *rule = sup_rule ? sup_rule : v.rule;
    char counters[RL_COUNTERS_TEXT_MAX] = ""; /* a suppression is decided by no counter */
    if (!sup_rule)
        rl_verdict_counters(&v, counters, sizeof counters);
    const char *counters_rule = *counters ? v.counters.rule : NULL;
    if (json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:i, s:s?, s:s?}", "verdict", verdict, "local",
                      local, "rule", rule, "reason", sup_rule ? "suppressed" : v.reason, "until",
                      *until && !sup_rule ? until : NULL, "contacts", n, "counters",
                      *counters ? counters : NULL, "counters_rule", counters_rule);
        char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(o);
    } else {
        printf("debtor %s/%s on %s under %s, at %s (debtor local time)\n", tenant, debtor, channel,
               jur, local);
        if (sup_rule)
            printf("  NOT ALLOWED: suppressed (%s) — never contacted on this channel\n", sup_rule);
        else if (v.outcome == RL_ALLOW)
            printf("  ALLOWED now\n");
        else if (v.outcome == RL_DEFER)
            printf("  NOT YET: rule %s (%s) — allowed from %s\n", v.rule, v.reason, until);
        else
            printf("  NOT ALLOWED: rule %s (%s)\n", v.rule, v.reason);
        if (*counters)
            printf("  counters: %s (%s)\n", counters, counters_rule);
        printf("  contact history in Redis (%d record%s, oldest first):\n", n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++) {
            char when[40];
            pc_time_format(hist[i].at, job.zones[0], when, sizeof when);
            printf("    %s  %-9s %s\n", when, rl_channel_name((rl_channel_t)hist[i].channel),
                   s_flags(hist[i].flags));
        }
    }
    redisFree(rc);
    rl_policyset_destroy(&set);
    return 0;
}
