/* fz_lib.h — what the libFuzzer targets of tests/fuzz share: turning the fuzzer's bytes into the
 * files, strings and fields the code under test reads, and loading the shipped fixtures.
 *
 * Not a test framework: each target is one LLVMFuzzerTestOneInput over one seam of pregon; a
 * property it checks beyond "no crash, no leak, no undefined behaviour" calls fz_fail, which
 * aborts (libFuzzer saves the input). Everything here is for the fuzz build only. */
#ifndef FZ_LIB_H
#define FZ_LIB_H

#include <stddef.h>
#include <stdint.h>

/* Writes data[0..size) to `name` in this process's private folder (made on first use under
 * $TMPDIR, removed at exit) and returns the file's path (a static buffer, valid until the next
 * call). Aborts when the folder or the file cannot be written: the harness is broken then. */
const char *fz_write_file(const char *name, const void *data, size_t size);

/* The private folder fz_write_file writes in (made on first call). */
const char *fz_dir(void);

/* Copies every *.yaml file of the source tree's folder `rel` (e.g. "deploy/policies") into the
 * private folder, so that a fuzzed policy can say `extends: CO`. Aborts on failure. */
void fz_copy_yaml_dir(const char *rel);

/* The path of `rel` in the source tree (PG_SOURCE_DIR), in a static buffer. */
const char *fz_source_path(const char *rel);

/* A NUL-terminated copy of s[0..n) (malloc; aborts when out of memory). */
char *fz_strndup(const void *s, size_t n);

/* One piece of the input: pointer into it and length. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fz_part_t;

/* Splits data[0..size) at every `sep` into at most max parts (the last keeps the rest).
 * Returns the number of parts (at least 1, an empty input giving one empty part). */
size_t fz_split(const uint8_t *data, size_t size, uint8_t sep, fz_part_t *parts, size_t max);

/* Reports a broken property (what, then the input's size) on stderr and aborts. */
void fz_fail(const char *what);

#endif
