/* brk_template.c — loads the template catalog from YAML, checks jobs against it.
 *
 * It parses every text of a template once at load (brk_tpl_model.h), so a malformed placeholder
 * is a load error with its file position and rendering (brk_tpl_render.c) is a copy of
 * segments; the keys of each channel's content are brk_tpl_keys.c's. It knows nothing about
 * delivery: escaping for TwiML, JSON or MIME is the channel worker's. Catalog format
 * (deploy/templates.yaml; the README documents every key):
 *
 *   keywords: [{word: "ya cancelé", kind: payment-claimed}]  # optional: pregon-hooks' keyword
 *                                  # table (common/pg_kwtable.h), checked here
 *   templates:                     # required: a non-empty list of at most 1024 templates
 *     - id: recordatorio_pago      # required; [A-Za-z0-9._-], at most 63 bytes; unique
 *       channels: [sms, whatsapp]  # required: a channel (sms, whatsapp, voice, email,
 *                                  # messenger) or a non-empty list of them, none twice
 *       language: es               # optional tag for the text, [A-Za-z0-9_-], 2..35 bytes;
 *                                  # the voice script's language too
 *       body: "Hola {{nombre}}..." # required; at most 8192 bytes as written: the text of sms,
 *                                  # messenger and free-form whatsapp, the e-mail text part,
 *                                  # the speech of a call
 *     email (only when channels include email):
 *       subject: "Aviso — {{producto}}"  # required; no line breaks
 *       html: "<p>Hola {{nombre}}</p>"   # optional; values are HTML-escaped into it
 *     whatsapp (only when channels include whatsapp):
 *       whatsapp_template: recordatorio_pago  # optional: the approved template's name
 *                                  # ([a-z0-9_], at most 512 bytes)
 *       whatsapp_language: es_MX   # required with whatsapp_template, refused without it
 *       whatsapp_body_params: ["{{nombre}}", "{{monto}}"]  # optional, with whatsapp_template:
 *                                  # at most 32 texts; absent: the body's variables in order
 *       whatsapp_header_params: ["{{producto}}"]  # optional: at most 1
 *       whatsapp_button_params: ["{{token}}"]     # optional: at most 2, one per URL button
 *     voice (only when channels include voice):
 *       voice: Polly.Mia           # optional TTS voice, [A-Za-z0-9._-], at most 64 bytes
 *       digits:                    # optional: digit ("0".."9", "*", "#") -> what it does
 *         "1": {action: transfer, target: "+5716000000", say: "Le comunicamos..."}
 *         "9": {action: opt-out, say: "No volveremos a llamarle."}
 *                                  # action: transfer (needs target: E.164 or sip:/sips: URI),
 *                                  # repeat, promise, opt-out, hangup, wrong-number; say:
 *                                  # optional text; transfer only: caller_id (E.164, the
 *                                  # <Dial> callerId) and timeout_s (5..600, the queue's ring)
 *       voicemail: "..."           # optional: what an answering machine hears (no variable
 *                                  # said as an amount or a date: Reg F limited content)
 *       gather_timeout_s: 6        # optional: 1..60 seconds to wait for a digit
 *       goodbye: "..."             # optional: said when nothing was pressed, then hang up
 *       no_input_repeats: 1        # optional: 0..3 (default 1) repetitions without a digit
 *       say_as: {monto: amount, fecha: date, telefono: digits}  # optional: how variables are
 *                                  # read aloud in the call's TwiML (brk_speech.h)
 *       retries: 2                 # optional: 0..10 (default 0) calls again after a busy,
 *       retry_gap_s: 7200          # no-answer, failed or canceled one, each at least 60..604800
 *                                  # s later (default 7200), through admission (brk_retry.h)
 *
 * Placeholders: {{name}}, name 1..64 of [A-Za-z0-9_], no spaces inside the braces. "{{" that does
 * not open such a placeholder, and "}}" that does not close one, are errors. A template uses at
 * most 64 variables in all its texts. Texts may contain line breaks (the HTML tabs too) but no
 * other control character; the subject and WhatsApp parameters no line break either, and a
 * parameter no more than 4 consecutive spaces. The fixed text of every text (without its
 * variables) must already fit its limit (brk_template.h). Unknown keys, duplicate keys,
 * explicit YAML tags, values of the wrong YAML type, more than one document and files over
 * 1 MiB are errors, reported as one line "FILE:LINE:COLUMN: message". */
#include "brk_template.h"
#include "brk_limits.h"
#include "brk_tpl_keys.h"
#include "brk_tpl_model.h"
#include "pg_channel.h"
#include "pg_kwtable.h"
#include "pg_utf8.h"
#include "pg_yaml.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define S_MAX_FILE_BYTES  (1024 * 1024)
#define S_MAX_TEMPLATES   1024
#define S_ID_MAX          BRK_LIM_TEMPLATE_ID /* a job can name every template */
#define S_LANG_MIN        2
#define S_LANG_MAX        BRK_LIM_VOICE_LANGUAGE
#define S_VAR_NAME_MAX    BRK_LIM_VAR_KEY /* a job can give every variable */
#define S_BODY_SOURCE_MAX 8192
#define S_MSG_MAX         400

#define S_ALLOW_NL  BRK_TPL__ALLOW_NL
#define S_ALLOW_TAB BRK_TPL__ALLOW_TAB

/* Every channel's limit fits the renderer's byte bounds, which brk_limits.h proves dispatchable. */
_Static_assert(4 * BRK_TPL_SMS_MAX_CHARS <= BRK_LIM_BODY_BYTES &&
                   4 * BRK_TPL_WHATSAPP_MAX_CHARS <= BRK_LIM_BODY_BYTES &&
                   4 * BRK_TPL_MESSENGER_MAX_CHARS <= BRK_LIM_BODY_BYTES &&
                   BRK_TPL_VOICE_MAX_BYTES <= BRK_LIM_BODY_BYTES &&
                   BRK_TPL_EMAIL_MAX_BYTES <= BRK_LIM_BODY_BYTES &&
                   4 * BRK_TPL_WA_BODY_PARAM_CHARS <= BRK_LIM_WA_BODY_PARAM &&
                   4 * BRK_TPL_WA_HEADER_PARAM_CHARS <= BRK_LIM_WA_HEADER_PARAM &&
                   4 * BRK_TPL_WA_BUTTON_PARAM_CHARS <= BRK_LIM_WA_BUTTON_PARAM,
               "a channel's limit is past the renderer's bounds (brk_limits.h)");

const char *const brk_tpl__action_names[BRK_TPL_ACT_COUNT] = {"transfer", "repeat", "promise",
                                                              "opt-out",  "hangup", "wrong-number"};

/* ---------------------------------------------------------------------------------------------
 * Text helpers */

/* Code points of s[0..len) (libyaml has checked that it is UTF-8). */
static size_t s_chars(const char *s, size_t len) {
    return pg_utf8_count(s, len);
}

static int s_name_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

size_t brk_tpl__chars(const char *s, size_t len) {
    return s_chars(s, len);
}

/* 1 if s[0..len) holds a control character: C0 (except '\n' with S_ALLOW_NL and '\t' with
 * S_ALLOW_TAB in flags), DEL or C1 (U+0080..U+009F, encoded C2 80..C2 9F). */
static int s_has_control(const char *s, size_t len, unsigned flags) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] < 0x20 && !((flags & S_ALLOW_NL) && p[i] == '\n') &&
             !((flags & S_ALLOW_TAB) && p[i] == '\t')) ||
            p[i] == 0x7F || (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)) {
            return 1;
        }
    }
    return 0;
}

int brk_tpl__has_control(const char *s, size_t len, unsigned flags) {
    return s_has_control(s, len, flags);
}

/* ---------------------------------------------------------------------------------------------
 * Placeholder parsing */

/* Index of variable `name` (len bytes) in t->vars, adding it if new; -1 past BRK_TPL_MAX_VARS,
 * -2 out of memory. */
static int s_var_index(brk_tpl_t *t, const char *name, size_t len) {
    for (size_t i = 0; i < t->n_vars; i++) {
        if (strlen(t->vars[i]) == len && memcmp(t->vars[i], name, len) == 0) {
            return (int)i;
        }
    }
    if (t->n_vars == BRK_TPL_MAX_VARS) {
        return -1;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        return -2;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    t->vars[t->n_vars] = copy;
    return (int)t->n_vars++;
}

static int s_add_seg(brk_tpl_text_t *x, size_t *cap, size_t off, size_t len, int var) {
    if (var < 0 && len == 0) {
        return 0;
    }
    if (x->n_segs == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 8;
        brk_tpl_seg_t *grown = realloc(x->segs, grown_cap * sizeof *grown);
        if (!grown) {
            return -1;
        }
        x->segs = grown;
        *cap = grown_cap;
    }
    x->segs[x->n_segs++] = (brk_tpl_seg_t){.off = off, .len = len, .var = var};
    return 0;
}

/* Splits x->text into segments, registering its variables in t. On error returns -1 with a
 * message in msg and, in *bad_off, the offset in x->text of the '{' or '}' it is about. */
static int s_parse_text(brk_tpl_t *t, brk_tpl_text_t *x, size_t *bad_off, char *msg,
                        size_t msg_len) {
    const char *s = x->text;
    const size_t len = strlen(s);
    size_t cap = 0, lit = 0, i = 0;
    char q[64];
    while (i < len) {
        if (s[i] == '}' && s[i + 1] == '}') {
            *bad_off = i;
            snprintf(msg, msg_len, "\"}}\" without a matching \"{{\"");
            return -1;
        }
        if (!(s[i] == '{' && s[i + 1] == '{')) {
            i++;
            continue;
        }
        size_t name = i + 2, j = name;
        while (j < len && s_name_char((unsigned char)s[j])) {
            j++;
        }
        if (j == name || j - name > S_VAR_NAME_MAX || s[j] != '}' || s[j + 1] != '}') {
            const char *close = strstr(s + i + 2, "}}");
            const char *next = strstr(s + i + 2, "{{");
            *bad_off = i;
            if (!close || (next && next < close)) {
                snprintf(msg, msg_len, "unterminated placeholder \"%s\" (expected \"}}\")",
                         pg_yaml_quote_n(q, 24, s + i, len - i));
            } else {
                snprintf(msg, msg_len,
                         "malformed placeholder \"%s\": a variable name is 1 to %d letters, "
                         "digits or '_', without spaces",
                         pg_yaml_quote_n(q, sizeof q, s + i, (size_t)(close - (s + i)) + 2),
                         S_VAR_NAME_MAX);
            }
            return -1;
        }
        int v = s_var_index(t, s + name, j - name);
        if (v < 0) {
            *bad_off = i;
            snprintf(msg, msg_len, v == -1 ? "more than %d distinct variables" : "out of memory",
                     BRK_TPL_MAX_VARS);
            return -1;
        }
        if (s_add_seg(x, &cap, lit, i - lit, -1) != 0 || s_add_seg(x, &cap, 0, 0, v) != 0) {
            *bad_off = i;
            snprintf(msg, msg_len, "out of memory");
            return -1;
        }
        x->fixed_bytes += i - lit;
        x->fixed_chars += s_chars(s + lit, i - lit);
        i = lit = j + 2;
    }
    if (s_add_seg(x, &cap, lit, len - lit, -1) != 0) {
        *bad_off = lit;
        snprintf(msg, msg_len, "out of memory");
        return -1;
    }
    x->fixed_bytes += len - lit;
    x->fixed_chars += s_chars(s + lit, len - lit);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Positions (the file's state, errors and generic checks are pg_yaml.h's) */

/* Length of the line break at b[i..len) as libyaml counts them (CR LF, CR, LF, NEL, LS, PS), or
 * 0 if there is none. */
static size_t s_break_len(const unsigned char *b, size_t i, size_t len) {
    if (b[i] == '\r') {
        return (i + 1 < len && b[i + 1] == '\n') ? 2 : 1;
    }
    if (b[i] == '\n') {
        return 1;
    }
    if (b[i] == 0xC2 && i + 1 < len && b[i + 1] == 0x85) {
        return 2;
    }
    if (b[i] == 0xE2 && i + 2 < len && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9)) {
        return 3;
    }
    return 0;
}

/* Walks buf[0..len) from its start. With want_off == SIZE_MAX: returns the byte offset of the
 * 0-based (*line, *col) position (columns count characters, as libyaml's marks do), or SIZE_MAX.
 * Otherwise: stores the position of byte offset want_off in *line, *col and returns want_off. */
static size_t s_walk(const char *buf, size_t len, size_t want_off, size_t *line, size_t *col) {
    const unsigned char *b = (const unsigned char *)buf;
    size_t i = 0, l = 0, c = 0;
    if (len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
        i = 3; /* libyaml drops the BOM before counting */
    }
    while (i <= len) {
        if (want_off == SIZE_MAX ? (l == *line && c == *col) : i == want_off) {
            *line = l;
            *col = c;
            return i;
        }
        if (i == len) {
            break;
        }
        size_t br = s_break_len(b, i, len);
        if (br) {
            i += br;
            l++;
            c = 0;
            continue;
        }
        i++;
        while (i < len && (b[i] & 0xC0) == 0x80) {
            i++;
        }
        c++;
    }
    return SIZE_MAX;
}

/* 1-based position of byte `offset` for libyaml reader errors, counted as libyaml's marks are
 * (1:1 when the offset falls inside a character or line break). */
static void s_offset_pos(const char *buf, size_t len, size_t offset, size_t *line, size_t *col) {
    *line = 0;
    *col = 0;
    s_walk(buf, len, offset <= len ? offset : len, line, col);
    (*line)++;
    (*col)++;
}

/* How the catalog words and counts what pg_yaml reports: '' and "" are empty values too. */
static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 1,
    .string_noun = "a non-empty string",
    .offset_pos = s_offset_pos,
    .empty_msg = "empty catalog (expected a mapping with \"templates\")",
    .file_noun = "a catalog",
};

/* Reports an error about the '{' or '}' at offset `off` of scalar n's value. The value's braces
 * are matched one to one with those written between the node's marks; when escapes make that
 * impossible the error points at the scalar instead. */
static int s_fail_in_text(pg_yaml_t *ld, yaml_node_t *n, size_t off, const char *what,
                          const char *msg) {
    const char *v = (const char *)n->data.scalar.value;
    size_t k = 0, total = 0;
    for (size_t i = 0; i < n->data.scalar.length; i++) {
        if (v[i] == '{' || v[i] == '}') {
            k += i < off;
            total++;
        }
    }
    size_t l0 = n->start_mark.line, c0 = n->start_mark.column;
    size_t l1 = n->end_mark.line, c1 = n->end_mark.column;
    size_t from = s_walk(ld->buf, ld->len, SIZE_MAX, &l0, &c0);
    size_t to = s_walk(ld->buf, ld->len, SIZE_MAX, &l1, &c1);
    if (from != SIZE_MAX && to != SIZE_MAX && from <= to) {
        size_t seen = 0, at = SIZE_MAX;
        for (size_t i = from; i < to; i++) {
            if (ld->buf[i] == '{' || ld->buf[i] == '}') {
                if (seen == k) {
                    at = i;
                }
                seen++;
            }
        }
        size_t line, col;
        if (seen == total && at != SIZE_MAX && s_walk(ld->buf, ld->len, at, &line, &col) == at) {
            return pg_yaml_fail_at(ld, line, col, "%s: %s", what, msg);
        }
    }
    return pg_yaml_fail(ld, n, "%s: %s", what, msg);
}

/* ---------------------------------------------------------------------------------------------
 * Values */

/* A scalar of min..max bytes, all in `alphabet`; *out gets a malloc'd copy. */
int brk_tpl__word(pg_yaml_t *ld, yaml_node_t *n, const char *what, const char *alphabet,
                  const char *alphabet_name, size_t min, size_t max, char **out) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, what, &v) != 0) {
        return -1;
    }
    size_t len = strlen(v);
    if (len < min || len > max || strspn(v, alphabet) != len) {
        char q[48];
        return pg_yaml_fail(ld, n, "%s \"%s\" is not valid (%zu to %zu of %s)", what,
                            pg_yaml_quote(q, sizeof q, v), min, max, alphabet_name);
    }
    *out = strdup(v);
    return *out ? 0 : pg_yaml_fail(ld, n, "out of memory");
}

/* ---------------------------------------------------------------------------------------------
 * One template */

static const char *const s_tpl_keys[K_COUNT + 1] = {"id",
                                                    "channels",
                                                    "language",
                                                    "subject",
                                                    "body",
                                                    "html",
                                                    "whatsapp_template",
                                                    "whatsapp_language",
                                                    "whatsapp_body_params",
                                                    "whatsapp_header_params",
                                                    "whatsapp_button_params",
                                                    "voice",
                                                    "digits",
                                                    "voicemail",
                                                    "gather_timeout_s",
                                                    "goodbye",
                                                    "no_input_repeats",
                                                    "say_as",
                                                    "retries",
                                                    "retry_gap_s",
                                                    NULL};

static void s_text_free(brk_tpl_text_t *x) {
    free(x->text);
    free(x->segs);
    memset(x, 0, sizeof *x);
}

static void s_tpl_free(brk_tpl_t *t) {
    free(t->id);
    free(t->language);
    free(t->wa_name);
    free(t->wa_lang);
    free(t->voice);
    s_text_free(&t->body);
    s_text_free(&t->subject);
    s_text_free(&t->html);
    s_text_free(&t->voicemail);
    s_text_free(&t->goodbye);
    for (size_t i = 0; i < t->n_say_as; i++) {
        free(t->say_as[i].name);
    }
    for (size_t i = 0; i < t->n_wa_body; i++) {
        s_text_free(&t->wa_body[i]);
    }
    for (size_t i = 0; i < t->n_wa_header; i++) {
        s_text_free(&t->wa_header[i]);
    }
    for (size_t i = 0; i < t->n_wa_button; i++) {
        s_text_free(&t->wa_button[i]);
    }
    for (size_t i = 0; i < t->n_digits; i++) {
        free(t->digits[i].target);
        free(t->digits[i].caller_id);
        s_text_free(&t->digits[i].say);
    }
    for (size_t i = 0; i < t->n_vars; i++) {
        free(t->vars[i]);
    }
    memset(t, 0, sizeof *t);
}

static int s_channel(pg_yaml_t *ld, yaml_node_t *n, uint32_t *mask) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, "a channel", &v) != 0) {
        return -1;
    }
    pg_channel_t c = pg_channel_parse(v);
    if (c != PG_CH_NONE) {
        if (*mask & S_BIT(c)) {
            return pg_yaml_fail(ld, n, "channel \"%s\" is listed twice", v);
        }
        *mask |= S_BIT(c);
        return 0;
    }
    char q[48];
    return pg_yaml_fail(ld, n,
                        "unknown channel \"%s\" (expected sms, whatsapp, voice, email, messenger)",
                        pg_yaml_quote(q, sizeof q, v));
}

static int s_channels(pg_yaml_t *ld, yaml_node_t *n, uint32_t *mask) {
    *mask = 0;
    if (n->type == YAML_SCALAR_NODE) {
        return s_channel(ld, n, mask);
    }
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.start == n->data.sequence.items.top) {
        return pg_yaml_fail(
            ld, n, "channels must be a channel or a non-empty list of channels, found %s",
            n->type == YAML_SEQUENCE_NODE ? "an empty list" : pg_yaml_type_name(ld, n));
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *c = pg_yaml_node(ld, *it);
        if (!c || s_channel(ld, c, mask) != 0) {
            return c ? -1 : pg_yaml_fail(ld, n, "malformed list");
        }
    }
    return 0;
}

/* Parses a text scalar (body, subject, html, a parameter...) into x: at most max_bytes as
 * written, control characters as flags allow; its variables are marked as used by the content
 * of the channels in `channels`. */
int brk_tpl__text(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n, const char *what, unsigned flags,
                  size_t max_bytes, uint32_t channels, brk_tpl_text_t *x) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, what, &v) != 0) {
        return -1;
    }
    size_t len = strlen(v);
    if (len > max_bytes) {
        return pg_yaml_fail(ld, n, "%s is %zu bytes long (at most %zu)", what, len, max_bytes);
    }
    if (s_has_control(v, len, flags)) {
        return pg_yaml_fail(ld, n, "%s contains a control character%s", what,
                            (flags & S_ALLOW_TAB)  ? " other than a line break or a tab"
                            : (flags & S_ALLOW_NL) ? " other than a line break"
                                                   : "");
    }
    x->text = strdup(v);
    if (!x->text) {
        return pg_yaml_fail(ld, n, "out of memory");
    }
    char msg[S_MSG_MAX / 2];
    size_t off = 0;
    if (s_parse_text(t, x, &off, msg, sizeof msg) != 0) {
        return s_fail_in_text(ld, n, off, what, msg);
    }
    for (size_t i = 0; i < x->n_segs; i++) {
        if (x->segs[i].var >= 0) {
            t->var_channels[x->segs[i].var] |= channels;
        }
    }
    return 0;
}

/* The fixed text of x (without its variables) must fit max code points (chars) or bytes. */
int brk_tpl__fixed_limit(pg_yaml_t *ld, yaml_node_t *n, const char *what, const brk_tpl_text_t *x,
                         int chars, size_t max) {
    size_t have = chars ? x->fixed_chars : x->fixed_bytes;
    if (have > max) {
        return pg_yaml_fail(ld, n, "%s has %zu %s without its variables, past its limit of %zu",
                            what, have, chars ? "characters" : "bytes", max);
    }
    return 0;
}

/* The fixed text of the body must already fit each channel's limit. */
static int s_body_limits(pg_yaml_t *ld, const brk_tpl_t *t, yaml_node_t *n) {
    static const struct {
        int channel;
        const char *name;
        int chars; /* 1: code points, 0: bytes */
        size_t max;
    } limits[] = {{S_SMS, "SMS", 1, BRK_TPL_SMS_MAX_CHARS},
                  {S_WHATSAPP, "WhatsApp", 1, BRK_TPL_WHATSAPP_MAX_CHARS},
                  {S_MESSENGER, "Messenger", 1, BRK_TPL_MESSENGER_MAX_CHARS},
                  {S_VOICE, "voice", 0, BRK_TPL_VOICE_MAX_BYTES},
                  {S_EMAIL, "email", 0, BRK_TPL_EMAIL_MAX_BYTES}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        size_t have = limits[i].chars ? t->body.fixed_chars : t->body.fixed_bytes;
        if ((t->channels & S_BIT(limits[i].channel)) && have > limits[i].max) {
            return pg_yaml_fail(
                ld, n, "body has %zu %s without its variables, past the %s limit of %zu", have,
                limits[i].chars ? "characters" : "bytes", limits[i].name, limits[i].max);
        }
    }
    return 0;
}

/* A key only templates serving `channel` may have. */
int brk_tpl__only_for(pg_yaml_t *ld, const brk_tpl_t *t, const pg_yaml_slot_t *slot,
                      const char *key, int channel) {
    if (slot->key && !(t->channels & S_BIT(channel))) {
        return pg_yaml_fail(ld, slot->key, "\"%s\" is only for templates that serve %s", key,
                            pg_channel_name(channel));
    }
    return 0;
}

static int s_template(pg_yaml_t *ld, yaml_node_t *n, brk_tpl_t *t) {
    pg_yaml_slot_t s[K_COUNT];
    if (pg_yaml_fields(ld, n, "a template", s_tpl_keys, s) != 0) {
        return -1;
    }
    t->line = n->start_mark.line + 1;
    t->no_input_repeats = 1;
    if (pg_yaml_require(ld, n, &s[K_ID], "id", "a template") != 0 ||
        pg_yaml_require(ld, n, &s[K_CHANNELS], "channels", "a template") != 0 ||
        pg_yaml_require(ld, n, &s[K_BODY], "body", "a template") != 0) {
        return -1;
    }
    if (brk_tpl__word(ld, s[K_ID].val, "template id",
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
                      "letters, digits, '.', '_', '-'", 1, S_ID_MAX, &t->id) != 0 ||
        s_channels(ld, s[K_CHANNELS].val, &t->channels) != 0) {
        return -1;
    }
    if (s[K_LANGUAGE].val &&
        brk_tpl__word(ld, s[K_LANGUAGE].val, "language",
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                      "letters, digits, '_', '-'", S_LANG_MIN, S_LANG_MAX, &t->language) != 0) {
        return -1;
    }
    if (brk_tpl__text(ld, t, s[K_BODY].val, "body", S_ALLOW_NL, S_BODY_SOURCE_MAX, t->channels,
                      &t->body) != 0 ||
        s_body_limits(ld, t, s[K_BODY].val) != 0) {
        return -1;
    }
    const size_t n_body_vars = t->n_vars; /* the body's come first */
    return brk_tpl__email_keys(ld, n, t, s) != 0 ||
                   brk_tpl__whatsapp_keys(ld, t, s, n_body_vars) != 0 ||
                   brk_tpl__voice_keys(ld, t, s) != 0
               ? -1
               : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The file */

static int s_cmp_tpl(const void *a, const void *b) {
    return strcmp(((const brk_tpl_t *)a)->id, ((const brk_tpl_t *)b)->id);
}

static int s_document(pg_yaml_t *ld, yaml_node_t *root, brk_tpl_catalog_t *cat) {
    static const char *const keys[] = {"templates", "keywords", NULL};
    pg_yaml_slot_t s[2];
    if (pg_yaml_fields(ld, root, "the catalog", keys, s) != 0) {
        return -1;
    }
    if (s[1].val) { /* pregon-hooks' keyword table (pg_kwtable.h): checked here, used there */
        pg_kw_entry_t *kw = malloc(PG_KW_MAX * sizeof *kw);
        if (!kw) {
            return pg_yaml_fail(ld, s[1].val, "out of memory");
        }
        int n = pg_kwtable_parse(ld, s[1].val, kw, PG_KW_MAX);
        free(kw);
        if (n < 0) {
            return -1;
        }
    }
    if (pg_yaml_require(ld, root, &s[0], "templates", "the catalog") != 0) {
        return -1;
    }
    yaml_node_t *list = s[0].val;
    size_t n = 0;
    if (list->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    }
    if (list->type != YAML_SEQUENCE_NODE || n == 0) {
        return pg_yaml_fail(ld, list, "templates must be a non-empty list, found %s",
                            list->type == YAML_SEQUENCE_NODE ? "an empty list"
                                                             : pg_yaml_type_name(ld, list));
    }
    if (n > S_MAX_TEMPLATES) {
        return pg_yaml_fail(ld, list, "more than %d templates", S_MAX_TEMPLATES);
    }
    cat->tpls = calloc(n, sizeof *cat->tpls);
    if (!cat->tpls) {
        return pg_yaml_fail(ld, list, "out of memory");
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *item = pg_yaml_node(ld, *it);
        if (!item) {
            return pg_yaml_fail(ld, list, "malformed list");
        }
        brk_tpl_t *t = &cat->tpls[cat->n++]; /* counted now so that destroy frees a partial one */
        if (s_template(ld, item, t) != 0) {
            return -1;
        }
        for (size_t j = 0; j + 1 < cat->n; j++) {
            if (strcmp(cat->tpls[j].id, t->id) == 0) {
                char q[48];
                yaml_node_t *id = NULL;
                for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
                     p < item->data.mapping.pairs.top; p++) {
                    if (strcmp((const char *)pg_yaml_node(ld, p->key)->data.scalar.value, "id") ==
                        0) {
                        id = pg_yaml_node(ld, p->value);
                    }
                }
                return pg_yaml_fail(ld, id ? id : item,
                                    "duplicate template id \"%s\" (first at line %zu)",
                                    pg_yaml_quote(q, sizeof q, t->id), cat->tpls[j].line);
            }
        }
    }
    qsort(cat->tpls, cat->n, sizeof *cat->tpls, s_cmp_tpl);
    return 0;
}

/* Parses ld->buf as one YAML document into cat. */
static int s_parse(pg_yaml_t *ld, brk_tpl_catalog_t *cat) {
    const unsigned char *b = (const unsigned char *)ld->buf;
    if (ld->len >= 2 && ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE))) {
        pg_yaml_write_err(ld->err, ld->err_len, "%s:1:1: the catalog must be UTF-8, not UTF-16",
                          ld->path);
        return -1;
    }
    yaml_node_t *root = pg_yaml_load(ld);
    int rc = root ? s_document(ld, root, cat) : -1;
    pg_yaml_release(ld);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Public */

brk_tpl_catalog_t *brk_tpl_load(const char *path, char *err, size_t err_len) {
    pg_yaml_t ld = {.dialect = &s_dialect, .path = path, .err = err, .err_len = err_len};
    if (err && err_len > 0) {
        err[0] = '\0';
    }
    if (!path || !*path) {
        pg_yaml_write_err(err, err_len, "(no path): cannot open: no file name given");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, S_MAX_FILE_BYTES, &buf, &len);
    if (e != 0) {
        pg_yaml_write_err(err, err_len, "%s: cannot open: %s", path,
                          e == EFBIG ? "file larger than 1 MiB" : strerror(e));
        return NULL;
    }
    ld.buf = buf;
    ld.len = len;
    brk_tpl_catalog_t *cat = calloc(1, sizeof *cat);
    if (!cat) {
        pg_yaml_write_err(err, err_len, "%s: out of memory", path);
    } else if (s_parse(&ld, cat) != 0) {
        if (err && err_len > 0 && err[0] == '\0') {
            pg_yaml_write_err(err, err_len, "%s: invalid template catalog", path);
        }
        brk_tpl_destroy(&cat);
    }
    free(buf);
    return cat;
}

void brk_tpl_destroy(brk_tpl_catalog_t **self_p) {
    if (!self_p || !*self_p) {
        return;
    }
    brk_tpl_catalog_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        s_tpl_free(&self->tpls[i]);
    }
    free(self->tpls);
    free(self);
    *self_p = NULL;
}

const brk_tpl_t *brk_tpl_get(const brk_tpl_catalog_t *self, const char *id) {
    if (!self || !id) {
        return NULL;
    }
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, self->tpls[mid].id);
        if (c == 0) {
            return &self->tpls[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

size_t brk_tpl_count(const brk_tpl_catalog_t *self) {
    return self ? self->n : 0;
}

const brk_tpl_t *brk_tpl_at(const brk_tpl_catalog_t *self, size_t i) {
    return self && i < self->n ? &self->tpls[i] : NULL;
}

int brk_tpl_check(const brk_tpl_t *tpl, int channel, const char *const *keys, size_t n_keys,
                  const char **missing) {
    if (missing) {
        *missing = NULL;
    }
    if (!tpl) {
        return BRK_TPL_E_UNKNOWN;
    }
    if (!brk_tpl_has_channel(tpl, channel)) {
        return BRK_TPL_E_CHANNEL;
    }
    for (size_t v = 0; v < tpl->n_vars; v++) {
        if (!(tpl->var_channels[v] & S_BIT(channel))) {
            continue; /* another channel's content uses it */
        }
        size_t i = 0;
        while (i < n_keys && !(keys && keys[i] && strcmp(keys[i], tpl->vars[v]) == 0)) {
            i++;
        }
        if (i == n_keys) {
            if (missing) {
                *missing = tpl->vars[v];
            }
            return BRK_TPL_E_VARIABLES;
        }
    }
    return BRK_TPL_OK;
}

const char *brk_tpl_reason(int rc) {
    switch (rc) {
        case BRK_TPL_OK:
            return NULL;
        case BRK_TPL_E_CHANNEL:
            return "template-channel";
        case BRK_TPL_E_VARIABLES:
            return "template-variables";
        default:
            return "template-unknown";
    }
}

const char *brk_tpl_id(const brk_tpl_t *tpl) {
    return tpl->id;
}

const char *brk_tpl_language(const brk_tpl_t *tpl) {
    return tpl->language;
}

int brk_tpl_has_channel(const brk_tpl_t *tpl, int channel) {
    return channel > 0 && channel < S_CH_COUNT && (tpl->channels & S_BIT(channel)) != 0;
}

int brk_tpl_has_subject(const brk_tpl_t *tpl) {
    return tpl->subject.text != NULL;
}

const char *brk_tpl_whatsapp_name(const brk_tpl_t *tpl) {
    return tpl->wa_name;
}

const char *brk_tpl_whatsapp_language(const brk_tpl_t *tpl) {
    return tpl->wa_lang;
}

const char *brk_tpl_voice(const brk_tpl_t *tpl) {
    return tpl->voice;
}

unsigned brk_tpl_retries(const brk_tpl_t *tpl) {
    return tpl ? tpl->retries : 0;
}

unsigned brk_tpl_retry_gap_s(const brk_tpl_t *tpl) {
    return tpl ? tpl->retry_gap_s : 0;
}

int brk_tpl_say_as(const brk_tpl_t *tpl, const char *name) {
    for (size_t i = 0; tpl && name && i < tpl->n_say_as; i++) {
        if (!strcmp(tpl->say_as[i].name, name)) {
            return tpl->say_as[i].kind;
        }
    }
    return 0;
}

size_t brk_tpl_vars(const brk_tpl_t *tpl, const char *const **names) {
    if (names) {
        *names = (const char *const *)tpl->vars;
    }
    return tpl->n_vars;
}
