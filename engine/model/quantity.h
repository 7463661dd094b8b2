/* Kubernetes resource.Quantity: the full grammar, parsed with integer arithmetic only. */
#ifndef NSC_MODEL_QUANTITY_H
#define NSC_MODEL_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/**
 * Parse a Quantity string ("100m", "1.5Gi", "129e6", "+1E3", ".5") the way apimachinery's
 * ParseQuantity does (leading/trailing spaces trimmed as UnmarshalJSON does) and give
 * both integer views the scheduler compares:
 *   *milli = ceil(q * 1000)   (MilliValue(), used for cpu)
 *   *units = ceil(q)          (Value(), used for memory, storage, pods, extended)
 * Rounding is away from zero for negative values, as Kubernetes rounds magnitudes up.
 * Either out pointer may be NULL (that view is then not computed nor checked). Returns 0,
 * or NSC_ERR_INVALID with a message in err (which quotes the text) for garbage, an
 * unknown suffix, or a value whose requested view does not fit in int64 (never wrapped
 * or saturated silently).
 */
int quantity_parse(const char *text, size_t len, int64_t *milli, int64_t *units, char *err,
                   size_t err_len);

/** Same for a NUL-terminated string. */
int quantity_parse_cstr(const char *text, int64_t *milli, int64_t *units, char *err,
                        size_t err_len);

#endif
