/* Check suite of the static backend, loaded through the loader like the daemon does: bad
 * groups files from tests/data/static/invalid/ with their expected messages, and the
 * in-memory cloud behind resize, evict and refresh. */
#include "config.h"

#include "log.h"
#include "plugin/plugin.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR_LEN 2048
#define MAX_FIXTURES 128

#define assert_contains(hay, needle)                                                           \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in \"%s\"", (needle), (hay))

static char *fixtures[MAX_FIXTURES];
static size_t n_fixtures;

static const char *
srcdir(void)
{
    const char *top = getenv("top_srcdir");

    return top ? top : ".";
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every tests/data/static/invalid/NAME.json, sorted; NAME.expect holds the message. */
static void
fixtures_scan(void)
{
    char dir[1024];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/tests/data/static/invalid", srcdir());
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL && n_fixtures < MAX_FIXTURES) {
        size_t len = strlen(e->d_name);

        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
            fixtures[n_fixtures++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(fixtures, n_fixtures, sizeof(fixtures[0]), cmp_str);
}

static void
read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_ptr_nonnull(fgets(buf, (int)len, f));
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static struct plugin *plugin;

static int
open_static(const char *groups_file, struct backend **out, char *err)
{
    struct nsc_option opt = {"groups", groups_file};
    int rc;

    rc = plugin_load("static", &plugin, err, ERR_LEN);
    ck_assert_msg(rc == 0, "%s", err);
    return backend_create(plugin, &opt, groups_file ? 1 : 0, out, err, ERR_LEN);
}

static void
close_static(struct backend *b)
{
    backend_destroy(b);
    plugin_unload(plugin);
    plugin = NULL;
}

START_TEST(static_refuses_bad_file)
{
    char path[1024], expect_path[1024], expect[1024], err[ERR_LEN] = "";
    struct backend *b = NULL;

    snprintf(path, sizeof(path), "%s/tests/data/static/invalid/%s.json", srcdir(),
             fixtures[_i]);
    snprintf(expect_path, sizeof(expect_path), "%s/tests/data/static/invalid/%s.expect",
             srcdir(), fixtures[_i]);
    read_line(expect_path, expect, sizeof(expect));
    ck_assert_int_eq(open_static(path, &b, err), NSC_ERR_INVALID);
    ck_assert_ptr_null(b);
    assert_contains(err, "backend static: create failed (invalid): groups file ");
    assert_contains(err, path);
    assert_contains(err, expect);
    close_static(NULL);
}
END_TEST

START_TEST(static_fixtures_present)
{
    /* A scan that found nothing would make the table test above vacuous. */
    ck_assert_uint_ge(n_fixtures, 20);
}
END_TEST

START_TEST(static_missing_file_and_option)
{
    char err[ERR_LEN];
    struct backend *b = NULL;
    struct nsc_option opts[] = {{"groups", "x.json"}, {"zone", "ch-gva-2"}};

    ck_assert_int_eq(open_static("/nonexistent/groups.json", &b, err), NSC_ERR_INVALID);
    assert_contains(err, "groups file /nonexistent/groups.json: cannot read: unable to open");
    close_static(NULL);
    ck_assert_int_eq(open_static("/tmp", &b, err), NSC_ERR_INVALID);
    assert_contains(err, "groups file /tmp: is a directory");
    close_static(NULL);
    {
        /* whitespace that never ends a value: read up to the limit, not without one */
        char big[] = "/tmp/nsc-static-big.XXXXXX";
        int fd = mkstemp(big);
        FILE *f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        for (int k = 0; k < 17 * 1024; k++)
            fprintf(f, "%1024s", "");
        fclose(f);
        ck_assert_int_eq(open_static(big, &b, err), NSC_ERR_INVALID);
        assert_contains(err, "larger than 16 MiB: not a groups file");
        close_static(NULL);
        unlink(big);
    }
    unsetenv("NSC_STATIC_GROUPS");
    ck_assert_int_eq(open_static(NULL, &b, err), NSC_ERR_INVALID);
    assert_contains(err, "no groups file: pass --backend-opt groups=FILE");
    ck_assert_int_eq(backend_create(plugin, opts, 2, &b, err, ERR_LEN), NSC_ERR_INVALID);
    assert_contains(err, "unknown option --backend-opt zone (the static backend takes "
                         "groups=FILE)");
    close_static(NULL);
}
END_TEST

START_TEST(static_reads_example)
{
    char path[1024], err[ERR_LEN];
    struct backend *b;
    struct group_set set;

    snprintf(path, sizeof(path), "%s/deploy/examples/groups.json", srcdir());
    ck_assert_msg(open_static(path, &b, err) == 0, "%s", err);
    ck_assert_int_eq(backend_refresh(b, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    ck_assert_uint_eq(set.n_groups, 2);
    ck_assert_str_eq(set.groups[0].id, "small");
    ck_assert_str_eq(set.groups[0].name, "standard.small workers");
    ck_assert_int_eq(set.groups[0].min_size, 1);
    ck_assert_int_eq(set.groups[0].max_size, 10);
    ck_assert_int_eq(set.groups[0].target_size, 2);
    ck_assert_uint_eq(set.groups[0].n_instances, 2);
    ck_assert_str_eq(set.groups[0].instances[1].provider_id, "static://small-2");
    ck_assert_int_eq(set.groups[0].instances[1].state, NSC_INSTANCE_RUNNING);
    assert_contains(set.groups[0].template_node_json, "\"kind\":\"Node\"");
    assert_contains(set.groups[0].template_node_json, "\"cpu\":\"1900m\"");
    ck_assert_str_eq(set.groups[1].id, "gpu");
    ck_assert_uint_eq(set.groups[1].n_instances, 0);
    assert_contains(set.groups[1].template_node_json, "\"effect\":\"NoSchedule\"");
    group_set_free(&set);
    close_static(b);
}
END_TEST

START_TEST(static_reads_states)
{
    char path[1024], err[ERR_LEN];
    struct backend *b;
    struct group_set set;
    const struct group_rec *g;

    snprintf(path, sizeof(path), "%s/tests/data/static/valid/mixed.json", srcdir());
    ck_assert_msg(open_static(path, &b, err) == 0, "%s", err);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    ck_assert_uint_eq(set.n_groups, 2);
    ck_assert_ptr_null(set.groups[0].name);
    ck_assert_ptr_null(set.groups[0].template_node_json);
    g = &set.groups[1];
    ck_assert_str_eq(g->name, "Mixed");
    ck_assert_ptr_null(g->template_node_json);
    ck_assert_uint_eq(g->n_instances, 4);
    ck_assert_int_eq(g->instances[0].state, NSC_INSTANCE_RUNNING);
    ck_assert_int_eq(g->instances[1].state, NSC_INSTANCE_CREATING);
    ck_assert_int_eq(g->instances[2].state, NSC_INSTANCE_DELETING);
    ck_assert_int_eq(g->instances[3].state, NSC_INSTANCE_RUNNING);
    group_set_free(&set);
    /* The next refresh completes the cloud's work. */
    ck_assert_int_eq(backend_refresh(b, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    g = &set.groups[1];
    ck_assert_uint_eq(g->n_instances, 3);
    ck_assert_int_eq(g->instances[1].state, NSC_INSTANCE_RUNNING);
    ck_assert_str_eq(g->instances[2].provider_id, "static://m-4");
    group_set_free(&set);
    close_static(b);
}
END_TEST

/* The text of a captured log file (static storage). */
static const char *
logged(char *path_tmpl)
{
    static char text[8192];
    FILE *f;
    size_t n;

    fflush(stderr);
    f = fopen(path_tmpl, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

START_TEST(static_resize_evict_refresh)
{
    char path[1024], err[ERR_LEN], logpath[] = "/tmp/nsc-static-log-XXXXXX";
    const char *evict_ids[] = {"static://small-1"};
    const char *bad_ids[] = {"static://nope"};
    struct backend *b;
    struct group_set set;
    const struct group_rec *g;
    int fd, saved;

    snprintf(path, sizeof(path), "%s/deploy/examples/groups.json", srcdir());
    ck_assert_msg(open_static(path, &b, err) == 0, "%s", err);
    fd = mkstemp(logpath);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    close(fd);

    ck_assert_int_eq(backend_resize(b, "small", 4, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    g = &set.groups[0];
    ck_assert_int_eq(g->target_size, 4);
    ck_assert_uint_eq(g->n_instances, 4);
    ck_assert_str_eq(g->instances[2].provider_id, "static://small-3");
    ck_assert_int_eq(g->instances[2].state, NSC_INSTANCE_CREATING);
    ck_assert_str_eq(g->instances[3].provider_id, "static://small-4");
    group_set_free(&set);
    ck_assert_int_eq(backend_refresh(b, err, ERR_LEN), 0);

    /* Exactly the named instance goes, and the target follows. */
    ck_assert_int_eq(backend_evict(b, "small", evict_ids, 1, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_refresh(b, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    g = &set.groups[0];
    ck_assert_int_eq(g->target_size, 3);
    ck_assert_uint_eq(g->n_instances, 3);
    ck_assert_str_eq(g->instances[0].provider_id, "static://small-2");
    ck_assert_int_eq(g->instances[2].state, NSC_INSTANCE_RUNNING);
    group_set_free(&set);

    /* Shrinking by resize: the cloud's choice, here the newest. */
    ck_assert_int_eq(backend_resize(b, "small", 2, err, ERR_LEN), 0);
    ck_assert_int_eq(backend_read_groups(b, &set, err, ERR_LEN), 0);
    ck_assert_int_eq(set.groups[0].instances[2].state, NSC_INSTANCE_DELETING);
    group_set_free(&set);

    ck_assert_int_eq(backend_resize(b, "small", 11, err, ERR_LEN), NSC_ERR_INVALID);
    assert_contains(err, "resize small failed (invalid): group small: target 11 is outside "
                         "[1, 10]");
    ck_assert_int_eq(backend_resize(b, "none", 1, err, ERR_LEN), NSC_ERR_NOT_FOUND);
    assert_contains(err, "no node group \"none\" in ");
    ck_assert_int_eq(backend_evict(b, "small", bad_ids, 1, err, ERR_LEN), NSC_ERR_INVALID);
    assert_contains(err, "instance static://nope is not a live member");
    ck_assert_int_eq(backend_evict(b, "gpu", evict_ids, 1, err, ERR_LEN), NSC_ERR_INVALID);
    assert_contains(err, "would take target 0 below min 0");

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    {
        const char *out = logged(logpath);

        assert_contains(out, " static] group small: target 2 -> 4; a cloud would now create 2 "
                             "machines");
        assert_contains(out, " static] group small: a cloud would now delete machine "
                             "static://small-1");
        assert_contains(out, " static] group small: target 3 -> 2; a cloud would now delete 1 "
                             "machine\n");
    }
    unlink(logpath);
    close_static(b);
}
END_TEST

START_TEST(static_group_for_node)
{
    char path[1024], err[ERR_LEN];
    struct backend *b;
    struct group_set set;

    snprintf(path, sizeof(path), "%s/deploy/examples/groups.json", srcdir());
    ck_assert_msg(open_static(path, &b, err) == 0, "%s", err);
    ck_assert_int_eq(backend_group_for_node(b, "static://small-2", &set, err, ERR_LEN), 0);
    ck_assert_str_eq(set.groups[0].id, "small");
    group_set_free(&set);
    ck_assert_int_eq(backend_group_for_node(b, "static://x", &set, err, ERR_LEN),
                     NSC_ERR_NOT_FOUND);
    assert_contains(err, "no node group has instance static://x");
    close_static(b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("static");
    TCase *tc = tcase_create("files");
    SRunner *sr;
    size_t i;
    int failed;

    fixtures_scan();
    tcase_add_test(tc, static_fixtures_present);
    tcase_add_loop_test(tc, static_refuses_bad_file, 0, (int)n_fixtures);
    tcase_add_test(tc, static_missing_file_and_option);
    tcase_add_test(tc, static_reads_example);
    tcase_add_test(tc, static_reads_states);
    suite_add_tcase(s, tc);
    tc = tcase_create("cloud");
    tcase_add_test(tc, static_resize_evict_refresh);
    tcase_add_test(tc, static_group_for_node);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (i = 0; i < n_fixtures; i++)
        free(fixtures[i]);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
