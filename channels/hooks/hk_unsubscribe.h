/* hk_unsubscribe.h — the e-mail one-click unsubscribe module of pregon-hooks ("email-unsubscribe").
 *
 *   POST /u/{token}   RFC 8058: the mailbox provider (or the page's button) posts the form
 *                     List-Unsubscribe=One-Click -> one OPT_OUT event on the e-mail channel
 *                     (tenant, contact and campaign from the token, event_id "unsub:" + the
 *                     token's MAC, so a repeated click is a duplicate), which pregond applies
 *                     to the token's tenant only (brk_inbound.h); answered with a short
 *                     confirmation page once pregond acknowledged it. A POST without that field
 *                     is 400 "missing-field".
 *   GET  /u/{token}   a small page in Spanish with a button that posts the same form: a link
 *                     scanner following the URL unsubscribes nobody.
 * A token whose HMAC does not verify (pg_unsub.h, the key shared with pregon-email) is refused
 * with 403 "forged" on both routes; nothing is forwarded. */
#ifndef HK_UNSUBSCRIBE_H
#define HK_UNSUBSCRIBE_H

#include <stddef.h>

#include "hk_module.h"

/* Fills *out with the module over a copy of key[0..key_len) (wiped by its destroy). Returns 0,
 * or -1 when out of memory or the key is empty. */
int hk_unsubscribe_init(hk_module_t *out, const void *key, size_t key_len);

#endif
