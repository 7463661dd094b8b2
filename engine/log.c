/* Logging: one line per message on stderr, klog text or JSON, secrets redacted.
 * A mutex keeps lines whole when the HTTP server threads log too. */
#include "config.h"

#include "log.h"

#include <pthread.h>
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

static void
json_escape_to(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

void
log_vmsg(enum nsc_log_level level, const char *component, const char *fmt, va_list ap)
{
    static const char klog_letter[] = {'E', 'W', 'I', 'I'};
    static const char *const json_level[] = {"error", "warning", "info", "debug"};
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    int lvl = (int)level;

    if (!log_enabled(level))
        return;
    if (lvl < 0 || lvl > NSC_LOG_DEBUG)
        lvl = NSC_LOG_ERROR;
    vsnprintf(line, sizeof(line), fmt, ap);
    gettimeofday(&tv, NULL);

    pthread_mutex_lock(&log_lock);
    redact_locked(line, sizeof(line));
    if (log_format_current == LOG_FORMAT_JSON) {
        gmtime_r(&tv.tv_sec, &tm);
        fprintf(stderr, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"level\":\"%s\",",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                (long)tv.tv_usec, json_level[lvl]);
        if (component) {
            fputs("\"component\":\"", stderr);
            json_escape_to(stderr, component);
            fputs("\",", stderr);
        }
        fputs("\"msg\":\"", stderr);
        json_escape_to(stderr, line);
        fputs("\"}\n", stderr);
    } else {
        /* klog header: Lmmdd hh:mm:ss.uuuuuu pid file:line] msg; we have no file:line,
         * so the component stands in its place. */
        localtime_r(&tv.tv_sec, &tm);
        fprintf(stderr, "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s] %s\n", klog_letter[lvl],
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
                (int)getpid(), component ? component : "nodescaler", line);
    }
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
