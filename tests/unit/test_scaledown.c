/* Check suite for engine/scaledown: the drain rules and utilization from the tables in
 * tests/data/scaledown, the options, the node annotations and the planner's limits. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/options.h"
#include "loop/replay.h"
#include "model/model.h"
#include "nsc_config.h"
#include "plugin/plugin.h"
#include "scaledown/scaledown.h"

static char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/scaledown/%s", top ? top : "..", name);
    return buf;
}

static json_t *
load_cases(const char *name)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path(name), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s: %s line %d", name, jerr.text, jerr.line);
    ck_assert(json_is_array(cases));
    return cases;
}

static int64_t
parse_time(const char *s)
{
    /* Reuse the planner's own parser through a throw-away node annotation. */
    struct model *m = model_new();
    char buf[512];
    snprintf(
        buf, sizeof(buf),
        "{\"kind\":\"Node\",\"metadata\":{\"name\":\"t\",\"annotations\":{\"%s\":\"%s\"}}}",
        SCALEDOWN_ANN_UNNEEDED_SINCE, s);
    json_t *o = json_loads(buf, 0, NULL);
    ck_assert_int_eq(model_upsert_node(m, o), 0);
    json_decref(o);
    struct scaledown_options opt;
    scaledown_options_default(&opt);
    struct scaledown_rules r;
    scaledown_rules_init(&r, m, &opt, NULL);
    int64_t t = 0;
    char err[200];
    ck_assert_int_eq(
        scaledown_node_unneeded_since(&r, model_find_node(m, "t"), &t, err, sizeof(err)), 1);
    model_free(m);
    return t;
}

/* Options named in a case's "options" object, by their struct field names. */
static void
apply_options(struct scaledown_options *o, json_t *opts)
{
    const char *k;
    json_t *v;
    json_object_foreach(opts, k, v)
    {
        if (strcmp(k, "skip_nodes_with_system_pods") == 0)
            o->skip_nodes_with_system_pods = json_is_true(v);
        else if (strcmp(k, "skip_nodes_with_local_storage") == 0)
            o->skip_nodes_with_local_storage = json_is_true(v);
        else if (strcmp(k, "skip_nodes_with_custom_controller_pods") == 0)
            o->skip_nodes_with_custom_controller_pods = json_is_true(v);
        else if (strcmp(k, "ignore_daemonsets_utilization") == 0)
            o->ignore_daemonsets_utilization = json_is_true(v);
        else if (strcmp(k, "ignore_mirror_pods_utilization") == 0)
            o->ignore_mirror_pods_utilization = json_is_true(v);
        else
            ck_abort_msg("unknown option %s in fixture", k);
    }
}

static const char *const outcome_names[] = {"move", "skip", "block"};

START_TEST(rules_table)
{
    json_t *cases = load_cases("rules.json");
    size_t i;
    json_t *tc;
    int n_block = 0;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct model *m = model_new();
        ck_assert_ptr_nonnull(m);
        size_t j;
        json_t *pdb;
        json_array_foreach(json_object_get(tc, "pdbs"), j, pdb)
            ck_assert_msg(model_upsert_pdb(m, pdb) == 0, "%s: PDB refused", name);
        ck_assert_msg(model_upsert_pod(m, json_object_get(tc, "pod")) == 0, "%s: pod refused",
                      name);
        struct model_pod *p = NULL;
        for (uint32_t s = 0; s < m->pods.n_slots && !p; s++)
            p = m->pods.slots[s];
        ck_assert_ptr_nonnull(p);
        struct scaledown_options opt;
        scaledown_options_default(&opt);
        apply_options(&opt, json_object_get(tc, "options"));
        struct scaledown_pdbs pdbs;
        ck_assert_int_eq(scaledown_pdbs_init(&pdbs, m), 0);
        struct scaledown_rules r;
        scaledown_rules_init(&r, m, &opt, &pdbs);
        enum scaledown_rule rule = SD_RULE_N;
        char why[512] = "";
        int64_t now = parse_time(json_string_value(json_object_get(tc, "now")));
        enum scaledown_pod_outcome got =
            scaledown_pod_check(&r, p, now, &rule, NULL, why, sizeof(why));
        const char *want = json_string_value(json_object_get(tc, "want"));
        ck_assert_msg(strcmp(outcome_names[got], want) == 0, "%s: outcome %s, want %s (%s)",
                      name, outcome_names[got], want, why);
        ck_assert_msg(strcmp(scaledown_rule_name(rule),
                             json_string_value(json_object_get(tc, "rule"))) == 0,
                      "%s: rule %s", name, scaledown_rule_name(rule));
        const char *reason = json_string_value(json_object_get(tc, "reason"));
        if (got == SD_POD_BLOCK) {
            ck_assert_msg(reason != NULL, "%s: a blocking case must check its reason", name);
            ck_assert_msg(strstr(why, reason) != NULL, "%s: reason \"%s\" lacks \"%s\"", name,
                          why, reason);
            n_block++;
        }
        scaledown_pdbs_free(&pdbs);
        model_free(m);
    }
    ck_assert_int_ge(json_array_size(cases), 40);
    ck_assert_int_ge(n_block, 15);
    json_decref(cases);
}
END_TEST

START_TEST(utilization_table)
{
    json_t *cases = load_cases("utilization.json");
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct model *m = model_new();
        ck_assert_int_eq(model_upsert_node(m, json_object_get(tc, "node")), 0);
        size_t j;
        json_t *pj;
        json_array_foreach(json_object_get(tc, "pods"), j, pj)
            ck_assert_msg(model_upsert_pod(m, pj) == 0, "%s: pod %zu refused", name, j);
        const struct model_pod *pods[16];
        uint32_t n_pods = 0;
        for (uint32_t s = 0; s < m->pods.n_slots; s++)
            if (m->pods.slots[s])
                pods[n_pods++] = m->pods.slots[s];
        struct scaledown_options opt;
        scaledown_options_default(&opt);
        apply_options(&opt, json_object_get(tc, "options"));
        struct scaledown_util u;
        char err[256] = "";
        int64_t now = parse_time(json_string_value(json_object_get(tc, "now")));
        int rc = scaledown_utilization(m, model_find_node(m, "n1"), pods, n_pods, &opt, now, &u,
                                       err, sizeof(err));
        const char *want_err = json_string_value(json_object_get(tc, "error"));
        if (want_err) {
            ck_assert_msg(rc == NSC_ERR_INVALID, "%s: accepted", name);
            ck_assert_msg(strcmp(err, want_err) == 0, "%s: error \"%s\"", name, err);
        } else {
            ck_assert_msg(rc == 0, "%s: %s", name, err);
            double want = json_real_value(json_object_get(tc, "value"));
            if (json_is_integer(json_object_get(tc, "value")))
                want = (double)json_integer_value(json_object_get(tc, "value"));
            ck_assert_msg(fabs(u.value - want) < 1e-9, "%s: value %g want %g", name, u.value,
                          want);
            ck_assert_str_eq(scaledown_util_res_name(u.res),
                             json_string_value(json_object_get(tc, "res")));
            json_t *c;
            if ((c = json_object_get(tc, "cpu")))
                ck_assert_msg(fabs(u.cpu - json_number_value(c)) < 1e-9, "%s: cpu %g", name,
                              u.cpu);
            if ((c = json_object_get(tc, "memory")))
                ck_assert_msg(fabs(u.memory - json_number_value(c)) < 1e-9, "%s: memory %g",
                              name, u.memory);
            if ((c = json_object_get(tc, "gpu")))
                ck_assert_msg(fabs(u.gpu - json_number_value(c)) < 1e-9, "%s: gpu %g", name,
                              u.gpu);
        }
        model_free(m);
    }
    ck_assert_int_ge(json_array_size(cases), 12);
    json_decref(cases);
}
END_TEST

START_TEST(options_defaults_and_checks)
{
    struct scaledown_options o;
    char err[200] = "";
    scaledown_options_default(&o);
    ck_assert(o.enabled);
    ck_assert(o.utilization_threshold == 0.5 && o.gpu_utilization_threshold == 0.5);
    ck_assert_int_eq(o.unneeded_time_s, 600);
    ck_assert_int_eq(o.unready_time_s, 1200);
    ck_assert_int_eq(o.delay_after_add_s, 600);
    ck_assert_int_eq(o.delay_after_delete_s, 0);
    ck_assert_int_eq(o.delay_after_failure_s, 180);
    ck_assert_int_eq(o.max_parallelism, 10);
    ck_assert_int_eq(o.max_drain_parallelism, 1);
    ck_assert(o.skip_nodes_with_system_pods && o.skip_nodes_with_local_storage);
    ck_assert(!o.ignore_daemonsets_utilization && !o.ignore_mirror_pods_utilization);
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), 0);

    o.utilization_threshold = 1.5;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--scale-down-utilization-threshold") != NULL);
    o.utilization_threshold = NAN;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    scaledown_options_default(&o);
    o.gpu_utilization_threshold = -0.1;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--scale-down-gpu-utilization-threshold") != NULL);
    scaledown_options_default(&o);
    o.unneeded_time_s = -1;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--scale-down-unneeded-time") != NULL);
    scaledown_options_default(&o);
    o.delay_after_failure_s = -1;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--scale-down-delay-after-failure") != NULL);
    scaledown_options_default(&o);
    o.max_parallelism = 0;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--max-scale-down-parallelism") != NULL);
    scaledown_options_default(&o);
    o.max_drain_parallelism = 0;
    ck_assert_int_eq(scaledown_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--max-drain-parallelism") != NULL);
}
END_TEST

/* A node with the given annotation value (NULL: no annotation) in a fresh model. */
static struct model *
node_with(const char *key, const char *val)
{
    struct model *m = model_new();
    json_t *o = json_pack("{s:s, s:{s:s}}", "kind", "Node", "metadata", "name", "n1");
    if (val)
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", key, val));
    ck_assert_int_eq(model_upsert_node(m, o), 0);
    json_decref(o);
    return m;
}

START_TEST(node_annotation_scale_down_disabled)
{
    static const struct {
        const char *val;
        bool disabled;
    } cases[] = {{"true", true}, {"false", false}, {"True", false}, {"", false}, {NULL, false}};
    struct scaledown_options opt;
    scaledown_options_default(&opt);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct model *m = node_with(SCALEDOWN_ANN_DISABLED, cases[i].val);
        struct scaledown_rules r;
        scaledown_rules_init(&r, m, &opt, NULL);
        ck_assert_msg(scaledown_node_disabled(&r, model_find_node(m, "n1")) ==
                          cases[i].disabled,
                      "value \"%s\"", cases[i].val ? cases[i].val : "(none)");
        model_free(m);
    }
}
END_TEST

START_TEST(node_annotation_unneeded_since)
{
    static const struct {
        const char *val;
        int rc;
        int64_t t;
    } cases[] = {
        {"2026-01-01T00:00:00Z", 1, 1767225600},
        {"2026-01-01T01:00:00+01:00", 1, 1767225600},
        {"2026-01-01T00:00:00.123456Z", 1, 1767225600},
        {"2026-01-01 00:00:00Z", NSC_ERR_INVALID, 0},
        {"2026-13-01T00:00:00Z", NSC_ERR_INVALID, 0},
        {"1767225600", NSC_ERR_INVALID, 0},
        {"2026-01-01T00:00:00", NSC_ERR_INVALID, 0},
        {NULL, 0, 0},
    };
    struct scaledown_options opt;
    scaledown_options_default(&opt);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct model *m = node_with(SCALEDOWN_ANN_UNNEEDED_SINCE, cases[i].val);
        struct scaledown_rules r;
        scaledown_rules_init(&r, m, &opt, NULL);
        int64_t t = -1;
        char err[256] = "";
        int rc =
            scaledown_node_unneeded_since(&r, model_find_node(m, "n1"), &t, err, sizeof(err));
        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d", cases[i].val, rc);
        if (rc == 1)
            ck_assert_int_eq(t, cases[i].t);
        if (rc < 0)
            ck_assert_msg(strstr(err, "node n1: annotation nodescaler.io/unneeded-since") !=
                              NULL,
                          "%s", err);
        model_free(m);
    }
    char buf[40];
    ck_assert_str_eq(scaledown_format_time(1767225600, buf, sizeof(buf)),
                     "2026-01-01T00:00:00Z");
}
END_TEST

START_TEST(pdb_match_by_namespace)
{
    struct model *m = model_new();
    static const char *const docs[] = {
        "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"z\",\"namespace\":\"b\"},"
        "\"spec\":{\"selector\":{}},\"status\":{\"disruptionsAllowed\":2}}",
        "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"y\",\"namespace\":\"a\"},"
        "\"spec\":{\"selector\":{}},\"status\":{\"disruptionsAllowed\":1}}",
        "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"x\",\"namespace\":\"b\"},"
        "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"q\"}}},\"status\":{}}",
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"b\",\"labels\":"
        "{\"app\":\"q\"}},\"spec\":{\"containers\":[]}}",
    };
    for (size_t i = 0; i < 4; i++) {
        json_t *o = json_loads(docs[i], 0, NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(model_upsert(m, o, NULL), 0);
        json_decref(o);
    }
    struct scaledown_pdbs t;
    ck_assert_int_eq(scaledown_pdbs_init(&t, m), 0);
    ck_assert_int_eq(t.n, 3);
    uint32_t out[4];
    ck_assert_int_eq(scaledown_pdbs_match(&t, model_find_pod(m, "b", "p"), out, 1), 2);
    ck_assert_int_eq(scaledown_pdbs_match(&t, model_find_pod(m, "b", "p"), out, 4), 2);
    ck_assert_str_eq(t.pdb[out[0]]->name, "x");
    ck_assert_str_eq(t.pdb[out[1]]->name, "z");
    ck_assert_int_eq(t.remaining[out[1]], 2);
    t.remaining[out[1]] = 0;
    scaledown_pdbs_reset(&t);
    ck_assert_int_eq(t.remaining[out[1]], 2);
    scaledown_pdbs_free(&t);
    model_free(m);
}
END_TEST

/* ---- planner ---- */

static void
plan_options(struct scaledown_options *o, json_t *opts)
{
    const char *k;
    json_t *v;
    json_object_foreach(opts, k, v)
    {
        if (strcmp(k, "enabled") == 0)
            o->enabled = json_is_true(v);
        else if (strcmp(k, "unready_enabled") == 0)
            o->unready_enabled = json_is_true(v);
        else if (strcmp(k, "unneeded_time_s") == 0)
            o->unneeded_time_s = json_integer_value(v);
        else if (strcmp(k, "unready_time_s") == 0)
            o->unready_time_s = json_integer_value(v);
        else if (strcmp(k, "delay_after_delete_s") == 0)
            o->delay_after_delete_s = json_integer_value(v);
        else if (strcmp(k, "max_parallelism") == 0)
            o->max_parallelism = (uint32_t)json_integer_value(v);
        else if (strcmp(k, "max_drain_parallelism") == 0)
            o->max_drain_parallelism = (uint32_t)json_integer_value(v);
        else
            ck_abort_msg("unknown planner option %s in fixture", k);
    }
}

static int64_t
opt_time(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v ? parse_time(json_string_value(v)) : 0;
}

/* The groups of a case: instances are static://<node>; "deleting" lists deleting ones. */
static void
build_groups(json_t *groups, struct group_set *gs, struct scaledown_group_state **gst)
{
    gs->n_groups = json_array_size(groups);
    gs->groups = calloc(gs->n_groups + 1, sizeof(*gs->groups));
    *gst = calloc(gs->n_groups + 1, sizeof(**gst));
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        struct group_rec *r = &gs->groups[i];
        r->id = strdup(json_string_value(json_object_get(g, "id")));
        r->min_size = (int32_t)json_integer_value(json_object_get(g, "min"));
        r->max_size = (int32_t)json_integer_value(json_object_get(g, "max"));
        r->target_size = (int32_t)json_integer_value(json_object_get(g, "target"));
        json_t *nodes = json_object_get(g, "nodes"), *del = json_object_get(g, "deleting");
        r->n_instances = json_array_size(nodes);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        size_t k;
        json_t *nn;
        json_array_foreach(nodes, k, nn)
        {
            char pid[300];
            snprintf(pid, sizeof(pid), "static://%s", json_string_value(nn));
            r->instances[k].provider_id = strdup(pid);
            r->instances[k].state = NSC_INSTANCE_RUNNING;
            size_t d;
            json_t *dn;
            json_array_foreach(del, d, dn) if (json_equal(dn, nn)) r->instances[k].state =
                NSC_INSTANCE_DELETING;
        }
        (*gst)[i].backed_off = json_is_true(json_object_get(g, "backed_off"));
        (*gst)[i].backoff_until_s = opt_time(g, "backoff_until");
        (*gst)[i].n_deleting = (uint32_t)json_integer_value(json_object_get(g, "n_deleting"));
    }
}

/* Run the planner on case tc, after the items of tc and then the objects of the JSON
 * array text extra (NULL: none), which the model may refuse; the journal is the caller's
 * to free. */
static void
run_case_with(json_t *tc, const char *extra, struct scaledown_journal *j)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    struct model *m = model_new();
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(tc, "items"), i, it)
        ck_assert_msg(model_upsert(m, it, NULL) == 0, "%s: item %zu refused", name, i);
    json_t *more = extra ? json_loads(extra, 0, NULL) : json_array();
    ck_assert_ptr_nonnull(more);
    json_array_foreach(more, i, it) model_upsert(m, it, NULL);
    json_decref(more);
    struct group_set gs = {0};
    struct scaledown_group_state *gst = NULL;
    build_groups(json_object_get(tc, "groups"), &gs, &gst);
    struct scaledown_options o;
    scaledown_options_default(&o);
    plan_options(&o, json_object_get(tc, "options"));
    json_t *sj = json_object_get(tc, "state");
    struct scaledown_state st = {
        .now_s = parse_time(json_string_value(json_object_get(tc, "now"))),
        .last_scale_up_s = opt_time(sj, "last_scale_up"),
        .last_delete_s = opt_time(sj, "last_delete"),
        .last_failure_s = opt_time(sj, "last_failure"),
        .n_deleting = (uint32_t)json_integer_value(json_object_get(sj, "n_deleting")),
        .n_deleting_drain =
            (uint32_t)json_integer_value(json_object_get(sj, "n_deleting_drain")),
        .groups = gst,
    };
    char err[256] = "";
    ck_assert_msg(scaledown_plan(m, &gs, &o, &st, j, err, sizeof(err)) == 0, "%s: %s", name,
                  err);
    ck_assert_int_eq(j->n_nodes, m->nodes.n_live);
    ck_assert_int_eq(j->n_removable + j->n_unneeded + j->n_unremovable, j->n_nodes);
    group_set_free(&gs);
    free(gst);
    model_free(m);
}

static void
run_case(json_t *tc, struct scaledown_journal *j)
{
    run_case_with(tc, NULL, j);
}

START_TEST(plan_table)
{
    json_t *cases = load_cases("plan.json");
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct scaledown_journal j;
        run_case(tc, &j);
        const char *node;
        json_t *w;
        json_object_foreach(json_object_get(tc, "want"), node, w)
        {
            const struct scaledown_node *e = scaledown_journal_find(&j, node);
            ck_assert_msg(e != NULL, "%s: no entry for %s", name, node);
            char why[1400];
            scaledown_node_reason_text(e, why, sizeof(why));
            const char *ws = json_string_value(json_object_get(w, "state"));
            ck_assert_msg(strcmp(scaledown_node_state_name(e->state), ws) == 0,
                          "%s: %s is %s, want %s (%s)", name, node,
                          scaledown_node_state_name(e->state), ws, why);
            ck_assert_msg((e->reason == SD_REASON_NONE) == (e->state == SD_NODE_REMOVABLE),
                          "%s: %s: a reason exactly when not removable", name, node);
            const char *v;
            if ((v = json_string_value(json_object_get(w, "reason"))))
                ck_assert_msg(strcmp(scaledown_reason_name(e->reason), v) == 0,
                              "%s: %s: reason %s, want %s (%s)", name, node,
                              scaledown_reason_name(e->reason), v, why);
            if ((v = json_string_value(json_object_get(w, "rule"))))
                ck_assert_msg(strcmp(scaledown_rule_name(e->rule), v) == 0, "%s: %s: rule %s",
                              name, node, scaledown_rule_name(e->rule));
            if ((v = json_string_value(json_object_get(w, "object"))))
                ck_assert_msg(e->object && strcmp(e->object, v) == 0, "%s: %s: object %s", name,
                              node, e->object ? e->object : "(none)");
            if ((v = json_string_value(json_object_get(w, "message"))))
                ck_assert_msg(e->message && strstr(e->message, v),
                              "%s: %s: message \"%s\" lacks \"%s\"", name, node,
                              e->message ? e->message : "", v);
            json_t *b;
            if ((b = json_object_get(w, "empty")))
                ck_assert_msg(e->empty == json_is_true(b), "%s: %s: empty %d", name, node,
                              e->empty);
            if ((b = json_object_get(w, "pods_to_move")))
                ck_assert_int_eq(e->n_pods_to_move, json_integer_value(b));
            if ((v = json_string_value(json_object_get(w, "since")))) {
                char t[40];
                ck_assert_str_eq(scaledown_format_time(e->unneeded_since_s, t, sizeof(t)), v);
            }
            if ((b = json_object_get(w, "since_annotated")))
                ck_assert_msg(e->since_annotated == json_is_true(b), "%s: %s: annotated", name,
                              node);
        }
        scaledown_journal_free(&j);
    }
    ck_assert_int_ge(json_array_size(cases), 30);
    json_decref(cases);
}
END_TEST

START_TEST(journal_renderings)
{
    json_t *cases = load_cases("plan.json");
    json_t *tc = json_array_get(cases, 0); /* empty node goes, busy node stays */
    struct scaledown_journal j;
    run_case(tc, &j);
    json_t *sd = scaledown_json_scale_down(&j), *un = scaledown_json_unremovable(&j);
    char *a = json_dumps(sd, JSON_COMPACT), *b = json_dumps(un, JSON_COMPACT);
    ck_assert_str_eq(a, "[{\"node\":\"n1\",\"group\":\"g\"}]");
    ck_assert_str_eq(b,
                     "[{\"node\":\"n2\",\"reason\":\"NotUnderutilized: cpu utilization 0.750 "
                     "is above the threshold 0.500\"}]");
    free(a);
    free(b);
    json_decref(sd);
    json_decref(un);
    json_t *full = scaledown_json_journal(&j);
    ck_assert_ptr_nonnull(full);
    ck_assert_int_eq(json_integer_value(json_object_get(full, "removable")), 1);
    json_t *n2 = json_array_get(json_object_get(full, "nodes"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(n2, "state")), "unremovable");
    ck_assert_str_eq(json_string_value(json_object_get(n2, "object")),
                     "--scale-down-utilization-threshold");
    json_decref(full);
    char *text = NULL;
    ck_assert_int_eq(scaledown_text(&j, &text), 0);
    ck_assert_str_eq(text, "scale-down: 1 removable, 0 unneeded, 1 unremovable\n"
                           "  remove n1 (group g, empty, 0 pod(s) to move)\n"
                           "  keep n2: NotUnderutilized: cpu utilization 0.750 is above the "
                           "threshold 0.500\n");
    free(text);
    scaledown_journal_free(&j);
    json_decref(cases);
}
END_TEST

/* A pod the model refuses (a toleration operator "Gt", a timestamp that is not RFC 3339)
 * still runs on its node: that node must stay, named by the pod, and take no pods. */
START_TEST(plan_unreadable_pod_keeps_node)
{
    json_t *cases = load_cases("plan.json");
    json_t *tc = json_array_get(cases, 0); /* n1 empty and removable, n2 busy */
    static const char *const bad[] = {
        "[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"bare\",\"namespace\":\"default\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"tolerations\":[{\"key\":\"k\",\"operator\":\"Gt\"}],"
        "\"containers\":[{\"name\":\"c\"}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]},"
        "\"status\":{\"phase\":\"Running\"}}]",
        "[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"bare\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"yesterday\"},\"spec\":{\"nodeName\":\"n1\","
        "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\"}}]",
    };
    for (size_t k = 0; k < 2; k++) {
        struct scaledown_journal j;
        run_case_with(tc, bad[k], &j);
        const struct scaledown_node *e = scaledown_journal_find(&j, "n1");
        char why[1400];
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(e->state == SD_NODE_UNREMOVABLE, "case %zu: n1 is %s", k,
                      scaledown_node_state_name(e->state));
        ck_assert_str_eq(scaledown_reason_name(e->reason), "UnreadablePod");
        ck_assert_str_eq(e->object, "default/bare");
        scaledown_node_reason_text(e, why, sizeof(why));
        ck_assert_msg(strstr(why, k == 0 ? "operator" : "creationTimestamp"), "%s", why);
        scaledown_journal_free(&j);
    }
    json_decref(cases);
}
END_TEST

/* A PDB the model cannot read may protect any pod of its namespace: none is evicted. */
START_TEST(plan_unreadable_pdb_blocks_namespace)
{
    json_t *cases = load_cases("plan.json");
    /* "two half-empty nodes: one drains onto the other": a drain that needs an eviction. */
    json_t *tc = NULL;
    for (size_t i = 0; i < json_array_size(cases); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(cases, i), "name")),
                   "two half-empty nodes: one drains onto the other") == 0)
            tc = json_array_get(cases, i);
    ck_assert_ptr_nonnull(tc);
    struct scaledown_journal j;
    run_case(tc, &j);
    ck_assert_uint_ge(j.n_removable, 1); /* without the PDB a node goes */
    scaledown_journal_free(&j);
    run_case_with(tc,
                  "[{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"guard\","
                  "\"namespace\":\"default\"},\"spec\":{\"selector\":{},"
                  "\"minAvailable\":\"many\"},\"status\":{\"disruptionsAllowed\":0}}]",
                  &j);
    ck_assert_uint_eq(j.n_removable, 0);
    for (size_t i = 0; i < j.n_nodes; i++) {
        const struct scaledown_node *e = &j.nodes[i];
        if (e->empty)
            continue;
        ck_assert_msg(e->state == SD_NODE_UNREMOVABLE, "%s is %s", e->name,
                      scaledown_node_state_name(e->state));
        ck_assert_str_eq(scaledown_reason_name(e->reason), "BlockedByPod");
        ck_assert_str_eq(scaledown_rule_name(e->rule), "pdb");
        ck_assert_str_eq(e->object, "default/guard");
        ck_assert_msg(strstr(e->message, "could not be read"), "%s", e->message);
    }
    /* Another namespace's pods are not concerned. */
    scaledown_journal_free(&j);
    run_case_with(tc,
                  "[{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"guard\","
                  "\"namespace\":\"other\"},\"spec\":{\"minAvailable\":\"many\"}}]",
                  &j);
    ck_assert_uint_ge(j.n_removable, 1);
    scaledown_journal_free(&j);
    json_decref(cases);
}
END_TEST

START_TEST(plan_rejects_bad_options)
{
    struct model *m = model_new();
    struct scaledown_options o;
    scaledown_options_default(&o);
    o.max_drain_parallelism = 0;
    struct scaledown_state st = {.now_s = 1};
    struct scaledown_journal j;
    char err[200] = "";
    ck_assert_int_eq(scaledown_plan(m, NULL, &o, &st, &j, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "--max-drain-parallelism") != NULL);
    ck_assert_int_eq(j.n_nodes, 0);
    model_free(m);
}
END_TEST

/* ---- offline replay fixtures ---- */

static json_t *
load_json(const char *path)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s line %d", path, jerr.text, jerr.line);
    return j;
}

/* groups.json in the static backend's format: instances are provider IDs or objects
 * {"provider_id", "state"}. */
static void
load_static_groups(const char *path, struct group_set *gs)
{
    json_t *root = load_json(path), *arr = json_object_get(root, "groups");
    gs->n_groups = json_array_size(arr);
    gs->groups = calloc(gs->n_groups + 1, sizeof(*gs->groups));
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        struct group_rec *r = &gs->groups[i];
        r->id = strdup(json_string_value(json_object_get(g, "id")));
        r->min_size = (int32_t)json_integer_value(json_object_get(g, "min"));
        r->max_size = (int32_t)json_integer_value(json_object_get(g, "max"));
        r->target_size = (int32_t)json_integer_value(json_object_get(g, "target"));
        json_t *inst = json_object_get(g, "instances");
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        size_t k;
        json_t *v;
        json_array_foreach(inst, k, v)
        {
            const char *pid = json_is_string(v)
                                  ? json_string_value(v)
                                  : json_string_value(json_object_get(v, "provider_id"));
            const char *st = json_string_value(json_object_get(v, "state"));
            r->instances[k].provider_id = strdup(pid);
            r->instances[k].state = st && strcmp(st, "deleting") == 0 ? NSC_INSTANCE_DELETING
                                                                      : NSC_INSTANCE_RUNNING;
        }
    }
    json_decref(root);
}

START_TEST(replay_fixtures)
{
    FILE *idx = fopen(data_path("replay/index.txt"), "r");
    ck_assert_ptr_nonnull(idx);
    bool write = getenv("SCALEDOWN_WRITE_EXPECTED") != NULL;
    char slug[256];
    int n = 0;
    while (fgets(slug, sizeof(slug), idx)) {
        slug[strcspn(slug, "\n")] = 0;
        if (!slug[0])
            continue;
        char path[600];
        snprintf(path, sizeof(path), "replay/%s/case.json", slug);
        char case_path[4096];
        snprintf(case_path, sizeof(case_path), "%s", data_path(path));
        json_t *tc = load_json(case_path);
        struct model *m = model_new();
        char err[300] = "";
        snprintf(path, sizeof(path), "replay/%s/snapshot.json", slug);
        struct model_load_stats ls;
        ck_assert_msg(model_load_file(m, data_path(path), &ls, err, sizeof(err)) == 0, "%s: %s",
                      slug, err);
        ck_assert_int_eq(ls.n_skipped, 0);
        struct group_set gs = {0};
        snprintf(path, sizeof(path), "replay/%s/groups.json", slug);
        load_static_groups(data_path(path), &gs);
        struct scaleup_options uo;
        scaleup_options_default(&uo);
        struct scaledown_options o;
        scaledown_options_default(&o);
        plan_options(&o, json_object_get(tc, "options"));
        json_t *d = NULL;
        int64_t now = parse_time(json_string_value(json_object_get(tc, "now")));
        ck_assert_msg(replay_decide_at(m, &gs, &uo, &o, now, &d, err, sizeof(err)) == 0,
                      "%s: %s", slug, err);
        json_t *got = json_pack("{s:O, s:O}", "scale_down", json_object_get(d, "scale_down"),
                                "unremovable", json_object_get(d, "unremovable"));
        /* The hand-written expectations: removable nodes in scale_down, the others in
         * unremovable with their reason first. */
        const char *node;
        json_t *w;
        json_object_foreach(json_object_get(tc, "want"), node, w)
        {
            bool removable =
                strcmp(json_string_value(json_object_get(w, "state")), "removable") == 0;
            bool found = false;
            size_t k;
            json_t *e;
            json_array_foreach(json_object_get(got, removable ? "scale_down" : "unremovable"),
                               k, e)
            {
                if (strcmp(json_string_value(json_object_get(e, "node")), node) != 0)
                    continue;
                found = true;
                const char *reason = json_string_value(json_object_get(w, "reason"));
                if (!removable && reason)
                    ck_assert_msg(strncmp(json_string_value(json_object_get(e, "reason")),
                                          reason, strlen(reason)) == 0,
                                  "%s: %s: %s", slug, node,
                                  json_string_value(json_object_get(e, "reason")));
            }
            ck_assert_msg(found, "%s: %s not %s", slug, node,
                          removable ? "in scale_down" : "in unremovable");
        }
        if (write) {
            json_object_set(tc, "expected", got);
            ck_assert_int_eq(json_dump_file(tc, case_path, JSON_INDENT(1)), 0);
        } else {
            json_t *want = json_object_get(tc, "expected");
            char *g = json_dumps(got, JSON_INDENT(1));
            ck_assert_msg(json_equal(got, want), "%s: replay differs:\n%s", slug, g);
            free(g);
        }
        json_decref(got);
        json_decref(d);
        json_decref(tc);
        group_set_free(&gs);
        model_free(m);
        n++;
    }
    fclose(idx);
    ck_assert_int_ge(n, 25);
}
END_TEST

START_TEST(options_from_daemon_flags)
{
    struct nsc_config cfg;
    ck_assert_int_eq(config_init(&cfg), 0);
    struct scaledown_options a, b;
    loop_scaledown_options(&cfg, &a);
    scaledown_options_default(&b);
    /* The daemon's defaults are the planner's defaults. */
    ck_assert(a.enabled == b.enabled && a.utilization_threshold == b.utilization_threshold &&
              a.gpu_utilization_threshold == b.gpu_utilization_threshold);
    ck_assert_int_eq(a.unneeded_time_s, b.unneeded_time_s);
    ck_assert_int_eq(a.unready_time_s, b.unready_time_s);
    ck_assert_int_eq(a.delay_after_add_s, b.delay_after_add_s);
    ck_assert_int_eq(a.delay_after_delete_s, b.delay_after_delete_s);
    ck_assert_int_eq(a.delay_after_failure_s, b.delay_after_failure_s);
    ck_assert_int_eq(a.max_parallelism, b.max_parallelism);
    ck_assert_int_eq(a.max_drain_parallelism, b.max_drain_parallelism);
    ck_assert(a.skip_nodes_with_system_pods && a.skip_nodes_with_local_storage &&
              a.skip_nodes_with_custom_controller_pods && !a.ignore_daemonsets_utilization &&
              !a.ignore_mirror_pods_utilization && a.unready_enabled);
    config_free(&cfg);

    ck_assert_int_eq(config_init(&cfg), 0);
    static char a0[] = "nodescaler", a1[] = "--scale-down-utilization-threshold=0.3",
                a2[] = "--scale-down-unneeded-time=90s",
                a3[] = "--scale-down-delay-after-add=1500ms",
                a4[] = "--max-drain-parallelism=3",
                a5[] = "--skip-nodes-with-local-storage=false",
                a6[] = "--ignore-daemonsets-utilization=true",
                a7[] = "--scale-down-enabled=false";
    char *const argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
    char err[300] = "";
    ck_assert_msg(config_parse(&cfg, 8, argv, err, sizeof(err)) == 0, "%s", err);
    loop_scaledown_options(&cfg, &a);
    ck_assert(a.utilization_threshold == 0.3);
    ck_assert_int_eq(a.unneeded_time_s, 90);
    ck_assert_int_eq(a.delay_after_add_s, 2); /* rounded up */
    ck_assert_int_eq(a.max_drain_parallelism, 3);
    ck_assert(!a.skip_nodes_with_local_storage && a.ignore_daemonsets_utilization &&
              !a.enabled);
    config_free(&cfg);
}
END_TEST

static Suite *
scaledown_suite(void)
{
    Suite *s = suite_create("scaledown");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, rules_table);
    tcase_add_test(tc, utilization_table);
    tcase_add_test(tc, options_defaults_and_checks);
    tcase_add_test(tc, options_from_daemon_flags);
    tcase_add_test(tc, node_annotation_scale_down_disabled);
    tcase_add_test(tc, node_annotation_unneeded_since);
    tcase_add_test(tc, pdb_match_by_namespace);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("planner");
    tcase_add_test(tp, plan_table);
    tcase_add_test(tp, journal_renderings);
    tcase_add_test(tp, plan_rejects_bad_options);
    tcase_add_test(tp, plan_unreadable_pod_keeps_node);
    tcase_add_test(tp, plan_unreadable_pdb_blocks_namespace);
    tcase_add_test(tp, replay_fixtures);
    suite_add_tcase(s, tp);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scaledown_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
