/* brk_validate.c — form checks of a send job's identifiers, contact point and variables.
 *
 * Everything here is a pure function over bytes: no allocation, no locale, no regex, so a
 * hostile frame costs at most one pass over its fields. What a value means (is the template
 * known, is the time zone real, is the debtor suppressed) is decided elsewhere. */
#include "brk_validate.h"

#include <stdint.h>
#include <string.h>

#define S_E164_MIN_DIGITS 8
#define S_E164_MAX_DIGITS 15
#define S_PSID_MAX        32
#define S_EMAIL_MAX       254
#define S_EMAIL_LOCAL_MAX 64
#define S_LABEL_MAX       63

/* Every contact point fits the job table's limit. */
_Static_assert(S_EMAIL_MAX <= BRK_LIM_CONTACT && S_PSID_MAX <= BRK_LIM_CONTACT &&
                   1 + S_E164_MAX_DIGITS <= BRK_LIM_CONTACT,
               "a contact point longer than brk_limits.h allows");

/* Channel numbers of pregon.proto (kept literal so this file depends on nothing). */
enum { S_SMS = 1, S_WHATSAPP = 2, S_VOICE = 3, S_EMAIL = 4, S_MESSENGER = 5 };

/* ---------------------------------------------------------------------------------------------
 * UTF-8 */

/* Decodes one well-formed sequence at s[0..len); returns its length (1..4) and the code point in
 * *cp, or 0 if the bytes there are not well-formed UTF-8. */
static size_t s_utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if (b >= 0xC2 && b <= 0xDF) { /* 0xC0, 0xC1 only start overlong forms */
        n = 2;
        c = b & 0x1Fu;
        min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
        n = 3;
        c = b & 0x0Fu;
        min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        c = b & 0x07u;
        min = 0x10000;
    } else {
        return 0; /* a continuation byte, 0xC0/0xC1 or 0xF5..0xFF */
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return 0;
    }
    *cp = c;
    return n;
}

int brk_val_utf8(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s_utf8_next(p + i, len - i, &cp);
        if (n == 0) {
            return 0;
        }
        i += n;
    }
    return 1;
}

brk_val_text_t brk_val_text(const char *s, size_t max) {
    if (!s) {
        return BRK_VAL_TEXT_OK;
    }
    size_t len = strnlen(s, max + 1);
    if (len > max) {
        return BRK_VAL_TEXT_LONG;
    }
    return brk_val_utf8(s, len) ? BRK_VAL_TEXT_OK : BRK_VAL_TEXT_UTF8;
}

/* ---------------------------------------------------------------------------------------------
 * Identifiers */

/* 1 if s is min..max bytes of printable ASCII other than '{' and '}'. */
static int s_ident(const char *s, size_t min, size_t max) {
    if (!s) {
        return min == 0;
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= max || *p <= 0x20 || *p >= 0x7F || *p == '{' || *p == '}') {
            return 0;
        }
    }
    return n >= min;
}

const char *brk_val_job_id(const char *job_id) {
    return s_ident(job_id, 1, BRK_LIM_JOB_ID) ? NULL : "bad-job-id";
}

const char *brk_val_tenant(const char *tenant) {
    return s_ident(tenant, 1, BRK_LIM_TENANT) ? NULL : "bad-tenant";
}

const char *brk_val_debtor(const char *debtor_id) {
    return s_ident(debtor_id, 1, BRK_LIM_DEBTOR_ID) ? NULL : "bad-debtor";
}

const char *brk_val_debt(const char *debt_id) {
    return s_ident(debt_id, 0, BRK_LIM_DEBT_ID) ? NULL : "bad-debt";
}

/* ---------------------------------------------------------------------------------------------
 * Contact points */

static int s_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int s_alnum(unsigned char c) {
    return s_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int s_e164(const char *s) {
    if (s[0] != '+' || s[1] < '1' || s[1] > '9') {
        return 0;
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s + 1; *p; p++, n++) {
        if (!s_digit(*p) || n >= S_E164_MAX_DIGITS) {
            return 0;
        }
    }
    return n >= S_E164_MIN_DIGITS;
}

static int s_psid(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (!s_digit(*p) || n >= S_PSID_MAX) {
            return 0;
        }
    }
    return n >= 1;
}

/* RFC 5322 atext: the characters of a dot-atom besides '.'. */
static int s_atext(unsigned char c) {
    return s_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Local part s[0..n): dot-atom, 1..64 bytes. */
static int s_local_part(const unsigned char *s, size_t n) {
    if (n == 0 || n > S_EMAIL_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return 0; /* i + 1 < n: the part does not end with '.' */
            }
        } else if (!s_atext(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Domain s[0..n): at least two LDH labels of 1..63 bytes, no hyphen at either end of a label, the
 * top-level label not all digits (that would be an IP address without brackets). */
static int s_domain(const unsigned char *s, size_t n) {
    size_t labels = 0, i = 0;
    int all_digits = 0;
    while (i <= n) {
        size_t start = i;
        all_digits = 1;
        while (i < n && s[i] != '.') {
            if (!s_alnum(s[i]) && s[i] != '-') {
                return 0;
            }
            all_digits &= s_digit(s[i]);
            i++;
        }
        size_t len = i - start;
        if (len == 0 || len > S_LABEL_MAX || s[start] == '-' || s[i - 1] == '-') {
            return 0; /* also: empty label from a leading, trailing or doubled dot */
        }
        labels++;
        i++; /* past the dot, or past the end */
    }
    return labels >= 2 && !all_digits;
}

static int s_email(const char *s) {
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len > S_EMAIL_MAX || !at || strchr(at + 1, '@')) {
        return 0;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t local = (size_t)(at - s);
    return s_local_part(u, local) && s_domain(u + local + 1, len - local - 1);
}

const char *brk_val_contact(int channel, const char *contact) {
    switch (channel) {
        case S_SMS:
        case S_WHATSAPP:
        case S_VOICE:
            return contact && s_e164(contact) ? NULL : "bad-phone";
        case S_EMAIL:
            return contact && s_email(contact) ? NULL : "bad-email";
        case S_MESSENGER:
            return contact && s_psid(contact) ? NULL : "bad-psid";
        default:
            return "bad-channel";
    }
}

/* ---------------------------------------------------------------------------------------------
 * Variables */

/* Reason for key k, or NULL: at most BRK_LIM_VAR_KEY of [A-Za-z0-9_], not empty. */
static const char *s_var_key(const char *k) {
    size_t n = 0;
    const char *why = NULL;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++, n++) {
        if (n >= BRK_LIM_VAR_KEY) {
            return "variables-key-too-long";
        }
        if (!(s_alnum(*p) || *p == '_')) {
            why = "bad-variables"; /* unless it is also too long: that is said first */
        }
    }
    return n == 0 ? "bad-variables" : why;
}

/* Reason for value v, or NULL: at most BRK_LIM_VAR_VALUE bytes of UTF-8 without control
 * characters other than '\n'. */
static const char *s_var_value(const char *v) {
    size_t len = strnlen(v, BRK_LIM_VAR_VALUE + 1);
    if (len > BRK_LIM_VAR_VALUE) {
        return "variables-value-too-long";
    }
    const unsigned char *p = (const unsigned char *)v;
    const char *why = NULL;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s_utf8_next(p + i, len - i, &cp);
        if (n == 0) {
            return "variables-not-utf8";
        }
        if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F)) {
            why = "bad-variables"; /* unless it is also not UTF-8: that is said first */
        }
        i += n;
    }
    return why;
}

const char *brk_val_variables(size_t n, const char *const *keys, const char *const *values) {
    if (n > BRK_LIM_VARS) {
        return "variables-too-many";
    }
    if (n > 0 && (!keys || !values)) {
        return "bad-variables";
    }
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (!keys[i] || !values[i]) {
            return "bad-variables";
        }
        if ((why = s_var_key(keys[i]))) {
            return why;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0) {
                return "bad-variables";
            }
        }
        if ((why = s_var_value(values[i]))) {
            return why;
        }
    }
    return NULL;
}
