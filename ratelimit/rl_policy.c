/* rl_policy.c — loads a contact policy from YAML (libyaml's document API) into rl_policy_t.
 *
 * This file reads and validates policy files and nothing else: it never decides about a contact
 * (rl_decide.c does) and never computes a holiday (rl_calendar.c does). Anything it does not
 * understand is an error reported as one line "FILE:LINE:COLUMN: message", because the people who
 * edit these files are compliance officers and a silently ignored key is a silently broken law.
 *
 * Policy file schema (the README's "Policy files" section is a copy of this block):
 *
 *   id: CO                     # required in every file; [A-Za-z0-9._-]+, at most 63 bytes
 *   name: "Colombia — Ley 2300 de 2023"   # optional human title (< 128 bytes); defaults to id
 *   extends: OTHER             # optional: load OTHER.yaml from the same folder first, then add
 *                              # this file's rules; id, name, week_start and direct_contact
 *                              # override the base's; groups are inherited; rule ids stay unique;
 *                              # a cycle or more than 4 levels of extends is an error
 *   week_start: monday         # monday (default) | sunday: first day of a calendar week
 *   direct_contact: delivered  # any-attempt | delivered (default) | conversation
 *   groups:                    # optional named channel sets; "all" (the 5 channels) is predefined
 *     messaging: [sms, whatsapp, email, messenger]
 *   holidays:                  # optional; a file that extends may not redefine its base's
 *     id: co.festivos          # required: the rule id a verdict names when a holiday closes a
 * window rules:                   # required, non-empty; each a spec string (see rl_calendar.h) or
 * a
 *       - "fixed 01-01"        # map {rule: SPEC, from: YEAR, to: YEAR, name: TEXT}
 *       - {rule: "fixed 06-07", from: 2024, name: "Batalla de Arica"}
 *   windows:                   # permitted hours; a contact must be inside every window that
 *     - id: co.hours           # names its channel
 *       channels: all          # CHANNELS (below), required
 *       mon-fri: "07:00-19:00" # day keys: mon tue wed thu fri sat sun, ranges FROM-TO in the
 *       sat: "08:00-15:00"     # order mon..sun (mon-fri, sat-sun), or daily; a later key
 *       sun: closed            # overrides earlier ones for the days it names; days never named
 *                              # are closed; at least one day key is required
 *       holidays: closed       # hours on a holiday; absent: holidays are ordinary days here
 *                              # HOURS = "HH:MM-HH:MM" | list of up to 4 of them | closed;
 *                              # HH 00-23 (an end may be 24:00), MM 00-59, start < end; a list
 *                              # is sorted and its spans must not overlap
 *   caps:                      # at most `limit` contacts per period
 *     - id: co.direct.daily
 *       channels: all          # required
 *       limit: 1               # required; 1..1000 (0 is refused: use roles or windows)
 *       per: day               # required; day | week | rolling (then span: DURATION is required)
 *       counts: direct         # attempts (default) | direct | conversations
 *       scope: debtor          # debtor (default) | debt
 *       per_channel: false     # true: counted separately on each channel (default false)
 *   gaps:                      # minimum time between two contacts
 *     - {id: cl.messaging.gap, channels: messaging, min: 2d, scope: debtor, per_channel: false}
 *   cooldowns:                 # no contact for `days` calendar days (1..60) after a conversation
 *     - {id: us.regf.conversation, channels: [voice], after_conversation_on: [voice], days: 7,
 *        scope: debt}
 *   one_channel:               # after a direct contact, only its channel until the period ends
 *     - {id: co.one-channel, per: week, scope: debtor}  # per: week | rolling (+ span)
 *   roles:                     # recipient roles never contacted
 *     - {id: co.no-references, forbid: [reference]}     # codebtor | reference
 *
 *   CHANNELS = a channel (sms, whatsapp, voice, email, messenger), a group name, or a non-empty
 *              list of them.  DURATION = digits with units d, h, m, s in that order, each at most
 *              once ("90s", "30m", "48h", "7d", "1d12h"); > 0 and at most 400d.
 *   Integers and booleans (true | false) are plain scalars; quoting them is an error.
 *   Every rule id ([A-Za-z0-9._-]+, at most 63 bytes) is unique across all kinds of rules, the
 *   holidays id and every file of an extends chain. Unknown keys, duplicate keys, unknown names
 *   and values of the wrong YAML type are errors. One YAML document per file, at most 1 MiB;
 *   explicit YAML tags (!!binary, !foo) are refused; at most 256 rules of each kind. */
#include "rl_policy.h"

#include "pg_channel.h"
#include "pg_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define S_DAY            86400
#define S_MAX_DURATION   (400LL * S_DAY)
#define S_MAX_FILE_BYTES (1024 * 1024)
#define S_MAX_EXTENDS    4   /* levels of `extends` below the file asked for */
#define S_MAX_RULES      256 /* per kind of rule, extends chain included */
#define S_MAX_GROUPS     32
#define S_MAX_HOL_RULES  512
#define S_MAX_LIMIT      1000
#define S_MAX_COOL_DAYS  60

/* ---------------------------------------------------------------------------------------------
 * Names */

static const char *const s_role_names[] = {NULL, "debtor", "codebtor", "reference"};

/* rl_channel_t is pg_channel_t under the names ratelimit has always used. */
_Static_assert(RL_CH_SMS == (int)PG_CH_SMS && RL_CH_WHATSAPP == (int)PG_CH_WHATSAPP &&
                   RL_CH_VOICE == (int)PG_CH_VOICE && RL_CH_EMAIL == (int)PG_CH_EMAIL &&
                   RL_CH_MESSENGER == (int)PG_CH_MESSENGER && RL_CH_COUNT == PG_CH_COUNT,
               "rl_policy.h and pg_channel.h disagree");

rl_channel_t rl_channel_parse(const char *name) {
    return (rl_channel_t)pg_channel_parse(name);
}

const char *rl_channel_name(rl_channel_t ch) {
    const char *name = pg_channel_name((int)ch);
    return name ? name : "none";
}

int rl_role_parse(const char *name) {
    if (!name) {
        return 0;
    }
    for (int r = RL_ROLE_DEBTOR; r <= RL_ROLE_REFERENCE; r++) {
        if (strcmp(name, s_role_names[r]) == 0) {
            return r;
        }
    }
    return 0;
}

const char *rl_role_name(int role) {
    return (role >= RL_ROLE_DEBTOR && role <= RL_ROLE_REFERENCE) ? s_role_names[role] : "none";
}

/* ---------------------------------------------------------------------------------------------
 * Loader state */

typedef struct {
    char name[RL_ID_MAX];
    uint32_t mask;
} s_group_t;

/* Shared by every file of one rl_policy_load call. */
typedef struct {
    rl_policy_t *pol;
    char *err;
    size_t err_len;
    const char *chain[S_MAX_EXTENDS + 1]; /* paths being loaded, outermost first */
    s_group_t groups[S_MAX_GROUPS];
    size_t n_groups;
} s_loader_t;

/* One file being loaded. */
typedef struct {
    s_loader_t *ld;
    int depth;
    pg_yaml_t y; /* its path, text, document and ld's error buffer */
} s_file_t;

/* ---------------------------------------------------------------------------------------------
 * Errors and scalars (node access, types, strings and key sets are pg_yaml.h's) */

/* Reports "FILE:LINE:COL: message" at the start of a node of file f; always returns -1. */
#define s_fail(f, node, ...) pg_yaml_fail(&(f)->y, (node), __VA_ARGS__)

/* A plain (unquoted) scalar: integers and booleans are written that way. */
static int s_plain(s_file_t *f, yaml_node_t *n, const char *what, const char *type,
                   const char **out) {
    if (pg_yaml_text(&f->y, n, what, out) != 0) {
        return -1;
    }
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return s_fail(f, n, "%s must be %s, found a quoted string", what, type);
    }
    return 0;
}

static int s_int(s_file_t *f, yaml_node_t *n, const char *what, long min, long max, long *out) {
    const char *v = NULL;
    if (s_plain(f, n, what, "an integer", &v) != 0) {
        return -1;
    }
    char q[48];
    size_t len = strlen(v);
    if (len == 0 || len > 9 || strspn(v, "0123456789") != len || (v[0] == '0' && len > 1)) {
        return s_fail(f, n, "%s must be a whole number, found \"%s\"", what,
                      pg_yaml_quote(q, sizeof q, v));
    }
    long x = strtol(v, NULL, 10);
    if (x < min || x > max) {
        return s_fail(f, n, "%s must be between %ld and %ld, found %ld", what, min, max, x);
    }
    *out = x;
    return 0;
}

static int s_bool(s_file_t *f, yaml_node_t *n, const char *what, int *out) {
    const char *v = NULL;
    if (s_plain(f, n, what, "true or false", &v) != 0) {
        return -1;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *out = v[0] == 't';
        return 0;
    }
    char q[48];
    return s_fail(f, n, "%s must be true or false, found \"%s\"", what,
                  pg_yaml_quote(q, sizeof q, v));
}

/* One of a fixed set of words; *out gets its index in `words` (NULL-terminated). */
static int s_enum(s_file_t *f, yaml_node_t *n, const char *what, const char *const *words,
                  const char *expected, int *out) {
    const char *v = NULL;
    if (pg_yaml_text(&f->y, n, what, &v) != 0) {
        return -1;
    }
    for (int i = 0; words[i]; i++) {
        if (strcmp(v, words[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char q[48];
    return s_fail(f, n, "unknown %s \"%s\" (expected %s)", what, pg_yaml_quote(q, sizeof q, v),
                  expected);
}

static int s_is_id(const char *v) {
    size_t len = strlen(v);
    return len > 0 && len < RL_ID_MAX &&
           strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

static int s_id(s_file_t *f, yaml_node_t *n, const char *what, char out[RL_ID_MAX]) {
    const char *v = NULL;
    if (pg_yaml_text(&f->y, n, what, &v) != 0) {
        return -1;
    }
    if (!s_is_id(v)) {
        char q[48];
        return s_fail(f, n,
                      "%s \"%s\" is not a valid id (letters, digits, '.', '_', '-'; at most %d)",
                      what, pg_yaml_quote(q, sizeof q, v), RL_ID_MAX - 1);
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Value grammars */

/* "HH:MM" at p (exactly 5 bytes); end_ok allows 24:00. Returns seconds or -1. */
static int32_t s_clock(const char *p, int end_ok) {
    for (int i = 0; i < 5; i++) {
        if (i == 2 ? p[i] != ':' : (p[i] < '0' || p[i] > '9')) {
            return -1;
        }
    }
    int hh = (p[0] - '0') * 10 + (p[1] - '0');
    int mm = (p[3] - '0') * 10 + (p[4] - '0');
    if (mm > 59 || hh > 24 || (hh == 24 && (!end_ok || mm != 0))) {
        return -1;
    }
    return (int32_t)(hh * 3600 + mm * 60);
}

static int s_span(s_file_t *f, yaml_node_t *n, const char *what, rl_span_t *out) {
    const char *v = NULL;
    char q[48];
    if (pg_yaml_text(&f->y, n, what, &v) != 0) {
        return -1;
    }
    if (strlen(v) != 11 || v[5] != '-') {
        return s_fail(f, n, "%s: \"%s\" is not HH:MM-HH:MM or closed", what,
                      pg_yaml_quote(q, sizeof q, v));
    }
    int32_t a = s_clock(v, 0);
    int32_t b = s_clock(v + 6, 1);
    if (a < 0 || b < 0) {
        return s_fail(f, n,
                      "%s: invalid time in \"%s\" (hours 00-23, minutes 00-59, an end may be "
                      "24:00)",
                      what, pg_yaml_quote(q, sizeof q, v));
    }
    if (a >= b) {
        return s_fail(f, n,
                      "%s: start must be before end in \"%s\" (a span past midnight is two "
                      "spans on two days)",
                      what, pg_yaml_quote(q, sizeof q, v));
    }
    out->start = a;
    out->end = b;
    return 0;
}

/* HOURS: "HH:MM-HH:MM" | list of up to RL_MAX_SPANS of them | closed. */
static int s_hours(s_file_t *f, yaml_node_t *n, const char *what, rl_day_t *out) {
    memset(out, 0, sizeof *out);
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = NULL;
        if (pg_yaml_text(&f->y, n, what, &v) != 0) {
            return -1;
        }
        if (strcmp(v, "closed") == 0) {
            return 0;
        }
        out->n = 1;
        return s_span(f, n, what, &out->span[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        return s_fail(f, n, "%s must be \"HH:MM-HH:MM\", a list of them or closed, found %s", what,
                      pg_yaml_type_name(&f->y, n));
    }
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) {
        return s_fail(f, n, "%s: empty list of hours (write closed)", what);
    }
    if (count > RL_MAX_SPANS) {
        return s_fail(f, n, "%s: at most %d spans per day, found %zu", what, RL_MAX_SPANS, count);
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = pg_yaml_node(&f->y, n->data.sequence.items.start[i]);
        if (!item) {
            return s_fail(f, n, "malformed list");
        }
        if (item->type != YAML_SCALAR_NODE) {
            return s_fail(f, item, "%s: each span must be \"HH:MM-HH:MM\", found %s", what,
                          pg_yaml_type_name(&f->y, item));
        }
        if (s_span(f, item, what, &out->span[i]) != 0) {
            return -1;
        }
    }
    out->n = (int)count;
    for (int i = 1; i < out->n; i++) { /* insertion sort, at most 4 */
        rl_span_t s = out->span[i];
        int j = i;
        while (j > 0 && out->span[j - 1].start > s.start) {
            out->span[j] = out->span[j - 1];
            j--;
        }
        out->span[j] = s;
    }
    for (int i = 1; i < out->n; i++) {
        if (out->span[i].start < out->span[i - 1].end) {
            return s_fail(f, n, "%s: overlapping spans %02d:%02d-%02d:%02d and %02d:%02d-%02d:%02d",
                          what, out->span[i - 1].start / 3600, out->span[i - 1].start / 60 % 60,
                          out->span[i - 1].end / 3600, out->span[i - 1].end / 60 % 60,
                          out->span[i].start / 3600, out->span[i].start / 60 % 60,
                          out->span[i].end / 3600, out->span[i].end / 60 % 60);
        }
    }
    return 0;
}

/* DURATION: e.g. "90s", "1d12h"; units d h m s in that order, each at most once. */
static int s_duration(s_file_t *f, yaml_node_t *n, const char *what, int64_t *out) {
    static const char units[] = "dhms";
    static const int64_t mult[] = {S_DAY, 3600, 60, 1};
    const char *v = NULL;
    char q[48];
    if (pg_yaml_text(&f->y, n, what, &v) != 0) {
        return -1;
    }
    int64_t total = 0;
    int next_unit = 0;
    const char *p = v;
    if (*p == '\0') {
        goto bad;
    }
    while (*p) {
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 9) {
            goto bad;
        }
        char *end;
        long x = strtol(p, &end, 10);
        const char *u = *end ? strchr(units + next_unit, *end) : NULL;
        if (end != p + digits || !u) {
            goto bad;
        }
        next_unit = (int)(u - units) + 1;
        total += (int64_t)x * mult[next_unit - 1];
        p = end + 1;
    }
    if (total <= 0 || total > S_MAX_DURATION) {
        return s_fail(f, n, "%s must be more than 0 and at most 400d, found \"%s\"", what,
                      pg_yaml_quote(q, sizeof q, v));
    }
    *out = total;
    return 0;
bad:
    return s_fail(f, n,
                  "%s: \"%s\" is not a duration (digits with units d, h, m, s in that order, e.g. "
                  "7d, 48h, 1d12h)",
                  what, pg_yaml_quote(q, sizeof q, v));
}

static const char *const s_day_keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static int s_day_index(const char *s, size_t len) {
    for (int i = 0; s_day_keys[i]; i++) {
        if (len == 3 && memcmp(s, s_day_keys[i], 3) == 0) {
            return i;
        }
    }
    return -1;
}

/* A window's day key: "mon".."sun", "FROM-TO" with FROM before TO, or "daily".
 * Returns 0 with [*from, *to], 1 for a valid-looking but reversed range, -1 if not a day key. */
static int s_day_key(const char *k, int *from, int *to) {
    size_t len = strlen(k);
    if (strcmp(k, "daily") == 0) {
        *from = 0;
        *to = 6;
        return 0;
    }
    if (len == 3 && (*from = s_day_index(k, 3)) >= 0) {
        *to = *from;
        return 0;
    }
    if (len == 7 && k[3] == '-' && (*from = s_day_index(k, 3)) >= 0 &&
        (*to = s_day_index(k + 4, 3)) >= 0) {
        return *from < *to ? 0 : 1;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Channels, groups, roles */

static int s_channel_word(s_file_t *f, yaml_node_t *n, uint32_t *mask) {
    const char *v = NULL;
    if (pg_yaml_text(&f->y, n, "a channel", &v) != 0) {
        return -1;
    }
    rl_channel_t ch = rl_channel_parse(v);
    if (ch != RL_CH_NONE) {
        *mask |= RL_CH_BIT(ch);
        return 0;
    }
    if (strcmp(v, "all") == 0) {
        *mask |= RL_CH_ALL_MASK;
        return 0;
    }
    for (size_t i = 0; i < f->ld->n_groups; i++) {
        if (strcmp(v, f->ld->groups[i].name) == 0) {
            *mask |= f->ld->groups[i].mask;
            return 0;
        }
    }
    char q[48];
    return s_fail(f, n,
                  "unknown channel \"%s\" (expected sms, whatsapp, voice, email, messenger or a "
                  "group)",
                  pg_yaml_quote(q, sizeof q, v));
}

/* CHANNELS: a name, or a non-empty list of names (channels or groups). */
static int s_channels(s_file_t *f, yaml_node_t *n, const char *what, uint32_t *out) {
    uint32_t mask = 0;
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *start = n->data.sequence.items.start;
        yaml_node_item_t *top = n->data.sequence.items.top;
        if (start == top) {
            return s_fail(f, n, "%s: empty channel set", what);
        }
        for (yaml_node_item_t *it = start; it < top; it++) {
            yaml_node_t *item = pg_yaml_node(&f->y, *it);
            if (!item) {
                return s_fail(f, n, "malformed list");
            }
            if (item->type != YAML_SCALAR_NODE) {
                return s_fail(f, item, "%s: each entry must be a channel or group name, found %s",
                              what, pg_yaml_type_name(&f->y, item));
            }
            for (yaml_node_item_t *prev = start; prev < it; prev++) {
                yaml_node_t *pn = pg_yaml_node(&f->y, *prev);
                if (pn && strcmp((const char *)pn->data.scalar.value,
                                 (const char *)item->data.scalar.value) == 0) {
                    char q[48];
                    return s_fail(
                        f, item, "%s: \"%s\" is listed twice", what,
                        pg_yaml_quote(q, sizeof q, (const char *)item->data.scalar.value));
                }
            }
            if (s_channel_word(f, item, &mask) != 0) {
                return -1;
            }
        }
    } else if (n->type == YAML_SCALAR_NODE) {
        if (s_channel_word(f, n, &mask) != 0) {
            return -1;
        }
    } else {
        return s_fail(f, n, "%s must be a channel, a group or a list of them, found %s", what,
                      pg_yaml_type_name(&f->y, n));
    }
    if (mask == 0) {
        return s_fail(f, n, "%s: empty channel set", what);
    }
    *out = mask;
    return 0;
}

static int s_groups(s_file_t *f, yaml_node_t *map) {
    s_loader_t *ld = f->ld;
    if (pg_yaml_expect(&f->y, map, YAML_MAPPING_NODE, "groups") != 0) {
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = pg_yaml_node(&f->y, p->key);
        yaml_node_t *v = pg_yaml_node(&f->y, p->value);
        const char *name;
        char q[48];
        if (!k || !v) {
            return s_fail(f, map, "malformed mapping");
        }
        if (pg_yaml_text(&f->y, k, "a group name", &name) != 0) {
            return -1;
        }
        if (!s_is_id(name)) {
            return s_fail(f, k, "group name \"%s\" is not a valid name",
                          pg_yaml_quote(q, sizeof q, name));
        }
        if (rl_channel_parse(name) != RL_CH_NONE || strcmp(name, "all") == 0) {
            return s_fail(f, k, "group name \"%s\" is reserved (a channel or \"all\")", name);
        }
        for (size_t i = 0; i < ld->n_groups; i++) {
            if (strcmp(ld->groups[i].name, name) == 0) {
                return s_fail(f, k, "group \"%s\" is already defined", name);
            }
        }
        if (ld->n_groups == S_MAX_GROUPS) {
            return s_fail(f, k, "too many groups (at most %d)", S_MAX_GROUPS);
        }
        uint32_t mask;
        if (s_channels(f, v, "group", &mask) != 0) {
            return -1;
        }
        memcpy(ld->groups[ld->n_groups].name, name, strlen(name) + 1);
        ld->groups[ld->n_groups].mask = mask;
        ld->n_groups++;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Rules */

/* Claims a rule id: refuses one already used by any rule of the policy (bases included). */
static int s_rule_id(s_file_t *f, yaml_node_t *n, char out[RL_ID_MAX]) {
    char id[RL_ID_MAX];
    if (s_id(f, n, "rule id", id) != 0) {
        return -1;
    }
    const char *kind = rl_policy_rule_kind(f->ld->pol, id);
    if (kind) {
        return s_fail(f, n, "duplicate rule id \"%s\" (already used by a %s rule)", id, kind);
    }
    memcpy(out, id, sizeof id);
    return 0;
}

/* Makes room for one more element of `size` bytes in *arr holding n; NULL on failure. */
static void *s_append(s_file_t *f, yaml_node_t *at, void **arr, size_t n, size_t size) {
    if (n >= S_MAX_RULES) {
        s_fail(f, at, "too many rules of one kind (at most %d)", S_MAX_RULES);
        return NULL;
    }
    void *grown = realloc(*arr, (n + 1) * size);
    if (!grown) {
        s_fail(f, at, "out of memory");
        return NULL;
    }
    *arr = grown;
    void *slot = (char *)grown + n * size;
    memset(slot, 0, size);
    return slot;
}

static const char *const s_scope_words[] = {"debtor", "debt", NULL};

static int s_scope(s_file_t *f, yaml_node_t *n, rl_scope_t *out) {
    int i = 0;
    if (n && s_enum(f, n, "scope", s_scope_words, "debtor or debt", &i) != 0) {
        return -1;
    }
    *out = i == 0 ? RL_SCOPE_DEBTOR : RL_SCOPE_DEBT;
    return 0;
}

/* per + span of caps (day | week | rolling) and one_channel (week | rolling). */
static int s_period(s_file_t *f, yaml_node_t *map, const pg_yaml_slot_t *per,
                    const pg_yaml_slot_t *span, int allow_day, const char *what,
                    rl_period_t *out_per, int64_t *out_span) {
    static const char *const words[] = {"day", "week", "rolling", NULL};
    static const char *const words_no_day[] = {"week", "rolling", NULL};
    int i = 0;
    if (pg_yaml_require(&f->y, map, per, "per", what) != 0 ||
        s_enum(f, per->val, "period", allow_day ? words : words_no_day,
               allow_day ? "day, week or rolling" : "week or rolling", &i) != 0) {
        return -1;
    }
    *out_per = allow_day ? (rl_period_t)(i + 1) : (rl_period_t)(i + 2);
    *out_span = 0;
    if (*out_per == RL_PER_ROLLING) {
        if (!span->val) {
            return s_fail(f, per->val, "per: rolling needs a span (e.g. span: 7d)");
        }
        return s_duration(f, span->val, "span", out_span);
    }
    if (span->val) {
        return s_fail(f, span->key, "span is only allowed with per: rolling");
    }
    return 0;
}

static int s_window(s_file_t *f, yaml_node_t *map) {
    rl_policy_t *pol = f->ld->pol;
    if (pg_yaml_expect(&f->y, map, YAML_MAPPING_NODE, "a window") != 0) {
        return -1;
    }
    rl_window_rule_t *w = s_append(f, map, (void **)&pol->windows, pol->n_windows, sizeof *w);
    if (!w) {
        return -1;
    }
    pol->n_windows++; /* zeroed: all days closed until named */
    yaml_node_t *id = NULL, *channels = NULL, *holidays = NULL;
    yaml_node_t *seen[64];
    size_t n_seen = 0;
    int any_day = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = pg_yaml_node(&f->y, p->key);
        yaml_node_t *v = pg_yaml_node(&f->y, p->value);
        const char *name;
        char q[48];
        if (!k || !v) {
            return s_fail(f, map, "malformed mapping");
        }
        if (pg_yaml_text(&f->y, k, "a key", &name) != 0) {
            return -1;
        }
        for (size_t i = 0; i < n_seen; i++) {
            if (strcmp((const char *)seen[i]->data.scalar.value, name) == 0) {
                return s_fail(f, k, "duplicate key \"%s\" in window (first at line %zu)", name,
                              seen[i]->start_mark.line + 1);
            }
        }
        int from = 0, to = -1, kind = s_day_key(name, &from, &to);
        if (strcmp(name, "id") == 0) {
            id = v;
        } else if (strcmp(name, "channels") == 0) {
            channels = v;
        } else if (strcmp(name, "holidays") == 0) {
            holidays = v;
        } else if (kind == 1) {
            return s_fail(f, k, "day range \"%s\" must run forward from mon to sun (e.g. mon-fri)",
                          name);
        } else if (kind == 0) {
            rl_day_t d;
            if (s_hours(f, v, name, &d) != 0) {
                return -1;
            }
            for (int day = from; day <= to; day++) {
                w->day[day] = d;
            }
            any_day = 1;
        } else {
            return s_fail(f, k,
                          "unknown key \"%s\" in window (expected id, channels, holidays, daily, "
                          "a day mon..sun or a range such as mon-fri)",
                          pg_yaml_quote(q, sizeof q, name));
        }
        if (n_seen == sizeof seen / sizeof seen[0]) {
            return s_fail(f, k, "too many keys in window");
        }
        seen[n_seen++] = k;
    }
    if (!id) {
        return s_fail(f, map, "window is missing required key \"id\"");
    }
    if (s_rule_id(f, id, w->id) != 0) {
        return -1;
    }
    if (!channels) {
        return s_fail(f, map, "window \"%s\" is missing required key \"channels\"", w->id);
    }
    if (s_channels(f, channels, "channels", &w->channels) != 0) {
        return -1;
    }
    if (!any_day) {
        return s_fail(f, map,
                      "window \"%s\" names no day (write e.g. mon-fri: \"07:00-19:00\"; days "
                      "never named are closed)",
                      w->id);
    }
    if (holidays) {
        if (!pol->holidays) {
            return s_fail(f, holidays,
                          "holiday hours given but the policy defines no holidays (add a "
                          "top-level holidays: block)");
        }
        if (s_hours(f, holidays, "holidays", &w->holiday) != 0) {
            return -1;
        }
        w->has_holiday = 1;
    }
    return 0;
}

static int s_cap(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id",     "channels", "limit",       "per", "span",
                                       "counts", "scope",    "per_channel", NULL};
    static const char *const counts_words[] = {"attempts", "direct", "conversations", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[8];
    if (pg_yaml_fields(&f->y, map, "cap", keys, s) != 0) {
        return -1;
    }
    rl_cap_rule_t *c = s_append(f, map, (void **)&pol->caps, pol->n_caps, sizeof *c);
    if (!c) {
        return -1;
    }
    pol->n_caps++;
    long limit;
    int counts = 0;
    if (pg_yaml_require(&f->y, map, &s[0], "id", "cap") != 0 ||
        s_rule_id(f, s[0].val, c->id) != 0 ||
        pg_yaml_require(&f->y, map, &s[1], "channels", "cap") != 0 ||
        s_channels(f, s[1].val, "channels", &c->channels) != 0 ||
        pg_yaml_require(&f->y, map, &s[2], "limit", "cap") != 0) {
        return -1;
    }
    const char *lv;
    if (s_plain(f, s[2].val, "limit", "an integer", &lv) != 0) {
        return -1;
    }
    if (strspn(lv, "0") == strlen(lv)) {
        return s_fail(f, s[2].val,
                      "limit must be at least 1 (a limit of 0 would mean \"never\": use roles to "
                      "forbid a recipient or windows to close a channel)");
    }
    if (s_int(f, s[2].val, "limit", 1, S_MAX_LIMIT, &limit) != 0 ||
        s_period(f, map, &s[3], &s[4], 1, "cap", &c->per, &c->span) != 0 ||
        (s[5].val && s_enum(f, s[5].val, "counts", counts_words,
                            "attempts, direct or conversations", &counts) != 0) ||
        s_scope(f, s[6].val, &c->scope) != 0 ||
        (s[7].val && s_bool(f, s[7].val, "per_channel", &c->per_channel) != 0)) {
        return -1;
    }
    c->limit = (int)limit;
    c->counts = (rl_count_t)(counts + 1);
    return 0;
}

static int s_gap(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id", "channels", "min", "scope", "per_channel", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[5];
    if (pg_yaml_fields(&f->y, map, "gap", keys, s) != 0) {
        return -1;
    }
    rl_gap_rule_t *g = s_append(f, map, (void **)&pol->gaps, pol->n_gaps, sizeof *g);
    if (!g) {
        return -1;
    }
    pol->n_gaps++;
    if (pg_yaml_require(&f->y, map, &s[0], "id", "gap") != 0 ||
        s_rule_id(f, s[0].val, g->id) != 0 ||
        pg_yaml_require(&f->y, map, &s[1], "channels", "gap") != 0 ||
        s_channels(f, s[1].val, "channels", &g->channels) != 0 ||
        pg_yaml_require(&f->y, map, &s[2], "min", "gap") != 0 ||
        s_duration(f, s[2].val, "min", &g->gap) != 0 || s_scope(f, s[3].val, &g->scope) != 0 ||
        (s[4].val && s_bool(f, s[4].val, "per_channel", &g->per_channel) != 0)) {
        return -1;
    }
    return 0;
}

static int s_cooldown(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id",   "channels", "after_conversation_on",
                                       "days", "scope",    NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[5];
    if (pg_yaml_fields(&f->y, map, "cooldown", keys, s) != 0) {
        return -1;
    }
    rl_cooldown_rule_t *c = s_append(f, map, (void **)&pol->cooldowns, pol->n_cooldowns, sizeof *c);
    if (!c) {
        return -1;
    }
    pol->n_cooldowns++;
    long days;
    if (pg_yaml_require(&f->y, map, &s[0], "id", "cooldown") != 0 ||
        s_rule_id(f, s[0].val, c->id) != 0 ||
        pg_yaml_require(&f->y, map, &s[1], "channels", "cooldown") != 0 ||
        s_channels(f, s[1].val, "channels", &c->channels) != 0 ||
        pg_yaml_require(&f->y, map, &s[2], "after_conversation_on", "cooldown") != 0 ||
        s_channels(f, s[2].val, "after_conversation_on", &c->trigger) != 0 ||
        pg_yaml_require(&f->y, map, &s[3], "days", "cooldown") != 0 ||
        s_int(f, s[3].val, "days", 1, S_MAX_COOL_DAYS, &days) != 0 ||
        s_scope(f, s[4].val, &c->scope) != 0) {
        return -1;
    }
    c->days = (int)days;
    return 0;
}

static int s_one_channel(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id", "per", "span", "scope", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[4];
    if (pg_yaml_fields(&f->y, map, "one_channel rule", keys, s) != 0) {
        return -1;
    }
    rl_one_channel_rule_t *o =
        s_append(f, map, (void **)&pol->one_channel, pol->n_one_channel, sizeof *o);
    if (!o) {
        return -1;
    }
    pol->n_one_channel++;
    if (pg_yaml_require(&f->y, map, &s[0], "id", "one_channel rule") != 0 ||
        s_rule_id(f, s[0].val, o->id) != 0 ||
        s_period(f, map, &s[1], &s[2], 0, "one_channel rule", &o->per, &o->span) != 0 ||
        s_scope(f, s[3].val, &o->scope) != 0) {
        return -1;
    }
    return 0;
}

static int s_role_word(s_file_t *f, yaml_node_t *n, uint32_t *mask) {
    const char *v = NULL;
    char q[48];
    if (pg_yaml_text(&f->y, n, "a role", &v) != 0) {
        return -1;
    }
    int r = rl_role_parse(v);
    if (r == RL_ROLE_DEBTOR) {
        return s_fail(f, n, "the debtor role cannot be forbidden (close windows or pause instead)");
    }
    if (r == 0) {
        return s_fail(f, n, "unknown role \"%s\" (expected codebtor or reference)",
                      pg_yaml_quote(q, sizeof q, v));
    }
    *mask |= RL_ROLE_BIT(r);
    return 0;
}

static int s_roles_rule(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id", "forbid", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[2];
    if (pg_yaml_fields(&f->y, map, "roles rule", keys, s) != 0) {
        return -1;
    }
    rl_role_rule_t *r = s_append(f, map, (void **)&pol->roles, pol->n_roles, sizeof *r);
    if (!r) {
        return -1;
    }
    pol->n_roles++;
    if (pg_yaml_require(&f->y, map, &s[0], "id", "roles rule") != 0 ||
        s_rule_id(f, s[0].val, r->id) != 0 ||
        pg_yaml_require(&f->y, map, &s[1], "forbid", "roles rule") != 0) {
        return -1;
    }
    yaml_node_t *v = s[1].val;
    if (v->type == YAML_SCALAR_NODE) {
        return s_role_word(f, v, &r->roles);
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        return s_fail(f, v, "forbid must be a role or a list of roles, found %s",
                      pg_yaml_type_name(&f->y, v));
    }
    if (v->data.sequence.items.start == v->data.sequence.items.top) {
        return s_fail(f, v, "forbid: empty list of roles");
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = pg_yaml_node(&f->y, *it);
        if (!item) {
            return s_fail(f, v, "malformed list");
        }
        if (s_role_word(f, item, &r->roles) != 0) {
            return -1;
        }
    }
    return 0;
}

static int s_holiday_item(s_file_t *f, yaml_node_t *n) {
    static const char *const keys[] = {"rule", "from", "to", "name", NULL};
    rl_holiday_rule_t rule;
    const char *spec, *why = NULL;
    char q[48];
    pg_yaml_slot_t s[4];
    yaml_node_t *spec_node = n;
    if (n->type == YAML_MAPPING_NODE) {
        if (pg_yaml_fields(&f->y, n, "holiday rule", keys, s) != 0 ||
            pg_yaml_require(&f->y, n, &s[0], "rule", "holiday rule") != 0) {
            return -1;
        }
        spec_node = s[0].val;
    } else if (n->type != YAML_SCALAR_NODE) {
        return s_fail(f, n,
                      "a holiday rule must be a string or a mapping {rule, from, to, name}, "
                      "found %s",
                      pg_yaml_type_name(&f->y, n));
    }
    if (pg_yaml_text(&f->y, spec_node, "holiday rule", &spec) != 0) {
        return -1;
    }
    if (rl_holiday_rule_parse(spec, &rule, &why) != 0) {
        return s_fail(f, spec_node, "holiday rule \"%s\": %s", pg_yaml_quote(q, sizeof q, spec),
                      why ? why : "invalid");
    }
    if (n->type == YAML_MAPPING_NODE) {
        long year;
        const char *name;
        if (s[1].val) {
            if (rule.from_year != 0) {
                return s_fail(f, s[1].key, "from is given both in the rule string and as a key");
            }
            if (s_int(f, s[1].val, "from", RL_CAL_MIN_YEAR, RL_CAL_MAX_YEAR, &year) != 0) {
                return -1;
            }
            rule.from_year = (int)year;
        }
        if (s[2].val) {
            if (rule.to_year != 0) {
                return s_fail(f, s[2].key, "to is given both in the rule string and as a key");
            }
            if (s_int(f, s[2].val, "to", RL_CAL_MIN_YEAR, RL_CAL_MAX_YEAR, &year) != 0) {
                return -1;
            }
            rule.to_year = (int)year;
        }
        if (s[3].val) {
            if (pg_yaml_text(&f->y, s[3].val, "name", &name) != 0) {
                return -1;
            }
            if (rule.name[0]) {
                return s_fail(f, s[3].key, "name is given both in the rule string and as a key");
            }
            if (strlen(name) >= sizeof rule.name) {
                return s_fail(f, s[3].val, "holiday name is longer than %zu bytes",
                              sizeof rule.name - 1);
            }
            for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
                if (*p < 0x20 || *p == 0x7F) {
                    return s_fail(f, s[3].val, "holiday name contains a control character");
                }
            }
            memcpy(rule.name, name, strlen(name) + 1);
        }
    }
    if (rl_calendar_add(f->ld->pol->holidays, &rule, &why) != 0) {
        return s_fail(f, n, "holiday rule \"%s\": %s", pg_yaml_quote(q, sizeof q, spec),
                      why ? why : "invalid");
    }
    return 0;
}

static int s_holidays(s_file_t *f, yaml_node_t *map) {
    static const char *const keys[] = {"id", "rules", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[2];
    if (pol->holidays) {
        return s_fail(f, map,
                      "holidays are already defined by the base policy (\"%s\"); a file that "
                      "extends may not redefine them",
                      pol->holidays_id);
    }
    if (pg_yaml_fields(&f->y, map, "holidays", keys, s) != 0 ||
        pg_yaml_require(&f->y, map, &s[0], "id", "holidays") != 0 ||
        pg_yaml_require(&f->y, map, &s[1], "rules", "holidays") != 0) {
        return -1;
    }
    char id[RL_ID_MAX];
    if (s_rule_id(f, s[0].val, id) != 0 ||
        pg_yaml_expect(&f->y, s[1].val, YAML_SEQUENCE_NODE, "holidays rules") != 0) {
        return -1;
    }
    yaml_node_t *list = s[1].val;
    size_t count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (count == 0) {
        return s_fail(f, list, "holidays rules: empty list (remove the holidays block instead)");
    }
    if (count > S_MAX_HOL_RULES) {
        return s_fail(f, list, "too many holiday rules (at most %d)", S_MAX_HOL_RULES);
    }
    pol->holidays = rl_calendar_new();
    if (!pol->holidays) {
        return s_fail(f, map, "out of memory");
    }
    memcpy(pol->holidays_id, id, sizeof id);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = pg_yaml_node(&f->y, list->data.sequence.items.start[i]);
        if (!item) {
            return s_fail(f, list, "malformed list");
        }
        if (s_holiday_item(f, item) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Runs `one` on every entry of a top-level rule list. */
static int s_rule_list(s_file_t *f, yaml_node_t *list, const char *what,
                       int (*one)(s_file_t *, yaml_node_t *)) {
    if (pg_yaml_expect(&f->y, list, YAML_SEQUENCE_NODE, what) != 0) {
        return -1;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *item = pg_yaml_node(&f->y, *it);
        if (!item) {
            return s_fail(f, list, "malformed list");
        }
        if (one(f, item) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Files */

static int s_load_file(s_loader_t *ld, const char *path, int depth, s_file_t *parent,
                       yaml_node_t *from);

static int s_extends(s_file_t *f, yaml_node_t *n) {
    const char *name;
    char q[48];
    if (pg_yaml_text(&f->y, n, "extends", &name) != 0) {
        return -1;
    }
    if (!s_is_id(name)) {
        return s_fail(f, n, "extends: \"%s\" is not a policy name in this folder",
                      pg_yaml_quote(q, sizeof q, name));
    }
    if (f->depth >= S_MAX_EXTENDS) {
        return s_fail(f, n, "extends: more than %d levels of extends", S_MAX_EXTENDS);
    }
    const char *slash = strrchr(f->y.path, '/');
    size_t dir_len = slash ? (size_t)(slash - f->y.path) + 1 : 0;
    size_t len = dir_len + strlen(name) + sizeof ".yaml";
    char *path = malloc(len);
    if (!path) {
        return s_fail(f, n, "out of memory");
    }
    snprintf(path, len, "%.*s%s.yaml", (int)dir_len, f->y.path, name);
    for (int i = 0; i <= f->depth; i++) {
        if (strcmp(f->ld->chain[i], path) == 0) {
            s_fail(f, n, "extends cycle: \"%s\" leads back to %s", name, path);
            free(path);
            return -1;
        }
    }
    int rc = s_load_file(f->ld, path, f->depth + 1, f, n);
    free(path);
    return rc;
}

static int s_document(s_file_t *f, yaml_node_t *root) {
    static const char *const keys[] = {
        "id",      "name", "extends", "week_start", "direct_contact", "groups", "holidays",
        "windows", "caps", "gaps",    "cooldowns",  "one_channel",    "roles",  NULL};
    enum {
        K_ID,
        K_NAME,
        K_EXTENDS,
        K_WEEK,
        K_DIRECT,
        K_GROUPS,
        K_HOL,
        K_WIN,
        K_CAPS,
        K_GAPS,
        K_COOL,
        K_ONE,
        K_ROLES,
        K_COUNT
    };
    static const char *const week_words[] = {"monday", "sunday", NULL};
    static const char *const direct_words[] = {"any-attempt", "delivered", "conversation", NULL};
    rl_policy_t *pol = f->ld->pol;
    pg_yaml_slot_t s[K_COUNT];
    if (root->type != YAML_MAPPING_NODE) {
        return s_fail(f, root, "a policy file must be a mapping (id: ..., windows: ...), found %s",
                      pg_yaml_type_name(&f->y, root));
    }
    if (pg_yaml_fields(&f->y, root, "policy", keys, s) != 0) {
        return -1;
    }
    if (s[K_EXTENDS].val && s_extends(f, s[K_EXTENDS].val) != 0) {
        return -1;
    }
    if (pg_yaml_require(&f->y, root, &s[K_ID], "id", "policy") != 0 ||
        s_id(f, s[K_ID].val, "policy id", pol->id) != 0) {
        return -1;
    }
    if (s[K_NAME].val) {
        const char *name;
        if (pg_yaml_text(&f->y, s[K_NAME].val, "name", &name) != 0) {
            return -1;
        }
        if (strlen(name) >= sizeof pol->name) {
            return s_fail(f, s[K_NAME].val, "name is longer than %zu bytes", sizeof pol->name - 1);
        }
        for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
            if (*p < 0x20 || *p == 0x7F) {
                return s_fail(f, s[K_NAME].val, "name contains a control character");
            }
        }
        memcpy(pol->name, name, strlen(name) + 1);
    }
    int i = 0;
    if (s[K_WEEK].val) {
        if (s_enum(f, s[K_WEEK].val, "week_start", week_words, "monday or sunday", &i) != 0) {
            return -1;
        }
        pol->week_start = i == 0 ? 0 : 6;
    }
    if (s[K_DIRECT].val) {
        if (s_enum(f, s[K_DIRECT].val, "direct_contact", direct_words,
                   "any-attempt, delivered or conversation", &i) != 0) {
            return -1;
        }
        pol->direct_contact = (rl_direct_t)(i + 1);
    }
    if ((s[K_GROUPS].val && s_groups(f, s[K_GROUPS].val) != 0) ||
        (s[K_HOL].val && s_holidays(f, s[K_HOL].val) != 0)) {
        return -1;
    }
    /* Rule lists in the order the file gives them, so a duplicate id is reported where it is
     * repeated. Groups and holidays come first: rules refer to them. */
    static const struct {
        int key;
        const char *what;
        int (*one)(s_file_t *, yaml_node_t *);
    } lists[] = {{K_WIN, "windows", s_window},
                 {K_CAPS, "caps", s_cap},
                 {K_GAPS, "gaps", s_gap},
                 {K_COOL, "cooldowns", s_cooldown},
                 {K_ONE, "one_channel", s_one_channel},
                 {K_ROLES, "roles", s_roles_rule}};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        for (size_t j = 0; j < sizeof lists / sizeof lists[0]; j++) {
            if (s[lists[j].key].key == pg_yaml_node(&f->y, p->key) &&
                s_rule_list(f, s[lists[j].key].val, lists[j].what, lists[j].one) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Line and column (1-based) of a byte offset, for libyaml reader errors that carry no mark. */
static void s_offset_pos(const char *buf, size_t len, size_t offset, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* How policy files word and count what pg_yaml reports: a quoted '' is a string. */
static const pg_yaml_dialect_t s_dialect = {
    .quoted_empty_is_empty = 0,
    .string_noun = "a string",
    .offset_pos = s_offset_pos,
    .empty_msg = "empty policy file (expected a mapping with id, windows, caps...)",
    .file_noun = "a policy file",
};

/* Loads one file into ld->pol (its base first). `parent`/`from` name the extends key that asked
 * for it, or are NULL for the file the caller named. */
static int s_load_file(s_loader_t *ld, const char *path, int depth, s_file_t *parent,
                       yaml_node_t *from) {
    s_file_t f = {
        .ld = ld,
        .depth = depth,
        .y = {.dialect = &s_dialect, .path = path, .err = ld->err, .err_len = ld->err_len},
    };
    char *buf = NULL;
    size_t len = 0;
    int e = pg_yaml_read_file(path, S_MAX_FILE_BYTES, &buf, &len);
    if (e != 0) {
        const char *why = e == EFBIG ? "file larger than 1 MiB" : strerror(e);
        if (parent) {
            return s_fail(parent, from, "extends: %s: cannot open: %s", path, why);
        }
        pg_yaml_write_err(ld->err, ld->err_len, "%s: cannot open: %s", path, why);
        return -1;
    }
    ld->chain[depth] = path;
    f.y.buf = buf;
    f.y.len = len;
    yaml_node_t *root = pg_yaml_load(&f.y);
    int rc = root ? s_document(&f, root) : -1;
    pg_yaml_release(&f.y);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Public */

rl_policy_t *rl_policy_load(const char *path, char *err, size_t err_len) {
    s_loader_t ld;
    memset(&ld, 0, sizeof ld);
    ld.err = err;
    ld.err_len = err_len;
    if (err && err_len > 0) {
        err[0] = '\0';
    }
    if (!path || !*path) {
        pg_yaml_write_err(err, err_len, "(no path): cannot open: no file name given");
        return NULL;
    }
    ld.pol = calloc(1, sizeof *ld.pol);
    if (!ld.pol) {
        pg_yaml_write_err(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    ld.pol->week_start = 0;
    ld.pol->direct_contact = RL_DIRECT_DELIVERED;
    if (strlen(path) >= sizeof ld.pol->source) {
        pg_yaml_write_err(err, err_len, "%s: cannot open: path longer than %zu bytes", path,
                          sizeof ld.pol->source - 1);
        rl_policy_destroy(&ld.pol);
        return NULL;
    }
    if (s_load_file(&ld, path, 0, NULL, NULL) != 0) {
        if (err && err_len > 0 && err[0] == '\0') {
            pg_yaml_write_err(err, err_len, "%s: invalid policy", path);
        }
        rl_policy_destroy(&ld.pol);
        return NULL;
    }
    memcpy(ld.pol->source, path, strlen(path) + 1);
    if (ld.pol->name[0] == '\0') {
        memcpy(ld.pol->name, ld.pol->id, sizeof ld.pol->id);
    }
    return ld.pol;
}

void rl_policy_destroy(rl_policy_t **self_p) {
    if (!self_p || !*self_p) {
        return;
    }
    rl_policy_t *self = *self_p;
    rl_calendar_destroy(&self->holidays);
    free(self->windows);
    free(self->caps);
    free(self->gaps);
    free(self->cooldowns);
    free(self->one_channel);
    free(self->roles);
    free(self);
    *self_p = NULL;
}

static int64_t s_max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}

int64_t rl_policy_lookback(const rl_policy_t *self) {
    int64_t back = 0;
    if (self) {
        for (size_t i = 0; i < self->n_caps; i++) {
            const rl_cap_rule_t *c = &self->caps[i];
            back = s_max64(back, c->per == RL_PER_ROLLING ? c->span
                                 : c->per == RL_PER_WEEK  ? 8LL * S_DAY
                                                          : S_DAY);
        }
        for (size_t i = 0; i < self->n_gaps; i++) {
            back = s_max64(back, self->gaps[i].gap);
        }
        for (size_t i = 0; i < self->n_cooldowns; i++) {
            back = s_max64(back, ((int64_t)self->cooldowns[i].days + 1) * S_DAY);
        }
        for (size_t i = 0; i < self->n_one_channel; i++) {
            const rl_one_channel_rule_t *o = &self->one_channel[i];
            back = s_max64(back, o->per == RL_PER_ROLLING ? o->span : 8LL * S_DAY);
        }
    }
    return s_max64(back + S_DAY, 2LL * S_DAY);
}

const char *rl_policy_rule_kind(const rl_policy_t *self, const char *rule_id) {
    if (!self || !rule_id || !*rule_id) {
        return NULL;
    }
    if (self->holidays_id[0] && strcmp(self->holidays_id, rule_id) == 0) {
        return "holidays";
    }
    for (size_t i = 0; i < self->n_windows; i++) {
        if (strcmp(self->windows[i].id, rule_id) == 0) {
            return "window";
        }
    }
    for (size_t i = 0; i < self->n_caps; i++) {
        if (strcmp(self->caps[i].id, rule_id) == 0) {
            return "cap";
        }
    }
    for (size_t i = 0; i < self->n_gaps; i++) {
        if (strcmp(self->gaps[i].id, rule_id) == 0) {
            return "gap";
        }
    }
    for (size_t i = 0; i < self->n_cooldowns; i++) {
        if (strcmp(self->cooldowns[i].id, rule_id) == 0) {
            return "cooldown";
        }
    }
    for (size_t i = 0; i < self->n_one_channel; i++) {
        if (strcmp(self->one_channel[i].id, rule_id) == 0) {
            return "one-channel";
        }
    }
    for (size_t i = 0; i < self->n_roles; i++) {
        if (strcmp(self->roles[i].id, rule_id) == 0) {
            return "roles";
        }
    }
    return NULL;
}
