/* brk_rules.h — what admission and dispatch read from files: the policies and the template
 * catalog. Owned by main, which swaps them on SIGHUP between loop turns; modules borrow the
 * holder and read the current pointers at each use, never keeping them across turns. */
#ifndef BRK_RULES_H
#define BRK_RULES_H

#include "brk_budget.h"
#include "brk_template.h"
#include "rl_policyset.h"

typedef struct {
    rl_policyset_t *policies;
    brk_tpl_catalog_t *templates;
    brk_budgets_t *budgets; /* budgets: FILE (brk_budget.h); NULL = none */
} brk_rules_t;

#endif
