/* pg_contact.h — is this string a well-formed contact point: a phone number in E.164, an e-mail
 * address, a Messenger page-scoped id?
 *
 * The one definition of each, used by the broker at admission (brk_validate), by the sandbox's
 * simulated providers and by the webhook receiver. Form only: whether a number is in service,
 * an address has a mailbox or a PSID belongs to a page is the provider's to say. Pure functions
 * over bytes, no allocation, no locale; each reads at most its maximum length + 1 bytes of s.
 * Thread-safe. */
#ifndef PG_CONTACT_H
#define PG_CONTACT_H

#include <stdbool.h>

/* Longest accepted contact points, in bytes (without the NUL). */
#define PG_CONTACT_E164_MAX        16 /* '+' and 15 digits */
#define PG_CONTACT_EMAIL_MAX       254
#define PG_CONTACT_EMAIL_LOCAL_MAX 64
#define PG_CONTACT_PSID_MAX        32

/* E.164: '+' then 7..15 ASCII digits, the first not 0. No spaces, dashes, "tel:" or national
 * prefixes; country-specific lengths are not checked (the shortest numbers in use, e.g. Niue's
 * or Saint Helena's, have 7 digits with the country code). NULL is refused. */
bool pg_contact_e164(const char *s);

/* E-mail address, a practical subset of RFC 5321/5322: a dot-atom local part (ASCII letters,
 * digits and !#$%&'*+/=?^_`{|}~- in runs separated by single dots, 1..64 bytes), '@', a domain
 * of at least two labels, each 1..63 letters, digits or '-', not starting or ending with '-',
 * the last not all digits; at most 254 bytes in all. Quoted local parts, address literals,
 * comments, spaces, control characters and non-ASCII (SMTPUTF8; IDNs must be given as
 * punycode "xn--") are refused. NULL is refused. */
bool pg_contact_email(const char *s);

/* Messenger page-scoped id: 1..32 ASCII digits. NULL is refused. */
bool pg_contact_psid(const char *s);

#endif
