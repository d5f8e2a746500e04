/* test_worker.c — pg_test_worker: a channel worker with a test driver, built on chw_main, to
 * test what chw_main and the driver interface promise with real processes (chw_main_test.sh).
 *
 * Its driver POSTs a Twilio-like form to --url (the sandbox plays the provider) with Basic auth
 * from its secret --api-key-file / PG_TEST_API_KEY, and writes one line per release to
 * --release-log: "release JOB OUTCOME state=yes|no", so a script can check that every job is
 * released exactly once whatever its exit. The per-job state carries a magic number that release
 * checks and clears: a second release of the same state aborts (and ASan sees a double free).
 * --shape pair shapes by sender and recipient (chw_shape_key_pair). A job whose contact is
 * --fail-prepare-for is refused by prepare after its state was allocated. Test tool: not
 * installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chw_main.h"

#define S_MAGIC 0x5e55105u

typedef struct {
    char *url, *userpwd, *fail_for;
    FILE *release_log;
    bool pair;
    long hold_ms;
} s_driver_t;

typedef struct {
    unsigned magic;
    char job_id[64];
    char *body;
} s_job_t;

static const chw_option_t s_options[] = {
    {"url", "URL", "provider endpoint to POST to", "PG_TEST_URL", NULL, CHW_OPT_REQUIRED},
    {"api-key", NULL, "test API key", "PG_TEST_API_KEY", NULL, CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"release-log", "FILE", "where every release is written", NULL, "/dev/null", 0},
    {"shape", "sender|pair", "shaping key", NULL, "sender", 0},
    {"fail-prepare-for", "CONTACT", "prepare refuses jobs to this contact", NULL, NULL, 0},
    {"hold-ms", "MS", "a SENT job keeps its slot this long (chw_driver_t.hold_ms)", NULL, "0", 0},
    {"verbose", NULL, "a switch (only shown in --help)", NULL, NULL, CHW_OPT_SWITCH},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    s_driver_t *self = ctx;
    s_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        chw_result_set(err, CHW_RETRY, "out of memory");
        return -1;
    }
    job->magic = S_MAGIC;
    snprintf(job->job_id, sizeof job->job_id, "%s", d->job->job_id);
    *job_state = job;
    if (!d->content || d->content->body_case != PREGON__CONTENT__BODY_TEXT) {
        chw_result_set(err, CHW_FAILED, "content-not-text");
        return -1;
    }
    if (self->fail_for && strcmp(self->fail_for, d->job->contact) == 0) {
        chw_result_set(err, CHW_FAILED, "prepare refused");
        return -1;
    }
    char *to = curl_easy_escape(NULL, d->job->contact, 0);
    char *text = curl_easy_escape(NULL, d->content->text->text, 0);
    size_t len = (to ? strlen(to) : 0) + (text ? strlen(text) : 0) + 64;
    job->body = malloc(len);
    if (to && text && job->body)
        snprintf(job->body, len, "To=%s&From=%%2B15005550006&Body=%s", to, text);
    curl_free(to);
    curl_free(text);
    if (!job->body || !to || !text) {
        chw_result_set(err, CHW_RETRY, "out of memory");
        return -1;
    }
    curl_easy_setopt(easy, CURLOPT_URL, self->url);
    curl_easy_setopt(easy, CURLOPT_USERPWD, self->userpwd);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, job->body); /* read in place until release */
    return 0;
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    (void)ctx, (void)d;
    s_job_t *job = job_state;
    if (!job || job->magic != S_MAGIC)
        abort(); /* classify without the state prepare set */
    long st = response->status;
    if (st >= 200 && st < 300) {
        chw_result_set(out, CHW_SENT, "%s", "");
        json_t *root = json_loadb(response->body, response->body_len, 0, NULL);
        json_t *sid = json_object_get(root, "sid");
        if (json_is_string(sid))
            snprintf(out->provider_id, sizeof out->provider_id, "%s", json_string_value(sid));
        json_decref(root);
    } else if (st == 401) {
        chw_result_set(out, CHW_CONFIG_ERROR, "provider rejected credentials (HTTP 401)");
    } else if (st == 429 || st >= 500) {
        chw_result_set(out, CHW_RETRY, "HTTP %ld", st);
    } else {
        chw_result_set(out, CHW_FAILED, "HTTP %ld", st);
    }
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    s_driver_t *self = ctx;
    s_job_t *job = job_state;
    if (job && job->magic != S_MAGIC)
        abort(); /* released twice */
    fprintf(self->release_log, "release %s %s state=%s\n", d->job->job_id,
            chw_outcome_name(result->outcome), job ? "yes" : "no");
    fflush(self->release_log);
    if (job) {
        job->magic = 0;
        free(job->body);
        free(job);
    }
}

static const char *s_key(void *ctx, const Pregon__Dispatch *d, char *buf, size_t len) {
    s_driver_t *self = ctx;
    return self->pair ? chw_shape_key_pair(ctx, d, buf, len)
                      : chw_shape_key_sender(ctx, d, buf, len);
}

/* A SENT job holds its slot --hold-ms (as a voice call holds its line). */
static int64_t s_hold(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *r) {
    (void)job_state, (void)d;
    return r && r->outcome == CHW_SENT ? ((s_driver_t *)ctx)->hold_ms : 0;
}

static void s_close(void *ctx) {
    s_driver_t *self = ctx;
    if (!self)
        return;
    if (self->release_log)
        fclose(self->release_log);
    free(self->url);
    free(self->userpwd);
    free(self->fail_for);
    free(self);
}

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    const char *shape = chw_opts_get(opts, "shape");
    if (strcmp(shape, "sender") != 0 && strcmp(shape, "pair") != 0) {
        snprintf(err, err_len, "--shape: sender or pair, not %.64s", shape);
        return -1;
    }
    s_driver_t *self = calloc(1, sizeof *self);
    const char *key = chw_opts_get(opts, "api-key"), *fail = chw_opts_get(opts, "fail-prepare-for");
    size_t len = strlen(key) + 64;
    if (self) {
        self->pair = strcmp(shape, "pair") == 0;
        self->hold_ms = strtol(chw_opts_get(opts, "hold-ms"), NULL, 10);
        self->url = strdup(chw_opts_get(opts, "url"));
        self->fail_for = fail ? strdup(fail) : NULL;
        self->userpwd = malloc(len);
        if (self->userpwd)
            snprintf(self->userpwd, len, "AC00000000000000000000000000000000:%s", key);
        self->release_log = fopen(chw_opts_get(opts, "release-log"), "a");
    }
    if (!self || !self->url || !self->userpwd || !self->release_log || (fail && !self->fail_for)) {
        s_close(self);
        snprintf(err, err_len, "cannot set up the test driver (release log %.200s)",
                 chw_opts_get(opts, "release-log"));
        return -1;
    }
    *driver = (chw_driver_t){.prepare = s_prepare,
                             .classify = s_classify,
                             .release = s_release,
                             .shape_key = s_key,
                             .hold_ms = s_hold,
                             .ctx = self};
    return 0;
}

static const chw_program_t s_program = {
    .program = "pg-test-worker",
    .id_prefix = "test",
    .channel = PREGON__CHANNEL__SMS,
    .summary = "A channel worker with a test driver (tests/integration/worker).",
    .options = s_options,
    .open = s_open,
    .close = s_close,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &s_program);
}
