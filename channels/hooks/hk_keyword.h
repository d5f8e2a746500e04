/* hk_keyword.h — the keyword classifier of inbound text messages: is this message an opt-out
 * (STOP, BAJA...), an opt-in (START, ALTA...), a payment claim (YA PAGUÉ...), a wrong-number
 * answer (NÚMERO EQUIVOCADO...), or an ordinary reply?
 *
 * A message is a keyword only when the whole of it is one, once folded: Latin accents removed
 * (as NFKD would decompose them, then the marks dropped: "Sí" -> "SI", "ÁLTO" -> "ALTO", a
 * decomposed "S" + U+0301 too; fullwidth Latin letters -> ASCII), case ignored, whitespace,
 * punctuation, symbols and emoji at either end ignored ("Stop.", "¡Alto!", "STOP 🙏"), runs of
 * inner whitespace read as one space ("opt  out"). Anything else, e.g. "please stop calling",
 * is a reply: the text goes to pregond as a REPLY and stays in the conversation record. Twilio
 * itself reads only whole-message keywords, and a sentence that contains a keyword is not
 * always a request to stop ("no paro de pagar"): a human reads replies.
 *
 * Opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (Twilio's defaults), REVOKE, OPTOUT,
 * OPT OUT (the FCC's 2024 list of per se revocation words), BAJA, DAR DE BAJA, ALTO, CANCELAR.
 * Opt-in: START, YES, UNSTOP (Twilio's defaults), ALTA, DAR DE ALTA, SI (the Spanish YES).
 * Payment claimed: PAGO REALIZADO, YA PAGUE, YA PAGUÉ, YA PAGAMOS, YA HICE EL PAGO, YA REALICE
 * EL PAGO, PAGADO (a claim for the campaign's agents to check, never a state change by itself).
 * Wrong number: NUMERO EQUIVOCADO, NÚMERO EQUIVOCADO, NUMERO INCORRECTO, EQUIVOCADO, WRONG
 * NUMBER, NO SOY (the debtor is not at this number: the contact is suppressed for that debtor).
 * The SMS module forwards only opt-outs and opt-ins as such (any other match is a REPLY); the
 * WhatsApp and Messenger modules forward every kind.
 * Pure functions: no allocation, no state, thread-safe. */
#ifndef HK_KEYWORD_H
#define HK_KEYWORD_H

#include <stddef.h>

typedef enum {
    HK_KEYWORD_NONE = 0, /* an ordinary reply */
    HK_KEYWORD_OPT_OUT,
    HK_KEYWORD_OPT_IN,
    HK_KEYWORD_PAYMENT_CLAIMED,
    HK_KEYWORD_WRONG_NUMBER,
} hk_keyword_kind_t;

/* Longest folded message that can still be a keyword; longer texts are replies. */
#define HK_KEYWORD_FOLD_MAX 256

/* Classifies the len bytes at text (UTF-8; invalid bytes never match). When matched is not
 * NULL it gets the canonical keyword ("STOP", "BAJA", ...; a static string) or NULL. */
hk_keyword_kind_t hk_keyword_classify(const char *text, size_t len, const char **matched);

/* Folds text as hk_keyword_classify reads it into out (NUL-terminated, ASCII upper case; a
 * character that folds to no ASCII letter, digit or ignorable mark becomes 0x1A, which matches
 * no keyword). Returns the folded length, or (size_t)-1 when the result would not fit in
 * out_size bytes with its NUL. For tests and diagnostics. */
size_t hk_keyword_fold(const char *text, size_t len, char *out, size_t out_size);

#endif
