/* hk_event.h — one inbound event as a provider module produces it, before pregon-hooks gives
 * it a seq and sends it to pregond as an InboundEvent (proto/pregon.proto).
 *
 * The fields mirror InboundEvent's; the strings are owned by the event (malloc'd, NULL = unset)
 * and freed by hk_event_release(). A module fills events through hk_result_add_event()
 * (hk_module.h); only hk_link reads them, to pack the wire message. Not thread-safe: one event
 * belongs to one request, then to the link. */
#ifndef HK_EVENT_H
#define HK_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int kind;    /* Pregon__InboundEvent__Kind: DELIVERY_STATUS, REPLY, OPT_OUT, ... */
    int channel; /* Pregon__Channel */
    int64_t at;  /* ms since the epoch as the provider stamped it, 0 = unknown */
    char *tenant;
    char *debtor_id;
    char *job_id;
    char *contact;     /* the debtor's contact point */
    char *provider_id; /* the provider's message / call id */
    char *status;
    char *text;
    char *digits;
    char *event_id; /* stable across the provider's retries */
    char *provider; /* the module: "twilio-sms" */
    char *error_code;
    char *sender;          /* our number, page or address */
    char *keyword;         /* the keyword-table entry a reply matched */
    char *campaign;        /* when the provider echoes it */
    char *template_id;     /* the template a status is about, when known */
    int fallback_eligible; /* a failed delivery the job's fallback channels may take over */
} hk_event_t;

/* Replaces *field with a copy of value (NULL: unset). Returns 0, or -1 when out of memory
 * (then *field is unset). */
int hk_event_set(char **field, const char *value);

/* Replaces *field with a copy of the len bytes at value, NUL-terminated (values may hold NUL
 * bytes; the copy ends at the first). Returns 0, or -1 when out of memory. */
int hk_event_setn(char **field, const char *value, size_t len);

/* Frees the strings of ev and zeroes it; accepts NULL. */
void hk_event_release(hk_event_t *ev);

#endif
