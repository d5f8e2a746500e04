/* test_journal.c — chw_journal: records survive a reopen, a torn or corrupt tail is ignored and
 * truncated away, group commit writes once and syncs once, compaction keeps only live entries,
 * replay classifies leases (started / done / forgotten), a failing disk is an error. File
 * operations are injected to count and fail writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chw_journal.h"

typedef struct {
    int writes, syncs, renames;
    int fail_write; /* >0: the n-th write from now fails */
    int fail_sync;
} io_t;

static ssize_t t_write(void *ctx, int fd, const void *buf, size_t len) {
    io_t *io = ctx;
    io->writes++;
    if (io->fail_write && --io->fail_write == 0) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, len);
}

static int t_sync(void *ctx, int fd) {
    io_t *io = ctx;
    io->syncs++;
    if (io->fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int t_rename(void *ctx, const char *a, const char *b) {
    io_t *io = ctx;
    io->renames++;
    return rename(a, b);
}

typedef struct {
    char dir[64], path[128];
    io_t io;
    chw_journal_io_t ops;
} fx_t;

static int setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/pg-journal.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/w.journal", fx->dir);
    fx->ops = (chw_journal_io_t){t_write, t_sync, t_rename, &fx->io};
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fx_t *fx = *state;
    char tmp[160];
    unlink(fx->path);
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->path);
    unlink(tmp);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static chw_journal_t *j_open(fx_t *fx, const char *inc, char *prev, bool *torn) {
    static char dummy[64];
    int err = 0;
    chw_journal_t *j =
        chw_journal_open(fx->path, inc, &fx->ops, 16, prev ? prev : dummy, 64, torn, &err, NULL);
    assert_non_null(j);
    assert_int_equal(err, CHW_J_OK);
    return j;
}

static const uint8_t REPORT[] = {0x0a, 0x03, 'j', 'o', 'b', 0x30, 0x01};

/* started, done, forgotten: a new process finds each lease where the old one left it, and the
 * previous incarnation. */
static void test_replay_classifies(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "inc-one", NULL, NULL);
    assert_int_equal(chw_journal_count(j), 0);
    assert_int_equal(chw_journal_start(j, "1/job:a", "a", "t1", 1000), CHW_J_OK);
    assert_int_equal(chw_journal_start(j, "1/job:b", "b", "t1", 2000), CHW_J_OK);
    assert_int_equal(chw_journal_start(j, "1/job:c", "c", "t2", 3000), CHW_J_OK);
    assert_int_equal(chw_journal_done(j, "1/job:b", REPORT, sizeof REPORT), CHW_J_OK);
    assert_int_equal(chw_journal_done(j, "1/job:c", REPORT, sizeof REPORT), CHW_J_OK);
    assert_int_equal(chw_journal_forget(j, "1/job:c"), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    chw_journal_close(&j);
    assert_null(j);

    char prev[64];
    bool torn = true;
    j = j_open(fx, "inc-two", prev, &torn);
    assert_string_equal(prev, "inc-one");
    assert_false(torn);
    assert_int_equal(chw_journal_count(j), 2);
    chw_journal_entry_t *a = chw_journal_find(j, "1/job:a");
    chw_journal_entry_t *b = chw_journal_find(j, "1/job:b");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(chw_journal_find(j, "1/job:c"));
    assert_int_equal(a->state, CHW_J_STARTED);
    assert_true(a->replayed);
    assert_string_equal(a->job_id, "a");
    assert_string_equal(a->tenant, "t1");
    assert_int_equal(a->expires_ms, 1000);
    assert_int_equal(b->state, CHW_J_DONE);
    assert_int_equal(b->report_len, sizeof REPORT);
    assert_memory_equal(b->report, REPORT, sizeof REPORT);
    chw_journal_close(&j);

    /* rewritten under inc-two: a third process sees inc-two as the previous one */
    j = j_open(fx, "inc-three", prev, NULL);
    assert_string_equal(prev, "inc-two");
    assert_int_equal(chw_journal_count(j), 2);
    chw_journal_close(&j);
}

/* Uncommitted appends are lost like a kill -9 loses them. */
static void test_uncommitted_lost(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    assert_int_equal(chw_journal_start(j, "kept", "k", "t", 1), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    assert_int_equal(chw_journal_start(j, "lost", "l", "t", 1), CHW_J_OK);
    assert_true(chw_journal_dirty(j));
    chw_journal_close(&j);
    j = j_open(fx, "i2", NULL, NULL);
    assert_non_null(chw_journal_find(j, "kept"));
    assert_null(chw_journal_find(j, "lost"));
    chw_journal_close(&j);
}

/* One commit of many records: one write, one fdatasync. Nothing appended: nothing written. */
static void test_group_commit(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    fx->io.writes = fx->io.syncs = 0;
    for (int i = 0; i < 10; i++) {
        char lease[32];
        snprintf(lease, sizeof lease, "1/job:%d", i);
        assert_int_equal(chw_journal_start(j, lease, "x", "t", i), CHW_J_OK);
    }
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    assert_int_equal(fx->io.writes, 1);
    assert_int_equal(fx->io.syncs, 1);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    assert_int_equal(fx->io.writes, 1);
    assert_int_equal(fx->io.syncs, 1);
    chw_journal_close(&j);
}

/* Appends a few bytes to the file, as a kill -9 in the middle of a write leaves them. */
static void append_raw(const char *path, const void *bytes, size_t len) {
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static off_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* A short last record, and a whole record whose checksum does not match, are ignored. */
static void test_torn_tail(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    assert_int_equal(chw_journal_start(j, "good", "g", "t", 5), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    off_t good_size = file_size(fx->path);
    /* a start record cut in its body */
    assert_int_equal(chw_journal_start(j, "torn", "t", "t", 6), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    off_t full = file_size(fx->path);
    chw_journal_close(&j);
    assert_int_equal(truncate(fx->path, full - 3), 0);
    bool torn = false;
    j = j_open(fx, "i2", NULL, &torn);
    assert_true(torn);
    assert_non_null(chw_journal_find(j, "good"));
    assert_null(chw_journal_find(j, "torn"));
    assert_int_equal(chw_journal_count(j), 1);
    chw_journal_close(&j);
    (void)good_size;

    /* a header only */
    static const uint8_t header[] = {20, 0, 0, 0};
    append_raw(fx->path, header, sizeof header);
    j = j_open(fx, "i3", NULL, &torn);
    assert_true(torn);
    assert_int_equal(chw_journal_count(j), 1);
    /* a whole record with a flipped byte */
    assert_int_equal(chw_journal_forget(j, "good"), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    off_t size = file_size(fx->path);
    chw_journal_close(&j);
    int fd = open(fx->path, O_RDWR);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, size - 2), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, size - 2), 1);
    close(fd);
    j = j_open(fx, "i4", NULL, &torn);
    assert_true(torn);
    /* the forget record was corrupt: "good" is still started (UNKNOWN, never lost) */
    assert_non_null(chw_journal_find(j, "good"));
    chw_journal_close(&j);
    j = j_open(fx, "i5", NULL, &torn);
    assert_false(torn); /* rewritten whole at the previous open */
    chw_journal_close(&j);
}

/* Mostly forgotten records: the file is rewritten with the live entries only. */
static void test_compaction(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    size_t rewrites = chw_journal_rewrites(j);
    assert_int_equal(chw_journal_start(j, "live", "l", "t", 9), CHW_J_OK);
    for (int i = 0; i < 40; i++) {
        char lease[32];
        snprintf(lease, sizeof lease, "1/job:%d", i);
        assert_int_equal(chw_journal_start(j, lease, "x", "t", i), CHW_J_OK);
        assert_int_equal(chw_journal_done(j, lease, REPORT, sizeof REPORT), CHW_J_OK);
        assert_int_equal(chw_journal_forget(j, lease), CHW_J_OK);
        assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    }
    assert_true(chw_journal_rewrites(j) > rewrites);
    assert_true(chw_journal_file_records(j) <= 16 + 3);
    assert_int_equal(chw_journal_count(j), 1);
    chw_journal_close(&j);
    j = j_open(fx, "i2", NULL, NULL);
    assert_int_equal(chw_journal_count(j), 1);
    assert_non_null(chw_journal_find(j, "live"));
    chw_journal_close(&j);
}

/* A report acknowledged by its seq leaves the journal; seq 0 or an unknown one changes nothing. */
static void test_ack_by_seq(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    assert_int_equal(chw_journal_start(j, "a", "a", "t", 1), CHW_J_OK);
    assert_int_equal(chw_journal_done(j, "a", REPORT, sizeof REPORT), CHW_J_OK);
    assert_int_equal(chw_journal_start(j, "b", "b", "t", 1), CHW_J_OK);
    chw_journal_find(j, "a")->seq = 7;
    assert_false(chw_journal_ack(j, 0));
    assert_false(chw_journal_ack(j, 8));
    assert_true(chw_journal_ack(j, 7));
    assert_null(chw_journal_find(j, "a"));
    assert_non_null(chw_journal_find(j, "b"));
    assert_int_equal(chw_journal_commit(j, NULL), CHW_J_OK);
    chw_journal_close(&j);
    j = j_open(fx, "i2", NULL, NULL);
    assert_null(chw_journal_find(j, "a"));
    assert_int_equal(chw_journal_count(j), 1);
    chw_journal_close(&j);
}

/* A failing write or fdatasync is an error the caller sees (the worker stops); the entries
 * stay, and the file is made whole again, so a restart still finds them. */
static void test_write_failure(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    assert_int_equal(chw_journal_start(j, "a", "a", "t", 1), CHW_J_OK);
    fx->io.fail_sync = 1;
    int sys = 0;
    assert_int_equal(chw_journal_commit(j, &sys), CHW_J_ERR_IO);
    assert_int_equal(sys, EIO);
    fx->io.fail_sync = 0;
    assert_non_null(chw_journal_find(j, "a"));
    fx->io.fail_write = 1;
    assert_int_equal(chw_journal_start(j, "b", "b", "t", 1), CHW_J_OK);
    assert_int_equal(chw_journal_commit(j, &sys), CHW_J_ERR_IO);
    assert_int_equal(sys, ENOSPC);
    chw_journal_close(&j);
    j = j_open(fx, "i2", NULL, NULL);
    assert_non_null(chw_journal_find(j, "a"));
    assert_non_null(chw_journal_find(j, "b"));
    chw_journal_close(&j);
}

/* Oversized ids and reports are refused; a second process cannot open a journal in use. */
static void test_limits_and_lock(void **state) {
    fx_t *fx = *state;
    chw_journal_t *j = j_open(fx, "i1", NULL, NULL);
    char *big = malloc(CHW_J_ID_MAX + 2);
    memset(big, 'x', CHW_J_ID_MAX + 1);
    big[CHW_J_ID_MAX + 1] = '\0';
    assert_int_equal(chw_journal_start(j, big, "a", "t", 1), CHW_J_ERR_ARG);
    assert_int_equal(chw_journal_start(j, "", "a", "t", 1), CHW_J_ERR_ARG);
    uint8_t *rep = calloc(1, CHW_J_REPORT_MAX + 1);
    assert_int_equal(chw_journal_done(j, "a", rep, CHW_J_REPORT_MAX + 1), CHW_J_ERR_ARG);
    free(rep);
    free(big);
    int err = 0;
    assert_null(chw_journal_open(fx->path, "i2", NULL, 0, NULL, 0, NULL, &err, NULL));
    assert_int_equal(err, CHW_J_ERR_LOCKED);
    chw_journal_close(&j);
    chw_journal_close(&j); /* NULL: a no-op */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_classifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncommitted_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_by_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
