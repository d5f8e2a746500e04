/* em_smtp.h — pregon-email's driver: one Dispatch with EmailContent becomes one SMTP submission
 * through libcurl (smtp:// with STARTTLS required unless configured otherwise, or smtps://),
 * in the worker runtime's multi handle, so connections to the relay are reused.
 *
 * prepare: checks the warm-up allowance of the From domain and the receiving domain's limits
 * and backoff (em_domains; a job held back is handed back, due when it may go), builds the
 * message (em_message: GMime), adds the one-click unsubscribe headers (pg_unsub token), signs
 * it (DKIM, when the From domain has a key) and gives curl MAIL FROM, RCPT TO and the message.
 * classify: SMTP reply codes to outcomes:
 *   250 after DATA                  SENT (provider_id: our Message-ID)
 *   421, 451, 452, other 4xx        RETRY; 421/451 also back the receiving domain off
 *   550, 551, 553 at RCPT or DATA   FAILED, hard bounce: CHW_RESULT_SUPPRESS | CHW_RESULT_FALLBACK
 *   other 5xx                       FAILED
 *   535/530/534, curl LOGIN_DENIED  CONFIG_ERROR (authentication: the channel halts)
 *   5xx at MAIL FROM                CONFIG_ERROR (the relay refuses our sender)
 *   no STARTTLS, untrusted cert     CONFIG_ERROR
 *   a dialogue cut before DATA's end: RETRY; after the message went (354 was the last reply):
 *   UNKNOWN.
 * shape_key: the recipient's domain (the runtime's --rate is per receiving domain). */
#ifndef EM_SMTP_H
#define EM_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "chw_driver.h"

typedef struct em_smtp em_smtp_t;

/* The driver's settings; strings borrowed for em_smtp_new only. NULL/"" = not set. */
typedef struct {
    const char *url;       /* smtp://relay:587 or smtps://relay:465 (required) */
    const char *tls;       /* "required" (default), "try", "none" (plain smtp:// only) */
    const char *ca_file;   /* CA bundle that signs the relay's certificate */
    const char *user;      /* AUTH user; NULL = no AUTH */
    const char *password;  /* AUTH password (a secret) */
    const char *from;      /* default From address for jobs without a sender address */
    const char *from_name; /* display name of From (UTF-8, RFC 2047-encoded when needed) */
    const char *reply_to;
    const char *bounce;        /* envelope sender (MAIL FROM); default: the From address */
    const char *dkim;          /* "DOMAIN=SELECTOR:KEYFILE[,...]" */
    const char *unsub_url;     /* base of the one-click URL: "https://hooks.example/u/" + TOKEN */
    const char *unsub_mailto;  /* address of the mailto: entry ("bajas@acme.example") */
    const char *unsub_key;     /* HMAC key shared with pregon-hooks (a secret) */
    const char *warmup;        /* "DOMAIN:YYYY-MM-DD[,...]": sending domains warmed up */
    int64_t warmup_initial;    /* day 1's messages (default 200) */
    int64_t warmup_ceiling;    /* the schedule's ceiling (default 100000; 0 = none) */
    const char *domain_limits; /* "gmail.com=60/4,*=0/8": per receiving domain msgs/min and
                                  concurrency (0 = unlimited) */
    int64_t domain_backoff_ms, domain_backoff_cap_ms; /* after a 421/451 of a domain */
    const char *state_path; /* warm-up counts file; NULL = in memory only */
    int64_t clock_offset_s; /* tests: the driver's clock runs this far ahead */
} em_smtp_config_t;

/* Builds the driver. NULL with a one-line reason in err (never a secret). */
em_smtp_t *em_smtp_new(const em_smtp_config_t *config, char *err, size_t err_len);
/* Frees it (secrets wiped); accepts NULL; nulls the caller's pointer. */
void em_smtp_destroy(em_smtp_t **self_p);
/* The driver table over self (borrowed: self must outlive the worker). */
chw_driver_t em_smtp_driver(em_smtp_t *self);
/* "relay HOST as USER" for a log line (user masked). */
void em_smtp_identity(const em_smtp_t *self, char *buf, size_t len);
/* The fix to suggest for a CONFIG_ERROR result. */
const char *em_smtp_halt_hint(const chw_result_t *result);

/* Classifies one finished SMTP transfer: the last reply code, the CURLcode and curl's error
 * text (which says which command failed). Pure; the unit tests call it. */
void em_smtp_classify(long code, int curl_code, const char *errmsg, chw_result_t *out);

/* The domain of an address ("a@B.com" -> "b.com", lowercased into buf); "" when none. */
const char *em_smtp_domain(const char *addr, char *buf, size_t len);

#endif
