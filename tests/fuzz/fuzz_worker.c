/* fuzz_worker.c — what a channel worker does with bytes it did not write: a BrokerToWorker frame
 * (chw_wire: unpack, the Dispatch check, the shaping keys, then the SMS driver's request built
 * on a curl handle that never performs) and the provider's answer (sms_twilio_classify on
 * Twilio's JSON body). The first input byte picks: even = a frame, odd = an answer whose HTTP
 * status comes from the next two bytes.
 *
 * Properties: a result's strings stay NUL-terminated within their arrays; a Dispatch the
 * worker accepts (chw_wire's check: a job with a job id) never makes the driver crash, whatever
 * its content case. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "chw_driver.h"
#include "fz_lib.h"
#include "pregon.pb-c.h"
#include "sms_twilio.h"

static sms_twilio_t *s_sms;
static CURL *s_easy;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sms_twilio_config_t cfg = {.base_url = "http://127.0.0.1:9",
                               .account_sid = "ACfuzz0000000000000000000000000000",
                               .auth_token = "fuzz-token",
                               .from = "+15005550006",
                               .status_callback = "http://127.0.0.1:9/twilio/sms/status"};
    s_sms = sms_twilio_new(&cfg);
    s_easy = curl_easy_init();
    if (!s_sms || !s_easy)
        fz_fail("cannot set the SMS driver up");
    return 0;
}

static void s_result_ok(const chw_result_t *r) {
    if (!memchr(r->provider_id, 0, sizeof r->provider_id) ||
        !memchr(r->provider_code, 0, sizeof r->provider_code) ||
        !memchr(r->detail, 0, sizeof r->detail))
        fz_fail("a result string without its NUL");
}

static void s_dispatch(const Pregon__Dispatch *d) {
    if (!d->job || !d->job->job_id[0])
        return; /* chw_wire counts a bad frame and gives the credit back */
    char buf[CHW_SHAPE_KEY_MAX];
    (void)chw_shape_key_sender(NULL, d, buf, sizeof buf);
    (void)chw_shape_key_pair(NULL, d, buf, sizeof buf);
    chw_driver_t drv = sms_twilio_driver(s_sms);
    curl_easy_reset(s_easy);
    void *state = NULL;
    chw_result_t err;
    memset(&err, 0, sizeof err);
    if (drv.prepare(drv.ctx, s_easy, d, &state, &err) != 0)
        s_result_ok(&err);
    drv.release(drv.ctx, state, d, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0) {
        Pregon__BrokerToWorker *msg = pregon__broker_to_worker__unpack(NULL, size - 1, data + 1);
        if (!msg)
            return 0;
        if (msg->msg_case == PREGON__BROKER_TO_WORKER__MSG_DISPATCH)
            s_dispatch(msg->dispatch);
        pregon__broker_to_worker__free_unpacked(msg, NULL);
        return 0;
    }
    if (size < 3)
        return 0;
    long status = 100 + (long)((data[1] << 8 | data[2]) % 500);
    char *body = fz_strndup(data + 3, size - 3); /* chw_worker NUL-terminates what it read */
    chw_result_t out;
    memset(&out, 0, sizeof out);
    sms_twilio_classify(status, body, size - 3, &out);
    s_result_ok(&out);
    free(body);
    return 0;
}
