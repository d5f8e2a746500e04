/* api_front.h — pregon-api as a campaign system: jobs to pregond's frontend, verdicts back.
 *
 * Each HTTP thread has its own DEALER socket (libzmq sockets belong to one thread), made on
 * its first request with the gateway's CURVE key, connected to pregond's frontend and kept.
 * A request's jobs go as SubmitBatch messages of at most `batch` jobs and `max_frame` bytes,
 * all sent before the first reply is awaited (pipelined); replies are matched by batch id, so a
 * late reply to a request that timed out is recognized and dropped. A job larger than pregond
 * admits is answered here, REJECTED job.fields / job-too-large, as pregonctl does. */
#ifndef API_FRONT_H
#define API_FRONT_H

#include <jansson.h>
#include <stddef.h>

#include "pregon.pb-c.h"

typedef struct api_front api_front_t;

typedef struct {
    const char *endpoint;        /* pregond's frontend */
    const char *key_file;        /* this gateway's CURVE key (NULL: plaintext) */
    const char *broker_key_file; /* pregond's .pub */
    int timeout_ms;              /* for an answer to every batch of a request */
    size_t batch, max_frame;
} api_front_config_t;

/* NULL with the reason in err (a key file that cannot be read). Strings are copied. */
api_front_t *api_front_new(const api_front_config_t *cfg, char *err, size_t errlen);

/* Closes every thread's socket: call after the HTTP server stopped. */
void api_front_destroy(api_front_t **self_p);

/* Submits n jobs (borrowed) and appends one verdict object per job, in order, to `verdicts`
 * (pc_job_verdict_json's form). Returns 0, or -1 with the reason in err when pregond did not
 * answer every batch in time or refused one (nothing appended then). Any thread. */
int api_front_submit(api_front_t *self, Pregon__SendRequest **jobs, size_t n, json_t *verdicts,
                     char *err, size_t errlen);

#endif
