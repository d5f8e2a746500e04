/* hk_metrics.h — pregon-hooks' counters and their Prometheus text exposition (GET /metrics).
 *
 *   pregon_hooks_requests_total{provider,route,result}  webhook requests by how they ended:
 *       result = ok (2xx), refused (403), invalid (400, 415), too_large (413),
 *       unavailable (503), error (500 and anything else)
 *   pregon_hooks_refused_total{provider,reason}         403s: unsigned, forged, unknown-account
 *   pregon_hooks_invalid_total{provider,reason}         400s a module found: missing-field, ...
 *   pregon_hooks_events_forwarded_total{provider,route} events sent to pregond
 *   pregon_hooks_events_acked_total{provider,route,result} those answered, by InboundAck
 *       result (applied, duplicate, ...: as acks_total, late excepted)
 *   pregon_hooks_acks_total{result}                     InboundAcks: applied, duplicate,
 *       unknown, refused, invalid, error, other (anything else), late (for an event already
 *       answered 503)
 *   pregon_hooks_unavailable_total{reason}              503s: broker_down, full, ack_error,
 *       ack_timeout, send_failed, stopping
 *   pregon_hooks_in_flight                              events handed to the link, unanswered
 *   pregon_hooks_in_flight_limit, pregon_hooks_broker_up, pregon_hooks_broker_reconnects_total
 * Routes are registered before serving; every counter is atomic, so any thread may count.
 * Served on pregon-hooks' ops port (hk_ops.h), not on the public listener. */
#ifndef HK_METRICS_H
#define HK_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hk_metrics hk_metrics_t;

typedef enum {
    HK_RESULT_OK,
    HK_RESULT_REFUSED,
    HK_RESULT_INVALID,
    HK_RESULT_TOO_LARGE,
    HK_RESULT_UNAVAILABLE,
    HK_RESULT_ERROR,
    HK_RESULT_COUNT
} hk_result_kind_t;

typedef enum {
    HK_ACK_APPLIED,
    HK_ACK_DUPLICATE,
    HK_ACK_IGNORED,
    HK_ACK_UNKNOWN,
    HK_ACK_REFUSED,
    HK_ACK_INVALID,
    HK_ACK_ERROR,
    HK_ACK_OTHER,
    HK_ACK_LATE,
    HK_ACK_COUNT
} hk_ack_kind_t;

typedef enum {
    HK_UNAVAIL_BROKER_DOWN,
    HK_UNAVAIL_FULL,
    HK_UNAVAIL_ACK_ERROR,
    HK_UNAVAIL_ACK_TIMEOUT,
    HK_UNAVAIL_SEND_FAILED,
    HK_UNAVAIL_STOPPING,
    HK_UNAVAIL_COUNT
} hk_unavail_kind_t;

/* Returns empty metrics, or NULL when out of memory. */
hk_metrics_t *hk_metrics_new(void);

/* Frees; accepts NULL and nulls the caller's pointer. */
void hk_metrics_destroy(hk_metrics_t **self_p);

/* Registers a route (provider and route labels, borrowed: static strings) before serving.
 * Returns its id (>= 0), or -1 when the table (64 routes) is full. */
int hk_metrics_add_route(hk_metrics_t *self, const char *provider, const char *route);

/* The result class of an HTTP status. */
hk_result_kind_t hk_metrics_result_of(int status);

/* Counters; any thread. reason is a static string (a module's label). */
void hk_metrics_request(hk_metrics_t *self, int route, hk_result_kind_t result);
void hk_metrics_refused(hk_metrics_t *self, int route, const char *reason);
void hk_metrics_invalid(hk_metrics_t *self, int route, const char *reason);
void hk_metrics_forwarded(hk_metrics_t *self, int route, uint64_t n);
void hk_metrics_ack(hk_metrics_t *self, hk_ack_kind_t kind);
void hk_metrics_route_ack(hk_metrics_t *self, int route, hk_ack_kind_t kind);
void hk_metrics_unavailable(hk_metrics_t *self, hk_unavail_kind_t why);
void hk_metrics_reconnect(hk_metrics_t *self);

/* Gauges, set by the link's thread. */
void hk_metrics_set_in_flight(hk_metrics_t *self, int64_t n, int64_t limit);
void hk_metrics_set_broker_up(hk_metrics_t *self, int up);

/* The ack class of an InboundAck.result. */
hk_ack_kind_t hk_metrics_ack_of(const char *result);

/* The exposition in Prometheus text format 0.0.4. You own the string (free()); NULL when out
 * of memory; *len gets its length. */
char *hk_metrics_render(hk_metrics_t *self, size_t *len);

#endif
