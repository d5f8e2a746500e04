/* sb_calls_twiml.h — TwiML as the simulated Twilio Calls reads it: a document parsed (libxml2)
 * into a flat list of verbs the call interpreter (sb_calls_engine) runs one by one.
 *
 * Understood: <Response> holding Say, Play, Pause, Gather (with nested Say, Play, Pause), Dial
 * (a bare number, or <Number>/<Sip> children: the first one is dialled), Redirect, Hangup,
 * Reject. Attributes read are those the sandbox simulates (below); others are ignored, as
 * Twilio ignores what a verb does not use. An unknown verb, a verb nested where TwiML forbids
 * it, or a root that is not <Response> is a schema error (Twilio's 12200); a document that is
 * not XML is a parse error (12100). The parser never fetches anything (XML_PARSE_NONET) and
 * never expands external entities. Pure and thread-safe; ownership: a parsed document owns all
 * its strings and is freed with sb_twiml_destroy(). */
#ifndef SB_CALLS_TWIML_H
#define SB_CALLS_TWIML_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SB_TW_SAY,
    SB_TW_PLAY,
    SB_TW_PAUSE,
    SB_TW_GATHER,
    SB_TW_DIAL,
    SB_TW_REDIRECT,
    SB_TW_HANGUP,
    SB_TW_REJECT,
} sb_tw_kind_t;

typedef struct sb_tw_verb sb_tw_verb_t;

struct sb_tw_verb {
    sb_tw_kind_t kind;
    /* Say: the text (whitespace runs folded to one space); Play and Redirect: the URL; Dial:
     * the number or SIP URI dialled. NULL when empty. */
    char *text;
    char *language;         /* Say */
    char *voice;            /* Say */
    unsigned loop;          /* Say, Play: times played (>= 1; TwiML's 0 "for ever" is read as 1) */
    unsigned length_s;      /* Pause (default 1) */
    char *action;           /* Gather, Dial: NULL = none (Gather: the current document's URL) */
    char *method;           /* Gather, Dial, Redirect: "POST" (default) or "GET" */
    unsigned num_digits;    /* Gather: 0 = no limit (finishOnKey ends) */
    unsigned timeout_s;     /* Gather (default 5), Dial (default 30) */
    char finish_on_key;     /* Gather: '#' by default, '\0' when none */
    bool sip;               /* Dial: the target is a <Sip> URI */
    char *caller_id;        /* Dial */
    sb_tw_verb_t *children; /* Gather: nested Say, Play and Pause */
    size_t n_children;
};

typedef struct {
    sb_tw_verb_t *verbs;
    size_t n;
} sb_twiml_t;

/* Parses xml[0..len). Returns the document, or NULL with Twilio's error code in *code (12100
 * not XML, 12200 not valid TwiML; 0 when out of memory) and a reason in err. */
sb_twiml_t *sb_twiml_parse(const char *xml, size_t len, int *code, char *err, size_t errlen);

/* Frees; accepts NULL and nulls the caller's pointer. */
void sb_twiml_destroy(sb_twiml_t **self_p);

/* Simulated seconds a verb's speech lasts when played once: Say at 150 words a minute (at
 * least 1 s), Play 5 s, Pause its length; 0 for the others. */
unsigned sb_twiml_speech_s(const sb_tw_verb_t *v);

/* The verb's name as TwiML spells it ("Say", "Gather"...). */
const char *sb_twiml_kind_name(sb_tw_kind_t kind);

#endif
