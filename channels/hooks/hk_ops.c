/* hk_ops.c — pregon-hooks' /metrics, /healthz and /readyz (see hk_ops.h): hk_metrics' text
 * followed by the endpoint's own families, served by pg_ops. */
#include "hk_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_ops.h"

struct hk_ops {
    pg_ops_t *ops;
    hk_ops_config_t cfg;
    int ready_state; /* -1 unknown, 0 not ready, 1 ready */
    char why[160];
};

hk_ops_t *hk_ops_new(const hk_ops_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->metrics || !cfg->link) {
        snprintf(err, errlen, "metrics and a link are required");
        return NULL;
    }
    hk_ops_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->ready_state = -1;
    pg_ops_config_t oc = {
        .listen = cfg->listen, .allow_public = cfg->allow_public, .stall_ms = cfg->stall_ms};
    if (!(self->ops = pg_ops_new(&oc, err, errlen))) {
        free(self);
        return NULL;
    }
    return self;
}

void hk_ops_destroy(hk_ops_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_ops_destroy(&(*self_p)->ops);
    free(*self_p);
    *self_p = NULL;
}

uint16_t hk_ops_port(const hk_ops_t *self) {
    return self ? pg_ops_port(self->ops) : 0;
}

int hk_ops_fd(const hk_ops_t *self) {
    return self ? pg_ops_fd(self->ops) : -1;
}

bool hk_ops_readiness(bool link_up, size_t modules, char *why, size_t len) {
    if (modules == 0)
        snprintf(why, len, "no provider module loaded");
    else if (!link_up)
        snprintf(why, len, "broker down: pregond does not answer heartbeats");
    else if (len)
        why[0] = '\0';
    return modules > 0 && link_up;
}

static void s_render(hk_ops_t *self) {
    size_t len = 0;
    char *text = hk_metrics_render(self->cfg.metrics, &len);
    if (text) { /* the endpoint's own families after hk_metrics' */
        char tail[512];
        int n = snprintf(tail, sizeof tail,
                         "# HELP pregon_hooks_modules Provider modules serving routes.\n"
                         "# TYPE pregon_hooks_modules gauge\npregon_hooks_modules %zu\n"
                         "# HELP pregon_hooks_metrics_scrapes_total Scrapes of /metrics served.\n"
                         "# TYPE pregon_hooks_metrics_scrapes_total counter\n"
                         "pregon_hooks_metrics_scrapes_total %llu\n",
                         self->cfg.modules, (unsigned long long)pg_ops_scrapes(self->ops));
        char *all = n > 0 ? realloc(text, len + (size_t)n + 1) : NULL;
        if (!all) {
            free(text);
            return; /* the last text is served */
        }
        memcpy(all + len, tail, (size_t)n + 1);
        text = all;
        len += (size_t)n;
    }
    pg_ops_publish(self->ops, text, len);
}

void hk_ops_turn(hk_ops_t *self) {
    if (!self)
        return;
    pg_ops_alive(self->ops, pg_ops_mono_ms());
    if (pg_ops_wanted(self->ops))
        s_render(self);
    char why[160];
    int state = hk_ops_readiness(hk_link_up(self->cfg.link), self->cfg.modules, why, sizeof why);
    if (state != self->ready_state || strcmp(why, self->why) != 0) {
        self->ready_state = state;
        snprintf(self->why, sizeof self->why, "%s", why);
        pg_ops_set_ready(self->ops, state == 1, why);
    }
}
