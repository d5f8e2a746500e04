/* fuzz_policy.c — the policy loader (rl_policy_load, ratelimit/rl_policy.c) on any file: the
 * input is written as fuzz.yaml next to copies of the deploy/policies files, so `extends: CO`
 * (and `extends: fuzz`, a cycle) reach real files.
 *
 * Properties: a loaded policy has an id, sorted non-overlapping spans within the day, every rule
 * id found by rl_policy_rule_kind, and a lookback of at least a day. A refused file gets one
 * error line. */
#include <string.h>

#include "fz_lib.h"
#include "rl_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_copy_yaml_dir("deploy/policies");
    return 0;
}

static void s_days(const rl_day_t *d) {
    if (d->n < 0 || d->n > RL_MAX_SPANS)
        fz_fail("a day with an impossible number of spans");
    for (int i = 0; i < d->n; i++) {
        const rl_span_t *s = &d->span[i];
        if (s->start < 0 || s->end > 86400 || s->start >= s->end ||
            (i > 0 && d->span[i - 1].end > s->start))
            fz_fail("a span out of order or out of the day");
    }
}

static void s_check(const rl_policy_t *p) {
    if (!p->id[0])
        fz_fail("a policy without an id");
    for (size_t i = 0; i < p->n_windows; i++) {
        for (int d = 0; d < 7; d++)
            s_days(&p->windows[i].day[d]);
        s_days(&p->windows[i].holiday);
        if (!rl_policy_rule_kind(p, p->windows[i].id))
            fz_fail("a window rule not found by its id");
    }
    for (size_t i = 0; i < p->n_caps; i++)
        if (p->caps[i].limit < 1 || !rl_policy_rule_kind(p, p->caps[i].id))
            fz_fail("a cap without a limit or not found by its id");
    for (size_t i = 0; i < p->n_gaps; i++)
        if (!rl_policy_rule_kind(p, p->gaps[i].id))
            fz_fail("a gap rule not found by its id");
    if (rl_policy_lookback(p) < 86400)
        fz_fail("a lookback shorter than a day");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write_file("fuzz.yaml", data, size);
    char err[1024];
    err[0] = '\0';
    rl_policy_t *p = rl_policy_load(path, err, sizeof err);
    if (p)
        s_check(p);
    else if (!err[0] || strchr(err, '\n'))
        fz_fail("a refused policy without exactly one error line");
    rl_policy_destroy(&p);
    if (p)
        fz_fail("rl_policy_destroy did not null the pointer");
    return 0;
}
