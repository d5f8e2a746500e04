/* pc_job.h — a job as JSON (pregon.proto's field names) to a SendRequest, and a Verdict to JSON.
 *
 * The one mapping between the JSON a campaign system writes (a JSON Lines or CSV row of
 * `pregonctl submit`, a body of pregon-api's POST /v1/jobs) and the wire. Channel and role
 * names are case-insensitive and the proto's enum names are accepted ("SMS", "whatsapp",
 * "DEBTOR"); times are RFC 3339 with an offset or Unix seconds; an unknown field is refused by
 * name. Pure functions; thread-safe. */
#ifndef PC_JOB_H
#define PC_JOB_H

#include <jansson.h>
#include <stddef.h>

#include "pregon.pb-c.h"

/* The largest serialized SendRequest pregond admits (brk_limits.h BRK_LIM_JOB_BYTES): a larger
 * job is answered here, never sent (REJECTED job.fields / job-too-large). */
size_t pc_job_max_bytes(void);

/* True when name is a job field (a JSON key or a CSV column; CSV's var.NAME columns too). */
int pc_job_known_field(const char *name);

/* Builds a SendRequest from a JSON object. Returns it (free with
 * pregon__send_request__free_unpacked(r, NULL)), or NULL with the reason in err. */
Pregon__SendRequest *pc_job_from_json(const json_t *o, char *err, size_t errlen);

/* "ACCEPTED", "BUSY", ... for a Verdict code; "UNKNOWN" out of range. */
const char *pc_job_code_name(int code);

/* The verdict as JSON: {"job_id","verdict","rule"?,"reason"?,"until"? (RFC 3339 UTC),
 * "until_unix"?, "first"? (DUPLICATE)}. The caller owns the reference. */
json_t *pc_job_verdict_json(const Pregon__Verdict *v);

/* A verdict made here for a job that is not sent (too large): REJECTED rule/reason. */
json_t *pc_job_local_verdict(const char *job_id, const char *rule, const char *reason);

/* True when a REJECTED verdict was decided by validation (rule job.* or auth.*): the job must
 * be fixed, not resubmitted. */
int pc_job_rejected_invalid(const char *rule);

#endif
