/* fuzz_templates.c — the template catalog loader (brk_tpl_load) on any file, then every loaded
 * template rendered for every channel with three sets of values: each variable "x", each a
 * character that HTML escapes, each as long as a value may be (BRK_LIM_VAR_VALUE bytes).
 *
 * Properties: a refused catalog gets an error line; a loaded one has templates whose variables
 * brk_tpl_check asks for exist in brk_tpl_vars; renders keep fz_content.h's promises. */
#include <stdlib.h>
#include <string.h>

#include "brk_template.h"
#include "fz_content.h"
#include "fz_lib.h"

#define S_MAX_TEMPLATES 16

static char s_long[BRK_LIM_VAR_VALUE + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    memset(s_long, 'W', BRK_LIM_VAR_VALUE);
    return 0;
}

static void s_render(const brk_tpl_t *tpl) {
    const char *const *names;
    size_t n = brk_tpl_vars(tpl, &names);
    if (n > BRK_TPL_MAX_VARS)
        fz_fail("more variables than BRK_TPL_MAX_VARS");
    const char *vals[BRK_TPL_MAX_VARS];
    const char *const sets[] = {"x", "<&\"'>", s_long};
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        for (size_t i = 0; i < n; i++)
            vals[i] = sets[s];
        for (int ch = 0; ch < 6; ch++) {
            const char *missing = NULL, *why = NULL;
            int rc = brk_tpl_check(tpl, ch, names, n, &missing);
            if (rc == BRK_TPL_E_VARIABLES)
                fz_fail("brk_tpl_check misses a variable brk_tpl_vars gave");
            Pregon__Content *c = NULL;
            if (brk_tpl_render_content(tpl, ch, names, vals, n, &c, &why) == 0)
                fz_content_check(c);
            else if (!why)
                fz_fail("a failed render without its reason");
            brk_tpl_content_free(&c);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write_file("templates.yaml", data, size);
    char err[1024] = "";
    brk_tpl_catalog_t *cat = brk_tpl_load(path, err, sizeof err);
    if (!cat) {
        if (!err[0])
            fz_fail("a refused catalog without a message");
        return 0;
    }
    for (size_t i = 0; i < brk_tpl_count(cat) && i < S_MAX_TEMPLATES; i++) {
        const brk_tpl_t *tpl = brk_tpl_at(cat, i);
        if (!tpl || brk_tpl_get(cat, brk_tpl_id(tpl)) != tpl)
            fz_fail("a template not found by its id");
        s_render(tpl);
    }
    brk_tpl_destroy(&cat);
    return 0;
}
