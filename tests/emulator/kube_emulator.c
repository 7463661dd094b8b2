/* kube-emulator: a kube-apiserver stand-in on libmicrohttpd for tests and the demo. It
 * keeps the wire protocol nodescaler uses (resourceVersion, paginated lists, chunked
 * watches with bookmarks, 409/410/422, eviction with PDB checks, leases with MicroTime,
 * events, ConfigMaps, bearer tokens with an unbound user for 403) and has /admin
 * endpoints to inject faults. Where it differs from a real kube-apiserver, it is wrong. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>

#include "kube_store.h"

#define BODY_MAX (64u << 20)
#define MAX_FAULTS 32

struct fault {
    char method[8]; /* "" = any */
    char prefix[256];
    char agent[64]; /* User-Agent prefix, "" = any: fail one client and not the others */
    int watch;      /* -1 any, 0 not a watch, 1 only watches */
    int status;     /* 0: only delay */
    long delay_ms;
    long retry_after;
    int count; /* remaining; -1 forever */
};

static struct kst_store store;
static struct fault faults[MAX_FAULTS];
static size_t n_faults;
static const char *admin_token, *unbound_token;
static int version_minor = 26;
static long bookmark_ms = 60000;
static volatile sig_atomic_t stop_flag;

struct req_ctx {
    char *body;
    size_t len;
    int too_big;
};

/* ---- small helpers ---------------------------------------------------------------- */

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
str_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL)
        abort();
    return s;
}

struct blob {
    char *data;
    size_t len;
};

static ssize_t
blob_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct blob *b = cls;
    size_t n;

    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = b->len - (size_t)pos < max ? b->len - (size_t)pos : max;
    memcpy(buf, b->data + pos, n);
    return (ssize_t)n;
}

static void
blob_free(void *cls)
{
    struct blob *b = cls;

    free(b->data);
    free(b);
}

/* Large bodies go through a reader: libmicrohttpd's buffer responses were measured
 * moving the unsent remainder after every write, quadratic in the list size. */
static struct MHD_Response *
response_for(char *text)
{
    size_t len = strlen(text);
    struct blob *b;

    if (len < 65536)
        return MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    b = malloc(sizeof(*b));
    if (b == NULL)
        abort();
    b->data = text;
    b->len = len;
    return MHD_create_response_from_callback(len, 1u << 20, blob_read, b, blob_free);
}

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned code, char *text, long retry_after)
{
    struct MHD_Response *r = response_for(text);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after > 0) {
        char ra[24];

        snprintf(ra, sizeof(ra), "%ld", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned code, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    return send_text(c, code, text, 0);
}

/* A Status object as the real server words it. */
static enum MHD_Result
send_status(struct MHD_Connection *c, unsigned code, const char *reason, const char *message,
            json_t *details, long retry_after)
{
    json_t *st =
        json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", code < 300 ? "Success" : "Failure", "message", message,
                  "reason", reason, "code", (int)code);

    if (details) {
        if (retry_after > 0)
            json_object_set_new(details, "retryAfterSeconds", json_integer(retry_after));
        json_object_set_new(st, "details", details);
    }
    if (code < 300) {
        json_object_del(st, "reason");
        json_object_del(st, "message");
    }
    {
        char *text = json_dumps(st, JSON_COMPACT);

        json_decref(st);
        return send_text(c, code, text, retry_after);
    }
}

static const char *
qarg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int
is_true_arg(const char *v)
{
    return v && (!strcmp(v, "1") || !strcmp(v, "true"));
}

/* ---- routing ------------------------------------------------------------------------ */

struct route {
    int res;          /* -1: not a resource path */
    char version[32]; /* "v1", "v1beta1" */
    char ns[254];     /* "" for all namespaces / cluster scope */
    char name[254];   /* "" for the collection */
    char sub[32];     /* "", "status", "eviction", "binding" */
    char api_version[80];
};

/* Parse /api/v1/... or /apis/GROUP/VERSION/... Returns 0 or -1 (404). */
static int
route_parse(const char *url, struct route *rt)
{
    char buf[1024], *parts[12], *save = NULL, *p;
    int n = 0, i = 0, r;
    const char *group = "";

    memset(rt, 0, sizeof(*rt));
    rt->res = -1;
    if (strlen(url) >= sizeof(buf))
        return -1;
    strcpy(buf, url);
    for (p = strtok_r(buf, "/", &save); p && n < 12; p = strtok_r(NULL, "/", &save))
        parts[n++] = p;
    if (n >= 2 && !strcmp(parts[0], "api") && !strcmp(parts[1], "v1")) {
        snprintf(rt->version, sizeof(rt->version), "v1");
        i = 2;
    } else if (n >= 3 && !strcmp(parts[0], "apis")) {
        group = parts[1];
        snprintf(rt->version, sizeof(rt->version), "%s", parts[2]);
        i = 3;
    } else {
        return -1;
    }
    if (i < n && !strcmp(parts[i], "namespaces") && i + 2 < n) {
        snprintf(rt->ns, sizeof(rt->ns), "%s", parts[i + 1]);
        i += 2;
    }
    if (i >= n)
        return -1;
    for (r = 0; r < KST_N_RES; r++)
        if (!strcmp(kst_res_infos[r].plural, parts[i]) &&
            !strcmp(kst_res_infos[r].group, group))
            break;
    if (r == KST_N_RES)
        return -1;
    /* which versions each group serves, as a 1.20 or a current server would */
    if (group[0] == '\0' && strcmp(rt->version, "v1") != 0)
        return -1;
    if (!strcmp(group, "policy") && !(strcmp(rt->version, "v1beta1") == 0 ||
                                      (strcmp(rt->version, "v1") == 0 && version_minor >= 21)))
        return -1;
    if (!strcmp(group, "coordination.k8s.io") && strcmp(rt->version, "v1") != 0)
        return -1;
    rt->res = r;
    if (i + 1 < n)
        snprintf(rt->name, sizeof(rt->name), "%s", parts[i + 1]);
    if (i + 2 < n)
        snprintf(rt->sub, sizeof(rt->sub), "%s", parts[i + 2]);
    if (i + 3 < n)
        return -1;
    if (rt->ns[0] && !kst_res_infos[r].namespaced)
        return -1;
    if (rt->sub[0] && strcmp(rt->sub, "status") &&
        !(r == KST_PODS && (!strcmp(rt->sub, "eviction") || !strcmp(rt->sub, "binding"))))
        return -1;
    snprintf(rt->api_version, sizeof(rt->api_version), "%s%s%s", group, group[0] ? "/" : "",
             rt->version);
    return 0;
}

/* ---- field and label selectors ------------------------------------------------------ */

struct fsel_term {
    char field[40];
    char value[254];
    int neg;
};

struct selector {
    struct fsel_term f[8];
    int n_f;
    struct fsel_term l[8]; /* label terms: value "" + neg=2 means exists, 3 not exists */
    int n_l;
};

static int
parse_terms(const char *text, struct fsel_term *t, int *n, int labels, char *err,
            size_t err_len)
{
    char buf[2048], *save = NULL, *p;

    *n = 0;
    if (text == NULL || *text == '\0')
        return 0;
    snprintf(buf, sizeof(buf), "%s", text);
    for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char *op;
        struct fsel_term *x = &t[*n];

        if (*n >= 8) {
            snprintf(err, err_len, "too many selector terms");
            return -1;
        }
        memset(x, 0, sizeof(*x));
        if ((op = strstr(p, "!=")) != NULL) {
            x->neg = 1;
            *op = '\0';
            snprintf(x->value, sizeof(x->value), "%s", op + 2);
        } else if ((op = strstr(p, "==")) != NULL) {
            *op = '\0';
            snprintf(x->value, sizeof(x->value), "%s", op + 2);
        } else if ((op = strchr(p, '=')) != NULL) {
            *op = '\0';
            snprintf(x->value, sizeof(x->value), "%s", op + 1);
        } else if (labels) {
            x->neg = p[0] == '!' ? 3 : 2;
            if (p[0] == '!')
                p++;
        } else {
            snprintf(err, err_len, "invalid selector: '%s'; can't understand '%s'", text, p);
            return -1;
        }
        snprintf(x->field, sizeof(x->field), "%s", p);
        (*n)++;
    }
    return 0;
}

static int
field_supported(int res, const char *f)
{
    if (!strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace"))
        return 1;
    if (res == KST_PODS)
        return !strcmp(f, "spec.nodeName") || !strcmp(f, "status.phase");
    if (res == KST_NODES)
        return !strcmp(f, "spec.unschedulable");
    return 0;
}

static int
selector_parse(struct MHD_Connection *c, int res, struct selector *sel, char *err, size_t len)
{
    int i;

    memset(sel, 0, sizeof(*sel));
    if (parse_terms(qarg(c, "fieldSelector"), sel->f, &sel->n_f, 0, err, len) ||
        parse_terms(qarg(c, "labelSelector"), sel->l, &sel->n_l, 1, err, len))
        return -1;
    for (i = 0; i < sel->n_f; i++) {
        if (!field_supported(res, sel->f[i].field)) {
            snprintf(err, len, "field label not supported: %s", sel->f[i].field);
            return -1;
        }
    }
    return 0;
}

static int
selector_match(const struct selector *sel, const struct kst_obj *o)
{
    int i;

    for (i = 0; i < sel->n_f; i++) {
        const struct fsel_term *t = &sel->f[i];
        const char *v = "";

        if (!strcmp(t->field, "metadata.name"))
            v = o->name;
        else if (!strcmp(t->field, "metadata.namespace"))
            v = o->ns;
        else if (!strcmp(t->field, "spec.nodeName"))
            v = o->node_name;
        else if (!strcmp(t->field, "status.phase"))
            v = o->phase;
        else if (!strcmp(t->field, "spec.unschedulable"))
            v = o->unschedulable ? "true" : "false";
        if ((strcmp(v, t->value) == 0) == (t->neg == 1))
            return 0;
    }
    if (sel->n_l) {
        json_t *j = kst_obj_json(o);
        json_t *labels = json_object_get(json_object_get(j, "metadata"), "labels");
        int ok = 1;

        for (i = 0; i < sel->n_l && ok; i++) {
            const struct fsel_term *t = &sel->l[i];
            const char *v = json_string_value(json_object_get(labels, t->field));

            if (t->neg == 2)
                ok = v != NULL;
            else if (t->neg == 3)
                ok = v == NULL;
            else if (t->neg == 1)
                ok = v == NULL || strcmp(v, t->value) != 0;
            else
                ok = v != NULL && strcmp(v, t->value) == 0;
        }
        json_decref(j);
        return ok;
    }
    return 1;
}

/* ---- output of objects -------------------------------------------------------------- */

struct sbuf {
    char *d;
    size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;

        while (cap < b->len + n + 1)
            cap *= 2;
        b->d = realloc(b->d, cap);
        if (b->d == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* The object with kind and apiVersion first, as a single object's answer has them. */
static void
sb_obj_full(struct sbuf *b, const struct kst_obj *o, int res, const char *api_version)
{
    char head[160];

    snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\"%s",
             kst_res_infos[res].kind, api_version, o->len > 2 ? "," : "");
    sb_str(b, head);
    sb_add(b, o->json + 1, o->len - 1);
}

static enum MHD_Result
send_obj(struct MHD_Connection *c, unsigned code, const struct kst_obj *o, int res,
         const char *api_version)
{
    struct sbuf b = {0};

    sb_obj_full(&b, o, res, api_version);
    return send_text(c, code, b.d, 0);
}

/* ---- auth and faults ------------------------------------------------------------------ */

static const char *
verb_of(const char *method, const struct route *rt, int watch)
{
    if (!strcmp(method, "GET"))
        return watch ? "watch" : rt->name[0] ? "get" : "list";
    if (!strcmp(method, "POST"))
        return "create";
    if (!strcmp(method, "PUT"))
        return "update";
    if (!strcmp(method, "PATCH"))
        return "patch";
    if (!strcmp(method, "DELETE"))
        return "delete";
    return "unknown";
}

/* 0 to go on; otherwise the response has been queued. */
static int
check_auth(struct MHD_Connection *c, const char *method, const struct route *rt, int watch,
           enum MHD_Result *ret)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok = h && !strncmp(h, "Bearer ", 7) ? h + 7 : NULL;
    char msg[768], resource[80];

    if (admin_token == NULL)
        return 0;
    if (tok && !strcmp(tok, admin_token))
        return 0;
    if (tok && unbound_token && !strcmp(tok, unbound_token)) {
        snprintf(resource, sizeof(resource), "%s%s%s", kst_res_infos[rt->res].plural,
                 rt->sub[0] ? "/" : "", rt->sub);
        if (rt->ns[0])
            snprintf(
                msg, sizeof(msg),
                "%s%s%s is forbidden: User \"unbound\" cannot %s resource \"%s\" in API group "
                "\"%s\" in the namespace \"%s\"",
                kst_res_infos[rt->res].plural, rt->name[0] ? " \"" : "", "",
                verb_of(method, rt, watch), resource, kst_res_infos[rt->res].group, rt->ns);
        else
            snprintf(msg, sizeof(msg),
                     "%s is forbidden: User \"unbound\" cannot %s resource \"%s\" in API group "
                     "\"%s\" "
                     "at the cluster scope",
                     kst_res_infos[rt->res].plural, verb_of(method, rt, watch), resource,
                     kst_res_infos[rt->res].group);
        *ret = send_status(
            c, 403, "Forbidden", msg,
            json_pack("{s:s, s:s}", "name", rt->name, "kind", kst_res_infos[rt->res].plural),
            0);
        return 1;
    }
    *ret = send_status(c, 401, "Unauthorized", "Unauthorized", NULL, 0);
    return 1;
}

static int
check_fault(struct MHD_Connection *c, const char *method, const char *url, int watch,
            enum MHD_Result *ret)
{
    const char *agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    struct fault f;
    size_t i;
    int hit = 0;

    if (agent == NULL)
        agent = "";
    pthread_mutex_lock(&store.mu);
    for (i = 0; i < n_faults; i++) {
        struct fault *x = &faults[i];

        if (x->count == 0 || (x->method[0] && strcmp(x->method, method)) ||
            strncmp(url, x->prefix, strlen(x->prefix)) ||
            strncmp(agent, x->agent, strlen(x->agent)) || (x->watch >= 0 && x->watch != watch))
            continue;
        if (x->count > 0)
            x->count--;
        f = *x;
        hit = 1;
        break;
    }
    pthread_mutex_unlock(&store.mu);
    if (!hit)
        return 0;
    if (f.delay_ms > 0)
        usleep((useconds_t)f.delay_ms * 1000);
    if (f.status == 0)
        return 0;
    *ret = send_status(c, (unsigned)f.status,
                       f.status == 429   ? "TooManyRequests"
                       : f.status == 410 ? "Expired"
                       : f.status >= 500 ? "InternalError"
                                         : "BadRequest",
                       "injected by the emulator", json_object(), f.retry_after);
    return 1;
}

/* ---- lists ---------------------------------------------------------------------------- */

static void
hex_encode(const char *s, char *out, size_t len)
{
    size_t o = 0;

    for (; *s && o + 3 < len; s++, o += 2)
        snprintf(out + o, 3, "%02x", (unsigned char)*s);
    out[o] = '\0';
}

static void
hex_decode(const char *s, char *out, size_t len)
{
    size_t o = 0;
    unsigned v;

    while (s[0] && s[1] && o + 1 < len && sscanf(s, "%2x", &v) == 1) {
        out[o++] = (char)v;
        s += 2;
    }
    out[o] = '\0';
}

/* Lists by the resourceVersion they asked for, for the tests: from the watch cache ("0"),
 * at a version seen before, the latest (none). Guarded by store.mu. */
static long long n_lists_cache, n_lists_at_version, n_lists_latest;

/* Requests to the API being answered right now (not watches that stream, not /admin), so
 * that a test can wait out one its client abandoned before it counts what came after.
 * Guarded by store.mu. */
static long long n_serving;

/* A first page's resourceVersion, as a real server judges it (called with store.mu held):
 * 0 to serve it, else the HTTP status to answer with, message in msg. The emulator keeps
 * no history, so a version it accepts is served at the current state, which is what a
 * real server's watch cache does for "not older than". */
static int
list_rv_refused(const char *rv_s, char *msg, size_t msg_len)
{
    unsigned long long rv;
    char *end;

    if (rv_s == NULL || *rv_s == '\0') {
        n_lists_latest++;
        return 0;
    }
    if (strcmp(rv_s, "0") == 0) {
        n_lists_cache++;
        return 0;
    }
    n_lists_at_version++;
    rv = strtoull(rv_s, &end, 10);
    if (*end != '\0' || rv == 0) {
        snprintf(msg, msg_len, "resourceVersion: Invalid value: \"%.60s\"", rv_s);
        return 400;
    }
    if (rv + 1 < store.compacted_rv) {
        snprintf(msg, msg_len, "too old resource version: %llu (%llu)", rv,
                 (unsigned long long)(store.compacted_rv - 1));
        return 410;
    }
    if (rv > store.rv) {
        snprintf(msg, msg_len, "Too large resource version: %llu, current: %llu", rv,
                 (unsigned long long)store.rv);
        return 504;
    }
    return 0;
}

static enum MHD_Result
do_list(struct MHD_Connection *c, const struct route *rt)
{
    const char *limit_s = qarg(c, "limit"), *cont = qarg(c, "continue");
    long limit = limit_s ? strtol(limit_s, NULL, 10) : 0;
    char err[512], start_ns[600] = "", start_name[600] = "", head[512], key[600];
    unsigned long long list_rv;
    struct selector sel;
    struct kst_obj **objs;
    struct sbuf b = {0};
    size_t n, i, lo = 0, hi, emitted = 0, remaining = 0;
    int first = 1;

    if (selector_parse(c, rt->res, &sel, err, sizeof(err)))
        return send_status(c, 400, "BadRequest", err, NULL, 0);
    pthread_mutex_lock(&store.mu);
    list_rv = store.rv;
    if (!(cont && *cont)) {
        int refused = list_rv_refused(qarg(c, "resourceVersion"), err, sizeof(err));

        if (refused) {
            pthread_mutex_unlock(&store.mu);
            return send_status(c, refused,
                               refused == 410   ? "Expired"
                               : refused == 504 ? "Timeout"
                                                : "BadRequest",
                               err, NULL, 0);
        }
    }
    if (cont && *cont) {
        char *dash = strchr(cont, '-');

        list_rv = strtoull(cont, NULL, 10);
        if (dash == NULL || list_rv == 0) {
            pthread_mutex_unlock(&store.mu);
            return send_status(c, 400, "BadRequest", "continue key is not valid", NULL, 0);
        }
        if (list_rv + 1 < store.compacted_rv) {
            pthread_mutex_unlock(&store.mu);
            return send_status(
                c, 410, "Expired",
                "The provided continue parameter is too old to display a consistent "
                "list result. You can start a new list without the continue "
                "parameter, or use the continue token in this response to retrieve "
                "the remainder of the results. Continuing with the provided token "
                "results in an inconsistent list - objects that were created, "
                "modified, or deleted between the time the first chunk was returned "
                "and now may show up in the list.",
                NULL, 0);
        }
        hex_decode(dash + 1, key, sizeof(key));
        {
            char *slash = strchr(key, '/');

            if (slash) {
                *slash = '\0';
                snprintf(start_ns, sizeof(start_ns), "%s", key);
                snprintf(start_name, sizeof(start_name), "%s", slash + 1);
            }
        }
    }
    objs = kst_sorted(&store, rt->res, &n);
    /* first object after the continue key */
    hi = n;
    if (cont && *cont) {
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp(objs[mid]->ns, start_ns);

            if (cmp == 0)
                cmp = strcmp(objs[mid]->name, start_name);
            if (cmp <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    /* pick the page, then write it once into a buffer of the right size: pages are
     * megabytes, and growing and copying them cost more than serving them */
    {
        size_t total = 0, last = lo, stop = n;
        char tail[1400] = "";

        for (i = lo; i < n; i++) {
            if (rt->ns[0] && strcmp(objs[i]->ns, rt->ns)) {
                if (emitted || strcmp(objs[i]->ns, rt->ns) > 0)
                    break; /* sorted by namespace: its objects are behind us */
                continue;
            }
            if (limit > 0 && emitted == (size_t)limit) {
                stop = i;
                break;
            }
            if (!selector_match(&sel, objs[i]))
                continue;
            total += objs[i]->len + 1;
            emitted++;
            last = i;
        }
        for (i = stop; i < n; i++) {
            if (rt->ns[0] && strcmp(objs[i]->ns, rt->ns))
                break;
            if (!rt->ns[0]) {
                remaining = n - stop;
                break;
            }
            remaining++;
        }
        snprintf(head, sizeof(head),
                 "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{"
                 "\"resourceVersion\":\"%llu\"",
                 kst_res_infos[rt->res].kind, rt->api_version, list_rv);
        if (remaining) {
            char k[600], hex[1300];
            size_t tl;

            snprintf(k, sizeof(k), "%s/%s", objs[last]->ns, objs[last]->name);
            hex_encode(k, hex, sizeof(hex));
            snprintf(tail, sizeof(tail), ",\"continue\":\"%llu-%s\"", list_rv, hex);
            tl = strlen(tail);
            if (sel.n_f == 0 && sel.n_l == 0)
                snprintf(tail + tl, sizeof(tail) - tl, ",\"remainingItemCount\":%zu",
                         remaining);
        }
        b.cap = strlen(head) + strlen(tail) + total + 32;
        if ((b.d = malloc(b.cap)) == NULL)
            abort();
        b.d[0] = '\0';
        sb_str(&b, head);
        sb_str(&b, tail);
        sb_str(&b, "},\"items\":[");
        for (i = lo; i < stop && emitted; i++) {
            if ((rt->ns[0] && strcmp(objs[i]->ns, rt->ns)) || !selector_match(&sel, objs[i]))
                continue;
            if (!first)
                sb_add(&b, ",", 1);
            first = 0;
            sb_add(&b, objs[i]->json, objs[i]->len);
        }
        sb_str(&b, "]}");
    }
    pthread_mutex_unlock(&store.mu);
    return send_text(c, 200, b.d, 0);
}

/* ---- watches -------------------------------------------------------------------------- */

struct watch {
    int res;
    char api_version[80];
    char ns[254];
    struct selector sel;
    uint64_t rv;
    int bookmarks;
    int64_t deadline_ms;
    int64_t next_bookmark_ms;
    uint64_t drop_gen;
    struct sbuf out;
    size_t out_off;
    int ending; /* 1: send what is buffered, then end */
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
watch_event_line(struct watch *w, const char *type, const struct kst_obj *o)
{
    sb_str(&w->out, "{\"type\":\"");
    sb_str(&w->out, type);
    sb_str(&w->out, "\",\"object\":");
    sb_obj_full(&w->out, o, w->res, w->api_version);
    sb_str(&w->out, "}\n");
}

static void
watch_bookmark(struct watch *w)
{
    char line[256];

    snprintf(
        line, sizeof(line),
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":"
        "{\"resourceVersion\":\"%llu\",\"creationTimestamp\":null},\"spec\":{},\"status\":{}}}"
        "\n",
        kst_res_infos[w->res].kind, w->api_version, (unsigned long long)w->rv);
    sb_str(&w->out, line);
}

static ssize_t
watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct watch *w = cls;

    (void)pos;
    for (;;) {
        size_t i;
        int64_t now;

        if (w->out_off < w->out.len) {
            size_t n = w->out.len - w->out_off;

            if (n > max)
                n = max;
            memcpy(buf, w->out.d + w->out_off, n);
            w->out_off += n;
            if (w->out_off == w->out.len)
                w->out.len = w->out_off = 0;
            return (ssize_t)n;
        }
        if (w->ending)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (stop_flag)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        pthread_mutex_lock(&store.mu);
        if (store.drop_gen != w->drop_gen) {
            pthread_mutex_unlock(&store.mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (w->rv + 1 < store.compacted_rv) {
            char line[512];

            snprintf(
                line, sizeof(line),
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                "version: %llu (%llu)\",\"reason\":\"Expired\",\"code\":410}}\n",
                (unsigned long long)w->rv, (unsigned long long)(store.compacted_rv - 1));
            pthread_mutex_unlock(&store.mu);
            sb_str(&w->out, line);
            w->ending = 1;
            continue;
        }
        for (i = kst_log_after(&store, w->rv); i < store.n_log && w->out.len < 1u << 20; i++) {
            const struct kst_ev *ev = &store.log[i];

            w->rv = ev->rv;
            if (ev->res != w->res || (w->ns[0] && strcmp(ev->obj->ns, w->ns)) ||
                !selector_match(&w->sel, ev->obj))
                continue;
            watch_event_line(w,
                             ev->type == 'A'   ? "ADDED"
                             : ev->type == 'M' ? "MODIFIED"
                                               : "DELETED",
                             ev->obj);
        }
        now = mono_ms();
        if (w->out.len == 0) {
            if (now >= w->deadline_ms) {
                pthread_mutex_unlock(&store.mu);
                if (w->bookmarks)
                    watch_bookmark(w);
                w->ending = 1;
                continue;
            }
            if (w->bookmarks && now >= w->next_bookmark_ms) {
                w->next_bookmark_ms = now + bookmark_ms;
                w->rv = store.rv > w->rv ? store.rv : w->rv;
                pthread_mutex_unlock(&store.mu);
                watch_bookmark(w);
                continue;
            }
            {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&store.cond, &store.mu, &ts);
            }
        }
        pthread_mutex_unlock(&store.mu);
    }
}

static void
watch_free(void *cls)
{
    struct watch *w = cls;

    pthread_mutex_lock(&store.mu);
    store.n_watches--;
    pthread_mutex_unlock(&store.mu);
    free(w->out.d);
    free(w);
}

static enum MHD_Result
do_watch(struct MHD_Connection *c, const struct route *rt)
{
    const char *rv_s = qarg(c, "resourceVersion"), *to = qarg(c, "timeoutSeconds");
    struct watch *w = calloc(1, sizeof(*w));
    struct MHD_Response *r;
    enum MHD_Result ret;
    char err[512];
    long timeout_s = to ? strtol(to, NULL, 10) : 1800;

    if (w == NULL)
        abort();
    if (selector_parse(c, rt->res, &w->sel, err, sizeof(err))) {
        free(w);
        return send_status(c, 400, "BadRequest", err, NULL, 0);
    }
    w->res = rt->res;
    snprintf(w->api_version, sizeof(w->api_version), "%s", rt->api_version);
    snprintf(w->ns, sizeof(w->ns), "%s", rt->ns);
    w->bookmarks = is_true_arg(qarg(c, "allowWatchBookmarks"));
    w->deadline_ms = mono_ms() + (timeout_s > 0 ? timeout_s : 1800) * 1000;
    w->next_bookmark_ms = mono_ms() + bookmark_ms;
    pthread_mutex_lock(&store.mu);
    w->drop_gen = store.drop_gen;
    store.n_watches++;
    if (rv_s == NULL || *rv_s == '\0' || !strcmp(rv_s, "0")) {
        /* no resourceVersion: synthetic ADDED for the current state, then changes */
        size_t n, i;
        struct kst_obj **objs = kst_sorted(&store, rt->res, &n);

        for (i = 0; i < n; i++)
            if ((!w->ns[0] || !strcmp(objs[i]->ns, w->ns)) && selector_match(&w->sel, objs[i]))
                watch_event_line(w, "ADDED", objs[i]);
        w->rv = store.rv;
    } else {
        char *end;

        w->rv = strtoull(rv_s, &end, 10);
        if (*end != '\0') {
            store.n_watches--;
            pthread_mutex_unlock(&store.mu);
            free(w);
            return send_status(c, 400, "BadRequest",
                               "resourceVersion: Invalid value: not a valid resource version",
                               NULL, 0);
        }
        if (w->rv > store.rv) {
            store.n_watches--;
            pthread_mutex_unlock(&store.mu);
            free(w);
            return send_status(c, 504, "Timeout", "Too large resource version", json_object(),
                               1);
        }
    }
    pthread_mutex_unlock(&store.mu);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, watch_read, w, watch_free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- validation shared by writes ---------------------------------------------------- */

/* MicroTime: exactly six fractional digits, as the real decoder demands. */
static int
valid_microtime(const char *s)
{
    int i;

    if (s == NULL || strlen(s) < 27)
        return 0;
    for (i = 0; i < 19; i++) {
        if ((i == 4 || i == 7)     ? s[i] != '-'
            : i == 10              ? s[i] != 'T'
            : (i == 13 || i == 16) ? s[i] != ':'
                                   : !isdigit((unsigned char)s[i]))
            return 0;
    }
    if (s[19] != '.')
        return 0;
    for (i = 20; i < 26; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return !strcmp(s + 26, "Z") || ((s[26] == '+' || s[26] == '-') && strlen(s + 26) == 6);
}

static int
validate(struct MHD_Connection *c, int res, json_t *obj, const char *ns, enum MHD_Result *ret)
{
    char msg[512];

    if (res == KST_LEASES) {
        json_t *spec = json_object_get(obj, "spec");
        static const char *const fields[] = {"acquireTime", "renewTime"};
        size_t i;

        for (i = 0; i < 2; i++) {
            json_t *v = json_object_get(spec, fields[i]);

            if (v && !json_is_null(v) && !valid_microtime(json_string_value(v))) {
                snprintf(msg, sizeof(msg),
                         "Lease in version \"v1\" cannot be handled as a Lease: v1.Lease.Spec: "
                         "v1.LeaseSpec.%s: unmarshalerDecoder: parsing time \"%s\" as "
                         "\"2006-01-02T15:04:05.000000Z07:00\": cannot parse",
                         fields[i], json_string_value(v) ? json_string_value(v) : "?");
                *ret = send_status(c, 400, "BadRequest", msg, NULL, 0);
                return 1;
            }
        }
    }
    if (res == KST_EVENTS) {
        const char *ins = json_string_value(
            json_object_get(json_object_get(obj, "involvedObject"), "namespace"));

        if ((ins && *ins && strcmp(ins, ns)) ||
            ((ins == NULL || *ins == '\0') && strcmp(ns, "default") && *ns)) {
            snprintf(
                msg, sizeof(msg),
                "Event \"%s\" is invalid: involvedObject.namespace: Invalid value: \"%s\": "
                "does not match event.namespace",
                json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"))
                    ? json_string_value(
                          json_object_get(json_object_get(obj, "metadata"), "name"))
                    : "",
                ins ? ins : "");
            *ret = send_status(c, 422, "Invalid", msg, json_object(), 0);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result
conflict(struct MHD_Connection *c, const struct route *rt, const char *name)
{
    char msg[600];

    snprintf(
        msg, sizeof(msg),
        "Operation cannot be fulfilled on %s%s%s \"%s\": the object has been modified; please "
        "apply your changes to the latest version and try again",
        kst_res_infos[rt->res].plural, kst_res_infos[rt->res].group[0] ? "." : "",
        kst_res_infos[rt->res].group, name);
    return send_status(
        c, 409, "Conflict", msg,
        json_pack("{s:s, s:s}", "name", name, "kind", kst_res_infos[rt->res].plural), 0);
}

static enum MHD_Result
not_found(struct MHD_Connection *c, const struct route *rt, const char *name)
{
    char msg[600];

    snprintf(msg, sizeof(msg), "%s%s%s \"%s\" not found", kst_res_infos[rt->res].plural,
             kst_res_infos[rt->res].group[0] ? "." : "", kst_res_infos[rt->res].group, name);
    return send_status(
        c, 404, "NotFound", msg,
        json_pack("{s:s, s:s}", "name", name, "kind", kst_res_infos[rt->res].plural), 0);
}

/* PDB generation follows spec changes, as the registry strategy does. */
static void
bump_generation(int res, json_t *obj, const json_t *old)
{
    json_t *md = json_object_get(obj, "metadata");
    json_int_t gen = old ? json_integer_value(
                               json_object_get(json_object_get(old, "metadata"), "generation"))
                         : 0;

    if (res != KST_PDBS)
        return;
    if (old == NULL)
        gen = 1;
    else if (!json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec")))
        gen++;
    json_object_set_new(md, "generation", json_integer(gen ? gen : 1));
}

/* ---- eviction ------------------------------------------------------------------------- */

static int
label_selector_matches(const json_t *sel, const json_t *labels)
{
    const char *k;
    json_t *v, *exprs, *e;
    size_t i;

    if (!json_is_object(sel))
        return 0;
    json_object_foreach((json_t *)json_object_get(sel, "matchLabels"), k, v)
    {
        const char *have = json_string_value(json_object_get(labels, k));

        if (have == NULL || strcmp(have, json_string_value(v) ? json_string_value(v) : ""))
            return 0;
    }
    exprs = json_object_get(sel, "matchExpressions");
    json_array_foreach(exprs, i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
        json_t *vals = json_object_get(e, "values"), *x;
        size_t j;
        int in = 0;

        if (op == NULL)
            return 0;
        json_array_foreach(vals, j, x) if (have && json_string_value(x) &&
                                           !strcmp(have, json_string_value(x))) in = 1;
        if ((!strcmp(op, "In") && !in) || (!strcmp(op, "NotIn") && in) ||
            (!strcmp(op, "Exists") && !have) || (!strcmp(op, "DoesNotExist") && have))
            return 0;
    }
    return 1;
}

static int
pod_ready(const json_t *pod)
{
    json_t *c;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *v = json_string_value(json_object_get(c, "status"));

        if (t && v && !strcmp(t, "Ready"))
            return !strcmp(v, "True");
    }
    return 0;
}

static enum MHD_Result
do_eviction(struct MHD_Connection *c, const struct route *rt, json_t *body)
{
    const char *av = json_string_value(json_object_get(body, "apiVersion"));
    const char *kind = json_string_value(json_object_get(body, "kind"));
    struct kst_obj *pod, *pdb_obj = NULL;
    json_t *pj, *labels, *pdb = NULL;
    size_t n, i, n_match = 0;
    struct kst_obj **objs;
    const char *phase;
    char msg[768];

    if (av == NULL || kind == NULL || strcmp(kind, "Eviction")) {
        return send_status(c, 400, "BadRequest", "Object 'Kind' is missing or not Eviction",
                           NULL, 0);
    }
    if (strcmp(av, "policy/v1beta1") &&
        !(strcmp(av, "policy/v1") == 0 && version_minor >= 22)) {
        snprintf(msg, sizeof(msg),
                 "no kind \"Eviction\" is registered for version \"%s\" in scheme "
                 "\"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"",
                 av);
        return send_status(c, 400, "BadRequest", msg, NULL, 0);
    }
    pthread_mutex_lock(&store.mu);
    pod = kst_get(&store, KST_PODS, rt->ns, rt->name);
    if (pod == NULL) {
        pthread_mutex_unlock(&store.mu);
        return not_found(c, rt, rt->name);
    }
    pj = kst_obj_json(pod);
    phase = json_string_value(json_object_get(json_object_get(pj, "status"), "phase"));
    /* pods that are not running (or already going) need no budget */
    if ((phase && (!strcmp(phase, "Pending") || !strcmp(phase, "Succeeded") ||
                   !strcmp(phase, "Failed"))) ||
        json_object_get(json_object_get(pj, "metadata"), "deletionTimestamp")) {
        kst_delete(&store, KST_PODS, rt->ns, rt->name);
        pthread_mutex_unlock(&store.mu);
        json_decref(pj);
        return send_status(c, 201, "", "", NULL, 0);
    }
    labels = json_object_get(json_object_get(pj, "metadata"), "labels");
    objs = kst_sorted(&store, KST_PDBS, &n);
    for (i = 0; i < n; i++) {
        json_t *pdbj;

        if (strcmp(objs[i]->ns, rt->ns))
            continue;
        pdbj = kst_obj_json(objs[i]);
        if (label_selector_matches(json_object_get(json_object_get(pdbj, "spec"), "selector"),
                                   labels)) {
            n_match++;
            json_decref(pdb);
            pdb = pdbj;
            pdb_obj = objs[i];
        } else {
            json_decref(pdbj);
        }
    }
    if (n_match > 1) {
        pthread_mutex_unlock(&store.mu);
        json_decref(pj);
        json_decref(pdb);
        return send_status(c, 500, "InternalError",
                           "This pod has more than one PodDisruptionBudget, which the eviction "
                           "subresource does not support.",
                           NULL, 0);
    }
    if (n_match == 1) {
        json_t *st = json_object_get(pdb, "status");
        json_int_t gen =
            json_integer_value(json_object_get(json_object_get(pdb, "metadata"), "generation"));
        json_int_t obs = json_integer_value(json_object_get(st, "observedGeneration"));
        json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));
        char dmsg[512];

        (void)pdb_obj;
        /* An unready pod does not count as healthy: evicting it costs the budget nothing
         * while the budget is otherwise met. */
        if (!pod_ready(pj) &&
            json_integer_value(json_object_get(st, "currentHealthy")) >=
                json_integer_value(json_object_get(st, "desiredHealthy")) &&
            json_integer_value(json_object_get(st, "desiredHealthy")) > 0) {
            json_decref(pdb);
            pdb = NULL;
        } else if (obs < gen) {
            snprintf(
                dmsg, sizeof(dmsg),
                "The disruption budget %s is still being processed by the server.",
                json_string_value(json_object_get(json_object_get(pdb, "metadata"), "name")));
            pthread_mutex_unlock(&store.mu);
            json_decref(pj);
            json_decref(pdb);
            return send_status(
                c, 429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget", "message",
                          dmsg),
                10);
        }
        if (allowed <= 0) {
            snprintf(
                dmsg, sizeof(dmsg),
                "The disruption budget %s needs %lld healthy pods and has %lld currently",
                json_string_value(json_object_get(json_object_get(pdb, "metadata"), "name")),
                (long long)json_integer_value(json_object_get(st, "desiredHealthy")),
                (long long)json_integer_value(json_object_get(st, "currentHealthy")));
            pthread_mutex_unlock(&store.mu);
            json_decref(pj);
            json_decref(pdb);
            return send_status(
                c, 429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget", "message",
                          dmsg),
                0);
        }
    }
    if (pdb) {
        json_t *st = json_object_get(pdb, "status");
        json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));

        json_object_set_new(st, "disruptionsAllowed", json_integer(allowed - 1));
        if (!json_is_object(json_object_get(st, "disruptedPods")))
            json_object_set_new(st, "disruptedPods", json_object());
        {
            char ts[40];

            kst_now_rfc3339(ts, sizeof(ts));
            json_object_set_new(json_object_get(st, "disruptedPods"), rt->name,
                                json_string(ts));
        }
        {
            char pdb_name[254];

            snprintf(
                pdb_name, sizeof(pdb_name), "%s",
                json_string_value(json_object_get(json_object_get(pdb, "metadata"), "name")));
            kst_put(&store, KST_PDBS, rt->ns, pdb_name, pdb, 1);
        }
        pdb = NULL;
    }
    kst_delete(&store, KST_PODS, rt->ns, rt->name);
    pthread_mutex_unlock(&store.mu);
    json_decref(pj);
    return send_status(c, 201, "", "", NULL, 0);
}

/* ---- binding ------------------------------------------------------------------------- */

/* POST pods/NAME/binding, as a scheduler binds a pod: a v1 Binding whose target names a
 * Node. As kube-apiserver: 409 when the pod is already bound, 404 when it does not exist;
 * the pod gets spec.nodeName and the PodScheduled condition. The emulator plays the kubelet
 * too: a bound pod is Running at once. */
static enum MHD_Result
do_binding(struct MHD_Connection *c, const struct route *rt, json_t *body)
{
    const char *kind = json_string_value(json_object_get(body, "kind"));
    json_t *target = json_object_get(body, "target");
    const char *node = json_string_value(json_object_get(target, "name"));
    const char *tkind = json_string_value(json_object_get(target, "kind"));
    struct kst_obj *pod;
    json_t *pj, *spec, *status, *conds;
    char msg[600], now[40];

    if (kind == NULL || strcmp(kind, "Binding") != 0)
        return send_status(c, 400, "BadRequest", "Object 'Kind' is missing or not Binding",
                           NULL, 0);
    if (node == NULL || *node == '\0' || (tkind != NULL && strcmp(tkind, "Node") != 0))
        return send_status(c, 422, "Invalid", "target.name: Required value", json_object(), 0);
    pthread_mutex_lock(&store.mu);
    pod = kst_get(&store, KST_PODS, rt->ns, rt->name);
    if (pod == NULL) {
        pthread_mutex_unlock(&store.mu);
        return not_found(c, rt, rt->name);
    }
    pj = kst_obj_json(pod);
    spec = json_object_get(pj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(pj, "spec", spec);
    }
    if (json_string_value(json_object_get(spec, "nodeName")) != NULL &&
        *json_string_value(json_object_get(spec, "nodeName")) != '\0') {
        snprintf(msg, sizeof(msg),
                 "Operation cannot be fulfilled on pods/binding \"%s\": pod "
                 "%s is already assigned to node \"%s\"",
                 rt->name, rt->name, json_string_value(json_object_get(spec, "nodeName")));
        pthread_mutex_unlock(&store.mu);
        json_decref(pj);
        return send_status(c, 409, "Conflict", msg, NULL, 0);
    }
    json_object_set_new(spec, "nodeName", json_string(node));
    status = json_object_get(pj, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(pj, "status", status);
    }
    kst_now_rfc3339(now, sizeof(now));
    conds = json_array();
    json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "type", "PodScheduled", "status",
                                           "True", "lastTransitionTime", now));
    json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "type", "Ready", "status", "True",
                                           "lastTransitionTime", now));
    json_object_set_new(status, "conditions", conds);
    json_object_set_new(status, "phase", json_string("Running"));
    json_object_set_new(status, "startTime", json_string(now));
    kst_put(&store, KST_PODS, rt->ns, rt->name, pj, 1);
    pthread_mutex_unlock(&store.mu);
    return send_status(c, 201, "Success", "", NULL, 0);
}

/* ---- writes --------------------------------------------------------------------------- */

static enum MHD_Result
do_write(struct MHD_Connection *c, const char *method, const struct route *rt, const char *body,
         size_t body_len)
{
    json_error_t jerr;
    json_t *in = NULL, *old = NULL, *obj = NULL;
    struct kst_obj *cur, *stored;
    enum MHD_Result ret;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *name;
    char msg[600];

    if (strcmp(method, "DELETE") != 0) {
        in = json_loadb(body ? body : "", body_len, 0, &jerr);
        if (!json_is_object(in) && !(strcmp(method, "PATCH") == 0 && json_is_array(in))) {
            json_decref(in);
            snprintf(msg, sizeof(msg),
                     "the body of the request was in an unknown format - accepted "
                     "media types include: application/json, application/yaml (%s)",
                     jerr.text);
            return send_status(c, 400, "BadRequest", msg, NULL, 0);
        }
    }
    if (!strcmp(method, "POST") && !strcmp(rt->sub, "eviction")) {
        ret = do_eviction(c, rt, in);
        json_decref(in);
        return ret;
    }
    if (!strcmp(method, "POST") && !strcmp(rt->sub, "binding")) {
        ret = do_binding(c, rt, in);
        json_decref(in);
        return ret;
    }
    pthread_mutex_lock(&store.mu);
    if (!strcmp(method, "POST")) {
        const char *gen;

        if (rt->name[0]) {
            pthread_mutex_unlock(&store.mu);
            json_decref(in);
            return send_status(
                c, 405, "MethodNotAllowed",
                "the server does not allow this method on the requested resource", NULL, 0);
        }
        name = json_string_value(json_object_get(json_object_get(in, "metadata"), "name"));
        gen =
            json_string_value(json_object_get(json_object_get(in, "metadata"), "generateName"));
        if ((name == NULL || *name == '\0') && gen) {
            snprintf(msg, sizeof(msg), "%s%05llx", gen,
                     (unsigned long long)(store.rv * 7919 % 0xfffff));
            json_object_set_new(json_object_get(in, "metadata"), "name", json_string(msg));
            name = json_string_value(json_object_get(json_object_get(in, "metadata"), "name"));
        }
        if (name == NULL || *name == '\0') {
            pthread_mutex_unlock(&store.mu);
            json_decref(in);
            return send_status(
                c, 422, "Invalid",
                "metadata.name: Required value: name or generateName is required",
                json_object(), 0);
        }
        if (kst_get(&store, rt->res, rt->ns, name)) {
            snprintf(msg, sizeof(msg), "%s%s%s \"%s\" already exists",
                     kst_res_infos[rt->res].plural, kst_res_infos[rt->res].group[0] ? "." : "",
                     kst_res_infos[rt->res].group, name);
            /* name points into the body: build the details before releasing it. */
            json_t *details =
                json_pack("{s:s, s:s}", "name", name, "kind", kst_res_infos[rt->res].plural);

            pthread_mutex_unlock(&store.mu);
            json_decref(in);
            return send_status(c, 409, "AlreadyExists", msg, details, 0);
        }
        {
            const char *mdns = json_string_value(
                json_object_get(json_object_get(in, "metadata"), "namespace"));

            if (mdns && *mdns && strcmp(mdns, rt->ns)) {
                pthread_mutex_unlock(&store.mu);
                json_decref(in);
                return send_status(c, 400, "BadRequest",
                                   "the namespace of the provided object does not match the "
                                   "namespace sent on the request",
                                   NULL, 0);
            }
        }
        if (validate(c, rt->res, in, rt->ns, &ret)) {
            pthread_mutex_unlock(&store.mu);
            json_decref(in);
            return ret;
        }
        json_object_del(in, "kind");
        json_object_del(in, "apiVersion");
        json_object_del(json_object_get(in, "metadata"), "resourceVersion");
        bump_generation(rt->res, in, NULL);
        snprintf(msg, sizeof(msg), "%s", name);
        stored = kst_put(&store, rt->res, rt->ns, msg, in, 1);
        ret = send_obj(c, 201, stored, rt->res, rt->api_version);
        pthread_mutex_unlock(&store.mu);
        return ret;
    }
    if (rt->name[0] == '\0') {
        pthread_mutex_unlock(&store.mu);
        json_decref(in);
        return send_status(c, 405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource",
                           NULL, 0);
    }
    cur = kst_get(&store, rt->res, rt->ns, rt->name);
    if (cur == NULL) {
        pthread_mutex_unlock(&store.mu);
        json_decref(in);
        return not_found(c, rt, rt->name);
    }
    if (!strcmp(method, "DELETE")) {
        json_t *last = kst_obj_json(cur);

        kst_delete(&store, rt->res, rt->ns, rt->name);
        pthread_mutex_unlock(&store.mu);
        json_decref(last);
        return send_status(
            c, 200, "", "",
            json_pack("{s:s, s:s}", "name", rt->name, "kind", kst_res_infos[rt->res].plural),
            0);
    }
    old = kst_obj_json(cur);
    if (!strcmp(method, "PUT")) {
        const char *rv = json_string_value(
            json_object_get(json_object_get(in, "metadata"), "resourceVersion"));
        const char *bname =
            json_string_value(json_object_get(json_object_get(in, "metadata"), "name"));

        if (bname && strcmp(bname, rt->name)) {
            ret = send_status(c, 400, "BadRequest",
                              "the name of the object does not match the name on the URL", NULL,
                              0);
            goto out;
        }
        if (rv == NULL || *rv == '\0') {
            if (rt->res == KST_LEASES || rt->res == KST_PDBS) {
                snprintf(msg, sizeof(msg),
                         "%s.%s \"%s\" is invalid: metadata.resourceVersion: Invalid value: "
                         "0x0: must be specified for an update",
                         kst_res_infos[rt->res].plural, kst_res_infos[rt->res].group, rt->name);
                ret = send_status(c, 422, "Invalid", msg, json_object(), 0);
                goto out;
            }
        } else if (strtoull(rv, NULL, 10) != cur->rv) {
            ret = conflict(c, rt, rt->name);
            goto out;
        }
        obj = in;
        in = NULL;
        json_object_del(obj, "kind");
        json_object_del(obj, "apiVersion");
        if (!strcmp(rt->sub, "status")) {
            /* /status writes only the status */
            json_t *st = json_incref(json_object_get(obj, "status"));

            json_decref(obj);
            obj = json_deep_copy(old);
            json_object_set_new(obj, "status", st ? st : json_object());
        } else if (json_object_get(old, "status") && rt->res != KST_EVENTS &&
                   rt->res != KST_CONFIGMAPS) {
            /* the main resource ignores status changes */
            json_object_set(obj, "status", json_object_get(old, "status"));
        }
    } else if (!strcmp(method, "PATCH")) {
        const char *rv;

        if (ctype == NULL || (strncmp(ctype, "application/merge-patch+json", 28) &&
                              strncmp(ctype, "application/strategic-merge-patch+json", 38))) {
            snprintf(msg, sizeof(msg),
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json-patch+json, application/merge-patch+json, "
                     "application/apply-patch+yaml");
            ret = send_status(c, 415, "UnsupportedMediaType", msg, NULL, 0);
            goto out;
        }
        if (!json_is_object(in)) {
            ret = send_status(c, 400, "BadRequest", "error decoding patch", NULL, 0);
            goto out;
        }
        rv = json_string_value(
            json_object_get(json_object_get(in, "metadata"), "resourceVersion"));
        if (rv && strtoull(rv, NULL, 10) != cur->rv) {
            ret = conflict(c, rt, rt->name);
            goto out;
        }
        obj = kst_merge_patch(json_deep_copy(old), in);
    } else {
        ret = send_status(c, 405, "MethodNotAllowed",
                          "the server does not allow this method on the requested resource",
                          NULL, 0);
        goto out;
    }
    if (validate(c, rt->res, obj, rt->ns, &ret))
        goto out;
    json_object_del(obj, "kind");
    json_object_del(obj, "apiVersion");
    /* keep identity fields the client may not rewrite */
    json_object_set(json_object_get(obj, "metadata"), "uid",
                    json_object_get(json_object_get(old, "metadata"), "uid"));
    json_object_set(json_object_get(obj, "metadata"), "creationTimestamp",
                    json_object_get(json_object_get(old, "metadata"), "creationTimestamp"));
    bump_generation(rt->res, obj, old);
    stored = kst_put(&store, rt->res, rt->ns, rt->name, obj, 1);
    obj = NULL;
    ret = send_obj(c, 200, stored, rt->res, rt->api_version);
out:
    pthread_mutex_unlock(&store.mu);
    json_decref(in);
    json_decref(old);
    json_decref(obj);
    return ret;
}

/* ---- admin -------------------------------------------------------------------------- */

/* Store objects given with their kind, without logging changes. Lock held. */
static void
load_items(json_t *items)
{
    json_t *it;
    size_t i;
    int r;

    json_array_foreach(items, i, it)
    {
        const char *kind = json_string_value(json_object_get(it, "kind"));
        json_t *md = json_object_get(it, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        char nsb[254], nameb[254];
        json_t *copy;

        for (r = 0; r < KST_N_RES && kind; r++)
            if (!strcmp(kst_res_infos[r].kind, kind))
                break;
        if (kind == NULL || r == KST_N_RES || name == NULL)
            continue;
        snprintf(nsb, sizeof(nsb), "%s",
                 kst_res_infos[r].namespaced ? (ns ? ns : "default") : "");
        snprintf(nameb, sizeof(nameb), "%s", name);
        copy = json_incref(it); /* the caller drops the list: no copy needed */
        json_object_del(copy, "kind");
        json_object_del(copy, "apiVersion");
        bump_generation(r, copy, NULL);
        kst_put(&store, r, nsb, nameb, copy, 0);
    }
}

/* Change count objects of a resource (plural name) by an annotation, logged for watches
 * or not. Lock held. */
static void
touch(json_t *resource, json_t *count_j, int log_it)
{
    const char *plural = json_string_value(resource);
    long count = (long)json_integer_value(count_j), k;
    size_t n, r;
    struct kst_obj **objs;

    for (r = 0; r < KST_N_RES && plural; r++)
        if (!strcmp(kst_res_infos[r].plural, plural))
            break;
    if (plural == NULL || r == KST_N_RES)
        return;
    objs = kst_sorted(&store, (int)r, &n);
    for (k = 0; k < count && n; k++) {
        struct kst_obj *o = objs[(size_t)k % n];
        json_t *j = kst_obj_json(o), *md = json_object_get(j, "metadata");
        char ns[254], name[254], v[32];

        if (!json_is_object(json_object_get(md, "annotations")))
            json_object_set_new(md, "annotations", json_object());
        snprintf(v, sizeof(v), "%llu", (unsigned long long)store.rv);
        json_object_set_new(json_object_get(md, "annotations"), "emulator/touch",
                            json_string(v));
        snprintf(ns, sizeof(ns), "%s", o->ns);
        snprintf(name, sizeof(name), "%s", o->name);
        kst_put(&store, (int)r, ns, name, j, log_it);
        objs = kst_sorted(&store, (int)r, &n);
    }
}

static enum MHD_Result
do_admin(struct MHD_Connection *c, const char *url, const char *body, size_t len)
{
    json_t *in = len ? json_loadb(body, len, 0, NULL) : json_object();
    enum MHD_Result ret;

    if (in == NULL)
        return send_status(c, 400, "BadRequest", "admin: body is not JSON", NULL, 0);
    pthread_mutex_lock(&store.mu);
    if (!strcmp(url, "/admin/fault")) {
        struct fault *f = n_faults < MAX_FAULTS ? &faults[n_faults++] : &faults[MAX_FAULTS - 1];
        json_t *w = json_object_get(in, "watch");

        memset(f, 0, sizeof(*f));
        snprintf(f->method, sizeof(f->method), "%s",
                 json_string_value(json_object_get(in, "method"))
                     ? json_string_value(json_object_get(in, "method"))
                     : "");
        snprintf(f->prefix, sizeof(f->prefix), "%s",
                 json_string_value(json_object_get(in, "path"))
                     ? json_string_value(json_object_get(in, "path"))
                     : "/");
        snprintf(f->agent, sizeof(f->agent), "%s",
                 json_string_value(json_object_get(in, "agent"))
                     ? json_string_value(json_object_get(in, "agent"))
                     : "");
        f->watch = w ? json_is_true(w) : -1;
        f->status = (int)json_integer_value(json_object_get(in, "status"));
        f->delay_ms = (long)json_integer_value(json_object_get(in, "delay_ms"));
        f->retry_after = (long)json_integer_value(json_object_get(in, "retry_after"));
        f->count = json_object_get(in, "count")
                       ? (int)json_integer_value(json_object_get(in, "count"))
                       : 1;
    } else if (!strcmp(url, "/admin/clear-faults")) {
        n_faults = 0;
    } else if (!strcmp(url, "/admin/drop-watches")) {
        store.drop_gen++;
        pthread_cond_broadcast(&store.cond);
    } else if (!strcmp(url, "/admin/compact")) {
        kst_compact(&store);
    } else if (!strcmp(url, "/admin/expire")) {
        /* every resourceVersion handed out so far becomes too old: 410 on demand; with
         * {"resource","count"}, that many objects change first, unseen by any watch */
        touch(json_object_get(in, "resource"), json_object_get(in, "count"), 0);
        store.rv++;
        kst_compact(&store);
        /* open watches answer with an ERROR event, code 410, as a real server's do when
         * they cannot go on from where they are (drop-watches drops them instead) */
        pthread_cond_broadcast(&store.cond);
    } else if (!strcmp(url, "/admin/load")) {
        /* bulk load without change log: {"items":[{"kind":"Pod",...}]} */
        load_items(json_object_get(in, "items"));
        kst_compact(&store);
    } else if (!strcmp(url, "/admin/touch")) {
        /* modify count objects of a resource (an annotation), for watch load */
        touch(json_object_get(in, "resource"), json_object_get(in, "count"), 1);
    } else if (!strcmp(url, "/admin/stats")) {
        json_t *bytes = json_object(), *st;
        size_t r, k;

        for (r = 0; r < KST_N_RES; r++) {
            json_int_t total = 0;

            for (k = 0; k < store.res[r].n_objs; k++)
                total += (json_int_t)store.res[r].objs[k]->len;
            json_object_set_new(bytes, kst_res_infos[r].plural, json_integer(total));
        }
        st = json_pack("{s:I, s:I, s:I, s:I, s:I}", "resourceVersion", (json_int_t)store.rv,
                       "compacted", (json_int_t)store.compacted_rv, "watches",
                       (json_int_t)store.n_watches, "log", (json_int_t)store.n_log, "serving",
                       (json_int_t)n_serving);

        json_object_set_new(st, "bytes", bytes);
        json_object_set_new(st, "lists",
                            json_pack("{s:I, s:I, s:I}", "cache", (json_int_t)n_lists_cache,
                                      "at_version", (json_int_t)n_lists_at_version, "latest",
                                      (json_int_t)n_lists_latest));
        pthread_mutex_unlock(&store.mu);
        json_decref(in);
        return send_json(c, 200, st);
    } else {
        pthread_mutex_unlock(&store.mu);
        json_decref(in);
        return send_status(c, 404, "NotFound", "no such admin endpoint", NULL, 0);
    }
    pthread_mutex_unlock(&store.mu);
    json_decref(in);
    ret = send_text(c, 200, str_printf("{\"ok\":true}"), 0);
    return ret;
}

/* ---- write log ------------------------------------------------------------------------ */

/* Every write (method other than GET/HEAD), with the client's User-Agent and the wall-clock
 * time it arrived (ms), so that tests can prove who changed the cluster, that a dry run
 * changed nothing, and time a reaction against the Exoscale emulator's call times. Reset with
 * POST /admin/writes/reset; past WRITE_LOG_MAX the log says so rather than undercount. */
#define WRITE_LOG_MAX 8192

struct write_rec {
    char method[8];
    char path[200];
    char agent[64];
    long long at_ms;
};

static struct write_rec write_log[WRITE_LOG_MAX];
static size_t n_writes;
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

static void
write_note(struct MHD_Connection *c, const char *method, const char *url)
{
    const char *agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    struct write_rec *w;
    struct timespec ts;

    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&write_mu);
    if (n_writes < WRITE_LOG_MAX) {
        w = &write_log[n_writes];
        snprintf(w->method, sizeof(w->method), "%s", method);
        snprintf(w->path, sizeof(w->path), "%s", url);
        snprintf(w->agent, sizeof(w->agent), "%s", agent ? agent : "");
        w->at_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    n_writes++;
    pthread_mutex_unlock(&write_mu);
}

static enum MHD_Result
write_admin(struct MHD_Connection *c, const char *method, const char *url)
{
    json_t *arr, *out;
    size_t i;

    if (!strcmp(url, "/admin/writes/reset") && !strcmp(method, "POST")) {
        pthread_mutex_lock(&write_mu);
        n_writes = 0;
        pthread_mutex_unlock(&write_mu);
        return send_text(c, 200, str_printf("{\"ok\":true}"), 0);
    }
    if (strcmp(url, "/admin/writes") != 0 || strcmp(method, "GET") != 0)
        return send_status(c, 404, "NotFound",
                           "admin: GET /admin/writes or POST /admin/writes/reset", NULL, 0);
    arr = json_array();
    pthread_mutex_lock(&write_mu);
    for (i = 0; i < n_writes && i < WRITE_LOG_MAX; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:I}", "method", write_log[i].method,
                                        "path", write_log[i].path, "agent", write_log[i].agent,
                                        "at_ms", (json_int_t)write_log[i].at_ms));
    out = json_pack("{s:I, s:b, s:o}", "total", (json_int_t)n_writes, "truncated",
                    n_writes > WRITE_LOG_MAX, "writes", arr);
    pthread_mutex_unlock(&write_mu);
    return send_json(c, 200, out);
}

/* ---- request log ---------------------------------------------------------------------- */

/* With NSC_KUBE_REQUEST_LOG=FILE, every API request (reads too, unlike the write log) is
 * appended to FILE as "METHOD PATH WATCH AGENT", WATCH being "watch" or "-". The RBAC test
 * derives the verbs a client used from it. One write(2) per line on an O_APPEND file, so
 * that concurrent requests and several emulators sharing a file never interleave lines. */
static int request_log_fd = -1;

static void
request_note(struct MHD_Connection *c, const char *method, const char *url, int watch)
{
    const char *agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    char line[1024], ag[128];
    size_t i;
    int n;

    if (request_log_fd < 0)
        return;
    /* spaces in an agent would break the fields; keep the line parseable */
    snprintf(ag, sizeof(ag), "%s", agent && *agent ? agent : "-");
    for (i = 0; ag[i]; i++)
        if (ag[i] == ' ' || ag[i] == '\n')
            ag[i] = '_';
    n = snprintf(line, sizeof(line), "%s %s %s %s\n", method, url, watch ? "watch" : "-", ag);
    if (n <= 0 || (size_t)n >= sizeof(line))
        return;
    if (write(request_log_fd, line, (size_t)n) != n)
        fprintf(stderr, "kube-emulator: NSC_KUBE_REQUEST_LOG: write failed: %s\n",
                strerror(errno));
}

/* ---- dispatch ------------------------------------------------------------------------- */

static enum MHD_Result serve(struct MHD_Connection *c, const char *url, const char *method,
                             struct req_ctx *rc);

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct req_ctx *rc = *con_cls;
    enum MHD_Result ret;

    (void)cls;
    (void)version;
    if (rc == NULL) {
        rc = calloc(1, sizeof(*rc));
        if (rc == NULL)
            return MHD_NO;
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rc->len + *upload_size > BODY_MAX) {
            rc->too_big = 1;
        } else {
            rc->body = realloc(rc->body, rc->len + *upload_size + 1);
            if (rc->body == NULL)
                return MHD_NO;
            memcpy(rc->body + rc->len, upload, *upload_size);
            rc->len += *upload_size;
            rc->body[rc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rc->too_big)
        return send_status(c, 413, "RequestEntityTooLarge", "request body too large", NULL, 0);
    if (!strncmp(url, "/admin/writes", 13))
        return write_admin(c, method, url);
    if (!strncmp(url, "/admin/", 7))
        return do_admin(c, url, rc->body, rc->len);
    pthread_mutex_lock(&store.mu);
    n_serving++;
    pthread_mutex_unlock(&store.mu);
    ret = serve(c, url, method, rc);
    pthread_mutex_lock(&store.mu);
    n_serving--;
    pthread_mutex_unlock(&store.mu);
    return ret;
}

/* One API request: faults, authorization, then the verb. */
static enum MHD_Result
serve(struct MHD_Connection *c, const char *url, const char *method, struct req_ctx *rc)
{
    struct route rt;
    enum MHD_Result ret;
    int watch;

    write_note(c, method, url);
    request_note(c, method, url, !strcmp(method, "GET") && is_true_arg(qarg(c, "watch")));
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/livez"))
        return send_text(c, 200, str_printf("ok"), 0);
    if (!strcmp(url, "/version"))
        return send_text(
            c, 200,
            str_printf("{\"major\":\"1\",\"minor\":\"%d\",\"gitVersion\":\"v1.%d.0-emulator\"}",
                       version_minor, version_minor),
            0);
    watch = !strcmp(method, "GET") && is_true_arg(qarg(c, "watch"));
    if (route_parse(url, &rt) != 0) {
        if (check_fault(c, method, url, watch, &ret))
            return ret;
        return send_status(c, 404, "NotFound",
                           "the server could not find the requested resource", json_object(),
                           0);
    }
    if (check_auth(c, method, &rt, watch, &ret))
        return ret;
    if (check_fault(c, method, url, watch, &ret))
        return ret;
    if (!strcmp(method, "GET")) {
        if (rt.sub[0] && strcmp(rt.sub, "status"))
            return send_status(
                c, 405, "MethodNotAllowed",
                "the server does not allow this method on the requested resource", NULL, 0);
        if (watch)
            return do_watch(c, &rt);
        if (rt.name[0] == '\0')
            return do_list(c, &rt);
        pthread_mutex_lock(&store.mu);
        {
            struct kst_obj *o = kst_get(&store, rt.res, rt.ns, rt.name);

            if (o == NULL) {
                pthread_mutex_unlock(&store.mu);
                return not_found(c, &rt, rt.name);
            }
            ret = send_obj(c, 200, o, rt.res, rt.api_version);
        }
        pthread_mutex_unlock(&store.mu);
        return ret;
    }
    return do_write(c, method, &rt, rc->body, rc->len);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *rc = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (rc) {
        free(rc->body);
        free(rc);
        *con_cls = NULL;
    }
}

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: kube-emulator [--port=N] [--port-file=FILE] [--token=T] [--unbound-token=T]\n"
        "                     [--version-minor=N] [--bookmark-ms=MS] [--load=FILE.json]\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"port-file", required_argument, NULL, 'f'},
                                         {"token", required_argument, NULL, 't'},
                                         {"unbound-token", required_argument, NULL, 'u'},
                                         {"version-minor", required_argument, NULL, 'v'},
                                         {"bookmark-ms", required_argument, NULL, 'b'},
                                         {"load", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    const char *port_file = NULL, *load = NULL;
    int port = 0, ch;
    const union MHD_DaemonInfo *info;
    sigset_t stop_sigs, old_mask;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'f':
            port_file = optarg;
            break;
        case 't':
            admin_token = optarg;
            break;
        case 'u':
            unbound_token = optarg;
            break;
        case 'v':
            version_minor = atoi(optarg);
            break;
        case 'b':
            bookmark_ms = atol(optarg);
            break;
        case 'l':
            load = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (port < 0 || port > 65535 || bookmark_ms <= 0) {
        usage();
        return 2;
    }
    if (getenv("NSC_KUBE_REQUEST_LOG") != NULL && *getenv("NSC_KUBE_REQUEST_LOG") != '\0') {
        const char *rl = getenv("NSC_KUBE_REQUEST_LOG");

        request_log_fd = open(rl, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (request_log_fd < 0) {
            fprintf(stderr, "kube-emulator: NSC_KUBE_REQUEST_LOG %s: %s\n", rl,
                    strerror(errno));
            return 1;
        }
    }
    kst_init(&store);
    if (load) {
        json_error_t jerr;
        json_t *j = json_load_file(load, 0, &jerr);

        if (j == NULL) {
            fprintf(stderr, "kube-emulator: --load %s: line %d: %s\n", load, jerr.line,
                    jerr.text);
            return 1;
        }
        load_items(json_object_get(j, "items"));
        json_decref(j);
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    /* only the main thread takes SIGTERM/SIGINT (libmicrohttpd's threads inherit the
     * mask): a signal handled by another thread would leave main asleep */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, &old_mask);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)3600, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "kube-emulator: cannot listen on 127.0.0.1:%d: %s\n", port,
                strerror(errno));
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    port = info ? info->port : port;
    if (port_file) {
        FILE *f = fopen(port_file, "w");

        if (f == NULL) {
            fprintf(stderr, "kube-emulator: --port-file %s: %s\n", port_file, strerror(errno));
            MHD_stop_daemon(d);
            return 1;
        }
        fprintf(f, "%d\n", port);
        fclose(f);
    }
    fprintf(stderr, "kube-emulator: listening on http://127.0.0.1:%d\n", port);
    while (!stop_flag)
        sigsuspend(&old_mask);
    /* wake watches so their threads end */
    pthread_mutex_lock(&store.mu);
    store.drop_gen++;
    pthread_cond_broadcast(&store.cond);
    pthread_mutex_unlock(&store.mu);
    MHD_stop_daemon(d);
    kst_destroy(&store);
    return 0;
}
