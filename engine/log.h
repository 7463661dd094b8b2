/* Logging for the engine and the daemon: klog-style text (default) or JSON lines on
 * stderr, with registered secrets redacted from every line. */
#ifndef NSC_LOG_H
#define NSC_LOG_H

#include <stdarg.h>

#include <nodescaler/backend.h>

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/** Choose the output format; default text. Not thread-safe: call at start-up. */
void log_set_format(enum log_format format);

/** Length of the valid multi-byte UTF-8 character at s (NUL-terminated, s[0] >= 0x80), 0
 * when invalid: overlong forms, surrogates and code points past U+10FFFF are, as jansson
 * and the API server read them. */
size_t log_utf8_len(const unsigned char *s);

/** Messages above this level are dropped (klog's -v maps 0 to INFO, >= 4 to DEBUG). */
void log_set_level(enum nsc_log_level max_level);

/** True when a message at this level would be printed (to skip costly formatting). */
int log_enabled(enum nsc_log_level level);

/**
 * Register a secret (copied) that is replaced by "[redacted]" in every later line.
 * Secrets shorter than 4 bytes are ignored: redacting them would shred normal text.
 * Returns 0 or NSC_ERR_NOMEM. Thread-safe.
 */
int log_redact_add(const char *secret);

/** Forget every registered secret (tests). */
void log_redact_clear(void);

/**
 * Replace every registered secret in text (NUL-terminated, at most cap bytes with the
 * NUL) by "[redacted]" in place, truncating if the result would not fit.
 */
void log_redact_in_place(char *text, size_t cap);

/**
 * Copy at most src_len bytes of src (stops at a NUL) into dst (dst_len bytes with the NUL),
 * secrets redacted before the cut, so that a secret cut in half by dst_len does not leave
 * its first part behind. Thread-safe.
 */
void log_redact_copy(char *dst, size_t dst_len, const char *src, size_t src_len);

/**
 * snprintf into dst, but the whole formatted text is redacted before it is cut to
 * dst_len. Returns the unredacted length vsnprintf reports. Thread-safe.
 */
int log_redact_vformat(char *dst, size_t dst_len, const char *fmt, va_list ap) NSC_PRINTF(3, 0);
int log_redact_format(char *dst, size_t dst_len, const char *fmt, ...) NSC_PRINTF(3, 4);

/** Log one line; `component` (may be NULL) is shown as a prefix ("sks", "kube"). */
void log_msg(enum nsc_log_level level, const char *component, const char *fmt, ...)
    NSC_PRINTF(3, 4);
void log_vmsg(enum nsc_log_level level, const char *component, const char *fmt, va_list ap)
    NSC_PRINTF(3, 0);

#define log_error(...) log_msg(NSC_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warning(...) log_msg(NSC_LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...) log_msg(NSC_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(NSC_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
