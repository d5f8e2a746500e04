/* au_verify.h — checking the audit archive: every shard's chain recomputed from its segments,
 * every seal's and checkpoint's signature, the checkpoints' own chain, the removals, and the
 * content files the records name. The first problem of each shard is named (file, line, seq)
 * and classified: a record edited, removed, reordered, or appended out of band. A break in the
 * chain is attributed with the next signature: when the lines after the break chain up to a
 * valid seal, they are genuine and the line before the break was edited; otherwise the line at
 * the break is the forgery. Reads files only; problems reported through a callback. */
#ifndef AU_VERIFY_H
#define AU_VERIFY_H

#include <stdint.h>

#include "au_chain.h"

typedef struct {
    uint64_t shards, segments, records, signatures, contents, removals;
    uint64_t problems; /* shards with a problem */
    int64_t first_ms, last_ms;
} au_verify_result_t;

/* Verifies dir's segments of days [from_day, to_day] (-1: unbounded). A range that starts
 * after a shard's first segment takes that segment's first link as given. problem(ctx, text)
 * is called once per shard with a problem. Returns 0 (intact), 1 (problems) or -1 (with err:
 * the archive could not be read). */
int au_verify(const char *dir, const au_key_t *pub, int from_day, int to_day,
              void (*problem)(void *ctx, const char *text), void *ctx, au_verify_result_t *res,
              char *err, size_t err_len);

/* The same for one shard only (pregon-audit verifies each segment it closes). */
int au_verify_shard(const char *dir, const au_key_t *pub, int shard, int from_day, int to_day,
                    void (*problem)(void *ctx, const char *text), void *ctx,
                    au_verify_result_t *res, char *err, size_t err_len);

#endif
