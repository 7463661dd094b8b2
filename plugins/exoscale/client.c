/* Signed calls to the Exoscale API through the host's HTTP: re-signed on every attempt,
 * errors parsed from any of the body shapes the API uses, statuses mapped, and transient
 * failures retried with a bounded back-off that honours Retry-After. */
#include "config.h"

#include "exo.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ERROR_TEXT_MAX 400

static void
default_sleep(void *ctx, int64_t ms)
{
    struct timespec ts;

    (void)ctx;
    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void
exo_client_init(struct exo_client *c, const struct nsc_host *host, struct exo_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->host = host;
    c->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    c->sleep = default_sleep;
    /* go-retryablehttp's defaults, which egoscale uses: 4 retries, 1 s doubling to 30 s.
     * The budget keeps one call from holding the control loop for long. */
    c->max_retries = 4;
    c->retry_base_ms = 1000;
    c->retry_cap_ms = 30000;
    c->retry_budget_ms = 15000;
    c->timeout_ms = 15000;
}

void
exo_client_clear(struct exo_client *c)
{
    exo_config_clear(&c->cfg);
}

static void
clean_copy(char *out, size_t out_len, const char *in, size_t in_len)
{
    size_t i, o = 0;

    if (out_len == 0)
        return;
    for (i = 0; i < in_len && o + 1 < out_len && o < ERROR_TEXT_MAX; i++) {
        unsigned char ch = (unsigned char)in[i];

        out[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    /* Trim what the cut or the body's own newline left at the end. */
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void append(char *out, size_t out_len, const char *fmt, ...) NSC_PRINTF(3, 4);

static void
append(char *out, size_t out_len, const char *fmt, ...)
{
    size_t used = strlen(out);
    va_list ap;

    if (used + 1 >= out_len)
        return;
    va_start(ap, fmt);
    vsnprintf(out + used, out_len - used, fmt, ap);
    va_end(ap);
}

/* A copy of in (owned, NUL-terminated) with the API key and secret replaced: done on the
 * whole text before any cut, which would leave part of a secret the host's redaction no
 * longer recognises. NULL when out of memory. */
static char *
redact_own(const struct exo_client *c, const char *in, size_t in_len)
{
    static const char mark[] = "[redacted]";
    const char *const secrets[] = {c->cfg.secret, c->cfg.key};
    size_t cap = in_len / 2 * 5 + sizeof(mark) + 1, i, k;
    char *out = malloc(cap), *tmp;

    if (out == NULL)
        return NULL;
    memcpy(out, in, in_len);
    out[in_len] = '\0';
    for (k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++) {
        size_t sl = secrets[k] ? strlen(secrets[k]) : 0, len = strlen(out), o = 0;

        if (sl < 4)
            continue;
        tmp = malloc(len / sl * sizeof(mark) + len + 1);
        if (tmp == NULL) {
            free(out);
            return NULL;
        }
        for (i = 0; i < len;) {
            if (i + sl <= len && memcmp(out + i, secrets[k], sl) == 0) {
                memcpy(tmp + o, mark, sizeof(mark) - 1);
                o += sizeof(mark) - 1;
                i += sl;
            } else {
                tmp[o++] = out[i++];
            }
        }
        tmp[o] = '\0';
        free(out);
        out = tmp;
    }
    return out;
}

/* A Location as an error text may show it: without its query and fragment (a token may
 * ride there), user info replaced, our own credentials redacted. */
static void
clean_location(const struct exo_client *c, const char *loc, char *out, size_t out_len)
{
    const char *sep = loc ? strstr(loc, "://") : NULL;
    size_t n = loc ? strcspn(loc, "?#") : 0, start = 0, at = 0, i;
    char *joined, *red;

    out[0] = '\0';
    if (loc == NULL)
        return;
    if (sep != NULL && (size_t)(sep - loc) < n)
        start = (size_t)(sep - loc) + 3;
    for (i = start; i < n && loc[i] != '/'; i++) {
        if (loc[i] == '@')
            at = i + 1;
    }
    joined = malloc(n + 16);
    if (joined == NULL)
        return;
    if (at > 0)
        snprintf(joined, n + 16, "%.*s[redacted]@%.*s", (int)start, loc, (int)(n - at),
                 loc + at);
    else
        snprintf(joined, n + 16, "%.*s", (int)n, loc);
    red = redact_own(c, joined, strlen(joined));
    if (red != NULL)
        clean_copy(out, out_len, red, strlen(red));
    free(red);
    free(joined);
}

/* The HTTP reason phrase of the statuses an error text may carry; "" for others. */
static const char *
http_reason(long s)
{
    switch (s) {
    case 300:
        return " Multiple Choices";
    case 301:
        return " Moved Permanently";
    case 302:
        return " Found";
    case 303:
        return " See Other";
    case 304:
        return " Not Modified";
    case 305:
        return " Use Proxy";
    case 307:
        return " Temporary Redirect";
    case 308:
        return " Permanent Redirect";
    case 501:
        return " Not Implemented";
    case 502:
        return " Bad Gateway";
    default:
        return "";
    }
}

void
exo_error_text(const char *body, size_t body_len, char *out, size_t out_len)
{
    json_t *j = NULL;
    json_t *v;
    char tmp[ERROR_TEXT_MAX + 1];

    if (out_len == 0)
        return;
    out[0] = '\0';
    if (body == NULL || body_len == 0) {
        snprintf(out, out_len, "(empty body)");
        return;
    }
    j = json_loadb(body, body_len, JSON_DECODE_ANY, NULL);
    if (j == NULL || !json_is_object(j)) {
        clean_copy(out, out_len, body, body_len);
        json_decref(j);
        return;
    }
    if ((v = json_object_get(j, "message")) != NULL && json_is_string(v)) {
        clean_copy(out, out_len, json_string_value(v), json_string_length(v));
    } else if ((v = json_object_get(j, "error")) != NULL && json_is_string(v)) {
        clean_copy(out, out_len, json_string_value(v), json_string_length(v));
    } else if (json_object_get(j, "title") != NULL || json_object_get(j, "detail") != NULL) {
        /* RFC 9457 problem details: "title: detail (errors...)". */
        const char *title = json_string_value(json_object_get(j, "title"));
        const char *detail = json_string_value(json_object_get(j, "detail"));
        json_t *errs = json_object_get(j, "errors");
        size_t i;

        if (title != NULL) {
            clean_copy(tmp, sizeof(tmp), title, strlen(title));
            append(out, out_len, "%s", tmp);
        }
        if (detail != NULL) {
            clean_copy(tmp, sizeof(tmp), detail, strlen(detail));
            append(out, out_len, "%s%s", out[0] ? ": " : "", tmp);
        }
        json_array_foreach(errs, i, v)
        {
            const char *e = json_is_string(v) ? json_string_value(v)
                                              : json_string_value(json_object_get(v, "detail"));
            const char *where =
                json_is_object(v) ? json_string_value(json_object_get(v, "pointer")) : NULL;

            if (where == NULL && json_is_object(v))
                where = json_string_value(json_object_get(v, "location"));
            if (e == NULL)
                continue;
            clean_copy(tmp, sizeof(tmp), e, strlen(e));
            append(out, out_len, "%s%s", out[0] ? "; " : "", tmp);
            if (where != NULL) {
                clean_copy(tmp, sizeof(tmp), where, strlen(where));
                append(out, out_len, " (at %s)", tmp);
            }
        }
    } else {
        clean_copy(out, out_len, body, body_len);
    }
    if (out[0] == '\0')
        clean_copy(out, out_len, body, body_len);
    json_decref(j);
}

/* The API says "quota" when an organisation limit stops a request; capacity shortages in
 * a zone read "insufficient capacity". Both mean retrying soon will not help. */
static bool
says_out_of_resources(const char *message)
{
    static const char *const words[] = {"quota", "insufficient capacity", "out of capacity",
                                        "limit reached", "limit exceeded"};
    size_t i, n;

    if (message == NULL)
        return false;
    n = strlen(message);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]), k;

        for (k = 0; k + wl <= n; k++) {
            if (strncasecmp(message + k, words[i], wl) == 0)
                return true;
        }
    }
    return false;
}

int
exo_status_map(long http_status, const char *message)
{
    if (http_status >= 200 && http_status < 300)
        return NSC_OK;
    if (http_status == 401 || http_status == 403)
        return NSC_ERR_AUTH;
    if (http_status == 404)
        return NSC_ERR_NOT_FOUND;
    /* 409: the object is busy with another operation; it passes. */
    if (http_status == 409 || http_status == 429)
        return NSC_ERR_TRANSIENT;
    if (http_status == 501)
        return NSC_ERR_INTERNAL;
    if (http_status >= 500 && http_status < 600)
        return NSC_ERR_TRANSIENT;
    if (http_status >= 400 && http_status < 500)
        return says_out_of_resources(message) ? NSC_ERR_OUT_OF_RESOURCES : NSC_ERR_INVALID;
    return NSC_ERR_INTERNAL;
}

static bool
retriable_status(long s)
{
    return s == 429 || (s >= 500 && s < 600 && s != 501);
}

/* Whether this mode resends after this answer (0: no answer arrived). */
static bool
may_retry(enum exo_retry retry, long s)
{
    if (retry == EXO_RETRY_IDEMPOTENT)
        return s == 0 || retriable_status(s);
    if (retry == EXO_RETRY_REFUSED)
        return s == 429 || s == 409;
    return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Retry-After as seconds from now: delta-seconds or an IMF-fixdate. -1 when unusable. */
static int64_t
retry_after_s(const char *v, int64_t now_unix_s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wday[4], mon[4];
    int d, y, hh, mm, ss;
    const char *p;
    char *end;
    long long n;

    if (v == NULL)
        return -1;
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        n = strtoll(v, &end, 10);
        while (*end == ' ')
            end++;
        return (*end == '\0' && n >= 0) ? (int64_t)n : -1;
    }
    if (sscanf(v, "%3s, %d %3s %d %d:%d:%d GMT", wday, &d, mon, &y, &hh, &mm, &ss) == 7) {
        int64_t t;

        p = strstr(months, mon);
        if (p == NULL || (p - months) % 3 != 0 || d < 1 || d > 31 || hh > 23 || mm > 59 ||
            ss > 60)
            return -1;
        t = days_from_civil(y, (int)((p - months) / 3) + 1, d) * 86400 + hh * 3600 + mm * 60 +
            ss;
        return t > now_unix_s ? t - now_unix_s : 0;
    }
    return -1;
}

int64_t
exo_backoff_ms(const struct exo_client *c, int attempt, const char *retry_after,
               int64_t now_unix_s)
{
    int64_t ra = retry_after_s(retry_after, now_unix_s);
    int64_t d = c->retry_base_ms;
    int i;

    /* A server's Retry-After beyond a day is not a plan to wait on (and ms of it would
     * overflow): the caller's retry budget turns a day into giving up. */
    if (ra > 86400)
        ra = 86400;
    if (ra >= 0)
        return ra * 1000;
    for (i = 0; i < attempt && d < c->retry_cap_ms; i++)
        d *= 2;
    return d < c->retry_cap_ms ? d : c->retry_cap_ms;
}

static void set_cerr(struct exo_client *c, const char *fmt, ...) NSC_PRINTF(2, 3);

static void
set_cerr(struct exo_client *c, const char *fmt, ...)
{
    va_list ap;
    char *full, *red;
    int n;

    /* Whole, redacted, then cut: parts such as a JSON parser's "near '...'" quote the
     * answer, and the cut must not halve a credential. */
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    full = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (full == NULL) {
        snprintf(c->err, sizeof(c->err), "(error text not shown: out of memory)");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(full, (size_t)n + 1, fmt, ap);
    va_end(ap);
    red = redact_own(c, full, (size_t)n);
    snprintf(c->err, sizeof(c->err), "%s", red ? red : "(error text not shown: out of memory)");
    free(red);
    free(full);
}

/* The path of base_url after scheme and authority ("/v2"), which is signed too. */
static const char *
base_path(const char *base_url)
{
    const char *p = strstr(base_url, "://");
    const char *slash;

    if (p == NULL)
        return "";
    slash = strchr(p + 3, '/');
    return slash ? slash : "";
}

int
exo_call(struct exo_client *c, const char *method, const char *path, const char *query,
         const char *body, enum exo_retry retry, json_t **out)
{
    const struct nsc_host *h = c->host;
    size_t body_len = body ? strlen(body) : 0;
    char *url = NULL, *sign_path = NULL, *auth = NULL;
    int64_t waited_ms = 0, start_ms = h->monotonic_ms(h), deadline = 0;
    size_t url_len;
    int attempt = 0, rc = NSC_ERR_INTERNAL;

    if (out != NULL)
        *out = NULL;
    c->err[0] = '\0';
    c->last_status = 0;
    url_len = strlen(c->cfg.base_url) + strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
    url = malloc(url_len);
    sign_path = malloc(strlen(base_path(c->cfg.base_url)) + strlen(path) + 1);
    if (url == NULL || sign_path == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    snprintf(url, url_len, "%s%s%s%s", c->cfg.base_url, path, query ? "?" : "",
             query ? query : "");
    sprintf(sign_path, "%s%s", base_path(c->cfg.base_url), path);
    deadline = start_ms + (int64_t)c->timeout_ms + c->retry_budget_ms;
    if (c->deadline_ms > 0 && c->deadline_ms < deadline)
        deadline = c->deadline_ms;

    for (attempt = 0;; attempt++) {
        struct nsc_http_header hdrs[3];
        struct nsc_http_request req;
        struct nsc_http_response resp;
        char msg[EXO_ERR_LEN / 2];
        const char *ra = NULL;
        char ra_copy[64];
        int64_t now_mono = h->monotonic_ms(h), delay, sent_ms;
        size_t n_hdrs = 0;

        if (c->blocked_until_ms > now_mono) {
            set_cerr(c, "%s %s: not sent: the API asked to wait %lld s more (Retry-After)",
                     method, sign_path,
                     (long long)((c->blocked_until_ms - now_mono + 999) / 1000));
            rc = NSC_ERR_TRANSIENT;
            goto done;
        }
        if (deadline - now_mono < EXO_MIN_ATTEMPT_MS) {
            set_cerr(c,
                     "%s %s: not sent: its time (request-timeout-ms %u + retry-budget-ms "
                     "%lld) is used up",
                     method, sign_path, c->timeout_ms, (long long)c->retry_budget_ms);
            rc = NSC_ERR_TRANSIENT;
            goto done;
        }
        free(auth);
        auth = NULL;
        rc = exo_sign(c->cfg.key, c->cfg.secret, method, sign_path, query, body, body_len,
                      h->now_ms(h) / 1000 + EXO_SIGN_VALIDITY_S, &auth);
        if (rc < 0) {
            set_cerr(c, "%s %s: cannot sign the request", method, sign_path);
            goto done;
        }
        hdrs[n_hdrs].name = "Authorization";
        hdrs[n_hdrs++].value = auth;
        hdrs[n_hdrs].name = "Accept";
        hdrs[n_hdrs++].value = "application/json";
        if (body != NULL) {
            hdrs[n_hdrs].name = "Content-Type";
            hdrs[n_hdrs++].value = "application/json";
        }
        memset(&req, 0, sizeof(req));
        req.struct_size = (uint32_t)sizeof(req);
        req.method = method;
        req.url = url;
        req.headers = hdrs;
        req.n_headers = n_hdrs;
        req.body = body;
        req.body_len = body_len;
        /* The last attempt gets what is left, so the whole call keeps its bound. */
        req.timeout_ms = deadline - now_mono < (int64_t)c->timeout_ms
                             ? (uint32_t)(deadline - now_mono)
                             : c->timeout_ms;
        req.ca_file = c->cfg.ca_file;
        memset(&resp, 0, sizeof(resp));
        c->stats.n_calls++;
        sent_ms = h->monotonic_ms(h);
        rc = h->http(h, &req, &resp);
        if (h->monotonic_ms(h) - sent_ms > EXO_SLOW_CALL_MS)
            h->log(h, NSC_LOG_WARNING, "%s %s: attempt %d took %lld ms (limit %u ms)", method,
                   sign_path, attempt + 1, (long long)(h->monotonic_ms(h) - sent_ms),
                   req.timeout_ms);
        if (rc < 0) {
            if (rc == NSC_ERR_AUTH)
                set_cerr(c,
                         "%s %s: %s refused: the server's TLS certificate failed "
                         "verification (not retried)",
                         method, sign_path, c->cfg.base_url);
            else
                set_cerr(c, "%s %s: no answer from %s (connection failed or timed out)", method,
                         sign_path, c->cfg.base_url);
            if (rc != NSC_ERR_TRANSIENT || !may_retry(retry, 0) || attempt >= c->max_retries)
                goto done;
            delay = exo_backoff_ms(c, attempt, NULL, 0);
        } else {
            c->last_status = resp.status;
            if (resp.status >= 200 && resp.status < 300) {
                json_error_t jerr;
                json_t *j = NULL;

                if (out != NULL) {
                    j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &jerr);
                    if (j == NULL)
                        set_cerr(c,
                                 "%s %s: HTTP %ld with a body that is not JSON: %s (line %d)",
                                 method, sign_path, resp.status, jerr.text, jerr.line);
                    *out = j;
                }
                h->http_release(h, &resp);
                rc = (out != NULL && *out == NULL) ? NSC_ERR_INTERNAL : NSC_OK;
                goto done;
            }
            if (resp.status >= 300 && resp.status < 400) {
                /* The host follows no redirect, and a signed call must not be replayed
                 * elsewhere; the Location is shown without its query, which may carry a
                 * token. */
                const char *loc = h->http_header(h, &resp, "Location");

                clean_location(c, loc, msg, sizeof(msg));
                set_cerr(c, "%s %s: HTTP %ld%s, redirected to %s (not followed)", method,
                         sign_path, resp.status, http_reason(resp.status),
                         msg[0] ? msg : "(no Location)");
                h->http_release(h, &resp);
                rc = NSC_ERR_INTERNAL;
                goto done;
            }
            {
                char *red =
                    redact_own(c, resp.body ? resp.body : "", resp.body ? resp.body_len : 0);

                if (red != NULL)
                    exo_error_text(red, strlen(red), msg, sizeof(msg));
                else
                    snprintf(msg, sizeof(msg), "(error text not shown: out of memory)");
                free(red);
            }
            rc = exo_status_map(resp.status, msg);
            set_cerr(c, "%s %s: HTTP %ld%s: %s", method, sign_path, resp.status,
                     http_reason(resp.status), msg);
            ra = h->http_header(h, &resp, "Retry-After");
            if (ra != NULL) {
                snprintf(ra_copy, sizeof(ra_copy), "%s", ra);
                ra = ra_copy;
            }
            h->http_release(h, &resp);
            if (!retriable_status(c->last_status) && !may_retry(retry, c->last_status))
                goto done;
            delay = exo_backoff_ms(c, attempt, ra, h->now_ms(h) / 1000);
            if (!may_retry(retry, c->last_status) || attempt >= c->max_retries ||
                waited_ms + delay > c->retry_budget_ms ||
                h->monotonic_ms(h) + delay + EXO_MIN_ATTEMPT_MS > deadline) {
                /* A server that asked for a pause gets it, from every later call too. */
                if (ra != NULL && delay > 0)
                    c->blocked_until_ms = h->monotonic_ms(h) + delay;
                goto done;
            }
        }
        if (waited_ms + delay > c->retry_budget_ms ||
            h->monotonic_ms(h) + delay + EXO_MIN_ATTEMPT_MS > deadline)
            goto done;
        h->log(h, NSC_LOG_WARNING, "%s; retrying in %lld ms (attempt %d of %d)", c->err,
               (long long)delay, attempt + 2, c->max_retries + 1);
        c->stats.n_retries++;
        c->sleep(c->sleep_ctx, delay);
        waited_ms += delay;
    }
done:
    if (h->monotonic_ms(h) - start_ms > EXO_SLOW_CALL_MS)
        h->log(h, NSC_LOG_WARNING, "%s %s: slow call: %lld ms in %llu attempt(s)%s%s", method,
               sign_path ? sign_path : path, (long long)(h->monotonic_ms(h) - start_ms),
               (unsigned long long)(attempt + 1), rc < 0 ? ", failed: " : "",
               rc < 0 ? c->err : "");
    free(url);
    free(sign_path);
    free(auth);
    return rc;
}
