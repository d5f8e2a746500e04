/* api_events.h — pregond's events feed, kept for pregon-api's server-sent events.
 *
 * One thread holds a SUB socket on pregond's events XPUB (subscribed to everything: pregond
 * narrows that to the gateway key's tenants) and appends each event, as JSON, to a ring of the
 * last `capacity` events, each with a sequence number (the SSE id). An HTTP request reads the
 * events after a sequence number that its token may see; a reader that fell more than
 * `capacity` events behind is told how many it lost. The feed is lossy (pregond drops events
 * for a slow subscriber) and never the audit path.
 *
 * An event as JSON: {"seq", "topic" (TENANT 0x1F TYPE, as on the wire), and every field of
 * pregon.Event by its proto name, nested messages as objects, enums by name: type, tenant,
 * job_id, channel, at_ms, detail, verdict{...}, report{...}, inbound{...}}; fields at their
 * default are left out, as proto3 JSON does. */
#ifndef API_EVENTS_H
#define API_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pregon.pb-c.h"

typedef struct api_events api_events_t;

typedef struct {
    const char *endpoint; /* pregond's events feed; NULL or "": no feed */
    const char *key_file, *broker_key_file;
    size_t capacity; /* events kept */
} api_events_config_t;

/* Starts the subscriber thread. NULL with err. */
api_events_t *api_events_new(const api_events_config_t *cfg, char *err, size_t errlen);
void api_events_destroy(api_events_t **self_p);

/* The sequence number of the newest event (0 before the first). */
uint64_t api_events_head(api_events_t *self);

/* Appends to `out` (an array) the events after `since` that `allow(tenant, ctx)` accepts, at
 * most max; *next gets the `since` of the next call, *lost how many events after
 * `since` had already left the ring. Any thread. */
size_t api_events_read(api_events_t *self, uint64_t since, size_t max,
                       bool (*allow)(const char *tenant, void *ctx), void *ctx, json_t *out,
                       uint64_t *next, uint64_t *lost);

/* Every set field of a protobuf-c message as JSON (proto names, enums by name, 64-bit numbers
 * as JSON integers, bytes as their length). The caller owns the result. */
json_t *api_proto_json(const ProtobufCMessage *m);

#endif
