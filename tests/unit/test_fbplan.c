/* test_fbplan.c — brk_fbplan: the fallback job's id (deterministic, within BRK_LIM_JOB_ID, a
 * hash for long ids), the next channel (skips the job's own channel and channels without a
 * contact point, the job's number on phone channels but never for a wrong number), and the job
 * it builds (channel, contact, template, the rest of the chain, fallback_of, sender). Also
 * brk_submit_windowed and the validation of the fallback fields (brk_submit_prepare). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "brk_fbplan.h"
#include "brk_limits.h"
#include "brk_submit.h"
#include "brk_validate.h"

typedef struct {
    Pregon__SendRequest req;
    Pregon__Channel fb[4];
    Pregon__SendRequest__FallbackContactsEntry fc[3], *fcp[3];
    Pregon__SendRequest__FallbackTemplatesEntry ft[2], *ftp[2];
} s_job_t;

/* A WhatsApp job to +573001112233 falling back to voice, SMS, e-mail, Messenger. */
static void s_job(s_job_t *j) {
    memset(j, 0, sizeof *j);
    pregon__send_request__init(&j->req);
    j->req.job_id = "j-1";
    j->req.tenant = "acme";
    j->req.debtor_id = "d-1";
    j->req.channel = PREGON__CHANNEL__WHATSAPP;
    j->req.contact = "+573001112233";
    j->req.template_id = "wa_aviso";
    j->req.sender = "1234567890";
    j->req.not_before = 1000;
    j->fb[0] = PREGON__CHANNEL__WHATSAPP; /* its own channel: never a candidate */
    j->fb[1] = PREGON__CHANNEL__SMS;
    j->fb[2] = PREGON__CHANNEL__EMAIL;
    j->fb[3] = PREGON__CHANNEL__MESSENGER;
    j->req.fallback_channels = j->fb;
    j->req.n_fallback_channels = 4;
    for (int i = 0; i < 3; i++) {
        pregon__send_request__fallback_contacts_entry__init(&j->fc[i]);
        j->fcp[i] = &j->fc[i];
    }
    j->fc[0].key = "email";
    j->fc[0].value = "ana@example.com";
    j->fc[1].key = "messenger";
    j->fc[1].value = "7001";
    j->req.fallback_contacts = j->fcp;
    j->req.n_fallback_contacts = 2;
    for (int i = 0; i < 2; i++) {
        pregon__send_request__fallback_templates_entry__init(&j->ft[i]);
        j->ftp[i] = &j->ft[i];
    }
    j->ft[0].key = "email";
    j->ft[0].value = "correo_aviso";
    j->req.fallback_templates = j->ftp;
    j->req.n_fallback_templates = 1;
}

static void test_job_id(void **state) {
    (void)state;
    char a[BRK_FB_ID_MAX], b[BRK_FB_ID_MAX];
    assert_int_equal(brk_fb_job_id("j-1", PREGON__CHANNEL__SMS, a, sizeof a), 7);
    assert_string_equal(a, "j-1~sms");
    brk_fb_job_id("j-1", PREGON__CHANNEL__MESSENGER, a, sizeof a);
    assert_string_equal(a, "j-1~messenger");
    /* a chain: the SMS fallback's own fallback */
    brk_fb_job_id("j-1~sms", PREGON__CHANNEL__EMAIL, a, sizeof a);
    assert_string_equal(a, "j-1~sms~email");
    assert_int_equal(brk_fb_job_id("j-1", 0, a, sizeof a), -1);
    assert_int_equal(brk_fb_job_id("j-1", 9, a, sizeof a), -1);
    assert_int_equal(brk_fb_job_id("j-1", PREGON__CHANNEL__SMS, a, 64), -1);
    /* the longest id: a prefix and a hash of the whole, within the job id limit, and valid */
    char id[BRK_LIM_JOB_ID + 1], id2[BRK_LIM_JOB_ID + 1];
    memset(id, 'x', BRK_LIM_JOB_ID);
    id[BRK_LIM_JOB_ID] = '\0';
    memcpy(id2, id, sizeof id);
    id2[BRK_LIM_JOB_ID - 1] = 'y'; /* differs past the prefix kept */
    int n = brk_fb_job_id(id, PREGON__CHANNEL__MESSENGER, a, sizeof a);
    assert_int_equal(n, BRK_LIM_JOB_ID);
    assert_int_equal(strlen(a), BRK_LIM_JOB_ID);
    assert_null(brk_val_job_id(a));
    assert_string_equal(a + n - 10, "~messenger");
    brk_fb_job_id(id2, PREGON__CHANNEL__MESSENGER, b, sizeof b);
    assert_string_not_equal(a, b);
    /* deterministic: the same original and channel, the same id */
    brk_fb_job_id(id, PREGON__CHANNEL__MESSENGER, b, sizeof b);
    assert_string_equal(a, b);
    /* the boundary: an id that just fits stays readable */
    id[BRK_LIM_JOB_ID - 4] = '\0';
    assert_int_equal(brk_fb_job_id(id, PREGON__CHANNEL__SMS, a, sizeof a), BRK_LIM_JOB_ID);
    assert_string_equal(a + BRK_LIM_JOB_ID - 4, "~sms");
}

static void test_next_channel(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    const char *cp = NULL;
    /* the job's own channel is skipped; SMS takes the job's own number (both phone channels) */
    assert_int_equal(brk_fb_next(&j.req, 0, false, &cp), 1);
    assert_string_equal(cp, "+573001112233");
    assert_int_equal(brk_fb_next(&j.req, 2, false, &cp), 2);
    assert_string_equal(cp, "ana@example.com");
    assert_int_equal(brk_fb_next(&j.req, 3, false, &cp), 3);
    assert_string_equal(cp, "7001");
    assert_int_equal(brk_fb_next(&j.req, 4, false, &cp), -1);
    /* a wrong number: never that number again, on any channel */
    assert_int_equal(brk_fb_next(&j.req, 0, true, &cp), 2);
    assert_string_equal(cp, "ana@example.com");
    j.fc[2].key = "sms";
    j.fc[2].value = "+573001112233"; /* named explicitly, still the wrong one */
    j.req.n_fallback_contacts = 3;
    assert_int_equal(brk_fb_next(&j.req, 0, true, &cp), 2);
    j.fc[2].value = "+573009998877"; /* another number: SMS is a candidate */
    assert_int_equal(brk_fb_next(&j.req, 0, true, &cp), 1);
    assert_string_equal(cp, "+573009998877");
    /* a channel without a contact point is passed over: e-mail from an SMS job has none */
    j.req.channel = PREGON__CHANNEL__SMS;
    j.req.n_fallback_contacts = 0;
    assert_int_equal(brk_fb_next(&j.req, 0, false, &cp), 0); /* WhatsApp: the same number */
    assert_int_equal(brk_fb_next(&j.req, 1, false, &cp), -1);
    /* the phone default needs a phone channel on both sides */
    j.req.channel = PREGON__CHANNEL__EMAIL;
    j.req.contact = "ana@example.com";
    assert_int_equal(brk_fb_next(&j.req, 0, false, &cp), -1);
}

static void test_build(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    Pregon__SendRequest out;
    brk_fb_build(&j.req, 2, "ana@example.com", "j-1~email", &out);
    assert_string_equal(out.job_id, "j-1~email");
    assert_int_equal(out.channel, PREGON__CHANNEL__EMAIL);
    assert_string_equal(out.contact, "ana@example.com");
    assert_string_equal(out.template_id, "correo_aviso"); /* fallback_templates["email"] */
    assert_string_equal(out.fallback_of, "j-1");
    assert_string_equal(out.sender, "");
    assert_int_equal(out.not_before, 0);
    assert_string_equal(out.tenant, "acme");
    assert_string_equal(out.debtor_id, "d-1");
    /* the rest of the chain: Messenger only */
    assert_int_equal(out.n_fallback_channels, 1);
    assert_int_equal(out.fallback_channels[0], PREGON__CHANNEL__MESSENGER);
    /* no template for SMS: the job's own */
    brk_fb_build(&j.req, 1, "+573001112233", "j-1~sms", &out);
    assert_string_equal(out.template_id, "wa_aviso");
    assert_int_equal(out.n_fallback_channels, 2);
    /* it packs and unpacks as a SendRequest with those fields */
    uint8_t buf[1024];
    size_t len = pregon__send_request__pack(&out, buf);
    Pregon__SendRequest *back = pregon__send_request__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->fallback_of, "j-1");
    assert_int_equal(back->n_fallback_contacts, 2);
    pregon__send_request__free_unpacked(back, NULL);
}

static void test_windowed(void **state) {
    (void)state;
    /* a NULL template: no approved WhatsApp name */
    assert_int_equal(brk_submit_windowed(NULL, PREGON__CHANNEL__WHATSAPP), 1);
    assert_int_equal(brk_submit_windowed(NULL, PREGON__CHANNEL__MESSENGER), 1);
    assert_int_equal(brk_submit_windowed(NULL, PREGON__CHANNEL__SMS), 0);
    assert_int_equal(brk_submit_windowed(NULL, PREGON__CHANNEL__EMAIL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_id),
        cmocka_unit_test(test_next_channel),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_windowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
