/* brk_validate.h — field and contact-point checks of a send job, run at admission.
 *
 * Pure functions without state or allocation: each answers NULL when the value is acceptable,
 * or a static, stable reason code ("bad-phone", "bad-email"...) that pregond puts in a REJECTED
 * verdict and counts (G5). They check form only: whether a number is in service, an address has
 * a mailbox or a PSID belongs to the page is the provider's to say. Channels are numbered as in
 * pregon.proto's Channel enum (rl_policy.h's RL_CH_*). The limits are brk_limits.h's. */
#ifndef BRK_VALIDATE_H
#define BRK_VALIDATE_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "brk_limits.h" /* every length and count limit used here */

/* Job id: 1..128 bytes of printable ASCII (0x21..0x7E) other than '{' and '}', which would
 * change the Redis Cluster hash tag of keys built from it. NULL is refused. -> "bad-job-id" */
const char *brk_val_job_id(const char *job_id);

/* Tenant: the job id's alphabet, 1..64 bytes. -> "bad-tenant" */
const char *brk_val_tenant(const char *tenant);

/* Debtor id: the job id's alphabet, 1..128 bytes. -> "bad-debtor" */
const char *brk_val_debtor(const char *debtor_id);

/* Debt id: optional (NULL or "" accepted), else the job id's alphabet, at most 128 bytes.
 * -> "bad-debt" */
const char *brk_val_debt(const char *debt_id);

/* The contact point of a job on `channel` (at most BRK_LIM_CONTACT bytes whatever the channel):
 *   sms, whatsapp, voice: E.164, '+' then 7..15 digits, the first not 0 (pg_contact_e164)
 *     -> "bad-phone"
 *   email: a dot-atom local part of at most 64 bytes '@' a domain of LDH labels, at most 254
 *     bytes in all (pg_contact_email) -> "bad-email"
 *   messenger: a page-scoped id, 1..32 digits (pg_contact_psid) -> "bad-psid"
 *   anything else (CHANNEL_UNSPECIFIED included) -> "bad-channel" */
const char *brk_val_contact(int channel, const char *contact);

/* A job's template variables (parallel arrays of n keys and values; either may be NULL when n is
 * 0). The first failing check answers, in this order:
 *   more than BRK_LIM_VARS (64) entries                              -> "variables-too-many"
 *   and for each entry in order:
 *   a NULL key or value                                              -> "bad-variables"
 *   a key past BRK_LIM_VAR_KEY (64) bytes                            -> "variables-key-too-long"
 *   a key empty or not all [A-Za-z0-9_]                              -> "bad-variables"
 *   a key given twice (protobuf maps travel as repeated entries, so
 *   a frame can repeat one)                                          -> "bad-variables"
 *   a value past BRK_LIM_VAR_VALUE (1024) bytes                      -> "variables-value-too-long"
 *   a value that is not well-formed UTF-8                            -> "variables-not-utf8"
 *   a value with a control character (C0, DEL, C1) other than '\n'  -> "bad-variables"
 * Reads at most BRK_LIM_VAR_KEY + 1 bytes of a key and BRK_LIM_VAR_VALUE + 1 of a value. */
const char *brk_val_variables(size_t n, const char *const *keys, const char *const *values);

/* Results of brk_val_text. */
typedef enum {
    BRK_VAL_TEXT_OK = 0,   /* NULL, or at most max bytes of well-formed UTF-8 */
    BRK_VAL_TEXT_LONG = 1, /* longer than max bytes */
    BRK_VAL_TEXT_UTF8 = 2, /* within max bytes, but not well-formed UTF-8 */
} brk_val_text_t;

/* A free-text field of a job (campaign, sender, time zone...): is the NUL-terminated s at most
 * `max` bytes of well-formed UTF-8? NULL counts as "" (protobuf-c gives unset strings as "").
 * Reads at most max + 1 bytes of s, so an oversized field costs no more than a valid one. The
 * caller turns the result into the field's reason code ("<field>-too-long", "<field>-not-utf8",
 * brk_submit.h). */
brk_val_text_t brk_val_text(const char *s, size_t max);

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence), else 0. NUL bytes are valid UTF-8 here; callers that refuse
 * them check separately. s may be NULL when len is 0.
 *
 * For the frontend: proto3 `string` fields must be UTF-8 and strict protobuf clients (Go, Java,
 * C++ with UTF-8 checks) refuse to parse a message that breaks this. A verdict echoes its job's
 * job_id; a job rejected "bad-job-id" may carry any bytes there, so call
 * brk_val_utf8(job_id, strlen(job_id)) before echoing it, and echo "" when it answers 0 (the
 * verdict's position in SubmitReply still identifies the job). Every job_id that passes
 * brk_val_job_id is printable ASCII, hence UTF-8. The same holds for SubmitBatch.batch_id. */
int brk_val_utf8(const char *s, size_t len);

/* Largest field number protobuf allows (2^29 - 1): a key is the number shifted left by 3. */
#define BRK_VAL_FIELD_NUMBER_MAX 536870911u

/* 1 if every unknown field protobuf-c kept in m, and in every sub-message m holds (repeated
 * ones and the set member of a oneof included), has a field number in 1..2^29 - 1; else 0.
 * protobuf-c 1.4 reads a key of field number 0 written in two or more bytes (0x80 0x00), and
 * numbers up to 2^32 - 1, as unknown fields, but the bytes it packs for them are refused by its
 * own unpack: a job stored with one would be unreadable at dispatch (found by tests/fuzz).
 * Walks the descriptors; no allocation. m may be NULL (1). */
int brk_val_repackable(const ProtobufCMessage *m);

#endif
