/* Informers on one curl multi handle: paginated lists (blocking, bounded by timeouts),
 * watches as streaming transfers cut into lines, events applied to a key index so that a
 * relist can report what disappeared, and a wake-up for the control loop. */
#include "config.h"

#include "kube/informer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define LIST_TIMEOUT_MS 120000
#define PATH_MAX_LEN 4096

struct kube_informer {
    struct kube_informers *set;
    char *name, *path, *kind, *query; /* query: escaped selectors, or "" */
    int page_limit;
    kube_event_fn *on_event;
    void *ud;
    kube_wake_fn *wake_if;
    struct kube_reflector refl;
    /* key "namespace/name" -> integer (list generation << 1 | wake state) */
    json_t *index;
    json_int_t generation;
    /* the running watch */
    CURL *easy;
    struct curl_slist *headers;
    struct kube_lines lines;
    long http_status;
    char *err_body;
    size_t err_len;
    int stopped; /* an ERROR event or a bad line stopped the transfer */
    int bad_stream;
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

static int
object_key(const json_t *obj, char *key, size_t len)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));

    if (name == NULL || *name == '\0')
        return NSC_ERR_INVALID;
    if ((size_t)snprintf(key, len, "%s/%s", ns ? ns : "", name) >= len)
        return NSC_ERR_INVALID;
    return 0;
}

/* Apply an add/update/delete to the index, wake the loop if wanted, call the handler. */
static void
deliver(struct kube_informer *inf, enum kube_event_type type, json_t *obj)
{
    char key[512];
    json_t *old;
    int was_wake = 0, is_wake = 0;

    if (object_key(obj, key, sizeof(key)) != 0) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: ignoring an object without metadata.name",
                inf->name);
        return;
    }
    old = json_object_get(inf->index, key);
    if (old)
        was_wake = (int)(json_integer_value(old) & 1);
    if (type == KUBE_EVENT_DELETED) {
        json_object_del(inf->index, key);
    } else {
        if (type == KUBE_EVENT_ADDED && old)
            type = KUBE_EVENT_MODIFIED; /* a relist re-delivers known objects as updates */
        else if (type == KUBE_EVENT_MODIFIED && old == NULL)
            type = KUBE_EVENT_ADDED;
        is_wake = inf->wake_if ? inf->wake_if(obj) != 0 : 0;
        json_object_set_new(inf->index, key, json_integer(inf->generation << 1 | is_wake));
    }
    if (inf->on_event)
        inf->on_event(inf->ud, type, obj);
    if (is_wake && !was_wake)
        inf->set->woken = 1;
}

/* After a full list: everything not seen in it was deleted while we were not watching. */
static void
deliver_vanished(struct kube_informer *inf)
{
    const char *key;
    json_t *v, *tmp;
    void *iter_tmp;

    json_object_foreach_safe(inf->index, iter_tmp, key, v)
    {
        const char *slash;
        json_t *obj;

        (void)tmp;
        if ((json_integer_value(v) >> 1) == inf->generation)
            continue;
        slash = strchr(key, '/');
        obj = json_pack("{s:s, s:{s:s%, s:s}}", "kind", inf->kind, "metadata", "namespace", key,
                        (size_t)(slash - key), "name", slash + 1);
        if (obj == NULL)
            continue;
        if (json_string_length(
                json_object_get(json_object_get(obj, "metadata"), "namespace")) == 0)
            json_object_del(json_object_get(obj, "metadata"), "namespace");
        json_object_del(inf->index, key);
        if (inf->on_event)
            inf->on_event(inf->ud, KUBE_EVENT_DELETED, obj);
        json_decref(obj);
    }
}

/* ---- lists --------------------------------------------------------------------------- */

int
kube_list(struct kube_client *c, const char *path, const char *query, int limit,
          kube_item_fn *cb, void *ud, char *rv, size_t rv_len, struct kube_resp *resp)
{
    char url[PATH_MAX_LEN], cont_esc[2048], first_rv[64] = "";
    char *cont = NULL;
    int rc = 0, restarted = 0;

    if (limit <= 0)
        limit = 500;
    memset(resp, 0, sizeof(*resp));
    for (;;) {
        json_t *items, *item, *md;
        size_t i;
        const char *next;

        snprintf(url, sizeof(url), "%s?limit=%d%s%s%s%s", path, limit,
                 query && *query ? "&" : "", query ? query : "", cont ? "&continue=" : "",
                 cont ? kube_query_escape(cont, cont_esc, sizeof(cont_esc)) : "");
        kube_resp_clear(resp);
        rc = kube_request(c, "GET", url, NULL, NULL, LIST_TIMEOUT_MS, resp);
        if (rc == NSC_ERR_TRANSIENT && resp->status == 410 && cont && !restarted) {
            /* The continue token expired (etcd compacted past it): start again. */
            log_msg(NSC_LOG_INFO, "kube", "%s: continue token expired, listing again", path);
            free(cont);
            cont = NULL;
            restarted = 1;
            first_rv[0] = '\0';
            continue;
        }
        if (rc)
            break;
        md = json_object_get(resp->obj, "metadata");
        items = json_object_get(resp->obj, "items");
        if (!json_is_object(md) ||
            !(json_is_array(items) || json_is_null(items) || items == NULL)) {
            snprintf(resp->reason, sizeof(resp->reason), "BadResponse");
            snprintf(resp->message, sizeof(resp->message),
                     "list response has no metadata/items");
            rc = NSC_ERR_INTERNAL;
            break;
        }
        if (first_rv[0] == '\0')
            snprintf(first_rv, sizeof(first_rv), "%s",
                     json_string_value(json_object_get(md, "resourceVersion"))
                         ? json_string_value(json_object_get(md, "resourceVersion"))
                         : "");
        json_array_foreach(items, i, item)
        {
            if ((rc = cb(ud, item)) != 0)
                break;
        }
        if (rc)
            break;
        next = json_string_value(json_object_get(md, "continue"));
        free(cont);
        cont = NULL;
        if (next == NULL || *next == '\0')
            break;
        if ((cont = strdup(next)) == NULL) {
            rc = NSC_ERR_NOMEM;
            break;
        }
    }
    free(cont);
    if (rc == 0 && rv)
        snprintf(rv, rv_len, "%s", first_rv);
    return rc;
}

static int
list_item(void *ud, json_t *item)
{
    struct kube_informer *inf = ud;

    deliver(inf, KUBE_EVENT_ADDED, item);
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
    rc = kube_list(c, inf->path, inf->query, inf->page_limit, list_item, inf, rv, sizeof(rv),
                   &resp);
    if (rc == 0 && rv[0] == '\0') {
        snprintf(resp.message, sizeof(resp.message), "list has no metadata.resourceVersion");
        resp.status = 0;
        rc = NSC_ERR_INTERNAL;
    }
    if (rc == 0) {
        deliver_vanished(inf);
        kube_reflector_list_done(&inf->refl, clk->now_ms(clk->ctx), 200, rv);
        log_msg(NSC_LOG_DEBUG, "kube", "%s: listed %zu objects at resourceVersion %s",
                inf->name, json_object_size(inf->index), rv);
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
watch_line(void *ud, const char *line, size_t len)
{
    struct kube_informer *inf = ud;
    const struct kube_clock *clk = kube_client_clock(inf->set->client);
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, 0, &jerr);
    json_t *obj = json_object_get(ev, "object");
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    long code = (long)json_integer_value(json_object_get(obj, "code"));
    int stop;

    if (ev == NULL || type == NULL || !json_is_object(obj)) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: watch sent an unreadable event (%s); restarting",
                inf->name, ev ? "no type or object" : jerr.text);
        json_decref(ev);
        inf->bad_stream = 1;
        return 1;
    }
    if (strcmp(type, "ERROR") == 0) {
        const char *msg = json_string_value(json_object_get(obj, "message"));

        log_msg(code == 410 ? NSC_LOG_INFO : NSC_LOG_WARNING, "kube",
                "%s: watch error %ld: %s%s", inf->name, code, msg ? msg : "",
                code == 410 ? "; relisting" : "");
    } else if (strcmp(type, "ADDED") == 0) {
        deliver(inf, KUBE_EVENT_ADDED, obj);
    } else if (strcmp(type, "MODIFIED") == 0) {
        deliver(inf, KUBE_EVENT_MODIFIED, obj);
    } else if (strcmp(type, "DELETED") == 0) {
        deliver(inf, KUBE_EVENT_DELETED, obj);
    } else if (strcmp(type, "BOOKMARK") != 0) {
        log_msg(NSC_LOG_WARNING, "kube", "%s: watch event of unknown type \"%.32s\" ignored",
                inf->name, type);
        json_decref(ev);
        return 0;
    }
    stop = kube_reflector_watch_event(&inf->refl, clk->now_ms(clk->ctx), type, rv, code);
    json_decref(ev);
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
                "%s: watch event longer than the line limit; restarting", inf->name);
        inf->bad_stream = 1;
        return 0;
    }
    return rc ? 0 : len;
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
    curl_easy_setopt(inf->easy, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(inf->easy, CURLOPT_WRITEDATA, inf);
    curl_easy_setopt(inf->easy, CURLOPT_PRIVATE, inf);
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
        status = -1;
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
    } else if (status != 200) {
        json_t *st = inf->err_body ? json_loads(inf->err_body, 0, NULL) : NULL;
        char msg[512];

        snprintf(msg, sizeof(msg), "%s",
                 json_string_value(json_object_get(st, "message"))
                     ? json_string_value(json_object_get(st, "message"))
                     : "");
        log_redact_in_place(msg, sizeof(msg));
        log_msg(status == 410 ? NSC_LOG_INFO : NSC_LOG_WARNING, "kube",
                "%s: watch answered %ld: %s", inf->name, status, msg);
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
        json_decref(inf->index);
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
    inf->index = json_object();
    grown = realloc(s->infs, (s->n_infs + 1) * sizeof(*grown));
    if (inf->name == NULL || inf->path == NULL || inf->kind == NULL || inf->query == NULL ||
        inf->index == NULL || grown == NULL) {
        if (grown)
            s->infs = grown;
        json_decref(inf->index);
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
    return json_object_size(inf->index);
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
                    kube_reflector_watch_ended(&inf->refl, now, -1);
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
