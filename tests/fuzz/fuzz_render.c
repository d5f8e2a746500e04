/* fuzz_render.c — the template renderer (brk_tpl_render_content) with the shipped catalog
 * (deploy/templates.yaml) and fuzzed variables, as admission runs it: brk_val_variables first
 * (values that fail it are REJECTED before any template is looked at), then brk_tpl_check, then
 * the render for the job's channel.
 *
 * Input: byte 0 picks the template, byte 1 the channel (0..5, 0 and unserved ones included), the
 * rest is NUL-separated "key=value" entries (the first '=' splits; NUL cannot occur in a
 * protobuf-c string). Properties: fz_content.h's, and render agrees with brk_tpl_check on
 * "template-channel" and "template-variables". */
#include <stdlib.h>
#include <string.h>

#include "brk_template.h"
#include "brk_validate.h"
#include "fz_content.h"
#include "fz_lib.h"

#define S_MAX_VARS (BRK_LIM_VARS + 2) /* a few past the limit: the validator's refusal too */

static brk_tpl_catalog_t *s_cat;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[1024];
    s_cat = brk_tpl_load(fz_source_path("deploy/templates.yaml"), err, sizeof err);
    if (!s_cat || brk_tpl_count(s_cat) == 0)
        fz_fail(err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    const brk_tpl_t *tpl = brk_tpl_at(s_cat, data[0] % brk_tpl_count(s_cat));
    int channel = data[1] % 6;
    fz_part_t parts[S_MAX_VARS];
    size_t n = size > 2 ? fz_split(data + 2, size - 2, 0, parts, S_MAX_VARS) : 0;
    char *keys[S_MAX_VARS], *values[S_MAX_VARS];
    for (size_t i = 0; i < n; i++) {
        const uint8_t *eq = memchr(parts[i].p, '=', parts[i].n);
        size_t kl = eq ? (size_t)(eq - parts[i].p) : parts[i].n;
        keys[i] = fz_strndup(parts[i].p, kl);
        values[i] = eq ? fz_strndup(eq + 1, parts[i].n - kl - 1) : fz_strndup("", 0);
    }
    const char *const *k = (const char *const *)keys, *const *v = (const char *const *)values;
    if (!brk_val_variables(n, k, v)) {
        const char *missing = NULL, *why = NULL;
        int rc = brk_tpl_check(tpl, channel, k, n, &missing);
        Pregon__Content *c = NULL;
        int r = brk_tpl_render_content(tpl, channel, k, v, n, &c, &why);
        if (r == 0) {
            if (!c || rc != BRK_TPL_OK)
                fz_fail("rendered what brk_tpl_check refused");
            fz_content_check(c);
        } else {
            if (c || !why || strlen(why) > BRK_LIM_REASON)
                fz_fail("a failed render without its reason");
            if (rc != BRK_TPL_OK && strcmp(why, brk_tpl_reason(rc)) != 0)
                fz_fail("render and brk_tpl_check disagree");
        }
        brk_tpl_content_free(&c);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]), free(values[i]);
    return 0;
}
