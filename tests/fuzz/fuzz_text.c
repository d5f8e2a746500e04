/* fuzz_text.c — the cheap pure helpers every parser leans on: pg_utf8 (validation, counting,
 * decoding, repair), pg_contact (E.164, e-mail, PSID), brk_validate's identifier and text checks,
 * hk_keyword (fold and classify) and pg_log's quoting, on any bytes.
 *
 * Properties: pg_utf8_next walks exactly pg_utf8_count code points and finds an invalid one iff
 * pg_utf8_valid says no; pg_utf8_sanitize's output is valid and unchanged for valid input; a
 * contact accepted by a checker is within its maximum length and ASCII; a keyword match folds
 * within HK_KEYWORD_FOLD_MAX; a quoted text is NUL-terminated within its buffer. */
#include <stdlib.h>
#include <string.h>

#include "brk_validate.h"
#include "fz_lib.h"
#include "hk_keyword.h"
#include "pg_contact.h"
#include "pg_log.h"
#include "pg_utf8.h"

static void s_utf8(const char *s, size_t n) {
    size_t pos = 0, count = 0;
    int bad = 0;
    while (pos < n) {
        size_t before = pos;
        if (pg_utf8_next(s, n, &pos) < 0)
            bad = 1;
        if (pos <= before || pos > n)
            fz_fail("pg_utf8_next did not advance within the text");
        count++;
    }
    if (count != pg_utf8_count(s, n))
        fz_fail("pg_utf8_count disagrees with pg_utf8_next");
    if (bad == pg_utf8_valid(s, n))
        fz_fail("pg_utf8_valid disagrees with pg_utf8_next");
    size_t out_len = 0;
    char *fixed = pg_utf8_sanitize(s, n, &out_len);
    if (!fixed)
        abort();
    if (!pg_utf8_valid(fixed, out_len) || fixed[out_len] != '\0')
        fz_fail("pg_utf8_sanitize gave invalid UTF-8");
    if (!bad && (out_len != n || memcmp(fixed, s, n) != 0))
        fz_fail("pg_utf8_sanitize changed valid UTF-8");
    free(fixed);
}

static void s_ascii_within(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n > max)
        fz_fail("an accepted contact past its maximum");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            fz_fail("an accepted contact that is not printable ASCII");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *raw = (const char *)data;
    s_utf8(raw, size);
    char *s = fz_strndup(data, size); /* C strings end at the first NUL, as protobuf-c's do */
    if (pg_contact_e164(s))
        s_ascii_within(s, PG_CONTACT_E164_MAX);
    if (pg_contact_email(s))
        s_ascii_within(s, PG_CONTACT_EMAIL_MAX);
    if (pg_contact_psid(s))
        s_ascii_within(s, PG_CONTACT_PSID_MAX);
    for (int ch = 0; ch < 7; ch++)
        if (!brk_val_contact(ch, s))
            s_ascii_within(s, BRK_LIM_CONTACT);
    if (!brk_val_job_id(s) || !brk_val_tenant(s) || !brk_val_debtor(s))
        s_ascii_within(s, BRK_LIM_JOB_ID);
    (void)brk_val_debt(s);
    (void)brk_val_text(s, 64);
    const char *keys[1] = {s}, *values[1] = {s};
    (void)brk_val_variables(1, keys, values);

    char folded[HK_KEYWORD_FOLD_MAX + 1];
    const char *matched = NULL;
    size_t fl = hk_keyword_fold(raw, size, folded, sizeof folded);
    if (fl != (size_t)-1 && (fl >= sizeof folded || folded[fl] != '\0'))
        fz_fail("hk_keyword_fold overran its buffer");
    if (hk_keyword_classify(raw, size, &matched) != HK_KEYWORD_NONE &&
        (!matched || fl == (size_t)-1))
        fz_fail("a keyword matched without its name, or from a text too long to fold");

    char quoted[64];
    pg_log_quote(quoted, sizeof quoted, s, 32);
    if (!memchr(quoted, 0, sizeof quoted))
        fz_fail("pg_log_quote without its NUL");
    free(s);
    return 0;
}
