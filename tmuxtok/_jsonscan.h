/*
 * A strict JSON reader for one line, shared by tmuxtok's C line readers
 * (sources/claude/_lines.c, sources/codex/_rollout.c).
 *
 * It validates as it goes and refuses (-1) whatever two readers could read
 * differently: escapes where a field is read, a key given twice, numbers
 * longer than every reader agrees on, invalid UTF-8, deep nesting. A refused
 * line is read by the Python parser instead, so refusing is always safe;
 * taking a line differently from it never is. Static functions only: each
 * module that includes this compiles its own copy.
 */
#ifndef TMUXTOK_JSONSCAN_H
#define TMUXTOK_JSONSCAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>

#endif

/* Not every includer uses every function (and gcc warns of one unused). */
#if defined(__GNUC__) || defined(__clang__)
#define MAYBE_UNUSED __attribute__((unused))
#else
#define MAYBE_UNUSED
#endif

#define MAX_DEPTH 64

typedef const unsigned char *cur_t;

typedef struct {
    cur_t p;
    cur_t end;
} Reader;

typedef struct {
    cur_t s; /* first byte of the contents */
    Py_ssize_t n;
    int escaped;
} Str;

/* A string's contents as a str (string() has checked them: strict UTF-8). */
static MAYBE_UNUSED PyObject *text(const Str *s) {
    return PyUnicode_DecodeUTF8((const char *)s->s, s->n, "strict");
}

static MAYBE_UNUSED void ws(Reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static MAYBE_UNUSED int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The first byte at or after p that is '"', a backslash, a control byte or
 * not ASCII (end if none): 16 bytes a step where SSE2 is (every x86-64). */
static MAYBE_UNUSED cur_t plain_run(cur_t p, cur_t end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        /* signed: bytes >= 0x80 are negative, so "< 0x20" takes them too */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)),
                                   _mm_cmplt_epi8(x, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }

#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    return p;
}

/* A string at r->p (which is '"'), validated: no raw control bytes, known
 * escapes only, no escaped surrogate, strict UTF-8. 0, or -1 to refuse. */
static MAYBE_UNUSED int string(Reader *r, Str *out) {
    cur_t p = r->p + 1, end = r->end;
    out->s = p;
    out->escaped = 0;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end) return -1;
        unsigned char c = *p;
        if (c == '"') {
            out->n = p - out->s;
            r->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            out->escaped = 1;
            if (p + 1 >= end) return -1;
            unsigned char e = p[1];
            if (e == 'u') {
                if (p + 6 > end) return -1;
                int v = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) return -1;
                    v = v * 16 + h;
                }
                if (v >= 0xD800 && v <= 0xDFFF) return -1;
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                return -1;
            }
            continue;
        }
        if (c < 0x20) return -1;
        /* non-ASCII: one strict UTF-8 sequence */
        if (c >= 0xC2 && c <= 0xDF) {
            if (p + 2 > end || (p[1] & 0xC0) != 0x80) return -1;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (p + 3 > end || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return -1;
            if (c == 0xE0 && p[1] < 0xA0) return -1; /* overlong */
            if (c == 0xED && p[1] > 0x9F) return -1; /* surrogate */
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (p + 4 > end || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return -1;
            if (c == 0xF0 && p[1] < 0x90) return -1; /* overlong */
            if (c == 0xF4 && p[1] > 0x8F) return -1; /* beyond U+10FFFF */
            p += 4;
        } else {
            return -1;
        }
    }
}

/* A number, by JSON's grammar, short enough that every reader agrees on it.
 * Sets *integer when it has neither fraction nor exponent. */
static MAYBE_UNUSED int number(Reader *r, cur_t *start, int *integer) {
    cur_t p = r->p, end = r->end;
    *start = p;
    *integer = 1;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        *integer = 0;
        p++;
        cur_t d = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == d) return -1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *integer = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        cur_t d = p;
        int e = 0;
        while (p < end && *p >= '0' && *p <= '9' && e <= 280) e = e * 10 + (*p++ - '0');
        /* with at most 24 digits before it, no double overflows (nor comes near) */
        if (p == d || e > 280) return -1;
    }
    if (p - *start > 24) return -1;
    r->p = p;
    return 0;
}

static MAYBE_UNUSED int literal(Reader *r, const char *word, Py_ssize_t n) {
    if (r->end - r->p < n || memcmp(r->p, word, n) != 0) return -1;
    r->p += n;
    return 0;
}

static MAYBE_UNUSED int value(Reader *r, int depth);

/* After a member or an element: 1 if a comma says another follows, 0 if
 * `close` ends the object or array, -1 for anything else. */
static MAYBE_UNUSED int after_item(Reader *r, unsigned char close) {
    ws(r);
    if (r->p >= r->end) return -1;
    if (*r->p == ',') {
        r->p++;
        ws(r);
        return 1;
    }
    if (*r->p == close) {
        r->p++;
        return 0;
    }
    return -1;
}

/* 0 (and stepped over) if `open` is at r->p, else -1: where an object or array
 * must begin (what follows is `closes`' and `MEMBERS`' to read). */
static MAYBE_UNUSED int opens(Reader *r, unsigned char open) {
    if (r->p >= r->end || *r->p != open) return -1;
    r->p++;
    return 0;
}

/* Just after '{' or '[': 1 (and stepped over) if `close` follows at once. */
static MAYBE_UNUSED int closes(Reader *r, unsigned char close) {
    ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 1;
    }
    return 0;
}

/* A member's key and the ':' after it; the caller judges the key's escapes. */
static MAYBE_UNUSED int member_key(Reader *r, Str *k) {
    if (r->p >= r->end || *r->p != '"' || string(r, k) < 0) return -1;
    ws(r);
    if (r->p >= r->end || *r->p != ':') return -1;
    r->p++;
    ws(r);
    return 0;
}

static MAYBE_UNUSED int object_rest(Reader *r, int depth) {
    /* r->p is just after '{' */
    if (closes(r, '}')) return 0;
    for (;;) {
        Str k;
        if (member_key(r, &k) < 0) return -1;
        if (value(r, depth) < 0) return -1;
        int more = after_item(r, '}');
        if (more <= 0) return more;
    }
}

static MAYBE_UNUSED int array_rest(Reader *r, int depth) {
    if (closes(r, ']')) return 0;
    for (;;) {
        if (value(r, depth) < 0) return -1;
        int more = after_item(r, ']');
        if (more <= 0) return more;
    }
}

/* Any value at r->p, validated and skipped. */
static MAYBE_UNUSED int value(Reader *r, int depth) {
    if (r->p >= r->end) return -1;
    Str s;
    cur_t n;
    int integer;
    switch (*r->p) {
    case '"':
        return string(r, &s);
    case '{':
        if (depth >= MAX_DEPTH) return -1;
        r->p++;
        return object_rest(r, depth + 1);
    case '[':
        if (depth >= MAX_DEPTH) return -1;
        r->p++;
        return array_rest(r, depth + 1);
    case 't':
        return literal(r, "true", 4);
    case 'f':
        return literal(r, "false", 5);
    case 'n':
        return literal(r, "null", 4);
    default:
        return number(r, &n, &integer);
    }
}

/* --- the fields an event needs ------------------------------------------------------ */

static MAYBE_UNUSED int key_is(const Str *k, const char *name) {
    size_t n = strlen(name);
    return (size_t)k->n == n && memcmp(k->s, name, n) == 0;
}

/* A non-negative integer of at most 18 digits (msgspec's int, and a count
 * _feed_typed's range check can pass); -1 to refuse. */
static MAYBE_UNUSED int count(Reader *r, int64_t *out) {
    cur_t s;
    int integer;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return -1;
    if (number(r, &s, &integer) < 0 || !integer || r->p - s > 18) return -1;
    int64_t v = 0;
    for (cur_t q = s; q < r->p; q++) v = v * 10 + (*q - '0');
    *out = v;
    return 0;
}

static MAYBE_UNUSED int boolean(Reader *r, int *out) {
    if (literal(r, "true", 4) == 0) {
        *out = 1;
        return 0;
    }
    if (literal(r, "false", 5) == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* A string read as msgspec would read a str field: no escapes here (refused). */
static MAYBE_UNUSED int plain_string(Reader *r, Str *out) {
    if (r->p >= r->end || *r->p != '"' || string(r, out) < 0 || out->escaped) return -1;
    return 0;
}

/* A key read once: the first time 0, again -1 (readers differ on which counts). */
static MAYBE_UNUSED int first(unsigned *seen, unsigned bit) {
    if (*seen & bit) return -1;
    *seen |= bit;
    return 0;
}

/* Walk an object's members: each key to field(), which reads its value. */
#define MEMBERS(r, field)                                       \
    do {                                                        \
        if (closes(r, '}')) break;                              \
        for (;;) {                                              \
            Str k;                                              \
            if (member_key(r, &k) < 0 || k.escaped) return -1;  \
            if ((field) < 0) return -1;                         \
            int more = after_item(r, '}');                      \
            if (more < 0) return -1;                            \
            if (more == 0) break;                               \
        }                                                       \
    } while (0)

/* --- times ----------------------------------------------------------------------- */

static MAYBE_UNUSED int digits(cur_t s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static MAYBE_UNUSED int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* values.parse_ts_ms for the forms Claude Code writes: epoch ms rounded as
 * int(t * 1000 + 0.5) of the float timestamp; -1 to refuse. */
static MAYBE_UNUSED int64_t ts_ms(const Str *t) {
    cur_t s = t->s;
    Py_ssize_t n = t->n;
    int y, mo, d, h, mi, se, frac = 0;
    if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    Py_ssize_t i = 19;
    if (i < n && s[i] == '.') {
        int nd = 0;
        while (i + 1 + nd < n && s[i + 1 + nd] >= '0' && s[i + 1 + nd] <= '9') nd++;
        if (nd != 3 && nd != 6) return -1;
        if (digits(s + i + 1, nd, &frac)) return -1;
        if (nd == 3) frac *= 1000;
        i += 1 + nd;
    }
    if (i + 1 == n && s[i] == 'Z') {
        i = n;
    } else if (i + 6 == n && memcmp(s + i, "+00:00", 6) == 0) {
        i = n;
    } else if (i != n) {
        return -1;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
    int64_t us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000000) + frac;
    if (us < 0) return -1;
    double secs = (double)us / 1e6;
    return (int64_t)(secs * 1000 + 0.5);
}


#endif
