/* rl_policyset.h — every policy of a deployment by jurisdiction id, and the resolution of a
 * job's text fields (jurisdiction, zones, channel, role, window) into an rl_job_t.
 *
 * Loaded once at start (or reload) from a folder of YAML files; immutable afterwards, so readers
 * in any thread need no lock. Resolution errors carry the stable reason codes verdicts use. */
#ifndef RL_POLICYSET_H
#define RL_POLICYSET_H

#include <stddef.h>

#include "rl_decide.h"

typedef struct rl_policyset rl_policyset_t;

/* Loads every *.yaml file of `dir` (policies are looked up by their `id`, not their file name).
 * On failure returns NULL with one line per problem in err (the first problem if err is short).
 * Two files with the same id are an error. The caller owns the result. */
rl_policyset_t *rl_policyset_load(const char *dir, char *err, size_t err_len);

/* A set of one policy file, for policy-check --policy FILE. */
rl_policyset_t *rl_policyset_load_file(const char *path, char *err, size_t err_len);

void rl_policyset_destroy(rl_policyset_t **self_p);

/* The policy of a jurisdiction id, or NULL. Borrowed: valid while the set lives. */
const rl_policy_t *rl_policyset_get(const rl_policyset_t *self, const char *id);

/* The only policy of a one-policy set, or NULL if it holds several. */
const rl_policy_t *rl_policyset_only(const rl_policyset_t *self);

size_t rl_policyset_count(const rl_policyset_t *self);
const rl_policy_t *rl_policyset_at(const rl_policyset_t *self, size_t i);

/* The text fields of a job that the decision needs. */
typedef struct {
    const char *jurisdiction; /* NULL or "": the set's only policy, if it has one */
    const char *time_zone;
    const char *const *alt_zones;
    size_t n_alt_zones;
    const char *channel; /* name; or NULL and channel_num */
    int channel_num;
    const char *role; /* name; or NULL and role_num (0 = debtor) */
    int role_num;
    const char *debt_id;
    const char *preferred_window;
    int64_t not_before;
    int64_t expires_at;
} rl_job_fields_t;

/* Fills *job from fields. Returns 0, or -1 with *reason set to a stable reason code
 * ("unknown-policy", "bad-timezone", "bad-channel", "bad-role", "bad-window") and *detail to a
 * pointer to the offending value (borrowed from fields). */
int rl_job_resolve(const rl_policyset_t *set, const rl_job_fields_t *fields, rl_job_t *job,
                   const char **reason, const char **detail);

#endif
