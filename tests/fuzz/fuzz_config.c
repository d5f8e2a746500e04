/* fuzz_config.c — the configuration loaders of pregond (brk_config_load) and pregon-hooks
 * (hk_config_load, then hk_config_check as hk_main runs them, and its Twilio tokens file,
 * hk_secrets_load_file) on any file. The first input byte picks the loader: 'H' pregon-hooks'
 * settings, 'S' its tokens file, anything else pregond's; the rest is the file.
 *
 * Properties: a refused file gets an error message, which never quotes a tokens file's text; a
 * loaded file leaves every string setting NUL-terminated within its array (the settings are
 * fixed-size buffers); a tokens file's every account is found again with a non-empty secret. */
#include <stdlib.h>
#include <string.h>

#include "brk_config.h"
#include "fz_lib.h"
#include "hk_config.h"
#include "hk_secrets.h"

#define S_TERMINATED(field) (memchr((field), 0, sizeof(field)) != NULL)

static void s_broker(const char *path) {
    brk_config_t cfg;
    char err[1024] = "";
    if (brk_config_load(&cfg, path, err, sizeof err) != 0) {
        if (!err[0])
            fz_fail("brk_config_load refused a file without a message");
        return;
    }
    if (!S_TERMINATED(cfg.redis_host) || !S_TERMINATED(cfg.redis_socket) ||
        !S_TERMINATED(cfg.redis_prefix) || !S_TERMINATED(cfg.redis_user) ||
        !S_TERMINATED(cfg.redis_password_file) || !S_TERMINATED(cfg.redis_password) ||
        !S_TERMINATED(cfg.secret_key_file) || !S_TERMINATED(cfg.keys) ||
        !S_TERMINATED(cfg.instance) || !S_TERMINATED(cfg.frontend) || !S_TERMINATED(cfg.backend) ||
        !S_TERMINATED(cfg.events) || !S_TERMINATED(cfg.hooks) || !S_TERMINATED(cfg.policies) ||
        !S_TERMINATED(cfg.templates))
        fz_fail("a pregond setting without its NUL");
}

static void s_hooks(const char *path) {
    hk_config_t cfg;
    char err[1024] = "";
    hk_config_defaults(&cfg);
    if (hk_config_load(&cfg, path, err, sizeof err) != 0) {
        if (!err[0])
            fz_fail("hk_config_load refused a file without a message");
        return;
    }
    if (!S_TERMINATED(cfg.listen) || !S_TERMINATED(cfg.public_url) || !S_TERMINATED(cfg.broker) ||
        !S_TERMINATED(cfg.twilio_tokens))
        fz_fail("a pregon-hooks setting without its NUL");
    err[0] = '\0';
    if (hk_config_check(&cfg, err, sizeof err) != 0 && !err[0])
        fz_fail("hk_config_check refused settings without a message");
}

static void s_tokens(const char *path, const uint8_t *text, size_t len) {
    hk_secrets_t *set = hk_secrets_new();
    if (!set)
        abort();
    char err[1024] = "";
    int n = hk_secrets_load_file(set, path, err, sizeof err);
    if (n < 0) {
        if (!err[0])
            fz_fail("hk_secrets_load_file refused a file without a message");
        /* errors name the file and the line, never its text: no 12-byte run of it in err */
        const char *msg = strrchr(err, ':') ? strrchr(err, ':') : err;
        for (size_t i = 0; i + 12 <= len; i++)
            if (memchr(text + i, 0, 12) == NULL && memchr(text + i, '\n', 12) == NULL &&
                memchr(text + i, ' ', 12) == NULL && memmem(msg, strlen(msg), text + i, 12))
                fz_fail("a tokens file error quotes the file's text");
    } else if ((size_t)n != hk_secrets_count(set)) {
        fz_fail("hk_secrets_load_file's count differs from hk_secrets_count");
    }
    hk_secrets_destroy(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *path = fz_write_file("config.yaml", data + 1, size - 1);
    if (data[0] == 'H')
        s_hooks(path);
    else if (data[0] == 'S')
        s_tokens(path, data + 1, size - 1);
    else
        s_broker(path);
    return 0;
}
