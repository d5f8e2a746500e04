/* chw_ops.c — a worker's operations endpoint (chw_ops.h): the counters of chw_worker_counters
 * rendered in the Prometheus text format on the worker's own loop, served by pg_ops.
 *
 * Readiness is re-evaluated every turn but only handed to pg_ops when it changes (a mutex per
 * turn would be cheap, a string copy per turn at tens of thousands of turns a second less so). */
#include "chw_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_channel.h"
#include "pg_ops.h"
#include "pg_prom.h"

struct chw_ops {
    pg_ops_t *ops;
    char channel[16];
    char worker_id[256];
    uint32_t concurrency;
    int ready_state; /* -1 unknown, 0 not ready, 1 ready */
    char why[200];
};

chw_ops_t *chw_ops_new(const char *listen, int channel, const char *worker_id, uint32_t concurrency,
                       char *err, size_t errlen) {
    chw_ops_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(self->channel, sizeof self->channel, "%s", pg_channel_name(channel));
    snprintf(self->worker_id, sizeof self->worker_id, "%s", worker_id ? worker_id : "");
    self->concurrency = concurrency;
    self->ready_state = -1;
    pg_ops_config_t oc = {.listen = listen};
    self->ops = pg_ops_new(&oc, err, errlen);
    if (!self->ops) {
        free(self);
        return NULL;
    }
    return self;
}

void chw_ops_destroy(chw_ops_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_ops_destroy(&(*self_p)->ops);
    free(*self_p);
    *self_p = NULL;
}

int chw_ops_fd(const chw_ops_t *self) {
    return self ? pg_ops_fd(self->ops) : -1;
}

unsigned chw_ops_port(const chw_ops_t *self) {
    return self ? pg_ops_port(self->ops) : 0;
}

/* name{channel,worker_id[,k=v]} value */
static void s_sample(chw_ops_t *self, pg_prom_t *p, const char *name, const char *k, const char *v,
                     double value) {
    const char *labels[] = {"channel", self->channel, "worker_id", self->worker_id, k, v, NULL};
    pg_prom_sample(p, name, labels, value);
}

static void s_one(chw_ops_t *self, pg_prom_t *p, const char *name, const char *type,
                  const char *help, double value) {
    pg_prom_family(p, name, type, help);
    s_sample(self, p, name, NULL, NULL, value);
}

static void s_render(chw_ops_t *self, const chw_worker_t *worker) {
    chw_counters_t c;
    chw_worker_counters(worker, &c);
    pg_prom_t *p = pg_prom_new();
    if (!p)
        return;
    s_one(self, p, "pregon_worker_dispatches_total", "counter", "Dispatches received.",
          (double)c.received);
    pg_prom_family(p, "pregon_worker_reports_total", "counter", "Reports sent, by outcome.");
    const struct {
        const char *name;
        uint64_t v;
    } outcomes[] = {{"sent", c.sent},
                    {"failed", c.failed},
                    {"retry", c.retried},
                    {"unknown", c.unknown},
                    {"config_error", c.config_errors},
                    {"skipped", c.skipped},
                    {"handed_back", c.handed_back}};
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
        s_sample(self, p, "pregon_worker_reports_total", "outcome", outcomes[i].name,
                 (double)outcomes[i].v);
    pg_prom_family(p, "pregon_worker_provider_responses_total", "counter",
                   "Provider answers by HTTP status (none: no HTTP answer).");
    for (int st = 0; st < 600; st++) {
        if (!c.http_status[st])
            continue;
        char code[8];
        snprintf(code, sizeof code, "%d", st);
        s_sample(self, p, "pregon_worker_provider_responses_total", "status", st ? code : "none",
                 (double)c.http_status[st]);
    }
    pg_prom_family(p, "pregon_worker_provider_request_seconds", "histogram",
                   "Duration of answered provider requests.");
    const char *labels[] = {"channel", self->channel, "worker_id", self->worker_id, NULL};
    pg_prom_histogram(p, "pregon_worker_provider_request_seconds", labels, &c.request_seconds);
    s_one(self, p, "pregon_worker_in_flight", "gauge", "Jobs held: queued or running.",
          (double)c.in_flight);
    s_one(self, p, "pregon_worker_queued", "gauge", "Jobs waiting for their shaping token.",
          (double)c.queued);
    s_one(self, p, "pregon_worker_held_lines", "gauge",
          "Slots kept after their report: lines of calls that may still be up.", (double)c.held);
    s_one(self, p, "pregon_worker_lines_released_total", "counter",
          "Held lines freed when their call ended (ReleaseLine), before their bound.",
          (double)c.lines_released);
    s_one(self, p, "pregon_worker_concurrency", "gauge", "Jobs it may hold at once (its credit).",
          (double)self->concurrency);
    const char *halt = chw_worker_halt_reason(worker);
    s_one(self, p, "pregon_worker_halted", "gauge", "1 when the channel halted in this worker.",
          halt && halt[0] ? 1 : 0);
    s_one(self, p, "pregon_worker_broker_connected", "gauge",
          "1 while the broker has been heard within three heartbeats.",
          chw_worker_broker_up(worker) ? 1 : 0);
    s_one(self, p, "pregon_worker_reconnects_total", "counter", "Reconnections to the broker.",
          (double)c.reconnects);
    s_one(self, p, "pregon_worker_bad_frames_total", "counter", "Broker frames refused.",
          (double)c.bad_frames);
    s_one(self, p, "pregon_worker_reports_resent_total", "counter",
          "Reports sent again from the journal (not acknowledged in time).", (double)c.resent);
    s_one(self, p, "pregon_worker_foreign_dispatches_total", "counter",
          "Dispatches leased to a previous process of this worker id: ignored.", (double)c.foreign);
    size_t len = 0;
    char *text = pg_prom_take(p, &len);
    pg_prom_destroy(&p);
    pg_ops_publish(self->ops, text, len);
}

void chw_ops_tick(void *ctx, const chw_worker_t *worker, bool tick_ready) {
    chw_ops_t *self = ctx;
    pg_ops_alive(self->ops, pg_ops_mono_ms());
    if (tick_ready && pg_ops_wanted(self->ops))
        s_render(self, worker);
    const char *halt = chw_worker_halt_reason(worker);
    char why[200] = "";
    if (halt && halt[0])
        snprintf(why, sizeof why, "halted: %s", halt);
    else if (!chw_worker_broker_up(worker))
        snprintf(why, sizeof why, "broker not heard");
    int state = why[0] ? 0 : 1;
    if (state != self->ready_state || strcmp(why, self->why) != 0) {
        self->ready_state = state;
        snprintf(self->why, sizeof self->why, "%s", why);
        pg_ops_set_ready(self->ops, state == 1, why);
    }
}
