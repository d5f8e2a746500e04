/* brk_hooks.h — pregond's socket for pregon-hooks: InboundEvent in, InboundAck out.
 *
 * pregon-hooks connects a DEALER to this ROUTER (sockets.hooks) and sends HooksToBroker frames:
 * each event is applied at once (brk_inbound) and answered with an InboundAck naming its seq and
 * result, so pregon-hooks answers the provider only once the event is in Redis (an "error" ack
 * makes it answer 503: the provider retries). A heartbeat is answered with a heartbeat. Frames
 * that are not a HooksToBroker, or events without a seq, are counted and dropped (there is no
 * seq to answer). Borrows everything.
 *
 * ScriptRequest (the voice module serving a call's TwiML): answered with a ScriptReply naming
 * its seq: the job's SendRequest and its voice content, rendered from the template catalog as
 * dispatch renders it, with the variables the template says are amounts, dates or digits first
 * turned into words in the script's language (brk_speech.h). Only while the lease named is the
 * job's current lease (its attempt and nonce) and the job is dispatched, sent or delivered:
 * error "unknown" (no such job, or its payload is gone), "not-holder" (another lease, another
 * tenant or job id, or a job in another state), "error" (Redis failed, or the template no
 * longer renders). Nothing changes in Redis. */
#ifndef BRK_HOOKS_H
#define BRK_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_auth.h"
#include "brk_counters.h"
#include "brk_inbound.h"
#include "brk_redis.h"
#include "brk_rules.h"
#include "st_keys.h"

typedef struct brk_hooks brk_hooks_t;

brk_hooks_t *brk_hooks_new(void *sock, brk_auth_t *auth, brk_inbound_t *inbound, brk_counters_t *n);

/* What ScriptRequest needs (borrowed; rules may be swapped by a reload: the pointer to the
 * struct stays). Until set, every ScriptRequest is answered "error". */
void brk_hooks_set_scripts(brk_hooks_t *self, brk_redis_t *redis, const st_keys_t *keys,
                           const brk_rules_t *rules);
void brk_hooks_destroy(brk_hooks_t **self_p);

/* Handles one waiting message; false when none was waiting. */
bool brk_hooks_handle(brk_hooks_t *self, int64_t now_ms);

#endif
