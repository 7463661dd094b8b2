/* Check suite for engine/model: Quantity grammar, effective requests, List loading and
 * incremental updates, from the fixtures in tests/data/model. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/quantity.h"

static char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/model/%s", top ? top : "..", name);
    return buf;
}

START_TEST(quantity_table)
{
    FILE *f = fopen(data_path("quantities.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *t1 = strchr(line, '\t');
        ck_assert_ptr_nonnull(t1);
        *t1 = 0;
        char *t2 = strchr(t1 + 1, '\t');
        ck_assert_ptr_nonnull(t2);
        *t2 = 0;
        const char *in = line, *a = t1 + 1, *b = t2 + 1;
        int64_t milli = 7, units = 7;
        char err[200] = "";
        int rc = quantity_parse_cstr(in, &milli, &units, err, sizeof(err));
        if (strcmp(a, "ERROR") == 0) {
            ck_assert_msg(rc < 0, "\"%s\" accepted as %lld", in, (long long)milli);
            ck_assert_msg(strstr(err, b) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", in, err,
                          b);
            ck_assert_msg(strstr(err, "invalid quantity") != NULL, "%s", err);
        } else {
            ck_assert_msg(rc == 0, "\"%s\" refused: %s", in, err);
            ck_assert_msg(milli == strtoll(a, NULL, 10), "\"%s\": milli %lld want %s", in,
                          (long long)milli, a);
            ck_assert_msg(units == strtoll(b, NULL, 10), "\"%s\": units %lld want %s", in,
                          (long long)units, b);
        }
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 40);
}
END_TEST

START_TEST(quantity_views_checked_separately)
{
    int64_t units = 0;
    char err[200];
    ck_assert_int_eq(quantity_parse_cstr("1E", NULL, &units, err, sizeof(err)), 0);
    ck_assert_int_eq(units, 1000000000000000000LL);
    ck_assert_int_lt(quantity_parse_cstr("1E", &units, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(quantity_parse_cstr("7Ei", NULL, &units, err, sizeof(err)), 0);
    ck_assert_int_eq(units, 7LL << 60);
    ck_assert_int_eq(
        quantity_parse_cstr("0.3333333333333333333333333Ki", NULL, &units, err, sizeof(err)),
        0);
    ck_assert_int_eq(units, 342); /* 341.33... rounded up */
}
END_TEST

START_TEST(request_table)
{
    json_error_t jerr;
    json_t *cases = json_load_file(data_path("requests.json"), 0, &jerr);
    ck_assert_msg(cases != NULL, "%s", jerr.text);
    struct model *m = model_new();
    size_t i;
    json_t *tc;
    json_array_foreach(cases, i, tc)
    {
        const char *name = json_string_value(json_object_get(tc, "name"));
        struct res r;
        char err[300] = "";
        int rc = model_pod_request(m, json_object_get(tc, "spec"), &r, err, sizeof(err));
        json_t *want_err = json_object_get(tc, "error");
        if (want_err) {
            ck_assert_msg(rc < 0, "%s: accepted", name);
            ck_assert_msg(strstr(err, json_string_value(want_err)), "%s: error \"%s\"", name,
                          err);
            continue;
        }
        ck_assert_msg(rc == 0, "%s: %s", name, err);
        json_t *exp = json_object_get(tc, "expect");
        static const char *const fixed[] = {"cpu", "memory", "ephemeral-storage", "pods"};
        for (int k = 0; k < RES_N_FIXED; k++) {
            json_t *v = json_object_get(exp, fixed[k]);
            ck_assert_msg(r.fixed[k] == (v ? json_integer_value(v) : 0), "%s: %s = %lld", name,
                          fixed[k], (long long)r.fixed[k]);
        }
        const char *key;
        json_t *v;
        uint32_t n_ext = 0;
        json_object_foreach(exp, key, v)
        {
            if (!strchr(key, '/'))
                continue;
            n_ext++;
            uint32_t id = intern_cstr(&m->strings, key);
            ck_assert_msg(res_ext_get(&r, id) == json_integer_value(v), "%s: %s", name, key);
        }
        ck_assert_msg(r.n_ext == n_ext, "%s: %u extended resources", name, r.n_ext);
        res_free(&r);
    }
    model_free(m);
    json_decref(cases);
}
END_TEST

static struct model *
load_list(struct model_load_stats *st)
{
    struct model *m = model_new();
    char err[300];
    ck_assert_int_eq(model_load_file(m, data_path("list.json"), st, err, sizeof(err)), 0);
    return m;
}

START_TEST(list_load)
{
    struct model_load_stats st;
    struct model *m = load_list(&st);
    ck_assert_uint_eq(st.n_nodes, 2);
    ck_assert_uint_eq(st.n_pods, 2);
    ck_assert_uint_eq(st.n_pdbs, 1);
    ck_assert_uint_eq(st.n_pvs, 1);
    ck_assert_uint_eq(st.n_skipped, 3);
    ck_assert_uint_eq(st.n_ignored, 1);
    struct model_node *n1 = model_find_node(m, "n1");
    ck_assert_ptr_nonnull(n1);
    ck_assert_int_eq(n1->alloc.fixed[RES_CPU], 3800);
    ck_assert_int_eq(n1->alloc.fixed[RES_MEMORY], 15LL << 30);
    ck_assert_int_eq(n1->cap_cpu_m, 4000);
    ck_assert_int_eq(n1->ready, 1);
    ck_assert_int_eq(n1->created_s, 1704164645);
    ck_assert_str_eq(n1->provider_id, "static://g1/n1");
    ck_assert_uint_eq(n1->n_taints, 1);
    ck_assert_int_eq(n1->taints[0].effect, EFFECT_NO_SCHEDULE);
    ck_assert_int_eq(res_ext_get(&n1->alloc, intern_cstr(&m->strings, "nvidia.com/gpu")), 2);
    ck_assert_uint_eq(n1->annotations->n, 1); /* last-applied-configuration dropped */
    struct model_node *n2 = model_find_node(m, "n2");
    ck_assert(n2->unschedulable);
    ck_assert_int_eq(n2->ready, 0);
    ck_assert_int_eq(n2->alloc.fixed[RES_CPU], 2000); /* capacity stands in */
    ck_assert_ptr_null(model_find_node(m, "bad-node"));
    struct model_pod *w1 = model_find_pod(m, "default", "web-1");
    struct model_pod *w2 = model_find_pod(m, "default", "web-2");
    ck_assert_ptr_nonnull(w1);
    ck_assert_ptr_nonnull(w2);
    ck_assert_ptr_eq(w1->spec, w2->spec); /* identical specs are shared */
    ck_assert_uint_eq(w1->spec->refs, 2);
    ck_assert_uint_eq(w1->spec->n_ports, 1);
    ck_assert_int_eq(w1->spec->ports[0].port, 8080);
    ck_assert_str_eq(intern_str(&m->strings, w1->node), "n1");
    ck_assert_uint_eq(w2->node, INTERN_NONE);
    ck_assert(w2->unschedulable);
    ck_assert(!w1->unschedulable);
    ck_assert_str_eq(intern_str(&m->strings, w1->owner_kind), "ReplicaSet");
    ck_assert_ptr_null(model_find_pod(m, "default", "badtype"));
    model_free(m);
}
END_TEST

START_TEST(incremental_updates)
{
    struct model *m = load_list(NULL);
    uint64_t gen = m->generation;
    json_t *pod =
        json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:[{s:s}]}, s:{s:s}}", "kind", "Pod", "metadata",
                  "name", "web-2", "namespace", "default", "spec", "nodeName", "n2",
                  "containers", "name", "c", "status", "phase", "Running");
    ck_assert_int_eq(model_upsert(m, pod, NULL), 0);
    ck_assert_uint_gt(m->generation, gen);
    struct model_pod *w2 = model_find_pod(m, "default", "web-2");
    ck_assert_str_eq(intern_str(&m->strings, w2->node), "n2");
    ck_assert_uint_eq(m->pods.n_live, 2);
    /* The shared spec lost one user. */
    ck_assert_uint_eq(model_find_pod(m, "default", "web-1")->spec->refs, 1);
    /* A malformed update leaves the old object in place. */
    json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_integer(3));
    ck_assert_int_eq(model_upsert_pod(m, pod), NSC_ERR_INVALID);
    ck_assert_str_eq(intern_str(&m->strings, model_find_pod(m, "default", "web-2")->node),
                     "n2");
    json_decref(pod);
    ck_assert_int_eq(model_delete_pod(m, "default", "web-2"), 0);
    ck_assert_int_eq(model_delete_pod(m, "default", "web-2"), NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(model_delete_node(m, "n1"), 0);
    ck_assert_ptr_null(model_find_node(m, "n1"));
    ck_assert_uint_eq(m->nodes.n_live, 1);
    ck_assert_int_eq(model_delete_pdb(m, "default", "web-pdb"), 0);
    ck_assert_int_eq(model_delete_pv(m, "pv1"), 0);
    /* Slots are reused after deletes. */
    json_t *node = json_pack("{s:{s:s}}", "metadata", "name", "n3");
    ck_assert_int_eq(model_upsert_node(m, node), 0);
    ck_assert_uint_eq(m->nodes.n_slots, 2);
    json_decref(node);
    model_free(m);
}
END_TEST

START_TEST(malformed_documents)
{
    struct model *m = model_new();
    char err[300] = "";
    json_t *j = json_pack("{s:s}", "items", "x");
    ck_assert_int_eq(model_load_json(m, j, NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "kind") != NULL);
    json_decref(j);
    j = json_pack("{s:s, s:i}", "kind", "List", "items", 3);
    ck_assert_int_eq(model_load_json(m, j, NULL, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "items") != NULL);
    json_decref(j);
    ck_assert_int_lt(model_load_file(m, "/nonexistent/x.json", NULL, err, sizeof(err)), 0);
    ck_assert(strstr(err, "/nonexistent/x.json") != NULL);
    /* Typed lists carry no kind in their items. */
    j = json_pack("{s:s, s:[{s:{s:s}}]}", "kind", "NodeList", "items", "metadata", "name", "a");
    struct model_load_stats st;
    ck_assert_int_eq(model_load_json(m, j, &st, err, sizeof(err)), 0);
    ck_assert_uint_eq(st.n_nodes, 1);
    json_decref(j);
    model_free(m);
}
END_TEST

START_TEST(selectors)
{
    struct model *m = model_new();
    json_t *node = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "name", "x", "labels",
                             "gen", "5", "zone", "a");
    struct model_node *n;
    char err[200];
    ck_assert_int_eq(model_parse_node(m, node, &n, err, sizeof(err)), 0);
    struct {
        const char *json;
        bool want;
    } cases[] = {
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Gt\","
         "\"values\":[\"4\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"gen\",\"operator\":\"Lt\","
         "\"values\":[\"5\"]}]}]}",
         false},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":"
         "\"NotIn\",\"values\":[\"b\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"nope\",\"operator\":"
         "\"NotIn\",\"values\":[\"b\"]}]}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"nope\",\"operator\":"
         "\"Exists\"}]},"
         "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"x\"]}]"
         "}]}",
         true},
        {"{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":"
         "\"DoesNotExist\"}]}]}",
         false},
        {"{\"nodeSelectorTerms\":[]}", false},
        {"{\"nodeSelectorTerms\":[{}]}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        ck_assert_ptr_nonnull(j);
        struct pod_spec dummy;
        (void)dummy;
        /* Parse through a pod's required node affinity to use the public path. */
        json_t *pod =
            json_pack("{s:{s:s,s:s}, s:{s:[], s:{s:{s:O}}}}", "metadata", "name", "p",
                      "namespace", "d", "spec", "containers", "affinity", "nodeAffinity",
                      "requiredDuringSchedulingIgnoredDuringExecution", j);
        ck_assert_int_eq(model_upsert_pod(m, pod), 0);
        struct model_pod *p = model_find_pod(m, "d", "p");
        ck_assert_ptr_nonnull(p->spec->node_aff);
        ck_assert_msg(node_selector_matches(&m->strings, p->spec->node_aff, n->name_id,
                                            n->labels) == cases[i].want,
                      "case %zu", i);
        json_decref(pod);
        json_decref(j);
    }
    model_node_free(n);
    json_decref(node);
    model_free(m);
}
END_TEST

static int
load_text(struct model *m, const char *text, struct model_load_stats *st, char *err, size_t len)
{
    FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    int rc = model_load_stream(m, f, "doc.json", st, err, len);
    fclose(f);
    return rc;
}

START_TEST(stream_loading)
{
    struct model *m = model_new();
    struct model_load_stats st;
    char err[300] = "";
    /* kubectl sorts keys: "items" comes before "kind" in a typed list. */
    ck_assert_int_eq(
        load_text(m,
                  "{\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{\"name\":"
                  "\"a\\\"}\"}},{\"metadata\":{\"name\":\"b\"}}],\"kind\":\"NodeList\"}",
                  &st, err, sizeof(err)),
        0);
    ck_assert_uint_eq(st.n_nodes, 2);
    ck_assert_ptr_nonnull(model_find_node(m, "a\"}"));
    /* A single object. */
    ck_assert_int_eq(load_text(m, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"c\"}}", &st, err,
                               sizeof(err)),
                     0);
    ck_assert_uint_eq(st.n_nodes, 1);
    ck_assert_uint_eq(m->nodes.n_live, 3);
    /* Truncated and broken documents name the file. */
    ck_assert_int_eq(
        load_text(m, "{\"kind\":\"List\",\"items\":[{\"kind\":\"Node\"", &st, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "doc.json: truncated") != NULL);
    ck_assert_int_eq(
        load_text(m, "{\"kind\":\"List\",\"items\":[{\"kind\":,}]}", &st, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "items[0]") != NULL);
    ck_assert_int_eq(load_text(m, "[1,2]", &st, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_int_eq(load_text(m, "{\"items\":[]}", &st, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "kind") != NULL);
    model_free(m);
}
END_TEST

static Suite *
model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, quantity_table);
    tcase_add_test(tc, quantity_views_checked_separately);
    tcase_add_test(tc, request_table);
    tcase_add_test(tc, list_load);
    tcase_add_test(tc, incremental_updates);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, selectors);
    tcase_add_test(tc, stream_loading);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(model_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
