/* Informers on one curl multi handle: paginated lists (blocking, bounded by timeouts),
 * watches as streaming transfers cut into lines, events applied to a key index so that a
 * relist can report what disappeared, and a wake-up for the control loop. */
#include "config.h"

#include "kube/informer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/jscan.h"
#include "log.h"

#define LIST_TIMEOUT_MS 120000
#define WATCH_DEADLINE_MARGIN_MS 60000
#define WATCH_BUFFER (128L << 10) /* fewer, larger writes when events come in bursts */
#define RV_MAX 24                 /* etcd revisions are 64-bit integers: at most 20 digits */
#define PATH_MAX_LEN 4096

/* What the informer knows of one object: enough to tell, on a relist, whether an item
 * changed (resourceVersion), and to report what vanished. */
struct idx_ent {
    uint64_t hash;
    json_int_t generation; /* of the last list or event that showed the object */
    int wake;              /* it is in the wake_if state */
    char rv[RV_MAX];       /* "" when unknown or too long: always treated as changed */
    size_t key_len;
    char key[]; /* "namespace/name" */
};

/* Open addressing, linear probing, deletion by backward shift; load at most one half. */
struct idx {
    struct idx_ent **slots;
    size_t cap, n;
};

struct kube_informer {
    struct kube_informers *set;
    char *name, *path, *kind, *query; /* query: escaped selectors, or "" */
    int page_limit;
    kube_event_fn *on_event;
    kube_raw_event_fn *on_raw_event;
    void *ud;
    kube_wake_fn *wake_if;
    struct kube_reflector refl;
    struct idx index;
    json_int_t generation;
    long n_unchanged;   /* relisted items skipped: same resourceVersion as known */
    char item_err[160]; /* why a list item could not be read */
    /* the running watch */
    CURL *easy;
    struct curl_slist *headers;
    struct kube_lines lines;
    long http_status;
    char *err_body;
    size_t err_len;
    int stopped; /* an ERROR event or a bad line stopped the transfer */
    int bad_stream;
    char location[256]; /* a redirect's Location, as kube_redirect_location shows it */
};

struct kube_informers {
    struct kube_client *client;
    CURLM *multi;
    struct kube_informer **infs;
    size_t n_infs;
    volatile int woken;
};

int
kube_pod_is_unschedulable(const json_t *pod)
{
    json_t *spec = json_object_get(pod, "spec");
    json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    const char *phase =
        json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    json_t *c;
    size_t i;

    if ((node && *node) ||
        json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
        return 0;
    if (phase && strcmp(phase, "Pending") != 0)
        return 0;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        const char *r = json_string_value(json_object_get(c, "reason"));

        if (t && s && r && !strcmp(t, "PodScheduled") && !strcmp(s, "False") &&
            !strcmp(r, "Unschedulable"))
            return 1;
    }
    return 0;
}

/* ---- object index and event delivery -------------------------------------------- */

static uint64_t
idx_hash(const char *k, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static size_t
idx_slot(const struct idx *ix, const char *key, size_t n, uint64_t h)
{
    size_t mask = ix->cap - 1, i = (size_t)h & mask;

    while (ix->slots[i] && !(ix->slots[i]->hash == h && ix->slots[i]->key_len == n &&
                             memcmp(ix->slots[i]->key, key, n) == 0))
        i = (i + 1) & mask;
    return i;
}

static struct idx_ent *
idx_find(const struct idx *ix, const char *key, size_t n)
{
    if (ix->n == 0)
        return NULL;
    return ix->slots[idx_slot(ix, key, n, idx_hash(key, n))];
}

static int
idx_grow(struct idx *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : 64, i;
    struct idx_ent **slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return NSC_ERR_NOMEM;
    for (i = 0; i < ix->cap; i++) {
        struct idx_ent *e = ix->slots[i];
        size_t j;

        if (e == NULL)
            continue;
        for (j = (size_t)e->hash & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
            ;
        slots[j] = e;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

/* The entry for key, created (zeroed) when absent; NULL when out of memory. */
static struct idx_ent *
idx_upsert(struct idx *ix, const char *key, size_t n)
{
    uint64_t h = idx_hash(key, n);
    struct idx_ent *e;
    size_t i;

    if ((ix->n + 1) * 2 > ix->cap && idx_grow(ix) != 0)
        return NULL;
    i = idx_slot(ix, key, n, h);
    if (ix->slots[i])
        return ix->slots[i];
    e = calloc(1, sizeof(*e) + n + 1);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->key_len = n;
    memcpy(e->key, key, n);
    ix->slots[i] = e;
    ix->n++;
    return e;
}

static void
idx_del(struct idx *ix, const char *key, size_t n)
{
    size_t mask = ix->cap - 1, i, j;

    if (ix->n == 0)
        return;
    i = idx_slot(ix, key, n, idx_hash(key, n));
    if (ix->slots[i] == NULL)
        return;
    free(ix->slots[i]);
    ix->slots[i] = NULL;
    ix->n--;
    /* pull back the entries of the run that can now sit closer to their home */
    for (j = (i + 1) & mask; ix->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t)ix->slots[j]->hash & mask;

        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            ix->slots[i] = ix->slots[j];
            ix->slots[j] = NULL;
            i = j;
        }
    }
}

static void
idx_free(struct idx *ix)
{
    size_t i;

    for (i = 0; i < ix->cap; i++)
        free(ix->slots[i]);
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}

static int
make_key(char *key, size_t len, const char *ns, size_t ns_len, const char *name,
         size_t name_len)
{
    if (name_len == 0 || ns_len + name_len + 2 > len)
        return -1;
    if (ns_len)
        memcpy(key, ns, ns_len); /* ns may be NULL when cluster-scoped */
    key[ns_len] = '/';
    memcpy(key + ns_len + 1, name, name_len);
    key[ns_len + 1 + name_len] = '\0';
    return (int)(ns_len + 1 + name_len);
}

static int
object_key(const json_t *obj, char *key, size_t len)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *ns = json_object_get(md, "namespace");
    json_t *name = json_object_get(md, "name");

    if (!json_is_string(name))
        return -1;
    return make_key(key, len, ns ? json_string_value(ns) : "", json_string_length(ns),
                    json_string_value(name), json_string_length(name));
}

/* Record an add/update/delete of key in the index with the object's resourceVersion
 * (rv_len bytes) and wake state. Returns the type to report: an add of a known object is
 * an update (a relist re-delivers it), an update of an unknown one an add. */
static enum kube_event_type
index_apply(struct kube_informer *inf, enum kube_event_type type, const char *key, size_t n,
            const char *rv, size_t rv_len, int is_wake, int *was_wake)
{
    struct idx_ent *e = idx_find(&inf->index, key, n);

    *was_wake = e ? e->wake : 0;
    if (type == KUBE_EVENT_DELETED) {
        idx_del(&inf->index, key, n);
        return type;
    }
    if (type == KUBE_EVENT_ADDED && e)
        type = KUBE_EVENT_MODIFIED;
    else if (type == KUBE_EVENT_MODIFIED && e == NULL)
        type = KUBE_EVENT_ADDED;
    if (e == NULL && (e = idx_upsert(&inf->index, key, n)) == NULL) {
        log_msg(NSC_LOG_ERROR, "kube", "%s: out of memory indexing %s", inf->name, key);
        return type;
    }
    e->generation = inf->generation;
    e->wake = is_wake;
    if (rv && rv_len < RV_MAX) {
        memcpy(e->rv, rv, rv_len);
        e->rv[rv_len] = '\0';
    } else {
        e->rv[0] = '\0';
    }
    return type;
}

/* Apply an add/update/delete to the index, wake the loop if wanted, call the handler. */
static void
deliver(struct kube_informer *inf, enum kube_event_type type, json_t *obj)
{
    char key[512];
    int was_wake = 0, is_wake = 0, n = object_key(obj, key, sizeof(key));
    json_t *rv = json_object_get(json_object_get(obj, "metadata"), "resourceVersion");

    if (n < 0) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: ignoring an object without metadata.name",
                inf->name);
        return;
    }
    if (type != KUBE_EVENT_DELETED && inf->wake_if)
        is_wake = inf->wake_if(obj) != 0;
    type = index_apply(inf, type, key, (size_t)n, json_string_value(rv), json_string_length(rv),
                       is_wake, &was_wake);
    if (inf->on_event)
        inf->on_event(inf->ud, type, obj);
    if (is_wake && !was_wake)
        inf->set->woken = 1;
}

/* The same for an informer that hands on raw text: nothing is decoded. meta must hold
 * the name (callers fall back to decoding when the text does not give it plainly). */
static void
deliver_raw(struct kube_informer *inf, enum kube_event_type type, const char *json, size_t len,
            const struct kube_raw_meta *meta)
{
    char key[512];
    int was_wake,
        n = make_key(key, sizeof(key), meta->ns.p, meta->ns.len, meta->name.p, meta->name.len);

    if (n < 0) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: ignoring an object without metadata.name",
                inf->name);
        return;
    }
    type = index_apply(inf, type, key, (size_t)n, meta->rv.p, meta->rv.len, 0, &was_wake);
    inf->on_raw_event(inf->ud, type, json, len, meta);
}

/* Copy a resourceVersion span into rv (RV_MAX bytes); "" when too long. */
static void
rv_copy(char *rv, const char *p, size_t n)
{
    if (n >= RV_MAX)
        n = 0;
    if (n)
        memcpy(rv, p, n);
    rv[n] = '\0';
}

/* Raw delivery of an object's text: its metadata read from the text, or, when the text
 * does not give it plainly (escapes), from a decoded copy; rv (RV_MAX bytes, may be NULL)
 * receives its resourceVersion. Returns 0 or NSC_ERR_INTERNAL (the text is not JSON; err
 * says why). */
static int
deliver_text(struct kube_informer *inf, enum kube_event_type type, const char *json, size_t len,
             char *rv, char *err, size_t err_len)
{
    struct kube_raw_meta meta;
    json_error_t jerr;
    json_t *obj, *md;

    if (kube_raw_meta(json, len, &meta) == 0 && meta.name.len > 0) {
        if (rv)
            rv_copy(rv, meta.rv.p, meta.rv.len);
        deliver_raw(inf, type, json, len, &meta);
        return 0;
    }
    if ((obj = json_loadb(json, len, 0, &jerr)) == NULL) {
        snprintf(err, err_len, "an object is not JSON: %.120s", jerr.text);
        return NSC_ERR_INTERNAL;
    }
    md = json_object_get(obj, "metadata");
    memset(&meta, 0, sizeof(meta));
    meta.name.p = json_string_value(json_object_get(md, "name"));
    meta.name.len = json_string_length(json_object_get(md, "name"));
    meta.ns.p = json_string_value(json_object_get(md, "namespace"));
    meta.ns.len = json_string_length(json_object_get(md, "namespace"));
    meta.rv.p = json_string_value(json_object_get(md, "resourceVersion"));
    meta.rv.len = json_string_length(json_object_get(md, "resourceVersion"));
    if (meta.name.p == NULL)
        meta.name.len = 0;
    if (meta.ns.p == NULL)
        meta.ns.p = "";
    if (rv)
        rv_copy(rv, meta.rv.p ? meta.rv.p : "", meta.rv.len);
    deliver_raw(inf, type, json, len, &meta);
    json_decref(obj);
    return 0;
}

/* After a full list: everything not seen in it was deleted while we were not watching. */
static void
deliver_vanished(struct kube_informer *inf)
{
    struct idx_ent **gone = NULL;
    size_t n_gone = 0, i;

    for (i = 0; i < inf->index.cap; i++) {
        struct idx_ent *e = inf->index.slots[i];

        if (e == NULL || e->generation == inf->generation)
            continue;
        if (n_gone % 64 == 0) {
            struct idx_ent **g = realloc(gone, (n_gone + 64) * sizeof(*g));

            if (g == NULL)
                break; /* the rest is reported by the next relist */
            gone = g;
        }
        gone[n_gone++] = e;
    }
    for (i = 0; i < n_gone; i++) {
        const char *key = gone[i]->key, *slash = strchr(key, '/');
        json_t *obj = json_pack("{s:s, s:{s:s%, s:s}}", "kind", inf->kind, "metadata",
                                "namespace", key, (size_t)(slash - key), "name", slash + 1);

        if (obj == NULL)
            continue; /* out of memory: stays known, reported by the next relist */
        if (slash == key)
            json_object_del(json_object_get(obj, "metadata"), "namespace");
        if (inf->on_raw_event) {
            char *text = json_dumps(obj, JSON_COMPACT);
            struct kube_raw_meta meta = {
                {slash + 1, strlen(slash + 1)}, {key, (size_t)(slash - key)}, {"", 0}};

            if (text)
                inf->on_raw_event(inf->ud, KUBE_EVENT_DELETED, text, strlen(text), &meta);
            free(text);
        } else if (inf->on_event) {
            inf->on_event(inf->ud, KUBE_EVENT_DELETED, obj);
        }
        json_decref(obj);
        idx_del(&inf->index, key, gone[i]->key_len); /* frees gone[i] */
    }
    free(gone);
}

/* ---- lists --------------------------------------------------------------------------- */

struct page {
    struct kube_listscan scan;
    kube_raw_item_fn *cb;
    void *ud;
    int cb_rc; /* the callback stopped the list with this */
};

static int
page_item(void *ud, const char *json, size_t len)
{
    struct page *pg = ud;

    pg->cb_rc = pg->cb(pg->ud, json, len);
    return pg->cb_rc;
}

static int
page_sink(void *ud, const char *data, size_t len)
{
    struct page *pg = ud;

    return kube_listscan_feed(&pg->scan, data, len);
}

static int
bad_list(struct kube_resp *resp, const char *msg)
{
    snprintf(resp->reason, sizeof(resp->reason), "BadResponse");
    snprintf(resp->message, sizeof(resp->message), "%s", msg);
    return NSC_ERR_INTERNAL;
}

/* A list at a resourceVersion the server cannot serve: 410 when it is older than the
 * compaction, 504 "Too large resource version" when it is newer than the watch cache. */
static int
rv_unavailable(const struct kube_resp *resp)
{
    return resp->status == 410 ||
           (resp->status == 504 && strstr(resp->message, "Too large resource version") != NULL);
}

int
kube_list_raw_at(struct kube_client *c, const char *path, const char *query, int limit,
                 const char *from_rv, kube_raw_item_fn *cb, void *ud, char *rv, size_t rv_len,
                 struct kube_resp *resp)
{
    char url[PATH_MAX_LEN], cont_esc[2048], rv_esc[160], first_rv[64] = "";
    char *cont = NULL;
    int rc = 0, restarted = 0, page = 0;

    if (limit <= 0)
        limit = 500;
    memset(resp, 0, sizeof(*resp));
    for (;;) {
        struct page pg = {{0}, cb, ud, 0};
        json_t *md;
        const char *next;

        pg.scan.cb = page_item;
        pg.scan.ud = &pg;
        /* a continued page carries no resourceVersion: the token holds the list's */
        snprintf(url, sizeof(url), "%s?limit=%d%s%s%s%s%s%s", path, limit,
                 query && *query ? "&" : "", query ? query : "", cont ? "&continue=" : "",
                 cont ? kube_query_escape(cont, cont_esc, sizeof(cont_esc)) : "",
                 !cont && from_rv && *from_rv ? "&resourceVersion=" : "",
                 !cont && from_rv && *from_rv
                     ? kube_query_escape(from_rv, rv_esc, sizeof(rv_esc))
                     : "");
        kube_resp_clear(resp);
        rc = page++ == 0
                 ? kube_request_stream(c, url, LIST_TIMEOUT_MS, page_sink, &pg, resp)
                 : kube_request_stream_page(c, url, LIST_TIMEOUT_MS, page_sink, &pg, resp);
        if (rc < 0 && cont == NULL && from_rv && *from_rv && rv_unavailable(resp) &&
            pg.scan.n_items == 0) {
            /* As client-go's reflector: the server cannot list at that version (compacted,
             * or its cache is behind), so read the current state from storage. */
            log_msg(NSC_LOG_INFO, "kube",
                    "%s: cannot list at resourceVersion %s (%ld), listing the latest", path,
                    from_rv, resp->status);
            kube_listscan_free(&pg.scan);
            from_rv = NULL;
            page = 0;
            continue;
        }
        if (rc == NSC_ERR_TRANSIENT && resp->status == 410 && cont && !restarted) {
            /* The continue token expired (etcd compacted past it): start again from
             * storage, as the items already delivered are simply delivered again. */
            log_msg(NSC_LOG_INFO, "kube", "%s: continue token expired, listing again", path);
            kube_listscan_free(&pg.scan);
            free(cont);
            cont = NULL;
            from_rv = NULL;
            restarted = 1;
            page = 0;
            first_rv[0] = '\0';
            continue;
        }
        if (rc == 0 && kube_listscan_finish(&pg.scan) != 0)
            rc = bad_list(resp, pg.scan.err);
        else if (rc && pg.cb_rc == 0 && pg.scan.err[0])
            rc = bad_list(resp, pg.scan.err);
        if (rc) {
            kube_listscan_free(&pg.scan);
            break;
        }
        md = pg.scan.meta_len ? json_loadb(pg.scan.meta, pg.scan.meta_len, 0, NULL) : NULL;
        kube_listscan_free(&pg.scan);
        if (!json_is_object(md)) {
            json_decref(md);
            rc = bad_list(resp, "list response has no metadata/items");
            break;
        }
        if (first_rv[0] == '\0')
            snprintf(first_rv, sizeof(first_rv), "%s",
                     json_string_value(json_object_get(md, "resourceVersion"))
                         ? json_string_value(json_object_get(md, "resourceVersion"))
                         : "");
        next = json_string_value(json_object_get(md, "continue"));
        free(cont);
        cont = NULL;
        if (next && *next && (cont = strdup(next)) == NULL)
            rc = NSC_ERR_NOMEM;
        json_decref(md);
        if (rc || cont == NULL)
            break;
    }
    free(cont);
    if (rc == 0 && rv)
        snprintf(rv, rv_len, "%s", first_rv);
    return rc;
}

int
kube_list_raw(struct kube_client *c, const char *path, const char *query, int limit,
              kube_raw_item_fn *cb, void *ud, char *rv, size_t rv_len, struct kube_resp *resp)
{
    return kube_list_raw_at(c, path, query, limit, NULL, cb, ud, rv, rv_len, resp);
}

struct json_items {
    kube_item_fn *cb;
    void *ud;
    char err[160];
};

static int
json_item(void *ud, const char *json, size_t len)
{
    struct json_items *ji = ud;
    json_error_t jerr;
    json_t *item = json_loadb(json, len, 0, &jerr);
    int rc;

    if (item == NULL) {
        snprintf(ji->err, sizeof(ji->err), "a list item is not JSON: %.120s", jerr.text);
        return NSC_ERR_INTERNAL;
    }
    rc = ji->cb(ji->ud, item);
    json_decref(item);
    return rc;
}

int
kube_list(struct kube_client *c, const char *path, const char *query, int limit,
          kube_item_fn *cb, void *ud, char *rv, size_t rv_len, struct kube_resp *resp)
{
    struct json_items ji = {cb, ud, ""};
    int rc = kube_list_raw(c, path, query, limit, json_item, &ji, rv, rv_len, resp);

    if (rc && ji.err[0])
        bad_list(resp, ji.err);
    return rc;
}

/* A list item: unchanged objects (same resourceVersion as known) are only marked as
 * seen; the rest is decoded and delivered. A relist after a 410 thus costs a scan of the
 * text for what did not change, not a decode and a model update. */
static int
list_item(void *ud, const char *json, size_t len)
{
    struct kube_informer *inf = ud;
    struct kube_raw_meta m;
    json_error_t jerr;
    json_t *obj;

    /* the metadata is read once: for the unchanged check, and for a raw delivery */
    int have_meta =
        (inf->index.n > 0 || inf->on_raw_event) && kube_raw_meta(json, len, &m) == 0;

    if (have_meta && inf->index.n > 0 && m.rv.len > 0 && m.rv.len < RV_MAX) {
        char key[512];
        int n = make_key(key, sizeof(key), m.ns.p, m.ns.len, m.name.p, m.name.len);
        struct idx_ent *e = n > 0 ? idx_find(&inf->index, key, (size_t)n) : NULL;

        if (e && strlen(e->rv) == m.rv.len && memcmp(e->rv, m.rv.p, m.rv.len) == 0) {
            e->generation = inf->generation;
            inf->n_unchanged++;
            return 0;
        }
    }
    if (inf->on_raw_event && have_meta && m.name.len > 0) {
        deliver_raw(inf, KUBE_EVENT_ADDED, json, len, &m);
        return 0;
    }
    if (inf->on_raw_event)
        return deliver_text(inf, KUBE_EVENT_ADDED, json, len, NULL, inf->item_err,
                            sizeof(inf->item_err));
    obj = json_loadb(json, len, 0, &jerr);
    if (obj == NULL) {
        snprintf(inf->item_err, sizeof(inf->item_err), "a list item is not JSON: %.120s",
                 jerr.text);
        return NSC_ERR_INTERNAL;
    }
    deliver(inf, KUBE_EVENT_ADDED, obj);
    json_decref(obj);
    return 0;
}

static void
do_list(struct kube_informer *inf)
{
    struct kube_client *c = inf->set->client;
    const struct kube_clock *clk = kube_client_clock(c);
    struct kube_resp resp;
    char rv[64] = "", msg[768];
    int rc;

    inf->generation++;
    inf->item_err[0] = '\0';
    rc = kube_list_raw_at(c, inf->path, inf->query, inf->page_limit,
                          kube_reflector_list_rv(&inf->refl), list_item, inf, rv, sizeof(rv),
                          &resp);
    if (rc && inf->item_err[0])
        bad_list(&resp, inf->item_err);
    if (rc == 0 && rv[0] == '\0') {
        snprintf(resp.message, sizeof(resp.message), "list has no metadata.resourceVersion");
        resp.status = 0;
        rc = NSC_ERR_INTERNAL;
    }
    if (rc == 0) {
        deliver_vanished(inf);
        kube_reflector_list_done(&inf->refl, clk->now_ms(clk->ctx), 200, rv);
        log_msg(NSC_LOG_DEBUG, "kube", "%s: listed %zu objects at resourceVersion %s",
                inf->name, inf->index.n, rv);
    } else {
        log_msg(NSC_LOG_WARNING, "kube", "%s: list failed: %s", inf->name,
                kube_resp_describe(&resp, msg, sizeof(msg)));
        kube_reflector_list_done(&inf->refl, clk->now_ms(clk->ctx),
                                 resp.status ? resp.status : 0, NULL);
    }
    kube_resp_clear(&resp);
}

/* ---- watches ------------------------------------------------------------------------ */

static int
span_is(const struct kube_span *sp, const char *s)
{
    size_t n = strlen(s);

    return sp->len == n && memcmp(sp->p, s, n) == 0;
}

/* One watch event. Only the object is decoded (a bookmark not even that): the event's
 * envelope is read from its text. */
static int
watch_line(void *ud, const char *line, size_t len)
{
    struct kube_informer *inf = ud;
    const struct kube_clock *clk = kube_client_clock(inf->set->client);
    struct kube_span type, ospan;
    struct kube_raw_meta meta;
    json_error_t jerr;
    json_t *obj = NULL;
    const char *rv = NULL;
    char rvbuf[RV_MAX];
    long code = 0;
    int stop;

    if (kube_raw_event(line, len, &type, &ospan) != 0) {
        json_t *ev = json_loadb(line, len, 0, &jerr);

        log_msg(NSC_LOG_WARNING, "kube", "%s: watch sent an unreadable event (%s); restarting",
                inf->name, ev ? "no type or object" : jerr.text);
        json_decref(ev);
        inf->bad_stream = 1;
        return 1;
    }
    if (span_is(&type, "BOOKMARK")) {
        if (kube_raw_meta(ospan.p, ospan.len, &meta) == 0 && meta.rv.len < sizeof(rvbuf)) {
            memcpy(rvbuf, meta.rv.p, meta.rv.len);
            rvbuf[meta.rv.len] = '\0';
            rv = rvbuf;
        }
    } else if (inf->on_raw_event && !span_is(&type, "ERROR") &&
               (span_is(&type, "ADDED") || span_is(&type, "MODIFIED") ||
                span_is(&type, "DELETED"))) {
        char err[160];

        rv = rvbuf;
        if (deliver_text(inf,
                         span_is(&type, "ADDED")      ? KUBE_EVENT_ADDED
                         : span_is(&type, "MODIFIED") ? KUBE_EVENT_MODIFIED
                                                      : KUBE_EVENT_DELETED,
                         ospan.p, ospan.len, rvbuf, err, sizeof(err)) != 0) {
            log_msg(NSC_LOG_WARNING, "kube", "%s: watch sent %s; restarting", inf->name, err);
            inf->bad_stream = 1;
            return 1;
        }
    } else if (span_is(&type, "ADDED") || span_is(&type, "MODIFIED") ||
               span_is(&type, "DELETED") || span_is(&type, "ERROR")) {
        if ((obj = json_loadb(ospan.p, ospan.len, 0, &jerr)) == NULL) {
            log_msg(NSC_LOG_WARNING, "kube",
                    "%s: watch sent an unreadable object (%s); restarting", inf->name,
                    jerr.text);
            inf->bad_stream = 1;
            return 1;
        }
        rv = json_string_value(
            json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        code = (long)json_integer_value(json_object_get(obj, "code"));
    } else {
        log_msg(NSC_LOG_WARNING, "kube", "%s: watch event of unknown type \"%.*s\" ignored",
                inf->name, (int)(type.len < 32 ? type.len : 32), type.p);
        return 0;
    }
    if (span_is(&type, "ERROR")) {
        const char *msg = json_string_value(json_object_get(obj, "message"));

        log_msg(code == 410 ? NSC_LOG_INFO : NSC_LOG_WARNING, "kube",
                "%s: watch error %ld: %s%s", inf->name, code, msg ? msg : "",
                code == 410 ? "; relisting" : "");
        rv = NULL;
    } else if (obj) {
        deliver(inf,
                span_is(&type, "ADDED")      ? KUBE_EVENT_ADDED
                : span_is(&type, "MODIFIED") ? KUBE_EVENT_MODIFIED
                                             : KUBE_EVENT_DELETED,
                obj);
    }
    stop = kube_reflector_watch_event(&inf->refl, clk->now_ms(clk->ctx),
                                      span_is(&type, "ERROR")      ? "ERROR"
                                      : span_is(&type, "BOOKMARK") ? "BOOKMARK"
                                      : span_is(&type, "ADDED")    ? "ADDED"
                                      : span_is(&type, "MODIFIED") ? "MODIFIED"
                                                                   : "DELETED",
                                      rv, code);
    json_decref(obj);
    if (stop)
        inf->stopped = 1;
    return stop;
}

static size_t
watch_write(char *ptr, size_t size, size_t n, void *ud)
{
    struct kube_informer *inf = ud;
    const struct kube_clock *clk = kube_client_clock(inf->set->client);
    size_t len = size * n;
    int rc;

    if (inf->http_status == 0)
        curl_easy_getinfo(inf->easy, CURLINFO_RESPONSE_CODE, &inf->http_status);
    if (inf->http_status != 200) {
        /* an error before the stream: keep the Status body for the message */
        size_t room = 4095 - inf->err_len;

        if (inf->err_body == NULL && (inf->err_body = malloc(4096)) == NULL)
            return 0;
        if (len < room)
            room = len;
        memcpy(inf->err_body + inf->err_len, ptr, room);
        inf->err_len += room;
        inf->err_body[inf->err_len] = '\0';
        return len;
    }
    kube_reflector_watch_activity(&inf->refl, clk->now_ms(clk->ctx));
    rc = kube_lines_feed(&inf->lines, ptr, len, watch_line, inf);
    if (rc == NSC_ERR_INVALID) {
        log_msg(NSC_LOG_WARNING, "kube",
                "%s: watch event longer than the line limit (%zu bytes); relisting", inf->name,
                inf->lines.max_line ? inf->lines.max_line : KUBE_LINE_MAX_DEFAULT);
        inf->bad_stream = 1;
        return 0;
    }
    return rc ? 0 : len;
}

static size_t
watch_header(char *ptr, size_t size, size_t n, void *ud)
{
    struct kube_informer *inf = ud;
    size_t len = size * n, skip = 9;

    if (len > 9 && strncasecmp(ptr, "Location:", 9) == 0) {
        while (skip < len && (ptr[skip] == ' ' || ptr[skip] == '\t'))
            skip++;
        kube_redirect_location(ptr + skip, len - skip, inf->location, sizeof(inf->location));
    }
    return len;
}

static void
watch_cleanup(struct kube_informer *inf)
{
    if (inf->easy) {
        curl_multi_remove_handle(inf->set->multi, inf->easy);
        curl_easy_cleanup(inf->easy);
        inf->easy = NULL;
    }
    curl_slist_free_all(inf->headers);
    inf->headers = NULL;
    free(inf->err_body);
    inf->err_body = NULL;
    inf->err_len = 0;
    kube_lines_reset(&inf->lines);
}

static void
start_watch(struct kube_informer *inf)
{
    struct kube_client *c = inf->set->client;
    const struct kube_clock *clk = kube_client_clock(c);
    char path[PATH_MAX_LEN], rv_esc[192], err[512] = "";
    int timeout_s, rc;

    timeout_s = kube_reflector_watch_started(&inf->refl, clk->now_ms(clk->ctx));
    snprintf(path, sizeof(path),
             "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s%s",
             inf->path,
             kube_query_escape(kube_reflector_rv(&inf->refl), rv_esc, sizeof(rv_esc)),
             timeout_s, inf->query[0] ? "&" : "", inf->query);
    inf->easy = curl_easy_init();
    inf->http_status = 0;
    inf->stopped = inf->bad_stream = 0;
    inf->location[0] = '\0';
    if (inf->easy == NULL) {
        kube_reflector_watch_ended(&inf->refl, clk->now_ms(clk->ctx), 0);
        return;
    }
    kube_client_throttle(c);
    rc = kube_client_setup_easy(c, inf->easy, path, &inf->headers, 0, err, sizeof(err));
    if (rc) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: cannot start watch: %s", inf->name, err);
        watch_cleanup(inf);
        kube_reflector_watch_ended(&inf->refl, clk->now_ms(clk->ctx), 0);
        return;
    }
    curl_easy_setopt(inf->easy, CURLOPT_HTTPHEADER, inf->headers);
    curl_easy_setopt(inf->easy, CURLOPT_BUFFERSIZE, WATCH_BUFFER);
    curl_easy_setopt(inf->easy, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(inf->easy, CURLOPT_WRITEDATA, inf);
    curl_easy_setopt(inf->easy, CURLOPT_HEADERFUNCTION, watch_header);
    curl_easy_setopt(inf->easy, CURLOPT_HEADERDATA, inf);
    curl_easy_setopt(inf->easy, CURLOPT_PRIVATE, inf);
    /* The server ends a watch at timeoutSeconds; past that plus a margin it is hung.
     * No low-speed limit: a watch on a quiet resource rightly receives nothing. */
    curl_easy_setopt(inf->easy, CURLOPT_TIMEOUT_MS,
                     (long)timeout_s * 1000L + WATCH_DEADLINE_MARGIN_MS);
    curl_multi_add_handle(inf->set->multi, inf->easy);
}

static void
finish_watch(struct kube_informer *inf, CURLcode result)
{
    const struct kube_clock *clk = kube_client_clock(inf->set->client);
    int64_t now = clk->now_ms(clk->ctx);
    long status = inf->http_status;

    if (status == 0)
        curl_easy_getinfo(inf->easy, CURLINFO_RESPONSE_CODE, &status);
    if (inf->bad_stream) {
        status = KUBE_WATCH_BAD_STREAM;
    } else if (inf->stopped) {
        /* the reflector already chose (ERROR event) */
    } else if (result != CURLE_OK && status == 200) {
        log_msg(NSC_LOG_INFO, "kube", "%s: watch broke: %s", inf->name,
                curl_easy_strerror(result));
        status = 0;
    } else if (result != CURLE_OK) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: watch failed: %s", inf->name,
                curl_easy_strerror(result));
        status = 0;
    } else if (status >= 300 && status < 400) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: watch answered %ld %s, redirected to %s",
                inf->name, status, kube_http_reason(status),
                inf->location[0] ? inf->location : "(no Location)");
    } else if (status != 200) {
        json_t *st = inf->err_body ? json_loads(inf->err_body, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(st, "message"));
        char msg[512];

        log_redact_copy(msg, sizeof(msg), m ? m : "", m ? strlen(m) : 0);
        log_msg(status == 410 ? NSC_LOG_INFO : NSC_LOG_WARNING, "kube",
                "%s: watch answered %ld %s: %s", inf->name, status, kube_http_reason(status),
                msg);
        json_decref(st);
    }
    watch_cleanup(inf);
    kube_reflector_watch_ended(&inf->refl, now, status);
}

/* ---- the set ------------------------------------------------------------------------ */

int
kube_informers_new(struct kube_client *client, struct kube_informers **out)
{
    struct kube_informers *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return NSC_ERR_NOMEM;
    s->client = client;
    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        free(s);
        return NSC_ERR_NOMEM;
    }
    *out = s;
    return 0;
}

void
kube_informers_free(struct kube_informers *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n_infs; i++) {
        struct kube_informer *inf = s->infs[i];

        watch_cleanup(inf);
        kube_lines_free(&inf->lines);
        idx_free(&inf->index);
        free(inf->name);
        free(inf->path);
        free(inf->kind);
        free(inf->query);
        free(inf);
    }
    free(s->infs);
    curl_multi_cleanup(s->multi);
    free(s);
}

static char *
build_query(const struct kube_informer_opts *o)
{
    char fs[1024] = "", ls[1024] = "";
    char *q = malloc(2200);

    if (q == NULL)
        return NULL;
    if (o->field_selector)
        kube_query_escape(o->field_selector, fs, sizeof(fs));
    if (o->label_selector)
        kube_query_escape(o->label_selector, ls, sizeof(ls));
    snprintf(q, 2200, "%s%s%s%s%s", fs[0] ? "fieldSelector=" : "", fs,
             fs[0] && ls[0] ? "&" : "", ls[0] ? "labelSelector=" : "", ls);
    return q;
}

int
kube_informers_add(struct kube_informers *s, const struct kube_informer_opts *o,
                   struct kube_informer **out)
{
    struct kube_informer *inf = calloc(1, sizeof(*inf));
    struct kube_informer **grown;
    const struct kube_clock *clk = kube_client_clock(s->client);

    if (inf == NULL)
        return NSC_ERR_NOMEM;
    inf->set = s;
    inf->name = strdup(o->name ? o->name : o->path);
    inf->path = strdup(o->path);
    inf->kind = strdup(o->kind ? o->kind : "");
    inf->query = build_query(o);
    grown = realloc(s->infs, (s->n_infs + 1) * sizeof(*grown));
    if (inf->name == NULL || inf->path == NULL || inf->kind == NULL || inf->query == NULL ||
        grown == NULL) {
        if (grown)
            s->infs = grown;
        free(inf->name);
        free(inf->path);
        free(inf->kind);
        free(inf->query);
        free(inf);
        return NSC_ERR_NOMEM;
    }
    s->infs = grown;
    inf->page_limit = o->page_limit > 0 ? o->page_limit : 500;
    inf->on_event = o->on_event;
    inf->on_raw_event = o->on_raw_event;
    inf->ud = o->ud;
    inf->wake_if = o->wake_if;
    kube_reflector_init(&inf->refl, &o->reflector, clk->now_ms(clk->ctx),
                        (uint64_t)(uintptr_t)inf ^ (uint64_t)kube_wall_ms());
    s->infs[s->n_infs++] = inf;
    if (out)
        *out = inf;
    return 0;
}

void
kube_informers_wake(struct kube_informers *s)
{
    s->woken = 1;
    curl_multi_wakeup(s->multi);
}

int
kube_informers_synced(const struct kube_informers *s)
{
    size_t i;

    for (i = 0; i < s->n_infs; i++)
        if (!s->infs[i]->refl.synced)
            return 0;
    return 1;
}

struct kube_informer *
kube_informers_find(struct kube_informers *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n_infs; i++)
        if (strcmp(s->infs[i]->name, name) == 0)
            return s->infs[i];
    return NULL;
}

const struct kube_reflector *
kube_informer_reflector(const struct kube_informer *inf)
{
    return &inf->refl;
}

size_t
kube_informer_size(const struct kube_informer *inf)
{
    return inf->index.n;
}

long
kube_informer_n_unchanged(const struct kube_informer *inf)
{
    return inf->n_unchanged;
}

int
kube_informers_run(struct kube_informers *s, int64_t timeout_ms)
{
    const struct kube_clock *clk = kube_client_clock(s->client);
    int64_t deadline = clk->now_ms(clk->ctx) + timeout_ms;

    for (;;) {
        int64_t now = clk->now_ms(clk->ctx), wait = deadline - now;
        int running = 0;
        CURLMsg *msg;
        size_t i;

        if (s->woken) {
            s->woken = 0;
            return 1;
        }
        if (wait <= 0)
            return 0;
        for (i = 0; i < s->n_infs; i++) {
            struct kube_informer *inf = s->infs[i];
            int64_t w = 0;

            switch (kube_reflector_next(&inf->refl, now, &w)) {
            case KUBE_REFL_LIST:
                do_list(inf);
                now = clk->now_ms(clk->ctx);
                if (kube_reflector_next(&inf->refl, now, &w) == KUBE_REFL_WATCH)
                    start_watch(inf);
                else if (w > 0 && w < wait)
                    wait = w;
                break;
            case KUBE_REFL_WATCH:
                start_watch(inf);
                break;
            case KUBE_REFL_WAIT:
                if (w < wait)
                    wait = w;
                break;
            case KUBE_REFL_BUSY:
                if (inf->easy && kube_reflector_watch_silent(&inf->refl, now)) {
                    log_msg(NSC_LOG_WARNING, "kube",
                            "%s: watch silent past its timeout; restarting", inf->name);
                    watch_cleanup(inf);
                    kube_reflector_watch_ended(&inf->refl, now, KUBE_WATCH_STOPPED);
                    wait = 0;
                }
                break;
            }
        }
        if (s->woken)
            continue;
        if (wait > 1000)
            wait = 1000; /* re-check silence and deadlines at least every second */
        if (wait < 0)
            wait = 0;
        /* perform first: a watch added above has no socket to poll yet */
        curl_multi_perform(s->multi, &running);
        curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL);
        curl_multi_perform(s->multi, &running);
        while ((msg = curl_multi_info_read(s->multi, &running)) != NULL) {
            struct kube_informer *inf = NULL;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&inf);
            if (inf)
                finish_watch(inf, msg->data.result);
        }
    }
}
