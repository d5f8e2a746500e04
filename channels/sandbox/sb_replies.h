/* sb_replies.h — the reply script: what simulated people answer when a message reaches them.
 *
 * A rule says "when a message is sent to number N, N replies BODY to the sender after D ms",
 * for the next `times` messages to N (0: every one). Rules come from a JSON file (--reply-script)
 * or the control API, as one object or an array of them:
 *     {"number": "+573001112233", "body": "STOP", "delay_ms": 200, "times": 1}
 * (delay_ms defaults to 0, times to 1). The first pending rule of a number is used first.
 * Provider modules (Twilio Messaging now; WhatsApp and Messenger next) consult it after each
 * message they accept and send the reply as their provider's inbound webhook. Knows no
 * provider. Thread-safe. */
#ifndef SB_REPLIES_H
#define SB_REPLIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sb_replies sb_replies_t;

/* Returns an empty script, or NULL when out of memory. */
sb_replies_t *sb_replies_new(void);

/* Frees; accepts NULL and nulls the caller's pointer. */
void sb_replies_destroy(sb_replies_t **self_p);

/* Adds the rules of j (an object or an array of objects as above), all or none: number must be
 * E.164, body 1..1600 bytes of UTF-8, delay_ms 0..3600000, times 0..1000000, no other field.
 * Returns how many were added, or -1 with a reason in err. */
int sb_replies_add_json(sb_replies_t *self, const json_t *j, char *err, size_t errlen);

/* Adds the rules of a JSON file. Returns how many, or -1 with a reason in err. */
int sb_replies_load_file(sb_replies_t *self, const char *path, char *err, size_t errlen);

/* Takes one use of the first rule for number: true with a copy of its body in *body (you own
 * it: free()) and its delay in *delay_ms; false when no rule applies or memory runs out. */
bool sb_replies_take(sb_replies_t *self, const char *number, char **body, unsigned *delay_ms);

/* The pending rules as a new JSON array (times = uses left, 0 = every message); NULL when out
 * of memory. */
json_t *sb_replies_list(sb_replies_t *self);

/* Rules pending. */
size_t sb_replies_pending(sb_replies_t *self);

/* Drops every rule. */
void sb_replies_clear(sb_replies_t *self);

#endif
