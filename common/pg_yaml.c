/* pg_yaml.c — the libyaml document helpers shared by the policy and template catalog loaders.
 *
 * Reading a file, parsing one document, node access and the generic checks (types, strings,
 * fixed key sets) with their "FILE:LINE:COLUMN: message" errors. What a key means, and every
 * message about a value's content, stays in the loaders (rl_policy.c, brk_template.c). */
#include "pg_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MSG_MAX 400

int pg_yaml_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len) {
    errno = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return errno ? errno : ENOENT;
    }
    size_t cap = 16384, n = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        char *grown = realloc(buf, cap);
        if (!grown) {
            rc = ENOMEM;
            break;
        }
        buf = grown;
        n += fread(buf + n, 1, cap - n, fp);
        if (ferror(fp)) {
            rc = errno ? errno : EIO;
            break;
        }
        if (n < cap) {
            break; /* end of file */
        }
        if (cap > max_bytes) {
            rc = EFBIG;
            break;
        }
        cap *= 2;
    }
    fclose(fp);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static void s_vwrite_err(char *err, size_t err_len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void s_vwrite_err(char *err, size_t err_len, const char *fmt, va_list ap) {
    if (!err || err_len == 0) {
        return;
    }
    vsnprintf(err, err_len, fmt, ap);
    for (char *p = err; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' '; /* one line, whatever a path or libyaml says */
        }
    }
}

void pg_yaml_write_err(char *err, size_t err_len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    s_vwrite_err(err, err_len, fmt, ap);
    va_end(ap);
}

static int s_vfail_at(pg_yaml_t *y, size_t line, size_t col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int s_vfail_at(pg_yaml_t *y, size_t line, size_t col, const char *fmt, va_list ap) {
    char msg[S_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pg_yaml_write_err(y->err, y->err_len, "%s:%zu:%zu: %s", y->path, line + 1, col + 1, msg);
    return -1;
}

int pg_yaml_fail_at(pg_yaml_t *y, size_t line, size_t col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    s_vfail_at(y, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

int pg_yaml_fail(pg_yaml_t *y, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    s_vfail_at(y, n->start_mark.line, n->start_mark.column, fmt, ap);
    va_end(ap);
    return -1;
}

const char *pg_yaml_quote_n(char *out, size_t out_len, const char *in, size_t in_len) {
    size_t n = 0;
    const size_t max = out_len - 4;
    for (size_t i = 0; i < in_len && in[i] && n < out_len - 1; i++) {
        unsigned char c = (unsigned char)in[i];
        if (n >= max) {
            while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80) {
                n--; /* do not leave half a UTF-8 sequence */
            }
            if (n > 0 && ((unsigned char)out[n - 1] & 0x80)) {
                n--;
            }
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        out[n++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    out[n] = '\0';
    return out;
}

const char *pg_yaml_quote(char *out, size_t out_len, const char *in) {
    return pg_yaml_quote_n(out, out_len, in, SIZE_MAX);
}

/* Reports the error that made yaml_parser_load fail; always returns -1. */
static int s_syntax_error(pg_yaml_t *y, const yaml_parser_t *parser) {
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    if (parser->error == YAML_MEMORY_ERROR) {
        pg_yaml_write_err(y->err, y->err_len, "%s: out of memory while parsing", y->path);
    } else if (parser->error == YAML_READER_ERROR) {
        size_t line, col;
        y->dialect->offset_pos(y->buf, y->len, parser->problem_offset, &line, &col);
        pg_yaml_write_err(y->err, y->err_len, "%s:%zu:%zu: YAML error: %s", y->path, line, col,
                          problem);
    } else if (parser->context) {
        pg_yaml_write_err(y->err, y->err_len, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)",
                          y->path, parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                          problem, parser->context, parser->context_mark.line + 1);
    } else {
        pg_yaml_write_err(y->err, y->err_len, "%s:%zu:%zu: YAML syntax error: %s", y->path,
                          parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
    }
    return -1;
}

/* The first node of y->doc that carries a tag other than its kind's default, or NULL. */
static yaml_node_t *s_tagged_node(pg_yaml_t *y) {
    for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top; n++) {
        const char *want = n->type == YAML_SCALAR_NODE     ? YAML_DEFAULT_SCALAR_TAG
                           : n->type == YAML_SEQUENCE_NODE ? YAML_DEFAULT_SEQUENCE_TAG
                                                           : YAML_DEFAULT_MAPPING_TAG;
        if (n->tag && strcmp((const char *)n->tag, want) != 0) {
            return n;
        }
    }
    return NULL;
}

yaml_node_t *pg_yaml_load(pg_yaml_t *y) {
    yaml_parser_t parser;
    yaml_document_t extra;
    yaml_node_t *root = NULL;
    pg_yaml_release(y);
    if (!yaml_parser_initialize(&parser)) {
        pg_yaml_write_err(y->err, y->err_len, "%s: out of memory", y->path);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)y->buf, y->len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        s_syntax_error(y, &parser);
        goto done;
    }
    y->has_doc = 1;
    root = yaml_document_get_root_node(&y->doc);
    if (!root) {
        pg_yaml_fail_at(y, 0, 0, "%s", y->dialect->empty_msg);
        goto done;
    }
    yaml_node_t *tagged = s_tagged_node(y);
    if (tagged) {
        char q[48];
        pg_yaml_fail(y, tagged, "explicit YAML tags are not allowed (found %s)",
                     pg_yaml_quote(q, sizeof q, (const char *)tagged->tag));
        root = NULL;
        goto done;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        s_syntax_error(y, &parser);
        root = NULL;
        goto done;
    }
    if (yaml_document_get_root_node(&extra)) {
        pg_yaml_fail_at(y, extra.start_mark.line, extra.start_mark.column,
                        "more than one YAML document in %s", y->dialect->file_noun);
        root = NULL;
    }
    yaml_document_delete(&extra);
done:
    yaml_parser_delete(&parser);
    if (!root) {
        pg_yaml_release(y);
    }
    return root;
}

void pg_yaml_release(pg_yaml_t *y) {
    if (y->has_doc) {
        yaml_document_delete(&y->doc);
        y->has_doc = 0;
    }
}

yaml_node_t *pg_yaml_node(pg_yaml_t *y, int index) {
    return y->has_doc ? yaml_document_get_node(&y->doc, index) : NULL;
}

int pg_yaml_is_empty(const pg_yaml_t *y, const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
           (y->dialect->quoted_empty_is_empty || n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

const char *pg_yaml_type_name(const pg_yaml_t *y, const yaml_node_t *n) {
    switch (n->type) {
        case YAML_SCALAR_NODE:
            return pg_yaml_is_empty(y, n) ? "an empty value" : "a scalar";
        case YAML_SEQUENCE_NODE:
            return "a list";
        case YAML_MAPPING_NODE:
            return "a mapping";
        default:
            return "nothing";
    }
}

int pg_yaml_expect(pg_yaml_t *y, yaml_node_t *n, yaml_node_type_t type, const char *what) {
    if (n->type == type) {
        return 0;
    }
    const char *want = type == YAML_MAPPING_NODE    ? "a mapping"
                       : type == YAML_SEQUENCE_NODE ? "a list"
                                                    : "a scalar";
    return pg_yaml_fail(y, n, "%s must be %s, found %s", what, want, pg_yaml_type_name(y, n));
}

int pg_yaml_text(pg_yaml_t *y, yaml_node_t *n, const char *what, const char **out) {
    if (n->type != YAML_SCALAR_NODE || pg_yaml_is_empty(y, n)) {
        return pg_yaml_fail(y, n, "%s must be %s, found %s", what, y->dialect->string_noun,
                            pg_yaml_type_name(y, n));
    }
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length) {
        return pg_yaml_fail(y, n, "%s contains a NUL character", what);
    }
    *out = v;
    return 0;
}

int pg_yaml_fields(pg_yaml_t *y, yaml_node_t *map, const char *what, const char *const *keys,
                   pg_yaml_slot_t *slots) {
    if (pg_yaml_expect(y, map, YAML_MAPPING_NODE, what) != 0) {
        return -1;
    }
    size_t n_keys = 0;
    while (keys[n_keys]) {
        slots[n_keys].key = slots[n_keys].val = NULL;
        n_keys++;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = pg_yaml_node(y, p->key);
        yaml_node_t *v = pg_yaml_node(y, p->value);
        const char *name = NULL;
        if (!k || !v) {
            return pg_yaml_fail(y, map, "malformed mapping");
        }
        if (pg_yaml_text(y, k, "a key", &name) != 0) {
            return -1;
        }
        size_t i = 0;
        while (i < n_keys && strcmp(keys[i], name) != 0) {
            i++;
        }
        char q[48];
        if (i == n_keys) {
            char list[S_MSG_MAX / 2];
            size_t used = 0;
            list[0] = '\0';
            for (size_t j = 0; j < n_keys && used < sizeof list; j++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", keys[j]);
                used += w > 0 ? (size_t)w : 0;
            }
            return pg_yaml_fail(y, k, "unknown key \"%s\" in %s (expected %s)",
                                pg_yaml_quote(q, sizeof q, name), what, list);
        }
        if (slots[i].key) {
            return pg_yaml_fail(y, k, "duplicate key \"%s\" in %s (first at line %zu)", name, what,
                                slots[i].key->start_mark.line + 1);
        }
        slots[i].key = k;
        slots[i].val = v;
    }
    return 0;
}

int pg_yaml_require(pg_yaml_t *y, yaml_node_t *map, const pg_yaml_slot_t *slot, const char *key,
                    const char *what) {
    if (slot->val) {
        return 0;
    }
    return pg_yaml_fail(y, map, "%s is missing required key \"%s\"", what, key);
}
