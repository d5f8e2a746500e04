/* brk_events.h — the live event feed (ZeroMQ PUB): lossy by nature, never the audit path.
 * Each event is two frames: its type, then a serialized pregon.Event. */
#ifndef BRK_EVENTS_H
#define BRK_EVENTS_H

#include "pregon.pb-c.h"

typedef struct brk_events brk_events_t;

/* Publishes on the borrowed socket `pub` (NULL: publishing does nothing). */
brk_events_t *brk_events_new(void *pub);
void brk_events_destroy(brk_events_t **self_p);

/* Publishes one event; never blocks (a slow subscriber loses events). Strings may be NULL. */
void brk_events_publish(brk_events_t *self, const char *type, const char *tenant,
                        const char *job_id, int channel, const Pregon__Verdict *verdict,
                        const char *detail);

#endif
