/* hk_kwtable.h — the template catalog's keyword table as pregon-hooks matches it: the entries of
 * its "keywords" list (common/pg_kwtable.h, setting keywords.file), folded once at load the way
 * hk_keyword folds a reply, checked before hk_keyword's own words. A reply is a keyword only when
 * the whole of it is one (hk_keyword.h says why). Read-only after hk_kwtable_new: handler threads
 * classify concurrently. */
#ifndef HK_KWTABLE_H
#define HK_KWTABLE_H

#include <stddef.h>

#include "hk_keyword.h"
#include "pg_kwtable.h"

typedef struct hk_kwtable hk_kwtable_t;

/* A table of entries[0..n) (copied and folded). NULL when out of memory, or when an entry folds
 * to nothing matchable (all punctuation). */
hk_kwtable_t *hk_kwtable_new(const pg_kw_entry_t *entries, size_t n);

/* Frees it; accepts NULL; nulls the caller's pointer. */
void hk_kwtable_destroy(hk_kwtable_t **self_p);

/* Classifies text[0..len): the table's entries first (matched = the entry's word folded:
 * "YA CANCELE", as hk_keyword names its own), then hk_keyword_classify. self may be NULL
 * (hk_keyword's words only). matched (when not NULL) lives as long as the table. */
hk_keyword_kind_t hk_kwtable_classify(const hk_kwtable_t *self, const char *text, size_t len,
                                      const char **matched);

/* Entries in the table. */
size_t hk_kwtable_count(const hk_kwtable_t *self);

#endif
