/* au_ops.c — pregon-audit's /metrics, /healthz and /readyz (see au_ops.h): the loop's state and
 * the drainer's counters rendered with pg_prom, served by pg_ops.
 *
 * Readiness is evaluated every turn but handed to pg_ops only when it changes (pg_ops copies the
 * reason under its mutex; a drain turn can be a few hundred microseconds). */
#include "au_ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_ops.h"
#include "pg_prom.h"

struct au_ops {
    pg_ops_t *ops;
    int64_t max_lag_ms;
    int ready_state; /* -1 unknown, 0 not ready, 1 ready */
    char why[200];
};

au_ops_t *au_ops_new(const au_ops_config_t *cfg, char *err, size_t errlen) {
    au_ops_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->max_lag_ms = cfg->max_lag_ms;
    self->ready_state = -1;
    pg_ops_config_t oc = {
        .listen = cfg->listen, .allow_public = cfg->allow_public, .stall_ms = cfg->stall_ms};
    self->ops = pg_ops_new(&oc, err, errlen);
    if (!self->ops) {
        free(self);
        return NULL;
    }
    return self;
}

void au_ops_destroy(au_ops_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_ops_destroy(&(*self_p)->ops);
    free(*self_p);
    *self_p = NULL;
}

uint16_t au_ops_port(const au_ops_t *self) {
    return self ? pg_ops_port(self->ops) : 0;
}

int au_ops_fd(const au_ops_t *self) {
    return self ? pg_ops_fd(self->ops) : -1;
}

bool au_ops_readiness(const au_ops_state_t *st, int64_t max_lag_ms, char *why, size_t len) {
    if (!st->redis_up) {
        snprintf(why, len, "redis: %s", st->redis_err[0] ? st->redis_err : "not connected");
        return false;
    }
    if (!st->backlog_known) {
        snprintf(why, len, "audit backlog not read%s%s", st->redis_err[0] ? ": " : " yet",
                 st->redis_err);
        return false;
    }
    if (max_lag_ms > 0 && st->lag_ms > max_lag_ms) {
        snprintf(why, len,
                 "audit lag %" PRId64 " s over the bound of %" PRId64 " s (%" PRIu64
                 " records pending)",
                 st->lag_ms / 1000, max_lag_ms / 1000, st->pending);
        return false;
    }
    if (len)
        why[0] = '\0';
    return true;
}

void au_ops_turn(au_ops_t *self, const au_ops_state_t *st) {
    if (!self)
        return;
    pg_ops_alive(self->ops, pg_ops_mono_ms());
    char why[200];
    int state = au_ops_readiness(st, self->max_lag_ms, why, sizeof why) ? 1 : 0;
    if (state != self->ready_state || strcmp(why, self->why) != 0) {
        self->ready_state = state;
        snprintf(self->why, sizeof self->why, "%s", why);
        pg_ops_set_ready(self->ops, state == 1, why);
    }
}

bool au_ops_wanted(au_ops_t *self) {
    return self && pg_ops_wanted(self->ops);
}

static void s_one(pg_prom_t *p, const char *name, const char *type, const char *help,
                  double value) {
    pg_prom_family(p, name, type, help);
    pg_prom_sample(p, name, NULL, value);
}

void au_ops_publish(au_ops_t *self, const au_ops_state_t *st, const au_drain_stats_t *ds) {
    if (!self)
        return;
    pg_prom_t *p = pg_prom_new();
    if (!p)
        return;
    s_one(p, "pregon_audit_records_drained_total", "counter",
          "Audit records written to the archive's segments (fsync'd before acknowledged).",
          (double)ds->written);
    s_one(p, "pregon_audit_duplicates_skipped_total", "counter",
          "Records delivered again that a previous process had written: skipped.",
          (double)ds->duplicates);
    s_one(p, "pregon_audit_records_acked_total", "counter",
          "Stream entries acknowledged (XACK) after their batch was durable.", (double)ds->acked);
    s_one(p, "pregon_audit_batches_total", "counter", "Batches written, sealed and fsync'd.",
          (double)ds->batches);
    s_one(p, "pregon_audit_contents_stored_total", "counter",
          "Distinct message bodies stored under content/.", (double)ds->contents);
    s_one(p, "pregon_audit_segments_closed_total", "counter",
          "Day segments closed with their signed checkpoint.", (double)ds->closed);
    s_one(p, "pregon_audit_segments_verified_total", "counter",
          "Closed segments verified at once (chain, seals, checkpoint, contents).",
          (double)ds->verified);
    s_one(p, "pregon_audit_verify_failures_total", "counter",
          "Verifications of closed segments that found a problem or could not read them.",
          (double)ds->verify_failures);
    s_one(p, "pregon_audit_segments_removed_total", "counter",
          "Expired segments removed by retention (each a signed record in the chain).",
          (double)st->removed);
    s_one(p, "pregon_audit_index_failures_total", "counter",
          "SQLite index writes that failed (the segments are intact; reindex rebuilds it).",
          (double)ds->index_failures);
    s_one(p, "pregon_audit_drain_errors_total", "counter",
          "Drain rounds that failed (Redis gone, a write refused).", (double)st->drain_errors);
    s_one(p, "pregon_audit_redis_connect_failures_total", "counter",
          "Connections to Redis (and group attaches) that failed.", (double)st->connect_failures);
    pg_prom_family(p, "pregon_audit_redis_roundtrip_seconds", "histogram",
                   "Redis round trips of the drainer (reads, acknowledgements, backlog).");
    pg_prom_histogram(p, "pregon_audit_redis_roundtrip_seconds", NULL, &ds->redis_seconds);
    pg_prom_family(p, "pregon_audit_index_write_seconds", "histogram",
                   "SQLite index inserts of one batch.");
    pg_prom_histogram(p, "pregon_audit_index_write_seconds", NULL, &ds->index_seconds);
    s_one(p, "pregon_audit_pending_records", "gauge",
          "Audit stream entries still in Redis, every shard (not yet drained).",
          (double)st->pending);
    s_one(p, "pregon_audit_lag_seconds", "gauge",
          "Age of the oldest audit record not yet drained (0: none).", (double)st->lag_ms / 1000.0);
    s_one(p, "pregon_audit_redis_up", "gauge", "1 while Redis answers.", st->redis_up ? 1 : 0);
    s_one(p, "pregon_audit_shards", "gauge", "Shards drained.", (double)st->shards);
    s_one(p, "pregon_audit_metrics_scrapes_total", "counter", "Scrapes of /metrics served.",
          (double)pg_ops_scrapes(self->ops));
    size_t len = 0;
    char *text = pg_prom_take(p, &len);
    pg_prom_destroy(&p);
    pg_ops_publish(self->ops, text, len);
}
