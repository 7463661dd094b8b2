/* Logging: one line per message on stderr, klog text or JSON, secrets redacted, control
 * characters escaped.
 * A mutex keeps lines whole when the HTTP server threads log too. */
#include "config.h"

#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define REDACTED "[redacted]"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_format log_format_current = LOG_FORMAT_TEXT;
static enum nsc_log_level log_level_max = NSC_LOG_INFO;
static char **secrets;
static size_t n_secrets;

void
log_set_format(enum log_format format)
{
    log_format_current = format;
}

void
log_set_level(enum nsc_log_level max_level)
{
    log_level_max = max_level;
}

int
log_enabled(enum nsc_log_level level)
{
    return level <= log_level_max;
}

int
log_redact_add(const char *secret)
{
    char *copy;
    char **grown;
    size_t i;

    if (secret == NULL || strlen(secret) < 4)
        return 0;
    pthread_mutex_lock(&log_lock);
    for (i = 0; i < n_secrets; i++) {
        if (strcmp(secrets[i], secret) == 0) {
            pthread_mutex_unlock(&log_lock);
            return 0;
        }
    }
    copy = strdup(secret);
    grown = copy ? realloc(secrets, (n_secrets + 1) * sizeof(*secrets)) : NULL;
    if (grown == NULL) {
        free(copy);
        pthread_mutex_unlock(&log_lock);
        return NSC_ERR_NOMEM;
    }
    secrets = grown;
    secrets[n_secrets++] = copy;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

void
log_redact_clear(void)
{
    size_t i;

    pthread_mutex_lock(&log_lock);
    for (i = 0; i < n_secrets; i++) {
        /* Overwrite before freeing so the secret does not linger in freed memory. */
        memset(secrets[i], 0, strlen(secrets[i]));
        free(secrets[i]);
    }
    free(secrets);
    secrets = NULL;
    n_secrets = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Caller holds log_lock. */
static void
redact_locked(char *text, size_t cap)
{
    size_t i;

    for (i = 0; i < n_secrets; i++) {
        size_t slen = strlen(secrets[i]);
        char *hit = text;

        while ((hit = strstr(hit, secrets[i])) != NULL) {
            size_t rlen = sizeof(REDACTED) - 1;
            size_t tail = strlen(hit + slen);

            if ((size_t)(hit - text) + rlen + tail + 1 > cap)
                tail = cap - 1 - (size_t)(hit - text) - rlen;
            memmove(hit + rlen, hit + slen, tail);
            memcpy(hit, REDACTED, rlen);
            hit[rlen + tail] = '\0';
            hit += rlen;
        }
    }
}

void
log_redact_in_place(char *text, size_t cap)
{
    if (text == NULL || cap < sizeof(REDACTED))
        return;
    pthread_mutex_lock(&log_lock);
    redact_locked(text, cap);
    pthread_mutex_unlock(&log_lock);
}

/* Caller holds log_lock. Redact src[0..src_len) into dst, cut to dst_len - 1 bytes only
 * afterwards: a secret that straddles the cut would otherwise leave its first half. */
static void
redact_copy_locked(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    size_t i, longest = 0, window, cap;
    char *tmp;

    for (i = 0; i < n_secrets; i++) {
        size_t l = strlen(secrets[i]);

        if (l > longest)
            longest = l;
    }
    /* Every secret that starts before the cut ends inside the window. */
    window = src_len;
    if (window > dst_len + longest)
        window = dst_len + longest;
    /* A replacement is at most 10/4 of what it replaces. */
    cap = window / 2 * 5 + sizeof(REDACTED) + 1;
    tmp = malloc(cap);
    if (tmp == NULL) {
        /* Fail closed: no text rather than a text that may hold half a secret. */
        snprintf(dst, dst_len, "%s", REDACTED);
        return;
    }
    memcpy(tmp, src, window);
    tmp[window] = '\0';
    redact_locked(tmp, cap);
    snprintf(dst, dst_len, "%s", tmp);
    memset(tmp, 0, cap);
    free(tmp);
}

void
log_redact_copy(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    if (dst == NULL || dst_len == 0)
        return;
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    src_len = strnlen(src, src_len);
    pthread_mutex_lock(&log_lock);
    redact_copy_locked(dst, dst_len, src, src_len);
    pthread_mutex_unlock(&log_lock);
}

int
log_redact_vformat(char *dst, size_t dst_len, const char *fmt, va_list ap)
{
    char small[1024];
    char *big = NULL;
    va_list ap2;
    int n;

    if (dst == NULL || dst_len == 0)
        return 0;
    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(ap2);
        dst[0] = '\0';
        return 0;
    }
    if ((size_t)n >= sizeof(small)) {
        big = malloc((size_t)n + 1);
        if (big == NULL) {
            va_end(ap2);
            snprintf(dst, dst_len, "%s", REDACTED);
            return n;
        }
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    log_redact_copy(dst, dst_len, big ? big : small, (size_t)n);
    if (big) {
        memset(big, 0, (size_t)n);
        free(big);
    }
    return n;
}

int
log_redact_format(char *dst, size_t dst_len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = log_redact_vformat(dst, dst_len, fmt, ap);
    va_end(ap);
    return n;
}

/* One output line, built whole and written with one write: stderr is unbuffered, and
 * other processes (the kubelet's log reader, a shell) must not see half lines. */
struct log_out {
    char buf[LOG_LINE_MAX * 8 + 256];
    size_t len;
};

static struct log_out log_out; /* guarded by log_lock */

static void
out_put(struct log_out *o, const char *s, size_t n)
{
    if (n > sizeof(o->buf) - 1 - o->len)
        n = sizeof(o->buf) - 1 - o->len;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_printf(struct log_out *o, const char *fmt, ...) NSC_PRINTF(2, 3);

static void
out_printf(struct log_out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        out_put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A C1 control (U+0080..U+009F) in UTF-8: C2 80..C2 9F. Terminals that honour them read
 * C2 9B as CSI, the same as ESC [. */
static int
is_c1_utf8(const unsigned char *s)
{
    return s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f;
}

size_t
log_utf8_len(const unsigned char *s)
{
    size_t len;
    unsigned cp;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A JSON string body for any bytes: a log reader must parse every line, so a byte that is
 * not part of a valid UTF-8 character becomes U+FFFD instead of breaking the line. */
static void
json_escape_to(struct log_out *o, const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;

        if (c == '"' || c == '\\')
            out_printf(o, "\\%c", c);
        else if (c == '\n')
            out_put(o, "\\n", 2);
        else if (c == '\t')
            out_put(o, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            out_printf(o, "\\u%04x", c);
        else if (c < 0x80)
            out_put(o, (const char *)p, 1);
        else if (is_c1_utf8(p))
            out_printf(o, "\\u%04x", *++p);
        else {
            size_t l = log_utf8_len(p);

            if (l == 0) {
                out_put(o, "\\ufffd", 6);
            } else {
                out_put(o, (const char *)p, l);
                p += l - 1;
            }
        }
    }
}

/* Text lines carry names from the cluster (pods, nodes) verbatim: a newline in one would
 * forge a log line and an escape sequence would rewrite the reader's terminal. Control
 * bytes are written as C escapes, so that one message stays one line. */
static void
text_escape_to(struct log_out *o, const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;

        if (c == '\n')
            out_put(o, "\\n", 2);
        else if (c == '\r')
            out_put(o, "\\r", 2);
        else if (c == '\t')
            out_put(o, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            out_printf(o, "\\x%02x", c);
        else if (is_c1_utf8(p)) {
            out_printf(o, "\\xc2\\x%02x", p[1]);
            p++;
        } else
            out_put(o, (const char *)p, 1);
    }
}

void
log_vmsg(enum nsc_log_level level, const char *component, const char *fmt, va_list ap)
{
    static const char klog_letter[] = {'E', 'W', 'I', 'I'};
    static const char *const json_level[] = {"error", "warning", "info", "debug"};
    char line[LOG_LINE_MAX];
    struct log_out *o = &log_out;
    struct timeval tv;
    struct tm tm;
    int lvl = (int)level;

    if (!log_enabled(level))
        return;
    if (lvl < 0 || lvl > NSC_LOG_DEBUG)
        lvl = NSC_LOG_ERROR;
    /* Redacted whole, then cut to the line limit. */
    log_redact_vformat(line, sizeof(line), fmt, ap);
    gettimeofday(&tv, NULL);

    pthread_mutex_lock(&log_lock);
    o->len = 0;
    if (log_format_current == LOG_FORMAT_JSON) {
        /* component-base's JSON format (--logging-format=json): "ts" in seconds since the
         * epoch, "v" the verbosity (debug is klog's -v=4), "err" on errors: the cause,
         * after the first ": " of the message. "level" is kept for readers of older lines. */
        const char *cause = lvl == NSC_LOG_ERROR ? strstr(line, ": ") : NULL;

        out_printf(o, "{\"ts\":%lld.%06ld,\"v\":%d,\"level\":\"%s\",", (long long)tv.tv_sec,
                   (long)tv.tv_usec, lvl == NSC_LOG_DEBUG ? 4 : 0, json_level[lvl]);
        if (component) {
            out_put(o, "\"logger\":\"", 10);
            json_escape_to(o, component);
            out_put(o, "\",", 2);
        }
        if (lvl == NSC_LOG_ERROR) {
            out_put(o, "\"err\":\"", 7);
            json_escape_to(o, cause ? cause + 2 : line);
            out_put(o, "\",", 2);
        }
        out_put(o, "\"msg\":\"", 7);
        json_escape_to(o, line);
        out_put(o, "\"}", 2);
    } else {
        /* klog header: Lmmdd hh:mm:ss.uuuuuu pid file:line] msg; we have no file:line,
         * so the component stands in its place. */
        localtime_r(&tv.tv_sec, &tm);
        out_printf(o, "%c%02d%02d %02d:%02d:%02d.%06ld %7d ", klog_letter[lvl], tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
                   (int)getpid());
        text_escape_to(o, component ? component : "nodescaler");
        out_put(o, "] ", 2);
        text_escape_to(o, line);
    }
    o->buf[o->len++] = '\n';
    fwrite(o->buf, 1, o->len, stderr);
    pthread_mutex_unlock(&log_lock);
}

void
log_msg(enum nsc_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, component, fmt, ap);
    va_end(ap);
}
