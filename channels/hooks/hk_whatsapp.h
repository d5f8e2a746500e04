/* hk_whatsapp.h — the WhatsApp Cloud API module of pregon-hooks ("whatsapp").
 *
 *   GET  /whatsapp/webhook   the subscription check: hub.mode=subscribe, hub.verify_token equal
 *                            to the configured verify token -> hub.challenge as the answer
 *                            (text/plain), no event; anything else 403 "bad-verify-token";
 *   POST /whatsapp/webhook   Meta's notifications, X-Hub-Signature-256 = sha256 HMAC of the raw
 *                            body with the app secret (403 "unsigned" without the header,
 *                            "no-secret" when none is configured, "forged" for a wrong one),
 *                            then {"object":"whatsapp_business_account","entry":[{"changes":
 *                            [{"field":"messages","value":{...}}]}]} (400 "not-whatsapp" /
 *                            "bad-json" otherwise). Per value (sender = metadata.phone_number_id):
 *     statuses[]  -> DELIVERY_STATUS: provider_id = id (the wamid the worker reported),
 *                    status = sent|delivered|read|failed (as Meta wrote it, a lower-case word),
 *                    contact = +recipient_id, at = timestamp, error_code = errors[0].code,
 *                    fallback_eligible for failed 131026, event_id = id ":" status, and
 *                    tenant, debtor_id, job_id from biz_opaque_callback_data "pg1 T D J"
 *                    (wa_cloud_job_ref);
 *     messages[]  -> a reply from contact = +from: text.body, button.text (payload when it
 *                    matches no keyword), interactive button/list titles, or "" for media
 *                    (status = the type then), classified by the catalog's keyword table
 *                    (hk_kwtable, keywords.file), then hk_keyword: OPT_OUT (baja, stop...),
 *                    OPT_IN, PAYMENT_CLAIMED (ya pagué, pago realizado...), WRONG_NUMBER (número
 *                    equivocado...) with keyword (and status) = the canonical keyword, else REPLY;
 *                    provider_id = event_id = the message id.
 *   Other fields and values without statuses or messages are answered 200 with no event.
 * Text that is not valid UTF-8 cannot reach here (jansson refuses such JSON: 400 "bad-json"). */
#ifndef HK_WHATSAPP_H
#define HK_WHATSAPP_H

#include "hk_kwtable.h"
#include "hk_module.h"

/* Fills *out with the module. app_secret and verify_token are copied (wiped at destroy); NULL or
 * "" refuses every POST, respectively every GET. Returns 0, or -1 when out of memory. */
int hk_whatsapp_init(hk_module_t *out, const char *app_secret, const char *verify_token);

/* Makes the module match replies against the catalog's keyword table first (borrowed: it must
 * outlive the module's server; NULL = hk_keyword's words only). Call before serving. */
void hk_whatsapp_set_keywords(hk_module_t *module, const hk_kwtable_t *keywords);

#endif
