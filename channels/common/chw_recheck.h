/* chw_recheck.h — the policy re-check a worker runs just before sending: is the debtor's local
 * time still inside the law's windows (and the debtor's own)? A job can wait in a queue across a
 * window boundary; this is the last line of G3. Caps are not re-checked here: admission reserved
 * the contact. Uses the same policy files and decision code as pregond (ratelimit/). */
#ifndef CHW_RECHECK_H
#define CHW_RECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pregon.pb-c.h"
#include "rl_policyset.h"

/* A chw_recheck_fn whose ctx is a borrowed rl_policyset_t (it must outlive the worker). Refuses
 * (returns false with the rule id) when the window is closed now, or when the job's fields no
 * longer resolve (unknown policy or zone: the reason code is the rule). */
bool chw_recheck_policy(void *ctx, const Pregon__Dispatch *dispatch, int64_t now_ms, char *rule,
                        size_t rule_len);

#endif
