/* brk_tpl_render.c — renders a job's template into the typed Content of its Dispatch.
 *
 * One call per job and channel, on the dispatch hot path (and once at admission): the values
 * are looked up once, every field is measured against its byte bound before anything is
 * allocated, then the whole Content (its messages, pointer arrays and strings) is written into
 * one allocation, and the limits counted in code points are checked on the result. It parses
 * nothing: the loader (brk_template.c) made every text a list of segments. Values go in
 * verbatim, except into the e-mail HTML, where they are HTML-escaped. */
#include "brk_template.h"
#include "brk_tpl_model.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The values of the variables a channel's content uses, by variable index. */
typedef struct {
    const char *val[BRK_TPL_MAX_VARS];
    size_t len[BRK_TPL_MAX_VARS];
} s_vals_t;

/* The one allocation behind a Content: the messages first (content at offset 0, so that the
 * caller's pointer is the block's), then the strings. Only the union member of the content's
 * kind is allocated (s_build returns how much of the box it uses). */
typedef struct {
    Pregon__Content content;
    union {
        Pregon__TextContent text;
        Pregon__EmailContent email;
        struct {
            Pregon__WhatsAppTemplate msg;
            char *body[BRK_LIM_WA_BODY_PARAMS];
            char *header[BRK_LIM_WA_HEADER_PARAMS];
            char *button[BRK_LIM_WA_BUTTON_PARAMS];
        } wa;
        struct {
            Pregon__VoiceScript msg;
            Pregon__DigitAction act[BRK_LIM_DIGITS];
            Pregon__DigitAction *actp[BRK_LIM_DIGITS];
            Pregon__VoiceTransfer tr[BRK_LIM_DIGITS];
            Pregon__VoiceTransfer *trp[BRK_LIM_DIGITS];
        } voice;
    } u;
} s_box_t;

/* Where strings go. Measuring (at == NULL): only `used` grows and the first field past its
 * byte bound sets `why`. Writing: strings are copied to `at`, which advances, and the first
 * field past its limit in code points sets `why`. */
typedef struct {
    char *at;
    size_t used;
    const char *why;
} s_out_t;

/* A field's limits: bytes (checked while measuring), code points (0: none; checked while
 * writing), and the reason past either. */
typedef struct {
    size_t bytes;
    size_t chars;
    const char *why;
} s_lim_t;

/* Bytes that value s[0..len) takes in HTML once escaped. */
static size_t s_html_len(const char *s, size_t len) {
    size_t n = len;
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
            case '&':
                n += 4; /* &amp; */
                break;
            case '<':
            case '>':
                n += 3; /* &lt; &gt; */
                break;
            case '"':
                n += 5; /* &quot; */
                break;
            case '\'':
                n += 4; /* &#39; */
                break;
            default:
                break;
        }
    }
    return n;
}

static char *s_html_copy(char *dst, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        const char *e = NULL;
        switch (s[i]) {
            case '&':
                e = "&amp;";
                break;
            case '<':
                e = "&lt;";
                break;
            case '>':
                e = "&gt;";
                break;
            case '"':
                e = "&quot;";
                break;
            case '\'':
                e = "&#39;";
                break;
            default:
                *dst++ = s[i];
                continue;
        }
        size_t n = strlen(e);
        memcpy(dst, e, n);
        dst += n;
    }
    return dst;
}

/* Renders text x (values HTML-escaped when html): measures it against lim->bytes or writes it,
 * checking its code points against lim->chars, and returns it. A text of no more bytes than
 * that limit cannot have more code points, so only a longer one is counted (a typical SMS never
 * is). While measuring, or once o->why is set, returns "" and writes nothing. */
static char *s_put(s_out_t *o, const brk_tpl_text_t *x, const s_vals_t *v, int html,
                   const s_lim_t *lim) {
    if (o->why) {
        return (char *)"";
    }
    if (!o->at) {
        size_t total = 0;
        for (size_t i = 0; i < x->n_segs; i++) {
            const brk_tpl_seg_t *g = &x->segs[i];
            size_t add = g->var < 0 ? g->len
                         : html     ? s_html_len(v->val[g->var], v->len[g->var])
                                    : v->len[g->var];
            if (add > lim->bytes || total > lim->bytes - add) {
                o->why = lim->why; /* before allocating: bounded by the field's bound */
                return (char *)"";
            }
            total += add;
        }
        o->used += total + 1;
        return (char *)"";
    }
    char *start = o->at, *p = o->at;
    for (size_t i = 0; i < x->n_segs; i++) {
        const brk_tpl_seg_t *g = &x->segs[i];
        if (g->var < 0) {
            memcpy(p, x->text + g->off, g->len);
            p += g->len;
            continue;
        }
        if (html) {
            p = s_html_copy(p, v->val[g->var], v->len[g->var]);
        } else {
            memcpy(p, v->val[g->var], v->len[g->var]);
            p += v->len[g->var];
        }
    }
    size_t bytes = (size_t)(p - start);
    *p++ = '\0';
    o->at = p;
    if (lim->chars && bytes > lim->chars && brk_tpl__chars(start, bytes) > lim->chars) {
        o->why = lim->why;
    }
    return start;
}

/* A copy of catalog string s ("" for NULL, without using room). */
static char *s_put_str(s_out_t *o, const char *s) {
    if (!s || !*s || o->why) {
        return (char *)"";
    }
    size_t len = strlen(s) + 1;
    if (!o->at) {
        o->used += len;
        return (char *)"";
    }
    char *start = o->at;
    memcpy(start, s, len);
    o->at += len;
    return start;
}

/* Every field's limits (brk_limits.h's bytes, brk_template.h's code points). */
static const s_lim_t s_lim_sms = {BRK_LIM_BODY_BYTES, BRK_TPL_SMS_MAX_CHARS, "template-too-long"};
static const s_lim_t s_lim_messenger = {BRK_LIM_BODY_BYTES, BRK_TPL_MESSENGER_MAX_CHARS,
                                        "template-too-long"};
static const s_lim_t s_lim_wa_text = {BRK_LIM_BODY_BYTES, BRK_TPL_WHATSAPP_MAX_CHARS,
                                      "template-too-long"};
static const s_lim_t s_lim_subject = {BRK_TPL_SUBJECT_MAX_BYTES, 0, "template-subject-too-long"};
static const s_lim_t s_lim_email = {BRK_TPL_EMAIL_MAX_BYTES, 0, "template-too-long"};
static const s_lim_t s_lim_html = {BRK_TPL_HTML_MAX_BYTES, 0, "template-html-too-long"};
static const s_lim_t s_lim_wa_body = {BRK_LIM_WA_BODY_PARAM, BRK_TPL_WA_BODY_PARAM_CHARS,
                                      "template-param-too-long"};
static const s_lim_t s_lim_wa_header = {BRK_LIM_WA_HEADER_PARAM, BRK_TPL_WA_HEADER_PARAM_CHARS,
                                        "template-param-too-long"};
static const s_lim_t s_lim_wa_button = {BRK_LIM_WA_BUTTON_PARAM, BRK_TPL_WA_BUTTON_PARAM_CHARS,
                                        "template-param-too-long"};
static const s_lim_t s_lim_speech = {BRK_TPL_VOICE_MAX_BYTES, 0, "template-too-long"};
static const s_lim_t s_lim_say = {BRK_TPL_SAY_MAX_BYTES, 0, "template-say-too-long"};
static const s_lim_t s_lim_voicemail = {BRK_TPL_VOICEMAIL_MAX_BYTES, 0,
                                        "template-voicemail-too-long"};
static const s_lim_t s_lim_goodbye = {BRK_LIM_GOODBYE_BYTES, 0, "template-say-too-long"};

/* ---------------------------------------------------------------------------------------------
 * One builder per kind of content. Each fills box b (real or a probe while measuring) and
 * returns the bytes of the box it uses. */

static size_t s_build_text(const brk_tpl_t *t, const s_lim_t *lim, const s_vals_t *v, s_box_t *b,
                           s_out_t *o) {
    b->u.text = (Pregon__TextContent)PREGON__TEXT_CONTENT__INIT;
    b->u.text.text = s_put(o, &t->body, v, 0, lim);
    b->content.body_case = PREGON__CONTENT__BODY_TEXT;
    b->content.text = &b->u.text;
    return offsetof(s_box_t, u) + sizeof b->u.text;
}

static size_t s_build_email(const brk_tpl_t *t, const s_vals_t *v, s_box_t *b, s_out_t *o) {
    Pregon__EmailContent *e = &b->u.email;
    *e = (Pregon__EmailContent)PREGON__EMAIL_CONTENT__INIT;
    e->subject = s_put(o, &t->subject, v, 0, &s_lim_subject);
    e->text = s_put(o, &t->body, v, 0, &s_lim_email);
    if (t->html.text) {
        e->html = s_put(o, &t->html, v, 1, &s_lim_html);
    }
    b->content.body_case = PREGON__CONTENT__BODY_EMAIL;
    b->content.email = e;
    return offsetof(s_box_t, u) + sizeof b->u.email;
}

static size_t s_build_whatsapp(const brk_tpl_t *t, const s_vals_t *v, s_box_t *b, s_out_t *o) {
    Pregon__WhatsAppTemplate *w = &b->u.wa.msg;
    *w = (Pregon__WhatsAppTemplate)PREGON__WHATS_APP_TEMPLATE__INIT;
    w->name = s_put_str(o, t->wa_name);
    w->language = s_put_str(o, t->wa_lang);
    for (size_t i = 0; i < t->n_wa_body; i++) {
        b->u.wa.body[i] = s_put(o, &t->wa_body[i], v, 0, &s_lim_wa_body);
    }
    for (size_t i = 0; i < t->n_wa_header; i++) {
        b->u.wa.header[i] = s_put(o, &t->wa_header[i], v, 0, &s_lim_wa_header);
    }
    for (size_t i = 0; i < t->n_wa_button; i++) {
        b->u.wa.button[i] = s_put(o, &t->wa_button[i], v, 0, &s_lim_wa_button);
    }
    w->n_body_params = t->n_wa_body;
    w->body_params = b->u.wa.body;
    w->n_header_params = t->n_wa_header;
    w->header_params = b->u.wa.header;
    w->n_button_params = t->n_wa_button;
    w->button_params = b->u.wa.button;
    w->text = s_put(o, &t->body, v, 0, &s_lim_wa_text);
    b->content.body_case = PREGON__CONTENT__BODY_WHATSAPP;
    b->content.whatsapp = w;
    return offsetof(s_box_t, u) + sizeof b->u.wa;
}

static size_t s_build_voice(const brk_tpl_t *t, const s_vals_t *v, s_box_t *b, s_out_t *o) {
    Pregon__VoiceScript *s = &b->u.voice.msg;
    *s = (Pregon__VoiceScript)PREGON__VOICE_SCRIPT__INIT;
    s->speech = s_put(o, &t->body, v, 0, &s_lim_speech);
    s->voice = s_put_str(o, t->voice);
    s->language = s_put_str(o, t->language);
    for (size_t i = 0; i < t->n_digits; i++) {
        const brk_tpl_digit_t *d = &t->digits[i];
        Pregon__DigitAction *a = &b->u.voice.act[i];
        *a = (Pregon__DigitAction)PREGON__DIGIT_ACTION__INIT;
        a->digit = s_put_str(o, d->digit);
        a->action = (char *)brk_tpl__action_names[d->action]; /* static: never freed */
        a->target = s_put_str(o, d->target);
        if (d->say.text) {
            a->say = s_put(o, &d->say, v, 0, &s_lim_say);
        }
        b->u.voice.actp[i] = a;
    }
    s->n_digits = t->n_digits;
    s->digits = b->u.voice.actp;
    if (t->voicemail.text) {
        s->voicemail = s_put(o, &t->voicemail, v, 0, &s_lim_voicemail);
    }
    s->gather_timeout_s = t->gather_timeout_s;
    if (t->goodbye.text) {
        s->goodbye = s_put(o, &t->goodbye, v, 0, &s_lim_goodbye);
    }
    s->no_input_repeats = t->no_input_repeats;
    size_t n_tr = 0;
    for (size_t i = 0; i < t->n_digits; i++) {
        const brk_tpl_digit_t *d = &t->digits[i];
        if (d->action != BRK_TPL_ACT_TRANSFER || (!d->caller_id && !d->timeout_s)) {
            continue;
        }
        Pregon__VoiceTransfer *x = &b->u.voice.tr[n_tr];
        *x = (Pregon__VoiceTransfer)PREGON__VOICE_TRANSFER__INIT;
        x->digit = s_put_str(o, d->digit);
        x->caller_id = s_put_str(o, d->caller_id);
        x->timeout_s = d->timeout_s;
        b->u.voice.trp[n_tr++] = x;
    }
    s->n_transfers = n_tr;
    s->transfers = b->u.voice.trp;
    b->content.body_case = PREGON__CONTENT__BODY_VOICE;
    b->content.voice = s;
    return offsetof(s_box_t, u) + sizeof b->u.voice;
}

static size_t s_build(const brk_tpl_t *t, int channel, const s_vals_t *v, s_box_t *b, s_out_t *o) {
    b->content = (Pregon__Content)PREGON__CONTENT__INIT;
    switch (channel) {
        case S_EMAIL:
            return s_build_email(t, v, b, o);
        case S_WHATSAPP:
            return t->wa_name ? s_build_whatsapp(t, v, b, o)
                              : s_build_text(t, &s_lim_wa_text, v, b, o);
        case S_VOICE:
            return s_build_voice(t, v, b, o);
        case S_MESSENGER:
            return s_build_text(t, &s_lim_messenger, v, b, o);
        default: /* sms */
            return s_build_text(t, &s_lim_sms, v, b, o);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Checks of the written content that sizes cannot make: control characters and spaces. */

/* A WhatsApp parameter: not empty, one line, at most 4 consecutive spaces. */
static const char *s_param_check(const char *p) {
    size_t len = strlen(p), run = 0;
    if (len == 0) {
        return "template-param-invalid";
    }
    for (size_t i = 0; i < len; i++) {
        run = p[i] == ' ' ? run + 1 : 0;
        if (run > BRK_TPL_WA_PARAM_MAX_SPACES) {
            return "template-param-invalid";
        }
    }
    return brk_tpl__has_control(p, len, 0) ? "template-param-invalid" : NULL;
}

static const char *s_check(const Pregon__Content *c) {
    const char *why = NULL;
    if (c->body_case == PREGON__CONTENT__BODY_EMAIL) {
        const char *s = c->email->subject;
        return brk_tpl__has_control(s, strlen(s), 0) ? "template-subject" : NULL;
    }
    if (c->body_case == PREGON__CONTENT__BODY_WHATSAPP) {
        const Pregon__WhatsAppTemplate *w = c->whatsapp;
        for (size_t i = 0; !why && i < w->n_body_params; i++) {
            why = s_param_check(w->body_params[i]);
        }
        for (size_t i = 0; !why && i < w->n_header_params; i++) {
            why = s_param_check(w->header_params[i]);
        }
        for (size_t i = 0; !why && i < w->n_button_params; i++) {
            why = s_param_check(w->button_params[i]);
        }
    }
    return why; /* text and voice: sizes said it all */
}

/* ---------------------------------------------------------------------------------------------
 * Public */

int brk_tpl_render_content(const brk_tpl_t *tpl, int channel, const char *const *keys,
                           const char *const *values, size_t n, Pregon__Content **out,
                           const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    *out = NULL;
    if (!tpl) {
        *why = "template-unknown";
        return -1;
    }
    if (!brk_tpl_has_channel(tpl, channel)) {
        *why = "template-channel";
        return -1;
    }
    s_vals_t v;
    const uint32_t bit = S_BIT(channel);
    for (size_t k = 0; k < tpl->n_vars; k++) {
        v.val[k] = NULL;
        v.len[k] = 0;
        for (size_t i = 0; (tpl->var_channels[k] & bit) && i < n && keys && values; i++) {
            if (keys[i] && values[i] && strcmp(keys[i], tpl->vars[k]) == 0) {
                v.val[k] = values[i];
                v.len[k] = strlen(values[i]);
                break;
            }
        }
        if ((tpl->var_channels[k] & bit) && !v.val[k]) {
            *why = "template-variables";
            return -1;
        }
    }
    s_box_t probe; /* the measuring pass builds its messages here and throws them away */
    s_out_t o = {0};
    size_t box = s_build(tpl, channel, &v, &probe, &o);
    if (o.why) {
        *why = o.why;
        return -1;
    }
    char *mem = malloc(box + o.used);
    if (!mem) {
        *why = "out-of-memory";
        return -1;
    }
    s_box_t *b = (s_box_t *)(void *)mem;
    s_out_t w = {.at = mem + box};
    s_build(tpl, channel, &v, b, &w);
    if ((*why = w.why ? w.why : s_check(&b->content)) != NULL) {
        free(mem);
        return -1;
    }
    *out = &b->content;
    return 0;
}

void brk_tpl_content_free(Pregon__Content **content_p) {
    if (!content_p || !*content_p) {
        return;
    }
    free(*content_p); /* the box's first member: the block itself */
    *content_p = NULL;
}
