/* pregond.c — the broker process: configuration, sockets, signals and the event loop.
 *
 * The modules own the work: brk_front (submit), brk_workers (workers, dispatch), brk_reports
 * (reports to the store), brk_timers (retries, deferrals, lease expiry), brk_redis (the
 * connection, fail closed, the dataset stamp), brk_events (the feed: each subscription decided
 * for its key's tenants; this file binds its socket again when keys are reloaded or
 * subscriptions were dropped). Redis holds the truth: this process keeps only
 * the worker table and counters, so it can be killed and restarted at any moment.
 * Signal handlers only set flags: SIGTERM/SIGINT stop, SIGHUP reloads policies and templates
 * and the CURVE keys folder (a bad file keeps the old ones and says why). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "brk_auth.h"
#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"
#include "brk_fallback.h"
#include "brk_front.h"
#include "brk_hooks.h"
#include "brk_inbound.h"
#include "brk_metrics.h"
#include "brk_rauth.h"
#include "brk_index.h"
#include "brk_redis.h"
#include "brk_reports.h"
#include "brk_rules.h"
#include "brk_timers.h"
#include "brk_workers.h"
#include "pg_log.h"
#include "st_keys.h"

/* FRONT_BUDGET_MS: admission work per turn (at least one batch), so that workers, heartbeats
 * and dispatch run between batches and sending never starves. */
#define MAX_FRONT_PER_TURN  64
#define MAX_WORKER_PER_TURN 4096
#define HOOKS_MAX_FRAME     (2 << 20) /* pregon-hooks' bodies are at most 1 MiB (hk_config) */
#define MAX_HOOKS_PER_TURN  1024      /* inbound events applied per loop turn (each a few calls) */
#define MAX_SUBS_PER_TURN   1024      /* event subscriptions decided per loop turn */
#define FRONT_BUDGET_MS     5
#define FRONT_HARD_MAX      (64 << 20) /* frames above max(this, 16 x the limit) drop the peer */

static volatile sig_atomic_t s_stop, s_reload;
static void s_on_stop(int sig) {
    (void)sig;
    s_stop = 1;
}
static void s_on_hup(int sig) {
    (void)sig;
    s_reload = 1;
}

static int64_t s_now_ms(const brk_config_t *cfg) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + cfg->clock_offset_s * 1000;
}

/* A socket of pregond's, secured by auth under the ZAP domain `what`, bound to endpoint. */
static void *s_bind(void *zctx, brk_auth_t *auth, const brk_config_t *cfg, int type,
                    const char *endpoint, const char *what) {
    void *s = zmq_socket(zctx, type);
    char err[512];
    if (brk_auth_serve(auth, s, what, endpoint, err, sizeof err) != 0) {
        pg_log("cannot secure the %s socket %s: %s", what, endpoint, err);
        zmq_close(s);
        return NULL;
    }
    int linger = 0, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (type == ZMQ_ROUTER) {
        /* frames up to the hard maximum are read and answered "too-large"; past it libzmq
         * drops the peer (nothing that large can be a batch) */
        int64_t maxmsg = (int64_t)cfg->max_frame_bytes * 16;
        if (maxmsg < FRONT_HARD_MAX)
            maxmsg = FRONT_HARD_MAX;
        if (strcmp(what, "hooks") == 0)
            maxmsg = HOOKS_MAX_FRAME; /* one InboundEvent: a webhook's fields, never a batch */
        int handover = 1; /* a worker reconnecting under its routing id takes its place over */
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &handover, sizeof handover);
    }
    if (type == ZMQ_XPUB) { /* subscriptions are brk_events' to decide, per subscriber's key */
        int manual = 1;
        zmq_setsockopt(s, ZMQ_XPUB_MANUAL, &manual, sizeof manual);
    }
    if (zmq_bind(s, endpoint) != 0) {
        pg_log("cannot bind the %s socket to %s: %s", what, endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* The endpoint a socket is bound to, with a wildcard port ("tcp://127.0.0.1:*") resolved. */
static const char *s_bound(void *s, char *buf, size_t len) {
    if (!s || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
        snprintf(buf, len, "(none)");
    return buf;
}

/* SIGHUP: loads policies and templates again; a bad file keeps the old set and says why. */
static void s_reload_rules(const brk_config_t *cfg, brk_rules_t *rules) {
    char err[4096];
    rl_policyset_t *p = rl_policyset_load(cfg->policies, err, sizeof err);
    if (!p) {
        pg_log("reload: policies kept as they were: %s", err);
        return;
    }
    brk_tpl_catalog_t *t = brk_tpl_load(cfg->templates, err, sizeof err);
    if (!t) {
        pg_log("reload: policies and templates kept as they were: %s", err);
        rl_policyset_destroy(&p);
        return;
    }
    brk_budgets_t *b = brk_budgets_load(cfg->budgets, err, sizeof err);
    if (!b) {
        pg_log("reload: policies, templates and budgets kept as they were: %s", err);
        rl_policyset_destroy(&p);
        brk_tpl_destroy(&t);
        return;
    }
    pg_log("reload: %zu policies (were %zu), %zu templates (were %zu)", rl_policyset_count(p),
           rl_policyset_count(rules->policies), brk_tpl_count(t), brk_tpl_count(rules->templates));
    for (size_t i = 0; i < rl_policyset_count(p); i++) {
        const char *id = rl_policyset_at(p, i)->id;
        if (!rl_policyset_get(rules->policies, id))
            pg_log("reload: policy %s added", id);
    }
    for (size_t i = 0; i < rl_policyset_count(rules->policies); i++) {
        const char *id = rl_policyset_at(rules->policies, i)->id;
        if (!rl_policyset_get(p, id))
            pg_log("reload: policy %s removed", id);
    }
    rl_policyset_destroy(&rules->policies);
    brk_tpl_destroy(&rules->templates);
    brk_budgets_destroy(&rules->budgets);
    rules->policies = p;
    rules->templates = t;
    rules->budgets = b;
}

/* "instance#incarnation": leases record which broker process handed them out. */
static void s_broker_tag(const brk_config_t *cfg, char *buf, size_t len) {
    unsigned char raw[6] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(raw, 1, sizeof raw, f) != sizeof raw)
            raw[0] = (unsigned char)time(NULL);
        fclose(f);
    }
    snprintf(buf, len, "%s#%02x%02x%02x%02x%02x%02x", cfg->instance, raw[0], raw[1], raw[2], raw[3],
             raw[4], raw[5]);
}

typedef struct {
    void *zctx, *front_sock, *back_sock, *pub_sock, *hooks_sock;
    brk_auth_t *auth;
    st_keys_t *keys;
    brk_events_t *events;
    brk_redis_t *redis;
    brk_reports_t *reports;
    brk_front_t *front;
    brk_workers_t *workers;
    brk_timers_t *timers;
    brk_index_t *index;
    brk_inbound_t *inbound;
    brk_fallback_t *fallback;
    brk_hooks_t *hooks;
    brk_metrics_t *metrics; /* NULL when ops.listen is "" */
} s_parts_t;

/* Binds the events socket again where it is bound, after keys were reloaded or subscriptions
 * dropped (brk_events.h): every subscriber is disconnected, reconnects by itself and subscribes
 * again, decided for its key as it is now. The old socket is unbound and its listener awaited
 * closed through a monitor first (libzmq closes it in its I/O thread: binding before would fail
 * on a port still held, and the old listener's close would remove the new ipc file), at most
 * 1 s, then a new XPUB is bound on the resolved endpoint. */
static void s_events_rebind(s_parts_t *p, const brk_config_t *cfg, const char *why) {
    static unsigned s_seq;
    char ep[256], mon_ep[64];
    size_t len = sizeof ep;
    if (!p->pub_sock || zmq_getsockopt(p->pub_sock, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        return;
    snprintf(mon_ep, sizeof mon_ep, "inproc://pregond-events-closed-%u", s_seq++);
    void *mon = NULL;
    if (zmq_socket_monitor(p->pub_sock, mon_ep, ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED) == 0) {
        mon = zmq_socket(p->zctx, ZMQ_PAIR);
        if (mon && zmq_connect(mon, mon_ep) != 0) {
            zmq_close(mon);
            mon = NULL;
        }
    }
    zmq_unbind(p->pub_sock, ep);
    zmq_pollitem_t item = {mon, 0, ZMQ_POLLIN, 0};
    if (mon && zmq_poll(&item, 1, 1000) <= 0)
        pg_log("events: the listener on %s was not closed within 1 s", ep);
    if (mon)
        zmq_close(mon);
    zmq_socket_monitor(p->pub_sock, NULL, 0);
    zmq_close(p->pub_sock);
    p->pub_sock = s_bind(p->zctx, p->auth, cfg, ZMQ_XPUB, ep, "events");
    brk_events_rebound(p->events, p->pub_sock, s_now_ms(cfg));
    if (p->pub_sock)
        pg_log("events: bound again on %s (%s): subscribers subscribe again", ep, why);
    else
        pg_log("events: the feed is off until pregond restarts (%s)", why);
}

/* The loop: workers first (their reports and credit free capacity for what comes next), then
 * submissions within a time budget, dispatch, timers. Returns the exit code. */
static int s_run(const brk_config_t *cfg, brk_rules_t *rules, s_parts_t *p) {
    while (!s_stop) {
        if (s_reload) {
            s_reload = 0;
            s_reload_rules(cfg, rules);
            char err[1024];
            if (brk_auth_reload(p->auth, err, sizeof err) != 0)
                pg_log("reload: keys kept as they were: %s", err);
            else if (brk_auth_zap_socket(p->auth)) /* keys may have changed: decide again */
                s_events_rebind(p, cfg, "keys reloaded");
        }
        /* sockets not in use are left out (a NULL socket would mean fd 0): front, back, then
         * hooks, ZAP and events when they exist */
        void *opt[3] = {p->hooks_sock, brk_auth_zap_socket(p->auth), p->pub_sock};
        zmq_pollitem_t items[6] = {{p->front_sock, 0, ZMQ_POLLIN, 0},
                                   {p->back_sock, 0, ZMQ_POLLIN, 0}};
        int n_items = 2, at[3] = {-1, -1, -1}; /* where hooks, ZAP and events are in items */
        for (int i = 0; i < 3; i++)
            if (opt[i]) {
                at[i] = n_items;
                items[n_items++] = (zmq_pollitem_t){opt[i], 0, ZMQ_POLLIN, 0};
            }
        int ops_at = -1; /* a scrape waiting for the loop's render wakes it */
        if (p->metrics) {
            ops_at = n_items;
            items[n_items++] = (zmq_pollitem_t){NULL, brk_metrics_fd(p->metrics), ZMQ_POLLIN, 0};
        }
        int64_t t = s_now_ms(cfg);
        long wait = brk_timers_wait_ms(p->timers, t), due = brk_reports_wait_ms(p->reports, t);
        if (due >= 0 && due < wait)
            wait = due;
        if (zmq_poll(items, n_items, wait) < 0) {
            if (errno == EINTR)
                continue;
            pg_log("zmq_poll: %s", zmq_strerror(errno));
            return 1;
        }
        bool hooks_in = at[0] >= 0 && (items[at[0]].revents & ZMQ_POLLIN);
        if (at[1] >= 0 && (items[at[1]].revents & ZMQ_POLLIN))
            brk_auth_on_zap(p->auth); /* handshakes first: a peer waits for its answer */
        bool subs_in = at[2] >= 0 && (items[at[2]].revents & ZMQ_POLLIN);
        for (int k = 0; k < MAX_SUBS_PER_TURN && subs_in; k++)
            if (!brk_events_handle(p->events, s_now_ms(cfg)))
                break;
        const char *rebind = brk_events_rebind_due(p->events, s_now_ms(cfg));
        if (rebind)
            s_events_rebind(p, cfg, rebind);
        int64_t now = s_now_ms(cfg);
        for (int k = 0; k < MAX_WORKER_PER_TURN && (items[1].revents & ZMQ_POLLIN); k++)
            if (!brk_workers_handle(p->workers, now)) /* until none waits: no ZMQ_EVENTS */
                break;
        brk_reports_maybe_flush(p->reports, now);
        for (int k = 0; k < MAX_HOOKS_PER_TURN && hooks_in; k++)
            if (!brk_hooks_handle(p->hooks, s_now_ms(cfg)))
                break;
        int64_t until = s_now_ms(cfg) + FRONT_BUDGET_MS;
        for (int k = 0; k < MAX_FRONT_PER_TURN && (items[0].revents & ZMQ_POLLIN); k++) {
            now = s_now_ms(cfg);
            if ((k > 0 && now >= until) || !brk_front_handle(p->front, now))
                break;
        }
        now = s_now_ms(cfg);
        brk_workers_dispatch(p->workers, now);
        brk_reports_maybe_flush(p->reports, now); /* and jobs that could not be rendered */
        brk_timers_run(p->timers, now);
        brk_metrics_turn(p->metrics, now, ops_at >= 0 && (items[ops_at].revents & ZMQ_POLLIN));
    }
    return 0;
}

/* Creates the sockets and modules. Returns 0, or the exit code: 78 for the security settings,
 * 1 otherwise. */
/* brk_line_end_fn: a voice call ended; its worker (if connected here) frees the line. */
static bool s_release_line(void *workers, const char *tag, const char *lease_id, int64_t now_ms) {
    return brk_workers_release_line(workers, tag, lease_id, now_ms);
}

static int s_start(const brk_config_t *cfg, brk_rules_t *rules, brk_counters_t *n, s_parts_t *p) {
    p->zctx = zmq_ctx_new();
    char err[1024];
    p->auth = brk_auth_new(p->zctx, cfg, n, err, sizeof err);
    if (!p->auth) {
        pg_log("cannot start: %s", err);
        return 78; /* the security settings: a configuration error */
    }
    p->front_sock = s_bind(p->zctx, p->auth, cfg, ZMQ_ROUTER, cfg->frontend, "frontend");
    p->back_sock = s_bind(p->zctx, p->auth, cfg, ZMQ_ROUTER, cfg->backend, "backend");
    if (cfg->events[0])
        p->pub_sock = s_bind(p->zctx, p->auth, cfg, ZMQ_XPUB, cfg->events, "events");
    if (cfg->hooks[0])
        p->hooks_sock = s_bind(p->zctx, p->auth, cfg, ZMQ_ROUTER, cfg->hooks, "hooks");
    if (!p->front_sock || !p->back_sock || (cfg->events[0] && !p->pub_sock) ||
        (cfg->hooks[0] && !p->hooks_sock))
        return 1;
    char tag[128];
    s_broker_tag(cfg, tag, sizeof tag);
    int64_t now = s_now_ms(cfg);
    p->keys = st_keys_new(cfg->redis_prefix, cfg->shards);
    p->events = brk_events_new(p->pub_sock, p->auth, n);
    p->redis = p->keys ? brk_redis_new(cfg, p->keys, tag, n) : NULL;
    p->reports = brk_reports_new(p->redis, p->keys, p->events, n);
    p->front = brk_front_new(p->front_sock, p->auth, cfg, p->redis, rules, p->events, n);
    p->workers =
        brk_workers_new(p->back_sock, p->auth, cfg, p->redis, rules, p->reports, p->events, n, now);
    p->timers = brk_timers_new(cfg, p->redis, rules, p->workers, p->reports, n);
    if (p->reports && p->workers)
        brk_reports_set_ack(p->reports, brk_workers_ack, p->workers);
    if (p->front)
        brk_front_set_reports(p->front, p->reports);
    p->index = brk_index_new(p->redis, p->keys, cfg);
    p->inbound = brk_inbound_new(p->redis, p->keys, cfg, p->events, n);
    if (p->inbound)
        brk_inbound_set_rules(p->inbound, rules);
    if (p->inbound && p->workers)
        brk_inbound_set_line_end(p->inbound, s_release_line, p->workers);
    p->hooks = brk_hooks_new(p->hooks_sock, p->auth, p->inbound, n);
    p->fallback = brk_fallback_new(cfg, p->redis, p->keys, rules, p->events, n);
    if (p->fallback && p->inbound && p->reports) {
        brk_inbound_set_fallback(p->inbound, p->fallback);
        brk_reports_set_failed(p->reports, brk_fallback_on_failed, p->fallback);
        brk_fallback_set_reports(p->fallback, p->reports);
    }
    if (p->hooks)
        brk_hooks_set_scripts(p->hooks, p->redis, p->keys, rules);
    if (p->index && p->inbound && p->reports) {
        brk_index_set_early(p->index, brk_inbound_early, p->inbound);
        brk_reports_set_index(p->reports, p->index);
    }
    if (!p->keys || !p->events || !p->redis || !p->reports || !p->front || !p->workers ||
        !p->timers || !p->index || !p->inbound || !p->hooks || !p->fallback) {
        pg_log("cannot start: out of memory or an invalid redis.prefix");
        return 1;
    }
    if (cfg->ops_listen[0]) {
        p->metrics = brk_metrics_new(cfg, p->redis, p->keys, p->workers, rules, n, err, sizeof err);
        if (!p->metrics) {
            pg_log("cannot start: %s", err);
            return 78;
        }
        pg_log("ops: /metrics, /healthz and /readyz on port %u", brk_metrics_port(p->metrics));
    }
    char b[4][256];
    pg_log("serving as %s: frontend %s, backend %s, events %s, hooks %s, %d shards, %zu "
           "policies, %zu templates%s",
           tag, s_bound(p->front_sock, b[0], sizeof b[0]), s_bound(p->back_sock, b[1], sizeof b[1]),
           s_bound(p->pub_sock, b[2], sizeof b[2]), s_bound(p->hooks_sock, b[3], sizeof b[3]),
           cfg->shards, rl_policyset_count(rules->policies), brk_tpl_count(rules->templates),
           brk_redis_ok(p->redis, now) ? "" : ", redis DOWN (failing closed)");
    return 0;
}

static void s_stop_parts(s_parts_t *p) {
    brk_metrics_destroy(&p->metrics);
    brk_hooks_destroy(&p->hooks);
    brk_inbound_destroy(&p->inbound);
    brk_fallback_destroy(&p->fallback);
    brk_timers_destroy(&p->timers);
    brk_workers_destroy(&p->workers);
    brk_front_destroy(&p->front);
    brk_reports_destroy(&p->reports);
    brk_index_destroy(&p->index);
    brk_redis_destroy(&p->redis);
    brk_events_destroy(&p->events);
    st_keys_destroy(&p->keys);
    if (p->front_sock)
        zmq_close(p->front_sock);
    if (p->back_sock)
        zmq_close(p->back_sock);
    if (p->pub_sock)
        zmq_close(p->pub_sock);
    if (p->hooks_sock)
        zmq_close(p->hooks_sock);
    brk_auth_destroy(&p->auth); /* closes the ZAP socket: before the context ends */
    if (p->zctx)
        zmq_ctx_term(p->zctx);
}

/* The Redis password is read at every connect (brk_rauth.h); one that cannot be had is a
 * configuration error, said at start (exit 78) rather than as an endless "redis unavailable". */
static int s_check_redis_secret(const brk_config_t *cfg, const char *config) {
    char pw[BRK_RAUTH_PASSWORD_MAX + 1], err[1024];
    long n = brk_rauth_password(cfg, pw, sizeof pw, err, sizeof err);
    explicit_bzero(pw, sizeof pw);
    if (n < 0) {
        pg_log("cannot start: %s", err);
        return -1;
    }
    if (cfg->redis_password_loose_mode)
        pg_log("warning: %s holds redis.password and its mode %04o lets others read it: use "
               "redis.password_file (mode 0600) or %s",
               config, cfg->redis_password_loose_mode, BRK_RAUTH_ENV);
    return 0;
}

static void s_usage(FILE *to) {
    fprintf(to, "usage: pregond [--config FILE]\n"
                "  The broker. Configuration: deploy/pregon.yaml documents every setting.\n"
                "  Signals: TERM/INT stop; HUP reloads policies, templates and the keys folder.\n"
                "  Exit codes: 0 stopped, 1 failure, 78 configuration (security included).\n");
}

int main(int argc, char **argv) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: a batch's command buffer is hundreds of KiB, rebuilt for every batch. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    pg_log_init("pregond");
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else {
            s_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    brk_config_t cfg;
    char err[4096];
    if (brk_config_load(&cfg, config, err, sizeof err) < 0) {
        pg_log("%s", err);
        return 78;
    }
    if (strcmp(cfg.log_format, "json") == 0)
        pg_log_set_json(true);
    else if (cfg.log_format[0] && strcmp(cfg.log_format, "text") != 0) {
        pg_log("log.format must be text or json, not \"%s\"", pg_log_quoted(cfg.log_format, 16).s);
        return 78;
    }
    if (s_check_redis_secret(&cfg, config) < 0)
        return 78;
    brk_rules_t rules = {NULL, NULL, NULL};
    rules.policies = rl_policyset_load(cfg.policies, err, sizeof err);
    if (rules.policies)
        rules.templates = brk_tpl_load(cfg.templates, err, sizeof err);
    if (rules.templates)
        rules.budgets = brk_budgets_load(cfg.budgets, err, sizeof err);
    if (!rules.policies || !rules.templates || !rules.budgets) {
        pg_log("%s", err);
        rl_policyset_destroy(&rules.policies);
        brk_tpl_destroy(&rules.templates);
        return 78;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead Redis or peer is an error to handle, not a death */
    signal(SIGINT, s_on_stop);
    signal(SIGTERM, s_on_stop);
    signal(SIGHUP, s_on_hup);

    brk_counters_t n = {0};
    s_parts_t parts = {0};
    int rc = brk_metrics_counters_init(&n) == 0 ? 0 : 1;
    if (rc == 0)
        rc = s_start(&cfg, &rules, &n, &parts); /* 0, or the exit code */
    if (rc == 0)
        rc = s_run(&cfg, &rules, &parts);
    if (parts.reports)
        brk_reports_flush(parts.reports, s_now_ms(&cfg)); /* what the workers reported last */
    pg_log("stopping: %" PRIu64 " accepted, %" PRIu64 " deferred, %" PRIu64 " rejected, %" PRIu64
           " dispatched, %" PRIu64 " reports; inbound events: %" PRIu64 " applied, %" PRIu64
           " duplicate, %" PRIu64 " ignored, %" PRIu64 " unknown, %" PRIu64 " refused, %" PRIu64
           " invalid, %" PRIu64 " error, %" PRIu64 " bad frames; %" PRIu64
           " CURVE handshakes denied, %" PRIu64
           " messages from revoked keys; tenant binding: %" PRIu64
           " jobs tenant-forbidden, event subscriptions %" PRIu64 " refused, %" PRIu64
           " narrowed, %" PRIu64 " dropped, %" PRIu64 " tainted, %" PRIu64 " events withheld",
           n.verdicts[RL_V_ACCEPTED], n.verdicts[RL_V_DEFERRED], n.verdicts[RL_V_REJECTED],
           n.dispatched, n.reports, n.inbound[0], n.inbound[1], n.inbound[2], n.inbound[3],
           n.inbound[4], n.inbound[5], n.inbound[6], n.hooks_bad_frames, n.auth_denied,
           n.auth_revoked, n.tenant_forbidden, n.subs_refused, n.subs_narrowed, n.subs_dropped,
           n.subs_tainted, n.events_withheld);
    pg_log("stopping: reports ignored: %" PRIu64 " naming no current lease, %" PRIu64
           " not from the lease's holder; %" PRIu64 " workers refused; handed back: %" PRIu64
           " lost in transit or never started, %" PRIu64 " of lease calls whose answer was lost",
           n.wrong_leases, n.foreign_reports, n.workers_refused, n.handed_back_lost,
           n.handed_back_unanswered);
    pg_log("stopping: fallbacks: %" PRIu64 " accepted, %" PRIu64 " deferred, %" PRIu64
           " rejected, %" PRIu64 " expired, %" PRIu64 " duplicate; %" PRIu64
           " dead contact points suppressed",
           n.fallbacks[RL_V_ACCEPTED], n.fallbacks[RL_V_DEFERRED], n.fallbacks[RL_V_REJECTED],
           n.fallbacks[RL_V_EXPIRED], n.fallbacks[RL_V_DUPLICATE], n.dead_contacts);
    s_stop_parts(&parts);
    brk_metrics_counters_release(&n);
    rl_policyset_destroy(&rules.policies);
    brk_tpl_destroy(&rules.templates);
    brk_budgets_destroy(&rules.budgets);
    return rc;
}
