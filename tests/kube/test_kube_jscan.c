/* Check cases for the raw JSON skimmer: List bodies split into items at every chunk size
 * (strings holding brackets, quotes and escapes across chunk edges), bodies that are not
 * lists (each error named), metadata and watch-event fields read without decoding. */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

#include "kube/jscan.h"
#include "test_kube.h"

struct items {
    char text[8][256];
    int n;
    int stop_at; /* return 7 at this item (1-based), 0 = never */
};

static int
collect_item(void *ud, const char *json, size_t len)
{
    struct items *it = ud;

    ck_assert_uint_lt(len, 256);
    if (it->n < 8) {
        memcpy(it->text[it->n], json, len);
        it->text[it->n][len] = '\0';
    }
    it->n++;
    return it->stop_at && it->n == it->stop_at ? 7 : 0;
}

/* Feed body in chunks of `chunk` bytes; returns the first non-zero status, or finish's. */
static int
scan_chunked(const char *body, size_t chunk, struct kube_listscan *s, struct items *it)
{
    size_t len = strlen(body), off;
    int rc;

    memset(s, 0, sizeof(*s));
    s->cb = collect_item;
    s->ud = it;
    for (off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;

        if ((rc = kube_listscan_feed(s, body + off, n)) != 0)
            return rc;
    }
    return kube_listscan_finish(s);
}

static const char *const list_items[] = {
    "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"x\":[1,{\"y\":\"}]\"}]}}",
    "{\"metadata\":{\"name\":\"b \\\"q\\\" \\\\\"},\"data\":\"[{\\\\\\\"\"}",
    "{}",
    "{\"k\":\"\\u00e9\\n\",\"n\":null,\"t\":true,\"f\":-1.5e3}",
};

START_TEST(test_listscan_every_chunk)
{
    char body[2048];
    size_t chunk, i;

    snprintf(
        body, sizeof(body),
        " {\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
        "\"42\",\"continue\":\"c-\\\"}\"},\"items\":[ %s ,%s,%s\n,%s ] ,\"extra\":[1,2]}\n",
        list_items[0], list_items[1], list_items[2], list_items[3]);
    for (chunk = 1; chunk <= strlen(body); chunk++) {
        struct kube_listscan s;
        struct items it = {0};
        json_t *md;

        ck_assert_msg(scan_chunked(body, chunk, &s, &it) == 0, "chunk %zu: %s", chunk, s.err);
        ck_assert_int_eq(it.n, 4);
        ck_assert_uint_eq(s.n_items, 4);
        for (i = 0; i < 4; i++)
            ck_assert_str_eq(it.text[i], list_items[i]);
        md = json_loadb(s.meta, s.meta_len, 0, NULL);
        ck_assert_ptr_nonnull(md);
        ck_assert_str_eq(json_string_value(json_object_get(md, "resourceVersion")), "42");
        ck_assert_str_eq(json_string_value(json_object_get(md, "continue")), "c-\"}");
        json_decref(md);
        kube_listscan_free(&s);
    }
}
END_TEST

START_TEST(test_listscan_empty_and_stop)
{
    static const char *const empty[] = {
        "{\"metadata\":{},\"items\":[]}",
        "{\"metadata\":{},\"items\":null}",
        "{\"metadata\":{\"resourceVersion\":\"1\"}}",
        "{}",
    };
    struct kube_listscan s;
    struct items it = {0};
    size_t i;

    for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        memset(&it, 0, sizeof(it));
        ck_assert_msg(scan_chunked(empty[i], 3, &s, &it) == 0, "%s: %s", empty[i], s.err);
        ck_assert_int_eq(it.n, 0);
        kube_listscan_free(&s);
    }
    /* the callback's value stops the scan and comes back */
    memset(&it, 0, sizeof(it));
    it.stop_at = 2;
    ck_assert_int_eq(scan_chunked("{\"items\":[{},{},{}]}", 100, &s, &it), 7);
    ck_assert_int_eq(it.n, 2);
    kube_listscan_free(&s);
}
END_TEST

START_TEST(test_listscan_not_a_list)
{
    static const struct {
        const char *body, *err;
    } bad[] = {
        {"<html>502 Bad Gateway</html>", "the body is not a JSON object"},
        {"{\"items\":{\"a\":1}}", "items is not an array"},
        {"{\"items\":[1,2]}", "an element of items is not an object"},
        {"{\"items\":[{}{}]}", "expected ',' or ']' in items"},
        {"{\"kind\":\"List\" \"items\":[]}", "expected ',' or '}'"},
        {"{\"kind\" 1}", "expected ':'"},
        {"{,}", "expected a key"},
        {"{\"items\":[]}{}", "data after the end of the list"},
        {"{\"items\":[{\"a\":\"}", "the body ended inside it"},
        {"", "the body ended before it began"},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kube_listscan s;
        struct items it = {0};

        ck_assert_msg(scan_chunked(bad[i].body, 2, &s, &it) == NSC_ERR_INVALID, "%s",
                      bad[i].body);
        ck_assert_msg(strstr(s.err, bad[i].err) != NULL, "%s: \"%s\" lacks \"%s\"", bad[i].body,
                      s.err, bad[i].err);
        kube_listscan_free(&s);
    }
}
END_TEST

static int
span_eq(const struct kube_span *sp, const char *s)
{
    return sp->len == strlen(s) && memcmp(sp->p, s, sp->len) == 0;
}

START_TEST(test_raw_meta)
{
    struct kube_raw_meta m;
    const char *o;

    o = "{\"kind\":\"Pod\",\"spec\":{\"metadata\":{\"name\":\"inner\"}},\"metadata\":{"
        "\"labels\":{\"a\\\"b\":\"c\"},\"namespace\":\"ns-1\",\"name\":\"p-1\","
        "\"resourceVersion\":\"1234\"},\"status\":{}}";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), 0);
    ck_assert(span_eq(&m.name, "p-1"));
    ck_assert(span_eq(&m.ns, "ns-1"));
    ck_assert(span_eq(&m.rv, "1234"));
    /* cluster-scoped, null namespace; a bookmark has no name */
    o = " { \"metadata\" : { \"name\" : \"n\" , \"namespace\" : null } } ";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), 0);
    ck_assert(span_eq(&m.name, "n"));
    ck_assert_uint_eq(m.ns.len, 0);
    ck_assert_uint_eq(m.rv.len, 0);
    o = "{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"77\",\"creationTimestamp\":null}"
        "}";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), 0);
    ck_assert_uint_eq(m.name.len, 0);
    ck_assert(span_eq(&m.rv, "77"));
    /* what must go to the full decoder */
    o = "{\"metadata\":{\"name\":\"a\\u0062\"}}";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), NSC_ERR_INVALID);
    o = "{\"metadata\":{\"name\":5}}";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), NSC_ERR_INVALID);
    o = "[{\"metadata\":{\"name\":\"a\"}}]";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), NSC_ERR_INVALID);
    o = "{\"metadata\":{\"name\":\"a\"";
    ck_assert_int_eq(kube_raw_meta(o, strlen(o), &m), NSC_ERR_INVALID);
}
END_TEST

START_TEST(test_raw_event)
{
    struct kube_span type, obj;
    const char *e;

    e = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"x\":\"}\"}}";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), 0);
    ck_assert(span_eq(&type, "MODIFIED"));
    ck_assert(span_eq(&obj, "{\"kind\":\"Pod\",\"x\":\"}\"}"));
    e = "{\"object\":{\"a\":[1]} , \"type\":\"BOOKMARK\"}";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), 0);
    ck_assert(span_eq(&type, "BOOKMARK"));
    ck_assert(span_eq(&obj, "{\"a\":[1]}"));
    e = "{\"object\":{}}";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), NSC_ERR_INVALID);
    e = "{\"type\":\"ADDED\",\"object\":[]}";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), NSC_ERR_INVALID);
    e = "{\"type\":\"ADDED\",\"object\":{\"a\":1}";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), NSC_ERR_INVALID);
    e = "garbage";
    ck_assert_int_eq(kube_raw_event(e, strlen(e), &type, &obj), NSC_ERR_INVALID);
}
END_TEST

TCase *
test_kube_jscan_tcase(void)
{
    TCase *tc = tcase_create("jscan");

    tcase_add_test(tc, test_listscan_every_chunk);
    tcase_add_test(tc, test_listscan_empty_and_stop);
    tcase_add_test(tc, test_listscan_not_a_list);
    tcase_add_test(tc, test_raw_meta);
    tcase_add_test(tc, test_raw_event);
    return tc;
}
