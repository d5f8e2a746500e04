/* brk_tpl_keys.c — the keys of each channel's content in a catalog entry: the e-mail subject and
 * HTML, the WhatsApp template and its parameters, the voice script's voice, digit map,
 * voicemail and gather timeout.
 *
 * Called by the loader (brk_template.c) for every entry once its channels and body are parsed;
 * what each key takes is brk_template.c's opening comment and the README's "Template catalog".
 * It only checks and stores: rendering is brk_tpl_render.c's. */
#include "brk_tpl_keys.h"
#include "brk_limits.h"
#include "brk_template.h"
#include "brk_speech.h"
#include "brk_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WA_NAME_MAX     BRK_LIM_WA_NAME
#define S_WA_LANG_MAX     BRK_LIM_WA_LANGUAGE
#define S_VOICE_MAX       BRK_LIM_VOICE_NAME
#define S_HTML_SOURCE_MAX BRK_TPL_HTML_MAX_BYTES
#define S_PART_SOURCE_MAX 8192 /* a parameter, a say, the voicemail, as written */
#define S_ALLOW_NL        BRK_TPL__ALLOW_NL
#define S_ALLOW_TAB       BRK_TPL__ALLOW_TAB

/* ---------------------------------------------------------------------------------------------
 * E-mail */

int brk_tpl__email_keys(pg_yaml_t *ld, yaml_node_t *n, brk_tpl_t *t, pg_yaml_slot_t *s) {
    if (brk_tpl__only_for(ld, t, &s[K_SUBJECT], "subject", S_EMAIL) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_HTML], "html", S_EMAIL) != 0) {
        return -1;
    }
    if (!(t->channels & S_BIT(S_EMAIL))) {
        return 0;
    }
    if (!s[K_SUBJECT].val) {
        return pg_yaml_fail(ld, n, "template \"%s\" serves email but has no \"subject\"", t->id);
    }
    if (brk_tpl__text(ld, t, s[K_SUBJECT].val, "subject", 0, BRK_TPL_SUBJECT_MAX_BYTES,
                      S_BIT(S_EMAIL), &t->subject) != 0) {
        return -1;
    }
    if (s[K_HTML].val && (brk_tpl__text(ld, t, s[K_HTML].val, "html", S_ALLOW_NL | S_ALLOW_TAB,
                                        S_HTML_SOURCE_MAX, S_BIT(S_EMAIL), &t->html) != 0 ||
                          brk_tpl__fixed_limit(ld, s[K_HTML].val, "html", &t->html, 0,
                                               BRK_TPL_HTML_MAX_BYTES) != 0)) {
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * WhatsApp */

/* One WhatsApp parameter: one line, at most 4 consecutive spaces, its fixed text within
 * max_chars. */
static int s_param(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n, const char *what, size_t max_chars,
                   brk_tpl_text_t *x) {
    if (brk_tpl__text(ld, t, n, what, 0, S_PART_SOURCE_MAX, S_BIT(S_WHATSAPP), x) != 0 ||
        brk_tpl__fixed_limit(ld, n, what, x, 1, max_chars) != 0) {
        return -1;
    }
    char spaces[BRK_TPL_WA_PARAM_MAX_SPACES + 2];
    memset(spaces, ' ', sizeof spaces - 1);
    spaces[sizeof spaces - 1] = '\0';
    if (strstr(x->text, spaces)) {
        return pg_yaml_fail(ld, n, "%s has more than %d consecutive spaces (WhatsApp refuses it)",
                            what, BRK_TPL_WA_PARAM_MAX_SPACES);
    }
    return 0;
}

/* A list of at most max_n WhatsApp parameters into out[], *n_out. */
static int s_params(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n, const char *what, size_t max_n,
                    size_t max_chars, brk_tpl_text_t *out, size_t *n_out) {
    if (pg_yaml_expect(ld, n, YAML_SEQUENCE_NODE, what) != 0) {
        return -1;
    }
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > max_n) {
        return pg_yaml_fail(ld, n, "%s has %zu entries (at most %zu)", what, count, max_n);
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *p = pg_yaml_node(ld, *it);
        if (!p) {
            return pg_yaml_fail(ld, n, "malformed list");
        }
        if (s_param(ld, t, p, what, max_chars, &out[*n_out]) != 0) {
            (*n_out)++; /* counted so that its text is freed */
            return -1;
        }
        (*n_out)++;
    }
    return 0;
}

/* Without whatsapp_body_params the body's variables are the body parameters, in order. */
static int s_default_body_params(pg_yaml_t *ld, yaml_node_t *n, brk_tpl_t *t, size_t n_body_vars) {
    if (n_body_vars > BRK_LIM_WA_BODY_PARAMS) {
        return pg_yaml_fail(ld, n,
                            "the body has %zu variables, more than the %d WhatsApp body "
                            "parameters: list them in \"whatsapp_body_params\"",
                            n_body_vars, BRK_LIM_WA_BODY_PARAMS);
    }
    for (size_t v = 0; v < n_body_vars; v++) {
        brk_tpl_text_t *x = &t->wa_body[t->n_wa_body++];
        size_t len = strlen(t->vars[v]);
        x->text = malloc(len + 5);
        x->segs = malloc(sizeof *x->segs);
        if (!x->text || !x->segs) {
            return pg_yaml_fail(ld, n, "out of memory");
        }
        snprintf(x->text, len + 5, "{{%s}}", t->vars[v]);
        x->segs[0] = (brk_tpl_seg_t){.off = 0, .len = 0, .var = (int)v};
        x->n_segs = 1;
    }
    return 0;
}

int brk_tpl__whatsapp_keys(pg_yaml_t *ld, brk_tpl_t *t, pg_yaml_slot_t *s, size_t n_body_vars) {
    static const struct {
        int key;
        const char *name;
    } wa_keys[] = {{K_WA_NAME, "whatsapp_template"},
                   {K_WA_LANG, "whatsapp_language"},
                   {K_WA_BODY, "whatsapp_body_params"},
                   {K_WA_HEADER, "whatsapp_header_params"},
                   {K_WA_BUTTON, "whatsapp_button_params"}};
    for (size_t i = 0; i < sizeof wa_keys / sizeof wa_keys[0]; i++) {
        if (brk_tpl__only_for(ld, t, &s[wa_keys[i].key], wa_keys[i].name, S_WHATSAPP) != 0) {
            return -1;
        }
        if (i > 0 && s[wa_keys[i].key].key && !s[K_WA_NAME].val) {
            return pg_yaml_fail(ld, s[wa_keys[i].key].key,
                                "\"%s\" is only for entries with \"whatsapp_template\"",
                                wa_keys[i].name);
        }
    }
    if (!s[K_WA_NAME].val) {
        return 0;
    }
    if (!s[K_WA_LANG].val) {
        return pg_yaml_fail(ld, s[K_WA_NAME].key,
                            "\"whatsapp_template\" needs \"whatsapp_language\" (e.g. es_MX)");
    }
    if (brk_tpl__word(ld, s[K_WA_NAME].val, "whatsapp_template",
                      "abcdefghijklmnopqrstuvwxyz0123456789_", "lowercase letters, digits, '_'", 1,
                      S_WA_NAME_MAX, &t->wa_name) != 0 ||
        brk_tpl__word(ld, s[K_WA_LANG].val, "whatsapp_language",
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_", "letters, '_'", 2,
                      S_WA_LANG_MAX, &t->wa_lang) != 0) {
        return -1;
    }
    if (s[K_WA_BODY].val
            ? s_params(ld, t, s[K_WA_BODY].val, "whatsapp_body_params", BRK_LIM_WA_BODY_PARAMS,
                       BRK_TPL_WA_BODY_PARAM_CHARS, t->wa_body, &t->n_wa_body)
            : s_default_body_params(ld, s[K_WA_NAME].key, t, n_body_vars)) {
        return -1;
    }
    if (s[K_WA_HEADER].val &&
        s_params(ld, t, s[K_WA_HEADER].val, "whatsapp_header_params", BRK_LIM_WA_HEADER_PARAMS,
                 BRK_TPL_WA_HEADER_PARAM_CHARS, t->wa_header, &t->n_wa_header) != 0) {
        return -1;
    }
    if (s[K_WA_BUTTON].val &&
        s_params(ld, t, s[K_WA_BUTTON].val, "whatsapp_button_params", BRK_LIM_WA_BUTTON_PARAMS,
                 BRK_TPL_WA_BUTTON_PARAM_CHARS, t->wa_button, &t->n_wa_button) != 0) {
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Voice */

/* A transfer target: E.164 (brk_validate.h's form) or a sip:/sips: URI of printable ASCII
 * without spaces, quotes or angle brackets. */
static int s_target(pg_yaml_t *ld, yaml_node_t *n, char **out) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, "target", &v) != 0) {
        return -1;
    }
    size_t len = strlen(v), skip = 0;
    int ok = 0;
    if (v[0] == '+') {
        ok = brk_val_contact(S_VOICE, v) == NULL;
    } else if ((strncmp(v, "sip:", 4) == 0 && (skip = 4)) ||
               (strncmp(v, "sips:", 5) == 0 && (skip = 5))) {
        ok = len > skip && len <= BRK_LIM_DIGIT_TARGET;
        for (size_t i = skip; ok && i < len; i++) {
            unsigned char c = (unsigned char)v[i];
            ok = c > 0x20 && c < 0x7F && c != '"' && c != '<' && c != '>';
        }
    }
    if (!ok) {
        char q[48];
        return pg_yaml_fail(ld, n,
                            "target \"%s\" is neither an E.164 number (+ and 8 to 15 digits) nor "
                            "a sip: or sips: URI of at most %d bytes",
                            pg_yaml_quote(q, sizeof q, v), BRK_LIM_DIGIT_TARGET);
    }
    *out = strdup(v);
    return *out ? 0 : pg_yaml_fail(ld, n, "out of memory");
}

/* A number of seconds min..max, decimal digits. */
static int s_seconds(pg_yaml_t *ld, yaml_node_t *n, const char *what, unsigned min, unsigned max,
                     uint32_t *out) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, what, &v) != 0) {
        return -1;
    }
    size_t len = strlen(v);
    unsigned long x = len <= 5 && strspn(v, "0123456789") == len ? strtoul(v, NULL, 10) : 0;
    if (len == 0 || x < min || x > max) {
        char q[48];
        return pg_yaml_fail(ld, n, "%s \"%s\" is not a number %u to %u", what,
                            pg_yaml_quote(q, sizeof q, v), min, max);
    }
    *out = (uint32_t)x;
    return 0;
}

/* say_as: {variable: amount|date|digits|text}, at most BRK_LIM_SAY_AS entries. */
static int s_say_as(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n) {
    if (pg_yaml_expect(ld, n, YAML_MAPPING_NODE, "say_as") != 0) {
        return -1;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *key = pg_yaml_node(ld, p->key), *val = pg_yaml_node(ld, p->value);
        const char *k = NULL, *v = NULL;
        if (!key || !val || pg_yaml_text(ld, key, "a say_as variable", &k) != 0 ||
            pg_yaml_text(ld, val, "a say_as kind", &v) != 0) {
            return -1;
        }
        int kind = brk_speech_kind(v);
        if (kind < 0) {
            char q[48];
            return pg_yaml_fail(ld, val, "say_as \"%s\" is not amount, date, digits or text",
                                pg_yaml_quote(q, sizeof q, v));
        }
        if (t->n_say_as == BRK_LIM_SAY_AS) {
            return pg_yaml_fail(ld, key, "more than %d say_as entries", BRK_LIM_SAY_AS);
        }
        for (size_t i = 0; i < t->n_say_as; i++) {
            if (!strcmp(t->say_as[i].name, k)) {
                return pg_yaml_fail(ld, key, "say_as lists \"%s\" twice", k);
            }
        }
        if (!(t->say_as[t->n_say_as].name = strdup(k))) {
            return pg_yaml_fail(ld, key, "out of memory");
        }
        t->say_as[t->n_say_as++].kind = kind;
    }
    return 0;
}

/* Reg F's limited-content voicemail: no variable read as an amount or a date (a debt detail). */
static int s_voicemail_limited(pg_yaml_t *ld, const brk_tpl_t *t, yaml_node_t *n) {
    for (size_t i = 0; i < t->voicemail.n_segs; i++) {
        int var = t->voicemail.segs[i].var;
        if (var < 0) {
            continue;
        }
        for (size_t k = 0; k < t->n_say_as; k++) {
            if (!strcmp(t->say_as[k].name, t->vars[var]) &&
                (t->say_as[k].kind == BRK_SAY_AMOUNT || t->say_as[k].kind == BRK_SAY_DATE)) {
                return pg_yaml_fail(ld, n,
                                    "voicemail uses {{%s}}, an amount or a date: what a machine "
                                    "records must not mention the debt (Reg F limited content)",
                                    t->vars[var]);
            }
        }
    }
    return 0;
}

/* One entry of `digits`: key "1", value {action, target, say, caller_id, timeout_s}. */
static int s_digit(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *key, yaml_node_t *val,
                   brk_tpl_digit_t *d) {
    static const char *const keys[] = {"action", "target", "say", "caller_id", "timeout_s", NULL};
    const char *k = NULL;
    if (pg_yaml_text(ld, key, "a digit", &k) != 0) {
        return -1;
    }
    if (strlen(k) != 1 || !strchr("0123456789*#", k[0])) {
        char q[48];
        return pg_yaml_fail(ld, key,
                            "\"%s\" is not a digit (expected one of 0-9, \"*\", \"#\"; quote * and "
                            "#: unquoted, YAML reads an alias and a comment)",
                            pg_yaml_quote(q, sizeof q, k));
    }
    for (size_t i = 0; i < t->n_digits; i++) {
        if (t->digits[i].digit[0] == k[0]) {
            return pg_yaml_fail(ld, key, "digit \"%s\" is listed twice", k);
        }
    }
    d->digit[0] = k[0];
    pg_yaml_slot_t s[5];
    const char *a = NULL;
    if (pg_yaml_fields(ld, val, "a digit's action", keys, s) != 0 ||
        pg_yaml_require(ld, val, &s[0], "action", "a digit's action") != 0 ||
        pg_yaml_text(ld, s[0].val, "action", &a) != 0) {
        return -1;
    }
    int act = 0;
    while (act < BRK_TPL_ACT_COUNT && strcmp(a, brk_tpl__action_names[act]) != 0) {
        act++;
    }
    if (act == BRK_TPL_ACT_COUNT) {
        char q[48];
        return pg_yaml_fail(ld, s[0].val,
                            "unknown action \"%s\" (expected transfer, repeat, promise, opt-out, "
                            "hangup, wrong-number)",
                            pg_yaml_quote(q, sizeof q, a));
    }
    d->action = (brk_tpl_action_t)act;
    if (d->action == BRK_TPL_ACT_TRANSFER && !s[1].val) {
        return pg_yaml_fail(ld, val, "action transfer needs a \"target\" (E.164 or SIP URI)");
    }
    if (d->action != BRK_TPL_ACT_TRANSFER && s[1].key) {
        return pg_yaml_fail(ld, s[1].key, "\"target\" is only for action transfer");
    }
    if (s[1].val && s_target(ld, s[1].val, &d->target) != 0) {
        return -1;
    }
    if (d->action != BRK_TPL_ACT_TRANSFER && (s[3].key || s[4].key)) {
        return pg_yaml_fail(ld, s[3].key ? s[3].key : s[4].key,
                            "\"caller_id\" and \"timeout_s\" are only for action transfer");
    }
    if (s[3].val) {
        const char *v = NULL;
        if (pg_yaml_text(ld, s[3].val, "caller_id", &v) != 0) {
            return -1;
        }
        if (v[0] != '+' || brk_val_contact(S_VOICE, v) != NULL || strlen(v) > BRK_LIM_CALLER_ID) {
            return pg_yaml_fail(ld, s[3].val, "caller_id must be an E.164 number");
        }
        if (!(d->caller_id = strdup(v))) {
            return pg_yaml_fail(ld, s[3].val, "out of memory");
        }
    }
    if (s[4].val && s_seconds(ld, s[4].val, "timeout_s", 5, 600, &d->timeout_s) != 0) {
        return -1;
    }
    if (s[2].val &&
        (brk_tpl__text(ld, t, s[2].val, "say", S_ALLOW_NL, S_PART_SOURCE_MAX, S_BIT(S_VOICE),
                       &d->say) != 0 ||
         brk_tpl__fixed_limit(ld, s[2].val, "say", &d->say, 0, BRK_TPL_SAY_MAX_BYTES) != 0)) {
        return -1;
    }
    return 0;
}

static int s_digits(pg_yaml_t *ld, brk_tpl_t *t, yaml_node_t *n) {
    if (pg_yaml_expect(ld, n, YAML_MAPPING_NODE, "digits") != 0) {
        return -1;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *key = pg_yaml_node(ld, p->key), *val = pg_yaml_node(ld, p->value);
        if (!key || !val) {
            return pg_yaml_fail(ld, n, "malformed mapping");
        }
        /* at most 12 distinct digits: the check for a repeated one keeps this in bounds */
        brk_tpl_digit_t *d = &t->digits[t->n_digits];
        int rc = s_digit(ld, t, key, val, d);
        if (d->digit[0]) {
            t->n_digits++; /* counted so that destroy frees what it holds */
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

/* gather_timeout_s: 1..BRK_TPL_GATHER_MAX_S, decimal digits. */
static int s_gather(pg_yaml_t *ld, yaml_node_t *n, uint32_t *out) {
    const char *v = NULL;
    if (pg_yaml_text(ld, n, "gather_timeout_s", &v) != 0) {
        return -1;
    }
    size_t len = strlen(v);
    unsigned long sec = len <= 2 && strspn(v, "0123456789") == len ? strtoul(v, NULL, 10) : 0;
    if (sec < 1 || sec > BRK_TPL_GATHER_MAX_S) {
        char q[48];
        return pg_yaml_fail(ld, n, "gather_timeout_s \"%s\" is not a number of seconds 1 to %d",
                            pg_yaml_quote(q, sizeof q, v), BRK_TPL_GATHER_MAX_S);
    }
    *out = (uint32_t)sec;
    return 0;
}

int brk_tpl__voice_keys(pg_yaml_t *ld, brk_tpl_t *t, pg_yaml_slot_t *s) {
    if (brk_tpl__only_for(ld, t, &s[K_VOICE], "voice", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_DIGITS], "digits", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_VOICEMAIL], "voicemail", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_GATHER], "gather_timeout_s", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_GOODBYE], "goodbye", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_NO_INPUT], "no_input_repeats", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_SAY_AS], "say_as", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_RETRIES], "retries", S_VOICE) != 0 ||
        brk_tpl__only_for(ld, t, &s[K_RETRY_GAP], "retry_gap_s", S_VOICE) != 0) {
        return -1;
    }
    if (s[K_VOICE].val &&
        brk_tpl__word(ld, s[K_VOICE].val, "voice",
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
                      "letters, digits, '.', '_', '-'", 1, S_VOICE_MAX, &t->voice) != 0) {
        return -1;
    }
    if (s[K_DIGITS].val && s_digits(ld, t, s[K_DIGITS].val) != 0) {
        return -1;
    }
    if (s[K_VOICEMAIL].val &&
        (brk_tpl__text(ld, t, s[K_VOICEMAIL].val, "voicemail", S_ALLOW_NL, S_PART_SOURCE_MAX,
                       S_BIT(S_VOICE), &t->voicemail) != 0 ||
         brk_tpl__fixed_limit(ld, s[K_VOICEMAIL].val, "voicemail", &t->voicemail, 0,
                              BRK_TPL_VOICEMAIL_MAX_BYTES) != 0)) {
        return -1;
    }
    if (s[K_GATHER].val && s_gather(ld, s[K_GATHER].val, &t->gather_timeout_s) != 0) {
        return -1;
    }
    if (s[K_GOODBYE].val && (brk_tpl__text(ld, t, s[K_GOODBYE].val, "goodbye", S_ALLOW_NL,
                                           S_PART_SOURCE_MAX, S_BIT(S_VOICE), &t->goodbye) != 0 ||
                             brk_tpl__fixed_limit(ld, s[K_GOODBYE].val, "goodbye", &t->goodbye, 0,
                                                  BRK_LIM_GOODBYE_BYTES) != 0)) {
        return -1;
    }
    if (s[K_NO_INPUT].val &&
        s_seconds(ld, s[K_NO_INPUT].val, "no_input_repeats", 0, 3, &t->no_input_repeats) != 0) {
        return -1;
    }
    if (s[K_SAY_AS].val && s_say_as(ld, t, s[K_SAY_AS].val) != 0) {
        return -1;
    }
    t->retry_gap_s = 7200;
    if (s[K_RETRIES].val && s_seconds(ld, s[K_RETRIES].val, "retries", 0, 10, &t->retries) != 0) {
        return -1;
    }
    if (s[K_RETRY_GAP].val &&
        s_seconds(ld, s[K_RETRY_GAP].val, "retry_gap_s", 60, 604800, &t->retry_gap_s) != 0) {
        return -1;
    }
    if (s[K_VOICEMAIL].val && s_voicemail_limited(ld, t, s[K_VOICEMAIL].val) != 0) {
        return -1;
    }
    return 0;
}
