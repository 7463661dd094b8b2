/* The cluster model store: object tables, upsert/delete from Kubernetes JSON, List loading. */
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "model/parse_util.h"
#include "model/quantity.h"

void model_specs_free(struct model *m);
void model_scan_free(struct model *m);

/* ---- tables ---- */

void *
table_get(const struct model_table *t, const char *key)
{
    uint32_t slot;
    return smap_get(&t->index, key, &slot) ? t->slots[slot] : NULL;
}

int
table_put(struct model_table *t, const char *key, void *obj, void **old)
{
    uint32_t slot;
    if (old)
        *old = NULL;
    if (smap_get(&t->index, key, &slot)) {
        if (old)
            *old = t->slots[slot];
        t->slots[slot] = obj;
        return 0;
    }
    if (t->n_free) {
        slot = t->free_slots[t->n_free - 1];
    } else {
        if (t->n_slots == t->cap) {
            uint32_t ncap = t->cap ? t->cap * 2 : 64;
            void **ns = realloc(t->slots, ncap * sizeof(*ns));
            if (!ns)
                return NSC_ERR_NOMEM;
            t->slots = ns;
            t->cap = ncap;
        }
        slot = t->n_slots;
    }
    if (smap_put(&t->index, key, slot) < 0)
        return NSC_ERR_NOMEM;
    if (t->n_free)
        t->n_free--;
    else
        t->n_slots++;
    t->slots[slot] = obj;
    t->n_live++;
    return 0;
}

void *
table_del(struct model_table *t, const char *key)
{
    uint32_t slot;
    if (!smap_get(&t->index, key, &slot))
        return NULL;
    void *obj = t->slots[slot];
    uint32_t *nf = realloc(t->free_slots, (t->n_free + 1) * sizeof(*nf));
    if (nf) {
        /* Without memory for the free list the slot is simply not reused. */
        t->free_slots = nf;
        t->free_slots[t->n_free++] = slot;
    }
    t->slots[slot] = NULL;
    smap_del(&t->index, key);
    t->n_live--;
    return obj;
}

void
table_free(struct model_table *t)
{
    free(t->slots);
    free(t->free_slots);
    smap_free(&t->index);
    memset(t, 0, sizeof(*t));
}

/* ---- object lifetimes ---- */

void
model_node_free(struct model_node *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->provider_id);
    free(n->labels);
    free(n->annotations);
    free(n->taints);
    res_free(&n->alloc);
    free(n);
}

void
pod_free(struct model *m, struct model_pod *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->labels);
    free(p->annotations);
    pod_spec_release(m, p->spec);
    free(p);
}

static void
pdb_free(struct model_pdb *p)
{
    if (!p)
        return;
    free(p->name);
    selector_free(&p->sel);
    free(p);
}

static void
pv_free(struct model_pv *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->labels);
    node_selector_free(p->node_aff);
    free(p);
}

static void
pvc_free(struct model_pvc *p)
{
    if (!p)
        return;
    free(p->name);
    free(p);
}

static void
sc_free(struct model_sc *p)
{
    if (!p)
        return;
    free(p->name);
    node_selector_free(p->topo);
    free(p);
}

static void
csinode_free(struct model_csinode *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->drivers);
    free(p);
}

static void
ns_free(struct model_ns *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->labels);
    free(p);
}

struct model *
model_new(void)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (intern_init(&m->strings) < 0) {
        free(m);
        return NULL;
    }
    smap_init(&m->raw_specs);
    struct intern *in = &m->strings;
    m->s_hostname = intern_cstr(in, "kubernetes.io/hostname");
    m->s_zone = intern_cstr(in, "topology.kubernetes.io/zone");
    m->s_region = intern_cstr(in, "topology.kubernetes.io/region");
    m->s_zone_legacy = intern_cstr(in, "failure-domain.beta.kubernetes.io/zone");
    m->s_region_legacy = intern_cstr(in, "failure-domain.beta.kubernetes.io/region");
    m->s_metadata_name = intern_cstr(in, "metadata.name");
    m->s_daemonset = intern_cstr(in, "DaemonSet");
    m->s_zero_ip = intern_cstr(in, "0.0.0.0");
    m->s_unschedulable_taint = intern_cstr(in, "node.kubernetes.io/unschedulable");
    if (!m->s_unschedulable_taint) {
        model_free(m);
        return NULL;
    }
    return m;
}

void
model_free(struct model *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nodes.n_slots; i++)
        model_node_free(m->nodes.slots[i]);
    for (uint32_t i = 0; i < m->pods.n_slots; i++)
        pod_free(m, m->pods.slots[i]);
    for (uint32_t i = 0; i < m->pdbs.n_slots; i++)
        pdb_free(m->pdbs.slots[i]);
    for (uint32_t i = 0; i < m->pvs.n_slots; i++)
        pv_free(m->pvs.slots[i]);
    for (uint32_t i = 0; i < m->pvcs.n_slots; i++)
        pvc_free(m->pvcs.slots[i]);
    for (uint32_t i = 0; i < m->nss.n_slots; i++)
        ns_free(m->nss.slots[i]);
    for (uint32_t i = 0; i < m->scs.n_slots; i++)
        sc_free(m->scs.slots[i]);
    for (uint32_t i = 0; i < m->csinodes.n_slots; i++)
        csinode_free(m->csinodes.slots[i]);
    table_free(&m->nodes);
    table_free(&m->pods);
    table_free(&m->pdbs);
    table_free(&m->pvs);
    table_free(&m->pvcs);
    table_free(&m->nss);
    table_free(&m->scs);
    table_free(&m->csinodes);
    model_specs_free(m);
    model_scan_free(m);
    model_unreadable_free_all(m);
    free(m->load_dup);
    intern_free(&m->strings);
    free(m);
}

/* ---- metadata ---- */

struct meta {
    const char *name, *ns;
    json_t *obj;
};

static int
read_meta(struct pctx *c, json_t *obj, bool namespaced, struct meta *md)
{
    memset(md, 0, sizeof(*md));
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta))
        return pfail(c, "metadata", "missing or not an object");
    md->obj = meta;
    if (get_str(c, meta, "name", "metadata.name", &md->name) < 0)
        return NSC_ERR_INVALID;
    if (!md->name || !*md->name)
        return pfail(c, "metadata.name", "missing");
    if (namespaced) {
        if (get_str(c, meta, "namespace", "metadata.namespace", &md->ns) < 0)
            return NSC_ERR_INVALID;
        if (!md->ns || !*md->ns)
            return pfail(c, "metadata.namespace", "missing");
    }
    return 0;
}

static const char *
obj_ref(json_t *obj, char *buf, size_t len)
{
    json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    if (ns)
        snprintf(buf, len, "%s/%s", ns, name ? name : "?");
    else
        snprintf(buf, len, "%s", name ? name : "?");
    return buf;
}

static int
warn_skip(const char *kind, json_t *obj, const char *err, int rc)
{
    char ref[300];
    if (rc == NSC_ERR_NOMEM) {
        log_msg(NSC_LOG_ERROR, "model", "out of memory reading %s %s", kind,
                obj_ref(obj, ref, sizeof(ref)));
        return rc;
    }
    log_msg(NSC_LOG_WARNING, "model", "skipping %s %s: %s", kind,
            obj_ref(obj, ref, sizeof(ref)), err);
    return NSC_ERR_INVALID;
}

static int
ns_key(char *buf, size_t len, const char *ns, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", ns, name);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Skip an unreadable object with its warning, and remember it (unreadable.c) so that the
 * planners fail closed on it. */
static int
skip_unreadable(struct model *m, enum model_kind kind, const char *label, json_t *obj,
                const char *err, int rc)
{
    rc = warn_skip(label, obj, err, rc);
    if (rc == NSC_ERR_INVALID && model_unreadable_note(m, kind, obj, err) < 0)
        return NSC_ERR_NOMEM;
    return rc;
}

/* ---- List loads: one name per Node ---- */

bool
model_load_begin(struct model *m, struct smap *seen)
{
    if (m->load_nodes)
        return false;
    smap_init(seen);
    m->load_nodes = seen;
    m->load_item = 0;
    free(m->load_dup);
    m->load_dup = NULL;
    return true;
}

void
model_load_end(struct model *m, struct smap *seen)
{
    smap_free(seen);
    m->load_nodes = NULL;
    free(m->load_dup);
    m->load_dup = NULL;
}

/*
 * A second Node of one name in a List: one of the two would silently win, and which one
 * is an accident of order, so the whole List is refused. 0, or INVALID with m->load_dup
 * naming the node and both items.
 */
static int
load_node_seen(struct model *m, const char *name)
{
    uint32_t first;
    if (!m->load_nodes)
        return 0;
    if (m->load_dup)
        return NSC_ERR_INVALID;
    if (smap_get(m->load_nodes, name, &first)) {
        char buf[400];
        snprintf(buf, sizeof(buf), "items[%u] and items[%u] are both Node \"%.253s\"", first,
                 m->load_item, name);
        return (m->load_dup = strdup(buf)) ? NSC_ERR_INVALID : NSC_ERR_NOMEM;
    }
    return smap_put(m->load_nodes, name, m->load_item);
}

/* ---- nodes ---- */

static int
parse_node(struct pctx *c, json_t *obj, struct model_node **out)
{
    struct meta md;
    int rc = read_meta(c, obj, false, &md);
    if (rc < 0)
        return rc;
    struct model_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NSC_ERR_NOMEM;
    n->ready = -1;
    n->name = strdup(md.name);
    n->name_id = intern_cstr(&c->m->strings, md.name);
    if (!n->name || !n->name_id) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    if ((rc = parse_labelset(c, json_object_get(md.obj, "labels"), "metadata.labels", false,
                             &n->labels)) < 0 ||
        (rc = parse_labelset(c, json_object_get(md.obj, "annotations"), "metadata.annotations",
                             true, &n->annotations)) < 0 ||
        (rc = get_time(c, md.obj, "creationTimestamp", "metadata.creationTimestamp",
                       &n->created_s)) < 0)
        goto fail;
    n->deleting = json_object_get(md.obj, "deletionTimestamp") &&
                  !json_is_null(json_object_get(md.obj, "deletionTimestamp"));
    json_t *spec = json_object_get(obj, "spec");
    if (spec && !json_is_null(spec) && !json_is_object(spec)) {
        rc = pfail(c, "spec", "not an object");
        goto fail;
    }
    const char *pid;
    if ((rc = get_str(c, spec, "providerID", "spec.providerID", &pid)) < 0)
        goto fail;
    if (pid && *pid && !(n->provider_id = strdup(pid))) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    json_t *us = json_object_get(spec, "unschedulable");
    if (us && !json_is_null(us) && !json_is_boolean(us)) {
        rc = pfail(c, "spec.unschedulable", "expected a boolean");
        goto fail;
    }
    n->unschedulable = json_is_true(us);
    if ((rc = model_parse_taints(c, json_object_get(spec, "taints"), &n->taints,
                                 &n->n_taints)) < 0)
        goto fail;
    json_t *status = json_object_get(obj, "status");
    if (status && !json_is_null(status) && !json_is_object(status)) {
        rc = pfail(c, "status", "not an object");
        goto fail;
    }
    struct res cap;
    if ((rc = parse_res(c, json_object_get(status, "capacity"), "status.capacity", &cap)) < 0)
        goto fail;
    n->cap_cpu_m = cap.fixed[RES_CPU];
    n->cap_mem = cap.fixed[RES_MEMORY];
    json_t *alloc = json_object_get(status, "allocatable");
    if (alloc && !json_is_null(alloc)) {
        res_free(&cap);
        if ((rc = parse_res(c, alloc, "status.allocatable", &n->alloc)) < 0)
            goto fail;
    } else {
        n->alloc = cap;
    }
    json_t *conds = json_object_get(status, "conditions");
    if (conds && !json_is_null(conds) && !json_is_array(conds)) {
        rc = pfail(c, "status.conditions", "not an array");
        goto fail;
    }
    size_t i;
    json_t *cd;
    json_array_foreach(conds, i, cd)
    {
        const char *type, *st;
        if (get_str(c, cd, "type", "status.conditions[].type", &type) < 0 ||
            get_str(c, cd, "status", "status.conditions[].status", &st) < 0) {
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        if (type && strcmp(type, "Ready") == 0) {
            n->ready = st && strcmp(st, "True") == 0    ? 1
                       : st && strcmp(st, "False") == 0 ? 0
                                                        : -1;
            if ((rc = get_time(c, cd, "lastTransitionTime",
                               "status.conditions[].lastTransitionTime", &n->ready_since_s)) <
                0)
                goto fail;
        }
    }
    *out = n;
    return 0;
fail:
    model_node_free(n);
    return rc;
}

int
model_parse_node(struct model *m, json_t *obj, struct model_node **out, char *err,
                 size_t err_len)
{
    struct pctx c = {.m = m, .err = err, .err_len = err_len};
    if (!json_is_object(obj))
        return pfail(&c, "(node)", "not a JSON object");
    return parse_node(&c, obj, out);
}

int
model_upsert_node(struct model *m, json_t *obj)
{
    char err[512] = "";
    struct pctx c = {.m = m, .err = err, .err_len = sizeof(err)};
    struct model_node *n = NULL;
    int rc =
        json_is_object(obj) ? parse_node(&c, obj, &n) : pfail(&c, "(node)", "not an object");
    if (rc < 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        int dup = name && *name ? load_node_seen(m, name) : 0;
        if (dup < 0)
            return dup;
        return skip_unreadable(m, MODEL_KIND_NODE, "node", obj, err, rc);
    }
    void *old;
    if ((rc = load_node_seen(m, n->name)) < 0 ||
        (rc = table_put(&m->nodes, n->name, n, &old)) < 0) {
        model_node_free(n);
        return rc;
    }
    model_node_free(old);
    model_unreadable_clear(m, MODEL_KIND_NODE, n->name);
    m->generation++;
    return 0;
}

int
model_delete_node(struct model *m, const char *name)
{
    bool had_record = model_unreadable_clear(m, MODEL_KIND_NODE, name);
    struct model_node *n = table_del(&m->nodes, name);
    if (!n)
        return had_record ? 0 : NSC_ERR_NOT_FOUND;
    model_node_free(n);
    m->generation++;
    return 0;
}

struct model_node *
model_find_node(const struct model *m, const char *name)
{
    return table_get(&m->nodes, name);
}

/* ---- pods ---- */

static int
parse_pod(struct pctx *c, json_t *obj, struct model_pod **out)
{
    struct meta md;
    int rc = read_meta(c, obj, true, &md);
    if (rc < 0)
        return rc;
    struct model_pod *p = calloc(1, sizeof(*p));
    if (!p)
        return NSC_ERR_NOMEM;
    struct intern *in = &c->m->strings;
    p->name = strdup(md.name);
    p->ns = intern_cstr(in, md.ns);
    if (!p->name || !p->ns) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    if ((rc = parse_labelset(c, json_object_get(md.obj, "labels"), "metadata.labels", false,
                             &p->labels)) < 0 ||
        (rc = parse_labelset(c, json_object_get(md.obj, "annotations"), "metadata.annotations",
                             true, &p->annotations)) < 0 ||
        (rc = get_time(c, md.obj, "creationTimestamp", "metadata.creationTimestamp",
                       &p->created_s)) < 0)
        goto fail;
    json_t *dt = json_object_get(md.obj, "deletionTimestamp");
    p->terminating = dt && !json_is_null(dt);
    if (p->terminating && (rc = get_time(c, md.obj, "deletionTimestamp",
                                         "metadata.deletionTimestamp", &p->deletion_s)) < 0)
        goto fail;
    p->grace_s = 30;
    json_t *tgps =
        json_object_get(json_object_get(obj, "spec"), "terminationGracePeriodSeconds");
    if (tgps && !json_is_null(tgps)) {
        if (!json_is_integer(tgps) || json_integer_value(tgps) < 0) {
            rc = pfail(c, "spec.terminationGracePeriodSeconds", "not a non-negative integer");
            goto fail;
        }
        p->grace_s = json_integer_value(tgps);
    }
    json_t *owners = json_object_get(md.obj, "ownerReferences");
    if (owners && !json_is_null(owners) && !json_is_array(owners)) {
        rc = pfail(c, "metadata.ownerReferences", "not an array");
        goto fail;
    }
    size_t i;
    json_t *o;
    json_array_foreach(owners, i, o)
    {
        if (!json_is_true(json_object_get(o, "controller")))
            continue;
        const char *kind, *name, *uid;
        if (get_str(c, o, "kind", "metadata.ownerReferences[].kind", &kind) < 0 ||
            get_str(c, o, "name", "metadata.ownerReferences[].name", &name) < 0 ||
            get_str(c, o, "uid", "metadata.ownerReferences[].uid", &uid) < 0) {
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        p->owner_kind = intern_cstr(in, kind ? kind : "");
        p->owner_name = intern_cstr(in, name ? name : "");
        p->owner_uid = intern_cstr(in, uid ? uid : "");
        break;
    }
    if ((rc = pod_spec_build(c, obj, p->ns, &p->spec)) != 0)
        goto fail;
    json_t *spec = json_object_get(obj, "spec");
    const char *nn;
    if ((rc = get_str(c, spec, "nodeName", "spec.nodeName", &nn)) < 0)
        goto fail;
    p->node = nn && *nn ? intern_cstr(in, nn) : INTERN_NONE;
    json_t *status = json_object_get(obj, "status");
    if (status && !json_is_null(status) && !json_is_object(status)) {
        rc = pfail(c, "status", "not an object");
        goto fail;
    }
    const char *phase, *nom;
    if ((rc = get_str(c, status, "phase", "status.phase", &phase)) < 0 ||
        (rc = get_str(c, status, "nominatedNodeName", "status.nominatedNodeName", &nom)) < 0)
        goto fail;
    p->nominated = nom && *nom ? intern_cstr(in, nom) : INTERN_NONE;
    if (!phase || strcmp(phase, "Pending") == 0)
        p->phase = PHASE_PENDING;
    else if (strcmp(phase, "Running") == 0)
        p->phase = PHASE_RUNNING;
    else if (strcmp(phase, "Succeeded") == 0)
        p->phase = PHASE_SUCCEEDED;
    else if (strcmp(phase, "Failed") == 0)
        p->phase = PHASE_FAILED;
    else
        p->phase = PHASE_UNKNOWN;
    json_t *conds = json_object_get(status, "conditions");
    if (conds && !json_is_null(conds) && !json_is_array(conds)) {
        rc = pfail(c, "status.conditions", "not an array");
        goto fail;
    }
    json_t *cd;
    json_array_foreach(conds, i, cd)
    {
        const char *type, *st, *reason;
        if (get_str(c, cd, "type", "status.conditions[].type", &type) < 0 ||
            get_str(c, cd, "status", "status.conditions[].status", &st) < 0 ||
            get_str(c, cd, "reason", "status.conditions[].reason", &reason) < 0) {
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        if (type && strcmp(type, "PodScheduled") == 0 && st && strcmp(st, "False") == 0 &&
            reason && strcmp(reason, "Unschedulable") == 0)
            p->unschedulable = true;
    }
    *out = p;
    return 0;
fail:
    pod_free(c->m, p);
    return rc;
}

/* Store p under key, freeing the pod it replaces. 0, or NOMEM with p freed. */
static int
pod_store(struct model *m, struct model_pod *p, const char *key)
{
    void *old;
    int rc = table_put(&m->pods, key, p, &old);
    if (rc < 0) {
        pod_free(m, p);
        return rc;
    }
    pod_free(m, old);
    model_unreadable_clear(m, MODEL_KIND_POD, key);
    m->generation++;
    return 0;
}

int
model_upsert_pod_ctx(struct model *m, json_t *obj, const char *raw_spec, size_t raw_spec_len,
                     bool raw_only)
{
    char err[512] = "", key[600];
    struct pctx c = {m, err, sizeof(err), raw_spec, raw_spec_len, raw_only};
    struct model_pod *p = NULL;
    int rc = json_is_object(obj) ? parse_pod(&c, obj, &p) : pfail(&c, "(pod)", "not an object");
    if (rc == POD_SPEC_MISS)
        return rc;
    if (rc < 0)
        return skip_unreadable(m, MODEL_KIND_POD, "pod", obj, err, rc);
    if (ns_key(key, sizeof(key), intern_str(&m->strings, p->ns), p->name) < 0) {
        pod_free(m, p);
        return skip_unreadable(m, MODEL_KIND_POD, "pod", obj, "name too long", NSC_ERR_INVALID);
    }
    return pod_store(m, p, key);
}

int
model_upsert_pod(struct model *m, json_t *obj)
{
    return model_upsert_pod_ctx(m, obj, NULL, 0, false);
}

int
model_upsert_pod_fast(struct model *m, const char *doc, size_t len, const char *raw_spec,
                      size_t raw_spec_len)
{
    char key[600];
    struct model_pod *p;
    int rc = pod_from_text(m, doc, len, raw_spec, raw_spec_len, &p);
    if (rc != 0)
        return rc;
    if (ns_key(key, sizeof(key), intern_str(&m->strings, p->ns), p->name) < 0) {
        /* The tree way words the warning. */
        pod_free(m, p);
        return POD_SPEC_MISS;
    }
    return pod_store(m, p, key);
}

int
model_delete_pod(struct model *m, const char *ns, const char *name)
{
    char key[600];
    if (ns_key(key, sizeof(key), ns, name) < 0)
        return NSC_ERR_NOT_FOUND;
    bool had_record = model_unreadable_clear(m, MODEL_KIND_POD, key);
    struct model_pod *p = table_del(&m->pods, key);
    if (!p)
        return had_record ? 0 : NSC_ERR_NOT_FOUND;
    pod_free(m, p);
    m->generation++;
    return 0;
}

struct model_pod *
model_find_pod(const struct model *m, const char *ns, const char *name)
{
    char key[600];
    if (ns_key(key, sizeof(key), ns, name) < 0)
        return NULL;
    return table_get(&m->pods, key);
}

bool
model_pod_is_daemonset(const struct model *m, const struct model_pod *p)
{
    return p->owner_kind == m->s_daemonset;
}

bool
model_pod_is_mirror(const struct model *m, const struct model_pod *p)
{
    uint32_t k = intern_find(&m->strings, "kubernetes.io/config.mirror", 27);
    return k && labels_get(p->annotations, k) != INTERN_NONE;
}

const char *
model_pod_ref(const struct model *m, const struct model_pod *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", intern_str(&m->strings, p->ns), p->name);
    return buf;
}

/* ---- PDBs ---- */

static int
int_or_percent(struct pctx *c, json_t *v, const char *field, int32_t *val, bool *percent)
{
    *percent = false;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return pfail(c, field, "out of range");
        *val = (int32_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long n = strtol(s, &end, 10);
        if (end == s || errno || n < 0 || n > INT32_MAX)
            return pfail(c, field, "not an integer or percentage: \"%.30s\"", s);
        if (*end == '%' && end[1] == 0) {
            if (n > 100)
                return pfail(c, field, "percentage above 100: \"%.30s\"", s);
            *percent = true;
        } else if (*end) {
            return pfail(c, field, "not an integer or percentage: \"%.30s\"", s);
        }
        *val = (int32_t)n;
        return 0;
    }
    return pfail(c, field, "expected an integer or a percentage string");
}

static int
parse_pdb(struct pctx *c, json_t *obj, struct model_pdb **out)
{
    struct meta md;
    int rc = read_meta(c, obj, true, &md);
    if (rc < 0)
        return rc;
    struct model_pdb *p = calloc(1, sizeof(*p));
    if (!p)
        return NSC_ERR_NOMEM;
    p->name = strdup(md.name);
    p->ns = intern_cstr(&c->m->strings, md.ns);
    if (!p->name || !p->ns) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        rc = pfail(c, "spec", "missing or not an object");
        goto fail;
    }
    json_t *sel = json_object_get(spec, "selector");
    p->sel_null = !sel || json_is_null(sel);
    if ((rc = parse_selector(c, sel, "spec.selector", &p->sel)) < 0)
        goto fail;
    json_t *v = json_object_get(spec, "minAvailable");
    if (v && !json_is_null(v)) {
        p->has_min_available = true;
        if ((rc = int_or_percent(c, v, "spec.minAvailable", &p->min_available,
                                 &p->min_available_percent)) < 0)
            goto fail;
    }
    v = json_object_get(spec, "maxUnavailable");
    if (v && !json_is_null(v)) {
        p->has_max_unavailable = true;
        if ((rc = int_or_percent(c, v, "spec.maxUnavailable", &p->max_unavailable,
                                 &p->max_unavailable_percent)) < 0)
            goto fail;
    }
    json_t *status = json_object_get(obj, "status");
    v = json_object_get(status, "disruptionsAllowed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
            json_integer_value(v) > INT32_MAX) {
            rc = pfail(c, "status.disruptionsAllowed", "expected an integer");
            goto fail;
        }
        p->disruptions_allowed = (int32_t)json_integer_value(v);
    }
    v = json_object_get(status, "expectedPods");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT32_MAX)
        p->expected_pods = (int32_t)json_integer_value(v);
    *out = p;
    return 0;
fail:
    pdb_free(p);
    return rc;
}

/* ---- PV, PVC, StorageClass, namespace ---- */

/* spec.accessModes into bits. A mode this model does not know is kept as MODE_UNKNOWN: on a
 * claim it matches no PV, on a PV it grants nothing. */
static int
parse_modes(struct pctx *c, json_t *arr, uint8_t *out)
{
    *out = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, "spec.accessModes", "expected an array of strings");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            return pfail(c, "spec.accessModes", "item %zu is not a string", i);
        if (strcmp(s, "ReadWriteOnce") == 0)
            *out |= MODE_RWO;
        else if (strcmp(s, "ReadOnlyMany") == 0)
            *out |= MODE_ROX;
        else if (strcmp(s, "ReadWriteMany") == 0)
            *out |= MODE_RWX;
        else if (strcmp(s, "ReadWriteOncePod") == 0)
            *out |= MODE_RWOP;
        else
            *out |= MODE_UNKNOWN;
    }
    return 0;
}

/* A storage quantity of a resource list (spec.capacity, spec.resources.requests), bytes;
 * 0 when absent. */
static int
parse_storage(struct pctx *c, json_t *list, const char *field, int64_t *out)
{
    *out = 0;
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_object(list))
        return pfail(c, field, "expected a map of quantities");
    json_t *v = json_object_get(list, "storage");
    if (!v || json_is_null(v))
        return 0;
    char qerr[160];
    if (!json_is_string(v) || quantity_parse(json_string_value(v), json_string_length(v), NULL,
                                             out, qerr, sizeof(qerr)) < 0)
        return pfail(c, field, "storage: %s", json_is_string(v) ? qerr : "not a string");
    if (*out < 0)
        return pfail(c, field, "storage: negative quantity \"%.40s\"", json_string_value(v));
    return 0;
}

static int
parse_volume_mode(struct pctx *c, json_t *spec, bool *block)
{
    const char *vm;
    int rc = get_str(c, spec, "volumeMode", "spec.volumeMode", &vm);
    if (rc < 0)
        return rc;
    *block = vm && strcmp(vm, "Block") == 0;
    if (vm && !*block && strcmp(vm, "Filesystem") != 0)
        return pfail(c, "spec.volumeMode", "unknown mode \"%.40s\"", vm);
    return 0;
}

static int
parse_pv(struct pctx *c, json_t *obj, struct model_pv **out)
{
    struct meta md;
    int rc = read_meta(c, obj, false, &md);
    if (rc < 0)
        return rc;
    json_t *spec = json_object_get(obj, "spec");
    struct model_pv *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(md.name))) {
        free(p);
        return NSC_ERR_NOMEM;
    }
    if ((rc = parse_labelset(c, json_object_get(md.obj, "labels"), "metadata.labels", false,
                             &p->labels)) < 0)
        goto fail;
    json_t *na = json_object_get(spec, "nodeAffinity");
    if ((rc = parse_node_selector(c, json_object_get(na, "required"),
                                  "spec.nodeAffinity.required", &p->node_aff)) < 0)
        goto fail;
    const char *cls;
    if ((rc = get_str(c, spec, "storageClassName", "spec.storageClassName", &cls)) < 0 ||
        (rc = parse_modes(c, json_object_get(spec, "accessModes"), &p->modes)) < 0 ||
        (rc = parse_storage(c, json_object_get(spec, "capacity"), "spec.capacity",
                            &p->capacity)) < 0 ||
        (rc = parse_volume_mode(c, spec, &p->block)) < 0)
        goto fail;
    p->modes &= (uint8_t)~MODE_UNKNOWN;
    if (!(p->class_id = intern_cstr(&c->m->strings, cls ? cls : ""))) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    const char *driver;
    if ((rc = get_str(c, json_object_get(spec, "csi"), "driver", "spec.csi.driver", &driver)) <
        0)
        goto fail;
    if (driver && !(p->csi_driver = intern_cstr(&c->m->strings, driver))) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    json_t *ref = json_object_get(spec, "claimRef");
    if (ref && !json_is_null(ref)) {
        const char *rns, *rname;
        if (!json_is_object(ref)) {
            rc = pfail(c, "spec.claimRef", "expected an object");
            goto fail;
        }
        if ((rc = get_str(c, ref, "namespace", "spec.claimRef.namespace", &rns)) < 0 ||
            (rc = get_str(c, ref, "name", "spec.claimRef.name", &rname)) < 0)
            goto fail;
        /* A reference without a name still reserves the volume: it matches no claim. */
        p->claim_ns = intern_cstr(&c->m->strings, rns ? rns : "");
        p->claim_name = intern_cstr(&c->m->strings, rname ? rname : "");
        if (!p->claim_ns || !p->claim_name) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    pv_free(p);
    return rc;
}

static int
parse_pvc(struct pctx *c, json_t *obj, struct model_pvc **out)
{
    struct meta md;
    int rc = read_meta(c, obj, true, &md);
    if (rc < 0)
        return rc;
    json_t *spec = json_object_get(obj, "spec");
    const char *vn, *cls, *beta;
    if ((rc = get_str(c, spec, "volumeName", "spec.volumeName", &vn)) < 0 ||
        (rc = get_str(c, spec, "storageClassName", "spec.storageClassName", &cls)) < 0 ||
        (rc = get_str(c, json_object_get(md.obj, "annotations"),
                      "volume.beta.kubernetes.io/storage-class",
                      "metadata.annotations[volume.beta.kubernetes.io/storage-class]", &beta)) <
            0)
        return rc;
    struct model_pvc *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(md.name))) {
        free(p);
        return NSC_ERR_NOMEM;
    }
    if ((rc = parse_modes(c, json_object_get(spec, "accessModes"), &p->modes)) < 0 ||
        (rc = parse_storage(c, json_object_get(json_object_get(spec, "resources"), "requests"),
                            "spec.resources.requests", &p->request)) < 0 ||
        (rc = parse_volume_mode(c, spec, &p->block)) < 0)
        goto fail;
    json_t *sel = json_object_get(spec, "selector");
    p->has_selector = sel && !json_is_null(sel);
    /* The beta annotation wins over the field, as the volume binder reads them. */
    if (beta)
        cls = beta;
    p->has_class = cls != NULL;
    p->ns = intern_cstr(&c->m->strings, md.ns);
    p->volume = vn && *vn ? intern_cstr(&c->m->strings, vn) : INTERN_NONE;
    p->class_id = intern_cstr(&c->m->strings, cls ? cls : "");
    if (!p->ns || !p->class_id || (vn && *vn && !p->volume)) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    pvc_free(p);
    return rc;
}

/* allowedTopologies: each term's matchLabelExpressions become In requirements of a node
 * term; a term without expressions selects no node, as in the volume helpers. */
static int
parse_topologies(struct pctx *c, json_t *arr, struct node_selector **out)
{
    *out = NULL;
    if (!arr || json_is_null(arr) || (json_is_array(arr) && json_array_size(arr) == 0))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, "allowedTopologies", "expected an array");
    if (json_array_size(arr) > 1024)
        return pfail(c, "allowedTopologies", "more than 1024 terms");
    struct node_selector *ns = calloc(1, sizeof(*ns));
    if (!ns || !(ns->terms = calloc(json_array_size(arr), sizeof(*ns->terms)))) {
        free(ns);
        return NSC_ERR_NOMEM;
    }
    int rc = 0;
    size_t i, j, k;
    json_t *term, *ex, *v;
    json_array_foreach(arr, i, term)
    {
        struct node_term *t = &ns->terms[ns->n_terms++];
        json_t *exprs = json_object_get(term, "matchLabelExpressions");
        if (!json_is_object(term) || (exprs && !json_is_null(exprs) && !json_is_array(exprs))) {
            rc = pfail(c, "allowedTopologies", "term %zu: expected matchLabelExpressions", i);
            goto fail;
        }
        size_t n_ex = json_is_array(exprs) ? json_array_size(exprs) : 0;
        if (n_ex && !(t->exprs.reqs = calloc(n_ex, sizeof(*t->exprs.reqs)))) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        json_array_foreach(exprs, j, ex)
        {
            const char *key;
            json_t *vals = json_object_get(ex, "values");
            if (!json_is_object(ex) || !json_is_array(vals) ||
                (rc = get_str(c, ex, "key", "allowedTopologies[].matchLabelExpressions[].key",
                              &key)) < 0 ||
                !key) {
                rc = pfail(c, "allowedTopologies",
                           "term %zu, expression %zu: needs a key and values", i, j);
                goto fail;
            }
            struct sel_req *r = &t->exprs.reqs[t->exprs.n++];
            r->op = SEL_IN;
            r->key = intern_cstr(&c->m->strings, key);
            if (json_array_size(vals) &&
                !(r->vals = calloc(json_array_size(vals), sizeof(*r->vals)))) {
                rc = NSC_ERR_NOMEM;
                goto fail;
            }
            json_array_foreach(vals, k, v)
            {
                if (!json_is_string(v)) {
                    rc = pfail(c, "allowedTopologies",
                               "term %zu, expression %zu: a value is "
                               "not a string",
                               i, j);
                    goto fail;
                }
                if (!(r->vals[r->n_vals++] =
                          intern_cstr(&c->m->strings, json_string_value(v)))) {
                    rc = NSC_ERR_NOMEM;
                    goto fail;
                }
            }
            if (!r->key) {
                rc = NSC_ERR_NOMEM;
                goto fail;
            }
        }
    }
    *out = ns;
    return 0;
fail:
    node_selector_free(ns);
    return rc;
}

static int
parse_sc(struct pctx *c, json_t *obj, struct model_sc **out)
{
    struct meta md;
    int rc = read_meta(c, obj, false, &md);
    if (rc < 0)
        return rc;
    const char *mode, *prov, *def, *def_beta;
    json_t *ann = json_object_get(md.obj, "annotations");
    if ((rc = get_str(c, obj, "volumeBindingMode", "volumeBindingMode", &mode)) < 0 ||
        (rc = get_str(c, obj, "provisioner", "provisioner", &prov)) < 0 ||
        (rc = get_str(c, ann, "storageclass.kubernetes.io/is-default-class",
                      "metadata.annotations", &def)) < 0 ||
        (rc = get_str(c, ann, "storageclass.beta.kubernetes.io/is-default-class",
                      "metadata.annotations", &def_beta)) < 0)
        return rc;
    /* An unknown mode is refused rather than guessed: the class is then missing, and its
     * claims fit nowhere. */
    if (mode && strcmp(mode, "Immediate") != 0 && strcmp(mode, "WaitForFirstConsumer") != 0)
        return pfail(c, "volumeBindingMode", "unknown mode \"%.40s\"", mode);
    struct model_sc *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(md.name))) {
        free(p);
        return NSC_ERR_NOMEM;
    }
    p->wait_first_consumer = mode && strcmp(mode, "WaitForFirstConsumer") == 0;
    p->no_provisioner = !prov || strcmp(prov, "kubernetes.io/no-provisioner") == 0;
    if (!(p->provisioner = intern_cstr(&c->m->strings, prov ? prov : ""))) {
        sc_free(p);
        return NSC_ERR_NOMEM;
    }
    p->is_default =
        (def && strcmp(def, "true") == 0) || (def_beta && strcmp(def_beta, "true") == 0);
    if ((rc = parse_topologies(c, json_object_get(obj, "allowedTopologies"), &p->topo)) < 0) {
        sc_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

static int
parse_csinode(struct pctx *c, json_t *obj, struct model_csinode **out)
{
    struct meta md;
    int rc = read_meta(c, obj, false, &md);
    if (rc < 0)
        return rc;
    json_t *drivers = json_object_get(json_object_get(obj, "spec"), "drivers");
    if (drivers && !json_is_null(drivers) && !json_is_array(drivers))
        return pfail(c, "spec.drivers", "expected an array");
    struct model_csinode *p = calloc(1, sizeof(*p));
    size_t n = json_array_size(drivers);
    if (!p || !(p->name = strdup(md.name)) ||
        (n && !(p->drivers = calloc(n, sizeof(*p->drivers))))) {
        csinode_free(p);
        return NSC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(drivers, i);
        const char *name;
        char field[64];
        snprintf(field, sizeof(field), "spec.drivers[%zu].name", i);
        if ((rc = get_str(c, d, "name", field, &name)) < 0)
            goto fail;
        if (!name || !*name) {
            rc = pfail(c, field, "missing");
            goto fail;
        }
        struct model_csi_limit *l = &p->drivers[p->n_drivers++];
        if (!(l->driver = intern_cstr(&c->m->strings, name))) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        l->count = -1;
        json_t *cnt = json_object_get(json_object_get(d, "allocatable"), "count");
        if (cnt && !json_is_null(cnt)) {
            /* A count that cannot be read is taken as 0, not as no limit (which skipping
             * the object would mean): no volume of the driver is placed on the node. */
            if (!json_is_integer(cnt) || json_integer_value(cnt) < 0) {
                log_msg(NSC_LOG_WARNING, "model",
                        "csinode %s: field spec.drivers[%zu].allocatable.count: not a "
                        "non-negative integer: no volume of driver %.100s fits the node",
                        md.name, i, name);
                l->count = 0;
            } else {
                l->count = json_integer_value(cnt);
            }
        }
    }
    *out = p;
    return 0;
fail:
    csinode_free(p);
    return rc;
}

static int
parse_ns(struct pctx *c, json_t *obj, struct model_ns **out)
{
    struct meta md;
    int rc = read_meta(c, obj, false, &md);
    if (rc < 0)
        return rc;
    struct model_ns *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(md.name))) {
        free(p);
        return NSC_ERR_NOMEM;
    }
    p->name_id = intern_cstr(&c->m->strings, md.name);
    if ((rc = parse_labelset(c, json_object_get(md.obj, "labels"), "metadata.labels", false,
                             &p->labels)) < 0) {
        ns_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Upsert/delete boilerplate for the kinds keyed by name or namespace/name. */
#define MODEL_KIND(kind, label, type, parse, freefn, table, namespaced, bad)                   \
    int model_upsert_##kind(struct model *m, json_t *obj)                                      \
    {                                                                                          \
        char err[512] = "", key[600];                                                          \
        struct pctx c = {.m = m, .err = err, .err_len = sizeof(err)};                          \
        type *p = NULL;                                                                        \
        int rc = json_is_object(obj) ? parse(&c, obj, &p)                                      \
                                     : pfail(&c, "(" label ")", "not an object");              \
        if (rc < 0 || !p)                                                                      \
            return (bad) >= 0 ? skip_unreadable(m, (enum model_kind)(bad), label, obj, err,    \
                                                rc < 0 ? rc : NSC_ERR_INVALID)                 \
                              : warn_skip(label, obj, err, rc < 0 ? rc : NSC_ERR_INVALID);     \
        if (namespaced)                                                                        \
            rc = ns_key(key, sizeof(key), intern_str(&m->strings, kind_ns(p)), p->name);       \
        else                                                                                   \
            rc = snprintf(key, sizeof(key), "%s", p->name) >= (int)sizeof(key) ? -1 : 0;       \
        if (rc < 0) {                                                                          \
            freefn(p);                                                                         \
            return (bad) >= 0 ? skip_unreadable(m, (enum model_kind)(bad), label, obj,         \
                                                "name too long", NSC_ERR_INVALID)              \
                              : warn_skip(label, obj, "name too long", NSC_ERR_INVALID);       \
        }                                                                                      \
        void *old;                                                                             \
        if ((rc = table_put(&m->table, key, p, &old)) < 0) {                                   \
            freefn(p);                                                                         \
            return rc;                                                                         \
        }                                                                                      \
        freefn(old);                                                                           \
        if ((bad) >= 0)                                                                        \
            model_unreadable_clear(m, (enum model_kind)(bad), key);                            \
        m->generation++;                                                                       \
        return 0;                                                                              \
    }

#define kind_ns(p) ((p)->ns)
MODEL_KIND(pdb, "poddisruptionbudget", struct model_pdb, parse_pdb, pdb_free, pdbs, 1,
           MODEL_KIND_PDB)
MODEL_KIND(pvc, "persistentvolumeclaim", struct model_pvc, parse_pvc, pvc_free, pvcs, 1, -1)
#undef kind_ns
#define kind_ns(p) INTERN_NONE
MODEL_KIND(pv, "persistentvolume", struct model_pv, parse_pv, pv_free, pvs, 0, -1)
MODEL_KIND(namespace, "namespace", struct model_ns, parse_ns, ns_free, nss, 0, -1)
MODEL_KIND(sc, "storageclass", struct model_sc, parse_sc, sc_free, scs, 0, -1)
MODEL_KIND(csinode, "csinode", struct model_csinode, parse_csinode, csinode_free, csinodes, 0,
           -1)
#undef kind_ns

int
model_delete_pdb(struct model *m, const char *ns, const char *name)
{
    char key[600];
    if (ns_key(key, sizeof(key), ns, name) < 0)
        return NSC_ERR_NOT_FOUND;
    bool had_record = model_unreadable_clear(m, MODEL_KIND_PDB, key);
    struct model_pdb *p = table_del(&m->pdbs, key);
    if (!p)
        return had_record ? 0 : NSC_ERR_NOT_FOUND;
    pdb_free(p);
    m->generation++;
    return 0;
}

int
model_delete_pvc(struct model *m, const char *ns, const char *name)
{
    char key[600];
    struct model_pvc *p =
        ns_key(key, sizeof(key), ns, name) == 0 ? table_del(&m->pvcs, key) : NULL;
    if (!p)
        return NSC_ERR_NOT_FOUND;
    pvc_free(p);
    m->generation++;
    return 0;
}

int
model_delete_pv(struct model *m, const char *name)
{
    struct model_pv *p = table_del(&m->pvs, name);
    if (!p)
        return NSC_ERR_NOT_FOUND;
    pv_free(p);
    m->generation++;
    return 0;
}

int
model_delete_sc(struct model *m, const char *name)
{
    struct model_sc *p = table_del(&m->scs, name);
    if (!p)
        return NSC_ERR_NOT_FOUND;
    sc_free(p);
    m->generation++;
    return 0;
}

int
model_delete_csinode(struct model *m, const char *name)
{
    struct model_csinode *p = table_del(&m->csinodes, name);
    if (!p)
        return NSC_ERR_NOT_FOUND;
    csinode_free(p);
    m->generation++;
    return 0;
}

int
model_delete_namespace(struct model *m, const char *name)
{
    struct model_ns *p = table_del(&m->nss, name);
    if (!p)
        return NSC_ERR_NOT_FOUND;
    ns_free(p);
    m->generation++;
    return 0;
}

/* ---- by kind, lists, files ---- */

int
model_upsert(struct model *m, json_t *obj, const char *kind_hint)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!kind)
        kind = kind_hint;
    if (!kind)
        return NSC_ERR_NOT_IMPLEMENTED;
    if (strcmp(kind, "Node") == 0)
        return model_upsert_node(m, obj);
    if (strcmp(kind, "Pod") == 0)
        return model_upsert_pod(m, obj);
    if (strcmp(kind, "PodDisruptionBudget") == 0)
        return model_upsert_pdb(m, obj);
    if (strcmp(kind, "PersistentVolume") == 0)
        return model_upsert_pv(m, obj);
    if (strcmp(kind, "PersistentVolumeClaim") == 0)
        return model_upsert_pvc(m, obj);
    if (strcmp(kind, "Namespace") == 0)
        return model_upsert_namespace(m, obj);
    if (strcmp(kind, "StorageClass") == 0)
        return model_upsert_sc(m, obj);
    if (strcmp(kind, "CSINode") == 0)
        return model_upsert_csinode(m, obj);
    return NSC_ERR_NOT_IMPLEMENTED;
}

static int
load_json(struct model *m, json_t *root, struct model_load_stats *stats, char *err,
          size_t err_len)
{
    struct model_load_stats st = {0};
    struct pctx c = {.m = m, .err = err, .err_len = err_len};
    if (!json_is_object(root))
        return pfail(&c, "(document)", "not a JSON object");
    const char *kind = json_string_value(json_object_get(root, "kind"));
    if (!kind)
        return pfail(&c, "kind", "missing: not a Kubernetes object or List");
    size_t klen = strlen(kind);
    if (klen >= 4 && strcmp(kind + klen - 4, "List") == 0) {
        char item_kind[128] = "";
        if (klen > 4 && klen - 4 < sizeof(item_kind))
            snprintf(item_kind, sizeof(item_kind), "%.*s", (int)(klen - 4), kind);
        json_t *items = json_object_get(root, "items");
        if (!json_is_array(items))
            return pfail(&c, "items", "missing or not an array");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *ik = json_string_value(json_object_get(it, "kind"));
            if (!ik)
                ik = item_kind[0] ? item_kind : NULL;
            if (!ik) {
                log_msg(NSC_LOG_WARNING, "model", "skipping items[%zu]: field kind: missing",
                        i);
                st.n_skipped++;
                continue;
            }
            m->load_item = (uint32_t)i;
            int rc = model_upsert(m, it, ik);
            if (rc == NSC_ERR_NOMEM)
                return rc;
            if (m->load_dup)
                return pfail(&c, "items", "%s", m->load_dup);
            if (rc == NSC_ERR_NOT_IMPLEMENTED)
                st.n_ignored++;
            else if (rc < 0)
                st.n_skipped++;
            else
                model_count_kind(&st, ik);
        }
    } else {
        int rc = model_upsert(m, root, NULL);
        if (rc == NSC_ERR_NOMEM)
            return rc;
        if (rc == NSC_ERR_NOT_IMPLEMENTED)
            st.n_ignored++;
        else if (rc < 0)
            st.n_skipped++;
        else
            model_count_kind(&st, kind);
    }
    if (stats)
        *stats = st;
    return 0;
}

int
model_load_json(struct model *m, json_t *root, struct model_load_stats *stats, char *err,
                size_t err_len)
{
    struct smap seen;
    bool own = model_load_begin(m, &seen);
    int rc = load_json(m, root, stats, err, err_len);
    if (own)
        model_load_end(m, &seen);
    return rc;
}

int
model_load_file(struct model *m, const char *path, struct model_load_stats *stats, char *err,
                size_t err_len)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f) {
        if (err && err_len)
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NSC_ERR_INVALID;
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        if (err && err_len)
            snprintf(err, err_len, "%s: is a directory, not a cluster snapshot file", path);
        return NSC_ERR_INVALID;
    }
    int rc = model_load_stream(m, f, path, stats, err, err_len);
    fclose(f);
    return rc;
}

int
model_kube_minor_parse(const char *text, uint32_t *minor)
{
    if (text == NULL)
        return NSC_ERR_INVALID;
    const char *q = text;
    if (*q == 'v')
        q++;
    if (q[0] != '1' || q[1] != '.')
        return NSC_ERR_INVALID;
    q += 2;
    uint32_t v = 0;
    size_t digits = 0;
    for (; *q >= '0' && *q <= '9' && digits < 4; q++, digits++)
        v = v * 10 + (uint32_t)(*q - '0');
    /* After the minor: nothing, a patch ("."), a build suffix ("-", "+"). */
    if (digits == 0 || digits == 4 || (*q && *q != '.' && *q != '-' && *q != '+'))
        return NSC_ERR_INVALID;
    *minor = v;
    return 0;
}
