/* Check suite for engine/scaleup: plans from tests/data/scaleup/plans.json (bin packing,
 * limits, templates, upcoming nodes, anti-affinity, balancing), each expander from
 * expanders.json, the balancing split and similarity. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "scaleup/scaleup.h"
#include "sim_fixture.h"

static const char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/scaleup/%s", top ? top : "..", name);
    return buf;
}

static void
groups_from(json_t *arr, struct group_set *gs)
{
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
        json_t *t = json_object_get(g, "template");
        if (t) {
            json_t *n = fx_node(t);
            r->template_node_json = json_dumps(n, 0);
            json_decref(n);
        }
        json_t *inst = json_object_get(g, "instances");
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        for (size_t k = 0; k < r->n_instances; k++)
            r->instances[k].provider_id = strdup(json_string_value(json_array_get(inst, k)));
    }
}

static struct model *
model_from(json_t *tc)
{
    struct model *m = model_new();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(tc, "nodes"), i, d)
    {
        json_t *n = fx_node(d);
        /* An unreadable node is skipped and remembered by the model (m->bad_nodes). */
        ck_assert_int_eq(model_upsert(m, n, NULL),
                         json_is_true(json_object_get(d, "unreadable")) ? NSC_ERR_INVALID : 0);
        json_decref(n);
    }
    json_array_foreach(json_object_get(tc, "pods"), i, d)
    {
        json_int_t count = json_integer_value(json_object_get(d, "count"));
        for (json_int_t k = 0; k < (count ? count : 1); k++) {
            json_t *dd = json_deep_copy(d);
            if (count) {
                char name[128];
                snprintf(name, sizeof(name), "%s-%lld",
                         json_string_value(json_object_get(d, "name")), (long long)k);
                json_object_set_new(dd, "name", json_string(name));
            }
            json_t *p = fx_pod(dd);
            ck_assert_int_eq(model_upsert(m, p, NULL), 0);
            json_decref(p);
            json_decref(dd);
        }
    }
    json_array_foreach(json_object_get(tc, "extra"), i, d)
        ck_assert_int_eq(model_upsert(m, d, NULL), 0);
    return m;
}

START_TEST(plan_table)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path("plans.json"), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s", jerr.text);
    ck_assert_int_ge(json_array_size(cases), 15);
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct model *m = model_from(tc);
        struct group_set gs = {0};
        groups_from(json_object_get(tc, "groups"), &gs);
        struct scaleup_options o;
        scaleup_options_default(&o);
        json_t *opt = json_object_get(tc, "options");
        if (json_object_get(opt, "max_nodes_total"))
            o.max_nodes_total =
                (int32_t)json_integer_value(json_object_get(opt, "max_nodes_total"));
        if (json_object_get(opt, "cores_total_max"))
            o.cores_total_max = json_integer_value(json_object_get(opt, "cores_total_max"));
        if (json_object_get(opt, "memory_total_max_gib"))
            o.memory_total_max_gib =
                json_integer_value(json_object_get(opt, "memory_total_max_gib"));
        if (json_object_get(opt, "max_nodes_per_scaleup"))
            o.max_nodes_per_scaleup =
                (int32_t)json_integer_value(json_object_get(opt, "max_nodes_per_scaleup"));
        o.balance_similar = json_is_true(json_object_get(opt, "balance_similar"));
        struct scaleup_result r;
        char err[256] = "";
        ck_assert_msg(scaleup_plan(m, &gs, &o, &r, err, sizeof(err)) == 0, "%s: %s", name, err);
        json_t *exp = json_object_get(tc, "expect");
        json_t *su = json_object_get(exp, "scale_up");
        ck_assert_msg(r.n_increases == json_object_size(su), "%s: %zu increases", name,
                      r.n_increases);
        for (size_t k = 0; k < r.n_increases; k++) {
            const char *gid = gs.groups[r.increases[k].group].id;
            json_t *want = json_object_get(su, gid);
            ck_assert_msg(want != NULL, "%s: unexpected increase of %s", name, gid);
            ck_assert_msg(r.increases[k].from == json_integer_value(json_array_get(want, 0)) &&
                              r.increases[k].to == json_integer_value(json_array_get(want, 1)),
                          "%s: %s %d -> %d", name, gid, r.increases[k].from, r.increases[k].to);
            json_t *pin = json_object_get(json_object_get(exp, "pods_in"), gid);
            if (pin)
                ck_assert_msg(r.increases[k].n_pods == (size_t)json_integer_value(pin),
                              "%s: %s takes %zu pods", name, gid, r.increases[k].n_pods);
        }
        ck_assert_msg(r.n_none == (size_t)json_integer_value(json_object_get(exp, "none")),
                      "%s: %zu pods without a plan", name, r.n_none);
        const char *pod;
        json_t *node;
        json_object_foreach(json_object_get(exp, "fits"), pod, node)
        {
            bool found = false;
            for (size_t k = 0; k < r.n_fits && !found; k++) {
                char ref[300];
                model_pod_ref(m, r.fits[k].pod, ref, sizeof(ref));
                if (strcmp(ref, pod) == 0) {
                    found = true;
                    ck_assert_msg(strcmp(r.fits[k].node, json_string_value(node)) == 0,
                                  "%s: %s on %s", name, pod, r.fits[k].node);
                }
            }
            ck_assert_msg(found, "%s: %s does not fit existing capacity", name, pod);
        }
        const char *gid;
        json_t *why;
        json_object_foreach(json_object_get(exp, "reason"), gid, why)
        {
            ck_assert_msg(r.n_none > 0, "%s", name);
            bool found = false;
            for (size_t k = 0; k < r.none[0].n_reasons; k++)
                if (strcmp(gs.groups[r.none[0].reasons[k].group].id, gid) == 0) {
                    found = true;
                    ck_assert_msg(strstr(r.none[0].reasons[k].why, json_string_value(why)),
                                  "%s: reason for %s: \"%s\"", name, gid,
                                  r.none[0].reasons[k].why);
                }
            ck_assert_msg(found, "%s: no reason for %s", name, gid);
        }
        scaleup_result_free(&r);
        group_set_free(&gs);
        model_free(m);
    }
    json_decref(cases);
}
END_TEST

/* Plan the case in text (the form of plans.json) with options o; the caller frees. */
static void
plan_text(const char *text, const struct scaleup_options *o, struct model **m,
          struct group_set *gs, struct scaleup_result *r)
{
    json_error_t jerr;
    json_t *tc = json_loads(text, 0, &jerr);
    ck_assert_msg(tc != NULL, "%s", jerr.text);
    *m = model_from(tc);
    memset(gs, 0, sizeof(*gs));
    groups_from(json_object_get(tc, "groups"), gs);
    char err[256] = "";
    ck_assert_msg(scaleup_plan(*m, gs, o, r, err, sizeof(err)) == 0, "%s", err);
    json_decref(tc);
}

static bool
reason_has(const struct scaleup_result *r, size_t pod, const char *text)
{
    for (size_t k = 0; k < r->none[pod].n_reasons; k++)
        if (strstr(r->none[pod].reasons[k].why, text))
            return true;
    return false;
}

/* A target of 2^31-1 (a backend's or a cloud's number) must not become that many simulated
 * nodes: only as many as the pending pods could use are. */
START_TEST(upcoming_bounded)
{
    struct scaleup_options o;
    scaleup_options_default(&o);
    struct model *m;
    struct group_set gs;
    struct scaleup_result r;
    uint32_t n_strings = 0;
    plan_text(
        "{\"pods\": [{\"name\": \"p\", \"count\": 3, \"cpu\": \"1\", \"owner\": \"rs1\"}],"
        " \"groups\": [{\"id\": \"a\", \"min\": 0, \"max\": 2147483647,"
        " \"target\": 2147483647, \"template\": {\"name\": \"t\"}}]}",
        &o, &m, &gs, &r);
    n_strings = m->strings.n;
    ck_assert_uint_eq(r.n_fits, 3);
    ck_assert_uint_eq(r.n_increases, 0);
    ck_assert_uint_eq(r.n_none, 0);
    for (size_t k = 0; k < r.n_fits; k++)
        ck_assert_msg(strncmp(r.fits[k].node, "upcoming-a-", 11) == 0, "%s", r.fits[k].node);
    /* Each simulated node interns its name: a few, not two billion. */
    ck_assert_uint_lt(n_strings, 100);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* --new-pod-scale-up-delay and the pod's annotation: a pod younger than its delay causes no
 * scale-up and is counted apart; the annotation only lengthens the flag's delay, one that
 * does not parse is ignored; without a time (now_s 0) ages are not checked. */
START_TEST(young_pods_wait)
{
    static const char *const cluster =
        "{\"pods\": ["
        " {\"name\": \"old\", \"cpu\": \"1\","
        "  \"meta\": {\"creationTimestamp\": \"2026-01-01T00:00:00Z\"}},"
        " {\"name\": \"new\", \"cpu\": \"1\","
        "  \"meta\": {\"creationTimestamp\": \"2026-01-01T00:09:50Z\"}},"
        " {\"name\": \"slow\", \"cpu\": \"1\","
        "  \"meta\": {\"creationTimestamp\": \"2026-01-01T00:05:00Z\","
        "   \"annotations\": {\"" SCALEUP_ANN_POD_SCALE_UP_DELAY "\": \"10m\"}}},"
        " {\"name\": \"short\", \"cpu\": \"1\","
        "  \"meta\": {\"creationTimestamp\": \"2026-01-01T00:09:00Z\","
        "   \"annotations\": {\"" SCALEUP_ANN_POD_SCALE_UP_DELAY "\": \"1s\"}}},"
        " {\"name\": \"junk\", \"cpu\": \"1\","
        "  \"meta\": {\"creationTimestamp\": \"2026-01-01T00:00:00Z\","
        "   \"annotations\": {\"" SCALEUP_ANN_POD_SCALE_UP_DELAY "\": \"soon\"}}}],"
        " \"groups\": [{\"id\": \"a\", \"min\": 0, \"max\": 10, \"target\": 0,"
        " \"template\": {\"name\": \"t\"}}]}";
    /* 2026-01-01T00:10:00Z */
    const int64_t now = 1767226200;
    struct scaleup_options o;
    struct model *m;
    struct group_set gs;
    struct scaleup_result r;
    size_t placed = 0;

    scaleup_options_default(&o);
    o.new_pod_delay_ms = 60 * 1000;
    o.now_s = now;
    plan_text(cluster, &o, &m, &gs, &r);
    /* new (10 s old, delay 1 m) and slow (5 m old, its own 10 m) wait; short's 1 s does
     * not shorten the flag's minute but it is 60 s old; junk's delay is ignored */
    ck_assert_uint_eq(r.n_pending, 5);
    ck_assert_uint_eq(r.n_young, 2);
    for (size_t i = 0; i < r.n_increases; i++)
        placed += r.increases[i].n_pods;
    ck_assert_uint_eq(placed, 3);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);

    o.now_s = 0;
    plan_text(cluster, &o, &m, &gs, &r);
    ck_assert_uint_eq(r.n_young, 0);
    placed = 0;
    for (size_t i = 0; i < r.n_increases; i++)
        placed += r.increases[i].n_pods;
    ck_assert_uint_eq(placed, 5);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* A target above max is reported and trusted only up to max: two upcoming nodes, not 2^31. */
START_TEST(target_above_max_untrusted)
{
    struct scaleup_options o;
    scaleup_options_default(&o);
    struct model *m;
    struct group_set gs;
    struct scaleup_result r;
    plan_text(
        "{\"pods\": [{\"name\": \"p\", \"count\": 5, \"cpu\": \"3\", \"owner\": \"rs1\"}],"
        " \"groups\": [{\"id\": \"a\", \"min\": 0, \"max\": 2,"
        " \"target\": 2147483647, \"template\": {\"name\": \"t\"}}]}",
        &o, &m, &gs, &r);
    ck_assert_uint_eq(r.n_fits, 2);
    ck_assert_uint_eq(r.n_increases, 0);
    ck_assert_uint_eq(r.n_none, 3);
    ck_assert_msg(reason_has(&r, 0,
                             "target size 2147483647 reported by the backend is outside "
                             "[0, max 2]"),
                  "%s", r.none[0].reasons[0].why);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* Three nodes of 4Ei memory add up past int64: the total saturates and the memory limit
 * refuses the scale-up, where a wrapped (negative) total would have let it through. */
START_TEST(huge_totals_saturate)
{
    struct scaleup_options o;
    scaleup_options_default(&o);
    struct model *m;
    struct group_set gs;
    struct scaleup_result r;
    plan_text("{\"nodes\": ["
              "  {\"name\": \"n1\", \"alloc\": {\"cpu\": \"1\", \"memory\": \"4Ei\", \"pods\": "
              "\"110\"}},"
              "  {\"name\": \"n2\", \"alloc\": {\"cpu\": \"1\", \"memory\": \"4Ei\", \"pods\": "
              "\"110\"}},"
              "  {\"name\": \"n3\", \"alloc\": {\"cpu\": \"1\", \"memory\": \"4Ei\", \"pods\": "
              "\"110\"}}],"
              " \"pods\": [{\"name\": \"p\", \"cpu\": \"3\", \"owner\": \"rs1\"}],"
              " \"groups\": [{\"id\": \"a\", \"min\": 0, \"max\": 10, \"target\": 0,"
              " \"template\": {\"name\": \"t\"}}]}",
              &o, &m, &gs, &r);
    ck_assert_uint_eq(r.n_increases, 0);
    ck_assert_uint_eq(r.n_none, 1);
    ck_assert_msg(reason_has(&r, 0, "max cluster memory limit reached"), "%s",
                  r.none[0].reasons[0].why);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);

    /* Limits whose millicores or bytes pass int64 saturate too: no limit in effect then,
     * rather than a wrapped negative one that refuses everything. */
    o.cores_total_max = 10000000000000000LL;
    o.memory_total_max_gib = 10000000000LL;
    plan_text("{\"pods\": [{\"name\": \"p\", \"cpu\": \"3\", \"owner\": \"rs1\"}],"
              " \"groups\": [{\"id\": \"a\", \"min\": 0, \"max\": 10, \"target\": 0,"
              " \"template\": {\"name\": \"t\"}}]}",
              &o, &m, &gs, &r);
    ck_assert_uint_eq(r.n_increases, 1);
    ck_assert_int_eq(r.increases[0].to, 1);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

/* An upcoming group whose nodes hold 4Ei each: target x memory passes int64. */
START_TEST(huge_upcoming_saturates)
{
    struct scaleup_options o;
    scaleup_options_default(&o);
    struct model *m;
    struct group_set gs;
    struct scaleup_result r;
    plan_text(
        "{\"pods\": [{\"name\": \"p\", \"cpu\": \"3\", \"owner\": \"rs1\"},"
        "  {\"name\": \"q\", \"cpu\": \"3\", \"owner\": \"rs2\"}],"
        " \"groups\": [{\"id\": \"big\", \"min\": 0, \"max\": 3, \"target\": 3,"
        "   \"template\": {\"name\": \"t\", \"alloc\": {\"cpu\": \"1\", \"memory\": \"4Ei\","
        "   \"pods\": \"110\"}}},"
        "  {\"id\": \"a\", \"min\": 0, \"max\": 10, \"target\": 0,"
        "   \"template\": {\"name\": \"u\"}}]}",
        &o, &m, &gs, &r);
    ck_assert_uint_eq(r.n_increases, 0);
    ck_assert_uint_eq(r.n_none, 2);
    ck_assert_msg(reason_has(&r, 0, "max cluster memory limit reached"), "%s",
                  r.none[0].reasons[1].why);
    scaleup_result_free(&r);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

START_TEST(expander_table)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path("expanders.json"), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s", jerr.text);
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        json_t *jo = json_object_get(tc, "options");
        size_t n = json_array_size(jo);
        struct scaleup_option opts[16];
        for (size_t k = 0; k < n; k++) {
            json_t *o = json_array_get(jo, k);
            opts[k] = (struct scaleup_option){
                .group = k,
                .node_count = (int32_t)json_integer_value(json_object_get(o, "nodes")),
                .n_pods = (size_t)json_integer_value(json_object_get(o, "pods")),
                .pods_cpu_m = json_integer_value(json_object_get(o, "pods_cpu")),
                .pods_mem = json_integer_value(json_object_get(o, "pods_mem")),
                .node_cpu_m = json_integer_value(json_object_get(o, "node_cpu")),
                .node_mem = json_integer_value(json_object_get(o, "node_mem")),
                .group_id = json_string_value(json_object_get(o, "id")),
                .group_name = json_string_value(json_object_get(o, "name")),
            };
        }
        const char *prio = json_string_value(json_object_get(tc, "priorities"));
        struct scaleup_options so;
        scaleup_options_default(&so);
        so.expander = json_string_value(json_object_get(tc, "chain"));
        so.priority_config = prio;
        char err[200];
        ck_assert_msg(scaleup_options_check(&so, err, sizeof(err)) == 0, "%s: %s", name, err);
        /* Decisive chains give the same answer whatever the random state. */
        for (uint64_t seed = 1; seed < 20; seed++) {
            uint64_t rng = seed;
            size_t pick = scaleup_expand(opts, n, so.expander, prio, &rng);
            ck_assert_msg(strcmp(opts[pick].group_id,
                                 json_string_value(json_object_get(tc, "want"))) == 0,
                          "%s: picked %s", name, opts[pick].group_id);
        }
    }
    json_decref(cases);
}
END_TEST

START_TEST(random_expander_spreads)
{
    struct scaleup_option opts[3] = {{.group_id = "a"}, {.group_id = "b"}, {.group_id = "c"}};
    int seen[3] = {0};
    uint64_t rng = 42;
    for (int i = 0; i < 300; i++)
        seen[scaleup_expand(opts, 3, "random", NULL, &rng)]++;
    for (int i = 0; i < 3; i++)
        ck_assert_int_gt(seen[i], 50);
}
END_TEST

START_TEST(options_refused)
{
    struct scaleup_options o;
    scaleup_options_default(&o);
    char err[256];
    o.expander = "least-waste,cheapest";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "\"cheapest\"") != NULL);
    o.expander = "random,most-pods";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    o.expander = "priority";
    o.priority_config = NULL;
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    o.priority_config = "10:\n - ([a\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "line 2") != NULL);
    o.priority_config = "- a\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    o.priority_config = "ten:\n - a\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "line 1: expected \"<integer>:\"") != NULL);
    /* Nothing to match would let every group through: refused, as the Go autoscaler does. */
    o.priority_config = "# only a comment\n10:\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "no priority with a regex") != NULL);
    /* Nested repetitions that make POSIX regcomp take gigabytes are refused or bounded. */
    o.priority_config = "10:\n  - a\n20:\n  - ((a{1000}){1000}){1000}b\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "line 4: bad regex") != NULL, "%s", err);
    char long_pat[2100];
    memset(long_pat, 0, sizeof(long_pat));
    memcpy(long_pat, "10:\n  - ", 8);
    memset(long_pat + 8, 'a', 1100);
    o.priority_config = long_pat;
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "line 2: regex of 1100 bytes is longer than the limit of 1024"),
                  "%s", err);
    o.priority_config =
        "10:\n  - ((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))"
        "))))\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "line 2: bad regex") != NULL, "%s", err);
    o.priority_config = "10:\n  - (?i)WEB\n  - \\d+\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), 0);
    o.priority_config = "10: [a, ([b]\n";
    ck_assert_int_eq(scaleup_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "priority expander configuration: line 1: bad regex") != NULL);
}
END_TEST

/* The check that vets the ConfigMap and the parser planning uses give one verdict on a
 * configuration without any regex: both refuse it, with the same message. The first case is
 * the fuzzing finding tests/data/fuzz/findings/priority-empty-config.yaml. */
START_TEST(priorities_empty_refused)
{
    static char finding[4096];
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/fuzz/findings/priority-empty-config.yaml",
             top ? top : "..");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(finding, 1, sizeof(finding) - 1, f);
    ck_assert(!ferror(f));
    fclose(f);
    finding[n] = '\0';
    const char *cases[] = {
        finding, "", "\n\n", "# only a comment\n", "10:\n", "10: []\n", "10:\n20: [ , ]\n"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "", err2[256] = "";
        struct scaleup_priorities *p = (struct scaleup_priorities *)&err;
        ck_assert_int_eq(scaleup_priority_check(cases[i], err, sizeof(err)), NSC_ERR_INVALID);
        ck_assert_msg(
            scaleup_priorities_new(cases[i], &p, err2, sizeof(err2)) == NSC_ERR_INVALID,
            "case %zu: scaleup_priorities_new accepts a configuration without a regex", i);
        ck_assert(p == NULL);
        ck_assert_msg(strstr(err, "no priority with a regex") != NULL, "case %zu: %s", i, err);
        ck_assert_str_eq(err, err2);
    }
}
END_TEST

START_TEST(balance_split)
{
    struct {
        int32_t cur[3], max[3], total, want[3], placed;
    } cases[] = {
        {{0, 0, 0}, {10, 10, 10}, 6, {2, 2, 2}, 6},
        {{3, 0, 1}, {10, 10, 10}, 4, {3, 3, 2}, 4},
        {{0, 0, 0}, {1, 10, 2}, 7, {1, 4, 2}, 7},
        {{0, 0, 0}, {1, 1, 1}, 5, {1, 1, 1}, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t out[3];
        int32_t placed =
            scaleup_balance_split(cases[i].cur, cases[i].max, 3, cases[i].total, out);
        ck_assert_int_eq(placed, cases[i].placed);
        for (int k = 0; k < 3; k++)
            ck_assert_msg(out[k] == cases[i].want[k], "case %zu group %d: %d", i, k, out[k]);
    }
}
END_TEST

START_TEST(similarity)
{
    struct model *m = model_new();
    struct scaleup_options o;
    scaleup_options_default(&o);
    const char *defs[] = {
        "{\"name\":\"a\",\"labels\":{\"topology.kubernetes.io/zone\":\"z1\",\"pool\":\"p\"}}",
        "{\"name\":\"b\",\"labels\":{\"topology.kubernetes.io/zone\":\"z2\",\"pool\":\"p\"}}",
        "{\"name\":\"c\",\"labels\":{\"pool\":\"q\"}}",
        "{\"name\":\"d\",\"labels\":{\"pool\":\"p\"},\"alloc\":{\"cpu\":\"8\",\"memory\":"
        "\"8Gi\",\"pods\":\"110\"}}",
        "{\"name\":\"e\",\"labels\":{\"pool\":\"p\"},\"alloc\":{\"cpu\":\"4\",\"memory\":"
        "\"8100Mi\",\"pods\":\"110\"}}",
    };
    struct model_node *n[5];
    int64_t fr[5][RES_N_FIXED];
    for (int i = 0; i < 5; i++) {
        json_t *d = json_loads(defs[i], 0, NULL);
        json_t *j = fx_node(d);
        char err[100];
        ck_assert_int_eq(model_parse_node(m, j, &n[i], err, sizeof(err)), 0);
        for (int k = 0; k < RES_N_FIXED; k++)
            fr[i][k] = n[i]->alloc.fixed[k];
        json_decref(j);
        json_decref(d);
    }
    ck_assert(scaleup_similar(m, n[0], n[1], fr[0], fr[1], &o));  /* zone ignored */
    ck_assert(!scaleup_similar(m, n[0], n[2], fr[0], fr[2], &o)); /* label differs */
    ck_assert(!scaleup_similar(m, n[0], n[3], fr[0], fr[3], &o)); /* cpu differs */
    ck_assert(scaleup_similar(m, n[0], n[4], fr[0], fr[4], &o));  /* memory within 1.5% */
    fr[4][RES_CPU] = 1000;                                        /* mostly used */
    ck_assert(!scaleup_similar(m, n[0], n[4], fr[0], fr[4], &o));
    for (int i = 0; i < 5; i++)
        model_node_free(n[i]);
    model_free(m);
}
END_TEST

static Suite *
scaleup_suite(void)
{
    Suite *s = suite_create("scaleup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plan_table);
    tcase_add_test(tc, upcoming_bounded);
    tcase_add_test(tc, young_pods_wait);
    tcase_add_test(tc, target_above_max_untrusted);
    tcase_add_test(tc, huge_totals_saturate);
    tcase_add_test(tc, huge_upcoming_saturates);
    tcase_add_test(tc, expander_table);
    tcase_add_test(tc, random_expander_spreads);
    tcase_add_test(tc, options_refused);
    tcase_add_test(tc, priorities_empty_refused);
    tcase_add_test(tc, balance_split);
    tcase_add_test(tc, similarity);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scaleup_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
