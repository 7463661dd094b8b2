/* Objects the model could not read (pods, nodes, PDBs): what little can be told of them is
 * kept, so that the planners fail closed on them instead of acting as if they were absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model/parse_util.h"

static struct model_table *
table_of(struct model *m, enum model_kind kind)
{
    switch (kind) {
    case MODEL_KIND_POD:
        return &m->bad_pods;
    case MODEL_KIND_NODE:
        return &m->bad_nodes;
    case MODEL_KIND_PDB:
        return &m->bad_pdbs;
    }
    return NULL;
}

static void
unreadable_free(struct model_unreadable *u)
{
    if (!u)
        return;
    free(u->key);
    free(u->provider_id);
    free(u->labels);
    free(u->reason);
    free(u);
}

void
model_unreadable_free_all(struct model *m)
{
    struct model_table *t[] = {&m->bad_pods, &m->bad_nodes, &m->bad_pdbs};
    for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
        for (uint32_t i = 0; i < t[k]->n_slots; i++)
            unreadable_free(t[k]->slots[i]);
        table_free(t[k]);
    }
}

/* A string member of obj, or NULL when absent or of another type. */
static const char *
str_of(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int
model_unreadable_note(struct model *m, enum model_kind kind, json_t *obj, const char *reason)
{
    struct model_table *t = table_of(m, kind);
    if (!t)
        return 0; /* not a kind the model keeps: nothing to note */
    json_t *meta = json_object_get(obj, "metadata");
    json_t *spec = json_object_get(obj, "spec");
    const char *name = str_of(meta, "name"), *ns = str_of(meta, "namespace");
    char key[600];
    bool named = name && *name;
    /* An unreadable name still leaves a record: the object exists, and failing closed
     * on it matters more than being able to clear it later. */
    if (kind == MODEL_KIND_NODE)
        snprintf(key, sizeof(key), "%s", named ? name : "?");
    else
        snprintf(key, sizeof(key), "%s/%s", ns && *ns ? ns : "?", named ? name : "?");
    uint32_t node = INTERN_NONE;
    bool node_unknown = false;
    if (kind == MODEL_KIND_POD) {
        json_t *nn = json_object_get(spec, "nodeName");
        if ((spec && !json_is_null(spec) && !json_is_object(spec)) ||
            (nn && !json_is_null(nn) && !json_is_string(nn)))
            node_unknown = true;
        else if (json_string_length(nn) == 0)
            return 0; /* not bound: it holds nothing a node removal could lose */
        else if (!(node =
                       intern_get(&m->strings, json_string_value(nn), json_string_length(nn))))
            return NSC_ERR_NOMEM;
    }
    struct model_unreadable *u = calloc(1, sizeof(*u));
    if (!u)
        return NSC_ERR_NOMEM;
    u->node = node;
    u->node_unknown = node_unknown;
    u->ns_unknown = kind != MODEL_KIND_NODE && !(ns && *ns);
    if (!u->ns_unknown && kind != MODEL_KIND_NODE && !(u->ns = intern_cstr(&m->strings, ns)))
        goto nomem;
    if (!(u->key = strdup(key)) || !(u->reason = strndup(reason, MODEL_UNREADABLE_REASON_LEN)))
        goto nomem;
    if (kind == MODEL_KIND_NODE) {
        const char *pid = str_of(spec, "providerID");
        if (pid && *pid && !(u->provider_id = strdup(pid)))
            goto nomem;
        /* Labels when they can be read; without them the node still counts by providerID. */
        struct pctx c = {.m = m};
        if (parse_labelset(&c, json_object_get(meta, "labels"), "metadata.labels", false,
                           &u->labels) == NSC_ERR_NOMEM)
            goto nomem;
    }
    void *old = table_get(t, key);
    if (!old && t->n_live >= MODEL_MAX_UNREADABLE) {
        m->n_unreadable_lost++;
        unreadable_free(u);
        return 0;
    }
    if (table_put(t, key, u, &old) < 0)
        goto nomem;
    unreadable_free(old);
    m->generation++;
    return 0;
nomem:
    unreadable_free(u);
    return NSC_ERR_NOMEM;
}

bool
model_unreadable_clear(struct model *m, enum model_kind kind, const char *key)
{
    struct model_table *t = table_of(m, kind);
    if (!t || t->n_live == 0)
        return false;
    struct model_unreadable *u = table_del(t, key);
    if (!u)
        return false;
    unreadable_free(u);
    m->generation++;
    return true;
}

const struct model_unreadable *
model_unreadable_pod_on(const struct model *m, uint32_t node_id)
{
    for (uint32_t i = 0; i < m->bad_pods.n_slots && m->bad_pods.n_live; i++) {
        const struct model_unreadable *u = m->bad_pods.slots[i];
        if (u && (u->node_unknown || u->node == node_id))
            return u;
    }
    return NULL;
}

const struct model_unreadable *
model_unreadable_pdb_in(const struct model *m, uint32_t ns)
{
    for (uint32_t i = 0; i < m->bad_pdbs.n_slots && m->bad_pdbs.n_live; i++) {
        const struct model_unreadable *u = m->bad_pdbs.slots[i];
        if (u && (u->ns_unknown || u->ns == ns))
            return u;
    }
    return NULL;
}

bool
model_node_has_capacity(const struct model_node *n)
{
    return n->alloc.fixed[RES_CPU] > 0 && n->alloc.fixed[RES_MEMORY] > 0;
}
