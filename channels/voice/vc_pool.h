/* vc_pool.h — caller-id pools of pregon-voice: which of our numbers calls a debtor.
 *
 * A pool file (YAML, deploy/voice-pools.yaml) lists pools per tenant and campaign ("*" = every
 * campaign of the tenant; a campaign's own pool wins), each with its numbers and the area
 * prefix each one serves (local presence: "+571" for Bogotá, "+1212" for Manhattan), a
 * per-number daily call cap and the campaign's AMD setting. The choice for one call:
 *   1. among the numbers not retired and under their daily cap: those whose area is the
 *      longest prefix of the debtor's number; when no area matches, those of the debtor's
 *      country (the numbers sharing the longest start with the debtor's, up to "+" and 3
 *      digits), which is the whole pool when none shares even the country code;
 *   2. among those, the one with the highest hash of (tenant, debtor, number) (rendezvous
 *      hashing): the same debtor always gets the same number, retiring one number moves only
 *      the debtors who had it, and adding one moves only those it now wins. Never per call.
 * Retired numbers (flagged or blocked by a carrier) are listed in a second file, one number
 * per line ("NUMBER<TAB>REASON<TAB>UNIX-TIME"), which `pregonctl voice numbers retire|restore`
 * rewrites atomically (rename); vc_pool_refresh() reloads either file when its modification
 * time, size or inode changed, so a running worker stops using a retired number within a
 * second, without a restart. A file that does not load keeps the previous pools.
 * Daily counts are per number and per UTC day, kept in this process (one worker per account)
 * and, with vc_counts.h, in a file that a restarted worker reads back.
 * No clock here: every call takes the caller's time. Not thread-safe. */
#ifndef VC_POOL_H
#define VC_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_pool vc_pool_t;

#define VC_NUMBER_MAX 33 /* E.164 "+" and 15 digits, or a SIP-ish id: 32 bytes and the NUL */

/* AMD setting of a pool (Calls.json MachineDetection). */
typedef enum {
    VC_AMD_DEFAULT = 0, /* the worker's --machine-detection */
    VC_AMD_OFF,
    VC_AMD_ENABLE,
    VC_AMD_MESSAGE_END, /* DetectMessageEnd: wait for the beep, for a voicemail */
} vc_amd_t;

/* Loads the pool file at `path` and the retired list at `retired_path` (may be NULL, or a
 * missing file: nothing retired). NULL with "FILE:LINE:COL: message" in err on failure. */
vc_pool_t *vc_pool_new(const char *path, const char *retired_path, char *err, size_t err_len);
/* Frees; accepts NULL; nulls the caller's pointer. */
void vc_pool_destroy(vc_pool_t **self_p);

/* Reloads what changed on disk (at most once per second of now_ms). Returns 0 (nothing changed
 * or reloaded), 1 when something was reloaded, -1 when a changed file did not load: the old
 * contents stay and err says why. */
int vc_pool_refresh(vc_pool_t *self, int64_t now_ms, char *err, size_t err_len);

/* What vc_pool_choose decided. */
typedef struct {
    char number[VC_NUMBER_MAX]; /* the caller id */
    vc_amd_t amd;               /* the pool's AMD setting */
    uint32_t calls_today;       /* calls from that number today, this one included */
} vc_choice_t;

/* Chooses the caller id for a call of (tenant, campaign) to debtor at `to` (E.164) at now_ms
 * (Unix ms) and counts the call against the number's daily cap. Returns 0, 1 when the tenant
 * and campaign have no pool (out untouched but amd = VC_AMD_DEFAULT), or -1 when the pool has
 * no number left (all retired or at their cap today). */
int vc_pool_choose(vc_pool_t *self, const char *tenant, const char *campaign, const char *debtor,
                   const char *to, int64_t now_ms, vc_choice_t *out);

/* The same choice without counting (tests, `list`); same returns. */
int vc_pool_peek(vc_pool_t *self, const char *tenant, const char *campaign, const char *debtor,
                 const char *to, int64_t now_ms, vc_choice_t *out);

/* True when `number` is in the retired list as last loaded. */
bool vc_pool_is_retired(const vc_pool_t *self, const char *number);

/* Visits every number of every pool in file order: fn(ctx, tenant, campaign, number, area,
 * retired). */
void vc_pool_each(const vc_pool_t *self,
                  void (*fn)(void *ctx, const char *tenant, const char *campaign,
                             const char *number, const char *area, bool retired),
                  void *ctx);

/* The day counts, for keeping them across restarts (vc_counts.h). A count is a pool's: the
 * same number in two pools (two tenants) has a count, and a cap, in each. Visits every number
 * of every pool counted on `day` (UTC days since the epoch): fn(ctx, tenant, campaign ("*":
 * every campaign), number, calls). */
void vc_pool_counts_each(const vc_pool_t *self, uint32_t day,
                         void (*fn)(void *ctx, const char *tenant, const char *campaign,
                                    const char *number, uint32_t calls),
                         void *ctx);
/* Sets the count of `number` in the pool of (tenant, campaign) on `day`, unless a higher count
 * is there already (counts survive pool reloads like every count). */
void vc_pool_set_count(vc_pool_t *self, const char *tenant, const char *campaign,
                       const char *number, uint32_t day, uint32_t calls);

/* The rendezvous weight of number for (tenant, debtor): FNV-1a 64 then a 64-bit mix. */
uint64_t vc_pool_weight(const char *tenant, const char *debtor, const char *number);

/* Rewrites the retired list at path with `number` added (reason, at unix seconds) or removed
 * (retire = false), atomically (a temporary file renamed over it). Returns 0, 1 when nothing
 * changed (already retired / not retired), -1 with err. For pregonctl. */
int vc_pool_retire_file(const char *path, const char *number, bool retire, const char *reason,
                        int64_t at_s, char *err, size_t err_len);

#endif
