/* brk_speech.h — variables rendered for speech: what a text-to-speech voice should read.
 *
 * A voice template declares how some of its variables are spoken (say_as: {monto: amount,
 * fecha: date}); when pregond renders a call's script for pregon-hooks it passes those values
 * through here first, in the script's language, so the TwiML <Say> holds words, not symbols:
 *   amount  "$1.250.000" (es-CO), "$1,250,000.50" (en-US) -> "un millón doscientos cincuenta mil
 *           pesos", "one million two hundred fifty thousand dollars and fifty cents";
 *   date    "30/11", "30/11/2026", "2026-11-30" -> "30 de noviembre de 2026", "November 30, 2026"
 *           (en-US reads NN/NN as month/day unless the first is over 12);
 *   digits  "3001234567" -> "3 0 0 1 2 3 4 5 6 7" (a phone number read digit by digit).
 * Spelled words rather than SSML <say-as>: they read the same in every Twilio voice (basic,
 * Polly, Google), Polly has no say-as "currency", and the text stays checkable in tests.
 * Languages: "es*" and "en*" (anything else is read as "es"). Pure; no allocation; thread-safe. */
#ifndef BRK_SPEECH_H
#define BRK_SPEECH_H

#include <stddef.h>

typedef enum {
    BRK_SAY_TEXT = 0, /* as written */
    BRK_SAY_AMOUNT,
    BRK_SAY_DATE,
    BRK_SAY_DIGITS,
} brk_say_t;

/* "amount", "date", "digits", "text" -> the kind; -1 for anything else. */
int brk_speech_kind(const char *name);

/* The currency a job's amounts are in: its segment's ISO 4217 code when given, else the
 * jurisdiction's (CO COP, MX MXN, US USD, CL CLP, PE PEN), else "" (read by language: es
 * pesos, en dollars). Returns a static string or currency itself. */
const char *brk_speech_currency(const char *currency, const char *jurisdiction);

/* Writes `value` as spoken under `kind` in `lang` (BCP 47, may be NULL) into out (out_len >= 1).
 * currency: ISO code for amounts (may be NULL or ""). A value that does not read as its kind is
 * copied as written (the voice reads it as it can). Returns the length written, or -1 when out
 * is too small (out then holds "" ). */
int brk_speech_render(brk_say_t kind, const char *value, const char *lang, const char *currency,
                      char *out, size_t out_len);

/* A whole number in words ("doscientos cincuenta", "two hundred fifty"), up to 999999999999.
 * apocope: Spanish "uno" before a masculine noun becomes "un" ("veintiún pesos"). Returns the
 * length, or -1 when out is too small or n too large. */
int brk_speech_number(unsigned long long n, const char *lang, int apocope, char *out,
                      size_t out_len);

#endif
