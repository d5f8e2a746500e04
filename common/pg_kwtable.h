/* pg_kwtable.h — the keyword table of the template catalog: which whole-message replies mean
 * opt-out, opt-in, payment claimed or wrong number, beyond the words pregon-hooks knows by itself
 * (channels/hooks/hk_keyword.h). One format, read by two processes: pregond checks it when it
 * loads the catalog (a bad entry refuses the catalog, like a bad template), pregon-hooks loads it
 * (keywords.file) and matches replies against it first.
 *
 *   keywords:                       # optional, at the top of the catalog, next to templates
 *     - {word: "ya cancelé", kind: payment-claimed}   # word: 1..64 bytes of UTF-8, one line
 *     - {word: "no es mi número", kind: wrong-number} # kind: opt-out, opt-in, payment-claimed,
 *                                                     # wrong-number
 * At most PG_KW_MAX entries. Matching (case, accents, punctuation at the ends) is hk_keyword's;
 * this module only reads the list. Errors are "FILE:LINE:COL: message" through pg_yaml. */
#ifndef PG_KWTABLE_H
#define PG_KWTABLE_H

#include <stddef.h>

#include "pg_yaml.h"

#define PG_KW_MAX      256
#define PG_KW_WORD_MAX 64

/* Kinds, numbered as hk_keyword_kind_t (hk_keyword.h). */
typedef enum {
    PG_KW_OPT_OUT = 1,
    PG_KW_OPT_IN = 2,
    PG_KW_PAYMENT_CLAIMED = 3,
    PG_KW_WRONG_NUMBER = 4,
} pg_kw_kind_t;

typedef struct {
    char word[PG_KW_WORD_MAX + 1];
    pg_kw_kind_t kind;
} pg_kw_entry_t;

/* Reads the list node `list` (the value of "keywords") of y's document into out[0..max).
 * Returns the number of entries, or -1 with the error in y->err. */
int pg_kwtable_parse(pg_yaml_t *y, yaml_node_t *list, pg_kw_entry_t *out, size_t max);

/* Reads the "keywords" list of the YAML file at path (other top-level keys are ignored, so the
 * catalog itself can be given) into out[0..max). Returns the number of entries (0 when the file
 * has no "keywords"), or -1 with "FILE[:LINE:COL]: message" in err. */
int pg_kwtable_load(const char *path, pg_kw_entry_t *out, size_t max, char *err, size_t err_len);

#endif
