/* pc_explain.h — `pregonctl explain`: one debtor and channel, decided from live Redis state. */
#ifndef PC_EXPLAIN_H
#define PC_EXPLAIN_H

#include <jansson.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "rl_policyset.h"
#include "st_keys.h"

/* What to explain: borrowed strings; debt, contact, role (default "debtor") may be NULL. */
typedef struct {
    const char *tenant, *debtor, *channel, *jurisdiction, *tz, *debt, *contact, *role;
    int64_t at; /* Unix seconds: the instant decided for */
} pc_explain_query_t;

/* The decision admission would make for q at q->at, from the live history and suppressions
 * on rc (borrowed; synchronous), as a JSON object you own: verdict (ALLOWED, DEFERRED,
 * REJECTED), local (the debtor's local time), rule, reason, until, contacts (how many),
 * counters, counters_rule, history [{at, at_unix, channel, outcome}] oldest first. Returns 0;
 * 2 with err for a query the policies refuse (unknown jurisdiction, zone, channel); 3 with err
 * when Redis failed. Changes nothing; thread-safe for distinct rc (set is only read). */
int pc_explain_decide(redisContext *rc, const st_keys_t *keys, const rl_policyset_t *set,
                      const pc_explain_query_t *q, json_t **out, char *err, size_t errlen);

/* Runs the subcommand (argv[0] = "explain"). Exit: 0 answered, 2 usage or bad policy/field,
 * 3 Redis unreachable. */
int pc_explain_main(int argc, char **argv);

#endif
