/* brk_fbplan.h — what a fallback is made of: the next channel, its contact point and template,
 * the new job's id. Pure (no I/O, no clock): brk_fallback runs it and admits the result.
 *
 * A job with fallback_channels whose attempt failed fallback-eligible (or that got a
 * wrong-number answer and asks for it) is submitted again, on the first channel of its
 * fallback_channels that is not its own channel and has a contact point: its entry in
 * fallback_contacts, or, on a phone channel (SMS, WhatsApp, voice) without one, the job's own
 * number when the job's channel is a phone channel too and the fallback is not for a wrong
 * number (the number is the one known to be wrong then). The new job is the old one on that
 * channel (same tenant, debtor, debt, campaign, variables, policy, zones, priority, expiry),
 * with:
 *   job_id             brk_fb_job_id: the original's id, "~", the channel's name ("j-1~sms");
 *                      an id that would pass BRK_LIM_JOB_ID keeps a prefix and a hash of the
 *                      whole ("PREFIX~HHHHHHHHHHHHHHHH~sms"). The same original and channel give
 *                      the same id, so a report or webhook applied twice makes a DUPLICATE.
 *   template_id        fallback_templates[channel], else the original's;
 *   fallback_channels  what follows the chosen channel in the original's list: a chain
 *                      WhatsApp -> SMS -> e-mail goes on when the SMS fails fallback-eligible;
 *   fallback_of        the original's id; sender "" (the new channel's worker default: a
 *                      WhatsApp phone-number id is no SMS sender); not_before 0.
 * Borrowed strings throughout: the built request points into the original and the caller's
 * buffers. */
#ifndef BRK_FBPLAN_H
#define BRK_FBPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "pregon.pb-c.h"

/* Bytes of the longest derived id, NUL included (BRK_LIM_JOB_ID + 1). */
#define BRK_FB_ID_MAX 129

/* The id of `orig_id`'s fallback on `channel` (pregon.proto numbering) into buf (at least
 * BRK_FB_ID_MAX bytes). Returns its length, or -1 when buf is too small or channel unknown. */
int brk_fb_job_id(const char *orig_id, int channel, char *buf, size_t len);

/* The index in job->fallback_channels of the first candidate at or after `from`: not the job's
 * own channel, with a contact point (*contact, borrowed from job), as this file's head says;
 * `wrong_number`: the job's own number is never a candidate's. Returns -1 when none is left. */
int brk_fb_next(const Pregon__SendRequest *job, size_t from, bool wrong_number,
                const char **contact);

/* Fills *out (initialized here) as the fallback of `orig` on the channel at index `idx` of its
 * fallback_channels, to `contact`, with id `id` (brk_fb_job_id). *out borrows from orig, contact
 * and id: pack it before any of them goes. */
void brk_fb_build(const Pregon__SendRequest *orig, size_t idx, const char *contact, const char *id,
                  Pregon__SendRequest *out);

/* job's fallback_contacts / fallback_templates entry for `channel`, or NULL. */
const char *brk_fb_contact(const Pregon__SendRequest *job, int channel);
const char *brk_fb_template(const Pregon__SendRequest *job, int channel);

#endif
