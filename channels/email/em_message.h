/* em_message.h — one e-mail message, built with GMime 3 and signed with DKIM (libopendkim).
 *
 * em_message_build writes the RFC 5322 message pregon-email submits: From, To (display names
 * RFC 2047-encoded when not ASCII), Subject (RFC 2047), Date, Message-ID, MIME-Version,
 * X-Pregon-Job (our reference to the job), List-Unsubscribe and List-Unsubscribe-Post (RFC 8058)
 * when given, and a multipart/alternative body (text/plain then text/html, UTF-8, each
 * quoted-printable or base64 as GMime judges), CRLF line ends. Nothing MIME is written by hand.
 * em_dkim signs a built message (rsa-sha256, relaxed/relaxed) with the key of its From domain
 * and returns it with its DKIM-Signature header first. Not thread-safe (one worker loop). */
#ifndef EM_MESSAGE_H
#define EM_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

/* What a message says; every string borrowed for the call, NULL or "" = absent. */
typedef struct {
    const char *from_name, *from_addr; /* from_addr required */
    const char *to_name, *to_addr;     /* to_addr required */
    const char *reply_to;
    const char *subject;
    const char *text, *html;  /* at least one; both: multipart/alternative */
    const char *message_id;   /* without <>, e.g. "pg.1f2e...@example.com"; required */
    int64_t date_s;           /* Date, seconds since the epoch (UTC) */
    const char *job_ref;      /* X-Pregon-Job */
    const char *unsub_url;    /* https://.../u/TOKEN: List-Unsubscribe + List-Unsubscribe-Post */
    const char *unsub_mailto; /* mailto:...: a second List-Unsubscribe entry */
} em_message_t;

/* Starts GMime (once per process; later calls do nothing). */
void em_message_init(void);

/* Builds the message. Returns it (malloc'd, *len bytes, NUL after them; the caller frees), or
 * NULL with a reason in err. */
char *em_message_build(const em_message_t *m, size_t *len, char *err, size_t err_len);

typedef struct em_dkim em_dkim_t;

/* A signer without keys. NULL when libopendkim cannot start. */
em_dkim_t *em_dkim_new(void);
/* Frees it (and its keys, wiped); accepts NULL; nulls the caller's pointer. */
void em_dkim_destroy(em_dkim_t **self_p);
/* Adds the key of `domain` (PEM, RSA private key, read from key_path) under `selector`.
 * Returns 0, or -1 with a reason in err (unreadable, loose mode, empty). */
int em_dkim_add_key(em_dkim_t *self, const char *domain, const char *selector, const char *key_path,
                    char *err, size_t err_len);
/* True when `domain` has a key. */
int em_dkim_has_key(const em_dkim_t *self, const char *domain);
/* Signs msg[0..len) (CRLF) with the key of `domain`: returns a new buffer (malloc'd, *out_len
 * bytes, NUL after) holding the DKIM-Signature header and then msg, or NULL with a reason in
 * err. `id` names the job in libopendkim's errors. */
char *em_dkim_sign(em_dkim_t *self, const char *domain, const char *id, const char *msg, size_t len,
                   size_t *out_len, char *err, size_t err_len);

#endif
