/* fz_lib.c — the fuzz targets' shared helpers (see fz_lib.h): a private folder for the files the
 * loaders read, the shipped fixtures copied into it, and splitting inputs into fields. */
#include "fz_lib.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[512];
static char s_path[1024];

static void s_die(const char *what, const char *path) {
    fprintf(stderr, "fuzz harness: %s: %s\n", what, path);
    abort();
}

static void s_cleanup(void) {
    DIR *d = opendir(s_dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", s_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(s_dir);
}

const char *fz_dir(void) {
    if (!s_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s_dir, sizeof s_dir, "%s/pregon-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(s_dir))
            s_die("cannot make a folder", s_dir);
        atexit(s_cleanup);
    }
    return s_dir;
}

static void s_write(const char *path, const void *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        s_die("cannot write", path);
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0)
            s_die("cannot write", path);
        p += w, size -= (size_t)w;
    }
    close(fd);
}

const char *fz_write_file(const char *name, const void *data, size_t size) {
    snprintf(s_path, sizeof s_path, "%s/%s", fz_dir(), name);
    s_write(s_path, data, size);
    return s_path;
}

const char *fz_source_path(const char *rel) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", PG_SOURCE_DIR, rel);
    return path;
}

void fz_copy_yaml_dir(const char *rel) {
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s", fz_source_path(rel));
    DIR *d = opendir(from);
    if (!d)
        s_die("cannot read", from);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char src[1536];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        FILE *f = fopen(src, "rb");
        if (!f)
            s_die("cannot read", src);
        static char buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        snprintf(to, sizeof to, "%s/%s", fz_dir(), e->d_name);
        s_write(to, buf, len);
    }
    closedir(d);
}

char *fz_strndup(const void *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out)
        abort();
    if (n)
        memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

size_t fz_split(const uint8_t *data, size_t size, uint8_t sep, fz_part_t *parts, size_t max) {
    size_t k = 0, start = 0;
    for (size_t i = 0; i < size && k + 1 < max; i++)
        if (data[i] == sep) {
            parts[k++] = (fz_part_t){data + start, i - start};
            start = i + 1;
        }
    parts[k++] = (fz_part_t){size ? data + start : data, size - start};
    return k;
}

void fz_fail(const char *what) {
    fprintf(stderr, "fuzz property broken: %s\n", what);
    abort();
}
