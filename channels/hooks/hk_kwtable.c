/* hk_kwtable.c — the catalog's keywords, folded once, matched before hk_keyword's (see
 * hk_kwtable.h). Matching trims what is not a letter or digit at both ends of the folded reply,
 * as hk_keyword_classify does, and compares with every entry (a table holds at most
 * PG_KW_MAX entries of at most PG_KW_WORD_MAX bytes: a linear scan). */
#include "hk_kwtable.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char folded[HK_KEYWORD_FOLD_MAX + 1];
    size_t len;
    char word[PG_KW_WORD_MAX + 1];
    hk_keyword_kind_t kind;
} s_entry_t;

struct hk_kwtable {
    size_t n;
    s_entry_t entries[];
};

static bool s_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\x1a';
}

/* Folds and trims text into buf; returns the trimmed start (in *start) and length, or
 * (size_t)-1 when it does not fold within the buffer. */
static size_t s_fold(const char *text, size_t len, char *buf, size_t size, size_t *start) {
    size_t n = hk_keyword_fold(text, len, buf, size);
    if (n == (size_t)-1)
        return n;
    size_t s = 0;
    while (s < n && !s_alnum(buf[s]))
        s++;
    while (n > s && !s_alnum(buf[n - 1]))
        n--;
    *start = s;
    return n - s;
}

hk_kwtable_t *hk_kwtable_new(const pg_kw_entry_t *entries, size_t n) {
    hk_kwtable_t *self = calloc(1, sizeof *self + n * sizeof(s_entry_t));
    if (!self)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s_entry_t *e = &self->entries[i];
        char buf[HK_KEYWORD_FOLD_MAX + 1];
        size_t start = 0,
               len = s_fold(entries[i].word, strlen(entries[i].word), buf, sizeof buf, &start);
        if (len == (size_t)-1 || len == 0) {
            free(self);
            return NULL;
        }
        memcpy(e->folded, buf + start, len);
        e->folded[len] = '\0';
        e->len = len;
        memcpy(e->word, entries[i].word, sizeof e->word);
        e->kind = (hk_keyword_kind_t)entries[i].kind;
    }
    self->n = n;
    return self;
}

void hk_kwtable_destroy(hk_kwtable_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

hk_keyword_kind_t hk_kwtable_classify(const hk_kwtable_t *self, const char *text, size_t len,
                                      const char **matched) {
    if (self && self->n) {
        char buf[HK_KEYWORD_FOLD_MAX + 1];
        size_t start = 0, n = s_fold(text, len, buf, sizeof buf, &start);
        for (size_t i = 0; n != (size_t)-1 && i < self->n; i++) {
            const s_entry_t *e = &self->entries[i];
            if (e->len == n && memcmp(e->folded, buf + start, n) == 0) {
                if (matched)
                    *matched = e->folded;
                return e->kind;
            }
        }
    }
    return hk_keyword_classify(text, len, matched);
}

size_t hk_kwtable_count(const hk_kwtable_t *self) {
    return self ? self->n : 0;
}
