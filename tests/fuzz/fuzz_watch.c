/* libFuzzer target: a watch stream as the informer reads it (kube/watch.h, kube/jscan.h):
 * bytes cut into lines however the chunks fall, each line an event whose object goes to
 * the model as text (or is deleted from it) and whose type and resourceVersion drive the
 * reflector. The first input byte picks the kind the watch is for. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "kube/jscan.h"
#include "kube/watch.h"
#include "model/model.h"

/* Short enough that the fuzzer reaches the over-long line path. */
#define FUZZ_WATCH_MAX_LINE 2048

static const char *const kinds[] = {
    "Pod",      "Node", "PodDisruptionBudget", "PersistentVolume", "PersistentVolumeClaim",
    "Namespace"};

/* What one pass over the stream saw: the lines, as a count and a running hash. */
struct lines_seen {
    size_t n;
    uint64_t hash;
};

/* The informer's state for one pass: the model, the reflector, the kind watched. */
struct watch_state {
    struct model *m;
    struct kube_reflector r;
    const char *kind;
    int64_t now_ms;
    int stopped;
};

static int
count_line(void *ud, const char *line, size_t len)
{
    struct lines_seen *s = ud;
    size_t i;

    if (len == 0 || memchr(line, '\n', len) != NULL || line[len - 1] == '\r')
        fuzz_fail("the line splitter gave an empty line or one holding its end");
    s->n++;
    for (i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)line[i]) * 1099511628211u;
    s->hash = (s->hash ^ 0x100) * 1099511628211u;
    return 0;
}

/* Feed data in chunks of step bytes (whole when 0); returns the splitter's verdict. */
static int
split(const char *data, size_t size, size_t step, kube_line_fn *cb, void *ud)
{
    struct kube_lines l;
    size_t off = 0;
    int rc = 0;

    memset(&l, 0, sizeof(l));
    l.max_line = FUZZ_WATCH_MAX_LINE;
    if (step == 0)
        step = size ? size : 1;
    while (rc == 0 && off < size) {
        size_t n = size - off < step ? size - off : step;
        rc = kube_lines_feed(&l, data + off, n, cb, ud);
        off += n;
    }
    if (rc == 0 && kube_lines_pending(&l) > FUZZ_WATCH_MAX_LINE)
        fuzz_fail("the splitter holds %zu bytes of one line, over its limit of %d",
                  kube_lines_pending(&l), FUZZ_WATCH_MAX_LINE);
    kube_lines_free(&l);
    return rc;
}

static int
span_is(const struct kube_span *s, const char *lit)
{
    return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static int
span_cstr(char *buf, size_t len, const struct kube_span *s)
{
    if (s->len >= len)
        return -1;
    if (s->len)
        memcpy(buf, s->p, s->len);
    buf[s->len] = '\0';
    return 0;
}

static void
apply_delete(struct model *m, const char *kind, const char *ns, const char *name)
{
    if (!strcmp(kind, "Pod"))
        model_delete_pod(m, ns, name);
    else if (!strcmp(kind, "Node"))
        model_delete_node(m, name);
    else if (!strcmp(kind, "PodDisruptionBudget"))
        model_delete_pdb(m, ns, name);
    else if (!strcmp(kind, "PersistentVolume"))
        model_delete_pv(m, name);
    else if (!strcmp(kind, "PersistentVolumeClaim"))
        model_delete_pvc(m, ns, name);
    else
        model_delete_namespace(m, name);
    if (!strcmp(kind, "Pod") && model_find_pod(m, ns, name) != NULL)
        fuzz_fail("pod %s/%s is still in the model after its DELETED event", ns, name);
    if (!strcmp(kind, "Node") && model_find_node(m, name) != NULL)
        fuzz_fail("node %s is still in the model after its DELETED event", name);
}

/* One event, handled as the informer and the model sync handle it. */
static int
on_event(void *ud, const char *line, size_t len)
{
    struct watch_state *w = ud;
    struct kube_span type, object;
    struct kube_raw_meta meta;
    const char *rv = NULL, *t;
    char rvbuf[64], ns[256], name[256], err[256] = "";
    json_error_t jerr;
    json_t *obj = NULL;
    long code = 0;
    int stop, rc;

    w->now_ms += 10;
    kube_reflector_watch_activity(&w->r, w->now_ms);
    if (kube_raw_event(line, len, &type, &object) != 0)
        return 1; /* the informer restarts the watch */
    if (object.p < line || object.p + object.len > line + len)
        fuzz_fail("kube_raw_event returned an object outside the line");
    if (span_is(&type, "ADDED") || span_is(&type, "MODIFIED") || span_is(&type, "DELETED")) {
        if (kube_raw_meta(object.p, object.len, &meta) != 0 || meta.name.len == 0)
            return 1; /* the informer decodes it fully; enough to stop here */
        if (span_cstr(rvbuf, sizeof(rvbuf), &meta.rv) == 0)
            rv = rvbuf;
        if (span_cstr(ns, sizeof(ns), &meta.ns) != 0 ||
            span_cstr(name, sizeof(name), &meta.name) != 0)
            return 0;
        if (span_is(&type, "DELETED")) {
            apply_delete(w->m, w->kind, ns, name);
        } else {
            rc = model_upsert_text(w->m, object.p, object.len, w->kind, NULL, err, sizeof(err));
            fuzz_need_reason(rc, err, "model_upsert_text");
        }
        t = span_is(&type, "ADDED")      ? "ADDED"
            : span_is(&type, "MODIFIED") ? "MODIFIED"
                                         : "DELETED";
    } else if (span_is(&type, "BOOKMARK")) {
        if (kube_raw_meta(object.p, object.len, &meta) == 0 &&
            span_cstr(rvbuf, sizeof(rvbuf), &meta.rv) == 0)
            rv = rvbuf;
        t = "BOOKMARK";
    } else if (span_is(&type, "ERROR")) {
        if ((obj = json_loadb(object.p, object.len, 0, &jerr)) == NULL)
            return 1;
        code = (long)json_integer_value(json_object_get(obj, "code"));
        t = "ERROR";
    } else {
        return 0; /* an unknown type is ignored */
    }
    stop = kube_reflector_watch_event(&w->r, w->now_ms, t, rv, code);
    json_decref(obj);
    if (memchr(w->r.last_rv, '\0', sizeof(w->r.last_rv)) == NULL)
        fuzz_fail("the reflector's resourceVersion is not terminated");
    if (!strcmp(t, "ERROR") && !stop)
        fuzz_fail("an ERROR event (code %ld) did not stop the watch", code);
    if (stop)
        w->stopped = 1;
    return stop;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t steps[] = {1, 3, 64, 1000};
    const char *text = (const char *)data + 1;
    struct lines_seen whole, cut;
    struct watch_state w;
    int64_t wait_ms;
    size_t i, n;
    int rc, rc2;

    if (size == 0)
        return 0;
    fuzz_quiet();
    n = size - 1;
    memset(&whole, 0, sizeof(whole));
    rc = split(text, n, 0, count_line, &whole);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        memset(&cut, 0, sizeof(cut));
        rc2 = split(text, n, steps[i], count_line, &cut);
        /* After an over-long line the informer stops reading, so the lines a chunk held
         * past it are no part of the comparison: only the verdict is. */
        if (rc2 != rc || (rc == 0 && (cut.n != whole.n || cut.hash != whole.hash)))
            fuzz_fail("chunks of %zu bytes: verdict %d with %zu lines, whole: %d with %zu",
                      steps[i], rc2, cut.n, rc, whole.n);
    }

    memset(&w, 0, sizeof(w));
    w.kind = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
    w.now_ms = 1700000000000;
    w.m = model_new();
    if (w.m == NULL)
        fuzz_fail("model_new failed");
    kube_reflector_init(&w.r, NULL, w.now_ms, 42);
    if (kube_reflector_next(&w.r, w.now_ms, &wait_ms) != KUBE_REFL_LIST)
        fuzz_fail("a new reflector does not list first");
    kube_reflector_list_done(&w.r, w.now_ms, 200, "1");
    w.now_ms += 1;
    if (kube_reflector_next(&w.r, w.now_ms, &wait_ms) != KUBE_REFL_WATCH)
        fuzz_fail("a synced reflector does not watch");
    (void)kube_reflector_watch_started(&w.r, w.now_ms);
    (void)split(text, n, 0, on_event, &w);
    w.now_ms += 1000;
    kube_reflector_watch_ended(&w.r, w.now_ms, w.stopped ? 0 : 200);
    if (kube_reflector_next(&w.r, w.now_ms + 3600000, &wait_ms) == KUBE_REFL_BUSY)
        fuzz_fail("the reflector is still busy an hour after its watch ended");
    model_free(w.m);
    return 0;
}
