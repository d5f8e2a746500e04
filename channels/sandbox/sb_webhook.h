/* sb_webhook.h — delivers simulated provider callbacks (status webhooks) over HTTP.
 *
 * A bounded queue served by one background thread that drives libcurl's multi interface, so
 * many callbacks are in flight at once over kept-alive connections. Request handlers only
 * enqueue: a full queue drops the callback (counted) instead of blocking. Failures (transport
 * errors, non-2xx answers) are counted, in all and per kind ("twilio-sms/status",
 * "twilio-sms/inbound"...), never retried: a module that simulates a provider's retries posts
 * again itself. Thread-safe. */
#ifndef SB_WEBHOOK_H
#define SB_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_webhook sb_webhook_t;

typedef struct {
    unsigned queue_max;    /* callbacks waiting (not yet due or not yet started), >= 1 */
    unsigned max_inflight; /* concurrent transfers, >= 1 */
    unsigned timeout_ms;   /* per transfer, connect included */
} sb_webhook_config_t;

/* Counters since start. */
typedef struct {
    uint64_t queued;  /* accepted by sb_webhook_post */
    uint64_t dropped; /* refused because the queue was full, or abandoned at stop */
    uint64_t sent;    /* answered 2xx */
    uint64_t failed;  /* transport error or non-2xx answer */
    uint64_t pending; /* waiting or in flight now */
} sb_webhook_stats_t;

/* Kinds counted apart, at most; posts of further kinds count in the totals only. */
#define SB_WEBHOOK_MAX_KINDS 16

/* Counters of one kind. */
typedef struct {
    const char *kind; /* as given to sb_webhook_post (static string) */
    uint64_t queued;
    uint64_t dropped;
    uint64_t sent;
    uint64_t failed;
} sb_webhook_kind_stats_t;

/* Starts the sender thread. Returns NULL on invalid config, out of memory, or when libcurl or
 * the thread cannot start. curl_global_init() must have been called by the process. */
sb_webhook_t *sb_webhook_new(const sb_webhook_config_t *cfg);

/* Stops (abandoning what is pending) and frees; accepts NULL and nulls the caller's pointer. */
void sb_webhook_destroy(sb_webhook_t **self_p);

/* Queues a POST of body (content_type) to url, due delay_ms from now, with one optional extra
 * header line (e.g. "X-Twilio-Signature: ..."), may be NULL. kind (a static string, may be
 * NULL) names what it is for the counters. Everything else is copied. Returns 0, or -1 when the
 * queue is full, the sender is stopped or memory runs out (counted as dropped). */
int sb_webhook_post(sb_webhook_t *self, unsigned delay_ms, const char *url,
                    const char *content_type, const char *body, const char *header,
                    const char *kind);

/* Copies the counters into *out. */
void sb_webhook_stats(sb_webhook_t *self, sb_webhook_stats_t *out);

/* Copies the counters of up to max kinds, in the order they were first posted, into out;
 * returns how many kinds there are. */
size_t sb_webhook_kind_stats(sb_webhook_t *self, sb_webhook_kind_stats_t *out, size_t max);

#endif
