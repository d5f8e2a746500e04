/* st_state.h — the job's states and transitions, mirrored from store/pregon.lua's table T.
 *
 * The Function library is the only writer of a job's state; this header lets C name states and
 * transitions (in logs, counters, pregonctl) without spelling them again. tests/integration/
 * test_store.c checks that this table and the library's (FCALL_RO pg_table) are the same. */
#ifndef ST_STATE_H
#define ST_STATE_H

/* States as stored in a job hash's "s" field. ST_NEW is a job not stored yet. */
typedef enum {
    ST_NEW,
    ST_QUEUED,
    ST_DEFERRED,
    ST_DISPATCHED,
    ST_RETRY,
    ST_SENT,
    ST_DELIVERED,
    ST_FAILED,
    ST_UNKNOWN,
    ST_REJECTED,
    ST_EXPIRED,
    ST_CANCELLED,
    ST_STATE_COUNT
} st_state_t;

/* Transitions, named as audit records' "to" field names them. */
typedef enum {
    ST_T_ACCEPTED,
    ST_T_DEFERRED,
    ST_T_REJECTED,
    ST_T_EXPIRED,
    ST_T_DISPATCHED,
    ST_T_SENT,
    ST_T_DELIVERED,
    ST_T_FAILED,
    ST_T_RETRY,
    ST_T_HANDED_BACK,
    ST_T_SKIPPED,
    ST_T_UNKNOWN,
    ST_T_QUEUED,
    ST_T_CANCELLED,
    ST_T_PAUSED,
    ST_TRANSITION_COUNT
} st_transition_t;

#define ST_BIT(s) (1u << (unsigned)(s))

/* One row of the table: the label, the states it may leave (ST_BIT mask) and the one it enters. */
typedef struct {
    const char *label;
    unsigned from;
    st_state_t to;
} st_rule_t;

/* The table, indexed by st_transition_t. */
static const st_rule_t st_rules[ST_TRANSITION_COUNT] = {
    [ST_T_ACCEPTED] = {"ACCEPTED", ST_BIT(ST_NEW) | ST_BIT(ST_DEFERRED), ST_QUEUED},
    [ST_T_DEFERRED] = {"DEFERRED", ST_BIT(ST_NEW) | ST_BIT(ST_DEFERRED), ST_DEFERRED},
    [ST_T_REJECTED] = {"REJECTED", ST_BIT(ST_NEW) | ST_BIT(ST_DEFERRED) | ST_BIT(ST_QUEUED),
                       ST_REJECTED},
    [ST_T_EXPIRED] = {"EXPIRED", ST_BIT(ST_NEW) | ST_BIT(ST_DEFERRED), ST_EXPIRED},
    [ST_T_DISPATCHED] = {"DISPATCHED", ST_BIT(ST_QUEUED), ST_DISPATCHED},
    [ST_T_SENT] = {"SENT", ST_BIT(ST_DISPATCHED), ST_SENT},
    [ST_T_DELIVERED] = {"DELIVERED", ST_BIT(ST_DISPATCHED) | ST_BIT(ST_SENT), ST_DELIVERED},
    [ST_T_FAILED] = {"FAILED", ST_BIT(ST_DISPATCHED) | ST_BIT(ST_SENT), ST_FAILED},
    [ST_T_RETRY] = {"RETRY", ST_BIT(ST_DISPATCHED), ST_RETRY},
    [ST_T_HANDED_BACK] = {"HANDED_BACK", ST_BIT(ST_DISPATCHED), ST_RETRY},
    [ST_T_SKIPPED] = {"SKIPPED", ST_BIT(ST_DISPATCHED), ST_DEFERRED},
    [ST_T_UNKNOWN] = {"UNKNOWN", ST_BIT(ST_DISPATCHED), ST_UNKNOWN},
    [ST_T_QUEUED] = {"QUEUED", ST_BIT(ST_RETRY), ST_QUEUED},
    [ST_T_CANCELLED] = {"CANCELLED", ST_BIT(ST_QUEUED) | ST_BIT(ST_DEFERRED) | ST_BIT(ST_RETRY),
                        ST_CANCELLED},
    /* a queued job of a paused tenant, campaign or channel, parked by dispatch (pregon.lua) */
    [ST_T_PAUSED] = {"PAUSED", ST_BIT(ST_QUEUED), ST_DEFERRED},
};

/* Names as stored ("queued", ...); "new" for ST_NEW. */
static const char *const st_state_names[ST_STATE_COUNT] = {
    "new",       "queued", "deferred", "dispatched", "retry",   "sent",
    "delivered", "failed", "unknown",  "rejected",   "expired", "cancelled"};

/* The state named `name`, or -1. */
static inline int st_state_parse(const char *name) {
    for (int i = 0; name && i < ST_STATE_COUNT; i++) {
        const char *a = st_state_names[i], *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (!*a && !*b)
            return i;
    }
    return -1;
}

#endif
