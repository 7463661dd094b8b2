/* Raw JSON skimming for the client's hot paths: a List body cut into its items' texts as
 * it streams in (no tree for the whole page), and the few fields the informers need
 * (metadata name, namespace, resourceVersion; a watch event's type and object) read
 * from an object's text without decoding it. Full decoding is left to the consumer. */
#ifndef NSC_KUBE_JSCAN_H
#define NSC_KUBE_JSCAN_H

#include <stddef.h>

/** One item of a list, as raw JSON text (borrowed, not NUL-terminated, valid during the
 * call). Non-zero stops the scan; kube_listscan_feed returns that value. */
typedef int kube_raw_item_fn(void *ud, const char *json, size_t len);

/** Incremental splitter of a List body ({"kind":..,"metadata":{..},"items":[{..},..]}).
 * Zero-initialise, set cb and ud, feed bytes, then finish. */
struct kube_listscan {
    kube_raw_item_fn *cb;
    void *ud;
    size_t n_items;
    /* the list's metadata object, as text (NUL-terminated once the list is complete) */
    char *meta;
    size_t meta_len, meta_cap;
    char err[128]; /* why the body is not a list, when feed or finish returned an error */
    /* private */
    int state, which, in_str, esc, first, expect_key;
    long depth;
    char key[16];
    size_t key_len;
    char *buf; /* an item split across chunks */
    size_t len, cap;
};

/**
 * Feed the next bytes of the body. Complete items go to cb: without a copy when an item
 * lies inside one chunk, else from an internal buffer. Returns 0, cb's non-zero value,
 * NSC_ERR_INVALID (not a list; err says where) or NSC_ERR_NOMEM.
 */
int kube_listscan_feed(struct kube_listscan *s, const char *data, size_t n);

/** The body ended: 0 when it was one complete list object, else NSC_ERR_INVALID (err). */
int kube_listscan_finish(struct kube_listscan *s);

/** Free the buffers; the scanner may be zeroed and reused. */
void kube_listscan_free(struct kube_listscan *s);

/** A span of the text handed to kube_raw_meta / kube_raw_event (borrowed). */
struct kube_span {
    const char *p;
    size_t len;
};

/** metadata fields of an object, as raw string contents (no quotes). */
struct kube_raw_meta {
    struct kube_span name, ns, rv;
};

/**
 * Find metadata.name, .namespace and .resourceVersion in an object's text. Absent fields
 * (or null) are empty spans. Returns 0 when the text is an object and none of the fields
 * read is anything but a plain string (no escapes); otherwise NSC_ERR_INVALID: decode the
 * text fully instead (the decoder names the problem). Stops reading after metadata.
 */
int kube_raw_meta(const char *json, size_t len, struct kube_raw_meta *out);

/**
 * Split a watch event's text {"type":"T","object":{...}} into the type (string contents)
 * and the object's text. Returns 0, or NSC_ERR_INVALID when either is missing or the text
 * is not well formed at this level.
 */
int kube_raw_event(const char *json, size_t len, struct kube_span *type,
                   struct kube_span *object);

#endif
