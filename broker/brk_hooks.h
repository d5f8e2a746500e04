/* brk_hooks.h — pregond's socket for pregon-hooks: InboundEvent in, InboundAck out.
 *
 * pregon-hooks connects a DEALER to this ROUTER (sockets.hooks) and sends HooksToBroker frames:
 * each event is applied at once (brk_inbound) and answered with an InboundAck naming its seq and
 * result, so pregon-hooks answers the provider only once the event is in Redis (an "error" ack
 * makes it answer 503: the provider retries). A heartbeat is answered with a heartbeat. Frames
 * that are not a HooksToBroker, or events without a seq, are counted and dropped (there is no
 * seq to answer). Borrows everything. */
#ifndef BRK_HOOKS_H
#define BRK_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_auth.h"
#include "brk_counters.h"
#include "brk_inbound.h"

typedef struct brk_hooks brk_hooks_t;

brk_hooks_t *brk_hooks_new(void *sock, brk_auth_t *auth, brk_inbound_t *inbound, brk_counters_t *n);
void brk_hooks_destroy(brk_hooks_t **self_p);

/* Handles one waiting message; false when none was waiting. */
bool brk_hooks_handle(brk_hooks_t *self, int64_t now_ms);

#endif
