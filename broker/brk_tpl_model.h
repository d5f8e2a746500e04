/* brk_tpl_model.h — the parsed form of a template, shared by the catalog loader
 * (brk_template.c) and the renderer (brk_tpl_render.c); private to those two files.
 *
 * The loader parses every text of a template once into segments (fixed text, or a variable by
 * index) and owns everything here; the renderer only reads it. Nothing outside the two files
 * includes this header: brk_template.h's opaque types are the module's interface. */
#ifndef BRK_TPL_MODEL_H
#define BRK_TPL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "brk_template.h"
#include "pg_channel.h"

/* Channel numbers of pregon.proto. */
/* Channel numbers of pregon.proto (pg_channel.h). */
enum {
    S_SMS = PG_CH_SMS,
    S_WHATSAPP = PG_CH_WHATSAPP,
    S_VOICE = PG_CH_VOICE,
    S_EMAIL = PG_CH_EMAIL,
    S_MESSENGER = PG_CH_MESSENGER,
    S_CH_COUNT = PG_CH_COUNT
};
#define S_BIT(c) (1u << (unsigned)(c))

/* A piece of a parsed text: fixed text text[off..off+len), or variable `var` (index in vars). */
typedef struct {
    size_t off;
    size_t len;
    int var; /* -1: fixed text */
} brk_tpl_seg_t;

typedef struct {
    char *text; /* the text as written, NUL-terminated; NULL when absent */
    brk_tpl_seg_t *segs;
    size_t n_segs;
    size_t fixed_bytes; /* bytes and code points of the fixed text */
    size_t fixed_chars;
} brk_tpl_text_t;

/* What a digit does: pregon.proto's DigitAction.action values. */
typedef enum {
    BRK_TPL_ACT_TRANSFER,
    BRK_TPL_ACT_REPEAT,
    BRK_TPL_ACT_PROMISE,
    BRK_TPL_ACT_OPT_OUT,
    BRK_TPL_ACT_HANGUP,
    BRK_TPL_ACT_WRONG_NUMBER,
    BRK_TPL_ACT_COUNT
} brk_tpl_action_t;

typedef struct {
    char digit[2]; /* "0".."9", "*", "#" */
    brk_tpl_action_t action;
    char *target;       /* transfer: E.164 or SIP URI; otherwise NULL */
    brk_tpl_text_t say; /* text NULL: none */
    char *caller_id;    /* transfer: the <Dial> callerId (E.164); NULL = the call's own */
    uint32_t timeout_s; /* transfer: seconds the queue rings; 0 = Twilio's default */
} brk_tpl_digit_t;

/* How a variable is read aloud (say_as: {monto: amount}); brk_speech.h's kinds. */
typedef struct {
    char *name;
    int kind; /* brk_say_t */
} brk_tpl_say_as_t;

struct brk_tpl {
    char *id;
    char *language;
    uint32_t channels; /* S_BIT mask */
    brk_tpl_text_t body;
    /* email */
    brk_tpl_text_t subject;
    brk_tpl_text_t html; /* text NULL: none */
    /* whatsapp: wa_name NULL when the entry names no approved template */
    char *wa_name;
    char *wa_lang;
    brk_tpl_text_t wa_body[BRK_LIM_WA_BODY_PARAMS];
    size_t n_wa_body;
    brk_tpl_text_t wa_header[BRK_LIM_WA_HEADER_PARAMS];
    size_t n_wa_header;
    brk_tpl_text_t wa_button[BRK_LIM_WA_BUTTON_PARAMS];
    size_t n_wa_button;
    /* voice */
    char *voice;
    brk_tpl_digit_t digits[BRK_LIM_DIGITS];
    size_t n_digits;
    brk_tpl_text_t voicemail; /* text NULL: none */
    uint32_t gather_timeout_s;
    brk_tpl_text_t goodbye;    /* text NULL: none */
    uint32_t no_input_repeats; /* default 1 */
    brk_tpl_say_as_t say_as[BRK_LIM_SAY_AS];
    size_t n_say_as;
    uint32_t retries;     /* calls again after an unanswered one (brk_retry.h); 0 = none */
    uint32_t retry_gap_s; /* at least this long after the failure */
    /* variables of all texts; var_channels[i]: the channels whose content uses vars[i] */
    char *vars[BRK_TPL_MAX_VARS];
    uint32_t var_channels[BRK_TPL_MAX_VARS];
    size_t n_vars;
    size_t line; /* 1-based line of the entry, for "first at line N" */
};

struct brk_tpl_catalog {
    brk_tpl_t *tpls; /* sorted by id */
    size_t n;
};

/* Code points of the UTF-8 text s[0..len) (brk_template.c's counter, shared). */
size_t brk_tpl__chars(const char *s, size_t len);

/* 1 if s[0..len) holds a control character (C0, DEL, C1) other than those flags allow:
 * BRK_TPL__ALLOW_NL line breaks, BRK_TPL__ALLOW_TAB tabs. */
#define BRK_TPL__ALLOW_NL  1u
#define BRK_TPL__ALLOW_TAB 2u
int brk_tpl__has_control(const char *s, size_t len, unsigned flags);

/* The stable names of brk_tpl_action_t, as pregon.proto writes them ("transfer", "opt-out"...). */
extern const char *const brk_tpl__action_names[BRK_TPL_ACT_COUNT];

#endif
