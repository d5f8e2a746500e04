/* brk_speech.c — numbers, amounts, dates and digit strings in words (see brk_speech.h). */
#include "brk_speech.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *p;
    size_t left;
    bool overflow;
} s_out_t;

static void s_put(s_out_t *o, const char *s) {
    size_t n = strlen(s);
    if (o->overflow || n >= o->left) {
        o->overflow = true;
        return;
    }
    memcpy(o->p, s, n + 1);
    o->p += n;
    o->left -= n;
}

static bool s_is_en(const char *lang) {
    return lang && (lang[0] == 'e' || lang[0] == 'E') && (lang[1] == 'n' || lang[1] == 'N');
}

static bool s_is_us(const char *lang) {
    return s_is_en(lang) &&
           (!lang[2] || !strcasecmp(lang + 2, "-US") || !strcasecmp(lang + 2, "_US"));
}

/* --- Spanish --- */
static const char *const s_es_units[30] = {
    "cero",         "uno",         "dos",        "tres",        "cuatro",     "cinco",
    "seis",         "siete",       "ocho",       "nueve",       "diez",       "once",
    "doce",         "trece",       "catorce",    "quince",      "dieciséis",  "diecisiete",
    "dieciocho",    "diecinueve",  "veinte",     "veintiuno",   "veintidós",  "veintitrés",
    "veinticuatro", "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve"};
static const char *const s_es_tens[10] = {"",          "",        "",        "treinta", "cuarenta",
                                          "cincuenta", "sesenta", "setenta", "ochenta", "noventa"};
static const char *const s_es_hundreds[10] = {
    "",           "ciento",      "doscientos",  "trescientos", "cuatrocientos",
    "quinientos", "seiscientos", "setecientos", "ochocientos", "novecientos"};

/* 1..999 in Spanish; apocope: a final "uno" becomes "un" (veintiuno -> veintiún). */
static void s_es_999(s_out_t *o, unsigned n, bool apocope) {
    unsigned h = n / 100, r = n % 100;
    if (h) {
        s_put(o, n == 100 ? "cien" : s_es_hundreds[h]);
        if (r)
            s_put(o, " ");
    }
    if (!r)
        return;
    if (r < 30) {
        if (apocope && r == 1)
            s_put(o, "un");
        else if (apocope && r == 21)
            s_put(o, "veintiún");
        else
            s_put(o, s_es_units[r]);
        return;
    }
    s_put(o, s_es_tens[r / 10]);
    if (r % 10) {
        s_put(o, " y ");
        s_put(o, apocope && r % 10 == 1 ? "un" : s_es_units[r % 10]);
    }
}

static void s_es_number(s_out_t *o, unsigned long long n, bool apocope) {
    if (n == 0) {
        s_put(o, "cero");
        return;
    }
    unsigned long long millions = n / 1000000, rest = n % 1000000;
    bool first = true;
    if (millions) {
        if (millions == 1) {
            s_put(o, "un millón");
        } else {
            /* up to 999999 millions: thousands of millions ("mil millones") */
            unsigned long long mt = millions / 1000, mu = millions % 1000;
            if (mt) {
                if (mt > 1) {
                    s_es_999(o, (unsigned)mt, true);
                    s_put(o, " ");
                }
                s_put(o, "mil");
                if (mu)
                    s_put(o, " ");
            }
            if (mu)
                s_es_999(o, (unsigned)mu, true);
            s_put(o, " millones");
        }
        first = false;
    }
    unsigned th = (unsigned)(rest / 1000), un = (unsigned)(rest % 1000);
    if (th) {
        if (!first)
            s_put(o, " ");
        if (th > 1) {
            s_es_999(o, th, true);
            s_put(o, " ");
        }
        s_put(o, "mil");
        first = false;
    }
    if (un) {
        if (!first)
            s_put(o, " ");
        s_es_999(o, un, apocope);
    }
}

/* --- English --- */
static const char *const s_en_units[20] = {
    "zero",     "one",     "two",     "three",     "four",     "five",    "six",
    "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const s_en_tens[10] = {"",      "",      "twenty",  "thirty", "forty",
                                          "fifty", "sixty", "seventy", "eighty", "ninety"};

static void s_en_999(s_out_t *o, unsigned n) {
    unsigned h = n / 100, r = n % 100;
    if (h) {
        s_put(o, s_en_units[h]);
        s_put(o, " hundred");
        if (r)
            s_put(o, " ");
    }
    if (!r)
        return;
    if (r < 20) {
        s_put(o, s_en_units[r]);
        return;
    }
    s_put(o, s_en_tens[r / 10]);
    if (r % 10) {
        s_put(o, "-");
        s_put(o, s_en_units[r % 10]);
    }
}

static void s_en_number(s_out_t *o, unsigned long long n) {
    if (n == 0) {
        s_put(o, "zero");
        return;
    }
    static const char *const scale[4] = {"", " thousand", " million", " billion"};
    unsigned groups[4];
    for (int i = 0; i < 4; i++, n /= 1000)
        groups[i] = (unsigned)(n % 1000);
    bool first = true;
    for (int i = 3; i >= 0; i--) {
        if (!groups[i])
            continue;
        if (!first)
            s_put(o, " ");
        s_en_999(o, groups[i]);
        s_put(o, scale[i]);
        first = false;
    }
}

int brk_speech_number(unsigned long long n, const char *lang, int apocope, char *out,
                      size_t out_len) {
    if (!out || !out_len || n > 999999999999ull)
        return -1;
    out[0] = '\0';
    s_out_t o = {out, out_len, false};
    if (s_is_en(lang))
        s_en_number(&o, n);
    else
        s_es_number(&o, n, apocope != 0);
    if (o.overflow) {
        out[0] = '\0';
        return -1;
    }
    return (int)(o.p - out);
}

int brk_speech_kind(const char *name) {
    if (!name)
        return -1;
    if (!strcmp(name, "amount"))
        return BRK_SAY_AMOUNT;
    if (!strcmp(name, "date"))
        return BRK_SAY_DATE;
    if (!strcmp(name, "digits"))
        return BRK_SAY_DIGITS;
    if (!strcmp(name, "text"))
        return BRK_SAY_TEXT;
    return -1;
}

const char *brk_speech_currency(const char *currency, const char *jurisdiction) {
    if (currency && *currency)
        return currency;
    static const char *const map[][2] = {
        {"CO", "COP"}, {"MX", "MXN"}, {"US", "USD"}, {"CL", "CLP"}, {"PE", "PEN"}};
    for (size_t i = 0; jurisdiction && i < sizeof map / sizeof *map; i++)
        if (!strncmp(jurisdiction, map[i][0], 2) && (!jurisdiction[2] || jurisdiction[2] == '-'))
            return map[i][1];
    return "";
}

/* Currency names: singular and plural, Spanish then English, and the minor unit's. */
typedef struct {
    const char *code, *es1, *es2, *en1, *en2, *es_c1, *es_c2, *en_c1, *en_c2;
} s_currency_t;
static const s_currency_t s_currencies[] = {
    {"COP", "peso", "pesos", "peso", "pesos", "centavo", "centavos", "centavo", "centavos"},
    {"MXN", "peso", "pesos", "peso", "pesos", "centavo", "centavos", "centavo", "centavos"},
    {"CLP", "peso", "pesos", "peso", "pesos", "centavo", "centavos", "centavo", "centavos"},
    {"ARS", "peso", "pesos", "peso", "pesos", "centavo", "centavos", "centavo", "centavos"},
    {"USD", "dólar", "dólares", "dollar", "dollars", "centavo", "centavos", "cent", "cents"},
    {"PEN", "sol", "soles", "sol", "soles", "céntimo", "céntimos", "céntimo", "céntimos"},
    {"EUR", "euro", "euros", "euro", "euros", "céntimo", "céntimos", "cent", "cents"},
};

/* Parses an amount as written: optional sign-free currency marks and spaces around digits
 * grouped by '.' or ',' (the last separator followed by 1..2 digits at the end is the decimal
 * one; every other is a thousands separator). Returns false when it does not read as one. */
static bool s_parse_amount(const char *v, unsigned long long *whole, unsigned *cents) {
    const char *p = v;
    while (*p && !(*p >= '0' && *p <= '9')) /* "$", "US$ ", "COP " */
        p++;
    if (!*p)
        return false;
    const char *end = p;
    while (*end && ((*end >= '0' && *end <= '9') || *end == '.' || *end == ','))
        end++;
    for (const char *q = end; *q; q++)
        if (*q != ' ' && !((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')))
            return false; /* "$1.250.000 aprox" is fine; "1/2" is not an amount */
    while (end > p && (end[-1] == '.' || end[-1] == ','))
        end--;
    const char *dec = NULL;
    for (const char *q = end - 1; q >= p; q--)
        if (*q == '.' || *q == ',') {
            size_t after = (size_t)(end - q - 1);
            /* "1.250" is a thousand in es: 3 digits after is a group, 1..2 a decimal part */
            if (after >= 1 && after <= 2)
                dec = q;
            break;
        }
    unsigned long long w = 0;
    unsigned digits = 0;
    for (const char *q = p; q < (dec ? dec : end); q++) {
        if (*q == '.' || *q == ',')
            continue;
        if (++digits > 12)
            return false;
        w = w * 10 + (unsigned)(*q - '0');
    }
    unsigned c = 0;
    if (dec) {
        size_t n = (size_t)(end - dec - 1);
        for (const char *q = dec + 1; q < end; q++) {
            if (*q < '0' || *q > '9')
                return false;
            c = c * 10 + (unsigned)(*q - '0');
        }
        if (n == 1)
            c *= 10;
    }
    *whole = w;
    *cents = c;
    return digits > 0;
}

static void s_amount(s_out_t *o, const char *value, const char *lang, const char *currency) {
    unsigned long long whole;
    unsigned cents;
    if (!s_parse_amount(value, &whole, &cents)) {
        s_put(o, value);
        return;
    }
    bool en = s_is_en(lang);
    const s_currency_t *cur = NULL;
    for (size_t i = 0; currency && i < sizeof s_currencies / sizeof *s_currencies; i++)
        if (!strcasecmp(currency, s_currencies[i].code))
            cur = &s_currencies[i];
    if (!cur)
        cur = en ? &s_currencies[4] : &s_currencies[0]; /* dollars / pesos */
    char num[512];
    brk_speech_number(whole, lang, 1, num, sizeof num);
    s_put(o, num);
    /* "un millón de pesos", "dos millones de pesos": "de" after exact millions */
    if (!en && whole >= 1000000 && whole % 1000000 == 0)
        s_put(o, " de");
    s_put(o, " ");
    s_put(o, whole == 1 ? (en ? cur->en1 : cur->es1) : (en ? cur->en2 : cur->es2));
    if (cents) {
        brk_speech_number(cents, lang, 1, num, sizeof num);
        s_put(o, en ? " and " : " con ");
        s_put(o, num);
        s_put(o, " ");
        s_put(o, cents == 1 ? (en ? cur->en_c1 : cur->es_c1) : (en ? cur->en_c2 : cur->es_c2));
    }
}

static const char *const s_es_months[12] = {"enero",      "febrero", "marzo",     "abril",
                                            "mayo",       "junio",   "julio",     "agosto",
                                            "septiembre", "octubre", "noviembre", "diciembre"};
static const char *const s_en_months[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};

/* Reads up to three numbers separated by '/', '-' or '.'; returns how many. */
static int s_date_parts(const char *v, unsigned parts[3], unsigned lens[3]) {
    int n = 0;
    const char *p = v;
    while (*p == ' ')
        p++;
    while (n < 3) {
        unsigned x = 0, l = 0;
        while (*p >= '0' && *p <= '9' && l < 5) {
            x = x * 10 + (unsigned)(*p++ - '0');
            l++;
        }
        if (!l)
            return -1;
        parts[n] = x;
        lens[n++] = l;
        if (*p == '/' || *p == '-' || *p == '.')
            p++;
        else
            break;
    }
    while (*p == ' ')
        p++;
    return *p ? -1 : n;
}

static void s_date(s_out_t *o, const char *value, const char *lang) {
    unsigned v[3], l[3];
    int n = s_date_parts(value, v, l);
    unsigned d, m, y = 0;
    if (n == 3 && l[0] == 4) { /* ISO 2026-11-30 */
        y = v[0], m = v[1], d = v[2];
    } else if (n == 2 || n == 3) {
        d = v[0], m = v[1];
        if (s_is_us(lang) && v[0] <= 12 && v[1] <= 31)
            d = v[1], m = v[0]; /* en-US writes month/day */
        if (m > 12 && d <= 12) {
            unsigned t = d;
            d = m, m = t;
        }
        if (n == 3)
            y = l[2] == 2 ? 2000 + v[2] : v[2];
    } else {
        s_put(o, value);
        return;
    }
    if (m < 1 || m > 12 || d < 1 || d > 31) {
        s_put(o, value);
        return;
    }
    char buf[64];
    if (s_is_en(lang)) {
        snprintf(buf, sizeof buf, "%s %u", s_en_months[m - 1], d);
        s_put(o, buf);
        if (y) {
            snprintf(buf, sizeof buf, ", %u", y);
            s_put(o, buf);
        }
    } else {
        snprintf(buf, sizeof buf, "%u de %s", d, s_es_months[m - 1]);
        s_put(o, buf);
        if (y) {
            snprintf(buf, sizeof buf, " de %u", y);
            s_put(o, buf);
        }
    }
}

static void s_digits(s_out_t *o, const char *value) {
    bool first = true;
    char one[2] = {0, 0};
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        if (!first)
            s_put(o, " ");
        one[0] = *p;
        s_put(o, one);
        first = false;
    }
    if (first)
        s_put(o, value);
}

int brk_speech_render(brk_say_t kind, const char *value, const char *lang, const char *currency,
                      char *out, size_t out_len) {
    if (!out || !out_len)
        return -1;
    out[0] = '\0';
    s_out_t o = {out, out_len, false};
    const char *v = value ? value : "";
    switch (kind) {
        case BRK_SAY_AMOUNT:
            s_amount(&o, v, lang, currency);
            break;
        case BRK_SAY_DATE:
            s_date(&o, v, lang);
            break;
        case BRK_SAY_DIGITS:
            s_digits(&o, v);
            break;
        default:
            s_put(&o, v);
            break;
    }
    if (o.overflow) {
        out[0] = '\0';
        return -1;
    }
    return (int)(o.p - out);
}
