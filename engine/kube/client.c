/* The Kubernetes HTTP client: TLS and credentials on libcurl easy handles, the QPS/burst
 * token bucket, and one request function that turns every answer into a kube_resp. */
#include "config.h"

#include "kube/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "kube/exec.h"
#include "log.h"
#include "slow.h"
#include "version.h"

#define TOKEN_REREAD_MS 60000
#define EXEC_TIMEOUT_MS 30000
#define BODY_MAX (512u << 20)
#define STREAM_BUFFER (256L << 10)

struct kube_client {
    struct kube_config *cfg;
    struct kube_client_opts opts;
    const struct kube_clock *clock;
    struct kube_ratelimit rl;
    CURL *easy; /* reused by kube_request: keeps the connection alive */
    char user_agent[128];
    char *url_base;   /* scheme://host:port used in URLs (tls-server-name applied) */
    char *connect_to; /* CURLOPT_CONNECT_TO entry for tls-server-name, or NULL */
    struct curl_slist *connect_to_list; /* the same as curl wants it; lives with c */
    /* credentials */
    char *file_token;
    int64_t file_token_read_ms;
    int file_token_valid;
    struct kube_exec_cred exec_cred;
    int exec_valid;
};

/* ---- clocks ---------------------------------------------------------------------- */

static int64_t
real_now_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
real_sleep_ms(void *ctx, int64_t ms)
{
    struct timespec ts;

    (void)ctx;
    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const struct kube_clock real_clock = {real_now_ms, real_sleep_ms, NULL};

const struct kube_clock *
kube_clock_real(void)
{
    return &real_clock;
}

int64_t
kube_wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- rate limiting --------------------------------------------------------------- */

void
kube_ratelimit_init(struct kube_ratelimit *rl, double qps, int burst, int64_t now_ms)
{
    rl->qps = qps;
    rl->burst = burst < 1 ? 1 : burst;
    rl->tokens = rl->burst;
    rl->last_ms = now_ms;
}

int64_t
kube_ratelimit_take(struct kube_ratelimit *rl, int64_t now_ms)
{
    int64_t wait;

    if (rl->qps <= 0)
        return 0;
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rl->qps / 1000.0;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ms = now_ms;
    }
    rl->tokens -= 1.0;
    if (rl->tokens >= 0)
        return 0;
    /* Reserve the token now (the balance goes negative) so waiters queue fairly. */
    wait = (int64_t)(-rl->tokens * 1000.0 / rl->qps + 0.999);
    return wait < 1 ? 1 : wait;
}

void
kube_client_throttle(struct kube_client *c)
{
    int64_t wait = kube_ratelimit_take(&c->rl, c->clock->now_ms(c->clock->ctx));

    if (wait > 0)
        c->clock->sleep_ms(c->clock->ctx, wait);
}

/* ---- responses ------------------------------------------------------------------- */

void
kube_resp_clear(struct kube_resp *resp)
{
    json_decref(resp->obj);
    memset(resp, 0, sizeof(*resp));
}

int
kube_status_of_http(long s)
{
    if (s >= 200 && s < 300)
        return 0;
    switch (s) {
    case 404:
        return NSC_ERR_NOT_FOUND;
    case 401:
    case 403:
        return NSC_ERR_AUTH;
    case 400:
    case 405:
    case 406:
    case 413:
    case 415:
    case 422:
        return NSC_ERR_INVALID;
    default:
        return NSC_ERR_TRANSIENT;
    }
}

const char *
kube_http_reason(long s)
{
    /* Kubernetes' StatusReason names where the API server has one, else the HTTP phrase
     * (a redirect or a gateway error comes from something in front of it). */
    switch (s) {
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 305:
        return "Use Proxy";
    case 306:
        return "Switch Proxy";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "RequestEntityTooLarge";
    case 414:
        return "URI Too Long";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

const char *
kube_redirect_location(const char *loc, size_t loc_len, char *buf, size_t len)
{
    size_t n = 0, i, start = 0, auth_end, at = 0;
    const char *sep;
    char *raw;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (loc == NULL || loc_len == 0) {
        snprintf(buf, len, "(no Location)");
        return buf;
    }
    /* The query and the fragment may carry a token: never shown. */
    loc_len = strnlen(loc, loc_len);
    while (n < loc_len && loc[n] != '?' && loc[n] != '#')
        n++;
    raw = malloc(n + sizeof("[redacted]@") + 1);
    if (raw == NULL) {
        snprintf(buf, len, "(Location not shown)");
        return buf;
    }
    /* user:password@ in the authority is a credential too. */
    for (sep = loc; sep + 3 <= loc + n; sep++) {
        if (memcmp(sep, "://", 3) == 0) {
            start = (size_t)(sep - loc) + 3;
            break;
        }
    }
    auth_end = start;
    while (auth_end < n && loc[auth_end] != '/')
        auth_end++;
    for (i = start; i < auth_end; i++) {
        if (loc[i] == '@')
            at = i + 1;
    }
    if (at > 0) {
        memcpy(raw, loc, start);
        memcpy(raw + start, "[redacted]@", 11);
        memcpy(raw + start + 11, loc + at, n - at);
        n = start + 11 + (n - at);
    } else {
        memcpy(raw, loc, n);
    }
    raw[n] = '\0';
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)raw[i];

        if (ch < 0x20 || ch == 0x7f)
            raw[i] = ' ';
    }
    while (n > 0 && raw[n - 1] == ' ')
        raw[--n] = '\0';
    log_redact_copy(buf, len, raw, n);
    free(raw);
    if (buf[0] == '\0')
        snprintf(buf, len, "(no Location)");
    return buf;
}

const char *
kube_resp_describe(const struct kube_resp *resp, char *buf, size_t len)
{
    if (resp->status == 0)
        log_redact_format(buf, len, "%s %s: no response: %s", resp->method, resp->path,
                          resp->message);
    else
        /* a redirect reads "302 Found, redirected to URL" */
        log_redact_format(buf, len, "%s %s: %ld %s%s%s", resp->method, resp->path, resp->status,
                          resp->reason[0] ? resp->reason : kube_http_reason(resp->status),
                          !resp->message[0]                           ? ""
                          : resp->status >= 300 && resp->status < 400 ? ", "
                                                                      : ": ",
                          resp->message);
    return buf;
}

const char *
kube_query_escape(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s && o + 4 < len; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            buf[o++] = (char)ch;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[ch >> 4];
            buf[o++] = hex[ch & 15];
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- construction ---------------------------------------------------------------- */

/* With tls-server-name, curl must verify and send SNI for that name while connecting to
 * the server's address: put the name in the URL and map it with CONNECT_TO. */
static int
setup_urls(struct kube_client *c, char *err, size_t err_len)
{
    CURLU *u = NULL;
    char *host = NULL, *port = NULL, *scheme = NULL;
    int rc = 0;

    if (c->cfg->tls_server_name == NULL) {
        c->url_base = strdup(c->cfg->server);
        return c->url_base ? 0 : NSC_ERR_NOMEM;
    }
    u = curl_url();
    if (u == NULL)
        return NSC_ERR_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, c->cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = kube_errf(err, err_len, "%s: server \"%s\" is not a valid URL", c->cfg->source,
                       c->cfg->server);
        goto done;
    }
    c->url_base = malloc(strlen(scheme) + strlen(c->cfg->tls_server_name) + strlen(port) + 8);
    c->connect_to =
        malloc(strlen(c->cfg->tls_server_name) + strlen(host) + 2 * strlen(port) + 8);
    if (c->url_base == NULL || c->connect_to == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    sprintf(c->url_base, "%s://%s:%s", scheme, c->cfg->tls_server_name, port);
    sprintf(c->connect_to, "%s:%s:%s:%s", c->cfg->tls_server_name, port, host, port);
    c->connect_to_list = curl_slist_append(NULL, c->connect_to);
    if (c->connect_to_list == NULL)
        rc = NSC_ERR_NOMEM;
done:
    curl_free(host);
    curl_free(port);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

int
kube_client_new(struct kube_config *cfg, const struct kube_client_opts *opts,
                struct kube_client **out, char *err, size_t err_len)
{
    struct kube_client *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (c == NULL) {
        kube_config_free(cfg);
        return NSC_ERR_NOMEM;
    }
    c->cfg = cfg;
    if (opts)
        c->opts = *opts;
    if (c->opts.qps == 0)
        c->opts.qps = 5;
    if (c->opts.burst <= 0)
        c->opts.burst = 10;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = 30000;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = 5000;
    if (c->opts.stall_timeout_ms <= 0)
        c->opts.stall_timeout_ms = 30000;
    if (c->opts.slow_ms <= 0)
        c->opts.slow_ms = 5000;
    /* A deadline of hours is no deadline: a hung server would stall the loop that long. */
    if (c->opts.timeout_ms > 3600000 || c->opts.connect_timeout_ms > 600000 ||
        c->opts.stall_timeout_ms > 600000) {
        rc = kube_errf(err, err_len, "kube client: %s %ld ms is out of range (at most %ld ms)",
                       c->opts.timeout_ms > 3600000          ? "request timeout"
                       : c->opts.connect_timeout_ms > 600000 ? "connect timeout"
                                                             : "stall timeout",
                       c->opts.timeout_ms > 3600000          ? c->opts.timeout_ms
                       : c->opts.connect_timeout_ms > 600000 ? c->opts.connect_timeout_ms
                                                             : c->opts.stall_timeout_ms,
                       c->opts.timeout_ms > 3600000 ? 3600000L : 600000L);
        kube_client_free(c);
        return rc;
    }
    if (c->opts.max_retries == 0)
        c->opts.max_retries = 3;
    c->clock = c->opts.clock ? c->opts.clock : kube_clock_real();
    snprintf(c->user_agent, sizeof(c->user_agent), "%s",
             c->opts.user_agent ? c->opts.user_agent : "");
    if (c->user_agent[0] == '\0')
        snprintf(c->user_agent, sizeof(c->user_agent), "nodescaler/%s", nsc_engine_version());
    kube_ratelimit_init(&c->rl, c->opts.qps, c->opts.burst, c->clock->now_ms(c->clock->ctx));
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        kube_client_free(c);
        return NSC_ERR_NOMEM;
    }
    rc = setup_urls(c, err, err_len);
    if (rc) {
        kube_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void
kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->file_token) {
        memset(c->file_token, 0, strlen(c->file_token));
        free(c->file_token);
    }
    kube_exec_cred_clear(&c->exec_cred);
    free(c->url_base);
    free(c->connect_to);
    curl_slist_free_all(c->connect_to_list);
    kube_config_free(c->cfg);
    free(c);
}

const struct kube_config *
kube_client_config(const struct kube_client *c)
{
    return c->cfg;
}

const struct kube_clock *
kube_client_clock(const struct kube_client *c)
{
    return c->clock;
}

/* ---- credentials ----------------------------------------------------------------- */

/* Re-read the token file when the copy is older than a minute or on demand (401): bound
 * service-account tokens are rotated by the kubelet. A failed re-read keeps the old
 * token, which may still be valid. */
static int
refresh_file_token(struct kube_client *c, int force, char *err, size_t err_len)
{
    int64_t now = c->clock->now_ms(c->clock->ctx);
    char *tok = NULL;
    size_t n;
    int rc;

    if (c->file_token_valid && !force && now - c->file_token_read_ms < TOKEN_REREAD_MS)
        return 0;
    rc = kube_read_file(c->cfg->token_file, 1u << 20, &tok, &n);
    if (rc) {
        if (rc == NSC_ERR_NOMEM)
            return rc;
        if (c->file_token_valid) {
            log_msg(NSC_LOG_WARNING, "kube",
                    "token file %s: cannot re-read (%s); keeping the "
                    "previous token",
                    c->cfg->token_file, kube_strerror(errno));
            c->file_token_read_ms = now;
            return 0;
        }
        return kube_errf(err, err_len, "%s: token file %s: %s", c->cfg->source,
                         c->cfg->token_file,
                         rc == NSC_ERR_NOT_FOUND ? kube_strerror(errno) : "too large");
    }
    while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        tok[--n] = '\0';
    if (n == 0) {
        free(tok);
        if (c->file_token_valid)
            return 0;
        return kube_errf(err, err_len, "%s: token file %s: empty", c->cfg->source,
                         c->cfg->token_file);
    }
    log_redact_add(tok);
    if (c->file_token) {
        memset(c->file_token, 0, strlen(c->file_token));
        free(c->file_token);
    }
    c->file_token = tok;
    c->file_token_read_ms = now;
    c->file_token_valid = 1;
    return 0;
}

static int
refresh_exec(struct kube_client *c, int force, char *err, size_t err_len)
{
    int64_t wall = kube_wall_ms();
    int rc;

    /* Renew a little before expiry so a request is not sent with a dying token. */
    if (c->exec_valid && !force &&
        (c->exec_cred.expiry_ms == 0 || wall + 10000 < c->exec_cred.expiry_ms))
        return 0;
    kube_exec_cred_clear(&c->exec_cred);
    c->exec_valid = 0;
    rc = kube_exec_run(c->cfg, EXEC_TIMEOUT_MS, &c->exec_cred, err, err_len);
    if (rc == 0)
        c->exec_valid = 1;
    return rc;
}

/* The bearer token to send (borrowed) or NULL. Precedence as in client-go: a static
 * token, then tokenFile, then the exec plugin's token. */
static int
current_token(struct kube_client *c, int force, const char **tok, char *err, size_t err_len)
{
    int rc;

    *tok = NULL;
    if (c->cfg->token) {
        *tok = c->cfg->token;
        return 0;
    }
    if (c->cfg->token_file) {
        if ((rc = refresh_file_token(c, force, err, err_len)))
            return rc;
        *tok = c->file_token;
        return 0;
    }
    if (c->cfg->exec) {
        if ((rc = refresh_exec(c, force, err, err_len)))
            return rc;
        *tok = c->exec_cred.token;
    }
    return 0;
}

int
kube_client_setup_easy(struct kube_client *c, CURL *easy, const char *path,
                       struct curl_slist **headers, int force_refresh, char *err,
                       size_t err_len)
{
    const struct kube_config *cfg = c->cfg;
    struct curl_slist *h = NULL, *t;
    const char *tok = NULL;
    char *url, *auth = NULL;
    int rc;

    *headers = NULL;
    rc = current_token(c, force_refresh, &tok, err, err_len);
    if (rc)
        return rc;
    url = malloc(strlen(c->url_base) + strlen(path) + 1);
    if (url == NULL)
        return NSC_ERR_NOMEM;
    sprintf(url, "%s%s", c->url_base, path);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A redirect would carry the bearer token, or replay a write, somewhere else: it is
     * reported, never followed. */
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->connect_to_list)
        curl_easy_setopt(easy, CURLOPT_CONNECT_TO, c->connect_to_list);
    if (cfg->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (cfg->ca_data) {
        struct curl_blob b = {cfg->ca_data, cfg->ca_data_len, CURL_BLOB_COPY};

        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &b);
    } else if (cfg->ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (c->exec_valid && c->exec_cred.cert_pem) {
        struct curl_blob cb = {c->exec_cred.cert_pem, strlen(c->exec_cred.cert_pem),
                               CURL_BLOB_COPY};
        struct curl_blob kb = {c->exec_cred.key_pem, strlen(c->exec_cred.key_pem),
                               CURL_BLOB_COPY};

        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (cfg->cert_data) {
        struct curl_blob cb = {cfg->cert_data, cfg->cert_data_len, CURL_BLOB_COPY};
        struct curl_blob kb = {cfg->key_data, cfg->key_data_len, CURL_BLOB_COPY};

        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (cfg->cert_file) {
        curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->cert_file);
        curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->key_file);
    }
    t = curl_slist_append(h, "Accept: application/json");
    if (t == NULL)
        goto nomem;
    h = t;
    if (tok) {
        auth = malloc(strlen(tok) + 32);
        if (auth == NULL)
            goto nomem;
        sprintf(auth, "Authorization: Bearer %s", tok);
        t = curl_slist_append(h, auth);
        memset(auth, 0, strlen(auth));
        free(auth);
        if (t == NULL)
            goto nomem;
        h = t;
    }
    *headers = h;
    return 0;
nomem:
    curl_slist_free_all(h);
    return NSC_ERR_NOMEM;
}

/* ---- requests -------------------------------------------------------------------- */

struct body_buf {
    char *data;
    size_t len, cap;
    int too_big;
    /* streaming: a 2xx body goes to sink instead of data */
    CURL *easy;
    kube_sink_fn *sink;
    void *sink_ud;
    long status;
    int sink_rc;
};

static size_t
body_write(char *ptr, size_t size, size_t n, void *ud)
{
    struct body_buf *b = ud;
    size_t add = size * n;

    if (b->sink) {
        if (b->status == 0)
            curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &b->status);
        if (b->status >= 200 && b->status < 300) {
            int r = b->sink(b->sink_ud, ptr, add);

            if (r) {
                b->sink_rc = r;
                return 0;
            }
            return add;
        }
    }
    if (b->len + add > BODY_MAX) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        char *g;

        while (cap < b->len + add + 1)
            cap *= 2;
        g = realloc(b->data, cap);
        if (g == NULL)
            return 0;
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

static size_t
header_cb(char *ptr, size_t size, size_t n, void *ud)
{
    struct kube_resp *resp = ud;
    size_t len = size * n;

    if (len > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0)
        resp->retry_after_s = strtol(ptr + 12, NULL, 10);
    else if (len > 9 && strncasecmp(ptr, "Location:", 9) == 0) {
        size_t skip = 9;

        while (skip < len && (ptr[skip] == ' ' || ptr[skip] == '\t'))
            skip++;
        kube_redirect_location(ptr + skip, len - skip, resp->location, sizeof(resp->location));
    }
    return len;
}

static void
fill_status_fields(struct kube_resp *resp)
{
    json_t *o = resp->obj;
    const char *kind = json_string_value(json_object_get(o, "kind"));

    if (kind && strcmp(kind, "Status") == 0) {
        const char *r = json_string_value(json_object_get(o, "reason"));
        const char *m = json_string_value(json_object_get(o, "message"));
        json_t *d = json_object_get(o, "details");

        if (r)
            log_redact_copy(resp->reason, sizeof(resp->reason), r, strlen(r));
        if (m)
            log_redact_copy(resp->message, sizeof(resp->message), m, strlen(m));
        if (resp->retry_after_s == 0 &&
            json_is_integer(json_object_get(d, "retryAfterSeconds")))
            resp->retry_after_s =
                (long)json_integer_value(json_object_get(d, "retryAfterSeconds"));
    }
    if (resp->status >= 300 && resp->status < 400) {
        snprintf(resp->reason, sizeof(resp->reason), "%s", kube_http_reason(resp->status));
        snprintf(resp->message, sizeof(resp->message), "redirected to %s",
                 resp->location[0] ? resp->location : "(no Location)");
    }
    if (resp->reason[0] == '\0' && resp->status >= 300)
        snprintf(resp->reason, sizeof(resp->reason), "%s", kube_http_reason(resp->status));
    log_redact_in_place(resp->message, sizeof(resp->message));
}

/* Every request at --v=4; a slow or failed one at the default level, so that a server
 * that stopped answering shows before the deadline is counted against the loop. */
static void
request_log(struct kube_client *c, const char *method, const char *path, CURLcode cc,
            int64_t took_ms, long timeout_ms)
{
    long status = 0;

    if (cc == CURLE_OPERATION_TIMEDOUT)
        log_msg(NSC_LOG_WARNING, "kube", "%s %.200s: timed out after %lld ms (deadline %ld ms)",
                method, path, (long long)took_ms, timeout_ms);
    else if (took_ms >= c->opts.slow_ms)
        log_msg(NSC_LOG_WARNING, "kube", "%s %.200s: slow: %lld ms%s%s", method, path,
                (long long)took_ms, cc == CURLE_OK ? "" : ", then ",
                cc == CURLE_OK ? "" : curl_easy_strerror(cc));
    else if (log_enabled(NSC_LOG_DEBUG)) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        log_msg(NSC_LOG_DEBUG, "kube", "%s %.200s: %ld in %lld ms%s%s", method, path, status,
                (long long)took_ms, cc == CURLE_OK ? "" : ", ",
                cc == CURLE_OK ? "" : curl_easy_strerror(cc));
    }
}

static int
request_once(struct kube_client *c, const char *method, const char *path, const char *body,
             const char *content_type, long timeout_ms, int force_refresh, int throttle,
             kube_sink_fn *sink, void *sink_ud, struct kube_resp *resp)
{
    struct body_buf bb = {0};
    struct curl_slist *h = NULL, *t;
    char err[512] = "";
    char cerr[CURL_ERROR_SIZE];
    char ctype[96];
    int64_t t0, took_ms;
    struct nsc_slow slow;
    CURLcode cc;
    int rc;

    json_decref(resp->obj);
    resp->obj = NULL;
    resp->status = 0;
    resp->reason[0] = resp->message[0] = resp->location[0] = '\0';
    resp->retry_after_s = 0;
    curl_easy_reset(c->easy);
    rc = kube_client_setup_easy(c, c->easy, path, &h, force_refresh, err, sizeof(err));
    if (rc) {
        snprintf(resp->reason, sizeof(resp->reason), "Credentials");
        snprintf(resp->message, sizeof(resp->message), "%s", err);
        return rc;
    }
    if (body) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        t = curl_slist_append(h, ctype);
        if (t == NULL) {
            curl_slist_free_all(h);
            return NSC_ERR_NOMEM;
        }
        h = t;
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (strcmp(method, "GET") != 0 && !(strcmp(method, "POST") == 0 && body))
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0 && body == NULL) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &bb);
    if (sink) {
        bb.easy = c->easy;
        bb.sink = sink;
        bb.sink_ud = sink_ud;
        /* fewer, larger writes: a list page is a megabyte or more */
        curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE, STREAM_BUFFER);
    }
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, resp);
    /* less than a byte a second for the stall time: also bounds the wait for the first
     * byte of a list, whose own deadline is long */
    curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME, (c->opts.stall_timeout_ms + 999) / 1000);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, cerr);
    cerr[0] = '\0';
    if (throttle)
        kube_client_throttle(c);
    /* A list streams for long by design: its stall limit speaks for it. */
    if (!sink)
        nsc_slow_arm(c->easy, &slow, "kube", method, path, timeout_ms);
    t0 = c->clock->now_ms(c->clock->ctx);
    cc = curl_easy_perform(c->easy);
    took_ms = c->clock->now_ms(c->clock->ctx) - t0;
    curl_easy_setopt(c->easy, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c->easy, CURLOPT_XFERINFODATA, NULL);
    curl_slist_free_all(h);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    request_log(c, method, path, cc, took_ms, timeout_ms);
    if (bb.sink_rc) {
        /* the consumer stopped the body: it says why */
        resp->status = bb.status;
        free(bb.data);
        return bb.sink_rc;
    }
    if (cc != CURLE_OK) {
        snprintf(resp->reason, sizeof(resp->reason), "%s",
                 cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "Transport");
        if (cc == CURLE_OPERATION_TIMEDOUT)
            snprintf(resp->message, sizeof(resp->message),
                     "timed out after %lld ms (connect timeout %ld ms, request timeout %ld "
                     "ms, stall timeout %ld ms)%s%s",
                     (long long)took_ms, c->opts.connect_timeout_ms, timeout_ms,
                     c->opts.stall_timeout_ms, cerr[0] ? ": " : "", cerr);
        else
            snprintf(resp->message, sizeof(resp->message), "%s%s%s%s", curl_easy_strerror(cc),
                     cerr[0] ? ": " : "", cerr, bb.too_big ? " (body too large)" : "");
        log_redact_in_place(resp->message, sizeof(resp->message));
        free(bb.data);
        return NSC_ERR_TRANSIENT;
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    if (sink && resp->status >= 200 && resp->status < 300) {
        free(bb.data);
        return 0;
    }
    if (bb.len) {
        json_error_t jerr;

        resp->obj = json_loadb(bb.data, bb.len, 0, &jerr);
        if (resp->obj == NULL && resp->status >= 200 && resp->status < 300) {
            snprintf(resp->reason, sizeof(resp->reason), "BadResponse");
            snprintf(resp->message, sizeof(resp->message), "response is not JSON: %s",
                     jerr.text);
            free(bb.data);
            return NSC_ERR_INTERNAL;
        }
        if (resp->obj == NULL) {
            /* a proxy's HTML error page: keep a short excerpt for the message, redacted
             * before it is cut */
            char excerpt[201];

            log_redact_copy(excerpt, sizeof(excerpt), bb.data, bb.len);
            snprintf(resp->message, sizeof(resp->message), "%s", excerpt);
        }
    }
    free(bb.data);
    fill_status_fields(resp);
    return kube_status_of_http(resp->status);
}

static int
request(struct kube_client *c, const char *method, const char *path, const json_t *body,
        const char *content_type, long timeout_ms, int throttle, kube_sink_fn *sink,
        void *sink_ud, struct kube_resp *resp)
{
    char *text = NULL;
    int rc, attempt = 0, refreshed = 0;

    memset(resp, 0, sizeof(*resp));
    snprintf(resp->method, sizeof(resp->method), "%s", method);
    snprintf(resp->path, sizeof(resp->path), "%.200s", path);
    if (body && (text = json_dumps(body, JSON_COMPACT)) == NULL)
        return NSC_ERR_NOMEM;
    if (timeout_ms <= 0)
        timeout_ms = c->opts.timeout_ms;
    for (;;) {
        rc = request_once(c, method, path, text, content_type, timeout_ms, 0, throttle, sink,
                          sink_ud, resp);
        if (resp->status == 401 && !refreshed &&
            (c->cfg->token_file || (c->cfg->exec && c->cfg->token == NULL))) {
            /* the token may have rotated under us: re-read or re-run once */
            refreshed = 1;
            rc = request_once(c, method, path, text, content_type, timeout_ms, 1, throttle,
                              sink, sink_ud, resp);
        }
        if (strcmp(method, "GET") == 0 && attempt < c->opts.max_retries &&
            (resp->status == 429 || resp->status >= 500) && resp->retry_after_s > 0 &&
            resp->retry_after_s <= 10) {
            attempt++;
            log_msg(NSC_LOG_WARNING, "kube", "%s %s: %ld, retrying after %ld s", method,
                    resp->path, resp->status, resp->retry_after_s);
            c->clock->sleep_ms(c->clock->ctx, resp->retry_after_s * 1000);
            continue;
        }
        break;
    }
    free(text);
    return rc;
}

int
kube_request(struct kube_client *c, const char *method, const char *path, const json_t *body,
             const char *content_type, long timeout_ms, struct kube_resp *resp)
{
    return request(c, method, path, body, content_type, timeout_ms, 1, NULL, NULL, resp);
}

int
kube_request_stream(struct kube_client *c, const char *path, long timeout_ms,
                    kube_sink_fn *sink, void *ud, struct kube_resp *resp)
{
    return request(c, "GET", path, NULL, NULL, timeout_ms, 1, sink, ud, resp);
}

int
kube_request_stream_page(struct kube_client *c, const char *path, long timeout_ms,
                         kube_sink_fn *sink, void *ud, struct kube_resp *resp)
{
    return request(c, "GET", path, NULL, NULL, timeout_ms, 0, sink, ud, resp);
}
