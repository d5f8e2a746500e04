/* brk_template.h — the message template catalog: load, admission check, render.
 *
 * A catalog is loaded once from YAML (deploy/templates.yaml is the shipped example; the format is
 * described in brk_template.c's opening comment) and is immutable afterwards: any number of
 * threads may read it. At admission pregond looks a job's template up and checks it against the
 * job's channel and variables (brk_tpl_check), so a missing variable is a REJECTED verdict, never
 * a failure at send time; at dispatch it renders the body (brk_tpl_render).
 *
 * Placeholders are {{name}}, name being 1..64 of [A-Za-z0-9_]. "{{" always opens a placeholder
 * and "}}" always closes one: there is no escape for a literal "{{". Values are substituted
 * verbatim: the result is plain text, and each channel escapes it for its own format (TwiML XML
 * for voice, JSON for WhatsApp and Messenger, MIME for email). Nothing is HTML-escaped: an HTML
 * email body would need that first. Channels are numbered as pregon.proto's Channel enum. */
#ifndef BRK_TEMPLATE_H
#define BRK_TEMPLATE_H

#include <stddef.h>

typedef struct brk_tpl_catalog brk_tpl_catalog_t;
typedef struct brk_tpl brk_tpl_t;

#define BRK_TPL_MAX_VARS 64 /* distinct variables of one template (body and subject) */

/* Limits of a rendered body, per channel of the template (all of them apply: one body serves every
 * channel the template lists). Characters are Unicode code points. */
#define BRK_TPL_SMS_MAX_CHARS       1600 /* Twilio Messages Body */
#define BRK_TPL_WHATSAPP_MAX_CHARS  4096 /* Cloud API text body */
#define BRK_TPL_MESSENGER_MAX_CHARS 2000 /* Send API message.text */
#define BRK_TPL_VOICE_MAX_BYTES     4096 /* text spoken by <Say> */
#define BRK_TPL_EMAIL_MAX_BYTES     4096
#define BRK_TPL_SUBJECT_MAX_BYTES   998 /* one RFC 5322 header line */

/* Results of brk_tpl_check; brk_tpl_reason() gives each one's stable verdict reason code. */
typedef enum {
    BRK_TPL_OK = 0,
    BRK_TPL_E_UNKNOWN = -1,   /* "template-unknown": no such template (tpl was NULL) */
    BRK_TPL_E_CHANNEL = -2,   /* "template-channel": the template does not serve the channel */
    BRK_TPL_E_VARIABLES = -3, /* "template-variables": a variable the template uses is missing */
} brk_tpl_rc_t;

/* Loads a catalog from a YAML file. Returns NULL on failure with one line
 * "PATH:LINE:COLUMN: message" (or "PATH: message" when no position applies) in err, which may be
 * NULL. The caller owns the result: free it with brk_tpl_destroy. */
brk_tpl_catalog_t *brk_tpl_load(const char *path, char *err, size_t err_len);

/* Frees a catalog and every template in it; NULL-safe; nulls the caller's pointer. Templates
 * obtained from it are invalid afterwards. */
void brk_tpl_destroy(brk_tpl_catalog_t **self_p);

/* The template with this id, or NULL (also for a NULL catalog or id). The pointer is borrowed
 * from the catalog and valid until it is destroyed. */
const brk_tpl_t *brk_tpl_get(const brk_tpl_catalog_t *self, const char *id);

/* Number of templates and the i-th of them in id order (NULL when i is out of range). */
size_t brk_tpl_count(const brk_tpl_catalog_t *self);
const brk_tpl_t *brk_tpl_at(const brk_tpl_catalog_t *self, size_t i);

/* Admission check of a job: may `tpl` be sent on `channel` with these variable names (n_keys of
 * them; keys may be NULL when n_keys is 0)? Extra variables are fine. Returns BRK_TPL_OK or a
 * negative brk_tpl_rc_t; tpl may be NULL (BRK_TPL_E_UNKNOWN), so
 * brk_tpl_check(brk_tpl_get(cat, id), ...) is a complete check. On BRK_TPL_E_VARIABLES *missing
 * (if missing is not NULL) is the first missing name in brk_tpl_vars order, borrowed from the
 * template; otherwise it is set to NULL. */
int brk_tpl_check(const brk_tpl_t *tpl, int channel, const char *const *keys, size_t n_keys,
                  const char **missing);

/* The stable reason code of a brk_tpl_check result: "template-unknown", "template-channel",
 * "template-variables"; NULL for BRK_TPL_OK. */
const char *brk_tpl_reason(int rc);

/* Renders the body with the values of n variables (parallel arrays; the first of duplicate keys
 * wins). On success returns 0 and *out is a malloc'd NUL-terminated string the caller frees. On
 * failure returns -1, *out is NULL and *err (if err is not NULL) a stable reason code:
 *   "template-unknown"   tpl is NULL
 *   "template-variables" a variable the body uses has no value (brk_tpl_check would have said)
 *   "template-too-long"  the result is past the limit of one of the template's channels, or
 *                        past BRK_LIM_BODY_BYTES (brk_limits.h: what a Dispatch has room
 *                        for; checked before anything is allocated)
 *   "out-of-memory" */
int brk_tpl_render(const brk_tpl_t *tpl, const char *const *keys, const char *const *values,
                   size_t n, char **out, const char **err);

/* Renders the email subject, as brk_tpl_render does the body. Further reasons:
 *   "template-no-subject" the template has none (it does not serve email)
 *   "template-subject"    a value put a control character (a line break: header injection)
 *                         into the subject
 *   "template-too-long"   past BRK_TPL_SUBJECT_MAX_BYTES */
int brk_tpl_render_subject(const brk_tpl_t *tpl, const char *const *keys, const char *const *values,
                           size_t n, char **out, const char **err);

/* --- accessors (tpl must not be NULL; strings are borrowed from the catalog) --- */

const char *brk_tpl_id(const brk_tpl_t *tpl);
/* The catalog's `language` tag (e.g. "es", "es-MX"), or NULL if the entry has none. */
const char *brk_tpl_language(const brk_tpl_t *tpl);
/* 1 if the template serves this channel, else 0. */
int brk_tpl_has_channel(const brk_tpl_t *tpl, int channel);
/* 1 if the template has an email subject (exactly when it serves email), else 0. */
int brk_tpl_has_subject(const brk_tpl_t *tpl);
/* The provider-approved WhatsApp template's name and language code, or NULL when the entry names
 * none (the WhatsApp worker then can only send the rendered body as free text, which the Cloud
 * API accepts only inside a 24 h service window). */
const char *brk_tpl_whatsapp_name(const brk_tpl_t *tpl);
const char *brk_tpl_whatsapp_language(const brk_tpl_t *tpl);

/* The variables the template uses: the body's in order of first appearance, then those that only
 * the subject uses. Returns their number; *names (if not NULL) gets the borrowed array. */
size_t brk_tpl_vars(const brk_tpl_t *tpl, const char *const **names);

/* The WhatsApp template's body parameters {{1}}, {{2}}...: the body's variables in order of first
 * appearance (a prefix of brk_tpl_vars). Returns their number; *names as brk_tpl_vars. */
size_t brk_tpl_whatsapp_params(const brk_tpl_t *tpl, const char *const **names);

#endif
