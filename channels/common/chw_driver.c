/* chw_driver.c — the two stock shaping keys of chw_driver.h (sender; sender and recipient).
 * Pure: no allocation, no clock. */
#include "chw_driver.h"

#include <stdio.h>
#include <string.h>

const char *chw_shape_key_sender(void *ctx, const Pregon__Dispatch *dispatch, char *buf,
                                 size_t len) {
    (void)ctx, (void)buf, (void)len;
    const Pregon__SendRequest *job = dispatch->job;
    return job && job->sender ? job->sender : "";
}

const char *chw_shape_key_pair(void *ctx, const Pregon__Dispatch *dispatch, char *buf, size_t len) {
    (void)ctx;
    const Pregon__SendRequest *job = dispatch->job;
    const char *sender = job && job->sender ? job->sender : "";
    const char *to = job && job->contact ? job->contact : "";
    if (len)
        snprintf(buf, len, "%zu:%s/%s", strlen(sender), sender, to);
    return len ? buf : "";
}
