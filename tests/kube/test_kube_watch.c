/* Check cases for the watch line splitter and the reflector state machine, on a fake
 * clock: partial, huge and garbage lines; relist on 410; backoff bounds and reset. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

#include "kube/informer.h"
#include "kube/watch.h"
#include "test_kube.h"

struct collected {
    char lines[16][256];
    size_t lens[16];
    int n;
    int stop_at; /* return 1 at this line number (1-based), 0 = never */
};

static int
collect(void *ud, const char *line, size_t len)
{
    struct collected *c = ud;

    if (c->n < 16) {
        memcpy(c->lines[c->n], line, len < 255 ? len : 255);
        c->lines[c->n][len < 255 ? len : 255] = '\0';
        c->lens[c->n] = len;
    }
    c->n++;
    return c->stop_at && c->n == c->stop_at;
}

START_TEST(test_lines_partial)
{
    static const char stream[] = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":\"x y\"}\n{\"d\"";
    size_t chunk;

    /* every chunk size gives the same lines */
    for (chunk = 1; chunk <= sizeof(stream); chunk++) {
        struct kube_lines l = {0};
        struct collected c = {0};
        size_t off;

        for (off = 0; off < sizeof(stream) - 1; off += chunk) {
            size_t n = sizeof(stream) - 1 - off < chunk ? sizeof(stream) - 1 - off : chunk;

            ck_assert_int_eq(kube_lines_feed(&l, stream + off, n, collect, &c), 0);
        }
        ck_assert_int_eq(c.n, 3);
        ck_assert_str_eq(c.lines[0], "{\"a\":1}");
        ck_assert_str_eq(c.lines[1], "{\"b\":2}");
        ck_assert_str_eq(c.lines[2], "{\"c\":\"x y\"}");
        ck_assert_uint_eq(kube_lines_pending(&l), 4);
        kube_lines_reset(&l);
        ck_assert_uint_eq(kube_lines_pending(&l), 0);
        kube_lines_free(&l);
    }
}
END_TEST

START_TEST(test_lines_huge)
{
    struct kube_lines l = {0};
    struct collected c = {0};
    size_t big = 3u << 20, i;
    char *line = malloc(big + 1);

    /* a 3 MiB line in 4 KiB chunks arrives whole */
    memset(line, 'x', big);
    line[big] = '\n';
    for (i = 0; i <= big; i += 4096)
        ck_assert_int_eq(
            kube_lines_feed(&l, line + i, big + 1 - i < 4096 ? big + 1 - i : 4096, collect, &c),
            0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_uint_eq(c.lens[0], big);
    kube_lines_free(&l);

    /* over the limit: reported once, dropped, and the next line still comes through */
    memset(&c, 0, sizeof(c));
    l.max_line = 1000;
    ck_assert_int_eq(kube_lines_feed(&l, line, 600, collect, &c), 0);
    ck_assert_int_eq(kube_lines_feed(&l, line, 600, collect, &c), NSC_ERR_INVALID);
    ck_assert_int_eq(kube_lines_feed(&l, line, 600, collect, &c), 0);
    ck_assert_int_eq(kube_lines_feed(&l, "yy\nok\n", 6, collect, &c), 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.lines[0], "ok");
    /* a long line that ends inside the chunk */
    line[1500] = '\n';
    ck_assert_int_eq(kube_lines_feed(&l, line, 1501, collect, &c), NSC_ERR_INVALID);
    ck_assert_int_eq(kube_lines_feed(&l, "z\n", 2, collect, &c), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert_str_eq(c.lines[1], "z");
    kube_lines_free(&l);
    free(line);
}
END_TEST

/* With no limit set, a line that never ends is cut at the default limit: the buffer never
 * holds more, and the loss is reported before the stream has sent much past it. */
START_TEST(test_lines_default_limit)
{
    struct kube_lines l = {0};
    struct collected c = {0};
    size_t chunk = 1u << 20, sent = 0;
    char *data = malloc(chunk);
    int rc = 0;

    memset(data, 'x', chunk);
    while (sent < KUBE_LINE_MAX_DEFAULT + 2 * chunk && rc == 0) {
        rc = kube_lines_feed(&l, data, chunk, collect, &c);
        sent += chunk;
        ck_assert_uint_le(kube_lines_pending(&l), KUBE_LINE_MAX_DEFAULT);
    }
    ck_assert_int_eq(rc, NSC_ERR_INVALID);
    ck_assert_uint_le(sent, KUBE_LINE_MAX_DEFAULT + chunk);
    ck_assert_uint_eq(kube_lines_pending(&l), 0);
    /* the rest of that line is dropped without buffering */
    ck_assert_int_eq(kube_lines_feed(&l, data, chunk, collect, &c), 0);
    ck_assert_uint_eq(kube_lines_pending(&l), 0);
    ck_assert_int_eq(c.n, 0);
    kube_lines_free(&l);
    free(data);
}
END_TEST

/* An over-long line lists again after a backoff: a new watch from the same
 * resourceVersion would send the same line. */
START_TEST(test_reflector_bad_stream_relists)
{
    struct kube_reflector r;
    int64_t now = 1000, w;

    kube_reflector_init(&r, NULL, now, 3);
    kube_reflector_next(&r, now, &w);
    kube_reflector_list_done(&r, now, 200, "7");
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_WATCH);
    kube_reflector_watch_started(&r, now);
    kube_reflector_watch_ended(&r, now + 5000, KUBE_WATCH_BAD_STREAM);
    ck_assert_int_eq(r.n_failures, 1);
    ck_assert_int_eq(kube_reflector_next(&r, now + 5000, &w), KUBE_REFL_WAIT);
    ck_assert_int_gt(w, 0);
    ck_assert_int_eq(kube_reflector_next(&r, now + 5000 + w, &w), KUBE_REFL_LIST);
}
END_TEST

START_TEST(test_lines_stop_and_garbage)
{
    struct kube_lines l = {0};
    struct collected c = {.stop_at = 2};
    static const char garbage[] = "\x01\x02not json\n\xff\xfe\n{\n";

    ck_assert_int_eq(kube_lines_feed(&l, "a\nb\nc\n", 6, collect, &c), 1);
    ck_assert_int_eq(c.n, 2);
    /* the splitter passes garbage through as lines; the event parser rejects them */
    memset(&c, 0, sizeof(c));
    kube_lines_reset(&l);
    ck_assert_int_eq(kube_lines_feed(&l, garbage, sizeof(garbage) - 1, collect, &c), 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_uint_eq(c.lens[0], 10);
    kube_lines_free(&l);
}
END_TEST

static struct kube_reflector_opts
fast_opts(void)
{
    struct kube_reflector_opts o = {0};

    o.watch_timeout_min_s = 300;
    o.watch_timeout_max_s = 600;
    return o;
}

START_TEST(test_reflector_list_watch_410)
{
    struct kube_reflector r;
    struct kube_reflector_opts o = fast_opts();
    int64_t now = 1000000, w;
    int t;

    kube_reflector_init(&r, &o, now, 42);
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_LIST);
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_BUSY);
    kube_reflector_list_done(&r, now, 200, "100");
    ck_assert(r.synced);
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_WATCH);
    ck_assert_str_eq(kube_reflector_rv(&r), "100");
    t = kube_reflector_watch_started(&r, now);
    ck_assert_int_ge(t, 300);
    ck_assert_int_lt(t, 600);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now + 5, "ADDED", "101", 0), 0);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now + 6, "BOOKMARK", "150", 0), 0);
    ck_assert_str_eq(kube_reflector_rv(&r), "150");
    /* the server closes at timeoutSeconds: watch again at once from the last RV */
    kube_reflector_watch_ended(&r, now + 300000, 200);
    ck_assert_int_eq(kube_reflector_next(&r, now + 300000, &w), KUBE_REFL_WATCH);
    kube_reflector_watch_started(&r, now + 300000);
    /* ERROR 410: stop, relist at once (no backoff), then watch from the new list RV */
    ck_assert_int_eq(kube_reflector_watch_event(&r, now + 300010, "ERROR", NULL, 410), 1);
    kube_reflector_watch_ended(&r, now + 300010, 200);
    ck_assert_int_eq(kube_reflector_next(&r, now + 300010, &w), KUBE_REFL_LIST);
    kube_reflector_list_done(&r, now + 300020, 200, "900");
    ck_assert_int_eq(r.n_relists, 1);
    ck_assert_int_eq(kube_reflector_next(&r, now + 300020, &w), KUBE_REFL_WATCH);
    ck_assert_str_eq(kube_reflector_rv(&r), "900");
    ck_assert_int_eq(r.n_failures, 0);
    /* a 410 answered before the stream starts relists too */
    kube_reflector_watch_started(&r, now + 300020);
    kube_reflector_watch_ended(&r, now + 300030, 410);
    ck_assert_int_eq(kube_reflector_next(&r, now + 300030, &w), KUBE_REFL_LIST);
    /* an expired continue token during the list: list again at once */
    kube_reflector_list_done(&r, now + 300040, 410, NULL);
    ck_assert_int_eq(kube_reflector_next(&r, now + 300040, &w), KUBE_REFL_LIST);
    ck_assert_int_eq(r.n_failures, 0);
}
END_TEST

/* The version each list asks for, as client-go's reflector picks it. */
START_TEST(test_reflector_list_rv)
{
    struct kube_reflector r;
    struct kube_reflector_opts o = fast_opts();
    int64_t now = 1000, w;

    kube_reflector_init(&r, &o, now, 7);
    /* the first list may come from the server's watch cache */
    ck_assert_str_eq(kube_reflector_list_rv(&r), "0");
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_LIST);
    kube_reflector_list_done(&r, now, 200, "100");
    kube_reflector_watch_started(&r, now);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now + 1, "MODIFIED", "120", 0), 0);
    /* a watch refused for another reason relists, never older than what was seen */
    kube_reflector_watch_ended(&r, now + 2, 403);
    ck_assert_int_eq(kube_reflector_next(&r, now + 60000, &w), KUBE_REFL_LIST);
    ck_assert_str_eq(kube_reflector_list_rv(&r), "120");
    kube_reflector_list_done(&r, now + 60000, 200, "130");
    /* after a 410 the version is gone: list the latest from storage */
    kube_reflector_watch_started(&r, now + 60000);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now + 60001, "ERROR", NULL, 410), 1);
    kube_reflector_watch_ended(&r, now + 60001, 200);
    ck_assert_str_eq(kube_reflector_list_rv(&r), "");
    ck_assert_int_eq(kube_reflector_next(&r, now + 60001, &w), KUBE_REFL_LIST);
    kube_reflector_list_done(&r, now + 60002, 200, "900");
    ck_assert_str_eq(kube_reflector_list_rv(&r), "900");
    /* the same when the 410 is the watch request's answer */
    kube_reflector_watch_started(&r, now + 60002);
    kube_reflector_watch_ended(&r, now + 60003, 410);
    ck_assert_str_eq(kube_reflector_list_rv(&r), "");
}
END_TEST

START_TEST(test_reflector_backoff)
{
    struct kube_reflector r;
    struct kube_reflector_opts o = fast_opts();
    int64_t now = 0, w, expect_base[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    size_t i;

    kube_reflector_init(&r, &o, now, 7);
    for (i = 0; i < sizeof(expect_base) / sizeof(expect_base[0]); i++) {
        ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_LIST);
        kube_reflector_list_done(&r, now, 500, NULL);
        ck_assert_int_eq(r.backoff_ms, expect_base[i]);
        ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_WAIT);
        /* jittered within [0.75 base, base], never past 30 s */
        ck_assert_int_ge(w, expect_base[i] * 3 / 4);
        ck_assert_int_le(w, expect_base[i]);
        ck_assert_int_eq(kube_reflector_next(&r, now + w - 1, &w), KUBE_REFL_WAIT);
        ck_assert_int_eq(w, 1);
        now += r.not_before_ms - now;
    }
    /* success then a failure more than 2 min later starts again at 0.8 s */
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_LIST);
    kube_reflector_list_done(&r, now, 200, "5");
    kube_reflector_next(&r, now, &w);
    kube_reflector_watch_started(&r, now);
    now += 200000;
    kube_reflector_watch_ended(&r, now, 0); /* connection refused */
    ck_assert_int_eq(r.backoff_ms, 800);
    /* connection failures and 429 keep the RV and re-watch, no relist */
    ck_assert_int_eq(kube_reflector_next(&r, now + 1000, &w), KUBE_REFL_WATCH);
    kube_reflector_watch_started(&r, now + 1000);
    kube_reflector_watch_ended(&r, now + 1000, 429);
    ck_assert_int_eq(r.backoff_ms, 1600);
    ck_assert_int_eq(kube_reflector_next(&r, now + 3000, &w), KUBE_REFL_WATCH);
    /* a 403 or 400 relists after the backoff */
    kube_reflector_watch_started(&r, now + 3000);
    kube_reflector_watch_ended(&r, now + 3000, 403);
    ck_assert_int_eq(kube_reflector_next(&r, now + 3001, &w), KUBE_REFL_WAIT);
    ck_assert_int_eq(kube_reflector_next(&r, now + 10000, &w), KUBE_REFL_LIST);
}
END_TEST

START_TEST(test_reflector_short_and_silent)
{
    struct kube_reflector r;
    struct kube_reflector_opts o = fast_opts();
    int64_t now = 0, w;
    int t;

    kube_reflector_init(&r, &o, now, 9);
    kube_reflector_next(&r, now, &w);
    kube_reflector_list_done(&r, now, 200, "1");
    kube_reflector_next(&r, now, &w);
    kube_reflector_watch_started(&r, now);
    /* a watch that ends at once with no event is a failure (no tight loop) */
    kube_reflector_watch_ended(&r, now + 100, 200);
    ck_assert_int_eq(r.n_failures, 1);
    ck_assert_int_eq(kube_reflector_next(&r, now + 100, &w), KUBE_REFL_WAIT);
    now = 10000;
    ck_assert_int_eq(kube_reflector_next(&r, now, &w), KUBE_REFL_WATCH);
    t = kube_reflector_watch_started(&r, now);
    ck_assert(!kube_reflector_watch_silent(&r, now + t * 1000));
    ck_assert(!kube_reflector_watch_silent(&r, now + t * 1000 + 30000));
    ck_assert(kube_reflector_watch_silent(&r, now + t * 1000 + 30001));
    /* the client stops it: watch again at once from the same RV */
    kube_reflector_watch_ended(&r, now + t * 1000 + 30001, KUBE_WATCH_STOPPED);
    ck_assert_int_eq(kube_reflector_next(&r, now + t * 1000 + 30001, &w), KUBE_REFL_WATCH);
    ck_assert_str_eq(kube_reflector_rv(&r), "1");
    /* ERROR 500 backs off and re-watches; ERROR 403 relists */
    kube_reflector_watch_started(&r, now);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now, "ERROR", NULL, 500), 1);
    ck_assert_int_eq(r.state, KUBE_REFL_NEED_WATCH);
    kube_reflector_watch_ended(&r, now, 200); /* ignored: decided */
    ck_assert_int_eq(r.state, KUBE_REFL_NEED_WATCH);
    r.not_before_ms = now;
    kube_reflector_next(&r, now, &w);
    kube_reflector_watch_started(&r, now);
    ck_assert_int_eq(kube_reflector_watch_event(&r, now, "ERROR", NULL, 403), 1);
    ck_assert_int_eq(r.state, KUBE_REFL_NEED_LIST);
}
END_TEST

START_TEST(test_pod_unschedulable)
{
    static const struct {
        const char *json;
        int want;
    } cases[] = {
        {"{\"spec\":{},\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
         "\"PodScheduled\","
         "\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}",
         1},
        {"{\"spec\":{\"nodeName\":\"n\"},\"status\":{\"phase\":\"Pending\",\"conditions\":[{"
         "\"type\":"
         "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}",
         0},
        {"{\"spec\":{},\"status\":{\"phase\":\"Pending\"}}", 0},
        {"{\"metadata\":{\"deletionTimestamp\":\"x\"},\"spec\":{},\"status\":{\"phase\":"
         "\"Pending\","
         "\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":"
         "\"Unschedulable\"}]}}",
         0},
        {"{\"spec\":{},\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
         "\"PodScheduled\","
         "\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}}",
         0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);

        ck_assert_ptr_nonnull(j);
        ck_assert_msg(kube_pod_is_unschedulable(j) == cases[i].want, "case %zu", i);
        json_decref(j);
    }
}
END_TEST

TCase *
test_kube_watch_tcase(void)
{
    TCase *tc = tcase_create("watch");

    tcase_add_test(tc, test_lines_partial);
    tcase_add_test(tc, test_lines_huge);
    tcase_add_test(tc, test_lines_default_limit);
    tcase_add_test(tc, test_reflector_bad_stream_relists);
    tcase_add_test(tc, test_lines_stop_and_garbage);
    tcase_add_test(tc, test_reflector_list_watch_410);
    tcase_add_test(tc, test_reflector_list_rv);
    tcase_add_test(tc, test_reflector_backoff);
    tcase_add_test(tc, test_reflector_short_and_silent);
    tcase_add_test(tc, test_pod_unschedulable);
    return tc;
}
