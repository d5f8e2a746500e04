/* sb_whatsapp.h — simulated WhatsApp Cloud API (Graph API messages endpoint), "whatsapp".
 *
 *   POST /{version}/{phone-number-id}/messages   Bearer token, JSON (template or text message)
 *
 * Checks like Meta: the token (401, code 190), the phone number id (--wa-phone-number-id; none
 * configured = any), the body (code 100), the template against the configured list
 * (--wa-templates: unknown name or language 132001, wrong number of body parameters 132000),
 * free-form text outside the recipient's 24-hour window when --wa-enforce-window is on (131047;
 * the window opens with the inbound messages the sandbox itself posts), the pair rate (two
 * accepted messages from one number to one user within --wa-pair-interval-ms: 131056) and the
 * throughput per phone number id (more than --wa-throughput accepted in one second: 130429).
 * Accepted: 200 {"messaging_product","contacts":[{input,wa_id}],"messages":[{id:"wamid.."}]},
 * then (sb_whatsapp_hooks.c) signed status webhooks (X-Hub-Signature-256 with --wa-app-secret)
 * to --wa-webhook-url: sent, delivered, read after --wa-callback-delay-ms each, or sent then
 * failed with errors[] for a number the outcome script names (e.g. 131026); and the reply
 * script's inbound messages (text, or a button reply for a body "button:TEXT"). Synchronous
 * scripted errors for one recipient are the common fault script's (POST /_sandbox/script with
 * "provider":"whatsapp", "to":"+E164", "error_code":131026). The store records `to` as +E164,
 * `account` and `from` as the phone number id, `body` as the text or "template:NAME".
 * Control routes, JSON in and out (400 {"status","error"} on bad input):
 *   GET|POST /_sandbox/whatsapp/config     {"webhook_url","callback_delay_ms","read",
 *                                           "throughput","pair_interval_ms","enforce_window"}
 *   GET|POST|DELETE /_sandbox/whatsapp/replies    the reply script (sb_replies.h)
 *   GET|POST|DELETE /_sandbox/whatsapp/outcomes   [{"number","status":"failed","error_code",
 *                                                  "times"}]: final statuses by recipient
 *   GET|POST /_sandbox/whatsapp/templates  [{"name","language","body_params"}]: replaces the list
 *   POST /_sandbox/whatsapp/inbound        {"from","body"[,"phone_number_id","context_id"]}
 *   POST /_sandbox/whatsapp/forge          {"url"?,"kind":"status"|"inbound",...}: signed with
 *                                          a wrong secret
 * Thread-safe (MHD threads call everything at once). */
#ifndef SB_WHATSAPP_H
#define SB_WHATSAPP_H

#include "sb_module.h"

/* The sandbox module "whatsapp". */
extern const sb_module_t sb_whatsapp_module;

#endif
