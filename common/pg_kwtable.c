/* pg_kwtable.c — reading the catalog's keyword table (see pg_kwtable.h) with pg_yaml's strict
 * document helpers. */
#include "pg_kwtable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg_utf8.h"

#define S_MAX_FILE (1u << 20)

static const struct {
    const char *name;
    pg_kw_kind_t kind;
} s_kinds[] = {{"opt-out", PG_KW_OPT_OUT},
               {"opt-in", PG_KW_OPT_IN},
               {"payment-claimed", PG_KW_PAYMENT_CLAIMED},
               {"wrong-number", PG_KW_WRONG_NUMBER}};

int pg_kwtable_parse(pg_yaml_t *y, yaml_node_t *list, pg_kw_entry_t *out, size_t max) {
    if (pg_yaml_expect(y, list, YAML_SEQUENCE_NODE, "keywords") != 0)
        return -1;
    size_t n = 0;
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *item = pg_yaml_node(y, *it);
        static const char *const keys[] = {"word", "kind", NULL};
        pg_yaml_slot_t s[2] = {{0}};
        const char *word = NULL, *kind = NULL;
        if (!item || pg_yaml_fields(y, item, "a keyword", keys, s) != 0 ||
            pg_yaml_require(y, item, &s[0], "word", "a keyword") != 0 ||
            pg_yaml_require(y, item, &s[1], "kind", "a keyword") != 0 ||
            pg_yaml_text(y, s[0].val, "word", &word) != 0 ||
            pg_yaml_text(y, s[1].val, "kind", &kind) != 0)
            return -1;
        if (n == max || n == PG_KW_MAX)
            return pg_yaml_fail(y, item, "more than %d keywords", PG_KW_MAX);
        size_t len = strlen(word);
        if (len == 0 || len > PG_KW_WORD_MAX || !pg_utf8_valid(word, len) || strchr(word, '\n'))
            return pg_yaml_fail(y, s[0].val, "word must be 1..%d bytes of UTF-8 on one line",
                                PG_KW_WORD_MAX);
        pg_kw_entry_t *e = &out[n];
        memcpy(e->word, word, len + 1);
        e->kind = 0;
        for (size_t k = 0; k < sizeof s_kinds / sizeof s_kinds[0]; k++)
            if (strcmp(kind, s_kinds[k].name) == 0)
                e->kind = s_kinds[k].kind;
        if (!e->kind)
            return pg_yaml_fail(y, s[1].val,
                                "kind must be opt-out, opt-in, payment-claimed or wrong-number");
        n++;
    }
    return (int)n;
}

static void s_offset_pos(const char *buf, size_t len, size_t offset, size_t *line, size_t *col) {
    *line = 1, *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n')
            (*line)++, *col = 1;
        else
            (*col)++;
    }
}

static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 1,
    .string_noun = "a non-empty string",
    .offset_pos = s_offset_pos,
    .empty_msg = "empty file (expected a mapping with \"keywords\")",
    .file_noun = "a keyword file",
};

int pg_kwtable_load(const char *path, pg_kw_entry_t *out, size_t max, char *err, size_t err_len) {
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, S_MAX_FILE, &buf, &len);
    if (e != 0) {
        pg_yaml_write_err(err, err_len, "%s: %s", path,
                          e == EFBIG ? "larger than 1 MiB" : strerror(e));
        return -1;
    }
    pg_yaml_t y = {.dialect = &s_dialect,
                   .path = path,
                   .buf = buf,
                   .len = len,
                   .err = err,
                   .err_len = err_len};
    yaml_node_t *root = pg_yaml_load(&y);
    int n = root ? 0 : -1;
    if (root && pg_yaml_expect(&y, root, YAML_MAPPING_NODE, "the file") != 0)
        n = -1;
    for (yaml_node_pair_t *p = root && n == 0 ? root->data.mapping.pairs.start : NULL;
         p && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = pg_yaml_node(&y, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, "keywords") == 0) {
            n = pg_kwtable_parse(&y, pg_yaml_node(&y, p->value), out, max);
            break;
        }
    }
    pg_yaml_release(&y);
    free(buf);
    return n;
}
