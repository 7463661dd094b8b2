/* The control loop: watches keep the model current, a lease decides who acts, and every
 * --scan-interval (sooner for a new unschedulable pod) one loop grows groups for pending
 * pods or starts drains of unneeded nodes, never waiting for machines or evictions. */
#include "config.h"

#include "loop/daemon.h"

#include "kube/client.h"
#include "kube/config.h"
#include "kube/lease.h"
#include "kube/sync.h"
#include "log.h"
#include "loop/decision.h"
#include "loop/drain.h"
#include "loop/gstate.h"
#include "loop/options.h"
#include "loop/pass.h"
#include "model/intern.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The stop flag is checked at least this often: kube_sync_wake is not async-signal-safe
 * (it sets a plain int and calls curl_multi_wakeup, which curl documents as thread-safe
 * only), so the handler sets a flag and the loop waits on the watches in short slices. */
#define DAEMON_SLICE_MS 250
/* A burst of pods turning unschedulable (a Deployment scaled up) becomes one loop. */
#define DAEMON_DEBOUNCE_MS 100
/* Listing every kind of a large cluster takes a while; past this the start fails. */
#define DAEMON_SYNC_TIMEOUT_MS (5 * 60 * 1000)
/* Rolling back drains at a stop or a lost lease; with the lease release this keeps a stop
 * under Kubernetes' default 30 s termination grace period. */
#define DAEMON_ABORT_MS 15000
/* Longest pause after failed loops (the first waits one --scan-interval, then doubling). */
#define DAEMON_MAX_FAIL_DELAY_MS (5 * 60 * 1000)
/* Unneeded-since annotations written per loop: a first loop over a large idle cluster
 * must not stall the loop; the rest follow in the next loops. */
#define DAEMON_MAX_ANNOTATIONS 50

static volatile sig_atomic_t daemon_signal;

static void
daemon_on_signal(int sig)
{
    daemon_signal = sig;
}

struct daemon {
    const struct nsc_config *cfg;
    struct plugin *plugin;
    struct backend *backend;
    struct kube_client *kube;
    struct model *m;
    struct kube_sync *sync;
    struct kube_lease *lease; /* NULL: no election (--leader-elect=false or --dry-run) */
    struct drainer *drainer;
    struct gstate *gs;
    char *priority_config;
    struct scaleup_options suo;
    struct scaledown_options sdo;
    const struct kube_clock *clk;
    bool leading;
    int64_t next_lease_ms;
    int64_t next_loop_ms;
    int64_t wake_loop_ms; /* 0: no unschedulable pod waiting for a loop */
    unsigned n_failures;  /* loops failed in a row */
    int64_t last_delete_s, last_failure_s;
    uint64_t n_loops;
};

static int64_t
daemon_now(const struct daemon *d)
{
    return d->clk->now_ms(d->clk->ctx);
}

/* A time plus a duration from the command line (up to INT64_MAX ms): saturates rather
 * than overflow, so that a huge --scan-interval means "not again", never "at once". */
static int64_t
daemon_after(int64_t t, int64_t ms)
{
    return ms > INT64_MAX - t ? INT64_MAX : t + ms;
}

static int
daemon_signals(char *err, size_t err_len)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = daemon_on_signal;
    sigemptyset(&sa.sa_mask);
    /* Restart interrupted calls: the flag is seen within a slice anyway, and code below
     * (backends, libcurl) need not handle EINTR. */
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
        snprintf(err, err_len, "cannot install the SIGTERM/SIGINT handlers");
        return NSC_ERR_INTERNAL;
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

/* Asked by the drainer before each write: only a leader that is not stopping acts. */
static int
daemon_drain_check(void *ud, const char *node_name, char *why, size_t why_len)
{
    struct daemon *d = ud;

    (void)node_name;
    if (daemon_signal) {
        snprintf(why, why_len, "nodescaler is stopping");
        return 1;
    }
    if (d->lease != NULL && !kube_lease_is_leader(d->lease)) {
        snprintf(why, why_len, "the lease %s/%s was lost", d->cfg->namespace_name,
                 d->cfg->leader_elect_resource_name);
        return 1;
    }
    return 0;
}

/* A finished drain starts --scale-down-delay-after-delete or -after-failure. */
static void
daemon_drain_done(void *ud, const struct drain_outcome *oc)
{
    struct daemon *d = ud;
    int64_t now_s = kube_wall_ms() / 1000;

    if (oc->ok) {
        d->last_delete_s = now_s;
        log_info("%snode %s removed from group %s", oc->dry_run ? "dry run: " : "",
                 oc->node_name, oc->group_id);
    } else {
        d->last_failure_s = now_s;
        log_warning("removal of node %s failed: %s%s", oc->node_name, oc->reason,
                    oc->left_tainted ? " (its taint could not be removed)" : "");
    }
}

static int
daemon_drainer(struct daemon *d, char *err, size_t err_len)
{
    const struct nsc_config *cfg = d->cfg;
    struct drain_options o;
    struct drain_hooks h;

    drain_options_default(&o);
    o.node_delete_delay_after_taint_ms = cfg->node_delete_delay_after_taint_ms;
    o.max_pod_eviction_time_ms = cfg->max_pod_eviction_time_ms;
    o.max_graceful_termination_ms = cfg->max_graceful_termination_s * 1000;
    o.max_drain_parallelism = cfg->max_drain_parallelism;
    o.max_scale_down_parallelism = cfg->max_scale_down_parallelism;
    o.max_bulk_soft_taint_count = cfg->max_bulk_soft_taint_count;
    o.max_bulk_soft_taint_time_ms = cfg->max_bulk_soft_taint_time_ms;
    o.cordon_node_before_terminating = cfg->cordon_node_before_terminating;
    o.daemonset_eviction_for_empty_nodes = cfg->daemonset_eviction_for_empty_nodes;
    o.daemonset_eviction_for_occupied_nodes = cfg->daemonset_eviction_for_occupied_nodes;
    o.dry_run = cfg->dry_run;
    memset(&h, 0, sizeof(h));
    h.check = daemon_drain_check;
    h.evict_instance = drain_backend_evict;
    h.done = daemon_drain_done;
    h.ud = d;
    h.backend_ud = d->backend;
    return drain_new(d->kube, &o, &h, &d->drainer, err, err_len);
}

/* --startup-taint and its deprecated name --ignore-taint mean the same to the group state. */
static int
daemon_gstate(struct daemon *d, char *err, size_t err_len)
{
    const struct nsc_config *cfg = d->cfg;
    struct gstate_options o;
    size_t n = cfg->startup_taints.n + cfg->ignore_taints.n;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    int rc;

    if (keys == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    for (size_t i = 0; i < cfg->startup_taints.n; i++)
        keys[i] = cfg->startup_taints.items[i];
    for (size_t i = 0; i < cfg->ignore_taints.n; i++)
        keys[cfg->startup_taints.n + i] = cfg->ignore_taints.items[i];
    gstate_options_default(&o);
    o.max_node_provision_time_ms = cfg->max_node_provision_time_ms;
    o.max_node_startup_time_ms = cfg->max_node_startup_time_ms;
    o.initial_backoff_ms = cfg->initial_node_group_backoff_duration_ms;
    o.max_backoff_ms = cfg->max_node_group_backoff_duration_ms;
    o.backoff_reset_timeout_ms = cfg->node_group_backoff_reset_timeout_ms;
    o.ok_total_unready_count = cfg->ok_total_unready_count;
    o.max_total_unready_percentage = cfg->max_total_unready_percentage;
    o.startup_taints = keys;
    o.n_startup_taints = n;
    o.startup_taint_prefixes = (const char *const *)cfg->startup_taint_prefixes.items;
    o.n_startup_taint_prefixes = cfg->startup_taint_prefixes.n;
    rc = gstate_create(&o, &d->gs, err, err_len);
    free(keys);
    return rc;
}

/* "<hostname>_<random>", as client-go's leader election names candidates. */
static void
daemon_identity(char *buf, size_t len)
{
    char host[256] = "";
    unsigned long long r =
        (unsigned long long)kube_wall_ms() ^ ((unsigned long long)getpid() << 32);
    FILE *f = fopen("/dev/urandom", "rb");

    if (f != NULL) {
        unsigned long long u;

        if (fread(&u, sizeof(u), 1, f) == 1)
            r ^= u;
        fclose(f);
    }
    if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "nodescaler");
    snprintf(buf, len, "%s_%016llx", host, r);
}

/* Names of the kinds not yet listed, for the error when the first sync is late. */
static void
daemon_unsynced(struct daemon *d, char *buf, size_t len)
{
    static const char *const names[] = {"namespaces",           "nodes",
                                        "persistentvolumes",    "persistentvolumeclaims",
                                        "poddisruptionbudgets", "pods"};
    struct kube_informers *set = kube_sync_informers(d->sync);
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++) {
        struct kube_informer *inf = kube_informers_find(set, names[i]);

        if (inf != NULL && !kube_informer_reflector(inf)->synced)
            used +=
                (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
    }
}

static int
daemon_wait_synced(struct daemon *d, char *err, size_t err_len)
{
    int64_t t0 = daemon_now(d), deadline = t0 + DAEMON_SYNC_TIMEOUT_MS;

    while (!kube_sync_synced(d->sync)) {
        int64_t now = daemon_now(d);
        char which[256];

        if (daemon_signal)
            return 0;
        if (now >= deadline) {
            daemon_unsynced(d, which, sizeof(which));
            snprintf(err, err_len,
                     "the cluster (%s) was not listed within %d s: still listing %s (see the "
                     "kube warnings above)",
                     loop_source(d->cfg), DAEMON_SYNC_TIMEOUT_MS / 1000, which);
            return NSC_ERR_TRANSIENT;
        }
        if (kube_sync_run(d->sync, DAEMON_SLICE_MS) < 0) {
            snprintf(err, err_len, "out of memory while listing the cluster");
            return NSC_ERR_NOMEM;
        }
    }
    log_info("cluster %s listed in %lld ms", loop_source(d->cfg),
             (long long)(daemon_now(d) - t0));
    return 0;
}

static int
daemon_setup(struct daemon *d, char *err, size_t err_len)
{
    const struct nsc_config *cfg = d->cfg;
    struct kube_config *kc = NULL;
    struct kube_client_opts ko;
    int rc;

    if (cfg->cluster_snapshot != NULL) {
        snprintf(err, err_len,
                 "--cluster-snapshot=%s replays a recorded cluster once: add --once, or drop "
                 "it to watch the cluster",
                 cfg->cluster_snapshot);
        return NSC_ERR_INVALID;
    }
    rc = loop_backend_open(cfg, &d->plugin, &d->backend, err, err_len);
    if (rc < 0)
        return rc;
    rc = kube_config_auto(cfg->kubeconfig, cfg->kube_context, &kc, err, err_len);
    if (rc < 0)
        return rc;
    memset(&ko, 0, sizeof(ko));
    ko.qps = cfg->kube_client_qps;
    ko.burst = (int)cfg->kube_client_burst;
    rc = kube_client_new(kc, &ko, &d->kube, err, err_len);
    if (rc < 0)
        return rc;
    d->clk = kube_client_clock(d->kube);
    rc = loop_priority_config(cfg, d->kube, &d->priority_config, err, err_len);
    if (rc < 0)
        return rc;
    loop_scaleup_options(cfg, d->priority_config, &d->suo);
    loop_scaledown_options(cfg, &d->sdo);
    rc = scaledown_options_check(&d->sdo, err, err_len);
    if (rc < 0)
        return rc;
    rc = daemon_gstate(d, err, err_len);
    if (rc < 0)
        return rc;
    rc = daemon_drainer(d, err, err_len);
    if (rc < 0)
        return rc;
    d->m = model_new();
    if (d->m == NULL || kube_sync_new(d->kube, d->m, &d->sync) < 0) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    loop_kube_version(cfg, d->kube, d->m);
    if (cfg->leader_elect && !cfg->dry_run) {
        struct kube_lease_opts lo;
        char identity[320];

        daemon_identity(identity, sizeof(identity));
        memset(&lo, 0, sizeof(lo));
        lo.namespace = cfg->namespace_name;
        lo.name = cfg->leader_elect_resource_name;
        lo.identity = identity;
        lo.lease_duration_ms = cfg->leader_elect_lease_duration_ms;
        lo.renew_deadline_ms = cfg->leader_elect_renew_deadline_ms;
        lo.retry_period_ms = cfg->leader_elect_retry_period_ms;
        rc = kube_lease_new(d->kube, &lo, &d->lease, err, err_len);
        if (rc < 0)
            return rc;
        log_info("leader election on lease %s/%s as %s", cfg->namespace_name,
                 cfg->leader_elect_resource_name, identity);
    } else if (cfg->leader_elect) {
        log_info("--dry-run: no leader election (taking the lease would be a write)");
    }
    return 0;
}

/* The registered nodes as the group state reads them; taint keys point into the model. */
static int
daemon_gstate_nodes(const struct model *m, struct gstate_node **out, size_t *n_out,
                    const char ***keys_out)
{
    uint32_t k_delete =
        intern_find(&m->strings, DRAIN_TAINT_TO_BE_DELETED, strlen(DRAIN_TAINT_TO_BE_DELETED));
    size_t n = 0, n_keys = 0, k = 0;
    struct gstate_node *nodes;
    const char **keys;

    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];

        if (mn != NULL) {
            n++;
            n_keys += mn->n_taints;
        }
    }
    nodes = calloc(n ? n : 1, sizeof(*nodes));
    keys = calloc(n_keys ? n_keys : 1, sizeof(*keys));
    if (nodes == NULL || keys == NULL) {
        free(nodes);
        free(keys);
        return NSC_ERR_NOMEM;
    }
    n = 0;
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];
        struct gstate_node *g;

        if (mn == NULL)
            continue;
        g = &nodes[n++];
        g->provider_id = mn->provider_id;
        g->ready = mn->ready;
        g->deleting = mn->deleting;
        g->created_ms = mn->created_s > 0 ? mn->created_s * 1000 : 0;
        g->taint_keys = keys + k;
        g->n_taint_keys = mn->n_taints;
        for (uint32_t t = 0; t < mn->n_taints; t++) {
            if (k_delete != INTERN_NONE && mn->taints[t].key == k_delete)
                g->deleting = true;
            keys[k++] = intern_str(&m->strings, mn->taints[t].key);
        }
    }
    *out = nodes;
    *n_out = n;
    *keys_out = keys;
    return 0;
}

/* Instances the group state gave up on (never registered, or failed to be created) leave
 * through the backend; the next loop reads the groups afresh. Returns how many were
 * removed (or would have been, in a dry run). */
static size_t
daemon_remove_failed(struct daemon *d)
{
    size_t n, n_done = 0;
    const struct gstate_removal *r = gstate_removals(d->gs, &n);

    for (size_t i = 0; i < n; i++) {
        const char *ids[1] = {r[i].provider_id};
        char why[1024] = "";

        if (d->cfg->dry_run) {
            log_info("dry run: would remove instance %s of group %s (%s)", r[i].provider_id,
                     r[i].group_id, r[i].reason);
            n_done++;
            continue;
        }
        if (backend_evict(d->backend, r[i].group_id, ids, 1, why, sizeof(why)) < 0) {
            log_warning("removal of instance %s of group %s (%s) failed: %s", r[i].provider_id,
                        r[i].group_id, r[i].reason, why);
            continue;
        }
        log_info("removed instance %s of group %s (%s)", r[i].provider_id, r[i].group_id,
                 r[i].reason);
        n_done++;
    }
    return n_done;
}

/* The groups scale-up may grow: backed-off ones are left out (their records are borrowed;
 * free only the array). */
static int
daemon_growable(struct daemon *d, const struct group_set *all, int64_t now_ms,
                struct group_set *out)
{
    out->groups = calloc(all->n_groups ? all->n_groups : 1, sizeof(*out->groups));
    out->n_groups = 0;
    if (out->groups == NULL)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < all->n_groups; i++) {
        const char *reason = NULL;
        int64_t until_ms = 0;

        if (gstate_backed_off(d->gs, all->groups[i].id, now_ms, &reason, &until_ms)) {
            log_info("group %s is backed off for %lld s more (%s): not grown in this loop",
                     all->groups[i].id, (long long)((until_ms - now_ms + 999) / 1000),
                     reason ? reason : "failure");
            continue;
        }
        out->groups[out->n_groups++] = all->groups[i];
    }
    return 0;
}

/* Grow groups for the pending pods; *n_grown counts resizes the backend accepted. */
static int
daemon_scale_up(struct daemon *d, const struct group_set *groups, int64_t now_ms,
                struct decision *dec, size_t *n_grown, char *err, size_t err_len)
{
    struct group_set growable = {NULL, 0};
    int rc;

    *n_grown = 0;
    rc = daemon_growable(d, groups, now_ms, &growable);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        return rc;
    }
    rc = loop_plan_scaleup(d->m, &growable, &d->suo, dec, err, err_len);
    free(growable.groups);
    if (rc < 0)
        return rc;
    if (dec->summary.n_pending > 0)
        log_info("%zu unschedulable pods: %zu fit existing or upcoming nodes, %zu groups to "
                 "grow, %zu pods no group can take",
                 dec->summary.n_pending, dec->n_fits, dec->n_scale_up, dec->n_no_scale_up);
    for (size_t i = 0; i < dec->n_no_scale_up; i++) {
        const struct decision_no_scale_up *e = &dec->no_scale_up[i];

        log_debug("pod %s: no scale-up helps%s%s", e->pod, e->why ? ": " : "",
                  e->why ? e->why : "");
    }
    rc = decision_apply(dec, d->cfg->dry_run, loop_resize, d->backend, err, err_len);
    for (size_t i = 0; i < dec->n_scale_up; i++) {
        const struct decision_scale_up *e = &dec->scale_up[i];

        if (e->outcome == DECISION_APPLIED) {
            (*n_grown)++;
            gstate_note_scale_up(d->gs, e->group_id, e->from, e->to, now_ms);
        } else if (e->outcome == DECISION_FAILED) {
            gstate_note_failure(d->gs, e->group_id, "resize", e->error, now_ms);
        }
    }
    return rc;
}

static bool
daemon_node_has(const struct model *m, const struct model_node *n, uint32_t taint_key,
                uint32_t ann_key)
{
    if (taint_key != INTERN_NONE)
        for (uint32_t t = 0; t < n->n_taints; t++)
            if (n->taints[t].key == taint_key)
                return true;
    (void)m;
    return ann_key != INTERN_NONE && labels_get(n->annotations, ann_key) != INTERN_NONE;
}

/*
 * Keep the unneeded-since annotation in step with the plan (set for unneeded nodes that
 * lack it, removed from needed ones that carry it, so that a node needed again restarts
 * its clock), then the soft taints, only for nodes whose state changes.
 */
static void
daemon_mark_unneeded(struct daemon *d, const struct scaledown_journal *j)
{
    const struct model *m = d->m;
    uint32_t k_ann =
        intern_find(&m->strings, DRAIN_ANN_UNNEEDED_SINCE, strlen(DRAIN_ANN_UNNEEDED_SINCE));
    uint32_t k_soft =
        intern_find(&m->strings, DRAIN_TAINT_CANDIDATE, strlen(DRAIN_TAINT_CANDIDATE));
    const char **add = calloc(j->n_nodes ? j->n_nodes : 1, sizeof(*add));
    const char **del = calloc(j->n_nodes ? j->n_nodes : 1, sizeof(*del));
    size_t n_add = 0, n_del = 0, n_written = 0, n_ann = 0;
    char err[1024];

    if (add == NULL || del == NULL)
        goto out;
    for (size_t i = 0; i < j->n_nodes; i++) {
        const struct scaledown_node *e = &j->nodes[i];
        const struct model_node *n = model_find_node(m, e->name);
        bool unneeded = e->state != SD_NODE_UNREMOVABLE;

        if (n == NULL || drain_is_draining(d->drainer, e->name))
            continue;
        if (n_ann < DAEMON_MAX_ANNOTATIONS &&
            (unneeded ? !e->since_annotated : daemon_node_has(m, n, INTERN_NONE, k_ann))) {
            n_ann++;
            if (drain_set_unneeded_since(d->drainer, e->name,
                                         unneeded ? e->unneeded_since_s : -1, err,
                                         sizeof(err)) < 0)
                log_warning("%s", err);
        }
        if (unneeded && !daemon_node_has(m, n, k_soft, INTERN_NONE))
            add[n_add++] = e->name;
        else if (!unneeded && daemon_node_has(m, n, k_soft, INTERN_NONE))
            del[n_del++] = e->name;
    }
    if ((n_add || n_del) && drain_soft_taint_update(d->drainer, add, n_add, del, n_del,
                                                    &n_written, err, sizeof(err)) < 0)
        log_warning("%s", err);
out:
    free(add);
    free(del);
}

/* A drain request for a node the planner chose; pods and strings point into the model. */
static int
daemon_start_drain(struct daemon *d, const struct scaledown_node *e, int64_t now_ms, char *err,
                   size_t err_len)
{
    const struct model *m = d->m;
    const struct model_node *n = model_find_node(m, e->name);
    struct drain_request req;
    struct drain_pod *pods = NULL;
    size_t n_pods = 0;
    int rc;

    if (n == NULL || n->provider_id == NULL || e->group_id == NULL) {
        snprintf(err, err_len, "node %s: gone from the cluster or without a group", e->name);
        return NSC_ERR_INVALID;
    }
    pods = calloc(m->pods.n_live ? m->pods.n_live : 1, sizeof(*pods));
    if (pods == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];

        /* Mirror pods belong to the kubelet and finished pods hold nothing: neither is
         * evicted, as the planner counted them. */
        if (p == NULL || p->node != n->name_id || p->phase == PHASE_SUCCEEDED ||
            p->phase == PHASE_FAILED || model_pod_is_mirror(m, p) || n_pods >= m->pods.n_live)
            continue;
        pods[n_pods].namespace = intern_str(&m->strings, p->ns);
        pods[n_pods].name = p->name;
        pods[n_pods].grace_ms = p->grace_s >= 0 ? p->grace_s * 1000 : -1;
        pods[n_pods].daemonset = model_pod_is_daemonset(m, p);
        n_pods++;
    }
    memset(&req, 0, sizeof(req));
    req.node_name = e->name;
    req.provider_id = n->provider_id;
    req.group_id = e->group_id;
    req.empty = e->empty;
    req.pods = pods;
    req.n_pods = n_pods;
    rc = drain_start(d->drainer, &req, now_ms, err, err_len);
    free(pods);
    return rc;
}

/* Plan scale-down with what the loop remembers, mark unneeded nodes and start drains. */
static int
daemon_scale_down(struct daemon *d, const struct group_set *groups, int64_t wall_ms, char *err,
                  size_t err_len)
{
    struct scaledown_group_state *gst = NULL;
    struct scaledown_state st;
    struct scaledown_journal j;
    size_t n_started = 0;
    int rc;

    memset(&j, 0, sizeof(j));
    gst = calloc(groups->n_groups ? groups->n_groups : 1, sizeof(*gst));
    if (gst == NULL) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    for (size_t i = 0; i < groups->n_groups; i++) {
        long gi = gstate_find(d->gs, groups->groups[i].id);
        struct gstate_group_view v;
        int64_t until_ms = 0;

        gst[i].backed_off =
            gstate_backed_off(d->gs, groups->groups[i].id, wall_ms, NULL, &until_ms);
        gst[i].backoff_until_s = until_ms / 1000;
        if (gi >= 0 && gstate_group_view(d->gs, (size_t)gi, wall_ms, &v) == 0)
            gst[i].n_deleting = (uint32_t)v.n_deleting;
    }
    memset(&st, 0, sizeof(st));
    st.now_s = wall_ms / 1000;
    st.last_scale_up_s = gstate_last_scale_up_ms(d->gs) / 1000;
    st.last_delete_s = d->last_delete_s;
    st.last_failure_s = d->last_failure_s;
    st.n_deleting = (uint32_t)drain_n_active(d->drainer);
    st.n_deleting_drain = (uint32_t)drain_n_active_with_pods(d->drainer);
    st.groups = gst;
    rc = scaledown_plan(d->m, groups, &d->sdo, &st, &j, err, err_len);
    free(gst);
    if (rc < 0)
        return rc;
    daemon_mark_unneeded(d, &j);
    if (j.cooldown != NULL) {
        if (j.n_removable || j.n_unneeded)
            log_info("scale-down in cooldown: %s", j.cooldown);
        goto out;
    }
    for (size_t i = 0; i < j.n_nodes; i++) {
        const struct scaledown_node *e = &j.nodes[i];
        char why[1024];

        if (e->state != SD_NODE_REMOVABLE || drain_is_draining(d->drainer, e->name))
            continue;
        rc = daemon_start_drain(d, e, daemon_now(d), why, sizeof(why));
        if (rc == NSC_ERR_OUT_OF_RESOURCES)
            break;
        if (rc == NSC_ERR_NOMEM) {
            snprintf(err, err_len, "%s", why);
            goto out;
        }
        if (rc < 0) {
            log_warning("node %s not removed: %s", e->name, why);
            continue;
        }
        n_started++;
    }
    if (n_started > 0)
        log_info("%sremoving %zu unneeded nodes (%zu removals in progress)",
                 d->cfg->dry_run ? "dry run: " : "", n_started, drain_n_active(d->drainer));
    rc = 0;
out:
    scaledown_journal_free(&j);
    return rc;
}

/*
 * One loop: refresh the groups, update their state, remove instances of failed scale-ups,
 * then grow groups for pending pods or, when nothing grew, plan scale-down. *n_grown
 * receives the resizes the backend accepted.
 */
static int
daemon_loop(struct daemon *d, size_t *n_grown, char *err, size_t err_len)
{
    struct group_set groups = {NULL, 0};
    struct decision dec;
    struct gstate_node *nodes = NULL;
    const char **keys = NULL;
    size_t n_nodes = 0;
    int64_t wall_ms = kube_wall_ms();
    char why[512];
    int rc;

    *n_grown = 0;
    memset(&dec, 0, sizeof(dec));
    log_debug("Starting main loop");
    d->n_loops++;
    rc = backend_refresh(d->backend, err, err_len);
    if (rc == 0)
        rc = backend_read_groups(d->backend, &groups, err, err_len);
    if (rc == 0)
        rc = loop_check_nodes(d->cfg, &groups, err, err_len);
    if (rc < 0)
        goto out;
    rc = daemon_gstate_nodes(d->m, &nodes, &n_nodes, &keys);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    rc = gstate_update(d->gs, &groups, nodes, n_nodes, wall_ms, err, err_len);
    if (rc < 0)
        goto out;
    /* The groups just read no longer hold after a removal: act on the next read. */
    if (daemon_remove_failed(d) > 0)
        goto out;
    /* As the Go autoscaler: with too many unready nodes, neither grow nor shrink. */
    if (!gstate_cluster_healthy(d->gs, why, sizeof(why))) {
        log_warning("cluster unhealthy, no scaling in this loop: %s", why);
        goto out;
    }
    rc = daemon_scale_up(d, &groups, wall_ms, &dec, n_grown, err, err_len);
    if (rc < 0 || dec.n_scale_up > 0)
        goto out;
    if (d->cfg->scale_down_enabled)
        rc = daemon_scale_down(d, &groups, wall_ms, err, err_len);
out:
    decision_free(&dec);
    free(nodes);
    free(keys);
    group_set_free(&groups);
    return rc;
}

/* Leader election: try when due; on a change of leadership clean up or roll back. */
static void
daemon_lease(struct daemon *d, int64_t now)
{
    bool leading;

    if (d->lease == NULL) {
        leading = true;
    } else {
        if (now >= d->next_lease_ms) {
            kube_lease_try(d->lease);
            d->next_lease_ms = daemon_now(d) + kube_lease_next_ms(d->lease);
        }
        leading = kube_lease_is_leader(d->lease) != 0;
    }
    if (leading && !d->leading) {
        char err[1024];
        size_t n = 0;

        if (d->lease != NULL)
            log_info("leading: the lease %s/%s is ours", d->cfg->namespace_name,
                     d->cfg->leader_elect_resource_name);
        /* Taints a previous leader left behind belong to drains nobody finishes now. */
        if (drain_cleanup_stale_taints(d->drainer, &n, err, sizeof(err)) < 0)
            log_warning("stale taints not all removed: %s", err);
        else if (n > 0)
            log_info("removed stale deletion taints from %zu nodes", n);
        d->next_loop_ms = daemon_now(d);
    } else if (!leading && d->leading) {
        size_t left;

        log_warning("not leading any more (lease %s/%s, holder \"%s\"): rolling back %zu "
                    "removals and stopping all writes",
                    d->cfg->namespace_name, d->cfg->leader_elect_resource_name,
                    kube_lease_holder(d->lease), drain_n_active(d->drainer));
        left =
            drain_abort_all(d->drainer, daemon_now(d) + DAEMON_ABORT_MS, "the lease was lost");
        if (left > 0)
            log_error("%zu nodes left tainted after losing the lease", left);
    }
    d->leading = leading;
}

/* When the next loop is due: the scan timer, or a debounced wake-up for a new
 * unschedulable pod (not while backing off from failures). */
static int64_t
daemon_due(const struct daemon *d)
{
    if (d->wake_loop_ms != 0 && d->n_failures == 0 && d->wake_loop_ms < d->next_loop_ms)
        return d->wake_loop_ms;
    return d->next_loop_ms;
}

static void
daemon_run_loop(struct daemon *d)
{
    const struct nsc_config *cfg = d->cfg;
    char err[2048] = "";
    size_t n_grown = 0;
    int64_t t0 = daemon_now(d), delay;
    int rc;

    d->wake_loop_ms = 0;
    rc = daemon_loop(d, &n_grown, err, sizeof(err));
    if (rc < 0) {
        delay = cfg->scan_interval_ms;
        for (unsigned k = 0; k < d->n_failures && delay < DAEMON_MAX_FAIL_DELAY_MS; k++)
            delay = delay * 2 < DAEMON_MAX_FAIL_DELAY_MS ? delay * 2 : DAEMON_MAX_FAIL_DELAY_MS;
        if (d->n_failures < UINT32_MAX)
            d->n_failures++;
        log_warning("loop failed (%u in a row), next in %lld s: %s", d->n_failures,
                    (long long)(delay / 1000), err);
        d->next_loop_ms = daemon_after(daemon_now(d), delay);
        return;
    }
    if (d->n_failures > 0)
        log_info("loop succeeded after %u failed ones", d->n_failures);
    d->n_failures = 0;
    /* A loop that grew a group runs again at once, as the Go autoscaler's frequent loops:
     * the pods it could not place in one go are seen without waiting a scan interval. */
    d->next_loop_ms = n_grown > 0 && cfg->frequent_loops_enabled
                          ? daemon_now(d)
                          : daemon_after(t0, cfg->scan_interval_ms);
}

static void
daemon_stop(struct daemon *d)
{
    if (d->drainer != NULL && d->leading && drain_n_active(d->drainer) > 0) {
        size_t left;

        log_info("rolling back %zu removals in progress", drain_n_active(d->drainer));
        left = drain_abort_all(d->drainer, daemon_now(d) + DAEMON_ABORT_MS,
                               "nodescaler is stopping");
        if (left > 0)
            log_error("%zu nodes left tainted at stop", left);
    }
    if (d->lease != NULL && kube_lease_release(d->lease) < 0)
        log_warning("the lease %s/%s could not be released: the next leader waits for it "
                    "to expire",
                    d->cfg->namespace_name, d->cfg->leader_elect_resource_name);
}

static void
daemon_free(struct daemon *d)
{
    drain_free(d->drainer);
    kube_lease_free(d->lease);
    kube_sync_free(d->sync);
    model_free(d->m);
    gstate_free(d->gs);
    kube_client_free(d->kube);
    free(d->priority_config);
    backend_destroy(d->backend);
    plugin_unload(d->plugin);
}

int
loop_daemon_run(const struct nsc_config *cfg, char *err, size_t err_len)
{
    struct daemon d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    daemon_signal = 0;
    rc = daemon_signals(err, err_len);
    if (rc == 0)
        rc = daemon_setup(&d, err, err_len);
    if (rc == 0)
        rc = daemon_wait_synced(&d, err, err_len);
    if (rc < 0)
        goto out;
    log_info("control loop started: backend %s, scan interval %lld ms%s%s",
             backend_name(d.backend), (long long)cfg->scan_interval_ms,
             cfg->dry_run ? ", dry run" : "", d.lease ? ", waiting for the lease" : "");
    while (!daemon_signal) {
        int64_t now = daemon_now(&d), wait = DAEMON_SLICE_MS;

        daemon_lease(&d, now);
        if (d.leading) {
            if (now >= daemon_due(&d))
                daemon_run_loop(&d);
            drain_step(d.drainer, daemon_now(&d));
            now = daemon_now(&d);
            if (daemon_due(&d) - now < wait)
                wait = daemon_due(&d) - now;
        }
        if (d.lease != NULL && d.next_lease_ms - now < wait)
            wait = d.next_lease_ms - now;
        if (wait < 1)
            wait = 1;
        if (daemon_signal)
            break;
        rc = kube_sync_run(d.sync, wait);
        if (rc < 0) {
            snprintf(err, err_len, "out of memory while watching the cluster");
            break;
        }
        if (rc == 1 && cfg->frequent_loops_enabled && d.wake_loop_ms == 0) {
            log_debug("a pod became unschedulable: loop in %d ms", DAEMON_DEBOUNCE_MS);
            d.wake_loop_ms = daemon_now(&d) + DAEMON_DEBOUNCE_MS;
        }
        rc = 0;
    }
    if (daemon_signal)
        log_info("received %s: stopping", daemon_signal == SIGINT ? "SIGINT" : "SIGTERM");
    daemon_stop(&d);
out:
    daemon_free(&d);
    return rc;
}
