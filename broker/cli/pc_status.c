/* pc_status.c — `pregonctl status` and `pregonctl top`: what pregond is doing, at a glance.
 *
 *   status [--ops URL] [--json] [--interval-ms MS]   one view, printed once
 *   top    [--ops URL] [--interval-ms MS]            the same view live (ncurses), every second
 *
 * Both read pregond's /metrics (ops.listen of the configuration: --config, $PREGON_CONFIG or
 * /etc/pregon/pregon.yaml; or --ops URL), the same numbers Prometheus scrapes, so what an
 * operator sees here is what the dashboards and alerts see. Rates need two readings: status
 * reads twice, --interval-ms apart (1000; 0 = no rates), top keeps the previous reading. The
 * pauses in force come from Redis (the pause hash) when Redis can be reached with the
 * configuration's credentials; without it the view says so and shows the count from /metrics.
 *
 * The view, per channel: sent/s, failed/s, retries/s, ready jobs, workers, halted; then the
 * deferred backlog and the sunrise wave (deferred jobs coming due in each of the next 24 clock
 * hours, in all and per channel),
 * retries waiting, leases in flight, jobs parked by pauses, the pauses, and the rules that
 * deferred or rejected the most jobs (by rate when there is one, else in total).
 * Exit: 0, 2 usage, 3 pregond's ops endpoint unreachable. */
#include "pc_status.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <ncurses.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "brk_rauth.h"
#include "pc_metrics.h"
#include "pc_redis.h"
#include "pg_log.h"
#include "st_keys.h"

#define S_CHANNELS  5
#define S_TOP_RULES 8

static const char *const s_channels[S_CHANNELS] = {"sms", "whatsapp", "voice", "email",
                                                   "messenger"};

typedef struct {
    char code[16], rule[64];
    double total, rate;
} s_rule_t;

typedef struct {
    double sent, failed, retry, ready, workers, halted; /* totals / gauges */
    double due[24];                                     /* the channel's sunrise wave */
    double sent_rate, failed_rate, retry_rate;
} s_channel_t;

typedef struct {
    s_channel_t ch[S_CHANNELS];
    double deferred, retry, leases, parked, pauses, due[24], redis_up, audit_backlog;
    s_rule_t rules[S_TOP_RULES];
    size_t n_rules;
    bool rates;
    char pauses_text[2048]; /* from Redis, one per line; "" when none or unknown */
    bool pauses_known;
} s_view_t;

/* Fills the totals and gauges of v from a reading. */
static void s_fill(s_view_t *v, const pc_metrics_t *m) {
    memset(v, 0, sizeof *v);
    for (int i = 0; i < S_CHANNELS; i++) {
        const char *c = s_channels[i];
        v->ch[i].sent =
            pc_metrics_sum(m, "pregon_reports_total", "channel", c, "outcome", "sent", NULL);
        v->ch[i].failed =
            pc_metrics_sum(m, "pregon_reports_total", "channel", c, "outcome", "failed", NULL);
        v->ch[i].retry =
            pc_metrics_sum(m, "pregon_reports_total", "channel", c, "outcome", "retry", NULL);
        v->ch[i].ready = pc_metrics_sum(m, "pregon_ready_jobs", "channel", c, NULL);
        v->ch[i].workers = pc_metrics_sum(m, "pregon_workers", "channel", c, NULL);
        v->ch[i].halted = pc_metrics_sum(m, "pregon_channel_halted", "channel", c, NULL);
        for (int h = 0; h < 24; h++) {
            char hs[8];
            snprintf(hs, sizeof hs, "%d", h);
            v->ch[i].due[h] = pc_metrics_sum(m, "pregon_deferred_due_jobs", "channel", c,
                                             "hours_ahead", hs, NULL);
        }
    }
    v->deferred = pc_metrics_sum(m, "pregon_deferred_jobs", NULL);
    v->retry = pc_metrics_sum(m, "pregon_retry_jobs", NULL);
    v->leases = pc_metrics_sum(m, "pregon_leases_in_flight", NULL);
    v->parked = pc_metrics_sum(m, "pregon_parked_jobs", NULL);
    v->pauses = pc_metrics_sum(m, "pregon_pauses", NULL);
    v->redis_up = pc_metrics_sum(m, "pregon_redis_up", NULL);
    v->audit_backlog = pc_metrics_sum(m, "pregon_audit_backlog_records", NULL);
    for (int h = 0; h < 24; h++) {
        char hs[8];
        snprintf(hs, sizeof hs, "%d", h);
        v->due[h] = pc_metrics_sum(m, "pregon_deferred_due_jobs", "hours_ahead", hs, NULL);
    }
}

static int s_rule_cmp(const void *a, const void *b) {
    const s_rule_t *x = a, *y = b;
    double kx = x->rate > 0 ? x->rate * 1e12 + x->total : x->total;
    double ky = y->rate > 0 ? y->rate * 1e12 + y->total : y->total;
    return kx < ky ? 1 : kx > ky ? -1 : 0;
}

/* The rules that deferred or rejected the most, and the rates against the previous reading
 * (prev NULL: none), dt seconds before. */
static void s_rules_and_rates(s_view_t *v, const pc_metrics_t *m, const pc_metrics_t *prev,
                              const s_view_t *pv, double dt) {
    s_rule_t all[256];
    size_t n = 0;
    for (size_t i = 0; i < pc_metrics_count(m) && n < 256; i++) {
        const pc_sample_t *s = pc_metrics_at(m, i);
        if (strcmp(s->name, "pregon_verdicts_total") != 0)
            continue;
        const char *code = pc_sample_label(s, "code"), *rule = pc_sample_label(s, "rule");
        if (!code || (strcmp(code, "deferred") != 0 && strcmp(code, "rejected") != 0) || !rule ||
            !rule[0])
            continue;
        s_rule_t r = {.total = s->value};
        snprintf(r.code, sizeof r.code, "%s", code);
        snprintf(r.rule, sizeof r.rule, "%s", rule);
        size_t k = 0;
        while (k < n && !(strcmp(all[k].code, r.code) == 0 && strcmp(all[k].rule, r.rule) == 0))
            k++;
        if (k == n)
            all[n++] = r;
        else
            all[k].total += r.total;
        if (prev && dt > 0)
            all[k].rate = (all[k].total - pc_metrics_sum(prev, "pregon_verdicts_total", "code",
                                                         code, "rule", rule, NULL)) /
                          dt;
    }
    qsort(all, n, sizeof *all, s_rule_cmp);
    v->n_rules = n < S_TOP_RULES ? n : S_TOP_RULES;
    memcpy(v->rules, all, v->n_rules * sizeof *all);
    v->rates = prev && dt > 0;
    for (int i = 0; v->rates && i < S_CHANNELS; i++) {
        v->ch[i].sent_rate = (v->ch[i].sent - pv->ch[i].sent) / dt;
        v->ch[i].failed_rate = (v->ch[i].failed - pv->ch[i].failed) / dt;
        v->ch[i].retry_rate = (v->ch[i].retry - pv->ch[i].retry) / dt;
    }
}

/* The pauses in force, from Redis. */
static void s_pauses(s_view_t *v, const brk_config_t *cfg) {
    redisContext *c = NULL;
    st_keys_t *keys = st_keys_new(cfg->redis_prefix, cfg->shards);
    char err[512]; /* not printed: the view says Redis could not be reached */
    if (!keys || brk_rauth_connect(cfg, NULL, &c, err, sizeof err) != BRK_RAUTH_OK) {
        if (c)
            redisFree(c);
        st_keys_destroy(&keys);
        return;
    }
    char pk[ST_KEY_MAX];
    st_key_shared(keys, 0, "pause", pk, sizeof pk);
    redisReply *r = redisCommand(c, "HGETALL %s", pk);
    if (r && r->type == REDIS_REPLY_ARRAY) {
        v->pauses_known = true;
        size_t at = 0;
        for (size_t i = 0; i + 1 < r->elements && at < sizeof v->pauses_text - 200; i += 2) {
            const char *f = r->element[i]->str, *end = f + r->element[i]->len;
            const char *cm = f + strlen(f) + 1, *ch = cm < end ? cm + strlen(cm) + 1 : end;
            const char *who = r->element[i + 1]->str;
            const char *why = who + strlen(who) + 1;
            at += (size_t)snprintf(
                v->pauses_text + at, sizeof v->pauses_text - at, "%s/%s/%s by %s: %s\n",
                pg_log_quoted(f, 40).s, cm < end && *cm ? pg_log_quoted(cm, 40).s : "*",
                ch < end && *ch ? ch : "*", pg_log_quoted(who, 40).s,
                why < who + r->element[i + 1]->len ? pg_log_quoted(why, 80).s : "");
        }
    }
    freeReplyObject(r);
    redisFree(c);
    st_keys_destroy(&keys);
}

/* --- rendering -------------------------------------------------------------------------------- */

typedef void (*s_out_fn)(void *ctx, const char *line);

static void s_render(const s_view_t *v, s_out_fn out, void *ctx) {
    char line[512];
    out(ctx, "channel      sent/s  failed/s  retry/s     ready  workers  state");
    for (int i = 0; i < S_CHANNELS; i++) {
        const s_channel_t *c = &v->ch[i];
        if (!c->workers && !c->ready && !c->sent && !c->halted)
            continue;
        char r[3][16];
        snprintf(r[0], sizeof r[0], v->rates ? "%.1f" : "-", c->sent_rate);
        snprintf(r[1], sizeof r[1], v->rates ? "%.1f" : "-", c->failed_rate);
        snprintf(r[2], sizeof r[2], v->rates ? "%.1f" : "-", c->retry_rate);
        snprintf(line, sizeof line, "%-10s %8s %9s %8s %9.0f %8.0f  %s", s_channels[i], r[0], r[1],
                 r[2], c->ready, c->workers,
                 c->halted ? "HALTED" : (c->workers ? "running" : "no worker"));
        out(ctx, line);
    }
    out(ctx, "");
    snprintf(line, sizeof line,
             "deferred %.0f   retry %.0f   in flight %.0f   parked %.0f   audit backlog %.0f%s",
             v->deferred, v->retry, v->leases, v->parked, v->audit_backlog,
             v->redis_up ? "" : "   REDIS DOWN (admitting nothing)");
    out(ctx, line);
    out(ctx, "sunrise wave: deferred jobs coming due in the next clock hours (+0h: this hour and "
             "the overdue)");
    double max = 1;
    for (int h = 0; h < 24; h++)
        max = v->due[h] > max ? v->due[h] : max;
    for (int h = 0; h < 24; h++) {
        if (!v->due[h])
            continue;
        time_t t = (time(NULL) / 3600 + h) * 3600;
        char when[16], bar[41], by[128] = "";
        strftime(when, sizeof when, "%H:00", localtime(&t));
        int w = (int)(30 * v->due[h] / max);
        memset(bar, '#', (size_t)w);
        bar[w] = '\0';
        size_t used = 0;
        for (int i = 0; i < S_CHANNELS && used < sizeof by; i++)
            if (v->ch[i].due[h])
                used += (size_t)snprintf(by + used, sizeof by - used, "%s%s %.0f", used ? ", " : "",
                                         s_channels[i], v->ch[i].due[h]);
        snprintf(line, sizeof line, "  +%2dh (%s) %9.0f %-30s %s", h, when, v->due[h], bar, by);
        out(ctx, line);
    }
    out(ctx, "");
    if (v->pauses_known) {
        out(ctx, v->pauses_text[0] ? "paused (tenant/campaign/channel):" : "paused: none");
        char copy[sizeof v->pauses_text];
        snprintf(copy, sizeof copy, "%s", v->pauses_text);
        for (char *save = NULL, *p = strtok_r(copy, "\n", &save); p;
             p = strtok_r(NULL, "\n", &save)) {
            snprintf(line, sizeof line, "  %s", p);
            out(ctx, line);
        }
    } else {
        snprintf(line, sizeof line, "paused: %.0f (Redis not reachable from here: no detail)",
                 v->pauses);
        out(ctx, line);
    }
    out(ctx, "");
    out(ctx, v->rates ? "top rules deferring or rejecting (per second, total)"
                      : "top rules deferring or rejecting (total)");
    for (size_t i = 0; i < v->n_rules; i++) {
        snprintf(line, sizeof line, "  %-9s %-40s %8.1f %10.0f", v->rules[i].code, v->rules[i].rule,
                 v->rules[i].rate, v->rules[i].total);
        out(ctx, line);
    }
}

static void s_print_line(void *ctx, const char *line) {
    (void)ctx;
    printf("%s\n", line);
}

static json_t *s_json(const s_view_t *v) {
    json_t *o = json_object(), *chs = json_object(), *due = json_array(), *rules = json_array();
    json_t *by = json_object();
    for (int i = 0; i < S_CHANNELS; i++) {
        const s_channel_t *c = &v->ch[i];
        json_object_set_new(chs, s_channels[i],
                            json_pack("{s:f,s:f,s:f,s:f,s:f,s:b,s:f,s:f,s:f}", "sent_total",
                                      c->sent, "failed_total", c->failed, "retry_total", c->retry,
                                      "ready", c->ready, "workers", c->workers, "halted",
                                      c->halted != 0, "sent_per_s", c->sent_rate, "failed_per_s",
                                      c->failed_rate, "retry_per_s", c->retry_rate));
        json_t *wave = json_array();
        for (int h = 0; h < 24; h++)
            json_array_append_new(wave, json_real(c->due[h]));
        json_object_set_new(by, s_channels[i], wave);
    }
    for (int h = 0; h < 24; h++)
        json_array_append_new(due, json_real(v->due[h]));
    for (size_t i = 0; i < v->n_rules; i++)
        json_array_append_new(rules, json_pack("{s:s,s:s,s:f,s:f}", "code", v->rules[i].code,
                                               "rule", v->rules[i].rule, "total", v->rules[i].total,
                                               "per_s", v->rules[i].rate));
    json_object_set_new(o, "channels", chs);
    json_object_set_new(o, "deferred", json_real(v->deferred));
    json_object_set_new(o, "sunrise_wave", due);
    json_object_set_new(o, "sunrise_wave_by_channel", by);
    json_object_set_new(o, "retry", json_real(v->retry));
    json_object_set_new(o, "in_flight", json_real(v->leases));
    json_object_set_new(o, "parked", json_real(v->parked));
    json_object_set_new(o, "pauses", json_real(v->pauses));
    json_object_set_new(o, "redis_up", json_boolean(v->redis_up != 0));
    json_object_set_new(o, "rates", json_boolean(v->rates));
    json_object_set_new(o, "top_rules", rules);
    return o;
}

/* --- top ------------------------------------------------------------------------------------- */

static volatile sig_atomic_t s_stop;
static void s_on_signal(int sig) {
    (void)sig;
    s_stop = 1;
}

typedef struct {
    int row;
} s_screen_t;

static void s_screen_line(void *ctx, const char *line) {
    s_screen_t *s = ctx;
    if (s->row < LINES - 1)
        mvaddnstr(s->row++, 0, line, COLS - 1);
}

static int s_top(const char *url, const brk_config_t *cfg, long interval_ms) {
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    initscr();
    cbreak();
    noecho();
    curs_set(0);
    timeout((int)interval_ms);
    pc_metrics_t *prev = NULL;
    s_view_t pv;
    struct timespec pt = {0};
    char err[256] = "";
    while (!s_stop) {
        pc_metrics_t *m = pc_metrics_fetch(url, err, sizeof err);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        erase();
        s_screen_t scr = {2};
        time_t wall = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&wall));
        mvprintw(0, 0, "pregon top   %s   %s   (q quits)", url, stamp);
        if (!m) {
            mvprintw(2, 0, "pregond's ops endpoint: %s", err);
        } else {
            s_view_t v;
            s_fill(&v, m);
            double dt = (now.tv_sec - pt.tv_sec) + (now.tv_nsec - pt.tv_nsec) / 1e9;
            s_rules_and_rates(&v, m, prev, &pv, prev ? dt : 0);
            s_pauses(&v, cfg);
            s_render(&v, s_screen_line, &scr);
            pc_metrics_destroy(&prev);
            prev = m;
            pv = v;
            pt = now;
        }
        refresh();
        int ch = getch();
        if (ch == 'q' || ch == 'Q')
            break;
    }
    pc_metrics_destroy(&prev);
    endwin();
    return 0;
}

/* --- main ------------------------------------------------------------------------------------- */

int pc_status_main(int argc, char **argv) {
    static const struct option opts[] = {{"ops", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"config", required_argument, NULL, PC_REDIS_OPT_CONFIG},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool top = strcmp(argv[0], "top") == 0, json = false;
    long interval = 1000;
    const char *ops = NULL;
    static brk_config_t cfg;
    if (pc_redis_defaults(&cfg) < 0)
        return 2;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int taken = pc_redis_take(&cfg, c, optarg); /* --config, --redis... */
        if (taken < 0)
            return 2;
        if (taken)
            continue;
        switch (c) {
            case 'o':
                ops = optarg;
                break;
            case 'J':
                json = true;
                break;
            case 'i':
                interval = atol(optarg);
                if (interval < 0 || interval > 60000) {
                    fprintf(stderr, "pregonctl: --interval-ms 0..60000\n");
                    return 2;
                }
                break;
            case 'h':
                printf("usage: pregonctl status [--ops URL] [--json] [--interval-ms MS]\n"
                       "       pregonctl top [--ops URL] [--interval-ms MS]\n"
                       "  --ops: pregond's ops endpoint (default http://ops.listen of the "
                       "configuration)\n"
                       "  connection for the pauses: [--config F] [--redis H:P | --redis-socket "
                       "P]\n" PC_REDIS_CREDENTIAL_USAGE);
                return 0;
            default:
                return 2;
        }
    }
    char url[512];
    if (ops)
        snprintf(url, sizeof url, "%s", ops);
    else if (cfg.ops_listen[0])
        snprintf(url, sizeof url, "http://%s", cfg.ops_listen);
    else {
        fprintf(stderr, "pregonctl: no ops endpoint: give --ops URL, or a configuration with "
                        "ops.listen (--config)\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (top) {
        if (interval == 0)
            interval = 1000;
        int rc = s_top(url, &cfg, interval);
        curl_global_cleanup();
        return rc;
    }
    char err[256];
    pc_metrics_t *a = pc_metrics_fetch(url, err, sizeof err), *b = NULL;
    if (a && interval > 0) {
        usleep((useconds_t)interval * 1000);
        b = pc_metrics_fetch(url, err, sizeof err);
    }
    if (!a || (interval > 0 && !b)) {
        fprintf(stderr, "pregonctl: pregond's ops endpoint %s: %s\n", url, err);
        pc_metrics_destroy(&a);
        curl_global_cleanup();
        return 3;
    }
    s_view_t va, vb;
    s_fill(&va, a);
    if (b) {
        s_fill(&vb, b);
        s_rules_and_rates(&vb, b, a, &va, (double)interval / 1000.0);
    } else {
        s_rules_and_rates(&va, a, NULL, NULL, 0);
        vb = va;
    }
    s_pauses(&vb, &cfg);
    if (json) {
        json_t *o = s_json(&vb);
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else {
        s_render(&vb, s_print_line, NULL);
    }
    pc_metrics_destroy(&a);
    pc_metrics_destroy(&b);
    curl_global_cleanup();
    return 0;
}
