/* hk_module.c — the result a provider module fills (see hk_module.h). */
#include "hk_module.h"

#include <stdlib.h>
#include <string.h>

hk_event_t *hk_result_add_event(hk_result_t *res) {
    if (res->n_events == res->cap_events) {
        size_t cap = res->cap_events ? 2 * res->cap_events : 2;
        hk_event_t *grown = realloc(res->events, cap * sizeof *grown);
        if (!grown)
            return NULL;
        res->events = grown;
        res->cap_events = cap;
    }
    hk_event_t *ev = &res->events[res->n_events++];
    memset(ev, 0, sizeof *ev);
    return ev;
}

int hk_result_set_body(hk_result_t *res, const char *content_type, const char *text) {
    char *copy = strdup(text);
    if (!copy)
        return -1;
    free(res->body);
    res->body = copy;
    res->body_len = strlen(copy);
    res->content_type = content_type;
    return 0;
}

int hk_result_script(hk_result_t *res, const char *tenant, const char *job, const char *lease) {
    free(res->script_tenant);
    free(res->script_job);
    free(res->script_lease);
    res->script_tenant = strdup(tenant ? tenant : "");
    res->script_job = strdup(job ? job : "");
    res->script_lease = strdup(lease ? lease : "");
    return res->script_tenant && res->script_job && res->script_lease ? 0 : -1;
}

void hk_result_release(hk_result_t *res) {
    if (!res)
        return;
    for (size_t i = 0; i < res->n_events; i++)
        hk_event_release(&res->events[i]);
    free(res->events);
    free(res->body);
    free(res->script_tenant);
    free(res->script_job);
    free(res->script_lease);
    memset(res, 0, sizeof *res);
}
