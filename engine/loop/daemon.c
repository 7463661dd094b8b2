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
#include "loop/events.h"
#include "loop/gstate.h"
#include "loop/options.h"
#include "loop/pass.h"
#include "loop/status.h"
#include "model/intern.h"
#include "serve/serve.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
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
    struct events *events;
    struct status *status; /* NULL: --write-status-configmap=false */
    struct status_kube status_kube;
    char host[256];
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
    struct serve *srv;          /* /metrics, /health-check, /explain */
    enum serve_trigger trigger; /* what makes the next loop run */
    enum serve_err err_type;    /* the class of the current loop's failure */
};

/* Seconds on the monotonic clock, finer than the loop's milliseconds: the shortest
 * function_duration_seconds bucket is 10 ms. */
static double
daemon_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The backend's evict of one instance for the drainer, counted. */
static int
daemon_evict_instance(void *ud, const char *group_id, const char *provider_id, char *err,
                      size_t err_len)
{
    struct daemon *d = ud;

    serve_count_call(d->srv, SERVE_CALL_EVICT);
    return drain_backend_evict(d->backend, group_id, provider_id, err, err_len);
}

/* The backend's resize for decision_apply, counted. */
static int
daemon_resize(void *arg, const char *group_id, int32_t to, char *err, size_t err_len)
{
    struct daemon *d = arg;

    serve_count_call(d->srv, SERVE_CALL_RESIZE);
    return loop_resize(d->backend, group_id, to, err, err_len);
}

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

    struct events_ref node = {"Node", NULL, oc->node_name};

    serve_count_scale_down(d->srv, oc->node_name, oc->ok, oc->dry_run);
    if (oc->ok) {
        d->last_delete_s = now_s;
        log_info("%snode %s removed from group %s", oc->dry_run ? "dry run: " : "",
                 oc->node_name, oc->group_id);
        events_emit(d->events, kube_wall_ms(), &node, "Normal", "ScaleDown",
                    "node removed by nodescaler from group %s", oc->group_id);
    } else {
        d->last_failure_s = now_s;
        log_warning("removal of node %s failed: %s%s", oc->node_name, oc->reason,
                    oc->left_tainted ? " (its taint could not be removed)" : "");
        events_emit(d->events, kube_wall_ms(), &node, "Warning", "ScaleDownFailed",
                    "failed to remove the node: %s%s", oc->reason,
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
    h.evict_instance = daemon_evict_instance;
    h.done = daemon_drain_done;
    h.ud = d;
    h.backend_ud = d;
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

/* A DNS subdomain (RFC 1123), as the API server requires of a ConfigMap's name: checked
 * at the start, so that a typo fails there rather than in every loop's write. */
static bool
daemon_dns_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && c != '-' && c != '.')
            return false;
        if (!alnum && (i == 0 || i == n - 1))
            return false;
    }
    return true;
}

/* The Event emitter (through this client) and the status tracker. */
static int
daemon_events(struct daemon *d, char *err, size_t err_len)
{
    const struct nsc_config *cfg = d->cfg;
    struct events_options o;

    if (gethostname(d->host, sizeof(d->host) - 1) < 0 || d->host[0] == '\0')
        snprintf(d->host, sizeof(d->host), "nodescaler");
    events_options_default(&o);
    o.dry_run = cfg->dry_run;
    o.record_duplicates = cfg->record_duplicated_events;
    o.instance = d->host;
    if (events_new(&o, events_post_kube, d->kube, &d->events) < 0 ||
        (cfg->write_status_configmap && status_new(&d->status) < 0)) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    d->status_kube.c = d->kube;
    d->status_kube.namespace = cfg->namespace_name;
    d->status_kube.name = cfg->status_config_map_name;
    return 0;
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

/* Names of the watched kinds whose reflector is unsynced (relist 0) or, with relist 1,
 * must be or is being listed again (410 Gone, a broken watch); "" when none. */
static void
daemon_kinds_listing(struct daemon *d, int relist, char *buf, size_t len)
{
    static const char *const names[] = {"namespaces",           "nodes",
                                        "persistentvolumes",    "persistentvolumeclaims",
                                        "poddisruptionbudgets", "pods"};
    struct kube_informers *set = d->sync ? kube_sync_informers(d->sync) : NULL;
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; set != NULL && i < sizeof(names) / sizeof(names[0]) && used < len; i++) {
        struct kube_informer *inf = kube_informers_find(set, names[i]);
        const struct kube_reflector *r = inf ? kube_informer_reflector(inf) : NULL;
        bool hit;

        if (r == NULL)
            continue;
        hit = relist ? r->synced &&
                           (r->state == KUBE_REFL_NEED_LIST || r->state == KUBE_REFL_LISTING)
                     : !r->synced;
        if (hit)
            used +=
                (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
    }
}

static void
daemon_unsynced(struct daemon *d, char *buf, size_t len)
{
    daemon_kinds_listing(d, 0, buf, len);
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
    if (cfg->write_status_configmap && !daemon_dns_name(cfg->status_config_map_name)) {
        snprintf(err, err_len,
                 "--status-config-map-name=\"%.253s\": not a ConfigMap name (at most 253 "
                 "lower-case letters, digits, '-' and '.', starting and ending alphanumeric)",
                 cfg->status_config_map_name);
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
    rc = daemon_events(d, err, err_len);
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
        serve_count_call(d->srv, SERVE_CALL_EVICT);
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
    d->suo.now_s = now_ms / 1000;
    rc = loop_plan_scaleup(d->m, &growable, &d->suo, dec, err, err_len);
    free(growable.groups);
    if (rc < 0)
        return rc;
    if (dec->summary.n_pending > 0)
        log_info("%zu unschedulable pods: %zu fit existing or upcoming nodes, %zu groups to "
                 "grow, %zu pods no group can take, %zu younger than their scale-up delay",
                 dec->summary.n_pending, dec->n_fits, dec->n_scale_up, dec->n_no_scale_up,
                 dec->summary.n_young);
    for (size_t i = 0; i < dec->n_no_scale_up; i++) {
        const struct decision_no_scale_up *e = &dec->no_scale_up[i];

        log_debug("pod %s: no scale-up helps%s%s", e->pod, e->why ? ": " : "",
                  e->why ? e->why : "");
    }
    rc = decision_apply(dec, d->cfg->dry_run, daemon_resize, d, err, err_len);
    {
        struct events_cluster_ref cl = {d->cfg->namespace_name, d->cfg->status_config_map_name};

        events_from_decision(d->events, kube_wall_ms(), dec, groups, &cl);
    }
    for (size_t i = 0; i < dec->n_scale_up; i++) {
        const struct decision_scale_up *e = &dec->scale_up[i];

        if (e->outcome == DECISION_APPLIED) {
            (*n_grown)++;
            gstate_note_scale_up(d->gs, e->group_id, e->from, e->to, now_ms);
            serve_count_scale_up(d->srv, e->to > e->from ? (uint64_t)(e->to - e->from) : 0,
                                 false);
        } else if (e->outcome == DECISION_FAILED && e->status == NSC_ERR_TRANSIENT) {
            bool backed_off = false;

            /* A group busy with its previous operation refuses for seconds: backing it
             * off for minutes would send its pods to another group. */
            gstate_note_transient(d->gs, e->group_id, e->error, now_ms, &backed_off);
            log_warning("group %s not grown for now (%s): %s", e->group_id,
                        e->error ? e->error : "transient",
                        backed_off ? "refused too often in a row, backed off"
                                   : "tried again in the next loop");
            serve_count_scale_up(d->srv, 0, true);
            d->err_type = SERVE_ERR_TRANSIENT;
        } else if (e->outcome == DECISION_FAILED) {
            gstate_note_failure(d->gs, e->group_id, "resize", e->error, now_ms);
            serve_count_scale_up(d->srv, 0, true);
            d->err_type = SERVE_ERR_CLOUD;
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
    if (rc == 0) {
        struct events_ref node = {"Node", NULL, e->name};

        serve_note_removal(d->srv, e->name, e->empty);
        events_emit(
            d->events, kube_wall_ms(), &node, "Normal", "ScaleDown",
            "marked the node as to be deleted: scale-down of group %s, %zu pods to move",
            e->group_id, n_pods);
    }
    return rc;
}

/* Plan scale-down with what the loop remembers, mark unneeded nodes and start drains; the
 * plan goes into dec, *n_unneeded counts the nodes found unneeded (removable or not yet). */
static int
daemon_scale_down(struct daemon *d, const struct group_set *groups, int64_t wall_ms,
                  struct decision *dec, uint64_t *n_unneeded, uint32_t *candidates, char *err,
                  size_t err_len)
{
    double t0 = daemon_seconds();
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
    serve_observe(d->srv, SERVE_FN_FIND_UNNEEDED, daemon_seconds() - t0);
    if (rc < 0) {
        d->err_type = SERVE_ERR_INTERNAL;
        return rc;
    }
    *n_unneeded = j.n_removable + j.n_unneeded;
    if (decision_fill_scaledown(dec, &j) < 0) {
        snprintf(err, err_len, "out of memory");
        rc = NSC_ERR_NOMEM;
        d->err_type = SERVE_ERR_INTERNAL;
        goto out;
    }
    daemon_mark_unneeded(d, &j);
    for (size_t i = 0; i < j.n_nodes; i++)
        for (size_t g = 0; j.nodes[i].state != SD_NODE_UNREMOVABLE && j.nodes[i].group_id &&
                           g < groups->n_groups;
             g++)
            if (strcmp(groups->groups[g].id, j.nodes[i].group_id) == 0)
                candidates[g]++;
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
        for (size_t k = 0; k < dec->n_scale_down; k++)
            if (strcmp(dec->scale_down[k].node, e->name) == 0)
                dec->scale_down[k].outcome = DECISION_APPLIED;
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

/* The gauges of /metrics from this loop's view of the cluster and its groups. */
static void
daemon_gauges(struct daemon *d, const struct group_set *groups, int64_t wall_ms,
              const struct decision *dec, uint64_t n_unneeded)
{
    struct serve_gauges g;
    struct gstate_totals t;
    const struct model *m = d->m;

    memset(&g, 0, sizeof(g));
    gstate_totals(d->gs, &t);
    g.nodes_ready = t.n_ready;
    g.nodes_unready = t.n_unready;
    g.nodes_not_started = t.n_not_started;
    g.nodes_long_unregistered = t.n_long_unregistered;
    for (size_t i = 0; i < gstate_n_groups(d->gs); i++) {
        struct gstate_group_view v;

        if (gstate_group_view(d->gs, i, wall_ms, &v) == 0)
            g.nodes_unregistered += v.n_unregistered;
    }
    g.node_groups = groups->n_groups;
    for (size_t i = 0; i < groups->n_groups; i++)
        g.max_nodes +=
            groups->groups[i].max_size > 0 ? (uint64_t)groups->groups[i].max_size : 0;
    g.unschedulable_pods = dec->summary.n_pending;
    g.unneeded_nodes = n_unneeded;
    drain_eviction_counts(d->drainer, &g.evicted_ok, &g.evicted_failed);
    g.safe_to_autoscale = gstate_cluster_healthy(d->gs, NULL, 0);
    /* As the Go autoscaler's totals: capacity of the nodes not being deleted. */
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];

        if (mn == NULL || mn->deleting)
            continue;
        g.cpu_cores += (double)mn->cap_cpu_m / 1000.0;
        g.memory_bytes += (double)mn->cap_mem;
    }
    g.informer_objects[SERVE_RES_NODES] = m->nodes.n_live;
    g.informer_objects[SERVE_RES_PODS] = m->pods.n_live;
    g.informer_objects[SERVE_RES_PDBS] = m->pdbs.n_live;
    g.informer_objects[SERVE_RES_PVS] = m->pvs.n_live;
    g.informer_objects[SERVE_RES_PVCS] = m->pvcs.n_live;
    g.informer_objects[SERVE_RES_SCS] = m->scs.n_live;
    g.informer_objects[SERVE_RES_NAMESPACES] = m->nss.n_live;
    serve_set_gauges(d->srv, &g);
}

/* Whether a group's unready nodes stay within --ok-total-unready-count or
 * --max-total-unready-percentage, the Go autoscaler's rule for a healthy group. */
static bool
daemon_group_healthy(const struct nsc_config *cfg, const struct gstate_group_view *v)
{
    size_t bad = v->n_unready + v->n_long_unregistered;
    size_t all = v->n_registered + v->n_long_unregistered;

    return (int64_t)bad <= cfg->ok_total_unready_count ||
           (double)bad <= cfg->max_total_unready_percentage / 100.0 * (double)all;
}

/* The status ConfigMap at the end of a loop (leader only, not in a dry run): what the
 * group state knows, and the decision. A failure is logged, and tried again next loop. */
static void
daemon_write_status(struct daemon *d, const struct group_set *groups,
                    const struct decision *dec, const uint32_t *candidates, bool failed)
{
    const struct nsc_config *cfg = d->cfg;
    struct status_io io = {cfg->namespace_name, cfg->status_config_map_name, status_kube_get,
                           status_kube_send, &d->status_kube};
    struct status_group *sg = NULL;
    struct gstate_group_view *views = NULL;
    struct status_input in;
    struct gstate_totals t;
    int64_t now_ms = kube_wall_ms();
    bool written = false, in_progress = false;
    char err[1024];

    if (d->status == NULL)
        return;
    if (cfg->dry_run) {
        log_debug("dry run: status ConfigMap %s/%s not written", cfg->namespace_name,
                  cfg->status_config_map_name);
        return;
    }
    memset(&in, 0, sizeof(in));
    sg = calloc(groups->n_groups ? groups->n_groups : 1, sizeof(*sg));
    views = calloc(groups->n_groups ? groups->n_groups : 1, sizeof(*views));
    if (sg == NULL || views == NULL)
        goto out;
    gstate_totals(d->gs, &t);
    in.healthy = gstate_cluster_healthy(d->gs, NULL, 0);
    in.message = failed ? "the last loop failed: see the logs" : NULL;
    in.nodes.total = (uint32_t)t.n_nodes;
    in.nodes.ready = (uint32_t)t.n_ready;
    in.nodes.not_started = (uint32_t)t.n_not_started;
    in.nodes.being_deleted = (uint32_t)t.n_deleting;
    in.nodes.unready = (uint32_t)t.n_unready;
    in.nodes.long_unregistered = (uint32_t)t.n_long_unregistered;
    for (size_t i = 0; i < groups->n_groups; i++) {
        long gi = gstate_find(d->gs, groups->groups[i].id);
        struct gstate_group_view *v = &views[in.n_groups];
        struct status_group *g = &sg[in.n_groups];

        if (gi < 0 || gstate_group_view(d->gs, (size_t)gi, now_ms, v) < 0)
            continue;
        in.n_groups++;
        g->name = groups->groups[i].id;
        g->healthy = daemon_group_healthy(cfg, v);
        g->nodes.total = (uint32_t)v->n_registered;
        g->nodes.ready = (uint32_t)v->n_ready;
        g->nodes.not_started = (uint32_t)v->n_not_started;
        g->nodes.being_deleted = (uint32_t)v->n_deleting;
        g->nodes.unready = (uint32_t)v->n_unready;
        g->nodes.long_unregistered = (uint32_t)v->n_long_unregistered;
        g->nodes.unregistered = (uint32_t)v->n_unregistered;
        g->target = v->target_size;
        g->min_size = v->min_size;
        g->max_size = v->max_size;
        if (v->backed_off) {
            g->scale_up = STATUS_SU_BACKOFF;
            g->backoff_code = v->backoff_reason;
            g->backoff_message = v->backoff_message;
        } else if (v->scale_up_in_progress) {
            g->scale_up = STATUS_SU_IN_PROGRESS;
            in_progress = true;
        }
        g->scale_down_candidates = candidates ? candidates[i] : 0;
        in.nodes.unregistered += g->nodes.unregistered;
        in.scale_down_candidates += g->scale_down_candidates;
    }
    in.groups = sg;
    in.scale_up = in_progress       ? STATUS_SU_IN_PROGRESS
                  : dec->n_scale_up ? STATUS_SU_NEEDED
                                    : STATUS_SU_NOT_NEEDED;
    if (status_update(d->status, &io, &in, now_ms, &written, err, sizeof(err)) < 0)
        log_warning("%s", err);
    else if (written)
        log_debug("status ConfigMap %s/%s written", cfg->namespace_name,
                  cfg->status_config_map_name);
out:
    free(sg);
    free(views);
}

/*
 * One loop: refresh the groups, update their state, remove instances of failed scale-ups,
 * then grow groups for pending pods or, when nothing grew, plan scale-down. *n_grown
 * receives the resizes the backend accepted; *dec_json the loop's decision for /explain
 * (NULL when the loop ended before planning).
 */
static int
daemon_loop(struct daemon *d, size_t *n_grown, json_t **dec_json, char *err, size_t err_len)
{
    struct group_set groups = {NULL, 0};
    struct decision dec;
    struct gstate_node *nodes = NULL;
    const char **keys = NULL;
    uint32_t *candidates = NULL;
    size_t n_nodes = 0;
    int64_t wall_ms = kube_wall_ms();
    uint64_t n_unneeded = 0;
    bool planned = false;
    double t0;
    char why[512];
    int rc;

    *n_grown = 0;
    *dec_json = NULL;
    memset(&dec, 0, sizeof(dec));
    log_debug("Starting main loop");
    d->n_loops++;
    d->err_type = SERVE_ERR_INTERNAL;
    t0 = daemon_seconds();
    serve_count_call(d->srv, SERVE_CALL_REFRESH);
    events_loop_begin(d->events);
    rc = backend_refresh(d->backend, err, err_len);
    if (rc == 0) {
        serve_count_call(d->srv, SERVE_CALL_NODE_GROUPS);
        rc = backend_read_groups(d->backend, &groups, err, err_len);
    }
    serve_observe(d->srv, SERVE_FN_REFRESH, daemon_seconds() - t0);
    if (rc < 0) {
        d->err_type = rc == NSC_ERR_NOMEM ? SERVE_ERR_INTERNAL : SERVE_ERR_CLOUD;
        goto out;
    }
    rc = loop_check_nodes(d->cfg, &groups, err, err_len);
    if (rc < 0) {
        d->err_type = SERVE_ERR_CONFIG;
        goto out;
    }
    rc = loop_gstate_nodes(d->m, &nodes, &n_nodes, &keys);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    rc = gstate_update(d->gs, &groups, nodes, n_nodes, wall_ms, err, err_len);
    if (rc < 0)
        goto out;
    /* The groups just read no longer hold after a removal: act on the next read. */
    if (daemon_remove_failed(d) > 0) {
        serve_loop_note(d->srv, "instances of failed scale-ups were removed: no planning "
                                "until the groups are read again in the next loop");
        goto gauges;
    }
    /* As the Go autoscaler: with too many unready nodes, neither grow nor shrink. */
    if (!gstate_cluster_healthy(d->gs, why, sizeof(why))) {
        log_warning("cluster unhealthy, no scaling in this loop: %s", why);
        {
            char note[640];

            snprintf(note, sizeof(note), "cluster unhealthy, no scaling in this loop: %s", why);
            serve_loop_note(d->srv, note);
        }
        goto gauges;
    }
    t0 = daemon_seconds();
    rc = daemon_scale_up(d, &groups, wall_ms, &dec, n_grown, err, err_len);
    serve_observe(d->srv, SERVE_FN_SCALE_UP, daemon_seconds() - t0);
    planned = true;
    if (rc < 0 || dec.n_scale_up > 0)
        goto gauges;
    if (d->cfg->scale_down_enabled) {
        char stale[256];

        /* A kind being listed again may hide pods or budgets that the model lost while the
         * watch was broken: a node would look emptier than it is. Fail closed. */
        daemon_kinds_listing(d, 1, stale, sizeof(stale));
        if (stale[0] != '\0') {
            char note[400];

            snprintf(note, sizeof(note), "no scale-down in this loop: %s must be listed again",
                     stale);
            log_info("%s", note);
            serve_loop_note(d->srv, note);
        } else {
            candidates = calloc(groups.n_groups ? groups.n_groups : 1, sizeof(*candidates));
            if (candidates == NULL) {
                snprintf(err, err_len, "out of memory");
                rc = NSC_ERR_NOMEM;
                goto out;
            }
            rc = daemon_scale_down(d, &groups, wall_ms, &dec, &n_unneeded, candidates, err,
                                   err_len);
        }
    }
gauges:
    daemon_gauges(d, &groups, wall_ms, &dec, n_unneeded);
out:
    if (planned)
        *dec_json = decision_json(&dec);
    daemon_write_status(d, &groups, &dec, candidates, rc < 0);
    free(candidates);
    decision_free(&dec);
    free(nodes);
    free(keys);
    group_set_free(&groups);
    return rc;
}

/* Untaint the nodes a previous leader left marked for deletion, found in the watched
 * model: listing every node again would cost a full read of the cluster per election. */
static int
daemon_cleanup_stale(struct daemon *d, size_t *n_cleaned, char *err, size_t err_len)
{
    const struct model *m = d->m;
    uint32_t k_delete =
        intern_find(&m->strings, DRAIN_TAINT_TO_BE_DELETED, strlen(DRAIN_TAINT_TO_BE_DELETED));
    const char **names;
    size_t n = 0;
    int rc;

    *n_cleaned = 0;
    if (k_delete == INTERN_NONE)
        return 0;
    names = calloc(m->nodes.n_live ? m->nodes.n_live : 1, sizeof(*names));
    if (names == NULL) {
        snprintf(err, err_len, "out of memory collecting tainted nodes");
        return NSC_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->nodes.n_slots && n < m->nodes.n_live; i++) {
        const struct model_node *mn = m->nodes.slots[i];

        if (mn != NULL && daemon_node_has(m, mn, k_delete, INTERN_NONE))
            names[n++] = mn->name;
    }
    rc = n ? drain_cleanup_stale_taints(d->drainer, names, n, n_cleaned, err, err_len) : 0;
    free(names);
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
    serve_set_leading(d->srv, leading);
    /* Before a rollback below: a replica that lost the lease says nothing more. */
    events_set_leader(d->events, leading);
    if (leading && !d->leading) {
        char err[1024];
        size_t n = 0;

        if (d->lease != NULL)
            log_info("leading: the lease %s/%s is ours", d->cfg->namespace_name,
                     d->cfg->leader_elect_resource_name);
        /* Taints a previous leader left behind belong to drains nobody finishes now. */
        if (daemon_cleanup_stale(d, &n, err, sizeof(err)) < 0)
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

/* What made the loop due now, for nodescaler_loops_total{trigger}. */
static enum serve_trigger
daemon_trigger(const struct daemon *d)
{
    if (d->wake_loop_ms != 0 && d->n_failures == 0 && d->wake_loop_ms < d->next_loop_ms)
        return SERVE_TRIGGER_POD;
    return d->trigger;
}

/* CPU time of the whole process (every thread), user and system, in ms. */
static long long
daemon_cpu_ms(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return -1;
    return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void
daemon_run_loop(struct daemon *d)
{
    const struct nsc_config *cfg = d->cfg;
    char err[2048] = "";
    size_t n_grown = 0;
    int64_t t0 = daemon_now(d), delay;
    double s0 = daemon_seconds();
    json_t *dec_json = NULL;
    long long cpu0 = daemon_cpu_ms(), cpu1;
    int rc;

    serve_loop_begin(d->srv, daemon_trigger(d));
    d->wake_loop_ms = 0;
    rc = daemon_loop(d, &n_grown, &dec_json, err, sizeof(err));
    serve_observe(d->srv, SERVE_FN_MAIN, daemon_seconds() - s0);
    serve_loop_end(d->srv, rc >= 0, d->err_type, dec_json);
    /* The loop's own time and CPU, and the process's CPU so far: for the benchmark, and
     * for operators sizing the daemon's requests. */
    cpu1 = daemon_cpu_ms();
    log_debug("main loop %llu done in %lld ms, %lld ms CPU (process CPU %lld ms)",
              (unsigned long long)d->n_loops, (long long)(daemon_now(d) - t0), cpu1 - cpu0,
              cpu1);
    if (rc < 0) {
        d->trigger = SERVE_TRIGGER_RETRY;
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
    d->trigger = n_grown > 0 && cfg->frequent_loops_enabled ? SERVE_TRIGGER_FREQUENT
                                                            : SERVE_TRIGGER_SCAN;
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
    events_free(d->events);
    status_free(d->status);
    kube_lease_free(d->lease);
    kube_sync_free(d->sync);
    model_free(d->m);
    gstate_free(d->gs);
    kube_client_free(d->kube);
    free(d->priority_config);
    backend_destroy(d->backend);
    plugin_unload(d->plugin);
    serve_free(d->srv);
}

/* The label of nodescaler_backend_calls_total: --backend without directory or ".so". */
static void
daemon_backend_label(const char *backend, char *buf, size_t len)
{
    const char *base = strrchr(backend, '/');
    size_t n;

    base = base != NULL ? base + 1 : backend;
    n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    snprintf(buf, len, "%.*s", (int)n, base);
}

/* The HTTP endpoints come up first, so that a start stuck in listing the cluster is seen
 * by /health-check (--max-startup-time). */
static int
daemon_serve(struct daemon *d, char *err, size_t err_len)
{
    const struct nsc_config *cfg = d->cfg;
    struct serve_options o;
    char label[256];

    daemon_backend_label(cfg->backend, label, sizeof(label));
    memset(&o, 0, sizeof(o));
    o.max_inactivity_ms = cfg->max_inactivity_ms;
    o.max_failing_time_ms = cfg->max_failing_time_ms;
    o.max_startup_time_ms = cfg->max_startup_time_ms;
    o.history = (size_t)cfg->explain_history_loops;
    o.backend_name = label;
    if (serve_new(&o, &d->srv) < 0) {
        snprintf(err, err_len, "out of memory");
        return NSC_ERR_NOMEM;
    }
    return serve_listen(d->srv, cfg->address, err, err_len);
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
        rc = daemon_serve(&d, err, err_len);
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
