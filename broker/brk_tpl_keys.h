/* brk_tpl_keys.h — what the catalog loader's two files share: the keys of a catalog entry, the
 * loader's value helpers (brk_template.c) and the parsers of each channel's keys
 * (brk_tpl_keys.c: email, WhatsApp, voice). Private to those two files. Every function reports
 * its error through pg_yaml (one "FILE:LINE:COLUMN: message" line) and returns 0 or -1. */
#ifndef BRK_TPL_KEYS_H
#define BRK_TPL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "brk_tpl_model.h"
#include "pg_yaml.h"

/* The keys of an entry, as pg_yaml_fields' slots (brk_template.c's s_tpl_keys names them). */
enum {
    K_ID,
    K_CHANNELS,
    K_LANGUAGE,
    K_SUBJECT,
    K_BODY,
    K_HTML,
    K_WA_NAME,
    K_WA_LANG,
    K_WA_BODY,
    K_WA_HEADER,
    K_WA_BUTTON,
    K_VOICE,
    K_DIGITS,
    K_VOICEMAIL,
    K_GATHER,
    K_GOODBYE,
    K_NO_INPUT,
    K_SAY_AS,
    K_RETRIES,
    K_RETRY_GAP,
    K_COUNT
};

/* --- brk_template.c ---------------------------------------------------------------------- */

/* Parses text scalar n (what: its name in messages) into x: at most max_bytes as written, no
 * control character but those flags allow (BRK_TPL__ALLOW_*); its variables are registered in
 * t and marked as used by the content of the channels in the `channels` bit mask. */
int brk_tpl__text(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n, const char *what, unsigned flags,
                  size_t max_bytes, uint32_t channels, brk_tpl_text_t *x);

/* The fixed text of x (without its variables) must fit max code points (chars) or bytes. */
int brk_tpl__fixed_limit(pg_yaml_t *ld, yaml_node_t *n, const char *what, const brk_tpl_text_t *x,
                         int chars, size_t max);

/* A scalar of min..max bytes, all in `alphabet`; *out gets a malloc'd copy. */
int brk_tpl__word(pg_yaml_t *ld, yaml_node_t *n, const char *what, const char *alphabet,
                  const char *alphabet_name, size_t min, size_t max, char **out);

/* Refuses slot's key when t does not serve `channel`. */
int brk_tpl__only_for(pg_yaml_t *ld, const brk_tpl_t *t, const pg_yaml_slot_t *slot,
                      const char *key, int channel);

/* --- brk_tpl_keys.c: each channel's keys, from entry n's slots s, once t's channels and body
 * are parsed ------------------------------------------------------------------------------ */

/* subject (required with email) and html. */
int brk_tpl__email_keys(pg_yaml_t *ld, yaml_node_t *n, brk_tpl_t *t, pg_yaml_slot_t *s);

/* whatsapp_template, whatsapp_language and the parameter lists; the first n_body_vars of t's
 * variables are the body's (the default body parameters). */
int brk_tpl__whatsapp_keys(pg_yaml_t *ld, brk_tpl_t *t, pg_yaml_slot_t *s, size_t n_body_vars);

/* voice, digits, voicemail, gather_timeout_s. */
int brk_tpl__voice_keys(pg_yaml_t *ld, brk_tpl_t *t, pg_yaml_slot_t *s);

#endif
