/* Scale-down drain rules: for each pod of a node, whether it moves, stays or blocks the
 * node, in the Go Cluster Autoscaler's fixed rule order; plus the planner's options. */
#define _DEFAULT_SOURCE /* timegm */
#include "scaledown/scaledown.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Go's drain.PodLongTerminatingExtraThreshold: a deleting pod still present this long
 * after its grace period is stuck, and its node should not wait for it. */
#define LONG_TERMINATING_EXTRA_S 30

void
scaledown_options_default(struct scaledown_options *o)
{
    memset(o, 0, sizeof(*o));
    o->enabled = true;
    o->utilization_threshold = 0.5;
    o->gpu_utilization_threshold = 0.5;
    o->gpu_resource = "nvidia.com/gpu";
    o->unneeded_time_s = 600;
    o->unready_time_s = 1200;
    o->unready_enabled = true;
    o->delay_after_add_s = 600;
    o->delay_after_delete_s = 0;
    o->delay_after_failure_s = 180;
    o->max_parallelism = 10;
    o->max_drain_parallelism = 1;
    o->skip_nodes_with_system_pods = true;
    o->skip_nodes_with_local_storage = true;
    o->skip_nodes_with_custom_controller_pods = true;
}

int
scaledown_options_check(const struct scaledown_options *o, char *err, size_t err_len)
{
    const char *flag = NULL;
    /* Written so that NaN fails too. */
    if (!(o->utilization_threshold >= 0 && o->utilization_threshold <= 1))
        flag = "--scale-down-utilization-threshold must be within [0, 1]";
    else if (!(o->gpu_utilization_threshold >= 0 && o->gpu_utilization_threshold <= 1))
        flag = "--scale-down-gpu-utilization-threshold must be within [0, 1]";
    else if (o->unneeded_time_s < 0)
        flag = "--scale-down-unneeded-time must not be negative";
    else if (o->unready_time_s < 0)
        flag = "--scale-down-unready-time must not be negative";
    else if (o->delay_after_add_s < 0)
        flag = "--scale-down-delay-after-add must not be negative";
    else if (o->delay_after_delete_s < 0)
        flag = "--scale-down-delay-after-delete must not be negative";
    else if (o->delay_after_failure_s < 0)
        flag = "--scale-down-delay-after-failure must not be negative";
    else if (o->max_parallelism < 1)
        flag = "--max-scale-down-parallelism must be at least 1";
    else if (o->max_drain_parallelism < 1)
        flag = "--max-drain-parallelism must be at least 1";
    else if (!o->gpu_resource || !*o->gpu_resource)
        flag = "the GPU resource name must not be empty";
    if (!flag)
        return 0;
    snprintf(err, err_len, "%s", flag);
    return NSC_ERR_INVALID;
}

const char *
scaledown_rule_name(enum scaledown_rule r)
{
    static const char *const names[SD_RULE_N] = {
        [SD_RULE_NONE] = "none",
        [SD_RULE_MIRROR] = "mirror",
        [SD_RULE_LONG_TERMINATING] = "longterminating",
        [SD_RULE_DAEMONSET] = "daemonset",
        [SD_RULE_SAFE_TO_EVICT] = "safetoevict",
        [SD_RULE_TERMINAL] = "terminal",
        [SD_RULE_ON_COMPLETION] = "oncompletion",
        [SD_RULE_REPLICATED] = "replicated",
        [SD_RULE_SYSTEM] = "system",
        [SD_RULE_NOT_SAFE_TO_EVICT] = "notsafetoevict",
        [SD_RULE_LOCAL_STORAGE] = "localstorage",
        [SD_RULE_PDB] = "pdb",
    };
    return (unsigned)r < SD_RULE_N ? names[r] : "unknown";
}

static uint32_t
find(const struct model *m, const char *s)
{
    return intern_find(&m->strings, s, strlen(s));
}

void
scaledown_rules_init(struct scaledown_rules *r, const struct model *m,
                     const struct scaledown_options *o, struct scaledown_pdbs *pdbs)
{
    memset(r, 0, sizeof(*r));
    r->m = m;
    r->opt = o;
    r->pdbs = pdbs;
    /* intern_find never adds: a string no object uses has no id, and then nothing can
     * carry it, which the checks below treat as "absent". */
    r->k_safe_to_evict = find(m, SCALEDOWN_ANN_SAFE_TO_EVICT);
    r->k_safe_local = find(m, SCALEDOWN_ANN_SAFE_LOCAL_VOLUMES);
    r->k_disabled = find(m, SCALEDOWN_ANN_DISABLED);
    r->k_unneeded_since = find(m, SCALEDOWN_ANN_UNNEEDED_SINCE);
    r->v_true = find(m, "true");
    r->v_false = find(m, "false");
    r->v_on_completion = find(m, "on-completion");
    r->ns_kube_system = find(m, "kube-system");
    r->kind_rs = find(m, "ReplicaSet");
    r->kind_rc = find(m, "ReplicationController");
    r->kind_ss = find(m, "StatefulSet");
    r->kind_job = find(m, "Job");
}

static uint32_t
ann(const struct labelset *a, uint32_t key)
{
    return key == INTERN_NONE ? INTERN_NONE : labels_get(a, key);
}

bool
scaledown_pod_long_terminating(const struct model_pod *p, int64_t now_s)
{
    if (!p->terminating || p->deletion_s <= 0)
        return false;
    return p->deletion_s + p->grace_s + LONG_TERMINATING_EXTRA_S < now_s;
}

/* True when the comma-separated list holds name exactly (items trimmed of blanks). */
static bool
list_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        size_t t = len;
        while (t > 0 && (s[t - 1] == ' ' || s[t - 1] == '\t'))
            t--;
        if (t == nl && memcmp(s, name, nl) == 0)
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

/* First local volume of p not declared safe, or NULL when all are. */
static const char *
blocking_local_volume(const struct scaledown_rules *r, const struct model_pod *p)
{
    const struct intern *in = &r->m->strings;
    uint32_t v = ann(p->annotations, r->k_safe_local);
    const char *safe = v != INTERN_NONE ? intern_str(in, v) : "";
    for (uint32_t i = 0; i < p->spec->n_local_vols; i++) {
        const char *name = intern_str(in, p->spec->local_vols[i]);
        if (!list_has(safe, name))
            return name;
    }
    return NULL;
}

static void say(char *why, size_t len, const char *fmt, ...) NSC_PRINTF(3, 4);

static void
say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static bool
replicated_kind(const struct scaledown_rules *r, uint32_t kind)
{
    return kind != INTERN_NONE && (kind == r->kind_rs || kind == r->kind_rc ||
                                   kind == r->kind_ss || kind == r->kind_job);
}

static enum scaledown_pod_outcome
check_rules(const struct scaledown_rules *r, const struct model_pod *p, int64_t now_s,
            enum scaledown_rule *rule, const struct model_pdb **pdb, char *why, size_t why_len)
{
    if (pdb)
        *pdb = NULL;
    const struct model *m = r->m;
    const struct intern *in = &m->strings;
    char ref[300];
    model_pod_ref(m, p, ref, sizeof(ref));
    uint32_t ste = ann(p->annotations, r->k_safe_to_evict);

    if (model_pod_is_mirror(m, p)) {
        *rule = SD_RULE_MIRROR;
        return SD_POD_SKIP;
    }
    if (scaledown_pod_long_terminating(p, now_s)) {
        *rule = SD_RULE_LONG_TERMINATING;
        return SD_POD_SKIP;
    }
    if (model_pod_is_daemonset(m, p)) {
        *rule = SD_RULE_DAEMONSET;
        return SD_POD_SKIP;
    }
    if (ste != INTERN_NONE && ste == r->v_true) {
        *rule = SD_RULE_SAFE_TO_EVICT;
        return SD_POD_MOVE;
    }
    if (p->phase == PHASE_SUCCEEDED || p->phase == PHASE_FAILED) {
        *rule = SD_RULE_TERMINAL;
        return SD_POD_SKIP;
    }
    if (ste != INTERN_NONE && ste == r->v_on_completion) {
        *rule = SD_RULE_ON_COMPLETION;
        say(why, why_len, "pod %s is annotated %s: \"on-completion\" and has not completed",
            ref, SCALEDOWN_ANN_SAFE_TO_EVICT);
        return SD_POD_BLOCK;
    }
    if (p->owner_kind == INTERN_NONE) {
        *rule = SD_RULE_REPLICATED;
        say(why, why_len,
            "pod %s has no controller: nothing would recreate it elsewhere (annotate it %s: "
            "\"true\" to allow)",
            ref, SCALEDOWN_ANN_SAFE_TO_EVICT);
        return SD_POD_BLOCK;
    }
    if (r->opt->skip_nodes_with_custom_controller_pods && !replicated_kind(r, p->owner_kind)) {
        *rule = SD_RULE_REPLICATED;
        say(why, why_len,
            "pod %s is owned by %s %s, not a ReplicaSet, ReplicationController, StatefulSet or "
            "Job (--skip-nodes-with-custom-controller-pods)",
            ref, intern_str(in, p->owner_kind), intern_str(in, p->owner_name));
        return SD_POD_BLOCK;
    }
    uint32_t match[2];
    uint32_t n_match = r->pdbs ? scaledown_pdbs_match(r->pdbs, p, match, 2) : 0;
    if (r->opt->skip_nodes_with_system_pods && p->ns == r->ns_kube_system && n_match == 0) {
        *rule = SD_RULE_SYSTEM;
        say(why, why_len,
            "pod %s is a kube-system pod without a PodDisruptionBudget "
            "(--skip-nodes-with-system-pods)",
            ref);
        return SD_POD_BLOCK;
    }
    if (ste != INTERN_NONE && ste == r->v_false) {
        *rule = SD_RULE_NOT_SAFE_TO_EVICT;
        say(why, why_len, "pod %s is annotated %s: \"false\"", ref,
            SCALEDOWN_ANN_SAFE_TO_EVICT);
        return SD_POD_BLOCK;
    }
    if (r->opt->skip_nodes_with_local_storage) {
        const char *vol = blocking_local_volume(r, p);
        if (vol) {
            *rule = SD_RULE_LOCAL_STORAGE;
            say(why, why_len,
                "pod %s has local storage (volume \"%s\", emptyDir or hostPath) not listed in "
                "%s "
                "(--skip-nodes-with-local-storage)",
                ref, vol, SCALEDOWN_ANN_SAFE_LOCAL_VOLUMES);
            return SD_POD_BLOCK;
        }
    }
    if (n_match > 1) {
        /* The Eviction API answers 500 for a pod under two budgets: it could never go. */
        *rule = SD_RULE_PDB;
        if (pdb)
            *pdb = r->pdbs->pdb[match[0]];
        say(why, why_len,
            "pod %s is selected by more than one PodDisruptionBudget (%s/%s, %s/%s): the "
            "Eviction API refuses such pods",
            ref, intern_str(in, r->pdbs->pdb[match[0]]->ns), r->pdbs->pdb[match[0]]->name,
            intern_str(in, r->pdbs->pdb[match[1]]->ns), r->pdbs->pdb[match[1]]->name);
        return SD_POD_BLOCK;
    }
    if (n_match == 1 && r->pdbs->remaining[match[0]] < 1) {
        const struct model_pdb *b = r->pdbs->pdb[match[0]];
        *rule = SD_RULE_PDB;
        if (pdb)
            *pdb = b;
        if (b->disruptions_allowed < 1)
            say(why, why_len,
                "pod %s: PodDisruptionBudget %s/%s allows no disruption now "
                "(status.disruptionsAllowed %d)",
                ref, intern_str(in, b->ns), b->name, (int)b->disruptions_allowed);
        else
            say(why, why_len,
                "pod %s: PodDisruptionBudget %s/%s has no disruption left after the nodes "
                "already chosen in this loop (status.disruptionsAllowed %d)",
                ref, intern_str(in, b->ns), b->name, (int)b->disruptions_allowed);
        return SD_POD_BLOCK;
    }
    *rule = SD_RULE_NONE;
    return SD_POD_MOVE;
}

enum scaledown_pod_outcome
scaledown_pod_check(const struct scaledown_rules *r, const struct model_pod *p, int64_t now_s,
                    enum scaledown_rule *rule, const struct model_pdb **pdb, char *why,
                    size_t why_len)
{
    enum scaledown_pod_outcome out = check_rules(r, p, now_s, rule, pdb, why, why_len);
    if (out != SD_POD_MOVE)
        return out;
    /* Any pod that moves is evicted, and an eviction obeys every PDB that selects the pod:
     * a PDB the model could not read may select it with no disruption left. Even
     * safe-to-evict pods go through the Eviction API. */
    const struct model_unreadable *bad = model_unreadable_pdb_in(r->m, p->ns);
    if (!bad)
        return out;
    char ref[300];
    *rule = SD_RULE_PDB;
    say(why, why_len,
        "pod %s: PodDisruptionBudget %s could not be read (%s) and may forbid its eviction",
        model_pod_ref(r->m, p, ref, sizeof(ref)), bad->key, bad->reason);
    return SD_POD_BLOCK;
}

bool
scaledown_node_disabled(const struct scaledown_rules *r, const struct model_node *n)
{
    uint32_t v = ann(n->annotations, r->k_disabled);
    return v != INTERN_NONE && v == r->v_true;
}

static int
digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s))
            return -1;
        v = v * 10 + (**s - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3339 date-time ("2026-01-02T03:04:05Z", fraction and offset allowed) to Unix seconds. */
static int
parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !*s++ || digits(&s, 2, &h) ||
        *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
    }
    int64_t off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*s)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

int
scaledown_node_unneeded_since(const struct scaledown_rules *r, const struct model_node *n,
                              int64_t *since_s, char *err, size_t err_len)
{
    uint32_t v = ann(n->annotations, r->k_unneeded_since);
    if (v == INTERN_NONE)
        return 0;
    const char *s = intern_str(&r->m->strings, v);
    if (parse_rfc3339(s, since_s) < 0) {
        snprintf(err, err_len, "node %s: annotation %s: not an RFC 3339 time: \"%.40s\"",
                 n->name, SCALEDOWN_ANN_UNNEEDED_SINCE, s);
        return NSC_ERR_INVALID;
    }
    return 1;
}

const char *
scaledown_format_time(int64_t t_s, char *buf, size_t len)
{
    time_t t = (time_t)t_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%lld", (long long)t_s);
    return buf;
}
