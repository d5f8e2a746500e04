/* brk_budget.h — what campaigns may cost: the budgets file, and spending it atomically with
 * admission.
 *
 * The file (pregon.yaml `budgets: FILE`) names a cost per message per channel (a default and
 * per tenant) and, per tenant, a budget per day and per month, and per campaign a budget per
 * day, per month and in total; amounts are decimals in the tenant's own currency (at most six
 * decimals: they are kept as integer millionths, never floats):
 *
 *     costs: {sms: 0.05, whatsapp: 0.08, voice: 0.12, email: 0.001, messenger: 0}
 *     tenants:
 *       acme:
 *         costs: {sms: 0.04}             # over the defaults, for this tenant
 *         daily: 500                     # the tenant's budget per UTC day
 *         monthly: 9000                  # and per UTC month
 *         campaigns:
 *           mora-30: {daily: 50, monthly: 800, total: 2000}
 *         campaign_default: {daily: 100} # every campaign not listed
 *         on_exceed: defer               # over the file's on_exceed (default: reject)
 *
 * A tenant not listed, or a channel without a cost, is not budgeted. Spending is admission's:
 * before a batch is decided, each job's cost is reserved against every budget it falls under,
 * all of one tenant in one call of one slot (store/pregon.lua pg_budget, the tenant's budget
 * hash in its home shard), so concurrent submitters, through one pregond or several, never
 * spend past a budget; a job that does not fit is REJECTED with reason "budget" and the rule of
 * the budget it would break (budget.tenant.daily, budget.tenant.monthly,
 * budget.campaign.daily, budget.campaign.monthly, budget.campaign.total), audited like every
 * verdict. With `on_exceed: defer` (a top-level key, or a tenant's) a job that would break a
 * daily or monthly budget is DEFERRED instead, with the same rule and reason "budget", to the
 * start of the next period (00:00 UTC of the next day, or of the first of the next month),
 * when it goes through admission again and is charged then; one that would break a campaign's
 * total is still REJECTED (a total has no next period), and so is one that costs more than
 * the budget it breaks (it would never fit); one whose expiry comes first (or at that very
 * instant) is EXPIRED. A job the policy defers later than that keeps the policy's instant; one the
 * policy refuses is refused. After admission the reservations of jobs that were not ACCEPTED
 * (deferred, duplicate, rejected, busy) are given back: a job is charged once, when it is queued (a
 * deferred job when it is admitted later). A pregond killed between the two steps leaves its
 * reservations spent: budgets err on the side of spending less, never more.
 *
 * The loaded file is plain data (read-only after load; swapped whole on SIGHUP). */
#ifndef BRK_BUDGET_H
#define BRK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct brk_budgets brk_budgets_t;

/* The limits a job falls under, in millionths; 0 = no such budget. */
typedef struct {
    int64_t tenant_daily, tenant_monthly;
    int64_t campaign_daily, campaign_monthly, campaign_total;
} brk_budget_limits_t;

/* Loads path ("" or NULL: no budgets, an empty set). NULL with "FILE:LINE:COL: message" in err
 * on a file that does not parse or names an unknown key, channel or a bad amount. */
brk_budgets_t *brk_budgets_load(const char *path, char *err, size_t errlen);

/* Frees; accepts NULL and nulls the caller's pointer. */
void brk_budgets_destroy(brk_budgets_t **self_p);

/* The cost of one message of `tenant` on `channel` (pregon.proto number) in millionths, or -1
 * when the job is not budgeted (tenant not listed, or no cost for the channel). */
int64_t brk_budget_cost(const brk_budgets_t *self, const char *tenant, int channel);

/* What a job that does not fit becomes: BRK_BUDGET_REJECT or BRK_BUDGET_DEFER (on_exceed of
 * the tenant, else of the file). */
enum { BRK_BUDGET_REJECT = 0, BRK_BUDGET_DEFER = 1 };
int brk_budget_on_exceed(const brk_budgets_t *self, const char *tenant);

/* The start of the period after now_s (UTC) that a budget rule (budget.*.daily / .monthly)
 * counts in, or 0 for a rule with no next period (budget.campaign.total, or any other). */
int64_t brk_budget_next_period(const char *rule, int64_t now_s);

/* The budgets a job of tenant/campaign falls under. */
void brk_budget_limits(const brk_budgets_t *self, const char *tenant, const char *campaign,
                       brk_budget_limits_t *out);

/* The budgeted tenants, and the campaigns listed for one (for /metrics and status). */
size_t brk_budgets_tenants(const brk_budgets_t *self);
const char *brk_budgets_tenant(const brk_budgets_t *self, size_t i);
size_t brk_budgets_campaigns(const brk_budgets_t *self, size_t tenant);
const char *brk_budgets_campaign(const brk_budgets_t *self, size_t tenant, size_t i);

/* A decimal amount ("12", "0.05", "1250.5") into millionths. Returns 0, or -1 when it is not
 * a non-negative decimal with at most six decimals below 10^12. */
int brk_money_parse(const char *s, int64_t *out);

/* Millionths as a decimal with the decimals it needs ("0.05", "12"). Returns buf. */
const char *brk_money_format(int64_t micros, char *buf, size_t len);

#endif
