/* sb_sig.h — webhook signatures the simulated providers put on their callbacks.
 *
 * Twilio: X-Twilio-Signature = base64(HMAC-SHA1(AuthToken, URL + concat of the POST fields sorted
 * by name, each as name followed by value)). Meta's X-Hub-Signature-256 belongs here next.
 * Computation only: sending is sb_webhook's job. Thread-safe (no shared state). */
#ifndef SB_SIG_H
#define SB_SIG_H

#include "sb_form.h"

#include <stddef.h>

/* Size of the buffer sb_sig_twilio() needs: 28 base64 characters and the NUL. */
#define SB_SIG_TWILIO_SIZE 29

/* Computes Twilio's signature of a form POST to url, signed with token, into out
 * (out_size >= SB_SIG_TWILIO_SIZE). fields may be NULL (no POST fields). Fields are sorted by
 * name, then by value for repeated names, byte-wise. Returns 0, or -1 when out_size is too small
 * or memory runs out. */
int sb_sig_twilio(const char *token, const char *url, const sb_form_t *fields, char *out,
                  size_t out_size);

#endif
