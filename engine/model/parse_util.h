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
};

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
/** RFC 3339 timestamp to Unix seconds; 0 when absent. */
int get_time(struct pctx *c, json_t *obj, const char *key, const char *field, int64_t *out);
int pod_spec_build(struct pctx *c, json_t *pod, uint32_t ns, struct pod_spec **out);
void pod_spec_release(struct model *m, struct pod_spec *s);
/** Table helpers: get by key (NULL when absent); put stores obj under key (replacing the
 * pointer, returning the old one in *old when not NULL); del removes and returns obj. */
void *table_get(const struct model_table *t, const char *key);
int table_put(struct model_table *t, const char *key, void *obj, void **old);
void *table_del(struct model_table *t, const char *key);
void table_free(struct model_table *t);
int model_parse_taints(struct pctx *c, json_t *arr, struct taint **out, uint32_t *n_out);
int res_add(struct res *dst, const struct res *src);
int res_max(struct res *dst, const struct res *src);

#endif
