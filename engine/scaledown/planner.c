/* Scale-down planner: which nodes are candidates, a removal simulation on a snapshot that
 * moves each candidate's pods elsewhere, then the choice of the nodes that go in this loop
 * within unneeded times, cooldowns, min sizes, parallelism and PDB budgets. */
#include "scaledown/scaledown.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim/sim.h"

/* Instance provider IDs map to (group index << 1) | deleting. */
#define INST_DELETING 1u

/* Planner state of one snapshot node. */
struct cand {
    int32_t group;  /* index into the group_set, -1 when none */
    bool candidate; /* passed eligibility and the drain rules */
    bool dest;      /* may receive pods in the simulation */
    bool unneeded;  /* its removal simulated fine */
    bool ready;
    bool found;                  /* a group owns it */
    bool inst_deleting;          /* its instance is being deleted */
    bool deleting;               /* deletionTimestamp, ToBeDeleted taint or instance deleting */
    uint32_t move_start, n_move; /* its own movable pods, in planner.moves */
    int64_t since_s;
    bool since_annotated;
};

struct planner {
    struct model *m;
    const struct group_set *gs;
    const struct scaledown_options *o;
    const struct scaledown_state *st;
    struct sim_snapshot *s;
    struct scaledown_pdbs pdbs;
    struct scaledown_rules rules;
    struct cand *c;
    struct scaledown_node *e; /* by snapshot node index until sorted */
    uint32_t n;               /* nodes */
    const struct model_pod **moves;
    uint32_t n_moves, cap_moves;
    const struct model_pod **tmp; /* pods of one node */
    uint32_t cap_tmp;
    uint32_t hint; /* where the last pod fitted: the next search starts there */
    uint32_t k_to_be_deleted;
};

static const char *const reason_names[SD_REASON_N] = {
    [SD_REASON_NONE] = "",
    [SD_REASON_SCALE_DOWN_DISABLED] = "ScaleDownDisabled",
    [SD_REASON_NOT_AUTOSCALED] = "NotAutoscaled",
    [SD_REASON_BEING_DELETED] = "CurrentlyBeingDeleted",
    [SD_REASON_DISABLED_ANNOTATION] = "ScaleDownDisabledAnnotation",
    [SD_REASON_NOT_READY] = "NotReady",
    [SD_REASON_RECENTLY_ADDED] = "RecentlyAdded",
    [SD_REASON_GROUP_BACKOFF] = "NodeGroupBackoff",
    [SD_REASON_MIN_SIZE] = "NodeGroupMinSizeReached",
    [SD_REASON_UNEXPECTED_ERROR] = "UnexpectedError",
    [SD_REASON_NOT_UNDERUTILIZED] = "NotUnderutilized",
    [SD_REASON_BLOCKED_BY_POD] = "BlockedByPod",
    [SD_REASON_NO_PLACE_TO_MOVE_PODS] = "NoPlaceToMovePods",
    [SD_REASON_NOT_UNNEEDED_LONG_ENOUGH] = "NotUnneededLongEnough",
    [SD_REASON_NOT_UNREADY_LONG_ENOUGH] = "NotUnreadyLongEnough",
    [SD_REASON_COOLDOWN] = "ScaleDownInCooldown",
    [SD_REASON_MAX_PARALLELISM] = "MaxScaleDownParallelismReached",
    [SD_REASON_MAX_DRAIN_PARALLELISM] = "MaxDrainParallelismReached",
    [SD_REASON_UNREADABLE_POD] = "UnreadablePod",
};

const char *
scaledown_reason_name(enum scaledown_reason r)
{
    return (unsigned)r < SD_REASON_N ? reason_names[r] : "Unknown";
}

const char *
scaledown_node_state_name(enum scaledown_node_state s)
{
    switch (s) {
    case SD_NODE_UNREMOVABLE:
        return "unremovable";
    case SD_NODE_UNNEEDED:
        return "unneeded";
    case SD_NODE_REMOVABLE:
        return "removable";
    }
    return "unknown";
}

/* Record the state of entry e with its reason, what decided and a sentence. */
static int decide(struct scaledown_node *e, enum scaledown_node_state state,
                  enum scaledown_reason reason, enum scaledown_rule rule, const char *object,
                  const char *fmt, ...) NSC_PRINTF(6, 7);

static int
decide(struct scaledown_node *e, enum scaledown_node_state state, enum scaledown_reason reason,
       enum scaledown_rule rule, const char *object, const char *fmt, ...)
{
    free(e->object);
    free(e->message);
    e->object = e->message = NULL;
    e->state = state;
    e->reason = reason;
    e->rule = rule;
    if (object && !(e->object = strdup(object)))
        return NSC_ERR_NOMEM;
    if (fmt) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (!(e->message = strdup(buf)))
            return NSC_ERR_NOMEM;
    }
    return 0;
}

static const char *
fmt_dur(int64_t s, char *buf, size_t len)
{
    if (s % 60 == 0 && s >= 60)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else
        snprintf(buf, len, "%llds", (long long)s);
    return buf;
}

static int
map_groups(struct planner *pl, struct smap *inst)
{
    if (!pl->gs)
        return 0;
    for (size_t g = 0; g < pl->gs->n_groups; g++) {
        const struct group_rec *gr = &pl->gs->groups[g];
        for (size_t i = 0; i < gr->n_instances; i++) {
            const struct instance_rec *ir = &gr->instances[i];
            if (!ir->provider_id)
                continue;
            uint32_t v =
                ((uint32_t)g << 1) | (ir->state == NSC_INSTANCE_DELETING ? INST_DELETING : 0u);
            if (smap_put(inst, ir->provider_id, v) < 0)
                return NSC_ERR_NOMEM;
        }
    }
    return 0;
}

static bool
has_taint(const struct model_node *n, uint32_t key)
{
    if (key == INTERN_NONE)
        return false;
    for (uint32_t i = 0; i < n->n_taints; i++)
        if (n->taints[i].key == key)
            return true;
    return false;
}

static const struct scaledown_group_state *
gstate(const struct planner *pl, int32_t g)
{
    static const struct scaledown_group_state none;
    return pl->st->groups && g >= 0 ? &pl->st->groups[g] : &none;
}

/* The pods of snapshot node i into pl->tmp. */
static int
node_pods(struct planner *pl, uint32_t i, uint32_t *n_out)
{
    const struct sim_node *sn = &pl->s->nodes[i];
    if (sn->n_pods > pl->cap_tmp) {
        const struct model_pod **nt = realloc(pl->tmp, sn->n_pods * sizeof(*nt));
        if (!nt)
            return NSC_ERR_NOMEM;
        pl->tmp = nt;
        pl->cap_tmp = sn->n_pods;
    }
    for (uint32_t k = 0; k < sn->n_pods; k++)
        pl->tmp[k] = pl->s->pods[sn->pods[k]].p;
    *n_out = sn->n_pods;
    return 0;
}

static int
push_move(struct planner *pl, const struct model_pod *p)
{
    if (pl->n_moves == pl->cap_moves) {
        uint32_t ncap = pl->cap_moves ? pl->cap_moves * 2 : 256;
        const struct model_pod **nm = realloc(pl->moves, ncap * sizeof(*nm));
        if (!nm)
            return NSC_ERR_NOMEM;
        pl->moves = nm;
        pl->cap_moves = ncap;
    }
    pl->moves[pl->n_moves++] = p;
    return 0;
}

/* Group, readiness and whether node i may receive pods in the simulation. */
static void
classify(struct planner *pl, uint32_t i, const struct smap *inst)
{
    const struct model_node *n = pl->s->nodes[i].src;
    struct cand *c = &pl->c[i];
    uint32_t v = 0;
    c->found = n->provider_id && smap_get(inst, n->provider_id, &v);
    c->inst_deleting = c->found && (v & INST_DELETING);
    c->deleting = n->deleting || c->inst_deleting || has_taint(n, pl->k_to_be_deleted);
    c->group = c->found ? (int32_t)(v >> 1) : -1;
    c->ready = n->ready == 1;
    /* A node running a pod the model could not read is fuller than it looks: moving pods
     * there could strand them. */
    c->dest = c->ready && !c->deleting && !pl->m->n_unreadable_lost &&
              !model_unreadable_pod_on(pl->m, n->name_id);
}

static bool dest_ok(const struct sim_snapshot *s, uint32_t node, void *arg);

/* First node from the hint on (wrapping) that takes the context's pod, or SIM_NONE. */
static uint32_t
find_dest(struct planner *pl, struct sim_ctx *ctx)
{
    uint32_t h = pl->hint < pl->n ? pl->hint : 0;
    uint32_t d = sim_find(pl->s, ctx, h, pl->n, dest_ok, pl);
    if (d == SIM_NONE && h > 0)
        d = sim_find(pl->s, ctx, 0, h, dest_ok, pl);
    if (d != SIM_NONE)
        pl->hint = d;
    return d;
}

/* Pending pods that fit somewhere take their room first, as the Go autoscaler leaves the
 * pods its filter-out-schedulable step placed in the snapshot: a node they need is not
 * empty, and its removal must find them room too. */
static int
place_pending(struct planner *pl)
{
    const struct model *m = pl->m;
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];
        if (!p || p->node != INTERN_NONE || p->terminating || p->phase != PHASE_PENDING ||
            p->spec->gated)
            continue;
        struct sim_ctx *ctx;
        int rc = sim_ctx_new(pl->s, p, &ctx);
        if (rc < 0)
            return rc;
        uint32_t d = find_dest(pl, ctx);
        sim_ctx_free(ctx);
        if (d != SIM_NONE && (rc = sim_add_pod(pl->s, p, d)) < 0)
            return rc;
    }
    return 0;
}

/* Eligibility of node i, in the order an operator would look: who owns it, is it going
 * already, is it protected, is it busy, can its pods move at all. */
static int
eligibility(struct planner *pl, uint32_t i)
{
    const struct model_node *n = pl->s->nodes[i].src;
    struct scaledown_node *e = &pl->e[i];
    struct cand *c = &pl->c[i];
    const struct scaledown_options *o = pl->o;
    int64_t now = pl->st->now_s;
    char b1[64], b2[64];
    bool found = c->found, inst_deleting = c->inst_deleting, deleting = c->deleting;
    if (!(e->name = strdup(n->name)))
        return NSC_ERR_NOMEM;
    if (found && !(e->group_id = strdup(pl->gs->groups[c->group].id)))
        return NSC_ERR_NOMEM;
    if (!found)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_NOT_AUTOSCALED, SD_RULE_NONE,
                      n->provider_id, "no node group owns this node (providerID \"%s\")",
                      n->provider_id ? n->provider_id : "");
    /* Whatever the model could not read of a pod of this node, it cannot say that
     * removing the node loses nothing. */
    const struct model_unreadable *bad = model_unreadable_pod_on(pl->m, n->name_id);
    if (bad)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_UNREADABLE_POD, SD_RULE_NONE, bad->key,
                      "pod %s%s could not be read (%s): what removing the node would lose is "
                      "unknown",
                      bad->key, bad->node_unknown ? ", whose node is unknown," : "",
                      bad->reason);
    if (pl->m->n_unreadable_lost)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_UNREADABLE_POD, SD_RULE_NONE, NULL,
                      "%u objects could not be read beyond the %u the model names: any node "
                      "may run one",
                      (unsigned)pl->m->n_unreadable_lost, (unsigned)MODEL_MAX_UNREADABLE);
    const struct group_rec *g = &pl->gs->groups[c->group];
    const struct scaledown_group_state *gst = gstate(pl, c->group);
    if (deleting)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_BEING_DELETED, SD_RULE_NONE, NULL,
                      "node is already being deleted (%s)",
                      n->deleting     ? "deletionTimestamp set"
                      : inst_deleting ? "its instance is deleting"
                                      : "ToBeDeletedByClusterAutoscaler taint");
    if (scaledown_node_disabled(&pl->rules, n))
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_DISABLED_ANNOTATION, SD_RULE_NONE,
                      SCALEDOWN_ANN_DISABLED, "node is annotated %s: \"true\"",
                      SCALEDOWN_ANN_DISABLED);
    if (!c->ready && !o->unready_enabled)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_NOT_READY, SD_RULE_NONE,
                      "--scale-down-unready-enabled=false",
                      "node is not ready and scale-down of unready nodes is off");
    if (gst->backed_off)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_GROUP_BACKOFF, SD_RULE_NONE, g->id,
                      "node group %s is backing off after failed scale-ups (until %s)", g->id,
                      scaledown_format_time(gst->backoff_until_s, b1, sizeof(b1)));
    if (n->created_s > 0 && now - n->created_s < o->delay_after_add_s)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_RECENTLY_ADDED, SD_RULE_NONE,
                      "--scale-down-delay-after-add",
                      "node was created at %s, less than --scale-down-delay-after-add=%s ago",
                      scaledown_format_time(n->created_s, b1, sizeof(b1)),
                      fmt_dur(o->delay_after_add_s, b2, sizeof(b2)));
    int64_t size = (int64_t)g->target_size - gst->n_deleting;
    if (size <= g->min_size)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_MIN_SIZE, SD_RULE_NONE, g->id,
                      "node group %s is at its min size %d (target %d, %u deleting)", g->id,
                      (int)g->min_size, (int)g->target_size, (unsigned)gst->n_deleting);

    uint32_t n_pods;
    int rc = node_pods(pl, i, &n_pods);
    if (rc < 0)
        return rc;
    char err[256];
    if (scaledown_utilization(pl->m, n, pl->tmp, n_pods, o, now, &e->util, err, sizeof(err)) <
        0)
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_UNEXPECTED_ERROR, SD_RULE_NONE, NULL,
                      "%s", err);
    e->util_known = true;
    double thr = e->util.gpu_node ? o->gpu_utilization_threshold : o->utilization_threshold;
    if (!(e->util.value <= thr))
        return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_NOT_UNDERUTILIZED, SD_RULE_NONE,
                      e->util.gpu_node ? "--scale-down-gpu-utilization-threshold"
                                       : "--scale-down-utilization-threshold",
                      "%s utilization %.3f is above the threshold %.3f",
                      scaledown_util_res_name(e->util.res), e->util.value, thr);
    c->move_start = pl->n_moves;
    for (uint32_t k = 0; k < n_pods; k++) {
        enum scaledown_rule rule;
        const struct model_pdb *pdb;
        char why[512] = "";
        enum scaledown_pod_outcome out =
            scaledown_pod_check(&pl->rules, pl->tmp[k], now, &rule, &pdb, why, sizeof(why));
        if (out == SD_POD_BLOCK) {
            char obj[300];
            const struct model_unreadable *bad_pdb =
                rule == SD_RULE_PDB && !pdb ? model_unreadable_pdb_in(pl->m, pl->tmp[k]->ns)
                                            : NULL;
            if (pdb)
                snprintf(obj, sizeof(obj), "%s/%s", intern_str(&pl->m->strings, pdb->ns),
                         pdb->name);
            else if (bad_pdb)
                snprintf(obj, sizeof(obj), "%s", bad_pdb->key);
            else
                model_pod_ref(pl->m, pl->tmp[k], obj, sizeof(obj));
            pl->n_moves = c->move_start;
            return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_BLOCKED_BY_POD, rule, obj, "%s",
                          why);
        }
        if (out == SD_POD_MOVE && (rc = push_move(pl, pl->tmp[k])) < 0)
            return rc;
    }
    c->n_move = pl->n_moves - c->move_start;
    e->empty = c->n_move == 0;
    e->n_pods_to_move = c->n_move;
    c->candidate = true;
    int64_t since = 0;
    rc = scaledown_node_unneeded_since(&pl->rules, n, &since, err, sizeof(err));
    if (rc < 0)
        log_msg(NSC_LOG_WARNING, "scaledown", "%s: the unneeded time restarts now", err);
    c->since_annotated = rc == 1;
    c->since_s = rc == 1 ? since : now;
    return 0;
}

static bool
dest_ok(const struct sim_snapshot *s, uint32_t node, void *arg)
{
    (void)s;
    const struct planner *pl = arg;
    return node < pl->n && pl->c[node].dest;
}

/* A pod to move: the model pod and its index in the snapshot. */
struct move {
    const struct model_pod *p;
    uint32_t idx;
    bool own; /* bound to this node for real, not moved here earlier in the pass */
};

static int
prio_cmp(const void *a, const void *b)
{
    const struct move *x = a, *y = b;
    int32_t px = x->p->spec->priority, py = y->p->spec->priority;
    if (px != py)
        return px > py ? -1 : 1;
    /* A node's own pods first: when one cannot move, that is the pod to name. */
    if (x->own != y->own)
        return x->own ? -1 : 1;
    /* Same-spec pods next to each other, so that they share a scheduling context. */
    if (x->p->spec != y->p->spec) {
        int c = strcmp(x->p->spec->key, y->p->spec->key);
        if (c)
            return c;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Why a pod fits nowhere, kube-scheduler style: counts per failure over every node but
 * the one being removed (self). */
static void
explain_no_fit(struct planner *pl, struct sim_ctx *ctx, uint32_t self, char *buf, size_t len)
{
    uint32_t counts[SIM_FAIL_N] = {0}, n_not_dest = 0;
    char example[300] = "";
    for (uint32_t j = 0; j < pl->n; j++) {
        if (j == self)
            continue;
        if (!pl->s->nodes[j].disabled && !pl->c[j].dest) {
            n_not_dest++;
            continue;
        }
        char why[256] = "";
        int f = sim_check(pl->s, ctx, j, example[0] ? NULL : why, sizeof(why));
        if (f > SIM_OK && f < SIM_FAIL_N) {
            counts[f]++;
            if (!example[0] && f != SIM_FAIL_DISABLED)
                snprintf(example, sizeof(example), "; e.g. node %s: %s",
                         pl->s->nodes[j].src->name, why);
        }
    }
    size_t off = 0;
    int w = snprintf(buf, len, "0/%u other nodes are available:", pl->n - 1);
    off = w > 0 && (size_t)w < len ? (size_t)w : len - 1;
    const char *sep = " ";
    for (int f = SIM_OK + 1; f < SIM_FAIL_N && off + 1 < len; f++) {
        if (!counts[f])
            continue;
        w = snprintf(buf + off, len - off, "%s%u %s", sep, counts[f],
                     f == SIM_FAIL_DISABLED ? "node(s) removed or unneeded in this plan"
                                            : sim_fail_name((enum sim_fail)f));
        off += w > 0 && (size_t)w < len - off ? (size_t)w : len - off - 1;
        sep = ", ";
    }
    if (n_not_dest && off + 1 < len) {
        w = snprintf(buf + off, len - off, "%s%u node(s) not ready or being deleted", sep,
                     n_not_dest);
        off += w > 0 && (size_t)w < len - off ? (size_t)w : len - off - 1;
    }
    if (off + 1 < len)
        snprintf(buf + off, len - off, "%s", example);
}

static bool
labels_equal(const struct labelset *a, const struct labelset *b)
{
    if (a == b)
        return true;
    uint32_t na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb)
        return false;
    return na == 0 || memcmp(a->l, b->l, na * sizeof(a->l[0])) == 0;
}

/* Two pods the scheduler filters cannot tell apart: one spec (namespace included) and the
 * same labels (which affinity and spread terms read). */
static bool
same_shape(const struct model_pod *a, const struct model_pod *b)
{
    return a->spec == b->spec && a->ns == b->ns && labels_equal(a->labels, b->labels);
}

/* Simulate removing candidate i: move every movable pod now on it (its own and those
 * placed there earlier in this pass) to destination nodes. Keeps the changes on success. */
static int
simulate(struct planner *pl, uint32_t i)
{
    struct sim_snapshot *s = pl->s;
    struct scaledown_node *e = &pl->e[i];
    uint32_t mark = sim_fork(s);
    int rc = 0;
    struct move *todo = NULL;
    struct sim_ctx *ctx = NULL;
    bool saved_dest = pl->c[i].dest;
    pl->c[i].dest = false;
    if ((rc = sim_disable_node(s, i)) < 0)
        goto fail;
    const struct sim_node *sn = &s->nodes[i];
    uint32_t n_todo = 0;
    todo = malloc((sn->n_pods + 1) * sizeof(*todo));
    if (!todo) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    for (uint32_t k = 0; k < sn->n_pods; k++) {
        const struct model_pod *p = s->pods[sn->pods[k]].p;
        enum scaledown_rule rule;
        if (scaledown_pod_check(&pl->rules, p, pl->st->now_s, &rule, NULL, NULL, 0) ==
            SD_POD_MOVE)
            todo[n_todo++] = (struct move){p, sn->pods[k], p->node == sn->name_id};
    }
    /* Highest priority first, as the Go autoscaler's removal simulator. */
    qsort(todo, n_todo, sizeof(*todo), prio_cmp);
    for (uint32_t k = 0; k < n_todo; k++) {
        if ((rc = sim_remove_pod(s, todo[k].idx)) < 0)
            goto fail;
    }
    const struct model_pod *ctx_pod = NULL;
    for (uint32_t k = 0; k < n_todo; k++) {
        const struct model_pod *p = todo[k].p;
        /* Replicas of one controller share a context: preparing one costs a pass over the
         * nodes, and adding pods (unlike removing them) keeps it current. */
        if (!ctx || !same_shape(ctx_pod, p)) {
            sim_ctx_free(ctx);
            ctx = NULL;
            if ((rc = sim_ctx_new(s, p, &ctx)) < 0)
                goto fail;
            ctx_pod = p;
        }
        uint32_t d = find_dest(pl, ctx);
        if (d == SIM_NONE) {
            char ref[300], why[900];
            model_pod_ref(pl->m, p, ref, sizeof(ref));
            explain_no_fit(pl, ctx, i, why, sizeof(why));
            sim_ctx_free(ctx);
            ctx = NULL;
            sim_revert(s, mark);
            pl->c[i].dest = saved_dest;
            free(todo);
            return decide(e, SD_NODE_UNREMOVABLE, SD_REASON_NO_PLACE_TO_MOVE_PODS, SD_RULE_NONE,
                          ref, "pod %s cannot move to any other node: %s", ref, why);
        }
        if ((rc = sim_add_pod(s, p, d)) < 0)
            goto fail;
    }
    sim_ctx_free(ctx);
    free(todo);
    pl->c[i].unneeded = true;
    return 0;
fail:
    sim_ctx_free(ctx);
    free(todo);
    sim_revert(s, mark);
    pl->c[i].dest = saved_dest;
    return rc;
}

/* Sort key of a candidate: qsort has no context argument, so the key carries it all. */
struct cand_key {
    uint32_t i;
    bool empty, annotated;
    int64_t since_s;
    double util;
    const char *name;
};

static int
cand_cmp(const void *a, const void *b)
{
    const struct cand_key *x = a, *y = b;
    if (x->empty != y->empty)
        return x->empty ? -1 : 1;
    if (x->annotated != y->annotated)
        return x->annotated ? -1 : 1;
    if (x->annotated && x->since_s != y->since_s)
        return x->since_s < y->since_s ? -1 : 1;
    if (x->util != y->util)
        return x->util < y->util ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Candidates in the order the simulation takes them: empty nodes first (they need no
 * room elsewhere), then the longest unneeded, then the least utilized. */
static int
sort_candidates(const struct planner *pl, uint32_t *order, uint32_t n)
{
    struct cand_key *k = malloc((n + 1) * sizeof(*k));
    if (!k)
        return NSC_ERR_NOMEM;
    for (uint32_t x = 0; x < n; x++) {
        uint32_t i = order[x];
        k[x] = (struct cand_key){i,
                                 pl->c[i].n_move == 0,
                                 pl->c[i].since_annotated,
                                 pl->c[i].since_s,
                                 pl->e[i].util.value,
                                 pl->e[i].name};
    }
    qsort(k, n, sizeof(*k), cand_cmp);
    for (uint32_t x = 0; x < n; x++)
        order[x] = k[x].i;
    free(k);
    return 0;
}

/* Why nothing may be removed in this loop, into buf; false when no cooldown holds. */
static bool
cooldown(const struct planner *pl, char *buf, size_t len)
{
    const struct scaledown_state *st = pl->st;
    const struct scaledown_options *o = pl->o;
    char t[64], d[32];
    if (st->last_scale_up_s && st->now_s < st->last_scale_up_s + o->delay_after_add_s) {
        snprintf(buf, len, "last scale-up at %s, less than --scale-down-delay-after-add=%s ago",
                 scaledown_format_time(st->last_scale_up_s, t, sizeof(t)),
                 fmt_dur(o->delay_after_add_s, d, sizeof(d)));
        return true;
    }
    if (st->last_failure_s && st->now_s < st->last_failure_s + o->delay_after_failure_s) {
        snprintf(
            buf, len,
            "last scale-down failure at %s, less than --scale-down-delay-after-failure=%s ago",
            scaledown_format_time(st->last_failure_s, t, sizeof(t)),
            fmt_dur(o->delay_after_failure_s, d, sizeof(d)));
        return true;
    }
    if (st->last_delete_s && st->now_s < st->last_delete_s + o->delay_after_delete_s) {
        snprintf(buf, len,
                 "last scale-down at %s, less than --scale-down-delay-after-delete=%s ago",
                 scaledown_format_time(st->last_delete_s, t, sizeof(t)),
                 fmt_dur(o->delay_after_delete_s, d, sizeof(d)));
        return true;
    }
    return false;
}

/* Choose, among the unneeded nodes in candidate order, those that go in this loop. */
static int
choose(struct planner *pl, const uint32_t *order, uint32_t n_order, struct scaledown_journal *j)
{
    const struct scaledown_options *o = pl->o;
    const struct scaledown_state *st = pl->st;
    int64_t now = st->now_s;
    char cd[300], b1[64], b2[32], b3[64];
    bool in_cooldown = cooldown(pl, cd, sizeof(cd));
    if (in_cooldown && !(j->cooldown = strdup(cd)))
        return NSC_ERR_NOMEM;
    size_t n_groups = pl->gs ? pl->gs->n_groups : 0;
    uint32_t *chosen = calloc(n_groups + 1, sizeof(*chosen));
    if (!chosen)
        return NSC_ERR_NOMEM;
    int64_t total_left = (int64_t)o->max_parallelism - st->n_deleting;
    int64_t drain_left = (int64_t)o->max_drain_parallelism - st->n_deleting_drain;
    int rc = 0;
    for (uint32_t k = 0; k < n_order && rc == 0; k++) {
        uint32_t i = order[k];
        struct cand *c = &pl->c[i];
        struct scaledown_node *e = &pl->e[i];
        if (!c->unneeded)
            continue;
        e->unneeded_since_s = c->since_s;
        e->since_annotated = c->since_annotated;
        const struct group_rec *g = &pl->gs->groups[c->group];
        const struct scaledown_group_state *gst = gstate(pl, c->group);
        int64_t thr = c->ready ? o->unneeded_time_s : o->unready_time_s;
        if (in_cooldown) {
            rc = decide(e, SD_NODE_UNNEEDED, SD_REASON_COOLDOWN, SD_RULE_NONE, NULL,
                        "scale-down is cooling down: %s", cd);
            continue;
        }
        if (c->since_s + thr > now) {
            rc = decide(e, SD_NODE_UNNEEDED,
                        c->ready ? SD_REASON_NOT_UNNEEDED_LONG_ENOUGH
                                 : SD_REASON_NOT_UNREADY_LONG_ENOUGH,
                        SD_RULE_NONE,
                        c->ready ? "--scale-down-unneeded-time" : "--scale-down-unready-time",
                        "%s since %s; removable after %s=%s, at %s",
                        c->ready ? "unneeded" : "unneeded and unready",
                        scaledown_format_time(c->since_s, b1, sizeof(b1)),
                        c->ready ? "--scale-down-unneeded-time" : "--scale-down-unready-time",
                        fmt_dur(thr, b2, sizeof(b2)),
                        scaledown_format_time(c->since_s + thr, b3, sizeof(b3)));
            continue;
        }
        int64_t size = (int64_t)g->target_size - gst->n_deleting - chosen[c->group];
        if (size - 1 < g->min_size) {
            rc = decide(e, SD_NODE_UNNEEDED, SD_REASON_MIN_SIZE, SD_RULE_NONE, g->id,
                        "removing it would take node group %s below its min size %d "
                        "(target %d, %u deleting, %u chosen in this loop)",
                        g->id, (int)g->min_size, (int)g->target_size, (unsigned)gst->n_deleting,
                        (unsigned)chosen[c->group]);
            continue;
        }
        if (total_left <= 0) {
            char lim[64];
            snprintf(lim, sizeof(lim), "--max-scale-down-parallelism=%u", o->max_parallelism);
            rc = decide(e, SD_NODE_UNNEEDED, SD_REASON_MAX_PARALLELISM, SD_RULE_NONE, lim,
                        "%u node deletions already chosen or in flight (%s)",
                        o->max_parallelism, lim);
            continue;
        }
        if (!e->empty && drain_left <= 0) {
            char lim[64];
            snprintf(lim, sizeof(lim), "--max-drain-parallelism=%u", o->max_drain_parallelism);
            rc = decide(e, SD_NODE_UNNEEDED, SD_REASON_MAX_DRAIN_PARALLELISM, SD_RULE_NONE, lim,
                        "%u non-empty node drains already chosen or in flight (%s)",
                        o->max_drain_parallelism, lim);
            continue;
        }
        /* PDB budgets shared by the nodes chosen together: only this node's own pods are
         * evicted for real (pods moved here by the simulation stay where they are). */
        bool blocked = false;
        for (uint32_t q = 0; q < c->n_move && !blocked; q++) {
            const struct model_pod *p = pl->moves[c->move_start + q];
            enum scaledown_rule rule;
            const struct model_pdb *pdb;
            char why[512];
            if (scaledown_pod_check(&pl->rules, p, now, &rule, &pdb, why, sizeof(why)) !=
                SD_POD_BLOCK)
                continue;
            char obj[300];
            const struct model_unreadable *bad_pdb =
                rule == SD_RULE_PDB && !pdb ? model_unreadable_pdb_in(pl->m, pl->tmp[k]->ns)
                                            : NULL;
            if (pdb)
                snprintf(obj, sizeof(obj), "%s/%s", intern_str(&pl->m->strings, pdb->ns),
                         pdb->name);
            else if (bad_pdb)
                snprintf(obj, sizeof(obj), "%s", bad_pdb->key);
            else
                model_pod_ref(pl->m, p, obj, sizeof(obj));
            rc = decide(e, SD_NODE_UNNEEDED, SD_REASON_BLOCKED_BY_POD, rule, obj, "%s", why);
            blocked = true;
        }
        if (blocked)
            continue;
        for (uint32_t q = 0; q < c->n_move; q++) {
            uint32_t match[4];
            uint32_t nm =
                scaledown_pdbs_match(&pl->pdbs, pl->moves[c->move_start + q], match, 4);
            for (uint32_t x = 0; x < nm && x < 4; x++)
                pl->pdbs.remaining[match[x]]--;
        }
        chosen[c->group]++;
        total_left--;
        if (!e->empty)
            drain_left--;
        rc = decide(e, SD_NODE_REMOVABLE, SD_REASON_NONE, SD_RULE_NONE, NULL, NULL);
    }
    free(chosen);
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct scaledown_node *)a)->name,
                  ((const struct scaledown_node *)b)->name);
}

static void
planner_free(struct planner *pl)
{
    sim_snapshot_free(pl->s);
    scaledown_pdbs_free(&pl->pdbs);
    free(pl->c);
    free(pl->moves);
    free(pl->tmp);
}

static int
plan_disabled(struct model *m, struct scaledown_journal *j)
{
    size_t n = 0;
    j->nodes = calloc(m->nodes.n_live + 1, sizeof(*j->nodes));
    if (!j->nodes)
        return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];
        if (!mn)
            continue;
        struct scaledown_node *e = &j->nodes[n++];
        j->n_nodes = n;
        if (!(e->name = strdup(mn->name)) ||
            decide(e, SD_NODE_UNREMOVABLE, SD_REASON_SCALE_DOWN_DISABLED, SD_RULE_NONE,
                   "--scale-down-enabled=false", "scale-down is disabled") < 0)
            return NSC_ERR_NOMEM;
    }
    return 0;
}

int
scaledown_plan(struct model *m, const struct group_set *groups,
               const struct scaledown_options *o, const struct scaledown_state *st,
               struct scaledown_journal *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    out->now_s = st->now_s;
    int rc = scaledown_options_check(o, err, err_len);
    if (rc < 0)
        return rc;
    struct planner pl = {.m = m, .gs = groups, .o = o, .st = st};
    struct smap inst;
    smap_init(&inst);
    uint32_t *order = NULL;
    if (!o->enabled) {
        if ((rc = plan_disabled(m, out)) < 0)
            goto fail;
        goto done;
    }
    if ((rc = sim_snapshot_new(m, &pl.s)) < 0 || (rc = scaledown_pdbs_init(&pl.pdbs, m)) < 0 ||
        (rc = map_groups(&pl, &inst)) < 0)
        goto fail;
    scaledown_rules_init(&pl.rules, m, o, &pl.pdbs);
    pl.k_to_be_deleted = intern_find(&m->strings, "ToBeDeletedByClusterAutoscaler", 30);
    pl.n = pl.s->n_nodes;
    pl.c = calloc(pl.n + 1, sizeof(*pl.c));
    out->nodes = calloc(pl.n + 1, sizeof(*out->nodes));
    order = malloc((pl.n + 1) * sizeof(*order));
    if (!pl.c || !out->nodes || !order) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    pl.e = out->nodes;
    out->n_nodes = pl.n;
    uint32_t n_order = 0;
    for (uint32_t i = 0; i < pl.n; i++)
        classify(&pl, i, &inst);
    if ((rc = place_pending(&pl)) < 0)
        goto fail;
    pl.hint = 0;
    for (uint32_t i = 0; i < pl.n; i++) {
        if ((rc = eligibility(&pl, i)) < 0)
            goto fail;
        if (pl.c[i].candidate)
            order[n_order++] = i;
    }
    if ((rc = sort_candidates(&pl, order, n_order)) < 0)
        goto fail;
    uint32_t base = sim_fork(pl.s);
    for (uint32_t k = 0; k < n_order; k++)
        if ((rc = simulate(&pl, order[k])) < 0)
            goto fail;
    sim_revert(pl.s, base);
    if ((rc = choose(&pl, order, n_order, out)) < 0)
        goto fail;
done:
    qsort(out->nodes, out->n_nodes, sizeof(*out->nodes), entry_cmp);
    for (size_t i = 0; i < out->n_nodes; i++) {
        switch (out->nodes[i].state) {
        case SD_NODE_REMOVABLE:
            out->n_removable++;
            break;
        case SD_NODE_UNNEEDED:
            out->n_unneeded++;
            break;
        case SD_NODE_UNREMOVABLE:
            out->n_unremovable++;
            break;
        }
    }
    free(order);
    smap_free(&inst);
    planner_free(&pl);
    return 0;
fail:
    if (rc == NSC_ERR_NOMEM)
        snprintf(err, err_len, "scale-down planning: out of memory");
    free(order);
    smap_free(&inst);
    planner_free(&pl);
    scaledown_journal_free(out);
    return rc;
}
