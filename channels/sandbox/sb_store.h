/* sb_store.h — thread-safe record of every provider request the sandbox received.
 *
 * Each record gets a sequence number (1, 2, ...; never reused, not even after a reset) so tests
 * can poll "everything since N". Capacity is bounded: past max_records the oldest record is
 * dropped and counted. Per-provider counts by status code survive drops (not resets). The store
 * copies what it is given; it never sees MHD connections. */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_store sb_store_t;

/* One request as the server saw it. Every string is borrowed for the duration of
 * sb_store_add() only and may be NULL. */
typedef struct {
    const char *provider;    /* "twilio-sms", ... */
    const char *method;      /* "POST" */
    const char *path;        /* request path without the query */
    const char *account;     /* provider account (AccountSid, phone number id, ...) */
    const char *to;          /* recipient as sent */
    const char *from;        /* sender as sent */
    const char *body;        /* message text */
    const char *sid;         /* id the sandbox assigned (SM...), NULL when refused */
    const char *params_json; /* all request parameters as compact JSON text */
    int status;              /* HTTP status answered; 0 = held without an answer ("timeout") */
    int error_code;          /* provider error code answered, 0 for none */
    int64_t arrival_ms;      /* wall-clock arrival, ms since the Unix epoch */
} sb_record_t;

/* Returns an empty store holding at most max_records (>= 1) records, or NULL when out of
 * memory or max_records is 0. */
sb_store_t *sb_store_new(size_t max_records);

/* Frees the store and its records; accepts NULL and nulls the caller's pointer. */
void sb_store_destroy(sb_store_t **self_p);

/* Copies rec into the store, dropping the oldest record when full. Returns the record's
 * sequence number, or 0 when out of memory (the record is then lost but still counted). */
uint64_t sb_store_add(sb_store_t *self, const sb_record_t *rec);

/* Records with sequence number > since, oldest first, at most limit of them, only those of
 * provider when provider is not NULL. Returns a new JSON array, NULL when out of memory. Each
 * element: {seq, time, arrival_ms, provider, method, path, account, to, from, body, sid, status,
 * error_code, params}. */
json_t *sb_store_query(sb_store_t *self, const char *provider, uint64_t since, size_t limit);

/* Counters as a new JSON object: {received, stored, dropped, last_seq, capacity,
 * providers: {name: {total, status: {"201": n, ...}}}}; status 0 appears as "timeout". */
json_t *sb_store_stats(sb_store_t *self);

/* Requests received of provider since the last reset (all providers when NULL); cheap. */
uint64_t sb_store_count(sb_store_t *self, const char *provider);

/* Forgets every record and every counter; sequence numbers keep growing. */
void sb_store_reset(sb_store_t *self);

#endif
