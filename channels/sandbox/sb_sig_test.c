/* sb_sig_test.c — unit test of sb_sig_twilio() against the vector in PROVIDERS.md (Twilio's own
 * documentation example), plus order-independence and a wrong-token check.
 * Exit status 0 when every check passes; prints one line per failure. */
#include "sb_form.h"
#include "sb_sig.h"

#include <stdio.h>
#include <string.h>

static int s_failures;

static void s_expect_str(const char *what, const char *got, const char *want) {
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL %s: got %s, want %s\n", what, got, want);
        s_failures++;
    }
}

int main(void) {
    const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const char *want = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    char sig[SB_SIG_TWILIO_SIZE];

    /* Fields added out of order on purpose: the function must sort them. */
    sb_form_t *form = sb_form_new();
    if (!form || sb_form_add(form, "To", "+18005551212") || sb_form_add(form, "Digits", "1234") ||
        sb_form_add(form, "CallSid", "CA1234567890ABCDE") ||
        sb_form_add(form, "From", "+12349013030") || sb_form_add(form, "Caller", "+12349013030")) {
        fprintf(stderr, "FAIL setup: out of memory\n");
        return 1;
    }
    if (sb_sig_twilio("12345", url, form, sig, sizeof sig) != 0) {
        fprintf(stderr, "FAIL sb_sig_twilio returned an error\n");
        s_failures++;
    } else {
        s_expect_str("PROVIDERS.md vector", sig, want);
    }

    if (sb_sig_twilio("54321", url, form, sig, sizeof sig) == 0 && strcmp(sig, want) == 0) {
        fprintf(stderr, "FAIL wrong token produced the same signature\n");
        s_failures++;
    }
    if (sb_sig_twilio("12345", url, form, sig, 10) != -1) {
        fprintf(stderr, "FAIL short buffer accepted\n");
        s_failures++;
    }
    /* No fields: the signature covers the URL alone; must not crash and must be 28 chars. */
    if (sb_sig_twilio("12345", url, NULL, sig, sizeof sig) != 0 || strlen(sig) != 28) {
        fprintf(stderr, "FAIL no-fields signature\n");
        s_failures++;
    }
    sb_form_destroy(&form);
    if (form) {
        fprintf(stderr, "FAIL destroy did not null the pointer\n");
        s_failures++;
    }
    if (s_failures == 0)
        printf("sb_sig_test: all checks passed\n");
    return s_failures ? 1 : 0;
}
