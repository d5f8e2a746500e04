/* hk_event.c — the owned strings of an inbound event (see hk_event.h). */
#include "hk_event.h"

#include <stdlib.h>
#include <string.h>

int hk_event_setn(char **field, const char *value, size_t len) {
    free(*field);
    *field = NULL;
    if (!value)
        return 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, value, len);
    copy[len] = '\0';
    *field = copy;
    return 0;
}

int hk_event_set(char **field, const char *value) {
    return hk_event_setn(field, value, value ? strlen(value) : 0);
}

void hk_event_release(hk_event_t *ev) {
    if (!ev)
        return;
    char **fields[] = {&ev->tenant,      &ev->debtor_id, &ev->job_id,     &ev->contact,
                       &ev->provider_id, &ev->status,    &ev->text,       &ev->digits,
                       &ev->event_id,    &ev->provider,  &ev->error_code, &ev->sender,
                       &ev->keyword,     &ev->campaign,  &ev->template_id};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        free(*fields[i]);
    memset(ev, 0, sizeof *ev);
}
