/* hk_secrets.h — provider secrets by account: Twilio auth tokens per AccountSid (next: Meta app
 * secrets and verify tokens per app). pregon-hooks checks a webhook's signature with the secret
 * of the account the webhook names.
 *
 * Secrets come from a file or the environment, never from a flag (ps would show it) and never
 * reach a log: errors name the file and the line, never the text. The memory holding them is
 * zeroed when freed. Read-only after loading, so handler threads may look up concurrently. */
#ifndef HK_SECRETS_H
#define HK_SECRETS_H

#include <stddef.h>

typedef struct hk_secrets hk_secrets_t;

/* Returns an empty set, or NULL when out of memory. */
hk_secrets_t *hk_secrets_new(void);

/* Zeroes and frees; accepts NULL and nulls the caller's pointer. */
void hk_secrets_destroy(hk_secrets_t **self_p);

/* Adds (or replaces) the secret of account. Both are copied. Returns 0, or -1 when out of
 * memory or when either is empty. */
int hk_secrets_add(hk_secrets_t *self, const char *account, const char *secret);

/* Reads a file of lines "ACCOUNT SECRET" (separated by spaces or tabs; blank lines and lines
 * starting with '#' skipped). A line past 1023 bytes, a NUL byte, or an account already in the
 * set is an error. Returns the number of accounts read, or -1 with a reason in err (which never
 * quotes the file's text); the accounts of the lines before the error stay added. */
int hk_secrets_load_file(hk_secrets_t *self, const char *path, char *err, size_t errlen);

/* The secret of account (borrowed, valid as long as the set), NULL when unknown. */
const char *hk_secrets_get(const hk_secrets_t *self, const char *account);

/* Number of accounts. */
size_t hk_secrets_count(const hk_secrets_t *self);

#endif
