/* brk_template.h — the message template catalog: load, admission check, render.
 *
 * A catalog is loaded once from YAML (deploy/templates.yaml is the shipped example; the format is
 * described in brk_template.c's opening comment and in the README) and is immutable afterwards:
 * any number of threads may read it. At admission pregond looks a job's template up, checks it
 * against the job's channel and variables (brk_tpl_check) and renders it once
 * (brk_tpl_render_content), so a missing variable or a value that makes a text too long is a
 * REJECTED verdict, never a failure at send time; at dispatch it renders the job's content for
 * its channel again, into the Dispatch's typed Content (pregon.proto).
 *
 * Placeholders are {{name}}, name being 1..64 of [A-Za-z0-9_]. "{{" always opens a placeholder
 * and "}}" always closes one: there is no escape for a literal "{{". Values are substituted
 * verbatim into every text but the e-mail HTML, where they are HTML-escaped: the result is
 * plain text, and each channel escapes it for its own format (TwiML XML for voice, JSON for
 * WhatsApp and Messenger, MIME for email). Channels are numbered as pregon.proto's Channel enum.
 */
#ifndef BRK_TEMPLATE_H
#define BRK_TEMPLATE_H

#include <stddef.h>

#include "brk_limits.h"
#include "pregon.pb-c.h"

typedef struct brk_tpl_catalog brk_tpl_catalog_t;
typedef struct brk_tpl brk_tpl_t;

#define BRK_TPL_MAX_VARS 64 /* distinct variables of one template, all its texts together */

/* Each channel's own limits of what it sends (its provider's; all apply to the fixed text of
 * the body at load, since one body serves every channel a template lists, and those of the job's
 * channel to what is rendered for it). Characters are Unicode code points. The byte bounds of
 * every rendered field, which the renderer also enforces, are brk_limits.h's. */
#define BRK_TPL_SMS_MAX_CHARS       1600 /* Twilio Messages Body */
#define BRK_TPL_WHATSAPP_MAX_CHARS  4096 /* Cloud API text body (free-form and WhatsApp text) */
#define BRK_TPL_MESSENGER_MAX_CHARS 2000 /* Send API message.text */
#define BRK_TPL_VOICE_MAX_BYTES     BRK_LIM_SPEECH_BYTES     /* text spoken by <Say> */
#define BRK_TPL_EMAIL_MAX_BYTES     BRK_LIM_EMAIL_TEXT_BYTES /* the text/plain part */
#define BRK_TPL_SUBJECT_MAX_BYTES   BRK_LIM_SUBJECT_BYTES    /* one RFC 5322 header line */
#define BRK_TPL_HTML_MAX_BYTES      BRK_LIM_HTML_BYTES       /* the text/html part */
/* WhatsApp template parameters (Meta's template components reference: a text header of at most
 * 60 characters with one parameter; a body parameter's text 1,024 characters when the message
 * has other components, 32,768 when the body is alone: the smaller is kept; a URL button's URL
 * at most 2,000 characters, unverified in the stored docs). */
#define BRK_TPL_WA_BODY_PARAM_CHARS   1024 /* a body parameter's text */
#define BRK_TPL_WA_HEADER_PARAM_CHARS 60   /* a text header, its parameter included */
#define BRK_TPL_WA_BUTTON_PARAM_CHARS 2000 /* a URL button's URL, its parameter included */
#define BRK_TPL_WA_PARAM_MAX_SPACES   4    /* consecutive spaces a parameter may hold */
#define BRK_TPL_SAY_MAX_BYTES         BRK_LIM_SAY_BYTES       /* a digit's "say" */
#define BRK_TPL_VOICEMAIL_MAX_BYTES   BRK_LIM_VOICEMAIL_BYTES /* what a machine hears */
#define BRK_TPL_GATHER_MAX_S          60                      /* gather_timeout_s: 1..60 */

/* Results of brk_tpl_check; brk_tpl_reason() gives each one's stable verdict reason code. */
typedef enum {
    BRK_TPL_OK = 0,
    BRK_TPL_E_UNKNOWN = -1,   /* "template-unknown": no such template (tpl was NULL) */
    BRK_TPL_E_CHANNEL = -2,   /* "template-channel": the template does not serve the channel */
    BRK_TPL_E_VARIABLES = -3, /* "template-variables": a variable the content uses is missing */
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
 * them; keys may be NULL when n_keys is 0)? The variables checked are those the content for
 * this channel uses (the body always; the subject and HTML for email; the WhatsApp parameters;
 * the voice script's "say" texts and voicemail), so a variable only the e-mail HTML uses is not
 * asked of an SMS job. Extra variables are fine. Returns BRK_TPL_OK or a negative brk_tpl_rc_t;
 * tpl may be NULL (BRK_TPL_E_UNKNOWN), so brk_tpl_check(brk_tpl_get(cat, id), ...) is a
 * complete check. On BRK_TPL_E_VARIABLES *missing (if missing is not NULL) is the first missing
 * name in brk_tpl_vars order, borrowed from the template; otherwise it is set to NULL. */
int brk_tpl_check(const brk_tpl_t *tpl, int channel, const char *const *keys, size_t n_keys,
                  const char **missing);

/* The stable reason code of a brk_tpl_check result: "template-unknown", "template-channel",
 * "template-variables"; NULL for BRK_TPL_OK. */
const char *brk_tpl_reason(int rc);

/* Renders the content a job on `channel` sends, with the values of n variables (parallel
 * arrays; the first of duplicate keys wins; either may be NULL when n is 0):
 *   sms, messenger       Content.text {text = body}
 *   whatsapp             Content.whatsapp {name, language, body/header/button parameters,
 *                        text = body} when the entry names an approved template, else
 *                        Content.text {text = body} (free-form, inside the 24 h window only)
 *   email                Content.email {subject, text = body, html ("" without one)}
 *   voice                Content.voice {speech = body, voice, language, digits (in the
 *                        catalog's order, each one's "say" rendered), voicemail, gather_timeout_s}
 * Values are inserted verbatim, except into the e-mail HTML where & < > " ' become entities.
 * On success returns 0 and *out is a Content the caller owns: free it with
 * brk_tpl_content_free (one allocation holds all of it; it borrows nothing, so it may outlive
 * the catalog; never pass it to pregon__content__free_unpacked). On failure returns -1, *out is
 * NULL and *why (if why is not NULL) one of these stable reason codes (at most BRK_LIM_REASON
 * bytes), checked before anything is allocated where they concern sizes:
 *   "template-unknown"            tpl is NULL
 *   "template-channel"            the template does not serve the channel
 *   "template-variables"          a variable the content uses has no value (brk_tpl_check
 *                                 would have said)
 *   "template-too-long"           the text (body, e-mail text, speech) is past the channel's
 *                                 limit (BRK_TPL_*_MAX_*) or BRK_LIM_BODY_BYTES
 *   "template-subject-too-long"   the subject is past BRK_TPL_SUBJECT_MAX_BYTES
 *   "template-subject"            a value put a control character (a line break: header
 *                                 injection) into the subject
 *   "template-html-too-long"      the HTML, values escaped, is past BRK_TPL_HTML_MAX_BYTES
 *   "template-param-too-long"     a WhatsApp parameter is past its limit (body 1024, header 60,
 *                                 button 2000 code points)
 *   "template-param-invalid"      a WhatsApp parameter is empty or holds a line break, a tab or
 *                                 more than 4 consecutive spaces (the Cloud API refuses them)
 *   "template-say-too-long"       a digit's "say" is past BRK_TPL_SAY_MAX_BYTES
 *   "template-voicemail-too-long" the voicemail text is past BRK_TPL_VOICEMAIL_MAX_BYTES
 *   "out-of-memory" */
int brk_tpl_render_content(const brk_tpl_t *tpl, int channel, const char *const *keys,
                           const char *const *values, size_t n, Pregon__Content **out,
                           const char **why);

/* Frees a Content from brk_tpl_render_content; NULL-safe; nulls the caller's pointer. */
void brk_tpl_content_free(Pregon__Content **content_p);

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

/* The variables the template uses, whatever the channel: the body's in order of first
 * appearance, then those that only other texts use, in the order the catalog writes them
 * (subject, html, WhatsApp parameters, digits' "say", voicemail). Returns their number; *names (if
 * not NULL) gets the borrowed array. */
size_t brk_tpl_vars(const brk_tpl_t *tpl, const char *const **names);

/* The TTS voice of a voice template (e.g. "Polly.Mia"), or NULL when the entry names none. */
const char *brk_tpl_voice(const brk_tpl_t *tpl);

/* How variable `name` is read aloud by a voice template (its say_as entry): a brk_say_t of
 * brk_speech.h (BRK_SAY_TEXT = 0 when the template says nothing about it). */
int brk_tpl_say_as(const brk_tpl_t *tpl, const char *name);

/* A voice template's retry rule for unanswered calls (brk_retry.h): how many more calls (0 =
 * none) and the least gap in seconds (default 7200). */
unsigned brk_tpl_retries(const brk_tpl_t *tpl);
unsigned brk_tpl_retry_gap_s(const brk_tpl_t *tpl);

#endif
