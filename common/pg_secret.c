/* pg_secret.c — secret files readable by their owner only (see pg_secret.h). */
#include "pg_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_check_fd(int fd, const char *path, char *err, size_t err_len) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, err_len,
                 "%s: mode %04o lets others read or change a secret: chmod 600 it (owner only)",
                 path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

int pg_secret_check_mode(const char *path, char *err, size_t err_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = s_check_fd(fd, path, err, err_len);
    close(fd);
    return rc;
}

long pg_secret_read(const char *path, char *buf, size_t len, char *err, size_t err_len) {
    if (!buf || len < 2) {
        snprintf(err, err_len, "%s: no room for the secret", path);
        return -1;
    }
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* checked on the descriptor read: the file cannot be swapped between check and read */
    if (s_check_fd(fd, path, err, err_len) != 0) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    for (;;) {
        if (n == len - 1) { /* full: anything more is too long */
            char extra;
            ssize_t more = read(fd, &extra, 1);
            if (more > 0) {
                close(fd);
                explicit_bzero(buf, len);
                snprintf(err, err_len, "%s: longer than %zu bytes", path, len - 1);
                return -1;
            }
            break;
        }
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            close(fd);
            explicit_bzero(buf, len);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    while (n > 0 && strchr("\r\n \t", buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        snprintf(err, err_len, "%s: empty", path);
        return -1;
    }
    return (long)n;
}
