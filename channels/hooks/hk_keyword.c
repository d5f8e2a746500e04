/* hk_keyword.c — folding and whole-message keyword matching (see hk_keyword.h).
 *
 * Folding decodes UTF-8 (strictly: Unicode 3.9 table 3-7, so overlongs and surrogates are
 * invalid) one code point at a time and writes one ASCII byte per code point at most: letters
 * upper-cased, Latin-1 and Latin Extended-A letters to their base letter, combining marks,
 * variation selectors and joiners dropped, whitespace to ' ' (runs to one), other punctuation
 * and symbols to themselves (ASCII) or S_SYMBOL, and everything else to S_OTHER. Matching trims
 * what is not a letter or digit at both ends and compares with the tables below. */
#include "hk_keyword.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define S_OTHER  '\x1a' /* a character of no keyword: never matches */
#define S_SYMBOL '~'    /* a non-ASCII punctuation mark, symbol or emoji: ignorable at the ends */
#define S_DROP   0      /* writes nothing */

/* U+00C0..U+00FF: base letters; '?' = no ASCII base (Æ, Ð, Ø, Þ, ß...), '~' = a symbol. */
static const char s_latin1[] = "AAAAAA?CEEEEIIII?NOOOOO~?UUUUY??"
                               "AAAAAA?CEEEEIIII?NOOOOO~?UUUUY?Y";
/* U+0100..U+017F, Latin Extended-A. */
static const char s_latin_a[] = "AAAAAACCCCCCCCDDDDEEEEEEEEEEGGGGGGGGHHHHIIIIIIIIII??JJKK?"
                                "LLLLLLLLLLNNNNNN???OOOOOO??RRRRRRSSSSSSSSTTTTTTUUUUUUUUUUUU"
                                "WWYYYZZZZZZS";
_Static_assert(sizeof s_latin1 == 65, "U+00C0..U+00FF");
_Static_assert(sizeof s_latin_a == 129, "U+0100..U+017F");

typedef struct {
    const char *word;
    hk_keyword_kind_t kind;
} s_keyword_t;

static const s_keyword_t s_keywords[] = {
    {"STOP", HK_KEYWORD_OPT_OUT},
    {"STOPALL", HK_KEYWORD_OPT_OUT},
    {"UNSUBSCRIBE", HK_KEYWORD_OPT_OUT},
    {"CANCEL", HK_KEYWORD_OPT_OUT},
    {"END", HK_KEYWORD_OPT_OUT},
    {"QUIT", HK_KEYWORD_OPT_OUT},
    {"REVOKE", HK_KEYWORD_OPT_OUT},
    {"OPTOUT", HK_KEYWORD_OPT_OUT},
    {"OPT OUT", HK_KEYWORD_OPT_OUT},
    {"BAJA", HK_KEYWORD_OPT_OUT},
    {"DAR DE BAJA", HK_KEYWORD_OPT_OUT},
    {"ALTO", HK_KEYWORD_OPT_OUT},
    {"CANCELAR", HK_KEYWORD_OPT_OUT},
    {"START", HK_KEYWORD_OPT_IN},
    {"YES", HK_KEYWORD_OPT_IN},
    {"UNSTOP", HK_KEYWORD_OPT_IN},
    {"ALTA", HK_KEYWORD_OPT_IN},
    {"DAR DE ALTA", HK_KEYWORD_OPT_IN},
    {"SI", HK_KEYWORD_OPT_IN},
    {"PAGO REALIZADO", HK_KEYWORD_PAYMENT_CLAIMED},
    {"YA PAGUE", HK_KEYWORD_PAYMENT_CLAIMED},
    {"YA PAGAMOS", HK_KEYWORD_PAYMENT_CLAIMED},
    {"YA HICE EL PAGO", HK_KEYWORD_PAYMENT_CLAIMED},
    {"YA REALICE EL PAGO", HK_KEYWORD_PAYMENT_CLAIMED},
    {"PAGADO", HK_KEYWORD_PAYMENT_CLAIMED},
    {"NUMERO EQUIVOCADO", HK_KEYWORD_WRONG_NUMBER},
    {"NUMERO INCORRECTO", HK_KEYWORD_WRONG_NUMBER},
    {"EQUIVOCADO", HK_KEYWORD_WRONG_NUMBER},
    {"WRONG NUMBER", HK_KEYWORD_WRONG_NUMBER},
    {"NO SOY", HK_KEYWORD_WRONG_NUMBER},
};

/* Decodes the code point at p[*pos] and advances; -1 (one byte consumed) when invalid. */
static int32_t s_next(const unsigned char *p, size_t len, size_t *pos) {
    unsigned char b0 = p[*pos];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    int32_t cp;
    if (b0 < 0x80) {
        *pos += 1;
        return b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2, cp = b0 & 0x0F;
        lo = b0 == 0xE0 ? 0xA0 : 0x80;
        hi = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3, cp = b0 & 0x07;
        lo = b0 == 0xF0 ? 0x90 : 0x80;
        hi = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
        *pos += 1;
        return -1;
    }
    if (len - *pos - 1 < need) {
        *pos += 1;
        return -1;
    }
    for (size_t i = 1; i <= need; i++) {
        unsigned char b = p[*pos + i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
            *pos += 1;
            return -1;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    *pos += need + 1;
    return cp;
}

static bool s_space(int32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* Marks that decorate what they follow and fold to nothing. */
static bool s_dropped(int32_t cp) {
    return (cp >= 0x300 && cp <= 0x36F) || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 ||
           cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
           (cp >= 0xE0000 && cp <= 0xE007F);
}

static bool s_symbol(int32_t cp) {
    return (cp >= 0xA1 && cp <= 0xBF) || (cp >= 0x2010 && cp <= 0x2027) ||
           (cp >= 0x2030 && cp <= 0x205E) || (cp >= 0x20A0 && cp <= 0x2BFF) ||
           (cp >= 0x3001 && cp <= 0x303F) || (cp >= 0xFF01 && cp <= 0xFF0F) ||
           (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0x1F000 && cp <= 0x1FAFF);
}

/* The folded byte of one code point, S_DROP for none. */
static char s_fold_one(int32_t cp) {
    if (cp < 0)
        return S_OTHER;
    if (s_space(cp))
        return ' ';
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z')
            return (char)(cp - 'a' + 'A');
        return cp < 0x20 || cp == 0x7F ? S_OTHER : (char)cp;
    }
    if (s_dropped(cp))
        return S_DROP;
    if (cp >= 0xC0 && cp <= 0xFF)
        return s_latin1[cp - 0xC0] == '?' ? S_OTHER : s_latin1[cp - 0xC0];
    if (cp >= 0x100 && cp <= 0x17F)
        return s_latin_a[cp - 0x100] == '?' ? S_OTHER : s_latin_a[cp - 0x100];
    if (cp >= 0xFF21 && cp <= 0xFF3A)
        return (char)(cp - 0xFF21 + 'A');
    if (cp >= 0xFF41 && cp <= 0xFF5A)
        return (char)(cp - 0xFF41 + 'A');
    if (cp >= 0xFF10 && cp <= 0xFF19)
        return (char)(cp - 0xFF10 + '0');
    return s_symbol(cp) ? S_SYMBOL : S_OTHER;
}

size_t hk_keyword_fold(const char *text, size_t len, char *out, size_t out_size) {
    const unsigned char *p = (const unsigned char *)text;
    size_t n = 0;
    for (size_t pos = 0; pos < len;) {
        char c = s_fold_one(s_next(p, len, &pos));
        if (c == S_DROP || (c == ' ' && n > 0 && out[n - 1] == ' '))
            continue;
        if (n + 1 >= out_size)
            return (size_t)-1;
        out[n++] = c;
    }
    if (out_size == 0)
        return (size_t)-1;
    out[n] = '\0';
    return n;
}

static bool s_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == S_OTHER;
}

hk_keyword_kind_t hk_keyword_classify(const char *text, size_t len, const char **matched) {
    char buf[HK_KEYWORD_FOLD_MAX + 1];
    if (matched)
        *matched = NULL;
    size_t n = hk_keyword_fold(text, len, buf, sizeof buf);
    if (n == (size_t)-1)
        return HK_KEYWORD_NONE;
    size_t start = 0;
    while (start < n && !s_alnum(buf[start]))
        start++;
    while (n > start && !s_alnum(buf[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof s_keywords / sizeof s_keywords[0]; i++) {
        const char *w = s_keywords[i].word;
        if (strlen(w) == n - start && memcmp(w, buf + start, n - start) == 0) {
            if (matched)
                *matched = w;
            return s_keywords[i].kind;
        }
    }
    return HK_KEYWORD_NONE;
}
