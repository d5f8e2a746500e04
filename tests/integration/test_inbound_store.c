/* test_inbound_store.c — the way back's functions of store/pregon.lua against a real redis-server:
 * pg_lookup keeps a callback that came before its provider id was mapped (bounded) and pg_index
 * hands it back exactly once; a contact map is read back by pg_contacts; pg_inbound applies a
 * debtor's event once per event id (pg_seen says so), marks the job's history record a
 * conversation for a reply and writes one audit record with the inbound fields in order.
 * PG_REDIS_SOCK: see with_redis.sh. Prints "N passed, M failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "st_fn.h"
#include "st_keys.h"

#include "it_check.h"
#include "it_redis.h"

static redisContext *s_c;
static st_keys_t *s_keys;
static st_fn_t *s_fn;

static redisReply *s_fcall(const char *name, int argc, const char **argv) {
    size_t argl[32];
    for (int i = 0; i < argc; i++)
        argl[i] = argv[i] ? strlen(argv[i]) : 0;
    return st_fn_call(s_fn, name, argc, argv, argl);
}

static void test_early_status(void) {
    char pm[ST_KEY_MAX];
    st_key_provider(s_keys, "sms", "SM1", pm, sizeof pm);
    for (int i = 0; i < 20; i++) { /* 20 early events; 3 are kept (the bound given) */
        char eid[16], ev[16];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(ev, sizeof ev, "event-%d", i);
        const char *a[] = {NULL, NULL, "1", pm, eid, ev, "60", "3"};
        redisReply *r = s_fcall("pg_lookup", 8, a);
        CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 0, "unmapped id answered a job");
        freeReplyObject(r);
    }
    redisReply *len = redisCommand(s_c, "HLEN %s", pm);
    CHECK(len && len->integer == 4, "fields: %lld, want 4 (3 early events kept and the mark)",
          len ? len->integer : -1);
    freeReplyObject(len);
    const char *idx[] = {NULL, NULL, "1", pm, "1000", "600", "600", "m", "JOBKEY", "2", "", ""};
    redisReply *r = s_fcall("pg_index", 12, idx);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
              r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 3,
          "pg_index did not hand back the 3 early events");
    if (r && r->elements == 1 && r->element[0]->elements == 3)
        CHECK(strncmp(r->element[0]->element[0]->str, "event-", 6) == 0, "early event %s",
              r->element[0]->element[0]->str);
    freeReplyObject(r);
    r = s_fcall("pg_index", 12, idx); /* mapped again (a report applied twice): nothing twice */
    CHECK(r && r->element[0]->elements == 0, "early events handed back twice");
    freeReplyObject(r);
    const char *a[] = {NULL, NULL, "1", pm, "late", "event-late", "60", "3"};
    r = s_fcall("pg_lookup", 8, a);
    CHECK(r && r->elements == 2 && strcmp(r->element[0]->str, "JOBKEY") == 0 &&
              strcmp(r->element[1]->str, "2") == 0,
          "a mapped id does not lead to its job and attempt");
    freeReplyObject(r);
    redisReply *ttl = redisCommand(s_c, "TTL %s", pm);
    CHECK(ttl && ttl->integer > 60 && ttl->integer <= 600, "map TTL %lld", ttl ? ttl->integer : -1);
    freeReplyObject(ttl);
}

static void test_contacts(void) {
    char ct[ST_KEY_MAX];
    st_key_contact(s_keys, "sms", "+573001112233", ct, sizeof ct);
    const char *idx[] = {NULL,   NULL, "2",  ct, ct,  "1000", "600", "600", "c",
                         "acme", "d1", "j1", "", "c", "bank", "d9",  "j9",  "+15550001"};
    redisReply *r = s_fcall("pg_index", 18, idx);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2, "pg_index of 2 contact entries");
    freeReplyObject(r);
    const char *a[] = {NULL, NULL, "1", ct, "ev", "packed", "60", "16"};
    r = s_fcall("pg_contacts", 8, a);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 4, "pg_contacts: 2 tenants");
    for (size_t i = 0; r && i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, "bank") == 0)
            CHECK(r->element[i + 1]->len ==
                          strlen("d9") + strlen("j9") + strlen("+15550001") + 3 + 4 &&
                      memcmp(r->element[i + 1]->str, "d9\0j9\0+15550001\0", 16) == 0,
                  "bank's entry is not debtor NUL job NUL sender NUL at");
    freeReplyObject(r);
}

/* A reply that overtakes the contact map written at dispatch is kept and handed back. */
static void test_early_reply(void) {
    char ct[ST_KEY_MAX];
    st_key_contact(s_keys, "sms", "+573009990000", ct, sizeof ct);
    const char *a[] = {NULL, NULL, "1", ct, "SMx", "reply-event", "60", "16"};
    redisReply *r = s_fcall("pg_contacts", 8, a);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 0, "nobody yet: {}");
    freeReplyObject(r);
    r = s_fcall("pg_contacts", 8, a); /* the provider's retry: kept once */
    freeReplyObject(r);
    const char *idx[] = {NULL, NULL, "1", ct, "1000", "600", "600", "c", "acme", "d1", "j1", ""};
    r = s_fcall("pg_index", 12, idx);
    CHECK(r && r->elements == 1 && r->element[0]->elements == 1 &&
              strcmp(r->element[0]->element[0]->str, "reply-event") == 0,
          "the early reply was not handed back once");
    freeReplyObject(r);
    r = s_fcall("pg_contacts", 8, a);
    CHECK(r && r->elements == 2 && strcmp(r->element[0]->str, "acme") == 0,
          "after the map: only acme's entry (no early-event fields)");
    freeReplyObject(r);
    redisReply *ttl = redisCommand(s_c, "TTL %s", ct);
    CHECK(ttl && ttl->integer > 60, "contact map TTL %lld", ttl ? ttl->integer : -1);
    freeReplyObject(ttl);
}

static void test_inbound_once(void) {
    char ak[ST_KEY_MAX], hk[ST_KEY_MAX], ek[ST_KEY_MAX];
    int shard = st_keys_shard(s_keys, "acme", "d1");
    st_key_shared(s_keys, shard, "audit", ak, sizeof ak);
    st_key_history(s_keys, "acme", "d1", hk, sizeof hk);
    st_key_events(s_keys, "acme", "d1", ek, sizeof ek);
    freeReplyObject(redisCommand(s_c, "HSET %s c %s v 1", hk, "1000,1,0,abc,77;1001,1,2,abc,88;"));
    const char *a[] = {NULL,         NULL,      "3",    ak,   hk,    ek,   "5000",          "600",
                       "SMr1",       "REPLY",   "acme", "d1", "sms", "j1", "+573001112233", "77",
                       "twilio-sms", "ya pague"};
    const char *s[] = {NULL, NULL, "1", ek, "SMr1"};
    redisReply *r = s_fcall("pg_seen", 5, s);
    CHECK(r && r->integer == 0, "an event not applied is seen");
    freeReplyObject(r);
    r = s_fcall("pg_inbound", 18, a);
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "applied") == 0, "first: applied");
    freeReplyObject(r);
    r = s_fcall("pg_inbound", 18, a);
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "duplicate") == 0,
          "again: duplicate");
    freeReplyObject(r);
    r = s_fcall("pg_seen", 5, s);
    CHECK(r && r->integer == 1, "an applied event is not seen");
    freeReplyObject(r);
    redisReply *h = redisCommand(s_c, "HGET %s c", hk);
    CHECK(h && h->str && strcmp(h->str, "1000,1,4,abc,77;1001,1,2,abc,88;") == 0,
          "the job's record is not marked a conversation (and only it): %s", h ? h->str : "");
    freeReplyObject(h);
    redisReply *x = redisCommand(s_c, "XRANGE %s - +", ak);
    CHECK(x && x->elements == 1, "audit records: %zu, want 1", x ? x->elements : 0);
    if (x && x->elements == 1) {
        const redisReply *kv = x->element[0]->element[1];
        char fields[512] = "";
        for (size_t i = 0; i < kv->elements; i += 2) {
            strcat(fields, kv->element[i]->str);
            strcat(fields, " ");
        }
        CHECK(strcmp(fields, "v at job tenant debtor channel from to attempt contact pid provider "
                             "detail ") == 0,
              "an inbound record has fields: %s", fields);
    }
    freeReplyObject(x);
}

int main(void) {
    s_c = it_redis_connect();
    s_keys = st_keys_new("pg", 16);
    s_fn = st_fn_new(s_c);
    CHECK(it_redis_fresh(s_c, s_fn) == 0, "an empty Redis with the library loaded");
    test_early_status();
    test_contacts();
    test_early_reply();
    test_inbound_once();
    st_fn_destroy(&s_fn);
    st_keys_destroy(&s_keys);
    redisFree(s_c);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}
