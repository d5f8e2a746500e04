/* pg_yaml.h — the libyaml document helpers that pregon's strict YAML loaders share.
 *
 * The policy loader (rl_policy.c) and the template catalog loader (broker/brk_template.c) read a
 * whole file, parse exactly one YAML document with libyaml's document API, refuse explicit tags,
 * and report every problem as one line "FILE:LINE:COLUMN: message" in a buffer their caller
 * passes. This module is that common ground and nothing else: it knows no policy or template
 * vocabulary. Where the two loaders word or count things differently, the difference is written
 * down in a pg_yaml_dialect_t that each loader defines once. Its own library (pg_yaml, with
 * libyaml) so that only the processes that load YAML link libyaml. */
#ifndef PG_YAML_H
#define PG_YAML_H

#include <stddef.h>
#include <yaml.h>

/* How one loader words and counts what the shared helpers report. A loader keeps one static const
 * instance and points every pg_yaml_t at it. */
typedef struct {
    /* 1: every zero-length scalar ('' and "" too) is an empty value; 0: only a plain one is, and a
     * quoted empty string is a string like any other. */
    int quoted_empty_is_empty;
    /* What pg_yaml_text says a value must be: "a string", "a non-empty string"... */
    const char *string_noun;
    /* Converts byte `offset` of buf[0..len) to a 1-based line and column, for libyaml reader
     * errors (invalid UTF-8, control characters), which carry an offset but no mark. */
    void (*offset_pos)(const char *buf, size_t len, size_t offset, size_t *line, size_t *col);
    /* The message for a file without any document, reported at 1:1. */
    const char *empty_msg;
    /* What one file is called in "more than one YAML document in %s": "a catalog"... */
    const char *file_noun;
} pg_yaml_dialect_t;

/* One file being loaded. The caller zero-initializes it, fills dialect, path, buf, len, err and
 * err_len (all borrowed: they must outlive the pg_yaml_t), and keeps buf until pg_yaml_release;
 * pg_yaml_load fills doc. Errors overwrite err[0..err_len), which may be NULL. */
typedef struct {
    const pg_yaml_dialect_t *dialect;
    const char *path; /* the file name every message starts with */
    const char *buf;  /* the file as read */
    size_t len;
    char *err;
    size_t err_len;
    yaml_document_t doc; /* valid while has_doc */
    int has_doc;
} pg_yaml_t;

/* A key of a mapping with a fixed set of keys, once seen (pg_yaml_fields); both NULL while
 * absent. The nodes belong to the document. */
typedef struct {
    yaml_node_t *key;
    yaml_node_t *val;
} pg_yaml_slot_t;

/* Reads the whole file at `path` into a malloc'd buffer (not NUL-terminated) that the caller
 * then owns and frees. Returns 0, or an errno value: EFBIG when the file is larger than
 * max_bytes (files up to twice max_bytes may pass: the buffer grows by doubling and the limit is
 * checked between steps), ENOMEM, or what fopen/fread set. */
int pg_yaml_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len);

/* Formats a message into err[0..err_len) (nothing when err is NULL or err_len is 0), turning line
 * breaks into spaces so that the message stays one line. */
void pg_yaml_write_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports "PATH:LINE:COL: message" at a 0-based line and column of y's file; returns -1. */
int pg_yaml_fail_at(pg_yaml_t *y, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reports "PATH:LINE:COL: message" at the start of node n; returns -1. */
int pg_yaml_fail(pg_yaml_t *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies the NUL-terminated `in` for quoting in a one-line message: control bytes become '?',
 * text longer than out_len - 4 bytes is cut after a whole UTF-8 character and marked "...".
 * Returns out. out_len must be at least 4. */
const char *pg_yaml_quote(char *out, size_t out_len, const char *in);

/* pg_yaml_quote of at most in_len bytes of `in` (it still stops at a NUL). */
const char *pg_yaml_quote_n(char *out, size_t out_len, const char *in, size_t in_len);

/* Parses y->buf as exactly one YAML document into y->doc and returns its root node, or reports
 * the error in y->err and returns NULL: a libyaml error (with its position; the reader's through
 * the dialect's offset_pos), an empty file, an explicit tag (!!binary, !foo) on any node, or a
 * second document. On success the caller calls pg_yaml_release when done with the nodes. */
yaml_node_t *pg_yaml_load(pg_yaml_t *y);

/* Deletes y's document, if any; y may be loaded again. Accepts a y that was never loaded. */
void pg_yaml_release(pg_yaml_t *y);

/* The node at `index` of y's document, or NULL if there is none. */
yaml_node_t *pg_yaml_node(pg_yaml_t *y, int index);

/* 1 if n is an empty value by y's dialect (a plain empty scalar, or any zero-length one). */
int pg_yaml_is_empty(const pg_yaml_t *y, const yaml_node_t *n);

/* The kind of n for messages: "an empty value", "a scalar", "a list", "a mapping" or "nothing".
 * Returns a static string. */
const char *pg_yaml_type_name(const pg_yaml_t *y, const yaml_node_t *n);

/* 0 if n has the type given, else reports "WHAT must be a mapping|a list|a scalar, found ..." and
 * returns -1. */
int pg_yaml_expect(pg_yaml_t *y, yaml_node_t *n, yaml_node_type_t type, const char *what);

/* The text of a scalar node into *out (borrowed from the document), refusing other node types,
 * empty values (by the dialect) and embedded NULs. Returns 0 or -1 with the error reported. */
int pg_yaml_text(pg_yaml_t *y, yaml_node_t *n, const char *what, const char **out);

/* Collects the keys of mapping `map`, all of which must be in `keys` (NULL-terminated), into
 * slots (parallel to keys), refusing a node that is not a mapping, keys that are not strings,
 * unknown keys (the message lists the expected ones) and duplicate keys. WHAT names the mapping
 * in messages ("policy", "a template"). Returns 0 or -1 with the error reported. */
int pg_yaml_fields(pg_yaml_t *y, yaml_node_t *map, const char *what, const char *const *keys,
                   pg_yaml_slot_t *slots);

/* 0 if slot (from pg_yaml_fields) holds a value, else reports at `map` "WHAT is missing required
 * key "KEY"" and returns -1. */
int pg_yaml_require(pg_yaml_t *y, yaml_node_t *map, const pg_yaml_slot_t *slot, const char *key,
                    const char *what);

#endif
