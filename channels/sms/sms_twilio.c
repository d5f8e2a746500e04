/* sms_twilio.c — Twilio Messages API requests and answer classification (see sms_twilio.h).
 *
 * JSON answers are parsed with jansson; the URL, the headers and the form body are chw_twilio's
 * (shared with pregon-voice). The driver state is read-only once built, so one instance serves
 * every transfer of the worker. */
#include "sms_twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chw_twilio.h"

struct sms_twilio {
    chw_twilio_t *api; /* Messages.json of the account, its headers (the secret) */
    char *from;
    char *messaging_service_sid;
    char *status_callback;
};

static char *s_strdup_opt(const char *s) {
    if (!s || !*s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

sms_twilio_t *sms_twilio_new(const sms_twilio_config_t *config) {
    if (!config)
        return NULL;
    sms_twilio_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->api = chw_twilio_new(config->base_url, config->account_sid, config->auth_token,
                               "Messages.json", "pregon-sms/0.1");
    self->from = s_strdup_opt(config->from);
    self->messaging_service_sid = s_strdup_opt(config->messaging_service_sid);
    self->status_callback = s_strdup_opt(config->status_callback);
    if (!self->api || (config->from && *config->from && !self->from) ||
        (config->messaging_service_sid && *config->messaging_service_sid &&
         !self->messaging_service_sid) ||
        (config->status_callback && *config->status_callback && !self->status_callback)) {
        sms_twilio_destroy(&self);
        return NULL;
    }
    return self;
}

void sms_twilio_destroy(sms_twilio_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sms_twilio_t *self = *self_p;
    chw_twilio_destroy(&self->api);
    free(self->from);
    free(self->messaging_service_sid);
    free(self->status_callback);
    free(self);
    *self_p = NULL;
}

char *sms_twilio_form(const char *to, const char *from_field, const char *from, const char *body,
                      const char *status_callback) {
    chw_form_t f = {0};
    chw_form_add(&f, "To", to);
    if (from && *from)
        chw_form_add(&f, from_field, from);
    chw_form_add(&f, "Body", body);
    if (status_callback && *status_callback)
        chw_form_add(&f, "StatusCallback", status_callback);
    return chw_form_finish(&f);
}

static bool s_is_service_sid(const char *s) {
    return strncmp(s, "MG", 2) == 0 && strlen(s) == 34;
}

/* The request body is the job's state: curl reads it in place (CURLOPT_POSTFIELDS) and
 * s_release frees it when the job is over. */
static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    sms_twilio_t *self = ctx;
    const Pregon__SendRequest *job = d->job;
    if (!job->contact[0]) {
        chw_result_set(err, CHW_FAILED, "no contact");
        return -1;
    }
    const char *field = "From", *from = NULL;
    if (job->sender[0]) {
        from = job->sender;
        if (s_is_service_sid(from))
            field = "MessagingServiceSid";
    } else if (self->messaging_service_sid) {
        field = "MessagingServiceSid";
        from = self->messaging_service_sid;
    } else if (self->from) {
        from = self->from;
    } else {
        chw_result_set(err, CHW_FAILED,
                       "no sender: job.sender is empty and no --from/--messaging-service-sid");
        return -1;
    }
    const Pregon__Content *content = d->content;
    const char *body = content && content->body_case == PREGON__CONTENT__BODY_TEXT && content->text
                           ? content->text->text
                           : NULL;
    if (!body) {
        chw_result_set(err, CHW_FAILED, "content-not-text: SMS sends text content only");
        return -1;
    }
    char *form = sms_twilio_form(job->contact, field, from, body, self->status_callback);
    if (!form) {
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    *job_state = form;
    return chw_twilio_post(self->api, easy, form, err);
}

void sms_twilio_classify(long status, const char *body, size_t body_len, chw_result_t *out) {
    long code = 0;
    const char *message = "", *sid = "";
    json_t *root = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    if (json_is_object(root)) {
        json_t *v = json_object_get(root, "code");
        if (json_is_integer(v))
            code = (long)json_integer_value(v);
        else if (json_is_string(v))
            code = strtol(json_string_value(v), NULL, 10);
        v = json_object_get(root, "message");
        if (json_is_string(v))
            message = json_string_value(v);
        v = json_object_get(root, "sid");
        if (json_is_string(v))
            sid = json_string_value(v);
    }

    if (status >= 200 && status < 300) {
        chw_result_set(out, CHW_SENT, sid[0] ? "" : "accepted, but no sid in the answer");
        snprintf(out->provider_id, sizeof out->provider_id, "%s", sid);
    } else if (status == 401 || code == 20003) {
        chw_result_set(out, CHW_CONFIG_ERROR,
                       "provider rejected credentials (HTTP %ld, Twilio %ld)", status,
                       code ? code : 20003);
    } else if (code == 21606 || code == 21608 || code == 21408) {
        const char *what = code == 21606   ? "the From number"
                           : code == 21608 ? "an unverified To number on a trial account"
                                           : "SMS to a region not enabled for the account";
        chw_result_set(out, CHW_CONFIG_ERROR, "provider rejected %s (HTTP %ld, Twilio %ld)", what,
                       status, code);
    } else if (status == 429 || code == 20429) {
        chw_result_set(out, CHW_RETRY, "rate limited (HTTP %ld)", status);
    } else if (status >= 500 && status < 600) {
        chw_result_set(out, CHW_RETRY, "provider error (HTTP %ld)", status);
    } else if (code == 21610) {
        chw_result_set(out, CHW_FAILED, "opted-out");
    } else if (status >= 400 && status < 500) {
        chw_result_set(out, CHW_FAILED, "%.200s", message[0] ? message : "rejected");
        /* unroutable, landline, not a mobile number (PROVIDERS.md): the number cannot take an
         * SMS, another channel may reach it (the job's fallback_channels) */
        if (code == 21612 || code == 21614 || code == 21635)
            out->flags |= CHW_RESULT_FALLBACK;
    } else {
        chw_result_set(out, CHW_UNKNOWN, "unexpected HTTP status %ld", status);
    }
    if (code)
        snprintf(out->provider_code, sizeof out->provider_code, "%ld", code);
    json_decref(root);
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    (void)ctx, (void)job_state, (void)d;
    sms_twilio_classify(response->status, response->body, response->body_len, out);
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    (void)ctx, (void)d, (void)result;
    free(job_state); /* the form body, or NULL */
}

const char *sms_twilio_account_sid(const sms_twilio_t *self) {
    return self ? chw_twilio_account_sid(self->api) : "";
}

chw_driver_t sms_twilio_driver(sms_twilio_t *self) {
    return (chw_driver_t){.prepare = s_prepare,
                          .classify = s_classify,
                          .release = s_release,
                          .shape_key = chw_shape_key_sender, /* a number's own throughput */
                          .ctx = self};
}

void sms_twilio_mask_sid(const char *sid, char *out, size_t out_len) {
    size_t len = sid ? strlen(sid) : 0;
    if (len <= 6)
        snprintf(out, out_len, "…");
    else
        snprintf(out, out_len, "%.2s…%s", sid, sid + len - 4);
}

const char *sms_twilio_halt_hint(const chw_result_t *r) {
    const char *code = r ? r->provider_code : "";
    const char *detail = r ? r->detail : "";
    if (strcmp(code, "20003") == 0 || strstr(detail, "credentials"))
        return "fix TWILIO_AUTH_TOKEN (or --auth-token-file) and restart";
    if (strcmp(code, "21606") == 0)
        return "the From number cannot send from this account: fix --from and restart";
    if (strcmp(code, "21608") == 0)
        return "trial account and unverified To number: upgrade the account and restart";
    if (strcmp(code, "21408") == 0)
        return "SMS to that region is not enabled (Geo Permissions): enable it and restart";
    if (strstr(detail, "provider URL"))
        return "fix --base-url and restart";
    return "fix the Twilio configuration and restart";
}
