/* fz_content.h — the checks fuzz_render and fuzz_templates make of a rendered Content: what
 * brk_template.h promises a worker (every string well-formed UTF-8, no line break in a subject,
 * the whole within BRK_LIM_CONTENT_BYTES so that its Dispatch fits a frame). Header-only: two
 * targets include it. */
#ifndef FZ_CONTENT_H
#define FZ_CONTENT_H

#include <stdlib.h>
#include <string.h>

#include "brk_limits.h"
#include "fz_lib.h"
#include "pg_utf8.h"
#include "pregon.pb-c.h"

static void fz_utf8(const char *s, size_t max) {
    if (!s)
        fz_fail("a rendered string is NULL");
    size_t n = strlen(s);
    if (n > max)
        fz_fail("a rendered string past its limit");
    if (!pg_utf8_valid(s, n))
        fz_fail("a rendered string that is not UTF-8");
}

static void fz_content_check(const Pregon__Content *c) {
    switch (c->body_case) {
        case PREGON__CONTENT__BODY_TEXT:
            fz_utf8(c->text->text, BRK_LIM_BODY_BYTES);
            break;
        case PREGON__CONTENT__BODY_EMAIL:
            fz_utf8(c->email->subject, BRK_LIM_SUBJECT_BYTES);
            fz_utf8(c->email->text, BRK_LIM_EMAIL_TEXT_BYTES);
            fz_utf8(c->email->html, BRK_LIM_HTML_BYTES);
            for (const char *p = c->email->subject; *p; p++)
                if (*p == '\r' || *p == '\n')
                    fz_fail("a line break in a rendered subject");
            break;
        case PREGON__CONTENT__BODY_WHATSAPP:
            for (size_t i = 0; i < c->whatsapp->n_body_params; i++)
                fz_utf8(c->whatsapp->body_params[i], BRK_LIM_WA_BODY_PARAM);
            for (size_t i = 0; i < c->whatsapp->n_header_params; i++)
                fz_utf8(c->whatsapp->header_params[i], BRK_LIM_WA_HEADER_PARAM);
            for (size_t i = 0; i < c->whatsapp->n_button_params; i++)
                fz_utf8(c->whatsapp->button_params[i], BRK_LIM_WA_BUTTON_PARAM);
            fz_utf8(c->whatsapp->text, BRK_LIM_BODY_BYTES);
            break;
        case PREGON__CONTENT__BODY_VOICE:
            fz_utf8(c->voice->speech, BRK_LIM_SPEECH_BYTES);
            fz_utf8(c->voice->voicemail, BRK_LIM_VOICEMAIL_BYTES);
            for (size_t i = 0; i < c->voice->n_digits; i++)
                fz_utf8(c->voice->digits[i]->say, BRK_LIM_SAY_BYTES);
            break;
        default:
            fz_fail("a rendered Content without a body");
    }
    size_t len = pregon__content__get_packed_size(c);
    if (len > BRK_LIM_CONTENT_BYTES)
        fz_fail("a rendered Content past BRK_LIM_CONTENT_BYTES");
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    pregon__content__pack(c, buf);
    Pregon__Content *back = pregon__content__unpack(NULL, len, buf);
    if (!back)
        fz_fail("a rendered Content does not unpack");
    pregon__content__free_unpacked(back, NULL);
    free(buf);
}

#endif
