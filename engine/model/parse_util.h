/* Shared helpers of the model's JSON parsers (private to engine/model). */
#ifndef NSC_MODEL_PARSE_UTIL_H
#define NSC_MODEL_PARSE_UTIL_H

#include <nodescaler/backend.h>

#include "model/model.h"

/** Parsing context: where errors go and which object is being read. */
struct pctx {
    struct model *m;
    char *err;
    size_t err_len;
    /* The raw text of a pod's scheduling-spec members (scan.c), when the pod came from
     * text: a cache key in front of the canonical spec key. raw_only: on a cache miss,
     * give up with POD_SPEC_MISS instead of reading spec (the JSON lacks those members). */
    const char *raw_spec;
    size_t raw_spec_len;
    bool raw_only;
};

/** pod_spec_build with raw_only set found no spec for raw_spec (not an error). */
#define POD_SPEC_MISS 1

int pfail(struct pctx *c, const char *field, const char *fmt, ...) NSC_PRINTF(3, 4);

/* Each returns 0 or NSC_ERR_INVALID/NOMEM with c->err naming field. NULL or absent
 * JSON gives the empty value. */
int parse_labelset(struct pctx *c, json_t *obj, const char *field, bool annotations,
                   struct labelset **out);
int parse_res(struct pctx *c, json_t *obj, const char *field, struct res *out);
int parse_selector(struct pctx *c, json_t *obj, const char *field, struct selector *out);
int parse_node_selector(struct pctx *c, json_t *obj, const char *field,
                        struct node_selector **out);
void selector_free(struct selector *s);
void node_selector_free(struct node_selector *ns);
/** Optional string member: NULL when absent or null; error when another type. */
int get_str(struct pctx *c, json_t *obj, const char *key, const char *field, const char **out);
/** RFC 3339 text (NUL-terminated) to Unix seconds: 0, or -1 when it is not one. */
int time_parse(const char *s, int64_t *out);
/** RFC 3339 timestamp to Unix seconds; 0 when absent. */
int get_time(struct pctx *c, json_t *obj, const char *key, const char *field, int64_t *out);
/** The pod's shared scheduling spec, found or built; POD_SPEC_MISS as said in pctx. */
int pod_spec_build(struct pctx *c, json_t *pod, uint32_t ns, struct pod_spec **out);
/**
 * Upsert a pod from the scanner's compact copy doc (spec members split off into raw_spec)
 * without building a tree. Handles the plain case only: returns POD_SPEC_MISS, with the
 * model untouched, for anything else (unseen spec text, wrong types, duplicates, escapes,
 * errors) so the caller takes the jansson way, which words the warnings. 0 or NOMEM else.
 */
int model_upsert_pod_fast(struct model *m, const char *doc, size_t len, const char *raw_spec,
                          size_t raw_spec_len);
/** The pod model_upsert_pod_fast stores (owned: pod_free), or POD_SPEC_MISS / NOMEM. */
int pod_from_text(struct model *m, const char *doc, size_t len, const char *raw_spec,
                  size_t raw_spec_len, struct model_pod **out);
void pod_free(struct model *m, struct model_pod *p);
/** model_upsert_pod with c's raw_spec fields; returns POD_SPEC_MISS without a warning. */
int model_upsert_pod_ctx(struct model *m, json_t *obj, const char *raw_spec,
                         size_t raw_spec_len, bool raw_only);
void pod_spec_release(struct model *m, struct pod_spec *s);
/** Table helpers: get by key (NULL when absent); put stores obj under key (replacing the
 * pointer, returning the old one in *old when not NULL); del removes and returns obj. */
void *table_get(const struct model_table *t, const char *key);
int table_put(struct model_table *t, const char *key, void *obj, void **old);
void *table_del(struct model_table *t, const char *key);
void table_free(struct model_table *t);
/**
 * One object's JSON text into the model (model_upsert_text), counting into st (may be
 * NULL). With deferred not NULL, the List loader's rules apply: kind_hint (the typed
 * list's item kind) only for an object without a kind member, and such an object, when
 * kind_hint is NULL, is not upserted: its pruned tree goes to *deferred (owned).
 */
int model_ingest_text(struct model *m, const char *text, size_t len, const char *kind_hint,
                      json_t **deferred, struct model_load_stats *st, char *err,
                      size_t err_len);
/** Count one upserted object of kind in st (NULL accepted). */
void model_count_kind(struct model_load_stats *st, const char *kind);
/** The kinds whose unreadable objects are recorded (unreadable.c). */
enum model_kind { MODEL_KIND_POD = 0, MODEL_KIND_NODE, MODEL_KIND_PDB };
/** Record obj (borrowed), just skipped for reason, in its kind's table. 0 or NOMEM. */
int model_unreadable_note(struct model *m, enum model_kind kind, json_t *obj,
                          const char *reason);
/** Drop the record of key; true when there was one. */
bool model_unreadable_clear(struct model *m, enum model_kind kind, const char *key);
void model_unreadable_free_all(struct model *m);
/** Start checking node names for duplicates over one List load, with seen as the scratch
 * map (its owner's storage); false when a load is already being checked (then leave it). */
bool model_load_begin(struct model *m, struct smap *seen);
/** End the check model_load_begin started (frees seen and any duplicate message). */
void model_load_end(struct model *m, struct smap *seen);
int model_parse_taints(struct pctx *c, json_t *arr, struct taint **out, uint32_t *n_out);
int res_add(struct res *dst, const struct res *src);
int res_max(struct res *dst, const struct res *src);

#endif
