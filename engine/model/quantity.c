/* Kubernetes resource.Quantity parser: decimal and binary suffixes, exponents, fractions,
 * signs, rounding up to the integer unit; overflow and garbage refused. */
#include "model/quantity.h"

#include <stdio.h>
#include <string.h>

#include <nodescaler/backend.h>

#define QTY_MAX_DIGITS 64

static int
qty_fail(char *err, size_t err_len, const char *text, size_t len, const char *why)
{
    if (err && err_len)
        snprintf(err, err_len, "invalid quantity \"%.*s\": %s", (int)(len > 64 ? 64 : len),
                 text, why);
    return NSC_ERR_INVALID;
}

/* Double a decimal digit string in place (most significant first); digits[0] gets the
 * carry, so callers leave a spare leading zero. */
static void
digits_double(unsigned char *d, size_t n)
{
    int carry = 0;
    for (size_t i = n; i-- > 0;) {
        int v = d[i] * 2 + carry;
        d[i] = (unsigned char)(v % 10);
        carry = v / 10;
    }
}

/*
 * ceil(D * 10^e * 2^b) for the digit string D (no sign), as int64 in *out.
 * Returns 0 or -1 on overflow.
 */
static int
scale_ceil(const unsigned char *dig, size_t n, long e, int b, int64_t *out)
{
    /* Integer part: the first n + e digits (all digits and e zeros when e >= 0). */
    long n_int = (long)n + e;
    unsigned __int128 ip = 0;
    const unsigned __int128 lim = (unsigned __int128)INT64_MAX;
    if (n_int > 0) {
        for (long i = 0; i < n_int; i++) {
            unsigned d = i < (long)n ? dig[i] : 0;
            ip = ip * 10 + d;
            if (ip > lim)
                return -1;
        }
    }
    ip <<= b;
    if (ip > lim)
        return -1;
    /* Fractional part digits: dig[max(n_int,0) .. n), preceded by -n_int zeros if n_int < 0. */
    size_t f_start = n_int > 0 ? (size_t)n_int : 0;
    int frac_nonzero = 0;
    for (size_t i = f_start; i < n; i++)
        if (dig[i]) {
            frac_nonzero = 1;
            break;
        }
    if (frac_nonzero) {
        if (b == 0 || n_int <= -19) {
            /* Below 10^-19 even 2^60 times the fraction stays under one unit. */
            ip += 1;
        } else {
            /* frac * 2^b: exact in a digit buffer: at most 19 integer digits appear. */
            unsigned char buf[QTY_MAX_DIGITS * 2 + 64];
            size_t lead = n_int < 0 ? (size_t)(-n_int) : 0;
            size_t nf = lead + (n - f_start);
            const size_t pad = 20;
            memset(buf, 0, sizeof(buf));
            for (size_t i = f_start; i < n; i++)
                buf[pad + lead + (i - f_start)] = dig[i];
            for (int k = 0; k < b; k++)
                digits_double(buf, pad + nf);
            unsigned __int128 add = 0;
            for (size_t i = 0; i < pad; i++)
                add = add * 10 + buf[i];
            int rest = 0;
            for (size_t i = pad; i < pad + nf; i++)
                if (buf[i]) {
                    rest = 1;
                    break;
                }
            ip += add + (unsigned)rest;
        }
        if (ip > lim)
            return -1;
    }
    *out = (int64_t)ip;
    return 0;
}

int
quantity_parse(const char *text, size_t len, int64_t *milli, int64_t *units, char *err,
               size_t err_len)
{
    const char *s = text, *end = text + len;
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (s == end)
        return qty_fail(err, err_len, text, len, "empty");
    int neg = 0;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    unsigned char dig[QTY_MAX_DIGITS];
    size_t n = 0;
    long n_frac = 0;
    int seen_dot = 0, seen_digit = 0;
    long dropped_int = 0; /* integer digits beyond the buffer (value then overflows) */
    for (; s < end; s++) {
        if (*s >= '0' && *s <= '9') {
            seen_digit = 1;
            if (n == 0 && *s == '0') {
                if (seen_dot)
                    n_frac++; /* leading zeros of a fraction only scale it */
                continue;
            }
            if (n < QTY_MAX_DIGITS) {
                dig[n++] = (unsigned char)(*s - '0');
                if (seen_dot)
                    n_frac++;
            } else if (seen_dot) {
                if (*s != '0')
                    return qty_fail(err, err_len, text, len, "too many significant digits");
            } else {
                dropped_int++;
            }
        } else if (*s == '.') {
            if (seen_dot)
                return qty_fail(err, err_len, text, len, "more than one decimal point");
            seen_dot = 1;
        } else {
            break;
        }
    }
    if (!seen_digit)
        return qty_fail(err, err_len, text, len, "no digits");
    /* Suffix. */
    long e10 = 0;
    int b2 = 0;
    size_t slen = (size_t)(end - s);
    if (slen == 0) {
    } else if (slen == 2 && s[1] == 'i') {
        switch (s[0]) {
        case 'K':
            b2 = 10;
            break;
        case 'M':
            b2 = 20;
            break;
        case 'G':
            b2 = 30;
            break;
        case 'T':
            b2 = 40;
            break;
        case 'P':
            b2 = 50;
            break;
        case 'E':
            b2 = 60;
            break;
        default:
            return qty_fail(err, err_len, text, len, "unknown suffix");
        }
    } else if (slen == 1) {
        switch (s[0]) {
        case 'n':
            e10 = -9;
            break;
        case 'u':
            e10 = -6;
            break;
        case 'm':
            e10 = -3;
            break;
        case 'k':
            e10 = 3;
            break;
        case 'M':
            e10 = 6;
            break;
        case 'G':
            e10 = 9;
            break;
        case 'T':
            e10 = 12;
            break;
        case 'P':
            e10 = 15;
            break;
        case 'E':
            e10 = 18;
            break;
        default:
            return qty_fail(err, err_len, text, len, "unknown suffix");
        }
    } else if (s[0] == 'e' || s[0] == 'E') {
        const char *p = s + 1;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end)
            return qty_fail(err, err_len, text, len, "exponent without digits");
        long ev = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return qty_fail(err, err_len, text, len, "unknown suffix");
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
        }
        e10 = eneg ? -ev : ev;
    } else {
        return qty_fail(err, err_len, text, len, "unknown suffix");
    }
    /* Strip trailing zeros: they only shift the exponent. */
    long e = e10 - n_frac + dropped_int;
    while (n > 0 && dig[n - 1] == 0) {
        n--;
        e++;
    }
    int64_t m = 0, u = 0;
    if (n > 0) {
        if (e > 40) /* at least 10^40: beyond int64 whatever the digits */
            return qty_fail(err, err_len, text, len, "value out of range");
        if (e < -200) {
            /* Finer than the smallest unit: Kubernetes rounds it up to one nano, whose
             * milli and unit views round up to 1. */
            m = 1;
            u = 1;
        } else {
            /* Only the views asked for must fit: 1E of memory is fine, of cpu it is not. */
            if (milli && scale_ceil(dig, n, e + 3, b2, &m) < 0)
                return qty_fail(err, err_len, text, len, "value out of range");
            if (units && scale_ceil(dig, n, e, b2, &u) < 0)
                return qty_fail(err, err_len, text, len, "value out of range");
        }
    }
    if (neg) {
        m = -m;
        u = -u;
    }
    if (milli)
        *milli = m;
    if (units)
        *units = u;
    return 0;
}

int
quantity_parse_cstr(const char *text, int64_t *milli, int64_t *units, char *err, size_t err_len)
{
    return quantity_parse(text, strlen(text), milli, units, err, err_len);
}
