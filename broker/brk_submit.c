/* brk_submit.c — SendRequest to admission job: validation, resolution, template check.
 *
 * The order of the checks and every reason code are listed in brk_submit.h. Field limits come
 * from brk_limits.h; the assertions below tie them to the modules that consume the fields, so a
 * job that passes here is one they can take. */
#include "brk_submit.h"

#include <stdlib.h>
#include <string.h>

#include "brk_validate.h"
#include "rl_policy.h"

/* Every policy id and every template id a loader accepts can be named by a job. */
_Static_assert(BRK_LIM_JURISDICTION == RL_ID_MAX - 1, "jurisdiction limit != policy id limit");
/* The primary zone and the alternatives are all the decision can take. */
_Static_assert(BRK_LIM_ALT_ZONES + 1 == RL_MAX_ZONES, "alt_time_zones limit != RL_MAX_ZONES - 1");
/* A job may give a value for every variable a template can use. */
_Static_assert(BRK_LIM_VARS == BRK_TPL_MAX_VARS, "variables limit != BRK_TPL_MAX_VARS");
/* Every reason code fits the verdict. */
_Static_assert(sizeof(((rl_admit_verdict_t *)0)->reason) > BRK_LIM_REASON,
               "a reason code of BRK_LIM_REASON bytes does not fit rl_admit_verdict_t");

/* Channel numbers of pregon.proto's Channel enum. */
enum { S_CH_FIRST = 1, S_CH_LAST = 5 };

static void s_reject(rl_admit_job_t *out, const char *rule, const char *reason) {
    out->reject_rule = rule;
    out->reject_reason = reason;
}

/* A free-text field, its limit and its two reason codes. */
typedef struct {
    const char *value;
    size_t max;
    const char *too_long, *not_utf8;
} s_text_t;

/* The reason of the first text field over its limit or not UTF-8, or NULL. */
static const char *s_texts(const s_text_t *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (brk_val_text(t[i].value, t[i].max)) {
            case BRK_VAL_TEXT_OK:
                break;
            case BRK_VAL_TEXT_LONG:
                return t[i].too_long;
            case BRK_VAL_TEXT_UTF8:
                return t[i].not_utf8;
        }
    }
    return NULL;
}

/* The channel (pregon.proto numbering) a fallback map's key names ("sms", ...), or 0. */
static int s_fb_channel(const char *key) {
    for (int c = S_CH_FIRST; key && c <= S_CH_LAST; c++)
        if (!strcmp(key, rl_channel_name((rl_channel_t)c)))
            return c;
    return 0;
}

/* fallback_contacts (each key a channel, its value a contact point that channel takes) and
 * fallback_templates (each key a channel, its value a template id), fields 21 and 24. */
static const char *s_fallback_maps(const Pregon__SendRequest *req) {
    if (req->n_fallback_contacts > BRK_LIM_FB_ENTRIES)
        return "fallback-contacts-too-many";
    for (size_t i = 0; i < req->n_fallback_contacts; i++) {
        const Pregon__SendRequest__FallbackContactsEntry *e = req->fallback_contacts[i];
        int ch = e ? s_fb_channel(e->key) : 0;
        if (!ch || !e->value || strlen(e->value) > BRK_LIM_CONTACT || brk_val_contact(ch, e->value))
            return "bad-fallback-contact";
    }
    if (req->n_fallback_templates > BRK_LIM_FB_ENTRIES)
        return "fallback-templates-too-many";
    for (size_t i = 0; i < req->n_fallback_templates; i++) {
        const Pregon__SendRequest__FallbackTemplatesEntry *e = req->fallback_templates[i];
        if (!e || !s_fb_channel(e->key) ||
            brk_val_text(e->value, BRK_LIM_TEMPLATE_ID) != BRK_VAL_TEXT_OK)
            return "bad-fallback-template";
    }
    return NULL;
}

/* The limits of brk_limits.h other than identity and contact point, in field-number order; the
 * variables' form too (brk_val_variables). Fills keys[] and values[] (BRK_LIM_VARS each) with
 * the variables when it gets that far. */
static const char *s_limits(const Pregon__SendRequest *req, const char **keys,
                            const char **values) {
    const char *why;
    const s_text_t head[] = {
        {req->campaign, BRK_LIM_CAMPAIGN, "campaign-too-long", "campaign-not-utf8"},
        {req->template_id, BRK_LIM_TEMPLATE_ID, "template-id-too-long", "template-id-not-utf8"},
    };
    if ((why = s_texts(head, sizeof head / sizeof head[0]))) {
        return why;
    }
    if (req->n_variables > BRK_LIM_VARS) {
        return "variables-too-many";
    }
    for (size_t i = 0; i < req->n_variables; i++) {
        keys[i] = req->variables[i] ? req->variables[i]->key : NULL;
        values[i] = req->variables[i] ? req->variables[i]->value : NULL;
    }
    if ((why = brk_val_variables(req->n_variables, keys, values))) {
        return why;
    }
    const s_text_t zone[] = {
        {req->jurisdiction, BRK_LIM_JURISDICTION, "jurisdiction-too-long", "jurisdiction-not-utf8"},
        {req->time_zone, BRK_LIM_TIME_ZONE, "time-zone-too-long", "time-zone-not-utf8"},
    };
    if ((why = s_texts(zone, sizeof zone / sizeof zone[0]))) {
        return why;
    }
    if (req->n_alt_time_zones > BRK_LIM_ALT_ZONES) {
        return "alt-zones-too-many";
    }
    for (size_t i = 0; i < req->n_alt_time_zones; i++) {
        const s_text_t alt = {req->alt_time_zones[i], BRK_LIM_TIME_ZONE, "alt-zones-too-long",
                              "alt-zones-not-utf8"};
        if ((why = s_texts(&alt, 1))) {
            return why;
        }
    }
    if (req->n_fallback_channels > BRK_LIM_FALLBACK) {
        return "fallback-too-many";
    }
    for (size_t i = 0; i < req->n_fallback_channels; i++) {
        if ((int)req->fallback_channels[i] < S_CH_FIRST ||
            (int)req->fallback_channels[i] > S_CH_LAST) {
            return "bad-fallback";
        }
    }
    if ((why = s_fallback_maps(req))) {
        return why;
    }
    if (req->segment) {
        const Pregon__Segment *g = req->segment;
        const s_text_t seg[] = {
            {g->currency, BRK_LIM_SEGMENT_TEXT, "segment-currency-too-long",
             "segment-currency-not-utf8"},
            {g->debtor_type, BRK_LIM_SEGMENT_TEXT, "segment-debtor-type-too-long",
             "segment-debtor-type-not-utf8"},
            {g->product, BRK_LIM_SEGMENT_TEXT, "segment-product-too-long",
             "segment-product-not-utf8"},
        };
        if ((why = s_texts(seg, sizeof seg / sizeof seg[0]))) {
            return why;
        }
    }
    const s_text_t tail[] = {
        {req->preferred_window, BRK_LIM_WINDOW, "preferred-window-too-long",
         "preferred-window-not-utf8"},
        {req->sender, BRK_LIM_SENDER, "sender-too-long", "sender-not-utf8"},
    };
    return s_texts(tail, sizeof tail / sizeof tail[0]);
}

void brk_submit_prepare(const rl_policyset_t *policies, const brk_tpl_catalog_t *templates,
                        const Pregon__SendRequest *req, const void *payload, size_t payload_len,
                        double queue_score, int readmit, rl_admit_job_t *out) {
    memset(out, 0, sizeof *out);
    out->tenant = req->tenant;
    out->debtor = req->debtor_id;
    out->job_id = req->job_id;
    out->contact = req->contact;
    out->payload = payload;
    out->payload_len = payload_len;
    out->queue_score = queue_score;
    out->readmit = readmit == BRK_SUBMIT_READMIT;
    out->decide.channel = (rl_channel_t)req->channel;

    const char *why;
    /* identity first: these name the Redis keys; ':' in a tenant would make keys ambiguous */
    if ((why = brk_val_job_id(req->job_id)) || (why = brk_val_tenant(req->tenant)) ||
        (why = brk_val_debtor(req->debtor_id))) {
        /* keys cannot be built from invalid identities: use a harmless placeholder identity */
        out->tenant = "invalid";
        out->debtor = "invalid";
        out->job_id = "invalid";
        s_reject(out, "job.fields", why);
        return;
    }
    if (strchr(req->tenant, ':')) {
        s_reject(out, "job.fields", "bad-tenant");
        return;
    }
    /* fallback_of is pregond's own mark (brk_fallback): a submitter cannot claim it */
    if (req->fallback_of && req->fallback_of[0] &&
        (readmit == BRK_SUBMIT_NEW || strlen(req->fallback_of) > BRK_LIM_JOB_ID)) {
        s_reject(out, "job.fields", "fallback-of-given");
        return;
    }
    /* then sizes, before anything reads a field whole: a job that passes is dispatchable */
    const char *keys[BRK_LIM_VARS], *values[BRK_LIM_VARS];
    if ((why = s_limits(req, keys, values))) {
        s_reject(out, "job.fields", why);
        return;
    }
    if ((why = brk_val_debt(req->debt_id)) ||
        (why = brk_val_contact((int)req->channel, req->contact))) {
        s_reject(out, "job.fields", why);
        return;
    }
    /* every field fits: only unknown fields can take the whole past its bound now */
    if (payload_len > BRK_LIM_JOB_BYTES) {
        s_reject(out, "job.fields", "job-too-large");
        return;
    }
    if (!brk_val_repackable(&req->base)) { /* stored, it would not unpack at dispatch */
        s_reject(out, "job.fields", "bad-field-number");
        return;
    }
    const char *alt[BRK_LIM_ALT_ZONES];
    for (size_t i = 0; i < req->n_alt_time_zones; i++) /* <= BRK_LIM_ALT_ZONES: s_limits */
        alt[i] = req->alt_time_zones[i];
    rl_job_fields_t f = {
        .jurisdiction = req->jurisdiction,
        .time_zone = req->time_zone,
        .alt_zones = alt,
        .n_alt_zones = req->n_alt_time_zones,
        .channel_num = (int)req->channel,
        .role_num = (int)req->role,
        .debt_id = req->debt_id,
        .preferred_window = req->preferred_window,
        .not_before = req->not_before,
        .expires_at = req->expires_at,
    };
    const char *detail;
    if (rl_job_resolve(policies, &f, &out->decide, &why, &detail) < 0) {
        s_reject(out, "job.fields", why);
        return;
    }
    const brk_tpl_t *tpl = brk_tpl_get(templates, req->template_id);
    int rc = brk_tpl_check(tpl, (int)req->channel, keys, req->n_variables, NULL);
    if (rc != BRK_TPL_OK) {
        s_reject(out, "job.template", brk_tpl_reason(rc));
        return;
    }
    /* the content must render within brk_limits.h's bounds and its channel's limits now, or the
     * job could only fail at dispatch */
    Pregon__Content *content = NULL;
    if (brk_tpl_render_content(tpl, (int)req->channel, keys, values, req->n_variables, &content,
                               &why) < 0) {
        s_reject(out, "job.template", why);
        return;
    }
    brk_tpl_content_free(&content);
    /* Meta allows a business-initiated message only as an approved template: every Messenger
     * job, and a WhatsApp job whose template names no approved WhatsApp template (free-form
     * text), may be sent only inside the debtor's 24-hour service window (rl_admit_job_t) */
    out->window = brk_submit_windowed(tpl, (int)req->channel);
    /* a job that may fall back keeps its payload once sent (pg_report): brk_fallback reads it */
    out->keep_payload = req->n_fallback_channels > 0;
}

int brk_submit_windowed(const brk_tpl_t *tpl, int channel) {
    if (channel == PREGON__CHANNEL__MESSENGER)
        return 1;
    return channel == PREGON__CHANNEL__WHATSAPP && (!tpl || !brk_tpl_whatsapp_name(tpl));
}
