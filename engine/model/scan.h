/* The item scanner (private to engine/model): checks one JSON text as strictly as jansson
 * does and copies out only the members the model reads, so the rest is never built. */
#ifndef NSC_MODEL_SCAN_H
#define NSC_MODEL_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/** A growable byte buffer (owned by its holder). */
struct scan_buf {
    char *p;
    size_t len, cap;
};

/** Deepest nesting accepted, the same bound as jansson's (JSON_PARSER_MAX_DEPTH). */
#define SCAN_MAX_DEPTH 2048

/**
 * What one scan produced. doc is a compact JSON text with only the members the model
 * reads (the whole value when it is not an object). With split on, the members of a
 * top-level "spec" object that make up a pod's scheduling-spec key (see SCAN rules in
 * scan.c) go to spec_key instead of doc, as `"name":value` joined by commas, in their
 * order in the text; a scan without split leaves spec_key as it was.
 */
struct scan_result {
    struct scan_buf doc, spec_key;
    bool kind_member;   /* the object has a top-level "kind" member */
    char kind[128];     /* top-level "kind" when it is a string (last one wins) */
    bool has_kind;      /* kind[] holds it (false also when longer than kind[]) */
    bool kind_too_long; /* a string kind that did not fit */
    unsigned n_spec;    /* top-level "spec" members */
    bool spec_is_obj;   /* the last top-level "spec" is an object */
};

/**
 * Scan text[0..len) (one JSON value, optional whitespace around it). res is reused
 * between calls (its buffers grow; free with scan_result_free). Returns 0, or
 * NSC_ERR_INVALID with err saying what and at which byte for text that jansson would
 * refuse (syntax, bad UTF-8 or escape, \u0000, integer or real overflow, nesting past
 * SCAN_MAX_DEPTH, truncation), or NSC_ERR_NOMEM.
 */
int scan_item(const char *text, size_t len, bool split, struct scan_result *res, char *err,
              size_t err_len);

void scan_result_free(struct scan_result *res);

#endif
