/* pg_channel.h — the channels pregon sends on: names as written in policies, templates, CSV
 * and the cli, and their numbers, which are pregon.proto's Channel enum.
 *
 * The one table of names in the tree (ratelimit's rl_channel_*, the template catalog and
 * pregonctl use it). Kept free of the generated protobuf code so that anything may link it;
 * pregon.proto's numbers are repeated here once and checked against the generated enum where
 * both are visible (broker). Pure functions over static data; thread-safe. */
#ifndef PG_CHANNEL_H
#define PG_CHANNEL_H

/* pregon.proto's Channel numbers. */
typedef enum {
    PG_CH_NONE = 0, /* CHANNEL_UNSPECIFIED */
    PG_CH_SMS = 1,
    PG_CH_WHATSAPP = 2,
    PG_CH_VOICE = 3,
    PG_CH_EMAIL = 4,
    PG_CH_MESSENGER = 5,
} pg_channel_t;

/* One past the highest channel number. */
#define PG_CH_COUNT 6

/* The number of name ("sms", "whatsapp", "voice", "email", "messenger"; exact, lower case), or
 * PG_CH_NONE when name is NULL or unknown. */
pg_channel_t pg_channel_parse(const char *name);

/* The name of channel number ch (static), or NULL for PG_CH_NONE and numbers out of range. */
const char *pg_channel_name(int ch);

#endif
