/* The host table lent to backends: logging under the backend's name, options, HTTP on the
 * core's libcurl (always a timeout, TLS verified, no redirects) and clocks. */
#include "config.h"

#include "plugin/plugin.h"

#include "log.h"
#include "slow.h"
#include "version.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Default whole-request timeout of backend.h. */
#define HOST_HTTP_DEFAULT_TIMEOUT_MS 30000u
/* Connecting should never take long; a cloud API that does not answer a SYN in 10 s is
 * down for this loop. */
#define HOST_HTTP_CONNECT_TIMEOUT_MS 10000u
/* No cloud API answer we read is near this; a bigger one is a bug or an attack. */
#define HOST_HTTP_MAX_BODY (64u * 1024u * 1024u)
#define HOST_HTTP_MAX_HEADERS 256u

struct host_env_value {
    char *name;
    char *value;
};

struct host_ctx {
    char *component;
    struct nsc_option *opts; /* keys and values owned */
    size_t n_opts;
    struct host_env_value *env; /* environment values handed out, kept alive */
    size_t n_env;
    const int64_t *clock_ms; /* fake clock, or NULL */
    CURL *curl;              /* one handle: its connection cache is reused */
    char *user_agent;
};

struct host_header {
    char *name;
    char *value;
};

/* What resp->host_private points to. */
struct host_response {
    char *body;
    size_t len;
    size_t cap;
    int too_big;
    struct host_header *headers;
    size_t n_headers;
};

static pthread_once_t host_curl_once = PTHREAD_ONCE_INIT;
static int host_curl_status;

static void
host_curl_init(void)
{
    host_curl_status = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : NSC_ERR_INTERNAL;
}

static struct host_ctx *
host_ctx_of(const struct nsc_host *host)
{
    return (struct host_ctx *)host->core_private;
}

static void host_log(const struct nsc_host *host, enum nsc_log_level level, const char *fmt,
                     ...) NSC_PRINTF(3, 4);

static void
host_log(const struct nsc_host *host, enum nsc_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < NSC_LOG_ERROR || level > NSC_LOG_DEBUG)
        level = NSC_LOG_ERROR;
    va_start(ap, fmt);
    /* log_vmsg redacts every registered secret from the formatted line. */
    log_vmsg(level, host_ctx_of(host)->component, fmt, ap);
    va_end(ap);
}

static const char *
host_option(const struct nsc_host *host, const char *key, const char *env_name)
{
    struct host_ctx *ctx = host_ctx_of(host);
    struct host_env_value *grown;
    const char *val;
    size_t i;

    if (key != NULL) {
        for (i = 0; i < ctx->n_opts; i++) {
            if (strcmp(ctx->opts[i].key, key) == 0)
                return ctx->opts[i].value;
        }
    }
    if (env_name == NULL || (val = getenv(env_name)) == NULL)
        return NULL;
    /* getenv's storage may change under setenv; hand out a copy that lives as long as
     * the host, and reuse it while the value stays the same. */
    for (i = 0; i < ctx->n_env; i++) {
        if (strcmp(ctx->env[i].name, env_name) == 0 && strcmp(ctx->env[i].value, val) == 0)
            return ctx->env[i].value;
    }
    grown = realloc(ctx->env, (ctx->n_env + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    ctx->env = grown;
    grown[ctx->n_env].name = strdup(env_name);
    grown[ctx->n_env].value = strdup(val);
    if (grown[ctx->n_env].name == NULL || grown[ctx->n_env].value == NULL) {
        free(grown[ctx->n_env].name);
        free(grown[ctx->n_env].value);
        return NULL;
    }
    return grown[ctx->n_env++].value;
}

static int
host_redact(const struct nsc_host *host, const char *secret)
{
    (void)host;
    return log_redact_add(secret);
}

static int64_t
host_clock_read(const struct nsc_host *host, clockid_t id)
{
    struct host_ctx *ctx = host_ctx_of(host);
    struct timespec ts;

    if (ctx->clock_ms != NULL)
        return *ctx->clock_ms;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
host_now_ms(const struct nsc_host *host)
{
    return host_clock_read(host, CLOCK_REALTIME);
}

static int64_t
host_monotonic_ms(const struct nsc_host *host)
{
    return host_clock_read(host, CLOCK_MONOTONIC);
}

static void
host_headers_clear(struct host_response *r)
{
    size_t i;

    for (i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->n_headers = 0;
}

static void
host_response_free(struct host_response *r)
{
    if (r == NULL)
        return;
    host_headers_clear(r);
    free(r->headers);
    free(r->body);
    free(r);
}

static size_t
host_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct host_response *r = userp;
    size_t n = size * nmemb;

    if (n > HOST_HTTP_MAX_BODY - r->len) {
        r->too_big = 1;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        char *grown;

        while (cap < r->len + n + 1)
            cap *= 2;
        grown = realloc(r->body, cap);
        if (grown == NULL)
            return 0;
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t
host_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct host_response *r = userp;
    size_t n = size * nmemb, name_len, start, end;
    struct host_header *grown;
    const char *colon;

    /* A new status line starts a new response (100 Continue, a proxy's CONNECT reply):
     * keep only the headers of the final one. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        host_headers_clear(r);
        return n;
    }
    colon = memchr(data, ':', n);
    if (colon == NULL || colon == data)
        return n;
    if (r->n_headers >= HOST_HTTP_MAX_HEADERS)
        return n;
    name_len = (size_t)(colon - data);
    start = name_len + 1;
    end = n;
    while (start < end && (data[start] == ' ' || data[start] == '\t'))
        start++;
    while (end > start && (data[end - 1] == '\r' || data[end - 1] == '\n' ||
                           data[end - 1] == ' ' || data[end - 1] == '\t'))
        end--;
    grown = realloc(r->headers, (r->n_headers + 1) * sizeof(*grown));
    if (grown == NULL)
        return 0;
    r->headers = grown;
    grown[r->n_headers].name = strndup(data, name_len);
    grown[r->n_headers].value = strndup(data + start, end - start);
    if (grown[r->n_headers].name == NULL || grown[r->n_headers].value == NULL) {
        free(grown[r->n_headers].name);
        free(grown[r->n_headers].value);
        return 0;
    }
    r->n_headers++;
    return n;
}

/* Header text must not smuggle a second header or a second request. */
static int
host_header_text_ok(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

static int
host_method_ok(const char *m)
{
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"};
    size_t i;

    for (i = 0; m != NULL && i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(m, methods[i]) == 0)
            return 1;
    }
    return 0;
}

/* The URL without its query string, for log lines: queries may carry signatures. */
static void
host_url_for_log(const char *url, char *buf, size_t len)
{
    size_t n = strcspn(url, "?#");

    snprintf(buf, len, "%.*s", (int)n, url);
}

static int
host_curl_status_map(CURLcode code)
{
    switch (code) {
    case CURLE_OUT_OF_MEMORY:
        return NSC_ERR_NOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return NSC_ERR_INVALID;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        /* The server could not prove who it is: asking again will not change that, and
         * a backend must not treat it as a passing fault. */
        return NSC_ERR_AUTH;
    default:
        /* Resolution, connection, TLS handshake, timeouts, resets: may pass. */
        return NSC_ERR_TRANSIENT;
    }
}

static int
host_http(const struct nsc_host *host, const struct nsc_http_request *req,
          struct nsc_http_response *resp)
{
    struct host_ctx *ctx = host_ctx_of(host);
    struct host_response *r = NULL;
    struct curl_slist *hdrs = NULL, *tmp;
    char errbuf[CURL_ERROR_SIZE] = "";
    char url_log[512];
    struct nsc_slow slow;
    uint32_t timeout_ms;
    CURLcode code;
    CURL *c = ctx->curl;
    long status = 0;
    size_t i;
    int rc = NSC_ERR_INVALID;

    if (req == NULL || resp == NULL ||
        req->struct_size < offsetof(struct nsc_http_request, insecure_skip_tls_verify) +
                               sizeof(req->insecure_skip_tls_verify)) {
        log_msg(NSC_LOG_ERROR, ctx->component,
                "http: request is NULL or its struct_size is "
                "too small");
        return NSC_ERR_INVALID;
    }
    if (!host_method_ok(req->method) || req->url == NULL ||
        (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0) ||
        (req->body == NULL && req->body_len != 0) || (req->headers == NULL && req->n_headers)) {
        log_msg(NSC_LOG_ERROR, ctx->component,
                "http: malformed request (method %s, url %s): need GET/PUT/POST/DELETE/"
                "PATCH/HEAD and an http:// or https:// URL",
                req->method ? req->method : "(null)", req->url ? "given" : "(null)");
        return NSC_ERR_INVALID;
    }
    host_url_for_log(req->url, url_log, sizeof(url_log));
    for (i = 0; i < req->n_headers; i++) {
        char line[4096];
        int n;

        if (!host_header_text_ok(req->headers[i].name) ||
            !host_header_text_ok(req->headers[i].value) || req->headers[i].name[0] == '\0' ||
            strchr(req->headers[i].name, ':') != NULL) {
            log_msg(NSC_LOG_ERROR, ctx->component,
                    "http %s %s: header %zu is malformed (empty, ':' in name, or CR/LF)",
                    req->method, url_log, i);
            goto out;
        }
        n = snprintf(line, sizeof(line), "%s: %s", req->headers[i].name, req->headers[i].value);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            log_msg(NSC_LOG_ERROR, ctx->component, "http %s %s: header '%s' is too long",
                    req->method, url_log, req->headers[i].name);
            goto out;
        }
        tmp = curl_slist_append(hdrs, line);
        if (tmp == NULL) {
            rc = NSC_ERR_NOMEM;
            goto out;
        }
        hdrs = tmp;
    }
    /* libcurl would otherwise send "Expect: 100-continue" on large bodies and wait. */
    tmp = curl_slist_append(hdrs, "Expect:");
    if (tmp == NULL) {
        rc = NSC_ERR_NOMEM;
        goto out;
    }
    hdrs = tmp;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = NSC_ERR_NOMEM;
        goto out;
    }
    timeout_ms = req->timeout_ms ? req->timeout_ms : HOST_HTTP_DEFAULT_TIMEOUT_MS;

    /* Reset drops the previous request's options but keeps the connection cache. */
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < HOST_HTTP_CONNECT_TIMEOUT_MS
                                ? timeout_ms
                                : HOST_HTTP_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(c, CURLOPT_USERAGENT, ctx->user_agent);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (req->insecure_skip_tls_verify) {
        log_msg(NSC_LOG_WARNING, ctx->component,
                "http %s %s: TLS verification is disabled by configuration "
                "(insecure_skip_tls_verify); the server's identity is not checked",
                req->method, url_log);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (req->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body != NULL || strcmp(req->method, "DELETE") != 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, host_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, host_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);

    nsc_slow_arm(c, &slow, ctx->component, req->method, url_log, (long)timeout_ms);
    code = curl_easy_perform(c);
    /* Detach the buffers this call owns before anything else can use the handle. */
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (code != CURLE_OK) {
        if (r->too_big) {
            log_msg(NSC_LOG_ERROR, ctx->component,
                    "http %s %s: response body larger than %u bytes; refused", req->method,
                    url_log, HOST_HTTP_MAX_BODY);
            rc = NSC_ERR_INTERNAL;
        } else {
            log_msg(NSC_LOG_WARNING, ctx->component, "http %s %s: %s", req->method, url_log,
                    errbuf[0] ? errbuf : curl_easy_strerror(code));
            rc = host_curl_status_map(code);
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (r->body == NULL) {
        r->body = calloc(1, 1);
        if (r->body == NULL) {
            rc = NSC_ERR_NOMEM;
            goto out;
        }
    }
    resp->status = status;
    resp->body = r->body;
    resp->body_len = r->len;
    resp->host_private = r;
    r = NULL;
    rc = NSC_OK;
out:
    host_response_free(r);
    curl_slist_free_all(hdrs);
    return rc;
}

static const char *
host_http_header(const struct nsc_host *host, const struct nsc_http_response *resp,
                 const char *name)
{
    const struct host_response *r;
    size_t i;

    (void)host;
    if (resp == NULL || name == NULL || resp->host_private == NULL)
        return NULL;
    r = resp->host_private;
    for (i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

static void
host_http_release(const struct nsc_host *host, struct nsc_http_response *resp)
{
    (void)host;
    if (resp == NULL)
        return;
    host_response_free(resp->host_private);
    memset(resp, 0, sizeof(*resp));
}

static void
host_ctx_free(struct host_ctx *ctx)
{
    size_t i;

    if (ctx == NULL)
        return;
    for (i = 0; i < ctx->n_opts; i++) {
        free((char *)(uintptr_t)ctx->opts[i].key);
        free((char *)(uintptr_t)ctx->opts[i].value);
    }
    free(ctx->opts);
    for (i = 0; i < ctx->n_env; i++) {
        free(ctx->env[i].name);
        free(ctx->env[i].value);
    }
    free(ctx->env);
    if (ctx->curl != NULL)
        curl_easy_cleanup(ctx->curl);
    free(ctx->user_agent);
    free(ctx->component);
    free(ctx);
}

struct nsc_host *
host_new(const char *component, const struct nsc_option *opts, size_t n_opts,
         const int64_t *clock_ms)
{
    struct nsc_host *host = NULL;
    struct host_ctx *ctx;
    char ua[128];
    size_t i;

    pthread_once(&host_curl_once, host_curl_init);
    if (host_curl_status < 0)
        return NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->clock_ms = clock_ms;
    ctx->component = strdup(component ? component : "backend");
    snprintf(ua, sizeof(ua), "nodescaler/%s", nsc_engine_version());
    ctx->user_agent = strdup(ua);
    ctx->curl = curl_easy_init();
    if (ctx->component == NULL || ctx->user_agent == NULL || ctx->curl == NULL)
        goto fail;
    if (n_opts > 0) {
        ctx->opts = calloc(n_opts, sizeof(*ctx->opts));
        if (ctx->opts == NULL)
            goto fail;
    }
    for (i = 0; i < n_opts; i++) {
        char *k = strdup(opts[i].key ? opts[i].key : "");
        char *v = strdup(opts[i].value ? opts[i].value : "");

        ctx->opts[i].key = k;
        ctx->opts[i].value = v;
        ctx->n_opts = i + 1;
        if (k == NULL || v == NULL)
            goto fail;
    }
    host = calloc(1, sizeof(*host));
    if (host == NULL)
        goto fail;
    host->struct_size = (uint32_t)sizeof(*host);
    host->abi_major = NSC_ABI_MAJOR;
    host->abi_minor = NSC_ABI_MINOR;
    host->core_private = ctx;
    host->log = host_log;
    host->option = host_option;
    host->redact = host_redact;
    host->http = host_http;
    host->http_header = host_http_header;
    host->http_release = host_http_release;
    host->now_ms = host_now_ms;
    host->monotonic_ms = host_monotonic_ms;
    return host;

fail:
    host_ctx_free(ctx);
    return NULL;
}

void
host_free(struct nsc_host *host)
{
    if (host == NULL)
        return;
    host_ctx_free(host_ctx_of(host));
    free(host);
}
