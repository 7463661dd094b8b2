/* Text ingest: one object's JSON bytes into the model through the scanner (scan.c), so
 * only the members the model reads are ever built as a tree, and a pod whose scheduling
 * spec was seen before does not have it built at all. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/parse_util.h"
#include "model/scan.h"

void model_scan_free(struct model *m);

void
model_scan_free(struct model *m)
{
    if (m->scan) {
        scan_result_free(m->scan);
        free(m->scan);
        m->scan = NULL;
    }
}

void
model_count_kind(struct model_load_stats *st, const char *kind)
{
    if (!st || !kind)
        return;
    if (strcmp(kind, "Node") == 0)
        st->n_nodes++;
    else if (strcmp(kind, "Pod") == 0)
        st->n_pods++;
    else if (strcmp(kind, "PodDisruptionBudget") == 0)
        st->n_pdbs++;
    else if (strcmp(kind, "PersistentVolume") == 0)
        st->n_pvs++;
    else if (strcmp(kind, "PersistentVolumeClaim") == 0)
        st->n_pvcs++;
    else if (strcmp(kind, "Namespace") == 0)
        st->n_namespaces++;
    else if (strcmp(kind, "StorageClass") == 0)
        st->n_scs++;
    else if (strcmp(kind, "CSINode") == 0)
        st->n_csinodes++;
}

/* The pruned document as a tree. The scanner accepted the text, so jansson refusing its
 * compact copy would be a scanner bug: reported, never ignored. */
static int
doc_tree(const struct scan_result *sr, json_t **out, char *err, size_t err_len)
{
    json_error_t jerr;
    *out = json_loadb(sr->doc.p, sr->doc.len, 0, &jerr);
    if (*out)
        return 0;
    if (err && err_len)
        snprintf(err, err_len, "internal: pruned copy refused: %s", jerr.text);
    return NSC_ERR_INTERNAL;
}

int
model_ingest_text(struct model *m, const char *text, size_t len, const char *kind_hint,
                  json_t **deferred, struct model_load_stats *st, char *err, size_t err_len)
{
    struct scan_result *sr = m->scan;
    json_t *obj = NULL;
    int rc;
    if (deferred)
        *deferred = NULL;
    if (!sr && !(sr = m->scan = calloc(1, sizeof(*sr))))
        return NSC_ERR_NOMEM;
    if ((rc = scan_item(text, len, true, sr, err, err_len)) < 0)
        return rc;
    if (deferred && sr->kind_member) {
        /* The List loader's rule: an item's own kind member decides, even a bad one. */
        kind_hint = NULL;
    } else if (deferred && !kind_hint) {
        /* A typed list's item before the list's kind: keep it whole (pruned). */
        if ((rc = scan_item(text, len, false, sr, err, err_len)) < 0 ||
            (rc = doc_tree(sr, deferred, err, err_len)) < 0)
            return rc;
        return 0;
    }
    /* Dispatch as model_upsert does: the object's string kind, else the hint. */
    const char *kind = sr->has_kind ? sr->kind : sr->kind_too_long ? "" : kind_hint;
    bool pod = kind && strcmp(kind, "Pod") == 0;
    if (pod && sr->n_spec > 1 && (rc = scan_item(text, len, false, sr, err, err_len)) < 0)
        return rc;
    /* Members of a pod's spec key are split off the copy; another kind may use one of
     * those names too (a claim's spec.resources): scan it again whole. */
    if (!pod && sr->spec_key.len && (rc = scan_item(text, len, false, sr, err, err_len)) < 0)
        return rc;
    bool split_pod = pod && sr->n_spec == 1 && sr->spec_is_obj;
    if (split_pod) {
        rc = model_upsert_pod_fast(m, sr->doc.p, sr->doc.len, sr->spec_key.p, sr->spec_key.len);
        if (rc != POD_SPEC_MISS)
            goto counted;
    }
    if ((rc = doc_tree(sr, &obj, err, err_len)) < 0)
        return rc;
    if (split_pod) {
        rc = model_upsert_pod_ctx(m, obj, sr->spec_key.p, sr->spec_key.len, true);
        if (rc == POD_SPEC_MISS) {
            /* First pod with this spec text: read the spec members too. The raw key
             * survives a scan without split. */
            json_decref(obj);
            obj = NULL;
            if ((rc = scan_item(text, len, false, sr, err, err_len)) < 0 ||
                (rc = doc_tree(sr, &obj, err, err_len)) < 0)
                return rc;
            rc = model_upsert_pod_ctx(m, obj, sr->spec_key.p, sr->spec_key.len, false);
        }
    } else {
        rc = model_upsert(m, obj, kind_hint);
    }
    json_decref(obj);
counted:
    if (rc == NSC_ERR_NOMEM)
        return rc;
    if (st) {
        if (rc == NSC_ERR_NOT_IMPLEMENTED)
            st->n_ignored++;
        else if (rc < 0)
            st->n_skipped++;
        else
            model_count_kind(st, kind);
    }
    return 0;
}

int
model_upsert_text(struct model *m, const char *text, size_t len, const char *kind_hint,
                  struct model_load_stats *stats, char *err, size_t err_len)
{
    return model_ingest_text(m, text, len, kind_hint, NULL, stats, err, err_len);
}

int
model_load_buffer(struct model *m, const char *buf, size_t len, const char *name,
                  struct model_load_stats *stats, char *err, size_t err_len)
{
    /* fmemopen needs a non-const buffer but only reads it in "r" mode. */
    FILE *f = len ? fmemopen((void *)(uintptr_t)buf, len, "r") : NULL;
    if (!f) {
        if (len == 0) {
            if (err && err_len)
                snprintf(err, err_len, "%s: empty document", name);
            return NSC_ERR_INVALID;
        }
        return NSC_ERR_NOMEM;
    }
    int rc = model_load_stream(m, f, name, stats, err, err_len);
    fclose(f);
    return rc;
}
