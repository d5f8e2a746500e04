/* fuzz_config.c — the configuration loaders of pregond (brk_config_load) and pregon-hooks
 * (hk_config_load, then hk_config_check as hk_main runs them) on any file. The first input byte
 * picks the loader: 'H' pregon-hooks, anything else pregond; the rest is the file.
 *
 * Properties: a refused file gets an error message; a loaded file leaves every string setting
 * NUL-terminated within its array (the settings are fixed-size buffers). */
#include <string.h>

#include "brk_config.h"
#include "fz_lib.h"
#include "hk_config.h"

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
        !S_TERMINATED(cfg.redis_prefix) || !S_TERMINATED(cfg.instance) ||
        !S_TERMINATED(cfg.frontend) || !S_TERMINATED(cfg.backend) || !S_TERMINATED(cfg.events) ||
        !S_TERMINATED(cfg.hooks) || !S_TERMINATED(cfg.policies) || !S_TERMINATED(cfg.templates))
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *path = fz_write_file("config.yaml", data + 1, size - 1);
    if (data[0] == 'H')
        s_hooks(path);
    else
        s_broker(path);
    return 0;
}
