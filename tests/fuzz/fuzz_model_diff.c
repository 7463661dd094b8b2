/* libFuzzer target: the model's two readers against each other. The text scanner must
 * refuse exactly what jansson refuses, and when both accept, the text path
 * (model_load_buffer, model_upsert_text) must build the model the jansson path
 * (model_load_json, model_upsert) builds. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "model/model.h"
#include "model/scan.h"

static const char *
str_of(const struct model *m, uint32_t id)
{
    return id == INTERN_NONE ? "(none)" : intern_str(&m->strings, id);
}

/* The id in b of a's string id (INTERN_NONE stays INTERN_NONE). */
static uint32_t
id_in(const struct model *a, uint32_t id, const struct model *b)
{
    const char *s;

    if (id == INTERN_NONE)
        return INTERN_NONE;
    s = intern_str(&a->strings, id);
    return intern_find(&b->strings, s, strlen(s));
}

static void
same_str(const struct model *a, uint32_t x, const struct model *b, uint32_t y, const char *what)
{
    if (strcmp(str_of(a, x), str_of(b, y)) != 0)
        fuzz_fail("%s: \"%s\" vs \"%s\"", what, str_of(a, x), str_of(b, y));
}

static void
same_labels(const struct model *a, const struct labelset *x, const struct model *b,
            const struct labelset *y, const char *what)
{
    uint32_t i;

    if ((x ? x->n : 0) != (y ? y->n : 0))
        fuzz_fail("%s: %u vs %u labels", what, x ? x->n : 0, y ? y->n : 0);
    for (i = 0; x && i < x->n; i++) {
        uint32_t k = id_in(a, x->l[i].key, b);
        if (k == INTERN_NONE || labels_get(y, k) == INTERN_NONE)
            fuzz_fail("%s: label %s only on one side", what, str_of(a, x->l[i].key));
        same_str(a, x->l[i].val, b, labels_get(y, k), what);
    }
}

static void
same_res(const struct model *a, const struct res *x, const struct model *b, const struct res *y,
         const char *what)
{
    uint32_t i;

    for (i = 0; i < RES_N_FIXED; i++) {
        if (x->fixed[i] != y->fixed[i])
            fuzz_fail("%s: resource %u is %lld vs %lld", what, i, (long long)x->fixed[i],
                      (long long)y->fixed[i]);
    }
    if (x->n_ext != y->n_ext)
        fuzz_fail("%s: %u vs %u extended resources", what, x->n_ext, y->n_ext);
    for (i = 0; i < x->n_ext; i++) {
        if (x->ext[i].val != res_ext_get(y, id_in(a, x->ext[i].name, b)))
            fuzz_fail("%s: resource %s differs", what, str_of(a, x->ext[i].name));
    }
}

static void
same_selector(const struct selector *x, const struct selector *y, const char *what)
{
    uint32_t i;

    if (x->n != y->n)
        fuzz_fail("%s: %u vs %u selector requirements", what, x->n, y->n);
    for (i = 0; i < x->n; i++) {
        if (x->reqs[i].op != y->reqs[i].op || x->reqs[i].n_vals != y->reqs[i].n_vals ||
            x->reqs[i].num != y->reqs[i].num)
            fuzz_fail("%s: selector requirement %u differs", what, i);
    }
}

/* Every object of a is in b with the same fields (each model has its own interner). */
static void
same_objects(const struct model *a, const struct model *b)
{
    uint32_t i, t;

    for (i = 0; i < a->pods.n_slots; i++) {
        const struct model_pod *p = a->pods.slots[i], *q;
        if (p == NULL)
            continue;
        q = model_find_pod(b, str_of(a, p->ns), p->name);
        if (q == NULL)
            fuzz_fail("pod %s/%s on one side only", str_of(a, p->ns), p->name);
        same_str(a, p->node, b, q->node, "pod nodeName");
        same_str(a, p->nominated, b, q->nominated, "pod nominatedNodeName");
        same_str(a, p->owner_kind, b, q->owner_kind, "pod owner kind");
        same_str(a, p->owner_name, b, q->owner_name, "pod owner name");
        same_str(a, p->owner_uid, b, q->owner_uid, "pod owner uid");
        if (p->phase != q->phase || p->terminating != q->terminating ||
            p->unschedulable != q->unschedulable || p->created_s != q->created_s ||
            p->deletion_s != q->deletion_s || p->grace_s != q->grace_s)
            fuzz_fail("pod %s: status fields differ", p->name);
        same_labels(a, p->labels, b, q->labels, "pod labels");
        same_labels(a, p->annotations, b, q->annotations, "pod annotations");
        if (strcmp(p->spec->key, q->spec->key) != 0)
            fuzz_fail("pod %s: spec keys differ:\n%s\n%s", p->name, p->spec->key, q->spec->key);
        if (p->spec->refs != q->spec->refs)
            fuzz_fail("pod %s: spec shared by %u vs %u pods", p->name, p->spec->refs,
                      q->spec->refs);
        same_res(a, &p->spec->req, b, &q->spec->req, "pod request");
        if (p->spec->n_ports != q->spec->n_ports || p->spec->n_claims != q->spec->n_claims ||
            p->spec->n_local_vols != q->spec->n_local_vols ||
            p->spec->n_tolerations != q->spec->n_tolerations ||
            p->spec->n_aff != q->spec->n_aff || p->spec->n_anti != q->spec->n_anti ||
            p->spec->n_spread != q->spec->n_spread || p->spec->priority != q->spec->priority ||
            p->spec->preempt_never != q->spec->preempt_never ||
            p->spec->gated != q->spec->gated || p->spec->host_network != q->spec->host_network)
            fuzz_fail("pod %s: spec fields differ", p->name);
    }
    for (i = 0; i < a->nodes.n_slots; i++) {
        const struct model_node *n = a->nodes.slots[i], *o2;
        if (n == NULL)
            continue;
        o2 = model_find_node(b, n->name);
        if (o2 == NULL)
            fuzz_fail("node %s on one side only", n->name);
        if (strcmp(n->provider_id ? n->provider_id : "-",
                   o2->provider_id ? o2->provider_id : "-"))
            fuzz_fail("node %s: providerID differs", n->name);
        same_labels(a, n->labels, b, o2->labels, "node labels");
        same_labels(a, n->annotations, b, o2->annotations, "node annotations");
        if (n->n_taints != o2->n_taints)
            fuzz_fail("node %s: %u vs %u taints", n->name, n->n_taints, o2->n_taints);
        for (t = 0; t < n->n_taints; t++) {
            same_str(a, n->taints[t].key, b, o2->taints[t].key, "taint key");
            same_str(a, n->taints[t].val, b, o2->taints[t].val, "taint value");
            if (n->taints[t].effect != o2->taints[t].effect)
                fuzz_fail("node %s: taint effect differs", n->name);
        }
        same_res(a, &n->alloc, b, &o2->alloc, "node allocatable");
        if (n->cap_cpu_m != o2->cap_cpu_m || n->cap_mem != o2->cap_mem ||
            n->unschedulable != o2->unschedulable || n->ready != o2->ready ||
            n->deleting != o2->deleting || n->ready_since_s != o2->ready_since_s ||
            n->created_s != o2->created_s)
            fuzz_fail("node %s: fields differ", n->name);
    }
    /* PDBs, PVs, PVCs and namespaces have no public lookup: compare them as the sets of
     * their names and main fields, order aside, by counting matches. */
    for (i = 0; i < a->pdbs.n_slots; i++) {
        const struct model_pdb *d = a->pdbs.slots[i];
        int found = 0;
        if (d == NULL)
            continue;
        for (t = 0; t < b->pdbs.n_slots && !found; t++) {
            const struct model_pdb *e = b->pdbs.slots[t];
            found = e && strcmp(d->name, e->name) == 0 &&
                    strcmp(str_of(a, d->ns), str_of(b, e->ns)) == 0;
            if (found) {
                if (d->sel_null != e->sel_null ||
                    d->has_min_available != e->has_min_available ||
                    d->has_max_unavailable != e->has_max_unavailable ||
                    d->min_available != e->min_available ||
                    d->max_unavailable != e->max_unavailable ||
                    d->min_available_percent != e->min_available_percent ||
                    d->max_unavailable_percent != e->max_unavailable_percent ||
                    d->disruptions_allowed != e->disruptions_allowed ||
                    d->expected_pods != e->expected_pods)
                    fuzz_fail("pdb %s: fields differ", d->name);
                same_selector(&d->sel, &e->sel, "pdb selector");
            }
        }
        if (!found)
            fuzz_fail("pdb %s on one side only", d->name);
    }
    for (i = 0; i < a->pvcs.n_slots; i++) {
        const struct model_pvc *c = a->pvcs.slots[i];
        int found = 0;
        if (c == NULL)
            continue;
        for (t = 0; t < b->pvcs.n_slots && !found; t++) {
            const struct model_pvc *e = b->pvcs.slots[t];
            found = e && strcmp(c->name, e->name) == 0 &&
                    strcmp(str_of(a, c->ns), str_of(b, e->ns)) == 0 &&
                    strcmp(str_of(a, c->volume), str_of(b, e->volume)) == 0;
        }
        if (!found)
            fuzz_fail("pvc %s differs or is on one side only", c->name);
    }
    for (i = 0; i < a->pvs.n_slots; i++) {
        const struct model_pv *v = a->pvs.slots[i];
        int found = 0;
        if (v == NULL)
            continue;
        for (t = 0; t < b->pvs.n_slots && !found; t++) {
            const struct model_pv *e = b->pvs.slots[t];
            if (e && strcmp(v->name, e->name) == 0) {
                found = 1;
                same_labels(a, v->labels, b, e->labels, "pv labels");
                if ((v->node_aff ? v->node_aff->n_terms : 0) !=
                    (e->node_aff ? e->node_aff->n_terms : 0))
                    fuzz_fail("pv %s: node affinity differs", v->name);
            }
        }
        if (!found)
            fuzz_fail("pv %s on one side only", v->name);
    }
    for (i = 0; i < a->nss.n_slots; i++) {
        const struct model_ns *s = a->nss.slots[i];
        int found = 0;
        if (s == NULL)
            continue;
        for (t = 0; t < b->nss.n_slots && !found; t++) {
            const struct model_ns *e = b->nss.slots[t];
            if (e && strcmp(s->name, e->name) == 0) {
                found = 1;
                same_labels(a, s->labels, b, e->labels, "namespace labels");
            }
        }
        if (!found)
            fuzz_fail("namespace %s on one side only", s->name);
    }
}

static void
same_model(const struct model *a, const struct model *b)
{
    if (a->pods.n_live != b->pods.n_live || a->nodes.n_live != b->nodes.n_live ||
        a->pdbs.n_live != b->pdbs.n_live || a->pvs.n_live != b->pvs.n_live ||
        a->pvcs.n_live != b->pvcs.n_live || a->nss.n_live != b->nss.n_live ||
        a->specs.n_live != b->specs.n_live)
        fuzz_fail("object counts differ (pods %u/%u, nodes %u/%u, specs %u/%u)", a->pods.n_live,
                  b->pods.n_live, a->nodes.n_live, b->nodes.n_live, a->specs.n_live,
                  b->specs.n_live);
    same_objects(a, b);
    same_objects(b, a);
}

static void
same_stats(const struct model_load_stats *x, const struct model_load_stats *y, const char *what)
{
    if (memcmp(x, y, sizeof(*x)) != 0)
        fuzz_fail("%s: stats differ: nodes %u/%u pods %u/%u pdbs %u/%u pvs %u/%u pvcs %u/%u "
                  "namespaces %u/%u skipped %u/%u ignored %u/%u",
                  what, x->n_nodes, y->n_nodes, x->n_pods, y->n_pods, x->n_pdbs, y->n_pdbs,
                  x->n_pvs, y->n_pvs, x->n_pvcs, y->n_pvcs, x->n_namespaces, y->n_namespaces,
                  x->n_skipped, y->n_skipped, x->n_ignored, y->n_ignored);
}

/* The scanner's verdict on one JSON value is jansson's. Returns false when jansson is
 * known to be wrong about the text, so the readers cannot be compared on it. */
static bool
same_verdict(const char *text, size_t size)
{
    struct scan_result r = {0};
    json_error_t jerr;
    json_t *j = json_loadb(text, size, 0, &jerr);
    char err[300] = "";
    int rc = scan_item(text, size, true, &r, err, sizeof(err));

    if (rc == NSC_ERR_NOMEM)
        fuzz_fail("scan_item ran out of memory");
    /* jansson skips a NUL byte that ends a number or a literal (it reads the byte it
     * puts back as "buffer empty"): JSON has no raw NUL, so only the scanner is right. */
    if (j != NULL && rc != 0 && memchr(text, '\0', size) != NULL) {
        scan_result_free(&r);
        json_decref(j);
        return false;
    }
    if ((rc == 0) != (j != NULL))
        fuzz_fail("scan_item %s (%s), jansson %s (%s)", rc == 0 ? "accepts" : "refuses", err,
                  j ? "accepts" : "refuses", j ? "" : jerr.text);
    if (rc != 0 && strstr(err, "at byte") == NULL)
        fuzz_fail("scan_item refused without the place: %s", err);
    scan_result_free(&r);
    json_decref(j);
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct model_load_stats sa = {0}, sb = {0};
    struct model *a, *b;
    json_error_t jerr;
    json_t *root;
    char err[300] = "", err2[300] = "";
    int ra, rb;

    fuzz_quiet();
    if (!same_verdict(text, size))
        return 0;
    a = model_new();
    b = model_new();
    if (a == NULL || b == NULL)
        fuzz_fail("model_new failed");
    root = json_loadb(text, size, 0, &jerr);
    /* As a List (or one object): model_load_buffer against model_load_json. */
    ra = model_load_buffer(a, text, size, "fuzz.json", &sa, err, sizeof(err));
    rb = root ? model_load_json(b, root, &sb, err2, sizeof(err2)) : NSC_ERR_INVALID;
    if (ra != rb)
        fuzz_fail("model_load_buffer says %d (%s), jansson and model_load_json %d (%s)", ra,
                  err, rb, root ? err2 : jerr.text);
    if (ra == 0) {
        same_stats(&sa, &sb, "List load");
        same_model(a, b);
    }
    model_free(a);
    model_free(b);
    /* As one object from a watch: model_upsert_text against model_upsert, twice so that
     * the text path meets a spec text it already knows. */
    if (root != NULL && json_is_object(root)) {
        int round;
        a = model_new();
        b = model_new();
        if (a == NULL || b == NULL)
            fuzz_fail("model_new failed");
        for (round = 0; round < 2; round++) {
            memset(&sa, 0, sizeof(sa));
            memset(&sb, 0, sizeof(sb));
            ra = model_upsert_text(a, text, size, "Pod", &sa, err, sizeof(err));
            if (ra != 0)
                fuzz_fail("model_upsert_text refused what jansson reads: %d (%s)", ra, err);
            rb = model_upsert(b, root, "Pod");
            if (rb == NSC_ERR_NOT_IMPLEMENTED)
                sb.n_ignored++;
            else if (rb < 0)
                sb.n_skipped++;
            if (sa.n_skipped != sb.n_skipped || sa.n_ignored != sb.n_ignored)
                fuzz_fail(
                    "one object, upsert %d: text path skipped %u ignored %u, jansson path %d",
                    round + 1, sa.n_skipped, sa.n_ignored, rb);
            same_model(a, b);
        }
        model_free(a);
        model_free(b);
    }
    json_decref(root);
    return 0;
}
