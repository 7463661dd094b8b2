/* A pod's scheduling spec: effective request (Kubernetes PodRequests), selectors,
 * tolerations, host ports, inter-pod affinity, spread constraints and volumes; identical
 * specs are shared. */
#include "model/parse_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
affinity_term_free(struct affinity_term *t)
{
    selector_free(&t->sel);
    selector_free(&t->ns_sel);
    free(t->ns);
    free(t->match_keys);
    free(t->mismatch_keys);
}

static void
pod_spec_free(struct pod_spec *s)
{
    if (!s)
        return;
    res_free(&s->req);
    free(s->node_selector);
    node_selector_free(s->node_aff);
    free(s->tolerations);
    free(s->ports);
    for (uint32_t i = 0; i < s->n_aff; i++)
        affinity_term_free(&s->aff[i]);
    for (uint32_t i = 0; i < s->n_anti; i++)
        affinity_term_free(&s->anti[i]);
    free(s->aff);
    free(s->anti);
    for (uint32_t i = 0; i < s->n_spread; i++) {
        selector_free(&s->spread[i].sel);
        free(s->spread[i].match_keys);
    }
    free(s->spread);
    free(s->claims);
    free(s->local_vols);
    free(s->key);
    free(s->raw);
    free(s);
}

/* Requests of one container, with limits standing in for missing requests as the API
 * server's defaulting does. */
static int
container_requests(struct pctx *c, json_t *ctr, const char *field, struct res *out)
{
    json_t *r = json_object_get(ctr, "resources");
    memset(out, 0, sizeof(*out));
    if (!r || json_is_null(r))
        return 0;
    if (!json_is_object(r))
        return pfail(c, field, "resources is not an object");
    struct res req, lim;
    int rc = parse_res(c, json_object_get(r, "requests"), field, &req);
    if (rc < 0)
        return rc;
    rc = parse_res(c, json_object_get(r, "limits"), field, &lim);
    if (rc < 0) {
        res_free(&req);
        return rc;
    }
    json_t *jreq = json_object_get(r, "requests");
    static const char *const fixed_names[RES_N_FIXED] = {"cpu", "memory", "ephemeral-storage",
                                                         "pods"};
    for (int i = 0; i < RES_N_FIXED; i++)
        if (!json_object_get(jreq, fixed_names[i]) && lim.fixed[i])
            req.fixed[i] = lim.fixed[i];
    for (uint32_t i = 0; i < lim.n_ext; i++) {
        if (!json_object_get(jreq, intern_str(&c->m->strings, lim.ext[i].name))) {
            struct res one = {0};
            struct res_ext e = lim.ext[i];
            one.n_ext = 1;
            one.ext = &e;
            if (res_max(&req, &one) < 0) {
                res_free(&req);
                res_free(&lim);
                return NSC_ERR_NOMEM;
            }
        }
    }
    res_free(&lim);
    *out = req;
    return 0;
}

/* PodRequests: max(sum of app containers and sidecars, the init phase's peak) + overhead;
 * pod-level requests replace the container aggregate for the resources they name. */
static int
compute_request(struct pctx *c, json_t *spec, struct res *out)
{
    struct res sum = {0}, init_max = {0}, sidecars = {0}, one = {0};
    int rc = 0;
    json_t *ctrs = json_object_get(spec, "containers");
    json_t *inits = json_object_get(spec, "initContainers");
    if (ctrs && !json_is_array(ctrs))
        return pfail(c, "spec.containers", "expected an array");
    if (inits && !json_is_null(inits) && !json_is_array(inits))
        return pfail(c, "spec.initContainers", "expected an array");
    size_t i;
    json_t *ct;
    json_array_foreach(ctrs, i, ct)
    {
        if (!json_is_object(ct)) {
            rc = pfail(c, "spec.containers", "entry %zu is not an object", i);
            goto out;
        }
        if ((rc = container_requests(c, ct, "spec.containers[].resources", &one)) < 0)
            goto out;
        rc = res_add(&sum, &one);
        res_free(&one);
        if (rc < 0)
            goto out;
    }
    json_array_foreach(inits, i, ct)
    {
        if (!json_is_object(ct)) {
            rc = pfail(c, "spec.initContainers", "entry %zu is not an object", i);
            goto out;
        }
        if ((rc = container_requests(c, ct, "spec.initContainers[].resources", &one)) < 0)
            goto out;
        const char *rp = NULL;
        if ((rc = get_str(c, ct, "restartPolicy", "spec.initContainers[].restartPolicy", &rp)) <
            0) {
            res_free(&one);
            goto out;
        }
        if (rp && strcmp(rp, "Always") == 0) {
            /* A sidecar keeps running: it adds to the steady state and to every later
             * init container's peak. */
            if ((rc = res_add(&sidecars, &one)) < 0 || (rc = res_add(&sum, &one)) < 0 ||
                (rc = res_max(&init_max, &sidecars)) < 0) {
                res_free(&one);
                goto out;
            }
        } else {
            if ((rc = res_add(&one, &sidecars)) < 0 || (rc = res_max(&init_max, &one)) < 0) {
                res_free(&one);
                goto out;
            }
        }
        res_free(&one);
    }
    if ((rc = res_max(&sum, &init_max)) < 0)
        goto out;
    json_t *pr = json_object_get(spec, "resources");
    if (pr && json_is_object(pr)) {
        struct res plr;
        if ((rc = parse_res(c, json_object_get(pr, "requests"), "spec.resources.requests",
                            &plr)) < 0)
            goto out;
        json_t *jr = json_object_get(pr, "requests");
        if (json_object_get(jr, "cpu"))
            sum.fixed[RES_CPU] = plr.fixed[RES_CPU];
        if (json_object_get(jr, "memory"))
            sum.fixed[RES_MEMORY] = plr.fixed[RES_MEMORY];
        for (uint32_t k = 0; k < plr.n_ext; k++) {
            if (strncmp(intern_str(&c->m->strings, plr.ext[k].name), "hugepages-", 10) != 0)
                continue;
            bool found = false;
            for (uint32_t j = 0; j < sum.n_ext; j++)
                if (sum.ext[j].name == plr.ext[k].name) {
                    sum.ext[j].val = plr.ext[k].val;
                    found = true;
                }
            if (!found) {
                struct res tmp = {0};
                tmp.n_ext = 1;
                tmp.ext = &plr.ext[k];
                if ((rc = res_max(&sum, &tmp)) < 0) {
                    res_free(&plr);
                    goto out;
                }
            }
        }
        res_free(&plr);
    }
    struct res ovh;
    if ((rc = parse_res(c, json_object_get(spec, "overhead"), "spec.overhead", &ovh)) < 0)
        goto out;
    rc = res_add(&sum, &ovh);
    res_free(&ovh);
    if (rc < 0)
        goto out;
    *out = sum;
    memset(&sum, 0, sizeof(sum));
out:
    res_free(&sum);
    res_free(&init_max);
    res_free(&sidecars);
    return rc;
}

int
model_pod_request(struct model *m, json_t *spec, struct res *out, char *err, size_t err_len)
{
    struct pctx c = {.m = m, .err = err, .err_len = err_len};
    if (!json_is_object(spec))
        return pfail(&c, "spec", "expected an object");
    return compute_request(&c, spec, out);
}

static int
parse_effect(const char *e, uint8_t *out)
{
    if (!e || !*e)
        *out = EFFECT_ALL;
    else if (strcmp(e, "NoSchedule") == 0)
        *out = EFFECT_NO_SCHEDULE;
    else if (strcmp(e, "PreferNoSchedule") == 0)
        *out = EFFECT_PREFER_NO_SCHEDULE;
    else if (strcmp(e, "NoExecute") == 0)
        *out = EFFECT_NO_EXECUTE;
    else
        return -1;
    return 0;
}

int
model_parse_taints(struct pctx *c, json_t *arr, struct taint **out, uint32_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, "spec.taints", "expected an array");
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    struct taint *t = calloc(n, sizeof(*t));
    if (!t)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        const char *key, *val, *eff;
        if (!json_is_object(e) || get_str(c, e, "key", "spec.taints[].key", &key) < 0 ||
            get_str(c, e, "value", "spec.taints[].value", &val) < 0 ||
            get_str(c, e, "effect", "spec.taints[].effect", &eff) < 0 || !key) {
            free(t);
            return pfail(c, "spec.taints", "entry %zu is malformed", i);
        }
        if (parse_effect(eff, &t[i].effect) < 0 || t[i].effect == EFFECT_ALL) {
            free(t);
            return pfail(c, "spec.taints[].effect", "unknown effect \"%.30s\"", eff ? eff : "");
        }
        t[i].key = intern_cstr(&c->m->strings, key);
        t[i].val = intern_cstr(&c->m->strings, val ? val : "");
    }
    *out = t;
    *n_out = (uint32_t)n;
    return 0;
}

static int
parse_tolerations(struct pctx *c, json_t *arr, struct pod_spec *s)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, "spec.tolerations", "expected an array");
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    s->tolerations = calloc(n, sizeof(*s->tolerations));
    if (!s->tolerations)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        const char *key, *val, *op, *eff;
        if (!json_is_object(e) || get_str(c, e, "key", "spec.tolerations[].key", &key) < 0 ||
            get_str(c, e, "value", "spec.tolerations[].value", &val) < 0 ||
            get_str(c, e, "operator", "spec.tolerations[].operator", &op) < 0 ||
            get_str(c, e, "effect", "spec.tolerations[].effect", &eff) < 0)
            return pfail(c, "spec.tolerations", "entry %zu is malformed", i);
        struct toleration *t = &s->tolerations[s->n_tolerations++];
        if (op && strcmp(op, "Exists") == 0)
            t->exists = 1;
        else if (op && *op && strcmp(op, "Equal") != 0)
            return pfail(c, "spec.tolerations[].operator", "unknown operator \"%.30s\"", op);
        if (parse_effect(eff, &t->effect) < 0)
            return pfail(c, "spec.tolerations[].effect", "unknown effect \"%.30s\"", eff);
        t->key = key && *key ? intern_cstr(&c->m->strings, key) : INTERN_NONE;
        t->val = intern_cstr(&c->m->strings, val ? val : "");
    }
    return 0;
}

static int
parse_ports_of(struct pctx *c, json_t *ctrs, const char *field, struct pod_spec *s)
{
    size_t i;
    json_t *ct;
    json_array_foreach(ctrs, i, ct)
    {
        json_t *ports = json_object_get(ct, "ports");
        if (!ports || json_is_null(ports))
            continue;
        if (!json_is_array(ports))
            return pfail(c, field, "ports is not an array");
        size_t j;
        json_t *p;
        json_array_foreach(ports, j, p)
        {
            json_t *hp = json_object_get(p, "hostPort");
            if (!hp || json_is_null(hp))
                continue;
            if (!json_is_integer(hp) || json_integer_value(hp) < 0 ||
                json_integer_value(hp) > 65535)
                return pfail(c, field, "hostPort is not a port number");
            if (json_integer_value(hp) == 0)
                continue;
            const char *proto, *ip;
            if (get_str(c, p, "protocol", field, &proto) < 0 ||
                get_str(c, p, "hostIP", field, &ip) < 0)
                return NSC_ERR_INVALID;
            struct host_port hpv = {.port = (uint16_t)json_integer_value(hp)};
            if (!proto || !*proto || strcmp(proto, "TCP") == 0)
                hpv.proto = PROTO_TCP;
            else if (strcmp(proto, "UDP") == 0)
                hpv.proto = PROTO_UDP;
            else if (strcmp(proto, "SCTP") == 0)
                hpv.proto = PROTO_SCTP;
            else
                return pfail(c, field, "unknown protocol \"%.20s\"", proto);
            hpv.ip = ip && *ip ? intern_cstr(&c->m->strings, ip) : c->m->s_zero_ip;
            struct host_port *np = realloc(s->ports, (s->n_ports + 1) * sizeof(*np));
            if (!np)
                return NSC_ERR_NOMEM;
            s->ports = np;
            s->ports[s->n_ports++] = hpv;
        }
    }
    return 0;
}

static int
parse_str_list(struct pctx *c, json_t *arr, const char *field, uint32_t **out, uint32_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, field, "expected an array of strings");
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    *out = malloc(n * sizeof(**out));
    if (!*out)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) {
            free(*out);
            *out = NULL;
            return pfail(c, field, "entry %zu is not a string", i);
        }
        (*out)[i] = intern_get(&c->m->strings, json_string_value(v), json_string_length(v));
    }
    *n_out = (uint32_t)n;
    return 0;
}

static int
parse_aff_terms(struct pctx *c, json_t *arr, const char *field, struct affinity_term **out,
                uint32_t *n_out)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, field, "expected an array");
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    *out = calloc(n, sizeof(**out));
    if (!*out)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        struct affinity_term *t = &(*out)[i];
        (*n_out)++;
        if (!json_is_object(e))
            return pfail(c, field, "term %zu is not an object", i);
        const char *tk;
        if (get_str(c, e, "topologyKey", field, &tk) < 0)
            return NSC_ERR_INVALID;
        if (!tk || !*tk)
            return pfail(c, field, "term %zu has no topologyKey", i);
        t->topo_key = intern_cstr(&c->m->strings, tk);
        json_t *ls = json_object_get(e, "labelSelector");
        t->sel_null = !ls || json_is_null(ls);
        int rc = parse_selector(c, ls, field, &t->sel);
        if (rc < 0)
            return rc;
        json_t *nss = json_object_get(e, "namespaceSelector");
        t->has_ns_sel = nss && !json_is_null(nss);
        if ((rc = parse_selector(c, nss, field, &t->ns_sel)) < 0)
            return rc;
        if ((rc = parse_str_list(c, json_object_get(e, "namespaces"), field, &t->ns,
                                 &t->n_ns)) < 0)
            return rc;
        if ((rc = parse_str_list(c, json_object_get(e, "matchLabelKeys"), field, &t->match_keys,
                                 &t->n_match_keys)) < 0)
            return rc;
        if ((rc = parse_str_list(c, json_object_get(e, "mismatchLabelKeys"), field,
                                 &t->mismatch_keys, &t->n_mismatch_keys)) < 0)
            return rc;
    }
    return 0;
}

static int
parse_spread(struct pctx *c, json_t *arr, struct pod_spec *s)
{
    const char *field = "spec.topologySpreadConstraints";
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, field, "expected an array");
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    s->spread = calloc(n, sizeof(*s->spread));
    if (!s->spread)
        return NSC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        struct spread *sp = &s->spread[i];
        s->n_spread++;
        if (!json_is_object(e))
            return pfail(c, field, "entry %zu is not an object", i);
        json_t *ms = json_object_get(e, "maxSkew");
        if (!json_is_integer(ms) || json_integer_value(ms) < 1 ||
            json_integer_value(ms) > INT32_MAX)
            return pfail(c, field, "entry %zu: maxSkew must be a positive integer", i);
        sp->max_skew = (int32_t)json_integer_value(ms);
        json_t *md = json_object_get(e, "minDomains");
        if (md && !json_is_null(md)) {
            if (!json_is_integer(md) || json_integer_value(md) < 1 ||
                json_integer_value(md) > INT32_MAX)
                return pfail(c, field, "entry %zu: minDomains must be a positive integer", i);
            sp->min_domains = (int32_t)json_integer_value(md);
        }
        const char *tk, *wu, *nap, *ntp;
        if (get_str(c, e, "topologyKey", field, &tk) < 0 ||
            get_str(c, e, "whenUnsatisfiable", field, &wu) < 0 ||
            get_str(c, e, "nodeAffinityPolicy", field, &nap) < 0 ||
            get_str(c, e, "nodeTaintsPolicy", field, &ntp) < 0)
            return NSC_ERR_INVALID;
        if (!tk || !*tk)
            return pfail(c, field, "entry %zu has no topologyKey", i);
        sp->topo_key = intern_cstr(&c->m->strings, tk);
        if (!wu || strcmp(wu, "DoNotSchedule") == 0)
            sp->do_not_schedule = true;
        else if (strcmp(wu, "ScheduleAnyway") != 0)
            return pfail(c, field, "entry %zu: unknown whenUnsatisfiable \"%.30s\"", i, wu);
        sp->honor_affinity = !nap || strcmp(nap, "Ignore") != 0;
        sp->honor_taints = ntp && strcmp(ntp, "Honor") == 0;
        json_t *ls = json_object_get(e, "labelSelector");
        sp->sel_null = !ls || json_is_null(ls);
        int rc = parse_selector(c, ls, field, &sp->sel);
        if (rc < 0)
            return rc;
        if ((rc = parse_str_list(c, json_object_get(e, "matchLabelKeys"), field,
                                 &sp->match_keys, &sp->n_match_keys)) < 0)
            return rc;
    }
    return 0;
}

static int
parse_volumes(struct pctx *c, json_t *arr, struct pod_spec *s)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return pfail(c, "spec.volumes", "expected an array");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *name;
        if (!json_is_object(v) || get_str(c, v, "name", "spec.volumes[].name", &name) < 0)
            return pfail(c, "spec.volumes", "entry %zu is malformed", i);
        json_t *pvc = json_object_get(v, "persistentVolumeClaim");
        json_t *ed = json_object_get(v, "emptyDir");
        json_t *hp = json_object_get(v, "hostPath");
        if (pvc && json_is_object(pvc)) {
            const char *cn;
            if (get_str(c, pvc, "claimName", "spec.volumes[].persistentVolumeClaim.claimName",
                        &cn) < 0)
                return NSC_ERR_INVALID;
            if (!cn)
                return pfail(c, "spec.volumes[].persistentVolumeClaim", "no claimName");
            uint32_t *nc = realloc(s->claims, (s->n_claims + 1) * sizeof(*nc));
            if (!nc)
                return NSC_ERR_NOMEM;
            s->claims = nc;
            s->claims[s->n_claims++] = intern_cstr(&c->m->strings, cn);
        }
        bool local = hp && json_is_object(hp);
        if (ed && json_is_object(ed)) {
            const char *medium;
            if (get_str(c, ed, "medium", "spec.volumes[].emptyDir.medium", &medium) < 0)
                return NSC_ERR_INVALID;
            local = !medium || strcmp(medium, "Memory") != 0;
        }
        if (local && name) {
            uint32_t *nl = realloc(s->local_vols, (s->n_local_vols + 1) * sizeof(*nl));
            if (!nl)
                return NSC_ERR_NOMEM;
            s->local_vols = nl;
            s->local_vols[s->n_local_vols++] = intern_cstr(&c->m->strings, name);
        }
    }
    return 0;
}

static int
spec_parse(struct pctx *c, json_t *spec, uint32_t ns, struct pod_spec *s)
{
    int rc;
    s->ns = ns;
    if ((rc = compute_request(c, spec, &s->req)) < 0)
        return rc;
    if ((rc = parse_labelset(c, json_object_get(spec, "nodeSelector"), "spec.nodeSelector",
                             false, &s->node_selector)) < 0)
        return rc;
    json_t *aff = json_object_get(spec, "affinity");
    if (aff && !json_is_null(aff) && !json_is_object(aff))
        return pfail(c, "spec.affinity", "expected an object");
    json_t *na = json_object_get(aff, "nodeAffinity");
    if ((rc = parse_node_selector(
             c, json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution"),
             "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
             &s->node_aff)) < 0)
        return rc;
    if ((rc = parse_aff_terms(
             c,
             json_object_get(json_object_get(aff, "podAffinity"),
                             "requiredDuringSchedulingIgnoredDuringExecution"),
             "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution",
             &s->aff, &s->n_aff)) < 0)
        return rc;
    if ((rc = parse_aff_terms(
             c,
             json_object_get(json_object_get(aff, "podAntiAffinity"),
                             "requiredDuringSchedulingIgnoredDuringExecution"),
             "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution",
             &s->anti, &s->n_anti)) < 0)
        return rc;
    if ((rc = parse_tolerations(c, json_object_get(spec, "tolerations"), s)) < 0)
        return rc;
    /* kube-scheduler's NodePorts reads app containers only, never init containers. */
    if ((rc = parse_ports_of(c, json_object_get(spec, "containers"), "spec.containers[].ports",
                             s)) < 0)
        return rc;
    if ((rc = parse_spread(c, json_object_get(spec, "topologySpreadConstraints"), s)) < 0)
        return rc;
    if ((rc = parse_volumes(c, json_object_get(spec, "volumes"), s)) < 0)
        return rc;
    json_t *pr = json_object_get(spec, "priority");
    if (pr && !json_is_null(pr)) {
        if (!json_is_integer(pr) || json_integer_value(pr) < INT32_MIN ||
            json_integer_value(pr) > INT32_MAX)
            return pfail(c, "spec.priority", "expected a 32-bit integer");
        s->priority = (int32_t)json_integer_value(pr);
    }
    const char *pp;
    if ((rc = get_str(c, spec, "preemptionPolicy", "spec.preemptionPolicy", &pp)) < 0)
        return rc;
    s->preempt_never = pp && strcmp(pp, "Never") == 0;
    json_t *gates = json_object_get(spec, "schedulingGates");
    s->gated = json_is_array(gates) && json_array_size(gates) > 0;
    s->host_network = json_is_true(json_object_get(spec, "hostNetwork"));
    return 0;
}

static json_t *
or_null(json_t *v)
{
    return v ? v : json_null();
}

/* The parts of a pod that placement depends on, as canonical JSON text. */
static char *
spec_key(json_t *spec, const char *ns)
{
    json_t *k = json_array();
    json_t *cs = json_array(), *is = json_array(), *vs = json_array();
    static const char *const fields[] = {
        "nodeSelector",    "affinity",   "tolerations", "topologySpreadConstraints",
        "overhead",        "resources",  "priority",    "preemptionPolicy",
        "schedulingGates", "hostNetwork"};
    char *out = NULL;
    if (!k || !cs || !is || !vs)
        goto done;
    json_array_append_new(k, json_string(ns));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(spec, fields[i]);
        json_array_append(k, v ? v : json_null());
    }
    size_t i;
    json_t *ct;
    json_array_foreach(json_object_get(spec, "containers"), i, ct)
    {
        json_t *e = json_array();
        json_array_append(e, or_null(json_object_get(ct, "resources")));
        json_array_append(e, or_null(json_object_get(ct, "ports")));
        json_array_append_new(cs, e);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, ct)
    {
        json_t *e = json_array();
        json_array_append(e, or_null(json_object_get(ct, "resources")));
        json_array_append(e, or_null(json_object_get(ct, "ports")));
        json_array_append(e, or_null(json_object_get(ct, "restartPolicy")));
        json_array_append_new(is, e);
    }
    json_array_foreach(json_object_get(spec, "volumes"), i, ct)
    {
        if (json_object_get(ct, "persistentVolumeClaim") || json_object_get(ct, "emptyDir") ||
            json_object_get(ct, "hostPath"))
            json_array_append(vs, ct);
    }
    json_array_append(k, cs);
    json_array_append(k, is);
    json_array_append(k, vs);
    out = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
done:
    json_decref(k);
    json_decref(cs);
    json_decref(is);
    json_decref(vs);
    return out;
}

/* "<length of ns>:<ns><raw members>": the length keeps namespace and text apart. */
static char *
raw_key(const struct pctx *c, const char *ns, char *small, size_t small_len)
{
    size_t ns_len = strlen(ns), n = 24 + ns_len + c->raw_spec_len;
    char *k = n <= small_len ? small : malloc(n);
    if (!k)
        return NULL;
    int h = snprintf(k, n, "%zu:%s", ns_len, ns);
    memcpy(k + h, c->raw_spec, c->raw_spec_len);
    k[(size_t)h + c->raw_spec_len] = 0;
    return k;
}

/* The raw_specs key of a raw key: its hash and length. The map holds only this short
 * name; the spec holds the text, compared on every hit, so a collision is a miss. */
static void
raw_name(const char *rk, char out[40])
{
    /* Eight bytes a step: the text is a pod's whole spec, hashed once per pod read. */
    size_t n = strlen(rk), left = n;
    const char *p = rk;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; left >= 8; p += 8, left -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, left);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    snprintf(out, 40, "%016llx:%zx", (unsigned long long)h, n);
}

/* Remember that raw text rk names s; without memory the cache simply misses later. */
static void
raw_remember(struct model *m, struct pod_spec *s, const char *rk)
{
    uint32_t slot, other;
    char name[40];
    raw_name(rk, name);
    if (s->raw || !smap_get(&m->specs.index, s->key, &slot) ||
        smap_get(&m->raw_specs, name, &other))
        return;
    if (!(s->raw = strdup(rk)))
        return;
    if (smap_put(&m->raw_specs, name, slot) < 0) {
        free(s->raw);
        s->raw = NULL;
    }
}

int
pod_spec_build(struct pctx *c, json_t *pod, uint32_t ns, struct pod_spec **out)
{
    struct model *m = c->m;
    char small[4096], *rk = NULL;
    int rc = 0;
    *out = NULL;
    if (c->raw_spec) {
        uint32_t slot;
        char name[40];
        if (!(rk = raw_key(c, intern_str(&m->strings, ns), small, sizeof(small))))
            return NSC_ERR_NOMEM;
        raw_name(rk, name);
        struct pod_spec *hit = smap_get(&m->raw_specs, name, &slot) && slot < m->specs.n_slots
                                   ? m->specs.slots[slot]
                                   : NULL;
        if (hit && hit->raw && strcmp(hit->raw, rk) == 0) {
            hit->refs++;
            *out = hit;
            goto done;
        }
        if (c->raw_only) {
            rc = POD_SPEC_MISS;
            goto done;
        }
    }
    json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec)) {
        rc = pfail(c, "spec", "missing or not an object");
        goto done;
    }
    /* The API server refuses a pod without containers: one read here is not a real pod,
     * and what it would request cannot be told. */
    json_t *ctrs = json_object_get(spec, "containers");
    if (!ctrs || json_is_null(ctrs)) {
        rc = pfail(c, "spec.containers", "missing: a pod has at least one container");
        goto done;
    }
    char *key = spec_key(spec, intern_str(&m->strings, ns));
    if (!key) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    struct pod_spec *found = table_get(&m->specs, key);
    if (found) {
        free(key);
        found->refs++;
        *out = found;
        if (rk)
            raw_remember(m, found, rk);
        goto done;
    }
    struct pod_spec *s = calloc(1, sizeof(*s));
    if (!s) {
        free(key);
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    s->key = key;
    rc = spec_parse(c, spec, ns, s);
    if (rc == 0)
        rc = table_put(&m->specs, key, s, NULL);
    if (rc < 0) {
        pod_spec_free(s);
        goto done;
    }
    s->refs = 1;
    *out = s;
    if (rk)
        raw_remember(m, s, rk);
done:
    if (rk != small)
        free(rk);
    return rc;
}

void
pod_spec_release(struct model *m, struct pod_spec *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->raw) {
        char name[40];
        raw_name(s->raw, name);
        smap_del(&m->raw_specs, name);
    }
    table_del(&m->specs, s->key);
    pod_spec_free(s);
}

void model_specs_free(struct model *m);

void
model_specs_free(struct model *m)
{
    for (uint32_t i = 0; i < m->specs.n_slots; i++)
        pod_spec_free(m->specs.slots[i]);
    table_free(&m->specs);
    smap_free(&m->raw_specs);
}
