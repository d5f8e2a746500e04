/* hk_link.h — pregon-hooks' link to pregond: the events of webhook requests go out on one
 * DEALER socket (connected to pregond's hooks ROUTER) as HooksToBroker{event}, each with its
 * seq, and a request is answered once BrokerToHooks{ack} has come back for all its events.
 *
 * Two sides, two threads:
 *   - HTTP handler threads wrap a request's events in an hk_hold_t and hk_link_submit() it:
 *     a queue under a mutex and a write to an eventfd the link's poll watches. Submit refuses
 *     at once (the caller answers 503) while pregond is not answering heartbeats, while
 *     stopping, or when the events would exceed max_in_flight; nothing queues without bound.
 *     The handler then waits suspended (pg_http_call_again); the link wakes it through the
 *     hold's waker once the hold is decided, and the handler reads hk_hold_state().
 *   - The main thread owns the socket and runs hk_link_step() in a loop: sends queued events,
 *     reads acks (result "error": the hold fails, 503; any other result counts as acked),
 *     fails the events not acked within ack_timeout_ms, sends a Heartbeat when it has sent
 *     nothing for heartbeat_ms (pregond answers each with one). Nothing received for three
 *     intervals: pregond is gone; every held event fails (503) and the socket is opened again
 *     (as the channel workers do), again every three intervals until pregond answers.
 * A hold is decided once: acked when all its events are, failed at its first failure (the
 * provider retries the whole request; pregond applies an event twice as once). */
#ifndef HK_LINK_H
#define HK_LINK_H

#include "hk_metrics.h"
#include "hk_module.h"
#include "pg_curve.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct hk_link hk_link_t;

/* One request's events waiting for pregond, shared by the request and the link (counted
 * references; each side releases its own). */
typedef struct hk_hold hk_hold_t;

typedef enum {
    HK_HOLD_WAITING = 0,
    HK_HOLD_ACKED, /* every event acknowledged (any result but "error"): answer 2xx */
    HK_HOLD_FAILED /* answer 503; why says the reason */
} hk_hold_state_t;

/* Takes res's events (res keeps its body and answer) and *waker (nulled) into a new hold for
 * metrics route `route`. Returns NULL when out of memory (then nothing was taken). The caller
 * owns one reference. */
hk_hold_t *hk_hold_new(hk_result_t *res, int route, pg_http_waker_t **waker);

/* A hold for a ScriptRequest instead of events: takes res's script_* strings (nulled) and
 * *waker. It counts as one event in flight; acked once the ScriptReply came (its bytes then
 * through hk_hold_script). NULL when out of memory (nothing taken). */
hk_hold_t *hk_hold_new_script(hk_result_t *res, int route, pg_http_waker_t **waker);

/* The packed ScriptReply of an acked script hold (borrowed from the hold), NULL otherwise. */
const uint8_t *hk_hold_script(const hk_hold_t *hold, size_t *len);

/* The hold's state (any thread); when failed, *why (may be NULL) gets the reason. */
hk_hold_state_t hk_hold_state(const hk_hold_t *hold, hk_unavail_kind_t *why);

/* Gives back the caller's reference; accepts NULL and nulls the pointer. Any thread. For
 * pg_http_request_set_data's free_fn there is hk_hold_free(). */
void hk_hold_release(hk_hold_t **hold_p);
void hk_hold_free(void *hold);

typedef struct {
    const char *endpoint;    /* pregond's hooks ROUTER, e.g. "tcp://127.0.0.1:5558" */
    const pg_curve_t *curve; /* borrowed, outlives the link: CURVE keys; NULL = plaintext */
    unsigned heartbeat_ms;   /* >= 10 */
    unsigned ack_timeout_ms; /* >= 1 */
    unsigned max_in_flight;  /* events submitted and unanswered, >= 1 */
    hk_metrics_t *metrics;   /* borrowed */
    /* Log sink for state changes (pregond up or gone, frames that do not parse); may be NULL.
     * Called on the main thread. */
    void (*report)(void *ctx, const char *msg);
    void *report_ctx;
} hk_link_config_t;

/* Creates the link and its socket (connecting; pregond need not be there yet) in zmq context
 * zctx (borrowed). Returns NULL with a reason in err. */
hk_link_t *hk_link_new(void *zctx, const hk_link_config_t *cfg, char *err, size_t errlen);

/* Fails what is held (503), closes the socket, frees; accepts NULL and nulls the pointer. */
void hk_link_destroy(hk_link_t **self_p);

/* Any thread: hands hold to the link (which takes a reference of its own). Returns 0, or -1
 * with the reason in *why when refused (pregond down, stopping, too much in flight): the
 * caller answers 503 and the hold is untouched. */
int hk_link_submit(hk_link_t *self, hk_hold_t *hold, hk_unavail_kind_t *why);

/* True while pregond answers (any thread). */
bool hk_link_up(const hk_link_t *self);

/* Main thread: one turn of the loop; sleeps until the socket, a submit or extra_fd (>= 0, e.g.
 * a signalfd; -1 for none) is ready or a timer is due, then does what is due. *extra_ready
 * (may be NULL) tells whether extra_fd is readable. Returns 0, or -1 on a ZeroMQ or system
 * failure that ends the process. */
int hk_link_step(hk_link_t *self, int extra_fd, bool *extra_ready);

/* Main thread: refuses every later submit and fails everything queued or held (503,
 * "stopping"), waking the requests. */
void hk_link_stop(hk_link_t *self);

#endif
