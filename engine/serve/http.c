/* The HTTP side of engine/serve: --address parsing, the listening socket, and the
 * libmicrohttpd handler routing GET /metrics, /health-check and /explain. */
#include "config.h"

#include "serve/serve_int.h"

#include "log.h"

#include <nodescaler/backend.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Scrapers and probes are few; a flood of connections must not grow the process. */
#define SERVE_MAX_CONNECTIONS 32
/* A client that sends nothing for this long is dropped (seconds, as MHD counts). */
#define SERVE_CONNECTION_TIMEOUT_S 10
/* Requests are a line and a few headers: this bounds what one connection may hold. */
#define SERVE_CONNECTION_MEMORY (32 * 1024)

struct serve_http {
    struct MHD_Daemon *mhd;
    unsigned port;
};

int
serve_addr_parse(const char *text, struct serve_addr *out, char *err, size_t err_len)
{
    const char *colon, *port_text;
    char host[64];
    size_t host_len;
    char *end;
    unsigned long port;

    memset(out, 0, sizeof(*out));
    if (text == NULL || *text == '\0') {
        snprintf(err, err_len, "empty address: want :PORT, IPv4:PORT or [IPv6]:PORT");
        return NSC_ERR_INVALID;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':') {
            snprintf(err, err_len, "want [IPv6]:PORT");
            return NSC_ERR_INVALID;
        }
        host_len = (size_t)(close - text - 1);
        if (host_len == 0 || host_len >= sizeof(host)) {
            snprintf(err, err_len, "bad IPv6 address between the brackets");
            return NSC_ERR_INVALID;
        }
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        port_text = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(err, err_len, "no port: want :PORT, IPv4:PORT or [IPv6]:PORT");
            return NSC_ERR_INVALID;
        }
        host_len = (size_t)(colon - text);
        if (host_len >= sizeof(host) || memchr(text, ':', host_len) != NULL) {
            snprintf(err, err_len, "bad host: an IPv6 address goes in brackets, [::1]:PORT");
            return NSC_ERR_INVALID;
        }
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        port_text = colon + 1;
    }
    if (*port_text < '0' || *port_text > '9') {
        snprintf(err, err_len, "bad port: want a number in 0..65535");
        return NSC_ERR_INVALID;
    }
    errno = 0;
    port = strtoul(port_text, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535 || end - port_text > 5) {
        snprintf(err, err_len, "bad port: want a number in 0..65535");
        return NSC_ERR_INVALID;
    }
    if (text[0] == '[') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            snprintf(err, err_len, "\"%s\" is not an IPv6 address", host);
            return NSC_ERR_INVALID;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*a6);
    } else if (host_len == 0) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;

        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*a6);
        out->any = true;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;

        /* inet_pton takes only the dotted quad: no names, no octal or short forms. */
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            snprintf(err, err_len,
                     "\"%s\" is not an IPv4 address (names are not resolved; IPv6 goes in "
                     "brackets)",
                     host);
            return NSC_ERR_INVALID;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*a4);
    }
    return 0;
}

void
serve_addr_text(const struct serve_addr *a, unsigned port, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "";

    if (a->any) {
        snprintf(buf, len, ":%u", port);
    } else if (a->ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, host,
                  sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, port);
    }
}

/* The listening socket for a; -1 with err set. The wildcard takes IPv6 and IPv4 alike,
 * or IPv4 alone on a host without IPv6. */
static int
serve_socket(struct serve_addr *a, const char *address, char *err, size_t err_len)
{
    int fd, on = 1, off = 0, e;

    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 && a->any && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&a->ss;
        uint16_t port = ((struct sockaddr_in6 *)&a->ss)->sin6_port;

        memset(&a->ss, 0, sizeof(a->ss));
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        a4->sin_port = port;
        a->len = sizeof(*a4);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
        snprintf(err, err_len, "cannot listen on %s: %s", address, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (a->any && a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 64) < 0) {
        e = errno;
        close(fd);
        snprintf(err, err_len, "cannot listen on %s (--address): %s", address, strerror(e));
        return -1;
    }
    return fd;
}

static enum MHD_Result
serve_reply(struct MHD_Connection *c, unsigned code, const char *type, char *body)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (body == NULL) {
        static const char oom[] = "out of memory\n";

        r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)(uintptr_t)oom,
                                            MHD_RESPMEM_PERSISTENT);
        code = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "text/plain; charset=utf-8";
    } else {
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    }
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* A one-line body: text, then arg when given, then a newline. New string. */
static char *
serve_text(const char *text, const char *arg)
{
    size_t n = strlen(text) + (arg ? strlen(arg) : 0) + 2;
    char *t = malloc(n);

    if (t != NULL)
        snprintf(t, n, "%s%s\n", text, arg ? arg : "");
    return t;
}

/* /explain's query: pod and node once each, nothing else. */
struct serve_query {
    const char *pod, *node;
    char bad[160];
};

static enum MHD_Result
serve_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct serve_query *q = cls;
    const char **slot = NULL;

    (void)kind;
    if (q->bad[0] != '\0')
        return MHD_NO;
    if (strcmp(key, "pod") == 0)
        slot = &q->pod;
    else if (strcmp(key, "node") == 0)
        slot = &q->node;
    if (slot == NULL) {
        snprintf(q->bad, sizeof(q->bad), "unknown query parameter \"%.64s\": want pod or node",
                 key);
        return MHD_NO;
    }
    if (*slot != NULL || value == NULL || *value == '\0') {
        snprintf(q->bad, sizeof(q->bad), "query parameter %s: give it once, with a value", key);
        return MHD_NO;
    }
    *slot = value;
    return MHD_YES;
}

static enum MHD_Result
serve_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
             const char *version, const char *upload_data, size_t *upload_data_size,
             void **con_cls)
{
    struct serve *s = cls;
    char reason[512];
    int code;

    (void)version;
    (void)upload_data;
    (void)con_cls;
    *upload_data_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return serve_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                           serve_text("only GET and HEAD are allowed, not ", method));
    if (strcmp(url, "/metrics") == 0)
        return serve_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                           serve_render_metrics(s));
    if (strcmp(url, "/health-check") == 0) {
        code = serve_health(s, reason, sizeof(reason));
        return serve_reply(c, (unsigned)code, "text/plain; charset=utf-8",
                           serve_text(reason, NULL));
    }
    if (strcmp(url, "/explain") == 0) {
        struct serve_query q;
        char *body;

        memset(&q, 0, sizeof(q));
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, serve_query_arg, &q);
        if (q.bad[0] != '\0') {
            json_t *o = json_pack("{s:s, s:i}", "error", q.bad, "status", 400);

            body = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
            json_decref(o);
            return serve_reply(c, MHD_HTTP_BAD_REQUEST, "application/json", body);
        }
        body = serve_explain(s, q.pod, q.node, &code);
        return serve_reply(c, (unsigned)code, "application/json", body);
    }
    return serve_reply(
        c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
        serve_text("no such page: try /metrics, /health-check or /explain", NULL));
}

int
serve_listen(struct serve *s, const char *address, char *err, size_t err_len)
{
    struct serve_addr a;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    char why[256], shown[96];
    int fd, rc;

    rc = serve_addr_parse(address, &a, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, err_len, "invalid value \"%s\" for flag --address: %s", address, why);
        return rc;
    }
    fd = serve_socket(&a, address, err, err_len);
    if (fd < 0)
        return NSC_ERR_TRANSIENT;
    s->http = calloc(1, sizeof(*s->http));
    if (s->http == NULL) {
        close(fd);
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
        s->http->port =
            ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    /* One internal thread polls every connection: the loop never waits on a client. */
    s->http->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, serve_handle, s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)SERVE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)SERVE_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)SERVE_CONNECTION_MEMORY, MHD_OPTION_END);
    if (s->http->mhd == NULL) {
        close(fd);
        free(s->http);
        s->http = NULL;
        snprintf(err, err_len, "cannot serve on %s (--address): the HTTP server did not start",
                 address);
        return NSC_ERR_INTERNAL;
    }
    serve_addr_text(&a, s->http->port, shown, sizeof(shown));
    log_info("serving metrics, health and explain on %s", shown);
    return 0;
}

unsigned
serve_port(const struct serve *s)
{
    return s->http != NULL ? s->http->port : 0;
}

void
serve_free(struct serve *s)
{
    if (s == NULL)
        return;
    if (s->http != NULL) {
        MHD_stop_daemon(s->http->mhd);
        free(s->http);
        s->http = NULL;
    }
    serve_state_free(s);
}
