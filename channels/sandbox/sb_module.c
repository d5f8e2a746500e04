/* sb_module.c — the one helper of the module interface (see sb_module.h). */
#include "sb_module.h"

#include <string.h>

void *sb_env_module(const sb_env_t *env, const char *name) {
    for (size_t i = 0; i < env->n_modules; i++) {
        if (strcmp(env->modules[i]->name, name) == 0)
            return env->states[i];
    }
    return NULL;
}
