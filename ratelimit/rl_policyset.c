/* rl_policyset.c — a folder of policies by id, and job field resolution (see rl_policyset.h). */
#include "rl_policyset.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rl_policyset {
    rl_policy_t **policies;
    size_t n;
};

static int s_by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int s_add(rl_policyset_t *self, rl_policy_t *p, char *err, size_t err_len) {
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->policies[i]->id, p->id) == 0) {
            snprintf(err, err_len, "%s: policy id \"%s\" is also defined by %s", p->source, p->id,
                     self->policies[i]->source);
            rl_policy_destroy(&p);
            return -1;
        }
    }
    rl_policy_t **grown = realloc(self->policies, (self->n + 1) * sizeof *grown);
    if (!grown) {
        snprintf(err, err_len, "out of memory");
        rl_policy_destroy(&p);
        return -1;
    }
    self->policies = grown;
    self->policies[self->n++] = p;
    return 0;
}

rl_policyset_t *rl_policyset_load(const char *dir, char *err, size_t err_len) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, err_len, "%s: cannot open policy folder", dir);
        return NULL;
    }
    rl_policyset_t *self = calloc(1, sizeof *self);
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    int failed = !self;
    while (!failed && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || e->d_name[0] == '.' || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char **grown = realloc(names, (nn + 1) * sizeof *grown);
        if (!grown || !(grown[nn] = strdup(e->d_name))) {
            names = grown ? grown : names;
            failed = 1;
            break;
        }
        names = grown;
        nn++;
    }
    closedir(d);
    if (failed)
        snprintf(err, err_len, "out of memory");
    if (!failed && nn == 0) {
        snprintf(err, err_len, "%s: no *.yaml policy files", dir);
        failed = 1;
    }
    if (!failed)
        qsort(names, nn, sizeof *names, s_by_name);
    size_t used = 0;
    for (size_t i = 0; i < nn && !failed; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rl_policy_t *p = rl_policy_load(path, err + used, err_len - used);
        if (!p || s_add(self, p, err + used, err_len - used) < 0) {
            failed = 1;
        }
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (failed) {
        rl_policyset_destroy(&self);
        return NULL;
    }
    return self;
}

rl_policyset_t *rl_policyset_load_file(const char *path, char *err, size_t err_len) {
    rl_policyset_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    rl_policy_t *p = rl_policy_load(path, err, err_len);
    if (!p || s_add(self, p, err, err_len) < 0) {
        rl_policyset_destroy(&self);
        return NULL;
    }
    return self;
}

void rl_policyset_destroy(rl_policyset_t **self_p) {
    if (!self_p || !*self_p)
        return;
    rl_policyset_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        rl_policy_destroy(&self->policies[i]);
    free(self->policies);
    free(self);
    *self_p = NULL;
}

const rl_policy_t *rl_policyset_get(const rl_policyset_t *self, const char *id) {
    for (size_t i = 0; id && i < self->n; i++)
        if (strcmp(self->policies[i]->id, id) == 0)
            return self->policies[i];
    return NULL;
}

const rl_policy_t *rl_policyset_only(const rl_policyset_t *self) {
    return self->n == 1 ? self->policies[0] : NULL;
}

size_t rl_policyset_count(const rl_policyset_t *self) {
    return self->n;
}

const rl_policy_t *rl_policyset_at(const rl_policyset_t *self, size_t i) {
    return i < self->n ? self->policies[i] : NULL;
}

int rl_job_resolve(const rl_policyset_t *set, const rl_job_fields_t *f, rl_job_t *job,
                   const char **reason, const char **detail) {
    memset(job, 0, sizeof *job);
    *detail = NULL;
    job->policy = (f->jurisdiction && *f->jurisdiction) ? rl_policyset_get(set, f->jurisdiction)
                                                        : rl_policyset_only(set);
    if (!job->policy) {
        *reason = "unknown-policy";
        *detail = f->jurisdiction ? f->jurisdiction : "";
        return -1;
    }
    job->channel = f->channel ? rl_channel_parse(f->channel) : (rl_channel_t)f->channel_num;
    if (job->channel <= RL_CH_NONE || job->channel >= RL_CH_COUNT) {
        *reason = "bad-channel";
        *detail = f->channel ? f->channel : "";
        return -1;
    }
    job->role = f->role ? rl_role_parse(f->role) : (f->role_num ? f->role_num : RL_ROLE_DEBTOR);
    if (job->role < RL_ROLE_DEBTOR || job->role > RL_ROLE_REFERENCE) {
        *reason = "bad-role";
        *detail = f->role ? f->role : "";
        return -1;
    }
    const char *zone_names[RL_MAX_ZONES];
    size_t nz = 0;
    zone_names[nz++] = f->time_zone;
    for (size_t i = 0; i < f->n_alt_zones; i++) {
        if (nz == RL_MAX_ZONES) {
            *reason = "bad-timezone";
            *detail = f->alt_zones[i];
            return -1;
        }
        zone_names[nz++] = f->alt_zones[i];
    }
    for (size_t i = 0; i < nz; i++) {
        const rl_zone_t *z = zone_names[i] ? rl_zone_get(zone_names[i]) : NULL;
        if (!z) {
            *reason = "bad-timezone";
            *detail = zone_names[i] ? zone_names[i] : "";
            return -1;
        }
        job->zones[job->n_zones++] = z;
    }
    if (f->preferred_window && *f->preferred_window) {
        if (rl_window_parse(f->preferred_window, &job->preferred) < 0) {
            *reason = "bad-window";
            *detail = f->preferred_window;
            return -1;
        }
        job->has_preferred = 1;
    }
    job->debt = rl_debt_hash(f->debt_id);
    job->not_before = f->not_before;
    job->expires_at = f->expires_at;
    return 0;
}
