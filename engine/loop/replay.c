/* Building the decision object of a planning pass, and its text rendering. */
#include "loop/replay.h"

#include <string.h>
#include <time.h>

static json_t *
pod_name(const struct model *m, const struct model_pod *p)
{
    char ref[600];
    return json_string(model_pod_ref(m, p, ref, sizeof(ref)));
}

json_t *
replay_decision_json(const struct model *m, const struct group_set *groups,
                     const struct scaleup_result *r)
{
    json_t *d = json_pack("{s:[], s:[], s:[], s:[], s:[]}", "scale_up", "fits_existing",
                          "no_scale_up", "scale_down", "unremovable");
    if (!d)
        return NULL;
    json_t *su = json_object_get(d, "scale_up"), *fe = json_object_get(d, "fits_existing"),
           *ns = json_object_get(d, "no_scale_up");
    int bad = 0;
    for (size_t i = 0; i < r->n_increases; i++) {
        const struct scaleup_increase *inc = &r->increases[i];
        json_t *pods = json_array();
        for (size_t k = 0; k < inc->n_pods; k++)
            bad |= json_array_append_new(pods, pod_name(m, inc->pods[k]));
        bad |= json_array_append_new(su, json_pack("{s:s, s:i, s:i, s:o}", "group",
                                                   groups->groups[inc->group].id, "from",
                                                   inc->from, "to", inc->to, "pods", pods));
    }
    for (size_t i = 0; i < r->n_fits; i++)
        bad |= json_array_append_new(fe,
                                     json_pack("{s:o, s:s}", "pod", pod_name(m, r->fits[i].pod),
                                               "node", r->fits[i].node));
    for (size_t i = 0; i < r->n_none; i++) {
        const struct scaleup_none *nn = &r->none[i];
        json_t *e = json_pack("{s:o}", "pod", pod_name(m, nn->pod));
        if (!e) {
            bad = 1;
            continue;
        }
        if (nn->why) {
            bad |= json_object_set_new(e, "reason", json_string(nn->why));
        } else {
            json_t *reasons = json_object();
            for (size_t k = 0; k < nn->n_reasons; k++)
                bad |= json_object_set_new(reasons, groups->groups[nn->reasons[k].group].id,
                                           json_string(nn->reasons[k].why));
            bad |= json_object_set_new(e, "reasons", reasons);
        }
        bad |= json_array_append_new(ns, e);
    }
    bad |= json_object_set_new(
        d, "summary",
        json_pack("{s:I, s:I, s:I, s:I}", "nodes", (json_int_t)m->nodes.n_live, "pods",
                  (json_int_t)m->pods.n_live, "pending", (json_int_t)r->n_pending, "groups",
                  (json_int_t)groups->n_groups));
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

int
replay_decide_at(struct model *m, const struct group_set *groups,
                 const struct scaleup_options *o, const struct scaledown_options *sdo,
                 int64_t now_s, json_t **out, char *err, size_t err_len)
{
    struct scaleup_result r;
    int rc = scaleup_plan(m, groups, o, &r, err, err_len);
    if (rc < 0)
        return rc;
    *out = replay_decision_json(m, groups, &r);
    bool scale_up_now = r.n_increases > 0;
    scaleup_result_free(&r);
    if (!*out) {
        snprintf(err, err_len, "out of memory building the decision");
        return NSC_ERR_NOMEM;
    }
    if ((rc = scaledown_replay(m, groups, sdo, now_s, scale_up_now, *out, err, err_len)) < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int
replay_decide(struct model *m, const struct group_set *groups, const struct scaleup_options *o,
              json_t **out, char *err, size_t err_len)
{
    struct scaledown_options sdo;
    scaledown_options_default(&sdo);
    return replay_decide_at(m, groups, o, &sdo, (int64_t)time(NULL), out, err, err_len);
}

static const char *
str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

int
replay_render_text(json_t *d, FILE *out)
{
    if (!json_is_object(d))
        return NSC_ERR_INVALID;
    json_t *su = json_object_get(d, "scale_up"), *fe = json_object_get(d, "fits_existing"),
           *ns = json_object_get(d, "no_scale_up"), *sd = json_object_get(d, "scale_down"),
           *ur = json_object_get(d, "unremovable"), *sm = json_object_get(d, "summary");
    size_t i;
    json_t *e;
    if (sm)
        fprintf(out, "Cluster: %lld nodes, %lld pods, %lld pending, %lld node groups\n",
                (long long)json_integer_value(json_object_get(sm, "nodes")),
                (long long)json_integer_value(json_object_get(sm, "pods")),
                (long long)json_integer_value(json_object_get(sm, "pending")),
                (long long)json_integer_value(json_object_get(sm, "groups")));
    if (json_array_size(su) == 0)
        fprintf(out, "Scale-up: none\n");
    else
        fprintf(out, "Scale-up:\n");
    json_array_foreach(su, i, e)
    {
        json_t *pods = json_object_get(e, "pods");
        fprintf(out, "  group %s: %lld -> %lld nodes, for %zu pod(s)\n", str_of(e, "group"),
                (long long)json_integer_value(json_object_get(e, "from")),
                (long long)json_integer_value(json_object_get(e, "to")), json_array_size(pods));
        size_t k;
        json_t *p;
        json_array_foreach(pods, k, p)
        {
            if (k == 20) {
                fprintf(out, "    ... and %zu more\n", json_array_size(pods) - k);
                break;
            }
            fprintf(out, "    %s\n", json_string_value(p));
        }
    }
    fprintf(out, "Pending pods that fit existing or upcoming nodes: %zu\n",
            json_array_size(fe));
    json_array_foreach(fe, i, e)
        fprintf(out, "  %s -> %s\n", str_of(e, "pod"), str_of(e, "node"));
    fprintf(out, "Pending pods no scale-up helps: %zu\n", json_array_size(ns));
    json_array_foreach(ns, i, e)
    {
        fprintf(out, "  %s\n", str_of(e, "pod"));
        if (json_object_get(e, "reason"))
            fprintf(out, "    %s\n", str_of(e, "reason"));
        const char *g;
        json_t *why;
        json_object_foreach(json_object_get(e, "reasons"), g, why)
            fprintf(out, "    group %s: %s\n", g, json_string_value(why));
    }
    if (json_array_size(sd) == 0)
        fprintf(out, "Scale-down: none\n");
    else
        fprintf(out, "Scale-down:\n");
    json_array_foreach(sd, i, e)
        fprintf(out, "  node %s (group %s)\n", str_of(e, "node"), str_of(e, "group"));
    if (json_array_size(ur))
        fprintf(out, "Nodes that cannot be removed:\n");
    json_array_foreach(ur, i, e)
        fprintf(out, "  node %s: %s\n", str_of(e, "node"), str_of(e, "reason"));
    return 0;
}
