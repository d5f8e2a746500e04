/* brk_evidence.h — content evidence: what a dispatched attempt carried, for the audit archive.
 *
 * pregond renders a job's content at dispatch (brk_tpl_render_content), after pg_lease wrote
 * the attempt's DISPATCHED record: the rendered content exists only here. For each dispatched
 * attempt this module adds one CONTENT record to the job's shard's audit stream (a plain XADD,
 * pipelined: not a transition, the job's state is pg_lease's): "v at job tenant debtor channel
 * from(dispatch) to(CONTENT) attempt template content", content the SHA-256 of the canonical
 * JSON of the content (members sorted: text; subject, text and html; WhatsApp name, language
 * and parameters; the voice script), plus "body", that JSON, the first time this process ships
 * that hash (a direct-mapped cache of 4096 hashes: a million identical reminders carry their
 * body a handful of times, not a million). pregon-audit keeps each body once, under its hash
 * (broker/audit/au_drain.h), and drops it from the record. Errors are returned. */
#ifndef BRK_EVIDENCE_H
#define BRK_EVIDENCE_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "pregon.pb-c.h"

typedef struct brk_evidence brk_evidence_t;

/* For the key layout of prefix and shards. NULL on failure. */
brk_evidence_t *brk_evidence_new(const char *prefix, int shards);
void brk_evidence_destroy(brk_evidence_t **self_p);

/* The canonical JSON of a content (malloc'd; NULL without memory) and its SHA-256 hex. */
char *brk_evidence_body(const Pregon__Content *content, char hash[65]);

/* Keeps the CONTENT record of attempt `attempt` of req, which carried content, for the next
 * flush (nothing is sent to Redis here: a dispatch batch's other calls keep their pipeline).
 * Returns 1, or 0 (no memory: nothing kept). */
int brk_evidence_append(brk_evidence_t *self, const Pregon__SendRequest *req, unsigned attempt,
                        const Pregon__Content *content, int64_t now_ms);

/* Sends the records kept since the last flush, pipelined, and reads their replies. 0, or -1
 * when one failed (then the cache is forgotten: bodies ship again). */
int brk_evidence_flush(brk_evidence_t *self, redisContext *c);

#endif
