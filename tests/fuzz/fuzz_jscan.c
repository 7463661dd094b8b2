/* libFuzzer target: the raw JSON skimmers of kube/jscan.h. The list splitter must give
 * the same items and verdict however the body is cut into chunks, and when jansson reads
 * the same text, the skimmed names and counts must be jansson's. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "kube/jscan.h"

/* What the splitter handed out: a count and a running hash of the items' texts. */
struct seen {
    size_t n;
    uint64_t hash;
};

static int
on_item(void *ud, const char *json, size_t len)
{
    struct seen *s = ud;
    size_t i;

    s->n++;
    for (i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)json[i]) * 1099511628211u;
    s->hash = (s->hash ^ 0xff) * 1099511628211u;
    return 0;
}

/* Split data in chunks of `step` bytes (whole when step is 0); returns the verdict. */
static int
split(const char *data, size_t size, size_t step, struct seen *out, char *meta, size_t meta_len)
{
    struct kube_listscan s;
    size_t off = 0;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    s.cb = on_item;
    s.ud = out;
    if (step == 0)
        step = size ? size : 1;
    while (rc == 0 && off < size) {
        size_t n = size - off < step ? size - off : step;
        rc = kube_listscan_feed(&s, data + off, n);
        off += n;
    }
    if (rc == 0)
        rc = kube_listscan_finish(&s);
    if (rc != 0 && rc != NSC_ERR_NOMEM && s.err[0] == '\0')
        fuzz_fail("kube_listscan refused the body without saying why");
    if (rc == 0 && meta_len)
        snprintf(meta, meta_len, "%s", s.meta ? s.meta : "");
    kube_listscan_free(&s);
    return rc;
}

static void
check_meta(const char *text, size_t len)
{
    struct kube_raw_meta rm;
    json_error_t jerr;
    json_t *j, *md, *name;

    if (kube_raw_meta(text, len, &rm) != 0)
        return;
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    md = json_object_get(j, "metadata");
    name = json_object_get(md, "name");
    if (json_is_string(name) && (rm.name.len != json_string_length(name) ||
                                 memcmp(rm.name.p, json_string_value(name), rm.name.len) != 0))
        fuzz_fail("kube_raw_meta read name \"%.*s\", jansson \"%s\"", (int)rm.name.len,
                  rm.name.p, json_string_value(name));
    json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static const size_t steps[] = {1, 7, 64, 4096};
    struct seen whole, cut;
    struct kube_span type, object;
    char meta[256], meta2[256];
    json_error_t jerr;
    json_t *j;
    int rc, rc2;
    size_t i;

    fuzz_quiet();
    rc = split(text, size, 0, &whole, meta, sizeof(meta));
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        rc2 = split(text, size, steps[i], &cut, meta2, sizeof(meta2));
        if (rc2 != rc || cut.n != whole.n || cut.hash != whole.hash)
            fuzz_fail("chunks of %zu bytes: verdict %d with %zu items, whole: %d with %zu",
                      steps[i], rc2, cut.n, rc, whole.n);
        if (rc == 0 && strcmp(meta, meta2) != 0)
            fuzz_fail("chunks of %zu bytes: list metadata differs", steps[i]);
    }
    j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    if (rc == 0 && j != NULL && json_is_array(json_object_get(j, "items")) &&
        json_array_size(json_object_get(j, "items")) != whole.n)
        fuzz_fail("the splitter found %zu items, jansson %zu", whole.n,
                  json_array_size(json_object_get(j, "items")));
    json_decref(j);
    check_meta(text, size);
    if (kube_raw_event(text, size, &type, &object) == 0) {
        if (object.p < text || object.p + object.len > text + size || type.p < text ||
            type.p + type.len > text + size)
            fuzz_fail("kube_raw_event returned a span outside the text");
        check_meta(object.p, object.len);
    }
    return 0;
}
