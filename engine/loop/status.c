/* The status ConfigMap: Go's ClusterAutoscalerStatus rendered as YAML in field order,
 * transition times kept per condition, and a read-create-or-replace that retries a 409 once. */
#include "config.h"

#include "loop/status.h"

#include "log.h"

#include "kube/client.h"
#include "kube/writes.h"

#include <nodescaler/backend.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Transition memory for one condition. */
struct status_cond {
    int value; /* -1: never seen */
    int64_t since_ms;
};

struct status_group_mem {
    char *name;
    struct status_cond health, scale_up, scale_down;
};

struct status {
    struct status_cond health, scale_up, scale_down;
    struct status_group_mem *groups;
    size_t n_groups;
    char *last_key; /* the key of the last text written, NULL before the first */
};

int
status_new(struct status **out)
{
    struct status *st = calloc(1, sizeof(*st));

    *out = st;
    if (st == NULL)
        return NSC_ERR_NOMEM;
    st->health.value = st->scale_up.value = st->scale_down.value = -1;
    return 0;
}

void
status_free(struct status *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_groups; i++)
        free(st->groups[i].name);
    free(st->groups);
    free(st->last_key);
    free(st);
}

/* ---- a growing buffer ----------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) NSC_PRINTF(2, 3);

static void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p != NULL && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n + 1;
            char *p = realloc(b->p, cap);

            if (p == NULL) {
                b->oom = true;
                return;
            }
            b->p = p;
            b->cap = cap;
        }
    }
}

/* A YAML scalar for any string: plain when it cannot be read as anything else (letters
 * first, then letters, digits, '.', '_', '-', '/'), else double-quoted with JSON escapes,
 * which YAML reads back the same for every byte. */
static void
sbuf_scalar(struct sbuf *b, const char *s)
{
    bool plain = s[0] != '\0' && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
    static const char *const words[] = {"true", "false", "yes",  "no",    "on",   "off", "null",
                                        "y",    "n",     "True", "False", "Null", "NULL"};

    for (const char *p = s; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == '/';
    for (size_t i = 0; plain && i < sizeof(words) / sizeof(words[0]); i++)
        plain = strcmp(s, words[i]) != 0;
    if (plain) {
        sbuf_printf(b, "%s", s);
        return;
    }
    sbuf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sbuf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            sbuf_printf(b, "\\n");
        else if (*p < 0x20 || *p == 0x7f)
            sbuf_printf(b, "\\u%04x", *p);
        else if (*p >= 0x80) {
            size_t l = log_utf8_len(p);

            /* A ConfigMap holds UTF-8 only: a byte that is not part of a character
             * becomes U+FFFD rather than failing the whole write. */
            if (l == 0)
                sbuf_printf(b, "\\ufffd");
            else {
                sbuf_printf(b, "%.*s", (int)l, (const char *)p);
                p += l - 1;
            }
        } else
            sbuf_printf(b, "%c", *p);
    }
    sbuf_printf(b, "\"");
}

/* ---- rendering -------------------------------------------------------------------------- */

static const char *
status_su_name(enum status_scale_up s)
{
    switch (s) {
    case STATUS_SU_NEEDED:
        return "Needed";
    case STATUS_SU_NOT_NEEDED:
        return "NotNeeded";
    case STATUS_SU_IN_PROGRESS:
        return "InProgress";
    case STATUS_SU_BACKOFF:
        return "Backoff";
    case STATUS_SU_NO_ACTIVITY:
    default:
        return "NoActivity";
    }
}

static void
status_time(int64_t ms, char *buf, size_t len)
{
    kube_format_time(ms, buf, len);
}

/* Go's time.Time.String() in UTC, as the "time" field: nanoseconds, zeros trimmed. */
static void
status_go_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char frac[16] = "";
    int milli = (int)(ms % 1000);

    gmtime_r(&s, &tm);
    if (milli != 0) {
        size_t n;

        snprintf(frac, sizeof(frac), ".%03d", milli);
        n = strlen(frac);
        while (frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s +0000 UTC", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void
status_note(struct status_cond *c, int value, int64_t now_ms)
{
    if (c->value != value) {
        c->value = value;
        c->since_ms = now_ms;
    }
}

/* The probe and transition lines of a condition at this indent; probe times are left out
 * of a key. */
static void
status_times(struct sbuf *b, const char *ind, const struct status_cond *c, int64_t now_ms,
             bool key)
{
    char t[40];

    if (!key) {
        status_time(now_ms, t, sizeof(t));
        sbuf_printf(b, "%slastProbeTime: \"%s\"\n", ind, t);
    }
    status_time(c->since_ms, t, sizeof(t));
    sbuf_printf(b, "%slastTransitionTime: \"%s\"\n", ind, t);
}

static void
status_counts(struct sbuf *b, const char *ind, const struct status_node_counts *n)
{
    sbuf_printf(b, "%snodeCounts:\n%s  registered:\n", ind, ind);
    sbuf_printf(b, "%s    total: %u\n%s    ready: %u\n%s    notStarted: %u\n", ind, n->total,
                ind, n->ready, ind, n->not_started);
    if (n->being_deleted)
        sbuf_printf(b, "%s    beingDeleted: %u\n", ind, n->being_deleted);
    if (n->unready || n->resource_unready)
        sbuf_printf(b, "%s    unready:\n%s      total: %u\n%s      resourceUnready: %u\n", ind,
                    ind, n->unready, ind, n->resource_unready);
    sbuf_printf(b, "%s  longUnregistered: %u\n%s  unregistered: %u\n", ind,
                n->long_unregistered, ind, n->unregistered);
}

static struct status_group_mem *
status_group_mem(struct status *st, const char *name)
{
    struct status_group_mem *g;

    for (size_t i = 0; i < st->n_groups; i++)
        if (strcmp(st->groups[i].name, name) == 0)
            return &st->groups[i];
    g = realloc(st->groups, (st->n_groups + 1) * sizeof(*g));
    if (g == NULL)
        return NULL;
    st->groups = g;
    g = &st->groups[st->n_groups];
    memset(g, 0, sizeof(*g));
    if ((g->name = strdup(name)) == NULL)
        return NULL;
    g->health.value = g->scale_up.value = g->scale_down.value = -1;
    st->n_groups++;
    return g;
}

static void
status_emit(struct sbuf *b, struct status *st, const struct status_input *in, int64_t now_ms,
            bool key)
{
    char t[64];

    if (!key) {
        status_go_time(now_ms, t, sizeof(t));
        sbuf_printf(b, "time: %s\n", t);
    }
    sbuf_printf(b, "autoscalerStatus: %s\n", in->initializing ? "Initializing" : "Running");
    if (in->message != NULL && in->message[0] != '\0') {
        sbuf_printf(b, "message: ");
        sbuf_scalar(b, in->message);
        sbuf_printf(b, "\n");
    }
    sbuf_printf(b, "clusterWide:\n  health:\n    status: %s\n",
                in->healthy ? "Healthy" : "Unhealthy");
    status_counts(b, "    ", &in->nodes);
    status_times(b, "    ", &st->health, now_ms, key);
    sbuf_printf(b, "  scaleUp:\n    status: %s\n", status_su_name(in->scale_up));
    status_times(b, "    ", &st->scale_up, now_ms, key);
    sbuf_printf(b, "  scaleDown:\n    status: %s\n",
                in->scale_down_candidates ? "CandidatesPresent" : "NoCandidates");
    if (in->scale_down_candidates)
        sbuf_printf(b, "    candidates: %u\n", in->scale_down_candidates);
    status_times(b, "    ", &st->scale_down, now_ms, key);
    sbuf_printf(b, "nodeGroups:%s\n", in->n_groups ? "" : " []");
    for (size_t i = 0; i < in->n_groups; i++) {
        const struct status_group *g = &in->groups[i];
        struct status_group_mem *m = status_group_mem(st, g->name);

        if (m == NULL) {
            b->oom = true;
            return;
        }
        sbuf_printf(b, "- name: ");
        sbuf_scalar(b, g->name);
        sbuf_printf(b, "\n  health:\n    status: %s\n", g->healthy ? "Healthy" : "Unhealthy");
        status_counts(b, "    ", &g->nodes);
        sbuf_printf(b, "    cloudProviderTarget: %d\n    minSize: %d\n    maxSize: %d\n",
                    (int)g->target, (int)g->min_size, (int)g->max_size);
        status_times(b, "    ", &m->health, now_ms, key);
        sbuf_printf(b, "  scaleUp:\n    status: %s\n", status_su_name(g->scale_up));
        if (g->scale_up == STATUS_SU_BACKOFF) {
            sbuf_printf(b, "    backoffInfo:\n      errorCode: ");
            sbuf_scalar(b, g->backoff_code ? g->backoff_code : "");
            sbuf_printf(b, "\n      errorMessage: ");
            sbuf_scalar(b, g->backoff_message ? g->backoff_message : "");
            sbuf_printf(b, "\n");
        }
        status_times(b, "    ", &m->scale_up, now_ms, key);
        sbuf_printf(b, "  scaleDown:\n    status: %s\n",
                    g->scale_down_candidates ? "CandidatesPresent" : "NoCandidates");
        if (g->scale_down_candidates)
            sbuf_printf(b, "    candidates: %u\n", g->scale_down_candidates);
        status_times(b, "    ", &m->scale_down, now_ms, key);
    }
}

int
status_render(struct status *st, const struct status_input *in, int64_t now_ms, char **text,
              char **key)
{
    struct sbuf b = {NULL, 0, 0, false}, k = {NULL, 0, 0, false};

    *text = NULL;
    if (key != NULL)
        *key = NULL;
    status_note(&st->health, in->healthy, now_ms);
    status_note(&st->scale_up, (int)in->scale_up, now_ms);
    status_note(&st->scale_down, in->scale_down_candidates > 0, now_ms);
    for (size_t i = 0; i < in->n_groups; i++) {
        const struct status_group *g = &in->groups[i];
        struct status_group_mem *m = status_group_mem(st, g->name);

        if (m == NULL)
            return NSC_ERR_NOMEM;
        status_note(&m->health, g->healthy, now_ms);
        status_note(&m->scale_up, (int)g->scale_up, now_ms);
        status_note(&m->scale_down, g->scale_down_candidates > 0, now_ms);
    }
    status_emit(&b, st, in, now_ms, false);
    if (key != NULL)
        status_emit(&k, st, in, now_ms, true);
    if (b.oom || k.oom || b.p == NULL || (key != NULL && k.p == NULL)) {
        free(b.p);
        free(k.p);
        return NSC_ERR_NOMEM;
    }
    *text = b.p;
    if (key != NULL)
        *key = k.p;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The ConfigMap to send: the one read (borrowed; NULL to create) with our status and the
 * last-updated annotation, everything else of it kept. New reference or NULL. */
static json_t *
status_object(const struct status_io *io, const json_t *read, const char *text, int64_t now_ms)
{
    json_t *cm, *md, *ann, *data;
    char when[64];

    status_go_time(now_ms, when, sizeof(when));
    if (read != NULL)
        cm = json_deep_copy(read);
    else
        cm = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                       "metadata", "name", io->name, "namespace", io->namespace);
    if (cm == NULL)
        return NULL;
    md = json_object_get(cm, "metadata");
    if (!json_is_object(md)) {
        json_object_set_new(cm, "metadata", json_object());
        md = json_object_get(cm, "metadata");
    }
    ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        json_object_set_new(md, "annotations", json_object());
        ann = json_object_get(md, "annotations");
    }
    data = json_object_get(cm, "data");
    if (!json_is_object(data)) {
        json_object_set_new(cm, "data", json_object());
        data = json_object_get(cm, "data");
    }
    if (md == NULL || ann == NULL || data == NULL ||
        json_object_set_new(ann, STATUS_ANN_LAST_UPDATED, json_string(when)) < 0 ||
        json_object_set_new(data, STATUS_KEY, json_string(text)) < 0) {
        json_decref(cm);
        return NULL;
    }
    return cm;
}

/* One read then a create or a replace; *http is the write's answer. */
static int
status_try(const struct status_io *io, const char *text, int64_t now_ms, long *http, char *err,
           size_t err_len)
{
    json_t *read = NULL, *cm;
    const char *method = "PUT";
    int rc;

    rc = io->get(io->ud, &read, http, err, err_len);
    if (rc < 0 && *http != 404)
        return rc;
    if (rc < 0)
        method = "POST";
    cm = status_object(io, rc < 0 ? NULL : read, text, now_ms);
    json_decref(read);
    if (cm == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    rc = io->send(io->ud, method, cm, http, err, err_len);
    json_decref(cm);
    return rc;
}

int
status_update(struct status *st, const struct status_io *io, const struct status_input *in,
              int64_t now_ms, bool *written, char *err, size_t err_len)
{
    char *text = NULL, *key = NULL, why[512] = "";
    long http = 0;
    int rc;

    *written = false;
    rc = status_render(st, in, now_ms, &text, &key);
    if (rc < 0) {
        snprintf(err, err_len, "status ConfigMap %s/%s: out of memory", io->namespace,
                 io->name);
        return rc;
    }
    if (st->last_key != NULL && strcmp(st->last_key, key) == 0) {
        free(text);
        free(key);
        return 0;
    }
    rc = status_try(io, text, now_ms, &http, why, sizeof(why));
    /* Created or changed by someone else between our read and our write: read again. */
    if (rc < 0 && http == 409)
        rc = status_try(io, text, now_ms, &http, why, sizeof(why));
    free(text);
    if (rc < 0) {
        snprintf(err, err_len, "status ConfigMap %s/%s not written: %s", io->namespace,
                 io->name, why);
        free(key);
        return rc;
    }
    free(st->last_key);
    st->last_key = key;
    *written = true;
    return 0;
}

/* ---- the kube client's side ------------------------------------------------------------- */

static void
status_kube_path(const struct status_kube *k, bool item, char *path, size_t len)
{
    char ens[256 * 3], enm[256 * 3];

    if (item)
        snprintf(path, len, "/api/v1/namespaces/%s/configmaps/%s",
                 kube_query_escape(k->namespace, ens, sizeof(ens)),
                 kube_query_escape(k->name, enm, sizeof(enm)));
    else
        snprintf(path, len, "/api/v1/namespaces/%s/configmaps",
                 kube_query_escape(k->namespace, ens, sizeof(ens)));
}

int
status_kube_get(void *ud, json_t **cm, long *http, char *err, size_t err_len)
{
    const struct status_kube *k = ud;
    struct kube_resp resp;
    char path[2048];
    int rc;

    *cm = NULL;
    status_kube_path(k, true, path, sizeof(path));
    rc = kube_request(k->c, "GET", path, NULL, NULL, 0, &resp);
    *http = resp.status;
    if (rc == 0) {
        *cm = resp.obj;
        resp.obj = NULL;
    } else {
        char d[384];

        snprintf(err, err_len, "GET: %s", kube_resp_describe(&resp, d, sizeof(d)));
    }
    kube_resp_clear(&resp);
    return rc;
}

int
status_kube_send(void *ud, const char *method, const json_t *cm, long *http, char *err,
                 size_t err_len)
{
    const struct status_kube *k = ud;
    struct kube_resp resp;
    char path[2048];
    int rc;

    status_kube_path(k, strcmp(method, "PUT") == 0, path, sizeof(path));
    rc = kube_request(k->c, method, path, cm, NULL, 0, &resp);
    *http = resp.status;
    if (rc < 0) {
        char d[384];

        snprintf(err, err_len, "%s: %s", method, kube_resp_describe(&resp, d, sizeof(d)));
    }
    kube_resp_clear(&resp);
    return rc;
}
