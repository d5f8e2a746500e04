/* brk_validate.h — field and contact-point checks of a send job, run at admission.
 *
 * Pure functions without state or allocation: each answers NULL when the value is acceptable,
 * or a static, stable reason code ("bad-phone", "bad-email"...) that pregond puts in a REJECTED
 * verdict and counts (G5). They check form only: whether a number is in service, an address has
 * a mailbox or a PSID belongs to the page is the provider's to say. Channels are numbered as in
 * pregon.proto's Channel enum (rl_policy.h's RL_CH_*). */
#ifndef BRK_VALIDATE_H
#define BRK_VALIDATE_H

#include <stddef.h>

#define BRK_VAL_ID_MAX        128  /* job id, debtor id, debt id: bytes */
#define BRK_VAL_TENANT_MAX    64   /* tenant: bytes */
#define BRK_VAL_MAX_VARS      64   /* variables per job */
#define BRK_VAL_VAR_NAME_MAX  64   /* bytes of a variable name */
#define BRK_VAL_VAR_VALUE_MAX 1024 /* bytes of a variable value */

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

/* The contact point of a job on `channel`:
 *   sms, whatsapp, voice: E.164, '+' then 8..15 digits, the first not 0 (no spaces, dashes or
 *                         national prefixes; country-specific lengths are not checked) ->
 * "bad-phone" email:     a dot-atom local part (ASCII letters, digits and !#$%&'*+/=?^_`{|}~-
 * separated by single dots, at most 64 bytes) '@' a domain of at least two labels, each 1..63
 *              letters, digits or '-' not starting or ending with '-', the last not all digits;
 *              at most 254 bytes in all. Quoted local parts, address literals and non-ASCII
 *              (SMTPUTF8, IDN other than punycode "xn--") are refused -> "bad-email"
 *   messenger: a page-scoped id, 1..32 digits -> "bad-psid"
 *   anything else (CHANNEL_UNSPECIFIED included) -> "bad-channel" */
const char *brk_val_contact(int channel, const char *contact);

/* A job's template variables (parallel arrays of n keys and values; either may be NULL when n is
 * 0): at most 64; each key 1..64 of [A-Za-z0-9_], no key twice (protobuf maps travel as repeated
 * entries, so a frame can repeat one); each value at most 1024 bytes of valid UTF-8 without
 * control characters (C0, DEL, C1) other than '\n'. -> "bad-variables" */
const char *brk_val_variables(size_t n, const char *const *keys, const char *const *values);

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence), else 0. NUL bytes are valid UTF-8 here; callers that refuse
 * them check separately. s may be NULL when len is 0. */
int brk_val_utf8(const char *s, size_t len);

#endif
