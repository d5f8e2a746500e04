/* pg_contact.c — contact-point forms (see pg_contact.h). Hand-written scanners: each is one
 * pass with a length bound, so a hostile megabyte costs no more than a valid address. */
#include "pg_contact.h"

#include <stddef.h>
#include <string.h>

#define S_E164_MIN_DIGITS 7
#define S_E164_MAX_DIGITS 15
#define S_LABEL_MAX       63

static bool s_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static bool s_alnum(unsigned char c) {
    return s_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool pg_contact_e164(const char *s) {
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s + 1; *p; p++, n++) {
        if (!s_digit(*p) || n >= S_E164_MAX_DIGITS)
            return false;
    }
    return n >= S_E164_MIN_DIGITS;
}

bool pg_contact_psid(const char *s) {
    if (!s)
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (!s_digit(*p) || n >= PG_CONTACT_PSID_MAX)
            return false;
    }
    return n >= 1;
}

/* RFC 5322 atext: the characters of a dot-atom besides '.'. */
static bool s_atext(unsigned char c) {
    return s_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* Local part s[0..n): dot-atom, 1..64 bytes. */
static bool s_local_part(const unsigned char *s, size_t n) {
    if (n == 0 || n > PG_CONTACT_EMAIL_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false; /* i + 1 < n: the part does not end with '.' */
        } else if (!s_atext(s[i])) {
            return false;
        }
    }
    return true;
}

/* Domain s[0..n): at least two LDH labels of 1..63 bytes, no hyphen at either end of a label, the
 * top-level label not all digits (that would be an IP address without brackets). */
static bool s_domain(const unsigned char *s, size_t n) {
    size_t labels = 0, i = 0;
    bool all_digits = false;
    while (i <= n) {
        size_t start = i;
        all_digits = true;
        while (i < n && s[i] != '.') {
            if (!s_alnum(s[i]) && s[i] != '-')
                return false;
            all_digits = all_digits && s_digit(s[i]);
            i++;
        }
        size_t len = i - start;
        if (len == 0 || len > S_LABEL_MAX || s[start] == '-' || s[i - 1] == '-')
            return false; /* also: empty label from a leading, trailing or doubled dot */
        labels++;
        i++; /* past the dot, or past the end */
    }
    return labels >= 2 && !all_digits;
}

bool pg_contact_email(const char *s) {
    if (!s)
        return false;
    size_t len = strnlen(s, PG_CONTACT_EMAIL_MAX + 1);
    if (len > PG_CONTACT_EMAIL_MAX)
        return false;
    const char *at = memchr(s, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
        return false;
    const unsigned char *u = (const unsigned char *)s;
    size_t local = (size_t)(at - s);
    return s_local_part(u, local) && s_domain(u + local + 1, len - local - 1);
}
