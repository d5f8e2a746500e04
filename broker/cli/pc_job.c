/* pc_job.c — JSON jobs to SendRequests and verdicts to JSON (see pc_job.h). Checks only what
 * the JSON form itself can get wrong (types, names, times); every limit is pregond's. */
#include "pc_job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "brk_limits.h"
#include "pc_time.h"
#include "pg_channel.h"

/* pg_channel's numbers are pregon.proto's. */
_Static_assert((int)PG_CH_SMS == (int)PREGON__CHANNEL__SMS &&
                   (int)PG_CH_WHATSAPP == (int)PREGON__CHANNEL__WHATSAPP &&
                   (int)PG_CH_VOICE == (int)PREGON__CHANNEL__VOICE &&
                   (int)PG_CH_EMAIL == (int)PREGON__CHANNEL__EMAIL &&
                   (int)PG_CH_MESSENGER == (int)PREGON__CHANNEL__MESSENGER,
               "pg_channel.h and pregon.proto disagree");

static const char *const s_known[] = {"job_id",
                                      "tenant",
                                      "campaign",
                                      "debtor_id",
                                      "debt_id",
                                      "role",
                                      "channel",
                                      "contact",
                                      "template_id",
                                      "variables",
                                      "jurisdiction",
                                      "time_zone",
                                      "alt_time_zones",
                                      "not_before",
                                      "expires_at",
                                      "priority",
                                      "fallback_channels",
                                      "segment",
                                      "preferred_window",
                                      "sender",
                                      "fallback_contacts",
                                      "fallback_on_wrong_number",
                                      "fallback_templates",
                                      NULL};

static const char *const s_codes[] = {"UNKNOWN",   "ACCEPTED", "DEFERRED", "REJECTED",
                                      "DUPLICATE", "BUSY",     "EXPIRED"};

size_t pc_job_max_bytes(void) {
    return BRK_LIM_JOB_BYTES;
}

int pc_job_known_field(const char *name) {
    if (strncmp(name, "var.", 4) == 0 && name[4])
        return 1;
    if (strncmp(name, "segment.", 8) == 0 || strncmp(name, "fallback.", 9) == 0)
        return 1; /* CSV: segment.product, fallback.email (a fallback contact) */
    for (int i = 0; s_known[i]; i++)
        if (strcmp(name, s_known[i]) == 0)
            return 1;
    return 0;
}

const char *pc_job_code_name(int code) {
    return s_codes[code >= 1 && code <= 6 ? code : 0];
}

/* A channel by name, any case ("sms", "SMS", "WhatsApp"); PG_CH_NONE when unknown. */
static int s_channel(const char *name) {
    char low[16];
    size_t n = strlen(name);
    if (n >= sizeof low)
        return PG_CH_NONE;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    return pg_channel_parse(low);
}

static int s_role(const char *s) {
    if (!s || !*s || strcasecmp(s, "debtor") == 0)
        return 1;
    if (strcasecmp(s, "codebtor") == 0)
        return 2;
    if (strcasecmp(s, "reference") == 0)
        return 3;
    return -1;
}

static char *s_dup(const json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static int s_time(const json_t *o, const char *k, int64_t *out) {
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    return json_is_string(v) ? pc_time_parse(json_string_value(v), out) : -1;
}

/* Copies a JSON object of strings into a proto map (variables, or fallback_contacts when
 * fallback); -1 when a value is no string or number. */
static int s_map(const json_t *obj, int fallback, size_t *n_out, void ***out) {
    const char *key;
    json_t *val;
    *n_out = json_object_size(obj);
    *out = calloc(*n_out ? *n_out : 1, sizeof **out);
    size_t i = 0;
    int rc = 0;
    json_object_foreach((json_t *)obj, key, val) {
        Pregon__SendRequest__VariablesEntry *e; /* the two entry types have one layout */
        if (fallback) {
            Pregon__SendRequest__FallbackContactsEntry *f = calloc(1, sizeof *f);
            pregon__send_request__fallback_contacts_entry__init(f);
            e = (Pregon__SendRequest__VariablesEntry *)f;
        } else {
            e = calloc(1, sizeof *e);
            pregon__send_request__variables_entry__init(e);
        }
        e->key = strdup(key);
        if (json_is_string(val))
            e->value = strdup(json_string_value(val));
        else if (json_is_integer(val) || json_is_real(val)) { /* a spreadsheet's amounts */
            char num[64];
            if (json_is_integer(val))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
            else
                snprintf(num, sizeof num, "%.15g", json_real_value(val));
            e->value = strdup(num);
        } else {
            e->value = strdup("");
            rc = -1;
        }
        (*out)[i++] = e;
    }
    *n_out = i;
    return rc;
}

/* Channels of a list (names, any case); -1 with the bad name in *bad. */
static int s_channels(const json_t *list, size_t *n, Pregon__Channel **out, const char **bad) {
    *n = json_array_size(list);
    *out = calloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        json_t *c = json_array_get(list, i);
        int ch = json_is_string(c) ? s_channel(json_string_value(c)) : PG_CH_NONE;
        if (!ch) {
            *bad = json_is_string(c) ? json_string_value(c) : "(not a string)";
            return -1;
        }
        (*out)[i] = (Pregon__Channel)ch;
    }
    return 0;
}

static int s_segment(const json_t *o, Pregon__SendRequest *r) {
    json_t *seg = json_object_get(o, "segment");
    if (!seg)
        return 0;
    if (!json_is_object(seg))
        return -1;
    Pregon__Segment *s = calloc(1, sizeof *s);
    pregon__segment__init(s);
    r->segment = s;
    json_t *v;
    if ((v = json_object_get(seg, "amount_cents")))
        s->amount_cents = json_integer_value(v);
    if ((v = json_object_get(seg, "days_past_due")))
        s->days_past_due = (int32_t)json_integer_value(v);
    s->currency = s_dup(seg, "currency");
    s->debtor_type = s_dup(seg, "debtor_type");
    s->product = s_dup(seg, "product");
    return 0;
}

static int s_strings(const json_t *list, size_t *n, char ***out) {
    *n = json_array_size(list);
    *out = calloc(*n + 1, sizeof **out);
    int rc = 0;
    for (size_t i = 0; i < *n; i++) {
        json_t *z = json_array_get(list, i);
        rc |= json_is_string(z) ? 0 : -1;
        (*out)[i] = strdup(json_is_string(z) ? json_string_value(z) : "");
    }
    return rc;
}

/* Fills r's lists and maps; returns the reason text of the first wrong one, or NULL. */
static const char *s_fill(const json_t *o, Pregon__SendRequest *r, char *err, size_t errlen) {
    json_t *v = json_object_get(o, "variables");
    if (v && (!json_is_object(v) || s_map(v, 0, &r->n_variables, (void ***)&r->variables) < 0))
        return "variables must be an object of strings";
    v = json_object_get(o, "fallback_contacts");
    if (v && (!json_is_object(v) ||
              s_map(v, 1, &r->n_fallback_contacts, (void ***)&r->fallback_contacts) < 0))
        return "fallback_contacts must be an object of strings";
    v = json_object_get(o, "fallback_templates"); /* the map entries share the layout too */
    if (v && (!json_is_object(v) ||
              s_map(v, 1, &r->n_fallback_templates, (void ***)&r->fallback_templates) < 0))
        return "fallback_templates must be an object of strings";
    v = json_object_get(o, "alt_time_zones");
    if (v && (!json_is_array(v) || s_strings(v, &r->n_alt_time_zones, &r->alt_time_zones) < 0))
        return "alt_time_zones must be a list of zone names";
    v = json_object_get(o, "fallback_channels");
    const char *bad = NULL;
    if (v && (!json_is_array(v) ||
              s_channels(v, &r->n_fallback_channels, &r->fallback_channels, &bad) < 0)) {
        snprintf(err, errlen, "unknown channel \"%.40s\" in fallback_channels",
                 bad ? bad : "(not a list)");
        return err;
    }
    if (s_segment(o, r) < 0)
        return "segment must be an object";
    v = json_object_get(o, "priority");
    if (v && !json_is_integer(v))
        return "priority must be a number";
    r->priority = v ? (int32_t)json_integer_value(v) : 0;
    v = json_object_get(o, "fallback_on_wrong_number");
    if (v && !json_is_boolean(v))
        return "fallback_on_wrong_number must be true or false";
    r->fallback_on_wrong_number = json_is_true(v);
    return NULL;
}

Pregon__SendRequest *pc_job_from_json(const json_t *o, char *err, size_t errlen) {
    const char *key;
    json_t *val;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "a job must be a JSON object");
        return NULL;
    }
    json_object_foreach((json_t *)o, key, val) {
        if (!pc_job_known_field(key) || strchr(key, '.')) {
            snprintf(err, errlen, "unknown field \"%.64s\"", key);
            return NULL;
        }
    }
    static const char *const strings[] = {
        "job_id",      "tenant",       "campaign",  "debtor_id",        "debt_id", "contact",
        "template_id", "jurisdiction", "time_zone", "preferred_window", "sender",  NULL};
    for (int i = 0; strings[i]; i++) {
        json_t *s = json_object_get(o, strings[i]);
        if (s && !json_is_string(s)) {
            snprintf(err, errlen, "%s must be a string", strings[i]);
            return NULL;
        }
    }
    Pregon__SendRequest *r = calloc(1, sizeof *r);
    pregon__send_request__init(r);
    r->job_id = s_dup(o, "job_id");
    r->tenant = s_dup(o, "tenant");
    r->campaign = s_dup(o, "campaign");
    r->debtor_id = s_dup(o, "debtor_id");
    r->debt_id = s_dup(o, "debt_id");
    r->contact = s_dup(o, "contact");
    r->template_id = s_dup(o, "template_id");
    r->jurisdiction = s_dup(o, "jurisdiction");
    r->time_zone = s_dup(o, "time_zone");
    r->preferred_window = s_dup(o, "preferred_window");
    r->sender = s_dup(o, "sender");
    r->fallback_of = strdup("");
    json_t *ch = json_object_get(o, "channel");
    r->channel = (Pregon__Channel)(json_is_string(ch) ? s_channel(json_string_value(ch)) : 0);
    json_t *role = json_object_get(o, "role");
    int rn = s_role(json_is_string(role) ? json_string_value(role) : NULL);
    r->role = (Pregon__Role)(rn < 0 ? 0 : rn);
    const char *why = s_fill(o, r, err, errlen);
    if (!why && ch && !r->channel)
        snprintf(err, errlen, "unknown channel \"%.40s\" (sms, whatsapp, voice, email, messenger)",
                 json_is_string(ch) ? json_string_value(ch) : "(not a string)"),
            why = err;
    else if (!why && rn < 0)
        why = "unknown role (debtor, codebtor, reference)";
    else if (!why && (s_time(o, "not_before", &r->not_before) < 0 ||
                      s_time(o, "expires_at", &r->expires_at) < 0))
        why = "not_before/expires_at must be RFC 3339 with an offset, or Unix seconds";
    if (why) {
        if (why != err)
            snprintf(err, errlen, "%s", why);
        pregon__send_request__free_unpacked(r, NULL); /* frees with the system allocator */
        return NULL;
    }
    return r;
}

json_t *pc_job_verdict_json(const Pregon__Verdict *v) {
    char until[40] = "";
    if (v->until)
        pc_time_format(v->until, NULL, until, sizeof until);
    json_t *o =
        json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "job_id", v->job_id ? v->job_id : "", "verdict",
                  pc_job_code_name(v->code), "rule", v->rule && *v->rule ? v->rule : NULL, "reason",
                  v->reason && *v->reason ? v->reason : NULL, "until", v->until ? until : NULL);
    if (v->until)
        json_object_set_new(o, "until_unix", json_integer(v->until));
    if (v->code == PREGON__VERDICT__CODE__DUPLICATE)
        json_object_set_new(o, "first", json_string(pc_job_code_name(v->first)));
    return o;
}

json_t *pc_job_local_verdict(const char *job_id, const char *rule, const char *reason) {
    return json_pack("{s:s, s:s, s:s, s:s}", "job_id", job_id ? job_id : "", "verdict", "REJECTED",
                     "rule", rule, "reason", reason);
}

int pc_job_rejected_invalid(const char *rule) {
    return rule && (strncmp(rule, "job.", 4) == 0 || strncmp(rule, "auth.", 5) == 0);
}
