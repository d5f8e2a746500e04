/* pg_channel.c — channel names and numbers (see pg_channel.h). */
#include "pg_channel.h"

#include <string.h>

static const char *const s_names[PG_CH_COUNT] = {NULL,    "sms",   "whatsapp",
                                                 "voice", "email", "messenger"};

pg_channel_t pg_channel_parse(const char *name) {
    if (!name)
        return PG_CH_NONE;
    for (int c = PG_CH_SMS; c < PG_CH_COUNT; c++) {
        if (strcmp(name, s_names[c]) == 0)
            return (pg_channel_t)c;
    }
    return PG_CH_NONE;
}

const char *pg_channel_name(int ch) {
    return ch > PG_CH_NONE && ch < PG_CH_COUNT ? s_names[ch] : NULL;
}
