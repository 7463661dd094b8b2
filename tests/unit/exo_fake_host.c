/* The scripted host table of exo_fake_host.h. */
#include "config.h"

#include "exo_fake_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct fake_host *
fh_of(const struct nsc_host *h)
{
    return (struct fake_host *)h->core_private;
}

static void
fh_log(const struct nsc_host *h, enum nsc_log_level level, const char *fmt, ...)
{
    struct fake_host *fh = fh_of(h);
    size_t used = strlen(fh->log);
    va_list ap;

    (void)level;
    if (used + 2 >= sizeof(fh->log))
        return;
    va_start(ap, fmt);
    vsnprintf(fh->log + used, sizeof(fh->log) - used - 1, fmt, ap);
    va_end(ap);
    strcat(fh->log, "\n");
}

static const char *
fh_option(const struct nsc_host *h, const char *key, const char *env)
{
    struct fake_host *fh = fh_of(h);
    size_t i;

    (void)env; /* tests never read the real environment */
    for (i = 0; i < fh->n_opts; i++) {
        if (strcmp(fh->opts[i].key, key) == 0)
            return fh->opts[i].value;
    }
    return NULL;
}

static int
fh_redact(const struct nsc_host *h, const char *secret)
{
    struct fake_host *fh = fh_of(h);

    if (fh->n_redacted < 8)
        snprintf(fh->redacted[fh->n_redacted++], 256, "%s", secret);
    return NSC_OK;
}

static int
fh_http(const struct nsc_host *h, const struct nsc_http_request *req,
        struct nsc_http_response *resp)
{
    struct fake_host *fh = fh_of(h);
    struct fake_request *r;
    const struct fake_reply *rep;
    size_t i;

    if (fh->n_reqs < FAKE_MAX) {
        r = &fh->reqs[fh->n_reqs++];
        memset(r, 0, sizeof(*r));
        snprintf(r->method, sizeof(r->method), "%s", req->method);
        snprintf(r->url, sizeof(r->url), "%s", req->url);
        if (req->body)
            snprintf(r->body, sizeof(r->body), "%.*s", (int)req->body_len, req->body);
        for (i = 0; i < req->n_headers; i++) {
            if (strcasecmp(req->headers[i].name, "Authorization") == 0)
                snprintf(r->auth, sizeof(r->auth), "%s", req->headers[i].value);
            if (strcasecmp(req->headers[i].name, "Content-Type") == 0)
                snprintf(r->content_type, sizeof(r->content_type), "%s", req->headers[i].value);
        }
        r->at_ms = fh->mono_ms;
    }
    if (fh->http_takes_ms != 0) {
        int64_t t = fh->http_takes_ms > 0 ? fh->http_takes_ms : (int64_t)req->timeout_ms;

        fh->now_ms += t;
        fh->mono_ms += t;
    }
    if (fh->route != NULL) {
        fh->routed = fh->route(fh, req->method, req->url);
        rep = &fh->routed;
    } else if (fh->next_reply >= fh->n_replies) {
        return NSC_ERR_TRANSIENT; /* nothing scripted: like a refused connection */
    } else {
        rep = &fh->replies[fh->next_reply++];
    }
    if (rep->transport_error)
        return rep->transport_error;
    resp->status = rep->status;
    resp->body = rep->body ? rep->body : "";
    resp->body_len = strlen(resp->body);
    resp->host_private = (void *)(uintptr_t)rep;
    return NSC_OK;
}

static const char *
fh_http_header(const struct nsc_host *h, const struct nsc_http_response *resp, const char *name)
{
    const struct fake_reply *rep = (const struct fake_reply *)resp->host_private;

    (void)h;
    if (rep != NULL && strcasecmp(name, "Retry-After") == 0)
        return rep->retry_after;
    if (rep != NULL && strcasecmp(name, "Location") == 0)
        return rep->location;
    return NULL;
}

static void
fh_http_release(const struct nsc_host *h, struct nsc_http_response *resp)
{
    (void)h;
    resp->host_private = NULL;
}

static int64_t
fh_now(const struct nsc_host *h)
{
    return fh_of(h)->now_ms;
}

static int64_t
fh_mono(const struct nsc_host *h)
{
    return fh_of(h)->mono_ms;
}

void
fake_host_init(struct fake_host *fh, int64_t now_ms)
{
    memset(fh, 0, sizeof(*fh));
    fh->host.struct_size = (uint32_t)sizeof(fh->host);
    fh->host.abi_major = NSC_ABI_MAJOR;
    fh->host.abi_minor = NSC_ABI_MINOR;
    fh->host.core_private = fh;
    fh->host.log = fh_log;
    fh->host.option = fh_option;
    fh->host.redact = fh_redact;
    fh->host.http = fh_http;
    fh->host.http_header = fh_http_header;
    fh->host.http_release = fh_http_release;
    fh->host.now_ms = fh_now;
    fh->host.monotonic_ms = fh_mono;
    fh->now_ms = now_ms;
    fh->mono_ms = 1000;
}

void
fake_host_reply(struct fake_host *fh, long status, const char *body, const char *retry_after)
{
    struct fake_reply *r = &fh->replies[fh->n_replies++];

    r->status = status;
    r->body = body;
    r->retry_after = retry_after;
    r->transport_error = 0;
    r->location = NULL;
}

void
fake_host_fail(struct fake_host *fh, int status)
{
    struct fake_reply *r = &fh->replies[fh->n_replies++];

    memset(r, 0, sizeof(*r));
    r->transport_error = status;
}

void
fake_host_opt(struct fake_host *fh, const char *key, const char *value)
{
    fh->opts[fh->n_opts].key = key;
    fh->opts[fh->n_opts].value = value;
    fh->n_opts++;
}

void
fake_host_sleep(void *ctx, int64_t ms)
{
    struct fake_host *fh = ctx;

    fh->now_ms += ms;
    fh->mono_ms += ms;
}
