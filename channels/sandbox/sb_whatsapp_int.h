/* sb_whatsapp_int.h — the "whatsapp" module's state, shared by sb_whatsapp.c (the messages
 * endpoint, settings, control routes) and sb_whatsapp_hooks.c (the webhooks it posts). Not a
 * public interface: only those two files include it. */
#ifndef SB_WHATSAPP_INT_H
#define SB_WHATSAPP_INT_H

#include "sb_module.h"
#include "sb_replies.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SB_WA_MAX_PHONES    16
#define SB_WA_MAX_TEMPLATES 256
#define SB_WA_MAX_OUTCOMES  1024

typedef struct {
    char name[128];
    char language[16];
    int body_params; /* -1 = not checked */
} sb_wa_template_t;

typedef struct {
    char number[24]; /* +E164 */
    char status[16]; /* "failed" */
    int error_code;
    unsigned times; /* 0 = every message */
} sb_wa_outcome_t;

/* A string -> int64 map (last accepted message per pair, last inbound per user, ...). */
typedef struct sb_wa_entry {
    struct sb_wa_entry *next;
    int64_t value, count;
    char key[];
} sb_wa_entry_t;

#define SB_WA_MAP_SIZE 4096

typedef struct sb_whatsapp {
    pthread_mutex_t lock; /* everything below but the constants */
    sb_provider_t provider;
    sb_webhook_t *hooks;
    sb_replies_t *replies;
    char token[256];
    char secret[256];
    char phones[SB_WA_MAX_PHONES][64];
    size_t n_phones;
    char *webhook_url;
    unsigned callback_delay_ms;
    bool read;
    double throughput;
    unsigned pair_interval_ms;
    bool enforce_window;
    sb_wa_template_t templates[SB_WA_MAX_TEMPLATES];
    size_t n_templates;
    bool check_templates;
    sb_wa_outcome_t outcomes[SB_WA_MAX_OUTCOMES];
    size_t n_outcomes;
    sb_wa_entry_t *pairs[SB_WA_MAP_SIZE];  /* "phone/+to" -> last accepted ms */
    sb_wa_entry_t *rates[SB_WA_MAP_SIZE];  /* phone -> second window start, count */
    sb_wa_entry_t *window[SB_WA_MAP_SIZE]; /* +from -> last inbound ms */
    uint64_t n_accepted, n_statuses, n_inbound, n_forged, n_no_url;
    uint64_t n_pair_refused, n_rate_refused, n_window_refused, n_template_refused;
} sb_whatsapp_t;

/* Map entry of key in table (created with value 0 when absent and create); NULL when absent
 * or out of memory. Under the lock. */
sb_wa_entry_t *sb_wa_map_get(sb_wa_entry_t **table, const char *key, bool create);
/* Frees every entry of table. */
void sb_wa_map_clear(sb_wa_entry_t **table);

/* A message just accepted (lock not held): schedules its statuses and the scripted reply. */
void sb_wa_hooks_message(sb_whatsapp_t *self, const char *wamid, const char *phone, const char *to,
                         const char *biz_opaque);

/* Posts one inbound message from `from` (+E164) to phone (NULL = the first configured, else
 * "sandbox-phone") now plus delay_ms, opening from's window. context_id may be NULL. Returns
 * 0, or -1 (no webhook URL, out of memory). *id_out (when not NULL) gets the message id. */
int sb_wa_hooks_inbound(sb_whatsapp_t *self, unsigned delay_ms, const char *from, const char *phone,
                        const char *body, const char *context_id, char id_out[64]);

/* Control routes of the webhooks: replies, outcomes, inbound, forge. Returns 0 or -1. */
int sb_wa_hooks_routes(sb_whatsapp_t *self, sb_server_t *server);

/* The webhook counters into o. */
void sb_wa_hooks_stats(sb_whatsapp_t *self, json_t *o);

#endif
