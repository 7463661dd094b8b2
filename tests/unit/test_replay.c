/* Check suite for engine/loop/replay: the decision object and its text for a kubectl
 * snapshot and static-backend groups under tests/data/replay. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/replay.h"

static const char *
data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof(buf), "%s/tests/data/replay/%s", top ? top : "..", name);
    return buf;
}

/* The static backend's file format, read the way the backend hands it to the core. */
static void
load_groups(struct group_set *gs)
{
    json_error_t jerr;
    json_t *root = json_load_file(data_path("groups.json"), 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    json_t *arr = json_object_get(root, "groups");
    gs->n_groups = json_array_size(arr);
    gs->groups = calloc(gs->n_groups, sizeof(*gs->groups));
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
        if (t && !json_is_null(t))
            r->template_node_json = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *inst = json_object_get(g, "instances");
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        for (size_t k = 0; k < r->n_instances; k++)
            r->instances[k].provider_id = strdup(json_string_value(json_array_get(inst, k)));
    }
    json_decref(root);
}

static json_t *
decide(struct model **mp, struct group_set *gs)
{
    struct model *m = model_new();
    char err[300];
    struct model_load_stats st;
    ck_assert_msg(model_load_file(m, data_path("snapshot.json"), &st, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(st.n_skipped, 0);
    load_groups(gs);
    struct scaleup_options o;
    scaleup_options_default(&o);
    json_t *d;
    ck_assert_msg(replay_decide(m, gs, &o, &d, err, sizeof(err)) == 0, "%s", err);
    *mp = m;
    return d;
}

START_TEST(decision_json)
{
    struct model *m;
    struct group_set gs = {0};
    json_t *d = decide(&m, &gs);
    json_error_t jerr;
    json_t *want = json_load_file(data_path("expected.json"), 0, &jerr);
    ck_assert_msg(want != NULL, "%s", jerr.text);
    char *got = json_dumps(d, JSON_INDENT(1) | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(d, want), "decision differs:\n%s", got);
    free(got);
    json_decref(want);
    json_decref(d);
    group_set_free(&gs);
    model_free(m);
}
END_TEST

START_TEST(decision_text)
{
    struct model *m;
    struct group_set gs = {0};
    json_t *d = decide(&m, &gs);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(replay_render_text(d, f), 0);
    fclose(f);
    FILE *w = fopen(data_path("expected.txt"), "r");
    ck_assert_ptr_nonnull(w);
    char want[8192];
    size_t n = fread(want, 1, sizeof(want) - 1, w);
    want[n] = 0;
    fclose(w);
    ck_assert_msg(strcmp(buf, want) == 0, "text differs:\n%s", buf);
    free(buf);
    json_decref(d);
    group_set_free(&gs);
    model_free(m);
    ck_assert_int_eq(replay_render_text(NULL, stdout), NSC_ERR_INVALID);
}
END_TEST

START_TEST(deterministic)
{
    /* The same inputs give the same decision (the random tie-break is seeded). */
    struct model *m1, *m2;
    struct group_set g1 = {0}, g2 = {0};
    json_t *d1 = decide(&m1, &g1), *d2 = decide(&m2, &g2);
    ck_assert(json_equal(d1, d2));
    json_decref(d1);
    json_decref(d2);
    group_set_free(&g1);
    group_set_free(&g2);
    model_free(m1);
    model_free(m2);
}
END_TEST

static Suite *
replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, decision_json);
    tcase_add_test(tc, decision_text);
    tcase_add_test(tc, deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(replay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
