/* brk_fbplan.c — the next channel and the job a fallback submits (see brk_fbplan.h). */
#include "brk_fbplan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rl_policy.h"

static bool s_phone(int channel) {
    return channel == PREGON__CHANNEL__SMS || channel == PREGON__CHANNEL__WHATSAPP ||
           channel == PREGON__CHANNEL__VOICE;
}

static const char *s_name(int channel) {
    if (channel < PREGON__CHANNEL__SMS || channel > PREGON__CHANNEL__MESSENGER)
        return NULL;
    return rl_channel_name((rl_channel_t)channel);
}

int brk_fb_job_id(const char *orig_id, int channel, char *buf, size_t len) {
    const char *ch = s_name(channel);
    if (!ch || !orig_id || len < BRK_FB_ID_MAX)
        return -1;
    size_t ol = strlen(orig_id), cl = strlen(ch);
    if (ol + 1 + cl <= BRK_FB_ID_MAX - 1)
        return snprintf(buf, len, "%s~%s", orig_id, ch);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 of the whole id */
    for (const unsigned char *p = (const unsigned char *)orig_id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    size_t keep = BRK_FB_ID_MAX - 1 - (1 + 16 + 1 + cl);
    return snprintf(buf, len, "%.*s~%016llx~%s", (int)keep, orig_id, (unsigned long long)h, ch);
}

const char *brk_fb_contact(const Pregon__SendRequest *job, int channel) {
    const char *ch = s_name(channel);
    for (size_t i = 0; ch && i < job->n_fallback_contacts; i++) {
        const Pregon__SendRequest__FallbackContactsEntry *e = job->fallback_contacts[i];
        if (e && e->key && !strcmp(e->key, ch) && e->value && e->value[0])
            return e->value;
    }
    return NULL;
}

const char *brk_fb_template(const Pregon__SendRequest *job, int channel) {
    const char *ch = s_name(channel);
    for (size_t i = 0; ch && i < job->n_fallback_templates; i++) {
        const Pregon__SendRequest__FallbackTemplatesEntry *e = job->fallback_templates[i];
        if (e && e->key && !strcmp(e->key, ch) && e->value && e->value[0])
            return e->value;
    }
    return NULL;
}

int brk_fb_next(const Pregon__SendRequest *job, size_t from, bool wrong_number,
                const char **contact) {
    for (size_t i = from; i < job->n_fallback_channels; i++) {
        int ch = (int)job->fallback_channels[i];
        if (ch == (int)job->channel || !s_name(ch))
            continue;
        const char *cp = brk_fb_contact(job, ch);
        if (!cp && !wrong_number && s_phone(ch) && s_phone((int)job->channel))
            cp = job->contact;
        if (wrong_number && cp && job->contact && !strcmp(cp, job->contact))
            cp = NULL;
        if (cp && cp[0]) {
            *contact = cp;
            return (int)i;
        }
    }
    return -1;
}

void brk_fb_build(const Pregon__SendRequest *orig, size_t idx, const char *contact, const char *id,
                  Pregon__SendRequest *out) {
    *out = *orig; /* every field borrowed, unknown fields included (they were stored) */
    int ch = (int)orig->fallback_channels[idx];
    const char *tpl = brk_fb_template(orig, ch);
    out->job_id = (char *)id;
    out->channel = (Pregon__Channel)ch;
    out->contact = (char *)contact;
    if (tpl)
        out->template_id = (char *)tpl;
    out->fallback_channels = orig->fallback_channels + idx + 1;
    out->n_fallback_channels = orig->n_fallback_channels - idx - 1;
    out->fallback_of = (char *)orig->job_id;
    out->sender = (char *)"";
    out->not_before = 0;
}
